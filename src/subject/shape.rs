//! The JSON shape of a subject, in one place: which paths hold the user, the assignment, the spoke
//! user and the ids the executor acts on, which of them are Okta state (re-readable, so a step can rely
//! on them) and which are history. Collectors build subjects with [`org2org`] and [`user`]; planning
//! reads ids and state paths from here; `apply` rebuilds a live subject with the same functions.
//!
//! ```text
//! org2org_assignment: { app: {id, name?, label?}, assignment: <spoke AppUser>, spoke_user: <spoke User>,
//!                       user: <hub User or null>, events: [<spoke LogEvent>], hub_events?: [...] }
//! user:               { org: <org name>, user: <User>, groups?: [<Group>] }
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

/// The ids of a subject, by their plan names.
pub fn ids(subject: &Value) -> BTreeMap<String, String> {
    IDS.iter()
        .filter_map(|(name, ptr)| {
            subject
                .pointer(ptr)
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

/// An Org2Org assignment subject.
pub fn org2org(
    app: Value,
    assignment: Value,
    spoke_user: Value,
    user: Value,
    events: Vec<Value>,
) -> Value {
    json!({
        "app": app,
        "assignment": assignment,
        "spoke_user": spoke_user,
        "user": user,
        "events": events,
    })
}

/// A user subject.
pub fn user(org: &str, user: Value) -> Value {
    json!({ "org": org, "user": user })
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
