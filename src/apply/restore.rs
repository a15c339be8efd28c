//! `remedy restore`: recreating a deleted hub user from its journal backup, for a delete-recreate
//! that did not complete: profile, type, provider, direct group memberships and app assignments (from
//! the backup's app links). Enrolled factors cannot be restored through Okta's API: the user enrolls
//! again, and `restore` says so.

use serde::Serialize;
use serde_json::{json, Value};

use super::journal::{Journal, JournalError};
use super::recreate::{backup_groups, rule_groups};
use crate::okta::{AppId, AppUserAssignment, GroupId, JsonModel, OktaApi, OktaError, UserId};

/// What `restore` cannot give back, said on every restore.
pub const NOT_RESTORABLE: &str = "enrolled factors (MFA) cannot be restored through Okta's API: \
the user enrolls them again at the next sign-in";

/// Recreates a deleted user from its journal backup (profile, provider type, groups), for a recreate
/// that did not complete.
pub async fn restore<H: OktaApi>(
    hub: &H,
    journal: &Journal,
    login: &str,
) -> Result<Restored, RestoreError> {
    let backup = journal
        .backup_by_login(login)?
        .ok_or_else(|| RestoreError::NoBackup(login.to_string()))?;
    let user = backup.body.get("user").cloned().unwrap_or(Value::Null);
    if let Some(existing) = hub.get_user(login).await? {
        return Err(RestoreError::Exists(login.to_string(), existing.value.id.0));
    }
    let profile = user
        .get("profile")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    // The backup's provider is kept; Okta needs `?provider=true` to create a non-OKTA one.
    let provider = user.pointer("/credentials/provider").cloned();
    let non_okta = provider
        .as_ref()
        .and_then(|p| p.get("type"))
        .and_then(Value::as_str)
        .is_some_and(|t| t != "OKTA");
    let new_user = crate::okta::NewUser {
        profile,
        provider: non_okta,
        credentials: provider.map(|p| json!({ "provider": p })),
        group_ids: backup_groups(&backup.body)
            .into_iter()
            .map(|(id, _)| GroupId(id))
            .collect(),
        user_type: user.get("type").cloned(),
    };
    let activate = user.get("status").and_then(Value::as_str) != Some("STAGED");
    let groups = new_user.group_ids.len();
    let created = hub.create_user(&new_user, activate).await?;
    let (apps, apps_failed) = reassign_apps(hub, &created.value.id, &backup.body).await;
    Ok(Restored {
        groups_by_rule: rule_groups(&backup.body).len(),
        apps,
        apps_failed,
        not_restored: NOT_RESTORABLE,
        id: created.value.id.0.clone(),
        status: created
            .value
            .to_value()
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string(),
        groups,
        provider: created
            .value
            .to_value()
            .pointer("/credentials/provider/type")
            .and_then(Value::as_str)
            .unwrap_or("OKTA")
            .to_string(),
        request_id: created.request_id.clone(),
    })
}

/// Assigns the recreated user `id` to each app of the backup's app links (once per app, as an
/// individual `USER` assignment): the ids assigned, and the apps whose assignment failed with why.
/// A failure does not stop the others: the user exists by now, and each app is reported.
async fn reassign_apps<H: OktaApi>(
    hub: &H,
    id: &UserId,
    backup: &Value,
) -> (Vec<String>, Vec<AppNotRestored>) {
    let mut apps: Vec<String> = backup
        .get("app_links")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|l| l.get("appInstanceId").and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    apps.sort();
    apps.dedup();
    let (mut done, mut failed) = (Vec::new(), Vec::new());
    for app in apps {
        let assignment = AppUserAssignment {
            id: id.clone(),
            scope: Some("USER".into()),
            credentials: None,
            profile: None,
        };
        match hub.assign_app_user(&AppId(app.clone()), &assignment).await {
            Ok(_) => done.push(app),
            Err(e) => failed.push(AppNotRestored {
                app,
                error: e.to_string(),
            }),
        }
    }
    (done, failed)
}

/// An app assignment of the backup that could not be made again.
#[derive(Debug, Clone, Serialize)]
pub struct AppNotRestored {
    pub app: String,
    pub error: String,
}

/// What `restore` recreated.
#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    /// The new user's id.
    pub id: String,
    pub status: String,
    /// Groups asked for in the create request (`groupIds`).
    pub groups: usize,
    /// Groups of the backup that an active group rule filled: not asked for, the rule adds the
    /// user again.
    pub groups_by_rule: usize,
    /// The provider type the user was recreated with (the backup's).
    pub provider: String,
    pub request_id: Option<String>,
    /// Apps the user was assigned to again (ids), from the backup's app links.
    pub apps: Vec<String>,
    /// Apps of the backup whose assignment failed, with Okta's error.
    pub apps_failed: Vec<AppNotRestored>,
    /// What no API restores ([`NOT_RESTORABLE`]).
    pub not_restored: &'static str,
}

/// Why a restore failed.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Okta(#[from] OktaError),
    #[error("the journal has no backup of `{0}`")]
    NoBackup(String),
    #[error("`{0}` exists in the hub already (id {1}); nothing to restore")]
    Exists(String, String),
}
