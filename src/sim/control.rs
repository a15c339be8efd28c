//! The `/__sim/` test-control API and its in-process twins on [`super::Sim`]: complete a password
//! reset, change a user behind the tool's back, read request records and counters, dump and reset
//! state, set faults, add trickled assignments, read event hook deliveries.
//!
//! Control calls need the org's SSWS token but are neither recorded as Okta requests nor rate limited.
//! This module does not serve Okta paths (`api`).

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::logs::{self, user_target, Happened};
use super::model::{now, OrgName, UserStatus};
use super::route::decode_segment;
use super::runtime::Shared;
use super::seed::{dump_org, parse_user};
use super::{Faults, SimError};

fn merge_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// RECOVERY / PASSWORD_EXPIRED / PROVISIONED → ACTIVE with `password` (or a generated compliant one).
/// Writes what Okta writes when the user sets the password: `user.account.update_password`, and
/// `user.lifecycle.activate` when that also activates a PROVISIONED user (a user recovering from a
/// reset or an expired password was active already, and Okta writes no lifecycle event for it).
pub(crate) fn complete_reset(
    shared: &Shared,
    org_name: OrgName,
    id_or_login: &str,
    password: Option<String>,
) -> Result<(), SimError> {
    let generated = format!("Sim-{}-9a", shared.runtime(org_name).random(12));
    let mut world = shared.write_world();
    let org = world.org_mut(org_name);
    let id = org
        .user_id(id_or_login)
        .ok_or_else(|| SimError::NoUser(id_or_login.to_string(), org_name))?;
    let Some(user) = org.users.get(&id) else {
        return Err(SimError::NoUser(id_or_login.to_string(), org_name));
    };
    if !matches!(
        user.status,
        UserStatus::Recovery | UserStatus::PasswordExpired | UserStatus::Provisioned
    ) {
        return Err(SimError::NotResetting(id_or_login.to_string()));
    }
    let activates = user.status == UserStatus::Provisioned;
    let password = password.unwrap_or(generated);
    if let Some(v) = org.policy.violation(&password, user.login()) {
        return Err(SimError::Patch(v));
    }
    let at = now();
    let mut u = user.clone();
    u.set_password(Some(password), at);
    u.set_status(UserStatus::Active, at);
    let target = user_target(&u);
    org.put_user(u);
    let request_id = shared.runtime(org_name).random(27);
    let mut ctx = logs::EventCtx::system(request_id);
    ctx.actor = json!({
        "id": target["id"], "type": "User",
        "alternateId": target["alternateId"], "displayName": target["displayName"],
    });
    logs::write(
        org,
        at,
        &ctx,
        Happened {
            event_type: "user.account.update_password",
            display: "User update password for Okta",
            targets: vec![target.clone()],
            failure: None,
        },
    );
    if activates {
        logs::write(
            org,
            at,
            &ctx,
            Happened {
                event_type: "user.lifecycle.activate",
                display: "Activate Okta user",
                targets: vec![target],
                failure: None,
            },
        );
    }
    Ok(())
}

/// Applies a JSON merge patch to a user's seed form and bumps `lastUpdated` (and `statusChanged` /
/// `passwordChanged` when those change), unless the patch sets them itself.
pub(crate) fn patch_user(
    shared: &Shared,
    org_name: OrgName,
    id_or_login: &str,
    patch: &Value,
) -> Result<(), SimError> {
    if !patch.is_object() {
        return Err(SimError::Patch("the patch must be a JSON object".into()));
    }
    let mut world = shared.write_world();
    let org = world.org_mut(org_name);
    let id = org
        .user_id(id_or_login)
        .ok_or_else(|| SimError::NoUser(id_or_login.to_string(), org_name))?;
    let Some(old) = org.users.get(&id) else {
        return Err(SimError::NoUser(id_or_login.to_string(), org_name));
    };
    let mut doc = old.to_seed();
    merge_patch(&mut doc, patch);
    doc["id"] = json!(id);
    let at = now();
    let mut u = parse_user(&doc, id.clone(), at).map_err(|e| SimError::Patch(e.to_string()))?;
    if org.login_taken(u.login(), Some(&id)) {
        return Err(SimError::Patch(format!("login `{}` is taken", u.login())));
    }
    let sets = |k: &str| patch.get(k).is_some();
    if !sets("lastUpdated") {
        u.last_updated = at;
    }
    if u.status != old.status && !sets("statusChanged") {
        u.status_changed = Some(at);
    }
    if u.password != old.password && !sets("passwordChanged") {
        u.password_changed = Some(at);
    }
    org.put_user(u);
    Ok(())
}

pub(crate) fn dump(shared: &Shared, org: OrgName) -> Value {
    let world = shared.read_world();
    serde_json::to_value(dump_org(world.org(org))).unwrap_or(Value::Null)
}

fn reply(status: StatusCode, body: Value) -> Response {
    let mut r = (status, serde_json::to_vec(&body).unwrap_or_default()).into_response();
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    r
}

fn fail(status: StatusCode, message: &str) -> Response {
    reply(status, json!({ "error": message }))
}

fn sim_error(e: SimError) -> Response {
    let status = match e {
        SimError::NoUser(..) => StatusCode::NOT_FOUND,
        _ => StatusCode::BAD_REQUEST,
    };
    fail(status, &e.to_string())
}

/// Faults from a control request's body, read and checked (rates 0-1, bounded latency).
fn checked_faults(body: Value) -> Result<Faults, String> {
    let faults = serde_json::from_value::<Faults>(body).map_err(|e| e.to_string())?;
    faults.validate().map_err(|e| e.to_string())?;
    Ok(faults)
}

/// Serves one `/__sim/` request.
pub(crate) fn handle(
    shared: &Shared,
    org: OrgName,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let rt = shared.runtime(org);
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("SSWS "))
        .is_some_and(|t| t == rt.token);
    if !authorized {
        return fail(StatusCode::UNAUTHORIZED, "the org's SSWS token is required");
    }
    // Decoded like Okta's own path parameters, so a login may be sent percent-encoded here too.
    let segs: Vec<String> = path
        .trim_end_matches('/')
        .split('/')
        .skip(2)
        .map(decode_segment)
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    match (method.as_str(), segs.as_slice()) {
        ("GET", ["requests"]) => reply(
            StatusCode::OK,
            serde_json::to_value(rt.requests()).unwrap_or(Value::Null),
        ),
        ("GET", ["counters"]) => reply(
            StatusCode::OK,
            serde_json::to_value(rt.counters()).unwrap_or(Value::Null),
        ),
        ("GET", ["state"]) => reply(StatusCode::OK, dump(shared, org)),
        ("GET", ["hook_deliveries"]) => reply(
            StatusCode::OK,
            serde_json::to_value(shared.activity.hooks.deliveries()).unwrap_or(Value::Null),
        ),
        ("POST", ["reset"]) => {
            shared.reset();
            done()
        }
        ("POST", rest) => match json_body(body) {
            Ok(body) => post(shared, org, rest, &body),
            Err(m) => fail(StatusCode::BAD_REQUEST, &m),
        },
        _ => fail(StatusCode::NOT_FOUND, "no such control endpoint"),
    }
}

/// A control request's JSON body; an empty one is `{}`.
fn json_body(body: &[u8]) -> Result<Value, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))
}

fn done() -> Response {
    reply(StatusCode::OK, json!({ "ok": true }))
}

/// `POST /__sim/trickle` with `{"count": N}` (default 1): adds N failing assignments now and answers
/// `{"added": [{"hubUserId", "login", "spokeUserId"}...]}`.
fn trickle(shared: &Shared, body: &Value) -> Response {
    let count = match &body["count"] {
        Value::Null => 1,
        v => match v.as_u64().and_then(|n| usize::try_from(n).ok()) {
            Some(n) => n,
            None => return fail(StatusCode::BAD_REQUEST, "`count` must be a whole number"),
        },
    };
    match super::trickle::add(shared, count) {
        Ok(made) => {
            let added: Vec<Value> = made
                .iter()
                .map(|c| {
                    json!({
                        "hubUserId": c.hub_user_id,
                        "login": c.login,
                        "spokeUserId": c.spoke_user_id,
                    })
                })
                .collect();
            reply(StatusCode::OK, json!({ "added": added }))
        }
        Err(e) => sim_error(e),
    }
}

/// The control calls that take a JSON body.
fn post(shared: &Shared, org: OrgName, segs: &[&str], body: &Value) -> Response {
    let outcome = match segs {
        ["users", user, "complete_reset"] => {
            let password = body["password"].as_str().map(str::to_string);
            complete_reset(shared, org, user, password)
        }
        ["users", user, "patch"] => patch_user(shared, org, user, body),
        ["trickle"] => return trickle(shared, body),
        ["faults"] => {
            return match checked_faults(body.clone()) {
                Ok(f) => {
                    shared.runtime(org).set_faults(f);
                    done()
                }
                Err(e) => fail(StatusCode::BAD_REQUEST, &format!("invalid faults: {e}")),
            }
        }
        _ => return fail(StatusCode::NOT_FOUND, "no such control endpoint"),
    };
    match outcome {
        Ok(()) => done(),
        Err(e) => sim_error(e),
    }
}
