//! The hub's size costs no request: the same failures planned against hubs of 1,000 and 30,000 users
//! make exactly the same requests per endpoint, with and without `--full-scan` (bench/collect.py
//! measures 10,000 to 1,000,000).

use std::collections::BTreeMap;
use std::path::Path;

use okta_remedy::collect::{collect, CollectOptions};
use okta_remedy::rulebook;
use okta_remedy::sim::{GenerateSpec, OrgName, Sim};

use super::{anchor, client, no_progress, okta_requests, start, SEED_RULES};

/// Requests per endpoint (`hub GET /api/v1/users`), both orgs, made since `before`.
fn requests_since(sim: &Sim, before: &BTreeMap<String, usize>) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for org in [OrgName::Hub, OrgName::Spoke] {
        for (endpoint, n) in okta_requests(sim, org) {
            let key = format!("{org} {endpoint}");
            let n = n - before.get(&key).copied().unwrap_or(0);
            if n > 0 {
                out.insert(key, n);
            }
        }
    }
    out
}

/// The requests of a plan, then of a full-scan plan, against a hub of `hub_users` users.
async fn plan_requests(hub_users: usize) -> [BTreeMap<String, usize>; 2] {
    let sim = start(GenerateSpec {
        hub_users,
        spoke_assignments: 1_500,
        federation_collisions: 60,
        policy_lookalikes: 5,
        missing_hub: 5,
        not_active_hub: 0,
        deprovisioned_hub: 0,
        suspended_hub: 0,
        protected_admins: 0,
        group_assigned: 0,
        anchor: None,
    })
    .await;
    let rb = rulebook::load(Path::new(SEED_RULES)).unwrap();
    let hub = client("hub", &sim.hub_url(), sim.hub_token());
    let spoke = client("spoke", &sim.spoke_url(), sim.spoke_token());
    let mut out = [BTreeMap::new(), BTreeMap::new()];
    let mut before = BTreeMap::new();
    for (i, full_scan) in [false, true].into_iter().enumerate() {
        let opts = CollectOptions {
            now: anchor(),
            full_scan,
            only_users: None,
            concurrency: 4,
        };
        let collection = collect(&rb, &hub, &spoke, &opts, &no_progress)
            .await
            .unwrap();
        assert_eq!(collection.subjects.len(), 70, "full scan: {full_scan}");
        out[i] = requests_since(&sim, &before);
        before = requests_since(&sim, &BTreeMap::new());
    }
    sim.shutdown().await;
    out
}

// 30 times the hub users, not one request more: no read lists or pages through the hub.
#[tokio::test]
async fn requests_do_not_grow_with_the_hub() {
    let small = plan_requests(1_000).await;
    let large = plan_requests(30_000).await;
    assert_eq!(small, large);
    // Each plan: the app, one log page, the 1,500 assignments in 3 pages of 500 (70 failing), 2
    // searches joining the 70 logins (60 found) and 10 ID lookups confirming the 10 absent hub
    // users (the 5 policy look-alikes and the 5 missing have none); the full scan reads the same.
    let expected = BTreeMap::from([
        ("hub GET /api/v1/users".to_string(), 2),
        ("hub GET /api/v1/users/{id}".to_string(), 10),
        ("spoke GET /api/v1/apps".to_string(), 1),
        ("spoke GET /api/v1/apps/{id}/users".to_string(), 3),
        ("spoke GET /api/v1/logs".to_string(), 1),
    ]);
    assert_eq!(small, [expected.clone(), expected]);
}
