//! Who ran `apply`: `--operator` (or `REMEDY_OPERATOR`, else the OS user) on every audit line and in
//! the journal's `runs` table. And docs/journal.md cannot drift from the code: its audit-line field
//! table names exactly the keys `apply` writes, and its schema block exactly the journal's tables and
//! columns.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{seed_spec, Env};
use crate::cli::crate_root;

const SEED: &str = "rules/org2org-password-sync.yaml";

fn audit_lines(env: &Env) -> Vec<Value> {
    std::fs::read_to_string(env.path("plan.audit.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The journal's `runs` rows as (operator, version).
fn runs(env: &Env) -> Vec<(Option<String>, String)> {
    let conn = rusqlite::Connection::open(env.path("plan.journal.sqlite")).unwrap();
    let mut q = conn
        .prepare("SELECT operator, version FROM runs ORDER BY run")
        .unwrap();
    q.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Tables and their columns, in order, of the journal at `path`.
fn journal_schema(path: &std::path::Path) -> BTreeMap<String, Vec<String>> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let strings = |sql: &str| -> Vec<String> {
        conn.prepare(sql)
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    strings("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .into_iter()
        .map(|t| {
            let cols = strings(&format!("SELECT name FROM pragma_table_info('{t}')"));
            (t, cols)
        })
        .collect()
}

/// The `CREATE TABLE` statements of the doc's schema block, as tables and their columns.
fn documented_schema(doc: &str) -> BTreeMap<String, Vec<String>> {
    let block = doc
        .split("```sql\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("docs/journal.md has a ```sql schema block");
    block
        .split(';')
        .filter_map(|stmt| {
            let stmt = stmt.trim().strip_prefix("CREATE TABLE")?.trim();
            let (name, body) = stmt.split_once('(')?;
            let body = body.rsplit_once(')')?.0;
            let cols = body
                .split(',')
                .map(str::trim)
                .filter(|c| !c.starts_with("PRIMARY KEY") && !c.is_empty())
                .filter_map(|c| c.split_whitespace().next())
                // The table-level `PRIMARY KEY (a, b)` splits into pieces ending in `)`.
                .filter(|c| c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_'))
                .map(str::to_string)
                .collect();
            Some((name.trim().to_string(), cols))
        })
        .collect()
}

/// The first column of the markdown table that follows `heading`: the documented field names.
fn documented_fields(doc: &str, heading: &str) -> BTreeSet<String> {
    let section = doc.split(heading).nth(1).expect("heading present");
    section
        .lines()
        .skip_while(|l| !l.starts_with("| field |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.split('|').nth(1))
        .map(|c| c.trim().trim_matches('`').to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_is_on_every_audit_line_and_in_the_journal_runs() {
    let env = Env::generated(seed_spec(), SEED).await;
    env.plan().await;

    let first = env
        .apply(&["--operator", "Jane Doe <jane@example.com>"])
        .await;
    assert_eq!(first.code, 0, "{}", first.transcript());
    let lines = audit_lines(&env);
    assert!(lines.len() >= 5, "{lines:?}");
    for l in &lines {
        assert_eq!(l["operator"], "Jane Doe <jane@example.com>", "{l}");
    }

    // `REMEDY_OPERATOR` names the operator too; without either the OS user does.
    let mut second = env.command(&["apply", "plan.json", "--config", "remedy.yaml"]);
    second.env("REMEDY_OPERATOR", "ops-bot");
    assert!(second.output().await.unwrap().status.success());
    assert!(env.apply(&[]).await.code == 0);
    let version = env!("CARGO_PKG_VERSION").to_string();
    assert_eq!(
        runs(&env),
        vec![
            (Some("Jane Doe <jane@example.com>".into()), version.clone()),
            (Some("ops-bot".into()), version.clone()),
            (Some("apply-test".into()), version),
        ]
    );

    // An operator that is no one, or not a name, is refused before anything runs.
    for bad in ["", "   ", "a\nb"] {
        let run = env.apply(&["--operator", bad]).await;
        assert_eq!(run.code, 1, "{bad:?}: {}", run.transcript());
        assert!(run.stderr.contains("`--operator"), "{}", run.stderr);
    }
    assert_eq!(runs(&env).len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journal_doc_describes_the_audit_lines_and_schema_apply_writes() {
    let env = Env::generated(seed_spec(), SEED).await;
    env.plan().await;
    let run = env.apply(&[]).await;
    assert_eq!(run.code, 0, "{}", run.transcript());
    let doc = std::fs::read_to_string(crate_root().join("docs/journal.md")).unwrap();

    // Every key of every audit line written, against the doc's field table, both ways.
    let written: BTreeSet<String> = audit_lines(&env)
        .iter()
        .flat_map(|l| l.as_object().unwrap().keys().cloned().collect::<Vec<_>>())
        .collect();
    assert_eq!(
        documented_fields(&doc, "## The audit log"),
        written,
        "docs/journal.md's audit-line fields differ from what apply writes"
    );
    // The doc's example line has exactly those keys.
    let example = doc
        .split("## The audit log")
        .nth(1)
        .and_then(|s| s.split("```json\n").nth(1))
        .and_then(|s| s.lines().next())
        .unwrap();
    let example: Value = serde_json::from_str(example).unwrap();
    let example: BTreeSet<String> = example.as_object().unwrap().keys().cloned().collect();
    assert_eq!(example, written, "the doc's example audit line");

    // The schema block: the same tables with the same columns in the same order.
    assert_eq!(
        documented_schema(&doc),
        journal_schema(&env.path("plan.journal.sqlite")),
        "docs/journal.md's schema block differs from the journal apply writes"
    );
}
