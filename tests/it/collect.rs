//! Collecting from the simulator (issue 5): the seed scenario planned live finds every injected
//! failure and nothing else, cost grows with failures not org size, a snapshot reproduces the live plan
//! byte for byte, and collection errors name the org and the call.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use chrono::{DateTime, Utc};
use serde_json::Value;

use okta_remedy::collect::{collect, CollectOptions, Progress};
use okta_remedy::engine::{evaluate, Verdict};
use okta_remedy::okta::{Auth, ClientLimits, OktaClient, OrgConfig, Secret};
use okta_remedy::rulebook;
use okta_remedy::sim::{GenerateSpec, OrgName, Scenario, Sim, SimConfig};

const SEED_RULES: &str = "rules/org2org-password-sync.yaml";

fn client(name: &str, url: &str, token: &str) -> OktaClient {
    OktaClient::new(OrgConfig {
        name: name.into(),
        base_url: url.parse().unwrap(),
        auth: Auth::Ssws(Secret::new(token)),
        limits: ClientLimits::default(),
    })
    .unwrap()
}

fn anchor() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-28T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

async fn start(spec: GenerateSpec) -> Sim {
    Sim::start(SimConfig {
        seed: 11,
        scenario: Scenario::Generate(GenerateSpec {
            anchor: Some(anchor()),
            ..spec
        }),
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

fn spec() -> GenerateSpec {
    GenerateSpec {
        hub_users: 300,
        spoke_assignments: 60,
        federation_collisions: 5,
        protected_admins: 2,
        policy_lookalikes: 3,
        not_active_hub: 4,
        missing_hub: 2,
        deprovisioned_hub: 1,
        suspended_hub: 2,
        group_assigned: 1,
        anchor: None,
    }
}

fn no_progress(_: Progress) {}

fn failing_logins(sim: &Sim) -> BTreeSet<String> {
    let spoke = sim.dump(OrgName::Spoke);
    let mut out = BTreeSet::new();
    for users in spoke["app_users"].as_object().unwrap().values() {
        for au in users.as_array().unwrap() {
            if okta_remedy::collect::is_failing(au) {
                out.insert(au["credentials"]["userName"].as_str().unwrap().to_string());
            }
        }
    }
    out
}

// The seed scenario planned live: every injected failure found, nothing else, right actions per kind.
#[tokio::test]
async fn live_plan_finds_every_failure_with_the_right_actions() {
    let sim = start(spec()).await;
    let rb = rulebook::load(Path::new(SEED_RULES)).unwrap();
    let hub = client("hub", &sim.hub_url(), sim.hub_token());
    let spoke = client("spoke", &sim.spoke_url(), sim.spoke_token());
    let opts = CollectOptions {
        now: anchor(),
        full_scan: false,
        concurrency: 4,
    };
    let collection = collect(&rb, &hub, &spoke, &opts, &no_progress)
        .await
        .unwrap();
    let keys: BTreeSet<String> = collection
        .subjects
        .iter()
        .map(|s| {
            s["spoke_user"]["profile"]["login"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        keys,
        failing_logins(&sim),
        "the plan must cover exactly the failing assignments"
    );

    let mut by_rule: BTreeMap<String, usize> = BTreeMap::new();
    let mut actions: BTreeMap<String, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (i, s) in collection.subjects.iter().enumerate() {
        let d = evaluate(&rb, s, anchor(), i);
        let label = match d.verdict {
            Verdict::Matched => d.matched[0].0.clone(),
            Verdict::Protected => "protected".into(),
            other => format!("{other:?}"),
        };
        *by_rule.entry(label.clone()).or_default() += 1;
        actions.entry(label).or_default().insert(
            d.actions(&rb)
                .iter()
                .map(|(_, a)| a.name().to_string())
                .collect(),
        );
    }
    let expected: BTreeMap<String, usize> = [
        ("federated-hub-user-blocks-password-sync", 5),
        ("protected", 2),
        ("password-policy-mismatch", 3),
        ("hub-user-not-active-yet", 4),
        ("no-hub-user", 2),
        ("hub-user-deprovisioned-or-suspended", 3),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(by_rule, expected);
    let one = |xs: &[&str]| BTreeSet::from([xs.iter().map(|s| s.to_string()).collect::<Vec<_>>()]);
    assert_eq!(
        actions["federated-hub-user-blocks-password-sync"],
        one(&["reset_password", "await", "retry_provisioning"])
    );
    assert_eq!(
        actions["hub-user-not-active-yet"],
        one(&["await", "retry_provisioning"])
    );
    assert_eq!(actions["no-hub-user"], one(&["retry_provisioning"]));
    assert_eq!(actions["password-policy-mismatch"], one(&["report"]));
    assert_eq!(actions["protected"], one(&[]));

    // A full scan of the app finds the same subjects.
    let scan = collect(
        &rb,
        &hub,
        &spoke,
        &CollectOptions {
            full_scan: true,
            ..opts
        },
        &no_progress,
    )
    .await
    .unwrap();
    let scan_keys: BTreeSet<String> = scan
        .subjects
        .iter()
        .map(|s| {
            s["spoke_user"]["profile"]["login"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(scan_keys, keys);
    sim.shutdown().await;
}

/// Requests the collector made, per endpoint, as the simulator counted them.
fn okta_requests(sim: &Sim, org: OrgName) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in sim.requests(org) {
        if r.path.starts_with("/__sim") {
            continue;
        }
        let shape = r
            .path
            .split('/')
            .map(|seg| {
                if seg.starts_with("00u") || seg.starts_with("0oa") || seg.contains('@') {
                    "{id}"
                } else {
                    seg
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        *out.entry(format!("{} {shape}", r.method)).or_default() += 1;
    }
    out
}

// Cost grows with failures, not org size: 100,000 hub users, 10,000 assignments, 100 failures.
#[tokio::test]
async fn collection_cost_grows_with_failures_not_org_size() {
    let sim = start(GenerateSpec {
        hub_users: 100_000,
        spoke_assignments: 10_000,
        federation_collisions: 40,
        protected_admins: 5,
        policy_lookalikes: 15,
        not_active_hub: 15,
        missing_hub: 10,
        deprovisioned_hub: 8,
        suspended_hub: 7,
        group_assigned: 5,
        anchor: None,
    })
    .await;
    let rb = rulebook::load(Path::new(SEED_RULES)).unwrap();
    let hub = client("hub", &sim.hub_url(), sim.hub_token());
    let spoke = client("spoke", &sim.spoke_url(), sim.spoke_token());
    let opts = CollectOptions {
        now: anchor(),
        full_scan: false,
        concurrency: 8,
    };
    let collection = collect(&rb, &hub, &spoke, &opts, &no_progress)
        .await
        .unwrap();
    assert_eq!(collection.subjects.len(), 100);
    let hub_reqs = okta_requests(&sim, OrgName::Hub);
    let spoke_reqs = okta_requests(&sim, OrgName::Spoke);
    // No listing of users or assignments; one GET of the hub user and one of the app user per failure.
    assert_eq!(
        hub_reqs,
        BTreeMap::from([("GET /api/v1/users/{id}".to_string(), 100)])
    );
    assert_eq!(
        spoke_reqs.get("GET /api/v1/apps/{id}/users/{id}"),
        Some(&100)
    );
    assert_eq!(spoke_reqs.get("GET /api/v1/apps"), Some(&1));
    let log_pages = spoke_reqs.get("GET /api/v1/logs").copied().unwrap_or(0);
    assert!((1..=2).contains(&log_pages), "{spoke_reqs:?}");
    assert_eq!(spoke_reqs.len(), 3, "{spoke_reqs:?}");
    // The client's own counts agree and go into the plan.
    let total: u64 =
        hub.request_counts().values().sum::<u64>() + spoke.request_counts().values().sum::<u64>();
    assert_eq!(total as usize, 200 + 1 + log_pages);
    sim.shutdown().await;
}

fn write_config(dir: &Path, sim: &Sim) -> std::path::PathBuf {
    write_config_with(dir, "remedy.yaml", sim, sim.spoke_token())
}

/// A config naming the simulator's orgs, with the given spoke token.
fn write_config_with(dir: &Path, name: &str, sim: &Sim, spoke_token: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(
        &p,
        format!(
            "orgs:\n  hub:\n    orgUrl: {}\n    token: {}\n  spoke:\n    orgUrl: {}\n    token: {}\n",
            sim.hub_url(),
            sim.hub_token(),
            sim.spoke_url(),
            spoke_token
        ),
    )
    .unwrap();
    p
}

fn remedy(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_remedy"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("REMEDY_CONFIG")
        .output()
        .unwrap()
}

// `remedy snapshot` writes exactly the subjects collected; planning them offline gives the live plan.
#[tokio::test(flavor = "multi_thread")]
async fn snapshot_reproduces_the_live_plan_byte_for_byte() {
    let sim = start(spec()).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &sim);
    let now = "2026-11-28T12:00:00Z";
    let live = dir.path().join("live.json");
    let snap = dir.path().join("subjects.jsonl");
    let offline = dir.path().join("offline.json");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let out = remedy(&[
        "plan",
        "--rules",
        SEED_RULES,
        "--config",
        &s(&cfg),
        "--now",
        now,
        "--out",
        &s(&live),
        "--quiet",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = remedy(&[
        "snapshot",
        "--rules",
        SEED_RULES,
        "--config",
        &s(&cfg),
        "--now",
        now,
        "--out",
        &s(&snap),
        "--quiet",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = remedy(&[
        "plan",
        "--rules",
        SEED_RULES,
        "--subjects",
        &s(&snap),
        "--now",
        now,
        "--out",
        &s(&offline),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = std::fs::read(&live).unwrap();
    let b = std::fs::read(&offline).unwrap();
    assert!(a == b, "offline plan differs from the live plan");
    // The snapshot holds the header plus one line per failing assignment.
    let lines = std::fs::read_to_string(&snap).unwrap();
    assert_eq!(lines.lines().count(), 1 + failing_logins(&sim).len());
    let plan: Value = serde_json::from_slice(&a).unwrap();
    assert_eq!(plan["source"]["kind"], "live");
    assert!(
        plan["source"]["requests"]["spoke GET /api/v1/logs"]
            .as_u64()
            .unwrap()
            >= 1
    );
    sim.shutdown().await;
}

// Errors while collecting name the org and the call, exit 1, and write no plan.
#[tokio::test(flavor = "multi_thread")]
async fn collection_errors_name_the_org_and_the_call() {
    let sim = start(spec()).await;
    let dir = tempfile::tempdir().unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    // A wrong spoke token: 401.
    let bad = write_config_with(dir.path(), "bad.yaml", &sim, "wrong-token");
    let out_file = dir.path().join("plan.json");
    let out = remedy(&[
        "plan",
        "--rules",
        SEED_RULES,
        "--config",
        &s(&bad),
        "--out",
        &s(&out_file),
        "--quiet",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("org `spoke`") && stderr.contains("E0000011"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("wrong-token"),
        "the token leaked: {stderr}"
    );
    assert!(!out_file.exists(), "no partial plan may be written");
    // An app that does not exist: the rulebook names it.
    let cfg = write_config(dir.path(), &sim);
    let rules = dir.path().join("other-app.yaml");
    let text = std::fs::read_to_string(SEED_RULES)
        .unwrap()
        .replace("since: 7d }", "since: 7d, app: okta_org2org_missing }");
    std::fs::write(&rules, text).unwrap();
    let out = remedy(&[
        "plan",
        "--rules",
        &s(&rules),
        "--config",
        &s(&cfg),
        "--quiet",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("org `spoke` has no app named `okta_org2org_missing`"),
        "{stderr}"
    );
    sim.shutdown().await;
}
