//! `remedy sim`: its flags, the configuration they describe (seed and faults files read and checked
//! here), and the run until Ctrl-C.
//!
//! Owns the command line of the simulator. It does not build state or serve (`Sim`).

use std::collections::BTreeMap;
use std::time::Duration;

use clap::Args;

use super::{
    generate, EventHook, EventHooks, FaultSpec, Faults, GenerateSpec, OAuthClient, OrgName,
    RateLimits, Scenario, SeedData, Sim, SimConfig, SimError, DEFAULT_EVENT_TYPES,
};

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
    /// How long after an assignment or retry the Org2Org push runs, as Okta pushes in the background
    /// (the app user is `SYNCING` meanwhile); `0s` pushes before the call answers.
    #[arg(long, default_value = "300ms", value_parser = humantime::parse_duration)]
    pub push_delay: Duration,
    /// Turn rate limits and the concurrency cap off (for load tests).
    #[arg(long)]
    pub no_rate_limits: bool,
    /// Register an OAuth service app with this client id on both orgs (private-key JWT client
    /// assertions, DPoP-bound tokens); more can be listed in the seed file's `service_apps`.
    #[arg(long, value_name = "CLIENT_ID", requires = "service_app_jwk")]
    pub service_app: Option<String>,
    /// JSON file holding the public JWK (EC or RSA, with its `kid`) that verifies the service app's
    /// client assertions.
    #[arg(long, value_name = "PATH", requires = "service_app")]
    pub service_app_jwk: Option<std::path::PathBuf>,
    /// Scopes granted to the service app (comma-separated).
    #[arg(
        long,
        value_name = "SCOPES",
        value_delimiter = ',',
        default_value = "okta.users.manage,okta.apps.manage,okta.groups.manage,okta.logs.read"
    )]
    pub service_app_scopes: Vec<String>,
    /// Write the generated scenario as a seed file to this path and exit.
    #[arg(long, value_name = "PATH")]
    pub write_seed: Option<std::path::PathBuf>,
    /// Keep adding new failing Org2Org assignments (FEDERATION collisions, as the generated scenario
    /// has) at this rate while running: `N/min` or `N`, at most 6000; 0 adds none.
    #[arg(long, value_name = "N/min", default_value = "0", value_parser = parse_trickle)]
    pub trickle: u32,
    /// A hub user put in RECOVERY by a password reset sets a password this long after (e.g. `30s`,
    /// at most 30 days); off by default.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub complete_resets_after: Option<Duration>,
    /// Deliver an org's new System Log events to this URL as Okta event hooks do (verification GET,
    /// then POSTs): `[hub=|spoke=]URL`, the spoke by default; repeat for more hooks (at most 10).
    #[arg(long, value_name = "[ORG=]URL", value_parser = parse_hook_target)]
    pub event_hook: Vec<(OrgName, String)>,
    /// Name of the header carrying the event hooks' secret.
    #[arg(long, value_name = "NAME", default_value = "Authorization")]
    pub event_hook_header: String,
    /// Environment variable holding the event hooks' secret (the header's value; never printed).
    #[arg(long, value_name = "VAR")]
    pub event_hook_secret_env: Option<String>,
    /// Event types the hooks subscribe to (comma-separated; default: the Org2Org push failures,
    /// `user.account.update_password`, `user.lifecycle.activate`).
    #[arg(long, value_name = "TYPES", value_delimiter = ',')]
    pub event_hook_types: Vec<String>,
    /// Share of event hook deliveries sent twice (0.0-1.0), as Okta delivers at least once.
    #[arg(long, value_name = "RATE", default_value_t = 0.0)]
    pub event_hook_duplicates: f64,
    /// How long a receiver may take to answer before the delivery is retried (once), as Okta does.
    #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = humantime::parse_duration)]
    pub event_hook_timeout: Duration,
}

/// `--trickle`: `N/min` or `N` (a minute).
fn parse_trickle(s: &str) -> Result<u32, String> {
    let n = s.strip_suffix("/min").unwrap_or(s).trim();
    n.parse::<u32>()
        .map_err(|_| format!("`{s}` is not a rate such as `10/min`"))
}

/// `--event-hook`: `[hub=|spoke=]URL`.
fn parse_hook_target(s: &str) -> Result<(OrgName, String), String> {
    match s.split_once('=') {
        Some(("hub", url)) => Ok((OrgName::Hub, url.to_string())),
        Some(("spoke", url)) => Ok((OrgName::Spoke, url.to_string())),
        _ if s.starts_with("http://") || s.starts_with("https://") => {
            Ok((OrgName::Spoke, s.to_string()))
        }
        _ => Err("expected `hub=URL`, `spoke=URL` or an http(s) URL".into()),
    }
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
            .field("trickle", &self.trickle)
            .field("complete_resets_after", &self.complete_resets_after)
            .field("event_hooks", &self.event_hook.len())
            .finish_non_exhaustive()
    }
}

impl SimArgs {
    /// The event hooks of `--event-hook*`, the secret read from its environment variable.
    fn event_hooks(&self) -> Result<EventHooks, SimError> {
        let secret = match &self.event_hook_secret_env {
            Some(var) => {
                Some(std::env::var(var).map_err(|_| SimError::HookSecretEnv(var.clone()))?)
            }
            None => None,
        };
        let types: Vec<String> = if self.event_hook_types.is_empty() {
            DEFAULT_EVENT_TYPES.iter().map(|t| t.to_string()).collect()
        } else {
            self.event_hook_types.clone()
        };
        let hooks = self
            .event_hook
            .iter()
            .map(|(org, url)| EventHook {
                org: *org,
                url: url.clone(),
                header: self.event_hook_header.clone(),
                secret: secret.clone(),
                event_types: types.clone(),
            })
            .collect();
        let hooks = EventHooks {
            hooks,
            duplicate_rate: self.event_hook_duplicates,
            timeout: self.event_hook_timeout,
        };
        hooks.validate()?;
        Ok(hooks)
    }

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
        faults.validate()?;
        let oauth_clients = self.service_app()?.into_iter().collect();
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
            oauth_clients,
            push_delay: self.push_delay,
            trickle_per_minute: self.trickle,
            complete_resets_after: self.complete_resets_after,
            event_hooks: self.event_hooks()?,
            ..SimConfig::default()
        })
    }

    /// The service app of `--service-app`, its key read from `--service-app-jwk`.
    fn service_app(&self) -> Result<Option<OAuthClient>, SimError> {
        let (Some(client_id), Some(path)) = (&self.service_app, &self.service_app_jwk) else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path).map_err(|source| SimError::File {
            path: path.display().to_string(),
            source,
        })?;
        let public_jwk: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            SimError::ServiceApp(format!("`{}` is not a JSON JWK: {e}", path.display()))
        })?;
        let app = OAuthClient {
            client_id: client_id.clone(),
            public_jwk,
            scopes: self.service_app_scopes.clone(),
        };
        app.validate().map_err(SimError::ServiceApp)?;
        Ok(Some(app))
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
    for app in sim.shared.oauth_clients.iter() {
        println!(
            "service app: {}  scopes: {}",
            app.client_id,
            app.scopes.join(" ")
        );
    }
    if args.trickle > 0 {
        println!("trickle: {} new failing assignments a minute", args.trickle);
    }
    if let Some(after) = args.complete_resets_after {
        println!(
            "resets:  users complete a reset {} after it",
            humantime::format_duration(after)
        );
    }
    for (org, _) in &args.event_hook {
        println!("event hook: {org} org events (URL not shown)");
    }
    println!("press Ctrl-C to stop");
    tokio::signal::ctrl_c().await.map_err(SimError::Signal)?;
    sim.shutdown().await;
    Ok(())
}
