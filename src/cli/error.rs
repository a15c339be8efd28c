//! Every way a command fails, and the one place failures are reported: as text on stderr, or with
//! `--output json` as the run's one JSON document on stdout (`{"ok": false, "error": ...}`, plus the
//! located `diagnostics` when a rulebook is at fault). Reports of a completed run that found problems
//! (a failing test, an invalid rulebook among several) are output, not errors.

use serde_json::json;

use super::{Exit, Output};
use crate::apply::journal::JournalError;
use crate::apply::{ApplyError, RestoreError};
use crate::pipeline::{LiveError, OrgError, PlanFileError, PreflightError};
use crate::plan::PlanError;
use crate::rulebook::RulebookError;
use crate::subject::SubjectError;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("`--{flag} {value}` is not an RFC 3339 timestamp: {message}")]
    Timestamp {
        flag: &'static str,
        value: String,
        message: String,
    },
    #[error("`--{flag} {value}`: {message}")]
    Argument {
        flag: &'static str,
        value: String,
        message: &'static str,
    },
    #[error(transparent)]
    Rulebook(#[from] RulebookError),
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write `{path}`: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path}` already exists; remove it or choose another directory")]
    Exists { path: String },
    #[error("a report of results needs the plan: give `remedy status PLAN.json --format ...` (the plan beside its journal), not the journal `{path}`")]
    ReportNeedsPlan { path: String },
    #[error("journal `{journal}` belongs to plan `{found}`, not to `{plan}` (`{expected}`)")]
    JournalOfOtherPlan {
        journal: String,
        found: String,
        plan: String,
        expected: String,
    },
    #[error(
        "`--format` other than text prints a document; it cannot be combined with `--output json`"
    )]
    FormatWithJson,
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    #[error("`{file}` has no subject at index {index}")]
    NoSubject { file: String, index: usize },
    #[error("`{file}` has no subject `{key}` (the subject must be read from the file the plan was made from, or the same subjects)")]
    NoSubjectKey { file: String, key: String },
    #[error("plan `{plan}` does not list a subject `{key}`")]
    NotPlanned { plan: String, key: String },
    #[error("plan `{plan}` was collected live and names no subjects file; give one with --subjects (a `remedy snapshot` of the orgs), or read the subject from the orgs with --config")]
    NoSubjectsFile { plan: String },
    #[error("the orgs no longer have subject `{key}` of plan `{plan}` (fixed or removed since the plan was made)")]
    NotLive { plan: String, key: String },
    #[error("rulebook `{path}` changed since plan {plan_id} was made; its explanation would not be the plan's")]
    ExplainRulebookChanged { path: String, plan_id: String },
    #[error("no shipped rulebook named `{name}` (shipped: {known})")]
    UnknownShipped { name: String, known: String },
    #[error(transparent)]
    Subjects(#[from] SubjectError),
    #[error(transparent)]
    PlanFile(#[from] PlanFileError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Orgs(#[from] OrgError),
    #[error(transparent)]
    Live(#[from] LiveError),
    #[error(transparent)]
    Preflight(#[from] PreflightError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Apply(#[from] ApplyError),
    #[error(transparent)]
    Restore(#[from] RestoreError),
    #[error("`--notify-config {path}` has no `notifications:` section")]
    NoNotifications { path: String },
    #[error(transparent)]
    NotifyConfig(#[from] crate::notify::NotifyConfigError),
    #[error(transparent)]
    Notify(#[from] crate::notify::NotifyError),
    #[error(transparent)]
    Sim(#[from] crate::sim::SimError),
    #[error(transparent)]
    Demo(#[from] crate::demo::DemoError),
    #[error(transparent)]
    Serve(#[from] crate::serve::ServeError),
    #[error(transparent)]
    ServeConfig(#[from] crate::serve::ServeConfigError),
    #[error(transparent)]
    Store(#[from] crate::serve::StoreError),
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("cannot write the output: {0}")]
    Stdout(#[source] std::io::Error),
    #[error("cannot encode the output as JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl CliError {
    /// The rulebook error behind this one, whose diagnostics are shown located.
    fn rulebook(&self) -> Option<&RulebookError> {
        match self {
            CliError::Rulebook(e) | CliError::Preflight(PreflightError::Rulebook(e)) => Some(e),
            CliError::Demo(crate::demo::DemoError::Rulebook(e)) => Some(e),
            _ => None,
        }
    }
}

/// Reports `e` and returns the exit code for it.
pub fn report(e: &CliError, output: Output) -> Exit {
    match (output, e.rulebook()) {
        (Output::Text, Some(rb)) => eprint!("{}", rb.render()),
        (Output::Text, None) => eprintln!("error: {e}"),
        (Output::Json, rb) => {
            let mut doc = json!({ "ok": false, "error": e.to_string() });
            if let Some(rb) = rb {
                doc["diagnostics"] = json!(rb.diagnostics());
            }
            if let Err(write) = super::print::json(&doc) {
                eprintln!("error: {e} ({write})");
            }
        }
    }
    Exit::Error
}
