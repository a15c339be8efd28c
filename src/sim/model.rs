//! In-memory state of one simulated org: users, groups, apps, app users, System Log and the password
//! policy, with Okta-shaped rendering of each object.
//!
//! Owns the data model and the rules that keep it consistent (login index, timestamps, ids). It does
//! not know about HTTP, rate limits or authentication (`api`), nor about Org2Org push (`push`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, SecondsFormat, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Which of the two simulated orgs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrgName {
    /// The target org that holds the users Org2Org pushes into.
    Hub,
    /// The source org that holds the Org2Org app, its assignments and their failures.
    Spoke,
}

impl OrgName {
    pub(crate) fn index(self) -> usize {
        match self {
            OrgName::Hub => 0,
            OrgName::Spoke => 1,
        }
    }
}

impl std::fmt::Display for OrgName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OrgName::Hub => "hub",
            OrgName::Spoke => "spoke",
        })
    }
}

/// Okta renders every timestamp as RFC 3339 UTC with milliseconds and a `Z`.
pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The current time truncated to milliseconds, so a rendered and re-parsed timestamp compares equal.
pub(crate) fn now() -> DateTime<Utc> {
    let t = Utc::now();
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

/// User status, as in the spec's `UserStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserStatus {
    Active,
    Deprovisioned,
    LockedOut,
    PasswordExpired,
    Provisioned,
    Recovery,
    Staged,
    Suspended,
}

impl UserStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "ACTIVE",
            UserStatus::Deprovisioned => "DEPROVISIONED",
            UserStatus::LockedOut => "LOCKED_OUT",
            UserStatus::PasswordExpired => "PASSWORD_EXPIRED",
            UserStatus::Provisioned => "PROVISIONED",
            UserStatus::Recovery => "RECOVERY",
            UserStatus::Staged => "STAGED",
            UserStatus::Suspended => "SUSPENDED",
        }
    }
}

/// Authentication provider type, as in the spec's `AuthenticationProviderType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProviderType {
    ActiveDirectory,
    Federation,
    Import,
    Ldap,
    Okta,
    Social,
}

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

    /// A weak validator for an ETag: Okta changes it whenever `lastUpdated` changes.
    pub(crate) fn etag(&self) -> String {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(format!("{}:{}", self.id, ts(self.last_updated)));
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

/// The hub's password policy, checked when a password is set (by Org2Org push or an update).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub min_lower_case: usize,
    pub min_upper_case: usize,
    pub min_number: usize,
    pub min_symbol: usize,
    pub exclude_username: bool,
}

impl Default for PasswordPolicy {
    /// Okta's default policy for the Okta password authenticator.
    fn default() -> Self {
        PasswordPolicy {
            min_length: 8,
            min_lower_case: 1,
            min_upper_case: 1,
            min_number: 1,
            min_symbol: 0,
            exclude_username: true,
        }
    }
}

impl PasswordPolicy {
    /// The cause Okta reports when a password breaks the policy, or None when it complies.
    pub(crate) fn violation(&self, password: &str, login: &str) -> Option<String> {
        let count = |f: fn(&char) -> bool| password.chars().filter(f).count();
        let username = login.split('@').next().unwrap_or("").to_lowercase();
        let ok = password.chars().count() >= self.min_length
            && count(char::is_ascii_lowercase) >= self.min_lower_case
            && count(char::is_ascii_uppercase) >= self.min_upper_case
            && count(char::is_ascii_digit) >= self.min_number
            && count(|c| !c.is_ascii_alphanumeric()) >= self.min_symbol
            && !(self.exclude_username
                && !username.is_empty()
                && password.to_lowercase().contains(&username));
        if ok {
            return None;
        }
        let mut parts = vec![format!("at least {} characters", self.min_length)];
        if self.min_lower_case > 0 {
            parts.push("a lowercase letter".into());
        }
        if self.min_upper_case > 0 {
            parts.push("an uppercase letter".into());
        }
        if self.min_number > 0 {
            parts.push("a number".into());
        }
        if self.min_symbol > 0 {
            parts.push("a symbol".into());
        }
        if self.exclude_username {
            parts.push("no parts of your username".into());
        }
        Some(format!(
            "Password requirements were not met. Password requirements: {}.",
            parts.join(", ")
        ))
    }
}

/// One System Log event; `seq` orders events published in the same millisecond.
#[derive(Debug, Clone)]
pub(crate) struct StoredEvent {
    pub seq: u64,
    pub published: DateTime<Utc>,
    pub json: Value,
}

/// Seeded generator of Okta-looking ids, uuids and tokens.
#[derive(Debug, Clone)]
pub(crate) struct IdGen(ChaCha8Rng);

const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

impl IdGen {
    pub(crate) fn new(seed: u64, stream: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        IdGen(rng)
    }

    pub(crate) fn alnum(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(ALNUM[self.0.gen_range(0..ALNUM.len())]))
            .collect()
    }

    /// A 20-character Okta id with the given 3-character prefix (`00u`, `0oa`, `00g`).
    pub(crate) fn okta_id(&mut self, prefix: &str) -> String {
        format!("{prefix}{}", self.alnum(17))
    }

    pub(crate) fn uuid(&mut self) -> String {
        let bytes: [u8; 16] = self.0.gen();
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .hyphenated()
            .to_string()
    }
}

/// One org's whole state.
#[derive(Debug, Clone)]
pub(crate) struct Org {
    pub users: BTreeMap<String, User>,
    logins: HashMap<String, String>,
    pub groups: BTreeMap<String, Value>,
    pub group_members: BTreeMap<String, BTreeSet<String>>,
    pub apps: BTreeMap<String, Value>,
    pub app_users: BTreeMap<String, BTreeMap<String, AppUser>>,
    pub logs: Vec<StoredEvent>,
    next_seq: u64,
    pub policy: PasswordPolicy,
    pub ids: IdGen,
}

impl Org {
    pub(crate) fn new(name: OrgName, seed: u64) -> Self {
        Org {
            users: BTreeMap::new(),
            logins: HashMap::new(),
            groups: BTreeMap::new(),
            group_members: BTreeMap::new(),
            apps: BTreeMap::new(),
            app_users: BTreeMap::new(),
            logs: Vec::new(),
            next_seq: 0,
            policy: PasswordPolicy::default(),
            ids: IdGen::new(seed, name.index() as u64 + 1),
        }
    }

    /// A fresh id with `prefix` that no user, group or app of this org has. Seeds loaded with the
    /// generator's own seed would otherwise replay its ids.
    pub(crate) fn new_id(&mut self, prefix: &str) -> String {
        loop {
            let id = self.ids.okta_id(prefix);
            if !self.users.contains_key(&id)
                && !self.groups.contains_key(&id)
                && !self.apps.contains_key(&id)
            {
                return id;
            }
        }
    }

    /// Finds a user by id, or by login (case-insensitive, as Okta matches logins).
    pub(crate) fn find_user(&self, id_or_login: &str) -> Option<&str> {
        if let Some((id, _)) = self.users.get_key_value(id_or_login) {
            return Some(id.as_str());
        }
        self.logins
            .get(&id_or_login.to_lowercase())
            .map(String::as_str)
    }

    pub(crate) fn user_id(&self, id_or_login: &str) -> Option<String> {
        self.find_user(id_or_login).map(str::to_string)
    }

    pub(crate) fn login_taken(&self, login: &str, except: Option<&str>) -> bool {
        self.logins
            .get(&login.to_lowercase())
            .is_some_and(|id| Some(id.as_str()) != except)
    }

    /// Inserts or replaces a user, keeping the login index in step.
    pub(crate) fn put_user(&mut self, user: User) {
        if let Some(old) = self.users.get(&user.id) {
            let old_login = old.login().to_lowercase();
            self.logins.remove(&old_login);
        }
        self.logins
            .insert(user.login().to_lowercase(), user.id.clone());
        self.users.insert(user.id.clone(), user);
    }

    pub(crate) fn remove_user(&mut self, id: &str) -> Option<User> {
        let user = self.users.remove(id)?;
        self.logins.remove(&user.login().to_lowercase());
        for members in self.group_members.values_mut() {
            members.remove(id);
        }
        for users in self.app_users.values_mut() {
            users.remove(id);
        }
        Some(user)
    }

    /// Appends an event; events are kept in publication order.
    pub(crate) fn push_event(&mut self, published: DateTime<Utc>, json: Value) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let event = StoredEvent {
            seq,
            published,
            json,
        };
        let pos = self.logs.partition_point(|e| e.published <= published);
        self.logs.insert(pos, event);
    }

    /// The `okta_org2org` app of this org, if any.
    pub(crate) fn org2org_app(&self) -> Option<&str> {
        self.apps
            .iter()
            .find(|(_, app)| app["name"] == "okta_org2org")
            .map(|(id, _)| id.as_str())
    }

    pub(crate) fn app_label(&self, app_id: &str) -> String {
        self.apps
            .get(app_id)
            .and_then(|a| a["label"].as_str())
            .unwrap_or("")
            .to_string()
    }

    pub(crate) fn render_app(&self, base: &str, app: &Value) -> Value {
        let mut app = app.clone();
        let id = app["id"].as_str().unwrap_or("").to_string();
        app["_links"] = json!({
            "self": { "href": format!("{base}/api/v1/apps/{id}") },
            "users": { "href": format!("{base}/api/v1/apps/{id}/users") },
            "groups": { "href": format!("{base}/api/v1/apps/{id}/groups") },
            "deactivate": { "href": format!("{base}/api/v1/apps/{id}/lifecycle/deactivate") },
            "appLinks": [{ "name": "login", "href": format!("{base}/home/okta_org2org/{id}/1"), "type": "text/html" }],
        });
        app
    }

    pub(crate) fn render_group(&self, base: &str, group: &Value) -> Value {
        let mut group = group.clone();
        let id = group["id"].as_str().unwrap_or("").to_string();
        group["_links"] = json!({
            "logo": [{ "name": "medium", "href": format!("{base}/assets/img/logos/groups/okta-medium.png"), "type": "image/png" }],
            "users": { "href": format!("{base}/api/v1/groups/{id}/users") },
            "apps": { "href": format!("{base}/api/v1/groups/{id}/apps") },
        });
        group
    }
}
