//! The seed scenario from plan to SYNCHRONIZED through the real binary, drift between plan and apply,
//! the guards (approval, --max-actions, group-scoped reassign, reset URLs, locks, edited plans and
//! rulebooks) and `remedy restore`.

use std::collections::BTreeSet;

use okta_remedy::sim::OrgName;
use serde_json::{json, Value};

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

    let json_status = env
        .remedy(&["--output", "json", "status", "plan.json"])
        .await;
    assert_eq!(json_status.code, 0, "{}", json_status.transcript());
    let json_status: Value = serde_json::from_str(&json_status.stdout).unwrap();
    let waiting_in_json = json_status["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["state"] == "waiting")
        .count();
    assert_eq!(waiting_in_json, 5, "{json_status:#}");
    assert!(json_status["steps"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["action"] == "await" && s["state"] == "waiting" && s["started"].is_string()));

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
        assert_eq!(l["operator"], "apply-test", "{l}");
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
    let no_journal = env.remedy(&["status", "plan.json"]).await;
    assert_eq!(no_journal.code, 1);
    assert!(
        no_journal
            .stderr
            .contains("no journal at `plan.journal.sqlite`"),
        "{}",
        no_journal.stderr
    );

    // A changed rulebook: refused unless --allow-rulebook-change; nothing touched Okta.
    let rules = std::fs::read_to_string(&env.rules).unwrap();
    std::fs::write(&env.rules, rules.replace("timeout: 7d", "timeout: 8d")).unwrap();
    let refused = env.apply(&[]).await;
    assert_eq!(refused.code, 1);
    insta::assert_snapshot!("rulebook_changed", env.redact(&refused.transcript()));
    assert!(mutations(&env.sim).is_empty());
    std::fs::write(&env.rules, &rules).unwrap();

    // An edited plan: refused whatever the flags.
    let edited = original.replacen("\"send_email\":true", "\"send_email\":false", 1);
    assert_ne!(edited, original);
    std::fs::write(&plan, edited).unwrap();
    let refused = env.apply(&["--allow-rulebook-change"]).await;
    assert_eq!(refused.code, 1);
    insta::assert_snapshot!("plan_edited", env.redact(&refused.transcript()));
    assert!(mutations(&env.sim).is_empty());
    assert!(!env.path("plan.journal.sqlite").exists());
}

const GUARDS: &str = "tests/fixtures/apply/guards.yaml";

/// Hub ids of users whose `DELETE /api/v1/users/{id}` reached Okta.
fn deleted_ids(env: &Env) -> BTreeSet<String> {
    env.sim
        .requests(OrgName::Hub)
        .into_iter()
        .filter(|r| r.method == "DELETE" && r.status == 204)
        .filter_map(|r| r.path.strip_prefix("/api/v1/users/").map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guards_approval_max_actions_group_scope_reset_urls_and_restore() {
    let env = Env::generated(seed_spec(), GUARDS).await;
    let plan = env.plan().await;
    let by_rule = subjects_by_rule(&plan);
    let recreate = by_rule["federation-recreate"].clone();
    assert_eq!(recreate.len(), 2, "{by_rule:?}");
    assert_eq!(by_rule["recovery-reset-url"].len(), 1, "{by_rule:?}");
    let group_scoped = by_rule["group-scoped-reassign"][0].clone();
    let serial = ["--concurrency", "1"];

    // No approval, no --reset-urls: destructive and URL steps wait for them; the group-scoped
    // reassign was planned as touch (Okta cannot unassign it), which the simulator fails again (a
    // failure, exit 3) without unassigning anything; the rest is done.
    let first = env.apply(&serial).await;
    assert_eq!(first.code, 3, "{}", first.transcript());
    insta::assert_snapshot!("guards_first_run", env.redact(&first.transcript()));
    assert!(deleted_ids(&env).is_empty());
    let hub_changes: Vec<String> = mutations(&env.sim)
        .into_keys()
        .filter(|k| !k.starts_with("spoke POST /api/v1/apps/"))
        .collect();
    assert!(hub_changes.is_empty(), "{hub_changes:?}");

    // Approved, but at most one change this run: one user is deleted and recreated.
    let mut args = vec!["--approve-destructive", "--max-actions", "1"];
    args.extend_from_slice(&serial);
    let second = env.apply(&args).await;
    assert_eq!(second.code, 3, "{}", second.transcript());
    assert_eq!(deleted_ids(&env).len(), 1, "{}", second.stdout);
    assert!(
        second.stdout.contains("over --max-actions for this run"),
        "{}",
        second.stdout
    );

    // Approved with a reset-URL file: everything else is done; the failed touch stands.
    let third = env
        .apply(&["--approve-destructive", "--reset-urls", "urls.txt"])
        .await;
    assert_eq!(third.code, 3, "{}", third.transcript());
    insta::assert_snapshot!("guards_third_run", env.redact(&third.transcript()));
    assert_eq!(deleted_ids(&env).len(), 2);
    for login in &recreate {
        let user = hub_user(&env.sim, login).unwrap();
        assert_eq!(user["credentials"]["provider"]["type"], "OKTA");
        assert_eq!(
            assignment_of(&env.sim, login).unwrap()["externalId"],
            user["id"]
        );
    }
    let group_assignment = assignment_of(&env.sim, &group_scoped).unwrap();
    assert_eq!(group_assignment["scope"], "GROUP", "never unassigned");
    assert!(!mutations(&env.sim)
        .keys()
        .any(|k| k.contains("DELETE /api/v1/apps/")));

    // The one-time URL went to the 0600 file only.
    let urls = std::fs::read_to_string(env.path("urls.txt")).unwrap();
    let url = urls
        .lines()
        .next()
        .and_then(|l| l.split('\t').nth(1))
        .unwrap()
        .to_string();
    assert!(url.contains("/reset-password/"), "{urls}");
    assert_eq!(urls.lines().count(), 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(env.path("urls.txt"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    for run in [&first, &second, &third] {
        assert!(!run.stdout.contains(&url) && !run.stderr.contains(&url));
    }
    let token = url.rsplit('/').next().unwrap();
    for entry in std::fs::read_dir(env.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() == "urls.txt" {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "the reset URL leaked into {}",
            path.display()
        );
    }

    // The manual retry was listed once over three runs and waits; once a person has set the
    // password and retried under Dashboard > Tasks, the next run verifies it and is done.
    let manual = by_rule["provisioned-manual"][0].clone();
    let listed = std::fs::read_to_string(env.path("plan.manual-retries.txt")).unwrap();
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(listed.starts_with(&format!("{manual}\t")), "{listed}");
    assert!(third.stdout.contains(&format!(
        "waiting   {manual}: listed in plan.manual-retries.txt"
    )));
    env.sim
        .complete_password_reset(OrgName::Hub, &manual)
        .unwrap();
    let au = assignment_of(&env.sim, &manual).unwrap();
    let app = env.sim.dump(OrgName::Spoke)["apps"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let http = reqwest::Client::new();
    let retried = http
        .post(format!(
            "{}/api/v1/apps/{app}/users/{}",
            env.sim.spoke_url(),
            au["id"].as_str().unwrap()
        ))
        .header("Authorization", "SSWS spoke-token")
        .json(&json!({ "profile": {} }))
        .send()
        .await
        .unwrap();
    assert_eq!(retried.status(), 200);
    let fourth = env.apply(&[]).await;
    assert!(
        fourth.stdout.contains(&format!(
            "done      {manual}: already provisioned (SYNCHRONIZED and linked)"
        )),
        "{}",
        fourth.stdout
    );

    // Restore: a recreated user disappears; the journal backup brings it back.
    let login = &recreate[0];
    let backup = hub_profile_from_backup(&env, login);
    let id = hub_user(&env.sim, login).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..2 {
        let r = http
            .delete(format!("{}/api/v1/users/{id}", env.sim.hub_url()))
            .header("Authorization", "SSWS hub-token")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
    }
    assert!(hub_user(&env.sim, login).is_none());
    let restore = [
        "restore",
        "--journal",
        "plan.journal.sqlite",
        "--user",
        login,
        "--config",
        "remedy.yaml",
    ];
    let restored = env.remedy(&restore).await;
    assert_eq!(restored.code, 0, "{}", restored.transcript());
    insta::assert_snapshot!("restore", env.redact(&restored.transcript()));
    let user = hub_user(&env.sim, login).expect("restored");
    assert_eq!(user["profile"], backup);
    let again = env.remedy(&restore).await;
    assert_eq!(again.code, 1);
    assert!(
        again.stderr.contains("exists in the hub already"),
        "{}",
        again.stderr
    );
}

/// The profile in the journal's backup of `login`.
fn hub_profile_from_backup(env: &Env, login: &str) -> Value {
    let j = okta_remedy::apply::journal::Journal::open_existing(&env.path("plan.journal.sqlite"))
        .unwrap();
    let b = j.backup_by_login(login).unwrap().expect("a backup");
    assert_eq!(
        b.body["user"]["credentials"]["provider"]["type"],
        "FEDERATION"
    );
    assert!(b.body["groups"].is_array() && b.body["app_links"].is_array());
    b.body["user"]["profile"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_apply_on_the_same_journal_is_refused() {
    let env = Env::generated(seed_spec(), SEED).await;
    env.plan().await;
    let first = env.apply(&[]).await;
    assert_eq!(first.code, 0, "{}", first.transcript());
    // Another process holds the journal (as a running apply does).
    let held =
        okta_remedy::apply::journal::Journal::open_existing(&env.path("plan.journal.sqlite"))
            .unwrap();
    let before = mutations(&env.sim);
    let refused = env.apply(&[]).await;
    assert_eq!(refused.code, 1);
    insta::assert_snapshot!("journal_busy", env.redact(&refused.transcript()));
    assert_eq!(mutations(&env.sim), before);
    drop(held);
    let after = env.apply(&[]).await;
    assert_eq!(after.code, 0, "{}", after.transcript());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drifted_subjects_are_skipped_with_the_difference_shown() {
    let env = Env::generated(seed_spec(), SEED).await;
    let plan = env.plan().await;
    let by_rule = subjects_by_rule(&plan);
    let fed = &by_rule["federated-hub-user-blocks-password-sync"];
    let not_active = &by_rule["hub-user-not-active-yet"];
    // Behind the tool's back: one user suspended, one fixed by hand, one only edited...
    let changed = [
        (fed[0].clone(), json!({ "status": "SUSPENDED" })),
        (
            fed[1].clone(),
            json!({ "credentials": { "provider": { "type": "OKTA", "name": "OKTA" } } }),
        ),
        (
            not_active[0].clone(),
            json!({ "profile": { "department": "Sales" } }),
        ),
    ];
    let mut ids = Vec::new();
    for (login, patch) in &changed {
        ids.push(
            hub_user(&env.sim, login).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        env.sim
            .patch_user(OrgName::Hub, login, patch.clone())
            .unwrap();
    }
    // And a hub user created for a subject that had none.
    let missing = by_rule["no-hub-user"][0].clone();
    let created = reqwest::Client::new()
        .post(format!("{}/api/v1/users?activate=false", env.sim.hub_url()))
        .header("Authorization", "SSWS hub-token")
        .json(&json!({ "profile": {
            "login": missing, "email": missing, "firstName": "Made", "lastName": "By Hand",
        } }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    ids.push(
        created.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string(),
    );
    let run = env.apply(&[]).await;
    assert_eq!(run.code, 0, "{}", run.transcript());
    let drift_lines: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("drift"))
        .collect();
    assert_eq!(drift_lines.len(), 4, "{}", run.stdout);
    insta::assert_snapshot!("drift_lines", env.redact(&drift_lines.join("\n")));
    assert!(run.stdout.contains("4 skipped for drift"), "{}", run.stdout);
    // Nothing was done to them, and the other subjects went ahead.
    let touched: Vec<String> = mutations(&env.sim)
        .into_keys()
        .filter(|k| ids.iter().any(|id| k.contains(id.as_str())))
        .collect();
    assert!(touched.is_empty(), "{touched:?}");
    assert!(mutations(&env.sim)
        .keys()
        .any(|k| k.contains("reset_password")));
    // The verdict stands on the next run.
    let again = env.apply(&[]).await;
    assert_eq!(
        again
            .stdout
            .lines()
            .filter(|l| l.trim_start().starts_with("drift"))
            .count(),
        4
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_await_past_its_deadline_fails_the_subject() {
    let env = Env::generated(seed_spec(), SEED).await;
    env.plan().await;
    let first = env.apply(&[]).await;
    assert_eq!(first.code, 0, "{}", first.transcript());
    // Eight days pass (the rulebook waits 7d): the journal's start of each wait is moved back.
    let eight_days_ago = (chrono::Utc::now() - chrono::Duration::days(8))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let db = rusqlite::Connection::open(env.path("plan.journal.sqlite")).unwrap();
    let moved = db
        .execute(
            "UPDATE steps SET started = ?1 WHERE action = 'await' AND state = 'waiting'",
            [&eight_days_ago],
        )
        .unwrap();
    drop(db);
    assert_eq!(moved, 5);
    let late = env.apply(&[]).await;
    assert_eq!(late.code, 3, "{}", late.transcript());
    let failed: Vec<&str> = late
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("FAILED"))
        .collect();
    assert_eq!(failed.len(), 5, "{}", late.stdout);
    insta::assert_snapshot!("await_timed_out", env.redact(&failed.join("\n")));
    // No retry was pushed for them.
    let pushed: Vec<String> = failed
        .iter()
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(|login| login.trim_end_matches(':'))
        .filter_map(|login| assignment_of(&env.sim, login))
        .filter_map(|au| au["id"].as_str().map(str::to_string))
        .filter(|id| mutations(&env.sim).keys().any(|k| k.contains(id.as_str())))
        .collect();
    assert!(pushed.is_empty(), "{pushed:?}");
}
