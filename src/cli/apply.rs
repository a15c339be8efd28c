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
/// every one counted), written as they are read from the journal's indices, so the status of a run
/// of a million subjects is never held in memory.
pub fn status(journal_path: &Path, all: bool, output: Output) -> Result<Exit, CliError> {
    let journal = Journal::open_existing(journal_path)?;
    let counts = journal.subject_counts()?;
    let limit = (!all).then_some(LISTED_PER_STATE);
    let plan_id = journal.meta("plan_id")?;
    let interrupted = journal.count_steps(StepState::Intent)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if output == Output::Json {
        let listed: u64 = counts
            .iter()
            .map(|(_, n)| limit.map_or(*n, |l| (*n).min(l as u64)))
            .sum();
        let total: u64 = counts.iter().map(|(_, n)| n).sum();
        let doc = StatusDoc {
            journal: &journal,
            path: journal_path.display().to_string(),
            plan_id,
            counts: &counts,
            limit,
            interrupted,
            unlisted: (listed < total).then_some(total - listed),
        };
        serde_json::to_writer_pretty(&mut out, &doc).map_err(|e| {
            if e.is_io() {
                CliError::Stdout(e.into())
            } else {
                e.into()
            }
        })?;
        std::io::Write::write_all(&mut out, b"\n").map_err(CliError::Stdout)?;
        std::io::Write::flush(&mut out).map_err(CliError::Stdout)?;
        return Ok(Exit::Ok);
    }
    let mut failed = None;
    let mut put = |out: &mut dyn std::io::Write, text: &str| {
        if failed.is_none() {
            failed = out.write_all(text.as_bytes()).err();
        }
        failed.is_none()
    };
    put(
        &mut out,
        &format!(
            "journal {} (plan {})\n",
            journal_path.display(),
            plan_id.unwrap_or_default()
        ),
    );
    for (state, n) in &counts {
        put(&mut out, &format!("\n{state} ({n})\n"));
        let mut listed = 0u64;
        journal.each_subject(Some(state), limit, &mut |s, _, d| {
            listed += 1;
            let detail = d.map(|d| format!(": {d}")).unwrap_or_default();
            put(&mut out, &format!("  {s}{detail}\n"))
        })?;
        let hidden = n.saturating_sub(listed);
        if hidden > 0 {
            put(
                &mut out,
                &format!("  … and {hidden} more (all of them with --all)\n"),
            );
        }
    }
    if interrupted > 0 {
        put(&mut out, &format!("\n{interrupted} steps were interrupted mid-way (a call may or may not have reached Okta); run apply again to reconcile and finish them\n"));
    }
    if let Some(e) = failed {
        return Err(CliError::Stdout(e));
    }
    std::io::Write::flush(&mut out).map_err(CliError::Stdout)?;
    Ok(Exit::Ok)
}

/// `remedy status --output json`, serialised as the journal is read.
struct StatusDoc<'a> {
    journal: &'a Journal,
    path: String,
    plan_id: Option<String>,
    counts: &'a [(String, u64)],
    limit: Option<usize>,
    interrupted: u64,
    unlisted: Option<u64>,
}

impl serde::Serialize for StatusDoc<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("journal", &self.path)?;
        m.serialize_entry("plan_id", &self.plan_id)?;
        m.serialize_entry("subjects", &Rows(self, false))?;
        let counts: serde_json::Map<String, serde_json::Value> = self
            .counts
            .iter()
            .map(|(s, n)| (s.clone(), json!(n)))
            .collect();
        m.serialize_entry("counts", &counts)?;
        m.serialize_entry("steps", &Rows(self, true))?;
        m.serialize_entry("interrupted_steps", &self.interrupted)?;
        if let Some(n) = self.unlisted {
            m.serialize_entry("unlisted", &n)?;
        }
        m.end()
    }
}

/// The subjects (or the steps, when `.1`) of a status document, each serialised as it is read.
struct Rows<'d, 'a>(&'d StatusDoc<'a>, bool);

impl serde::Serialize for Rows<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        let doc = self.0;
        let mut seq = s.serialize_seq(None)?;
        let mut failed = None;
        let mut put = |v: serde_json::Value| match seq.serialize_element(&v) {
            Ok(()) => true,
            Err(e) => {
                failed = Some(e);
                false
            }
        };
        let read = if self.1 {
            doc.journal.each_step(doc.limit, &mut |st| put(json!(st)))
        } else {
            doc.journal.each_subject(None, doc.limit, &mut |s, st, d| {
                put(json!({"subject": s, "state": st, "detail": d}))
            })
        };
        read.map_err(S::Error::custom)?;
        if let Some(e) = failed {
            return Err(e);
        }
        seq.end()
    }
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
