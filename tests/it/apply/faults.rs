//! Injected faults: the simulator answers 10% of requests with 500, drops 5% of connections and
//! enforces tight rate limits (seeded). `remedy apply` is re-run until nothing waits; every subject
//! must end done, skipped or failed with a reason, and no mutating call may reach Okta more often than
//! in a run without faults. The simulator faults a request before its operation, so a second test
//! loses responses after the operation (in process, through `tapped`): those calls must be
//! reconciled, not repeated.

use std::collections::BTreeMap;
use std::time::Duration;

use okta_remedy::sim::{FaultSpec, Faults, GenerateSpec, OrgName, RateLimits, Sim, SimConfig};
use serde_json::Value;

use okta_remedy::apply::journal::Journal;
use okta_remedy::apply::{apply, ApplyOptions, SubjectState};
use okta_remedy::plan::Plan;

use super::crash::generous_limits;
use super::tapped::{client, Tapped};
use super::{anchor, mutations, scenario, waiting_subjects, Env};

const RULES: &str = "tests/fixtures/apply/crash-mixed.yaml";
const APPLY: &[&str] = &["--approve-destructive", "--concurrency", "8"];

fn spec() -> GenerateSpec {
    GenerateSpec {
        hub_users: 10,
        spoke_assignments: 70,
        federation_collisions: 30,
        policy_lookalikes: 4,
        not_active_hub: 12,
        missing_hub: 12,
        deprovisioned_hub: 2,
        suspended_hub: 2,
        protected_admins: 1,
        group_assigned: 0,
        anchor: Some(anchor()),
    }
}

/// A few dozen requests per bucket per 1-second window, and 6 requests in flight per org (the client
/// sends up to 8): every run meets 429s.
fn tight_limits() -> RateLimits {
    let mut l = RateLimits::default();
    for v in l.buckets.values_mut() {
        *v = 60;
    }
    l.default = 60;
    l.window = Duration::from_secs(1);
    l.max_in_flight = 6;
    l
}

fn faults() -> Faults {
    Faults {
        default: FaultSpec {
            error_rate: 0.10,
            drop_rate: 0.05,
            latency_ms: 3,
        },
        buckets: BTreeMap::new(),
    }
}

/// Runs apply until a run ends with nothing waiting; returns the last run's JSON summary.
async fn until_settled(env: &Env, sim: &Sim, cfg: &str, journal: &str, rounds: usize) -> Value {
    let mut last = String::new();
    for _ in 0..rounds {
        let mut args = vec![
            "--output",
            "json",
            "apply",
            "plan.json",
            "--config",
            cfg,
            "--journal",
            journal,
        ];
        args.extend_from_slice(APPLY);
        let run = env.remedy(&args).await;
        assert!(
            run.code == 0 || run.code == 3,
            "apply is not expected to error: {}",
            run.transcript()
        );
        last = run.stdout.clone();
        let summary: Value = serde_json::from_str(&run.stdout).expect("JSON summary");
        env.complete_waiting(sim, &env.path(journal));
        let unsettled = summary["subjects"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["state"] == "waiting" || s["state"] == "failed");
        if !unsettled && waiting_subjects(&env.path(journal)).is_empty() {
            return summary;
        }
    }
    serde_json::from_str(&last).expect("JSON summary")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_and_rate_limits_end_every_step_cleanly_without_duplicates() {
    let faulty = SimConfig {
        seed: 5,
        scenario: scenario(&spec()),
        limits: tight_limits(),
        ..SimConfig::default()
    };
    let env = Env::start(faulty, RULES).await;
    let reference = Sim::start(SimConfig {
        seed: 5,
        scenario: scenario(&spec()),
        limits: generous_limits(),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    env.write_config("reference.yaml", &reference);
    // Plan on a quiet org: this test is about apply.
    let _plan = env.plan().await;
    let expected = {
        let s = until_settled(&env, &reference, "reference.yaml", "reference.sqlite", 4).await;
        assert!(
            s["subjects"]
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s["state"] == "done" || s["state"] == "protected"),
            "{s:#}"
        );
        mutations(&reference)
    };

    env.sim.set_faults(OrgName::Hub, faults());
    env.sim.set_faults(OrgName::Spoke, faults());
    let summary = until_settled(&env, &env.sim, "remedy.yaml", "plan.journal.sqlite", 8).await;

    // The faults happened: 500s, dropped connections and 429s.
    let statuses: Vec<u16> = [OrgName::Hub, OrgName::Spoke]
        .iter()
        .flat_map(|o| env.sim.requests(*o))
        .map(|r| r.status)
        .collect();
    for s in [0, 429, 500] {
        assert!(
            statuses.contains(&s),
            "no response with status {s} (0 = dropped)"
        );
    }

    // Every subject ended done, skipped or failed with a reason.
    let mut states: BTreeMap<String, usize> = BTreeMap::new();
    for s in summary["subjects"].as_array().unwrap() {
        let state = s["state"].as_str().unwrap();
        *states.entry(state.to_string()).or_default() += 1;
        match state {
            "done" | "protected" => {}
            "skipped" | "skipped_drift" | "failed" => assert!(
                s["detail"].as_str().is_some_and(|d| !d.is_empty()),
                "no reason: {s}"
            ),
            other => panic!("{} ended {other}: {s}", s["subject"]),
        }
    }
    assert!(states["done"] >= 50, "{states:?}");

    // No mutating call reached Okta more often than without faults.
    let got = mutations(&env.sim);
    let over: Vec<String> = got
        .iter()
        .filter(|(k, n)| **n > expected.get(*k).copied().unwrap_or(0))
        .map(|(k, n)| format!("{k}: {n}, without faults {:?}", expected.get(k)))
        .collect();
    assert!(over.is_empty(), "duplicated actions:\n{}", over.join("\n"));
    reference.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_responses_are_reconciled_not_repeated() {
    let config = || SimConfig {
        seed: 6,
        scenario: scenario(&spec()),
        limits: generous_limits(),
        ..SimConfig::default()
    };
    let env = Env::start(config(), RULES).await;
    let reference = Sim::start(config()).await.unwrap();
    env.write_config("reference.yaml", &reference);
    let plan_path = env.plan().await;
    until_settled(&env, &reference, "reference.yaml", "reference.sqlite", 4).await;
    let expected = mutations(&reference);

    // A third of the applied mutating calls lose their response.
    let plan = Plan::read(&plan_path).unwrap();
    let rb = okta_remedy::rulebook::load(&env.path(&plan.rulebook.path)).unwrap();
    let cfg = env.path("remedy.yaml");
    let hub = Tapped::new(client(&cfg, "hub")).losing(0.33, 1);
    let spoke = Tapped::new(client(&cfg, "spoke")).losing(0.33, 2);
    let opts = ApplyOptions {
        approve_destructive: true,
        concurrency: 8,
        max_actions: None,
        reset_urls: None,
        manual_retries: env.path("manual.txt"),
        audit_log: env.path("audit.jsonl"),
        poll_interval: Duration::from_millis(10),
        progress: None,
        operator: None,
        notifier: None,
        only: None,
        approved: Default::default(),
        cancel: None,
        listed: None,
    };
    let journal_path = env.path("lossy.sqlite");
    let mut last = None;
    for _ in 0..6 {
        let journal = Journal::open(
            &journal_path,
            &plan.plan_id,
            &plan.checksum,
            &plan.rulebook.sha256,
        )
        .unwrap();
        let summary = apply(&plan, &rb, &hub, &spoke, &journal, &opts)
            .await
            .unwrap();
        drop(journal);
        env.complete_waiting(&env.sim, &journal_path);
        let settled = summary
            .subjects
            .iter()
            .all(|s| matches!(s.state, SubjectState::Done | SubjectState::Protected));
        last = Some(summary);
        if settled {
            break;
        }
    }
    let summary = last.unwrap();
    let unsettled: Vec<_> = summary
        .subjects
        .iter()
        .filter(|s| !matches!(s.state, SubjectState::Done | SubjectState::Protected))
        .collect();
    assert!(unsettled.is_empty(), "{unsettled:#?}");
    let lost = *hub.lost.lock().unwrap() + *spoke.lost.lock().unwrap();
    assert!(lost >= 20, "only {lost} responses lost");
    let audit = std::fs::read_to_string(env.path("audit.jsonl")).unwrap();
    assert!(audit.contains("reconciled: already applied"));
    assert_eq!(mutations(&env.sim), expected, "{lost} lost responses");
    reference.shutdown().await;
}
