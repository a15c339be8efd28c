//! Reading a journal's subjects and steps one row at a time, for `remedy status` of a run of any
//! size: each row is handed over as it is read and nothing is collected. Listings are in subject (or
//! step id) order, through the tables' keys and the `subjects_by_state` index.

use rusqlite::params;

use super::rows::row_to_step;
use super::{Journal, JournalError, StepRecord};

impl Journal {
    /// Hands each subject to `each` as `(subject, state, detail)`, by subject: those in `state`
    /// (or of every state), at most `per_state` of each state (all with `None`). Stops early when
    /// `each` returns `false`.
    pub fn each_subject(
        &self,
        state: Option<&str>,
        per_state: Option<usize>,
        each: &mut dyn FnMut(&str, &str, Option<&str>) -> bool,
    ) -> Result<(), JournalError> {
        let limit = per_state.map_or(-1, |n| n as i64);
        self.with(|c| {
            let (sql, state) = match (state, per_state) {
                (Some(s), _) => (
                    "SELECT subject, state, detail FROM subjects WHERE state = ?1
                     ORDER BY subject LIMIT ?2",
                    s,
                ),
                (None, None) => (
                    "SELECT subject, state, detail FROM subjects WHERE ?1 = ?1 OR ?2 = ?2
                     ORDER BY subject",
                    "",
                ),
                // The first `limit` of each state, all states by subject.
                (None, Some(_)) => (
                    "SELECT subject, state, detail FROM
                       (SELECT *, ROW_NUMBER() OVER (PARTITION BY state ORDER BY subject) AS n
                        FROM subjects)
                     WHERE ?1 = ?1 AND n <= ?2 ORDER BY subject",
                    "",
                ),
            };
            let mut st = c.prepare(sql)?;
            let mut rows = st.query(params![state, limit])?;
            while let Some(r) = rows.next()? {
                let (subject, state, detail): (String, String, Option<String>) =
                    (r.get(0)?, r.get(1)?, r.get(2)?);
                if !each(&subject, &state, detail.as_deref()) {
                    break;
                }
            }
            Ok(())
        })
    }

    /// Hands at most `per_state` steps of each state (all with `None`) to `each`, by step id.
    /// Stops early when `each` returns `false`.
    pub fn each_step(
        &self,
        per_state: Option<usize>,
        each: &mut dyn FnMut(StepRecord) -> bool,
    ) -> Result<(), JournalError> {
        let sql = match per_state {
            None => {
                "SELECT step_id, subject, action, state, detail, request_id, started, updated
                 FROM steps WHERE ?1 = ?1 ORDER BY step_id"
            }
            Some(_) => {
                "SELECT step_id, subject, action, state, detail, request_id, started, updated FROM
                   (SELECT *, ROW_NUMBER() OVER (PARTITION BY state ORDER BY step_id) AS n FROM steps)
                 WHERE n <= ?1 ORDER BY step_id"
            }
        };
        let limit = per_state.map_or(-1, |n| n as i64);
        self.with(|c| {
            let mut st = c.prepare(sql)?;
            let mut rows = st.query(params![limit])?;
            while let Some(r) = rows.next()? {
                if !each(row_to_step(r)?) {
                    break;
                }
            }
            Ok(())
        })
    }
}
