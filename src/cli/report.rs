//! `remedy show PLAN --format ...` and `remedy status PLAN --format ...`: a plan, or a plan with its
//! journal's results, printed as a report to share. Reading the plan and the journal is here; what the
//! report holds and how each format looks is `report`'s.

use std::path::Path;

use super::invocation::{ReportTo, StatusReport};
use super::{print, CliError, Exit, Output};
use crate::apply::journal::Journal;
use crate::plan::Plan;
use crate::report::{self, Results, StepResult, SubjectResult};

/// Prints the plan as a report.
pub fn show(plan: &Plan, to: &ReportTo, output: Output) -> Result<Exit, CliError> {
    refuse_json(output)?;
    emit(&report::render(plan, None, to.format)?, to)
}

/// Prints the plan with what its journal says happened, as a report.
pub fn status(journal_path: &Path, run: &StatusReport, output: Output) -> Result<Exit, CliError> {
    refuse_json(output)?;
    let plan = Plan::read(&run.plan)?;
    let journal = Journal::open_existing(journal_path)?;
    let found = journal.meta("plan_id")?.unwrap_or_default();
    if found != plan.plan_id {
        return Err(CliError::JournalOfOtherPlan {
            journal: journal_path.display().to_string(),
            found,
            plan: run.plan.display().to_string(),
            expected: plan.plan_id,
        });
    }
    let results = Results {
        steps: journal
            .steps()?
            .into_iter()
            .map(|s| {
                let result = StepResult {
                    state: s.state,
                    detail: s.detail,
                };
                (s.step_id, result)
            })
            .collect(),
        subjects: journal
            .subjects()?
            .into_iter()
            .map(|(subject, state, detail)| (subject, SubjectResult { state, detail }))
            .collect(),
    };
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
