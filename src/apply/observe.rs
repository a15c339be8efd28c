//! Reading a subject's live state back from Okta in the shape the collector built, and comparing it
//! with what a step relies on (drift).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use serde_json::{json, Value};

use super::Ctx;
use crate::collect::{event_is_for_app, event_user, hub_history, reads, FAILURE_FILTER};
use crate::condition::JsonPath;
use crate::okta::{AppId, JsonModel, LogEvent, LogQuery, OktaApi, OktaError, UserId};
use crate::plan::{PlannedSubject, Step};
use crate::rulebook::{Rulebook, SubjectKind};
use crate::subject::shape;

/// The spoke's provisioning-failure events since the plan's window opened, by user id: history the
/// rulebook's conditions read, fetched once per run (a few pages of the System Log) for every
/// subject that is re-evaluated.
pub(super) async fn failure_events<S: OktaApi>(
    spoke: &S,
    rulebook: &Rulebook,
    plan_now: DateTime<Utc>,
) -> Result<BTreeMap<String, Vec<LogEvent>>, OktaError> {
    let since = chrono::Duration::from_std(rulebook.subjects.since)
        .ok()
        .and_then(|d| plan_now.checked_sub_signed(d))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let mut by_user: BTreeMap<String, Vec<LogEvent>> = BTreeMap::new();
    let mut pages = spoke.list_logs(LogQuery {
        since: Some(since),
        filter: Some(FAILURE_FILTER.to_string()),
        limit: Some(1000),
        ..LogQuery::default()
    });
    while let Some(page) = pages.try_next().await? {
        for e in page.items {
            if let Some(uid) = event_user(&e) {
                by_user.entry(uid).or_default().push(e);
            }
        }
    }
    Ok(by_user)
}

fn id_of(subject: &PlannedSubject, key: &str) -> Option<String> {
    subject.ids.get(key).cloned()
}

/// The Org2Org app and the assignment (app user) a subject's steps act on.
pub(super) fn assignment_ids(subject: &PlannedSubject) -> Option<(AppId, UserId)> {
    match (id_of(subject, "app_id"), id_of(subject, "app_user_id")) {
        (Some(app), Some(uid)) => Some((AppId(app), UserId(uid))),
        _ => None,
    }
}

/// Re-reads a subject's state from Okta in the shape the collector built, without history
/// (`events` empty): what drift checks and the actions need.
pub(super) async fn read_state<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    subject: &PlannedSubject,
) -> Result<Value, OktaError> {
    if ctx.plan.source.subjects_kind == SubjectKind::User {
        let user = match id_of(subject, "user_id") {
            Some(id) => fetched(ctx.hub.get_user(&id).await?),
            None => Value::Null,
        };
        return Ok(shape::user(ctx.hub.org_name(), user));
    }
    let Some((app, uid)) = assignment_ids(subject) else {
        return Ok(shape::org2org(
            json!({ "id": id_of(subject, "app_id") }),
            Value::Null,
            Value::Null,
            Value::Null,
            Vec::new(),
        ));
    };
    let assignment = fetched(ctx.spoke.get_app_user(&app, &uid, false).await?);
    // As the collector joins them: the spoke user is the app user's user; the hub user is found by
    // the assignment's `externalId` when linked, else by login. Never by an id the plan names, so an
    // edited id cannot point an action at somebody else.
    let spoke_user = fetched(ctx.spoke.get_user(&uid.0).await?);
    let external = assignment
        .get("externalId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let login = assignment
        .pointer("/credentials/userName")
        .and_then(Value::as_str)
        .or_else(|| spoke_user.pointer("/profile/login").and_then(Value::as_str));
    let user = match external.or(login) {
        Some(k) => fetched(ctx.hub.get_user(k).await?),
        None => Value::Null,
    };
    Ok(shape::org2org(
        json!({ "id": app.0 }),
        assignment,
        spoke_user,
        user,
        Vec::new(),
    ))
}

fn fetched<T: JsonModel>(f: Option<crate::okta::Fetched<T>>) -> Value {
    f.map(|f| f.value.to_value()).unwrap_or(Value::Null)
}

/// The subject as the rulebook sees it now: its live state plus the history the rulebook reads (the
/// run's failure events for an Org2Org subject, the hub user's history and groups when rules read
/// them).
pub(super) async fn read_live<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    subject: &PlannedSubject,
    state: Value,
) -> Result<Value, OktaError> {
    let mut live = state;
    let rb = ctx.rulebook;
    if rb.subjects.kind == SubjectKind::Org2orgAssignment {
        let events = ctx.failure_events().await?;
        let app = id_of(subject, "app_id").unwrap_or_default();
        let mine: Vec<Value> = id_of(subject, "app_user_id")
            .and_then(|uid| events.get(&uid))
            .map(|evts| {
                evts.iter()
                    .filter(|e| event_is_for_app(e, &app))
                    .map(JsonModel::to_value)
                    .collect()
            })
            .unwrap_or_default();
        live["events"] = Value::Array(mine);
        if reads(rb, "$.hub_events") {
            let user = shape::hub_user(&live).clone();
            let hub_events = match user.get("id").and_then(Value::as_str) {
                Some(id) => {
                    hub_history(ctx.hub, id, user.get("created").and_then(Value::as_str)).await?
                }
                None => Vec::new(),
            };
            live["hub_events"] = Value::Array(hub_events);
        }
    } else if reads(rb, "$.groups") {
        let groups = match id_of(subject, "user_id") {
            Some(id) => ctx.hub.user_groups(&UserId(id)).await?,
            None => Vec::new(),
        };
        live["groups"] = Value::Array(groups.iter().map(JsonModel::to_value).collect());
    }
    Ok(live)
}

/// A value as a drift line shows it: a user (an object with a login) by login and status, anything
/// else as JSON cut at 80 characters.
fn show_value(v: &Value) -> String {
    if let Some(login) = v.pointer("/profile/login").and_then(Value::as_str) {
        return format!(
            "user {login} ({})",
            v.get("status")
                .and_then(Value::as_str)
                .unwrap_or("no status")
        );
    }
    let text = v.to_string();
    match text.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// Every precondition that no longer holds, as "path: planned X, now Y" joined by "; ". Fields that
/// say what changed come first; `lastUpdated`, which changes with anything, last.
pub(super) fn drift(step: &Step, current: &Value) -> Option<String> {
    let show = |v: &[Value]| match v {
        [] => "missing".to_string(),
        [one] => show_value(one),
        many => show_value(&Value::Array(many.to_vec())),
    };
    let mut found: Vec<(bool, String)> = Vec::new();
    for pre in &step.preconditions {
        let now: Vec<Value> = match JsonPath::compile(&pre.path) {
            Ok(p) => p.query(current).into_iter().cloned().collect(),
            Err(_) => {
                found.push((
                    false,
                    format!("{}: cannot read this path any more", pre.path),
                ));
                continue;
            }
        };
        if now != pre.values {
            found.push((
                pre.path.ends_with(".lastUpdated"),
                format!(
                    "{}: planned {}, now {}",
                    pre.path,
                    show(&pre.values),
                    show(&now)
                ),
            ));
        }
    }
    found.sort_by_key(|(last, _)| *last);
    (!found.is_empty()).then(|| {
        found
            .into_iter()
            .map(|(_, d)| d)
            .collect::<Vec<_>>()
            .join("; ")
    })
}

pub(super) fn provider(v: &Value) -> Option<&str> {
    v.pointer("/credentials/provider/type")
        .and_then(Value::as_str)
}

pub(super) fn status(v: &Value) -> Option<&str> {
    v.get("status").and_then(Value::as_str)
}

/// An assignment Org2Org has pushed: SYNCHRONIZED with a hub `externalId`.
pub(super) fn linked(a: &Value) -> bool {
    a.get("syncState").and_then(Value::as_str) == Some("SYNCHRONIZED")
        && a.get("externalId")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
}
