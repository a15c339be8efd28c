//! How fast the service turns events into fixes, measured from its own records (the store's events
//! and the audit log): for each user, the failure's `published` time to the reset's audit line
//! (detection and the service's own work, bounded below by the poll interval), and the hub's
//! `user.account.update_password` event to the retried push's audit line (how soon a user who sets a
//! password is pushed again). Used by `remedy demo --serve` and the benchmark; reads only.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::store::{Store, StoreError};

/// Milliseconds per stage, one entry per user that went through it.
#[derive(Debug, Default, Clone)]
pub struct Latencies {
    /// Failure published → reset applied.
    pub failure_to_reset: Vec<i64>,
    /// Password set (hub event published) → push retried.
    pub password_to_retry: Vec<i64>,
    /// Failure published → push retried (includes the user's own time to set a password).
    pub failure_to_retry: Vec<i64>,
}

fn time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The `q` quantile (0.0-1.0) of `values`, nearest rank; `None` when empty.
pub fn quantile(values: &[i64], q: f64) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_unstable();
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    Some(v[rank - 1])
}

/// Reads the latencies of every unit of work in `store` whose failure was published at or after
/// `since` (failures already in the log when the service started measure the backlog, not the
/// service), with the audit log at `audit`.
pub fn measure(store: &Store, audit: &Path, since: DateTime<Utc>) -> Result<Latencies, StoreError> {
    // First successful call per (login, audit action).
    let mut calls: BTreeMap<(String, String), DateTime<Utc>> = BTreeMap::new();
    if let Ok(text) = std::fs::read_to_string(audit) {
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let (Some(user), Some(action), Some(t)) = (
                v["user"].as_str(),
                v["action"].as_str(),
                v["time"].as_str().and_then(time),
            ) else {
                continue;
            };
            if v["result"] != "ok" {
                continue;
            }
            calls
                .entry((user.to_string(), action.to_string()))
                .and_modify(|e| *e = (*e).min(t))
                .or_insert(t);
        }
    }
    let mut out = Latencies::default();
    for w in store.work(None, usize::MAX >> 1)? {
        let Some(login) = &w.subject else { continue };
        let failed = store
            .events_of(&w.user_id)?
            .into_iter()
            .filter(super::events::is_failure)
            .filter_map(|e| time(&e.published))
            .min()
            .filter(|t| *t >= since);
        let password = match &w.hub_user_id {
            Some(h) => store
                .events_of(h)?
                .into_iter()
                .filter(|e| e.event_type == "user.account.update_password")
                .filter_map(|e| time(&e.published))
                .min(),
            None => None,
        };
        let reset = calls
            .get(&(login.clone(), "reset_password".into()))
            .copied();
        let retry = calls
            .get(&(login.clone(), "retry_provisioning".into()))
            .copied();
        let ms = |a: DateTime<Utc>, b: DateTime<Utc>| (b - a).num_milliseconds();
        if let (Some(f), Some(r)) = (failed, reset) {
            out.failure_to_reset.push(ms(f, r));
        }
        if let (Some(p), Some(r)) = (password, retry) {
            if r >= p {
                out.password_to_retry.push(ms(p, r));
            }
        }
        if let (Some(f), Some(r), Some(_)) = (failed, retry, reset) {
            out.failure_to_retry.push(ms(f, r));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::quantile;

    #[test]
    fn quantiles_are_nearest_rank() {
        let v = [5, 1, 3, 2, 4];
        assert_eq!(quantile(&v, 0.5), Some(3));
        assert_eq!(quantile(&v, 0.99), Some(5));
        assert_eq!(quantile(&v, 0.0), Some(1));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
