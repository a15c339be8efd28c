//! The journal: an embedded SQLite database (WAL mode, `synchronous=FULL`) recording the application of
//! one plan, written before each Okta call (intent) and after it (outcome), holding the backups taken
//! before any delete and what is waiting. It is what makes `apply` resumable after a crash. One process at
//! a time: the connection takes SQLite's exclusive lock for its lifetime, so a second `apply` on the same
//! journal is refused; the OS releases the lock if the process dies.
//!
//! # Schema (version 1)
//! - `meta(key, value)`: `schema_version`, `plan_id`, `plan_checksum`, `rulebook_sha256`, `created`.
//! - `steps(step_id, subject, action, state, detail, request_id, started, updated)`: `state` is
//!   `pending` (never touched), `intent` (a call was about to be made; outcome unknown if still so),
//!   `done`, `waiting`, `skipped`, `failed`. `started` is when the step was first attempted (an `await`
//!   step's deadline counts from it).
//! - `calls(seq, step_id, phase, call, time, outcome, request_id)`: every intent and outcome, append-only.
//! - `backups(subject, kind, org, login, body, time)`: `kind` is `user` (hub user JSON, group ids, app
//!   links) or `assignment` (the app user before a reassign).
//! - `subjects(subject, state, detail, updated)`: the last verdict per subject (`drift`, `waiting`...).
//! - `sequences(subject, steps, time)`: the steps the pinned rulebook produced for a subject on its live
//!   state when its first step was about to run (the plan's step JSON). Later steps of a started
//!   sequence run from this record, never from the plan file.
//! - `deliveries(key, step_id, sink, state, attempts, detail, updated)`: one row per notification and
//!   sink (`notify` steps), keyed by the delivery key the receiver sees; `state` is `sending` (an
//!   attempt was about to be made), `delivered` or `failed` (see `journal/deliveries.rs`). Added
//!   within version 1: an older journal gets the empty table when it is opened.
//! - `runs(run, operator, started, version)`: one row per `apply` run on this journal: who ran it
//!   (`--operator`, else the OS user; `NULL` if unknown), when, and with which `remedy` version.
//!
//! Nothing secret is written here: no tokens and no `resetPasswordUrl`. It holds personal data (its
//! backups are whole hub users), so the file is created 0600. A stored value that cannot be read back
//! (an unknown state, an unparsable time or backup) is an error, never a default.
//!
//! Besides the journal's own lock, [`super::PlanLock`] makes a plan applicable by one process at a
//! time on this machine, whichever journal each uses.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use serde_json::Value;

mod deliveries;
mod listing;
mod rows;
pub use deliveries::{DeliveryRecord, DeliveryState};
use rows::{row_to_backup, row_to_step, Unreadable};

/// Journal failures.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("another `remedy apply` is running on journal `{0}`; wait for it to finish (or, if it was killed, run again: the lock is released when the process exits)")]
    Busy(String),
    #[error("journal `{path}`: {source}")]
    Sqlite {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("journal `{path}` belongs to plan `{found}`, not `{expected}`; use another --journal")]
    OtherPlan {
        path: String,
        found: String,
        expected: String,
    },
    #[error("no journal at `{0}`: nothing has been applied with it yet (`remedy apply PLAN` creates it)")]
    Missing(String),
    #[error("journal `{path}` has schema version {found}; this release reads version 1")]
    Version { path: String, found: String },
    #[error(
        "journal `{path}` holds {what} `{value}` that this release cannot read; it may be damaged"
    )]
    Corrupt {
        path: String,
        what: &'static str,
        value: String,
    },
    #[error("cannot secure journal `{path}`: {source}")]
    Permissions {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// A step's state in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepState {
    Pending,
    Intent,
    Done,
    Waiting,
    Skipped,
    Failed,
}

impl StepState {
    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Pending => "pending",
            StepState::Intent => "intent",
            StepState::Done => "done",
            StepState::Waiting => "waiting",
            StepState::Skipped => "skipped",
            StepState::Failed => "failed",
        }
    }
    fn parse(s: &str) -> Option<StepState> {
        Some(match s {
            "pending" => StepState::Pending,
            "intent" => StepState::Intent,
            "done" => StepState::Done,
            "waiting" => StepState::Waiting,
            "skipped" => StepState::Skipped,
            "failed" => StepState::Failed,
            _ => return None,
        })
    }
}

/// One step's row.
#[derive(Debug, Clone, Serialize)]
pub struct StepRecord {
    pub step_id: String,
    pub subject: String,
    pub action: String,
    pub state: StepState,
    pub detail: Option<String>,
    pub request_id: Option<String>,
    pub started: Option<String>,
    pub updated: Option<String>,
}

/// A backup row.
#[derive(Debug, Clone, Serialize)]
pub struct Backup {
    pub subject: String,
    pub kind: String,
    pub org: String,
    pub login: String,
    pub body: Value,
    pub time: String,
}

/// An open journal, exclusively locked.
pub struct Journal {
    path: PathBuf,
    conn: Mutex<Connection>,
}

/// Creates the journal file 0600 before SQLite opens it, and narrows an existing one (and its WAL
/// files) to 0600.
pub(crate) fn secure_file(path: &Path) -> Result<(), JournalError> {
    let err = |source| JournalError::Permissions {
        path: path.display().to_string(),
        source,
    };
    let mut o = std::fs::OpenOptions::new();
    o.create(true).truncate(false).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        o.mode(0o600);
        // Opened (and closed) only to create it: closing a descriptor of a file releases every POSIX
        // lock this process holds on it, SQLite's included, so an existing file is only chmod-ed.
        if !path.exists() {
            o.open(path).map_err(err)?;
        }
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.as_os_str().to_os_string();
            p.push(suffix);
            let p = PathBuf::from(p);
            if p.exists() {
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))
                    .map_err(err)?;
            }
        }
    }
    #[cfg(not(unix))]
    o.open(path).map_err(err)?;
    Ok(())
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Journal {
    /// Opens (creating if needed) the journal for a plan and takes the exclusive lock.
    pub fn open(
        path: &Path,
        plan_id: &str,
        plan_checksum: &str,
        rulebook_sha256: &str,
    ) -> Result<Journal, JournalError> {
        let j = Journal::open_locked(path)?;
        j.init(plan_id, plan_checksum, rulebook_sha256)?;
        Ok(j)
    }

    /// Opens an existing journal for reading and restoring (also exclusive, so it never races an apply).
    pub fn open_existing(path: &Path) -> Result<Journal, JournalError> {
        if !path.exists() {
            return Err(JournalError::Missing(path.display().to_string()));
        }
        Journal::open_locked(path)
    }

    fn open_locked(path: &Path) -> Result<Journal, JournalError> {
        let shown = path.display().to_string();
        let err = |source: rusqlite::Error| JournalError::Sqlite {
            path: shown.clone(),
            source,
        };
        secure_file(path)?;
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_millis(0))
            .map_err(err)?;
        // Exclusive locking mode makes the first write lock the file until the connection closes.
        let lock = conn
            .pragma_update(None, "locking_mode", "EXCLUSIVE")
            .and_then(|_| conn.pragma_update(None, "journal_mode", "WAL"))
            .and_then(|_| conn.pragma_update(None, "synchronous", "FULL"))
            .and_then(|_| conn.execute_batch("BEGIN EXCLUSIVE; COMMIT;"));
        if let Err(e) = lock {
            if matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy) | Some(rusqlite::ErrorCode::DatabaseLocked)
            ) {
                return Err(JournalError::Busy(shown));
            }
            return Err(err(e));
        }
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS steps (step_id TEXT PRIMARY KEY, subject TEXT NOT NULL, action TEXT NOT NULL,
               state TEXT NOT NULL, detail TEXT, request_id TEXT, started TEXT, updated TEXT);
             CREATE TABLE IF NOT EXISTS calls (seq INTEGER PRIMARY KEY AUTOINCREMENT, step_id TEXT NOT NULL,
               phase TEXT NOT NULL, call TEXT NOT NULL, time TEXT NOT NULL, outcome TEXT, request_id TEXT);
             CREATE TABLE IF NOT EXISTS backups (subject TEXT NOT NULL, kind TEXT NOT NULL, org TEXT NOT NULL,
               login TEXT NOT NULL, body TEXT NOT NULL, time TEXT NOT NULL, PRIMARY KEY (subject, kind));
             CREATE TABLE IF NOT EXISTS subjects (subject TEXT PRIMARY KEY, state TEXT NOT NULL, detail TEXT, updated TEXT);
             CREATE TABLE IF NOT EXISTS sequences (subject TEXT PRIMARY KEY, steps TEXT NOT NULL, time TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS deliveries (key TEXT PRIMARY KEY, step_id TEXT NOT NULL, sink TEXT NOT NULL,
               state TEXT NOT NULL, attempts INTEGER NOT NULL, detail TEXT, updated TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS runs (run INTEGER PRIMARY KEY AUTOINCREMENT, operator TEXT,
               started TEXT NOT NULL, version TEXT NOT NULL);
             CREATE INDEX IF NOT EXISTS calls_by_step ON calls (step_id, call, phase);
             CREATE INDEX IF NOT EXISTS subjects_by_state ON subjects (state, subject);
             CREATE INDEX IF NOT EXISTS steps_by_state ON steps (state, step_id);",
        )
        .map_err(err)?;
        Ok(Journal {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    fn err(&self, source: rusqlite::Error) -> JournalError {
        JournalError::Sqlite {
            path: self.path.display().to_string(),
            source,
        }
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, JournalError> {
        let conn = match self.conn.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&conn).map_err(|e| match e {
            rusqlite::Error::FromSqlConversionFailure(_, _, inner) => {
                match inner.downcast::<Unreadable>() {
                    Ok(u) => self.corrupt(u.0, &u.1),
                    Err(other) => self.err(rusqlite::Error::FromSqlConversionFailure(
                        0,
                        rusqlite::types::Type::Text,
                        other,
                    )),
                }
            }
            e => self.err(e),
        })
    }

    fn init(&self, plan_id: &str, checksum: &str, rulebook: &str) -> Result<(), JournalError> {
        let existing: Option<String> = self.with(|c| {
            c.query_row("SELECT value FROM meta WHERE key = 'plan_id'", [], |r| {
                r.get(0)
            })
            .optional()
        })?;
        match existing {
            Some(found) if found != plan_id => Err(JournalError::OtherPlan {
                path: self.path.display().to_string(),
                found,
                expected: plan_id.to_string(),
            }),
            Some(_) => {
                let v: Option<String> = self.with(|c| {
                    c.query_row(
                        "SELECT value FROM meta WHERE key = 'schema_version'",
                        [],
                        |r| r.get(0),
                    )
                    .optional()
                })?;
                match v.as_deref() {
                    Some("1") => Ok(()),
                    other => Err(JournalError::Version {
                        path: self.path.display().to_string(),
                        found: other.unwrap_or("none").to_string(),
                    }),
                }
            }
            None => self.with(|c| {
                let t = now();
                for (k, v) in [
                    ("schema_version", "1"),
                    ("plan_id", plan_id),
                    ("plan_checksum", checksum),
                    ("rulebook_sha256", rulebook),
                    ("created", t.as_str()),
                ] {
                    c.execute(
                        "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                        params![k, v],
                    )?;
                }
                Ok(())
            }),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records that an `apply` run starts now, run by `operator`.
    pub fn record_run(&self, operator: Option<&str>) -> Result<(), JournalError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO runs (operator, started, version) VALUES (?1, ?2, ?3)",
                params![operator, now(), env!("CARGO_PKG_VERSION")],
            )
            .map(|_| ())
        })
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>, JournalError> {
        self.with(|c| {
            c.query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
                r.get(0)
            })
            .optional()
        })
    }

    /// The step's record, or `pending` if it was never touched.
    pub fn step(&self, step_id: &str) -> Result<Option<StepRecord>, JournalError> {
        self.with(|c| {
            c.query_row(
                "SELECT step_id, subject, action, state, detail, request_id, started, updated FROM steps WHERE step_id = ?1",
                params![step_id],
                row_to_step,
            )
            .optional()
        })
    }

    pub fn steps(&self) -> Result<Vec<StepRecord>, JournalError> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT step_id, subject, action, state, detail, request_id, started, updated FROM steps ORDER BY step_id",
            )?;
            let rows = st.query_map([], row_to_step)?;
            rows.collect()
        })
    }

    /// Records that `call` is about to be made for the step (durably, before the call).
    pub fn intent(
        &self,
        step_id: &str,
        subject: &str,
        action: &str,
        call: &str,
    ) -> Result<(), JournalError> {
        let t = now();
        self.with(|c| {
            c.execute(
                "INSERT INTO steps (step_id, subject, action, state, started, updated) VALUES (?1, ?2, ?3, 'intent', ?4, ?4)
                 ON CONFLICT(step_id) DO UPDATE SET state = 'intent', updated = ?4, started = COALESCE(started, ?4)",
                params![step_id, subject, action, t],
            )?;
            c.execute(
                "INSERT INTO calls (step_id, phase, call, time) VALUES (?1, 'intent', ?2, ?3)",
                params![step_id, call, t],
            )?;
            Ok(())
        })
    }

    /// Records a call's outcome without finishing the step (a step may make several calls).
    pub fn call_outcome(
        &self,
        step_id: &str,
        call: &str,
        outcome: &str,
        request_id: Option<&str>,
    ) -> Result<(), JournalError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO calls (step_id, phase, call, time, outcome, request_id) VALUES (?1, 'outcome', ?2, ?3, ?4, ?5)",
                params![step_id, call, now(), outcome, request_id],
            )
            .map(|_| ())
        })
    }

    /// Whether an intent for `call` of this step was recorded (in this or an earlier run).
    pub fn had_intent(&self, step_id: &str, call: &str) -> Result<bool, JournalError> {
        self.with(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM calls WHERE step_id = ?1 AND call = ?2 AND phase = 'intent'",
                params![step_id, call],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
        })
    }

    /// Whether `call` of this step succeeded (made, or found applied by reconciliation). Error
    /// outcomes do not count.
    pub fn had_outcome(&self, step_id: &str, call: &str) -> Result<bool, JournalError> {
        self.with(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM calls WHERE step_id = ?1 AND call = ?2 AND phase = 'outcome'
                 AND (outcome = 'ok' OR outcome LIKE 'reconciled%')",
                params![step_id, call],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
        })
    }

    /// Whether the last record of `call` for this step is an intent without an outcome: the call may
    /// or may not have reached Okta.
    pub fn open_intent(&self, step_id: &str, call: &str) -> Result<bool, JournalError> {
        self.with(|c| {
            c.query_row(
                "SELECT phase FROM calls WHERE step_id = ?1 AND call = ?2 ORDER BY seq DESC LIMIT 1",
                params![step_id, call],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map(|p| p.as_deref() == Some("intent"))
        })
    }

    /// The calls of a step whose last record is an intent (made, outcome never recorded).
    pub fn open_intents(&self, step_id: &str) -> Result<Vec<String>, JournalError> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT call FROM calls AS a WHERE step_id = ?1 AND phase = 'intent'
                 AND seq = (SELECT MAX(seq) FROM calls AS b WHERE b.step_id = a.step_id AND b.call = a.call)
                 ORDER BY seq",
            )?;
            let rows = st.query_map(params![step_id], |r| r.get(0))?;
            rows.collect()
        })
    }

    /// The first outcome recorded for `call` of this step: how notes such as the state before a call
    /// are kept across runs.
    pub fn first_outcome(&self, step_id: &str, call: &str) -> Result<Option<String>, JournalError> {
        self.with(|c| {
            c.query_row(
                "SELECT outcome FROM calls WHERE step_id = ?1 AND call = ?2 AND phase = 'outcome'
                 ORDER BY seq LIMIT 1",
                params![step_id, call],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()
            .map(Option::flatten)
        })
    }

    /// Sets the step's final (or waiting) state.
    pub fn finish(
        &self,
        step_id: &str,
        subject: &str,
        action: &str,
        state: StepState,
        detail: Option<&str>,
        request_id: Option<&str>,
    ) -> Result<(), JournalError> {
        let t = now();
        self.with(|c| {
            c.execute(
                "INSERT INTO steps (step_id, subject, action, state, detail, request_id, started, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
                 ON CONFLICT(step_id) DO UPDATE SET state = ?4, detail = ?5, request_id = COALESCE(?6, request_id), updated = ?7,
                 started = COALESCE(started, ?7)",
                params![step_id, subject, action, state.as_str(), detail, request_id, t],
            )
            .map(|_| ())
        })
    }

    /// Marks when a step was first attempted, without changing its state (for `await` deadlines).
    pub fn touch_started(
        &self,
        step_id: &str,
        subject: &str,
        action: &str,
    ) -> Result<DateTime<Utc>, JournalError> {
        let t = now();
        let started: String = self.with(|c| {
            c.execute(
                "INSERT INTO steps (step_id, subject, action, state, started, updated) VALUES (?1, ?2, ?3, 'pending', ?4, ?4)
                 ON CONFLICT(step_id) DO UPDATE SET started = COALESCE(started, ?4)",
                params![step_id, subject, action, t],
            )?;
            c.query_row("SELECT started FROM steps WHERE step_id = ?1", params![step_id], |r| r.get(0))
        })?;
        DateTime::parse_from_rfc3339(&started)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| self.corrupt("a start time", &started))
    }

    fn corrupt(&self, what: &'static str, value: &str) -> JournalError {
        JournalError::Corrupt {
            path: self.path.display().to_string(),
            what,
            value: value.chars().take(80).collect(),
        }
    }

    /// Records the steps justified for a subject (see the module documentation); the first record
    /// stands.
    pub fn set_sequence(&self, subject: &str, steps: &str) -> Result<(), JournalError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO sequences (subject, steps, time) VALUES (?1, ?2, ?3)
                 ON CONFLICT(subject) DO NOTHING",
                params![subject, steps, now()],
            )
            .map(|_| ())
        })
    }

    /// The steps justified for a subject when its sequence started, as JSON.
    pub fn sequence(&self, subject: &str) -> Result<Option<String>, JournalError> {
        self.with(|c| {
            c.query_row(
                "SELECT steps FROM sequences WHERE subject = ?1",
                params![subject],
                |r| r.get(0),
            )
            .optional()
        })
    }

    pub fn set_subject(
        &self,
        subject: &str,
        state: &str,
        detail: Option<&str>,
    ) -> Result<(), JournalError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO subjects (subject, state, detail, updated) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(subject) DO UPDATE SET state = ?2, detail = ?3, updated = ?4",
                params![subject, state, detail, now()],
            )
            .map(|_| ())
        })
    }

    /// One subject's last verdict and detail, if it has one.
    pub fn subject(&self, subject: &str) -> Result<Option<(String, Option<String>)>, JournalError> {
        self.with(|c| {
            c.query_row(
                "SELECT state, detail FROM subjects WHERE subject = ?1",
                params![subject],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })
    }

    /// How many subjects are in each state, by state.
    pub fn subject_counts(&self) -> Result<Vec<(String, u64)>, JournalError> {
        self.with(|c| {
            let mut st =
                c.prepare("SELECT state, COUNT(*) FROM subjects GROUP BY state ORDER BY state")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
            rows.collect()
        })
    }

    /// How many steps are in `state`.
    pub fn count_steps(&self, state: StepState) -> Result<u64, JournalError> {
        self.with(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM steps WHERE state = ?1",
                params![state.as_str()],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
        })
    }

    /// Stores a backup durably (the WAL is fsynced on commit with `synchronous=FULL`).
    pub fn backup(
        &self,
        subject: &str,
        kind: &str,
        org: &str,
        login: &str,
        body: &Value,
    ) -> Result<(), JournalError> {
        let text = body.to_string();
        self.with(|c| {
            c.execute(
                "INSERT INTO backups (subject, kind, org, login, body, time) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(subject, kind) DO NOTHING",
                params![subject, kind, org, login, text, now()],
            )
            .map(|_| ())
        })
    }

    pub fn backup_for(&self, subject: &str, kind: &str) -> Result<Option<Backup>, JournalError> {
        self.with(|c| {
            c.query_row(
                "SELECT subject, kind, org, login, body, time FROM backups WHERE subject = ?1 AND kind = ?2",
                params![subject, kind],
                row_to_backup,
            )
            .optional()
        })
    }

    /// The user backup taken for a login (for `remedy restore`).
    pub fn backup_by_login(&self, login: &str) -> Result<Option<Backup>, JournalError> {
        self.with(|c| {
            c.query_row(
                "SELECT subject, kind, org, login, body, time FROM backups WHERE lower(login) = lower(?1) AND kind = 'user'",
                params![login],
                row_to_backup,
            )
            .optional()
        })
    }
}

#[cfg(test)]
mod tests;
