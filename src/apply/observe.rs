//! Reading a subject's live state back from Okta in the shape the collector built, and comparing it
//! with what a step relies on (drift).

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::stop::{okta_failure, Stop};
use super::Ctx;
use crate::collect::failures::{self, Failures};
use crate::collect::org2org::user_history;
use crate::collect::{reads, CollectError};
use crate::condition::JsonPath;
use crate::okta::{AppId, JsonModel, OktaApi, OktaError, UserId};
use crate::plan::{PlannedSubject, Step};
use crate::rulebook::{Rulebook, SubjectKind};
use crate::subject::shape;

/// The spoke's provisioning failures for the plan's app since the plan's window opened, by user id:
/// history the rulebook's conditions read, read once per run (a few pages of the System Log, the
/// collector's own reader) for every subject that is re-evaluated.
pub(super) async fn failure_events<S: OktaApi>(
    spoke: &S,
    rulebook: &Rulebook,
    app_id: &str,
    plan_now: DateTime<Utc>,
) -> Result<Failures, CollectError> {
    let since = chrono::Duration::from_std(rulebook.subjects.since)
        .ok()
        .and_then(|d| plan_now.checked_sub_signed(d))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    failures::read(spoke, app_id, since, Utc::now(), &|_| {}).await
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

/// A subject's live state as this run last read it, and which of its Okta objects are still
/// current: not changed by a call of this run since they were read. A step reads only the objects it
/// needs ([`Needs`]) that are not current; the steps of one subject share one `Observed`.
pub(super) struct Observed {
    /// The subject in the collector's shape, without history.
    pub state: Value,
    /// The assignment and its spoke user (one request: `expand=user`).
    assignment: bool,
    /// The hub user.
    user: bool,
    /// The hub user in `state` was found by the collector's join in this run, and no call since can
    /// have changed which user the join finds (a retry or a recreate can): it is re-read by its id.
    joined: bool,
}

/// The Okta objects a step reads: those its preconditions name and those its action acts on or
/// waits for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Needs {
    /// The assignment (and the spoke user, which comes with it).
    pub assignment: bool,
    /// The hub user.
    pub user: bool,
}

impl Needs {
    /// Adds the object a subject path reads (`$.user...`, `$.assignment...`, `$.spoke_user...`).
    pub fn path(&mut self, path: &str) {
        let under = |root: &str| {
            path == root
                || path
                    .strip_prefix(root)
                    .is_some_and(|r| r.starts_with('.') || r.starts_with('['))
        };
        if under("$.user") {
            self.user = true;
        }
        if under("$.assignment") || under("$.spoke_user") {
            self.assignment = true;
        }
    }
}

impl Observed {
    /// Nothing read yet in this run (a subject continued from the journal).
    pub fn none(ctx: &Ctx<'_, impl OktaApi, impl OktaApi>, subject: &PlannedSubject) -> Self {
        let state = if ctx.plan.source.subjects_kind == SubjectKind::User {
            shape::user_subject(ctx.hub.org_name(), Value::Null)
        } else {
            shape::org2org(
                json!({ "id": id_of(subject, "app_id") }),
                Value::Null,
                Value::Null,
                Value::Null,
                Vec::new(),
            )
        };
        Observed {
            state,
            assignment: false,
            user: false,
            joined: false,
        }
    }

    /// The hub user was re-read after this run's last call on it.
    pub fn set_user(&mut self, user: Value) {
        self.state[shape::USER] = user;
        self.user = true;
    }

    /// A call changed the hub user (same user: it is re-read by id when next needed).
    pub fn user_changed(&mut self) {
        self.user = false;
    }

    /// A call may have changed anything, including which hub user the join finds.
    pub fn all_changed(&mut self) {
        self.assignment = false;
        self.user = false;
        self.joined = false;
    }
}

/// Reads a subject's whole state from Okta in the shape the collector built, without history
/// (`events` empty): what the live re-evaluation, drift checks and the first step need.
pub(super) async fn read_state<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    subject: &PlannedSubject,
) -> Result<Observed, OktaError> {
    let mut observed = Observed::none(ctx, subject);
    refresh(
        ctx,
        subject,
        &mut observed,
        Needs {
            assignment: true,
            user: true,
        },
    )
    .await?;
    Ok(observed)
}

/// Reads, by ID, each object `needs` names that is not current in `observed`; the hub user of an
/// Org2Org subject is found as the collector joins it, which needs the assignment unless this run
/// joined it already.
pub(super) async fn refresh<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    subject: &PlannedSubject,
    observed: &mut Observed,
    needs: Needs,
) -> Result<(), OktaError> {
    if ctx.plan.source.subjects_kind == SubjectKind::User {
        if needs.user && !observed.user {
            let user = match id_of(subject, "user_id") {
                Some(id) => fetched(ctx.hub.get_user(&id).await?),
                None => Value::Null,
            };
            observed.set_user(user);
        }
        return Ok(());
    }
    let by_id = observed.joined && shape::user_id(shape::hub_user(&observed.state)).is_some();
    let user_wanted = needs.user && !observed.user;
    if (needs.assignment || (user_wanted && !by_id)) && !observed.assignment {
        let Some((app, uid)) = assignment_ids(subject) else {
            // Nothing to read: the plan names no assignment, so no step acts on one.
            observed.assignment = true;
            observed.user = true;
            return Ok(());
        };
        let mut assignment = fetched(ctx.spoke.get_app_user(&app, &uid, true).await?);
        // The spoke user is the app user's user, embedded by `expand=user`; looked up only when
        // Okta did not embed it (or there is no assignment any more), as the collector does.
        let spoke_user = match shape::take_embedded_user(&mut assignment) {
            Some(u) => u,
            None => fetched(ctx.spoke.get_user(&uid.0).await?),
        };
        observed.state[shape::ASSIGNMENT] = assignment;
        observed.state[shape::SPOKE_USER] = spoke_user;
        observed.assignment = true;
    }
    if user_wanted {
        // As the collector joins them: by the assignment's `externalId` when linked, else by
        // login. Never by an id the plan names, so an edited id cannot point an action at somebody
        // else; within a run, by the id that join found.
        let key = if by_id {
            shape::user_id(shape::hub_user(&observed.state)).map(str::to_string)
        } else {
            let s = &observed.state;
            shape::hub_key(shape::assignment(s), &s[shape::SPOKE_USER])
                .map(|k| k.as_str().to_string())
        };
        let user = match key {
            Some(k) => fetched(ctx.hub.get_user(&k).await?),
            None => Value::Null,
        };
        observed.set_user(user);
        observed.joined = true;
    }
    Ok(())
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
) -> Result<Value, Stop> {
    let mut live = state;
    let rb = ctx.rulebook;
    let okta = |e: OktaError| okta_failure(&e);
    if rb.subjects.kind == SubjectKind::Org2orgAssignment {
        let app = id_of(subject, "app_id").unwrap_or_default();
        let events = ctx.failure_events(&app).await.map_err(collect_failure)?;
        live[shape::EVENTS] = match id_of(subject, "app_user_id") {
            Some(uid) => Value::Array(events.of(&uid)),
            None => Value::Array(Vec::new()),
        };
        if reads(rb, "$.hub_events") {
            let user = shape::hub_user(&live).clone();
            let history = match shape::user_id(&user) {
                Some(id) => user_history(ctx.hub, id, shape::user_created(&user))
                    .await
                    .map_err(okta)?,
                None => Vec::new(),
            };
            shape::set_hub_events(&mut live, Ok(history));
        }
    } else if reads(rb, "$.groups") {
        let groups = match id_of(subject, "user_id") {
            Some(id) => ctx.hub.user_groups(&UserId(id)).await.map_err(okta)?,
            None => Vec::new(),
        };
        shape::set_groups(&mut live, groups.iter().map(JsonModel::to_value).collect());
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

/// A collection error while re-reading history: a refused credential stops the run, anything else
/// leaves the subject for the next run.
fn collect_failure(e: CollectError) -> Stop {
    match e {
        CollectError::AccessRefused { .. } => Stop::Fatal(super::ApplyError::Auth(e.to_string())),
        other => Stop::Transient(format!("{other}; run apply again to resume")),
    }
}
