//! `remedy show PLAN --format ...` and `remedy status PLAN --format ...`: a plan, or a plan with its
//! journal's results, printed as a report to share. Reading the plan and the journal is here; what the
//! report holds and how each format looks is `report`'s.

use std::path::Path;

use super::invocation::StatusReport;
use super::{print, CliError, Exit, Output};
use crate::apply::journal::Journal;
use crate::plan::Plan;
use crate::report::{self, ReportFormat, Results, StepResult, SubjectResult};

/// Prints the plan as a report.
pub fn show(plan: &Plan, format: ReportFormat, output: Output) -> Result<Exit, CliError> {
    refuse_json(output)?;
    print::text(&report::render(plan, None, format)?)?;
    Ok(Exit::Ok)
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
    print::text(&report::render(&plan, Some(&results), run.format)?)?;
    Ok(Exit::Ok)
}

/// A report is a document of its own; `--output json` already chose another one.
fn refuse_json(output: Output) -> Result<(), CliError> {
    match output {
        Output::Json => Err(CliError::FormatWithJson),
        Output::Text => Ok(()),
    }
}
