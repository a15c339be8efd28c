//! One mutating Okta call under the journal: intent before, outcome after, reconciliation from
//! Okta's state when an earlier attempt's outcome is unknown, an audit line for every outcome.

use std::future::Future;
use std::time::Duration;

use super::stop::{okta_failure, transient, Stop};
use super::Ctx;
use crate::okta::{OktaApi, OktaError};
use crate::plan::Step;

/// Attempts of one mutating call in one run when the answer leaves its outcome unknown or says "not
/// now" (dropped connection, 5xx, 429); each attempt after the first is preceded by reconciliation.
const CALL_ATTEMPTS: u32 = 3;

/// Who a call is about, for the journal and the audit log.
pub(super) struct Target<'a> {
    pub step: &'a Step,
    pub user: &'a str,
    pub org: &'a str,
}

/// Runs one mutating call under the journal: skipped if it already succeeded, reconciled with
/// `applied` (a read of Okta's state) when an earlier attempt's outcome is unknown, made otherwise.
/// An answer that leaves the outcome unknown is never retried blindly: the intent stays open, the
/// next attempt (or run) first asks `applied`.
pub(super) async fn journaled<T, F, Fut, A, AFut>(
    ctx: &Ctx<'_, impl OktaApi, impl OktaApi>,
    target: &Target<'_>,
    call: &str,
    make: F,
    applied: A,
) -> Result<Option<T>, Stop>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(T, Option<String>), OktaError>>,
    A: Fn() -> AFut,
    AFut: Future<Output = Result<bool, OktaError>>,
{
    let Target { step, user, org } = *target;
    let mut attempt = 0;
    loop {
        if ctx.journal.had_outcome(&step.id, call)? {
            return Ok(None);
        }
        if ctx.journal.open_intent(&step.id, call)? {
            // An earlier attempt (this run or a killed one) may have happened: ask Okta first.
            if applied().await.map_err(|e| okta_failure(&e))? {
                reconciled(ctx, target, call)?;
                return Ok(None);
            }
        }
        ctx.journal
            .intent(&step.id, &step.subject, step.action.name(), call)?;
        attempt += 1;
        match make().await {
            Ok((value, request_id)) => {
                ctx.journal
                    .call_outcome(&step.id, call, "ok", request_id.as_deref())?;
                ctx.audit
                    .record(org, user, step, call, "ok", request_id.as_deref())?;
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
                )?;
                if !transient(&e) {
                    ctx.journal.call_outcome(
                        &step.id,
                        call,
                        &format!("error: {e}"),
                        e.request_id(),
                    )?;
                    return Err(okta_failure(&e));
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

/// Closes an open intent as applied (Okta's state shows the call took effect), with its audit line.
fn reconciled(
    ctx: &Ctx<'_, impl OktaApi, impl OktaApi>,
    target: &Target<'_>,
    call: &str,
) -> Result<(), Stop> {
    ctx.journal
        .call_outcome(&target.step.id, call, "reconciled: applied", None)?;
    ctx.audit.record(
        target.org,
        target.user,
        target.step,
        call,
        "reconciled: already applied",
        None,
    )?;
    Ok(())
}

/// Closes every intent of a step left open by a killed run when the step ends without reaching that
/// call again (for instance a resumed retry that finds the user provisioned already), so every intent
/// ends in an outcome and an audit line.
pub(super) fn close_open_intents(
    ctx: &Ctx<'_, impl OktaApi, impl OktaApi>,
    target: &Target<'_>,
) -> Result<(), Stop> {
    for call in ctx.journal.open_intents(&target.step.id)? {
        reconciled(ctx, target, &call)?;
    }
    Ok(())
}
