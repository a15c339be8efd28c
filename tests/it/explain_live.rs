//! `remedy explain --plan PLAN --subject KEY --config FILE`: the subject read again from the orgs
//! (one user for a `user` rulebook, the Org2Org collection narrowed to one spoke user), explained
//! with the rulebook and time the plan pins; and its errors.

use okta_remedy::sim::OrgName;

use crate::apply::{seed_spec, Env};
use crate::plans_at_scale::locked_out;

fn explain(key: &str) -> Vec<String> {
    [
        "explain",
        "--plan",
        "plan.json",
        "--subject",
        key,
        "--config",
        "remedy.yaml",
    ]
    .map(str::to_string)
    .to_vec()
}

async fn run(env: &Env, args: &[String]) -> crate::cli::Run {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    env.remedy(&args).await
}

/// The first subject the plan lists.
fn first_key(env: &Env) -> String {
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(env.path("plan.json")).unwrap()).unwrap();
    plan["subjects"][0]["key"].as_str().unwrap().to_string()
}

/// A `user` rulebook: one read of the one user, the plan's decision explained whole; once the user
/// is unlocked, the explanation says the plan's decision no longer holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_subject_is_read_alone_and_explained() {
    let env = locked_out(20).await;
    let key = first_key(&env);
    let before = env.sim.requests(OrgName::Hub).len();
    let live = run(&env, &explain(&key)).await;
    assert_eq!(live.code, 0, "{}", live.transcript());
    assert!(
        live.stdout
            .starts_with(&format!("subject {key}: matched unlock-after-wait\n")),
        "{}",
        live.stdout
    );
    assert!(
        live.stdout
            .contains("holds: $.user.status equals \"LOCKED_OUT\"; saw \"LOCKED_OUT\""),
        "{}",
        live.stdout
    );
    assert!(
        live.stdout
            .contains("(the subject as the orgs have it now, evaluated at the plan's time "),
        "{}",
        live.stdout
    );
    assert!(!live.stdout.contains("no longer"), "{}", live.stdout);
    let reads: Vec<_> = env.sim.requests(OrgName::Hub)[before..]
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(reads.len(), 1, "{reads:?}");
    assert!(reads[0].starts_with("GET /api/v1/users/00u"), "{reads:?}");

    let applied = env.apply(&[]).await;
    assert_eq!(applied.code, 0, "{}", applied.transcript());
    let after = run(&env, &explain(&key)).await;
    assert_eq!(after.code, 0, "{}", after.transcript());
    assert!(
        after
            .stdout
            .starts_with(&format!("subject {key}: no rule matched\n")),
        "{}",
        after.stdout
    );
    assert!(
        after.stdout.contains("the plan recorded matched unlock-after-wait for this subject; its live state no longer gives that decision"),
        "{}",
        after.stdout
    );
}

/// An Org2Org rulebook: the collection narrowed to the subject's spoke user gives the planned
/// decision again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_org2org_subject_is_collected_alone_and_explained() {
    let env = Env::generated(seed_spec(), "rules/org2org-password-sync.yaml").await;
    env.plan().await;
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(env.path("plan.json")).unwrap()).unwrap();
    let subject = plan["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["verdict"] == "matched")
        .unwrap();
    let key = subject["key"].as_str().unwrap();
    let rule = subject["rules"][0].as_str().unwrap();
    let before = env.sim.requests(OrgName::Spoke).len();
    let live = run(&env, &explain(key)).await;
    assert_eq!(live.code, 0, "{}", live.transcript());
    assert!(
        live.stdout
            .starts_with(&format!("subject {key}: matched {rule}\n")),
        "{}",
        live.stdout
    );
    assert!(!live.stdout.contains("no longer"), "{}", live.stdout);
    // The app, the failures of the plan's window, and this subject's assignment alone, by id.
    let spoke_user = subject["ids"]["spoke_user_id"].as_str().unwrap();
    let reads: Vec<String> = env.sim.requests(OrgName::Spoke)[before..]
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    let assignments: Vec<&String> = reads.iter().filter(|r| r.contains("/users")).collect();
    assert_eq!(assignments.len(), 1, "{reads:?}");
    assert!(
        assignments[0].ends_with(&format!("/users/{spoke_user}")),
        "{reads:?}"
    );
}

/// A key the plan does not list, a user gone from the org, and a rulebook edited since the plan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_gone_and_changed_are_errors() {
    let env = locked_out(3).await;
    let unknown = run(&env, &explain("nobody@example.com")).await;
    assert_eq!(unknown.code, 1, "{}", unknown.transcript());
    assert!(
        unknown
            .stderr
            .contains("plan `plan.json` does not list a subject `nobody@example.com`"),
        "{}",
        unknown.stderr
    );

    let key = first_key(&env);
    let both = env
        .remedy(&[
            "explain",
            "--plan",
            "plan.json",
            "--subject",
            &key,
            "--config",
            "remedy.yaml",
            "--subjects",
            "x.jsonl",
        ])
        .await;
    assert_eq!(both.code, 2, "{}", both.transcript());

    // Deleted from the hub (Okta deactivates on the first DELETE, deletes on the second).
    let url = format!("{}/api/v1/users/{key}", env.sim.hub_url());
    for _ in 0..2 {
        let sent = reqwest::Client::new()
            .delete(&url)
            .header("Authorization", format!("SSWS {}", env.sim.hub_token()))
            .send()
            .await
            .unwrap();
        assert!(sent.status().is_success(), "{}", sent.status());
    }
    let gone = run(&env, &explain(&key)).await;
    assert_eq!(gone.code, 1, "{}", gone.transcript());
    assert!(
        gone.stderr.contains(&format!(
            "the orgs no longer have subject `{key}` of plan `plan.json`"
        )),
        "{}",
        gone.stderr
    );

    let rules = std::fs::read_to_string(&env.rules).unwrap();
    std::fs::write(
        &env.rules,
        rules.replace("more than an hour", "over an hour"),
    )
    .unwrap();
    let changed = run(&env, &explain(&key)).await;
    assert_eq!(changed.code, 1, "{}", changed.transcript());
    assert!(
        changed.stderr.contains("changed since plan plan-"),
        "{}",
        changed.stderr
    );
}
