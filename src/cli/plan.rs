//! `remedy plan`, `remedy snapshot` and `remedy show`: making a plan from a file or the live orgs,
//! recording the live subjects, and printing a plan (as a report to share: `cli::report`). The work is `pipeline`'s; this module connects
//! the orgs, draws progress on a terminal and prints.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::check::load_rulebook;
use super::invocation::{LiveRun, PlanRun, ReportTo, SnapshotRun, SubjectsFrom};
use super::progress::CollectProgress;
use super::{print, CliError, Exit, Output};
use crate::collect::{Collection, Progress};
use crate::pipeline::{self, LiveOptions, OrgDirectory, PlanFileError, Roles};
use crate::plan::{render::render, Plan};
use crate::rulebook::Rulebook;

pub fn plan(run: &PlanRun, output: Output) -> Result<Exit, CliError> {
    let rb = load_rulebook(&run.rules, output)?;
    let planned = match &run.from {
        SubjectsFrom::File(path) => {
            pipeline::plan_from_file(&rb, path, run.now).map_err(CliError::from)
        }
        SubjectsFrom::Live(live) => {
            let now = run.now.unwrap_or_else(Utc::now);
            let collection = collect(&rb, now, live, output)?;
            pipeline::plan_collection(&rb, &collection, now).map_err(CliError::from)
        }
    };
    let p = match planned {
        Ok(p) => p,
        Err(e) => {
            // A plan over a guard is still written and shown, marked refused, so a person can see
            // what would have been done; the run fails with the guard named, as before.
            if let Some(refused) = refused_plan(&e) {
                emit(refused, run.out.as_deref(), output)?;
            }
            return Err(e);
        }
    };
    emit(&p, run.out.as_deref(), output)?;
    // Terraform's meaning: 2 only when applying would change something, not for reports alone.
    Ok(if run.detailed_exitcode && p.summary.changing > 0 {
        Exit::Changes
    } else {
        Exit::Ok
    })
}

/// The plan a guard refused, if that is why planning failed.
fn refused_plan(e: &CliError) -> Option<&Plan> {
    match e {
        CliError::Plan(e) | CliError::PlanFile(PlanFileError::Plan(e)) => e.refused_plan(),
        _ => None,
    }
}

/// Writes the plan to `out` (if any) and prints it; a refused plan is printed as text only, since
/// with `--output json` the run's one JSON document on stdout is the error.
fn emit(p: &Plan, out: Option<&Path>, output: Output) -> Result<(), CliError> {
    let doc = p.to_json();
    if let Some(path) = out {
        pipeline::write_private(path, doc.as_bytes()).map_err(|source| CliError::Write {
            path: path.display().to_string(),
            source,
        })?;
    }
    match output {
        Output::Json if p.refused.is_some() => Ok(()),
        Output::Json => print::text(&doc),
        Output::Text => {
            let mut text = render(p);
            if p.refused.is_some() {
                if let Some(path) = out {
                    text.push_str(&format!(
                        "Saved to {} for review; it cannot be applied.\n",
                        path.display()
                    ));
                }
            } else if let Some(path) = out {
                text.push_str(&format!(
                    "Saved to {}. Apply it with: remedy apply {}\n",
                    path.display(),
                    path.display()
                ));
            }
            print::text(&text)
        }
    }
}

pub fn show(path: &Path, report: Option<&ReportTo>, output: Output) -> Result<Exit, CliError> {
    let p = Plan::read(path)?;
    if let Some(to) = report {
        return super::report::show(&p, to, output);
    }
    match output {
        Output::Json => print::text(&p.to_json())?,
        Output::Text => print::text(&render(&p))?,
    }
    Ok(Exit::Ok)
}

pub fn snapshot(run: &SnapshotRun, output: Output) -> Result<Exit, CliError> {
    let rb = load_rulebook(&run.rules, output)?;
    let collection = collect(&rb, run.now, &run.live, output)?;
    pipeline::write_snapshot(&run.out, &collection, run.now).map_err(|source| CliError::Write {
        path: run.out.display().to_string(),
        source,
    })?;
    let subjects = collection.subjects.len();
    let out = run.out.display();
    match output {
        Output::Text => print::text(&format!(
            "wrote {subjects} subjects to {out} (plan them with: remedy plan --rules {} --subjects {out})\n",
            run.rules.display(),
        ))?,
        Output::Json => print::json(
            &json!({ "subjects": subjects, "out": out.to_string(), "source": collection.source }),
        )?,
    }
    Ok(Exit::Ok)
}

/// Connects to the orgs the rulebook names and collects its subjects, with progress on a terminal.
fn collect(
    rb: &Rulebook,
    now: DateTime<Utc>,
    live: &LiveRun,
    output: Output,
) -> Result<Collection, CliError> {
    let orgs = OrgDirectory::load(live.config.as_deref())?.connect(&Roles::of(&rb.subjects))?;
    let opts = LiveOptions {
        now,
        full_scan: live.full_scan,
        only_users: None,
        concurrency: live.concurrency,
    };
    let progress = CollectProgress::new(live.quiet, output);
    let report = |p: Progress| progress.report(p);
    let result = print::block_on(pipeline::collect_live(rb, &orgs, &opts, &report))?;
    progress.finish();
    Ok(result?)
}
