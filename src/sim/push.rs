//! Org2Org push: what the spoke does when a user is assigned to (or retried on) its `okta_org2org`
//! app. It runs in-process against the hub's state, as the real integration calls the hub's API.
//!
//! Owns matching (by `externalId`, then by login), hub user creation with the synced password, the
//! password-sync rules (FEDERATION and non-ACTIVE hub users fail, the hub policy applies), linking, and
//! the events both orgs write, and the scheduling of a delayed push. It does not handle the HTTP call
//! that triggered it (`apps`).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::logs::{self, app_target, user_target, EventCtx, Happened};
use super::model::{now, Org, ProviderType, User, UserStatus};
use super::response::{bad_status, ApiError};
use super::runtime::Shared;
use super::users::check_password;

/// Runs each deferred push (app id, user id) after the simulator's push delay, on a task of its own,
/// unless the world was reset meanwhile or the user is no longer waiting for a push (`SYNCING`).
pub(crate) fn schedule(shared: &Arc<Shared>, pending: Vec<(String, String)>, ctx: &EventCtx) {
    for (app, user) in pending {
        let shared = Arc::clone(shared);
        let ctx = ctx.clone();
        let generation = shared.generation();
        tokio::spawn(async move {
            tokio::time::sleep(shared.push_delay).await;
            if shared.generation() != generation {
                return;
            }
            let mut world = shared.write_world();
            let (hub, spoke) = world.hub_and_spoke();
            let waiting = spoke
                .app_users
                .get(&app)
                .and_then(|m| m.get(&user))
                .is_some_and(|au| au.sync_state == "SYNCING");
            if waiting {
                push(hub, spoke, &app, &user, &ctx, now(), None);
            }
        });
    }
}

/// What one push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PushOutcome {
    /// Linked to this hub user id.
    Linked(String),
    /// Failed with this `outcome.reason`.
    Failed(String),
}

/// The hub-side actor of changes made by Org2Org: the integration's API principal.
fn org2org_actor(spoke_app_id: &str) -> Value {
    json!({
        "id": spoke_app_id,
        "type": "PublicClientApp",
        "alternateId": "Okta Org2Org",
        "displayName": "Okta Org2Org",
    })
}

/// The hub call Org2Org makes to set the password of an existing hub user.
fn set_hub_password(hub: &Org, u: &User, password: &str) -> Result<(), ApiError> {
    if u.provider_type == ProviderType::Okta && u.status != UserStatus::Active {
        return Err(bad_status());
    }
    check_password(hub, u, password)
}

/// Pushes the spoke user `user_id` of app `app_id` to the hub. `transient` makes the push fail with
/// that reason before reaching the hub (a 5xx or a connection failure, used by the generator).
pub(crate) fn push(
    hub: &mut Org,
    spoke: &mut Org,
    app_id: &str,
    user_id: &str,
    ctx: &EventCtx,
    at: DateTime<Utc>,
    transient: Option<&str>,
) -> PushOutcome {
    let Some(spoke_user) = spoke.users.get(user_id).cloned() else {
        return PushOutcome::Failed("User not found".into());
    };
    let Some(app_user) = spoke
        .app_users
        .get(app_id)
        .and_then(|m| m.get(user_id))
        .cloned()
    else {
        return PushOutcome::Failed("User is not assigned".into());
    };
    let hub_ctx = EventCtx {
        actor: org2org_actor(app_id),
        ..ctx.clone()
    };
    let matched = app_user
        .external_id
        .as_deref()
        .filter(|id| hub.users.contains_key(*id))
        .map(str::to_string)
        .or_else(|| hub.user_id(&app_user.user_name));
    let result: Result<String, ApiError> = match (transient, matched) {
        (Some(reason), _) => Err(ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "E0000009",
            reason,
        )),
        (None, Some(hub_id)) => link_existing(hub, &spoke_user, &hub_id, &hub_ctx, at),
        (None, None) => create_on_hub(hub, &spoke_user, &app_user.user_name, &hub_ctx, at),
    };
    let label = spoke.app_label(app_id);
    let targets = vec![app_target(app_id, &label), user_target(&spoke_user)];
    let outcome = settle(spoke, app_id, user_id, &spoke_user, result, at);
    let (display, failure) = match &outcome {
        PushOutcome::Linked(_) => ("Push user to external application", None),
        PushOutcome::Failed(r) => ("Push user to external application", Some(r.as_str())),
    };
    logs::write(
        spoke,
        at,
        &EventCtx::system(ctx.request_id.clone()),
        Happened {
            event_type: "application.provision.user.push",
            display,
            targets,
            failure,
        },
    );
    outcome
}

/// Records the push's result on the spoke's app user: linked and SYNCHRONIZED, or ERROR (STAGED
/// again when it was never linked).
fn settle(
    spoke: &mut Org,
    app_id: &str,
    user_id: &str,
    spoke_user: &User,
    result: Result<String, ApiError>,
    at: DateTime<Utc>,
) -> PushOutcome {
    let au = spoke
        .app_users
        .get_mut(app_id)
        .and_then(|m| m.get_mut(user_id));
    match result {
        Ok(hub_id) => {
            if let Some(au) = au {
                au.external_id = Some(hub_id.clone());
                au.set_status("PROVISIONED", at);
                au.sync_state = "SYNCHRONIZED".into();
                au.last_sync = Some(at);
                au.password_changed = spoke_user.password.as_ref().map(|_| at);
            }
            PushOutcome::Linked(hub_id)
        }
        Err(e) => {
            if let Some(au) = au {
                if au.external_id.is_none() {
                    au.set_status("STAGED", at);
                }
                au.sync_state = "ERROR".into();
                au.last_updated = at;
            }
            PushOutcome::Failed(e.reason())
        }
    }
}

fn link_existing(
    hub: &mut Org,
    spoke_user: &User,
    hub_id: &str,
    ctx: &EventCtx,
    at: DateTime<Utc>,
) -> Result<String, ApiError> {
    let Some(hub_user) = hub.users.get(hub_id) else {
        return Err(super::users::user_not_found(hub_id));
    };
    if let Some(p) = &spoke_user.password {
        set_hub_password(hub, hub_user, p)?;
    } else if hub_user.status != UserStatus::Active {
        return Err(bad_status());
    }
    let mut u = hub_user.clone();
    for key in ["firstName", "lastName", "email"] {
        if let Some(v) = spoke_user.profile.get(key) {
            u.profile.insert(key.into(), v.clone());
        }
    }
    u.last_updated = at;
    let changed_password = spoke_user.password.is_some();
    if changed_password {
        u.set_password(spoke_user.password.clone(), at);
    }
    let target = user_target(&u);
    hub.put_user(u);
    if changed_password {
        logs::write(
            hub,
            at,
            ctx,
            Happened {
                event_type: "user.account.update_password",
                display: "Update password for user",
                targets: vec![target],
                failure: None,
            },
        );
    }
    Ok(hub_id.to_string())
}

fn create_on_hub(
    hub: &mut Org,
    spoke_user: &User,
    login: &str,
    ctx: &EventCtx,
    at: DateTime<Utc>,
) -> Result<String, ApiError> {
    let mut profile = serde_json::Map::new();
    for key in ["firstName", "lastName", "email"] {
        if let Some(v) = spoke_user.profile.get(key) {
            profile.insert(key.into(), v.clone());
        }
    }
    profile.insert("login".into(), json!(login));
    let id = hub.new_id("00u");
    let user = User {
        id: id.clone(),
        status: UserStatus::Staged,
        created: at,
        activated: None,
        status_changed: None,
        last_login: None,
        last_updated: at,
        password_changed: None,
        type_id: "oty1defaultusertype0".into(),
        profile,
        provider_type: ProviderType::Okta,
        provider_name: "OKTA".into(),
        password: None,
        recovery_question: None,
    };
    if let Some(p) = &spoke_user.password {
        check_password(hub, &user, p)?;
    }
    let mut user = user;
    if spoke_user.password.is_some() {
        user.set_password(spoke_user.password.clone(), at);
        user.set_status(UserStatus::Active, at);
    } else {
        user.set_status(UserStatus::Provisioned, at);
        user.activated = Some(at);
    }
    let target = user_target(&user);
    hub.put_user(user);
    for (event_type, display) in [
        ("user.lifecycle.create", "Create Okta user"),
        ("user.lifecycle.activate", "Activate Okta user"),
    ] {
        logs::write(
            hub,
            at,
            ctx,
            Happened {
                event_type,
                display,
                targets: vec![target.clone()],
                failure: None,
            },
        );
    }
    Ok(id)
}
