//! In-memory state of one simulated org: users, groups, apps, app users, System Log and the password
//! policy, with Okta-shaped rendering of each object (users in `user`, app users in `app_user`, the
//! policy in `policy`).
//!
//! Owns the data model and the rules that keep it consistent (login index, timestamps, ids). It does
//! not know about HTTP, rate limits or authentication (`api`), nor about Org2Org push (`push`).

mod app_user;
mod policy;
mod user;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, SecondsFormat, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub(crate) use app_user::AppUser;
pub use policy::PasswordPolicy;
pub(crate) use user::User;

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

/// One System Log event; `seq` orders events published in the same millisecond.
#[derive(Debug, Clone)]
pub(crate) struct StoredEvent {
    pub seq: u64,
    pub published: DateTime<Utc>,
    pub json: Value,
}

/// `value` with every object rebuilt at its exact size. Events are built by inserting one key at a
/// time, which leaves each object's table with room to spare (a one-key object holds room for
/// three); the System Log keeps every event for the simulator's life, so this halves its memory.
fn compact(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, compact(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(compact).collect()),
        other => other,
    }
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
    /// Group rules by id (`sim::rules`).
    pub group_rules: BTreeMap<String, Value>,
    pub apps: BTreeMap<String, Value>,
    pub app_users: BTreeMap<String, BTreeMap<String, AppUser>>,
    pub logs: Vec<StoredEvent>,
    next_seq: u64,
    /// While true, [`Org::push_event`] appends and [`Org::sort_logs`] orders the log once at the end:
    /// the generator writes events in random time order, and keeping the log sorted at every insert
    /// would cost a move of half the log each time (minutes for a million hub users).
    logs_unsorted: bool,
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
            group_rules: BTreeMap::new(),
            apps: BTreeMap::new(),
            app_users: BTreeMap::new(),
            logs: Vec::new(),
            next_seq: 0,
            logs_unsorted: false,
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

    /// Inserts or replaces a user, keeping the login index in step. A new user gets the memberships
    /// of the group rules that hold for it.
    pub(crate) fn put_user(&mut self, user: User) {
        let new = match self.users.get(&user.id) {
            Some(old) => {
                let old_login = old.login().to_lowercase();
                self.logins.remove(&old_login);
                false
            }
            None => true,
        };
        let id = user.id.clone();
        self.logins.insert(user.login().to_lowercase(), id.clone());
        self.users.insert(id.clone(), user);
        if new {
            self.apply_group_rules(&id);
        }
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

    /// Appends an event; events are kept in publication order (events published in the same
    /// millisecond in the order they were written).
    pub(crate) fn push_event(&mut self, published: DateTime<Utc>, json: Value) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let event = StoredEvent {
            seq,
            published,
            json: compact(json),
        };
        if self.logs_unsorted {
            self.logs.push(event);
            return;
        }
        let pos = self.logs.partition_point(|e| e.published <= published);
        self.logs.insert(pos, event);
    }

    /// Lets [`Org::push_event`] append in any order until [`Org::sort_logs`]; nothing may read the
    /// log meanwhile.
    pub(crate) fn defer_log_order(&mut self) {
        self.logs_unsorted = true;
    }

    /// Puts the log back in publication order after [`Org::defer_log_order`]: a stable sort by
    /// `published` keeps same-millisecond events in the order written, as sorted inserts would.
    pub(crate) fn sort_logs(&mut self) {
        self.logs.sort_by_key(|e| e.published);
        self.logs_unsorted = false;
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
