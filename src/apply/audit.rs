//! The audit log and the other files `apply` appends to (reset URLs, manual retries), all created
//! 0600: they name people, and the reset-URL file holds secrets.

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use chrono::{SecondsFormat, Utc};
use serde_json::json;

use super::ApplyError;
use crate::plan::Step;

/// The audit log: one JSON line per Okta call that changes something, per reconciliation and per
/// report, appended and flushed as it happens:
/// `{time, plan_id, step, operator, org, user, action, call, result, request_id}` where `user` is the
/// subject's login, `call` the Okta operation (`reset_password`, `deactivate`, `delete`, `touch`,
/// `unassign`, `assign`, `repush`, `add_to_group`, ...), `result` `ok`, `error: ...`, `recorded` or
/// `reconciled: already applied`, and `request_id` Okta's `X-Okta-Request-Id` when there was a call.
/// A line that cannot be written stops the run.
pub(super) struct Audit {
    file: PrivateFile,
    plan_id: String,
    operator: Option<String>,
}

impl Audit {
    pub(super) fn open(
        path: &Path,
        plan_id: &str,
        operator: Option<String>,
    ) -> Result<Audit, ApplyError> {
        Ok(Audit {
            file: PrivateFile::append(path)?,
            plan_id: plan_id.to_string(),
            operator,
        })
    }

    pub(super) fn record(
        &self,
        org: &str,
        user: &str,
        step: &Step,
        call: &str,
        result: &str,
        request_id: Option<&str>,
    ) -> Result<(), ApplyError> {
        let line = json!({
            "time": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            "plan_id": self.plan_id, "step": step.id, "operator": self.operator,
            "org": org, "user": user,
            "action": step.action.name(), "call": call, "result": result, "request_id": request_id,
        });
        self.file.write_line(&line.to_string())
    }
}

/// A file opened for appending, created (or narrowed to) mode 0600, written a whole line at a time
/// and flushed; every failure is returned.
pub(super) struct PrivateFile {
    path: String,
    file: Mutex<std::fs::File>,
}

impl PrivateFile {
    pub(super) fn append(path: &Path) -> Result<PrivateFile, ApplyError> {
        let shown = path.display().to_string();
        let err = |source| ApplyError::File {
            path: shown.clone(),
            source,
        };
        let mut o = std::fs::OpenOptions::new();
        o.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(0o600);
        }
        let file = o.open(path).map_err(err)?;
        // `mode` applies only to a new file: an existing one is narrowed too, before anything is written
        // (a regular file only: a device such as a terminal is left as it is).
        #[cfg(unix)]
        if file.metadata().map_err(err)?.is_file() {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(err)?;
        }
        Ok(PrivateFile {
            path: shown,
            file: Mutex::new(file),
        })
    }

    /// Appends `line` and a newline, then flushes.
    pub(super) fn write_line(&self, line: &str) -> Result<(), ApplyError> {
        let mut f = match self.file.lock() {
            Ok(f) => f,
            Err(poisoned) => poisoned.into_inner(),
        };
        writeln!(f, "{line}")
            .and_then(|()| f.flush())
            .map_err(|source| ApplyError::File {
                path: self.path.clone(),
                source,
            })
    }
}

/// Appends a person's decision on a plan (an approval or a denial made through `remedy serve`'s
/// approvals) to the audit log, in the same line format: `step`, `org` and `request_id` are null,
/// `action` is `approve` or `deny`, `call` names the approval, `result` says what was decided.
pub fn record_decision(
    path: &Path,
    plan_id: &str,
    operator: &str,
    user: &str,
    approve: bool,
    call: &str,
    result: &str,
) -> Result<(), ApplyError> {
    let line = json!({
        "time": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        "plan_id": plan_id, "step": null, "operator": operator,
        "org": null, "user": user,
        "action": if approve { "approve" } else { "deny" }, "call": call, "result": result,
        "request_id": null,
    });
    PrivateFile::append(path)?.write_line(&line.to_string())
}
