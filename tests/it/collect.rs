//! Collecting from the simulator (issues 5, 14, 17): the seed scenario planned live finds every
//! injected failure and nothing else, a snapshot reproduces the live plan byte for byte, collection
//! errors name the org and the call, refused credentials stop collection at once (library and CLI),
//! and each read takes the cheapest form (request counts against the cheapest combination of calls,
//! the same subjects as one lookup per read, searches split when Okta refuses them as too long).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use chrono::{DateTime, Utc};
use serde_json::Value;

use okta_remedy::collect::{
    collect, collect_with, CollectError, CollectOptions, CostModel, Progress, MAX_SEARCH_LEN,
};
use okta_remedy::engine::{evaluate, Verdict};
use okta_remedy::okta::oauth::ClientKey;
use okta_remedy::okta::{Auth, ClientLimits, OktaClient, OrgConfig, Secret};
use okta_remedy::rulebook;
use okta_remedy::sim::{GenerateSpec, OAuthClient, OrgName, Scenario, Sim, SimConfig};

// A plan of named users (the service's) reads only their failures, and collects the same subjects.
mod only_users;
// Requests do not grow with the hub's size, with and without a full scan.
mod scale;

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
        only_users: None,
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
            only_users: None,
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

// Cost is bounded by failures, not org size: 100,000 hub users, 10,000 assignments, 100 failures.
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
        only_users: None,
        concurrency: 8,
    };
    let collection = collect(&rb, &hub, &spoke, &opts, &no_progress)
        .await
        .unwrap();
    assert_eq!(collection.subjects.len(), 100);
    let hub_reqs = okta_requests(&sim, OrgName::Hub);
    let spoke_reqs = okta_requests(&sim, OrgName::Spoke);
    // No listing of hub users; each read in the cheapest form (see `collect/cost.rs`). Before the
    // cost model this was 100 hub lookups and 100 assignment lookups; now:
    // - hub: 3 `search` queries joining the 100 logins with `or`, and one ID lookup for each of the 25
    //   failing users without a hub user (15 policy look-alikes, 10 missing), confirming the absence;
    // - spoke: the 10,000 assignments in 20 pages of 500 instead of 100 lookups (failures are dense
    //   enough that every page finds more than one), the apps list, and the log.
    assert_eq!(
        hub_reqs,
        BTreeMap::from([
            ("GET /api/v1/users".to_string(), 3),
            ("GET /api/v1/users/{id}".to_string(), 25)
        ])
    );
    assert_eq!(spoke_reqs.get("GET /api/v1/apps/{id}/users"), Some(&20));
    assert_eq!(spoke_reqs.get("GET /api/v1/apps/{id}/users/{id}"), None);
    assert_eq!(spoke_reqs.get("GET /api/v1/apps"), Some(&1));
    let log_pages = spoke_reqs.get("GET /api/v1/logs").copied().unwrap_or(0);
    assert!((1..=2).contains(&log_pages), "{spoke_reqs:?}");
    assert_eq!(spoke_reqs.len(), 3, "{spoke_reqs:?}");
    // Still bounded by the failures, whatever the org size: never more than one request per failure
    // for the hub users, nor one more than that for the assignments.
    assert!(hub_reqs.values().sum::<usize>() <= 100);
    // The client's own counts agree and go into the plan.
    let total: u64 =
        hub.request_counts().values().sum::<u64>() + spoke.request_counts().values().sum::<u64>();
    assert_eq!(total as usize, 3 + 25 + 20 + 1 + log_pages);
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
    // The plan's text names the bucket that bounds collection, with its requests and floor.
    let out = remedy(&["show", &s(&live)]);
    let text = String::from_utf8_lossy(&out.stdout);
    let binding = text
        .lines()
        .find(|l| l.starts_with("Binding bucket: "))
        .unwrap_or_else(|| panic!("no binding bucket in:\n{text}"));
    assert!(
        binding.contains(" requests at 80% of ") && binding.contains("/min take at least "),
        "{binding}"
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

const KEY_FILE: &str = "tests/fixtures/okta/test-ec-pkcs8.pem";
const TOKEN: &str = "POST /oauth2/v1/token";

/// The seed scenario with one OAuth service app registered, granted `scopes`.
async fn start_with_service_app(scopes: &[&str]) -> Sim {
    let pem = std::fs::read_to_string(KEY_FILE).unwrap();
    let key = ClientKey::parse(&Secret::new(pem), Some("test-kid")).unwrap();
    Sim::start(SimConfig {
        seed: 11,
        scenario: Scenario::Generate(GenerateSpec {
            anchor: Some(anchor()),
            ..spec()
        }),
        oauth_clients: vec![OAuthClient {
            client_id: "0oaRemedy".into(),
            public_jwk: key.public_jwk().clone(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        }],
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

/// A hub client authenticating as the service app, asking for `scopes`.
fn oauth_hub(sim: &Sim, scopes: &[&str]) -> OktaClient {
    OktaClient::new(OrgConfig {
        name: "hub".into(),
        base_url: sim.hub_url().parse().unwrap(),
        auth: Auth::PrivateKey {
            client_id: "0oaRemedy".into(),
            key: Secret::new(std::fs::read_to_string(KEY_FILE).unwrap()),
            kid: Some("test-kid".into()),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        },
        limits: ClientLimits::default(),
    })
    .unwrap()
}

fn live_opts() -> CollectOptions {
    CollectOptions {
        now: anchor(),
        full_scan: false,
        only_users: None,
        concurrency: 4,
    }
}

// A refused OAuth token stops collection at the first refusal with a typed error naming the org, the
// endpoint and Okta's error; it never turns every subject into "unknown" (issue 14), and the token
// endpoint is asked once, not once per subject.
#[tokio::test]
async fn a_refused_oauth_token_stops_collection_at_once() {
    let sim = start_with_service_app(&["okta.users.read"]).await;
    let rb = rulebook::load(Path::new(SEED_RULES)).unwrap();
    // Asks for a scope the app was not granted: the token endpoint answers `invalid_scope`.
    let hub = oauth_hub(&sim, &["okta.users.read", "okta.users.manage"]);
    let spoke = client("spoke", &sim.spoke_url(), sim.spoke_token());
    for model in [CostModel::default(), CostModel::lookups_only()] {
        let e = collect_with(&rb, &hub, &spoke, &live_opts(), &model, &no_progress)
            .await
            .unwrap_err();
        let CollectError::AccessRefused { org, .. } = &e else {
            panic!("not an access error: {e}");
        };
        assert_eq!(org, "hub");
        let call = e.call().unwrap();
        assert!(call.starts_with("GET /api/v1/users"), "{call}");
        let msg = e.to_string();
        assert!(
            msg.contains("org `hub`") && msg.contains("invalid_scope"),
            "{msg}"
        );
    }
    // One refused token request (after the DPoP nonce challenge), shared by every reader, and no
    // API call went out without a token.
    assert_eq!(
        hub.request_counts(),
        BTreeMap::from([(TOKEN.to_string(), 2)])
    );
    let token_statuses: Vec<u16> = sim
        .requests(OrgName::Hub)
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(token_statuses, [400, 400]);
    sim.shutdown().await;
}

// A token without the scope a read needs (403 E0000006 from the API) stops collection the same way.
#[tokio::test]
async fn a_missing_scope_stops_collection_at_once() {
    let sim = start_with_service_app(&["okta.apps.read"]).await;
    let rb = rulebook::load(Path::new(SEED_RULES)).unwrap();
    let hub = oauth_hub(&sim, &["okta.apps.read"]);
    let spoke = client("spoke", &sim.spoke_url(), sim.spoke_token());
    let e = collect(&rb, &hub, &spoke, &live_opts(), &no_progress)
        .await
        .unwrap_err();
    let CollectError::AccessRefused { org, source } = &e else {
        panic!("not an access error: {e}");
    };
    assert_eq!((org.as_str(), e.call()), ("hub", Some("GET /api/v1/users")));
    assert!(source.is_access_denied(), "{source}");
    assert!(e.to_string().contains("E0000006"), "{e}");
    // The one search for the hub users was refused, and nothing else was asked.
    let api: Vec<(String, u16)> = sim
        .requests(OrgName::Hub)
        .iter()
        .filter(|r| r.path.starts_with("/api/"))
        .map(|r| (r.path.clone(), r.status))
        .collect();
    assert_eq!(api, [("/api/v1/users".to_string(), 403)]);
    sim.shutdown().await;
}

// The CLI exits 1 on a refused token, even with `--detailed-exitcode`, names the org and Okta's error,
// and writes no plan.
#[tokio::test(flavor = "multi_thread")]
async fn the_cli_exits_1_when_the_hub_refuses_the_token() {
    let sim = start_with_service_app(&["okta.users.read"]).await;
    let dir = tempfile::tempdir().unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let cfg = dir.path().join("remedy.yaml");
    let key = std::fs::canonicalize(KEY_FILE).unwrap();
    std::fs::write(
        &cfg,
        format!(
            "orgs:\n  hub:\n    orgUrl: {}\n    authorizationMode: PrivateKey\n    clientId: 0oaRemedy\n    privateKey: {}\n    privateKeyId: test-kid\n    scopes: okta.users.read okta.users.manage\n  spoke:\n    orgUrl: {}\n    token: {}\n",
            sim.hub_url(),
            key.display(),
            sim.spoke_url(),
            sim.spoke_token()
        ),
    )
    .unwrap();
    let out_file = dir.path().join("plan.json");
    let out = remedy(&[
        "plan",
        "--rules",
        SEED_RULES,
        "--config",
        &s(&cfg),
        "--now",
        "2026-11-28T12:00:00Z",
        "--out",
        &s(&out_file),
        "--detailed-exitcode",
        "--quiet",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("org `hub`")
            && stderr.contains("GET /api/v1/users")
            && stderr.contains("invalid_scope"),
        "{stderr}"
    );
    assert!(!stderr.contains("BEGIN"), "the key leaked: {stderr}");
    assert!(!out_file.exists(), "no plan may be written");
    let tokens = sim
        .requests(OrgName::Hub)
        .iter()
        .filter(|r| r.path == "/oauth2/v1/token")
        .count();
    assert_eq!(
        tokens, 2,
        "one token request and its nonce retry, not one per subject"
    );
    sim.shutdown().await;
}

/// A subject without the parts a batched read may render differently from an ID lookup: a user found by
/// `search` carries its collection `_links` (only `self`), one found by ID the full set.
fn without_user_links(mut s: Value) -> Value {
    if let Some(u) = s.get_mut("user").and_then(Value::as_object_mut) {
        u.remove("_links");
    }
    s
}

// The cost model changes how subjects are read, not what they are: the same subjects (up to the hub
// user's `_links`) and the same decisions as one ID lookup per read, and as the full scan.
#[tokio::test]
async fn batched_reads_collect_the_same_subjects_as_lookups() {
    let sim = start(spec()).await;
    let rb = rulebook::load(Path::new(SEED_RULES)).unwrap();
    let hub = client("hub", &sim.hub_url(), sim.hub_token());
    let spoke = client("spoke", &sim.spoke_url(), sim.spoke_token());
    let batched = CostModel {
        assignments: okta_remedy::collect::ReadForm::Batched,
        hub_users: okta_remedy::collect::ReadForm::Batched,
        ..CostModel::default()
    };
    let mut runs = Vec::new();
    for model in [CostModel::lookups_only(), CostModel::default(), batched] {
        let c = collect_with(&rb, &hub, &spoke, &live_opts(), &model, &no_progress)
            .await
            .unwrap();
        runs.push(c.subjects);
    }
    let decisions = |subjects: &[Value]| -> Vec<String> {
        subjects
            .iter()
            .enumerate()
            .map(|(i, s)| format!("{:?}", evaluate(&rb, s, anchor(), i)))
            .collect()
    };
    assert!(!runs[0].is_empty());
    let runs: Vec<Vec<Value>> = runs
        .into_iter()
        .map(|r| r.into_iter().map(without_user_links).collect())
        .collect();
    for run in &runs[1..] {
        assert_eq!(run, &runs[0]);
        assert_eq!(decisions(run), decisions(&runs[0]));
    }
    sim.shutdown().await;
}

/// The fewest requests that can read `failures` failing assignments among `assignments`, with their
/// hub users (all present) found by login: the app, the log pages, the cheaper of one lookup per
/// assignment and the 500-a-page scan, and the fewest `search` queries under the length bound.
fn cheapest_reads(
    failures: usize,
    assignments: usize,
    log_pages: usize,
    logins: &[String],
) -> usize {
    let longest =
        logins.iter().map(|l| l.len()).max().unwrap_or(0) + r#"profile.login eq """#.len();
    let per_query = ((MAX_SEARCH_LEN + 4) / (longest + 4)).min(200);
    1 + log_pages + failures.min(assignments.div_ceil(500)) + logins.len().div_ceil(per_query)
}

// Issue 17: planning reads each thing in the cheapest form Okta offers. Dense (1,200 failures among
// 2,000 assignments, all on FEDERATION hub users: 2,403 requests before the cost model) and sparse
// (10 failures among 20,000 assignments) plans stay within 1.2x of the cheapest combination of calls.
#[tokio::test]
async fn planning_requests_stay_within_1_2x_of_the_cheapest_reads() {
    // Dense: the app, 2 log pages, 4 scan pages, 32 searches of about 38 logins (before: 2,403).
    // Sparse: the app, 1 log page, 1 probe page of the scan (it found 1 of the 10, so no more pages),
    // 9 assignment lookups, 1 search (before: 22).
    for (failures, assignments, expected) in [(1_200, 2_000, 39), (10, 20_000, 13)] {
        let sim = start(GenerateSpec {
            hub_users: 500,
            spoke_assignments: assignments,
            federation_collisions: failures,
            protected_admins: 0,
            policy_lookalikes: 0,
            not_active_hub: 0,
            missing_hub: 0,
            deprovisioned_hub: 0,
            suspended_hub: 0,
            group_assigned: 0,
            anchor: None,
        })
        .await;
        let rb = rulebook::load(Path::new(SEED_RULES)).unwrap();
        let hub = client("hub", &sim.hub_url(), sim.hub_token());
        let spoke = client("spoke", &sim.spoke_url(), sim.spoke_token());
        let collection = collect(&rb, &hub, &spoke, &live_opts(), &no_progress)
            .await
            .unwrap();
        assert_eq!(collection.subjects.len(), failures);
        let hub_reqs = okta_requests(&sim, OrgName::Hub);
        let spoke_reqs = okta_requests(&sim, OrgName::Spoke);
        let total: usize = hub_reqs.values().sum::<usize>() + spoke_reqs.values().sum::<usize>();
        let log_pages = spoke_reqs["GET /api/v1/logs"];
        let logins: Vec<String> = collection
            .subjects
            .iter()
            .map(|s| s["user"]["profile"]["login"].as_str().unwrap().to_string())
            .collect();
        let cheapest = cheapest_reads(failures, assignments, log_pages, &logins);
        assert_eq!(
            total, expected,
            "{failures} of {assignments}: {hub_reqs:?} {spoke_reqs:?}"
        );
        assert!(
            total as f64 <= 1.2 * cheapest as f64,
            "{failures} of {assignments}: {total} requests, the cheapest is {cheapest}"
        );
        sim.shutdown().await;
    }
}

/// A hub client that refuses, like Okta, any `search` longer than `max` characters (400 E0000031),
/// to exercise the collector's splitting of batched searches.
struct ShortSearches {
    inner: OktaClient,
    max: usize,
    refused: std::sync::atomic::AtomicUsize,
}

mod short_searches {
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use futures::StreamExt;
    use okta_remedy::okta::{
        ActivateOutcome, ApiError, AppId, AppLink, AppQuery, AppUser, AppUserAssignment,
        AppUserQuery, Application, Fetched, Group, GroupId, LogEvent, LogQuery, NewUser, OktaApi,
        OktaError, PageStream, ResetOutcome, User, UserId, UserQuery,
    };
    use serde_json::Value;

    use super::ShortSearches;

    impl OktaApi for ShortSearches {
        fn org_name(&self) -> &str {
            self.inner.org_name()
        }
        fn list_users(&self, query: UserQuery) -> PageStream<'_, User> {
            if query.search.as_ref().is_some_and(|s| s.len() > self.max) {
                self.refused.fetch_add(1, Ordering::Relaxed);
                let e = OktaError::Api(Box::new(ApiError {
                    status: 400,
                    code: "E0000031".into(),
                    summary: "Invalid search criteria.".into(),
                    causes: vec!["the search is too long".into()],
                    error_id: None,
                    request_id: None,
                    org: self.org_name().into(),
                    call: "GET /api/v1/users".into(),
                }));
                return futures::stream::once(async move { Err(e) }).boxed();
            }
            self.inner.list_users(query)
        }
        async fn get_user(&self, id: &str) -> Result<Option<Fetched<User>>, OktaError> {
            self.inner.get_user(id).await
        }
        async fn create_user(&self, u: &NewUser, a: bool) -> Result<Fetched<User>, OktaError> {
            self.inner.create_user(u, a).await
        }
        async fn update_user(
            &self,
            id: &UserId,
            partial: &Value,
            if_match: Option<&str>,
        ) -> Result<Fetched<User>, OktaError> {
            self.inner.update_user(id, partial, if_match).await
        }
        async fn reset_password(&self, id: &UserId, e: bool) -> Result<ResetOutcome, OktaError> {
            self.inner.reset_password(id, e).await
        }
        async fn deactivate_user(&self, id: &UserId, e: bool) -> Result<Fetched<()>, OktaError> {
            self.inner.deactivate_user(id, e).await
        }
        async fn activate_user(&self, id: &UserId, e: bool) -> Result<ActivateOutcome, OktaError> {
            self.inner.activate_user(id, e).await
        }
        async fn reactivate_user(
            &self,
            id: &UserId,
            e: bool,
        ) -> Result<ActivateOutcome, OktaError> {
            self.inner.reactivate_user(id, e).await
        }
        async fn unlock_user(&self, id: &UserId) -> Result<Fetched<()>, OktaError> {
            self.inner.unlock_user(id).await
        }
        async fn delete_user(&self, id: &UserId, e: bool) -> Result<Fetched<()>, OktaError> {
            self.inner.delete_user(id, e).await
        }
        async fn user_groups(&self, id: &UserId) -> Result<Vec<Group>, OktaError> {
            self.inner.user_groups(id).await
        }
        async fn user_app_links(&self, id: &UserId) -> Result<Vec<AppLink>, OktaError> {
            self.inner.user_app_links(id).await
        }
        async fn group_rules(&self) -> Result<Vec<okta_remedy::okta::GroupRule>, OktaError> {
            self.inner.group_rules().await
        }
        async fn add_user_to_group(
            &self,
            g: &GroupId,
            u: &UserId,
        ) -> Result<Fetched<()>, OktaError> {
            self.inner.add_user_to_group(g, u).await
        }
        fn list_apps(&self, query: AppQuery) -> PageStream<'_, Application> {
            self.inner.list_apps(query)
        }
        fn list_app_users(&self, app: &AppId, query: AppUserQuery) -> PageStream<'_, AppUser> {
            self.inner.list_app_users(app, query)
        }
        async fn get_app_user(
            &self,
            app: &AppId,
            user: &UserId,
            expand: bool,
        ) -> Result<Option<Fetched<AppUser>>, OktaError> {
            self.inner.get_app_user(app, user, expand).await
        }
        async fn assign_app_user(
            &self,
            app: &AppId,
            a: &AppUserAssignment,
        ) -> Result<Fetched<AppUser>, OktaError> {
            self.inner.assign_app_user(app, a).await
        }
        async fn update_app_user(
            &self,
            app: &AppId,
            user: &UserId,
            body: &Value,
        ) -> Result<Fetched<AppUser>, OktaError> {
            self.inner.update_app_user(app, user, body).await
        }
        async fn unassign_app_user(
            &self,
            app: &AppId,
            user: &UserId,
            e: bool,
        ) -> Result<Fetched<()>, OktaError> {
            self.inner.unassign_app_user(app, user, e).await
        }
        fn list_logs(&self, query: LogQuery) -> PageStream<'_, LogEvent> {
            self.inner.list_logs(query)
        }
        fn poll_logs(&self, query: LogQuery, interval: Duration) -> PageStream<'_, LogEvent> {
            self.inner.poll_logs(query, interval)
        }
    }
}

// A search Okta refuses as too long is split in halves until it is accepted; the subjects are the
// same as with one lookup per hub user, and no search was read as "every user absent".
#[tokio::test]
async fn a_search_refused_as_too_long_is_split_until_accepted() {
    let sim = start(spec()).await;
    let rb = rulebook::load(Path::new(SEED_RULES)).unwrap();
    let spoke = client("spoke", &sim.spoke_url(), sim.spoke_token());
    let plain = client("hub", &sim.hub_url(), sim.hub_token());
    let expected = collect_with(
        &rb,
        &plain,
        &spoke,
        &live_opts(),
        &CostModel::lookups_only(),
        &no_progress,
    )
    .await
    .unwrap();
    let hub = ShortSearches {
        inner: client("hub", &sim.hub_url(), sim.hub_token()),
        max: 300,
        refused: Default::default(),
    };
    let got = collect(&rb, &hub, &spoke, &live_opts(), &no_progress)
        .await
        .unwrap();
    let strip = |v: Vec<Value>| -> Vec<Value> { v.into_iter().map(without_user_links).collect() };
    assert_eq!(strip(got.subjects), strip(expected.subjects));
    let searches = hub.inner.request_counts()["GET /api/v1/users"];
    let lookups = hub.inner.request_counts()["GET /api/v1/users/{id}"];
    // 17 logins of about 40 characters: refused whole (17 terms) and in halves (8 and 9), accepted
    // in quarters (4, 4, 4 and 5 terms).
    let refused = hub.refused.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        (refused, searches),
        (3, 4),
        "refused, then accepted searches"
    );
    // Only the failing users without a hub user are looked up (2 missing, 3 policy look-alikes).
    assert_eq!(lookups, 5);
    sim.shutdown().await;
}
