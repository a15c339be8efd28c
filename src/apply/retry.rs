//! `retry_provisioning`: making Org2Org push an assignment again (Okta has no public API to retry a
//! failed task) and verifying the result. `touch` re-sends the app user's own profile, `reassign`
//! removes and re-creates an individual, unlinked assignment from its journal copy, `manual` lists the
//! user for a person to retry under Dashboard > Tasks.

use std::time::Duration;

use serde_json::{json, Value};

use super::call::{close_open_intents, journaled, Target};
use super::observe::{assignment_ids, linked};
use super::stop::{hint, okta_failure, Stop};
use super::Ctx;
use crate::okta::{AppId, AppUserAssignment, OktaApi, UserId};
use crate::plan::{PlannedSubject, Step, StepAction};
use crate::rulebook::RetryMethod;
use crate::subject::shape;

fn ids(subject: &PlannedSubject) -> Result<(AppId, UserId), Stop> {
    assignment_ids(subject)
        .ok_or_else(|| Stop::Failed("the plan has no app or assignment id for this subject".into()))
}

pub(super) async fn run<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    subject: &PlannedSubject,
    step: &Step,
    current: &Value,
    method: RetryMethod,
) -> Result<Option<String>, Stop> {
    let (app, uid) = ids(subject)?;
    let assignment = shape::assignment(current).clone();
    let login = subject.key.clone();
    let target = Target {
        step,
        user: &login,
        org: &step.org,
    };
    if linked(&assignment) {
        // A killed run may have pushed already: its open intent is closed as applied.
        close_open_intents(ctx, &target)?;
        return Ok(Some("already provisioned (SYNCHRONIZED and linked)".into()));
    }
    let last_sync = assignment
        .get("lastSync")
        .and_then(Value::as_str)
        .map(str::to_string);
    match method {
        RetryMethod::Manual => manual(ctx, step, &login, &app).await,
        RetryMethod::Reassign => {
            reassign(ctx, subject, &target, &app, &uid, &assignment).await?;
            verify_push(ctx, &app, &uid, step, last_sync).await?;
            Ok(Some("re-assigned; SYNCHRONIZED and linked".into()))
        }
        RetryMethod::Touch => {
            repush(ctx, &target, "touch", &app, &uid, &assignment).await?;
            Ok(Some("pushed again; SYNCHRONIZED and linked".into()))
        }
    }
}

async fn manual<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    step: &Step,
    login: &str,
    app: &AppId,
) -> Result<Option<String>, Stop> {
    if !ctx.journal.had_intent(&step.id, "manual")? {
        let file = super::audit::PrivateFile::append(&ctx.opts.manual_retries)?;
        ctx.journal
            .intent(&step.id, &step.subject, step.action.name(), "manual")?;
        file.write_line(&format!(
            "{login}\tapp {}\tretry under Dashboard > Tasks > Provisioning failures",
            app.0
        ))?;
        ctx.journal
            .call_outcome(&step.id, "manual", "listed", None)?;
    }
    Err(Stop::Waiting(format!(
        "listed in {} for a manual retry; waiting for SYNCHRONIZED",
        ctx.opts.manual_retries.display()
    )))
}

async fn reassign<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    subject: &PlannedSubject,
    target: &Target<'_>,
    app: &AppId,
    uid: &UserId,
    assignment: &Value,
) -> Result<(), Stop> {
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
        ctx.journal.backup(
            &subject.key,
            "assignment",
            target.org,
            target.user,
            assignment,
        )?;
    }
    let saved = ctx
        .journal
        .backup_for(&subject.key, "assignment")?
        .map(|b| b.body)
        .ok_or_else(|| Stop::Failed("no assignment to reassign and no backup of one".into()))?;
    journaled(
        ctx,
        target,
        "unassign",
        || async {
            ctx.spoke
                .unassign_app_user(app, uid, false)
                .await
                .map(|f| ((), f.request_id))
        },
        || async { Ok(ctx.spoke.get_app_user(app, uid, false).await?.is_none()) },
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
        target,
        "assign",
        || async {
            ctx.spoke
                .assign_app_user(app, &body)
                .await
                .map(|f| ((), f.request_id))
        },
        || async { Ok(ctx.spoke.get_app_user(app, uid, false).await?.is_some()) },
    )
    .await
    .map_err(|stop| {
        hint(
            stop,
            "the assignment was removed and is not re-created yet; its copy is in the journal",
        )
    })?;
    Ok(())
}

/// The step's verification timeout (`retry_provisioning`'s `timeout`; 5 minutes for a recreate).
fn push_timeout(step: &Step) -> Result<Duration, Stop> {
    match &step.action {
        StepAction::RetryProvisioning { timeout, .. } => humantime::parse_duration(timeout)
            .map_err(|e| Stop::Failed(format!("cannot read the step's timeout `{timeout}`: {e}"))),
        _ => Ok(Duration::from_secs(300)),
    }
}

/// Polls the assignment until it is linked, fails again, or the timeout passes.
async fn verify_push<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    app: &AppId,
    uid: &UserId,
    step: &Step,
    since_sync: Option<String>,
) -> Result<Value, Stop> {
    let timeout = push_timeout(step)?;
    let deadline = tokio::time::Instant::now()
        .checked_add(timeout)
        .ok_or_else(|| Stop::Failed("the step's timeout is too long".into()))?;
    // Okta pushes in the background: an ERROR seen right after the call may be the old one. It is
    // the new verdict once `lastSync` moves, or once it has stayed through a few polls.
    let mut errors_seen = 0;
    loop {
        let a = ctx
            .spoke
            .get_app_user(app, uid, false)
            .await
            .map_err(|e| okta_failure(&e))?
            .map(|f| crate::okta::JsonModel::to_value(&f.value))
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

/// Pushes an assignment again (`POST /api/v1/apps/{appId}/users/{userId}` with its own profile) and
/// verifies the result. The assignment's `lastUpdated` and `lastSync` before the first attempt are
/// kept in the journal, so a resumed run can tell whether its own earlier push reached Okta (Okta bumps
/// `lastUpdated` on every update) and whether an ERROR is new.
pub(super) async fn repush<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    target: &Target<'_>,
    call: &str,
    app: &AppId,
    uid: &UserId,
    assignment: &Value,
) -> Result<(), Stop> {
    let step = target.step;
    let note = format!("{call}-before");
    let before: Value = match ctx.journal.first_outcome(&step.id, &note)? {
        Some(text) => serde_json::from_str(&text).map_err(|_| {
            Stop::Failed(format!(
                "the journal's record of the assignment before `{call}` is unreadable"
            ))
        })?,
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
        target,
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
                .map(|f| crate::okta::JsonModel::to_value(&f.value))
                .unwrap_or(Value::Null);
            Ok(linked(&a) || field(&a, "lastUpdated") != before_updated)
        },
    )
    .await?;
    verify_push(ctx, app, uid, step, field(&before, "lastSync")).await?;
    Ok(())
}
