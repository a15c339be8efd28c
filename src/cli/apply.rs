//! `remedy apply`, `remedy status` and `remedy restore`: the checks before an apply and the approval
//! prompt, then the executor, and printing what a journal holds. The checks are
//! `pipeline::preflight`'s, the execution and journal `apply`'s.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::invocation::{ApplyRun, RestoreRun};
use super::{print, CliError, Exit, Output};
use crate::apply::journal::{Journal, StepState};
use crate::apply::{self as executor, ApplyOptions, Progress};
use crate::pipeline::{self, OrgDirectory};
use crate::plan::Plan;
use crate::rulebook::Safety;

pub fn apply(run: ApplyRun, output: Output) -> Result<Exit, CliError> {
    // Everything that can refuse the run is checked before anyone is asked to approve it.
    let prepared = pipeline::prepare_apply(&run.plan, run.allow_rulebook_change)?;
    let orgs = OrgDirectory::load(run.config.as_deref())?.connect(&prepared.roles)?;
    let plan = &prepared.plan;
    let approve = run.approve_destructive || approved_on_terminal(plan, output)?;
    let journal = Journal::open(
        &run.journal,
        &plan.plan_id,
        &plan.checksum,
        &plan.rulebook.sha256,
    )?;
    let opts = ApplyOptions {
        approve_destructive: approve,
        concurrency: run.concurrency,
        max_actions: run.max_actions,
        reset_urls: run.reset_urls,
        manual_retries: run.manual_retries,
        audit_log: run.audit_log.clone(),
        poll_interval: Duration::from_millis(500),
        operator: std::env::var("USER")
            .or_else(|_| std::env::var("USERNAME"))
            .ok(),
        progress: (output == Output::Text && print::stderr_is_terminal()).then(progress_line),
        only: None,
        approved: Default::default(),
        cancel: None,
    };
    // For a `kind: user` rulebook the one org stands in both positions; its plan never calls a spoke.
    let mut summary = print::block_on(executor::apply(
        plan,
        &prepared.rulebook,
        orgs.hub(),
        orgs.spoke(),
        &journal,
        &opts,
    ))??;
    // Where the run's time went: requests per endpoint and the bucket that bounds it.
    summary.requests = orgs.request_report();
    match output {
        Output::Json => print::serialized(&summary)?,
        Output::Text => print::text(&executor::render_summary(
            &summary,
            &run.journal,
            &run.audit_log,
        ))?,
    }
    Ok(if summary.failed() {
        Exit::ApplyFailed
    } else {
        Exit::Ok
    })
}

fn progress_line() -> Progress {
    Progress(Arc::new(|n, total| {
        eprint!("\rapplying: {n}/{total} subjects");
        if n == total {
            eprintln!();
        }
    }))
}

/// Asks on a terminal whether the plan's destructive steps may run, listing them first. Off a
/// terminal (or in JSON mode) nobody is asked: destructive steps then need `--approve-destructive`.
fn approved_on_terminal(plan: &Plan, output: Output) -> Result<bool, CliError> {
    let destructive: Vec<_> = plan
        .steps
        .iter()
        .filter(|s| s.safety == Safety::Destructive)
        .collect();
    if destructive.is_empty() || output != Output::Text || !print::stdin_is_terminal() {
        return Ok(false);
    }
    eprintln!("{} destructive steps:", destructive.len());
    for s in &destructive {
        eprintln!("  {}  {} on {}", s.subject, s.action.name(), s.org);
    }
    eprint!("Type `yes` to approve them: ");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|source| CliError::Read {
            path: "stdin".into(),
            source,
        })?;
    Ok(answer.trim() == "yes")
}

pub fn status(journal_path: &Path, output: Output) -> Result<Exit, CliError> {
    let journal = Journal::open_existing(journal_path)?;
    let subjects = journal.subjects()?;
    let steps = journal.steps()?;
    let plan_id = journal.meta("plan_id")?;
    if output == Output::Json {
        print::json(&json!({
            "journal": journal_path.display().to_string(),
            "plan_id": plan_id,
            "subjects": subjects.iter().map(|(s, st, d)| json!({"subject": s, "state": st, "detail": d})).collect::<Vec<_>>(),
            "steps": steps,
        }))?;
        return Ok(Exit::Ok);
    }
    let mut text = format!(
        "journal {} (plan {})\n",
        journal_path.display(),
        plan_id.unwrap_or_default()
    );
    let mut by_state: BTreeMap<&str, Vec<(&String, &Option<String>)>> = BTreeMap::new();
    for (s, st, d) in &subjects {
        by_state.entry(st.as_str()).or_default().push((s, d));
    }
    for (state, list) in &by_state {
        text.push_str(&format!("\n{state} ({})\n", list.len()));
        for (s, d) in list {
            let detail = d.as_ref().map(|d| format!(": {d}")).unwrap_or_default();
            text.push_str(&format!("  {s}{detail}\n"));
        }
    }
    let interrupted = steps
        .iter()
        .filter(|s| s.state == StepState::Intent)
        .count();
    if interrupted > 0 {
        text.push_str(&format!("\n{interrupted} steps were interrupted mid-way (a call may or may not have reached Okta); run apply again to reconcile and finish them\n"));
    }
    print::text(&text)?;
    Ok(Exit::Ok)
}

pub fn restore(run: &RestoreRun, output: Output) -> Result<Exit, CliError> {
    let journal = Journal::open_existing(&run.journal)?;
    let hub = OrgDirectory::load(run.config.as_deref())?.client(&run.org)?;
    let r = print::block_on(executor::restore(&hub, &journal, &run.user))??;
    let (user, org) = (&run.user, &run.org);
    match output {
        Output::Json => print::json(&json!({ "restored": user, "org": org, "user": r }))?,
        Output::Text => print::text(&format!(
            "restored {user} in {org} as {} ({}, provider {}) from the journal backup, with {} groups\n",
            r.id, r.status, r.provider, r.groups
        ))?,
    }
    Ok(Exit::Ok)
}
