//! SIGKILL crashes: `remedy apply` runs as a child process on a plan of 200+ subjects with every kind
//! of step, is killed at 20+ points (after the N-th mutating request the simulator sees, or after a
//! short seeded delay), and is re-run until done. Then the request log must show no mutating call
//! repeated, every deleted user recreated, every intent closed, and the final state equal to that of
//! an uninterrupted run on an identical simulator. The torture variant (ignored by default, run for
//! RELIABILITY.md) kills 100+ times under injected 5xx, dropped connections and 429 storms.

use std::process::Stdio;
use std::time::Duration;

use okta_remedy::sim::{FaultSpec, Faults, GenerateSpec, OrgName, RateLimits, Sim, SimConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{
    anchor, assignment_of, hub_user, mutation_count, mutations, normalized_state, poll_until,
    scenario, subjects_by_rule, waiting_subjects, Env,
};

const RULES: &str = "tests/fixtures/apply/crash-mixed.yaml";

fn crash_spec() -> GenerateSpec {
    GenerateSpec {
        hub_users: 20,
        spoke_assignments: 215,
        federation_collisions: 100,
        policy_lookalikes: 10,
        not_active_hub: 40,
        missing_hub: 40,
        deprovisioned_hub: 5,
        suspended_hub: 5,
        protected_admins: 2,
        group_assigned: 0,
        anchor: Some(anchor()),
    }
}

/// Budgets no run reaches: this test is about crashes, not rate limits.
pub fn generous_limits() -> RateLimits {
    let mut l = RateLimits::default();
    for v in l.buckets.values_mut() {
        *v = 1_000_000;
    }
    l.default = 1_000_000;
    l.max_in_flight = 200;
    l
}

fn config(spec: &GenerateSpec) -> SimConfig {
    SimConfig {
        seed: 11,
        scenario: scenario(spec),
        limits: generous_limits(),
        ..SimConfig::default()
    }
}

/// The torture's simulator: 5% of requests answered 500, 3% of connections dropped, and the buckets
/// the executor's calls land in (`users.id`, `apps.id`) small enough to answer 429 in storms.
fn hostile(spec: &GenerateSpec) -> SimConfig {
    let mut limits = generous_limits();
    limits.buckets.insert("users.id".into(), 150);
    limits.buckets.insert("apps.id".into(), 150);
    SimConfig {
        faults: Faults {
            default: FaultSpec {
                error_rate: 0.05,
                drop_rate: 0.03,
                latency_ms: 1,
            },
            buckets: Default::default(),
        },
        limits,
        ..config(spec)
    }
}

const APPLY: &[&str] = &["--approve-destructive", "--concurrency", "8"];

/// Applies `plan.json` to `sim` (config `cfg`, journal `journal`) without interruption: run, let the
/// waiting users complete their resets, run again, until nothing waits.
async fn uninterrupted(env: &Env, sim: &Sim, cfg: &str, journal: &str) {
    for round in 0..5 {
        let mut args = vec!["apply", "plan.json", "--config", cfg, "--journal", journal];
        args.extend_from_slice(APPLY);
        let run = env.remedy(&args).await;
        assert_eq!(run.code, 0, "reference round {round}: {}", run.transcript());
        if env.complete_waiting(sim, &env.path(journal)) == 0
            && waiting_subjects(&env.path(journal)).is_empty()
        {
            return;
        }
    }
    panic!("the reference run did not finish in 5 rounds");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_twenty_points_then_resume_equals_an_uninterrupted_run() {
    let spec = crash_spec();
    crash_and_resume(config(&spec), config(&spec), 20, 30, 20261129).await;
}

/// `cargo test --test it torture -- --ignored --nocapture` (minutes): the figures in RELIABILITY.md.
#[ignore = "minutes long; run for RELIABILITY.md"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torture_a_hundred_kills_under_faults_and_rate_limits() {
    let spec = crash_spec();
    let kills = std::env::var("TORTURE_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(100);
    let started = std::time::Instant::now();
    // Kills come after 1 to 4 mutating requests, so a hundred fit in one plan.
    let (runs, faults) = crash_and_resume(hostile(&spec), config(&spec), kills, 4, 7).await;
    eprintln!(
        "torture: {kills} kills in {runs} runs, {:.0} s; the simulator answered {} requests: {} with 500, {} dropped, {} with 429",
        started.elapsed().as_secs_f64(),
        faults.0,
        faults.1,
        faults.2,
        faults.3
    );
}

/// Kills `remedy apply` `kills_wanted` times (seeded points: after 1 to `max_gap` mutating requests,
/// or a short delay) on `env_config`'s simulator and runs it to the end; compares with an
/// uninterrupted run on `reference_config`. Returns how many runs it took, and the simulator's
/// (requests, 500s, dropped, 429s).
async fn crash_and_resume(
    env_config: SimConfig,
    reference_config: SimConfig,
    kills_wanted: usize,
    max_gap: usize,
    seed: u64,
) -> (usize, (usize, usize, usize, usize)) {
    let faulty = env_config.faults.default.error_rate > 0.0;
    let env = Env::start(env_config, RULES).await;
    let reference = Sim::start(reference_config).await.unwrap();
    env.write_config("reference.yaml", &reference);
    let plan = env.plan().await;
    let by_rule = subjects_by_rule(&plan);
    let subjects: usize = by_rule
        .iter()
        .filter(|(r, _)| !r.starts_with('('))
        .map(|(_, s)| s.len())
        .sum();
    assert!(subjects >= 200, "{by_rule:?}");
    for rule in [
        "federation-recreate",
        "federation-reset",
        "not-active-reassign",
        "missing-reassign",
        "missing-touch",
        "policy-report",
    ] {
        assert!(
            by_rule.get(rule).is_some_and(|s| s.len() >= 5),
            "{rule}: {by_rule:?}"
        );
    }

    uninterrupted(&env, &reference, "reference.yaml", "reference.sqlite").await;

    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let journal = env.path("plan.journal.sqlite");
    let mut kills = 0;
    let mut last = String::new();
    let mut runs = 0;
    for run in 0.. {
        runs = run + 1;
        assert!(
            run < kills_wanted * 3 + 100,
            "apply did not finish after {run} runs; last: {last}"
        );
        env.complete_waiting(&env.sim, &journal);
        let out = env.path("run.out");
        let mut args = vec!["apply", "plan.json", "--config", "remedy.yaml"];
        args.extend_from_slice(APPLY);
        let mut child = env
            .command(&args)
            .stdout(Stdio::from(std::fs::File::create(&out).unwrap()))
            .stderr(Stdio::from(
                std::fs::File::create(env.path("run.err")).unwrap(),
            ))
            .spawn()
            .unwrap();
        let mut killed = false;
        if kills < kills_wanted + 4 {
            // Alternate kill points: after the N-th next mutating request, or after a short delay.
            let by_delay = kills % 3 == 2;
            let target = mutation_count(&env.sim) + rng.gen_range(1..=max_gap);
            let delay = Duration::from_millis(rng.gen_range(5..120));
            let started = tokio::time::Instant::now();
            let mut exited = false;
            poll_until(Duration::from_secs(30), || {
                exited = matches!(child.try_wait(), Ok(Some(_)));
                exited
                    || if by_delay {
                        started.elapsed() >= delay
                    } else {
                        mutation_count(&env.sim) >= target
                    }
            })
            .await;
            if !exited {
                child.start_kill().unwrap();
                killed = true;
                kills += 1;
            }
        }
        let status = child.wait().await.unwrap();
        last = format!(
            "{status}\n{}{}",
            std::fs::read_to_string(&out).unwrap_or_default(),
            std::fs::read_to_string(env.path("run.err")).unwrap_or_default()
        );
        if killed {
            continue;
        }
        // Under injected faults a run may end with steps failed for now (exit 3): the next resumes.
        let settled = status.code() == Some(0);
        assert!(
            settled || (faulty && status.code() == Some(3)),
            "run {run}: {last}"
        );
        if kills >= kills_wanted && settled && waiting_subjects(&journal).is_empty() {
            break;
        }
    }
    assert!(kills >= kills_wanted, "only {kills} kills");

    // No mutating call made more often than in the uninterrupted run, and none missing.
    let crashed = mutations(&env.sim);
    let expected = mutations(&reference);
    let diff: Vec<String> = expected
        .keys()
        .chain(crashed.keys())
        .filter(|k| crashed.get(*k) != expected.get(*k))
        .map(|k| {
            format!(
                "{k}: {} after crashes, {} uninterrupted",
                crashed.get(k).copied().unwrap_or(0),
                expected.get(k).copied().unwrap_or(0)
            )
        })
        .collect();
    if !diff.is_empty() {
        eprintln!("DEBUG DIR {}", env.dir.path().display());
        std::mem::forget(env);
        panic!("{}", diff.join("\n"));
    }

    // Every deleted user was recreated, OKTA-provider and linked.
    for login in &by_rule["federation-recreate"] {
        let user = hub_user(&env.sim, login).unwrap_or_else(|| panic!("{login} recreated"));
        assert_eq!(user["credentials"]["provider"]["type"], "OKTA", "{login}");
        let au = assignment_of(&env.sim, login).unwrap();
        assert_eq!(au["syncState"], "SYNCHRONIZED", "{login}");
        assert_eq!(au["externalId"], user["id"], "{login}");
    }
    for org in [OrgName::Hub, OrgName::Spoke] {
        assert_eq!(
            normalized_state(&env.sim, org),
            normalized_state(&reference, org),
            "{org} state differs from the uninterrupted run"
        );
    }
    // Every intent ended in an outcome (each with its audit line), however the runs were killed.
    let j = okta_remedy::apply::journal::Journal::open_existing(&journal).unwrap();
    for s in j.steps().unwrap() {
        assert_eq!(
            j.open_intents(&s.step_id).unwrap(),
            Vec::<String>::new(),
            "{} of {} left an intent open",
            s.step_id,
            s.subject
        );
    }
    let all: Vec<_> = [OrgName::Hub, OrgName::Spoke]
        .iter()
        .flat_map(|o| env.sim.requests(*o))
        .collect();
    let count = |status: u16| all.iter().filter(|r| r.status == status).count();
    let seen = (all.len(), count(500), count(0), count(429));
    reference.shutdown().await;
    (runs, seen)
}
