//! Applying a plan: the only code that changes Okta. Subjects run concurrently (bounded), a subject's
//! steps in order.
//!
//! Before a subject's first step runs, the pinned rulebook is evaluated on the subject's live state
//! and the plan's steps run only if the rulebook produces that same sequence now ([`justify`]); the
//! justified sequence is journaled, and later runs continue it from the journal, never from the file.
//! Before each step the subject is re-read and the step's preconditions checked; a drifted subject is
//! skipped with the difference shown. Every Okta call is journaled before it is made (intent) and
//! after (outcome); a call whose outcome is unknown (crash, dropped connection) is reconciled by
//! reading Okta's state, so no action is done twice. Backups go into the journal before any delete.
//!
//! A subject's run ends done, waiting, refused (the plan does not match the rulebook), skipped (for
//! drift, or for now: approval, `--max-actions`, `--reset-urls`), failed (Okta refused, or the result
//! did not verify: final until a new plan) or failed for now (unreachable, 5xx, 429, an unconfirmed
//! push: the next run resumes where it stopped). Only final verdicts are written to a step's journal
//! row. A write that fails (journal, audit log, reset-URL file) or a refused token stops the whole run
//! with an error.
//!
//! It does not decide what to do (the rulebook did, at plan time and again on live state), does not
//! collect, and does not retry below the level of one Okta call beyond what the client does for calls
//! that are safe to repeat.

mod actions;
mod audit;
mod call;
pub mod journal;
mod justify;
mod lock;
mod notify;
mod observe;
mod recreate;
mod restore;
mod retry;
mod stop;
mod summary;
pub mod units;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Serialize;

use crate::engine::Verdict;
use crate::okta::OktaApi;
use crate::plan::stream::PlanHead;
use crate::plan::{Plan, PlannedSubject, Step};
use crate::rulebook::Rulebook;
use actions::{recorded, run_step, Recorded};
use audit::{Audit, PrivateFile};
use journal::{Journal, JournalError, StepState};
use stop::Stop;
use units::ToApply;

pub use audit::record_decision;
pub use lock::{LockError, PlanLock};
pub use notify::check_channels;
pub use restore::{restore, RestoreError, Restored};
pub use summary::{render_summary, timestamp};

/// What stops an apply run as a whole (per-step problems are recorded, not raised).
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("cannot write `{path}`: {source}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the one-time reset URL of `{login}` could not be saved ({source}); the password was reset: reset it again by hand (or with a new plan) so the user gets a way in")]
    ResetUrlLost {
        login: String,
        #[source]
        source: Box<ApplyError>,
    },
    #[error("authentication refused, the run stopped: {0}")]
    Auth(String),
    #[error("the plan's `now` `{0}` is not an RFC 3339 time")]
    PlanTime(String),
    #[error("step `{step}` (rule `{rule}`) notifies channel `{channel}`, {reason}")]
    Channel {
        step: String,
        rule: String,
        channel: String,
        reason: String,
    },
    #[error("the plan lists {what} `{key}` twice; it cannot be applied")]
    Duplicate { what: &'static str, key: String },
    #[error("the plan's step or subject `{0}` is out of the order plans are written in (a subject's steps together, in subject order); it cannot be applied")]
    StepOrder(String),
    #[error("the plan could not be read to the end: {0}")]
    PlanStream(String),
}

/// How to apply.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Destructive steps run only with approval.
    pub approve_destructive: bool,
    /// Subjects in flight at once.
    pub concurrency: usize,
    /// At most this many Okta-changing steps in this run.
    pub max_actions: Option<u64>,
    /// Where one-time reset URLs go (`send_email: false`), created with mode 0600.
    pub reset_urls: Option<PathBuf>,
    /// Where `retry_provisioning` with `method: manual` lists users to retry by hand.
    pub manual_retries: PathBuf,
    /// The audit log (JSON Lines), appended to.
    pub audit_log: PathBuf,
    /// How often provisioning results are polled.
    pub poll_interval: Duration,
    /// Told after each subject: (subjects finished, subjects in the plan).
    pub progress: Option<Progress>,
    /// Who runs the apply (the audit log's `operator`), e.g. the OS user.
    pub operator: Option<String>,
    /// Where `notify` steps deliver (`None`: no sink is configured; a step naming a channel is
    /// then refused before the run starts).
    pub notifier: Option<std::sync::Arc<crate::notify::Notifier>>,
    /// Only these subjects run (the others are left as they are, not reported); all when `None`.
    /// The service applies a plan's subjects as their autonomy, approvals and rate guards allow.
    pub only: Option<BTreeSet<String>>,
    /// Subjects whose destructive steps a person approved, besides `approve_destructive` for all.
    pub approved: BTreeSet<String>,
    /// Set to stop starting new subjects (graceful shutdown); subjects in flight finish their step.
    pub cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// How many subjects of each state the summary lists (every one is counted, and the journal
    /// holds them all); `None` lists every one, which holds a result per subject in memory.
    pub listed: Option<usize>,
}

/// A progress callback (the CLI draws a line on a terminal with it).
#[derive(Clone)]
pub struct Progress(pub std::sync::Arc<dyn Fn(usize, usize) + Send + Sync>);

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress")
    }
}

/// How one subject ended this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectState {
    Done,
    Waiting,
    SkippedDrift,
    Skipped,
    Failed,
    Protected,
    /// The plan's steps are not what the pinned rulebook produces on the live subject.
    Refused,
}

/// One subject's result.
#[derive(Debug, Clone, Serialize)]
pub struct SubjectResult {
    pub subject: String,
    pub state: SubjectState,
    pub detail: Option<String>,
}

/// The result of a run.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ApplySummary {
    pub plan_id: String,
    /// The subjects listed, in key order: every one, or the first [`ApplyOptions::listed`] of each
    /// state.
    pub subjects: Vec<SubjectResult>,
    /// Subjects by how they ended, every one counted.
    pub counts: BTreeMap<String, u64>,
    /// Subjects counted but not listed.
    #[serde(skip_serializing_if = "is_zero")]
    pub unlisted: u64,
    /// Okta-changing steps this run started (what `max_actions` counts).
    pub changes: u64,
    /// Requests this run sent per endpoint (`requests`) and the binding rate-limit bucket
    /// (`binding`), filled in by the caller that owns the clients; absent when it did not.
    #[serde(flatten)]
    pub requests: crate::okta::RequestReport,
}

impl SubjectState {
    /// The name used in JSON output and the journal's `subjects` table.
    pub fn label(self) -> &'static str {
        match self {
            SubjectState::Done => "done",
            SubjectState::Waiting => "waiting",
            SubjectState::SkippedDrift => "skipped_drift",
            SubjectState::Skipped => "skipped",
            SubjectState::Failed => "failed",
            SubjectState::Protected => "protected",
            SubjectState::Refused => "refused",
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl ApplySummary {
    /// Whether a subject failed or was refused (`apply` then exits 3).
    pub fn failed(&self) -> bool {
        self.count(SubjectState::Failed) + self.count(SubjectState::Refused) > 0
    }

    /// How many subjects ended in state `s`.
    pub fn count(&self, s: SubjectState) -> u64 {
        self.counts.get(s.label()).copied().unwrap_or(0)
    }

    /// How many subjects the run concluded (listed or not).
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }
}

/// What every step of a run shares.
struct Ctx<'a, H, S> {
    plan: &'a PlanHead,
    rulebook: &'a Rulebook,
    hub: &'a H,
    spoke: &'a S,
    journal: &'a Journal,
    opts: &'a ApplyOptions,
    audit: Audit,
    changes: AtomicU64,
    reset_urls: Option<PrivateFile>,
    /// When the run re-evaluates subjects.
    now: DateTime<Utc>,
    /// The plan's `now`: where the System Log window the rulebook reads ends.
    plan_now: DateTime<Utc>,
    /// The spoke's failure events, read once per run when a subject is first justified.
    events: tokio::sync::OnceCell<crate::collect::failures::Failures>,
    /// The error that stopped the run; no new subject starts once it is set.
    fatal: Mutex<Option<ApplyError>>,
}

impl<H: OktaApi, S: OktaApi> Ctx<'_, H, S> {
    async fn failure_events(
        &self,
        app_id: &str,
    ) -> Result<&crate::collect::failures::Failures, crate::collect::CollectError> {
        self.events
            .get_or_try_init(|| {
                observe::failure_events(self.spoke, self.rulebook, app_id, self.plan_now)
            })
            .await
    }

    fn stopped(&self) -> bool {
        self.fatal.lock().map_or(true, |f| f.is_some())
    }

    fn stop_run(&self, e: ApplyError) {
        if let Ok(mut f) = self.fatal.lock() {
            f.get_or_insert(e);
        }
    }
}

/// Applies a plan held in memory; see [`apply_plan`].
pub async fn apply<H: OktaApi, S: OktaApi>(
    plan: &Plan,
    rulebook: &Rulebook,
    hub: &H,
    spoke: &S,
    journal: &Journal,
    opts: &ApplyOptions,
) -> Result<ApplySummary, ApplyError> {
    apply_plan(ToApply::Memory(plan), rulebook, hub, spoke, journal, opts).await
}

/// Applies a plan with the rulebook it pins (loaded and checked by the caller). Resumes from the
/// journal; returns what happened to each subject. Holds the plan's machine-wide lock while it runs.
/// The plan's subjects are read one at a time ([`units`]): once before the run, to refuse repeated
/// subjects or steps before any call, then as they are applied.
pub async fn apply_plan<H: OktaApi, S: OktaApi>(
    plan: ToApply<'_>,
    rulebook: &Rulebook,
    hub: &H,
    spoke: &S,
    journal: &Journal,
    opts: &ApplyOptions,
) -> Result<ApplySummary, ApplyError> {
    units::check(&plan)?;
    notify::check_channels(plan.items(), opts.notifier.as_deref())?;
    let head = plan.items().head();
    let _lock = PlanLock::acquire(&PlanLock::default_dir(), &head.plan_id, &head.checksum)?;
    let plan_now = DateTime::parse_from_rfc3339(&head.now)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ApplyError::PlanTime(head.now.clone()))?;
    journal.record_run(opts.operator.as_deref())?;
    let ctx = Ctx {
        plan: &head,
        rulebook,
        hub,
        spoke,
        journal,
        opts,
        audit: Audit::open(&opts.audit_log, &head.plan_id, opts.operator.clone())?,
        changes: AtomicU64::new(0),
        reset_urls: match &opts.reset_urls {
            Some(p) => Some(PrivateFile::append(p)?),
            None => None,
        },
        now: Utc::now(),
        plan_now,
        events: tokio::sync::OnceCell::new(),
        fatal: Mutex::new(None),
    };
    let s = &head.summary;
    let planned = (s.matched + s.protected + s.unknown) as usize;
    let total = opts.only.as_ref().map_or(planned, |o| o.len().min(planned));
    let finished = AtomicUsize::new(0);
    // Only the selected subjects run (all without a selection); a read error always reaches the run.
    let selected = |unit: &Result<units::Unit, String>| match (unit, &opts.only) {
        (Ok((s, _)), Some(only)) => only.contains(&s.key),
        _ => true,
    };
    // The futures are made by an iterator rather than a stream combinator, so the run is `Send` and
    // the service can run it on its own task.
    let runs = plan
        .units()
        .filter(selected)
        .map(|unit| run_unit(&ctx, unit));
    // Results are counted as they come, and listed only up to `opts.listed` per state.
    let listing = futures::stream::iter(runs)
        .buffer_unordered(opts.concurrency.max(1))
        .inspect(|_| {
            let n = finished.fetch_add(1, Ordering::SeqCst) + 1;
            if let Some(p) = &opts.progress {
                (p.0)(n, total);
            }
        })
        .fold(summary::Listing::new(opts.listed), |l, r| async move {
            l.add(r)
        })
        .await;
    if let Some(e) = ctx.fatal.lock().ok().and_then(|mut f| f.take()) {
        return Err(e);
    }
    let (subjects, counts, unlisted) = listing.finish();
    let started = ctx.changes.load(Ordering::SeqCst);
    Ok(ApplySummary {
        plan_id: head.plan_id.clone(),
        subjects,
        counts,
        unlisted,
        changes: opts.max_actions.map_or(started, |m| started.min(m)),
        requests: crate::okta::RequestReport::default(),
    })
}

/// One subject with its steps, as the plan was read; a plan that cannot be read to the end stops
/// the run.
async fn run_unit<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    unit: Result<units::Unit, String>,
) -> SubjectResult {
    match unit {
        Ok((subject, steps)) => run_subject(ctx, &subject, &steps).await,
        Err(e) => {
            let detail = format!("the plan could not be read: {e}");
            ctx.stop_run(ApplyError::PlanStream(e));
            SubjectResult {
                subject: String::new(),
                state: SubjectState::Failed,
                detail: Some(detail),
            }
        }
    }
}

async fn run_subject<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    subject: &PlannedSubject,
    planned: &[Step],
) -> SubjectResult {
    let result = |state, detail: Option<String>| SubjectResult {
        subject: subject.key.clone(),
        state,
        detail,
    };
    if subject.verdict == Verdict::Protected {
        return result(
            SubjectState::Protected,
            Some("protected by a guard; never acted on".into()),
        );
    }
    if ctx.stopped() {
        return result(
            SubjectState::Skipped,
            Some("not attempted: the run stopped on an error".into()),
        );
    }
    if ctx
        .opts
        .cancel
        .as_ref()
        .is_some_and(|c| c.load(Ordering::SeqCst))
    {
        return result(
            SubjectState::Skipped,
            Some("not attempted: shutting down".into()),
        );
    }
    // Resuming: a subject an earlier run finished is looked up by its key (the journal's primary
    // key), neither re-read from Okta nor walked step by step.
    match ctx.journal.subject(&subject.key) {
        Ok(Some((state, detail))) if state == SubjectState::Done.label() => {
            return result(SubjectState::Done, detail);
        }
        Ok(_) => {}
        Err(e) => return fatal(ctx, subject, ApplyError::Journal(e)),
    }
    match run_steps(ctx, subject, planned).await {
        Ok(detail) => match ctx
            .journal
            .set_subject(&subject.key, "done", detail.as_deref())
        {
            Ok(()) => result(SubjectState::Done, detail),
            Err(e) => fatal(ctx, subject, ApplyError::Journal(e)),
        },
        Err((stop, step)) => conclude(ctx, subject, stop, step.as_ref()),
    }
}

/// Records a subject's stop in the journal (final verdicts on the step's row too) and says how it
/// ended.
fn conclude<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    subject: &PlannedSubject,
    stop: Stop,
    step: Option<&Step>,
) -> SubjectResult {
    let (state, final_state, detail) = match stop {
        Stop::Waiting(d) => (SubjectState::Waiting, Some(StepState::Waiting), d),
        Stop::Drift(d) => (SubjectState::SkippedDrift, Some(StepState::Skipped), d),
        Stop::Refused(d) => (SubjectState::Refused, Some(StepState::Skipped), d),
        Stop::Skipped(d) => (SubjectState::Skipped, Some(StepState::Skipped), d),
        Stop::NotNow(d) => (SubjectState::Skipped, None, d),
        Stop::Failed(d) => (SubjectState::Failed, Some(StepState::Failed), d),
        Stop::Transient(d) => (SubjectState::Failed, None, d),
        Stop::Fatal(e) => return fatal(ctx, subject, e),
    };
    let written = match (final_state, step) {
        (Some(journal_state), Some(step)) => ctx.journal.finish(
            &step.id,
            &subject.key,
            step.action.name(),
            journal_state,
            Some(&detail),
            None,
        ),
        _ => Ok(()),
    }
    .and_then(|()| {
        ctx.journal
            .set_subject(&subject.key, state.label(), Some(&detail))
    });
    match written {
        Ok(()) => SubjectResult {
            subject: subject.key.clone(),
            state,
            detail: Some(detail),
        },
        Err(e) => fatal(ctx, subject, ApplyError::Journal(e)),
    }
}

/// Stops the run on `e` and reports the subject as failed with it.
fn fatal<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    subject: &PlannedSubject,
    e: ApplyError,
) -> SubjectResult {
    let detail = e.to_string();
    ctx.stop_run(e);
    SubjectResult {
        subject: subject.key.clone(),
        state: SubjectState::Failed,
        detail: Some(detail),
    }
}

/// Runs a subject's justified steps in order; the error names the step it stopped at.
async fn run_steps<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    subject: &PlannedSubject,
    planned: &[Step],
) -> Result<Option<String>, (Stop, Option<Step>)> {
    let planned: Vec<&Step> = planned.iter().collect();
    let (steps, observed) = sequence(ctx, subject, &planned).await?;
    // One view of the subject for all its steps: each step re-reads only what it needs and what a
    // call of this run may have changed since it was read.
    let mut observed = observed.unwrap_or_else(|| observe::Observed::none(ctx, subject));
    let mut last_detail = None;
    for step in steps {
        match run_step(ctx, subject, &step, &mut observed).await {
            Ok(detail) => last_detail = detail,
            Err(stop) => return Err((stop, Some(step))),
        }
    }
    Ok(last_detail)
}

/// The steps to run for a subject: the journal's justified sequence once one started, else the
/// plan's steps justified now against the rulebook on the live subject (the live state read is
/// handed to the first step, so it is not read twice).
async fn sequence<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    subject: &PlannedSubject,
    planned: &[&Step],
) -> Result<(Vec<Step>, Option<observe::Observed>), (Stop, Option<Step>)> {
    let first = planned.first().map(|s| (*s).clone());
    let at_first = |stop: Stop| (stop, first.clone());
    if let Some(text) = ctx
        .journal
        .sequence(&subject.key)
        .map_err(|e| at_first(e.into()))?
    {
        let steps: Vec<Step> = serde_json::from_str(&text).map_err(|_| {
            at_first(Stop::Fatal(ApplyError::Journal(JournalError::Corrupt {
                path: ctx.journal.path().display().to_string(),
                what: "a step sequence",
                value: subject.key.clone(),
            })))
        })?;
        return Ok((steps, None));
    }
    let Some(first_step) = planned.first() else {
        return Ok((Vec::new(), None));
    };
    // A verdict an earlier run gave before the sequence started (refused, drift) stands.
    match recorded(ctx, first_step).map_err(at_first)? {
        Recorded::Final(stop) => return Err(at_first(stop)),
        Recorded::Done(_) | Recorded::Open(_) => {}
    }
    let observed = observe::read_state(ctx, subject)
        .await
        .map_err(|e| at_first(stop::okta_failure(&e)))?;
    // Drift against what the plan recorded is reported as drift, before the rulebook is asked.
    if let Some(d) = observe::drift(first_step, &observed.state) {
        return Err(at_first(Stop::Drift(format!("drift: {d}"))));
    }
    let steps = justify::justify(ctx, subject, planned, observed.state.clone())
        .await
        .map_err(at_first)?;
    let text = serde_json::to_string(&steps)
        .map_err(|e| at_first(Stop::Failed(format!("cannot record the sequence: {e}"))))?;
    ctx.journal
        .set_sequence(&subject.key, &text)
        .map_err(|e| at_first(e.into()))?;
    Ok((steps, Some(observed)))
}
