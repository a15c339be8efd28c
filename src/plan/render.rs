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

use super::stream::{Item, PlanHead, PlanItems, Want};
use super::{Plan, PlannedSubject, Source, Step, StepAction, Summary};
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
    let mut out = Vec::new();
    // Writing to a Vec cannot fail, and a plan in memory cannot fail to be read.
    match write_rendering(plan, per_group, &mut out) {
        Ok(()) | Err(_) => String::from_utf8_lossy(&out).into_owned(),
    }
}

/// Why a rendering could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Plan(#[from] super::PlanError),
    #[error("cannot write the rendering: {0}")]
    Write(#[from] std::io::Error),
}

/// Writes the plan as text to `out`, reading it as a stream: the summary, at most `per_group` steps
/// of each action (all with `None`), protected and unknown subjects likewise. One pass over the plan
/// per action shown, each stopping once its steps are written, so memory stays bounded however
/// large the plan.
pub fn write_rendering(
    plan: &dyn PlanItems,
    per_group: Option<usize>,
    out: &mut dyn std::io::Write,
) -> Result<(), RenderError> {
    let head = plan.head();
    let mut text = String::new();
    header(&mut text, &head);
    out.write_all(text.as_bytes())?;
    let shown = per_group.unwrap_or(usize::MAX);
    for (action, count) in groups(&head.summary) {
        let mut text = String::new();
        push_line!(
            text,
            "{action} ({count}){}",
            if action == "delete_recreate" {
                "  DESTRUCTIVE: needs --approve-destructive"
            } else {
                ""
            }
        );
        out.write_all(text.as_bytes())?;
        let mut written = 0usize;
        let mut failed = None;
        plan.each(STEPS, &mut |item| {
            if let Item::Step(st) = item {
                if st.action.name() == action && written < shown {
                    written += 1;
                    if let Err(e) = out.write_all(step_text(&st).as_bytes()) {
                        failed = Some(e);
                        return Ok(false);
                    }
                }
            }
            Ok(written < shown.min(count as usize))
        })?;
        if let Some(e) = failed {
            return Err(e.into());
        }
        let hidden = (count as usize).saturating_sub(written);
        let mut text = String::new();
        if hidden > 0 {
            push_line!(text, "  … and {hidden} more");
        }
        text.push('\n');
        out.write_all(text.as_bytes())?;
    }
    subjects_of(plan, &head, Verdict::Protected, shown, out)?;
    subjects_of(plan, &head, Verdict::Unreadable, shown, out)?;
    let s = &head.summary;
    let mut text = String::new();
    if s.steps == 0 {
        push_line!(
            text,
            "No changes. {}, none needs an action.",
            plural(s.subjects, "subject", "subjects")
        );
    } else {
        push_line!(text, "Plan: {}", totals(s));
    }
    out.write_all(text.as_bytes())?;
    Ok(())
}

const STEPS: Want = Want {
    subjects: false,
    steps: true,
};

const SUBJECTS: Want = Want {
    subjects: true,
    steps: false,
};

/// A step as the rendering shows it: its line, and its parameters' line when it has parameters.
fn step_text(st: &Step) -> String {
    let mut out = String::new();
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
    let params = params_line(st);
    if !params.is_empty() {
        push_line!(out, "          {params}");
    }
    out
}

/// The plan's id, rulebook, time, where its subjects came from and how many of each verdict.
fn header(out: &mut String, plan: &PlanHead) {
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
    let from = source_text(&plan.source);
    push_line!(
        out,
        "Subjects ({}) from {}: {} read · {} matched · {} no match{} · {} protected{}",
        subjects_kind(&plan.source),
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

/// The protected subjects (never acted on), or those the collector could not read fully, at most
/// `shown` of them.
fn subjects_of(
    plan: &dyn PlanItems,
    head: &PlanHead,
    verdict: Verdict,
    shown: usize,
    out: &mut dyn std::io::Write,
) -> Result<(), RenderError> {
    let count = match verdict {
        Verdict::Protected => head.summary.protected,
        Verdict::Unreadable => head.summary.unknown,
        _ => 0,
    } as usize;
    if count == 0 {
        return Ok(());
    }
    let mut text = String::new();
    if verdict == Verdict::Protected {
        push_line!(text, "protected ({count}): never acted on");
    } else {
        push_line!(
            text,
            "unknown ({count}): could not be read fully, no action planned"
        );
    }
    let mut written = 0usize;
    plan.each(SUBJECTS, &mut |item| {
        if let Item::Subject(p) = item {
            if p.verdict == verdict && written < shown {
                written += 1;
                subject_line(&mut text, &p);
            }
        }
        Ok(written < shown.min(count))
    })?;
    if count > written {
        push_line!(text, "  … and {} more", count - written);
    }
    text.push('\n');
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// A protected subject (`# key by guards.protect[N]`) or an unknown one (`? key: why`).
fn subject_line(out: &mut String, p: &PlannedSubject) {
    if p.verdict == Verdict::Protected {
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
    } else {
        let why = p
            .explanation
            .get("collect_error")
            .and_then(Value::as_str)
            .unwrap_or("?");
        push_line!(out, "  ? {}: {why}", p.key);
    }
}

/// The actions of the plan's steps with how many steps each, in display order: what changes most
/// comes last, nearest the summary.
pub fn groups(summary: &Summary) -> Vec<(&str, u64)> {
    let mut groups: Vec<(u8, &str, u64)> = summary
        .by_action
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(a, n)| (StepAction::rank_of(a), a.as_str(), *n))
        .collect();
    groups.sort_unstable();
    groups.into_iter().map(|(_, a, n)| (a, n)).collect()
}

/// Where the plan's subjects came from: `file PATH` or `live orgs (hub URL, spoke URL)`.
pub fn source_text(source: &Source) -> String {
    match (source.kind, &source.path) {
        (super::SourceKind::File, Some(p)) => format!("file {p}"),
        _ => {
            let orgs: Vec<String> = source
                .orgs
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            format!("live orgs ({})", orgs.join(", "))
        }
    }
}

/// The kind of the plan's subjects as the rulebook names it.
pub fn subjects_kind(source: &Source) -> &'static str {
    match source.subjects_kind {
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
pub fn totals(s: &Summary) -> String {
    let by: Vec<String> = groups(s).iter().map(|(a, n)| format!("{n} {a}")).collect();
    format!(
        "{} for {} ({}); {} change Okta, {} destructive.",
        plural(s.steps, "step", "steps"),
        plural(s.matched, "subject", "subjects"),
        by.join(", "),
        s.changing,
        s.destructive
    )
}
