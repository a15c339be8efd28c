//! The spoke's System Log as the list of work: provisioning failures in the rulebook's window, grouped
//! by the user they are about, for the one app. This is what makes collection cost grow with failures
//! rather than with the size of the orgs. A read for named users only (the service's) narrows the
//! filter to them.

use std::collections::{BTreeMap, BTreeSet};

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
    let window = Window {
        app_id,
        since,
        until,
    };
    read_pages(
        spoke,
        &window,
        FAILURE_FILTER.to_string(),
        &|_| true,
        &mut out,
        progress,
    )
    .await?;
    Ok(out)
}

/// [`read`] for `users` only: the failure filter narrowed by `target.id`, with as many users a query
/// as fit in `max_len` characters of `or` terms. Each user gets exactly the events a whole read would
/// give it (an event counts for the user of its `User` target, in the query holding that user), so
/// the service, which plans a few users at a time, no longer reads every failure of the window for
/// each plan. Ids that cannot be quoted in a filter (never Okta's) fall back to the whole read.
pub(crate) async fn read_users<S: OktaApi>(
    spoke: &S,
    app_id: &str,
    (since, until): (DateTime<Utc>, DateTime<Utc>),
    users: &BTreeSet<String>,
    max_len: usize,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Failures, CollectError> {
    let quotable = |id: &String| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric());
    if !users.iter().all(quotable) {
        let mut out = read(spoke, app_id, since, until, progress).await?;
        out.retain(users);
        return Ok(out);
    }
    let window = Window {
        app_id,
        since,
        until,
    };
    let mut out = Failures::default();
    for chunk in id_chunks(users, max_len) {
        let terms: Vec<String> = chunk
            .iter()
            .map(|id| format!("target.id eq \"{id}\""))
            .collect();
        let filter = format!("{FAILURE_FILTER} and ({})", terms.join(" or "));
        let keep = |uid: &str| chunk.contains(uid);
        read_pages(spoke, &window, filter, &keep, &mut out, progress).await?;
    }
    // The users in the order the log first named them, as a whole read lists them.
    let first = |uid: &String| -> String {
        out.events
            .get(uid)
            .and_then(|e| e.first())
            .and_then(|e| e.get("published"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let mut order = std::mem::take(&mut out.order);
    order.sort_by_cached_key(first);
    out.order = order;
    Ok(out)
}

/// `users` in groups whose `target.id eq "..."` terms, joined with ` or `, stay within `max_len`
/// characters (at least one user a group).
fn id_chunks(users: &BTreeSet<String>, max_len: usize) -> Vec<BTreeSet<&str>> {
    let mut chunks: Vec<BTreeSet<&str>> = Vec::new();
    let mut len = 0;
    for id in users {
        let term = "target.id eq \"\"".len() + id.len();
        match chunks.last_mut() {
            Some(chunk) if len + " or ".len() + term <= max_len => {
                chunk.insert(id);
                len += " or ".len() + term;
            }
            _ => {
                chunks.push(BTreeSet::from([id.as_str()]));
                len = term;
            }
        }
    }
    chunks
}

/// The app and the time window of a failure read.
struct Window<'a> {
    app_id: &'a str,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
}

/// Reads every page of the spoke's System Log under `filter`, adding the events about the app whose
/// user `keep` accepts.
async fn read_pages<S: OktaApi>(
    spoke: &S,
    window: &Window<'_>,
    filter: String,
    keep: &(dyn Fn(&str) -> bool + Sync),
    out: &mut Failures,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<(), CollectError> {
    let mut pages = spoke.list_logs(LogQuery {
        since: Some(window.since),
        until: Some(window.until),
        filter: Some(filter),
        limit: Some(1000),
        ..LogQuery::default()
    });
    while let Some(page) = pages.try_next().await.map_err(okta(spoke.org_name()))? {
        progress(Progress::Page {
            items: page.items.len(),
        });
        for e in page.items {
            if !event_is_for_app(&e, window.app_id) {
                continue;
            }
            if let Some(uid) = event_user(&e).filter(|u| keep(u)) {
                if !out.events.contains_key(&uid) {
                    out.order.push(uid.clone());
                }
                out.events.entry(uid).or_default().push(e.to_value());
            }
        }
    }
    Ok(())
}
