//! The Okta simulator: a hub and a spoke org, each on its own loopback port, serving the subset of
//! Okta's Management API the tool uses, with Org2Org push, the System Log, rate limits, faults, OAuth
//! with DPoP and a `/__sim/` test-control API.
//!
//! This file owns the public face (`SimConfig`, `Sim`, `SimError`); `remedy sim` is in `command`, the
//! shared runtime state in `runtime`. The data model is in `model`, seeds in `seed` and `generate`, the
//! HTTP pipeline in `api` (with `route`, `params`, `response`), the filter language in `query`, the
//! operations in `users`, `apps`, `logs`, `push`, `oauth` and `control`. It deliberately does not
//! persist anything: every start is a fresh in-memory state.

mod activity;
mod api;
mod apps;
mod command;
mod control;
mod generate;
mod hooks;
mod limits;
mod logs;
mod model;
mod oauth;
mod params;
mod push;
mod query;
mod resets;
mod response;
mod route;
mod rules;
mod runtime;
mod seed;
mod tap;
mod trickle;
mod users;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use api::RequestRecord;
pub use command::{run, SimArgs, SEED_FILE_HUB_URL};
pub use generate::{generate, lookup_demo_scenario, Collision, GenerateSpec};
pub use hooks::{
    DeliveryKind, EventHook, EventHooks, HookDelivery, HookError, DEFAULT_EVENT_TYPES,
    MAX_DELIVERY_RECORDS, MAX_EVENTS_PER_DELIVERY, MAX_EVENT_HOOKS, MAX_EVENT_TYPES,
    MAX_HOOK_TIMEOUT,
};
pub use limits::{bucket_names, FaultSpec, Faults, RateLimits};
pub use model::{OrgName, PasswordPolicy};
pub use oauth::{jwk_thumbprint, OAuthClient};
pub use resets::MAX_COMPLETE_RESETS_AFTER;
pub use seed::{SeedData, SeedOrg};
pub use trickle::{MAX_TRICKLE_BATCH, MAX_TRICKLE_PER_MINUTE};

/// The simulator's `search`/`filter` parser and evaluator on one document, every attribute allowed:
/// the entry point of the filter fuzz target (`fuzz/fuzz_targets/sim_filter.rs`). `Err` holds the
/// message a 400 `E0000031` would carry.
#[doc(hidden)]
pub fn check_filter(expr: &str, doc: &serde_json::Value) -> Result<bool, String> {
    let parsed = query::parse(expr, &|_, _| true).map_err(|e| e.to_string())?;
    Ok(parsed.eval(&|path| query::json_path_values(doc, path), false))
}

use runtime::Shared;

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
    #[error("invalid faults: {0}")]
    FaultSettings(#[from] limits::FaultError),
    #[error("push delay {0:?} is longer than the maximum of 10 minutes")]
    PushDelay(Duration),
    #[error("invalid service app: {0}")]
    ServiceApp(String),
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
    #[error("trickle of {0} a minute is over the maximum of {MAX_TRICKLE_PER_MINUTE}")]
    TrickleRate(u32),
    #[error("cannot add {0} assignments at once; the maximum is {MAX_TRICKLE_BATCH}")]
    TrickleBatch(usize),
    #[error("the {0} org has no Org2Org app to trickle assignments into")]
    NoOrg2OrgApp(OrgName),
    #[error("reset completion delay {0:?} is longer than the maximum of 30 days")]
    ResetDelay(Duration),
    #[error("invalid event hooks: {0}")]
    Hooks(#[from] HookError),
    #[error("environment variable `{0}` (the event hook secret) is not set or not UTF-8")]
    HookSecretEnv(String),
}

/// The longest Org2Org push delay accepted; Okta's own pushes finish within seconds.
pub const MAX_PUSH_DELAY: Duration = Duration::from_secs(600);

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
    /// Make API calls with a DPoP token carry the resource server's nonce: a proof without it (or with
    /// a stale one) is answered 401 `use_dpop_nonce` with a `DPoP-Nonce` header, as Okta may do.
    pub api_dpop_nonce: bool,
    /// How long after an assignment (or a retry) the Org2Org push runs, as Okta pushes in the
    /// background: meanwhile the app user's `syncState` is `SYNCING`, then `SYNCHRONIZED` or `ERROR`.
    /// Zero (the default) pushes before the call answers. `remedy sim` defaults to 300 ms.
    pub push_delay: Duration,
    /// New failing Org2Org assignments (FEDERATION collisions) added a minute while running; 0 (the
    /// default) adds none. At most [`MAX_TRICKLE_PER_MINUTE`].
    pub trickle_per_minute: u32,
    /// A hub user put in RECOVERY by a password reset while the simulator runs sets a password this
    /// long after; None (the default) leaves them waiting. At most [`MAX_COMPLETE_RESETS_AFTER`].
    pub complete_resets_after: Option<Duration>,
    /// Event hooks to deliver each org's new System Log events to (none by default).
    pub event_hooks: EventHooks,
}

impl SimConfig {
    /// Checks the settings a start would otherwise act on blindly: fault rates and latencies, and
    /// each service app's key (a public EC or RSA JWK) and scopes.
    pub fn validate(&self) -> Result<(), SimError> {
        self.faults.validate()?;
        if self.push_delay > MAX_PUSH_DELAY {
            return Err(SimError::PushDelay(self.push_delay));
        }
        if self.trickle_per_minute > MAX_TRICKLE_PER_MINUTE {
            return Err(SimError::TrickleRate(self.trickle_per_minute));
        }
        if let Some(after) = self.complete_resets_after {
            if after > MAX_COMPLETE_RESETS_AFTER {
                return Err(SimError::ResetDelay(after));
            }
        }
        self.event_hooks.validate()?;
        for app in self.service_apps() {
            app.validate().map_err(SimError::ServiceApp)?;
        }
        Ok(())
    }

    /// The OAuth service apps registered on both orgs: `oauth_clients`, then the seed's
    /// `service_apps`.
    pub fn service_apps(&self) -> Vec<OAuthClient> {
        let mut apps = self.oauth_clients.clone();
        if let Scenario::Seed(seed) = &self.scenario {
            apps.extend(seed.service_apps.iter().cloned());
        }
        apps
    }
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
            .field("api_dpop_nonce", &self.api_dpop_nonce)
            .field("push_delay", &self.push_delay)
            .field("trickle_per_minute", &self.trickle_per_minute)
            .field("complete_resets_after", &self.complete_resets_after)
            .field("event_hooks", &self.event_hooks)
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
            api_dpop_nonce: false,
            push_delay: Duration::ZERO,
            trickle_per_minute: 0,
            complete_resets_after: None,
            event_hooks: EventHooks::default(),
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
    /// The trickle, reset completion and event hook tasks: aborted at shutdown.
    background: Vec<JoinHandle<()>>,
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
        config.validate()?;
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
        let shared = Arc::new(Shared::new(&config, scenario, [hub_url, spoke_url])?);
        if config.trickle_per_minute > 0
            && shared
                .read_world()
                .org(OrgName::Spoke)
                .org2org_app()
                .is_none()
        {
            return Err(SimError::NoOrg2OrgApp(OrgName::Spoke));
        }
        let mut sim = Sim {
            shared: shared.clone(),
            shutdown: Vec::new(),
            tasks: Vec::new(),
            background: activity::spawn(&shared, &config),
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

    /// Replaces the org's faults. Invalid settings (a rate outside 0-1, a latency over the maximum)
    /// are refused: the current faults stay and the refusal is logged; [`Sim::try_set_faults`] returns
    /// it instead.
    pub fn set_faults(&self, org: OrgName, faults: Faults) {
        if let Err(e) = self.try_set_faults(org, faults) {
            tracing::error!(%org, error = %e, "faults refused");
        }
    }

    /// Replaces the org's faults, or says why they are invalid (the current faults then stay).
    pub fn try_set_faults(&self, org: OrgName, faults: Faults) -> Result<(), SimError> {
        faults.validate()?;
        self.shared.runtime(org).set_faults(faults);
        Ok(())
    }

    /// Back to the initial state; records, counters and rate-limit windows cleared.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Adds `n` new failing Org2Org assignments now, as the trickle does (at most
    /// [`MAX_TRICKLE_BATCH`]): each a FEDERATION hub user, the matching spoke user assigned to the
    /// Org2Org app, its push failed (`syncState` ERROR) and the events of it all in both System Logs.
    pub fn trickle_now(&self, n: usize) -> Result<Vec<Collision>, SimError> {
        trickle::add(&self.shared, n)
    }

    /// Every event hook delivery attempt so far (verifications included), oldest first; the last
    /// [`MAX_DELIVERY_RECORDS`] are kept.
    pub fn hook_deliveries(&self) -> Vec<HookDelivery> {
        self.shared.activity.hooks.deliveries()
    }

    /// Whether the event hook at `index` of `EventHooks::hooks` passed its verification.
    pub fn hook_verified(&self, index: usize) -> bool {
        self.shared.activity.hooks.verified(index)
    }

    /// Stops both servers and waits for them.
    pub async fn shutdown(self) {
        for task in self.background {
            task.abort();
            // Cancelled is what was asked for; anything else (a panic) is worth saying.
            if let Err(e) = task.await {
                if !e.is_cancelled() {
                    tracing::warn!(error = %e, "a simulator background task failed");
                }
            }
        }
        for tx in self.shutdown {
            // A server that already stopped has dropped its receiver: nothing left to tell.
            tx.send(()).ok();
        }
        for task in self.tasks {
            if let Err(e) = task.await {
                tracing::warn!(error = %e, "a simulator server task failed");
            }
        }
    }
}
