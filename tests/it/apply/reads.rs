//! Exact request counts of `remedy apply` on the simulator (issue 17): each subject's objects are
//! read once by ID where safety needs them, and nothing else, within 1.2x of the cheapest combination
//! of Okta calls for the situation (docs/cost-model.md). Dense: 120 FEDERATION failures among 200
//! assignments; sparse: 10 among 2,000 (apply's cost does not depend on the assignments that did not
//! fail). The first run resets and parks the awaits; the second, after the users set passwords, pushes
//! again.

use std::collections::BTreeMap;

use okta_remedy::sim::{GenerateSpec, OrgName, RequestRecord, Sim, SimConfig};
use serde_json::Value;

use super::crash::generous_limits;
use super::{anchor, scenario, Env};

const RULES: &str = "rules/org2org-password-sync.yaml";

fn spec(assignments: usize, failures: usize) -> GenerateSpec {
    GenerateSpec {
        hub_users: 20,
        spoke_assignments: assignments,
        federation_collisions: failures,
        policy_lookalikes: 0,
        not_active_hub: 0,
        missing_hub: 0,
        deprovisioned_hub: 0,
        suspended_hub: 0,
        protected_admins: 0,
        group_assigned: 0,
        anchor: Some(anchor()),
    }
}

/// A request as `METHOD /path/{template}`, the way the client keys its counts.
fn endpoint(r: &RequestRecord) -> String {
    let mut parts: Vec<&str> = r.path.split('/').collect();
    // ["", "api", "v1", "users" | "apps", id, ...]
    match parts.get(3).copied() {
        Some("users") if parts.len() > 4 => parts[4] = "{id}",
        Some("apps") if parts.len() > 4 => {
            parts[4] = "{appId}";
            if parts.len() > 6 {
                parts[6] = "{userId}";
            }
        }
        _ => {}
    }
    format!("{} {}", r.method, parts.join("/"))
}

/// Requests each org received since the marks, as `ORG METHOD PATH` → count.
fn since(sim: &Sim, marks: (usize, usize)) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (org, name, from) in [
        (OrgName::Hub, "hub", marks.0),
        (OrgName::Spoke, "spoke", marks.1),
    ] {
        for r in sim.requests(org).iter().skip(from) {
            *out.entry(format!("{name} {}", endpoint(r))).or_insert(0) += 1;
        }
    }
    out
}

fn marks(sim: &Sim) -> (usize, usize) {
    (
        sim.requests(OrgName::Hub).len(),
        sim.requests(OrgName::Spoke).len(),
    )
}

const APP_USER: &str = "spoke GET /api/v1/apps/{appId}/users/{userId}";
const UPDATE_APP_USER: &str = "spoke POST /api/v1/apps/{appId}/users/{userId}";
const HUB_USER: &str = "hub GET /api/v1/users/{id}";
const RESET: &str = "hub POST /api/v1/users/{id}/lifecycle/reset_password";
const LOGS: &str = "spoke GET /api/v1/logs";

/// Plans, applies twice (resets, then pushes once the users set passwords) and checks every count.
async fn exact_counts(assignments: usize, n: u64) {
    let s = spec(assignments, n as usize);
    let env = Env::start(
        SimConfig {
            scenario: scenario(&s),
            limits: generous_limits(),
            ..SimConfig::default()
        },
        RULES,
    )
    .await;
    // The shipped rulebook with `max_actions` raised, as in the measurements.
    let text = std::fs::read_to_string(&env.rules).expect("rulebook read");
    std::fs::write(
        &env.rules,
        text.replace("max_actions: 200", "max_actions: 100000"),
    )
    .expect("rulebook written");
    let before_plan = marks(&env.sim);
    let plan_path = env.plan().await;
    let plan: Value = serde_json::from_str(&std::fs::read_to_string(plan_path).expect("plan read"))
        .expect("plan");
    // The plan says where collection's requests went, and which bucket bound it.
    assert!(plan["source"]["requests"].is_object());
    assert!(
        plan["source"]["binding"]["endpoint"].is_string(),
        "{}",
        plan["source"]
    );
    let plan_logs = since(&env.sim, before_plan).get(LOGS).copied().unwrap_or(0);
    assert!(plan_logs >= 1);

    // First run: per subject one assignment lookup (`expand=user` brings the spoke user), one hub
    // user lookup, the reset, the GET that confirms it (which the await then reuses); once per run
    // the failure history the live re-evaluation reads, as many log pages as planning read.
    let mark = marks(&env.sim);
    let first = env.apply(&["--output", "json"]).await;
    assert_eq!(first.code, 0, "{}", first.transcript());
    let got = since(&env.sim, mark);
    let want = BTreeMap::from([
        (APP_USER.to_string(), n),
        (HUB_USER.to_string(), 2 * n),
        (RESET.to_string(), n),
        (LOGS.to_string(), plan_logs),
    ]);
    assert_eq!(got, want, "first run");
    // The cheapest safe combination: a fresh ID lookup of the assignment and of the hub user (Okta
    // advises ID lookups before an update: search lags), the reset, and a GET to confirm it (its
    // answer carries no user state); the history once.
    let cheapest = 4 * n + plan_logs;
    let total: u64 = got.values().sum();
    assert!(total * 10 <= cheapest * 12, "{total} > 1.2 x {cheapest}");
    // The summary reports the same requests per endpoint, and the bucket that binds.
    let summary: Value = serde_json::from_str(&first.stdout).expect("JSON summary");
    let reported: BTreeMap<String, u64> =
        serde_json::from_value(summary["requests"].clone()).expect("requests by endpoint");
    let reported_spoke_app_users = reported
        .iter()
        .filter(|(k, _)| k.starts_with(APP_USER))
        .map(|(_, v)| *v)
        .sum::<u64>();
    assert_eq!(reported_spoke_app_users, n);
    assert_eq!(reported.values().sum::<u64>(), total, "{reported:?}");
    assert!(
        summary["binding"]["endpoint"].is_string(),
        "{}",
        summary["binding"]
    );

    // Second run, after every user set a password: per subject the assignment and the hub user once
    // (the await reads the user, the push reuses both), the push, and one GET that sees it linked.
    let done = env.complete_waiting(&env.sim, &env.path("plan.journal.sqlite"));
    assert_eq!(done as u64, n);
    let mark = marks(&env.sim);
    let second = env.apply(&[]).await;
    assert_eq!(second.code, 0, "{}", second.transcript());
    let got = since(&env.sim, mark);
    let want = BTreeMap::from([
        (APP_USER.to_string(), 2 * n),
        (UPDATE_APP_USER.to_string(), n),
        (HUB_USER.to_string(), n),
    ]);
    assert_eq!(got, want, "second run");
    // Cheapest: the hub user (the await's condition), the assignment (the push re-sends its
    // profile), the push, and a GET to confirm it (Okta pushes in the background).
    let total: u64 = got.values().sum();
    assert!(total * 10 <= 4 * n * 12, "{total} > 1.2 x {}", 4 * n);
    assert!(
        second.stdout.contains("Requests: "),
        "{}",
        second.transcript()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dense_failures_read_each_object_once_per_subject() {
    exact_counts(200, 120).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sparse_failures_cost_only_the_failing_subjects() {
    exact_counts(2_000, 10).await;
}
