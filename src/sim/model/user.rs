//! A simulated user: its state (hidden password included) and its Okta JSON, borrowed views rendered
//! straight to text for the list hot path, `_links` by status, and the ETag.
//!
//! Owns how a user looks on the API. It does not decide transitions (`users`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::{ts, ProviderType, UserStatus};

/// A user with its hidden password. The password is never rendered on the Okta API (Okta returns an
/// empty `password` object when one is set); it exists so Org2Org can sync it and so the password
/// policy can be checked.
#[derive(Clone)]
pub(crate) struct User {
    pub id: String,
    pub status: UserStatus,
    pub created: DateTime<Utc>,
    pub activated: Option<DateTime<Utc>>,
    pub status_changed: Option<DateTime<Utc>>,
    pub last_login: Option<DateTime<Utc>>,
    pub last_updated: DateTime<Utc>,
    pub password_changed: Option<DateTime<Utc>>,
    pub type_id: String,
    pub profile: Map<String, Value>,
    pub provider_type: ProviderType,
    pub provider_name: String,
    pub password: Option<String>,
    pub recovery_question: Option<String>,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("status", &self.status)
            .field("login", &self.login())
            .field("provider_type", &self.provider_type)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl User {
    pub(crate) fn login(&self) -> &str {
        self.profile
            .get("login")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// Moves the user to `status`, maintaining `statusChanged`, `activated` and `lastUpdated`.
    pub(crate) fn set_status(&mut self, status: UserStatus, at: DateTime<Utc>) {
        if self.status != status {
            self.status = status;
            self.status_changed = Some(at);
            if status == UserStatus::Active && self.activated.is_none() {
                self.activated = Some(at);
            }
        }
        self.last_updated = at;
    }

    pub(crate) fn set_password(&mut self, password: Option<String>, at: DateTime<Utc>) {
        self.password = password;
        self.password_changed = Some(at);
        self.last_updated = at;
    }

    /// The `_links` Okta returns for a single user: only the lifecycle operations valid now.
    fn links(&self, base: &str, full: bool) -> Value {
        let me = format!("{base}/api/v1/users/{}", self.id);
        let mut links = Map::new();
        links.insert("self".into(), json!({ "href": me }));
        if !full {
            return Value::Object(links);
        }
        let mut add = |name: &str, path: &str| {
            links.insert(
                name.into(),
                json!({ "href": format!("{me}/{path}"), "method": "POST" }),
            );
        };
        match self.status {
            UserStatus::Staged | UserStatus::Deprovisioned => add("activate", "lifecycle/activate"),
            UserStatus::Provisioned | UserStatus::Recovery => {
                add("reactivate", "lifecycle/reactivate")
            }
            UserStatus::Active | UserStatus::PasswordExpired | UserStatus::LockedOut => {
                add("resetPassword", "lifecycle/reset_password");
                add("expirePassword", "lifecycle/expire_password");
            }
            UserStatus::Suspended => add("unsuspend", "lifecycle/unsuspend"),
        }
        match self.status {
            UserStatus::Active => add("suspend", "lifecycle/suspend"),
            UserStatus::LockedOut => add("unlock", "lifecycle/unlock"),
            _ => {}
        }
        if self.status != UserStatus::Deprovisioned {
            add("deactivate", "lifecycle/deactivate");
        }
        links.insert(
            "schema".into(),
            json!({ "href": format!("{base}/api/v1/meta/schemas/user/{}", self.type_id) }),
        );
        links.insert(
            "type".into(),
            json!({ "href": format!("{base}/api/v1/meta/types/user/{}", self.type_id) }),
        );
        Value::Object(links)
    }

    fn view(&self, links: Value) -> UserView<'_> {
        UserView {
            id: &self.id,
            status: self.status,
            created: Ts(self.created),
            activated: self.activated.map(Ts),
            status_changed: self.status_changed.map(Ts),
            last_login: self.last_login.map(Ts),
            last_updated: Ts(self.last_updated),
            password_changed: self.password_changed.map(Ts),
            user_type: TypeRef { id: &self.type_id },
            profile: &self.profile,
            credentials: CredentialsView {
                password: self.password.as_ref().map(|_| Empty {}),
                recovery_question: self
                    .recovery_question
                    .as_deref()
                    .map(|question| Question { question }),
                provider: ProviderView {
                    kind: self.provider_type,
                    name: &self.provider_name,
                },
            },
            links,
        }
    }

    /// Okta's JSON for this user. Collections carry only the `self` link, single reads the full set.
    pub(crate) fn render(&self, base: &str, full: bool) -> Value {
        serde_json::to_value(self.view(self.links(base, full))).unwrap_or(Value::Null)
    }

    /// The same JSON as `render(base, false)`, serialised directly (the list hot path).
    pub(crate) fn list_item(&self, base: &str) -> String {
        serde_json::to_string(&self.view(self.links(base, false))).unwrap_or_default()
    }

    /// The seed-file form: Okta's JSON plus the hidden password as `credentials.password.value`.
    pub(crate) fn to_seed(&self) -> Value {
        let mut v = self.render("", false);
        if let Some(obj) = v.as_object_mut() {
            obj.remove("_links");
        }
        if let (Some(p), Some(creds)) = (&self.password, v.get_mut("credentials")) {
            creds["password"] = json!({ "value": p });
        }
        v
    }

    /// A weak validator over the user's whole API form, so it changes with any visible change, even
    /// two in the same millisecond (`lastUpdated` alone would not).
    pub(crate) fn etag(&self) -> String {
        use sha2::Digest;
        let doc = serde_json::to_string(&self.view(Value::Null)).unwrap_or_default();
        let digest = sha2::Sha256::digest(doc.as_bytes());
        format!("W/\"{}\"", &hex::encode(digest)[..16])
    }
}

/// A timestamp serialised the way Okta writes them.
struct Ts(DateTime<Utc>);

impl Serialize for Ts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&ts(self.0))
    }
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
struct TypeRef<'a> {
    id: &'a str,
}

#[derive(Serialize)]
struct Question<'a> {
    question: &'a str,
}

#[derive(Serialize)]
struct ProviderView<'a> {
    #[serde(rename = "type")]
    kind: ProviderType,
    name: &'a str,
}

#[derive(Serialize)]
struct CredentialsView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<Empty>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_question: Option<Question<'a>>,
    provider: ProviderView<'a>,
}

/// Okta's User JSON, borrowed from a [`User`].
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserView<'a> {
    id: &'a str,
    status: UserStatus,
    created: Ts,
    activated: Option<Ts>,
    status_changed: Option<Ts>,
    last_login: Option<Ts>,
    last_updated: Ts,
    password_changed: Option<Ts>,
    #[serde(rename = "type")]
    user_type: TypeRef<'a>,
    profile: &'a Map<String, Value>,
    credentials: CredentialsView<'a>,
    #[serde(rename = "_links")]
    links: Value,
}
