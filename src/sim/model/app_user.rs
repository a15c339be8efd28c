//! A simulated app user (an assignment), with Okta's AppUser JSON.
//!
//! Owns how an assignment looks on the API. It does not assign or push (`apps`, `push`).

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::ts;

/// App user status strings and sync states are kept as Okta spells them.
#[derive(Debug, Clone)]
pub(crate) struct AppUser {
    pub id: String,
    pub external_id: Option<String>,
    pub created: DateTime<Utc>,
    pub last_updated: DateTime<Utc>,
    pub status_changed: DateTime<Utc>,
    pub password_changed: Option<DateTime<Utc>>,
    pub last_sync: Option<DateTime<Utc>>,
    pub scope: String,
    pub status: String,
    pub sync_state: String,
    pub user_name: String,
    pub profile: Map<String, Value>,
}

impl AppUser {
    pub(crate) fn set_status(&mut self, status: &str, at: DateTime<Utc>) {
        if self.status != status {
            self.status = status.to_string();
            self.status_changed = at;
        }
        self.last_updated = at;
    }

    pub(crate) fn render(&self, base: &str, app_id: &str) -> Value {
        let mut v = json!({
            "id": self.id,
            "externalId": self.external_id,
            "created": ts(self.created),
            "lastUpdated": ts(self.last_updated),
            "scope": self.scope,
            "status": self.status,
            "statusChanged": ts(self.status_changed),
            "passwordChanged": self.password_changed.map(ts),
            "syncState": self.sync_state,
            "lastSync": self.last_sync.map(ts),
            "credentials": { "userName": self.user_name, "password": {} },
            "profile": self.profile,
            "_links": {
                "app": { "href": format!("{base}/api/v1/apps/{app_id}") },
                "user": { "href": format!("{base}/api/v1/users/{}", self.id) },
                "group": null,
            },
        });
        if let Some(obj) = v.as_object_mut() {
            // Okta omits these rather than sending null.
            for key in ["externalId", "lastSync"] {
                if obj.get(key).is_some_and(Value::is_null) {
                    obj.remove(key);
                }
            }
            if let Some(links) = obj.get_mut("_links").and_then(Value::as_object_mut) {
                links.remove("group");
            }
        }
        v
    }
}
