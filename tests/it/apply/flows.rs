//! The seed scenario from plan to SYNCHRONIZED through the real binary, drift between plan and apply,
//! the guards (approval, --max-actions, group-scoped reassign, reset URLs, locks, edited plans and
//! rulebooks) and `remedy restore`.

use std::collections::BTreeSet;

use okta_remedy::sim::OrgName;
use serde_json::Value;

use super::{assignment_of, hub_user, mutations, seed_spec, subjects_by_rule, Env};

const SEED: &str = "rules/org2org-password-sync.yaml";

fn audit_lines(env: &Env) -> Vec<Value> {
    std::fs::read_to_string(env.path("plan.audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("audit line is JSON"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_scenario_end_to_end() {
    let env = Env::generated(seed_spec(), SEED).await;
    let plan = env.plan().await;
    let by_rule = subjects_by_rule(&plan);
    let fixing: Vec<String> = [
        "federated-hub-user-blocks-password-sync",
        "hub-user-not-active-yet",
        "no-hub-user",
    ]
    .iter()
    .flat_map(|r| by_rule.get(*r).cloned().unwrap_or_default())
    .collect();
    assert!(
        by_rule["federated-hub-user-blocks-password-sync"].len() >= 2
            && by_rule["hub-user-not-active-yet"].len() == 2
            && by_rule["no-hub-user"].len() == 2,
        "{by_rule:?}"
    );
    let admin = by_rule["(protected)"][0].clone();
    let admin_hub_id = hub_user(&env.sim, &admin).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    // First run: resets done, FEDERATION and not-active users wait for the user; the rest finish.
    let first = env.apply(&[]).await;
    assert_eq!(first.code, 0, "{}", first.transcript());
    assert!(first.stdout.contains("waiting"), "{}", first.stdout);
    let status = env.remedy(&["status", "plan.json"]).await;
    assert_eq!(status.code, 0, "{}", status.transcript());
    insta::assert_snapshot!("seed_status_waiting", env.redact(&status.transcript()));

    // The users complete their resets; the second run retries and verifies every push.
    let waiting = env.complete_waiting(&env.sim, &env.path("plan.journal.sqlite"));
    assert_eq!(
        waiting,
        by_rule["federated-hub-user-blocks-password-sync"].len() + 2
    );
    let second = env.apply(&[]).await;
    assert_eq!(second.code, 0, "{}", second.transcript());
    insta::assert_snapshot!("seed_apply_done", env.redact(&second.transcript()));

    for login in &fixing {
        let au = assignment_of(&env.sim, login).unwrap();
        let hub = hub_user(&env.sim, login).unwrap_or_else(|| panic!("{login} in the hub"));
        assert_eq!(au["syncState"], "SYNCHRONIZED", "{login}: {au}");
        assert_eq!(au["externalId"], hub["id"], "{login}");
        assert_eq!(hub["credentials"]["provider"]["type"], "OKTA", "{login}");
        assert_eq!(hub["status"], "ACTIVE", "{login}");
    }

    // The protected admin: no mutating request named it, and it is still FEDERATION.
    let admin_spoke = assignment_of(&env.sim, &admin).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let touching: Vec<String> = mutations(&env.sim)
        .into_keys()
        .filter(|k| k.contains(&admin_hub_id) || k.contains(&admin_spoke))
        .collect();
    assert!(touching.is_empty(), "{touching:?}");
    assert_eq!(
        hub_user(&env.sim, &admin).unwrap()["credentials"]["provider"]["type"],
        "FEDERATION"
    );

    // Audit log: every change with Okta's request id, every report recorded.
    let audit = audit_lines(&env);
    let sim_ids: BTreeSet<String> = [OrgName::Hub, OrgName::Spoke]
        .iter()
        .flat_map(|o| env.sim.requests(*o))
        .map(|r| r.request_id)
        .collect();
    let changes: Vec<&Value> = audit.iter().filter(|l| l["result"] == "ok").collect();
    assert_eq!(
        changes.len(),
        mutations(&env.sim).values().sum::<u32>() as usize,
        "one audit line per change: {audit:#?}"
    );
    for l in &changes {
        let rid = l["request_id"].as_str().unwrap_or("");
        assert!(sim_ids.contains(rid), "unknown request id in {l}");
        for key in ["time", "plan_id", "org", "user", "action"] {
            assert!(l[key].is_string(), "{key} missing in {l}");
        }
    }
    let reported: BTreeSet<&str> = audit
        .iter()
        .filter(|l| l["action"] == "report" && l["result"] == "recorded")
        .filter_map(|l| l["user"].as_str())
        .collect();
    let expected: BTreeSet<&str> = [
        "password-policy-mismatch",
        "hub-user-deprovisioned-or-suspended",
    ]
    .iter()
    .flat_map(|r| by_rule[*r].iter().map(String::as_str))
    .collect();
    assert_eq!(reported, expected);

    // A third run changes nothing and repeats no report.
    let before = mutations(&env.sim);
    let lines = audit.len();
    let third = env.apply(&[]).await;
    assert_eq!(third.code, 0, "{}", third.transcript());
    assert_eq!(mutations(&env.sim), before);
    assert_eq!(audit_lines(&env).len(), lines);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edited_plan_and_changed_rulebook_are_refused() {
    let env = Env::generated(seed_spec(), SEED).await;
    let plan = env.plan().await;
    let original = std::fs::read_to_string(&plan).unwrap();

    // A changed rulebook: refused unless --allow-rulebook-change; nothing touched Okta.
    let rules = std::fs::read_to_string(&env.rules).unwrap();
    std::fs::write(&env.rules, rules.replace("timeout: 7d", "timeout: 8d")).unwrap();
    let refused = env.apply(&[]).await;
    assert_eq!(refused.code, 1);
    insta::assert_snapshot!("rulebook_changed", env.redact(&refused.transcript()));
    assert!(mutations(&env.sim).is_empty());
    std::fs::write(&env.rules, &rules).unwrap();

    // An edited plan: refused whatever the flags.
    let edited = original.replacen("\"send_email\": true", "\"send_email\": false", 1);
    assert_ne!(edited, original);
    std::fs::write(&plan, edited).unwrap();
    let refused = env.apply(&["--allow-rulebook-change"]).await;
    assert_eq!(refused.code, 1);
    insta::assert_snapshot!("plan_edited", env.redact(&refused.transcript()));
    assert!(mutations(&env.sim).is_empty());
    assert!(!env.path("plan.journal.sqlite").exists());
}
