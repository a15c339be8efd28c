//! `remedy demo`: the whole product in one command with no Okta and no setup. Starts the simulator
//! in-process with a realistic scenario, plans the shipped seed rulebook against it, applies the plan,
//! simulates the affected users completing their password reset, resumes, and ends with a before/after
//! table. It uses the same collector, planner and executor as the real commands; it only adds the
//! simulator and the narration.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::Utc;
use serde_json::Value;

use crate::apply::{self, journal::Journal, ApplyOptions, SubjectState};
use crate::collect::{self, CollectOptions};
use crate::engine::evaluate;
use crate::okta::{Auth, ClientLimits, OktaClient, OrgConfig, Secret};
use crate::plan::{render::render_limited, PlanBuilder};
use crate::rulebook;
use crate::sim::{lookup_demo_scenario, OrgName, Scenario, Sim, SimConfig};

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("simulator: {0}")]
    Sim(#[from] crate::sim::SimError),
    #[error("{0}")]
    Rulebook(String),
    #[error(transparent)]
    Okta(#[from] crate::okta::OktaError),
    #[error(transparent)]
    Collect(#[from] collect::CollectError),
    #[error(transparent)]
    Plan(#[from] crate::plan::PlanError),
    #[error(transparent)]
    Apply(#[from] apply::ApplyError),
    #[error(transparent)]
    Journal(#[from] apply::journal::JournalError),
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
    /// The rulebook to run.
    #[arg(long, default_value = "rules/org2org-password-sync.yaml")]
    pub rules: PathBuf,
    /// Where the plan, journal and audit log are written (emptied first).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Simulator seed.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
}

struct Style {
    color: bool,
}

impl Style {
    fn head(&self, text: &str) -> String {
        if self.color {
            format!("\n\x1b[1;36m▶ {text}\x1b[0m")
        } else {
            format!("\n== {text}")
        }
    }
}

fn failing(sim: &Sim) -> BTreeMap<String, Value> {
    let spoke = sim.dump(OrgName::Spoke);
    let mut out = BTreeMap::new();
    if let Some(apps) = spoke.get("app_users").and_then(Value::as_object) {
        for users in apps.values() {
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
    }
    out
}

fn client(name: &str, url: &str, token: &str) -> Result<OktaClient, DemoError> {
    let base_url = url
        .parse()
        .map_err(|e| DemoError::Rulebook(format!("simulator URL `{url}`: {e}")))?;
    Ok(OktaClient::new(OrgConfig {
        name: name.to_string(),
        base_url,
        auth: Auth::Ssws(Secret::new(token)),
        limits: ClientLimits::default(),
    })?)
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

/// Runs the demo, printing as it goes; `color` when stdout is a terminal.
pub async fn run(args: DemoArgs, color: bool) -> Result<(), DemoError> {
    let started = Instant::now();
    let st = Style { color };
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("remedy-demo"));
    prepare_dir(&dir)?;
    let rb = rulebook::load(&args.rules).map_err(|e| DemoError::Rulebook(e.render()))?;
    let spec = lookup_demo_scenario();
    println!(
        "{}",
        st.head("Starting the Okta simulator (no real Okta is contacted)")
    );
    let sim = Sim::start(SimConfig {
        seed: args.seed,
        scenario: Scenario::Generate(spec.clone()),
        ..SimConfig::default()
    })
    .await?;
    println!(
        "hub   {}  ({} users)\nspoke {}  (Org2Org app `okta_org2org`, {} assignments)",
        sim.hub_url(),
        spec.hub_users,
        sim.spoke_url(),
        spec.spoke_assignments
    );
    let before = failing(&sim);
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    println!(
        "{} assignments fail to provision (syncState ERROR, or STAGED and never linked)",
        before.len()
    );
    let hub = client("hub", &sim.hub_url(), sim.hub_token())?;
    let spoke = client("spoke", &sim.spoke_url(), sim.spoke_token())?;

    println!(
        "{}",
        st.head(&format!("remedy plan --rules {}", args.rules.display()))
    );
    let now = Utc::now();
    let opts = CollectOptions {
        now,
        full_scan: false,
        concurrency: 8,
    };
    let mut collection = collect::collect(&rb, &hub, &spoke, &opts, &|_| {}).await?;
    for c in [&hub, &spoke] {
        collection
            .source
            .orgs
            .insert(c.org_name().to_string(), c.base_url().to_string());
    }
    for (org, c) in [("hub", &hub), ("spoke", &spoke)] {
        for (endpoint, n) in c.request_counts() {
            collection
                .source
                .requests
                .insert(format!("{org} {endpoint}"), n);
        }
    }
    let collect_requests: u64 = collection.source.requests.values().sum();
    let mut builder = PlanBuilder::new(&rb, now, collection.source.clone());
    for (i, s) in collection.subjects.iter().enumerate() {
        let d = evaluate(&rb, s, now, i);
        if let (crate::engine::Verdict::Matched, Some(r)) = (d.verdict, d.matched.first()) {
            *reasons.entry(r.0.clone()).or_default() += 1;
        }
        builder.add(s, &d);
    }
    let plan = builder.finish()?;
    print!("{}", render_limited(&plan, Some(4)));
    let plan_path = dir.join("plan.json");
    std::fs::write(&plan_path, plan.to_json()).map_err(|source| DemoError::Dir {
        path: plan_path.display().to_string(),
        source,
    })?;
    println!("(full plan: remedy show {})", plan_path.display());

    let journal_path = dir.join("plan.journal.sqlite");
    let audit_path = dir.join("plan.audit.jsonl");
    let journal = Journal::open(
        &journal_path,
        &plan.plan_id,
        &plan.checksum,
        &plan.rulebook.sha256,
    )?;
    let apply_opts = ApplyOptions {
        approve_destructive: false,
        concurrency: 8,
        max_actions: None,
        reset_urls: None,
        manual_retries: dir.join("plan.manual-retries.txt"),
        audit_log: audit_path.clone(),
        poll_interval: std::time::Duration::from_millis(50),
        progress: None,
        operator: Some("remedy demo".into()),
    };
    println!(
        "{}",
        st.head(&format!("remedy apply {}", plan_path.display()))
    );
    let first = apply::apply(&plan, &rb, &hub, &spoke, &journal, &apply_opts).await?;
    println!(
        "{} done, {} waiting for users to set a password, {} failed, {} protected",
        first.count(SubjectState::Done),
        first.count(SubjectState::Waiting),
        first.count(SubjectState::Failed),
        first.count(SubjectState::Protected)
    );

    let waiting: Vec<String> = first
        .subjects
        .iter()
        .filter(|s| s.state == SubjectState::Waiting)
        .map(|s| s.subject.clone())
        .collect();
    println!(
        "{}",
        st.head(&format!(
            "{} users open their reset email and set a password (simulated)",
            waiting.len()
        ))
    );
    let mut completed = 0;
    for login in &waiting {
        if sim.complete_password_reset(OrgName::Hub, login).is_ok() {
            completed += 1;
        }
    }
    println!("{completed} hub users are now ACTIVE with a password");

    println!(
        "{}",
        st.head(&format!(
            "remedy apply {}  (resumes from the journal)",
            plan_path.display()
        ))
    );
    let second = apply::apply(&plan, &rb, &hub, &spoke, &journal, &apply_opts).await?;
    print!(
        "{}",
        apply::render_summary(&second, &journal_path, &audit_path)
            .lines()
            .filter(|l| !l.starts_with("  done"))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    );

    let after = failing(&sim);
    let mut actions: BTreeMap<String, u64> = BTreeMap::new();
    for r in journal.steps()? {
        if r.state == apply::journal::StepState::Done {
            *actions.entry(r.action.clone()).or_default() += 1;
        }
    }
    let total_requests: u64 =
        hub.request_counts().values().sum::<u64>() + spoke.request_counts().values().sum::<u64>();
    let repaired = before.keys().filter(|k| !after.contains_key(*k)).count();
    let mut table = String::new();
    let _ = writeln!(table, "{}", st.head("Before and after"));
    let _ = writeln!(table, "  {:<52} {:>8} {:>8}", "", "before", "after");
    let _ = writeln!(
        table,
        "  {:<52} {:>8} {:>8}",
        "failing Org2Org assignments",
        before.len(),
        after.len()
    );
    let _ = writeln!(table, "  {:<52} {:>8}", "repaired", repaired);
    for (rule, n) in &reasons {
        let _ = writeln!(table, "    matched {:<42} {:>8}", rule, n);
    }
    let _ = writeln!(
        table,
        "  {:<52} {:>8}",
        "protected (never touched)", plan.summary.protected
    );
    let _ = writeln!(table, "  actions taken:");
    for (a, n) in &actions {
        let _ = writeln!(table, "    {:<50} {:>8}", a, n);
    }
    let _ = writeln!(
        table,
        "  {:<52} {:>8}",
        "Okta requests while planning", collect_requests
    );
    let _ = writeln!(
        table,
        "  {:<52} {:>8}",
        "Okta requests in all", total_requests
    );
    print!("{table}");
    if !after.is_empty() {
        println!("\nStill failing, by design (a person decides): policy mismatches and deprovisioned or suspended hub users were reported, admins are protected:");
        for login in after.keys().take(20) {
            println!("  {login}");
        }
    }
    println!(
        "\nJournal:   {}\nAudit log: {}\nPlan:      {}\nFinished in {:.1} s.",
        journal_path.display(),
        audit_path.display(),
        plan_path.display(),
        started.elapsed().as_secs_f64()
    );
    sim.shutdown().await;
    Ok(())
}
