//! `user` collection: one org's users, narrowed server-side with `search` when every rule pins
//! `$.user.status` (the pushdown), with each user's groups when a rule reads `$.groups`.

use std::collections::BTreeSet;

use futures::TryStreamExt;
use serde_json::Value;

use super::{okta, reads, CollectError, Collection, Progress};
use crate::condition::{Condition, Leaf, Op};
use crate::okta::{JsonModel, OktaApi, UserQuery};
use crate::plan::Source;
use crate::rulebook::{Rulebook, SubjectKind};
use crate::subject::shape;

/// The statuses every rule requires of `$.user.status`, when each rule pins it (`equals`/`in` at the
/// top of an `all`, or as the whole condition). `None` means no pushdown is safe.
pub fn status_pushdown(rb: &Rulebook) -> Option<BTreeSet<String>> {
    let mut all = BTreeSet::new();
    for r in &rb.rules {
        all.extend(pinned_statuses(&r.when)?);
    }
    (!all.is_empty()).then_some(all)
}

/// The statuses one condition pins `$.user.status` to, if it does.
fn pinned_statuses(c: &Condition) -> Option<BTreeSet<String>> {
    let leaves: Vec<&Leaf> = match c {
        Condition::Leaf(l) => vec![l],
        Condition::All(cs) => cs
            .iter()
            .filter_map(|c| match c {
                Condition::Leaf(l) => Some(l),
                _ => None,
            })
            .collect(),
        _ => return None,
    };
    leaves.iter().find_map(|l| {
        if l.path.as_str() != "$.user.status" {
            return None;
        }
        match &l.op {
            Op::Equals(Value::String(s)) => Some(BTreeSet::from([s.clone()])),
            Op::In(vs) => vs.iter().map(|v| v.as_str().map(str::to_string)).collect(),
            _ => None,
        }
    })
}

pub(super) async fn collect<H: OktaApi>(
    rb: &Rulebook,
    org: &H,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Collection, CollectError> {
    let name = org.org_name().to_string();
    let search = status_pushdown(rb).map(|set| {
        set.iter()
            .map(|s| format!("status eq \"{s}\""))
            .collect::<Vec<_>>()
            .join(" or ")
    });
    progress(Progress::Phase("listing users"));
    let mut pages = org.list_users(UserQuery {
        search,
        limit: Some(200),
        ..UserQuery::default()
    });
    let wants_groups = reads(rb, "$.groups");
    let mut subjects = Vec::new();
    while let Some(page) = pages.try_next().await.map_err(okta(&name))? {
        progress(Progress::Page {
            items: page.items.len(),
        });
        for u in page.items {
            subjects.push(subject_of(org, &u, wants_groups).await?);
        }
    }
    subjects.sort_by_key(|s| crate::engine::subject_key(SubjectKind::User, s, 0));
    Ok(Collection {
        subjects,
        source: Source::live(SubjectKind::User, None),
    })
}

/// The subject of user `u` of `org`, with the user's groups when the rulebook reads `$.groups`.
async fn subject_of<H: OktaApi>(
    org: &H,
    u: &crate::okta::User,
    wants_groups: bool,
) -> Result<Value, CollectError> {
    let name = org.org_name();
    let mut s = shape::user_subject(name, u.to_value());
    if wants_groups {
        let groups = org.user_groups(&u.id).await.map_err(okta(name))?;
        shape::set_groups(&mut s, groups.iter().map(JsonModel::to_value).collect());
    }
    Ok(s)
}

/// One user's subject, read by id or login (one `GET /api/v1/users/{id}`, and its groups when the
/// rulebook reads them), as [`collect`] builds it; `None` when the org has no such user.
pub(super) async fn one<H: OktaApi>(
    rb: &Rulebook,
    org: &H,
    id_or_login: &str,
) -> Result<Option<Value>, CollectError> {
    let name = org.org_name().to_string();
    let Some(user) = org.get_user(id_or_login).await.map_err(okta(&name))? else {
        return Ok(None);
    };
    Ok(Some(
        subject_of(org, &user.value, reads(rb, "$.groups")).await?,
    ))
}
