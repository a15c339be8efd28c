//! Reading the hub users that failing assignments join to, in the form `cost.rs` chooses: `search`
//! batches joining `id eq` / `profile.login eq` terms with `or`, or one ID lookup per key. A key a
//! search did not return, or whose batch failed, is looked up by ID, so "absent" always comes from an
//! ID lookup (search is eventually consistent) and a per-key failure marks only its own subject.

use std::collections::BTreeMap;

use futures::{StreamExt, TryStreamExt};
use serde_json::Value;

use super::cost::{search_batches, Batch, CostModel, SEARCH_PAGE};
use super::{okta, stops_collection, CollectError, Progress};
use crate::okta::{JsonModel, OktaApi, OktaError, UserQuery};
use crate::subject::shape::{user_id, user_login, HubKey};

/// What reading one key's hub user gave.
#[derive(Debug, Clone)]
pub(super) enum HubRead {
    Found(Value),
    Absent,
    /// The read failed; the message goes into the subject's `collect_error`.
    Failed(String),
}

/// What a search batch left to do.
#[derive(Default)]
struct Searched {
    found: Vec<(HubKey, Value)>,
    /// Keys the search did not return, or whose batch failed: each gets an ID lookup.
    lookup: Vec<HubKey>,
}

/// Reads the hub user of every key (keys are distinct).
pub(super) async fn read<H: OktaApi>(
    hub: &H,
    keys: Vec<HubKey>,
    model: &CostModel,
    concurrency: usize,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<BTreeMap<HubKey, HubRead>, CollectError> {
    let mut out = BTreeMap::new();
    let lookups = if model.search_hub_users(keys.len()) {
        let (batches, mut lookups) = search_batches(&keys, model.max_search_len);
        let searched: Vec<Searched> = futures::stream::iter(batches)
            .map(|b| search(hub, b, progress))
            .buffer_unordered(concurrency.max(1))
            .try_collect()
            .await?;
        for s in searched {
            out.extend(s.found.into_iter().map(|(k, v)| (k, HubRead::Found(v))));
            lookups.extend(s.lookup);
        }
        lookups
    } else {
        keys
    };
    let looked_up: Vec<(HubKey, HubRead)> = futures::stream::iter(lookups)
        .map(|key| async move {
            let read = lookup(hub, &key).await?;
            Ok::<_, CollectError>((key, read))
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    out.extend(looked_up);
    Ok(out)
}

/// One ID lookup (`GET /api/v1/users/{id or login}`).
async fn lookup<H: OktaApi>(hub: &H, key: &HubKey) -> Result<HubRead, CollectError> {
    match hub.get_user(key.as_str()).await {
        Ok(Some(f)) => Ok(HubRead::Found(f.value.to_value())),
        Ok(None) => Ok(HubRead::Absent),
        Err(e) if stops_collection(&e) => Err(okta(hub.org_name())(e)),
        Err(e) => Ok(HubRead::Failed(e.to_string())),
    }
}

/// Whether Okta refused a search as too long or too complex (400, or 414 from a proxy).
fn too_complex(e: &OktaError) -> bool {
    matches!(e.status(), Some(400 | 414))
}

/// Runs one batch, splitting it in halves while Okta refuses it as too long or complex.
async fn search<H: OktaApi>(
    hub: &H,
    batch: Batch,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Searched, CollectError> {
    let mut out = Searched::default();
    let mut todo = vec![batch];
    while let Some(b) = todo.pop() {
        match search_users(hub, &b.expression(), progress).await {
            Ok(users) => match_keys(b.keys, &users, &mut out),
            Err(e) if stops_collection(&e) => return Err(okta(hub.org_name())(e)),
            Err(e) if too_complex(&e) => match b.split() {
                Ok((left, right)) => {
                    tracing::debug!(org = %hub.org_name(), "okta refused a search as too long or complex; splitting it");
                    todo.push(right);
                    todo.push(left);
                }
                Err(single) => out.lookup.extend(single.keys),
            },
            Err(_) => out.lookup.extend(b.keys),
        }
    }
    Ok(out)
}

/// Every user one `search` expression returns, all pages.
async fn search_users<H: OktaApi>(
    hub: &H,
    expression: &str,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Vec<Value>, OktaError> {
    let mut users = Vec::new();
    let mut pages = hub.list_users(UserQuery {
        search: Some(expression.to_string()),
        limit: Some(SEARCH_PAGE),
        ..UserQuery::default()
    });
    while let Some(page) = pages.try_next().await? {
        progress(Progress::Page {
            items: page.items.len(),
        });
        users.extend(page.items.iter().map(JsonModel::to_value));
    }
    Ok(users)
}

/// Pairs each key with the user it names among `users` (ids exactly, logins without regard to case,
/// as Okta compares them); keys without one are left for an ID lookup.
fn match_keys(keys: Vec<HubKey>, users: &[Value], out: &mut Searched) {
    for key in keys {
        let hit = users.iter().find(|u| match &key {
            HubKey::Id(id) => user_id(u) == Some(id.as_str()),
            HubKey::Login(login) => {
                user_login(u).is_some_and(|l| l.to_lowercase() == login.to_lowercase())
            }
        });
        match hit {
            Some(u) => out.found.push((key, u.clone())),
            None => out.lookup.push(key),
        }
    }
}
