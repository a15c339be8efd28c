//! Shared setup of the HTTP tests: a simulator with a small deterministic scenario and clients for its
//! two orgs, with fast retry backoff so failure paths stay quick.

use std::time::Duration;

use okta_remedy::okta::{Auth, ClientLimits, OktaClient, OrgConfig, Secret};
use okta_remedy::sim::{GenerateSpec, OrgName, Scenario, Sim, SimConfig};

/// Every scope the simulator enforces.
pub const ALL_SCOPES: &[&str] = &[
    "okta.users.read",
    "okta.users.manage",
    "okta.apps.read",
    "okta.apps.manage",
    "okta.logs.read",
    "okta.groups.read",
    "okta.groups.manage",
];

/// Limits for tests: real retry logic, millisecond backoff.
pub fn fast_limits() -> ClientLimits {
    ClientLimits {
        backoff_base: Duration::from_millis(5),
        backoff_max: Duration::from_millis(40),
        timeout: Duration::from_secs(10),
        ..ClientLimits::default()
    }
}

pub fn small_scenario() -> GenerateSpec {
    GenerateSpec {
        hub_users: 60,
        spoke_assignments: 20,
        ..GenerateSpec::default()
    }
}

pub fn sim_config() -> SimConfig {
    SimConfig {
        scenario: Scenario::Generate(small_scenario()),
        ..SimConfig::default()
    }
}

pub fn ssws_client(name: &str, url: &str, token: &str, limits: ClientLimits) -> OktaClient {
    OktaClient::new(OrgConfig {
        name: name.to_string(),
        base_url: url::Url::parse(url).unwrap(),
        auth: Auth::Ssws(Secret::new(token)),
        limits,
    })
    .unwrap()
}

/// A hub client with the given limits.
pub fn hub_with(sim: &Sim, limits: ClientLimits) -> OktaClient {
    ssws_client("hub", &sim.hub_url(), sim.hub_token(), limits)
}

pub fn hub(sim: &Sim) -> OktaClient {
    ssws_client("hub", &sim.hub_url(), sim.hub_token(), fast_limits())
}

pub fn spoke(sim: &Sim) -> OktaClient {
    ssws_client("spoke", &sim.spoke_url(), sim.spoke_token(), fast_limits())
}

pub async fn start(config: SimConfig) -> Sim {
    Sim::start(config).await.unwrap()
}

/// Every request the simulator recorded for an org passes the spec check of `spec.rs`.
pub fn assert_requests_match_spec(sim: &Sim, org: OrgName) -> usize {
    let records = sim.requests(org);
    let mut checked = 0;
    for r in &records {
        if r.path.starts_with("/oauth2/") || r.path.starts_with("/__sim/") {
            continue;
        }
        let query: Vec<(String, String)> =
            url::form_urlencoded::parse(r.query.trim_start_matches('?').as_bytes())
                .into_owned()
                .collect();
        if let Err(e) = super::spec::check_request(&r.method, &r.path, &query) {
            panic!("request not in the spec: {e}");
        }
        checked += 1;
    }
    checked
}

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/okta/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}
