//! Typed Okta resources (User, AppUser, Application, Group, AppLink, LogEvent) and the request bodies the
//! client sends. Every resource keeps the fields it does not type in `extra`, so a value read from Okta
//! and written back (a backup, a snapshot) loses nothing, and converts to and from `serde_json::Value`
//! losslessly. Fields Okta may send as `null` are deliberately left in `extra` and read through accessor
//! methods: typing them as `Option` would turn `null` into "absent" on the way back.
//!
//! This module does no I/O and knows nothing about HTTP.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::secret::Secret;

macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// The id as Okta spells it.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_string())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

id_newtype!(
    /// An Okta user id (`00u…`).
    UserId
);
id_newtype!(
    /// An Okta application instance id (`0oa…`).
    AppId
);
id_newtype!(
    /// An Okta group id (`00g…`).
    GroupId
);

/// Lossless conversion between a typed resource and JSON.
pub trait JsonModel: Serialize + DeserializeOwned {
    /// The resource as JSON, including every field Okta sent.
    fn to_value(&self) -> Value {
        // Serialising these plain structs cannot fail: keys are strings and there are no custom
        // serialisers that error.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Reads the resource from JSON.
    fn from_value(value: Value) -> Result<Self, serde_json::Error> {
        serde_json::from_value(value)
    }
}

fn str_field<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Value::as_str)
}

/// A user's status. Unknown statuses Okta may add are kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum UserStatus {
    Staged,
    Provisioned,
    Active,
    Recovery,
    PasswordExpired,
    LockedOut,
    Suspended,
    Deprovisioned,
    Other(String),
}

impl UserStatus {
    /// The status as Okta spells it (`PASSWORD_EXPIRED`).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Staged => "STAGED",
            Self::Provisioned => "PROVISIONED",
            Self::Active => "ACTIVE",
            Self::Recovery => "RECOVERY",
            Self::PasswordExpired => "PASSWORD_EXPIRED",
            Self::LockedOut => "LOCKED_OUT",
            Self::Suspended => "SUSPENDED",
            Self::Deprovisioned => "DEPROVISIONED",
            Self::Other(s) => s,
        }
    }
}

impl From<String> for UserStatus {
    fn from(s: String) -> Self {
        match s.as_str() {
            "STAGED" => Self::Staged,
            "PROVISIONED" => Self::Provisioned,
            "ACTIVE" => Self::Active,
            "RECOVERY" => Self::Recovery,
            "PASSWORD_EXPIRED" => Self::PasswordExpired,
            "LOCKED_OUT" => Self::LockedOut,
            "SUSPENDED" => Self::Suspended,
            "DEPROVISIONED" => Self::Deprovisioned,
            _ => Self::Other(s),
        }
    }
}

impl From<UserStatus> for String {
    fn from(s: UserStatus) -> Self {
        s.as_str().to_string()
    }
}

impl fmt::Display for UserStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who holds a user's credentials (`credentials.provider.type`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum ProviderType {
    Okta,
    Federation,
    ActiveDirectory,
    Ldap,
    Social,
    Import,
    Other(String),
}

impl ProviderType {
    /// The type as Okta spells it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Okta => "OKTA",
            Self::Federation => "FEDERATION",
            Self::ActiveDirectory => "ACTIVE_DIRECTORY",
            Self::Ldap => "LDAP",
            Self::Social => "SOCIAL",
            Self::Import => "IMPORT",
            Self::Other(s) => s,
        }
    }
}

impl From<String> for ProviderType {
    fn from(s: String) -> Self {
        match s.as_str() {
            "OKTA" => Self::Okta,
            "FEDERATION" => Self::Federation,
            "ACTIVE_DIRECTORY" => Self::ActiveDirectory,
            "LDAP" => Self::Ldap,
            "SOCIAL" => Self::Social,
            "IMPORT" => Self::Import,
            _ => Self::Other(s),
        }
    }
}

impl From<ProviderType> for String {
    fn from(s: ProviderType) -> Self {
        s.as_str().to_string()
    }
}

/// `credentials.provider`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provider {
    #[serde(rename = "type")]
    pub kind: ProviderType,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Provider {
    /// `credentials.provider.name` (`OKTA`, an IdP or directory name).
    pub fn name(&self) -> Option<&str> {
        str_field(&self.extra, "name")
    }
}

/// A user's `credentials`. Okta never returns password values; `extra` keeps `password: {}`,
/// `recovery_question`, `emails` and anything else.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Credentials {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<Provider>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A user's `profile`. Only `login` is always present; the rest (email, names, custom attributes) stay
/// in `extra` and are read through accessors.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Profile {
    pub login: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Profile {
    /// `profile.email`.
    pub fn email(&self) -> Option<&str> {
        str_field(&self.extra, "email")
    }
    /// `profile.firstName`.
    pub fn first_name(&self) -> Option<&str> {
        str_field(&self.extra, "firstName")
    }
    /// `profile.lastName`.
    pub fn last_name(&self) -> Option<&str> {
        str_field(&self.extra, "lastName")
    }
    /// Any profile attribute.
    pub fn get(&self, key: &str) -> Option<&Value> {
        if key == "login" {
            None
        } else {
            self.extra.get(key)
        }
    }
}

/// An Okta user (`User` in the spec).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: UserId,
    pub status: UserStatus,
    pub profile: Profile,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Credentials>,
    /// `created`, `activated`, `statusChanged`, `lastLogin`, `lastUpdated`, `passwordChanged`, `type`,
    /// `_links`, `_embedded`, and whatever Okta adds.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl JsonModel for User {}

impl User {
    /// `credentials.provider.type`, when Okta sent it.
    pub fn provider_type(&self) -> Option<&ProviderType> {
        self.credentials
            .as_ref()?
            .provider
            .as_ref()
            .map(|p| &p.kind)
    }
    /// `lastUpdated` (RFC 3339), the field a precondition compares to detect drift.
    pub fn last_updated(&self) -> Option<&str> {
        str_field(&self.extra, "lastUpdated")
    }
    /// `statusChanged` (RFC 3339), `None` when absent or null.
    pub fn status_changed(&self) -> Option<&str> {
        str_field(&self.extra, "statusChanged")
    }
    /// `passwordChanged` (RFC 3339), `None` when absent or null.
    pub fn password_changed(&self) -> Option<&str> {
        str_field(&self.extra, "passwordChanged")
    }
    /// `created` (RFC 3339).
    pub fn created(&self) -> Option<&str> {
        str_field(&self.extra, "created")
    }
    /// `type.id`, the user type.
    pub fn type_id(&self) -> Option<&str> {
        self.extra.get("type")?.get("id")?.as_str()
    }
}

/// An application assignment (`AppUser` in the spec), with the user embedded under `_embedded.user`
/// when listed with `expand=user`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppUser {
    pub id: UserId,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl JsonModel for AppUser {}

impl AppUser {
    /// `status` (`ACTIVE`, `PROVISIONED`, ...).
    pub fn status(&self) -> Option<&str> {
        str_field(&self.extra, "status")
    }
    /// `syncState` (`SYNCHRONIZED`, `ERROR`, `STAGED`...).
    pub fn sync_state(&self) -> Option<&str> {
        str_field(&self.extra, "syncState")
    }
    /// `externalId`: the id of the linked user in the target, `None` when absent or null.
    pub fn external_id(&self) -> Option<&str> {
        str_field(&self.extra, "externalId")
    }
    /// `scope`: `USER` (individual) or `GROUP`.
    pub fn scope(&self) -> Option<&str> {
        str_field(&self.extra, "scope")
    }
    /// `lastUpdated` (RFC 3339).
    pub fn last_updated(&self) -> Option<&str> {
        str_field(&self.extra, "lastUpdated")
    }
    /// `profile` of the assignment (app-specific attributes).
    pub fn profile(&self) -> Option<&Map<String, Value>> {
        self.extra.get("profile")?.as_object()
    }
    /// `credentials.userName`, the app user name (the login used in the target).
    pub fn user_name(&self) -> Option<&str> {
        self.extra.get("credentials")?.get("userName")?.as_str()
    }
    /// The user embedded by `expand=user`, when present and well formed.
    pub fn embedded_user(&self) -> Option<User> {
        let user = self.extra.get("_embedded")?.get("user")?;
        serde_json::from_value(user.clone()).ok()
    }
}

/// An application instance (`Application` in the spec; Org2Org is `okta_org2org`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    pub id: AppId,
    /// The app's API name (`okta_org2org`).
    pub name: String,
    pub label: String,
    pub status: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl JsonModel for Application {}

/// A group (`Group` in the spec).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub id: GroupId,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl JsonModel for Group {}

/// A group rule (`GET /api/v1/groups/rules`): while `ACTIVE`, Okta adds the users its expression
/// selects to its groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupRule {
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl JsonModel for GroupRule {}

impl GroupRule {
    /// Whether the rule is `ACTIVE` (an `INACTIVE` or `INVALID` rule assigns nothing).
    pub fn is_active(&self) -> bool {
        str_field(&self.extra, "status") == Some("ACTIVE")
    }

    /// `actions.assignUserToGroups.groupIds`.
    pub fn group_ids(&self) -> Vec<GroupId> {
        self.extra
            .get("actions")
            .and_then(|a| a.pointer("/assignUserToGroups/groupIds"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|g| GroupId(g.to_string()))
            .collect()
    }
}

impl Group {
    /// `profile.name`.
    pub fn name(&self) -> Option<&str> {
        self.extra.get("profile")?.get("name")?.as_str()
    }
    /// `type` (`OKTA_GROUP`, `APP_GROUP`, `BUILT_IN`).
    pub fn kind(&self) -> Option<&str> {
        str_field(&self.extra, "type")
    }
}

/// A user's app link (`AppLink` in the spec): what the user sees on the dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppLink {
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl JsonModel for AppLink {}

impl AppLink {
    /// `appInstanceId`: the application's id.
    pub fn app_instance_id(&self) -> Option<&str> {
        str_field(&self.extra, "appInstanceId")
    }
    /// `appName`.
    pub fn app_name(&self) -> Option<&str> {
        str_field(&self.extra, "appName")
    }
    /// `label`.
    pub fn label(&self) -> Option<&str> {
        str_field(&self.extra, "label")
    }
}

/// A System Log event (`LogEvent` in the spec).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEvent {
    pub uuid: String,
    pub published: String,
    pub event_type: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl JsonModel for LogEvent {}

impl LogEvent {
    /// `outcome.result` (`SUCCESS`, `FAILURE`, ...).
    pub fn outcome_result(&self) -> Option<&str> {
        self.extra.get("outcome")?.get("result")?.as_str()
    }
    /// `outcome.reason`, where Org2Org writes the provisioning error text.
    pub fn outcome_reason(&self) -> Option<&str> {
        self.extra.get("outcome")?.get("reason")?.as_str()
    }
    /// `target[]`.
    pub fn targets(&self) -> &[Value] {
        self.extra
            .get("target")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
    /// `actor`.
    pub fn actor(&self) -> Option<&Value> {
        self.extra.get("actor")
    }
}

/// The body of `POST /api/v1/users` (`CreateUserRequest` in the spec). Passwords in `credentials`
/// travel only in the body, which the client never logs.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewUser {
    pub profile: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_ids: Vec<GroupId>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub user_type: Option<Value>,
    /// Sends `provider=true`: Okta creates a user whose `credentials.provider` is not OKTA (e.g.
    /// FEDERATION) only with it. Not part of the body.
    #[serde(skip)]
    pub provider: bool,
}

/// The body of `POST /api/v1/apps/{appId}/users` (`AppUserAssignRequest` in the spec).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppUserAssignment {
    pub id: UserId,
    /// `USER` for an individual assignment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<Map<String, Value>>,
}

/// The result of `reset_password`. With `sendEmail=false` Okta returns a one-time `resetPasswordUrl`,
/// which is a credential: it stays a [`Secret`].
#[derive(Debug, Clone, PartialEq)]
pub struct ResetOutcome {
    pub reset_password_url: Option<Secret>,
    pub request_id: Option<String>,
}

/// The result of `activate_user`. With `sendEmail=false` Okta returns an activation URL and token,
/// both credentials.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivateOutcome {
    pub activation_url: Option<Secret>,
    pub activation_token: Option<Secret>,
    pub request_id: Option<String>,
}

/// A value read from Okta with the response metadata the executor needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched<T> {
    pub value: T,
    /// The `ETag` header, usable as `If-Match` on a later update.
    pub etag: Option<String>,
    /// The `X-Okta-Request-Id` header, recorded in the audit log.
    pub request_id: Option<String>,
}

/// One page of a paginated list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub request_id: Option<String>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn okta_user() -> Value {
        json!({
            "id": "00u1", "status": "ACTIVE", "created": "2024-01-01T00:00:00.000Z", "activated": null,
            "statusChanged": null, "lastLogin": null, "lastUpdated": "2024-01-02T00:00:00.000Z",
            "passwordChanged": null, "type": {"id": "oty1"},
            "profile": {"login": "a@example.com", "email": "a@example.com", "firstName": null, "costCenter": 7},
            "credentials": {"password": {}, "provider": {"type": "FEDERATION", "name": "FEDERATION"}, "futureField": [1]},
            "_links": {"self": {"href": "https://x/api/v1/users/00u1"}},
            "brandNewField": {"nested": true}
        })
    }

    #[test]
    fn user_round_trips_losslessly_including_nulls_and_unknown_fields() {
        let v = okta_user();
        let u = User::from_value(v.clone()).unwrap();
        assert_eq!(u.provider_type(), Some(&ProviderType::Federation));
        assert_eq!(u.status, UserStatus::Active);
        assert_eq!(u.type_id(), Some("oty1"));
        assert_eq!(u.status_changed(), None);
        assert_eq!(u.to_value(), v);
    }

    #[test]
    fn unknown_enum_values_are_kept() {
        let mut v = okta_user();
        v["status"] = json!("SOMETHING_NEW");
        v["credentials"]["provider"]["type"] = json!("NEW_PROVIDER");
        let u = User::from_value(v.clone()).unwrap();
        assert_eq!(u.status, UserStatus::Other("SOMETHING_NEW".into()));
        assert_eq!(u.to_value(), v);
    }

    #[test]
    fn app_user_accessors_and_round_trip() {
        let v = json!({"id": "00u1", "externalId": null, "syncState": "ERROR", "scope": "USER", "status": "PROVISIONED",
            "credentials": {"userName": "a@example.com"}, "profile": {}, "_embedded": {"user": okta_user()}});
        let a = AppUser::from_value(v.clone()).unwrap();
        assert_eq!(a.sync_state(), Some("ERROR"));
        assert_eq!(a.external_id(), None);
        assert_eq!(a.user_name(), Some("a@example.com"));
        assert_eq!(a.embedded_user().map(|u| u.id), Some(UserId::from("00u1")));
        assert_eq!(a.to_value(), v);
    }

    #[test]
    fn log_event_accessors() {
        let v = json!({"uuid": "e1", "published": "2024-01-01T00:00:00.000Z", "eventType": "application.provision.user.push",
            "outcome": {"result": "FAILURE", "reason": "Api validation failed: password (password: Password)"},
            "target": [{"id": "00u1"}], "actor": {"id": "0oa1"}});
        let e = LogEvent::from_value(v.clone()).unwrap();
        assert_eq!(e.outcome_result(), Some("FAILURE"));
        assert_eq!(e.targets().len(), 1);
        assert_eq!(e.to_value(), v);
    }
}
