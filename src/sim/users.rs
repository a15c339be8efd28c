//! The Users API of one org: get (ETag, `If-None-Match`), create, update (`If-Match`), delete, groups
//! and app links, with the System Log events Okta writes for each; listing is in `search`, lifecycle
//! operations in `lifecycle`.
//!
//! Owns the rules of a user write (login uniqueness, provider and password checks). It does not know
//! about HTTP plumbing (`api`) or Org2Org (`push`).

mod lifecycle;
mod search;

use axum::http::StatusCode;
use serde_json::{json, Map, Value};

pub(crate) use lifecycle::lifecycle;
pub(crate) use search::list;

use super::api::Invocation;
use super::logs::{self, user_target, Happened};
use super::model::{Org, ProviderType, User, UserStatus};
use super::response::{not_found, parse_body, precondition_failed, validation, Answer, ApiError};
use super::seed::parse_user;

pub(crate) fn user_not_found(id: &str) -> ApiError {
    not_found(id, "User")
}

fn find<'a>(org: &'a Org, id: &str) -> Result<&'a User, ApiError> {
    org.find_user(id)
        .and_then(|id| org.users.get(id))
        .ok_or_else(|| user_not_found(id))
}

fn find_id(org: &Org, id: &str) -> Result<String, ApiError> {
    org.user_id(id).ok_or_else(|| user_not_found(id))
}

/// `GET /api/v1/users/{idOrLogin}` with an `ETag` (and 304 on a matching `If-None-Match`).
pub(crate) fn get(org: &Org, call: &Invocation<'_>, id: &str) -> Result<Answer, ApiError> {
    let u = find(org, id)?;
    let etag = u.etag();
    if call.if_none_match.as_deref() == Some(etag.as_str()) {
        return Ok(Answer::Empty(StatusCode::NOT_MODIFIED));
    }
    Ok(Answer::Json(
        StatusCode::OK,
        u.render(call.base, true),
        vec![("etag", etag)],
    ))
}

/// The full user, as Okta answers a write.
fn reply_user(org: &Org, call: &Invocation<'_>, id: &str) -> Answer {
    Answer::ok(
        org.users
            .get(id)
            .map(|u| u.render(call.base, true))
            .unwrap_or(Value::Null),
    )
}

fn event(org: &mut Org, call: &Invocation<'_>, id: &str, event_type: &str, display: &str) {
    let Some(target) = org.users.get(id).map(user_target) else {
        return;
    };
    logs::write(
        org,
        call.now,
        &call.events,
        Happened {
            event_type,
            display,
            targets: vec![target],
            failure: None,
        },
    );
}

/// Sets `password` on a user as Okta's API does: FEDERATION users cannot hold one, and the org's
/// password policy applies. Used by update and by Org2Org push.
pub(crate) fn check_password(org: &Org, u: &User, password: &str) -> Result<(), ApiError> {
    if u.provider_type == ProviderType::Federation {
        return Err(validation("password", "Password"));
    }
    if u.provider_type != ProviderType::Okta {
        return Err(validation(
            "password",
            &format!(
                "Password cannot be updated because the user is mastered by {}",
                u.provider_name
            ),
        ));
    }
    if let Some(v) = org.policy.violation(password, u.login()) {
        return Err(validation("password", &v));
    }
    Ok(())
}

fn password_of(body: &Value) -> Option<String> {
    body.pointer("/credentials/password/value")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The STAGED user a create request describes; `provider` must agree with its provider type.
fn new_user(
    body: &Value,
    id: String,
    call: &Invocation<'_>,
    provider: bool,
) -> Result<User, ApiError> {
    let mut doc =
        json!({ "profile": body.get("profile").cloned().unwrap_or(json!({})), "status": "STAGED" });
    if let Some(creds) = body.get("credentials") {
        doc["credentials"] = creds.clone();
    }
    if let Some(t) = body.get("type") {
        doc["type"] = t.clone();
    }
    let mut u = parse_user(&doc, id, call.now).map_err(|e| validation("user", &e.to_string()))?;
    u.created = call.now;
    u.last_updated = call.now;
    u.status_changed = None;
    u.activated = None;
    u.password_changed = u.password.as_ref().map(|_| call.now);
    if provider && u.provider_type == ProviderType::Okta {
        return Err(validation(
            "provider",
            "A provider type other than OKTA is required",
        ));
    }
    if !provider && u.provider_type != ProviderType::Okta {
        return Err(validation(
            "provider",
            "Set the provider parameter to create this user",
        ));
    }
    Ok(u)
}

/// `POST /api/v1/users?activate=&provider=`.
pub(crate) fn create(org: &mut Org, call: &Invocation<'_>) -> Result<Answer, ApiError> {
    let body = parse_body(call.body)?;
    let activate = call.query.flag("activate")?.unwrap_or(true);
    let provider = call.query.flag("provider")?.unwrap_or(false);
    let profile = body.get("profile").and_then(Value::as_object);
    let login = profile
        .and_then(|p| p.get("login"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if login.is_empty() {
        return Err(validation("login", "The field cannot be left blank"));
    }
    if org.login_taken(login, None) {
        return Err(validation(
            "login",
            "An object with this field already exists in the current organization",
        ));
    }
    let id = org.new_id("00u");
    let mut u = new_user(&body, id.clone(), call, provider)?;
    if let Some(p) = &u.password {
        check_password(org, &u, p)?;
    }
    if activate {
        let to = if u.password.is_some() || provider {
            UserStatus::Active
        } else {
            UserStatus::Provisioned
        };
        u.set_status(to, call.now);
        u.activated = Some(call.now);
    }
    let groups: Vec<String> = body["groupIds"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if let Some(g) = groups.iter().find(|g| !org.groups.contains_key(*g)) {
        return Err(validation("groupIds", &format!("Group {g} does not exist")));
    }
    org.put_user(u);
    for g in groups {
        org.group_members.entry(g).or_default().insert(id.clone());
    }
    event(org, call, &id, "user.lifecycle.create", "Create Okta user");
    if activate {
        event(
            org,
            call,
            &id,
            "user.lifecycle.activate",
            "Activate Okta user",
        );
    }
    Ok(reply_user(org, call, &id))
}

/// `POST /api/v1/users/{id}` (partial) and `PUT` (replace the profile); a stale `If-Match` is 412.
pub(crate) fn update(
    org: &mut Org,
    call: &Invocation<'_>,
    id: &str,
    partial: bool,
) -> Result<Answer, ApiError> {
    let body = parse_body(call.body)?;
    let id = find_id(org, id)?;
    let mut u = org
        .users
        .get(&id)
        .cloned()
        .ok_or_else(|| user_not_found(&id))?;
    if call.if_match.as_ref().is_some_and(|m| *m != u.etag()) {
        return Err(precondition_failed());
    }
    if let Some(p) = body.get("profile") {
        let Some(p) = p.as_object() else {
            return Err(validation("profile", "must be an object"));
        };
        let mut profile = if partial {
            u.profile.clone()
        } else {
            Map::new()
        };
        for (k, v) in p {
            profile.insert(k.clone(), v.clone());
        }
        let login = profile.get("login").and_then(Value::as_str).unwrap_or("");
        if login.is_empty() {
            return Err(validation("login", "The field cannot be left blank"));
        }
        if org.login_taken(login, Some(&id)) {
            return Err(validation(
                "login",
                "An object with this field already exists in the current organization",
            ));
        }
        u.profile = profile;
        u.last_updated = call.now;
    }
    let password = password_of(&body);
    if let Some(p) = &password {
        check_password(org, &u, p)?;
        u.set_password(Some(p.clone()), call.now);
    }
    org.put_user(u);
    if body.get("profile").is_some() {
        event(
            org,
            call,
            &id,
            "user.account.update_profile",
            "Update user profile for Okta",
        );
    }
    if password.is_some() {
        event(
            org,
            call,
            &id,
            "user.account.update_password",
            "Update password for user",
        );
    }
    Ok(reply_user(org, call, &id))
}

/// `DELETE /api/v1/users/{id}`: deactivates a user that is not DEPROVISIONED, deletes one that is.
pub(crate) fn delete(org: &mut Org, call: &Invocation<'_>, id: &str) -> Result<Answer, ApiError> {
    let id = find_id(org, id)?;
    let status = org.users.get(&id).map(|u| u.status);
    if status == Some(UserStatus::Deprovisioned) {
        event(
            org,
            call,
            &id,
            "user.lifecycle.delete.initiated",
            "Delete Okta user",
        );
        let target = org.users.get(&id).map(user_target);
        org.remove_user(&id);
        if let Some(target) = target {
            logs::write(
                org,
                call.now,
                &call.events,
                Happened {
                    event_type: "user.lifecycle.delete.completed",
                    display: "Delete Okta user completed",
                    targets: vec![target],
                    failure: None,
                },
            );
        }
    } else {
        deactivate(org, call, &id);
    }
    Ok(Answer::Empty(StatusCode::NO_CONTENT))
}

fn deactivate(org: &mut Org, call: &Invocation<'_>, id: &str) {
    let what = ("user.lifecycle.deactivate", "Deactivate Okta user");
    move_to(org, call, id, UserStatus::Deprovisioned, what);
}

/// Moves a user to `to` and writes the event Okta writes for it.
fn move_to(org: &mut Org, call: &Invocation<'_>, id: &str, to: UserStatus, what: (&str, &str)) {
    if let Some(u) = org.users.get_mut(id) {
        u.set_status(to, call.now);
    }
    event(org, call, id, what.0, what.1);
}

/// `GET /api/v1/users/{id}/groups`.
pub(crate) fn groups(org: &Org, call: &Invocation<'_>, id: &str) -> Result<Answer, ApiError> {
    let u = find(org, id)?;
    let items: Vec<Value> = org
        .group_members
        .iter()
        .filter(|(_, m)| m.contains(&u.id))
        .filter_map(|(g, _)| org.groups.get(g))
        .map(|g| org.render_group(call.base, g))
        .collect();
    Ok(Answer::ok(Value::Array(items)))
}

/// `GET /api/v1/users/{id}/appLinks`.
pub(crate) fn app_links(org: &Org, call: &Invocation<'_>, id: &str) -> Result<Answer, ApiError> {
    let u = find(org, id)?;
    let mut items = Vec::new();
    for (app_id, users) in &org.app_users {
        let (Some(au), Some(app)) = (users.get(&u.id), org.apps.get(app_id)) else {
            continue;
        };
        let name = app["name"].as_str().unwrap_or("");
        items.push(json!({
            "id": format!("0ua{}", au.id.get(3..).unwrap_or("")),
            "appAssignmentId": format!("0ua{}", au.id.get(3..).unwrap_or("")),
            "appInstanceId": app_id,
            "appName": name,
            "credentialsSetup": false,
            "hidden": false,
            "label": app["label"],
            "linkUrl": format!("{}/home/{name}/{app_id}/1", call.base),
            "logoUrl": format!("{}/assets/img/logos/{name}.png", call.base),
            "sortOrder": items.len(),
        }));
    }
    Ok(Answer::ok(Value::Array(items)))
}
