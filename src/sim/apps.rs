//! Apps, app users (assignments) and groups of one org, and the trigger points of Org2Org push:
//! assigning, re-assigning, or updating an app user in `ERROR` on the spoke's `okta_org2org` app.
//!
//! Owns the app and group endpoints and the assignment rules (`E0000046` for group-scoped unassign).
//! It does not implement the push itself (`push`).

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::api::Invocation;
use super::logs::{self, app_target, app_user_target, user_target, Happened};
use super::model::{AppUser, Org, OrgName};
use super::params::parse_expr;
use super::push::push;
use super::query::{json_path_values, Op};
use super::response::{item, not_found, parse_body, validation, Answer, ApiError, ListPage};
use super::runtime::World;

fn app_not_found(id: &str) -> ApiError {
    not_found(id, "AppInstance")
}

fn app_user_not_found(id: &str) -> ApiError {
    not_found(id, "AppUser")
}

/// The assignment of `user` to `app`: 404 for an unknown app, then for an unassigned user.
fn find_app_user<'a>(org: &'a Org, app: &str, user: &str) -> Result<&'a AppUser, ApiError> {
    if !org.apps.contains_key(app) {
        return Err(app_not_found(app));
    }
    org.app_users
        .get(app)
        .and_then(|m| m.get(user))
        .ok_or_else(|| app_user_not_found(user))
}

fn find_app_user_mut<'a>(
    org: &'a mut Org,
    app: &str,
    user: &str,
) -> Result<&'a mut AppUser, ApiError> {
    if !org.apps.contains_key(app) {
        return Err(app_not_found(app));
    }
    org.app_users
        .get_mut(app)
        .and_then(|m| m.get_mut(user))
        .ok_or_else(|| app_user_not_found(user))
}

/// Cursor pagination over an id-ordered map.
pub(crate) fn page_after<'a, V: 'a>(
    call: &Invocation<'_>,
    entries: impl Iterator<Item = (&'a String, V)>,
    limit: usize,
    mut keep: impl FnMut(&V) -> bool,
    mut render: impl FnMut(&V) -> Value,
) -> ListPage {
    let after = call.query.get("after");
    let mut items = Vec::new();
    let mut last = None;
    let mut more = false;
    for (id, v) in entries {
        if after.is_some_and(|a| id.as_str() <= a) || !keep(&v) {
            continue;
        }
        if items.len() == limit {
            more = true;
            break;
        }
        items.push(item(&render(&v)));
        last = Some(id.clone());
    }
    let next = match (more, last) {
        (true, Some(last)) => {
            let mut params: Vec<(String, String)> =
                call.query.pairs().filter(|(k, _)| k != "after").collect();
            params.push(("after".into(), last));
            Some(params)
        }
        _ => None,
    };
    ListPage::new(items, next)
}

fn app_filter_allow(attr: &str, op: Op) -> bool {
    op == Op::Eq && matches!(attr, "name" | "status" | "id" | "label" | "signOnMode")
}

/// `GET /api/v1/apps` with `filter` (`name eq "okta_org2org"`, `status eq`), `q` (label prefix).
pub(crate) fn list(org: &Org, call: &Invocation<'_>) -> Result<ListPage, ApiError> {
    let limit = call.query.limit(20, 200)?;
    let filter = parse_expr(call.query.get("filter"), &app_filter_allow)?;
    let q = call.query.get("q").map(str::to_lowercase);
    Ok(page_after(
        call,
        org.apps.iter(),
        limit,
        |app| {
            filter
                .as_ref()
                .is_none_or(|f| f.eval(&|p| json_path_values(app, p), false))
                && q.as_ref().is_none_or(|q| {
                    app["label"]
                        .as_str()
                        .is_some_and(|l| l.to_lowercase().starts_with(q))
                })
        },
        |app| org.render_app(call.base, app),
    ))
}

pub(crate) fn get(org: &Org, call: &Invocation<'_>, id: &str) -> Result<Answer, ApiError> {
    let app = org.apps.get(id).ok_or_else(|| app_not_found(id))?;
    Ok(Answer::ok(org.render_app(call.base, app)))
}

fn render_app_user(
    org: &Org,
    call: &Invocation<'_>,
    app: &str,
    au: &AppUser,
    expand: bool,
) -> Value {
    let mut v = au.render(call.base, app);
    if expand {
        if let Some(u) = org.users.get(&au.id) {
            v["_embedded"] = json!({ "user": u.render(call.base, false) });
        }
    }
    v
}

fn expand_user(call: &Invocation<'_>) -> bool {
    call.query.get("expand") == Some("user")
}

/// `GET /api/v1/apps/{appId}/users` (`limit` ≤ 500, `after`, `q` prefix of userName, `expand=user`).
pub(crate) fn list_users(
    org: &Org,
    call: &Invocation<'_>,
    app: &str,
) -> Result<ListPage, ApiError> {
    if !org.apps.contains_key(app) {
        return Err(app_not_found(app));
    }
    let limit = call.query.limit(50, 500)?;
    let expand = expand_user(call);
    let q = call.query.get("q").map(str::to_lowercase);
    let empty = Default::default();
    let users = org.app_users.get(app).unwrap_or(&empty);
    Ok(page_after(
        call,
        users.iter(),
        limit,
        |au| {
            q.as_ref()
                .is_none_or(|q| au.user_name.to_lowercase().starts_with(q))
        },
        |au| render_app_user(org, call, app, au, expand),
    ))
}

pub(crate) fn get_user(
    org: &Org,
    call: &Invocation<'_>,
    app: &str,
    user: &str,
) -> Result<Answer, ApiError> {
    let au = find_app_user(org, app, user)?;
    Ok(Answer::ok(render_app_user(
        org,
        call,
        app,
        au,
        expand_user(call),
    )))
}

/// Whether a change to this app user makes the spoke push to the hub.
fn pushes(call: &Invocation<'_>, org: &Org, app: &str) -> bool {
    call.org == OrgName::Spoke && org.org2org_app() == Some(app)
}

fn membership_event(
    org: &mut Org,
    call: &Invocation<'_>,
    app: &str,
    user: &str,
    event_type: &str,
    display: &str,
) {
    let label = org.app_label(app);
    let Some(u) = org.users.get(user) else {
        return;
    };
    let targets = vec![
        app_user_target(user, u.login()),
        app_target(app, &label),
        user_target(u),
    ];
    logs::write(
        org,
        call.now,
        &call.events,
        Happened {
            event_type,
            display,
            targets,
            failure: None,
        },
    );
}

/// Pushes now, or with a push delay marks the app user `SYNCING` and leaves the push to run later.
fn run_push(world: &mut World, call: &Invocation<'_>, app: &str, user: &str) {
    if call.push_delay.is_zero() {
        let (hub, spoke) = world.hub_and_spoke();
        push(hub, spoke, app, user, &call.events, call.now, None);
        return;
    }
    if let Some(au) = world
        .org_mut(call.org)
        .app_users
        .get_mut(app)
        .and_then(|m| m.get_mut(user))
    {
        au.sync_state = "SYNCING".into();
        au.last_updated = call.now;
    }
    call.deferred
        .borrow_mut()
        .push((app.to_string(), user.to_string()));
}

fn reply_app_user(
    world: &World,
    call: &Invocation<'_>,
    app: &str,
    user: &str,
) -> Result<Answer, ApiError> {
    let org = world.org(call.org);
    let au = find_app_user(org, app, user)?;
    Ok(Answer::ok(render_app_user(org, call, app, au, false)))
}

/// `POST /api/v1/apps/{appId}/users`: assigns (or re-assigns) a user; on the spoke's Org2Org app
/// this pushes to the hub, before answering or, with a push delay, in the background as Okta does.
pub(crate) fn assign(
    world: &mut World,
    call: &Invocation<'_>,
    app: &str,
) -> Result<Answer, ApiError> {
    let body = parse_body(call.body)?;
    let org = world.org_mut(call.org);
    if !org.apps.contains_key(app) {
        return Err(app_not_found(app));
    }
    let Some(user_id) = body["id"].as_str() else {
        return Err(validation("id", "The field cannot be left blank"));
    };
    let user = org
        .users
        .get(user_id)
        .ok_or_else(|| super::users::user_not_found(user_id))?;
    let user_name = body
        .pointer("/credentials/userName")
        .and_then(Value::as_str)
        .unwrap_or(user.login())
        .to_string();
    let profile = body["profile"].as_object().cloned().unwrap_or_default();
    let user_id = user_id.to_string();
    let existing = org
        .app_users
        .get(app)
        .and_then(|m| m.get(&user_id))
        .cloned();
    let is_new = existing.is_none();
    let now = call.now;
    let au = match existing {
        Some(mut au) => {
            au.profile.extend(profile);
            au.last_updated = now;
            au
        }
        None => AppUser {
            id: user_id.clone(),
            external_id: None,
            created: now,
            last_updated: now,
            status_changed: now,
            password_changed: None,
            last_sync: None,
            scope: "USER".into(),
            status: "STAGED".into(),
            sync_state: "SYNCING".into(),
            user_name,
            profile,
        },
    };
    org.app_users
        .entry(app.to_string())
        .or_default()
        .insert(user_id.clone(), au);
    if is_new {
        membership_event(
            org,
            call,
            app,
            &user_id,
            "application.user_membership.add",
            "Add user to application membership",
        );
    }
    if pushes(call, org, app) {
        run_push(world, call, app, &user_id);
    } else if let Some(au) = world
        .org_mut(call.org)
        .app_users
        .get_mut(app)
        .and_then(|m| m.get_mut(&user_id))
    {
        au.sync_state = "DISABLED".into();
    }
    reply_app_user(world, call, app, &user_id)
}

/// `POST /api/v1/apps/{appId}/users/{userId}`: updates the app profile or credentials; on an app
/// user in `ERROR` of the spoke's Org2Org app this retries the push.
pub(crate) fn update_user(
    world: &mut World,
    call: &Invocation<'_>,
    app: &str,
    user: &str,
) -> Result<Answer, ApiError> {
    let body = parse_body(call.body)?;
    let org = world.org_mut(call.org);
    let au = find_app_user_mut(org, app, user)?;
    if let Some(p) = body["profile"].as_object() {
        au.profile.extend(p.clone());
    }
    if let Some(n) = body
        .pointer("/credentials/userName")
        .and_then(Value::as_str)
    {
        au.user_name = n.to_string();
    }
    au.last_updated = call.now;
    let retry = au.sync_state == "ERROR";
    if retry && pushes(call, org, app) {
        run_push(world, call, app, user);
    }
    reply_app_user(world, call, app, user)
}

/// `DELETE /api/v1/apps/{appId}/users/{userId}`; group-scoped assignments cannot be removed alone.
pub(crate) fn unassign(
    world: &mut World,
    call: &Invocation<'_>,
    app: &str,
    user: &str,
) -> Result<Answer, ApiError> {
    let org = world.org_mut(call.org);
    if find_app_user(org, app, user)?.scope == "GROUP" {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "E0000046",
            "Deactivate application for user forbidden",
        )
        .cause(
            "The application user is assigned through a group and cannot be removed individually.",
        ));
    }
    membership_event(
        org,
        call,
        app,
        user,
        "application.user_membership.remove",
        "Remove user from application membership",
    );
    if let Some(m) = org.app_users.get_mut(app) {
        m.remove(user);
    }
    Ok(Answer::Empty(StatusCode::NO_CONTENT))
}

fn group_filter_allow(attr: &str, op: Op) -> bool {
    matches!(op, Op::Eq | Op::Sw) && matches!(attr, "type" | "id" | "profile.name" | "lastUpdated")
}

/// `GET /api/v1/groups` (`q` name prefix, `filter`/`search`, `limit`, `after`).
pub(crate) fn list_groups(org: &Org, call: &Invocation<'_>) -> Result<ListPage, ApiError> {
    let limit = call.query.limit(10_000, 10_000)?;
    let expr = parse_expr(
        call.query.get("search").or(call.query.get("filter")),
        &group_filter_allow,
    )?;
    let q = call.query.get("q").map(str::to_lowercase);
    Ok(page_after(
        call,
        org.groups.iter(),
        limit,
        |g| {
            expr.as_ref()
                .is_none_or(|e| e.eval(&|p| json_path_values(g, p), true))
                && q.as_ref().is_none_or(|q| {
                    g.pointer("/profile/name")
                        .and_then(Value::as_str)
                        .is_some_and(|n| n.to_lowercase().starts_with(q))
                })
        },
        |g| org.render_group(call.base, g),
    ))
}

pub(crate) fn get_group(org: &Org, call: &Invocation<'_>, id: &str) -> Result<Answer, ApiError> {
    let g = org
        .groups
        .get(id)
        .ok_or_else(|| not_found(id, "UserGroup"))?;
    Ok(Answer::ok(org.render_group(call.base, g)))
}

/// `GET /api/v1/groups/{id}/users` (`limit` ≤ 1000, `after`).
pub(crate) fn group_users(
    org: &Org,
    call: &Invocation<'_>,
    id: &str,
) -> Result<ListPage, ApiError> {
    if !org.groups.contains_key(id) {
        return Err(not_found(id, "UserGroup"));
    }
    let limit = call.query.limit(1000, 1000)?;
    let empty = Default::default();
    let members = org.group_members.get(id).unwrap_or(&empty);
    Ok(page_after(
        call,
        members.iter().filter_map(|m| org.users.get_key_value(m)),
        limit,
        |_| true,
        |u| u.render(call.base, false),
    ))
}

/// `PUT` / `DELETE /api/v1/groups/{groupId}/users/{userId}`: adds or removes a member.
pub(crate) fn group_membership(
    org: &mut Org,
    call: &Invocation<'_>,
    group: &str,
    user: &str,
    add: bool,
) -> Result<Answer, ApiError> {
    if !org.groups.contains_key(group) {
        return Err(not_found(group, "UserGroup"));
    }
    let Some(u) = org.users.get(user) else {
        return Err(super::users::user_not_found(user));
    };
    let user_t = user_target(u);
    let members = org.group_members.entry(group.to_string()).or_default();
    let changed = if add {
        members.insert(user.to_string())
    } else {
        members.remove(user)
    };
    if changed {
        let name = org
            .groups
            .get(group)
            .and_then(|g| g["profile"]["name"].as_str())
            .unwrap_or("")
            .to_string();
        if let Some(g) = org.groups.get_mut(group) {
            g["lastMembershipUpdated"] = json!(super::model::ts(call.now));
        }
        let (event_type, display) = if add {
            ("group.user_membership.add", "Add user to group membership")
        } else {
            (
                "group.user_membership.remove",
                "Remove user from group membership",
            )
        };
        logs::write(
            org,
            call.now,
            &call.events,
            Happened {
                event_type,
                display,
                targets: vec![
                    user_t,
                    json!({ "id": group, "type": "UserGroup", "alternateId": "unknown", "displayName": name }),
                ],
                failure: None,
            },
        );
    }
    Ok(Answer::Empty(StatusCode::NO_CONTENT))
}
