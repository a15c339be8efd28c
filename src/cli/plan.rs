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
use crate::plan::render::{render, write_rendering, RenderError};
use crate::plan::stream::Opened;
use crate::plan::Plan;
use crate::rulebook::Rulebook;

pub fn plan(run: &PlanRun, output: Output) -> Result<Exit, CliError> {
    let rb = load_rulebook(&run.rules, output)?;
    let planned = match &run.from {
        SubjectsFrom::File(path) => return plan_file(&rb, path, run, output),
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

/// Plans a subjects file as a stream: straight into `--out` (or a temporary file), then prints it
/// from the file, so no step of it is ever all in memory.
fn plan_file(rb: &Rulebook, path: &Path, run: &PlanRun, output: Output) -> Result<Exit, CliError> {
    let scratch;
    let out = match &run.out {
        Some(out) => out.as_path(),
        None => {
            scratch = tempfile::NamedTempFile::new().map_err(|source| CliError::Write {
                path: std::env::temp_dir().display().to_string(),
                source,
            })?;
            scratch.path()
        }
    };
    let (head, refused) = pipeline::plan_file_to(rb, path, run.now, out)?;
    let saved = run.out.as_deref();
    match output {
        Output::Json if refused.is_some() => {}
        Output::Json => copy_to_stdout(out)?,
        Output::Text => {
            let opened = Opened::open(out)?;
            let mut stdout = std::io::stdout().lock();
            write_rendering(&opened, Some(SHOWN_PER_ACTION), &mut stdout).map_err(render_error)?;
            drop(stdout);
            print::text(&saved_line(saved, head.refused.is_some()))?;
        }
    }
    if let Some(e) = refused {
        return Err(e.into());
    }
    Ok(if run.detailed_exitcode && head.summary.changing > 0 {
        Exit::Changes
    } else {
        Exit::Ok
    })
}

/// How many steps of each action (and protected or unknown subjects) `plan` and `show` print unless
/// asked for all (`show --all`).
pub const SHOWN_PER_ACTION: usize = 50;

fn render_error(e: RenderError) -> CliError {
    match e {
        RenderError::Plan(e) => e.into(),
        RenderError::Write(e) => CliError::Stdout(e),
    }
}

/// Copies the file at `path` to stdout as it is.
fn copy_to_stdout(path: &Path) -> Result<(), CliError> {
    let mut file = std::fs::File::open(path).map_err(|source| CliError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let mut stdout = std::io::stdout().lock();
    std::io::copy(&mut file, &mut stdout)
        .and_then(|_| std::io::Write::flush(&mut stdout))
        .map(|_| ())
        .map_err(CliError::Stdout)
}

/// Where the plan was saved and what can be done with it (nothing, without `--out`).
fn saved_line(out: Option<&Path>, refused: bool) -> String {
    match (out, refused) {
        (None, _) => String::new(),
        (Some(path), true) => format!(
            "Saved to {} for review; it cannot be applied.\n",
            path.display()
        ),
        (Some(path), false) => format!(
            "Saved to {}. Apply it with: remedy apply {}\n",
            path.display(),
            path.display()
        ),
    }
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

/// `remedy show`: the plan read as a stream, at most [`SHOWN_PER_ACTION`] steps of each action
/// unless `all`; with `--output json`, the file as it is.
pub fn show(
    path: &Path,
    report: Option<&ReportTo>,
    all: bool,
    output: Output,
) -> Result<Exit, CliError> {
    let opened = Opened::open(path)?;
    if let Some(to) = report {
        return super::report::show(&opened, to, all, output);
    }
    match output {
        Output::Json => match &opened {
            Opened::Small(p) if p.format_version != crate::plan::FORMAT_VERSION => {
                print::text(&p.to_json())?
            }
            _ => copy_to_stdout(path)?,
        },
        Output::Text => {
            let mut stdout = std::io::stdout().lock();
            let per_action = (!all).then_some(SHOWN_PER_ACTION);
            write_rendering(&opened, per_action, &mut stdout).map_err(render_error)?;
        }
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
