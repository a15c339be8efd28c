//! The seed-file format (`SeedData`): the whole state of both orgs as JSON, how it is loaded into an
//! [`Org`] and how an org is dumped back into it.
//!
//! Owns parsing and validation of seed objects. It does not generate scenarios (`generate`) and does not
//! serve them (`api`).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::logs::fill_event_defaults;
use super::model::{now, AppUser, Org, OrgName, PasswordPolicy, ProviderType, User, UserStatus};
use super::{OAuthClient, SimError};

/// The JSON seed file of `remedy sim --seed-file` and [`super::Scenario::Seed`].
///
/// ```json
/// { "hub": { ...SeedOrg... }, "spoke": { ...SeedOrg... } }
/// ```
///
/// Each org (`SeedOrg`) holds:
/// - `users`: Okta User objects (as `GET /api/v1/users/{id}` returns them, `_links` optional). The
///   sim-only hidden password goes in `credentials.password.value` (as in Okta's create-user request);
///   it is never served back, and Org2Org push syncs it to the hub. Missing `id`, timestamps, `status`
///   (`ACTIVE`), `type` and `credentials.provider` (`OKTA`) are filled in.
/// - `groups`: Okta Group objects; `group_members`: group id → user ids.
/// - `group_rules` (optional): Okta GroupRule objects; an `ACTIVE` rule adds each user created later
///   whose profile matches `user.ATTRIBUTE == "VALUE"` to its groups (`sim::rules`). The seed's own
///   `group_members` are taken as they are.
/// - `apps`: Okta Application objects (the spoke's Org2Org app has `"name": "okta_org2org"`).
/// - `app_users`: app id → Okta AppUser objects (`id` is the user id; `scope` `USER` or `GROUP`).
/// - `logs`: Okta LogEvent objects; `published` is required, they are served in `published` order.
/// - `password_policy`: the policy checked when a password is set (defaults to Okta's default policy).
///
/// Optional top-level `service_apps`: OAuth service apps registered on both orgs, each
/// `{"client_id": "0oa...", "public_jwk": {...public EC or RSA JWK, with its "kid"...}, "scopes":
/// ["okta.users.read", ...]}` (as [`super::OAuthClient`]), so private-key JWT and DPoP can be tried
/// from a seed file alone.
///
/// Optional top-level `anchor` (RFC 3339): the "now" the data was recorded at. When set, loading moves
/// every timestamp by (load time − anchor), so a recorded scenario always looks recent (its failures
/// stay inside a collector's `since: 7d`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<DateTime<Utc>>,
    #[serde(default)]
    pub hub: SeedOrg,
    #[serde(default)]
    pub spoke: SeedOrg,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_apps: Vec<OAuthClient>,
}

/// One org of a [`SeedData`] file; see there for the meaning of each field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeedOrg {
    pub users: Vec<Value>,
    pub groups: Vec<Value>,
    pub group_members: BTreeMap<String, Vec<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_rules: Vec<Value>,
    pub apps: Vec<Value>,
    pub app_users: BTreeMap<String, Vec<Value>>,
    pub logs: Vec<Value>,
    pub password_policy: PasswordPolicy,
}

impl SeedData {
    /// The same data with every field the loader would fill in by itself left out: what seed files
    /// are written as (`remedy sim --write-seed`, `tests/fixtures/sim/demo-seed.json`).
    pub fn compacted(&self) -> SeedData {
        SeedData {
            anchor: self.anchor,
            hub: compact_org(&self.hub),
            spoke: compact_org(&self.spoke),
            service_apps: self.service_apps.clone(),
        }
    }

    /// The seed-file text: JSON with one object per line, so files stay small and diffable.
    pub fn to_file_text(&self) -> String {
        fn line<T: Serialize>(v: &T) -> String {
            serde_json::to_string(v).unwrap_or_default()
        }
        fn list(items: &[Value], indent: &str) -> String {
            if items.is_empty() {
                return "[]".into();
            }
            let body: Vec<String> = items
                .iter()
                .map(|i| format!("{indent}  {}", line(i)))
                .collect();
            format!("[\n{}\n{indent}]", body.join(",\n"))
        }
        let org = |o: &SeedOrg| -> String {
            let app_users: Vec<String> = o
                .app_users
                .iter()
                .map(|(app, users)| format!("      {}: {}", line(app), list(users, "      ")))
                .collect();
            let app_users = if app_users.is_empty() {
                "{}".to_string()
            } else {
                format!("{{\n{}\n    }}", app_users.join(",\n"))
            };
            [
                format!("    \"users\": {}", list(&o.users, "    ")),
                format!("    \"groups\": {}", list(&o.groups, "    ")),
                format!("    \"group_members\": {}", line(&o.group_members)),
                format!("    \"group_rules\": {}", list(&o.group_rules, "    ")),
                format!("    \"apps\": {}", list(&o.apps, "    ")),
                format!("    \"app_users\": {app_users}"),
                format!("    \"logs\": {}", list(&o.logs, "    ")),
                format!("    \"password_policy\": {}", line(&o.password_policy)),
            ]
            .into_iter()
            // Rules are optional: a seed without them is written as before.
            .filter(|l| l != "    \"group_rules\": []")
            .collect::<Vec<_>>()
            .join(",\n")
        };
        let anchor = match self.anchor {
            Some(a) => format!("  \"anchor\": {},\n", line(&super::model::ts(a))),
            None => String::new(),
        };
        let service_apps = if self.service_apps.is_empty() {
            String::new()
        } else {
            format!(
                ",\n  \"service_apps\": {}",
                list(
                    &self
                        .service_apps
                        .iter()
                        .map(|c| serde_json::to_value(c).unwrap_or_default())
                        .collect::<Vec<_>>(),
                    "  "
                )
            )
        };
        format!(
            "{{\n{anchor}  \"hub\": {{\n{}\n  }},\n  \"spoke\": {{\n{}\n  }}{service_apps}\n}}\n",
            org(&self.hub),
            org(&self.spoke)
        )
    }
}

/// Removes each of `keys` (`a` or `a.b`) from `doc` when `same` says the result still loads the same.
fn compact(doc: &Value, keys: &[&str], same: impl Fn(&Value) -> bool) -> Value {
    let mut out = doc.clone();
    for key in keys {
        let mut trial = out.clone();
        let removed = match key.split_once('.') {
            Some((outer, inner)) => trial
                .get_mut(outer)
                .and_then(Value::as_object_mut)
                .and_then(|o| o.shift_remove(inner))
                .is_some(),
            None => trial
                .as_object_mut()
                .and_then(|o| o.shift_remove(*key))
                .is_some(),
        };
        if removed && same(&trial) {
            out = trial;
        }
    }
    out
}

fn compact_org(org: &SeedOrg) -> SeedOrg {
    let at = now();
    let load = |doc: &Value| {
        parse_user(doc, String::new(), at)
            .ok()
            .map(|u| (u.to_seed(), u.id))
    };
    let users = org
        .users
        .iter()
        .map(|doc| {
            let full = load(doc);
            compact(
                doc,
                &[
                    "activated",
                    "statusChanged",
                    "lastLogin",
                    "lastUpdated",
                    "passwordChanged",
                    "type",
                    "status",
                    "credentials.provider",
                ],
                |trial| full.is_some() && load(trial) == full,
            )
        })
        .collect();
    let logs = org
        .logs
        .iter()
        .map(|doc| {
            let mut full = doc.clone();
            fill_event_defaults(&mut full);
            compact(
                doc,
                &[
                    "client",
                    "authenticationContext",
                    "securityContext",
                    "severity",
                    "legacyEventType",
                    "transaction",
                    "version",
                    "request",
                ],
                |trial| {
                    let mut t = trial.clone();
                    fill_event_defaults(&mut t);
                    t == full
                },
            )
        })
        .collect();
    SeedOrg {
        users,
        logs,
        ..org.clone()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserDoc {
    id: Option<String>,
    status: Option<UserStatus>,
    created: Option<DateTime<Utc>>,
    activated: Option<DateTime<Utc>>,
    status_changed: Option<DateTime<Utc>>,
    last_login: Option<DateTime<Utc>>,
    last_updated: Option<DateTime<Utc>>,
    password_changed: Option<DateTime<Utc>>,
    #[serde(rename = "type")]
    user_type: Option<TypeDoc>,
    #[serde(default)]
    profile: Map<String, Value>,
    #[serde(default)]
    credentials: CredentialsDoc,
}

#[derive(Deserialize)]
struct TypeDoc {
    id: String,
}

#[derive(Deserialize, Default)]
struct CredentialsDoc {
    password: Option<PasswordDoc>,
    provider: Option<ProviderDoc>,
    recovery_question: Option<QuestionDoc>,
}

#[derive(Deserialize)]
struct PasswordDoc {
    value: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProviderDoc {
    #[serde(rename = "type")]
    kind: ProviderType,
    name: Option<String>,
}

#[derive(Deserialize)]
struct QuestionDoc {
    question: Option<String>,
}

/// The provider name Okta shows for each provider type (AD and LDAP show the directory's name).
pub(crate) fn default_provider_name(kind: ProviderType) -> &'static str {
    match kind {
        ProviderType::Okta => "OKTA",
        ProviderType::Federation => "FEDERATION",
        ProviderType::ActiveDirectory => "example.local",
        ProviderType::Ldap => "ldap.example.com",
        ProviderType::Social => "SOCIAL",
        ProviderType::Import => "IMPORT",
    }
}

/// Builds a user from Okta-shaped JSON; `id` is used when the document has none.
pub(crate) fn parse_user(doc: &Value, id: String, at: DateTime<Utc>) -> Result<User, SimError> {
    let d: UserDoc = serde_json::from_value(doc.clone())
        .map_err(|e| SimError::Seed(format!("user `{id}`: {e}")))?;
    let id = d.id.unwrap_or(id);
    let login = d.profile.get("login").and_then(Value::as_str).unwrap_or("");
    if login.is_empty() {
        return Err(SimError::Seed(format!(
            "user `{id}` has no `profile.login`"
        )));
    }
    let created = d.created.unwrap_or(at);
    let status = d.status.unwrap_or(UserStatus::Active);
    let (provider_type, provider_name) = match d.credentials.provider {
        Some(p) => {
            let name = p
                .name
                .unwrap_or_else(|| default_provider_name(p.kind).to_string());
            (p.kind, name)
        }
        None => (ProviderType::Okta, "OKTA".to_string()),
    };
    let password = d.credentials.password.and_then(|p| p.value);
    Ok(User {
        status,
        created,
        activated: d.activated.or(match status {
            UserStatus::Staged | UserStatus::Provisioned => None,
            _ => Some(created),
        }),
        status_changed: d.status_changed.or(Some(created)),
        last_login: d.last_login,
        last_updated: d.last_updated.unwrap_or(created),
        password_changed: d.password_changed.or(password.as_ref().map(|_| created)),
        type_id: d
            .user_type
            .map(|t| t.id)
            .unwrap_or_else(|| "oty1defaultusertype0".to_string()),
        profile: d.profile,
        provider_type,
        provider_name,
        password,
        recovery_question: d.credentials.recovery_question.and_then(|q| q.question),
        id,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AppUserDoc {
    id: String,
    external_id: Option<String>,
    created: Option<DateTime<Utc>>,
    last_updated: Option<DateTime<Utc>>,
    status_changed: Option<DateTime<Utc>>,
    password_changed: Option<DateTime<Utc>>,
    last_sync: Option<DateTime<Utc>>,
    scope: Option<String>,
    status: Option<String>,
    sync_state: Option<String>,
    credentials: Option<AppCredentialsDoc>,
    #[serde(default)]
    profile: Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AppCredentialsDoc {
    user_name: Option<String>,
}

fn parse_app_user(doc: &Value, org: &Org, at: DateTime<Utc>) -> Result<AppUser, SimError> {
    let d: AppUserDoc = serde_json::from_value(doc.clone())
        .map_err(|e| SimError::Seed(format!("app user: {e}")))?;
    let user = org
        .users
        .get(&d.id)
        .ok_or_else(|| SimError::Seed(format!("app user `{}` is not a user of the org", d.id)))?;
    let created = d.created.unwrap_or(at);
    Ok(AppUser {
        user_name: d
            .credentials
            .and_then(|c| c.user_name)
            .unwrap_or_else(|| user.login().to_string()),
        id: d.id,
        external_id: d.external_id,
        created,
        last_updated: d.last_updated.unwrap_or(created),
        status_changed: d.status_changed.unwrap_or(created),
        password_changed: d.password_changed,
        last_sync: d.last_sync,
        scope: d.scope.unwrap_or_else(|| "USER".into()),
        status: d.status.unwrap_or_else(|| "PROVISIONED".into()),
        sync_state: d.sync_state.unwrap_or_else(|| "SYNCHRONIZED".into()),
        profile: d.profile,
    })
}

fn require_id(doc: &Value, what: &str) -> Result<String, SimError> {
    doc["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| SimError::Seed(format!("a {what} has no `id`")))
}

/// Moves an RFC 3339 string field of a JSON object by `shift`.
fn shift_field(doc: &mut Value, key: &str, shift: Duration) {
    let moved = doc[key]
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| super::model::ts(t.with_timezone(&Utc) + shift));
    if let Some(m) = moved {
        doc[key] = json!(m);
    }
}

fn shift_user(u: &mut User, shift: Duration) {
    u.created += shift;
    u.last_updated += shift;
    for t in [
        &mut u.activated,
        &mut u.status_changed,
        &mut u.last_login,
        &mut u.password_changed,
    ] {
        *t = t.map(|t| t + shift);
    }
}

fn shift_app_user(au: &mut AppUser, shift: Duration) {
    au.created += shift;
    au.last_updated += shift;
    au.status_changed += shift;
    au.password_changed = au.password_changed.map(|t| t + shift);
    au.last_sync = au.last_sync.map(|t| t + shift);
}

/// Builds both orgs of a seed, moving timestamps when the seed has an `anchor`.
pub(crate) fn load(seed: &SeedData, rng_seed: u64) -> Result<[Org; 2], SimError> {
    let shift = seed
        .anchor
        .map(|a| now() - a)
        .unwrap_or_else(Duration::zero);
    Ok([
        load_org(OrgName::Hub, &seed.hub, rng_seed, shift)?,
        load_org(OrgName::Spoke, &seed.spoke, rng_seed, shift)?,
    ])
}

/// Builds an org from its seed.
fn load_org(
    name: OrgName,
    seed: &SeedOrg,
    rng_seed: u64,
    shift: Duration,
) -> Result<Org, SimError> {
    let at = now();
    let mut org = Org::new(name, rng_seed);
    org.policy = seed.password_policy.clone();
    for doc in &seed.users {
        let id = match doc["id"].as_str() {
            Some(id) => id.to_string(),
            None => org.new_id("00u"),
        };
        let mut user = parse_user(doc, id, at)?;
        shift_user(&mut user, shift);
        if org.login_taken(user.login(), None) || org.users.contains_key(&user.id) {
            return Err(SimError::Seed(format!(
                "duplicate user `{}` / `{}`",
                user.id,
                user.login()
            )));
        }
        org.put_user(user);
    }
    for doc in &seed.groups {
        let (id, group) = load_group(doc, at, shift)?;
        org.groups.insert(id, group);
    }
    for (group, members) in &seed.group_members {
        if !org.groups.contains_key(group) {
            return Err(SimError::Seed(format!(
                "members of unknown group `{group}`"
            )));
        }
        let set: BTreeSet<String> = members.iter().cloned().collect();
        if let Some(missing) = set.iter().find(|m| !org.users.contains_key(*m)) {
            return Err(SimError::Seed(format!(
                "group `{group}` lists unknown user `{missing}`"
            )));
        }
        org.group_members.insert(group.clone(), set);
    }
    for doc in &seed.group_rules {
        let id = require_id(doc, "group rule")?;
        if let Some(g) = super::rules::assigned_groups(doc).find(|g| !org.groups.contains_key(*g)) {
            return Err(SimError::Seed(format!(
                "group rule `{id}` assigns unknown group `{g}`"
            )));
        }
        org.group_rules.insert(id, doc.clone());
    }
    for doc in &seed.apps {
        let id = require_id(doc, "app")?;
        let mut app = doc.clone();
        for key in ["created", "lastUpdated"] {
            shift_field(&mut app, key, shift);
        }
        org.apps.insert(id, app);
    }
    for (app, users) in &seed.app_users {
        if !org.apps.contains_key(app) {
            return Err(SimError::Seed(format!("app users of unknown app `{app}`")));
        }
        let mut map = BTreeMap::new();
        for doc in users {
            let mut au = parse_app_user(doc, &org, at)?;
            shift_app_user(&mut au, shift);
            map.insert(au.id.clone(), au);
        }
        org.app_users.insert(app.clone(), map);
    }
    for doc in &seed.logs {
        let (published, event) = load_event(doc, shift)?;
        org.push_event(published, event);
    }
    Ok(org)
}

/// A seed group with its timestamps moved by `shift` (or stamped `at` when missing) and Okta's defaults
/// filled in.
fn load_group(
    doc: &Value,
    at: DateTime<Utc>,
    shift: Duration,
) -> Result<(String, Value), SimError> {
    let id = require_id(doc, "group")?;
    let mut group = doc.clone();
    let stamp = json!(super::model::ts(at));
    for key in ["created", "lastUpdated", "lastMembershipUpdated"] {
        if group.get(key).is_none() {
            group[key] = stamp.clone();
        } else {
            shift_field(&mut group, key, shift);
        }
    }
    if group.get("objectClass").is_none() {
        group["objectClass"] = json!(["okta:user_group"]);
    }
    if group.get("type").is_none() {
        group["type"] = json!("OKTA_GROUP");
    }
    Ok((id, group))
}

/// A seed log event moved by `shift`, with the fields a seed may leave out filled in.
fn load_event(doc: &Value, shift: Duration) -> Result<(DateTime<Utc>, Value), SimError> {
    let published = doc["published"]
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc) + shift)
        .ok_or_else(|| SimError::Seed("a log event has no valid `published`".into()))?;
    let mut event = doc.clone();
    event["published"] = json!(super::model::ts(published));
    fill_event_defaults(&mut event);
    Ok((published, event))
}

/// Dumps an org into its seed form, in a deterministic order (ids ascending, events by publication).
pub(crate) fn dump_org(org: &Org) -> SeedOrg {
    SeedOrg {
        users: org.users.values().map(User::to_seed).collect(),
        groups: org.groups.values().cloned().collect(),
        group_rules: org.group_rules.values().cloned().collect(),
        group_members: org
            .group_members
            .iter()
            .map(|(g, m)| (g.clone(), m.iter().cloned().collect()))
            .collect(),
        apps: org.apps.values().cloned().collect(),
        app_users: org
            .app_users
            .iter()
            .map(|(app, users)| {
                let docs = users
                    .values()
                    .map(|au| {
                        let mut v = au.render("", app);
                        if let Some(obj) = v.as_object_mut() {
                            obj.remove("_links");
                        }
                        v
                    })
                    .collect();
                (app.clone(), docs)
            })
            .collect(),
        logs: org.logs.iter().map(|e| e.json.clone()).collect(),
        password_policy: org.policy.clone(),
    }
}
