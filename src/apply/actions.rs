//! Running one step: its journal record decides whether it runs at all, then drift, approval and
//! rate guards, then the action itself. The user-level actions (`reset_password`, `unlock`,
//! `activate`), `await` and `report` live here; `notify` deliveries, provisioning retries and
//! delete-recreate have modules of their own.

use std::sync::atomic::Ordering;

use chrono::SecondsFormat;
use serde_json::Value;

use super::call::{close_open_intents, journaled, Target};
use super::journal::StepState;
use super::observe::{drift, provider, refresh, status, Needs, Observed};
use super::stop::{okta_failure, Stop};
use super::{recreate, retry, Ctx};
use crate::condition::Outcome;
use crate::okta::{OktaApi, UserId};
use crate::plan::{PlannedSubject, Step, StepAction};
use crate::rulebook::{ActionKind, Safety};
use crate::subject::shape;

/// A step's verdict recorded by an earlier run, if it is final (a new plan is needed to try again),
/// or `Ok(Some(detail))` if it is done.
pub(super) fn recorded(
    ctx: &Ctx<'_, impl OktaApi, impl OktaApi>,
    step: &Step,
) -> Result<Recorded, Stop> {
    let record = ctx.journal.step(&step.id)?;
    let state = record.as_ref().map_or(StepState::Pending, |r| r.state);
    let detail = record.and_then(|r| r.detail);
    Ok(match state {
        StepState::Done => Recorded::Done(detail),
        StepState::Failed => Recorded::Final(Stop::Failed(detail.unwrap_or_default())),
        StepState::Skipped => {
            let d = detail.unwrap_or_default();
            Recorded::Final(if d.starts_with("drift:") {
                Stop::Drift(d)
            } else if d.starts_with("refused:") {
                Stop::Refused(d)
            } else {
                Stop::Skipped(d)
            })
        }
        other => Recorded::Open(other),
    })
}

/// What the journal says of a step.
pub(super) enum Recorded {
    Done(Option<String>),
    Final(Stop),
    /// Not finished: pending, waiting, or an intent whose outcome is unknown.
    Open(StepState),
}

/// Runs one step; `Ok(detail)` when it is done. `observed` is the subject as this run last read
/// it: the objects the step needs are re-read unless still current, and the step marks what its calls
/// changed.
pub(super) async fn run_step<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    subject: &PlannedSubject,
    step: &Step,
    observed: &mut Observed,
) -> Result<Option<String>, Stop> {
    let state = match recorded(ctx, step)? {
        Recorded::Done(detail) => return Ok(detail),
        Recorded::Final(stop) => return Err(stop),
        Recorded::Open(state) => state,
    };
    refresh(ctx, subject, observed, needs(ctx.rulebook, step))
        .await
        .map_err(|e| okta_failure(&e))?;
    let current = observed.state.clone();
    // A step interrupted mid-call is reconciled from Okta's state, not re-checked for drift: our own
    // call may be what changed the subject.
    let resuming = state == StepState::Intent;
    if !resuming && state != StepState::Waiting {
        if let Some(d) = drift(step, &current) {
            return Err(Stop::Drift(format!("drift: {d}")));
        }
    }
    guard(ctx, step, state)?;
    // From here on the step's calls may change the objects it names: what it does not re-read
    // itself is read again by the next step that needs it.
    match &step.action {
        StepAction::ResetPassword { .. } | StepAction::Unlock {} | StepAction::Activate { .. } => {
            observed.user_changed()
        }
        StepAction::RetryProvisioning { .. } | StepAction::DeleteRecreate {} => {
            observed.all_changed()
        }
        StepAction::Await { .. } | StepAction::Report { .. } | StepAction::Notify { .. } => {}
    }
    let detail = act(ctx, subject, step, &current, observed).await?;
    // The step verified its outcome: any call a killed run left open took effect.
    close_open_intents(
        ctx,
        &Target {
            step,
            user: &subject.key,
            org: &step.org,
        },
    )?;
    ctx.journal.finish(
        &step.id,
        &subject.key,
        step.action.name(),
        StepState::Done,
        detail.as_deref(),
        None,
    )?;
    Ok(detail)
}

/// The step's action itself, on the subject's `current` state.
async fn act<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    subject: &PlannedSubject,
    step: &Step,
    current: &Value,
    observed: &mut Observed,
) -> Result<Option<String>, Stop> {
    Ok(match &step.action {
        StepAction::ResetPassword { send_email } => {
            reset_password(ctx, step, current, *send_email, observed).await?
        }
        StepAction::Await { .. } => await_step(ctx, step, current).await?,
        StepAction::RetryProvisioning { method, .. } => {
            retry::run(ctx, subject, step, current, *method).await?
        }
        StepAction::DeleteRecreate {} => recreate::run(ctx, subject, step, current).await?,
        StepAction::Unlock {} => user_call(ctx, step, current, UserCall::Unlock).await?,
        StepAction::Activate { send_email } => {
            let call = if status(shape::hub_user(current)) == Some("PROVISIONED") {
                // Okta activates only STAGED and DEPROVISIONED users; a PROVISIONED user (activation
                // pending) gets its activation re-sent with `reactivate`.
                UserCall::Reactivate(*send_email)
            } else {
                UserCall::Activate(*send_email)
            };
            user_call(ctx, step, current, call).await?
        }
        StepAction::Notify { message, channel } => {
            super::notify::run(ctx, subject, step, message, channel.as_deref()).await?
        }
        StepAction::Report { message } => {
            ctx.audit.record(
                &step.org,
                &subject.key,
                step,
                step.action.name(),
                "recorded",
                None,
            )?;
            Some(message.clone())
        }
    })
}

/// Approval, the reset-URL file and `--max-actions`: reasons a step does not run in this run.
fn guard(
    ctx: &Ctx<'_, impl OktaApi, impl OktaApi>,
    step: &Step,
    state: StepState,
) -> Result<(), Stop> {
    let resuming = state == StepState::Intent;
    if step.safety == Safety::Destructive
        && !ctx.opts.approve_destructive
        && !ctx.opts.approved.contains(&step.subject)
    {
        return Err(Stop::NotNow(if resuming {
            "destructive step interrupted mid-way (the user may be deactivated or deleted already; its backup is in the journal): run apply with --approve-destructive to finish it".into()
        } else {
            "destructive step not approved: run apply with --approve-destructive".into()
        }));
    }
    if matches!(step.action, StepAction::ResetPassword { send_email: false })
        && ctx.reset_urls.is_none()
    {
        return Err(Stop::NotNow(
            "`send_email: false` returns a one-time reset URL: run apply with --reset-urls FILE to receive it".into(),
        ));
    }
    if step.safety != Safety::Safe && state == StepState::Pending {
        let n = ctx.changes.fetch_add(1, Ordering::SeqCst) + 1;
        if ctx.opts.max_actions.is_some_and(|m| n > m) {
            return Err(Stop::NotNow(
                "over --max-actions for this run; run apply again".into(),
            ));
        }
    }
    Ok(())
}

async fn reset_password<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    step: &Step,
    current: &Value,
    send_email: bool,
    observed: &mut Observed,
) -> Result<Option<String>, Stop> {
    let user = shape::hub_user(current);
    let Some(id) = user.get("id").and_then(Value::as_str) else {
        return Err(Stop::Failed("no hub user to reset".into()));
    };
    let login = shape::login(user);
    let uid = UserId(id.to_string());
    let planned_fed = step.preconditions.iter().any(|p| {
        p.path == "$.user.credentials.provider.type" && p.values == [Value::from("FEDERATION")]
    });
    let planned_updated = planned_value(step, "$.user.lastUpdated");
    let target = Target {
        step,
        user: &login,
        org: &step.org,
    };
    let outcome = journaled(
        ctx,
        &target,
        "reset_password",
        || async {
            let r = ctx.hub.reset_password(&uid, send_email).await?;
            let rid = r.request_id.clone();
            Ok((r, rid))
        },
        || async {
            let u = fetch_user(ctx, id).await?;
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
    if let Some(r) = &outcome {
        save_reset_url(ctx, &login, r)?;
    }
    // Confirm with a GET, do not assume (the reset's answer carries no user state). The read is
    // the user as it is after the reset: the next step uses it instead of reading it again.
    let after = fetch_user(ctx, id).await.map_err(|e| okta_failure(&e))?;
    observed.set_user(after.clone());
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

/// Saves the one-time reset URL of a reset made with `send_email: false` to the `--reset-urls` file.
/// The URL exists only in this answer: if it cannot be saved the run stops loudly (the call is
/// journaled, so the user is not reset again; the message says what to do).
fn save_reset_url<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    login: &str,
    reset: &crate::okta::ResetOutcome,
) -> Result<(), Stop> {
    let (Some(url), Some(file)) = (&reset.reset_password_url, &ctx.reset_urls) else {
        return Ok(());
    };
    file.write_line(&format!("{login}\t{}", url.expose()))
        .map_err(|e| {
            Stop::Fatal(super::ApplyError::ResetUrlLost {
                login: login.to_string(),
                source: Box::new(e),
            })
        })
}

/// The Okta objects a step reads before it runs: those its preconditions name, those its action acts
/// on, and those an `await` waits for. Nothing else is read.
pub(super) fn needs(rulebook: &crate::rulebook::Rulebook, step: &Step) -> Needs {
    let mut needs = Needs::default();
    for p in &step.preconditions {
        needs.path(&p.path);
    }
    match &step.action {
        StepAction::ResetPassword { .. } | StepAction::Unlock {} | StepAction::Activate { .. } => {
            needs.user = true
        }
        StepAction::RetryProvisioning { .. } => needs.assignment = true,
        StepAction::DeleteRecreate {} => {
            needs.user = true;
            needs.assignment = true;
        }
        StepAction::Await { .. } => {
            // Without its `await` in the rulebook the step fails without reading.
            for leaf in await_of(rulebook, step).map_or(Vec::new(), |(until, _)| until.leaves()) {
                needs.path(leaf.path.as_str());
            }
        }
        StepAction::Report { .. } | StepAction::Notify { .. } => {}
    }
    needs
}

/// The first value a step's precondition recorded at `path`.
fn planned_value(step: &Step, path: &str) -> Option<Value> {
    step.preconditions
        .iter()
        .find(|p| p.path == path)
        .and_then(|p| p.values.first().cloned())
}

/// A hub user by id or login, as JSON (`null` when Okta has none).
pub(super) async fn fetch_user<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    id: &str,
) -> Result<Value, crate::okta::OktaError> {
    Ok(ctx
        .hub
        .get_user(id)
        .await?
        .map(|f| crate::okta::JsonModel::to_value(&f.value))
        .unwrap_or(Value::Null))
}

/// The compiled `until` condition and timeout of an `await` step, from the pinned rulebook.
fn await_of<'r>(
    rulebook: &'r crate::rulebook::Rulebook,
    step: &Step,
) -> Option<(&'r crate::condition::Condition, std::time::Duration)> {
    rulebook
        .rule(&step.rule)?
        .then
        .iter()
        .find_map(|a| match &a.kind {
            ActionKind::Await { until, timeout, .. }
                if StepAction::from_rule(&a.kind, &Value::Null) == step.action =>
            {
                Some((until, *timeout))
            }
            _ => None,
        })
}

async fn await_step<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    step: &Step,
    current: &Value,
) -> Result<Option<String>, Stop> {
    let (cond, timeout) = await_of(ctx.rulebook, step).ok_or_else(|| {
        Stop::Failed(format!(
            "rule `{}` of the rulebook has no such `await` any more; make a new plan",
            step.rule
        ))
    })?;
    let now = chrono::Utc::now();
    let explanation = cond.evaluate(current, now);
    let text = crate::review::condition_summary(&explanation);
    if explanation.outcome() == Outcome::Holds {
        return Ok(Some(format!("{text} holds")));
    }
    let started = ctx
        .journal
        .touch_started(&step.id, &step.subject, step.action.name())?;
    let deadline = chrono::Duration::from_std(timeout)
        .ok()
        .and_then(|t| started.checked_add_signed(t))
        .ok_or_else(|| {
            Stop::Failed(format!(
                "the await timeout `{}` is too long to compute a deadline",
                humantime::format_duration(timeout)
            ))
        })?;
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

/// A lifecycle call on a user.
#[derive(Clone, Copy)]
enum UserCall {
    Unlock,
    Activate(bool),
    Reactivate(bool),
}

impl UserCall {
    fn name(self) -> &'static str {
        match self {
            UserCall::Unlock => "unlock",
            UserCall::Activate(_) | UserCall::Reactivate(_) => "activate",
        }
    }

    /// Whether Okta's state shows the call took effect.
    fn applied(self, user: &Value, planned_update: Option<&str>) -> bool {
        match self {
            UserCall::Unlock => status(user) != Some("LOCKED_OUT"),
            // Still PROVISIONED either way: the re-send happened if the user changed since the plan.
            UserCall::Reactivate(_) => {
                status(user) == Some("ACTIVE")
                    || user.get("lastUpdated").and_then(Value::as_str) != planned_update
            }
            UserCall::Activate(_) => matches!(status(user), Some("ACTIVE") | Some("PROVISIONED")),
        }
    }
}

async fn user_call<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    step: &Step,
    current: &Value,
    what: UserCall,
) -> Result<Option<String>, Stop> {
    let user = shape::hub_user(current);
    let Some(id) = user.get("id").and_then(Value::as_str) else {
        return Err(Stop::Failed("no user to act on".into()));
    };
    let uid = UserId(id.to_string());
    let login = shape::login(user);
    let planned_update =
        planned_value(step, "$.user.lastUpdated").and_then(|v| v.as_str().map(str::to_string));
    let target = Target {
        step,
        user: &login,
        org: &step.org,
    };
    journaled(
        ctx,
        &target,
        what.name(),
        || async {
            match what {
                UserCall::Unlock => ctx.hub.unlock_user(&uid).await.map(|f| ((), f.request_id)),
                UserCall::Reactivate(send) => ctx
                    .hub
                    .reactivate_user(&uid, send)
                    .await
                    .map(|f| ((), f.request_id)),
                UserCall::Activate(send) => ctx
                    .hub
                    .activate_user(&uid, send)
                    .await
                    .map(|f| ((), f.request_id)),
            }
        },
        || async {
            let u = fetch_user(ctx, id).await?;
            Ok(what.applied(&u, planned_update.as_deref()))
        },
    )
    .await?;
    Ok(Some(format!("{}: done for {login}", what.name())))
}
