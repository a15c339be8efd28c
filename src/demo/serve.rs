//! `remedy demo --serve`: the service on the simulator in under a minute. The simulator keeps adding
//! FEDERATION collisions (`--trickle`) and its users set their passwords a few seconds after a reset;
//! `remedy serve` (the same `Service` the command runs) polls the System Log, resets, waits and
//! retries without any command. It ends with what happened and how fast.

use std::path::Path;
use std::time::{Duration, Instant};

use super::story::Story;
use super::DemoError;
use crate::serve::latency::{self, quantile};
use crate::serve::{ServeConfig, ServeOptions, Service, Store, WorkState};
use crate::sim::{lookup_demo_scenario, Scenario, Sim, SimConfig};

/// How the service demo runs.
#[derive(Debug, Clone)]
pub struct ServeDemo {
    pub seconds: u64,
    pub trickle_per_minute: u32,
    pub poll_interval: Duration,
}

fn write_config(
    dir: &Path,
    sim: &Sim,
    rules: &Path,
    demo: &ServeDemo,
) -> Result<std::path::PathBuf, DemoError> {
    let path = dir.join("remedy.yaml");
    let text = format!(
        "# Written by `remedy demo --serve`: the simulator's two orgs and one remediation.\n\
         orgs:\n  hub: {{ orgUrl: '{}', token: {} }}\n  spoke: {{ orgUrl: '{}', token: {} }}\n\
         service:\n  stateDir: state\n  listen: 127.0.0.1:0\n  pollInterval: {}ms\n  recheck: 10s\n\
         remediations:\n  - name: org2org\n    rules: '{}'\n    limits: {{ perHour: 1000, perDay: 5000 }}\n",
        sim.hub_url(),
        sim.hub_token(),
        sim.spoke_url(),
        sim.spoke_token(),
        demo.poll_interval.as_millis(),
        rules.display()
    );
    std::fs::write(&path, text).map_err(|source| DemoError::Dir {
        path: path.display().to_string(),
        source,
    })?;
    Ok(path)
}

fn counts(store: &Store) -> Result<std::collections::BTreeMap<WorkState, u64>, DemoError> {
    let mut out = std::collections::BTreeMap::new();
    for (_, s, n) in store.counts().map_err(DemoError::Store)? {
        *out.entry(s).or_insert(0) += n;
    }
    Ok(out)
}

fn line(counts: &std::collections::BTreeMap<WorkState, u64>) -> String {
    counts
        .iter()
        .map(|(s, n)| format!("{} {n}", s.label()))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// Runs the service demo in `dir`.
pub async fn run(
    story: &Story,
    dir: &Path,
    rules: &Path,
    seed: u64,
    demo: &ServeDemo,
) -> Result<(), DemoError> {
    story.head("Starting the Okta simulator: collisions keep arriving, users set their passwords");
    let sim = Sim::start(SimConfig {
        seed,
        scenario: Scenario::Generate(lookup_demo_scenario()),
        trickle_per_minute: demo.trickle_per_minute,
        complete_resets_after: Some(Duration::from_secs(3)),
        ..SimConfig::default()
    })
    .await?;
    story.say(&format!(
        "hub {} · spoke {} · {} new FEDERATION collisions a minute · a user sets a password 3 s after a reset",
        sim.hub_url(),
        sim.spoke_url(),
        demo.trickle_per_minute
    ));
    let config_path = write_config(dir, &sim, rules, demo)?;
    let env = |k: &str| std::env::var(k).ok();
    let config = ServeConfig::load(&config_path, &env).map_err(crate::serve::ServeError::from)?;
    let state = config.state_dir.clone();
    story.head(&format!("remedy serve --config {}", config_path.display()));
    let service = Service::start(config, ServeOptions::default()).await?;
    story.say(&format!(
        "listening on http://{} (/healthz, /readyz, /metrics); polling the spoke's System Log every {} ms",
        service.addr(),
        demo.poll_interval.as_millis()
    ));
    let store = Store::open_existing(&state).map_err(DemoError::Store)?;
    let started = Instant::now();
    let since = chrono::Utc::now();
    let total = Duration::from_secs(demo.seconds);
    let ticker = async {
        while started.elapsed() < total {
            tokio::time::sleep(Duration::from_secs(5).min(total.saturating_sub(started.elapsed())))
                .await;
            if let Ok(c) = counts(&store) {
                story.say(&format!(
                    "{:>3} s  {}",
                    started.elapsed().as_secs(),
                    line(&c)
                ));
            }
        }
    };
    service.run_until(ticker).await?;
    story.head("What the service did, with no command run");
    let c = counts(&store)?;
    story.say(&line(&c));
    let l =
        latency::measure(&store, &state.join("audit.jsonl"), since).map_err(DemoError::Store)?;
    let stage = |name: &str, v: &[i64]| match (quantile(v, 0.5), quantile(v, 0.99)) {
        (Some(p50), Some(p99)) => {
            format!("{name}: p50 {p50} ms, p99 {p99} ms over {} users", v.len())
        }
        _ => format!("{name}: none yet"),
    };
    story.say(&stage(
        "failure in the log → hub password reset",
        &l.failure_to_reset,
    ));
    story.say(&stage(
        "user sets a password → push retried",
        &l.password_to_retry,
    ));
    story.say(&stage(
        "failure in the log → push retried (incl. the user's 3 s)",
        &l.failure_to_retry,
    ));
    story.say(&format!(
        "state: {} (store serve.sqlite, plans/, audit.jsonl); approvals: `remedy approvals --config {}`",
        state.display(),
        config_path.display()
    ));
    Ok(())
}
