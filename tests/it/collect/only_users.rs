//! The service's collection of named users (`CollectOptions::only_users`) reads only their failures:
//! the System Log filter names them by `target.id`, a few dozen a query, and each subject comes out
//! exactly as a whole plan collects it, events included.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use okta_remedy::collect::{collect, collect_with, CollectOptions, CostModel};
use okta_remedy::rulebook;
use okta_remedy::sim::OrgName;

use super::{anchor, client, no_progress, spec, start, SEED_RULES};

fn options(only_users: Option<BTreeSet<String>>) -> CollectOptions {
    CollectOptions {
        now: anchor(),
        full_scan: false,
        concurrency: 4,
        only_users,
    }
}

/// The spoke user id a subject is about.
fn user_of(subject: &Value) -> String {
    subject["spoke_user"]["id"].as_str().unwrap().to_string()
}

// Half the failing users, one healthy and one unknown: only their failures are read, in queries
// of a few ids, and their subjects equal the whole plan's.
#[tokio::test]
async fn a_plan_of_named_users_reads_only_their_failures_and_collects_the_same_subjects() {
    let sim = start(spec()).await;
    let rb = rulebook::load(Path::new(SEED_RULES)).unwrap();
    let hub = client("hub", &sim.hub_url(), sim.hub_token());
    let spoke = client("spoke", &sim.spoke_url(), sim.spoke_token());
    let whole = collect(&rb, &hub, &spoke, &options(None), &no_progress)
        .await
        .unwrap();
    let seen = sim.requests(OrgName::Spoke).len();
    let mut named: BTreeSet<String> = whole.subjects.iter().map(user_of).step_by(2).collect();
    let failing = named.len();
    assert!(failing >= 9, "{failing}");
    let spoke_dump = sim.dump(OrgName::Spoke);
    let healthy = spoke_dump["app_users"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|users| users.as_array().unwrap())
        .find(|au| !okta_remedy::collect::is_failing(au))
        .map(|au| au["id"].as_str().unwrap().to_string())
        .unwrap();
    named.insert(healthy);
    named.insert("00uNOSUCHUSER0000001".to_string());
    // About four ids a query, so the read takes several queries.
    let model = CostModel {
        max_search_len: 160,
        ..CostModel::default()
    };
    let narrowed = collect_with(
        &rb,
        &hub,
        &spoke,
        &options(Some(named.clone())),
        &model,
        &no_progress,
    )
    .await
    .unwrap();

    let expected: Vec<&Value> = whole
        .subjects
        .iter()
        .filter(|s| named.contains(&user_of(s)))
        .collect();
    assert_eq!(expected.len(), failing);
    assert_eq!(narrowed.subjects.iter().collect::<Vec<_>>(), expected);

    // The log was read with the failure filter narrowed to the named users, each in one query.
    let mut queried = Vec::new();
    let mut queries = 0;
    for r in &sim.requests(OrgName::Spoke)[seen..] {
        if r.path != "/api/v1/logs" {
            continue;
        }
        queries += 1;
        let filter = url::form_urlencoded::parse(r.query.as_bytes())
            .find(|(k, _)| k == "filter")
            .map(|(_, v)| v.into_owned())
            .unwrap();
        let (failure, ids) = filter.split_once(" and (").unwrap();
        assert_eq!(failure, okta_remedy::collect::FAILURE_FILTER);
        for term in ids.trim_end_matches(')').split(" or ") {
            let id = term.strip_prefix("target.id eq \"").unwrap();
            queried.push(id.trim_end_matches('"').to_string());
        }
    }
    assert_eq!(queries, named.len().div_ceil(4), "{queried:?}");
    assert_eq!(queried, named.iter().cloned().collect::<Vec<_>>());
    sim.shutdown().await;
}
