//! The spoke's System Log as the list of work: provisioning failures in the rulebook's window, grouped
//! by the user they are about, for the one app. This is what makes collection cost grow with failures
//! rather than with the size of the orgs.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use serde_json::Value;

use super::{okta, CollectError, Progress};
use crate::okta::{JsonModel, LogEvent, LogQuery, OktaApi};

/// The failure filter the spoke System Log is read with.
pub const FAILURE_FILTER: &str =
    "eventType sw \"application.provision.user\" and outcome.result eq \"FAILURE\"";

/// Failure events per user, and the users in the order the log first named them.
#[derive(Debug, Default)]
pub(crate) struct Failures {
    pub(super) order: Vec<String>,
    pub(super) events: BTreeMap<String, Vec<Value>>,
}

impl Failures {
    /// Keeps only the failures of `users`.
    pub(crate) fn retain(&mut self, users: &std::collections::BTreeSet<String>) {
        self.order.retain(|u| users.contains(u));
        self.events.retain(|u, _| users.contains(u));
    }

    /// The events about one user (empty for a user the log did not name, as in a full scan).
    pub(crate) fn of(&self, user_id: &str) -> Vec<Value> {
        self.events.get(user_id).cloned().unwrap_or_default()
    }
}

/// The user a provisioning event is about (its `User` target).
fn event_user(e: &LogEvent) -> Option<String> {
    e.targets()
        .iter()
        .find(|t| t.get("type").and_then(Value::as_str) == Some("User"))
        .and_then(|t| t.get("id").and_then(Value::as_str))
        .map(str::to_string)
}

/// Whether an event names the app among its targets (events without app targets are kept).
fn event_is_for_app(e: &LogEvent, app_id: &str) -> bool {
    let apps: Vec<&Value> = e
        .targets()
        .iter()
        .filter(|t| t.get("type").and_then(Value::as_str) == Some("AppInstance"))
        .collect();
    apps.is_empty()
        || apps
            .iter()
            .any(|t| t.get("id").and_then(Value::as_str) == Some(app_id))
}

/// Reads the spoke's provisioning failures for `app_id` between `since` and `until`.
pub(crate) async fn read<S: OktaApi>(
    spoke: &S,
    app_id: &str,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Failures, CollectError> {
    let mut out = Failures::default();
    let mut pages = spoke.list_logs(LogQuery {
        since: Some(since),
        until: Some(until),
        filter: Some(FAILURE_FILTER.to_string()),
        limit: Some(1000),
        ..LogQuery::default()
    });
    while let Some(page) = pages.try_next().await.map_err(okta(spoke.org_name()))? {
        progress(Progress::Page {
            items: page.items.len(),
        });
        for e in page.items {
            if !event_is_for_app(&e, app_id) {
                continue;
            }
            if let Some(uid) = event_user(&e) {
                if !out.events.contains_key(&uid) {
                    out.order.push(uid.clone());
                }
                out.events.entry(uid).or_default().push(e.to_value());
            }
        }
    }
    Ok(out)
}
