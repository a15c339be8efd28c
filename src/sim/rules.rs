//! Group rules: `GET /api/v1/groups/rules`, and their effect, which makes memberships Okta manages by
//! rule rather than by hand. When a user is created, every `ACTIVE` rule whose expression holds for
//! the user's profile adds it to the rule's groups, as Okta evaluates rules for a new user.
//!
//! Expressions: the simulator evaluates only `user.ATTRIBUTE == "VALUE"` (one profile attribute, a
//! string, spaces optional); any other Okta Expression Language holds for no one here. It does not
//! re-evaluate rules on profile updates, nor remove memberships when a rule stops holding.

use serde_json::Value;

use super::api::Invocation;
use super::apps::page_after;
use super::model::Org;
use super::response::{ApiError, ListPage};

/// `GET /api/v1/groups/rules`: the org's rules by id, `limit` (1-200, default 50) and `after`.
pub(crate) fn list_rules(org: &Org, call: &Invocation<'_>) -> Result<ListPage, ApiError> {
    let limit = call.query.limit(50, 200)?;
    let search = call.query.get("search").map(str::to_lowercase);
    Ok(page_after(
        call,
        org.group_rules.iter(),
        limit,
        |r| {
            search.as_ref().is_none_or(|s| {
                r.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| n.to_lowercase().contains(s))
            })
        },
        |r| (*r).clone(),
    ))
}

/// The groups an `ACTIVE` rule assigns.
pub(crate) fn assigned_groups(rule: &Value) -> impl Iterator<Item = &str> {
    rule.pointer("/actions/assignUserToGroups/groupIds")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// Whether `rule` is `ACTIVE` and its expression holds for `profile`.
fn holds(rule: &Value, profile: &serde_json::Map<String, Value>) -> bool {
    if rule.get("status").and_then(Value::as_str) != Some("ACTIVE") {
        return false;
    }
    let Some(expr) = rule
        .pointer("/conditions/expression/value")
        .and_then(Value::as_str)
    else {
        return false;
    };
    let Some((left, right)) = expr.split_once("==") else {
        return false;
    };
    let Some(attr) = left.trim().strip_prefix("user.") else {
        return false;
    };
    let right = right.trim();
    let Some(value) = right.strip_prefix('"').and_then(|r| r.strip_suffix('"')) else {
        return false;
    };
    profile.get(attr).and_then(Value::as_str) == Some(value)
}

impl Org {
    /// Adds the new user `id` to the groups of every rule that holds for it.
    pub(crate) fn apply_group_rules(&mut self, id: &str) {
        let Some(user) = self.users.get(id) else {
            return;
        };
        let groups: Vec<String> = self
            .group_rules
            .values()
            .filter(|r| holds(r, &user.profile))
            .flat_map(assigned_groups)
            .filter(|g| self.groups.contains_key(*g))
            .map(str::to_string)
            .collect();
        for g in groups {
            self.group_members
                .entry(g)
                .or_default()
                .insert(id.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_active_equality_rules_hold() {
        let profile = json!({"department": "Engineering"});
        let profile = profile.as_object().unwrap();
        let rule = |status: &str, expr: &str| json!({"status": status, "conditions": {"expression": {"value": expr}}});
        assert!(holds(
            &rule("ACTIVE", "user.department==\"Engineering\""),
            profile
        ));
        assert!(holds(
            &rule("ACTIVE", " user.department == \"Engineering\" "),
            profile
        ));
        assert!(!holds(
            &rule("INACTIVE", "user.department==\"Engineering\""),
            profile
        ));
        assert!(!holds(
            &rule("ACTIVE", "user.department==\"Sales\""),
            profile
        ));
        assert!(!holds(
            &rule("ACTIVE", "isMemberOfAnyGroup(\"00g1\")"),
            profile
        ));
    }
}
