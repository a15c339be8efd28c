//! `activate` on a PROVISIONED user re-sends the activation with `lifecycle/reactivate` (Okta refuses
//! `lifecycle/activate` for that status); on a STAGED user it uses `lifecycle/activate`.

use okta_remedy::sim::{generate, OrgName, Scenario, SimConfig};
use serde_json::json;

use super::{seed_spec, Env};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_activation_is_resent_with_reactivate() {
    let mut seed = generate(&seed_spec(), 4242, "http://127.0.0.1:0");
    seed.anchor = None;
    // Exactly two pending users: one PROVISIONED, one STAGED; nobody else is in either status.
    for u in seed.hub.users.iter_mut() {
        if matches!(u["status"].as_str(), Some("PROVISIONED") | Some("STAGED")) {
            u["status"] = json!("ACTIVE");
        }
    }
    let ids: Vec<String> = seed
        .hub
        .users
        .iter()
        .filter(|u| u["status"] == "ACTIVE" && u["credentials"]["provider"]["type"] == "OKTA")
        .take(2)
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect();
    for u in seed.hub.users.iter_mut() {
        if u["id"] == json!(ids[0]) {
            u["status"] = json!("PROVISIONED");
        }
        if u["id"] == json!(ids[1]) {
            u["status"] = json!("STAGED");
        }
    }
    let env = Env::start(
        SimConfig {
            scenario: Scenario::Seed(seed),
            ..SimConfig::default()
        },
        "tests/fixtures/apply/reactivate.yaml",
    )
    .await;
    env.plan().await;
    let run = env.apply(&[]).await;
    assert_eq!(run.code, 0, "{}", run.transcript());
    let mut calls: Vec<String> = env
        .sim
        .requests(OrgName::Hub)
        .iter()
        .filter(|r| r.method == "POST" && r.path.contains("/lifecycle/"))
        .map(|r| format!("{} {}", r.path, r.status))
        .collect();
    calls.sort();
    let mut expected = vec![
        format!("/api/v1/users/{}/lifecycle/reactivate 200", ids[0]),
        format!("/api/v1/users/{}/lifecycle/activate 200", ids[1]),
    ];
    expected.sort();
    assert_eq!(calls, expected);
}
