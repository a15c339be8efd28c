//! Rewritten plan files (checksum recomputed, as anybody can) cannot make `apply` do what the pinned
//! rulebook would not: each tamper below is refused and named, and the org is left untouched.

use okta_remedy::plan::Plan;
use okta_remedy::sim::OrgName;
use serde_json::{json, Value};

use super::{hub_user, mutations, seed_spec, subjects_by_rule, Env};

const SEED: &str = "rules/org2org-password-sync.yaml";

/// Plans the seed scenario, lets `edit` rewrite the plan's JSON (read whole: each subject with its
/// explanation, as format 2 stored it), reseals it (a new valid checksum) and writes it back.
async fn tampered(edit: impl FnOnce(&mut Value)) -> Env {
    let env = Env::generated(seed_spec(), SEED).await;
    let path = env.plan().await;
    let mut v = serde_json::to_value(Plan::read(&path).expect("the plan reads")).unwrap();
    edit(&mut v);
    let mut plan: Plan = serde_json::from_value(v).expect("still a readable plan");
    plan.seal();
    std::fs::write(&path, plan.to_json()).unwrap();
    env
}

/// The first FEDERATION subject's login.
fn federated(v: &Value) -> String {
    v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["rule"] == "federated-hub-user-blocks-password-sync")
        .unwrap()["subject"]
        .as_str()
        .unwrap()
        .to_string()
}

fn step_of<'a>(v: &'a mut Value, subject: &str, action: &str) -> &'a mut Value {
    v["steps"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|s| s["subject"] == subject && s["action"] == action)
        .unwrap()
}

/// No hub request changed `login`'s user.
fn hub_untouched(env: &Env, login: &str) -> bool {
    let id = hub_user(&env.sim, login).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    !env.sim
        .requests(OrgName::Hub)
        .iter()
        .any(|r| r.method != "GET" && r.path.contains(&id))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_rewritten_into_a_reversible_delete_is_refused() {
    let mut victim = String::new();
    let env = tampered(|v| {
        victim = federated(v);
        let s = step_of(v, &victim, "reset_password");
        s["action"] = json!("delete_recreate");
        s["params"] = json!({});
        s["safety"] = json!("reversible");
        s["preconditions"] = json!([]);
    })
    .await;
    let before = hub_user(&env.sim, &victim).unwrap();
    let run = env.apply(&[]).await;
    assert_eq!(run.code, 3, "{}", run.transcript());
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains(&victim))
        .unwrap_or_default();
    assert!(
        line.contains("REFUSED")
            && line
                .contains("is `delete_recreate` of rule `federated-hub-user-blocks-password-sync`")
            && line.contains("the rulebook produces `reset_password`"),
        "{}",
        run.stdout
    );
    assert_eq!(hub_user(&env.sim, &victim).unwrap(), before);
    assert!(hub_untouched(&env, &victim));
    assert!(!mutations(&env.sim)
        .keys()
        .any(|k| k.starts_with("hub DELETE")));
    // The refusal is final for this plan: a second run refuses again without asking Okta to act.
    let again = env.apply(&["--approve-destructive"]).await;
    assert!(again.stdout.contains("REFUSED"), "{}", again.stdout);
    assert!(hub_untouched(&env, &victim));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_added_for_a_protected_admin_is_refused() {
    let mut admin = String::new();
    let env = tampered(|v| {
        let subjects = v["subjects"].as_array_mut().unwrap();
        let s = subjects
            .iter_mut()
            .find(|s| s["verdict"] == "protected")
            .unwrap();
        admin = s["key"].as_str().unwrap().to_string();
        s["verdict"] = json!("matched");
        s["rules"] = json!(["federated-hub-user-blocks-password-sync"]);
        s["protected_by"] = Value::Null;
        let steps = v["steps"].as_array_mut().unwrap();
        let mut step = steps
            .iter()
            .find(|s| s["action"] == "reset_password")
            .unwrap()
            .clone();
        step["id"] = json!("s9999");
        step["subject"] = json!(admin.clone());
        step["depends_on"] = json!([]);
        step["preconditions"] = json!([]);
        steps.push(step);
    })
    .await;
    let before = hub_user(&env.sim, &admin).unwrap();
    let run = env.apply(&[]).await;
    // The added step is out of the order plans are written in (a subject's steps together, in
    // subject order): the whole plan is refused before any call, naming it.
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stderr.contains("`s9999`") && run.stderr.contains("out of the order"),
        "{}",
        run.stderr
    );
    assert!(mutations(&env.sim).is_empty());
    assert!(hub_untouched(&env, &admin));
    assert_eq!(
        hub_user(&env.sim, &admin).unwrap()["status"],
        before["status"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_ids_params_or_order_are_refused() {
    // Three subjects, three tampers: another hub user's id, `send_email` flipped, `depends_on` removed.
    let (mut a, mut b, mut c, mut other) =
        (String::new(), String::new(), String::new(), String::new());
    let env = tampered(|v| {
        let by_rule = |rule: &str| -> Vec<String> {
            v["subjects"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["verdict"] == "matched" && s["rules"][0] == rule)
                .map(|s| s["key"].as_str().unwrap().to_string())
                .collect()
        };
        let fed = by_rule("federated-hub-user-blocks-password-sync");
        let waiting = by_rule("hub-user-not-active-yet");
        a = fed[0].clone();
        b = fed[1].clone();
        c = waiting[0].clone();
        let subjects = v["subjects"].as_array_mut().unwrap();
        let other_id = subjects
            .iter()
            .find(|s| s["key"] == json!(c.clone()))
            .unwrap()["ids"]["user_id"]
            .clone();
        other = c.clone();
        let sa = subjects
            .iter_mut()
            .find(|s| s["key"] == json!(a.clone()))
            .unwrap();
        sa["ids"]["user_id"] = other_id;
        step_of(v, &b, "reset_password")["params"]["send_email"] = json!(false);
        step_of(v, &c, "retry_provisioning")["depends_on"] = json!([]);
    })
    .await;
    let run = env.apply(&["--reset-urls", "urls.txt"]).await;
    let line = |login: &str| {
        run.stdout
            .lines()
            .find(|l| l.contains(login) && l.contains("REFUSED"))
            .unwrap_or_else(|| panic!("{login} not refused:\n{}", run.stdout))
            .to_string()
    };
    assert!(line(&a).contains("the plan names user_id"), "{}", line(&a));
    assert!(line(&b).contains("\"send_email\":false"), "{}", line(&b));
    assert!(line(&c).contains("must depend on"), "{}", line(&c));
    for login in [&a, &b, &other] {
        assert!(hub_untouched(&env, login), "{login} was changed");
    }
    assert!(
        !env.path("urls.txt").exists()
            || std::fs::read_to_string(env.path("urls.txt"))
                .unwrap()
                .is_empty()
    );
    // The untampered subjects ran as planned.
    let by_rule = subjects_by_rule(&env.path("plan.json"));
    let fed = &by_rule["federated-hub-user-blocks-password-sync"];
    assert!(
        fed.len() >= 3,
        "the seed has a third FEDERATION subject: {fed:?}"
    );
}

#[test]
fn a_plan_with_an_unknown_action_or_a_missing_parameter_names_the_step() {
    let base = json!({
        "id": "s0007", "subject": "a@example.com", "rule": "r", "action": "reset_pasword",
        "org": "hub", "params": {"send_email": true}, "preconditions": [], "depends_on": [],
        "safety": "reversible"
    });
    let err = serde_json::from_value::<okta_remedy::plan::Step>(base.clone())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("step `s0007`") && err.contains("unknown variant `reset_pasword`"),
        "{err}"
    );
    let mut missing = base;
    missing["action"] = json!("reset_password");
    missing["params"] = json!({});
    let err = serde_json::from_value::<okta_remedy::plan::Step>(missing)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("step `s0007`") && err.contains("missing field `send_email`"),
        "{err}"
    );
}
