//! The Okta simulator: a hub and a spoke org, each on its own loopback port, serving the subset of
//! Okta's Management API the tool uses, with Org2Org push, the System Log, rate limits, faults, OAuth
//! with DPoP and a `/__sim/` test-control API.
//!
//! This file owns the public face (`SimConfig`, `Sim`, `remedy sim`) and the shared runtime state.
//! The data model is in `model`, seeds in `seed` and `generate`, the HTTP pipeline in `api`, the
//! operations in `users`, `apps`, `logs`, `push`, `oauth` and `control`. It deliberately does not
//! persist anything: every start is a fresh in-memory state.

mod api;
mod apps;
mod control;
mod generate;
mod limits;
mod logs;
mod model;
mod oauth;
mod push;
mod query;
mod seed;
mod users;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use clap::Args;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use api::RequestRecord;
pub use generate::{generate, lookup_demo_scenario, GenerateSpec};
pub use limits::{bucket_names, FaultSpec, Faults, RateLimits};
pub use model::{OrgName, PasswordPolicy};
pub use oauth::{jwk_thumbprint, OAuthClient};
pub use seed::{SeedData, SeedOrg};

use limits::{FaultDecision, FaultState, InFlight, Limiter, RateStatus};
use model::{IdGen, Org};

/// Errors of the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot bind the {org} org to 127.0.0.1:{port}: {source}")]
    Bind {
        org: OrgName,
        port: u16,
        source: std::io::Error,
    },
    #[error("invalid seed data: {0}")]
    Seed(String),
    #[error("invalid faults file {0}")]
    Faults(String),
    #[error("cannot access `{path}`: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error("no user `{0}` in the {1} org")]
    NoUser(String, OrgName),
    #[error("invalid patch: {0}")]
    Patch(String),
    #[error("user `{0}` is not in RECOVERY or PASSWORD_EXPIRED")]
    NotResetting(String),
    #[error("cannot wait for Ctrl-C: {0}")]
    Signal(std::io::Error),
}

/// Where the initial state comes from.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // built once per run; boxing would only complicate callers
pub enum Scenario {
    /// Generated deterministically from `SimConfig::seed`.
    Generate(GenerateSpec),
    /// Loaded from a seed document.
    Seed(SeedData),
}

/// Everything that configures a simulator run.
#[derive(Clone)]
pub struct SimConfig {
    pub seed: u64,
    pub hub_token: String,
    pub spoke_token: String,
    /// 0 picks a free port on 127.0.0.1.
    pub hub_port: u16,
    pub spoke_port: u16,
    pub scenario: Scenario,
    pub limits: RateLimits,
    pub faults: Faults,
    pub oauth_clients: Vec<OAuthClient>,
    /// Lifetime of OAuth access tokens.
    pub token_ttl: Duration,
}

impl std::fmt::Debug for SimConfig {
    /// Tokens are secrets: shown redacted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimConfig")
            .field("seed", &self.seed)
            .field("hub_token", &"<redacted>")
            .field("spoke_token", &"<redacted>")
            .field("hub_port", &self.hub_port)
            .field("spoke_port", &self.spoke_port)
            .field("limits", &self.limits)
            .field("faults", &self.faults)
            .field("oauth_clients", &self.oauth_clients.len())
            .field("token_ttl", &self.token_ttl)
            .finish_non_exhaustive()
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 42,
            hub_token: "hub-token".into(),
            spoke_token: "spoke-token".into(),
            hub_port: 0,
            spoke_port: 0,
            scenario: Scenario::Generate(GenerateSpec::default()),
            limits: RateLimits::default(),
            faults: Faults::default(),
            oauth_clients: Vec::new(),
            token_ttl: Duration::from_secs(3600),
        }
    }
}

/// Both orgs' Okta state, behind one lock because Org2Org push changes both at once.
#[derive(Debug, Clone)]
pub(crate) struct World {
    orgs: [Org; 2],
}

impl World {
    pub(crate) fn org(&self, name: OrgName) -> &Org {
        &self.orgs[name.index()]
    }

    pub(crate) fn org_mut(&mut self, name: OrgName) -> &mut Org {
        &mut self.orgs[name.index()]
    }

    /// Both orgs mutably, for Org2Org push.
    pub(crate) fn hub_and_spoke(&mut self) -> (&mut Org, &mut Org) {
        let [hub, spoke] = &mut self.orgs;
        (hub, spoke)
    }
}

fn build_world(scenario: &Scenario, seed: u64, hub_url: &str) -> Result<World, SimError> {
    let orgs = match scenario {
        Scenario::Seed(s) => seed::load(s, seed)?,
        Scenario::Generate(spec) => {
            let (hub, spoke) = generate::generate_orgs(spec, seed, hub_url);
            [hub, spoke]
        }
    };
    Ok(World { orgs })
}

/// Most recent request records kept per org; older ones are forgotten so load tests stay bounded.
const MAX_RECORDS: usize = 100_000;

/// Per-org state that is not Okta data: identity, limits, faults, records, OAuth.
pub(crate) struct OrgRuntime {
    pub base_url: String,
    pub token: String,
    pub in_flight: InFlight,
    limiter: Mutex<Limiter>,
    faults: Mutex<FaultState>,
    records: Mutex<(VecDeque<RequestRecord>, BTreeMap<String, u64>)>,
    ids: Mutex<IdGen>,
    pub oauth: Mutex<oauth::OAuthState>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these small locks cannot leave them inconsistent in a way that
    // matters to a simulator, so a poisoned lock is simply taken over.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl OrgRuntime {
    fn new(org: OrgName, base_url: String, token: String, config: &SimConfig) -> Self {
        OrgRuntime {
            base_url,
            token,
            in_flight: InFlight::default(),
            limiter: Mutex::new(Limiter::new(config.limits.clone())),
            faults: Mutex::new(FaultState::new(
                config.seed ^ (org.index() as u64 + 1),
                config.faults.clone(),
            )),
            records: Mutex::new((VecDeque::new(), BTreeMap::new())),
            ids: Mutex::new(IdGen::new(config.seed, 100 + org.index() as u64)),
            oauth: Mutex::new(oauth::OAuthState::new(config.seed, org)),
        }
    }

    /// Okta request ids look like `XkPQ3lXkN2hGXF5QVy1oOAAACxM`.
    pub(crate) fn next_request_id(&self) -> String {
        lock(&self.ids).alnum(27)
    }

    pub(crate) fn next_error_id(&self) -> String {
        format!("oae{}", lock(&self.ids).alnum(22))
    }

    pub(crate) fn random(&self, n: usize) -> String {
        lock(&self.ids).alnum(n)
    }

    pub(crate) fn record(&self, r: RequestRecord) {
        let mut rec = lock(&self.records);
        *rec.1.entry(r.bucket.clone()).or_insert(0) += 1;
        if rec.0.len() == MAX_RECORDS {
            rec.0.pop_front();
        }
        rec.0.push_back(r);
    }

    pub(crate) fn rate(&self, bucket: &str, consume: bool) -> RateStatus {
        lock(&self.limiter).check(bucket, consume)
    }

    pub(crate) fn max_in_flight(&self) -> usize {
        lock(&self.limiter).max_in_flight()
    }

    pub(crate) fn fault(&self, bucket: &str) -> (FaultDecision, Duration) {
        lock(&self.faults).decide(bucket)
    }

    fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.records).0.iter().cloned().collect()
    }

    fn counters(&self) -> BTreeMap<String, u64> {
        lock(&self.records).1.clone()
    }

    fn set_faults(&self, faults: Faults) {
        lock(&self.faults).set(faults);
    }

    fn reset(&self) {
        let mut rec = lock(&self.records);
        rec.0.clear();
        rec.1.clear();
        lock(&self.limiter).reset();
    }
}

/// State shared by both orgs' servers.
pub(crate) struct Shared {
    world: RwLock<World>,
    /// What `reset` rebuilds the world from (generation is deterministic once the anchor is fixed),
    /// kept instead of a second copy of the world.
    initial: (Scenario, u64, String),
    runtimes: [OrgRuntime; 2],
    pub oauth_clients: Vec<OAuthClient>,
    pub token_ttl: Duration,
}

impl Shared {
    pub(crate) fn runtime(&self, org: OrgName) -> &OrgRuntime {
        &self.runtimes[org.index()]
    }

    pub(crate) fn read_world(&self) -> RwLockReadGuard<'_, World> {
        self.world
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn write_world(&self) -> RwLockWriteGuard<'_, World> {
        self.world
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Restores the initial state and clears records and rate-limit windows.
    pub(crate) fn reset(&self) {
        let (scenario, seed, hub_url) = &self.initial;
        match build_world(scenario, *seed, hub_url) {
            Ok(world) => *self.write_world() = world,
            // The same inputs loaded at start, so this cannot fail; keep the current state if it does.
            Err(e) => tracing::error!(error = %e, "cannot rebuild the initial state"),
        }
        for rt in &self.runtimes {
            rt.reset();
        }
    }
}

/// A running simulator.
///
/// ```no_run
/// # async fn demo() -> Result<(), okta_remedy::sim::SimError> {
/// use okta_remedy::sim::{OrgName, Sim, SimConfig};
///
/// let sim = Sim::start(SimConfig::default()).await?;
/// // Talk to `sim.hub_url()` with `Authorization: SSWS {sim.hub_token()}`; then, in the test:
/// sim.complete_password_reset(OrgName::Hub, "pat.jones@example.com")?;
/// let calls = sim.counters(OrgName::Hub);
/// # let _ = calls;
/// sim.shutdown().await;
/// # Ok(())
/// # }
/// ```
pub struct Sim {
    shared: Arc<Shared>,
    shutdown: Vec<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("hub_url", &self.hub_url())
            .field("spoke_url", &self.spoke_url())
            .finish_non_exhaustive()
    }
}

async fn bind(org: OrgName, port: u16) -> Result<tokio::net::TcpListener, SimError> {
    tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .map_err(|source| SimError::Bind { org, port, source })
}

impl Sim {
    /// Builds the state and starts both servers.
    pub async fn start(mut config: SimConfig) -> Result<Sim, SimError> {
        let hub = bind(OrgName::Hub, config.hub_port).await?;
        let spoke = bind(OrgName::Spoke, config.spoke_port).await?;
        let url = |l: &tokio::net::TcpListener, org| -> Result<String, SimError> {
            let addr = l.local_addr().map_err(|source| SimError::Bind {
                org,
                port: 0,
                source,
            })?;
            Ok(format!("http://127.0.0.1:{}", addr.port()))
        };
        let hub_url = url(&hub, OrgName::Hub)?;
        let spoke_url = url(&spoke, OrgName::Spoke)?;
        // Moved out rather than cloned: a large seed is kept once, for `reset`.
        let mut scenario = std::mem::replace(
            &mut config.scenario,
            Scenario::Generate(GenerateSpec::default()),
        );
        if let Scenario::Generate(spec) = &mut scenario {
            spec.anchor = Some(spec.anchor.unwrap_or_else(model::now));
        }
        let world = build_world(&scenario, config.seed, &hub_url)?;
        let shared = Arc::new(Shared {
            initial: (scenario, config.seed, hub_url.clone()),
            world: RwLock::new(world),
            runtimes: [
                OrgRuntime::new(OrgName::Hub, hub_url, config.hub_token.clone(), &config),
                OrgRuntime::new(
                    OrgName::Spoke,
                    spoke_url,
                    config.spoke_token.clone(),
                    &config,
                ),
            ],
            oauth_clients: config.oauth_clients.clone(),
            token_ttl: config.token_ttl,
        });
        let mut sim = Sim {
            shared: shared.clone(),
            shutdown: Vec::new(),
            tasks: Vec::new(),
        };
        for (listener, org) in [(hub, OrgName::Hub), (spoke, OrgName::Spoke)] {
            let app = axum::Router::new()
                .fallback(api::handle)
                .with_state(api::OrgState {
                    shared: shared.clone(),
                    org,
                });
            let (tx, rx) = oneshot::channel::<()>();
            let task = tokio::spawn(async move {
                let served = axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = rx.await;
                    })
                    .await;
                if let Err(e) = served {
                    tracing::error!(%org, error = %e, "simulator server stopped");
                }
            });
            sim.shutdown.push(tx);
            sim.tasks.push(task);
        }
        Ok(sim)
    }

    pub fn hub_url(&self) -> String {
        self.shared.runtime(OrgName::Hub).base_url.clone()
    }

    pub fn spoke_url(&self) -> String {
        self.shared.runtime(OrgName::Spoke).base_url.clone()
    }

    pub fn url(&self, org: OrgName) -> String {
        self.shared.runtime(org).base_url.clone()
    }

    pub fn hub_token(&self) -> &str {
        &self.shared.runtime(OrgName::Hub).token
    }

    pub fn spoke_token(&self) -> &str {
        &self.shared.runtime(OrgName::Spoke).token
    }

    /// "This user completed the password reset": RECOVERY (or PASSWORD_EXPIRED) → ACTIVE with a
    /// password. `password` None picks one that satisfies the org's policy.
    pub fn complete_password_reset(&self, org: OrgName, id_or_login: &str) -> Result<(), SimError> {
        control::complete_reset(&self.shared, org, id_or_login, None)
    }

    /// Changes a user behind the tool's back (drift): a JSON merge patch over the user's seed form
    /// (Okta's JSON plus `credentials.password.value`); bumps `lastUpdated`.
    pub fn patch_user(
        &self,
        org: OrgName,
        id_or_login: &str,
        patch: Value,
    ) -> Result<(), SimError> {
        control::patch_user(&self.shared, org, id_or_login, &patch)
    }

    /// Every Okta request the org received (not control calls), oldest first.
    pub fn requests(&self, org: OrgName) -> Vec<RequestRecord> {
        self.shared.runtime(org).requests()
    }

    /// Requests received per rate-limit bucket.
    pub fn counters(&self, org: OrgName) -> BTreeMap<String, u64> {
        self.shared.runtime(org).counters()
    }

    /// The org's whole state in seed-file form, deterministic order.
    pub fn dump(&self, org: OrgName) -> Value {
        control::dump(&self.shared, org)
    }

    pub fn set_faults(&self, org: OrgName, faults: Faults) {
        self.shared.runtime(org).set_faults(faults);
    }

    /// Back to the initial state; records, counters and rate-limit windows cleared.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Stops both servers and waits for them.
    pub async fn shutdown(self) {
        for tx in self.shutdown {
            let _ = tx.send(());
        }
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Arguments of `remedy sim`.
#[derive(Clone, Args)]
pub struct SimArgs {
    /// Port of the hub org on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 0)]
    pub hub_port: u16,
    /// Port of the spoke org on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 0)]
    pub spoke_port: u16,
    /// Number of background hub users to generate.
    #[arg(long, default_value_t = 200)]
    pub users: usize,
    /// Seed of the generator, ids and fault injection.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Load this JSON seed file (users, groups, apps, app users and logs of each org) instead of
    /// generating.
    #[arg(long, value_name = "PATH")]
    pub seed_file: Option<std::path::PathBuf>,
    /// API token of the hub org (`Authorization: SSWS <token>`).
    #[arg(
        long,
        default_value = "hub-token",
        env = "REMEDY_SIM_HUB_TOKEN",
        hide_env_values = true
    )]
    pub hub_token: String,
    /// API token of the spoke org.
    #[arg(
        long,
        default_value = "spoke-token",
        env = "REMEDY_SIM_SPOKE_TOKEN",
        hide_env_values = true
    )]
    pub spoke_token: String,
    /// Spoke users assigned to the Org2Org app.
    #[arg(long, default_value_t = 50)]
    pub assignments: usize,
    /// Failing assignments whose hub user is FEDERATION.
    #[arg(long, default_value_t = 3)]
    pub federation_collisions: usize,
    /// Failing assignments whose synced password breaks the hub password policy.
    #[arg(long, default_value_t = 2)]
    pub policy_lookalikes: usize,
    /// Failing assignments whose hub user is OKTA but RECOVERY or PROVISIONED.
    #[arg(long, default_value_t = 1)]
    pub not_active_hub: usize,
    /// Assignments that failed transiently, with no hub user yet.
    #[arg(long, default_value_t = 1)]
    pub missing_hub: usize,
    /// Failing assignments whose hub user is DEPROVISIONED.
    #[arg(long, default_value_t = 1)]
    pub deprovisioned_hub: usize,
    /// Failing assignments whose hub user is SUSPENDED.
    #[arg(long, default_value_t = 1)]
    pub suspended_hub: usize,
    /// Federation collisions whose login starts with `admin.`.
    #[arg(long, default_value_t = 1)]
    pub protected_admins: usize,
    /// Failing assignments made through a group (`scope: GROUP`).
    #[arg(long, default_value_t = 1)]
    pub group_assigned: usize,
    /// Share of requests answered 500 (0.0-1.0), every bucket.
    #[arg(long, default_value_t = 0.0)]
    pub fault_error_rate: f64,
    /// Share of requests whose connection is dropped (0.0-1.0), every bucket.
    #[arg(long, default_value_t = 0.0)]
    pub fault_drop_rate: f64,
    /// Latency added to every request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub fault_latency_ms: u64,
    /// JSON file of per-bucket faults, e.g. `{"buckets": {"users": {"error_rate": 0.1}}}`
    /// (overrides the three flags above).
    #[arg(long, value_name = "PATH")]
    pub faults_file: Option<std::path::PathBuf>,
    /// Length of a rate-limit window (Okta: 1m).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub rate_window: Duration,
    /// Turn rate limits and the concurrency cap off (for load tests).
    #[arg(long)]
    pub no_rate_limits: bool,
    /// Write the generated scenario as a seed file to this path and exit.
    #[arg(long, value_name = "PATH")]
    pub write_seed: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for SimArgs {
    /// Tokens are secrets: shown redacted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimArgs")
            .field("hub_port", &self.hub_port)
            .field("spoke_port", &self.spoke_port)
            .field("users", &self.users)
            .field("seed", &self.seed)
            .field("seed_file", &self.seed_file)
            .field("hub_token", &"<redacted>")
            .field("spoke_token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl SimArgs {
    /// The configuration these flags describe (the seed file is read here).
    pub fn config(&self) -> Result<SimConfig, SimError> {
        let scenario = match &self.seed_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| SimError::File {
                    path: path.display().to_string(),
                    source,
                })?;
                let data: SeedData =
                    serde_json::from_str(&text).map_err(|e| SimError::Seed(e.to_string()))?;
                Scenario::Seed(data)
            }
            None => Scenario::Generate(GenerateSpec {
                hub_users: self.users,
                spoke_assignments: self.assignments,
                federation_collisions: self.federation_collisions,
                policy_lookalikes: self.policy_lookalikes,
                not_active_hub: self.not_active_hub,
                missing_hub: self.missing_hub,
                deprovisioned_hub: self.deprovisioned_hub,
                suspended_hub: self.suspended_hub,
                protected_admins: self.protected_admins,
                group_assigned: self.group_assigned,
                anchor: None,
            }),
        };
        let faults = match &self.faults_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| SimError::File {
                    path: path.display().to_string(),
                    source,
                })?;
                serde_json::from_str(&text)
                    .map_err(|e| SimError::Faults(format!("`{}`: {e}", path.display())))?
            }
            None => Faults {
                default: FaultSpec {
                    error_rate: self.fault_error_rate,
                    drop_rate: self.fault_drop_rate,
                    latency_ms: self.fault_latency_ms,
                },
                buckets: BTreeMap::new(),
            },
        };
        Ok(SimConfig {
            seed: self.seed,
            hub_token: self.hub_token.clone(),
            spoke_token: self.spoke_token.clone(),
            hub_port: self.hub_port,
            spoke_port: self.spoke_port,
            scenario,
            limits: if self.no_rate_limits {
                RateLimits::unlimited()
            } else {
                RateLimits {
                    window: self.rate_window,
                    ..RateLimits::default()
                }
            },
            faults,
            ..SimConfig::default()
        })
    }
}

/// The hub URL written into generated seed files, whose real port is only known at start.
pub const SEED_FILE_HUB_URL: &str = "http://127.0.0.1:0";

/// Runs `remedy sim` until interrupted.
pub async fn run(args: SimArgs) -> Result<(), SimError> {
    let config = args.config()?;
    if let (Some(path), Scenario::Generate(spec)) = (&args.write_seed, &config.scenario) {
        let data = generate(spec, config.seed, SEED_FILE_HUB_URL).compacted();
        std::fs::write(path, data.to_file_text()).map_err(|source| SimError::File {
            path: path.display().to_string(),
            source,
        })?;
        println!("wrote {}", path.display());
        return Ok(());
    }
    let sim = Sim::start(config).await?;
    println!("hub:   {}  token: {}", sim.hub_url(), sim.hub_token());
    println!("spoke: {}  token: {}", sim.spoke_url(), sim.spoke_token());
    println!(
        "try:   curl -H 'Authorization: SSWS {}' '{}/api/v1/users?limit=200'",
        sim.hub_token(),
        sim.hub_url()
    );
    println!("press Ctrl-C to stop");
    tokio::signal::ctrl_c().await.map_err(SimError::Signal)?;
    sim.shutdown().await;
    Ok(())
}
