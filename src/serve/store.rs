//! The service's durable state: one SQLite file (`serve.sqlite` in the state directory, 0600) shared
//! by the running service and the `remedy approvals|approve|deny|pause|resume` commands.
//!
//! ```sql
//! cursors   (source PRIMARY KEY, since, updated)            -- System Log polling position per org
//! events    (uuid PRIMARY KEY, org, event_type, published, user_id, outcome, via, received,
//!            processed, body)                                -- every event once (dedup by uuid)
//! work      (remediation, user_id, state, subject, hub_user_id, plan, detail, attempts, due,
//!            first_seen, updated, PRIMARY KEY (remediation, user_id))
//! approvals (id PRIMARY KEY, remediation, user_id, subject, plan, actions, requested, state,
//!            decided, decided_by, reason)
//! changes   (remediation, at, count)                        -- changing steps applied, for rate guards
//! control   (key PRIMARY KEY, value, updated, by)           -- `paused`
//! cycles    (id PRIMARY KEY, remediation, started, finished, planned, applied, outcome)
//! ```
//!
//! Work states: `new` (to plan), `approval` (waits for a person), `ready` (to apply), `waiting` (an
//! await; re-checked when `due`), `failed` (retried when `due` until attempts run out), and the final
//! `done`, `reported`, `denied`. Times are RFC 3339 UTC with milliseconds, so they sort as text.
//! Every write is checked and returned; nothing here decides what to do (that is `worker`'s).
//! Approvals are in `store/approvals.rs`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

mod approvals;

pub use approvals::Approval;

/// Limits on what is stored from outside: an event body larger than this is stored truncated.
pub const MAX_EVENT_BODY: usize = 64 * 1024;

/// A failed read or write of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the service store `{path}`: {source}")]
    Sqlite {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("the service store `{path}` cannot be created: {message}")]
    Create { path: String, message: String },
    #[error("no approval #{0}")]
    NoApproval(i64),
    #[error("approval #{id} is already {state}")]
    Decided { id: i64, state: String },
    #[error("the service store `{path}` holds a {what} `{value}` this release cannot read")]
    Corrupt {
        path: String,
        what: &'static str,
        value: String,
    },
}

/// Where work stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkState {
    New,
    Approval,
    Ready,
    Waiting,
    Failed,
    Done,
    Reported,
    Denied,
}

impl WorkState {
    pub const ALL: [WorkState; 8] = [
        WorkState::New,
        WorkState::Approval,
        WorkState::Ready,
        WorkState::Waiting,
        WorkState::Failed,
        WorkState::Done,
        WorkState::Reported,
        WorkState::Denied,
    ];

    pub fn label(self) -> &'static str {
        match self {
            WorkState::New => "new",
            WorkState::Approval => "approval",
            WorkState::Ready => "ready",
            WorkState::Waiting => "waiting",
            WorkState::Failed => "failed",
            WorkState::Done => "done",
            WorkState::Reported => "reported",
            WorkState::Denied => "denied",
        }
    }

    fn parse(s: &str) -> Option<WorkState> {
        WorkState::ALL.into_iter().find(|w| w.label() == s)
    }

    /// Whether a new failure for the same user starts new work (the old one has ended).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            WorkState::Done | WorkState::Reported | WorkState::Denied | WorkState::Failed
        )
    }
}

/// One event as stored.
#[derive(Debug, Clone, Serialize)]
pub struct StoredEvent {
    pub uuid: String,
    pub org: String,
    pub event_type: String,
    pub published: String,
    pub user_id: Option<String>,
    pub outcome: Option<String>,
    pub via: String,
}

/// One unit of work: a user of one remediation.
#[derive(Debug, Clone, Serialize)]
pub struct Work {
    pub remediation: String,
    pub user_id: String,
    pub state: WorkState,
    pub subject: Option<String>,
    pub hub_user_id: Option<String>,
    pub plan: Option<String>,
    pub detail: Option<String>,
    pub attempts: u32,
    pub due: Option<String>,
    pub first_seen: String,
    pub updated: String,
}

/// The store.
pub struct Store {
    path: PathBuf,
    conn: Mutex<Connection>,
}

pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS cursors (source TEXT PRIMARY KEY, since TEXT NOT NULL, updated TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (uuid TEXT PRIMARY KEY, org TEXT NOT NULL, event_type TEXT NOT NULL,
  published TEXT NOT NULL, user_id TEXT, outcome TEXT, via TEXT NOT NULL, received TEXT NOT NULL,
  processed INTEGER NOT NULL DEFAULT 0, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_unprocessed ON events (processed, received);
CREATE TABLE IF NOT EXISTS work (remediation TEXT NOT NULL, user_id TEXT NOT NULL, state TEXT NOT NULL,
  subject TEXT, hub_user_id TEXT, plan TEXT, detail TEXT, attempts INTEGER NOT NULL DEFAULT 0, due TEXT,
  first_seen TEXT NOT NULL, updated TEXT NOT NULL, PRIMARY KEY (remediation, user_id));
CREATE INDEX IF NOT EXISTS work_state ON work (remediation, state, due);
CREATE INDEX IF NOT EXISTS work_hub ON work (hub_user_id);
CREATE TABLE IF NOT EXISTS approvals (id INTEGER PRIMARY KEY AUTOINCREMENT, remediation TEXT NOT NULL,
  user_id TEXT NOT NULL, subject TEXT NOT NULL, plan TEXT NOT NULL, actions TEXT NOT NULL,
  requested TEXT NOT NULL, state TEXT NOT NULL, decided TEXT, decided_by TEXT, reason TEXT);
CREATE INDEX IF NOT EXISTS approvals_work ON approvals (remediation, user_id, state);
CREATE TABLE IF NOT EXISTS changes (remediation TEXT NOT NULL, at TEXT NOT NULL, count INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS changes_at ON changes (remediation, at);
CREATE TABLE IF NOT EXISTS control (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated TEXT NOT NULL, by TEXT);
CREATE TABLE IF NOT EXISTS cycles (id INTEGER PRIMARY KEY AUTOINCREMENT, remediation TEXT NOT NULL,
  started TEXT NOT NULL, finished TEXT NOT NULL, planned INTEGER NOT NULL, applied INTEGER NOT NULL,
  outcome TEXT NOT NULL);
";

fn event_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredEvent> {
    Ok(StoredEvent {
        uuid: r.get(0)?,
        org: r.get(1)?,
        event_type: r.get(2)?,
        published: r.get(3)?,
        user_id: r.get(4)?,
        outcome: r.get(5)?,
        via: r.get(6)?,
    })
}

fn work_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(Work, String)> {
    let state: String = row.get(2)?;
    Ok((
        Work {
            remediation: row.get(0)?,
            user_id: row.get(1)?,
            state: WorkState::New,
            subject: row.get(3)?,
            hub_user_id: row.get(4)?,
            plan: row.get(5)?,
            detail: row.get(6)?,
            attempts: row.get(7)?,
            due: row.get(8)?,
            first_seen: row.get(9)?,
            updated: row.get(10)?,
        },
        state,
    ))
}

const WORK_COLUMNS: &str = "remediation, user_id, state, subject, hub_user_id, plan, detail, attempts, due, first_seen, updated";

impl Store {
    /// Opens (creating if needed) the store in `state_dir` (created 0700).
    pub fn open(state_dir: &Path) -> Result<Store, StoreError> {
        let path = state_dir.join("serve.sqlite");
        let shown = path.display().to_string();
        create_private_dir(state_dir).map_err(|e| StoreError::Create {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        crate::apply::journal::secure_file(&path).map_err(|e| StoreError::Create {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        let err = |source| StoreError::Sqlite {
            path: shown.clone(),
            source,
        };
        let conn = Connection::open(&path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .and_then(|_| conn.pragma_update(None, "synchronous", "FULL"))
            .and_then(|_| conn.execute_batch(SCHEMA))
            .map_err(err)?;
        Ok(Store {
            path,
            conn: Mutex::new(conn),
        })
    }

    /// Opens an existing store (the approval commands never create one).
    pub fn open_existing(state_dir: &Path) -> Result<Store, StoreError> {
        let path = state_dir.join("serve.sqlite");
        if !path.exists() {
            return Err(StoreError::Create {
                path: path.display().to_string(),
                message:
                    "it does not exist: is `remedy serve` configured with this state directory?"
                        .into(),
            });
        }
        Store::open(state_dir)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let err = |source| StoreError::Sqlite {
            path: self.path.display().to_string(),
            source,
        };
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| err(rusqlite::Error::InvalidQuery))?;
        f(&mut conn).map_err(err)
    }

    fn state(&self, raw: String) -> Result<WorkState, StoreError> {
        WorkState::parse(&raw).ok_or_else(|| StoreError::Corrupt {
            path: self.path.display().to_string(),
            what: "work state",
            value: raw,
        })
    }

    // ---- cursors

    pub fn cursor(&self, source: &str) -> Result<Option<String>, StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT since FROM cursors WHERE source = ?1",
                params![source],
                |r| r.get(0),
            )
            .optional()
        })
    }

    // ---- events

    /// Stores a batch of events and advances `cursor` (when given) in one transaction; returns how
    /// many were new (the others were already stored: duplicates).
    pub fn add_events(
        &self,
        org: &str,
        via: &str,
        events: &[(StoredEvent, String)],
        cursor: Option<(&str, &str)>,
    ) -> Result<usize, StoreError> {
        let received = ts(Utc::now());
        self.with(|c| {
            let tx = c.transaction()?;
            let mut added = 0;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT OR IGNORE INTO events (uuid, org, event_type, published, user_id, outcome, via, received, body)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )?;
                for (e, body) in events {
                    let mut body = body.as_str();
                    if body.len() > MAX_EVENT_BODY {
                        let mut end = MAX_EVENT_BODY;
                        while !body.is_char_boundary(end) {
                            end -= 1;
                        }
                        body = &body[..end];
                    }
                    added += insert.execute(params![
                        e.uuid, org, e.event_type, e.published, e.user_id, e.outcome, via, received, body
                    ])?;
                }
            }
            if let Some((source, since)) = cursor {
                tx.execute(
                    "INSERT INTO cursors (source, since, updated) VALUES (?1, ?2, ?3)
                     ON CONFLICT (source) DO UPDATE SET since = excluded.since, updated = excluded.updated",
                    params![source, since, received],
                )?;
            }
            tx.commit()?;
            Ok(added)
        })
    }

    /// Events not processed yet, oldest first.
    pub fn unprocessed(&self, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT uuid, org, event_type, published, user_id, outcome, via FROM events
                 WHERE processed = 0 ORDER BY received, published, uuid LIMIT ?1",
            )?;
            let rows = st.query_map(params![limit as i64], event_row)?;
            rows.collect()
        })
    }

    pub fn event_count(&self) -> Result<u64, StoreError> {
        self.with(|c| c.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0)))
    }

    /// Events about one user, oldest first (for a subject's history).
    pub fn events_of(&self, user_id: &str) -> Result<Vec<StoredEvent>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT uuid, org, event_type, published, user_id, outcome, via FROM events
                 WHERE user_id = ?1 ORDER BY published, uuid",
            )?;
            let rows = st.query_map(params![user_id], event_row)?;
            rows.collect()
        })
    }

    /// Records what the events started, and marks them processed, in one transaction: `new_work`
    /// (remediation, user) pairs become `new` unless work for them is in flight; `wake` hub user ids
    /// make their waiting work due now.
    pub fn process_events(
        &self,
        uuids: &[String],
        new_work: &[(String, String)],
        wake: &[String],
    ) -> Result<(), StoreError> {
        let now = ts(Utc::now());
        self.with(|c| {
            let tx = c.transaction()?;
            for (remediation, user) in new_work {
                tx.execute(
                    "INSERT INTO work (remediation, user_id, state, attempts, due, first_seen, updated)
                     VALUES (?1, ?2, 'new', 0, ?3, ?3, ?3)
                     ON CONFLICT (remediation, user_id) DO UPDATE SET state = 'new', attempts = 0,
                       due = excluded.due, updated = excluded.updated, detail = NULL
                     WHERE work.state IN ('done', 'reported', 'denied', 'failed')",
                    params![remediation, user, now],
                )?;
            }
            for hub_user in wake {
                tx.execute(
                    "UPDATE work SET due = ?2, updated = ?2 WHERE hub_user_id = ?1 AND state = 'waiting'",
                    params![hub_user, now],
                )?;
            }
            for uuid in uuids {
                tx.execute("UPDATE events SET processed = 1 WHERE uuid = ?1", params![uuid])?;
            }
            tx.commit()
        })
    }

    // ---- work

    /// Work of a remediation in `state` that is due at `now` (or has no due time).
    pub fn due(
        &self,
        remediation: &str,
        state: WorkState,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Work>, StoreError> {
        let rows = self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {WORK_COLUMNS} FROM work WHERE remediation = ?1 AND state = ?2
                 AND (due IS NULL OR due <= ?3) ORDER BY due, user_id LIMIT ?4"
            ))?;
            let rows = st.query_map(
                params![remediation, state.label(), ts(now), limit as i64],
                work_row,
            )?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        self.finish_rows(rows)
    }

    fn finish_rows(&self, rows: Vec<(Work, String)>) -> Result<Vec<Work>, StoreError> {
        rows.into_iter()
            .map(|(mut w, s)| {
                w.state = self.state(s)?;
                Ok(w)
            })
            .collect()
    }

    /// All work, optionally of one remediation, newest first (bounded by `limit`).
    pub fn work(&self, remediation: Option<&str>, limit: usize) -> Result<Vec<Work>, StoreError> {
        let rows = self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {WORK_COLUMNS} FROM work WHERE (?1 IS NULL OR remediation = ?1)
                 ORDER BY updated DESC, user_id LIMIT ?2"
            ))?;
            let rows = st.query_map(params![remediation, limit as i64], work_row)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        self.finish_rows(rows)
    }

    /// Work counts by remediation and state.
    pub fn counts(&self) -> Result<Vec<(String, WorkState, u64)>, StoreError> {
        let rows: Vec<(String, String, u64)> = self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT remediation, state, COUNT(*) FROM work GROUP BY remediation, state",
            )?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect()
        })?;
        rows.into_iter()
            .map(|(r, s, n)| Ok((r, self.state(s)?, n)))
            .collect()
    }

    /// Updates one unit of work.
    #[allow(clippy::too_many_arguments)]
    pub fn set_work(
        &self,
        remediation: &str,
        user_id: &str,
        state: WorkState,
        detail: Option<&str>,
        due: Option<DateTime<Utc>>,
        attempts: u32,
    ) -> Result<(), StoreError> {
        let now = ts(Utc::now());
        self.with(|c| {
            c.execute(
                "UPDATE work SET state = ?3, detail = ?4, due = ?5, attempts = ?6, updated = ?7
                 WHERE remediation = ?1 AND user_id = ?2",
                params![
                    remediation,
                    user_id,
                    state.label(),
                    detail,
                    due.map(ts),
                    attempts,
                    now
                ],
            )
            .map(|_| ())
        })
    }

    /// Records the plan a unit of work is now part of, with the subject key and hub user it maps to.
    pub fn set_planned(
        &self,
        remediation: &str,
        user_id: &str,
        subject: Option<&str>,
        hub_user_id: Option<&str>,
        plan: &str,
    ) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE work SET subject = ?3, hub_user_id = ?4, plan = ?5 WHERE remediation = ?1 AND user_id = ?2",
                params![remediation, user_id, subject, hub_user_id, plan],
            )
            .map(|_| ())
        })
    }

    // ---- rate guards

    pub fn record_changes(&self, remediation: &str, count: u64) -> Result<(), StoreError> {
        if count == 0 {
            return Ok(());
        }
        self.with(|c| {
            c.execute(
                "INSERT INTO changes (remediation, at, count) VALUES (?1, ?2, ?3)",
                params![remediation, ts(Utc::now()), count as i64],
            )
            .map(|_| ())
        })
    }

    /// Changing steps applied since `since`.
    pub fn changes_since(
        &self,
        remediation: &str,
        since: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT COALESCE(SUM(count), 0) FROM changes WHERE remediation = ?1 AND at > ?2",
                params![remediation, ts(since)],
                |r| r.get::<_, i64>(0),
            )
        })
        .map(|n| n.max(0) as u64)
    }

    // ---- control

    /// Pauses (or resumes) every change; `by` is who did it.
    pub fn set_paused(&self, paused: bool, by: &str) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO control (key, value, updated, by) VALUES ('paused', ?1, ?2, ?3)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated = excluded.updated, by = excluded.by",
                params![if paused { "true" } else { "false" }, ts(Utc::now()), by],
            )
            .map(|_| ())
        })
    }

    /// Who paused the service and when, if it is paused.
    pub fn paused(&self) -> Result<Option<(String, String)>, StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT updated, COALESCE(by, '') FROM control WHERE key = 'paused' AND value = 'true'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })
    }

    // ---- cycles

    pub fn record_cycle(
        &self,
        remediation: &str,
        started: DateTime<Utc>,
        planned: usize,
        applied: usize,
        outcome: &str,
    ) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO cycles (remediation, started, finished, planned, applied, outcome)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    remediation,
                    ts(started),
                    ts(Utc::now()),
                    planned as i64,
                    applied as i64,
                    outcome
                ],
            )
            .map(|_| ())
        })
    }

    /// The last cycle of a remediation: (finished, planned, applied, outcome).
    pub fn last_cycle(
        &self,
        remediation: &str,
    ) -> Result<Option<(String, u64, u64, String)>, StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT finished, planned, applied, outcome FROM cycles WHERE remediation = ?1
                 ORDER BY id DESC LIMIT 1",
                params![remediation],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
        })
    }
}

/// Creates `dir` (and parents) readable by its owner only.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}
