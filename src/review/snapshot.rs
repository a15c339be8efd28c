//! Decision snapshots: every case's whole decision (verdict, matched rules, actions with their orgs,
//! the explanation of each rule tried) as YAML in insta's `.snap` format, and how a new one compares
//! with the stored one. Pure; `store` reads and writes the file.

use serde::Serialize;

use super::explain::explanation_lines;
use super::runner::{diff, yaml, CaseResult};
use crate::engine::Verdict;
use crate::rulebook::Rulebook;

#[derive(Serialize)]
struct CaseRecord<'a> {
    case: &'a str,
    verdict: Verdict,
    matched: Vec<String>,
    actions: Vec<String>,
    explanation: Vec<String>,
}

/// The decision-review snapshot body for all cases.
pub fn decisions_snapshot(rb: &Rulebook, results: &[CaseResult]) -> String {
    let records: Vec<CaseRecord> = results
        .iter()
        .map(|r| {
            let mut explanation = Vec::new();
            for t in &r.decision.rules {
                explanation.push(format!("rule {}:", t.rule));
                explanation_lines(&t.explanation, 1, &mut explanation);
            }
            CaseRecord {
                case: &r.name,
                verdict: r.decision.verdict,
                matched: r.decision.matched.iter().map(|m| m.0.clone()).collect(),
                actions: r
                    .decision
                    .actions(rb)
                    .iter()
                    .map(|(_, a)| format!("{} on {}", a.name(), a.org))
                    .collect(),
                explanation,
            }
        })
        .collect();
    yaml(&records)
}

/// The snapshot file text, in insta's `.snap` format.
pub fn snapshot_file(source: &str, body: &str) -> String {
    format!("---\nsource: {source}\nexpression: decisions\n---\n{body}")
}

/// The body of an insta `.snap` file (after the second `---` line).
pub fn snapshot_body(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("---\n")?;
    let end = rest.find("\n---\n")?;
    Some(&rest[end + 5..])
}

/// What comparing against the stored snapshot found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SnapshotStatus {
    /// No snapshot existed; one was written for review.
    Written {
        path: String,
    },
    Unchanged {
        path: String,
    },
    /// The decisions changed; the new ones are in `path.new` (or were accepted).
    Changed {
        path: String,
        diff: String,
        accepted: bool,
    },
}

/// What the decisions `body` are against the stored snapshot text `old` (`None`: there is none).
/// Pure: [`super::check_snapshot`] does the reading and writing.
pub fn compare_snapshot(
    old: Option<&str>,
    body: &str,
    path: String,
    accept: bool,
) -> SnapshotStatus {
    let Some(old) = old else {
        return SnapshotStatus::Written { path };
    };
    let old_body = snapshot_body(old).unwrap_or(old);
    if old_body == body {
        return SnapshotStatus::Unchanged { path };
    }
    SnapshotStatus::Changed {
        path,
        diff: diff(old_body, body),
        accepted: accept,
    }
}
