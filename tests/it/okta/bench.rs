//! Measurements, not tests: throughput of the client against the simulator (pagination, concurrent
//! GETs with SSWS and with OAuth+DPoP). Ignored by default; nothing is asserted about speed. Run with
//! `cargo test --test it okta::bench -- --ignored --nocapture --test-threads 1`.

use std::time::{Duration, Instant};

use futures::StreamExt;
use okta_remedy::okta::oauth::ClientKey;
use okta_remedy::okta::{Auth, ClientLimits, OktaApi, OktaClient, OrgConfig, Secret, UserQuery};
use okta_remedy::sim::{GenerateSpec, OAuthClient, RateLimits, Scenario, SimConfig};

use super::harness::{fast_limits, fixture, hub_with, start, ALL_SCOPES};

fn unlimited() -> RateLimits {
    let mut l = RateLimits::default();
    for v in l.buckets.values_mut() {
        *v = 1_000_000;
    }
    l.default = 1_000_000;
    l.max_in_flight = 1_000;
    l
}

async fn gets(client: &OktaClient, ids: &[String], n: usize, concurrency: usize) -> Duration {
    let started = Instant::now();
    let ok = futures::stream::iter(0..n)
        .map(|i| {
            let c = client.clone();
            let id = ids[i % ids.len()].clone();
            async move {
                let r = c.get_user(&id).await;
                if let Err(e) = &r {
                    eprintln!("{e}");
                }
                r.is_ok()
            }
        })
        .buffer_unordered(concurrency)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await;
    assert_eq!(ok, n);
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: run with --ignored --nocapture"]
async fn client_throughput() {
    let key = ClientKey::parse(&Secret::new(fixture("test-ec-pkcs8.pem")), Some("bench")).unwrap();
    let sim = start(SimConfig {
        scenario: Scenario::Generate(GenerateSpec {
            hub_users: 10_000,
            ..GenerateSpec::default()
        }),
        limits: unlimited(),
        oauth_clients: vec![OAuthClient {
            client_id: "0oaBench".into(),
            public_jwk: key.public_jwk().clone(),
            scopes: ALL_SCOPES.iter().map(|s| s.to_string()).collect(),
        }],
        ..SimConfig::default()
    })
    .await;
    let limits = ClientLimits {
        max_in_flight: 32,
        max_capacity_share: 1.0,
        ..fast_limits()
    };
    let hub = hub_with(&sim, limits.clone());

    let started = Instant::now();
    let mut pages = hub.list_users(UserQuery {
        limit: Some(200),
        ..Default::default()
    });
    let (mut n_pages, mut n_users) = (0, 0);
    let mut ids = Vec::new();
    while let Some(p) = pages.next().await {
        let p = p.unwrap();
        n_pages += 1;
        n_users += p.items.len();
        ids.extend(p.items.into_iter().map(|u| u.id.0));
    }
    let t = started.elapsed();
    eprintln!(
        "list users: {n_users} users in {n_pages} pages of 200 in {:.2}s ({:.0} users/s, {:.1} ms/page)",
        t.as_secs_f64(),
        n_users as f64 / t.as_secs_f64(),
        t.as_secs_f64() * 1000.0 / n_pages as f64
    );

    for concurrency in [1, 8, 32] {
        let t = gets(&hub, &ids, 2000, concurrency).await;
        eprintln!(
            "SSWS get_user x2000, {concurrency} in flight: {:.2}s ({:.0} req/s)",
            t.as_secs_f64(),
            2000.0 / t.as_secs_f64()
        );
    }
    let oauth = OktaClient::new(OrgConfig {
        name: "hub".into(),
        base_url: url::Url::parse(&sim.hub_url()).unwrap(),
        auth: Auth::PrivateKey {
            client_id: "0oaBench".into(),
            key: Secret::new(fixture("test-ec-pkcs8.pem")),
            kid: Some("bench".into()),
            scopes: ALL_SCOPES.iter().map(|s| s.to_string()).collect(),
        },
        limits,
    })
    .unwrap();
    for concurrency in [1, 32] {
        let t = gets(&oauth, &ids, 2000, concurrency).await;
        eprintln!(
            "OAuth+DPoP get_user x2000, {concurrency} in flight: {:.2}s ({:.0} req/s)",
            t.as_secs_f64(),
            2000.0 / t.as_secs_f64()
        );
    }
    sim.shutdown().await;
}
