//! Applying what may be applied: for each remediation, the due units (ready, waiting and due,
//! failed and due) plan by plan, under the kill switch and the rate guards, with the approvals granted;
//! then each unit's state from apply's results, the notifications they call for, and the gauges.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{DateTime, Utc};

use super::super::metrics::{GuardLabels, StepLabels, WorkLabels};
use super::super::store::{Work, WorkState};
use super::super::{ServeError, Shared};
use super::{backoff, clients, event, notify, Running, MAX_ATTEMPTS};
use crate::apply::journal::Journal;
use crate::apply::{self, ApplyOptions, SubjectState};
use crate::notify::{Event, EventKind};
use crate::pipeline;
use crate::plan::Plan;

/// Whether the kill switch holds (its file exists, or `remedy pause` set it); says who and why.
pub(in crate::serve) fn paused(shared: &Shared) -> Result<Option<String>, ServeError> {
    if let Some(f) = &shared.config.kill_switch {
        if f.exists() {
            return Ok(Some(format!("kill switch file `{}` exists", f.display())));
        }
    }
    Ok(shared
        .store
        .paused()?
        .map(|(at, by)| format!("paused by {by} at {at} (`remedy resume` to continue)")))
}

/// Changing steps the rate guards still allow now, and the guard that binds when none.
fn budget(
    shared: &Shared,
    r: &Running,
    now: DateTime<Utc>,
) -> Result<(u64, &'static str), ServeError> {
    let name = &r.config.name;
    let hour = shared
        .store
        .changes_since(name, now - chrono::Duration::hours(1))?;
    let day = shared
        .store
        .changes_since(name, now - chrono::Duration::days(1))?;
    let by_hour = r.config.guard.per_hour.saturating_sub(hour);
    let by_day = r.config.guard.per_day.saturating_sub(day);
    Ok(if by_hour <= by_day {
        (by_hour, "per_hour")
    } else {
        (by_day, "per_day")
    })
}

/// Applies the due work of a remediation, plan by plan; returns how many subjects ran.
pub(super) async fn apply_due(shared: &Shared, r: &Running) -> Result<usize, ServeError> {
    let name = &r.config.name;
    let now = Utc::now();
    let mut due = shared.store.due(name, WorkState::Ready, now, 1000)?;
    due.extend(shared.store.due(name, WorkState::Waiting, now, 1000)?);
    due.extend(shared.store.due(name, WorkState::Failed, now, 1000)?);
    if due.is_empty() {
        return Ok(0);
    }
    if let Some(why) = paused(shared)? {
        tracing::debug!(remediation = %name, waiting = due.len(), why = %why, "paused: nothing is changed");
        return Ok(0);
    }
    let (budget, guard) = budget(shared, r, now)?;
    let mut by_plan: BTreeMap<String, Vec<Work>> = BTreeMap::new();
    for w in due {
        if let Some(p) = w.plan.clone() {
            by_plan.entry(p).or_default().push(w);
        }
    }
    let mut ran = 0;
    let mut left = budget;
    for (plan_path, works) in by_plan {
        if shared.stopping() {
            break;
        }
        ran += apply_plan(shared, r, Path::new(&plan_path), &works, left, guard).await?;
        left = self::budget(shared, r, Utc::now())?.0;
    }
    Ok(ran)
}

/// Applies the given units of one plan.
async fn apply_plan(
    shared: &Shared,
    r: &Running,
    plan_path: &Path,
    works: &[Work],
    budget: u64,
    guard: &'static str,
) -> Result<usize, ServeError> {
    let name = &r.config.name;
    let by_key: BTreeMap<&str, &Work> = works
        .iter()
        .filter_map(|w| w.subject.as_deref().map(|k| (k, w)))
        .collect();
    let mut events: Vec<Event> = Vec::new();
    let prepared = match pipeline::prepare_apply(plan_path, false) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(remediation = %name, plan = %plan_path.display(), error = %e, "plan cannot be applied");
            for w in works {
                fail(
                    shared,
                    name,
                    w,
                    &format!("the plan cannot be applied: {e}"),
                    &mut events,
                )?;
            }
            for e in events {
                notify(shared, e).await;
            }
            return Ok(0);
        }
    };
    let journal_path = plan_path.with_extension("journal.sqlite");
    let journal = Journal::open(
        &journal_path,
        &prepared.head.plan_id,
        &prepared.head.checksum,
        &prepared.head.rulebook.sha256,
    )
    .map_err(|e| ServeError::Apply(e.to_string()))?;
    let approved: BTreeSet<String> = shared
        .store
        .approved_subjects(&plan_path.display().to_string())?
        .into_iter()
        .collect();
    let opts = ApplyOptions {
        approve_destructive: false,
        concurrency: shared.config.apply_concurrency,
        max_actions: Some(budget),
        reset_urls: None,
        manual_retries: shared.config.state_dir.join("manual-retries.txt"),
        audit_log: shared.config.state_dir.join("audit.jsonl"),
        poll_interval: std::time::Duration::from_millis(500),
        progress: None,
        operator: Some(format!("remedy serve ({name})")),
        only: Some(by_key.keys().map(|k| k.to_string()).collect()),
        approved,
        cancel: Some(shared.cancel.clone()),
        notifier: shared.notifier.clone(),
        // The service's plans are the work of one poll; every subject's end is recorded in its store.
        listed: None,
    };
    let clients = clients(shared, r)?;
    let summary = match apply::apply_plan(
        apply::units::ToApply::File(&prepared.plan),
        &prepared.rulebook,
        clients.hub(),
        clients.spoke(),
        &journal,
        &opts,
    )
    .await
    {
        Ok(s) => s,
        Err(apply::ApplyError::Auth(m)) => {
            return Err(ServeError::Refused {
                org: format!("{} or {}", r.hub, r.spoke),
                message: m,
            })
        }
        Err(apply::ApplyError::Lock(e)) => {
            tracing::warn!(remediation = %name, error = %e, "plan busy; tried again next cycle");
            return Ok(0);
        }
        // A write that failed (journal, audit log) stops the service: nothing is changed unrecorded.
        Err(e) => return Err(ServeError::Apply(e.to_string())),
    };
    shared.store.record_changes(name, summary.changes)?;
    count_steps(shared, name, &journal, &by_key)?;
    let now = Utc::now();
    let mut guard_hit = false;
    // The service's plans are small (the work of one poll): read whole to tell report-only subjects.
    let whole = crate::plan::sample::sample(&prepared.plan, None)
        .map_err(|e| ServeError::Apply(e.to_string()))?;
    for res in &summary.subjects {
        let Some(w) = by_key.get(res.subject.as_str()) else {
            continue;
        };
        let detail = res.detail.clone().unwrap_or_default();
        match res.state {
            // A subject whose steps only report is done once recorded, and shown as reported.
            SubjectState::Done if only_reports(&whole, &res.subject) => shared.store.set_work(
                name,
                &w.user_id,
                WorkState::Reported,
                Some(&detail),
                None,
                w.attempts,
            )?,
            SubjectState::Done | SubjectState::Protected => shared.store.set_work(
                name,
                &w.user_id,
                WorkState::Done,
                Some(&detail),
                None,
                w.attempts,
            )?,
            SubjectState::Waiting => shared.store.set_work(
                name,
                &w.user_id,
                WorkState::Waiting,
                Some(&detail),
                Some(
                    now + chrono::Duration::from_std(shared.config.recheck)
                        .unwrap_or(chrono::Duration::minutes(5)),
                ),
                w.attempts,
            )?,
            SubjectState::Skipped if detail.contains("max-actions") => {
                guard_hit = true;
                shared.store.set_work(
                    name,
                    &w.user_id,
                    w.state,
                    Some(&format!("held by the {guard} rate guard")),
                    Some(now + chrono::Duration::seconds(60)),
                    w.attempts,
                )?
            }
            SubjectState::Skipped => shared.store.set_work(
                name,
                &w.user_id,
                w.state,
                Some(&detail),
                Some(
                    now + chrono::Duration::from_std(shared.config.recheck)
                        .unwrap_or(chrono::Duration::minutes(5)),
                ),
                w.attempts,
            )?,
            // The subject changed since it was planned: plan it again from its live state.
            SubjectState::SkippedDrift if w.attempts + 1 < MAX_ATTEMPTS => shared.store.set_work(
                name,
                &w.user_id,
                WorkState::New,
                Some(&detail),
                Some(now),
                w.attempts + 1,
            )?,
            SubjectState::SkippedDrift | SubjectState::Failed | SubjectState::Refused => {
                fail(shared, name, w, &detail, &mut events)?
            }
        }
    }
    if budget == 0 && !summary.subjects.is_empty() {
        guard_hit = true;
    }
    raise_guard(shared, r, guard_hit, guard, &mut events);
    for e in events {
        notify(shared, e).await;
    }
    tracing::info!(remediation = %name, plan = %prepared.head.plan_id, subjects = summary.subjects.len(), changes = summary.changes, counts = ?summary.counts, "applied");
    Ok(summary.subjects.len())
}

fn only_reports(plan: &Plan, key: &str) -> bool {
    plan.steps
        .iter()
        .filter(|s| s.subject == key)
        .all(|s| matches!(s.action, crate::plan::StepAction::Report { .. }))
}

/// A failed unit: retried with backoff until [`MAX_ATTEMPTS`], then left failed.
fn fail(
    shared: &Shared,
    name: &str,
    w: &Work,
    detail: &str,
    out: &mut Vec<Event>,
) -> Result<(), ServeError> {
    let attempts = w.attempts + 1;
    let due = (attempts < MAX_ATTEMPTS).then(|| Utc::now() + backoff(shared, attempts));
    // Told on the first failure and when the retries run out, not on every attempt.
    if attempts == 1 || due.is_none() {
        let then = if due.is_some() {
            format!("retried up to {MAX_ATTEMPTS} times")
        } else {
            "no more retries: a person must look".into()
        };
        let subject = w.subject.clone().unwrap_or_else(|| w.user_id.clone());
        out.push(
            event(
                EventKind::StepFailed,
                name,
                &format!("{subject} failed: {detail} ({then})"),
                &format!("{name}/{}/{}/failed/{attempts}", w.user_id, w.first_seen),
            )
            .with_subject(&subject),
        );
    }
    tracing::warn!(remediation = %name, user = %w.user_id, subject = ?w.subject, attempts, detail = %detail, "step failed");
    shared.store.set_work(
        name,
        &w.user_id,
        WorkState::Failed,
        Some(detail),
        due,
        attempts,
    )?;
    Ok(())
}

/// Raises (once) or clears a rate guard's hold.
fn raise_guard(shared: &Shared, r: &Running, hit: bool, guard: &'static str, out: &mut Vec<Event>) {
    use std::sync::atomic::Ordering;
    let was = r.guard_raised.swap(hit, Ordering::SeqCst);
    if hit {
        shared
            .metrics
            .guard_hits
            .get_or_create(&GuardLabels {
                remediation: r.config.name.clone(),
                guard: guard.into(),
            })
            .inc();
        if !was {
            tracing::error!(remediation = %r.config.name, guard, per_hour = r.config.guard.per_hour, per_day = r.config.guard.per_day, "rate guard reached: the service stops changing Okta for this remediation and keeps planning");
            out.push(event(
                EventKind::GuardHit,
                &r.config.name,
                &format!(
                    "rate guard `{guard}` reached ({} changes an hour, {} a day): the service stops changing Okta for this remediation and keeps planning",
                    r.config.guard.per_hour, r.config.guard.per_day
                ),
                &format!("{}/guard/{guard}/{}", r.config.name, Utc::now().format("%Y%m%dT%H%M")),
            ));
        }
    } else if was {
        tracing::info!(remediation = %r.config.name, "rate guard cleared: changes resume");
    }
}

/// Counts the steps of the units just run by action and the state the journal gives them.
fn count_steps(
    shared: &Shared,
    name: &str,
    journal: &Journal,
    by_key: &BTreeMap<&str, &Work>,
) -> Result<(), ServeError> {
    let steps = journal
        .steps()
        .map_err(|e| ServeError::Apply(e.to_string()))?;
    let since = by_key
        .values()
        .map(|w| w.updated.as_str())
        .min()
        .unwrap_or_default()
        .to_string();
    for s in steps {
        if !by_key.contains_key(s.subject.as_str()) || s.updated.as_deref() < Some(since.as_str()) {
            continue;
        }
        shared
            .metrics
            .steps
            .get_or_create(&StepLabels {
                remediation: name.to_string(),
                action: s.action.clone(),
                outcome: s.state.as_str().to_string(),
            })
            .inc();
    }
    Ok(())
}

/// Sets the gauges from the store (so they are right after a restart too).
pub(in crate::serve) fn refresh_gauges(shared: &Shared) -> Result<(), ServeError> {
    for (remediation, state, n) in shared.store.counts()? {
        shared
            .metrics
            .work
            .get_or_create(&WorkLabels {
                remediation,
                state: state.label().into(),
            })
            .set(n as i64);
    }
    shared
        .metrics
        .approvals_pending
        .set(shared.store.approvals(false)?.len() as i64);
    shared
        .metrics
        .paused
        .set(i64::from(paused(shared)?.is_some()));
    for (org, client) in &shared.orgs {
        for (bucket, (remaining, _limit)) in client.rate_headroom() {
            shared
                .metrics
                .rate_remaining
                .get_or_create(&super::super::metrics::BucketLabels {
                    org: org.clone(),
                    bucket,
                })
                .set(remaining as f64);
        }
    }
    Ok(())
}
