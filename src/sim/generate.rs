//! Deterministic scenario generator: background hub users with realistic status and provider mixes,
//! spoke users assigned to the Org2Org app, and every kind of provisioning failure, each produced by
//! running the real push logic so state and System Logs agree.
//!
//! Owns `GenerateSpec`, the demo preset and the distributions. It does not serve anything: the result
//! is a [`SeedData`] that `seed` loads like any seed file.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

mod live;
mod names;
mod objects;

pub(crate) use live::add_federation_collisions;
pub use live::Collision;

use names::{DEPARTMENTS, FIRST, LAST};
use objects::{group_json, org2org_app};

use super::logs::{self, app_target, app_user_target, user_target, EventCtx, Happened};
use super::model::{now, AppUser, Org, OrgName, ProviderType, User, UserStatus};
use super::push::push;
use super::seed::{default_provider_name, dump_org, SeedData};

/// What to generate. Every count is exact; the same spec and seed give the same orgs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GenerateSpec {
    /// Background hub users, unrelated to Org2Org.
    pub hub_users: usize,
    /// Spoke users assigned to the Org2Org app, failing ones included.
    pub spoke_assignments: usize,
    /// Hub user exists with provider FEDERATION: `Api validation failed: password (password: Password)`.
    pub federation_collisions: usize,
    /// The synced password breaks the hub password policy (the look-alike error).
    pub policy_lookalikes: usize,
    /// Hub user is OKTA but RECOVERY or PROVISIONED.
    pub not_active_hub: usize,
    /// The push failed transiently (internal error, connection failure); no hub user yet.
    pub missing_hub: usize,
    /// Matching hub user is DEPROVISIONED.
    pub deprovisioned_hub: usize,
    /// Matching hub user is SUSPENDED.
    pub suspended_hub: usize,
    /// FEDERATION collisions whose login starts with `admin.`.
    pub protected_admins: usize,
    /// Failing assignments made through a group (`scope: GROUP`).
    pub group_assigned: usize,
    /// The "now" of the generated history; None means the time of generation.
    pub anchor: Option<DateTime<Utc>>,
}

impl Default for GenerateSpec {
    /// A small scenario with one or two of every failure kind.
    fn default() -> Self {
        GenerateSpec {
            hub_users: 50,
            spoke_assignments: 20,
            federation_collisions: 2,
            policy_lookalikes: 1,
            not_active_hub: 2,
            missing_hub: 1,
            deprovisioned_hub: 1,
            suspended_hub: 1,
            protected_admins: 1,
            group_assigned: 1,
            anchor: None,
        }
    }
}

/// The scenario of `remedy demo`: thousands of hub users, hundreds of assignments, every failure kind.
pub fn lookup_demo_scenario() -> GenerateSpec {
    GenerateSpec {
        hub_users: 2000,
        spoke_assignments: 240,
        federation_collisions: 20,
        policy_lookalikes: 6,
        not_active_hub: 5,
        missing_hub: 4,
        deprovisioned_hub: 3,
        suspended_hub: 3,
        protected_admins: 2,
        group_assigned: 4,
        anchor: None,
    }
}

/// System Log retention in Okta: older events do not exist.
const LOG_RETENTION_DAYS: i64 = 90;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Healthy,
    Federation,
    ProtectedAdmin,
    Policy,
    NotActive,
    Missing,
    Deprovisioned,
    Suspended,
}

/// When an assignment happens: somewhere in the generated past, or at a given instant (the trickle
/// of a running simulator, where every object and event of the assignment is dated then).
#[derive(Debug, Clone, Copy)]
enum When {
    Past,
    At(DateTime<Utc>),
}

struct Gen {
    rng: ChaCha8Rng,
    anchor: DateTime<Utc>,
    serial: usize,
    hub: Org,
    spoke: Org,
}

fn admin_actor(org: &str) -> Value {
    json!({
        "id": "00u1simadmin00000001",
        "type": "User",
        "alternateId": format!("admin@{org}.example.com"),
        "displayName": "Sim Admin",
    })
}

impl Gen {
    fn ago(&mut self, min_minutes: i64, max_minutes: i64) -> DateTime<Utc> {
        let m = self
            .rng
            .gen_range(min_minutes..max_minutes.max(min_minutes + 1));
        let ms = self.rng.gen_range(0..60_000);
        self.anchor - Duration::minutes(m) - Duration::milliseconds(ms)
    }

    fn person(&mut self, prefix: &str) -> Map<String, Value> {
        self.serial += 1;
        let first = FIRST.choose(&mut self.rng).copied().unwrap_or("Ada");
        let last = LAST.choose(&mut self.rng).copied().unwrap_or("Lovelace");
        let login = format!(
            "{prefix}{}.{}{}@example.com",
            first.to_lowercase(),
            last.to_lowercase(),
            self.serial
        );
        let dept = DEPARTMENTS
            .choose(&mut self.rng)
            .copied()
            .unwrap_or("Sales");
        let mut p = Map::with_capacity(5);
        p.insert("firstName".into(), json!(first));
        p.insert("lastName".into(), json!(last));
        p.insert("login".into(), json!(login));
        p.insert("email".into(), json!(login));
        p.insert("department".into(), json!(dept));
        p
    }

    fn strong_password(&mut self) -> String {
        let mut ids = super::model::IdGen::new(self.rng.gen(), 0);
        format!("Sync-{}-7q", ids.alnum(10))
    }

    fn ctx(&mut self, actor: Value) -> EventCtx {
        let mut ids = super::model::IdGen::new(self.rng.gen(), 0);
        EventCtx {
            actor,
            request_id: ids.alnum(27),
            user_agent: logs::DEFAULT_USER_AGENT.into(),
            uri: "/api/v1/users".into(),
            debug: Map::new(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn user(
        &mut self,
        which: OrgName,
        profile: Map<String, Value>,
        status: UserStatus,
        provider: ProviderType,
        password: Option<String>,
        created: DateTime<Utc>,
    ) -> String {
        let org = match which {
            OrgName::Hub => &mut self.hub,
            OrgName::Spoke => &mut self.spoke,
        };
        let id = org.new_id("00u");
        let active_like = !matches!(status, UserStatus::Staged | UserStatus::Provisioned);
        let updated = created + Duration::minutes(self.rng.gen_range(0..60 * 24 * 30));
        let updated = updated.min(self.anchor);
        let login_at = active_like && self.rng.gen_bool(0.8);
        let u = User {
            id: id.clone(),
            status,
            created,
            activated: active_like.then_some(created),
            status_changed: Some(if status == UserStatus::Active {
                created
            } else {
                updated
            }),
            last_login: login_at.then_some(updated),
            last_updated: updated,
            password_changed: password.as_ref().map(|_| created),
            type_id: "oty1defaultusertype0".into(),
            profile,
            provider_type: provider,
            provider_name: default_provider_name(provider).into(),
            password,
            recovery_question: None,
        };
        let jit = provider == ProviderType::Federation;
        let target = user_target(&u);
        org.put_user(u);
        if self.anchor - created <= Duration::days(LOG_RETENTION_DAYS) {
            let mut ctx = self.ctx(admin_actor(&which.to_string()));
            if jit {
                // SAML JIT: the IdP instance is the actor and names itself in the debug data.
                let idp = "0oa1corpsamlidp00001";
                ctx.actor = json!({
                    "id": idp, "type": "PublicClientApp",
                    "alternateId": "Corporate SAML IdP", "displayName": "Corporate SAML IdP",
                });
                ctx.uri = format!("/sso/saml2/{idp}");
                ctx.user_agent = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Safari/605.1.15".into();
                ctx.debug.insert("jitProvisioning".into(), json!("true"));
                ctx.debug
                    .insert("idpName".into(), json!("Corporate SAML IdP"));
                ctx.debug.insert("idpType".into(), json!("SAML2"));
            }
            let org = match which {
                OrgName::Hub => &mut self.hub,
                OrgName::Spoke => &mut self.spoke,
            };
            logs::write(
                org,
                created,
                &ctx,
                Happened {
                    event_type: "user.lifecycle.create",
                    display: "Create Okta user",
                    targets: vec![target],
                    failure: None,
                },
            );
        }
        id
    }

    fn background_hub_user(&mut self) {
        let roll = self.rng.gen_range(0..100);
        let status = match roll {
            0..=77 => UserStatus::Active,
            78..=81 => UserStatus::Provisioned,
            82..=84 => UserStatus::Staged,
            85..=87 => UserStatus::Suspended,
            88..=93 => UserStatus::Deprovisioned,
            94..=95 => UserStatus::Recovery,
            96..=97 => UserStatus::LockedOut,
            _ => UserStatus::PasswordExpired,
        };
        let provider = match self.rng.gen_range(0..100) {
            0..=64 => ProviderType::Okta,
            65..=91 => ProviderType::Federation,
            _ => ProviderType::ActiveDirectory,
        };
        let provider = if matches!(status, UserStatus::Staged | UserStatus::Provisioned) {
            ProviderType::Okta
        } else {
            provider
        };
        let password = (provider == ProviderType::Okta
            && !matches!(
                status,
                UserStatus::Staged | UserStatus::Provisioned | UserStatus::Recovery
            ))
        .then(|| self.strong_password());
        let profile = self.person("");
        let created = self.ago(60, 60 * 24 * 365 * 3);
        self.user(OrgName::Hub, profile, status, provider, password, created);
    }

    /// One spoke user assigned to the Org2Org app, its hub counterpart as `kind` wants it, and the
    /// push that follows (which fails for every kind but `Healthy`).
    fn assignment(&mut self, app: &str, group: &str, kind: Kind, group_scoped: bool, index: usize) {
        self.assignment_when(app, group, kind, group_scoped, index, When::Past);
    }

    /// [`Gen::assignment`], dated by `when`. The random draws of `When::Past` are the generator's
    /// historical ones, so generated scenarios do not change. Returns the spoke user's id and login.
    fn assignment_when(
        &mut self,
        app: &str,
        group: &str,
        kind: Kind,
        group_scoped: bool,
        index: usize,
        when: When,
    ) -> (String, String) {
        let prefix = if kind == Kind::ProtectedAdmin {
            "admin."
        } else {
            ""
        };
        let profile = self.person(prefix);
        let login = profile["login"].as_str().unwrap_or("").to_string();
        let assigned = match when {
            When::At(t) => t,
            When::Past if kind == Kind::Healthy => self.ago(60 * 24 * 8, 60 * 24 * 89),
            When::Past => self.ago(30, 60 * 24 * 6),
        };
        let spoke_created = match when {
            When::At(t) => t,
            When::Past => assigned - Duration::days(self.rng.gen_range(1..400)),
        };
        let password = if kind == Kind::Policy {
            Some(format!("sunshine{}", self.rng.gen_range(10..99)))
        } else {
            Some(self.strong_password())
        };
        let spoke_id = self.user(
            OrgName::Spoke,
            profile.clone(),
            UserStatus::Active,
            ProviderType::Okta,
            password,
            spoke_created,
        );
        self.hub_counterpart(profile, kind, index, assigned, when);
        let scope = if group_scoped { "GROUP" } else { "USER" };
        self.assign_on_spoke(app, &spoke_id, &login, scope, assigned);
        if group_scoped {
            self.spoke
                .group_members
                .entry(group.to_string())
                .or_default()
                .insert(spoke_id.clone());
        }
        let ctx = self.ctx(admin_actor("spoke"));
        self.membership_event(app, &spoke_id, &login, &ctx, assigned);
        let transient = (kind == Kind::Missing).then_some(if index.is_multiple_of(2) {
            "Internal Server Error"
        } else {
            "Connection failure: connect timed out"
        });
        let pushed_at = match when {
            When::At(t) => t,
            When::Past => assigned + Duration::seconds(self.rng.gen_range(2..40)),
        };
        push(
            &mut self.hub,
            &mut self.spoke,
            app,
            &spoke_id,
            &ctx,
            pushed_at,
            transient,
        );
        (spoke_id, login)
    }

    /// The hub user already there before the push, as the failure `kind` needs it (none for a
    /// missing hub user, and for most healthy assignments).
    fn hub_counterpart(
        &mut self,
        mut profile: Map<String, Value>,
        kind: Kind,
        index: usize,
        assigned: DateTime<Utc>,
        when: When,
    ) {
        let hub_created = match when {
            When::At(t) => t,
            When::Past => assigned - Duration::days(self.rng.gen_range(1..80)),
        };
        profile.insert("department".into(), json!("Imported"));
        let existing = match kind {
            Kind::Federation | Kind::ProtectedAdmin => {
                Some((UserStatus::Active, ProviderType::Federation))
            }
            Kind::NotActive if index.is_multiple_of(2) => {
                Some((UserStatus::Recovery, ProviderType::Okta))
            }
            Kind::NotActive => Some((UserStatus::Provisioned, ProviderType::Okta)),
            Kind::Deprovisioned => Some((UserStatus::Deprovisioned, ProviderType::Okta)),
            Kind::Suspended => Some((UserStatus::Suspended, ProviderType::Okta)),
            Kind::Healthy if self.rng.gen_bool(0.2) => {
                Some((UserStatus::Active, ProviderType::Okta))
            }
            _ => None,
        };
        let Some((status, provider)) = existing else {
            return;
        };
        let password = (provider == ProviderType::Okta
            && matches!(
                status,
                UserStatus::Active | UserStatus::Suspended | UserStatus::Deprovisioned
            ))
        .then(|| self.strong_password());
        self.user(
            OrgName::Hub,
            profile,
            status,
            provider,
            password,
            hub_created,
        );
    }

    /// The app user of a fresh assignment, STAGED and SYNCING until the push decides.
    fn assign_on_spoke(
        &mut self,
        app: &str,
        spoke_id: &str,
        login: &str,
        scope: &str,
        assigned: DateTime<Utc>,
    ) {
        self.spoke
            .app_users
            .entry(app.to_string())
            .or_default()
            .insert(
                spoke_id.to_string(),
                AppUser {
                    id: spoke_id.to_string(),
                    external_id: None,
                    created: assigned,
                    last_updated: assigned,
                    status_changed: assigned,
                    password_changed: None,
                    last_sync: None,
                    scope: scope.into(),
                    status: "STAGED".into(),
                    sync_state: "SYNCING".into(),
                    user_name: login.to_string(),
                    profile: Map::new(),
                },
            );
    }

    fn membership_event(
        &mut self,
        app: &str,
        spoke_id: &str,
        login: &str,
        ctx: &EventCtx,
        assigned: DateTime<Utc>,
    ) {
        let label = self.spoke.app_label(app);
        let Some(u) = self.spoke.users.get(spoke_id) else {
            return;
        };
        let targets = vec![
            app_user_target(spoke_id, login),
            app_target(app, &label),
            user_target(u),
        ];
        logs::write(
            &mut self.spoke,
            assigned,
            ctx,
            Happened {
                event_type: "application.user_membership.add",
                display: "Add user to application membership",
                targets,
                failure: None,
            },
        );
    }
}

/// Generates both orgs as a seed. `hub_url` is written into the Org2Org app's settings.
pub fn generate(spec: &GenerateSpec, seed: u64, hub_url: &str) -> SeedData {
    let anchor = spec.anchor.unwrap_or_else(now);
    let spec = GenerateSpec {
        anchor: Some(anchor),
        ..spec.clone()
    };
    let (hub, spoke) = generate_orgs(&spec, seed, hub_url);
    SeedData {
        anchor: Some(anchor),
        hub: dump_org(&hub),
        spoke: dump_org(&spoke),
        service_apps: Vec::new(),
    }
}

/// Generates both orgs, ready to serve (what [`generate`] dumps).
pub(crate) fn generate_orgs(spec: &GenerateSpec, seed: u64, hub_url: &str) -> (Org, Org) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(7);
    let mut g = Gen {
        rng,
        anchor: spec.anchor.unwrap_or_else(now),
        serial: 0,
        hub: Org::new(OrgName::Hub, seed),
        spoke: Org::new(OrgName::Spoke, seed),
    };
    g.hub.defer_log_order();
    g.spoke.defer_log_order();
    let epoch = g.anchor - Duration::days(365 * 3);
    for _ in 0..spec.hub_users {
        g.background_hub_user();
    }
    let groups = hub_groups(&mut g.hub, epoch);
    let spoke_group = g.spoke.new_id("00g");
    g.spoke.groups.insert(
        spoke_group.clone(),
        group_json(&spoke_group, "Hub Org Users", "OKTA_GROUP", epoch),
    );
    let app = g.spoke.new_id("0oa");
    g.spoke
        .apps
        .insert(app.clone(), org2org_app(&app, hub_url, epoch));
    let kinds = assignment_kinds(spec);
    let failing = kinds.iter().filter(|k| **k != Kind::Healthy).count();
    for (i, kind) in kinds.iter().enumerate() {
        let group_scoped = i < failing && i < spec.group_assigned;
        g.assignment(&app, &spoke_group, *kind, group_scoped, i);
    }
    hub_memberships(&mut g.hub, &groups);
    g.hub.sort_logs();
    g.spoke.sort_logs();
    (g.hub, g.spoke)
}

/// The kind of every assignment: the failing ones first, in a fixed order, then healthy ones up to
/// `spoke_assignments`.
fn assignment_kinds(spec: &GenerateSpec) -> Vec<Kind> {
    let mut kinds = Vec::new();
    for (n, k) in [
        (spec.federation_collisions, Kind::Federation),
        (spec.protected_admins, Kind::ProtectedAdmin),
        (spec.policy_lookalikes, Kind::Policy),
        (spec.not_active_hub, Kind::NotActive),
        (spec.missing_hub, Kind::Missing),
        (spec.deprovisioned_hub, Kind::Deprovisioned),
        (spec.suspended_hub, Kind::Suspended),
    ] {
        kinds.extend(std::iter::repeat_n(k, n));
    }
    let failing = kinds.len();
    kinds.extend(std::iter::repeat_n(
        Kind::Healthy,
        spec.spoke_assignments.saturating_sub(failing),
    ));
    kinds
}

/// The hub's groups: Everyone (first), and one per department; (id, name) pairs.
fn hub_groups(hub: &mut Org, epoch: DateTime<Utc>) -> Vec<(String, String)> {
    let mut groups = vec![(hub.new_id("00g"), "Everyone".to_string(), "BUILT_IN")];
    for d in DEPARTMENTS {
        groups.push((hub.new_id("00g"), (*d).to_string(), "OKTA_GROUP"));
    }
    for (id, name, kind) in &groups {
        hub.groups
            .insert(id.clone(), group_json(id, name, kind, epoch));
    }
    groups.into_iter().map(|(id, name, _)| (id, name)).collect()
}

/// Every hub user joins Everyone and their department's group, once every user exists. The users are
/// in id order, so each group's members are collected in order and built into a set in one pass
/// (inserting a million ids one by one costs seconds).
fn hub_memberships(hub: &mut Org, groups: &[(String, String)]) {
    let Some((everyone, _)) = groups.first() else {
        return;
    };
    // The first group of a name wins, as a search by name would find it.
    let by_name: BTreeMap<&str, &str> = groups
        .iter()
        .rev()
        .map(|(id, name)| (name.as_str(), id.as_str()))
        .collect();
    let mut members: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for u in hub.users.values() {
        members.entry(everyone).or_default().push(u.id.clone());
        let dept = u
            .profile
            .get("department")
            .and_then(Value::as_str)
            .unwrap_or("");
        if let Some(gid) = by_name.get(dept) {
            members.entry(gid).or_default().push(u.id.clone());
        }
    }
    for (gid, ids) in members {
        let mut set: BTreeSet<String> = ids.into_iter().collect();
        hub.group_members
            .entry(gid.to_string())
            .or_default()
            .append(&mut set);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_under_a_fixed_anchor() {
        let spec = GenerateSpec {
            anchor: DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z")
                .ok()
                .map(|t| t.with_timezone(&Utc)),
            ..GenerateSpec::default()
        };
        let a = generate(&spec, 9, "http://h");
        assert_eq!(a, generate(&spec, 9, "http://h"));
        assert_ne!(a, generate(&spec, 10, "http://h"));
        assert_eq!(a.spoke.app_users.values().map(Vec::len).sum::<usize>(), 20);
    }
}
