//! Reports to share: a plan, or a plan with what its journal says happened, as a document a person
//! can attach to a change ticket (Markdown, one self-contained HTML file, or CSV with one row per
//! step). The text for a terminal stays `plan::render`'s; this module shares its grouping, markers,
//! parameters and totals, and builds one [`View`] that every format renders, so the formats cannot
//! disagree. Pure: it takes the plan and the journal's states as values and returns a string; reading
//! files and writing the result is the CLI's.
//!
//! What a report holds comes only from the plan and the journal, which hold no secret and no reset
//! URL. Every value taken from a subject (logins, rendered messages, values seen by a rule) is escaped
//! for the format: HTML-escaped by the template engine, backslash-escaped or fenced in Markdown, and
//! in CSV quoted and, when it starts like a formula (`=`, `+`, `-`, `@`, tab, carriage return),
//! prefixed with `'` so a spreadsheet shows it as text.
//!
//! A report lists every step and every planned subject, whatever the plan's size: a plan already
//! lists only matched and protected subjects (unmatched ones are counted), and each explanation keeps
//! at most five values per condition, so a report grows linearly with the plan's steps.

mod csv;
mod html;
mod markdown;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::apply::journal::StepState;
use crate::engine::Verdict;
use crate::plan::render::{action_groups, marker, params_line, source_text, subjects_kind, totals};
use crate::plan::{Plan, PlannedSubject, Step};
use crate::rulebook::Safety;

/// The document formats a report can take (the terminal's text is `plan::render`'s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Markdown,
    Html,
    Csv,
}

/// Why a report could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot render the html report: {0}")]
    Template(#[from] minijinja::Error),
    #[error("cannot write the csv report: {0}")]
    Csv(#[from] ::csv::Error),
    #[error("the csv report is not valid UTF-8: {0}")]
    Encoding(#[from] std::string::FromUtf8Error),
    #[error("cannot finish the csv report: {0}")]
    Flush(#[source] std::io::Error),
}

/// What the journal says about a step.
#[derive(Debug, Clone, PartialEq)]
pub struct StepResult {
    pub state: StepState,
    pub detail: Option<String>,
}

/// What the journal says about a subject: its last verdict (`done`, `waiting`, `drift`...).
#[derive(Debug, Clone, PartialEq)]
pub struct SubjectResult {
    pub state: String,
    pub detail: Option<String>,
}

/// The results of applying a plan, as its journal records them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Results {
    /// By step id; a step the journal has no row for was never touched (`pending`).
    pub steps: BTreeMap<String, StepResult>,
    /// By subject key.
    pub subjects: BTreeMap<String, SubjectResult>,
}

/// Renders `plan` as a document; with `results`, each step's state is the journal's (else `planned`).
pub fn render(
    plan: &Plan,
    results: Option<&Results>,
    format: ReportFormat,
) -> Result<String, ReportError> {
    let view = View::of(plan, results);
    match format {
        ReportFormat::Markdown => Ok(markdown::render(&view)),
        ReportFormat::Html => html::render(&view),
        ReportFormat::Csv => csv::render(&view),
    }
}

/// Everything a report shows, computed once from the plan (and the journal) for every format.
#[derive(Debug, Serialize)]
struct View {
    /// `Plan` for `show`, `Results` for `status`.
    title: &'static str,
    plan_id: String,
    rulebook_name: String,
    rulebook_path: String,
    rulebook_sha256: String,
    now: String,
    subjects_kind: &'static str,
    source: String,
    /// The summary's counts, in reading order.
    counts: Vec<Count>,
    /// The totals sentence, or `No changes.`.
    totals: String,
    /// Steps by state, for results only (journal order of states, then `pending`).
    states: Vec<Count>,
    groups: Vec<Group>,
    protected: Vec<Protected>,
    unknown: Vec<Unknown>,
    subjects: Vec<SubjectView>,
}

#[derive(Debug, Serialize)]
struct Count {
    label: String,
    value: u64,
}

/// The steps of one action.
#[derive(Debug, Serialize)]
struct Group {
    action: &'static str,
    destructive: bool,
    /// How many steps of this action the plan holds (`steps` may be a sample of them).
    total: u64,
    /// How many of them `steps` leaves out.
    more: u64,
    steps: Vec<Row>,
}

/// One step, as every format shows it.
#[derive(Debug, Serialize)]
struct Row {
    id: String,
    subject: String,
    rule: String,
    action: &'static str,
    org: String,
    safety: &'static str,
    marker: &'static str,
    /// The steps this one waits for, comma-separated (empty when none).
    after: String,
    params: String,
    /// `planned`, or the journal's state.
    state: &'static str,
    detail: String,
}

#[derive(Debug, Serialize)]
struct Protected {
    key: String,
    guard: usize,
    /// The rules it would have matched, comma-separated.
    would_match: String,
}

#[derive(Debug, Serialize)]
struct Unknown {
    key: String,
    why: String,
}

/// A planned subject with why it was decided so.
#[derive(Debug, Serialize)]
struct SubjectView {
    key: String,
    verdict: &'static str,
    /// The rules it matched (`would match ...` for a protected subject), comma-separated.
    rules: String,
    /// The journal's state and detail, for results.
    state: String,
    detail: String,
    explanation: Vec<Line>,
}

/// One line of an explanation, indented `depth` levels.
#[derive(Debug, Serialize)]
struct Line {
    depth: usize,
    text: String,
}

impl View {
    fn of(plan: &Plan, results: Option<&Results>) -> View {
        let groups = action_groups(plan)
            .into_iter()
            .map(|(action, steps)| {
                let total = plan
                    .summary
                    .by_action
                    .get(action)
                    .copied()
                    .unwrap_or(steps.len() as u64)
                    .max(steps.len() as u64);
                Group {
                    action,
                    destructive: steps.iter().any(|st| st.safety == Safety::Destructive),
                    total,
                    more: total - steps.len() as u64,
                    steps: steps.into_iter().map(|st| row(st, results)).collect(),
                }
            })
            .collect::<Vec<_>>();
        View {
            title: if results.is_some() { "Results" } else { "Plan" },
            plan_id: plan.plan_id.clone(),
            rulebook_name: plan.rulebook.name.clone(),
            rulebook_path: plan.rulebook.path.clone(),
            rulebook_sha256: plan.rulebook.sha256.clone(),
            now: plan.now.clone(),
            subjects_kind: subjects_kind(&plan.source),
            source: source_text(&plan.source),
            counts: summary_counts(plan),
            totals: if plan.summary.steps == 0 {
                "No changes.".to_string()
            } else {
                totals(&plan.summary)
            },
            states: results.map(|_| state_counts(&groups)).unwrap_or_default(),
            protected: plan
                .subjects
                .iter()
                .filter(|p| p.verdict == Verdict::Protected)
                .map(|p| Protected {
                    key: p.key.clone(),
                    guard: p.protected_by.unwrap_or(0),
                    would_match: p.rules.join(", "),
                })
                .collect(),
            unknown: plan
                .subjects
                .iter()
                .filter(|p| p.verdict == Verdict::Unreadable)
                .map(|p| Unknown {
                    key: p.key.clone(),
                    why: collect_error(&p.explanation),
                })
                .collect(),
            subjects: plan
                .subjects
                .iter()
                .map(|p| subject_view(p, results))
                .collect(),
            groups,
        }
    }
}

/// The plan's summary counts in reading order; undecided and unknown only when there are some.
fn summary_counts(plan: &Plan) -> Vec<Count> {
    let s = &plan.summary;
    let mut counts = vec![
        count("subjects read", s.subjects),
        count("matched", s.matched),
        count("no match", s.no_match),
    ];
    if s.undecided > 0 {
        counts.push(count(
            "undecided (a path a rule reads was missing)",
            s.undecided,
        ));
    }
    counts.push(count("protected", s.protected));
    if s.unknown > 0 {
        counts.push(count("unknown (not read fully)", s.unknown));
    }
    counts.extend([
        count("steps", s.steps),
        count("steps that change Okta", s.changing),
        count("destructive steps", s.destructive),
    ]);
    counts
}

fn subject_view(p: &PlannedSubject, results: Option<&Results>) -> SubjectView {
    let result = results.and_then(|r| r.subjects.get(&p.key));
    SubjectView {
        key: p.key.clone(),
        verdict: verdict_name(p.verdict),
        rules: match (p.verdict, p.rules.is_empty()) {
            (_, true) => String::new(),
            (Verdict::Protected, false) => format!("would match {}", p.rules.join(", ")),
            _ => p.rules.join(", "),
        },
        state: result.map(|r| r.state.clone()).unwrap_or_default(),
        detail: result.and_then(|r| r.detail.clone()).unwrap_or_default(),
        explanation: explanation(p.verdict, &p.explanation),
    }
}

fn count(label: &str, value: u64) -> Count {
    Count {
        label: label.to_string(),
        value,
    }
}

fn row(st: &Step, results: Option<&Results>) -> Row {
    let (state, detail) = match results {
        None => ("planned", String::new()),
        Some(r) => match r.steps.get(&st.id) {
            Some(res) => (
                state_name(res.state),
                res.detail.clone().unwrap_or_default(),
            ),
            None => (state_name(StepState::Pending), String::new()),
        },
    };
    Row {
        id: st.id.clone(),
        subject: st.subject.clone(),
        rule: st.rule.clone(),
        action: st.action.name(),
        org: st.org.clone(),
        safety: safety_name(st.safety),
        marker: marker(st),
        after: st.depends_on.join(", "),
        params: params_line(st),
        state,
        detail,
    }
}

/// Steps by state, in the order a reader follows a run.
fn state_counts(groups: &[Group]) -> Vec<Count> {
    let order = [
        StepState::Done,
        StepState::Waiting,
        StepState::Failed,
        StepState::Skipped,
        StepState::Intent,
        StepState::Pending,
    ];
    order
        .iter()
        .map(|s| state_name(*s))
        .filter_map(|name| {
            let n = groups
                .iter()
                .flat_map(|g| &g.steps)
                .filter(|r| r.state == name)
                .count() as u64;
            (n > 0).then(|| count(name, n))
        })
        .collect()
}

/// A step state as the journal and `remedy status` name it (`intent`: interrupted mid-call).
fn state_name(s: StepState) -> &'static str {
    match s {
        StepState::Pending => "pending",
        StepState::Intent => "intent",
        StepState::Done => "done",
        StepState::Waiting => "waiting",
        StepState::Skipped => "skipped",
        StepState::Failed => "failed",
    }
}

fn safety_name(s: Safety) -> &'static str {
    match s {
        Safety::Safe => "safe",
        Safety::Reversible => "reversible",
        Safety::Destructive => "destructive",
    }
}

fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Matched => "matched",
        Verdict::NoMatch => "no match",
        Verdict::Protected => "protected",
        Verdict::Unreadable => "unknown",
    }
}

fn collect_error(explanation: &Value) -> String {
    match explanation.get("collect_error") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => "?".to_string(),
    }
}

/// The plan's stored explanation of a subject as lines, in the form `remedy explain` uses: for a
/// matched subject each matched rule and its condition, for a protected one each `guards.protect`
/// entry, for an unknown one why it could not be read.
fn explanation(verdict: Verdict, e: &Value) -> Vec<Line> {
    let mut out = Vec::new();
    match verdict {
        Verdict::Unreadable => out.push(Line {
            depth: 0,
            text: format!("could not be read fully: {}", collect_error(e)),
        }),
        Verdict::Protected => {
            for (i, node) in e.as_array().into_iter().flatten().enumerate() {
                out.push(Line {
                    depth: 0,
                    text: format!("guards.protect[{i}]: {}", outcome(node)),
                });
                node_lines(node, 1, &mut out);
            }
        }
        Verdict::Matched | Verdict::NoMatch => {
            for trace in e.as_array().into_iter().flatten() {
                let rule = trace.get("rule").and_then(Value::as_str).unwrap_or("?");
                out.push(Line {
                    depth: 0,
                    text: format!("rule {rule}: {}", outcome(trace)),
                });
                if let Some(node) = trace.get("explanation") {
                    node_lines(node, 1, &mut out);
                }
                // Over the plan's explanation budget: the leaves that fit, and how many did not.
                for leaf in trace
                    .get("leaves")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    node_lines(leaf, 1, &mut out);
                }
                if let Some(n) = trace
                    .get("omitted")
                    .and_then(Value::as_u64)
                    .filter(|n| *n > 0)
                {
                    out.push(Line {
                        depth: 1,
                        text: format!("… {n} more conditions: `remedy explain --plan PLAN --subject KEY` shows them all"),
                    });
                }
            }
        }
    }
    out
}

fn outcome(node: &Value) -> &str {
    node.get("outcome").and_then(Value::as_str).unwrap_or("?")
}

/// One condition node of a stored explanation and its children, as `review::explanation_lines`
/// writes a live one.
fn node_lines(node: &Value, depth: usize, out: &mut Vec<Line>) {
    let kind = node.get("kind").and_then(Value::as_str).unwrap_or("?");
    match kind {
        "all" | "any" => {
            out.push(Line {
                depth,
                text: format!("{kind}: {}", outcome(node)),
            });
            for child in node
                .get("children")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                node_lines(child, depth + 1, out);
            }
        }
        "not" => {
            out.push(Line {
                depth,
                text: format!("not: {}", outcome(node)),
            });
            if let Some(child) = node.get("child") {
                node_lines(child, depth + 1, out);
            }
        }
        _ => out.push(Line {
            depth,
            text: leaf_text(node),
        }),
    }
}

fn leaf_text(node: &Value) -> String {
    let text = |key: &str| node.get(key).and_then(Value::as_str).unwrap_or("?");
    let q = match node.get("quantifier").and_then(Value::as_str) {
        Some("all") => " (all values)",
        Some("none") => " (no value)",
        _ => "",
    };
    let seen: Vec<String> = node
        .get("seen")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(short)
        .collect();
    let seen_count = node
        .get("seen_count")
        .and_then(Value::as_u64)
        .unwrap_or(seen.len() as u64);
    let saw = if seen_count == 0 {
        "nothing".to_string()
    } else if seen_count > seen.len() as u64 {
        format!(
            "{} and {} more",
            seen.join(", "),
            seen_count - seen.len() as u64
        )
    } else {
        seen.join(", ")
    };
    format!(
        "{}: {} {} {}{q}; saw {saw}",
        outcome(node),
        text("path"),
        text("operator"),
        short(node.get("expected").unwrap_or(&Value::Null)),
    )
}

/// A value on one line, long strings cut (as `review` shows them).
fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 120 {
        format!("{}…", s.chars().take(119).collect::<String>())
    } else {
        s
    }
}
