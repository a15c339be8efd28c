//! Reading a plan's journal for the console without disturbing the service: a read-only SQLite
//! connection opened `immutable`, so it takes no lock at all (the service's apply takes the
//! journal's exclusive lock with no wait, and must never find it held by a reader). The price: while
//! an apply is running its newest writes are still in the journal's WAL, which this reader does not
//! see; they appear once the apply ends (the WAL is checkpointed when the journal is closed). A
//! journal that cannot be read (being rewritten, damaged) is reported on the page, never fatal.
//!
//! Reads the documented schema (version 1, `apply::journal`): `steps`, `calls`, `subjects`.

use std::path::Path;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use serde::Serialize;

use crate::apply::journal::StepState;
use crate::report::{Results, StepResult, SubjectResult};

/// At most this many call rows are shown for one subject.
pub const MAX_CALLS: usize = 500;

#[derive(Debug, Clone, Serialize)]
pub(super) struct StepRow {
    pub step_id: String,
    pub subject: String,
    pub action: String,
    pub state: String,
    pub detail: Option<String>,
    pub request_id: Option<String>,
    pub updated: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct CallRow {
    pub step_id: String,
    pub phase: String,
    pub call: String,
    pub time: String,
    pub outcome: Option<String>,
    pub request_id: Option<String>,
}

fn open(path: &Path) -> rusqlite::Result<Connection> {
    // A URI, so `?`, `#` and `%` in the path are percent-encoded.
    let mut escaped = String::new();
    for c in path.to_string_lossy().chars() {
        match c {
            '?' | '#' | '%' => escaped.push_str(&format!("%{:02X}", c as u32)),
            c => escaped.push(c),
        }
    }
    let uri = format!("file:{escaped}?immutable=1");
    Connection::open_with_flags(
        uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
}

fn state(s: &str) -> StepState {
    match s {
        "intent" => StepState::Intent,
        "done" => StepState::Done,
        "waiting" => StepState::Waiting,
        "skipped" => StepState::Skipped,
        "failed" => StepState::Failed,
        _ => StepState::Pending,
    }
}

/// The steps of the journal (of one subject, or all).
pub(super) fn steps(path: &Path, subject: Option<&str>) -> rusqlite::Result<Vec<StepRow>> {
    let c = open(path)?;
    let mut st = c.prepare(
        "SELECT step_id, subject, action, state, detail, request_id, updated FROM steps
         WHERE ?1 IS NULL OR subject = ?1 ORDER BY step_id",
    )?;
    let rows = st.query_map(params![subject], |r| {
        Ok(StepRow {
            step_id: r.get(0)?,
            subject: r.get(1)?,
            action: r.get(2)?,
            state: r.get(3)?,
            detail: r.get(4)?,
            request_id: r.get(5)?,
            updated: r.get(6)?,
        })
    })?;
    rows.collect()
}

/// The calls (intents and outcomes) of the given steps, in order, at most [`MAX_CALLS`].
pub(super) fn calls(path: &Path, step_ids: &[String]) -> rusqlite::Result<Vec<CallRow>> {
    let c = open(path)?;
    let mut st = c.prepare(
        "SELECT step_id, phase, call, time, outcome, request_id FROM calls WHERE step_id = ?1
         ORDER BY seq",
    )?;
    let mut out = Vec::new();
    for id in step_ids {
        let rows = st.query_map(params![id], |r| {
            Ok(CallRow {
                step_id: r.get(0)?,
                phase: r.get(1)?,
                call: r.get(2)?,
                time: r.get(3)?,
                outcome: r.get(4)?,
                request_id: r.get(5)?,
            })
        })?;
        for row in rows {
            if out.len() >= MAX_CALLS {
                return Ok(out);
            }
            out.push(row?);
        }
    }
    Ok(out)
}

/// The journal's last state of the given steps and subjects, as the report's results (asked only
/// about what a page shows, so a large journal costs the same).
pub(super) fn results(
    path: &Path,
    step_ids: &[&str],
    subjects: &[&str],
) -> rusqlite::Result<Results> {
    let c = open(path)?;
    let mut out = Results::default();
    let mut st = c.prepare("SELECT state, detail FROM steps WHERE step_id = ?1")?;
    for id in step_ids {
        let row = st
            .query_row(params![id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
            })
            .optional()?;
        if let Some((s, detail)) = row {
            out.steps.insert(
                id.to_string(),
                StepResult {
                    state: state(&s),
                    detail,
                },
            );
        }
    }
    let mut st = c.prepare("SELECT state, detail FROM subjects WHERE subject = ?1")?;
    for key in subjects {
        let row = st
            .query_row(params![key], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        if let Some((state, detail)) = row {
            out.subjects
                .insert(key.to_string(), SubjectResult { state, detail });
        }
    }
    Ok(out)
}
