//! Users completing their resets over time: with `SimConfig::complete_resets_after`, a hub user put
//! in RECOVERY by a password reset sets a password that long after, through `control::complete_reset`
//! (which writes the events Okta writes).
//!
//! Owns the queue of pending completions, found in the hub's System Log (`user.account.reset_password`
//! events written while the simulator runs). It does not run a clock (`activity`).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::control::complete_reset;
use super::model::{OrgName, UserStatus};
use super::runtime::Shared;
use super::tap::LogTap;
use super::SimError;

/// The longest `complete_resets_after` accepted.
pub const MAX_COMPLETE_RESETS_AFTER: Duration = Duration::from_secs(30 * 24 * 3600);

/// The event Okta writes when an admin resets a user's password.
const RESET_EVENT: &str = "user.account.reset_password";

/// Pending completions, in the order they fall due.
#[derive(Debug)]
pub(crate) struct Resets {
    after: Duration,
    tap: LogTap,
    /// (due time, event seq) → hub user id: the seq breaks ties, so the order is deterministic.
    queue: BTreeMap<(DateTime<Utc>, u64), String>,
}

impl Resets {
    pub(crate) fn new(after: Duration, tap: LogTap) -> Self {
        Resets {
            after,
            tap,
            queue: BTreeMap::new(),
        }
    }

    /// Reads the hub's new reset events into the queue.
    fn scan(&mut self, shared: &Shared) {
        let world = shared.read_world();
        let after = chrono::Duration::from_std(self.after).unwrap_or(chrono::Duration::MAX);
        for e in self.tap.read(world.org(OrgName::Hub)) {
            if e.json["eventType"] != RESET_EVENT {
                continue;
            }
            let target = e.json["target"]
                .as_array()
                .and_then(|t| t.iter().find(|t| t["type"] == "User"))
                .and_then(|t| t["id"].as_str());
            if let Some(id) = target {
                let due = e.published.checked_add_signed(after).unwrap_or(e.published);
                self.queue.insert((due, e.seq), id.to_string());
            }
        }
    }

    /// Completes every reset due by `now`, in due order, and returns the users that set a password.
    /// A user no longer in RECOVERY (reset again, deleted, activated by hand) is skipped.
    pub(crate) fn complete_due(&mut self, shared: &Shared, now: DateTime<Utc>) -> Vec<String> {
        self.scan(shared);
        let mut done = Vec::new();
        while let Some(entry) = self.queue.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let id = entry.remove();
            let waiting = shared
                .read_world()
                .org(OrgName::Hub)
                .users
                .get(&id)
                .is_some_and(|u| u.status == UserStatus::Recovery);
            if !waiting {
                continue;
            }
            match complete_reset(shared, OrgName::Hub, &id, None) {
                Ok(()) => done.push(id),
                // Another writer changed the user between the check and the completion.
                Err(SimError::NotResetting(_) | SimError::NoUser(..)) => {}
                Err(e) => tracing::error!(user = %id, error = %e, "cannot complete a reset"),
            }
        }
        done
    }
}
