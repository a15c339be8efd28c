//! Reading the spoke's assignments (app users) of the failing users, in the form `cost.rs` chooses:
//! the page scan of the app's assignments (`expand=user`, 500 a page, stopped once every wanted one is
//! seen or once pages stop paying for themselves), then one ID lookup for each wanted assignment the
//! scan did not reach. Also the full scan of every failing assignment, for audits.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::{StreamExt, TryStreamExt};
use serde_json::Value;

use super::cost::{CostModel, SCAN_PAGE};
use super::{okta, stops_collection, CollectError, Progress};
use crate::okta::{AppId, AppUserQuery, JsonModel, OktaApi, UserId};
use crate::subject::shape::is_failing;

/// What reading one wanted assignment gave.
#[derive(Debug, Clone)]
pub(super) enum AssignmentRead {
    /// The assignment, as Okta returns it with `expand=user`.
    Found(Value),
    /// Not assigned any more (404, or absent from a complete scan).
    Gone,
    /// The read failed; the message goes into the subject's `collect_error`.
    Failed(String),
}

fn scan_query() -> AppUserQuery {
    AppUserQuery {
        expand_user: true,
        limit: Some(SCAN_PAGE),
        ..AppUserQuery::default()
    }
}

/// Every failing assignment of the app (the full scan), in list order.
pub(super) async fn scan_failing<S: OktaApi>(
    spoke: &S,
    app_id: &AppId,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Vec<(UserId, Value)>, CollectError> {
    let mut out = Vec::new();
    let mut pages = spoke.list_app_users(app_id, scan_query());
    while let Some(page) = pages.try_next().await.map_err(okta(spoke.org_name()))? {
        progress(Progress::Page {
            items: page.items.len(),
        });
        for au in page.items {
            let v = au.to_value();
            if is_failing(&v) {
                out.push((au.id.clone(), v));
            }
        }
    }
    Ok(out)
}

/// Reads the assignment of each wanted user (distinct ids).
pub(super) async fn read<S: OktaApi>(
    spoke: &S,
    app_id: &AppId,
    wanted: &[UserId],
    model: &CostModel,
    concurrency: usize,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<BTreeMap<String, AssignmentRead>, CollectError> {
    let mut out = if model.scan_assignments(wanted.len()) {
        scan(spoke, app_id, wanted, model, progress).await?
    } else {
        BTreeMap::new()
    };
    let rest: Vec<&UserId> = wanted.iter().filter(|u| !out.contains_key(&u.0)).collect();
    let total = rest.len();
    let done = AtomicUsize::new(0);
    let looked_up: Vec<(String, AssignmentRead)> = futures::stream::iter(rest)
        .map(|uid| {
            let done = &done;
            async move {
                let read = lookup(spoke, app_id, uid).await?;
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                progress(Progress::Subject { done: n, total });
                Ok::<_, CollectError>((uid.0.clone(), read))
            }
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    out.extend(looked_up);
    Ok(out)
}

/// One ID lookup (`GET /api/v1/apps/{appId}/users/{userId}?expand=user`).
async fn lookup<S: OktaApi>(
    spoke: &S,
    app_id: &AppId,
    uid: &UserId,
) -> Result<AssignmentRead, CollectError> {
    match spoke.get_app_user(app_id, uid, true).await {
        Ok(Some(f)) => Ok(AssignmentRead::Found(f.value.to_value())),
        Ok(None) => Ok(AssignmentRead::Gone),
        Err(e) if stops_collection(&e) => Err(okta(spoke.org_name())(e)),
        Err(e) => Ok(AssignmentRead::Failed(e.to_string())),
    }
}

/// The page scan for the wanted assignments: what it saw, plus `Gone` for the wanted ones a complete
/// scan did not see. Stops when the model says lookups are now cheaper; a page that fails (other than
/// for a reason that stops collection) ends the scan, and the rest are looked up.
async fn scan<S: OktaApi>(
    spoke: &S,
    app_id: &AppId,
    wanted: &[UserId],
    model: &CostModel,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<BTreeMap<String, AssignmentRead>, CollectError> {
    let mut unseen: BTreeSet<&str> = wanted.iter().map(|u| u.0.as_str()).collect();
    let mut out = BTreeMap::new();
    let mut pages = spoke.list_app_users(app_id, scan_query());
    let mut read = 0;
    loop {
        let page = match pages.try_next().await {
            Ok(Some(page)) => page,
            Ok(None) => {
                // The scan is complete: what it did not see is not assigned.
                out.extend(unseen.iter().map(|u| (u.to_string(), AssignmentRead::Gone)));
                return Ok(out);
            }
            Err(e) if stops_collection(&e) => return Err(okta(spoke.org_name())(e)),
            Err(e) => {
                tracing::debug!(org = %spoke.org_name(), error = %e, "the assignment scan failed; looking the rest up one by one");
                return Ok(out);
            }
        };
        read += 1;
        progress(Progress::Page {
            items: page.items.len(),
        });
        for au in page.items {
            if unseen.remove(au.id.0.as_str()) {
                out.insert(au.id.0.clone(), AssignmentRead::Found(au.to_value()));
            }
        }
        if !model.keep_scanning(read, out.len(), unseen.len()) {
            return Ok(out);
        }
    }
}
