//! `remedy explain`: why each rule did or did not match one subject, rendered for a person or as the
//! engine's decision in JSON. The decision is `engine`'s, explanation lines `review`'s.

use std::path::Path;

use serde_json::Value;

use super::check::load_rulebook;
use super::invocation::{ExplainFrom, ExplainRun};
use super::{print, CliError, Exit, Output};
use crate::engine::{evaluate, Decision, Verdict};
use crate::pipeline::{OrgDirectory, Roles};
use crate::plan::stream::{Item, Opened, Want};
use crate::plan::PlannedSubject;
use crate::review::explanation_lines;
use crate::rulebook::Rulebook;
use crate::subject::{self, FieldTree, SubjectError};

pub fn explain(run: &ExplainRun, output: Output) -> Result<Exit, CliError> {
    let (rb, decision, note) = match run {
        ExplainRun::File {
            rules,
            subjects,
            index,
            now,
        } => {
            let rb = load_rulebook(rules, output)?;
            let subject = read_subject(subjects, *index)?;
            let decision = evaluate(&rb, &subject, *now, *index);
            (rb, decision, String::new())
        }
        ExplainRun::Planned { plan, key, from } => planned(plan, key, from)?,
    };
    match output {
        Output::Json => print::serialized(&decision)?,
        Output::Text => print::text(&format!("{}{note}", render(&rb, &decision)))?,
    }
    Ok(Exit::Ok)
}

/// Re-derives the full explanation of the plan's subject `key`: the rulebook the plan pins (it must
/// be unchanged), the plan's `now`, and the subject read again, from a subjects file (the plan's own
/// by default) or live from the orgs. Returns, besides the decision, a note on where the subject was
/// read and, for a live read, whether the plan's decision still holds.
fn planned(
    plan: &Path,
    key: &str,
    from: &ExplainFrom,
) -> Result<(Rulebook, Decision, String), CliError> {
    let head = crate::plan::stream::read_head(plan)?;
    let shown = plan.display().to_string();
    let listed = planned_subject(plan, key)?.ok_or_else(|| CliError::NotPlanned {
        plan: shown.clone(),
        key: key.to_string(),
    })?;
    let rb = crate::pipeline::catalogue::load(Path::new(&head.rulebook.path))?;
    if rb.sha256 != head.rulebook.sha256 {
        return Err(CliError::ExplainRulebookChanged {
            path: head.rulebook.path.clone(),
            plan_id: head.plan_id.clone(),
        });
    }
    let now = chrono::DateTime::parse_from_rfc3339(&head.now)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| crate::plan::PlanError::Read {
            path: shown.clone(),
            message: format!("`now` `{}`: {e}", head.now),
        })?;
    if let ExplainFrom::Orgs(config) = from {
        let subject = live_subject(&rb, config, &listed, now, &shown)?;
        let decision = evaluate(&rb, &subject, now, 0);
        let note = live_note(&listed, &decision, &head.now);
        return Ok((rb, decision, note));
    }
    let file = match from {
        ExplainFrom::File(f) => f.to_path_buf(),
        _ => head
            .source
            .path
            .as_ref()
            .map(std::path::PathBuf::from)
            .ok_or(CliError::NoSubjectsFile { plan: shown })?,
    };
    let (index, subject) = find_subject(&file, &rb, key)?;
    let decision = evaluate(&rb, &subject, now, index);
    Ok((rb, decision, String::new()))
}

/// The plan's subject `key` as the plan lists it (read as a stream, stopping at it).
fn planned_subject(plan: &Path, key: &str) -> Result<Option<PlannedSubject>, CliError> {
    let mut found = None;
    let want = Want {
        subjects: true,
        steps: false,
    };
    Opened::open(plan)?.each(want, &mut |item| {
        if let Item::Subject(s) = item {
            if s.key == key {
                found = Some(s);
            }
        }
        Ok(found.is_none())
    })?;
    Ok(found)
}

/// The planned subject read again from the orgs of `config` (only that subject: one user, or the
/// Org2Org collection narrowed to its spoke user).
fn live_subject(
    rb: &Rulebook,
    config: &Path,
    listed: &PlannedSubject,
    now: chrono::DateTime<chrono::Utc>,
    plan: &str,
) -> Result<Value, CliError> {
    let orgs = OrgDirectory::load(Some(config))?.connect(&Roles::of(&rb.subjects))?;
    let read = crate::collect::collect_subject(
        rb,
        orgs.hub(),
        orgs.spoke(),
        &listed.key,
        &listed.ids,
        now,
    );
    print::block_on(read)?
        .map_err(|e| CliError::Live(e.into()))?
        .ok_or_else(|| CliError::NotLive {
            plan: plan.to_string(),
            key: listed.key.clone(),
        })
}

/// Where a live explanation's subject came from, and whether the plan's decision still holds.
fn live_note(listed: &PlannedSubject, decision: &Decision, plan_now: &str) -> String {
    let mut note = format!(
        "\n(the subject as the orgs have it now, evaluated at the plan's time {plan_now})\n"
    );
    let rules: Vec<&str> = decision.matched.iter().map(|r| r.0.as_str()).collect();
    if decision.verdict != listed.verdict || rules != listed.rules {
        note.push_str(&format!(
            "the plan recorded {} for this subject; its live state no longer gives that decision, so apply would not act on it as planned\n",
            planned_verdict(listed)
        ));
    }
    note
}

fn planned_verdict(listed: &PlannedSubject) -> String {
    match listed.verdict {
        Verdict::Matched => format!("matched {}", listed.rules.join(", ")),
        Verdict::Protected => "protected".to_string(),
        Verdict::NoMatch => "no match".to_string(),
        Verdict::Unreadable => "unknown".to_string(),
    }
}

/// The first subject of `file` whose key (as plans name subjects) is `key`, streamed: only that
/// subject is kept.
fn find_subject(file: &Path, rb: &Rulebook, key: &str) -> Result<(usize, Value), CliError> {
    let shown = file.display().to_string();
    let input = std::fs::File::open(file).map_err(|source| CliError::Read {
        path: shown.clone(),
        source,
    })?;
    let mut found = None;
    subject::for_each(
        std::io::BufReader::new(input),
        &shown,
        &FieldTree::everything(),
        |i, v| {
            if found.is_none() && crate::engine::subject_key(rb.subjects.kind, &v, i) == key {
                found = Some((i, v));
            }
            Ok::<(), SubjectError>(())
        },
    )?;
    found.ok_or_else(|| CliError::NoSubjectKey {
        file: shown,
        key: key.to_string(),
    })
}

/// Subject `index` of `file`: a single JSON object is one subject; otherwise an array or JSON Lines.
fn read_subject(file: &Path, index: usize) -> Result<Value, CliError> {
    let text = std::fs::read_to_string(file).map_err(|source| CliError::Read {
        path: file.display().to_string(),
        source,
    })?;
    let single = serde_json::from_str::<Value>(&text)
        .ok()
        .filter(Value::is_object);
    if let Some(v) = single {
        return (index == 0)
            .then_some(v)
            .ok_or_else(|| CliError::NoSubject {
                file: file.display().to_string(),
                index,
            });
    }
    let mut found = None;
    subject::for_each(
        text.as_bytes(),
        &file.display().to_string(),
        &FieldTree::everything(),
        |i, v| {
            if i == index {
                found = Some(v);
            }
            Ok::<(), SubjectError>(())
        },
    )?;
    found.ok_or_else(|| CliError::NoSubject {
        file: file.display().to_string(),
        index,
    })
}

fn verdict_line(decision: &Decision) -> String {
    match decision.verdict {
        Verdict::Matched => format!(
            "matched {}",
            decision
                .matched
                .iter()
                .map(|r| r.0.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Verdict::NoMatch => "no rule matched".to_string(),
        Verdict::Unreadable => {
            "unknown: the subject could not be read fully (`collect_error`)".to_string()
        }
        Verdict::Protected => format!(
            "protected by guards.protect[{}]",
            decision.protected_by.unwrap_or(0)
        ),
    }
}

fn render(rb: &Rulebook, decision: &Decision) -> String {
    let mut out = format!("subject {}: {}\n", decision.subject, verdict_line(decision));
    let lines_of = |e, out: &mut String| {
        let mut lines = Vec::new();
        explanation_lines(e, 1, &mut lines);
        for l in lines {
            out.push_str(&l);
            out.push('\n');
        }
    };
    if !decision.protect_trace.is_empty() {
        out.push_str("\nguards.protect:\n");
        for e in &decision.protect_trace {
            lines_of(e, &mut out);
        }
    }
    for t in &decision.rules {
        let outcome = serde_json::to_value(t.outcome)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        out.push_str(&format!("\nrule {}: {outcome}\n", t.rule));
        lines_of(&t.explanation, &mut out);
    }
    let actions = decision.actions(rb);
    if !actions.is_empty() {
        out.push_str("\nactions:\n");
        for (rule, a) in actions {
            out.push_str(&format!("  {} on {}  [{rule}]\n", a.name(), a.org));
        }
    }
    let skipped = rb.rules.len() - decision.rules.len();
    if skipped > 0 {
        out.push_str(&format!(
            "\n({skipped} later rules not tried: first match wins)\n"
        ));
    }
    out
}
