//! The documentation stays in sync with the code: `docs/rulebook.md` names everything `remedy schema`
//! publishes (every property, action, operator and enumerated value), `docs/rulebook.schema.json` is
//! exactly what `remedy schema` prints, every shipped rulebook points editors at that schema,
//! `docs/plan-format.md` names every field of a real plan, `docs/journal.md` every table and column of
//! a real journal, the rulebooks and snippets in the reference load (and satisfy the schema), and the
//! copyable example in `examples/custom-policy/` works as its README says, and the README's
//! PrivateKey recipe runs against the simulator as written.
//! Whether the prose is right is for review; these tests only catch what was forgotten.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::cli::{crate_root, relative, remedy};

const SCHEMA_COMMENT: &str = "# yaml-language-server: $schema=";

fn schema_output() -> String {
    let run = remedy(&["schema"]);
    assert_eq!(run.code, 0, "`remedy schema` failed:\n{}", run.stderr);
    run.stdout
}

/// Every name a rulebook author can write, found anywhere in the schema: the keys of every
/// `properties`, every string `const` (action names) and every string in an `enum`.
fn schema_names(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                match (k.as_str(), child) {
                    ("properties", Value::Object(props)) => out.extend(props.keys().cloned()),
                    ("const", Value::String(s)) => {
                        out.insert(s.clone());
                    }
                    ("enum", Value::Array(items)) => {
                        out.extend(items.iter().filter_map(Value::as_str).map(str::to_string))
                    }
                    _ => {}
                }
                schema_names(child, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| schema_names(i, out)),
        _ => {}
    }
}

/// Fails naming every one of `names` that the doc `path` does not mention as `` `name` ``.
fn assert_doc_mentions(path: &str, names: &BTreeSet<String>, what: &str) {
    let doc = std::fs::read_to_string(crate_root().join(path)).unwrap();
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| !doc.contains(&format!("`{n}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "{path} does not mention (as `name`) these {what}: {missing:?}"
    );
}

#[test]
fn rulebook_reference_mentions_every_name_in_the_schema() {
    let schema: Value = serde_json::from_str(&schema_output()).unwrap();
    let mut names = BTreeSet::new();
    schema_names(&schema, &mut names);
    // The walk must see the tables it is meant to check, or it checks nothing.
    for expected in [
        "subjects",
        "max_destructive",
        "reset_password",
        "older_than",
        "quantifier",
    ] {
        assert!(names.contains(expected), "schema walk missed `{expected}`");
    }
    assert_doc_mentions("docs/rulebook.md", &names, "names from `remedy schema`");
}

#[test]
fn published_schema_equals_remedy_schema() {
    let published =
        std::fs::read_to_string(crate_root().join("docs/rulebook.schema.json")).unwrap();
    assert!(
        published == schema_output(),
        "docs/rulebook.schema.json is stale: run `cargo run -q -- schema > docs/rulebook.schema.json`"
    );
}

/// Shipped rulebooks (sidecar test files excluded) and the copyable example.
fn rulebooks() -> Vec<std::path::PathBuf> {
    let mut out: Vec<_> = std::fs::read_dir(crate_root().join("rules"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.ends_with(".yaml") && !name.ends_with(".tests.yaml")
        })
        .collect();
    out.sort();
    out.push(crate_root().join("examples/custom-policy/rulebook.yaml"));
    out
}

#[test]
fn every_rulebook_starts_with_the_schema_comment_for_editors() {
    let files = rulebooks();
    assert!(files.len() >= 2, "no rulebook found");
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let first = text.lines().next().unwrap_or("");
        let target = first.strip_prefix(SCHEMA_COMMENT).unwrap_or_else(|| {
            panic!(
                "{} must start with `{SCHEMA_COMMENT}<path to docs/rulebook.schema.json>`, found `{first}`",
                relative(&f)
            )
        });
        let resolved = f.parent().unwrap_or(Path::new(".")).join(target);
        assert!(
            target.ends_with("docs/rulebook.schema.json") && resolved.is_file(),
            "{}: the schema comment points at `{target}`, which is not the published schema",
            relative(&f)
        );
    }
}

/// The copyable example works as its README says: its cases pass, its decisions match the reviewed
/// snapshot, and it plans its subjects file into report and notify steps only.
#[test]
fn custom_policy_example_tests_and_plans() {
    let rules = "examples/custom-policy/rulebook.yaml";
    let test = remedy(&["test", "--snapshot", rules, "--now", crate::cli::NOW]);
    assert_eq!(test.code, 0, "{}{}", test.stdout, test.stderr);
    assert!(
        test.stdout.contains("test result: ok. 8 passed"),
        "{}",
        test.stdout
    );
    assert!(
        test.stdout.contains("decisions unchanged"),
        "{}",
        test.stdout
    );
    let plan = remedy(&[
        "plan",
        "--rules",
        rules,
        "--subjects",
        "examples/custom-policy/subjects.jsonl",
        "--now",
        crate::cli::NOW,
    ]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains(
            "Plan: 3 steps for 3 subjects (2 report, 1 notify); 0 change Okta, 0 destructive."
        ),
        "{}",
        plan.stdout
    );
}

/// Every key of `value`'s objects, except below keys whose children are data rather than format
/// (org names, action names, an `await` condition), and the rule ids `conditions` is keyed by (the
/// conditions below them are format).
fn format_keys(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(m) => {
            for (k, child) in m {
                out.insert(k.clone());
                match (k.as_str(), child) {
                    ("orgs" | "by_action" | "until" | "requests", _) => {}
                    ("conditions", Value::Object(rules)) => {
                        rules.values().for_each(|c| format_keys(c, out))
                    }
                    _ => format_keys(child, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| format_keys(i, out)),
        _ => {}
    }
}

#[test]
fn plan_format_doc_names_every_field_of_a_real_plan() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("plan.json");
    let run = remedy(&[
        "plan",
        "--rules",
        "rules/org2org-password-sync.yaml",
        "--subjects",
        "examples/subjects/org2org-failures.jsonl",
        "--now",
        crate::cli::NOW,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let plan: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let mut keys = BTreeSet::new();
    format_keys(&plan, &mut keys);
    // Both forms of a subject's explanation: protected subjects keep theirs whole, matched ones
    // keep `why` against the rules' `conditions`.
    for expected in [
        "protected_by",
        "explanation",
        "seen",
        "conditions",
        "why",
        "outcomes",
        "children",
    ] {
        assert!(keys.contains(expected), "`{expected}` not in {keys:?}");
    }
    assert_doc_mentions("docs/plan-format.md", &keys, "plan fields");
}

#[test]
fn journal_doc_names_every_table_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.sqlite");
    drop(okta_remedy::apply::journal::Journal::open(&path, "plan-x", "c", "r").unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let strings = |sql: &str| -> Vec<String> {
        conn.prepare(sql)
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let tables =
        strings("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'");
    assert!(tables.len() >= 5, "{tables:?}");
    let mut names: BTreeSet<String> = tables.iter().cloned().collect();
    for t in &tables {
        names.extend(strings(&format!(
            "SELECT name FROM pragma_table_info('{t}')"
        )));
    }
    names.extend(strings("SELECT key FROM meta"));
    assert_doc_mentions(
        "docs/journal.md",
        &names,
        "journal tables, columns or meta keys",
    );
}

/// The fenced YAML blocks of `docs/rulebook.md` that are whole rulebooks (they have `version: 1`).
fn whole_rulebooks_in_reference() -> Vec<String> {
    let doc = std::fs::read_to_string(crate_root().join("docs/rulebook.md")).unwrap();
    doc.split("```yaml\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .filter(|block| block.lines().any(|l| l == "version: 1"))
        .map(str::to_string)
        .collect()
}

#[test]
fn whole_rulebooks_in_the_reference_load_and_pass_their_cases() {
    let blocks = whole_rulebooks_in_reference();
    assert!(blocks.len() >= 2, "found {} whole rulebooks", blocks.len());
    let now = chrono::DateTime::parse_from_rfc3339(crate::cli::NOW)
        .unwrap()
        .with_timezone(&chrono::Utc);
    for block in blocks {
        let rb = okta_remedy::rulebook::parse(&block, "docs/rulebook.md").unwrap_or_else(|e| {
            panic!(
                "a rulebook in docs/rulebook.md does not load:\n{}",
                e.render()
            )
        });
        assert!(rb.warnings.is_empty(), "warnings in:\n{block}");
        for result in okta_remedy::review::run_cases(&rb, now) {
            assert!(result.passed, "case `{}` fails in:\n{block}", result.name);
        }
    }
}

/// The fenced YAML snippets of `docs/rulebook.md` that are lists of conditions or of actions, each
/// wrapped into a rulebook and loaded, so a typo in an example (an operator, a parameter) is caught.
#[test]
fn condition_and_action_snippets_in_the_reference_load() {
    let doc = std::fs::read_to_string(crate_root().join("docs/rulebook.md")).unwrap();
    let mut checked = 0;
    for block in doc
        .split("```yaml\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
    {
        let Ok(serde_yaml::Value::Sequence(items)) = serde_yaml::from_str(block) else {
            continue;
        };
        let is = |key: &str| {
            items
                .iter()
                .all(|i| i.as_mapping().is_some_and(|m| m.contains_key(key)))
        };
        let indented: String = block.lines().map(|l| format!("        {l}\n")).collect();
        let wrapped = if is("path") {
            format!("version: 1\nname: snippet\nsubjects: {{ kind: org2org_assignment }}\nrules:\n  - id: snippet\n    when:\n      all:\n{indented}    then: [{{ action: report, message: x }}]\n")
        } else if is("action") {
            format!("version: 1\nname: snippet\nsubjects: {{ kind: org2org_assignment }}\nrules:\n  - id: snippet\n    when: always\n    then:\n{indented}")
        } else {
            continue;
        };
        if let Err(e) = okta_remedy::rulebook::parse(&wrapped, "snippet.yaml") {
            panic!(
                "a snippet in docs/rulebook.md does not load:\n{block}\n{}",
                e.render()
            );
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} snippets checked");
}

/// What editors check against must accept what the docs teach: the copyable example and the whole
/// rulebooks of the reference satisfy the published schema (the shipped ones are checked in `cli`).
#[test]
fn example_and_reference_rulebooks_satisfy_the_published_schema() {
    let text = std::fs::read_to_string(crate_root().join("docs/rulebook.schema.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let example =
        std::fs::read_to_string(crate_root().join("examples/custom-policy/rulebook.yaml")).unwrap();
    let mut docs = whole_rulebooks_in_reference();
    docs.push(example);
    for text in docs {
        let instance: Value = serde_yaml::from_str(&text).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("{e} at `{}`", e.instance_path))
            .collect();
        assert!(errors.is_empty(), "the schema rejects:\n{text}\n{errors:?}");
    }
}

/// The README's PrivateKey recipe, run as written (ports swapped for free ones, `remedy` on `PATH`):
/// a key made with openssl, the simulator with the service app, and a live plan over OAuth + DPoP.
#[test]
fn readme_private_key_recipe_plans_against_the_simulator() {
    let readme = std::fs::read_to_string(crate_root().join("README.md")).unwrap();
    let block = readme
        .split("#### Trying `authorizationMode: PrivateKey` on the simulator")
        .nth(1)
        .and_then(|s| s.split("```sh\n").nth(1))
        .and_then(|s| s.split("\n```").next())
        .expect("the README has the PrivateKey recipe");
    assert!(block.contains("authorizationMode: PrivateKey") && block.contains("remedy plan"));
    let free_port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    // Whatever the recipe does, its background simulator must not outlive it (it would hold the
    // output pipe open and hang this test).
    let script = format!(
        "trap 'kill $(jobs -p) 2>/dev/null' EXIT\n{}",
        block
            .replace("8201", &free_port().to_string())
            .replace("8202", &free_port().to_string())
    );
    let dir = tempfile::tempdir().unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_remedy")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new("timeout")
        .args(["120", "bash", "-euo", "pipefail", "-c", &script])
        .current_dir(dir.path())
        .env("PATH", path)
        .env_remove("REMEDY_CONFIG")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the README recipe failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains("Saved to plan.json"), "{stdout}\n{stderr}");
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("plan.json")).unwrap())
            .unwrap();
    assert!(
        !plan["subjects"].as_array().unwrap().is_empty(),
        "an empty plan: {plan:#}"
    );
}
