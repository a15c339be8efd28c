//! The service's Prometheus metrics (`GET /metrics`, text exposition format, by `prometheus-client`):
//! what an operator alerts on. Counters only ever grow within a process; gauges are set from the
//! store after each cycle so they are right after a restart too.
//!
//! | metric | labels | what |
//! |---|---|---|
//! | `remedy_events_received_total` | `source` (poll, hook), `org` | events stored (new) |
//! | `remedy_events_duplicate_total` | `source`, `org` | events already stored (deduplicated by uuid) |
//! | `remedy_hook_refused_total` | `org` | event hook deliveries refused (wrong or missing secret) |
//! | `remedy_subjects_planned_total` | `remediation` | subjects put in a plan |
//! | `remedy_steps_total` | `remediation`, `action`, `outcome` | steps a run ended in a state |
//! | `remedy_work` | `remediation`, `state` | units of work by state (`waiting` = awaits pending) |
//! | `remedy_approvals_pending` | | approvals waiting for a person |
//! | `remedy_guard_hits_total` | `remediation`, `guard` | times a rate guard stopped changes |
//! | `remedy_paused` | | 1 while the kill switch holds |
//! | `remedy_rate_limit_remaining` | `org`, `bucket` | requests left in the bucket's window, as Okta said last |
//! | `remedy_cycle_seconds` | `remediation` | a remediation's cycle (plan + apply) duration |
//! | `remedy_poll_errors_total` | `org` | System Log polls that failed (retried) |

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabels {
    pub source: String,
    pub org: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OrgLabels {
    pub org: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RemediationLabels {
    pub remediation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StepLabels {
    pub remediation: String,
    pub action: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WorkLabels {
    pub remediation: String,
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GuardLabels {
    pub remediation: String,
    pub guard: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BucketLabels {
    pub org: String,
    pub bucket: String,
}

fn cycle_histogram() -> Histogram {
    Histogram::new([
        0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
    ])
}

/// Every metric of the service, registered once.
pub struct Metrics {
    registry: Registry,
    pub events_received: Family<SourceLabels, Counter>,
    pub events_duplicate: Family<SourceLabels, Counter>,
    pub hook_refused: Family<OrgLabels, Counter>,
    pub subjects_planned: Family<RemediationLabels, Counter>,
    pub steps: Family<StepLabels, Counter>,
    pub work: Family<WorkLabels, Gauge>,
    pub approvals_pending: Gauge,
    pub guard_hits: Family<GuardLabels, Counter>,
    pub paused: Gauge,
    pub rate_remaining: Family<BucketLabels, Gauge<f64, AtomicU64>>,
    pub cycle_seconds: Family<RemediationLabels, Histogram, fn() -> Histogram>,
    pub poll_errors: Family<OrgLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("remedy");
        let m = Metrics {
            events_received: Family::default(),
            events_duplicate: Family::default(),
            hook_refused: Family::default(),
            subjects_planned: Family::default(),
            steps: Family::default(),
            work: Family::default(),
            approvals_pending: Gauge::default(),
            guard_hits: Family::default(),
            paused: Gauge::default(),
            rate_remaining: Family::default(),
            cycle_seconds: Family::new_with_constructor(cycle_histogram),
            poll_errors: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "events_received",
            "Events stored (new), by source and org",
            m.events_received.clone(),
        );
        registry.register(
            "events_duplicate",
            "Events received again and deduplicated by uuid",
            m.events_duplicate.clone(),
        );
        registry.register(
            "hook_refused",
            "Event hook deliveries refused for a wrong or missing secret",
            m.hook_refused.clone(),
        );
        registry.register(
            "subjects_planned",
            "Subjects put in a plan",
            m.subjects_planned.clone(),
        );
        registry.register(
            "steps",
            "Steps that ended a run in a state, by action and outcome",
            m.steps.clone(),
        );
        registry.register(
            "work",
            "Units of work by state (waiting: awaits pending)",
            m.work.clone(),
        );
        registry.register(
            "approvals_pending",
            "Approvals waiting for a person",
            m.approvals_pending.clone(),
        );
        registry.register(
            "guard_hits",
            "Times a rate guard stopped changes",
            m.guard_hits.clone(),
        );
        registry.register(
            "paused",
            "1 while the kill switch holds every change",
            m.paused.clone(),
        );
        registry.register(
            "rate_limit_remaining",
            "Requests left in a rate-limit bucket's window, as Okta last said",
            m.rate_remaining.clone(),
        );
        registry.register(
            "cycle_seconds",
            "Duration of a remediation's cycle (plan and apply)",
            m.cycle_seconds.clone(),
        );
        registry.register(
            "poll_errors",
            "System Log polls that failed and were retried",
            m.poll_errors.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The text exposition.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}
