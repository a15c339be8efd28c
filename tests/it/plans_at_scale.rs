//! Plans at scale: the plan file is written and read as a stream (format 3), each subject's
//! explanation stays within its budget, `show` prints a bounded sample unless `--all`, `explain
//! --plan` re-derives the full explanation, an edited plan is refused, and plans of the previous
//! format (1) are still read.

use std::path::Path;

use serde_json::{json, Value};

use crate::cli::{remedy_in, Run};

const NOW: &str = "2026-11-29T00:00:00Z";

/// `n` users, every one but each fifth never signed in (so 80% match `bench/never-signed-in.yaml`),
/// with long profile values the explanations must not carry whole.
fn users(dir: &Path, n: usize) -> std::path::PathBuf {
    let mut text = String::new();
    for i in 0..n {
        let login = format!("user{i}@example.com");
        let last_login = if i % 5 == 4 {
            json!("2026-11-01T09:00:00.000Z")
        } else {
            json!(null)
        };
        let user = json!({ "id": format!("00u{i:017}"), "status": "ACTIVE",
            "statusChanged": "2026-11-28T08:00:00.000Z", "lastLogin": last_login,
            "lastUpdated": "2026-11-28T08:00:00.000Z",
            "profile": { "login": login, "email": login, "title": "x".repeat(500) },
            "credentials": { "provider": { "type": "OKTA", "name": "OKTA" } } });
        text.push_str(&json!({ "org": "hub", "user": user }).to_string());
        text.push('\n');
    }
    let path = dir.join("users.jsonl");
    std::fs::write(&path, text).unwrap();
    path
}

fn ok(dir: &Path, args: &[&str]) -> Run {
    let run = remedy_in(dir, args);
    assert_eq!(run.code, 0, "remedy {args:?}:\n{}", run.stderr);
    run
}

/// Plans 300 users with the report rule into `plan.json` in a fresh directory.
fn planned() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let rules = crate::cli::crate_root().join("bench/never-signed-in.yaml");
    users(dir.path(), 300);
    ok(
        dir.path(),
        &[
            "plan",
            "--rules",
            rules.to_str().unwrap(),
            "--subjects",
            "users.jsonl",
            "--now",
            NOW,
            "--out",
            "plan.json",
        ],
    );
    dir
}

#[test]
fn a_plan_is_one_line_per_subject_with_its_steps_within_the_size_budget() {
    let dir = planned();
    let text = std::fs::read_to_string(dir.path().join("plan.json")).unwrap();
    let plan: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(plan["format_version"], 3);
    // The rule's condition is written once, on its own line, before the subjects.
    let conditions = text
        .lines()
        .filter(|l| l.starts_with("  \"conditions\": {\"never-signed-in\":"))
        .count();
    assert_eq!(conditions, 1);
    let matched = plan["summary"]["matched"].as_u64().unwrap();
    assert_eq!(matched, 240);
    // One subject per line, its step on the same line: 240 lines, 240 steps, none listed apart.
    let subject_lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("    {\"key\""))
        .collect();
    assert_eq!(subject_lines.len(), 240);
    assert!(!text.lines().any(|l| l.starts_with("    {\"id\"")));
    assert!(plan.get("steps").is_none());
    for line in &subject_lines {
        let s: Value = serde_json::from_str(line.trim_end_matches(',')).unwrap();
        let steps = s["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 1, "{line}");
        assert_eq!(steps[0]["subject"], s["key"]);
    }
    assert_eq!(crate::plan_layout::plan_steps(&plan).len(), 240);
    let per_subject = text.len() as u64 / matched;
    assert!(
        per_subject <= 600,
        "{per_subject} bytes per matched subject"
    );
    for s in plan["subjects"].as_array().unwrap() {
        // Each matched subject keeps what it saw (`why`), not its explanation whole.
        assert!(s.get("explanation").is_none() && s["why"].is_array(), "{s}");
        // The 500-byte profile value is never carried whole.
        assert!(!s.to_string().contains(&"x".repeat(100)));
    }
    // Read back, each explanation (format 2's, rebuilt from `why`) is within its budget.
    let read = okta_remedy::plan::Plan::read(&dir.path().join("plan.json")).unwrap();
    assert_eq!(read.subjects.len(), 240);
    for s in &read.subjects {
        let bytes = s.explanation.to_string().len();
        assert!(
            bytes <= okta_remedy::plan::compact::EXPLANATION_BUDGET,
            "{bytes}: {}",
            s.explanation
        );
        assert_eq!(s.explanation[0]["rule"], "never-signed-in");
    }
    // The checksum covers the bytes before `plan_id`; the file ends with the seal.
    assert!(text.ends_with(&format!(
        "  \"plan_id\": \"{}\",\n  \"checksum\": \"{}\"\n}}\n",
        plan["plan_id"].as_str().unwrap(),
        plan["checksum"].as_str().unwrap()
    )));
}

#[test]
fn show_prints_a_bounded_sample_unless_asked_for_all() {
    let dir = planned();
    let sampled = ok(dir.path(), &["show", "plan.json"]).stdout;
    assert!(sampled.contains("report (240)"), "{sampled}");
    assert_eq!(sampled.matches(" on hub  [never-signed-in]").count(), 50);
    assert!(sampled.contains("  … and 190 more"), "{sampled}");
    assert!(sampled.ends_with(
        "Plan: 240 steps for 240 subjects (240 report); 0 change Okta, 0 destructive.\n"
    ));
    let all = ok(dir.path(), &["show", "plan.json", "--all"]).stdout;
    assert_eq!(all.matches(" on hub  [never-signed-in]").count(), 240);
    let markdown = ok(dir.path(), &["show", "plan.json", "--format", "markdown"]).stdout;
    assert!(markdown.contains("### `report` (240)"), "{markdown}");
    assert!(markdown.contains("… and 190 more"), "{markdown}");
}

#[test]
fn explain_with_the_plan_gives_the_whole_explanation_again() {
    let dir = planned();
    let run = ok(
        dir.path(),
        &[
            "explain",
            "--plan",
            "plan.json",
            "--subject",
            "user7@example.com",
        ],
    );
    assert!(
        run.stdout
            .starts_with("subject user7@example.com: matched never-signed-in"),
        "{}",
        run.stdout
    );
    let missing = remedy_in(
        dir.path(),
        &[
            "explain",
            "--plan",
            "plan.json",
            "--subject",
            "user4@example.com",
        ],
    );
    assert_ne!(missing.code, 0);
    assert!(
        missing
            .stderr
            .contains("does not list a subject `user4@example.com`"),
        "{}",
        missing.stderr
    );
}

#[test]
fn the_same_inputs_give_the_same_bytes_and_an_edit_is_refused() {
    let dir = planned();
    let first = std::fs::read(dir.path().join("plan.json")).unwrap();
    let again = planned();
    let second = std::fs::read(again.path().join("plan.json")).unwrap();
    // Only the rulebook path and subjects path could differ; both are the same here.
    assert_eq!(first, second);
    let edited = String::from_utf8(first).unwrap().replacen(
        "user7@example.com never signed in",
        "user7@example.com never signed on",
        1,
    );
    std::fs::write(dir.path().join("plan.json"), edited).unwrap();
    let show = remedy_in(dir.path(), &["show", "plan.json"]);
    assert_ne!(show.code, 0);
    assert!(
        show.stderr.contains("was edited after it was written"),
        "{}",
        show.stderr
    );
}

#[test]
fn a_plan_of_format_1_is_still_shown_and_explained() {
    let root = crate::cli::crate_root();
    let show = ok(root, &["show", "tests/fixtures/plans/v1-locked-out.json"]);
    assert!(
        show.stdout.starts_with("Plan plan-a44705b9aef9 "),
        "{}",
        show.stdout
    );
    assert!(show.stdout.contains("unlock (2)"), "{}", show.stdout);
    let explain = ok(
        root,
        &[
            "explain",
            "--plan",
            "tests/fixtures/plans/v1-locked-out.json",
            "--subject",
            "amy.ost@example.com",
        ],
    );
    assert!(
        explain.stdout.contains("rule unlock-after-wait: holds"),
        "{}",
        explain.stdout
    );
}

/// A simulator whose `n` hub users are all locked out since three hours, with `bench/unlock-all.yaml`,
/// and a plan unlocking every one of them in `plan.json`.
pub async fn locked_out(n: usize) -> crate::apply::Env {
    use okta_remedy::sim::{generate, GenerateSpec, Scenario, SimConfig};
    let spec = GenerateSpec {
        hub_users: n,
        spoke_assignments: 0,
        federation_collisions: 0,
        policy_lookalikes: 0,
        not_active_hub: 0,
        missing_hub: 0,
        deprovisioned_hub: 0,
        suspended_hub: 0,
        protected_admins: 0,
        group_assigned: 0,
        anchor: Some(crate::apply::anchor()),
    };
    let mut seed = generate(&spec, 4242, "http://127.0.0.1:0");
    seed.anchor = None;
    let locked_at = (chrono::Utc::now() - chrono::TimeDelta::hours(3)).to_rfc3339();
    for user in &mut seed.hub.users {
        user["status"] = "LOCKED_OUT".into();
        user["statusChanged"] = locked_at.clone().into();
    }
    let config = SimConfig {
        scenario: Scenario::Seed(seed),
        ..SimConfig::default()
    };
    let env = crate::apply::Env::start(config, "bench/unlock-all.yaml").await;
    env.plan().await;
    env
}

/// Requests the hub received that read or change one user (`/api/v1/users/{id}...`).
fn user_requests(env: &crate::apply::Env) -> (usize, usize) {
    let requests = env.sim.requests(okta_remedy::sim::OrgName::Hub);
    let reads = requests
        .iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/api/v1/users/"))
        .count();
    let unlocks = requests
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/lifecycle/unlock"))
        .count();
    (reads, unlocks)
}

/// `apply` counts every subject and lists at most 50 of each state (text and JSON), and a second run
/// over the finished journal neither re-reads a user nor unlocks one again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_lists_a_bounded_sample_and_a_resumed_run_reads_nothing_done() {
    let env = locked_out(60).await;
    let json = env.apply(&["--output", "json"]).await;
    assert_eq!(json.code, 0, "{}", json.transcript());
    let summary: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(summary["counts"], json!({ "done": 60 }));
    assert_eq!(summary["subjects"].as_array().unwrap().len(), 50);
    assert_eq!(summary["unlisted"], 10);
    assert_eq!(summary["changes"], 60);
    assert_eq!(user_requests(&env), (60, 60));

    let text = env.apply(&[]).await;
    assert_eq!(text.code, 0, "{}", text.transcript());
    let listed = text
        .stdout
        .lines()
        .filter(|l| l.starts_with("  done "))
        .count();
    assert_eq!(listed, 50, "{}", text.stdout);
    assert!(
        text.stdout.contains(
            "  … and 10 more (10 done); `remedy status plan.journal.sqlite --all` lists every one\n"
        ),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("60 done, 0 waiting"),
        "{}",
        text.stdout
    );
    // The resumed run looked the finished subjects up in the journal: no read, no second unlock.
    assert_eq!(user_requests(&env), (60, 60));
}

/// `remedy test --snapshot --subjects FILE`: the decision review of a subjects file counts every
/// subject and lists the first 20 of each decision, so it is the same size for 300 subjects as for
/// 1,500; a second run finds it unchanged, and a rule edit that changes decisions fails with a diff.
#[test]
fn the_decision_review_of_a_subjects_file_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let rules = crate::cli::crate_root().join("bench/never-signed-in.yaml");
    std::fs::copy(&rules, dir.path().join("never-signed-in.yaml")).unwrap();
    let review = |n: usize| {
        users(dir.path(), n);
        let args = [
            "test",
            "--snapshot",
            "--accept",
            "--subjects",
            "users.jsonl",
            "never-signed-in.yaml",
            "--now",
            NOW,
        ];
        ok(dir.path(), &args);
        std::fs::read_to_string(dir.path().join("never-signed-in.subjects.snap")).unwrap()
    };
    let large = review(1_500);
    let small = review(300);
    assert!(large.contains("\nsubjects: 1500\n"), "{large}");
    assert_eq!(large.matches("- subject: ").count(), 40);
    assert!(large.len() <= small.len() + 5, "{large}");
    insta::assert_snapshot!("subjects_review", small);

    let again = ok(
        dir.path(),
        &[
            "test",
            "--snapshot",
            "--subjects",
            "users.jsonl",
            "never-signed-in.yaml",
            "--now",
            NOW,
        ],
    );
    assert!(
        again.stdout.contains(
            "decision review of users.jsonl: decisions unchanged (never-signed-in.subjects.snap)"
        ),
        "{}",
        again.stdout
    );
    let edited = std::fs::read_to_string(dir.path().join("never-signed-in.yaml"))
        .unwrap()
        .replace("equals: ACTIVE", "equals: SUSPENDED");
    std::fs::write(dir.path().join("never-signed-in.yaml"), edited).unwrap();
    let changed = remedy_in(
        dir.path(),
        &[
            "test",
            "--snapshot",
            "--subjects",
            "users.jsonl",
            "never-signed-in.yaml",
            "--now",
            NOW,
        ],
    );
    assert_eq!(changed.code, 1, "{}", changed.transcript());
    assert!(
        changed.stdout.contains("-  subjects: 240\n"),
        "{}",
        changed.stdout
    );
    assert!(dir
        .path()
        .join("never-signed-in.subjects.snap.new")
        .exists());
}
