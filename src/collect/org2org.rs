//! `org2org_assignment` collection, phase by phase: find the app, read the spoke's failures (or scan
//! every assignment), read the failing assignments with their spoke users, read the hub users they
//! join to, optionally the hub users' history, then build each subject (`shape.rs`) in a stable order.
//! Each phase reads in bulk, in the form the cost model chooses, so requests are counted per phase
//! rather than per subject.

use crate::plan::Source;
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use futures::{StreamExt, TryStreamExt};
use serde_json::Value;

use super::assignments::{self, AssignmentRead};
use super::cost::CostModel;
use super::failures::{self, Failures};
use super::hub_users::{self, HubRead};
use super::{
    app, okta, reads, stops_collection, ts, CollectError, CollectOptions, Collection, Progress,
};
use crate::okta::{AppId, JsonModel, LogQuery, OktaApi, OktaError, UserId};
use crate::plan::Window;
use crate::rulebook::{Rulebook, SubjectKind};
use crate::subject::shape::{self, HubKey};

/// A failing assignment read so far: its user id, the assignment (without `_embedded`) and the
/// spoke user, or the reason it could not be read.
enum Partial {
    Read {
        assignment: Value,
        spoke_user: Value,
    },
    /// Could not be read in full: the subject is built with what is known and the error.
    Unreadable { assignment: Value, error: String },
}

pub(super) async fn collect<H: OktaApi, S: OktaApi>(
    rb: &Rulebook,
    hub: &H,
    spoke: &S,
    opts: &CollectOptions,
    model: &CostModel,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Collection, CollectError> {
    progress(Progress::Phase("finding the Org2Org app"));
    let app = app::find(spoke, &rb.subjects.app).await?;
    let app_id = AppId(
        app.get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    );
    let since =
        opts.now - ChronoDuration::from_std(rb.subjects.since).unwrap_or(ChronoDuration::days(7));
    progress(Progress::Phase(
        "reading provisioning failures from the spoke System Log",
    ));
    let failures = match &opts.only_users {
        Some(only) => {
            let window = (since, opts.now);
            failures::read_users(
                spoke,
                &app_id.0,
                window,
                only,
                model.max_search_len,
                progress,
            )
            .await?
        }
        None => failures::read(spoke, &app_id.0, since, opts.now, progress).await?,
    };
    let candidates = failing_assignments(spoke, &app_id, &failures, opts, model, progress).await?;
    progress(Progress::Phase(
        "reading the spoke users of failing assignments",
    ));
    let partials = with_spoke_users(spoke, candidates, opts.concurrency).await?;
    progress(Progress::Phase(
        "reading the hub users of failing assignments",
    ));
    let keys = hub_keys(&partials);
    let hub_users = hub_users::read(hub, keys, model, opts.concurrency, progress).await?;
    let history = if reads(rb, "$.hub_events") {
        progress(Progress::Phase("reading the hub users' history"));
        Some(hub_history(hub, &hub_users, opts.concurrency).await?)
    } else {
        None
    };
    let app_brief = shape::app_brief(&app);
    let mut subjects: Vec<Value> = partials
        .into_iter()
        .map(|(uid, p)| {
            subject(
                &app_brief,
                failures.of(&uid.0),
                p,
                &hub_users,
                history.as_ref(),
            )
        })
        .collect();
    subjects.sort_by_key(|s| crate::engine::subject_key(SubjectKind::Org2orgAssignment, s, 0));
    Ok(Collection {
        subjects,
        source: Source::live(
            SubjectKind::Org2orgAssignment,
            Some(Window {
                since: ts(since),
                until: ts(opts.now),
            }),
        ),
    })
}

/// The failing assignments to build subjects from, in the log's order (or list order for a full
/// scan): those named by the log that are still assigned and still failing.
async fn failing_assignments<S: OktaApi>(
    spoke: &S,
    app_id: &AppId,
    failures: &Failures,
    opts: &CollectOptions,
    model: &CostModel,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Vec<(UserId, Result<Value, String>)>, CollectError> {
    if opts.full_scan {
        progress(Progress::Phase("scanning every assignment of the app"));
        let listed = assignments::scan_failing(spoke, app_id, progress).await?;
        return Ok(listed.into_iter().map(|(u, v)| (u, Ok(v))).collect());
    }
    progress(Progress::Phase("reading failing assignments"));
    let wanted: Vec<UserId> = failures.order.iter().cloned().map(UserId).collect();
    let mut read =
        assignments::read(spoke, app_id, &wanted, model, opts.concurrency, progress).await?;
    Ok(wanted
        .into_iter()
        .filter_map(|uid| {
            let value = match read.remove(&uid.0)? {
                AssignmentRead::Found(v) if shape::is_failing(&v) => Ok(v),
                AssignmentRead::Found(_) | AssignmentRead::Gone => return None,
                AssignmentRead::Failed(e) => Err(e),
            };
            Some((uid, value))
        })
        .collect())
}

/// Each assignment with its spoke user: embedded by `expand=user`, else one lookup.
async fn with_spoke_users<S: OktaApi>(
    spoke: &S,
    candidates: Vec<(UserId, Result<Value, String>)>,
    concurrency: usize,
) -> Result<Vec<(UserId, Partial)>, CollectError> {
    futures::stream::iter(candidates)
        .map(|(uid, assignment)| async move {
            let partial = match assignment {
                Ok(mut assignment) => match shape::take_embedded_user(&mut assignment) {
                    Some(spoke_user) => Partial::Read {
                        assignment,
                        spoke_user,
                    },
                    None => match spoke.get_user(&uid.0).await {
                        Ok(found) => Partial::Read {
                            assignment,
                            spoke_user: found.map_or(Value::Null, |f| f.value.to_value()),
                        },
                        Err(e) if stops_collection(&e) => return Err(okta(spoke.org_name())(e)),
                        Err(e) => Partial::Unreadable {
                            assignment,
                            error: e.to_string(),
                        },
                    },
                },
                Err(error) => Partial::Unreadable {
                    assignment: shape::assignment_stub(&uid.0),
                    error,
                },
            };
            Ok((uid, partial))
        })
        .buffered(concurrency.max(1))
        .try_collect()
        .await
}

/// The distinct hub keys of the assignments read in full, in order.
fn hub_keys(partials: &[(UserId, Partial)]) -> Vec<HubKey> {
    let keys: BTreeSet<HubKey> = partials
        .iter()
        .filter_map(|(_, p)| match p {
            Partial::Read {
                assignment,
                spoke_user,
            } => shape::hub_key(assignment, spoke_user),
            Partial::Unreadable { .. } => None,
        })
        .collect();
    keys.into_iter().collect()
}

/// Builds one subject from what was read.
fn subject(
    app: &Value,
    events: Vec<Value>,
    partial: Partial,
    hub_users: &BTreeMap<HubKey, HubRead>,
    history: Option<&BTreeMap<String, Result<Vec<Value>, String>>>,
) -> Value {
    let (assignment, spoke_user) = match partial {
        Partial::Read {
            assignment,
            spoke_user,
        } => (assignment, spoke_user),
        Partial::Unreadable { assignment, error } => {
            return shape::unreadable(app.clone(), assignment, Value::Null, events, &error)
        }
    };
    let user = match shape::hub_key(&assignment, &spoke_user).and_then(|k| hub_users.get(&k)) {
        Some(HubRead::Found(u)) => u.clone(),
        Some(HubRead::Absent) | None => Value::Null,
        Some(HubRead::Failed(error)) => {
            return shape::unreadable(app.clone(), assignment, spoke_user, events, error)
        }
    };
    let id = shape::user_id(&user).map(str::to_string);
    let mut subject = shape::org2org(app.clone(), assignment, spoke_user, user, events);
    if let Some(history) = history {
        let events = id
            .and_then(|id| history.get(&id).cloned())
            .unwrap_or(Ok(Vec::new()));
        shape::set_hub_events(&mut subject, events);
    }
    subject
}

/// Event types that explain how a hub user came to be, or changed provider.
const HISTORY_EVENTS: &[&str] = &[
    "user.lifecycle.create",
    "user.account.reset_password",
    "user.account.update_password",
    "user.lifecycle.activate",
    "user.lifecycle.reactivate",
];

/// The history of every hub user found, by user id (one System Log query each).
async fn hub_history<H: OktaApi>(
    hub: &H,
    hub_users: &BTreeMap<HubKey, HubRead>,
    concurrency: usize,
) -> Result<BTreeMap<String, Result<Vec<Value>, String>>, CollectError> {
    let users: BTreeMap<String, Option<String>> = hub_users
        .values()
        .filter_map(|r| match r {
            HubRead::Found(u) => Some((
                shape::user_id(u)?.to_string(),
                shape::user_created(u).map(str::to_string),
            )),
            _ => None,
        })
        .collect();
    futures::stream::iter(users)
        .map(|(id, created)| async move {
            match user_history(hub, &id, created.as_deref()).await {
                Ok(events) => Ok((id, Ok(events))),
                Err(e) if stops_collection(&e) => Err(okta(hub.org_name())(e)),
                Err(e) => Ok((id, Err(e.to_string()))),
            }
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await
}

/// One hub user's creation and provider-changing events (root-cause hints).
pub(crate) async fn user_history<H: OktaApi>(
    hub: &H,
    user_id: &str,
    created: Option<&str>,
) -> Result<Vec<Value>, OktaError> {
    let since = created
        .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
        .map(|t| t.with_timezone(&Utc) - ChronoDuration::minutes(1));
    let mut out = Vec::new();
    let mut pages = hub.list_logs(LogQuery {
        since,
        filter: Some(format!("target.id eq \"{user_id}\"")),
        limit: Some(100),
        ..LogQuery::default()
    });
    while let Some(page) = pages.try_next().await? {
        out.extend(
            page.items
                .into_iter()
                .filter(|e| HISTORY_EVENTS.contains(&e.event_type.as_str()))
                .map(|e| e.to_value()),
        );
    }
    Ok(out)
}
