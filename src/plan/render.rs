//! Renders a plan for people, like a Terraform plan: steps grouped by action in a fixed order,
//! destructive steps marked, protected subjects listed, a summary line. Renders only from the plan
//! value, so `remedy show plan.json` prints exactly what `remedy plan` printed. The pieces a document
//! shares with this text (groups, markers, parameters, the source and totals lines) are public for
//! `report`, which renders the same plan as Markdown, HTML and CSV.

/// Appends one formatted line to a `String` (writing to a `String` cannot fail, so there is no
/// result to check).
macro_rules! push_line {
    ($out:expr, $($arg:tt)*) => {{
        $out.push_str(&format!($($arg)*));
        $out.push('\n');
    }};
}

use serde_json::Value;

use super::{Plan, Step, StepAction};
use crate::engine::Verdict;
use crate::rulebook::Safety;

/// The one-character safety mark of a step: `=` safe, `~` reversible, `!` destructive.
pub fn marker(step: &Step) -> &'static str {
    match step.safety {
        Safety::Safe => "=",
        Safety::Reversible => "~",
        Safety::Destructive => "!",
    }
}

/// What a `delete_recreate` step costs the user, said on the step itself: the new hub user is built
/// from the spoke's push, so everything that lived only on the old hub user goes with it. Fixed text,
/// the same for every such step, because the plan cannot know which of these the user had.
pub const DELETE_RECREATE_LOSES: &str = "what only the old hub user had: hub-only profile \
attributes, enrolled factors (no API restores them: the user enrolls again), hub app assignments \
(remedy restore makes them again from the backup), group-rule memberships until the rules run \
again; the backup keeps its profile, groups and app links";

/// A step's parameters on one line (`send_email: true`, `until: $.user.status equals "ACTIVE"`);
/// for `delete_recreate`, which has none, what the recreated user loses.
pub fn params_line(step: &Step) -> String {
    if matches!(step.action, StepAction::DeleteRecreate {}) {
        return format!("loses: {DELETE_RECREATE_LOSES}");
    }
    // The parameters exactly as the plan's JSON holds them, so `show` prints what the file says.
    let params = match serde_json::to_value(&step.action) {
        Ok(Value::Object(mut m)) => m.remove("params").unwrap_or(Value::Null),
        _ => Value::Null,
    };
    let Some(obj) = params.as_object() else {
        return String::new();
    };
    let mut parts = Vec::new();
    for (k, v) in obj {
        let text = match (k.as_str(), v) {
            ("until", cond) => condition_text(cond),
            ("combinator", _) => continue,
            (_, Value::Null) => continue,
            (_, Value::String(s)) => format!("{s:?}"),
            (_, other) => other.to_string(),
        };
        parts.push(format!("{k}: {text}"));
    }
    parts.join(", ")
}

/// A condition in one line: `$.user.status equals "ACTIVE" and ...`.
fn condition_text(c: &Value) -> String {
    let Some(m) = c.as_object() else {
        return c.to_string();
    };
    let join = |key: &str, sep: &str| -> Option<String> {
        m.get(key).and_then(Value::as_array).map(|cs| {
            let parts: Vec<String> = cs.iter().map(condition_text).collect();
            format!("({})", parts.join(sep))
        })
    };
    if let Some(t) = join("all", " and ") {
        return t;
    }
    if let Some(t) = join("any", " or ") {
        return t;
    }
    if let Some(n) = m.get("not") {
        return format!("not {}", condition_text(n));
    }
    let path = m.get("path").and_then(Value::as_str).unwrap_or("?");
    let (op, operand) = m
        .iter()
        .find(|(k, _)| k.as_str() != "path" && k.as_str() != "quantifier")
        .map(|(k, v)| (k.as_str(), v.to_string()))
        .unwrap_or(("?", String::new()));
    format!("{path} {op} {operand}")
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The plan as text for a terminal (no colour).
pub fn render(plan: &Plan) -> String {
    render_limited(plan, None)
}

/// Like [`render`], showing at most `per_group` steps of each action (the rest are counted).
pub fn render_limited(plan: &Plan, per_group: Option<usize>) -> String {
    let mut out = String::new();
    header(&mut out, plan);
    steps_by_action(&mut out, plan, per_group);
    protected(&mut out, plan);
    unreadable(&mut out, plan);
    let s = &plan.summary;
    if s.steps == 0 {
        push_line!(
            out,
            "No changes. {}, none needs an action.",
            plural(s.subjects, "subject", "subjects")
        );
        return out;
    }
    push_line!(out, "Plan: {}", totals(plan));
    out
}

/// The plan's id, rulebook, time, where its subjects came from and how many of each verdict.
fn header(out: &mut String, plan: &Plan) {
    let s = &plan.summary;
    push_line!(
        out,
        "Plan {} · rulebook `{}` (sha256 {}) · now {}",
        plan.plan_id,
        plan.rulebook.name,
        plan.rulebook
            .sha256
            .get(..12)
            .unwrap_or(&plan.rulebook.sha256),
        plan.now
    );
    let from = source_text(plan);
    push_line!(
        out,
        "Subjects ({}) from {}: {} read · {} matched · {} no match{} · {} protected{}",
        subjects_kind(plan),
        from,
        s.subjects,
        s.matched,
        s.no_match,
        if s.undecided > 0 {
            format!(
                " ({} undecided: a path a rule reads was missing)",
                s.undecided
            )
        } else {
            String::new()
        },
        s.protected,
        if s.unknown > 0 {
            format!(" · {} unknown", s.unknown)
        } else {
            String::new()
        }
    );
    if let Some(r) = &plan.refused {
        push_line!(
            out,
            "REFUSED: {r}; written for review only, `remedy apply` refuses it"
        );
    }
    if let Some(w) = &plan.source.window {
        push_line!(out, "System Log window: {} .. {}", w.since, w.until);
    }
    if !plan.source.requests.is_empty() {
        let total: u64 = plan.source.requests.values().sum();
        let detail: Vec<String> = plan
            .source
            .requests
            .iter()
            .map(|(k, v)| format!("{k} ×{v}"))
            .collect();
        push_line!(
            out,
            "Requests while collecting: {total} ({})",
            detail.join(", ")
        );
    }
    if let Some(b) = &plan.source.binding {
        push_line!(
            out,
            "Binding bucket: {} ({} requests at {:.0}% of {}/min take at least {:.1} s; waited {:.1} s)",
            b.endpoint,
            b.requests,
            b.share * 100.0,
            b.limit_per_minute,
            b.floor_seconds,
            b.waited_seconds
        );
    }
    out.push('\n');
}

/// Each action's steps, a group at a time (at most `per_group` shown of each).
fn steps_by_action(out: &mut String, plan: &Plan, per_group: Option<usize>) {
    for (action, steps) in action_groups(plan) {
        let destructive = steps.iter().any(|st| st.safety == Safety::Destructive);
        push_line!(
            out,
            "{action} ({}){}",
            steps.len(),
            if destructive {
                "  DESTRUCTIVE: needs --approve-destructive"
            } else {
                ""
            }
        );
        let shown = per_group.unwrap_or(usize::MAX);
        let hidden = steps.len().saturating_sub(shown);
        for st in steps.into_iter().take(shown) {
            let params = params_line(st);
            push_line!(
                out,
                "  {} {:<5} {} on {}  [{}]{}",
                marker(st),
                st.id,
                st.subject,
                st.org,
                st.rule,
                if st.depends_on.is_empty() {
                    String::new()
                } else {
                    format!(" after {}", st.depends_on.join(", "))
                }
            );
            if !params.is_empty() {
                push_line!(out, "          {params}");
            }
        }
        if hidden > 0 {
            push_line!(out, "  … and {hidden} more");
        }
        out.push('\n');
    }
}

/// The subjects a guard protects.
fn protected(out: &mut String, plan: &Plan) {
    let protected: Vec<_> = plan
        .subjects
        .iter()
        .filter(|p| p.verdict == Verdict::Protected)
        .collect();
    if !protected.is_empty() {
        push_line!(out, "protected ({}): never acted on", protected.len());
        for p in protected {
            let would = if p.rules.is_empty() {
                String::new()
            } else {
                format!("  (would match {})", p.rules.join(", "))
            };
            push_line!(
                out,
                "  # {} by guards.protect[{}]{would}",
                p.key,
                p.protected_by.unwrap_or(0)
            );
        }
        out.push('\n');
    }
}

/// The subjects the collector could not read fully.
fn unreadable(out: &mut String, plan: &Plan) {
    let unknown: Vec<_> = plan
        .subjects
        .iter()
        .filter(|p| p.verdict == Verdict::Unreadable)
        .collect();
    if !unknown.is_empty() {
        push_line!(
            out,
            "unknown ({}): could not be read fully, no action planned",
            unknown.len()
        );
        for p in unknown {
            let why = p
                .explanation
                .get("collect_error")
                .and_then(Value::as_str)
                .unwrap_or("?");
            push_line!(out, "  ? {}: {why}", p.key);
        }
        out.push('\n');
    }
}

/// Where the plan's subjects came from: `file PATH` or `live orgs (hub URL, spoke URL)`.
pub fn source_text(plan: &Plan) -> String {
    match (plan.source.kind, &plan.source.path) {
        (super::SourceKind::File, Some(p)) => format!("file {p}"),
        _ => {
            let orgs: Vec<String> = plan
                .source
                .orgs
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            format!("live orgs ({})", orgs.join(", "))
        }
    }
}

/// The kind of the plan's subjects as the rulebook names it.
pub fn subjects_kind(plan: &Plan) -> &'static str {
    match plan.source.subjects_kind {
        crate::rulebook::SubjectKind::User => "user",
        crate::rulebook::SubjectKind::Org2orgAssignment => "org2org_assignment",
    }
}

/// The plan's steps grouped by action, in display order: what changes most comes last, nearest the
/// summary. Each group keeps the plan's step order and is never empty.
pub fn action_groups(plan: &Plan) -> Vec<(&'static str, Vec<&Step>)> {
    let mut groups: Vec<(u8, &'static str)> = plan
        .steps
        .iter()
        .map(|st| (st.action.display_rank(), st.action.name()))
        .collect();
    groups.sort_unstable();
    groups.dedup();
    groups
        .into_iter()
        .map(|(_, action)| {
            let steps = plan
                .steps
                .iter()
                .filter(|st| st.action.name() == action)
                .collect();
            (action, steps)
        })
        .collect()
}

/// The totals sentence: `18 steps for 10 subjects (4 report, ...); 9 change Okta, 0 destructive.`
pub fn totals(plan: &Plan) -> String {
    let s = &plan.summary;
    let by: Vec<String> = action_groups(plan)
        .iter()
        .map(|(a, steps)| format!("{} {a}", steps.len()))
        .collect();
    format!(
        "{} for {} ({}); {} change Okta, {} destructive.",
        plural(s.steps, "step", "steps"),
        plural(s.matched, "subject", "subjects"),
        by.join(", "),
        s.changing,
        s.destructive
    )
}
