//! Approval requests in the service's store: asked when a unit's steps need a person, decided by
//! `remedy approve|deny` or the console (a denial ends the work, an approval makes it ready), and
//! read back as the subjects of a plan whose destructive steps may run.

use chrono::Utc;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::{ts, Store, StoreError, WorkState};

/// An approval request.
#[derive(Debug, Clone, Serialize)]
pub struct Approval {
    pub id: i64,
    pub remediation: String,
    pub user_id: String,
    pub subject: String,
    pub plan: String,
    pub actions: String,
    pub requested: String,
    pub state: String,
    pub decided: Option<String>,
    pub decided_by: Option<String>,
    pub reason: Option<String>,
}

fn approval_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Approval> {
    Ok(Approval {
        id: row.get(0)?,
        remediation: row.get(1)?,
        user_id: row.get(2)?,
        subject: row.get(3)?,
        plan: row.get(4)?,
        actions: row.get(5)?,
        requested: row.get(6)?,
        state: row.get(7)?,
        decided: row.get(8)?,
        decided_by: row.get(9)?,
        reason: row.get(10)?,
    })
}

const APPROVAL_COLUMNS: &str =
    "id, remediation, user_id, subject, plan, actions, requested, state, decided, decided_by, reason";

impl Store {
    /// Asks for approval, unless one is already pending for the same work and plan.
    pub fn request_approval(
        &self,
        remediation: &str,
        user_id: &str,
        subject: &str,
        plan: &str,
        actions: &str,
    ) -> Result<Option<i64>, StoreError> {
        let now = ts(Utc::now());
        self.with(|c| {
            let tx = c.transaction()?;
            let existing: Option<i64> = tx
                .query_row(
                    "SELECT id FROM approvals WHERE remediation = ?1 AND user_id = ?2 AND plan = ?3",
                    params![remediation, user_id, plan],
                    |r| r.get(0),
                )
                .optional()?;
            if existing.is_some() {
                tx.commit()?;
                return Ok(None);
            }
            tx.execute(
                "INSERT INTO approvals (remediation, user_id, subject, plan, actions, requested, state)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending')",
                params![remediation, user_id, subject, plan, actions, now],
            )?;
            let id = tx.last_insert_rowid();
            tx.commit()?;
            Ok(Some(id))
        })
    }

    /// Approvals, pending ones only unless `all`.
    pub fn approvals(&self, all: bool) -> Result<Vec<Approval>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {APPROVAL_COLUMNS} FROM approvals WHERE ?1 OR state = 'pending' ORDER BY id"
            ))?;
            let rows = st.query_map(params![all], approval_row)?;
            rows.collect()
        })
    }

    pub fn approval(&self, id: i64) -> Result<Approval, StoreError> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {APPROVAL_COLUMNS} FROM approvals WHERE id = ?1"),
                params![id],
                approval_row,
            )
            .optional()
        })?
        .ok_or(StoreError::NoApproval(id))
    }

    /// Approves or denies a pending request; a denial also ends the work (`denied`), an approval
    /// makes it ready to apply.
    pub fn decide(
        &self,
        id: i64,
        approve: bool,
        by: &str,
        reason: Option<&str>,
    ) -> Result<Approval, StoreError> {
        let current = self.approval(id)?;
        if current.state != "pending" {
            return Err(StoreError::Decided {
                id,
                state: current.state,
            });
        }
        let now = ts(Utc::now());
        let (state, work_state) = if approve {
            ("approved", WorkState::Ready)
        } else {
            ("denied", WorkState::Denied)
        };
        self.with(|c| {
            let tx = c.transaction()?;
            let changed = tx.execute(
                "UPDATE approvals SET state = ?2, decided = ?3, decided_by = ?4, reason = ?5
                 WHERE id = ?1 AND state = 'pending'",
                params![id, state, now, by, reason],
            )?;
            if changed == 1 {
                tx.execute(
                    "UPDATE work SET state = ?3, due = ?4, updated = ?4, detail = ?5
                     WHERE remediation = ?1 AND user_id = ?2 AND state = 'approval'",
                    params![
                        current.remediation,
                        current.user_id,
                        work_state.label(),
                        now,
                        format!("{state} by {by}")
                    ],
                )?;
            }
            tx.commit()
        })?;
        self.approval(id)
    }

    /// Subjects of a plan whose destructive steps are approved.
    pub fn approved_subjects(&self, plan: &str) -> Result<Vec<String>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT subject FROM approvals WHERE plan = ?1 AND state = 'approved'",
            )?;
            let rows = st.query_map(params![plan], |r| r.get(0))?;
            rows.collect()
        })
    }
}
