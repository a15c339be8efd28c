//! The `deliveries` table: one row per (notification, sink), keyed by the delivery key the receiver
//! sees, written before each attempt (`sending`, attempts + 1) and after the last (`delivered` or
//! `failed`). A resumed run never sends again what is `delivered`; a row still `sending` is the
//! crash window (sent, maybe received, not recorded) and is sent again with the same key, for the
//! receiver to dedupe.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::rows::unreadable;
use super::{now, Journal, JournalError};

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// An attempt was about to be made; whether it arrived is unknown if the row is still so.
    Sending,
    Delivered,
    Failed,
}

impl DeliveryState {
    fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Sending => "sending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }
    fn parse(s: &str) -> Option<DeliveryState> {
        Some(match s {
            "sending" => DeliveryState::Sending,
            "delivered" => DeliveryState::Delivered,
            "failed" => DeliveryState::Failed,
            _ => return None,
        })
    }
}

/// One delivery's row.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryRecord {
    pub key: String,
    pub step_id: String,
    pub sink: String,
    pub state: DeliveryState,
    pub attempts: u32,
    pub detail: Option<String>,
    pub updated: String,
}

fn row_to_delivery(r: &rusqlite::Row) -> rusqlite::Result<DeliveryRecord> {
    let state: String = r.get(3)?;
    Ok(DeliveryRecord {
        key: r.get(0)?,
        step_id: r.get(1)?,
        sink: r.get(2)?,
        state: DeliveryState::parse(&state)
            .ok_or_else(|| unreadable(3, "a delivery state", &state))?,
        attempts: r.get(4)?,
        detail: r.get(5)?,
        updated: r.get(6)?,
    })
}

const COLUMNS: &str = "key, step_id, sink, state, attempts, detail, updated";

impl Journal {
    /// The delivery recorded under `key`, if any.
    pub fn delivery(&self, key: &str) -> Result<Option<DeliveryRecord>, JournalError> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {COLUMNS} FROM deliveries WHERE key = ?1"),
                params![key],
                row_to_delivery,
            )
            .optional()
        })
    }

    /// Every delivery, by step and sink.
    pub fn deliveries(&self) -> Result<Vec<DeliveryRecord>, JournalError> {
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {COLUMNS} FROM deliveries ORDER BY step_id, sink"
            ))?;
            let rows = st.query_map([], row_to_delivery)?;
            rows.collect()
        })
    }

    /// Records, durably and before it is made, that an attempt of delivery `key` is about to be made.
    pub fn delivery_attempt(
        &self,
        key: &str,
        step_id: &str,
        sink: &str,
    ) -> Result<(), JournalError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO deliveries (key, step_id, sink, state, attempts, updated) VALUES (?1, ?2, ?3, 'sending', 1, ?4)
                 ON CONFLICT(key) DO UPDATE SET state = 'sending', attempts = attempts + 1, updated = ?4",
                params![key, step_id, sink, now()],
            )
            .map(|_| ())
        })
    }

    /// Records how delivery `key` ended (`delivered` or `failed`, with the answer or the reason).
    pub fn delivery_outcome(
        &self,
        key: &str,
        state: DeliveryState,
        detail: &str,
    ) -> Result<(), JournalError> {
        self.with(|c| {
            c.execute(
                "UPDATE deliveries SET state = ?2, detail = ?3, updated = ?4 WHERE key = ?1",
                params![key, state.as_str(), detail, now()],
            )
            .map(|_| ())
        })
    }
}
