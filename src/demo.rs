//! `remedy demo`: the whole product in one command with no Okta and no setup. Starts the simulator
//! in-process with a realistic scenario, plans a shipped rulebook (embedded, so it runs from any
//! directory) against it, applies the plan, simulates the affected users completing their password
//! reset, resumes, and ends with a before/after table. Planning and applying go through the same
//! `pipeline` and executor as `remedy plan` and `remedy apply`; the demo adds only the simulator and
//! the narration.

mod serve;
mod story;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use serde_json::Value;

use crate::apply::{self, journal::Journal, ApplyOptions, ApplySummary};
use crate::collect::{self, CollectOptions};
use crate::okta::{Auth, ClientLimits, OktaClient, OrgConfig, Secret};
use crate::pipeline::{self, catalogue, Clients, Roles};
use crate::plan::Plan;
use crate::rulebook::{Rulebook, RulebookError};
use crate::sim::{lookup_demo_scenario, OrgName, Scenario, Sim, SimConfig};
use story::Story;

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("simulator: {0}")]
    Sim(#[from] crate::sim::SimError),
    #[error(transparent)]
    Rulebook(#[from] RulebookError),
    #[error("the simulator's URL `{url}` is not valid: {message}")]
    SimUrl { url: String, message: String },
    #[error(transparent)]
    Okta(#[from] crate::okta::OktaError),
    #[error(transparent)]
    Live(#[from] pipeline::LiveError),
    #[error(transparent)]
    Apply(#[from] apply::ApplyError),
    #[error(transparent)]
    Journal(#[from] apply::journal::JournalError),
    #[error(transparent)]
    Serve(#[from] crate::serve::ServeError),
    #[error(transparent)]
    Store(crate::serve::StoreError),
    #[error("cannot prepare `{path}`: {source}")]
    Dir {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Arguments of `remedy demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// The rulebook to run: the name of a shipped one (`remedy rules list`) or a file.
    #[arg(long, default_value = catalogue::DEMO_RULEBOOK)]
    pub rules: PathBuf,
    /// Where the plan, journal and audit log are written (emptied first).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Simulator seed.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Show `remedy serve` instead: collisions keep arriving and are fixed with no command run.
    #[arg(long)]
    pub serve: bool,
    /// With --serve: how long the service runs.
    #[arg(long, default_value_t = 40, requires = "serve")]
    pub seconds: u64,
    /// With --serve: new FEDERATION collisions a minute.
    #[arg(long, default_value_t = 60, requires = "serve")]
    pub trickle: u32,
    /// With --serve: the System Log poll interval, in milliseconds.
    #[arg(long, default_value_t = 1000, requires = "serve")]
    pub poll_ms: u64,
}

/// The files the demo writes, in its directory.
struct Files {
    plan: PathBuf,
    journal: PathBuf,
    audit: PathBuf,
    manual_retries: PathBuf,
}

impl Files {
    fn in_dir(dir: &Path) -> Files {
        Files {
            plan: dir.join("plan.json"),
            journal: dir.join("plan.journal.sqlite"),
            audit: dir.join("plan.audit.jsonl"),
            manual_retries: dir.join("plan.manual-retries.txt"),
        }
    }
}

/// Failing Org2Org assignments in the simulator's spoke, by login.
fn failing(sim: &Sim) -> BTreeMap<String, Value> {
    let spoke = sim.dump(OrgName::Spoke);
    let mut out = BTreeMap::new();
    let apps = spoke.get("app_users").and_then(Value::as_object);
    for users in apps.into_iter().flat_map(|a| a.values()) {
        for au in users.as_array().into_iter().flatten() {
            if collect::is_failing(au) {
                let login = au
                    .pointer("/credentials/userName")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_string();
                out.insert(login, au.clone());
            }
        }
    }
    out
}

fn client(name: &str, url: &str, token: &str) -> Result<OktaClient, DemoError> {
    let base_url = url
        .parse()
        .map_err(|e: url::ParseError| DemoError::SimUrl {
            url: url.to_string(),
            message: e.to_string(),
        })?;
    Ok(OktaClient::new(OrgConfig {
        name: name.to_string(),
        base_url,
        auth: Auth::Ssws(Secret::new(token)),
        limits: ClientLimits::default(),
    })?)
}

/// Clients for the orgs the rulebook names, the hub role played by the simulator's hub org and the
/// spoke role by its spoke org.
fn connect(sim: &Sim, rb: &Rulebook) -> Result<Clients, DemoError> {
    Ok(match Roles::of(&rb.subjects) {
        Roles::Single(org) => Clients::single(client(&org, &sim.hub_url(), sim.hub_token())?),
        Roles::HubSpoke { hub, spoke } => Clients::pair(
            client(&hub, &sim.hub_url(), sim.hub_token())?,
            client(&spoke, &sim.spoke_url(), sim.spoke_token())?,
        ),
    })
}

fn prepare_dir(dir: &Path) -> Result<(), DemoError> {
    let err = |source| DemoError::Dir {
        path: dir.display().to_string(),
        source,
    };
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(err)?;
    }
    std::fs::create_dir_all(dir).map_err(err)
}

/// Plans the rulebook against the simulator through the same pipeline as `remedy plan`, and saves it.
async fn plan(rb: &Rulebook, orgs: &Clients, files: &Files) -> Result<Plan, DemoError> {
    let opts = CollectOptions {
        now: Utc::now(),
        full_scan: false,
        only_users: None,
        concurrency: 8,
    };
    let (plan, _) = pipeline::plan_live(rb, orgs, &opts, &|_| {}).await?;
    pipeline::write_private(&files.plan, plan.to_json().as_bytes()).map_err(|source| {
        DemoError::Dir {
            path: files.plan.display().to_string(),
            source,
        }
    })?;
    Ok(plan)
}

/// The apply run, twice: before and after the users set their passwords.
struct Executor<'a> {
    plan: &'a Plan,
    rulebook: &'a Rulebook,
    orgs: &'a Clients,
    journal: Journal,
    opts: ApplyOptions,
}

impl Executor<'_> {
    async fn run(&self) -> Result<ApplySummary, DemoError> {
        let (hub, spoke) = (self.orgs.hub(), self.orgs.spoke());
        Ok(apply::apply(
            self.plan,
            self.rulebook,
            hub,
            spoke,
            &self.journal,
            &self.opts,
        )
        .await?)
    }
}

/// Runs the demo, printing as it goes; `color` when stdout is a terminal.
pub async fn run(args: DemoArgs, color: bool) -> Result<(), DemoError> {
    let mut story = Story::new(color);
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("remedy-demo"));
    prepare_dir(&dir)?;
    if args.serve {
        let demo = serve::ServeDemo {
            seconds: args.seconds,
            trickle_per_minute: args.trickle,
            poll_interval: Duration::from_millis(args.poll_ms.max(50)),
        };
        return serve::run(&story, &dir, &args.rules, args.seed, &demo).await;
    }
    let files = Files::in_dir(&dir);
    let rb = catalogue::load(&args.rules)?;
    let spec = lookup_demo_scenario();
    story.head("Starting the Okta simulator (no real Okta is contacted)");
    let sim = Sim::start(SimConfig {
        seed: args.seed,
        scenario: Scenario::Generate(spec.clone()),
        ..SimConfig::default()
    })
    .await?;
    story.simulator(&sim, &spec);
    story.before = failing(&sim);
    story.failing_before();
    let orgs = connect(&sim, &rb)?;

    story.head(&format!("remedy plan --rules {}", args.rules.display()));
    let plan = plan(&rb, &orgs, &files).await?;
    story.planned(&plan, &files.plan);

    let executor = Executor {
        plan: &plan,
        rulebook: &rb,
        orgs: &orgs,
        journal: Journal::open(
            &files.journal,
            &plan.plan_id,
            &plan.checksum,
            &plan.rulebook.sha256,
        )?,
        opts: ApplyOptions {
            approve_destructive: false,
            concurrency: 8,
            max_actions: None,
            reset_urls: None,
            manual_retries: files.manual_retries.clone(),
            audit_log: files.audit.clone(),
            poll_interval: Duration::from_millis(50),
            progress: None,
            operator: Some("remedy demo".into()),
            notifier: None,
            only: None,
            approved: Default::default(),
            cancel: None,
            listed: None,
        },
    };
    story.head(&format!("remedy apply {}", files.plan.display()));
    let first = executor.run().await?;
    story.first_apply(&first);
    let waiting = story::waiting(&first);
    story.head(&format!(
        "{} users open their reset email and set a password (simulated)",
        waiting.len()
    ));
    let completed = waiting
        .iter()
        .filter(|login| sim.complete_password_reset(OrgName::Hub, login).is_ok())
        .count();
    story.say(&format!(
        "{completed} hub users are now ACTIVE with a password"
    ));

    story.head(&format!(
        "remedy apply {}  (resumes from the journal)",
        files.plan.display()
    ));
    let second = executor.run().await?;
    story.second_apply(&second, &files.journal, &files.audit);
    story.after = failing(&sim);
    story.results(&plan, &executor.journal, &orgs)?;
    story.files(&files.journal, &files.audit, &files.plan);
    sim.shutdown().await;
    Ok(())
}
