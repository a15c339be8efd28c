//! `remedy restore`: recreating a deleted hub user from its journal backup, for a delete-recreate
//! that did not complete.

use serde::Serialize;
use serde_json::{json, Value};

use super::journal::{Journal, JournalError};
use super::recreate::backup_groups;
use crate::okta::{GroupId, JsonModel, OktaApi, OktaError};

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
    Ok(Restored {
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

/// What `restore` recreated.
#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    /// The new user's id.
    pub id: String,
    pub status: String,
    /// Groups asked for in the create request (`groupIds`).
    pub groups: usize,
    /// The provider type the user was recreated with (the backup's).
    pub provider: String,
    pub request_id: Option<String>,
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
