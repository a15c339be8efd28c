//! Collecting subjects from live orgs. It only reads; it never changes Okta, and it does not evaluate
//! rules (that is `engine`).
//!
//! - `org2org_assignment` rulebooks start from the spoke's System Log failures (`failures.rs`), so the
//!   cost grows with the number of failures, not the size of the orgs; each failing assignment is then
//!   read with its spoke user (`assignments.rs`) and joined to its hub user (`hub_users.rs`), each read
//!   in the cheapest form Okta offers for the situation (`cost.rs` holds the model). A full scan of the
//!   app's assignments (`CollectOptions::full_scan`) is an option for audits.
//! - `user` rulebooks list one org's users (`users.rs`), narrowed server-side with `search` when every
//!   rule pins `$.user.status`.
//!
//! The JSON shape of a subject (which keys hold the assignment, the users, the events) is written in
//! one place, `shape.rs`. A subject whose own reads fail is kept with a `collect_error` (the engine
//! calls it unknown); a failure that would hit every subject (refused credentials, a missing scope,
//! rate limits that do not clear) stops collection at once with a [`CollectError`].

mod app;
mod assignments;
mod cost;
pub(crate) mod failures;
mod hub_users;
pub(crate) mod org2org;

mod users;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use crate::okta::{OktaApi, OktaError};
use crate::plan::Source;
use crate::rulebook::{Rulebook, SubjectKind};

pub use crate::subject::shape::is_failing;
pub use cost::{CostModel, ReadForm, MAX_SEARCH_LEN};
pub use failures::FAILURE_FILTER;
pub use users::status_pushdown;

/// Why collection stopped. Every variant names the org; nothing partial is presented as complete.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("collecting from org `{org}` failed: {source}")]
    Okta {
        org: String,
        #[source]
        source: OktaError,
    },
    /// The org refused the credentials or their scopes (401, 403, or a refused OAuth token): every
    /// other read would be refused too, so nothing is collected.
    /// `source` names the endpoint refused ([`CollectError::call`]) and Okta's error.
    #[error("org `{org}` refused access to `{}` (check its credentials and scopes): {source}", source.call().unwrap_or("the api"))]
    AccessRefused {
        org: String,
        /// Boxed so the error stays small for every caller.
        #[source]
        source: Box<OktaError>,
    },
    #[error("org `{org}` has no app named `{app}` (looked for API name or label)")]
    AppNotFound { org: String, app: String },
    #[error("org `{org}` has several apps matching `{app}`: {ids}; name the app by its label in `subjects.app`")]
    AppAmbiguous {
        org: String,
        app: String,
        ids: String,
    },
}

impl CollectError {
    /// The endpoint whose call failed (`GET /api/v1/users/{id}`), when the error is about one.
    pub fn call(&self) -> Option<&str> {
        match self {
            Self::Okta { source, .. } => source.call(),
            Self::AccessRefused { source, .. } => source.call(),
            Self::AppNotFound { .. } | Self::AppAmbiguous { .. } => None,
        }
    }
}

/// A failed read as a collection error, typed [`CollectError::AccessRefused`] for an auth failure.
fn okta(org: &str) -> impl Fn(OktaError) -> CollectError + '_ {
    move |source| {
        if is_auth_failure(&source) {
            CollectError::AccessRefused {
                org: org.to_string(),
                source: Box::new(source),
            }
        } else {
            CollectError::Okta {
                org: org.to_string(),
                source,
            }
        }
    }
}

/// Refused credentials: a refused or unobtainable OAuth token, any 401 or 403. Reads during collection
/// are all GETs with the same credentials, so one refusal means every read is refused.
fn is_auth_failure(e: &OktaError) -> bool {
    matches!(e, OktaError::Auth { .. } | OktaError::Config(_))
        || matches!(e.status(), Some(401 | 403))
}

/// Whether a failed read of one subject stops the whole collection instead of marking that subject
/// unknown: auth failures, and rate limits that did not clear, would hit every subject.
fn stops_collection(e: &OktaError) -> bool {
    is_auth_failure(e) || e.is_rate_limited()
}

/// How to collect.
#[derive(Debug, Clone)]
pub struct CollectOptions {
    /// The end of the System Log window and the plan's `now`.
    pub now: DateTime<Utc>,
    /// Walk every assignment of the app instead of starting from the System Log.
    pub full_scan: bool,
    /// Subjects fetched at once.
    pub concurrency: usize,
    /// Only the failures of these (spoke) user ids: the service plans the users its events name,
    /// through the same collection as a whole plan. All when `None`.
    pub only_users: Option<std::collections::BTreeSet<String>>,
}

/// Subjects and where they came from.
#[derive(Debug, Clone)]
pub struct Collection {
    /// In a stable order (by key), so plans from the same state are identical.
    pub subjects: Vec<Value>,
    pub source: Source,
}

/// Progress of a collection, for a progress bar.
#[derive(Debug, Clone)]
pub enum Progress {
    Phase(&'static str),
    Page { items: usize },
    Subject { done: usize, total: usize },
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Whether any rule or action of the rulebook reads `root` or a path under it.
pub(crate) fn reads(rb: &Rulebook, root: &str) -> bool {
    rb.paths().iter().any(|p| {
        p.as_str() == root
            || p.as_str().starts_with(&format!("{root}."))
            || p.as_str().starts_with(&format!("{root}["))
    })
}

/// Collects the subjects a rulebook asks for.
pub async fn collect<H: OktaApi, S: OktaApi>(
    rb: &Rulebook,
    hub: &H,
    spoke: &S,
    opts: &CollectOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Collection, CollectError> {
    collect_with(rb, hub, spoke, opts, &CostModel::default(), progress).await
}

/// [`collect`] with an explicit cost model (tests force one form of read to compare with another).
pub async fn collect_with<H: OktaApi, S: OktaApi>(
    rb: &Rulebook,
    hub: &H,
    spoke: &S,
    opts: &CollectOptions,
    model: &CostModel,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Collection, CollectError> {
    match rb.subjects.kind {
        SubjectKind::Org2orgAssignment => {
            org2org::collect(rb, hub, spoke, opts, model, progress).await
        }
        SubjectKind::User => users::collect(rb, hub, progress).await,
    }
}

/// One subject a plan names, read live again, in the shape [`collect`] builds: for `user` rulebooks
/// the user itself (by the id the plan recorded, else by `key`, a login), for `org2org_assignment`
/// the collector's own path narrowed to the subject's spoke user (`only_users`), its System Log
/// window ending at `now` as the plan's did. `None` when the orgs no longer have the subject (for
/// Org2Org: its assignment no longer fails in that window).
pub async fn collect_subject<H: OktaApi, S: OktaApi>(
    rb: &Rulebook,
    hub: &H,
    spoke: &S,
    key: &str,
    ids: &std::collections::BTreeMap<String, String>,
    now: DateTime<Utc>,
) -> Result<Option<Value>, CollectError> {
    match rb.subjects.kind {
        SubjectKind::User => {
            let id = ids.get("user_id").map_or(key, String::as_str);
            users::one(rb, hub, id).await
        }
        SubjectKind::Org2orgAssignment => {
            let Some(spoke_user) = ids.get("spoke_user_id") else {
                return Ok(None);
            };
            let opts = CollectOptions {
                now,
                full_scan: false,
                concurrency: 1,
                only_users: Some([spoke_user.clone()].into()),
            };
            let collection = collect(rb, hub, spoke, &opts, &|_| {}).await?;
            Ok(collection
                .subjects
                .into_iter()
                .enumerate()
                .find(|(i, s)| crate::engine::subject_key(rb.subjects.kind, s, *i) == key)
                .map(|(_, s)| s))
        }
    }
}
