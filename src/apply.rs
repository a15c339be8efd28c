//! Applying a plan: the only code that changes Okta. Subjects run concurrently (bounded), a subject's
//! steps in order. Before each step the subject is re-read and the step's preconditions checked; a
//! drifted subject is skipped with the difference shown. Every Okta call is journaled before it is made
//! (intent) and after (outcome); a call whose outcome is unknown (crash, dropped connection) is
//! reconciled by reading Okta's state (within the run after a 5xx or a dropped connection, or on the
//! next run after a crash), so no action is done twice. Backups go into the journal before any delete.
//!
//! A subject's run ends done, waiting, skipped (for drift, or for now: approval, `--max-actions`,
//! `--reset-urls`), failed (Okta refused, or the result did not verify: final until a new plan) or
//! failed for now (unreachable, 5xx, 429, an unconfirmed push: the next run resumes where it stopped).
//! Only final verdicts are written to a step's journal row; the others leave it to be tried again.
//!
//! It does not decide what to do (the plan did), does not collect, and does not retry below the level
//! of one Okta call beyond what the client does for calls that are safe to repeat.

pub mod journal;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use futures::StreamExt;
use serde::Serialize;
use serde_json::{json, Value};

use crate::condition::{JsonPath, Outcome};
use crate::engine::Verdict;
use crate::okta::{AppId, AppUserAssignment, GroupId, JsonModel, OktaApi, OktaError, UserId};
use crate::plan::{Plan, PlannedSubject, Step};
use crate::rulebook::Safety;
use journal::{Journal, JournalError, StepState};

/// What stops an apply run as a whole (per-step problems are recorded, not raised).
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("cannot write `{path}`: {source}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
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
    pub subjects: Vec<SubjectResult>,
    pub counts: BTreeMap<String, u64>,
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
        }
    }
}

impl ApplySummary {
    pub fn failed(&self) -> bool {
        self.subjects
            .iter()
            .any(|s| s.state == SubjectState::Failed)
    }
    pub fn count(&self, s: SubjectState) -> u64 {
        self.subjects.iter().filter(|r| r.state == s).count() as u64
    }
}

/// The audit log: one JSON line per Okta call that changes something, per reconciliation and per
/// report, appended and flushed as it happens:
/// `{time, plan_id, step, operator, org, user, action, call, result, request_id}` where `user` is the
/// subject's login, `call` the Okta operation (`reset_password`, `deactivate`, `delete`, `touch`,
/// `unassign`, `assign`, `repush`, `add_to_group`, ...), `result` `ok`, `error: ...`, `recorded` or
/// `reconciled: already applied`, and `request_id` Okta's `X-Okta-Request-Id` when there was a call.
struct Audit {
    file: Mutex<std::fs::File>,
    plan_id: String,
    operator: Option<String>,
}

impl Audit {
    fn record(
        &self,
        org: &str,
        user: &str,
        step: &Step,
        call: &str,
        result: &str,
        request_id: Option<&str>,
    ) {
        let line = json!({
            "time": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            "plan_id": self.plan_id, "step": step.id, "operator": self.operator,
            "org": org, "user": user,
            "action": step.action, "call": call, "result": result, "request_id": request_id,
        });
        if let Ok(mut f) = self.file.lock() {
            let _ = writeln!(f, "{line}");
            let _ = f.flush();
        }
    }
}

fn open_append(path: &PathBuf, private: bool) -> Result<std::fs::File, ApplyError> {
    let mut o = std::fs::OpenOptions::new();
    o.create(true).append(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let err = |source| ApplyError::File {
        path: path.display().to_string(),
        source,
    };
    let file = o.open(path).map_err(err)?;
    // `mode` applies only to a new file: an existing one is narrowed too, before anything is written.
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(err)?;
    }
    let _ = private;
    Ok(file)
}

struct Ctx<'a, H, S> {
    plan: &'a Plan,
    hub: &'a H,
    spoke: &'a S,
    journal: &'a Journal,
    opts: &'a ApplyOptions,
    audit: Audit,
    changes: AtomicU64,
    reset_urls: Option<Mutex<std::fs::File>>,
}

/// Why a subject's steps stopped. Final verdicts are written to the step's journal row and stand on
/// later runs (a new plan is needed); the others only describe this run, so the next run tries again.
enum Stop {
    /// Parked until a condition holds (final for this run only; re-checked next run).
    Waiting(String),
    /// The subject changed since the plan: final.
    Drift(String),
    /// Final skip.
    Skipped(String),
    /// Not this run: approval missing, `--max-actions` reached, no `--reset-urls` file.
    NotNow(String),
    /// Final failure: Okta refused the call, or the result did not verify.
    Failed(String),
    /// This run could not finish the step (unreachable, 5xx, rate limited, an outcome not yet
    /// reconciled); the journal keeps the step as it was, so the next run resumes it.
    Transient(String),
}

impl From<JournalError> for Stop {
    fn from(e: JournalError) -> Self {
        Stop::Transient(format!("journal: {e}"))
    }
}

/// Whether an error leaves Okta's state unknown or unchanged for a reason that may pass: dropped
/// connections and timeouts, 5xx and rate limits. Anything else is Okta's final answer.
fn transient(e: &OktaError) -> bool {
    e.outcome_unknown()
        || e.status().is_some_and(|s| s >= 500 || s == 429)
        || matches!(
            e,
            OktaError::Transport { .. } | OktaError::Timeout { .. } | OktaError::RateLimited { .. }
        )
}

/// Adds what a person must know to a failure in the middle of a step (something was undone and not
/// yet redone).
fn hint(stop: Stop, note: &str) -> Stop {
    match stop {
        Stop::Failed(d) => Stop::Failed(format!("{d}; {note}")),
        Stop::Transient(d) => Stop::Transient(format!("{d}; {note}")),
        other => other,
    }
}

fn okta_failure(e: &OktaError) -> Stop {
    if transient(e) {
        Stop::Transient(format!("{e}; run apply again to resume"))
    } else {
        Stop::Failed(e.to_string())
    }
}

/// Applies a plan. Resumes from the journal; returns what happened to each subject.
pub async fn apply<H: OktaApi, S: OktaApi>(
    plan: &Plan,
    hub: &H,
    spoke: &S,
    journal: &Journal,
    opts: &ApplyOptions,
) -> Result<ApplySummary, ApplyError> {
    let audit = Audit {
        file: Mutex::new(open_append(&opts.audit_log, false)?),
        plan_id: plan.plan_id.clone(),
        operator: opts.operator.clone(),
    };
    let reset_urls = match &opts.reset_urls {
        Some(p) => Some(Mutex::new(open_append(p, true)?)),
        None => None,
    };
    let ctx = Ctx {
        plan,
        hub,
        spoke,
        journal,
        opts,
        audit,
        changes: AtomicU64::new(0),
        reset_urls,
    };
    let total = plan.subjects.len();
    let finished = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<SubjectResult> = futures::stream::iter(plan.subjects.iter())
        .map(|s| run_subject(&ctx, s))
        .buffer_unordered(opts.concurrency.max(1))
        .inspect(|_| {
            let n = finished.fetch_add(1, Ordering::SeqCst) + 1;
            if let Some(p) = &opts.progress {
                (p.0)(n, total);
            }
        })
        .collect()
        .await;
    results.sort_by(|a, b| a.subject.cmp(&b.subject));
    let mut counts = BTreeMap::new();
    for r in &results {
        *counts.entry(r.state.label().to_string()).or_insert(0) += 1;
    }
    Ok(ApplySummary {
        plan_id: plan.plan_id.clone(),
        subjects: results,
        counts,
    })
}

async fn run_subject<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    subject: &PlannedSubject,
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
    let steps: Vec<&Step> = ctx
        .plan
        .steps
        .iter()
        .filter(|s| s.subject == subject.key)
        .collect();
    if steps.is_empty() {
        return result(SubjectState::Done, None);
    }
    let mut last_detail = None;
    for step in steps {
        match run_step(ctx, subject, step).await {
            Ok(detail) => last_detail = detail,
            Err(stop) => {
                let (state, final_state, detail) = match stop {
                    Stop::Waiting(d) => (SubjectState::Waiting, Some(StepState::Waiting), d),
                    Stop::Drift(d) => (SubjectState::SkippedDrift, Some(StepState::Skipped), d),
                    Stop::Skipped(d) => (SubjectState::Skipped, Some(StepState::Skipped), d),
                    Stop::NotNow(d) => (SubjectState::Skipped, None, d),
                    Stop::Failed(d) => (SubjectState::Failed, Some(StepState::Failed), d),
                    Stop::Transient(d) => (SubjectState::Failed, None, d),
                };
                if let Some(journal_state) = final_state {
                    let _ = ctx.journal.finish(
                        &step.id,
                        &subject.key,
                        &step.action,
                        journal_state,
                        Some(&detail),
                        None,
                    );
                }
                let _ = ctx
                    .journal
                    .set_subject(&subject.key, state.label(), Some(&detail));
                return result(state, Some(detail));
            }
        }
    }
    let _ = ctx
        .journal
        .set_subject(&subject.key, "done", last_detail.as_deref());
    result(SubjectState::Done, last_detail)
}

fn id_of(subject: &PlannedSubject, key: &str) -> Option<String> {
    subject.ids.get(key).cloned()
}

/// The Org2Org app and the assignment (app user) a subject's steps act on.
fn assignment_ids(subject: &PlannedSubject) -> Result<(AppId, UserId), Stop> {
    match (id_of(subject, "app_id"), id_of(subject, "app_user_id")) {
        (Some(app), Some(uid)) => Ok((AppId(app), UserId(uid))),
        _ => Err(Stop::Failed(
            "the plan has no app or assignment id for this subject".into(),
        )),
    }
}

/// Re-reads a subject from Okta in the shape the collector built (without history events).
async fn read_subject<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    subject: &PlannedSubject,
) -> Result<Value, OktaError> {
    if ctx.plan.source.subjects_kind == "user" {
        let user = match id_of(subject, "user_id") {
            Some(id) => ctx
                .hub
                .get_user(&id)
                .await?
                .map(|f| f.value.to_value())
                .unwrap_or(Value::Null),
            None => Value::Null,
        };
        return Ok(json!({ "org": ctx.hub.org_name(), "user": user }));
    }
    let assignment = match (id_of(subject, "app_id"), id_of(subject, "app_user_id")) {
        (Some(app), Some(uid)) => ctx
            .spoke
            .get_app_user(&AppId(app), &UserId(uid), false)
            .await?
            .map(|f| f.value.to_value())
            .unwrap_or(Value::Null),
        _ => Value::Null,
    };
    let spoke_user = match id_of(subject, "spoke_user_id") {
        Some(id) => ctx
            .spoke
            .get_user(&id)
            .await?
            .map(|f| f.value.to_value())
            .unwrap_or(Value::Null),
        None => Value::Null,
    };
    // The hub user by id when there was one; otherwise by login (it may have appeared since).
    let login = assignment
        .pointer("/credentials/userName")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| subject.key.clone());
    let user = match id_of(subject, "user_id") {
        Some(id) => ctx.hub.get_user(&id).await?,
        None => ctx.hub.get_user(&login).await?,
    }
    .map(|f| f.value.to_value())
    .unwrap_or(Value::Null);
    Ok(json!({
        "app": { "id": id_of(subject, "app_id") },
        "assignment": assignment,
        "spoke_user": spoke_user,
        "user": user,
        "events": [],
    }))
}

/// A value as a drift line shows it: a user (an object with a login) by login and status, anything
/// else as JSON cut at 80 characters.
fn show_value(v: &Value) -> String {
    if let Some(login) = v.pointer("/profile/login").and_then(Value::as_str) {
        return format!(
            "user {login} ({})",
            v.get("status")
                .and_then(Value::as_str)
                .unwrap_or("no status")
        );
    }
    let text = v.to_string();
    match text.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// Every precondition that no longer holds, as "path: planned X, now Y" joined by "; ". Fields that
/// say what changed come first; `lastUpdated`, which changes with anything, last.
fn drift(step: &Step, current: &Value) -> Option<String> {
    let show = |v: &[Value]| match v {
        [] => "missing".to_string(),
        [one] => show_value(one),
        many => show_value(&Value::Array(many.to_vec())),
    };
    let mut found: Vec<(bool, String)> = Vec::new();
    for pre in &step.preconditions {
        let now: Vec<Value> = match JsonPath::compile(&pre.path) {
            Ok(p) => p.query(current).into_iter().cloned().collect(),
            Err(_) => {
                found.push((
                    false,
                    format!("{}: cannot read this path any more", pre.path),
                ));
                continue;
            }
        };
        if now != pre.values {
            found.push((
                pre.path.ends_with(".lastUpdated"),
                format!(
                    "{}: planned {}, now {}",
                    pre.path,
                    show(&pre.values),
                    show(&now)
                ),
            ));
        }
    }
    found.sort_by_key(|(last, _)| *last);
    (!found.is_empty()).then(|| {
        found
            .into_iter()
            .map(|(_, d)| d)
            .collect::<Vec<_>>()
            .join("; ")
    })
}

fn user_login(v: &Value) -> String {
    v.pointer("/profile/login")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string()
}

/// Runs one step; `Ok(detail)` when it is done.
async fn run_step<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    subject: &PlannedSubject,
    step: &Step,
) -> Result<Option<String>, Stop> {
    let record = ctx.journal.step(&step.id)?;
    let state = record.as_ref().map_or(StepState::Pending, |r| r.state);
    match state {
        StepState::Done => return Ok(record.and_then(|r| r.detail)),
        StepState::Skipped | StepState::Failed => {
            // A finished verdict from an earlier run stands; a new plan is needed to try again.
            let detail = record.and_then(|r| r.detail).unwrap_or_default();
            return Err(if state == StepState::Failed {
                Stop::Failed(detail)
            } else if detail.starts_with("drift:") {
                Stop::Drift(detail)
            } else {
                Stop::Skipped(detail)
            });
        }
        _ => {}
    }
    let current = read_subject(ctx, subject)
        .await
        .map_err(|e| okta_failure(&e))?;
    // A step interrupted mid-call is reconciled from Okta's state, not re-checked for drift: our own
    // call may be what changed the subject.
    let resuming = state == StepState::Intent;
    if !resuming && state != StepState::Waiting {
        if let Some(d) = drift(step, &current) {
            return Err(Stop::Drift(format!("drift: {d}")));
        }
    }
    if step.safety == Safety::Destructive && !ctx.opts.approve_destructive {
        return Err(Stop::NotNow(if resuming {
            "destructive step interrupted mid-way (the user may be deactivated or deleted already; its backup is in the journal): run apply with --approve-destructive to finish it".into()
        } else {
            "destructive step not approved: run apply with --approve-destructive".into()
        }));
    }
    if step.action == "reset_password"
        && step.params.get("send_email").and_then(Value::as_bool) == Some(false)
        && ctx.reset_urls.is_none()
    {
        return Err(Stop::NotNow(
            "`send_email: false` returns a one-time reset URL: run apply with --reset-urls FILE to receive it".into(),
        ));
    }
    if step.safety != Safety::Safe && !resuming && state == StepState::Pending {
        let n = ctx.changes.fetch_add(1, Ordering::SeqCst) + 1;
        if ctx.opts.max_actions.is_some_and(|m| n > m) {
            return Err(Stop::NotNow(
                "over --max-actions for this run; run apply again".into(),
            ));
        }
    }
    let detail = match step.action.as_str() {
        "reset_password" => reset_password(ctx, step, &current).await?,
        "await" => await_step(ctx, step, &current).await?,
        "retry_provisioning" => {
            retry(
                ctx,
                subject,
                step,
                &current,
                step.params
                    .get("method")
                    .and_then(Value::as_str)
                    .unwrap_or("touch"),
            )
            .await?
        }
        "delete_recreate" => delete_recreate(ctx, subject, step, &current).await?,
        "unlock" => simple_user_call(ctx, step, &current, "unlock").await?,
        "activate" => simple_user_call(ctx, step, &current, "activate").await?,
        "report" | "notify" => {
            let msg = step
                .params
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            ctx.audit.record(
                &step.org,
                &subject.key,
                step,
                step.action.as_str(),
                "recorded",
                None,
            );
            Some(msg)
        }
        other => {
            return Err(Stop::Failed(format!(
                "unknown action `{other}` in the plan"
            )))
        }
    };
    ctx.journal.finish(
        &step.id,
        &subject.key,
        &step.action,
        StepState::Done,
        detail.as_deref(),
        None,
    )?;
    Ok(detail)
}

/// Attempts of one mutating call in one run when the answer leaves its outcome unknown or says "not
/// now" (dropped connection, 5xx, 429); each attempt after the first is preceded by reconciliation.
const CALL_ATTEMPTS: u32 = 3;

/// Runs one mutating call under the journal: skipped if it already succeeded, reconciled with
/// `applied` (a read of Okta's state) when an earlier attempt's outcome is unknown, made otherwise.
/// An answer that leaves the outcome unknown is never retried blindly: the intent stays open, the
/// next attempt (or run) first asks `applied`.
async fn journaled<T, F, Fut, A, AFut>(
    ctx: &Ctx<'_, impl OktaApi, impl OktaApi>,
    step: &Step,
    user: &str,
    org: &str,
    call: &str,
    make: F,
    applied: A,
) -> Result<Option<T>, Stop>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(T, Option<String>), OktaError>>,
    A: Fn() -> AFut,
    AFut: std::future::Future<Output = Result<bool, OktaError>>,
{
    let mut attempt = 0;
    loop {
        if ctx.journal.had_outcome(&step.id, call)? {
            return Ok(None);
        }
        if ctx.journal.open_intent(&step.id, call)? {
            // An earlier attempt (this run or a killed one) may have happened: ask Okta first.
            if applied().await.map_err(|e| okta_failure(&e))? {
                ctx.journal
                    .call_outcome(&step.id, call, "reconciled: applied", None)?;
                ctx.audit
                    .record(org, user, step, call, "reconciled: already applied", None);
                return Ok(None);
            }
        }
        ctx.journal
            .intent(&step.id, &step.subject, &step.action, call)?;
        attempt += 1;
        match make().await {
            Ok((value, request_id)) => {
                ctx.journal
                    .call_outcome(&step.id, call, "ok", request_id.as_deref())?;
                ctx.audit
                    .record(org, user, step, call, "ok", request_id.as_deref());
                return Ok(Some(value));
            }
            Err(e) => {
                ctx.audit.record(
                    org,
                    user,
                    step,
                    call,
                    &format!("error: {e}"),
                    e.request_id(),
                );
                if !transient(&e) {
                    ctx.journal.call_outcome(
                        &step.id,
                        call,
                        &format!("error: {e}"),
                        e.request_id(),
                    )?;
                    return Err(Stop::Failed(e.to_string()));
                }
                if attempt >= CALL_ATTEMPTS {
                    return Err(okta_failure(&e));
                }
                // The intent stays open; the next pass reconciles before trying again.
                tokio::time::sleep(
                    ctx.opts.poll_interval.min(Duration::from_millis(200)) * attempt,
                )
                .await;
            }
        }
    }
}

fn provider(v: &Value) -> Option<&str> {
    v.pointer("/credentials/provider/type")
        .and_then(Value::as_str)
}

fn status(v: &Value) -> Option<&str> {
    v.get("status").and_then(Value::as_str)
}

async fn reset_password<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    step: &Step,
    current: &Value,
) -> Result<Option<String>, Stop> {
    let Some(id) = current
        .get("id")
        .or_else(|| current.pointer("/user/id"))
        .and_then(Value::as_str)
    else {
        return Err(Stop::Failed("no hub user to reset".into()));
    };
    let user = current.get("user").unwrap_or(current);
    let login = user_login(user);
    let send_email = step
        .params
        .get("send_email")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let uid = UserId(id.to_string());
    let planned_fed = step
        .preconditions
        .iter()
        .any(|p| p.path == "$.user.credentials.provider.type" && p.values == [json!("FEDERATION")]);
    let planned_updated = step
        .preconditions
        .iter()
        .find(|p| p.path == "$.user.lastUpdated")
        .and_then(|p| p.values.first().cloned());
    let outcome = journaled(
        ctx,
        step,
        &login,
        &step.org,
        "reset_password",
        || async {
            let r = ctx.hub.reset_password(&uid, send_email).await?;
            let rid = r.request_id.clone();
            Ok((r, rid))
        },
        || async {
            let u = ctx
                .hub
                .get_user(id)
                .await?
                .map(|f| f.value.to_value())
                .unwrap_or(Value::Null);
            // A FEDERATION user is converted by the reset; any other user was drift-checked right
            // before the intent, so a RECOVERY user whose lastUpdated moved since the plan was reset.
            Ok(if planned_fed {
                provider(&u) == Some("OKTA")
            } else {
                status(&u) == Some("RECOVERY")
                    && planned_updated
                        .as_ref()
                        .is_none_or(|v| u.get("lastUpdated") != Some(v))
            })
        },
    )
    .await?;
    if let (Some(r), Some(file)) = (&outcome, &ctx.reset_urls) {
        if let Some(url) = &r.reset_password_url {
            if let Ok(mut f) = file.lock() {
                let _ = writeln!(f, "{login}\t{}", url.expose());
                let _ = f.flush();
            }
        }
    }
    // Confirm with a GET, do not assume.
    let after = ctx
        .hub
        .get_user(id)
        .await
        .map_err(|e| okta_failure(&e))?
        .map(|f| f.value.to_value())
        .unwrap_or(Value::Null);
    match (status(&after), provider(&after)) {
        (Some("RECOVERY") | Some("ACTIVE") | Some("PASSWORD_EXPIRED"), Some("OKTA")) => {
            Ok(Some(format!(
                "password reset; {login} is {} with provider OKTA{}",
                status(&after).unwrap_or("?"),
                match (&outcome, send_email) {
                    (Some(_), _) => "",
                    (None, true) => " (from an earlier run)",
                    (None, false) =>
                        " (from an earlier, interrupted run: its one-time reset URL may not have been saved; reset again by hand if the user has no way in)",
                }
            )))
        }
        (s, p) => Err(Stop::Failed(format!(
            "reset_password did not take effect: {login} is {} with provider {}",
            s.unwrap_or("missing"),
            p.unwrap_or("missing")
        ))),
    }
}

async fn await_step<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    step: &Step,
    current: &Value,
) -> Result<Option<String>, Stop> {
    let until = step.params.get("until").cloned().unwrap_or(Value::Null);
    let cond = crate::rulebook::condition_from_json(&until)
        .map_err(|e| Stop::Failed(format!("cannot read the await condition: {e}")))?;
    let now = Utc::now();
    let explanation = cond.evaluate(current, now);
    let text = crate::review::condition_summary(&explanation);
    if explanation.outcome() == Outcome::Holds {
        return Ok(Some(format!("{text} holds")));
    }
    let started = ctx
        .journal
        .touch_started(&step.id, &step.subject, &step.action)?;
    let timeout = step
        .params
        .get("timeout")
        .and_then(Value::as_str)
        .and_then(|t| humantime::parse_duration(t).ok())
        .unwrap_or(Duration::from_secs(7 * 86400));
    let deadline =
        started + chrono::Duration::from_std(timeout).unwrap_or(chrono::Duration::days(7));
    if now > deadline {
        return Err(Stop::Failed(format!(
            "timed out: {text} did not hold by {} (waited since {})",
            deadline.to_rfc3339_opts(SecondsFormat::Secs, true),
            started.to_rfc3339_opts(SecondsFormat::Secs, true)
        )));
    }
    Err(Stop::Waiting(format!(
        "waiting until {text} (deadline {})",
        deadline.to_rfc3339_opts(SecondsFormat::Secs, true)
    )))
}

fn linked(a: &Value) -> bool {
    a.get("syncState").and_then(Value::as_str) == Some("SYNCHRONIZED")
        && a.get("externalId")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
}

/// Polls the assignment until it is linked, fails again, or the timeout passes.
async fn verify_push<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    app: &AppId,
    uid: &UserId,
    step: &Step,
    since_sync: Option<String>,
) -> Result<Value, Stop> {
    let timeout = step
        .params
        .get("timeout")
        .and_then(Value::as_str)
        .and_then(|t| humantime::parse_duration(t).ok())
        .unwrap_or(Duration::from_secs(300));
    let deadline = tokio::time::Instant::now() + timeout;
    // Okta pushes in the background: an ERROR seen right after the call may be the old one. It is
    // the new verdict once `lastSync` moves, or once it has stayed through a few polls.
    let mut errors_seen = 0;
    loop {
        let a = ctx
            .spoke
            .get_app_user(app, uid, false)
            .await
            .map_err(|e| okta_failure(&e))?
            .map(|f| f.value.to_value())
            .unwrap_or(Value::Null);
        if linked(&a) {
            return Ok(a);
        }
        let sync = a
            .get("lastSync")
            .and_then(Value::as_str)
            .map(str::to_string);
        if a.get("syncState").and_then(Value::as_str) == Some("ERROR") {
            errors_seen += 1;
            if (sync.is_some() && sync != since_sync) || errors_seen >= 3 {
                return Err(Stop::Failed(
                    "provisioning failed again: the assignment is in syncState ERROR; see the spoke System Log".into(),
                ));
            }
        } else {
            errors_seen = 0;
        }
        if tokio::time::Instant::now() >= deadline {
            // Not a verdict: the push may still land; the next run checks again without pushing.
            return Err(Stop::Transient(format!(
                "provisioning not confirmed within {}: syncState {}; run apply again to check",
                humantime::format_duration(timeout),
                a.get("syncState")
                    .and_then(Value::as_str)
                    .unwrap_or("missing")
            )));
        }
        tokio::time::sleep(ctx.opts.poll_interval).await;
    }
}

async fn retry<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    subject: &PlannedSubject,
    step: &Step,
    current: &Value,
    method: &str,
) -> Result<Option<String>, Stop> {
    let (app, uid) = assignment_ids(subject)?;
    let assignment = current.get("assignment").cloned().unwrap_or(Value::Null);
    let login = subject.key.clone();
    if linked(&assignment) {
        return Ok(Some("already provisioned (SYNCHRONIZED and linked)".into()));
    }
    let last_sync = assignment
        .get("lastSync")
        .and_then(Value::as_str)
        .map(str::to_string);
    match method {
        "manual" => {
            let line = format!(
                "{login}\tapp {}\tretry under Dashboard > Tasks > Provisioning failures\n",
                app.0
            );
            let mut f = open_append(&ctx.opts.manual_retries, false)
                .map_err(|e| Stop::Failed(e.to_string()))?;
            if !ctx.journal.had_intent(&step.id, "manual")? {
                ctx.journal
                    .intent(&step.id, &step.subject, &step.action, "manual")?;
                let _ = f.write_all(line.as_bytes());
                ctx.journal
                    .call_outcome(&step.id, "manual", "listed", None)?;
            }
            Err(Stop::Waiting(format!(
                "listed in {} for a manual retry; waiting for SYNCHRONIZED",
                ctx.opts.manual_retries.display()
            )))
        }
        "reassign" => {
            if assignment.get("scope").and_then(Value::as_str) == Some("GROUP") {
                return Err(Stop::Failed(
                    "refused: the assignment comes from a group and cannot be unassigned individually (E0000046); use method touch or manual".into(),
                ));
            }
            if assignment
                .get("externalId")
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty())
            {
                return Err(Stop::Failed(
                    "refused: the assignment is linked to a hub user (externalId set); unassigning it would unlink that user; use method touch or manual".into(),
                ));
            }
            if !assignment.is_null() {
                ctx.journal
                    .backup(&subject.key, "assignment", &step.org, &login, &assignment)?;
            }
            let saved = ctx
                .journal
                .backup_for(&subject.key, "assignment")?
                .map(|b| b.body)
                .ok_or_else(|| {
                    Stop::Failed("no assignment to reassign and no backup of one".into())
                })?;
            journaled(
                ctx,
                step,
                &login,
                &step.org,
                "unassign",
                || async {
                    ctx.spoke
                        .unassign_app_user(&app, &uid, false)
                        .await
                        .map(|f| ((), f.request_id))
                },
                || async { Ok(ctx.spoke.get_app_user(&app, &uid, false).await?.is_none()) },
            )
            .await?;
            let body = AppUserAssignment {
                id: uid.clone(),
                scope: Some("USER".into()),
                credentials: saved.get("credentials").cloned(),
                profile: saved.get("profile").and_then(Value::as_object).cloned(),
            };
            journaled(
                ctx,
                step,
                &login,
                &step.org,
                "assign",
                || async {
                    ctx.spoke
                        .assign_app_user(&app, &body)
                        .await
                        .map(|f| ((), f.request_id))
                },
                || async { Ok(ctx.spoke.get_app_user(&app, &uid, false).await?.is_some()) },
            )
            .await
            .map_err(|stop| {
                hint(
                    stop,
                    "the assignment was removed and is not re-created yet; its copy is in the journal",
                )
            })?;
            verify_push(ctx, &app, &uid, step, last_sync).await?;
            Ok(Some("re-assigned; SYNCHRONIZED and linked".into()))
        }
        _ => {
            repush(
                ctx,
                step,
                &login,
                &step.org,
                "touch",
                &app,
                &uid,
                &assignment,
            )
            .await?;
            Ok(Some("pushed again; SYNCHRONIZED and linked".into()))
        }
    }
}

/// Pushes an assignment again (`POST /api/v1/apps/{appId}/users/{userId}` with its own profile) and
/// verifies the result. The assignment's `lastUpdated` and `lastSync` before the first attempt are
/// kept in the journal, so a resumed run can tell whether its own earlier push reached Okta (Okta bumps
/// `lastUpdated` on every update) and whether an ERROR is new.
#[allow(clippy::too_many_arguments)]
async fn repush<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    step: &Step,
    login: &str,
    org: &str,
    call: &str,
    app: &AppId,
    uid: &UserId,
    assignment: &Value,
) -> Result<(), Stop> {
    let note = format!("{call}-before");
    let before: Value = match ctx.journal.first_outcome(&step.id, &note)? {
        Some(text) => serde_json::from_str(&text).unwrap_or(Value::Null),
        None => {
            let v = json!({
                "lastUpdated": assignment.get("lastUpdated"),
                "lastSync": assignment.get("lastSync"),
            });
            ctx.journal
                .call_outcome(&step.id, &note, &v.to_string(), None)?;
            v
        }
    };
    let field = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let before_updated = field(&before, "lastUpdated");
    let body = json!({ "profile": assignment.get("profile").cloned().unwrap_or(json!({})) });
    journaled(
        ctx,
        step,
        login,
        org,
        call,
        || async {
            ctx.spoke
                .update_app_user(app, uid, &body)
                .await
                .map(|f| ((), f.request_id))
        },
        || async {
            let a = ctx
                .spoke
                .get_app_user(app, uid, false)
                .await?
                .map(|f| f.value.to_value())
                .unwrap_or(Value::Null);
            Ok(linked(&a) || field(&a, "lastUpdated") != before_updated)
        },
    )
    .await?;
    verify_push(ctx, app, uid, step, field(&before, "lastSync")).await?;
    Ok(())
}

async fn simple_user_call<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    step: &Step,
    current: &Value,
    what: &str,
) -> Result<Option<String>, Stop> {
    let user = current.get("user").unwrap_or(current);
    let Some(id) = user.get("id").and_then(Value::as_str) else {
        return Err(Stop::Failed("no user to act on".into()));
    };
    let uid = UserId(id.to_string());
    let login = user_login(user);
    let send_email = step
        .params
        .get("send_email")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    // Okta activates only STAGED and DEPROVISIONED users; a PROVISIONED user (activation pending) gets
    // its activation re-sent with `reactivate`.
    let reactivate = what == "activate" && status(user) == Some("PROVISIONED");
    let planned_update = step
        .preconditions
        .iter()
        .find(|p| p.path == "$.user.lastUpdated")
        .and_then(|p| p.values.first())
        .and_then(Value::as_str)
        .map(str::to_string);
    journaled(
        ctx,
        step,
        &login,
        &step.org,
        what,
        || async {
            if what == "unlock" {
                ctx.hub.unlock_user(&uid).await.map(|f| ((), f.request_id))
            } else if reactivate {
                ctx.hub
                    .reactivate_user(&uid, send_email)
                    .await
                    .map(|f| ((), f.request_id))
            } else {
                ctx.hub
                    .activate_user(&uid, send_email)
                    .await
                    .map(|f| ((), f.request_id))
            }
        },
        || async {
            let u = ctx
                .hub
                .get_user(id)
                .await?
                .map(|f| f.value.to_value())
                .unwrap_or(Value::Null);
            let moved = u.get("lastUpdated").and_then(Value::as_str) != planned_update.as_deref();
            Ok(if what == "unlock" {
                status(&u) != Some("LOCKED_OUT")
            } else if reactivate {
                // Still PROVISIONED either way: the re-send happened if the user changed since the plan.
                status(&u) == Some("ACTIVE") || moved
            } else {
                matches!(status(&u), Some("ACTIVE") | Some("PROVISIONED"))
            })
        },
    )
    .await?;
    Ok(Some(format!("{what}: done for {login}")))
}

async fn delete_recreate<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    subject: &PlannedSubject,
    step: &Step,
    current: &Value,
) -> Result<Option<String>, Stop> {
    let (app, app_uid) = assignment_ids(subject)?;
    // 1. Durable backup before anything changes (kept from the first run on resume).
    if ctx.journal.backup_for(&subject.key, "user")?.is_none() {
        let user = current.get("user").cloned().unwrap_or(Value::Null);
        let Some(id) = user.get("id").and_then(Value::as_str) else {
            return Err(Stop::Failed(
                "no hub user to back up; nothing deleted".into(),
            ));
        };
        let uid = UserId(id.to_string());
        let groups = ctx
            .hub
            .user_groups(&uid)
            .await
            .map_err(|e| okta_failure(&e))?;
        let links = ctx
            .hub
            .user_app_links(&uid)
            .await
            .map_err(|e| okta_failure(&e))?;
        let body = json!({
            "user": user,
            "groups": groups.iter().map(JsonModel::to_value).collect::<Vec<_>>(),
            "app_links": links.iter().map(JsonModel::to_value).collect::<Vec<_>>(),
        });
        ctx.journal
            .backup(&subject.key, "user", &step.org, &user_login(&user), &body)?;
    }
    let backup = ctx
        .journal
        .backup_for(&subject.key, "user")?
        .ok_or_else(|| Stop::Failed("the backup is missing from the journal".into()))?;
    let old = backup.body.get("user").cloned().unwrap_or(Value::Null);
    let old_id = old
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let login = user_login(&old);
    let old_uid = UserId(old_id.clone());
    // 2. Deactivate, then delete (a DELETE on an active user only deactivates it).
    let gone_or = |want: &'static str| {
        let id = old_id.clone();
        async move {
            let u = ctx.hub.get_user(&id).await?;
            Ok::<bool, OktaError>(match u {
                None => true,
                Some(f) => {
                    want == "deactivated"
                        && f.value.to_value().get("status").and_then(Value::as_str)
                            == Some("DEPROVISIONED")
                }
            })
        }
    };
    journaled(
        ctx,
        step,
        &login,
        &step.org,
        "deactivate",
        || async {
            match ctx.hub.get_user(&old_id).await? {
                Some(f)
                    if f.value.to_value().get("status").and_then(Value::as_str)
                        != Some("DEPROVISIONED") =>
                {
                    ctx.hub
                        .delete_user(&old_uid, false)
                        .await
                        .map(|f| ((), f.request_id))
                }
                _ => Ok(((), None)),
            }
        },
        || gone_or("deactivated"),
    )
    .await?;
    journaled(
        ctx,
        step,
        &login,
        &step.org,
        "delete",
        || async {
            match ctx.hub.get_user(&old_id).await? {
                Some(_) => ctx
                    .hub
                    .delete_user(&old_uid, false)
                    .await
                    .map(|f| ((), f.request_id)),
                None => Ok(((), None)),
            }
        },
        || gone_or("deleted"),
    )
    .await?;
    // 3. Let Org2Org recreate the user from the spoke.
    let assignment = ctx
        .spoke
        .get_app_user(&app, &app_uid, false)
        .await
        .map_err(|e| okta_failure(&e))?
        .map(|f| f.value.to_value())
        .unwrap_or(Value::Null);
    if !linked(&assignment) {
        repush(
            ctx,
            step,
            &login,
            "spoke",
            "repush",
            &app,
            &app_uid,
            &assignment,
        )
        .await
        .map_err(|stop| {
            hint(
                stop,
                &format!(
                    "{login} is deleted from the hub and not recreated yet; `remedy restore --journal {} --user {login}` brings it back from the backup",
                    ctx.journal.path().display()
                ),
            )
        })?;
    }
    // 4. The new hub user must be OKTA-provider; then give back its groups.
    let new = ctx
        .hub
        .get_user(&login)
        .await
        .map_err(|e| okta_failure(&e))?
        .map(|f| f.value.to_value())
        .ok_or_else(|| {
            Stop::Failed(format!(
                "{login} was not recreated in the hub; restore it with `remedy restore`"
            ))
        })?;
    if provider(&new) != Some("OKTA") {
        return Err(Stop::Failed(format!(
            "the recreated {login} has provider {}, not OKTA",
            provider(&new).unwrap_or("missing")
        )));
    }
    let new_id = UserId(
        new.get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    );
    let groups: Vec<(String, String)> = backup
        .body
        .get("groups")
        .and_then(Value::as_array)
        .map(|gs| {
            gs.iter()
                .filter(|g| g.get("type").and_then(Value::as_str) != Some("BUILT_IN"))
                .filter_map(|g| {
                    Some((
                        g.get("id")?.as_str()?.to_string(),
                        g.pointer("/profile/name")
                            .and_then(Value::as_str)
                            .unwrap_or("?")
                            .to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    for (gid, _) in &groups {
        // Adding a member is idempotent in Okta, so a resumed run may repeat it safely.
        let r = ctx
            .hub
            .add_user_to_group(&GroupId(gid.clone()), &new_id)
            .await
            .map_err(|e| okta_failure(&e))?;
        ctx.audit.record(
            &step.org,
            &login,
            step,
            "add_to_group",
            "ok",
            r.request_id.as_deref(),
        );
    }
    Ok(Some(format!(
        "recreated {login} as {} (provider OKTA), {} groups restored; backup kept in the journal",
        new_id.0,
        groups.len()
    )))
}

/// Recreates a deleted user from its journal backup (profile, provider type, groups), for a recreate
/// that did not complete.
pub async fn restore<H: OktaApi>(
    hub: &H,
    journal: &Journal,
    login: &str,
) -> Result<Restored, RestoreError> {
    let backup = journal
        .backup_by_login(login)?
        .ok_or_else(|| RestoreError::NoBackup(login.to_string()))?;
    let user = backup.body.get("user").cloned().unwrap_or(Value::Null);
    if let Some(existing) = hub.get_user(login).await? {
        return Err(RestoreError::Exists(login.to_string(), existing.value.id.0));
    }
    let profile = user
        .get("profile")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    // The backup's provider is kept; Okta needs `?provider=true` to create a non-OKTA one.
    let provider = user.pointer("/credentials/provider").cloned();
    let non_okta = provider
        .as_ref()
        .and_then(|p| p.get("type"))
        .and_then(Value::as_str)
        .is_some_and(|t| t != "OKTA");
    let new_user = crate::okta::NewUser {
        profile,
        provider: non_okta,
        credentials: provider.map(|p| json!({ "provider": p })),
        group_ids: backup
            .body
            .get("groups")
            .and_then(Value::as_array)
            .map(|gs| {
                gs.iter()
                    .filter(|g| g.get("type").and_then(Value::as_str) != Some("BUILT_IN"))
                    .filter_map(|g| {
                        g.get("id")
                            .and_then(Value::as_str)
                            .map(|s| GroupId(s.to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default(),
        user_type: user.get("type").cloned(),
    };
    let activate = user.get("status").and_then(Value::as_str) != Some("STAGED");
    let groups = new_user.group_ids.len();
    let created = hub.create_user(&new_user, activate).await?;
    Ok(Restored {
        id: created.value.id.0.clone(),
        status: created
            .value
            .to_value()
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string(),
        groups,
        provider: created
            .value
            .to_value()
            .pointer("/credentials/provider/type")
            .and_then(Value::as_str)
            .unwrap_or("OKTA")
            .to_string(),
        request_id: created.request_id.clone(),
    })
}

/// What `restore` recreated.
#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    /// The new user's id.
    pub id: String,
    pub status: String,
    /// Groups asked for in the create request (`groupIds`).
    pub groups: usize,
    /// The provider type the user was recreated with (the backup's).
    pub provider: String,
    pub request_id: Option<String>,
}

/// Why a restore failed.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Okta(#[from] OktaError),
    #[error("the journal has no backup of `{0}`")]
    NoBackup(String),
    #[error("`{0}` exists in the hub already (id {1}); nothing to restore")]
    Exists(String, String),
}

/// Plain-text summary of a run.
pub fn render_summary(
    summary: &ApplySummary,
    journal: &std::path::Path,
    audit: &std::path::Path,
) -> String {
    let mut out = String::new();
    for r in &summary.subjects {
        let mark = match r.state {
            SubjectState::Done => "done     ",
            SubjectState::Waiting => "waiting  ",
            SubjectState::SkippedDrift => "drift    ",
            SubjectState::Skipped => "skipped  ",
            SubjectState::Failed => "FAILED   ",
            SubjectState::Protected => "protected",
        };
        // The journal keeps a drift verdict as "drift: ..."; the mark says it already.
        let detail = r
            .detail
            .as_deref()
            .map(|d| d.strip_prefix("drift: ").unwrap_or(d));
        out.push_str(&format!(
            "  {mark} {}{}\n",
            r.subject,
            detail.map(|d| format!(": {d}")).unwrap_or_default()
        ));
    }
    out.push_str(&format!(
        "\nApply {}: {} done, {} waiting, {} skipped for drift, {} skipped, {} failed, {} protected.\n",
        summary.plan_id,
        summary.count(SubjectState::Done),
        summary.count(SubjectState::Waiting),
        summary.count(SubjectState::SkippedDrift),
        summary.count(SubjectState::Skipped),
        summary.count(SubjectState::Failed),
        summary.count(SubjectState::Protected),
    ));
    out.push_str(&format!(
        "Journal: {}\nAudit log: {}\n",
        journal.display(),
        audit.display()
    ));
    if summary.count(SubjectState::Waiting) > 0 {
        out.push_str("Some subjects are waiting: `remedy status` shows why; run apply again later to continue.\n");
    }
    out
}

/// Now, as the journal writes it (for status output).
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}
