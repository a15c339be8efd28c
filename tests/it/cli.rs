//! The `remedy` binary as a black box: each test runs the real executable and snapshots exit code,
//! stdout and stderr together. Owns the helper the other offline modules use to run the binary. The
//! engine's decisions are covered by `cases`; broken rulebooks by `rulebook_errors`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// One finished run of `remedy`.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Exit code, stdout and stderr in one text, as snapshotted.
    pub fn transcript(&self) -> String {
        format!(
            "exit code: {}\n----- stdout -----\n{}----- stderr -----\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// The crate root: `remedy` runs there so paths in its output are relative and stable.
pub fn crate_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `path` relative to the crate root, with `/` separators.
pub fn relative(path: &Path) -> String {
    path.strip_prefix(crate_root())
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Runs `remedy ARGS` in the crate root.
pub fn remedy(args: &[&str]) -> Run {
    remedy_in(crate_root(), args)
}

/// Runs `remedy ARGS` in `dir`.
pub fn remedy_in(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_remedy"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .output()
        .expect("remedy runs");
    Run {
        code: out
            .status
            .code()
            .expect("remedy exits, not killed by a signal"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

pub const NOW: &str = "2026-11-29T00:00:00Z";
const SEED: &str = "rules/org2org-password-sync.yaml";
const EXAMPLES: &str = "examples/subjects/org2org-failures.jsonl";

/// A temp dir holding copies of the seed rulebook and its sidecar cases.
fn seed_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    for f in [SEED, "rules/org2org-password-sync.tests.yaml"] {
        let name = Path::new(f).file_name().unwrap();
        std::fs::copy(crate_root().join(f), dir.path().join(name)).unwrap();
    }
    let rb = dir.path().join("org2org-password-sync.yaml");
    (dir, rb)
}

/// Snapshots with the temp dir's path replaced by `[TMP]` and, when `plan_id` is false, plan ids
/// (which hash the plan's content, temp paths included) replaced by `plan-[ID]`.
fn assert_redacted(name: &str, dir: &Path, plan_id: bool, text: &str) {
    let tmp = regex::escape(&dir.display().to_string());
    let mut filters = vec![(tmp.as_str(), "[TMP]")];
    if !plan_id {
        filters.push((r"plan-[0-9a-f]{12}", "plan-[ID]"));
    }
    insta::with_settings!({ filters => filters }, {
        insta::assert_snapshot!(name, text);
    });
}

/// `remedy plan` of the seed rulebook on `subjects` at the fixed time, plus `extra` flags.
fn plan_seed(subjects: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "plan",
        "--rules",
        SEED,
        "--subjects",
        subjects,
        "--now",
        NOW,
    ];
    args.extend(extra);
    remedy(&args)
}

fn replace_in(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "`{from}` not in {}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn help() {
    let run = remedy(&["--help"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("Exit codes: 0 ok"));
    insta::assert_snapshot!("help", run.transcript());
    let run = remedy(&["plan", "--help"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("--detailed-exitcode"));
    insta::assert_snapshot!("plan_help", run.transcript());
}

#[test]
fn unknown_command_is_a_usage_error() {
    let run = remedy(&["valdate", SEED]);
    assert_eq!(run.code, 2, "clap's usage errors exit 2");
    assert!(run.stderr.contains("validate"), "{}", run.stderr);
}

#[test]
fn validate_ok_and_failing() {
    let ok = remedy(&["validate", SEED]);
    assert_eq!(ok.code, 0);
    insta::assert_snapshot!("validate_ok", ok.transcript());
    // One bad file among good ones fails the run, and every file is still reported.
    let mixed = remedy(&[
        "validate",
        SEED,
        "tests/rulebook_errors/unknown-action-typo.yaml",
    ]);
    assert_eq!(mixed.code, 1);
    insta::assert_snapshot!("validate_failing", mixed.transcript());
    let missing = remedy(&["validate", "rules/no-such-rulebook.yaml"]);
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("no-such-rulebook.yaml"));
}

#[test]
fn explain_text_and_json() {
    // Subject 3 is the password-policy look-alike: the first rule matches and the rest are not tried.
    let args = [
        "explain",
        "--rules",
        SEED,
        "--subject",
        EXAMPLES,
        "--subject-index",
        "3",
        "--now",
        NOW,
    ];
    let text = remedy(&args);
    assert_eq!(text.code, 0, "{}", text.stderr);
    insta::assert_snapshot!("explain_text", text.transcript());

    // Subject 7 (no hub user) is tried against several rules, with unknown outcomes on the way.
    let mut json_args = vec!["--output", "json"];
    json_args.extend(args);
    let at = json_args.len() - 3;
    json_args[at] = "7";
    let json = remedy(&json_args);
    assert_eq!(json.code, 0, "{}", json.stderr);
    assert_eq!(json.stderr, "");
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    insta::assert_json_snapshot!("explain_json", v);

    // Subject 10 is an admin: the guard that protects it is explained before the rules.
    let protected = remedy(&[
        "explain",
        "--rules",
        SEED,
        "--subject",
        EXAMPLES,
        "--subject-index",
        "10",
        "--now",
        NOW,
    ]);
    assert_eq!(protected.code, 0, "{}", protected.stderr);
    insta::assert_snapshot!("explain_protected", protected.transcript());

    let out_of_range = remedy(&[
        "explain",
        "--rules",
        SEED,
        "--subject",
        EXAMPLES,
        "--subject-index",
        "99",
        "--now",
        NOW,
    ]);
    assert_eq!(out_of_range.code, 1);
    insta::assert_snapshot!("explain_out_of_range", out_of_range.transcript());
}

#[test]
fn test_command_passes_on_the_seed_rulebook() {
    let run = remedy(&["test", SEED, "--now", NOW]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    insta::assert_snapshot!("test_seed", run.transcript());
}

#[test]
fn test_command_shows_a_diff_for_a_wrong_expectation() {
    let (dir, _) = seed_copy();
    // Claim the look-alike policy error gets the FEDERATION fix: the case must fail with a diff.
    replace_in(
        &dir.path().join("org2org-password-sync.tests.yaml"),
        r#"expect: {"rule": "password-policy-mismatch", "actions": ["report"]}"#,
        r#"expect: {"rule": "federated-hub-user-blocks-password-sync", "actions": ["reset_password", "await", "retry_provisioning"]}"#,
    );
    let run = remedy_in(
        dir.path(),
        &["test", "org2org-password-sync.yaml", "--now", NOW],
    );
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("FAILED"));
    assert!(run
        .stdout
        .contains("-- federated-hub-user-blocks-password-sync\n+- password-policy-mismatch"));
    assert_redacted(
        "test_wrong_expectation",
        dir.path(),
        true,
        &run.transcript(),
    );
}

#[test]
fn decision_snapshot_lifecycle() {
    let (dir, rb) = seed_copy();
    let snap = dir.path().join("org2org-password-sync.snap");
    let test = |extra: &[&str]| {
        let mut args = vec![
            "test",
            "--snapshot",
            "org2org-password-sync.yaml",
            "--now",
            NOW,
        ];
        args.extend(extra);
        remedy_in(dir.path(), &args)
    };

    let first = test(&[]);
    assert_eq!(first.code, 0, "{}", first.stdout);
    assert!(first.stdout.contains("decision snapshot written"));
    let written = std::fs::read_to_string(&snap).unwrap();
    assert!(written.starts_with("---\nsource: org2org-password-sync.yaml\n"));

    let second = test(&[]);
    assert_eq!(second.code, 0);
    assert!(second.stdout.contains("decisions unchanged"));
    assert_eq!(std::fs::read_to_string(&snap).unwrap(), written);

    // A rule edit that keeps every expectation but changes how a rule decides.
    replace_in(
        &rb,
        "- { path: $.user.credentials.provider.type, equals: OKTA }",
        "- { path: $.user.credentials.provider.type, not_equals: FEDERATION }",
    );
    let changed = test(&[]);
    assert_eq!(changed.code, 1, "{}", changed.stdout);
    assert!(changed.stdout.contains("decisions changed"));
    assert!(changed
        .stdout
        .lines()
        .any(|l| l.starts_with('+') && l.contains(r#"not_equals "FEDERATION"; saw "FEDERATION""#)));
    assert!(dir.path().join("org2org-password-sync.snap.new").exists());
    assert_eq!(
        std::fs::read_to_string(&snap).unwrap(),
        written,
        "not accepted yet"
    );
    assert_redacted("snapshot_changed", dir.path(), true, &changed.transcript());

    let accepted = test(&["--accept"]);
    assert_eq!(accepted.code, 0, "{}", accepted.stdout);
    assert!(accepted.stdout.contains("accepted"));
    assert!(!dir.path().join("org2org-password-sync.snap.new").exists());
    assert_ne!(std::fs::read_to_string(&snap).unwrap(), written);

    let after = test(&[]);
    assert_eq!(after.code, 0);
    assert!(after.stdout.contains("decisions unchanged"));
}

#[test]
fn plan_out_show_and_determinism() {
    let dir = tempfile::tempdir().unwrap();
    let out1 = dir.path().join("plan1.json");
    let out2 = dir.path().join("plan2.json");
    let plan = |out: &Path| plan_seed(EXAMPLES, &["--out", out.to_str().unwrap()]);
    let first = plan(&out1);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_redacted("plan_text", dir.path(), true, &first.transcript());

    let second = plan(&out2);
    assert_eq!(second.code, 0);
    let (a, b) = (std::fs::read(&out1).unwrap(), std::fs::read(&out2).unwrap());
    assert!(a == b, "two plans of the same inputs differ");

    // `show` renders the saved plan exactly as `plan` printed it (minus the "Saved to" line).
    let show = remedy(&["show", out1.to_str().unwrap()]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    let printed: String = first
        .stdout
        .lines()
        .filter(|l| !l.starts_with("Saved to "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(show.stdout, printed);

    let show_json = remedy(&["--output", "json", "show", out1.to_str().unwrap()]);
    assert_eq!(show_json.code, 0);
    assert_eq!(show_json.stdout.as_bytes(), &a[..]);
}

#[test]
fn plan_over_a_guard_is_written_refused_and_apply_refuses_it() {
    // Over `max_actions`, the plan is still written and shown, marked refused; the run fails naming
    // the guard, and `apply` refuses the file before it needs any org.
    let (dir, rb) = seed_copy();
    let text = std::fs::read_to_string(&rb).unwrap();
    std::fs::write(&rb, text.replace("max_actions: 200", "max_actions: 2")).unwrap();
    let rb = rb.to_str().unwrap();
    let out = dir.path().join("plan.json");
    let out = out.to_str().unwrap();
    let args = ["plan", "--rules", rb, "--subjects", EXAMPLES, "--now", NOW];
    let run = remedy(&[&args[..], &["--out", out]].concat());
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("over `guards.max_actions: 2`"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains(
        "REFUSED: 9 steps would change Okta, over `guards.max_actions: 2`; written for review only"
    ));
    assert!(run.stdout.contains("cannot be applied"), "{}", run.stdout);
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap();
    assert_eq!(
        plan["refused"],
        serde_json::json!({"guard": "max_actions", "count": 9, "limit": 2})
    );
    assert_eq!(
        plan["summary"]["steps"], 19,
        "every step is kept for review"
    );
    // `show` reads it (the checksum covers `refused`), and says it is refused.
    let show = remedy(&["show", out]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    assert!(show.stdout.contains("REFUSED: 9 steps"));

    let apply = remedy(&["apply", out]);
    assert_eq!(apply.code, 1, "{}", apply.stdout);
    assert!(
        apply.stderr.contains(
            "was refused when it was made: 9 steps would change Okta, over `guards.max_actions: 2`"
        ),
        "{}",
        apply.stderr
    );
    assert!(!dir.path().join("plan.journal.sqlite").exists());

    // With `--output json` the one document on stdout is the error; the file is still written.
    std::fs::remove_file(out).unwrap();
    let json = remedy(&[&["--output", "json"], &args[..], &["--out", out]].concat());
    assert_eq!(json.code, 1);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["ok"], false);
    assert!(std::path::Path::new(out).exists());
}

#[test]
fn reassign_on_a_group_assignment_is_planned_as_touch_with_a_warning() {
    // Okta cannot unassign a group's assignment from one user (E0000046): the plan says `touch`, and
    // why, for a GROUP-scoped assignment; an individual one keeps `reassign`.
    let dir = tempfile::tempdir().unwrap();
    let rb = dir.path().join("reassign.yaml");
    std::fs::write(
        &rb,
        "version: 1\nname: reassign\ndescription: Retry pushes by reassigning.\n\
         subjects: { kind: org2org_assignment, spoke: spoke, hub: hub, since: 7d }\n\
         rules:\n  - id: retry-by-reassign\n    description: No hub user; push again.\n\
         \x20   when: { path: $.user, equals: null }\n\
         \x20   then:\n      - { action: retry_provisioning, org: spoke, method: reassign }\n",
    )
    .unwrap();
    let examples = std::fs::read_to_string(crate_root().join(EXAMPLES)).unwrap();
    let individual = examples
        .lines()
        .find(|l| l.contains("hana.sato@example.com"))
        .unwrap()
        .to_string();
    let group = individual
        .replace("hana.sato", "hana.group")
        .replace("\"scope\":\"USER\"", "\"scope\":\"GROUP\"");
    assert_ne!(individual, group);
    let subjects = dir.path().join("subjects.jsonl");
    std::fs::write(&subjects, format!("{individual}\n{group}\n")).unwrap();
    let out = dir.path().join("plan.json");
    let run = remedy(&[
        "plan",
        "--rules",
        rb.to_str().unwrap(),
        "--subjects",
        subjects.to_str().unwrap(),
        "--now",
        NOW,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let steps = crate::plan_layout::plan_steps(&plan);
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0]["subject"], "hana.sato@example.com");
    assert_eq!(
        steps[0]["params"],
        serde_json::json!({"method": "reassign", "timeout": "5m"})
    );
    assert_eq!(steps[1]["subject"], "hana.group@example.com");
    assert_eq!(steps[1]["params"]["method"], "touch");
    assert!(steps[1]["params"]["warning"]
        .as_str()
        .unwrap()
        .contains("E0000046"));
    assert!(
        run.stdout.contains("method: \"touch\", timeout: \"5m\", warning: \"the rulebook asks for `reassign`, but this assignment comes from a group"),
        "{}",
        run.stdout
    );
}

#[test]
fn plan_detailed_exitcode() {
    let changes = plan_seed(EXAMPLES, &["--detailed-exitcode"]);
    assert_eq!(changes.code, 2, "{}", changes.stderr);

    // Only the ACTIVE OKTA hub user, which no rule matches.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(crate_root().join(EXAMPLES)).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("kai.roth@example.com"))
        .unwrap();
    let file = dir.path().join("no-match.jsonl");
    std::fs::write(&file, format!("{line}\n")).unwrap();
    let none = plan_seed(file.to_str().unwrap(), &["--detailed-exitcode"]);
    assert_eq!(none.code, 0, "{}", none.stderr);
    assert_redacted("plan_no_changes", dir.path(), false, &none.transcript());
}

#[test]
fn malformed_subject_line_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(crate_root().join(EXAMPLES)).unwrap();
    let mut lines: Vec<&str> = text.lines().take(2).collect();
    lines.push(r#"{"user": {"status": "ACTIVE"}, "events": [}"#);
    lines.push(text.lines().nth(3).unwrap());
    let file = dir.path().join("broken.jsonl");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let run = plan_seed(file.to_str().unwrap(), &[]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("broken.jsonl:3:"), "{}", run.stderr);
    assert_eq!(run.stdout, "", "no partial plan is printed");
    assert_redacted("malformed_line", dir.path(), true, &run.transcript());

    // In a JSON array too, the error names the line of the broken element.
    let array = dir.path().join("broken.json");
    std::fs::write(
        &array,
        "[\n  {\"user\": null},\n  {\"user\": null,},\n  {\"user\": null}\n]\n",
    )
    .unwrap();
    let run = plan_seed(array.to_str().unwrap(), &[]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("broken.json:3: "), "{}", run.stderr);
}

#[test]
fn schema_accepts_every_valid_rulebook() {
    let run = remedy(&["schema"]);
    assert_eq!(run.code, 0);
    let schema: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(schema.get("$defs").is_some_and(|d| d.is_object()));
    let validator = jsonschema::validator_for(&schema).unwrap();
    let as_json = |f: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(crate_root().join(f)).unwrap();
        serde_yaml::from_str(&text).unwrap()
    };
    // The schema must accept every rulebook the loader accepts: the shipped ones and every scenario.
    let mut valid = Vec::new();
    for d in ["rules", "tests/cases"] {
        for e in std::fs::read_dir(crate_root().join(d)).unwrap() {
            let p = e.unwrap().path();
            let p = if p.is_dir() {
                p.join("rulebook.yaml")
            } else {
                p
            };
            let name = p.to_string_lossy();
            if p.exists() && name.ends_with(".yaml") && !name.ends_with(".tests.yaml") {
                valid.push(relative(&p));
            }
        }
    }
    assert!(valid.len() > 16);
    for f in &valid {
        let errors: Vec<String> = validator
            .iter_errors(&as_json(f))
            .map(|e| format!("{e} at `{}`", e.instance_path))
            .collect();
        assert!(errors.is_empty(), "the schema rejects {f}: {errors:?}");
    }
    // The schema is what editors check against: it must catch the mistakes that are about shape.
    let shape_mistakes = [
        "unknown-top-level-field",
        "unknown-action-typo",
        "unknown-operator",
        "unknown-action-parameter",
        "unknown-subject-kind",
        "unknown-mode",
        "retry-method-typo",
        "bad-quantifier",
        "wrong-type-max-actions",
        "in-not-a-list",
        "exists-not-a-boolean",
        "version-2",
        "missing-rule-id",
        "missing-then",
        "missing-subjects",
        "await-without-until",
        "two-operators",
        "combinator-with-path",
        "not-with-a-list",
        "all-not-a-list",
        "count-without-comparison",
        "condition-without-operator",
        "priority-not-a-number",
    ];
    let missed: Vec<&str> = shape_mistakes
        .iter()
        .copied()
        .filter(|n| validator.is_valid(&as_json(&format!("tests/rulebook_errors/{n}.yaml"))))
        .collect();
    assert!(missed.is_empty(), "the schema accepts {missed:?}");
}

/// `--output json` gives one JSON document on stdout for every offline command, with the same exit
/// codes as text.
#[test]
fn json_output_on_every_offline_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("plan.json");
    let out = out.to_str().unwrap();
    let runs = [
        (vec!["validate", SEED], 0),
        (vec!["test", SEED, "--now", NOW], 0),
        (
            vec![
                "explain",
                "--rules",
                SEED,
                "--subject",
                EXAMPLES,
                "--now",
                NOW,
            ],
            0,
        ),
        (vec!["show", out], 0),
        (vec!["schema"], 0),
        (vec!["validate", "tests/rulebook_errors/bad-regex.yaml"], 1),
        (vec!["test", "tests/rulebook_errors/bad-regex.yaml"], 1),
    ];
    // `plan --output json` prints exactly the document `--out` writes (`show` reads it below).
    let printed = plan_seed(EXAMPLES, &["--out", out, "--output", "json"]);
    assert_eq!(printed.code, 0, "{}", printed.stderr);
    assert_eq!(printed.stdout, std::fs::read_to_string(out).unwrap());
    for (args, code) in runs {
        let mut all = vec!["--output", "json"];
        all.extend(&args);
        let run = remedy(&all);
        assert_eq!(run.code, code, "{args:?}: {}", run.stderr);
        let parsed: Result<serde_json::Value, _> = serde_json::from_str(&run.stdout);
        assert!(parsed.is_ok(), "{args:?} printed no JSON:\n{}", run.stdout);
    }
    let test = remedy(&["--output", "json", "test", SEED, "--now", NOW]);
    let v: serde_json::Value = serde_json::from_str(&test.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(
        v["rulebooks"][0]["cases"].as_array().map(Vec::len),
        Some(18)
    );
}

/// A mistake in a sidecar `NAME.tests.yaml` is located in that file, not in the rulebook.
#[test]
fn broken_sidecar_is_located() {
    let (dir, _) = seed_copy();
    replace_in(
        &dir.path().join("org2org-password-sync.tests.yaml"),
        r#"expect: "no_match""#,
        r#"expect: "no_mach""#,
    );
    let run = remedy_in(dir.path(), &["validate", "org2org-password-sync.yaml"]);
    assert_eq!(run.code, 1);
    insta::assert_snapshot!("broken_sidecar", run.transcript());
}

#[test]
fn bad_now_and_missing_files_are_errors() {
    let bad_now = remedy(&[
        "plan",
        "--rules",
        SEED,
        "--subjects",
        EXAMPLES,
        "--now",
        "yesterday",
    ]);
    assert_eq!(bad_now.code, 1);
    assert!(bad_now
        .stderr
        .starts_with("error: `--now yesterday` is not an RFC 3339 timestamp"));
    let missing = plan_seed("examples/subjects/no-such-file.jsonl", &[]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("no-such-file.jsonl"),
        "{}",
        missing.stderr
    );
    let tampered = tempfile::tempdir().unwrap();
    let plan = tampered.path().join("plan.json");
    let made = plan_seed(EXAMPLES, &["--out", plan.to_str().unwrap()]);
    assert_eq!(made.code, 0);
    let text = std::fs::read_to_string(&plan).unwrap();
    std::fs::write(
        &plan,
        text.replacen("\"send_email\":true", "\"send_email\":false", 1),
    )
    .unwrap();
    let show = remedy(&["show", plan.to_str().unwrap()]);
    assert_eq!(show.code, 1, "an edited plan is refused");
    assert!(show.stderr.contains("checksum"), "{}", show.stderr);
}

/// `explain` also takes a file holding one JSON object.
#[test]
fn explain_a_single_subject_file() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(crate_root().join(EXAMPLES)).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("hana.sato@example.com"))
        .unwrap();
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(line).unwrap())
            .unwrap();
    let file = dir.path().join("one.json");
    std::fs::write(&file, pretty).unwrap();
    let run = remedy(&[
        "explain",
        "--rules",
        SEED,
        "--subject",
        file.to_str().unwrap(),
        "--now",
        NOW,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("subject hana.sato@example.com: matched no-hub-user\n"),
        "{}",
        run.stdout
    );
}

/// `--output json test` on a rulebook that does not load must still print one JSON document.
#[test]
fn json_test_of_a_broken_rulebook_is_one_document() {
    let run = remedy(&[
        "--output",
        "json",
        "test",
        "tests/rulebook_errors/bad-regex.yaml",
    ]);
    assert_eq!(run.code, 1);
    let parsed: Result<serde_json::Value, _> = serde_json::from_str(&run.stdout);
    assert!(parsed.is_ok(), "not one JSON document:\n{}", run.stdout);
}

/// `remedy test` on a rulebook with no cases fails and says where cases go.
#[test]
fn test_without_cases_fails() {
    let run = remedy(&["test", "tests/cases/count/rulebook.yaml", "--now", NOW]);
    assert_eq!(run.code, 1);
    insta::assert_snapshot!("test_without_cases", run.transcript());
}

/// A rulebook saved by a Windows editor (byte-order mark, CRLF line ends) loads and passes its
/// cases, and the plan records the sha256 of the file's bytes as written, which `apply` checks.
#[test]
fn windows_edited_rulebook_loads() {
    use sha2::Digest;
    let (dir, rb) = seed_copy();
    for f in [&rb, &dir.path().join("org2org-password-sync.tests.yaml")] {
        let text = std::fs::read_to_string(f).unwrap();
        std::fs::write(f, format!("\u{feff}{}", text.replace('\n', "\r\n"))).unwrap();
    }
    let test = remedy_in(
        dir.path(),
        &["test", "org2org-password-sync.yaml", "--now", NOW],
    );
    assert_eq!(test.code, 0, "{}{}", test.stdout, test.stderr);
    let plan = remedy_in(
        dir.path(),
        &[
            "--output",
            "json",
            "plan",
            "--rules",
            "org2org-password-sync.yaml",
            "--subjects",
            crate_root().join(EXAMPLES).to_str().unwrap(),
            "--now",
            NOW,
        ],
    );
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let v: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let bytes = std::fs::read(&rb).unwrap();
    assert_eq!(
        v["rulebook"]["sha256"],
        hex::encode(sha2::Sha256::digest(&bytes)).as_str()
    );
}

/// A hub-only `remedy.yaml` for `env`'s simulator.
fn hub_only_config(env: &super::apply::Env) -> PathBuf {
    let path = env.path("hub-only.yaml");
    let text = format!(
        "orgs:\n  hub: {{ orgUrl: '{}', token: {} }}\n",
        env.sim.hub_url(),
        env.sim.hub_token()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// A `kind: user` plan needs only its one org: planned and applied with a config naming the hub alone
/// (the spoke used to be required, guessed from the plan's action names).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_plan_applies_with_only_its_org_configured() {
    use okta_remedy::sim::{generate, OrgName, Scenario, SimConfig};
    let mut seed = generate(&super::apply::seed_spec(), 4242, "http://127.0.0.1:0");
    seed.anchor = None;
    let locked_at = (chrono::Utc::now() - chrono::TimeDelta::hours(3)).to_rfc3339();
    let user = seed
        .hub
        .users
        .iter_mut()
        .find(|u| u["status"] == "ACTIVE" && u["credentials"]["provider"]["type"] == "OKTA")
        .unwrap();
    user["status"] = "LOCKED_OUT".into();
    user["statusChanged"] = locked_at.into();
    let id = user["id"].as_str().unwrap().to_string();
    let config = SimConfig {
        scenario: Scenario::Seed(seed),
        ..SimConfig::default()
    };
    let env = super::apply::Env::start(config, "rules/locked-out-users.yaml").await;
    hub_only_config(&env);
    let plan = env
        .remedy(&[
            "plan",
            "--rules",
            "rules.yaml",
            "--config",
            "hub-only.yaml",
            "--out",
            "plan.json",
        ])
        .await;
    assert_eq!(plan.code, 0, "{}", plan.transcript());
    // Off a terminal, progress is plain lines on stderr (it used to be nothing).
    assert!(
        plan.stderr.contains("collecting: listing users\n"),
        "{}",
        plan.stderr
    );
    let applied = env
        .remedy(&["apply", "plan.json", "--config", "hub-only.yaml"])
        .await;
    assert_eq!(applied.code, 0, "{}", applied.transcript());
    assert!(applied.stdout.contains("1 done"), "{}", applied.stdout);
    let unlocks: Vec<_> = env
        .sim
        .requests(OrgName::Hub)
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/lifecycle/unlock"))
        .map(|r| r.path)
        .collect();
    assert_eq!(unlocks, [format!("/api/v1/users/{id}/lifecycle/unlock")]);
    assert!(super::apply::mutations(&env.sim)
        .keys()
        .all(|k| k.starts_with("hub ")));
}

/// An Org2Org rulebook with only the Okta SDK chain configured (one org) says it needs a
/// `remedy.yaml`, instead of failing later on a missing app.
#[test]
fn org2org_rulebook_needs_two_orgs() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_remedy"))
        .args(["plan", "--rules", SEED, "--now", NOW])
        .current_dir(crate_root())
        .env_remove("REMEDY_CONFIG")
        .env("HOME", dir.path())
        .env("OKTA_CLIENT_ORGURL", "http://127.0.0.1:9")
        .env("OKTA_CLIENT_TOKEN", "not-a-real-token")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr
            .starts_with("error: this rulebook needs two orgs (hub and spoke): use a remedy.yaml"),
        "{stderr}"
    );
}

/// The shipped rulebooks are embedded: the demo's rulebook and `--rules NAME` work from any
/// directory, and `remedy rules` lists, shows and copies them.
#[test]
fn shipped_rulebooks_work_from_any_directory() {
    let dir = tempfile::tempdir().unwrap();
    let examples = crate_root().join(EXAMPLES);
    let plan = remedy_in(
        dir.path(),
        &[
            "--output",
            "json",
            "plan",
            "--rules",
            "org2org-password-sync",
            "--subjects",
            examples.to_str().unwrap(),
            "--now",
            NOW,
        ],
    );
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    // The same plan as from the file in rules/, but for the rulebook's recorded path.
    let from_file = plan_seed(EXAMPLES, &["--output", "json"]);
    let (a, b): (serde_json::Value, serde_json::Value) = (
        serde_json::from_str(&plan.stdout).unwrap(),
        serde_json::from_str(&from_file.stdout).unwrap(),
    );
    assert_eq!(a["rulebook"]["path"], "org2org-password-sync");
    assert_eq!(a["rulebook"]["sha256"], b["rulebook"]["sha256"]);
    let steps = crate::plan_layout::plan_steps(&a);
    assert!(!steps.is_empty());
    assert_eq!(Some(steps.len() as u64), a["summary"]["steps"].as_u64());
    assert_eq!(steps, crate::plan_layout::plan_steps(&b));

    let list = remedy_in(dir.path(), &["rules", "list"]);
    assert_eq!(list.code, 0);
    insta::assert_snapshot!("rules_list", list.transcript());
    let show = remedy_in(dir.path(), &["rules", "show", "locked-out-users"]);
    assert_eq!(show.code, 0);
    assert_eq!(
        show.stdout,
        std::fs::read_to_string(crate_root().join("rules/locked-out-users.yaml")).unwrap()
    );
    let unknown = remedy_in(dir.path(), &["rules", "show", "no-such"]);
    assert_eq!(unknown.code, 1);
    insta::assert_snapshot!("rules_show_unknown", unknown.transcript());

    let init = remedy_in(dir.path(), &["rules", "init", "locked-out-users", "mine"]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    let test = remedy_in(
        &dir.path().join("mine"),
        &["test", "locked-out-users.yaml", "--snapshot", "--now", NOW],
    );
    assert_eq!(test.code, 0, "{}{}", test.stdout, test.stderr);
    assert!(
        test.stdout
            .contains("decisions unchanged (locked-out-users.snap)"),
        "{}",
        test.stdout
    );
    let header = std::fs::read_to_string(dir.path().join("mine/locked-out-users.yaml")).unwrap();
    assert!(header.starts_with("# yaml-language-server: $schema=rulebook.schema.json\n"));
    assert!(dir.path().join("mine/rulebook.schema.json").exists());
    let again = remedy_in(dir.path(), &["rules", "init", "locked-out-users", "mine"]);
    assert_eq!(again.code, 1, "never overwrites");
}

/// With `--output json` every error is one JSON document on stdout and nothing on stderr; in text
/// it is one `error:` line on stderr.
#[test]
fn errors_are_json_with_output_json() {
    let cases: [&[&str]; 4] = [
        &[
            "plan",
            "--rules",
            SEED,
            "--subjects",
            EXAMPLES,
            "--now",
            "yesterday",
        ],
        &[
            "plan",
            "--rules",
            SEED,
            "--subjects",
            "no-such.jsonl",
            "--now",
            NOW,
        ],
        &["show", "no-such-plan.json"],
        &[
            "explain",
            "--rules",
            "tests/rulebook_errors/bad-regex.yaml",
            "--subject",
            EXAMPLES,
        ],
    ];
    let mut transcripts = String::new();
    for args in cases {
        let text = remedy(args);
        assert_eq!(text.code, 1);
        assert_eq!(text.stdout, "");
        let mut json_args = vec!["--output", "json"];
        json_args.extend(args);
        let json = remedy(&json_args);
        assert_eq!(json.code, 1);
        assert_eq!(json.stderr, "", "{args:?}");
        let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
        assert_eq!(v["ok"], false);
        transcripts.push_str(&format!(
            "$ remedy {}\n{}\n",
            json_args.join(" "),
            json.transcript()
        ));
    }
    insta::assert_snapshot!("errors_as_json", transcripts);
}

/// `--detailed-exitcode` is 2 only when a step changes Okta: a plan of reports alone is 0.
#[test]
fn detailed_exitcode_ignores_reports() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(crate_root().join(EXAMPLES)).unwrap();
    // The password-policy look-alike: its rule only reports.
    let line = text.lines().nth(3).unwrap();
    let file = dir.path().join("report-only.jsonl");
    std::fs::write(&file, format!("{line}\n")).unwrap();
    let run = plan_seed(
        file.to_str().unwrap(),
        &["--detailed-exitcode", "--output", "json"],
    );
    let plan: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        plan["summary"]["by_action"],
        serde_json::json!({ "report": 1 })
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// An offline plan of a `remedy snapshot` file is made at the snapshot's own time, so without
/// `--now` it reproduces the live plan byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_plans_at_its_own_time() {
    let env = super::apply::Env::generated(
        super::apply::seed_spec(),
        "rules/org2org-password-sync.yaml",
    )
    .await;
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let live = ["--config", "remedy.yaml", "--now", &now, "--quiet"];
    let mut args = vec!["plan", "--rules", "rules.yaml", "--out", "live.json"];
    args.extend(live);
    let planned = env.remedy(&args).await;
    assert_eq!(planned.code, 0, "{}", planned.transcript());
    assert_eq!(planned.stderr, "", "--quiet: no progress");
    let mut args = vec![
        "snapshot",
        "--rules",
        "rules.yaml",
        "--out",
        "subjects.jsonl",
    ];
    args.extend(live);
    let snap = env.remedy(&args).await;
    assert_eq!(snap.code, 0, "{}", snap.transcript());
    let offline = env
        .remedy(&[
            "plan",
            "--rules",
            "rules.yaml",
            "--subjects",
            "subjects.jsonl",
            "--out",
            "offline.json",
        ])
        .await;
    assert_eq!(offline.code, 0, "{}", offline.transcript());
    let (a, b) = (
        std::fs::read(env.path("live.json")).unwrap(),
        std::fs::read(env.path("offline.json")).unwrap(),
    );
    assert!(a == b, "the offline plan differs from the live plan");
}

/// With the Okta SDK chain (no `remedy.yaml`) the one org takes the name the rulebook gives it, so the
/// plan's orgs and request counts agree (`default` and `hub` before).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_chain_org_takes_the_rulebooks_name() {
    let env =
        super::apply::Env::generated(super::apply::seed_spec(), "rules/locked-out-users.yaml")
            .await;
    let out = env
        .command(&["--output", "json", "plan", "--rules", "rules.yaml"])
        .env("HOME", env.dir.path())
        .env("OKTA_CLIENT_ORGURL", env.sim.hub_url())
        .env("OKTA_CLIENT_TOKEN", env.sim.hub_token())
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let orgs: Vec<&String> = plan["source"]["orgs"].as_object().unwrap().keys().collect();
    assert_eq!(orgs, ["hub"]);
    let requests = plan["source"]["requests"].as_object().unwrap();
    assert!(!requests.is_empty());
    assert!(
        requests.keys().all(|k| k.starts_with("hub ")),
        "{requests:?}"
    );
}

/// Runs `remedy ARGS` in `env`'s directory with a terminal as stdin (through `script`), typing
/// `answer`; returns what the terminal showed.
async fn on_terminal(env: &super::apply::Env, args: &str, answer: &str) -> String {
    use std::io::Write;
    let command = format!("{} {args}", env!("CARGO_BIN_EXE_remedy"));
    let dir = env.dir.path().to_path_buf();
    let answer = answer.to_string();
    // The simulator runs on this test's runtime: the child is waited for off it.
    let out = tokio::task::spawn_blocking(move || {
        let mut child = Command::new("script")
            .args(["-q", "-e", "-c", &command, "/dev/null"])
            .current_dir(dir)
            .env_remove("RUST_LOG")
            .env_remove("REMEDY_CONFIG")
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("script runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(answer.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n")
}

/// On a terminal the approval prompt comes after the config is checked, and lists each destructive
/// step (subject, action) before asking; before, one blanket question came first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_prompt_lists_destructive_steps_after_checking_config() {
    let env = super::apply::Env::generated(
        super::apply::seed_spec(),
        "tests/fixtures/apply/guards.yaml",
    )
    .await;
    env.plan().await;
    let bad_config = on_terminal(&env, "apply plan.json --config missing.yaml", "yes\n").await;
    assert!(!bad_config.contains("Type `yes`"), "{bad_config}");
    assert!(bad_config.contains("missing.yaml"), "{bad_config}");
    assert!(super::apply::mutations(&env.sim).is_empty());

    let declined = on_terminal(&env, "apply plan.json --config remedy.yaml", "no\n").await;
    let (listed, _) = declined.split_once("Type `yes`").expect("a prompt");
    assert!(listed.contains("2 destructive steps:"), "{declined}");
    let recreates = listed
        .lines()
        .filter(|l| l.contains("delete_recreate on hub"))
        .count();
    assert_eq!(recreates, 2, "{declined}");
    assert!(
        !super::apply::mutations(&env.sim)
            .keys()
            .any(|k| k.starts_with("hub DELETE /api/v1/users/")),
        "declined: nobody is deleted"
    );
}

/// A plan made from a shipped rulebook by name applies: the preflight finds the pinned rulebook in
/// the binary, not in the working directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_of_a_shipped_rulebook_applies_by_name() {
    let env =
        super::apply::Env::generated(super::apply::seed_spec(), "rules/locked-out-users.yaml")
            .await;
    let plan = env
        .remedy(&[
            "plan",
            "--rules",
            "org2org-password-sync",
            "--config",
            "remedy.yaml",
            "--out",
            "plan.json",
            "--quiet",
        ])
        .await;
    assert_eq!(plan.code, 0, "{}", plan.transcript());
    let applied = env.apply(&[]).await;
    assert_eq!(applied.code, 0, "{}", applied.transcript());
    assert!(!super::apply::mutations(&env.sim).is_empty());
}

/// `-vvv --log-format json`: the library's trace lines reach stderr as JSON, one object a line, and
/// no API token is among them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_at_trace_level_as_json_without_secrets() {
    let env = super::apply::Env::generated(
        super::apply::seed_spec(),
        "rules/org2org-password-sync.yaml",
    )
    .await;
    let run = env
        .remedy(&[
            "-vvv",
            "--log-format",
            "json",
            "plan",
            "--rules",
            "rules.yaml",
            "--config",
            "remedy.yaml",
            "--quiet",
        ])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<serde_json::Value> = run
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(lines
        .iter()
        .any(|l| l["fields"]["message"] == "okta request" && l["level"] == "DEBUG"));
    for token in [env.sim.hub_token(), env.sim.spoke_token()] {
        assert!(!run.stderr.contains(token), "a token is in the log");
    }
}
