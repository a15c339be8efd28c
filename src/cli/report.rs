//! `remedy show PLAN --format ...` and `remedy status PLAN --format ...`: a plan, or a plan with its
//! journal's results, printed as a report to share. Reading the plan and the journal is here; what the
//! report holds and how each format looks is `report`'s.

use std::path::Path;

use super::invocation::{ReportTo, StatusReport};
use super::{print, CliError, Exit, Output};
use crate::apply::journal::Journal;
use crate::plan::sample::sample;
use crate::plan::stream::Opened;
use crate::report::{self, Results, StepResult, SubjectResult};

/// How many steps of each action (and protected or unknown subjects) a report lists unless `--all`.
const REPORTED_PER_ACTION: usize = super::plan::SHOWN_PER_ACTION;

/// Prints the plan as a report: a bounded sample of it unless `all`.
pub fn show(plan: &Opened, to: &ReportTo, all: bool, output: Output) -> Result<Exit, CliError> {
    refuse_json(output)?;
    let sampled = sample(plan, (!all).then_some(REPORTED_PER_ACTION))?;
    emit(&report::render(&sampled, None, to.format)?, to)
}

/// Prints the plan with what its journal says happened, as a report (a bounded sample unless
/// `all`; the journal is asked only about what is shown).
pub fn status(
    journal_path: &Path,
    run: &StatusReport,
    all: bool,
    output: Output,
) -> Result<Exit, CliError> {
    refuse_json(output)?;
    let opened = Opened::open(&run.plan)?;
    let journal = Journal::open_existing(journal_path)?;
    let found = journal.meta("plan_id")?.unwrap_or_default();
    let head = opened.head();
    if found != head.plan_id {
        return Err(CliError::JournalOfOtherPlan {
            journal: journal_path.display().to_string(),
            found,
            plan: run.plan.display().to_string(),
            expected: head.plan_id,
        });
    }
    let plan = sample(&opened, (!all).then_some(REPORTED_PER_ACTION))?;
    let mut results = Results::default();
    for st in &plan.steps {
        if let Some(s) = journal.step(&st.id)? {
            let result = StepResult {
                state: s.state,
                detail: s.detail,
            };
            results.steps.insert(s.step_id, result);
        }
    }
    for p in &plan.subjects {
        if let Some((state, detail)) = journal.subject(&p.key)? {
            results
                .subjects
                .insert(p.key.clone(), SubjectResult { state, detail });
        }
    }
    emit(
        &report::render(&plan, Some(&results), run.to.format)?,
        &run.to,
    )
}

/// Prints the report, or writes it to `--out` (created 0600: it names people) and says so.
fn emit(document: &str, to: &ReportTo) -> Result<Exit, CliError> {
    match &to.out {
        None => print::text(document)?,
        Some(path) => {
            crate::pipeline::write_private(path, document.as_bytes()).map_err(|source| {
                CliError::Write {
                    path: path.display().to_string(),
                    source,
                }
            })?;
            print::text(&format!("wrote the report to {}\n", path.display()))?;
        }
    }
    Ok(Exit::Ok)
}

/// A report is a document of its own; `--output json` already chose another one.
fn refuse_json(output: Output) -> Result<(), CliError> {
    match output {
        Output::Json => Err(CliError::FormatWithJson),
        Output::Text => Ok(()),
    }
}
