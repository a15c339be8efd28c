//! `remedy apply`, `remedy status` and `remedy restore`: the checks before an apply (notification
//! sinks and the channels the plan names included) and the approval prompt, then the executor and the
//! run summary to the sinks that take it, and printing what a journal holds. The checks are
//! `pipeline::preflight`'s, the execution and journal `apply`'s, the sinks `notify`'s.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::invocation::{ApplyRun, RestoreRun};
use super::{print, CliError, Exit, Output};
use crate::apply::journal::{Journal, StepState};
use crate::apply::units::ToApply;
use crate::apply::{self as executor, ApplyOptions, Progress};
use crate::notify::{Event, EventKind, Notifier};
use crate::pipeline::{self, OrgDirectory};
use crate::plan::stream::{Item, Opened, Want};

/// How many destructive steps the approval prompt lists.
const LISTED_DESTRUCTIVE: usize = 50;
use crate::rulebook::Safety;

pub fn apply(run: ApplyRun, output: Output) -> Result<Exit, CliError> {
    // Everything that can refuse the run is checked before anyone is asked to approve it.
    let prepared = pipeline::prepare_apply(&run.plan, run.allow_rulebook_change)?;
    let orgs = OrgDirectory::load(run.config.as_deref())?.connect(&prepared.roles)?;
    let plan = &prepared.head;
    let notifier = notifier(&run)?;
    executor::check_channels(&prepared.plan, notifier.as_deref())?;
    let approve = run.approve_destructive
        || (plan.summary.destructive > 0 && approved_on_terminal(&prepared.plan, output)?);
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
        operator: run.operator.clone(),
        progress: (output == Output::Text && print::stderr_is_terminal()).then(progress_line),
        notifier: notifier.clone(),
        only: None,
        approved: Default::default(),
        cancel: None,
        // Bounded whatever the plan's size; the journal lists every subject (`status --all`).
        listed: Some(LISTED_PER_STATE),
    };
    // For a `kind: user` rulebook the one org stands in both positions; its plan never calls a spoke.
    let mut summary = print::block_on(executor::apply_plan(
        ToApply::File(&prepared.plan),
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
    let summary_sent = match &notifier {
        Some(n) => print::block_on(send_summary(n, plan, &summary))?,
        None => true,
    };
    Ok(if summary.failed() || !summary_sent {
        Exit::ApplyFailed
    } else {
        Exit::Ok
    })
}

/// The sinks from `--notify-config`, else from the `--config` file's `notifications:` section, if
/// either has one.
fn notifier(run: &ApplyRun) -> Result<Option<Arc<Notifier>>, CliError> {
    let Some(path) = run.notify_config.as_ref().or(run.config.as_ref()) else {
        return Ok(None);
    };
    match crate::notify::read_config(path)? {
        Some(config) => Ok(Some(Arc::new(Notifier::new(config)?))),
        None if run.notify_config.is_some() => Err(CliError::NoNotifications {
            path: path.display().to_string(),
        }),
        None => Ok(None),
    }
}

/// Sends the run's summary (`run_finished`) to the sinks that take it; a failed delivery is told on
/// stderr and returns `false` (the run itself stands).
async fn send_summary(
    notifier: &Notifier,
    plan: &crate::plan::stream::PlanHead,
    summary: &executor::ApplySummary,
) -> bool {
    let failed = summary.count(executor::SubjectState::Failed)
        + summary.count(executor::SubjectState::Refused);
    let message = if failed > 0 {
        format!(
            "apply of plan {} finished: {failed} of {} subjects failed or were refused",
            plan.plan_id,
            summary.total()
        )
    } else {
        format!(
            "apply of plan {} finished: {} subjects, none failed",
            plan.plan_id,
            summary.total()
        )
    };
    let event = Event::new(
        EventKind::RunFinished,
        &plan.rulebook.name,
        &message,
        &uuid::Uuid::new_v4().to_string(),
        chrono::Utc::now(),
    )
    .with_plan(&plan.plan_id, &plan.checksum)
    .with_counts(summary.counts.clone());
    let sent = notifier.send(&event).await;
    for e in &sent.failed {
        eprintln!("error: the run summary was not delivered: {e}");
    }
    sent.failed.is_empty()
}

fn progress_line() -> Progress {
    Progress(Arc::new(|n, total| {
        eprint!("\rapplying: {n}/{total} subjects");
        if n == total {
            eprintln!();
        }
    }))
}

/// Asks on a terminal whether the plan's destructive steps may run, listing them first (at most
/// [`LISTED_DESTRUCTIVE`], all counted). Off a terminal (or in JSON mode) nobody is asked:
/// destructive steps then need `--approve-destructive`.
fn approved_on_terminal(plan: &Opened, output: Output) -> Result<bool, CliError> {
    if output != Output::Text || !print::stdin_is_terminal() {
        return Ok(false);
    }
    let mut listed = Vec::new();
    let mut count = 0u64;
    let want = Want {
        subjects: false,
        steps: true,
    };
    plan.each(want, &mut |item| {
        if let Item::Step(s) = item {
            if s.safety == Safety::Destructive {
                count += 1;
                if listed.len() < LISTED_DESTRUCTIVE {
                    listed.push(format!("  {}  {} on {}", s.subject, s.action.name(), s.org));
                }
            }
        }
        Ok(true)
    })?;
    if count == 0 {
        return Ok(false);
    }
    eprintln!("{count} destructive steps:");
    for line in &listed {
        eprintln!("{line}");
    }
    if count > listed.len() as u64 {
        eprintln!("  … and {} more", count - listed.len() as u64);
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

/// How many subjects of each state `status` lists unless `--all`.
const LISTED_PER_STATE: usize = super::plan::SHOWN_PER_ACTION;

/// `remedy status JOURNAL`: subjects by state (at most [`LISTED_PER_STATE`] of each unless `all`,
/// every one counted), read through the journal's indices so a journal of a million subjects is
/// not loaded.
pub fn status(journal_path: &Path, all: bool, output: Output) -> Result<Exit, CliError> {
    let journal = Journal::open_existing(journal_path)?;
    let counts = journal.subject_counts()?;
    let limit = (!all).then_some(LISTED_PER_STATE);
    let mut by_state = Vec::new();
    for (state, n) in &counts {
        by_state.push((state.as_str(), *n, journal.subjects_in(state, limit)?));
    }
    let plan_id = journal.meta("plan_id")?;
    let interrupted = journal.count_steps(StepState::Intent)?;
    if output == Output::Json {
        let mut subjects: Vec<_> = by_state
            .iter()
            .flat_map(|(st, _, list)| {
                list.iter()
                    .map(move |(s, d)| json!({"subject": s, "state": st, "detail": d}))
            })
            .collect();
        subjects.sort_by(|a, b| a["subject"].as_str().cmp(&b["subject"].as_str()));
        let listed = subjects.len() as u64;
        let total: u64 = counts.iter().map(|(_, n)| n).sum();
        let mut doc = json!({
            "journal": journal_path.display().to_string(),
            "plan_id": plan_id,
            "subjects": subjects,
            "counts": counts.iter().map(|(s, n)| (s.clone(), json!(n))).collect::<serde_json::Map<_, _>>(),
            "steps": journal.steps_sample(limit)?,
            "interrupted_steps": interrupted,
        });
        if listed < total {
            doc["unlisted"] = json!(total - listed);
        }
        print::json(&doc)?;
        return Ok(Exit::Ok);
    }
    let mut text = format!(
        "journal {} (plan {})\n",
        journal_path.display(),
        plan_id.unwrap_or_default()
    );
    for (state, n, list) in &by_state {
        text.push_str(&format!("\n{state} ({n})\n"));
        for (s, d) in list {
            let detail = d.as_ref().map(|d| format!(": {d}")).unwrap_or_default();
            text.push_str(&format!("  {s}{detail}\n"));
        }
        let hidden = n.saturating_sub(list.len() as u64);
        if hidden > 0 {
            text.push_str(&format!("  … and {hidden} more (all of them with --all)\n"));
        }
    }
    if interrupted > 0 {
        text.push_str(&format!("\n{interrupted} steps were interrupted mid-way (a call may or may not have reached Okta); run apply again to reconcile and finish them\n"));
    }
    print::text(&text)?;
    Ok(Exit::Ok)
}

fn restore_text(user: &str, org: &str, r: &executor::Restored) -> String {
    let mut text = format!(
        "restored {user} in {org} as {} ({}, provider {}) from the journal backup, with {} groups and {} app assignments\n",
        r.id, r.status, r.provider, r.groups, r.apps.len()
    );
    if r.groups_by_rule > 0 {
        text.push_str(&format!(
            "not re-added: {} groups filled by group rules; the rules add the user again\n",
            r.groups_by_rule
        ));
    }
    for f in &r.apps_failed {
        text.push_str(&format!(
            "not restored: assignment to app {}: {}\n",
            f.app, f.error
        ));
    }
    text.push_str(&format!("not restored: {}\n", r.not_restored));
    text
}

pub fn restore(run: &RestoreRun, output: Output) -> Result<Exit, CliError> {
    let journal = Journal::open_existing(&run.journal)?;
    let hub = OrgDirectory::load(run.config.as_deref())?.client(&run.org)?;
    let r = print::block_on(executor::restore(&hub, &journal, &run.user))??;
    let (user, org) = (&run.user, &run.org);
    match output {
        Output::Json => print::json(&json!({ "restored": user, "org": org, "user": r }))?,
        Output::Text => print::text(&restore_text(user, org, &r))?,
    }
    Ok(Exit::Ok)
}
