//! The Users API of one org: list (search, filter, cursors), get (ETag), create, update, delete,
//! lifecycle operations, groups and app links, with the System Log events Okta writes for each.
//!
//! Owns user lifecycle rules (which transition is allowed from which status, what it changes). It does
//! not know about HTTP plumbing (`api`) or Org2Org (`push`).

use axum::http::StatusCode;
use serde_json::{json, Map, Value};

use super::api::{
    bad_status, not_found, parse_body, parse_expr, validation, Call, OktaError, Page, Reply,
};
use super::logs::{self, user_target, Happened};
use super::model::{ts, Org, ProviderType, User, UserStatus};
use super::query::Op;
use super::seed::{default_provider_name, parse_user};

pub(crate) fn user_not_found(id: &str) -> OktaError {
    not_found(id, "User")
}

fn find<'a>(org: &'a Org, id: &str) -> Result<&'a User, OktaError> {
    org.find_user(id)
        .and_then(|id| org.users.get(id))
        .ok_or_else(|| user_not_found(id))
}

fn find_id(org: &Org, id: &str) -> Result<String, OktaError> {
    org.user_id(id).ok_or_else(|| user_not_found(id))
}

/// Values of a user attribute for `search`/`filter` (`profile.*` arrays are flattened).
pub(crate) fn field(u: &User, attr: &str) -> Vec<Value> {
    let t =
        |d: Option<chrono::DateTime<chrono::Utc>>| d.map(|d| json!(ts(d))).into_iter().collect();
    match attr {
        "id" => vec![json!(u.id)],
        "status" => vec![json!(u.status.as_str())],
        "created" => t(Some(u.created)),
        "activated" => t(u.activated),
        "statusChanged" => t(u.status_changed),
        "lastUpdated" => t(Some(u.last_updated)),
        "passwordChanged" => t(u.password_changed),
        "lastLogin" => t(u.last_login),
        "type.id" => vec![json!(u.type_id)],
        _ => match attr.strip_prefix("profile.") {
            Some(key) => match u.profile.get(key) {
                Some(Value::Array(items)) => items.clone(),
                Some(Value::Null) | None => Vec::new(),
                Some(v) => vec![v.clone()],
            },
            None => Vec::new(),
        },
    }
}

fn search_allow(attr: &str, op: Op) -> bool {
    let top = matches!(
        attr,
        "id" | "status" | "created" | "activated" | "statusChanged" | "lastUpdated" | "type.id"
    );
    let profile = attr.starts_with("profile.") && attr.len() > "profile.".len();
    let co_ok = matches!(
        attr,
        "profile.firstName" | "profile.lastName" | "profile.email" | "profile.login"
    );
    match op {
        Op::Ne => false,
        Op::Co => co_ok,
        _ => top || profile,
    }
}

fn filter_allow(attr: &str, op: Op) -> bool {
    match attr {
        "lastUpdated" => matches!(op, Op::Eq | Op::Gt | Op::Ge | Op::Lt | Op::Le),
        "status" | "id" | "profile.login" | "profile.email" | "profile.firstName"
        | "profile.lastName" => op == Op::Eq,
        _ => false,
    }
}

/// `GET /api/v1/users`: id order, `after` = last id of the previous page.
pub(crate) fn list(org: &Org, call: &Call<'_>) -> Result<Page, OktaError> {
    let q = call.query;
    // `q` is for people pickers: 10 results by default, and no pagination.
    let limit = q.limit(if q.get("q").is_some() { 10 } else { 200 }, 200)?;
    // `search` values are case-insensitive, `filter` values are not.
    let (expr, fold_case) = match q.get("search") {
        Some(s) => (parse_expr(Some(s), &search_allow)?, true),
        None => (parse_expr(q.get("filter"), &filter_allow)?, false),
    };
    let text = q.get("q").map(str::to_lowercase);
    let keep = |u: &User| -> bool {
        let matched = match &expr {
            Some(e) => e.eval(&|attr| field(u, attr), fold_case),
            None => u.status != UserStatus::Deprovisioned,
        };
        matched
            && text.as_ref().is_none_or(|t| {
                ["firstName", "lastName", "email"].iter().any(|k| {
                    u.profile
                        .get(*k)
                        .and_then(Value::as_str)
                        .is_some_and(|v| v.to_lowercase().starts_with(t))
                })
            })
    };
    let after = q.get("after");
    // Id order by default; `sortBy` (search only) orders by that attribute, ties by id, and the
    // cursor is still the last id returned.
    let candidates: Box<dyn Iterator<Item = &User>> = match (q.get("search"), q.get("sortBy")) {
        (Some(_), Some(sort_by)) => {
            let descending = q
                .get("sortOrder")
                .is_some_and(|o| o.eq_ignore_ascii_case("desc"));
            // Numbers sort as numbers, everything else as its text; missing values first.
            let key = |u: &User| -> (Option<f64>, String) {
                match field(u, sort_by).first() {
                    Some(Value::Number(n)) => (n.as_f64(), String::new()),
                    Some(Value::String(t)) => (None, t.clone()),
                    Some(other) => (None, other.to_string()),
                    None => (None, String::new()),
                }
            };
            let mut sorted: Vec<&User> = org.users.values().filter(|u| keep(u)).collect();
            sorted.sort_by(|a, b| {
                let (ka, kb) = (key(a), key(b));
                ka.0.partial_cmp(&kb.0)
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then_with(|| ka.1.cmp(&kb.1))
                    .then_with(|| a.id.cmp(&b.id))
            });
            if descending {
                sorted.reverse();
            }
            let from = after
                .and_then(|a| sorted.iter().position(|u| u.id == a))
                .map_or(0, |p| p + 1);
            Box::new(sorted.into_iter().skip(from))
        }
        _ => {
            let start = match after {
                Some(a) => std::ops::Bound::Excluded(a.to_string()),
                None => std::ops::Bound::Unbounded,
            };
            Box::new(
                org.users
                    .range((start, std::ops::Bound::Unbounded))
                    .map(|(_, u)| u)
                    .filter(|u| keep(u)),
            )
        }
    };
    let mut items = Vec::new();
    let mut more = false;
    let mut last = None;
    for u in candidates {
        if items.len() == limit {
            more = true;
            break;
        }
        items.push(u.list_item(call.base));
        last = Some(u.id.clone());
    }
    // `q` does not paginate in Okta.
    let next = match (more && text.is_none(), last) {
        (true, Some(last)) => {
            let mut params: Vec<(String, String)> =
                q.pairs().filter(|(k, _)| k != "after").collect();
            params.push(("after".into(), last));
            Some(params)
        }
        _ => None,
    };
    Ok(Page::new(items, next))
}

/// `GET /api/v1/users/{idOrLogin}` with an `ETag` (and 304 on a matching `If-None-Match`).
pub(crate) fn get(
    org: &Org,
    call: &Call<'_>,
    id: &str,
    if_none_match: Option<&str>,
) -> Result<Reply, OktaError> {
    let u = find(org, id)?;
    let etag = u.etag();
    if if_none_match == Some(etag.as_str()) {
        return Ok(Reply::Empty(StatusCode::NOT_MODIFIED));
    }
    Ok(Reply::Json(
        StatusCode::OK,
        u.render(call.base, true),
        vec![("etag", etag)],
    ))
}

/// The full user, as Okta answers a write.
fn reply_user(org: &Org, call: &Call<'_>, id: &str) -> Reply {
    Reply::ok(
        org.users
            .get(id)
            .map(|u| u.render(call.base, true))
            .unwrap_or(Value::Null),
    )
}

fn event(org: &mut Org, call: &Call<'_>, id: &str, event_type: &str, display: &str) {
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
pub(crate) fn check_password(org: &Org, u: &User, password: &str) -> Result<(), OktaError> {
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

/// `POST /api/v1/users?activate=&provider=`.
pub(crate) fn create(org: &mut Org, call: &Call<'_>) -> Result<Reply, OktaError> {
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
    let mut doc =
        json!({ "profile": body.get("profile").cloned().unwrap_or(json!({})), "status": "STAGED" });
    if let Some(creds) = body.get("credentials") {
        doc["credentials"] = creds.clone();
    }
    if let Some(t) = body.get("type") {
        doc["type"] = t.clone();
    }
    let mut u =
        parse_user(&doc, id.clone(), call.now).map_err(|e| validation("user", &e.to_string()))?;
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

/// `POST /api/v1/users/{id}` (partial) and `PUT` (replace the profile).
pub(crate) fn update(
    org: &mut Org,
    call: &Call<'_>,
    id: &str,
    partial: bool,
) -> Result<Reply, OktaError> {
    let body = parse_body(call.body)?;
    let id = find_id(org, id)?;
    let mut u = org
        .users
        .get(&id)
        .cloned()
        .ok_or_else(|| user_not_found(&id))?;
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
pub(crate) fn delete(org: &mut Org, call: &Call<'_>, id: &str) -> Result<Reply, OktaError> {
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
    Ok(Reply::Empty(StatusCode::NO_CONTENT))
}

fn deactivate(org: &mut Org, call: &Call<'_>, id: &str) {
    let what = ("user.lifecycle.deactivate", "Deactivate Okta user");
    move_to(org, call, id, UserStatus::Deprovisioned, what);
}

/// `POST /api/v1/users/{id}/lifecycle/{op}`.
/// Moves a user to `to` and writes the event Okta writes for it.
fn move_to(org: &mut Org, call: &Call<'_>, id: &str, to: UserStatus, what: (&str, &str)) {
    if let Some(u) = org.users.get_mut(id) {
        u.set_status(to, call.now);
    }
    event(org, call, id, what.0, what.1);
}

/// The activation link Okta returns when it does not email it.
fn activation_link(org: &mut Org, call: &Call<'_>) -> Reply {
    let t = org.ids.alnum(20);
    Reply::ok(json!({
        "activationUrl": format!("{}/tokens/{t}/verify", call.base),
        "activationToken": t,
    }))
}

pub(crate) fn lifecycle(
    org: &mut Org,
    call: &Call<'_>,
    id: &str,
    op: &str,
) -> Result<Reply, OktaError> {
    use UserStatus as S;
    let id = find_id(org, id)?;
    let Some(u) = org.users.get(&id) else {
        return Err(user_not_found(&id));
    };
    let status = u.status;
    let okta_provider = u.provider_type == ProviderType::Okta;
    let has_password = u.password.is_some() || !okta_provider;
    let send_email = call.query.flag("sendEmail")?;
    let ok = Reply::Empty(StatusCode::OK);
    match op {
        "activate" => {
            match status {
                S::Active => {
                    return Err(OktaError::new(
                        StatusCode::FORBIDDEN,
                        "E0000016",
                        "Activation failed because the user is already active",
                    ))
                }
                S::Staged | S::Provisioned | S::Deprovisioned => {}
                _ => return Err(bad_status()),
            }
            // Without a password the user still has to finish activation.
            let to = if has_password {
                S::Active
            } else {
                S::Provisioned
            };
            move_to(
                org,
                call,
                &id,
                to,
                ("user.lifecycle.activate", "Activate Okta user"),
            );
            if send_email.unwrap_or(true) {
                return Ok(Reply::ok(json!({})));
            }
            Ok(activation_link(org, call))
        }
        "reactivate" => {
            if !matches!(status, S::Provisioned | S::Recovery) {
                return Err(bad_status());
            }
            let what = ("user.lifecycle.reactivate", "Reactivate Okta user");
            move_to(org, call, &id, S::Provisioned, what);
            Ok(activation_link(org, call))
        }
        "deactivate" => {
            if status == S::Deprovisioned {
                return Err(bad_status());
            }
            deactivate(org, call, &id);
            Ok(ok)
        }
        "reset_password" => {
            let Some(send_email) = send_email else {
                return Err(validation("sendEmail", "The field is required"));
            };
            if !matches!(
                status,
                S::Active | S::Recovery | S::PasswordExpired | S::LockedOut
            ) {
                return Err(bad_status());
            }
            if let Some(u) = org.users.get_mut(&id) {
                // Without `provider`, a reset converts the user to the OKTA provider and leaves it
                // without a usable password until the reset completes.
                u.provider_type = ProviderType::Okta;
                u.provider_name = default_provider_name(ProviderType::Okta).to_string();
                u.password = None;
            }
            let what = (
                "user.account.reset_password",
                "Fired when the user's Okta password is reset",
            );
            move_to(org, call, &id, S::Recovery, what);
            if send_email {
                return Ok(Reply::ok(json!({})));
            }
            let t = org.ids.alnum(20);
            Ok(Reply::ok(json!({
                "resetPasswordUrl": format!("{}/signin/reset-password/{t}", call.base),
            })))
        }
        "expire_password" => {
            if !matches!(status, S::Active | S::PasswordExpired) || !okta_provider {
                return Err(bad_status());
            }
            let what = (
                "user.account.expire_password",
                "User's Okta password is expired",
            );
            move_to(org, call, &id, S::PasswordExpired, what);
            Ok(reply_user(org, call, &id))
        }
        "suspend" | "unsuspend" | "unlock" => {
            let (from, to, what) = match op {
                "suspend" => (
                    S::Active,
                    S::Suspended,
                    ("user.lifecycle.suspend", "Suspend Okta user"),
                ),
                "unsuspend" => (
                    S::Suspended,
                    S::Active,
                    ("user.lifecycle.unsuspend", "Unsuspend Okta user"),
                ),
                _ => (
                    S::LockedOut,
                    S::Active,
                    ("user.account.unlock", "Unlock user account"),
                ),
            };
            if status != from {
                return Err(bad_status());
            }
            move_to(org, call, &id, to, what);
            Ok(ok)
        }
        _ => Err(not_found(op, "Operation")),
    }
}

/// `GET /api/v1/users/{id}/groups`.
pub(crate) fn groups(org: &Org, call: &Call<'_>, id: &str) -> Result<Reply, OktaError> {
    let u = find(org, id)?;
    let items: Vec<Value> = org
        .group_members
        .iter()
        .filter(|(_, m)| m.contains(&u.id))
        .filter_map(|(g, _)| org.groups.get(g))
        .map(|g| org.render_group(call.base, g))
        .collect();
    Ok(Reply::ok(Value::Array(items)))
}

/// `GET /api/v1/users/{id}/appLinks`.
pub(crate) fn app_links(org: &Org, call: &Call<'_>, id: &str) -> Result<Reply, OktaError> {
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
    Ok(Reply::ok(Value::Array(items)))
}
