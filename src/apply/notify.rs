//! The `notify` step: its message delivered to the sink its `channel` names (or, without one, to
//! every sink whose filter takes `notify` events of this remediation), each delivery journaled under
//! its delivery key before and after it is attempted, so a resumed run never resends a delivered one.
//! A delivery that finally failed fails the step, with the sink and the reason. And the preflight:
//! every channel a plan names must be a configured sink that takes `notify` events.
//!
//! The message is the plan's (rendered from the subject at plan time); nothing from an Okta answer
//! goes into it. The sinks, formats and retries are `crate::notify`'s.

use super::journal::DeliveryState;
use super::stop::Stop;
use super::{ApplyError, Ctx};
use crate::notify::{delivery_key, Event, EventKind, Notifier};
use crate::okta::OktaApi;
use crate::plan::stream::{Item, PlanItems, Want};
use crate::plan::{PlannedSubject, Step, StepAction};

/// Checks every `notify` step's channel against the configured sinks, before anything runs (`apply`
/// does; a front end may call it earlier, before asking for approval).
pub fn check_channels(plan: &dyn PlanItems, notifier: Option<&Notifier>) -> Result<(), ApplyError> {
    let remediation = plan.head().rulebook.name;
    let mut refused = None;
    let want = Want {
        subjects: false,
        steps: true,
    };
    plan.each(want, &mut |item| {
        if let Item::Step(step) = item {
            refused = check_step(&step, notifier, &remediation).err();
        }
        Ok(refused.is_none())
    })
    .map_err(|e| ApplyError::PlanStream(e.to_string()))?;
    refused.map_or(Ok(()), Err)
}

/// One step's channel, if it is a `notify` step that names one.
fn check_step(
    step: &Step,
    notifier: Option<&Notifier>,
    remediation: &str,
) -> Result<(), ApplyError> {
    {
        let StepAction::Notify {
            channel: Some(channel),
            ..
        } = &step.action
        else {
            return Ok(());
        };
        let problem = match notifier {
            None => Some("but no notification sink is configured: declare it under `notifications.sinks` in remedy.yaml (see docs/notifications.md) or pass --notify-config FILE".to_string()),
            Some(n) => match n.accepts(channel, EventKind::Notify, remediation) {
                None => {
                    let names: Vec<String> = n.sink_names().map(|s| format!("`{s}`")).collect();
                    Some(format!(
                        "but no notification sink has that name (the sinks are {})",
                        if names.is_empty() { "none".to_string() } else { names.join(", ") }
                    ))
                }
                Some(false) => Some(format!(
                    "but that sink's filter does not take `notify` events of remediation `{remediation}`"
                )),
                Some(true) => None,
            },
        };
        if let Some(reason) = problem {
            return Err(ApplyError::Channel {
                step: step.id.clone(),
                rule: step.rule.clone(),
                channel: channel.clone(),
                reason,
            });
        }
    }
    Ok(())
}

/// Runs a `notify` step: `Ok(detail)` once every sink it goes to has it.
pub(super) async fn run<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    subject: &PlannedSubject,
    step: &Step,
    message: &str,
    channel: Option<&str>,
) -> Result<Option<String>, Stop> {
    let plan = ctx.plan;
    let event = Event::new(
        EventKind::Notify,
        &plan.rulebook.name,
        message,
        &format!("{}/{}", plan.plan_id, step.id),
        chrono::Utc::now(),
    )
    .with_plan(&plan.plan_id, &plan.checksum)
    .with_subject(&subject.key)
    .with_step(&step.id, &step.rule, step.action.name());
    let Some(notifier) = ctx.opts.notifier.as_deref() else {
        ctx.audit
            .record(&step.org, &subject.key, step, "notify", "recorded", None)?;
        return Ok(Some(format!(
            "{} (recorded only: no notification sink is configured)",
            event.message
        )));
    };
    let sinks: Vec<&str> = match channel {
        Some(c) => vec![c],
        None => notifier.targets(&event),
    };
    if sinks.is_empty() {
        ctx.audit
            .record(&step.org, &subject.key, step, "notify", "recorded", None)?;
        return Ok(Some(format!(
            "{} (recorded only: no sink takes `notify` events of `{}`)",
            event.message, event.remediation
        )));
    }
    let mut delivered = Vec::new();
    let mut failed = Vec::new();
    for sink in sinks {
        match deliver(ctx, notifier, subject, step, &event, sink).await? {
            Ok(()) => delivered.push(format!("`{sink}`")),
            Err(reason) => failed.push(reason),
        }
    }
    if !failed.is_empty() {
        return Err(Stop::Failed(failed.join("; ")));
    }
    Ok(Some(format!(
        "{} (delivered to {})",
        event.message,
        delivered.join(", ")
    )))
}

/// One sink's delivery under the journal: skipped if an earlier run delivered it. The outer error
/// stops the run (a journal or audit write failed); the inner one is the delivery's failure.
async fn deliver<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    notifier: &Notifier,
    subject: &PlannedSubject,
    step: &Step,
    event: &Event,
    sink: &str,
) -> Result<Result<(), String>, Stop> {
    let key = delivery_key(&event.key, sink);
    if ctx
        .journal
        .delivery(&key)?
        .is_some_and(|d| d.state == DeliveryState::Delivered)
    {
        return Ok(Ok(()));
    }
    let mut journal_error = None;
    let sent = notifier
        .send_with(sink, event, |_| {
            ctx.journal
                .delivery_attempt(&key, &step.id, sink)
                .map_err(|e| {
                    journal_error = Some(e);
                    "the journal could not record the attempt".to_string()
                })
        })
        .await;
    if let Some(e) = journal_error {
        return Err(e.into());
    }
    let call = format!("notify {sink}");
    match sent {
        Ok(d) => {
            ctx.journal
                .delivery_outcome(&key, DeliveryState::Delivered, &d.answer)?;
            ctx.audit
                .record(&step.org, &subject.key, step, &call, "delivered", None)?;
            Ok(Ok(()))
        }
        Err(e) => {
            let reason = e.to_string();
            ctx.journal
                .delivery_outcome(&key, DeliveryState::Failed, &reason)?;
            ctx.audit
                .record(&step.org, &subject.key, step, &call, "failed", None)?;
            Ok(Err(reason))
        }
    }
}
