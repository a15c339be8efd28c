//! Plan formats. Plans of format 2 (the release before format 3) are still read: `tests/fixtures/plans/v2-*.json`
//! were written by that release (commit 3cd45bc) from the rulebook and subjects beside them. Each
//! reads back to the same subjects, steps and summary as the format 3 plan of the same inputs, is
//! shown, reported and explained identically (but for its plan id), and is that plan written as
//! format 2 byte for byte. A plan converted to format 2 is applied to the simulator as its format 3
//! original is. A format 3 plan whose `why` does not fit its rule's condition (checksum recomputed)
//! is refused by every reader of its subjects, naming the subject.

use std::path::{Path, PathBuf};

use okta_remedy::plan::Plan;
use sha2::{Digest, Sha256};

use crate::cli::{crate_root, remedy, Run, NOW};

/// The fixtures: `tests/fixtures/plans/v2-NAME.{json,yaml,jsonl}`, the plan and its inputs.
const FIXTURES: [&str; 2] = ["org2org", "path-forms"];

fn fixture(name: &str, ext: &str) -> String {
    format!("tests/fixtures/plans/v2-{name}.{ext}")
}

fn ok(args: &[&str]) -> Run {
    let run = remedy(args);
    assert_eq!(run.code, 0, "remedy {args:?}:\n{}", run.transcript());
    run
}

/// The format 3 plan of a fixture's inputs, in `dir` (planned from the crate root, so it records the
/// same relative paths as the fixture).
fn format_3(name: &str, dir: &Path) -> PathBuf {
    let out = dir.join(format!("{name}.json"));
    let (rules, subjects) = (fixture(name, "yaml"), fixture(name, "jsonl"));
    let args = [
        "plan",
        "--rules",
        &rules,
        "--subjects",
        &subjects,
        "--now",
        NOW,
    ];
    ok(&[&args[..], &["--out", out.to_str().unwrap()]].concat());
    out
}

/// A format 3 plan file as format 2 wrote it: no `conditions` line, every subject with its
/// explanation whole (as reading expands it) and without its `steps`, every step in one top-level
/// `steps` array after the subjects (those on subject lines, then any listed apart, in file order),
/// sealed again over the bytes before `plan_id`.
pub fn as_format_2(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let plan = Plan::read(path).unwrap();
    let mut subjects = plan.subjects.iter();
    let mut body = String::new();
    let mut in_steps = false;
    for line in text.lines() {
        if line.starts_with("  \"plan_id\": ") {
            break;
        }
        // Steps listed apart are written again below with the others.
        if line.starts_with("  \"steps\": [") {
            in_steps = !line.ends_with("],");
            continue;
        }
        if in_steps {
            in_steps = line != "  ],";
            continue;
        }
        if line.starts_with("  \"conditions\": ") {
            continue;
        }
        if line.starts_with("  \"summary\": ") {
            body.push_str(&steps_block(&plan));
        }
        if line == "  \"format_version\": 3," {
            body.push_str("  \"format_version\": 2,");
        } else if line.starts_with("    {\"key\":") {
            let subject = serde_json::to_string(subjects.next().unwrap()).unwrap();
            let comma = if line.ends_with(',') { "," } else { "" };
            body.push_str(&format!("    {subject}{comma}"));
        } else {
            body.push_str(line);
        }
        body.push('\n');
    }
    assert!(subjects.next().is_none(), "a subject line was not found");
    sealed(&body)
}

/// The top-level `steps` array as format 2 wrote it: one step per line, `[]` when there is none.
fn steps_block(plan: &Plan) -> String {
    if plan.steps.is_empty() {
        return "  \"steps\": [],\n".to_string();
    }
    let lines: Vec<String> = plan
        .steps
        .iter()
        .map(|st| format!("    {}", serde_json::to_string(st).unwrap()))
        .collect();
    format!("  \"steps\": [\n{}\n  ],\n", lines.join(",\n"))
}

/// A plan file's bytes before its `"plan_id"` line, with the seal that closes them.
fn sealed(body: &str) -> String {
    let checksum = hex::encode(Sha256::digest(body.as_bytes()));
    format!(
        "{body}  \"plan_id\": \"plan-{}\",\n  \"checksum\": \"{checksum}\"\n}}\n",
        &checksum[..12]
    )
}

#[test]
fn a_format_2_plan_reads_as_the_format_3_plan_of_the_same_inputs() {
    let dir = tempfile::tempdir().unwrap();
    for name in FIXTURES {
        let v2_path = crate_root().join(fixture(name, "json"));
        let v3_path = format_3(name, dir.path());
        let (v2, v3) = (Plan::read(&v2_path).unwrap(), Plan::read(&v3_path).unwrap());
        assert_eq!((v2.format_version, v3.format_version), (2, 3));
        assert!(v2.conditions.is_null() && v3.conditions.is_object());
        assert_eq!(v2.subjects, v3.subjects, "{name}");
        assert_eq!(v2.steps, v3.steps, "{name}");
        assert_eq!((&v2.summary, &v2.rulebook), (&v3.summary, &v3.rulebook));
        // Format 3 holds what format 2 held: written back as format 2, it is the fixture.
        let v2_text = std::fs::read_to_string(&v2_path).unwrap();
        assert!(as_format_2(&v3_path) == v2_text, "{name}: not the fixture");
    }
    // Between them the fixtures hold protected subjects (their guards' explanations), matched
    // subjects stored as `why`, and one stored whole in format 3 too (over the explanation budget).
    let read = |name: &str| std::fs::read_to_string(dir.path().join(format!("{name}.json")));
    let whole =
        "\"explanation\":[{\"rule\":\"first-event-failed\",\"outcome\":\"holds\",\"omitted\":0";
    assert!(read("path-forms").unwrap().contains(whole));
    let org2org = read("org2org").unwrap();
    assert!(org2org.contains("\"verdict\":\"protected\"") && org2org.contains("\"why\":[{"));
}

#[test]
fn a_format_2_plan_is_shown_and_explained_as_format_3_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    for name in FIXTURES {
        let v2_path = fixture(name, "json");
        let v3_path = format_3(name, dir.path());
        let v3_path = v3_path.to_str().unwrap();
        let (v2, v3) = (
            Plan::read(&crate_root().join(&v2_path)).unwrap(),
            Plan::read(Path::new(v3_path)).unwrap(),
        );
        // What differs is the plan's id and the path it was read from.
        let same = |run: Run| {
            run.stdout
                .replace(&v3.plan_id, &v2.plan_id)
                .replace(v3_path, &v2_path)
        };
        for format in ["text", "markdown", "html", "csv"] {
            let shown = ok(&["show", &v2_path, "--format", format, "--all"]).stdout;
            assert!(shown.contains(&v2.plan_id) || format == "csv", "{shown}");
            let again = ok(&["show", v3_path, "--format", format, "--all"]);
            assert!(
                shown == same(again),
                "{name}: `show --format {format}` differs"
            );
        }
        for s in &v2.subjects {
            let explain = |p: &str| ok(&["explain", "--plan", p, "--subject", &s.key]);
            assert_eq!(
                explain(&v2_path).stdout,
                same(explain(v3_path)),
                "{}",
                s.key
            );
        }
    }
}

/// The seed scenario planned twice against two identical simulators; one plan is converted to
/// format 2 (as [`a_format_2_plan_reads_as_the_format_3_plan_of_the_same_inputs`] holds the
/// conversion to the release before) and both are applied: the same calls reach Okta and the
/// journals end the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_format_2_plan_is_applied_as_its_format_3_original() {
    use crate::apply::{mutations, seed_spec, Env};
    let spec = seed_spec();
    let seed = "rules/org2org-password-sync.yaml";
    let (v3, v2) = (
        Env::generated(spec.clone(), seed).await,
        Env::generated(spec, seed).await,
    );
    v3.plan().await;
    let path = v2.plan().await;
    let converted = as_format_2(&path);
    assert!(converted.starts_with("{\n  \"format_version\": 2,\n"));
    std::fs::write(&path, converted).unwrap();
    let mut ends = Vec::new();
    for env in [&v3, &v2] {
        let run = env.apply(&["--concurrency", "1"]).await;
        assert_eq!(run.code, 0, "{}", run.transcript());
        let status = env.remedy(&["status", "plan.json"]).await;
        assert_eq!(status.code, 0, "{}", status.transcript());
        ends.push((
            env.redact(&run.stdout),
            env.redact(&status.stdout),
            mutations(&env.sim),
        ));
    }
    assert!(!ends[0].2.is_empty(), "the plan changed nothing");
    assert_eq!(ends[0], ends[1]);
}

/// `plan` with `from` replaced by `to` and sealed again, as anybody can.
fn resealed(plan: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(plan).unwrap();
    let edited = text.replacen(from, to, 1);
    assert_ne!(edited, text, "`{from}` is not in the plan");
    let body = &edited[..edited.find("  \"plan_id\": ").unwrap()];
    std::fs::write(plan, sealed(body)).unwrap();
}

#[test]
fn a_why_that_does_not_fit_its_rule_is_refused_naming_the_subject() {
    let dir = tempfile::tempdir().unwrap();
    let plan = format_3("org2org", dir.path());
    let p = plan.to_str().unwrap();
    let text = std::fs::read_to_string(&plan).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("\"why\":[{\"outcomes\":\""))
        .unwrap();
    let key = serde_json::from_str::<serde_json::Value>(line.trim_end_matches(',')).unwrap()["key"]
        .as_str()
        .unwrap()
        .to_string();
    let outcomes = line.split("\"outcomes\":\"").nth(1).unwrap();
    let outcomes = &outcomes[..outcomes.find('"').unwrap()];
    resealed(
        &plan,
        &format!("\"outcomes\":\"{outcomes}\""),
        &format!("\"outcomes\":\"{}\"", &outcomes[1..]),
    );
    // `apply` reads every subject before its first call: the orgs are never asked.
    let config = dir.path().join("remedy.yaml");
    let org = "{ orgUrl: 'http://127.0.0.1:9', token: unused }";
    std::fs::write(&config, format!("orgs:\n  hub: {org}\n  spoke: {org}\n")).unwrap();
    for args in [
        vec!["show", p, "--format", "markdown"],
        vec!["explain", "--plan", p, "--subject", &key],
        vec!["apply", p, "--config", config.to_str().unwrap()],
    ] {
        let run = remedy(&args);
        assert_eq!(run.code, 1, "{args:?}: {}", run.transcript());
        assert!(
            run.stderr.contains(&format!(
                "subject `{key}`: `outcomes` is shorter than the rule's condition"
            )),
            "{}",
            run.stderr
        );
    }
}
