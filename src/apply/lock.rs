//! One process per plan on this machine.

use std::path::{Path, PathBuf};

/// Why the plan lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("plan `{plan_id}` is being applied by another process on this machine (lock `{lock}`); wait for it to finish")]
    Busy { plan_id: String, lock: String },
    #[error("cannot take the plan lock `{lock}`: {source}")]
    Io {
        lock: String,
        #[source]
        source: std::io::Error,
    },
}

/// A machine-wide lock on one plan (by its checksum), held for as long as the value lives. Two
/// `apply` runs of the same plan with different journals would otherwise both act; the OS releases
/// the lock when the process dies. Between machines nothing but the drift check protects a plan, so
/// one operator should apply a plan.
pub struct PlanLock {
    _file: std::fs::File,
}

impl PlanLock {
    /// Takes the lock for `plan_checksum` under `dir` (created if needed), or says who holds it.
    pub fn acquire(dir: &Path, plan_id: &str, plan_checksum: &str) -> Result<PlanLock, LockError> {
        let lock = dir.join(format!("{plan_checksum}.lock"));
        let shown = lock.display().to_string();
        let io = |source| LockError::Io {
            lock: shown.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut o = std::fs::OpenOptions::new();
        o.create(true).truncate(false).write(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(0o600);
        }
        let file = o.open(&lock).map_err(io)?;
        match file.try_lock() {
            Ok(()) => Ok(PlanLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(LockError::Busy {
                plan_id: plan_id.to_string(),
                lock: shown,
            }),
            Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
        }
    }

    /// Where plan locks live on this machine: `$XDG_RUNTIME_DIR/okta-remedy` or the temp dir.
    pub fn default_dir() -> PathBuf {
        std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir)
            .join("okta-remedy-locks")
    }
}
