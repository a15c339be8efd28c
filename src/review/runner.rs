//! Running a rulebook's test cases: each case's subject is evaluated and the decision compared with
//! what the case expects; failures carry a diff and the explanation of every rule tried.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::explain::explanation_lines;
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
        Verdict::NoMatch | Verdict::Unreadable => Expectation::NoMatch,
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

pub(super) fn yaml(v: &impl Serialize) -> String {
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

/// The human report of a test run for one rulebook.
pub fn render_results(file: &str, results: &[CaseResult]) -> String {
    let mut out = format!("running {} cases from {file}\n", results.len());
    for r in results {
        let status = if r.passed { "ok" } else { "FAILED" };
        out.push_str(&format!("  case {} ... {status}\n", r.name));
    }
    for r in results.iter().filter(|r| !r.passed) {
        out.push_str(&format!("\n---- case {} ----\n", r.name));
        if let Some(d) = &r.diff {
            out.push_str(d);
        }
        let mut lines = Vec::new();
        for t in &r.decision.rules {
            lines.push(format!("rule {}:", t.rule));
            explanation_lines(&t.explanation, 1, &mut lines);
        }
        out.push_str("why:\n");
        for l in lines {
            out.push_str(&format!("  {l}\n"));
        }
    }
    let failed = results.iter().filter(|r| !r.passed).count();
    out.push_str(&format!(
        "\ntest result: {}. {} passed; {} failed\n",
        if failed == 0 { "ok" } else { "FAILED" },
        results.len() - failed,
        failed
    ));
    out
}
