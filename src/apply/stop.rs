//! Why a subject's steps stop, and how an Okta error maps to it.

use crate::okta::OktaError;

use super::journal::JournalError;
use super::ApplyError;

/// Why a subject's steps stopped. Final verdicts are written to the step's journal row and stand on
/// later runs (a new plan is needed); the others only describe this run, so the next run tries again.
#[derive(Debug)]
pub(super) enum Stop {
    /// Parked until a condition holds (final for this run only; re-checked next run).
    Waiting(String),
    /// The subject changed since the plan: final.
    Drift(String),
    /// The plan's steps for this subject are not what the pinned rulebook produces on the subject's
    /// live state (an edited plan, or a subject that no longer qualifies): final.
    Refused(String),
    /// Final skip.
    Skipped(String),
    /// Not this run: approval missing, `--max-actions` reached, no `--reset-urls` file.
    NotNow(String),
    /// Final failure: Okta refused the call, or the result did not verify.
    Failed(String),
    /// This run could not finish the step (unreachable, 5xx, rate limited, an outcome not yet
    /// reconciled); the journal keeps the step as it was, so the next run resumes it.
    Transient(String),
    /// A write the run depends on failed (journal, audit log, reset-URL file): the whole run stops.
    Fatal(ApplyError),
}

impl From<JournalError> for Stop {
    fn from(e: JournalError) -> Self {
        Stop::Fatal(ApplyError::Journal(e))
    }
}

impl From<ApplyError> for Stop {
    fn from(e: ApplyError) -> Self {
        Stop::Fatal(e)
    }
}

/// Whether an error leaves Okta's state unknown or unchanged for a reason that may pass: dropped
/// connections and timeouts, 5xx and rate limits. Anything else is Okta's final answer.
pub(super) fn transient(e: &OktaError) -> bool {
    e.outcome_unknown()
        || e.status().is_some_and(|s| s >= 500 || s == 429)
        || matches!(
            e,
            OktaError::Transport { .. } | OktaError::Timeout { .. } | OktaError::RateLimited { .. }
        )
}

/// Adds what a person must know to a failure in the middle of a step (something was undone and not
/// yet redone).
pub(super) fn hint(stop: Stop, note: &str) -> Stop {
    match stop {
        Stop::Failed(d) => Stop::Failed(format!("{d}; {note}")),
        Stop::Transient(d) => Stop::Transient(format!("{d}; {note}")),
        other => other,
    }
}

/// An Okta error as a stop: transient ones are retried by the next run, the rest are final.
/// An authentication failure stops the whole run: every other call would fail too. (A 403 stays
/// per step: Okta refuses some users, such as super admins, to an admin who may act on others.)
pub(super) fn okta_failure(e: &OktaError) -> Stop {
    if e.is_invalid_token() {
        Stop::Fatal(ApplyError::Auth(e.to_string()))
    } else if transient(e) {
        Stop::Transient(format!("{e}; run apply again to resume"))
    } else {
        Stop::Failed(e.to_string())
    }
}
