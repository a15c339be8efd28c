//! Planning from the live orgs: collect the rulebook's subjects, record in the plan's `source` which
//! orgs were read (name and URL) and how many requests each endpoint took, then evaluate and plan.
//! Which org plays which role is `orgs`'s; what is read from Okta is `collect`'s.

use chrono::{DateTime, Utc};

use super::orgs::Clients;
use crate::collect::{self, CollectError, CollectOptions, Collection, Progress};
use crate::engine::evaluate;
use crate::plan::{Plan, PlanBuilder, PlanError};
use crate::rulebook::Rulebook;

/// Why a live plan could not be made.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(transparent)]
    Collect(#[from] CollectError),
    #[error(transparent)]
    Plan(#[from] PlanError),
}

/// How to collect: the collector's options (the window's end is also the plan's `now`).
pub type LiveOptions = CollectOptions;

/// Collects the rulebook's subjects from `orgs`, with the orgs' URLs and the requests by org and
/// endpoint in the collection's `source`.
pub async fn collect_live(
    rb: &Rulebook,
    orgs: &Clients,
    opts: &LiveOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Collection, LiveError> {
    let mut collection = collect::collect(rb, orgs.hub(), orgs.spoke(), opts, progress).await?;
    collection.source.orgs.extend(orgs.urls());
    let report = orgs.request_report();
    collection.source.requests = report.requests;
    collection.source.binding = report.binding;
    Ok(collection)
}

/// Plans collected subjects at `now`.
pub fn plan_collection(
    rb: &Rulebook,
    collection: &Collection,
    now: DateTime<Utc>,
) -> Result<Plan, PlanError> {
    let mut builder = PlanBuilder::new(rb, now, collection.source.clone());
    for (i, s) in collection.subjects.iter().enumerate() {
        builder.add(s, &evaluate(rb, s, now, i));
    }
    builder.finish()
}

/// Collects from `orgs` and plans at the collection's time; the collection is returned too, for
/// callers that report on the subjects read.
pub async fn plan_live(
    rb: &Rulebook,
    orgs: &Clients,
    opts: &LiveOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<(Plan, Collection), LiveError> {
    let collection = collect_live(rb, orgs, opts, progress).await?;
    let plan = plan_collection(rb, &collection, opts.now)?;
    Ok((plan, collection))
}
