//! The simulator's shared runtime state: both orgs' Okta data (`World`, behind one lock), and per org
//! what is not Okta data (`OrgRuntime`: identity, limits, faults, request records, OAuth state).
//!
//! Owns locking and the rebuild on `reset`. It does not serve HTTP (`api`) nor start servers (`Sim`).

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use super::activity::Activity;
use super::api::RequestRecord;
use super::limits::{FaultDecision, FaultState, InFlight, Limiter, RateStatus};
use super::model::{IdGen, Org, OrgName};
use super::{generate, oauth, seed, Faults, OAuthClient, Scenario, SimConfig, SimError};

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

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
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

    pub(crate) fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.records).0.iter().cloned().collect()
    }

    pub(crate) fn counters(&self) -> BTreeMap<String, u64> {
        lock(&self.records).1.clone()
    }

    pub(crate) fn set_faults(&self, faults: Faults) {
        lock(&self.faults).set(faults);
    }

    pub(crate) fn reset(&self) {
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
    /// Whether API calls with a DPoP token must carry the resource server's nonce.
    pub api_dpop_nonce: bool,
    /// How long an Org2Org push waits before it runs (zero: before the triggering call answers).
    pub push_delay: Duration,
    /// Bumped by every `reset`, so a push scheduled before one does not act on the rebuilt world.
    generation: AtomicU64,
    /// The trickle, reset completion and event hooks (see `activity`).
    pub activity: Activity,
}

impl Shared {
    /// Builds both orgs from `scenario` and the runtime of each, served at `urls` (hub, spoke).
    pub(crate) fn new(
        config: &SimConfig,
        scenario: Scenario,
        urls: [String; 2],
    ) -> Result<Shared, SimError> {
        let [hub_url, spoke_url] = urls;
        let world = build_world(&scenario, config.seed, &hub_url)?;
        // `config.scenario` was moved out into `scenario`: take the seed's service apps from there.
        let mut oauth_clients = config.oauth_clients.clone();
        if let Scenario::Seed(seed) = &scenario {
            oauth_clients.extend(seed.service_apps.iter().cloned());
        }
        Ok(Shared {
            initial: (scenario, config.seed, hub_url.clone()),
            world: RwLock::new(world),
            runtimes: [
                OrgRuntime::new(OrgName::Hub, hub_url, config.hub_token.clone(), config),
                OrgRuntime::new(
                    OrgName::Spoke,
                    spoke_url,
                    config.spoke_token.clone(),
                    config,
                ),
            ],
            oauth_clients,
            token_ttl: config.token_ttl,
            api_dpop_nonce: config.api_dpop_nonce,
            push_delay: config.push_delay,
            generation: AtomicU64::new(0),
            activity: Activity::new(config),
        })
    }

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

    /// The current generation of the world (see `reset`).
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Restores the initial state and clears records and rate-limit windows.
    pub(crate) fn reset(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
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
