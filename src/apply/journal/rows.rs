//! Reading journal rows back into values: a stored value that does not parse is an error
//! ([`super::JournalError::Corrupt`]), never a default.

use super::{Backup, StepRecord, StepState};

/// A stored value that does not parse, raised as a SQLite conversion error and turned into
/// [`JournalError::Corrupt`] by [`Journal::with`].
#[derive(Debug)]
pub(super) struct Unreadable(pub(super) &'static str, pub(super) String);

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} `{}`", self.0, self.1)
    }
}

impl std::error::Error for Unreadable {}

pub(super) fn unreadable(i: usize, what: &'static str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        i,
        rusqlite::types::Type::Text,
        Box::new(Unreadable(what, value.chars().take(80).collect())),
    )
}

pub(super) fn row_to_step(r: &rusqlite::Row) -> rusqlite::Result<StepRecord> {
    let state: String = r.get(3)?;
    Ok(StepRecord {
        step_id: r.get(0)?,
        subject: r.get(1)?,
        action: r.get(2)?,
        state: StepState::parse(&state).ok_or_else(|| unreadable(3, "a step state", &state))?,
        detail: r.get(4)?,
        request_id: r.get(5)?,
        started: r.get(6)?,
        updated: r.get(7)?,
    })
}

pub(super) fn row_to_backup(r: &rusqlite::Row) -> rusqlite::Result<Backup> {
    let body: String = r.get(4)?;
    Ok(Backup {
        subject: r.get(0)?,
        kind: r.get(1)?,
        org: r.get(2)?,
        login: r.get(3)?,
        body: serde_json::from_str(&body).map_err(|_| unreadable(4, "a backup", &body))?,
        time: r.get(5)?,
    })
}
