//! Running a rulebook's own test cases (`remedy test`) and decision reviews: each case's whole decision
//! recorded in an insta-format `.snap` file beside the rulebook, so a policy author sees what a rule
//! change does to every known case. Pure apart from reading and writing the snapshot file.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::condition::Explanation;
use crate::engine::{evaluate, Decision, Verdict};
use crate::rulebook::{Expectation, Rulebook, TestCase};

/// The result of one test case.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    pub name: String,
    pub passed: bool,
    pub expected: Expectation,
    pub actual: Expectation,
    /// A unified diff of expected vs actual when they differ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    #[serde(skip)]
    pub decision: Decision,
}

/// What a decision amounts to, in the terms a test case expects.
pub fn actual_of(decision: &Decision, rb: &Rulebook) -> Expectation {
    match decision.verdict {
        Verdict::NoMatch | Verdict::Unknown => Expectation::NoMatch,
        Verdict::Protected => Expectation::Protected,
        Verdict::Matched => Expectation::Matched {
            rules: decision.matched.iter().map(|r| r.0.clone()).collect(),
            actions: Some(
                decision
                    .actions(rb)
                    .iter()
                    .map(|(_, a)| a.name().to_string())
                    .collect(),
            ),
        },
    }
}

fn satisfies(expected: &Expectation, actual: &Expectation) -> bool {
    match (expected, actual) {
        (
            Expectation::Matched { rules, actions },
            Expectation::Matched {
                rules: got_rules,
                actions: got_actions,
            },
        ) => rules == got_rules && (actions.is_none() || actions == got_actions),
        (e, a) => e == a,
    }
}

fn yaml(v: &impl Serialize) -> String {
    serde_yaml::to_string(v).unwrap_or_default()
}

/// Unified diff, `-` expected, `+` actual.
pub fn diff(expected: &str, actual: &str) -> String {
    similar::TextDiff::from_lines(expected, actual)
        .unified_diff()
        .context_radius(3)
        .header("expected", "actual")
        .to_string()
}

/// Runs every case of the rulebook. Cases without `now` use `default_now`.
pub fn run_cases(rb: &Rulebook, default_now: DateTime<Utc>) -> Vec<CaseResult> {
    rb.tests
        .iter()
        .enumerate()
        .map(|(i, case)| run_case(rb, case, i, default_now))
        .collect()
}

fn run_case(rb: &Rulebook, case: &TestCase, i: usize, default_now: DateTime<Utc>) -> CaseResult {
    let decision = evaluate(rb, &case.subject, case.now.unwrap_or(default_now), i);
    let actual = actual_of(&decision, rb);
    let passed = satisfies(&case.expect, &actual);
    let diff = (!passed).then(|| {
        let mut shown = actual.clone();
        // Only compare what the case states: hide actual actions when the case does not list them.
        if let (Expectation::Matched { actions: None, .. }, Expectation::Matched { actions, .. }) =
            (&case.expect, &mut shown)
        {
            *actions = None;
        }
        diff(&yaml(&case.expect), &yaml(&shown))
    });
    CaseResult {
        name: case.name.clone(),
        passed,
        expected: case.expect.clone(),
        actual,
        diff,
        decision,
    }
}

/// A compact, reviewable form of an explanation: one line per node.
pub fn explanation_lines(e: &Explanation, depth: usize, out: &mut Vec<String>) {
    let pad = "  ".repeat(depth);
    let word = |o: crate::condition::Outcome| match o {
        crate::condition::Outcome::Holds => "holds",
        crate::condition::Outcome::Fails => "fails",
        crate::condition::Outcome::Unknown => "unknown",
    };
    match e {
        Explanation::All { outcome, children } | Explanation::Any { outcome, children } => {
            let name = if matches!(e, Explanation::All { .. }) {
                "all"
            } else {
                "any"
            };
            out.push(format!("{pad}{name}: {}", word(*outcome)));
            for c in children {
                explanation_lines(c, depth + 1, out);
            }
        }
        Explanation::Not { outcome, child } => {
            out.push(format!("{pad}not: {}", word(*outcome)));
            explanation_lines(child, depth + 1, out);
        }
        Explanation::Leaf {
            outcome,
            path,
            operator,
            expected,
            quantifier,
            seen,
            seen_count,
        } => {
            let q = match quantifier {
                crate::condition::Quantifier::Any => "",
                crate::condition::Quantifier::All => " (all values)",
                crate::condition::Quantifier::None => " (no value)",
            };
            let saw = if *seen_count == 0 {
                "nothing".to_string()
            } else {
                let shown: Vec<String> = seen.iter().map(short).collect();
                let more = if *seen_count > seen.len() {
                    format!(" and {} more", seen_count - seen.len())
                } else {
                    String::new()
                };
                format!("{}{more}", shown.join(", "))
            };
            out.push(format!(
                "{pad}{}: {path} {operator} {}{q}; saw {saw}",
                word(*outcome),
                short(expected)
            ));
        }
    }
}

/// A one-line summary of a condition's explanation: `$.user.status equals "ACTIVE" (saw "RECOVERY")`.
pub fn condition_summary(e: &Explanation) -> String {
    match e {
        Explanation::All { children, .. } => children
            .iter()
            .map(condition_summary)
            .collect::<Vec<_>>()
            .join(" and "),
        Explanation::Any { children, .. } => format!(
            "({})",
            children
                .iter()
                .map(condition_summary)
                .collect::<Vec<_>>()
                .join(" or ")
        ),
        Explanation::Not { child, .. } => format!("not {}", condition_summary(child)),
        Explanation::Leaf {
            path,
            operator,
            expected,
            seen,
            seen_count,
            ..
        } => {
            let saw = if *seen_count == 0 {
                "nothing".to_string()
            } else {
                seen.iter().map(short).collect::<Vec<_>>().join(", ")
            };
            format!("{path} {operator} {} (now {saw})", short(expected))
        }
    }
}

/// A value on one line, long strings cut.
fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 120 {
        format!("{}…", s.chars().take(119).collect::<String>())
    } else {
        s
    }
}

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

/// `rules/foo.yaml` → `rules/foo.snap`.
pub fn snapshot_path(rulebook: &Path) -> PathBuf {
    let stem = rulebook
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("rulebook");
    rulebook.with_file_name(format!("{stem}.snap"))
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

/// Compares the decisions with the stored snapshot; writes a new one when missing or accepted.
pub fn check_snapshot(
    rulebook_path: &Path,
    body: &str,
    accept: bool,
) -> std::io::Result<SnapshotStatus> {
    let path = snapshot_path(rulebook_path);
    let shown = path.display().to_string();
    let file = snapshot_file(&rulebook_path.display().to_string(), body);
    let new_path = path.with_extension("snap.new");
    match std::fs::read_to_string(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::write(&path, file)?;
            Ok(SnapshotStatus::Written { path: shown })
        }
        Err(e) => Err(e),
        Ok(old) => {
            let old_body = snapshot_body(&old).unwrap_or(&old);
            if old_body == body {
                let _ = std::fs::remove_file(&new_path);
                return Ok(SnapshotStatus::Unchanged { path: shown });
            }
            let d = diff(old_body, body);
            if accept {
                std::fs::write(&path, file)?;
                let _ = std::fs::remove_file(&new_path);
            } else {
                std::fs::write(&new_path, file)?;
            }
            Ok(SnapshotStatus::Changed {
                path: shown,
                diff: d,
                accepted: accept,
            })
        }
    }
}

/// The human report of a test run for one rulebook.
pub fn render_results(file: &str, results: &[CaseResult]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "running {} cases from {file}", results.len());
    for r in results {
        let _ = writeln!(
            out,
            "  case {} ... {}",
            r.name,
            if r.passed { "ok" } else { "FAILED" }
        );
    }
    for r in results.iter().filter(|r| !r.passed) {
        let _ = writeln!(out, "\n---- case {} ----", r.name);
        if let Some(d) = &r.diff {
            out.push_str(d);
        }
        let mut lines = Vec::new();
        for t in &r.decision.rules {
            lines.push(format!("rule {}:", t.rule));
            explanation_lines(&t.explanation, 1, &mut lines);
        }
        let _ = writeln!(out, "why:");
        for l in lines {
            let _ = writeln!(out, "  {l}");
        }
    }
    let failed = results.iter().filter(|r| !r.passed).count();
    let _ = writeln!(
        out,
        "\ntest result: {}. {} passed; {} failed",
        if failed == 0 { "ok" } else { "FAILED" },
        results.len() - failed,
        failed
    );
    out
}
