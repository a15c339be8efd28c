//! Collecting subjects from live orgs (DESIGN section 4). For `org2org_assignment` rulebooks it starts
//! from the spoke's System Log failures, so the cost grows with the number of failures, not the size of
//! the orgs; a full scan of the app's assignments is an option for audits. For `user` rulebooks it lists
//! one org's users, narrowed server-side with `search` when every rule pins `$.user.status`. It only
//! reads; it never changes Okta, and it does not evaluate rules (that is `engine`).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration as ChronoDuration, SecondsFormat, Utc};
use futures::{StreamExt, TryStreamExt};
use serde_json::{json, Value};

use crate::condition::{Condition, Op};
use crate::okta::{
    AppId, AppQuery, AppUserQuery, JsonModel, LogEvent, LogQuery, OktaApi, OktaError, UserId,
    UserQuery,
};
use crate::plan::{Source, Window};
use crate::rulebook::{Rulebook, SubjectKind};

/// Why collection stopped. Every variant names the org; nothing partial is presented as complete.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("collecting from org `{org}` failed: {source}")]
    Okta {
        org: String,
        #[source]
        source: OktaError,
    },
    #[error("org `{org}` has no app named `{app}` (looked for API name or label)")]
    AppNotFound { org: String, app: String },
    #[error("org `{org}` has several apps matching `{app}`: {ids}; name the app by its label in `subjects.app`")]
    AppAmbiguous {
        org: String,
        app: String,
        ids: String,
    },
}

fn okta(org: &str) -> impl Fn(OktaError) -> CollectError + '_ {
    move |source| CollectError::Okta {
        org: org.to_string(),
        source,
    }
}

/// How to collect.
#[derive(Debug, Clone)]
pub struct CollectOptions {
    /// The end of the System Log window and the plan's `now`.
    pub now: DateTime<Utc>,
    /// Walk every assignment of the app instead of starting from the System Log.
    pub full_scan: bool,
    /// Subjects fetched at once.
    pub concurrency: usize,
}

/// Subjects and where they came from.
#[derive(Debug, Clone)]
pub struct Collection {
    /// In a stable order (by key), so plans from the same state are identical.
    pub subjects: Vec<Value>,
    pub source: Source,
}

/// Progress of a collection, for a progress bar.
#[derive(Debug, Clone)]
pub enum Progress {
    Phase(&'static str),
    Page { items: usize },
    Subject { done: usize, total: usize },
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The failure filter the spoke System Log is read with.
pub const FAILURE_FILTER: &str =
    "eventType sw \"application.provision.user\" and outcome.result eq \"FAILURE\"";

/// A failing assignment: `syncState` ERROR, or STAGED with no `externalId`.
pub fn is_failing(assignment: &Value) -> bool {
    let sync = assignment.get("syncState").and_then(Value::as_str);
    let status = assignment.get("status").and_then(Value::as_str);
    let linked = assignment
        .get("externalId")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty());
    sync == Some("ERROR") || (status == Some("STAGED") && !linked)
}

pub(crate) fn reads(rb: &Rulebook, root: &str) -> bool {
    rb.paths().iter().any(|p| {
        p.as_str() == root
            || p.as_str().starts_with(&format!("{root}."))
            || p.as_str().starts_with(&format!("{root}["))
    })
}

/// Collects the subjects a rulebook asks for.
pub async fn collect<H: OktaApi, S: OktaApi>(
    rb: &Rulebook,
    hub: &H,
    spoke: &S,
    opts: &CollectOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Collection, CollectError> {
    match rb.subjects.kind {
        SubjectKind::Org2orgAssignment => collect_org2org(rb, hub, spoke, opts, progress).await,
        SubjectKind::User => collect_users(rb, hub, opts, progress).await,
    }
}

async fn find_app<S: OktaApi>(spoke: &S, app: &str) -> Result<Value, CollectError> {
    let org = spoke.org_name();
    let query = if app.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        AppQuery {
            filter: Some(format!("name eq \"{app}\"")),
            ..AppQuery::default()
        }
    } else {
        AppQuery {
            q: Some(app.to_string()),
            ..AppQuery::default()
        }
    };
    let mut found = Vec::new();
    let mut pages = spoke.list_apps(query);
    while let Some(page) = pages.try_next().await.map_err(okta(org))? {
        found.extend(
            page.items
                .into_iter()
                .filter(|a| a.name == app || a.label == app)
                .map(|a| a.to_value()),
        );
    }
    match found.len() {
        0 => Err(CollectError::AppNotFound {
            org: org.to_string(),
            app: app.to_string(),
        }),
        1 => Ok(found.remove(0)),
        _ => {
            // Several Org2Org apps (one per hub) are normal; only one may be active with this name.
            let active: Vec<&Value> = found
                .iter()
                .filter(|a| a.get("status").and_then(Value::as_str) == Some("ACTIVE"))
                .collect();
            if active.len() == 1 {
                return Ok(active[0].clone());
            }
            Err(CollectError::AppAmbiguous {
                org: org.to_string(),
                app: app.to_string(),
                ids: found
                    .iter()
                    .filter_map(|a| a.get("id").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
    }
}

/// The user a provisioning event is about (its `User` target).
pub(crate) fn event_user(e: &LogEvent) -> Option<String> {
    e.targets()
        .iter()
        .find(|t| t.get("type").and_then(Value::as_str) == Some("User"))
        .and_then(|t| t.get("id").and_then(Value::as_str))
        .map(str::to_string)
}

/// Whether an event names the app among its targets (events without app targets are kept).
pub(crate) fn event_is_for_app(e: &LogEvent, app_id: &str) -> bool {
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

async fn collect_org2org<H: OktaApi, S: OktaApi>(
    rb: &Rulebook,
    hub: &H,
    spoke: &S,
    opts: &CollectOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Collection, CollectError> {
    let spoke_org = spoke.org_name().to_string();
    progress(Progress::Phase("finding the Org2Org app"));
    let app = find_app(spoke, &rb.subjects.app).await?;
    let app_id = AppId(
        app.get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    );
    let app_brief = json!({
        "id": app.get("id").cloned().unwrap_or(Value::Null),
        "name": app.get("name").cloned().unwrap_or(Value::Null),
        "label": app.get("label").cloned().unwrap_or(Value::Null),
    });
    let since_std = ChronoDuration::from_std(rb.subjects.since).unwrap_or(ChronoDuration::days(7));
    let since = opts.now - since_std;
    progress(Progress::Phase(
        "reading provisioning failures from the spoke System Log",
    ));
    let mut events_by_user: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut pages = spoke.list_logs(LogQuery {
        since: Some(since),
        until: Some(opts.now),
        filter: Some(FAILURE_FILTER.to_string()),
        limit: Some(1000),
        ..LogQuery::default()
    });
    while let Some(page) = pages.try_next().await.map_err(okta(&spoke_org))? {
        progress(Progress::Page {
            items: page.items.len(),
        });
        for e in page.items {
            if !event_is_for_app(&e, &app_id.0) {
                continue;
            }
            if let Some(uid) = event_user(&e) {
                if !events_by_user.contains_key(&uid) {
                    order.push(uid.clone());
                }
                events_by_user.entry(uid).or_default().push(e.to_value());
            }
        }
    }
    drop(pages);
    // Which assignments to read: those with failures in the window, or every assignment (full scan).
    let mut candidates: Vec<(UserId, Option<Value>)> = Vec::new();
    if opts.full_scan {
        progress(Progress::Phase("scanning every assignment of the app"));
        let mut pages = spoke.list_app_users(
            &app_id,
            AppUserQuery {
                expand_user: true,
                limit: Some(500),
                ..AppUserQuery::default()
            },
        );
        while let Some(page) = pages.try_next().await.map_err(okta(&spoke_org))? {
            progress(Progress::Page {
                items: page.items.len(),
            });
            for au in page.items {
                let v = au.to_value();
                if is_failing(&v) {
                    candidates.push((au.id.clone(), Some(v)));
                }
            }
        }
    } else {
        candidates = order.into_iter().map(|u| (UserId(u), None)).collect();
    }
    let total = candidates.len();
    progress(Progress::Phase(
        "reading failing assignments and their hub users",
    ));
    let wants_hub_events = reads(rb, "$.hub_events");
    let done = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<Result<Option<Value>, CollectError>> = futures::stream::iter(candidates)
        .map(|(uid, listed)| {
            let events = events_by_user.get(&uid.0).cloned().unwrap_or_default();
            let app_brief = app_brief.clone();
            let app_id = app_id.clone();
            let done = &done;
            async move {
                let r = subject_for(
                    spoke,
                    hub,
                    &app_id,
                    &uid,
                    listed,
                    events,
                    app_brief,
                    wants_hub_events,
                )
                .await;
                let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                progress(Progress::Subject { done: n, total });
                r
            }
        })
        .buffer_unordered(opts.concurrency.max(1))
        .collect()
        .await;
    let mut subjects = Vec::new();
    for r in results {
        if let Some(s) = r? {
            subjects.push(s);
        }
    }
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

/// Builds one org2org subject; `None` when the assignment is gone or no longer failing. Errors reading
/// this one subject mark it unknown (`collect_error`) rather than stopping the collection, except
/// authorization and rate-limit errors, which would hit every subject.
#[allow(clippy::too_many_arguments)]
async fn subject_for<H: OktaApi, S: OktaApi>(
    spoke: &S,
    hub: &H,
    app_id: &AppId,
    uid: &UserId,
    listed: Option<Value>,
    events: Vec<Value>,
    app: Value,
    wants_hub_events: bool,
) -> Result<Option<Value>, CollectError> {
    let fatal = |e: &OktaError| e.is_access_denied() || e.is_invalid_token() || e.is_rate_limited();
    let assignment = match listed {
        Some(v) => v,
        None => match spoke.get_app_user(app_id, uid, true).await {
            Ok(Some(f)) => f.value.to_value(),
            Ok(None) => return Ok(None),
            Err(e) if fatal(&e) => return Err(okta(spoke.org_name())(e)),
            Err(e) => {
                return Ok(Some(
                    json!({ "app": app, "assignment": { "id": uid.0 }, "spoke_user": null,
                    "user": null, "events": events, "collect_error": e.to_string() }),
                ))
            }
        },
    };
    if !is_failing(&assignment) {
        return Ok(None);
    }
    let mut assignment = assignment;
    let embedded = assignment
        .as_object_mut()
        .and_then(|m| m.remove("_embedded"))
        .and_then(|mut e| e.get_mut("user").map(Value::take));
    let spoke_user = match embedded {
        Some(u) if u.is_object() => u,
        _ => match spoke.get_user(&uid.0).await {
            Ok(Some(f)) => f.value.to_value(),
            Ok(None) => Value::Null,
            Err(e) if fatal(&e) => return Err(okta(spoke.org_name())(e)),
            Err(e) => {
                return Ok(Some(
                    json!({ "app": app, "assignment": assignment, "spoke_user": null,
                    "user": null, "events": events, "collect_error": e.to_string() }),
                ))
            }
        },
    };
    // Join to the hub: by externalId when linked, else by login.
    let external = assignment
        .get("externalId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let login = assignment
        .pointer("/credentials/userName")
        .and_then(Value::as_str)
        .or_else(|| spoke_user.pointer("/profile/login").and_then(Value::as_str))
        .map(str::to_string);
    let key = external.or(login);
    let user = match &key {
        None => Value::Null,
        Some(k) => match hub.get_user(k).await {
            Ok(Some(f)) => f.value.to_value(),
            Ok(None) => Value::Null,
            Err(e) if fatal(&e) => return Err(okta(hub.org_name())(e)),
            Err(e) => {
                return Ok(Some(
                    json!({ "app": app, "assignment": assignment, "spoke_user": spoke_user,
                    "user": null, "events": events, "collect_error": e.to_string() }),
                ))
            }
        },
    };
    let mut subject = json!({
        "app": app,
        "assignment": assignment,
        "spoke_user": spoke_user,
        "user": user,
        "events": events,
    });
    if wants_hub_events {
        let hub_events = match user.get("id").and_then(Value::as_str) {
            Some(id) => {
                match hub_history(hub, id, user.get("created").and_then(Value::as_str)).await {
                    Ok(evts) => evts,
                    Err(e) if fatal(&e) => return Err(okta(hub.org_name())(e)),
                    Err(e) => {
                        subject["collect_error"] = json!(e.to_string());
                        Vec::new()
                    }
                }
            }
            None => Vec::new(),
        };
        subject["hub_events"] = Value::Array(hub_events);
    }
    Ok(Some(subject))
}

/// Event types that explain how a hub user came to be, or changed provider.
const HISTORY_EVENTS: &[&str] = &[
    "user.lifecycle.create",
    "user.account.reset_password",
    "user.account.update_password",
    "user.lifecycle.activate",
    "user.lifecycle.reactivate",
];

/// The hub user's creation and provider-changing events (root-cause hints).
pub(crate) async fn hub_history<H: OktaApi>(
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

/// The statuses every rule requires of `$.user.status`, when each rule pins it (`equals`/`in` at the
/// top of an `all`, or as the whole condition). `None` means no pushdown is safe.
pub fn status_pushdown(rb: &Rulebook) -> Option<BTreeSet<String>> {
    fn pinned(c: &Condition) -> Option<BTreeSet<String>> {
        let leaves: Vec<&crate::condition::Leaf> = match c {
            Condition::Leaf(l) => vec![l],
            Condition::All(cs) => cs
                .iter()
                .filter_map(|c| match c {
                    Condition::Leaf(l) => Some(l),
                    _ => None,
                })
                .collect(),
            _ => return None,
        };
        leaves.iter().find_map(|l| {
            if l.path.as_str() != "$.user.status" {
                return None;
            }
            match &l.op {
                Op::Equals(Value::String(s)) => Some(BTreeSet::from([s.clone()])),
                Op::In(vs) => vs.iter().map(|v| v.as_str().map(str::to_string)).collect(),
                _ => None,
            }
        })
    }
    let mut all = BTreeSet::new();
    for r in &rb.rules {
        all.extend(pinned(&r.when)?);
    }
    (!all.is_empty()).then_some(all)
}

async fn collect_users<H: OktaApi>(
    rb: &Rulebook,
    org: &H,
    _opts: &CollectOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Collection, CollectError> {
    let name = org.org_name().to_string();
    let search = status_pushdown(rb).map(|set| {
        set.iter()
            .map(|s| format!("status eq \"{s}\""))
            .collect::<Vec<_>>()
            .join(" or ")
    });
    progress(Progress::Phase("listing users"));
    let mut pages = org.list_users(UserQuery {
        search,
        limit: Some(200),
        ..UserQuery::default()
    });
    let wants_groups = reads(rb, "$.groups");
    let mut subjects = Vec::new();
    while let Some(page) = pages.try_next().await.map_err(okta(&name))? {
        progress(Progress::Page {
            items: page.items.len(),
        });
        for u in page.items {
            let mut s = json!({ "org": name, "user": u.to_value() });
            if wants_groups {
                let groups = org.user_groups(&u.id).await.map_err(okta(&name))?;
                s["groups"] = Value::Array(groups.iter().map(JsonModel::to_value).collect());
            }
            subjects.push(s);
        }
    }
    subjects.sort_by_key(|s| crate::engine::subject_key(SubjectKind::User, s, 0));
    Ok(Collection {
        subjects,
        source: Source::live(SubjectKind::User, None),
    })
}
