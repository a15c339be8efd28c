//! The service's work loop: turn stored events into units of work, then for each remediation plan
//! the new work and apply what its autonomy policy, approvals, rate guards and the kill switch allow.
//!
//! Every unit goes through the library pipeline the CLI uses: the subject is collected live
//! (`pipeline::plan_live`, narrowed to the users the events named), evaluated and planned; the plan is
//! written, sealed, under the state directory, and applied with `apply::apply` and its own journal,
//! after the same preflight as `remedy apply` (the plan intact, its rulebook unchanged). So nothing
//! is applied that `remedy plan` of the same subject would not have planned, and every safety of
//! `apply` (live re-evaluation, journal, backups, approval of destructive steps) holds.
//!
//! This file turns events into work and plans it; `worker/applying.rs` applies it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::Utc;

use super::config::{Autonomy, Remediation};
use super::events::{is_failure, is_wake};
use super::metrics::RemediationLabels;
use super::store::{Work, WorkState};
use super::{ServeError, Shared};
use crate::engine::Verdict;
use crate::notify::{Event, EventKind};
use crate::pipeline::{self, Clients, LiveOptions};
use crate::plan::Plan;

mod applying;

use applying::apply_due;
pub(super) use applying::refresh_gauges;

/// At most this many users planned in one cycle of a remediation; the rest wait for the next.
pub const MAX_PLAN_BATCH: usize = 500;
/// A failed unit is retried this many times (backing off) before it is left failed.
pub const MAX_ATTEMPTS: u32 = 5;

/// Turns unprocessed events into work: failures in a remediation's spoke start (or restart) work
/// for their user; hub events make that hub user's waiting work due now.
pub(super) fn ingest(shared: &Shared) -> Result<usize, ServeError> {
    let mut total = 0;
    loop {
        let events = shared.store.unprocessed(1000)?;
        if events.is_empty() {
            return Ok(total);
        }
        total += events.len();
        let mut new_work = Vec::new();
        let mut wake = Vec::new();
        for e in &events {
            let Some(user) = &e.user_id else { continue };
            for r in &shared.remediations {
                if is_failure(e) && r.spoke == e.org {
                    new_work.push((r.config.name.clone(), user.clone()));
                }
                if is_wake(e) && r.hub == e.org {
                    wake.push(user.clone());
                }
            }
        }
        let uuids: Vec<String> = events.into_iter().map(|e| e.uuid).collect();
        shared.store.process_events(&uuids, &new_work, &wake)?;
    }
}

/// One remediation as the service runs it: its config and the orgs its roles resolve to.
pub(crate) struct Running {
    pub config: Remediation,
    pub hub: String,
    pub spoke: String,
    /// Whether a rate guard is holding changes (so it is raised once, not every cycle).
    pub guard_raised: std::sync::atomic::AtomicBool,
}

/// One cycle of one remediation: plan the new work, apply what may be applied.
pub(super) async fn cycle(shared: &Shared, r: &Running) -> Result<(), ServeError> {
    let started = Utc::now();
    let clock = Instant::now();
    let name = &r.config.name;
    let batch = match pipeline::catalogue::load(&r.config.rules) {
        Ok(rb) => batch_size(&rb),
        Err(_) => MAX_PLAN_BATCH,
    };
    let new = shared.store.due(name, WorkState::New, started, batch)?;
    let planned = if new.is_empty() {
        0
    } else {
        plan_new(shared, r, &new).await?
    };
    let applied = apply_due(shared, r).await?;
    if planned > 0 || applied > 0 {
        shared
            .store
            .record_cycle(name, started, planned, applied, "ok")?;
        shared
            .metrics
            .cycle_seconds
            .get_or_create(&RemediationLabels {
                remediation: name.clone(),
            })
            .observe(clock.elapsed().as_secs_f64());
    }
    Ok(())
}

/// How many users one plan takes: at most [`MAX_PLAN_BATCH`], and few enough that the plan stays
/// within the rulebook's own guards even if every subject matches its costliest rule (a plan over
/// `max_actions` or `max_destructive` is refused whole, so the service makes smaller plans instead).
fn batch_size(rb: &crate::rulebook::Rulebook) -> usize {
    use crate::rulebook::Safety;
    let worst = |pred: &dyn Fn(Safety) -> bool| {
        rb.rules
            .iter()
            .map(|r| r.then.iter().filter(|a| pred(a.safety())).count() as u64)
            .max()
            .unwrap_or(0)
    };
    let mut batch = MAX_PLAN_BATCH as u64;
    for (limit, per_subject) in [
        (rb.guards.max_actions, worst(&|s| s != Safety::Safe)),
        (
            rb.guards.max_destructive,
            worst(&|s| s == Safety::Destructive),
        ),
    ] {
        if let (Some(limit), true) = (limit, per_subject > 0) {
            batch = batch.min(limit / per_subject);
        }
    }
    batch.max(1) as usize
}

fn clients(shared: &Shared, r: &Running) -> Result<Clients, ServeError> {
    let get = |org: &str| {
        shared
            .orgs
            .get(org)
            .cloned()
            .ok_or_else(|| ServeError::UnknownOrg(org.to_string()))
    };
    Ok(Clients::pair(get(&r.hub)?, get(&r.spoke)?))
}

/// Plans the new work of a remediation in one plan; returns how many subjects were planned.
async fn plan_new(shared: &Shared, r: &Running, new: &[Work]) -> Result<usize, ServeError> {
    let name = &r.config.name;
    let rulebook = match pipeline::catalogue::load(&r.config.rules) {
        Ok(rb) => rb,
        Err(e) => {
            // A broken edit of the rulebook stops this remediation's planning, loudly; the work waits.
            tracing::error!(remediation = %name, error = %e, "the rulebook does not load; nothing is planned until it is fixed");
            return Ok(0);
        }
    };
    let clients = clients(shared, r)?;
    let users: BTreeSet<String> = new.iter().map(|w| w.user_id.clone()).collect();
    let opts = LiveOptions {
        now: Utc::now(),
        full_scan: false,
        concurrency: 8,
        only_users: Some(users),
    };
    let plan = match pipeline::plan_live(&rulebook, &clients, &opts, &|_| {}).await {
        Ok((plan, _)) => plan,
        Err(pipeline::LiveError::Plan(e)) => match e.refused_plan() {
            Some(p) => p.clone(),
            None => return Err(ServeError::Plan(e.to_string())),
        },
        Err(pipeline::LiveError::Collect(e)) => {
            if matches!(e, crate::collect::CollectError::AccessRefused { .. }) {
                return Err(ServeError::Refused {
                    org: r.spoke.clone(),
                    message: e.to_string(),
                });
            }
            tracing::warn!(remediation = %name, error = %e, "collection failed; the work stays new and is retried");
            for w in new {
                let attempts = w.attempts + 1;
                shared.store.set_work(
                    name,
                    &w.user_id,
                    WorkState::New,
                    Some(&format!("collection failed: {e}")),
                    Some(Utc::now() + backoff(shared, attempts)),
                    attempts,
                )?;
            }
            return Ok(0);
        }
    };
    let path = write_plan(shared, name, &plan)?;
    shared
        .metrics
        .subjects_planned
        .get_or_create(&RemediationLabels {
            remediation: name.clone(),
        })
        .inc_by(plan.subjects.len() as u64);
    tracing::info!(remediation = %name, plan = %plan.plan_id, subjects = plan.subjects.len(), steps = plan.steps.len(), path = %path.display(), "plan written");
    let mut events = vec![event(
        EventKind::PlanWritten,
        name,
        &format!(
            "plan {} written: {} subjects, {} steps ({} change Okta)",
            plan.plan_id,
            plan.subjects.len(),
            plan.steps.len(),
            plan.summary.changing
        ),
        &format!("{name}/{}/written", plan.plan_id),
    )
    .with_plan(&plan.plan_id, &plan.checksum)];
    classify(shared, r, &plan, &path, new, &mut events)?;
    for e in events {
        notify(shared, e).await;
    }
    Ok(plan.subjects.len())
}

/// Writes a plan under `state_dir/plans/<remediation>/`, 0600.
fn write_plan(shared: &Shared, remediation: &str, plan: &Plan) -> Result<PathBuf, ServeError> {
    let dir = shared.config.state_dir.join("plans").join(remediation);
    super::store::create_private_dir(&dir).map_err(|source| ServeError::Write {
        path: dir.display().to_string(),
        source,
    })?;
    let stamp = Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    let path = dir.join(format!("{stamp}-{}.json", plan.plan_id));
    pipeline::write_private(&path, plan.to_json().as_bytes()).map_err(|source| {
        ServeError::Write {
            path: path.display().to_string(),
            source,
        }
    })?;
    Ok(path)
}

/// The strictest autonomy among a subject's steps (auto < approve < report).
fn autonomy(r: &Running, plan: &Plan, key: &str) -> (Autonomy, Vec<String>) {
    let mut level = Autonomy::Auto;
    let mut actions = Vec::new();
    for s in plan.steps.iter().filter(|s| s.subject == key) {
        actions.push(s.action.name().to_string());
        let a = r.config.policy.of(s.safety);
        level = match (level, a) {
            (Autonomy::Report, _) | (_, Autonomy::Report) => Autonomy::Report,
            (Autonomy::Approve, _) | (_, Autonomy::Approve) => Autonomy::Approve,
            _ => Autonomy::Auto,
        };
    }
    (level, actions)
}

/// Records what the plan decided for each unit of work.
fn classify(
    shared: &Shared,
    r: &Running,
    plan: &Plan,
    path: &Path,
    new: &[Work],
    out: &mut Vec<Event>,
) -> Result<(), ServeError> {
    let name = &r.config.name;
    let plan_path = path.display().to_string();
    let now = Utc::now();
    for w in new {
        let subject = plan.subjects.iter().find(|s| {
            s.ids.get("spoke_user_id") == Some(&w.user_id)
                || s.ids.get("app_user_id") == Some(&w.user_id)
        });
        let Some(s) = subject else {
            shared
                .store
                .set_planned(name, &w.user_id, None, None, &plan_path)?;
            shared.store.set_work(
                name,
                &w.user_id,
                WorkState::Done,
                Some("no failing assignment of this app found for the user now: nothing to do"),
                None,
                0,
            )?;
            continue;
        };
        shared.store.set_planned(
            name,
            &w.user_id,
            Some(&s.key),
            s.ids.get("user_id").map(String::as_str),
            &plan_path,
        )?;
        let has_steps = plan.steps.iter().any(|st| st.subject == s.key);
        let (state, detail) = match (&plan.refused, s.verdict) {
            (Some(refusal), _) => (
                WorkState::Reported,
                format!("the plan was refused by a guard: {refusal}"),
            ),
            (None, Verdict::Protected) => (WorkState::Done, "protected by a guard".into()),
            (None, Verdict::NoMatch) => (WorkState::Done, "no rule matched".into()),
            (None, Verdict::Unreadable) => (
                WorkState::Reported,
                "the subject could not be read in full; nothing was decided".into(),
            ),
            (None, Verdict::Matched) if !has_steps => {
                (WorkState::Done, "matched with nothing to do".into())
            }
            (None, Verdict::Matched) => {
                let (level, actions) = autonomy(r, plan, &s.key);
                match level {
                    Autonomy::Auto => {
                        (WorkState::Ready, format!("planned: {}", actions.join(", ")))
                    }
                    Autonomy::Report => (
                        WorkState::Reported,
                        format!("reported only (autonomy policy): {}", actions.join(", ")),
                    ),
                    Autonomy::Approve => {
                        if let Some(id) = shared.store.request_approval(
                            name,
                            &w.user_id,
                            &s.key,
                            &plan_path,
                            &actions.join(", "),
                        )? {
                            tracing::warn!(remediation = %name, approval = id, subject = %s.key, actions = %actions.join(", "), "approval needed: `remedy approve {id}` or `remedy deny {id} --reason ...`");
                            out.push(
                                event(
                                    EventKind::ApprovalNeeded,
                                    name,
                                    &format!(
                                        "approval #{id} needed for {}: {} (`remedy approve {id}` or `remedy deny {id} --reason ...`)",
                                        s.key,
                                        actions.join(", ")
                                    ),
                                    &format!("{name}/{}/approval/{id}", plan.plan_id),
                                )
                                .with_plan(&plan.plan_id, &plan.checksum)
                                .with_subject(&s.key),
                            );
                        }
                        (
                            WorkState::Approval,
                            format!("waiting for approval: {}", actions.join(", ")),
                        )
                    }
                }
            }
        };
        let due = matches!(state, WorkState::Ready).then_some(now);
        shared
            .store
            .set_work(name, &w.user_id, state, Some(&detail), due, 0)?;
    }
    Ok(())
}

pub(super) fn backoff(shared: &Shared, attempts: u32) -> chrono::Duration {
    let base = shared.config.recheck.max(std::time::Duration::from_secs(1));
    let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(10));
    chrono::Duration::from_std(base.saturating_mul(factor))
        .unwrap_or(chrono::Duration::days(1))
        .min(chrono::Duration::days(1))
}

/// Sends `event` to the sinks that take it; an undelivered notification is logged loudly and counted,
/// never dropped silently (the work itself goes on: the journal and the store hold the truth).
pub(super) async fn notify(shared: &Shared, event: crate::notify::Event) {
    let Some(n) = &shared.notifier else { return };
    let sent = n.send(&event).await;
    for e in sent.failed {
        shared
            .metrics
            .notify_failed
            .get_or_create(&super::metrics::RemediationLabels {
                remediation: event.remediation.clone(),
            })
            .inc();
        tracing::error!(remediation = %event.remediation, kind = event.kind.name(), error = %e, "notification not delivered");
    }
}

pub(super) fn event(
    kind: crate::notify::EventKind,
    remediation: &str,
    message: &str,
    key: &str,
) -> crate::notify::Event {
    crate::notify::Event::new(kind, remediation, message, key, Utc::now())
}

#[cfg(test)]
mod tests {
    use super::batch_size;

    #[test]
    fn a_plan_batch_stays_within_the_rulebook_guards() {
        // max_actions 200 and at most two changing steps a subject (reset, retry): 100 users a plan.
        let shipped =
            crate::pipeline::catalogue::load(std::path::Path::new("org2org-password-sync"))
                .unwrap();
        assert_eq!(batch_size(&shipped), 100);
        // With a delete_recreate rule, max_destructive 10 binds.
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/serve/rules.yaml"
        ))
        .unwrap();
        let recreate = crate::rulebook::parse(&text, "rules.yaml").unwrap();
        assert_eq!(batch_size(&recreate), 10);
    }
}
