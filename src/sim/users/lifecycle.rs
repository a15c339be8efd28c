//! `POST /api/v1/users/{id}/lifecycle/{op}`: which status each operation accepts a user in, what it
//! moves the user to, what it answers and which event it writes.
//!
//! Owns the lifecycle transitions. It does not create, update or delete users (`users`).

use axum::http::StatusCode;
use serde_json::json;

use super::{deactivate, find_id, move_to, reply_user, user_not_found};
use crate::sim::api::Invocation;
use crate::sim::model::{Org, ProviderType, UserStatus as S};
use crate::sim::response::{bad_status, not_found, validation, Answer, ApiError};
use crate::sim::seed::default_provider_name;

/// What an operation needs to know about the user it acts on.
struct Subject {
    id: String,
    status: S,
    okta_provider: bool,
    /// A usable password, or a provider that authenticates elsewhere.
    has_password: bool,
}

/// `POST /api/v1/users/{id}/lifecycle/{op}`.
pub(crate) fn lifecycle(
    org: &mut Org,
    call: &Invocation<'_>,
    id: &str,
    op: &str,
) -> Result<Answer, ApiError> {
    let id = find_id(org, id)?;
    let Some(u) = org.users.get(&id) else {
        return Err(user_not_found(&id));
    };
    let okta_provider = u.provider_type == ProviderType::Okta;
    let who = Subject {
        status: u.status,
        okta_provider,
        has_password: u.password.is_some() || !okta_provider,
        id,
    };
    let send_email = call.query.flag("sendEmail")?;
    match op {
        "activate" => activate(org, call, &who, send_email.unwrap_or(true)),
        "reactivate" => {
            if !matches!(who.status, S::Provisioned | S::Recovery) {
                return Err(bad_status());
            }
            let what = ("user.lifecycle.reactivate", "Reactivate Okta user");
            move_to(org, call, &who.id, S::Provisioned, what);
            Ok(activation_link(org, call))
        }
        "deactivate" => {
            if who.status == S::Deprovisioned {
                return Err(bad_status());
            }
            deactivate(org, call, &who.id);
            Ok(Answer::Empty(StatusCode::OK))
        }
        "reset_password" => {
            let Some(send_email) = send_email else {
                return Err(validation("sendEmail", "The field is required"));
            };
            reset_password(org, call, &who, send_email)
        }
        "expire_password" => {
            if !matches!(who.status, S::Active | S::PasswordExpired) || !who.okta_provider {
                return Err(bad_status());
            }
            let what = (
                "user.account.expire_password",
                "User's Okta password is expired",
            );
            move_to(org, call, &who.id, S::PasswordExpired, what);
            Ok(reply_user(org, call, &who.id))
        }
        "suspend" | "unsuspend" | "unlock" => toggle(org, call, &who, op),
        _ => Err(not_found(op, "Operation")),
    }
}

/// The activation link Okta returns when it does not email it.
fn activation_link(org: &mut Org, call: &Invocation<'_>) -> Answer {
    let t = org.ids.alnum(20);
    Answer::ok(json!({
        "activationUrl": format!("{}/tokens/{t}/verify", call.base),
        "activationToken": t,
    }))
}

fn activate(
    org: &mut Org,
    call: &Invocation<'_>,
    who: &Subject,
    send_email: bool,
) -> Result<Answer, ApiError> {
    match who.status {
        S::Active => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "E0000016",
                "Activation failed because the user is already active",
            ))
        }
        S::Staged | S::Provisioned | S::Deprovisioned => {}
        _ => return Err(bad_status()),
    }
    // Without a password the user still has to finish activation.
    let to = if who.has_password {
        S::Active
    } else {
        S::Provisioned
    };
    let what = ("user.lifecycle.activate", "Activate Okta user");
    move_to(org, call, &who.id, to, what);
    if send_email {
        return Ok(Answer::ok(json!({})));
    }
    Ok(activation_link(org, call))
}

fn reset_password(
    org: &mut Org,
    call: &Invocation<'_>,
    who: &Subject,
    send_email: bool,
) -> Result<Answer, ApiError> {
    if !matches!(
        who.status,
        S::Active | S::Recovery | S::PasswordExpired | S::LockedOut
    ) {
        return Err(bad_status());
    }
    if let Some(u) = org.users.get_mut(&who.id) {
        // Without `provider`, a reset converts the user to the OKTA provider and leaves it without a
        // usable password until the reset completes.
        u.provider_type = ProviderType::Okta;
        u.provider_name = default_provider_name(ProviderType::Okta).to_string();
        u.password = None;
    }
    let what = (
        "user.account.reset_password",
        "Fired when the user's Okta password is reset",
    );
    move_to(org, call, &who.id, S::Recovery, what);
    if send_email {
        return Ok(Answer::ok(json!({})));
    }
    let t = org.ids.alnum(20);
    Ok(Answer::ok(json!({
        "resetPasswordUrl": format!("{}/signin/reset-password/{t}", call.base),
    })))
}

/// `suspend`, `unsuspend` and `unlock`: each from exactly one status to another.
fn toggle(
    org: &mut Org,
    call: &Invocation<'_>,
    who: &Subject,
    op: &str,
) -> Result<Answer, ApiError> {
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
    if who.status != from {
        return Err(bad_status());
    }
    move_to(org, call, &who.id, to, what);
    Ok(Answer::Empty(StatusCode::OK))
}
