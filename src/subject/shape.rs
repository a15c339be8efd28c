//! The JSON shape of a subject, in one place: which keys hold the app, the assignment, the spoke user,
//! the hub user and the events of an `org2org_assignment` subject, and the org and user of a `user`
//! subject; how a subject whose reads failed is marked (`collect_error`); how an assignment is joined
//! to its hub user; when an assignment counts as failing; which ids the executor acts on and which
//! paths are Okta state (re-readable, so a step can rely on them) rather than history. Collectors
//! build subjects here ([`org2org`], [`user_subject`]); planning reads ids and state paths from here;
//! `apply` rebuilds a live subject with the same functions and the same join. Key order is part of
//! the format (plans and snapshots must be byte-identical for the same state).
//!
//! ```text
//! org2org_assignment: { app: {id, name, label}, assignment: AppUser (without _embedded),
//!                       spoke_user: User | null, user: hub User | null, events: [LogEvent],
//!                       hub_events?: [LogEvent], collect_error?: "..." }
//! user:               { org: "hub", user: User, groups?: [Group] }
//! ```

use std::collections::BTreeMap;

use serde_json::{json, Value};

/// The ids a plan records per subject: (name in the plan's `ids`, JSON pointer in the subject).
pub const IDS: &[(&str, &str)] = &[
    ("user_id", "/user/id"),
    ("spoke_user_id", "/spoke_user/id"),
    ("app_user_id", "/assignment/id"),
    ("app_id", "/app/id"),
];

/// Okta state fields whose current values a step relies on besides what the rule read.
pub const STATE_FIELDS: &[&str] = &[
    "$.user.status",
    "$.user.lastUpdated",
    "$.assignment.syncState",
    "$.assignment.lastUpdated",
];

/// Roots of subject fields that can be re-read from Okta (events are history, not state).
pub const STATE_ROOTS: &[&str] = &["$.user", "$.assignment", "$.spoke_user"];

/// The value at a JSON pointer of plain object keys (`/user/profile/login`), walked key by key:
/// unlike [`Value::pointer`] it builds no text per step, which counts when every subject is read.
/// The pointers here are constants with no `~` escapes and no array indexes.
pub fn at<'v>(subject: &'v Value, pointer: &str) -> Option<&'v Value> {
    pointer.split('/').skip(1).try_fold(subject, |v, key| {
        v.as_object().and_then(|m| crate::condition::member(m, key))
    })
}

/// The ids of a subject, by their plan names.
pub fn ids(subject: &Value) -> BTreeMap<String, String> {
    IDS.iter()
        .filter_map(|(name, ptr)| {
            at(subject, ptr)
                .and_then(Value::as_str)
                .map(|s| (name.to_string(), s.to_string()))
        })
        .collect()
}

/// Whether a JSONPath reads Okta state (under one of [`STATE_ROOTS`]).
pub fn is_state_path(p: &str) -> bool {
    STATE_ROOTS.iter().any(|r| {
        p == *r
            || p.strip_prefix(r)
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
    })
}

/// `$.a.b.c` → `/a/b/c` for plain dotted paths; others are read through JSONPath.
pub fn pointer_of(path: &str) -> Option<String> {
    let rest = path.strip_prefix("$.")?;
    if rest.contains(['[', '*', '?', '(']) || rest.contains("..") {
        return None;
    }
    Some(format!("/{}", rest.replace('.', "/")))
}

/// `$.app`: the Org2Org app on the spoke, as `{id, name, label}`.
pub const APP: &str = "app";
/// `$.assignment`: the spoke's app user (assignment), without `_embedded`.
pub const ASSIGNMENT: &str = "assignment";
/// `$.spoke_user`: the spoke user the assignment belongs to, or null.
pub const SPOKE_USER: &str = "spoke_user";
/// `$.user`: the hub user the assignment pushes to, or null when there is none.
pub const USER: &str = "user";
/// `$.events`: the spoke's provisioning failure events for this user in the window.
pub const EVENTS: &str = "events";
/// `$.hub_events`: the hub user's creation and provider-changing events (only when a rule reads them).
pub const HUB_EVENTS: &str = "hub_events";
/// `$.collect_error`: why this subject could not be read in full; the engine calls it unknown.
pub const COLLECT_ERROR: &str = "collect_error";
/// `$.org`: a `user` subject's org name.
pub const ORG: &str = "org";
/// `$.groups`: a `user` subject's groups (only when a rule reads them).
pub const GROUPS: &str = "groups";

/// The app as a subject shows it: id, name and label.
pub fn app_brief(app: &Value) -> Value {
    json!({
        "id": app.get("id").cloned().unwrap_or(Value::Null),
        "name": app.get("name").cloned().unwrap_or(Value::Null),
        "label": app.get("label").cloned().unwrap_or(Value::Null),
    })
}

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

/// Removes `_embedded.user` (present with `expand=user`) from an assignment and returns it.
pub fn take_embedded_user(assignment: &mut Value) -> Option<Value> {
    assignment
        .as_object_mut()
        .and_then(|m| m.remove("_embedded"))
        .and_then(|mut e| e.get_mut("user").map(Value::take))
        .filter(Value::is_object)
}

/// How an assignment finds its hub user.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HubKey {
    /// Linked: the assignment's `externalId` is the hub user's id.
    Id(String),
    /// Not linked: the assignment's `credentials.userName`, else the spoke user's login.
    Login(String),
}

impl HubKey {
    /// The key as `GET /api/v1/users/{id or login}` takes it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Id(s) | Self::Login(s) => s,
        }
    }
}

/// The join to the hub: by `externalId` when linked, else by login; `None` when there is neither.
pub fn hub_key(assignment: &Value, spoke_user: &Value) -> Option<HubKey> {
    let external = assignment
        .get("externalId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(|s| HubKey::Id(s.to_string()));
    external.or_else(|| {
        assignment
            .pointer("/credentials/userName")
            .and_then(Value::as_str)
            .or_else(|| spoke_user.pointer("/profile/login").and_then(Value::as_str))
            .map(|s| HubKey::Login(s.to_string()))
    })
}

/// A user's id (`$.id`), for matching search results to keys.
pub fn user_id(user: &Value) -> Option<&str> {
    user.get("id").and_then(Value::as_str)
}

/// A user's login (`$.profile.login`), for matching search results to keys.
pub fn user_login(user: &Value) -> Option<&str> {
    user.pointer("/profile/login").and_then(Value::as_str)
}

/// A user's `created` time, where the hub history starts.
pub fn user_created(user: &Value) -> Option<&str> {
    user.get("created").and_then(Value::as_str)
}

/// A complete `org2org_assignment` subject.
pub fn org2org(
    app: Value,
    assignment: Value,
    spoke_user: Value,
    user: Value,
    events: Vec<Value>,
) -> Value {
    json!({
        APP: app,
        ASSIGNMENT: assignment,
        SPOKE_USER: spoke_user,
        USER: user,
        EVENTS: events,
    })
}

/// An `org2org_assignment` subject whose reads stopped at `error`: what was read, nulls for the rest.
pub fn unreadable(
    app: Value,
    assignment: Value,
    spoke_user: Value,
    events: Vec<Value>,
    error: &str,
) -> Value {
    json!({
        APP: app,
        ASSIGNMENT: assignment,
        SPOKE_USER: spoke_user,
        USER: null,
        EVENTS: events,
        COLLECT_ERROR: error,
    })
}

/// The assignment stand-in of a subject whose assignment could not be read.
pub fn assignment_stub(user_id: &str) -> Value {
    json!({ "id": user_id })
}

/// Adds the hub history; a failure to read it marks the subject unknown with an empty history.
pub fn set_hub_events(subject: &mut Value, history: Result<Vec<Value>, String>) {
    let events = match history {
        Ok(events) => events,
        Err(error) => {
            subject[COLLECT_ERROR] = json!(error);
            Vec::new()
        }
    };
    subject[HUB_EVENTS] = Value::Array(events);
}

/// A `user` subject.
pub fn user_subject(org: &str, user: Value) -> Value {
    json!({ ORG: org, USER: user })
}

/// Adds a `user` subject's groups.
pub fn set_groups(subject: &mut Value, groups: Vec<Value>) {
    subject[GROUPS] = Value::Array(groups);
}

/// The hub user of a subject (`null` when there is none).
pub fn hub_user(subject: &Value) -> &Value {
    subject.get("user").unwrap_or(&Value::Null)
}

/// The assignment of an Org2Org subject (`null` when there is none).
pub fn assignment(subject: &Value) -> &Value {
    subject.get("assignment").unwrap_or(&Value::Null)
}

/// A user's login, or `?`.
pub fn login(user: &Value) -> String {
    user.pointer("/profile/login")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_paths_are_under_the_roots_only() {
        assert!(is_state_path("$.user"));
        assert!(is_state_path("$.user.status"));
        assert!(is_state_path("$.assignment['syncState']"));
        assert!(!is_state_path("$.username"));
        assert!(!is_state_path("$.events[*].outcome.reason"));
    }

    #[test]
    fn ids_are_read_from_their_paths() {
        let s = org2org(
            json!({"id": "0oa1"}),
            json!({"id": "00u2"}),
            json!({"id": "00u2"}),
            json!({"id": "00u9"}),
            vec![],
        );
        let got = ids(&s);
        assert_eq!(got["app_id"], "0oa1");
        assert_eq!(got["user_id"], "00u9");
        assert_eq!(got.len(), 4);
    }
}
