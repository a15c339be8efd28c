//! Rate limits, the concurrency cap and fault injection: deterministic under a seed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use okta_remedy::sim::OrgName::{Hub, Spoke};
use okta_remedy::sim::{FaultSpec, Faults, GenerateSpec, RateLimits, Scenario, SimConfig};
use reqwest::Method;

use super::Harness;

fn small(limits: RateLimits) -> SimConfig {
    SimConfig {
        scenario: Scenario::Generate(GenerateSpec {
            hub_users: 20,
            ..GenerateSpec::default()
        }),
        limits,
        ..SimConfig::default()
    }
}

fn users_limit(n: u32, window: Duration) -> RateLimits {
    let mut limits = RateLimits {
        window,
        ..RateLimits::default()
    };
    limits.buckets.insert("users".into(), n);
    limits
}

#[tokio::test]
async fn buckets_count_down_and_refuse_with_e0000047() {
    let h = Harness::start(small(users_limit(3, Duration::from_secs(60)))).await;
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let r = h.get(Hub, "/api/v1/users?limit=1").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-rate-limit-limit"), Some("3"));
        remaining.push(r.header("x-rate-limit-remaining").unwrap().to_string());
    }
    assert_eq!(remaining, ["2", "1", "0"]);
    let refused = h.get(Hub, "/api/v1/users?limit=1").await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.body["errorCode"], "E0000047");
    let reset: u64 = refused
        .header("x-rate-limit-reset")
        .unwrap()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(reset > now && reset <= now + 61, "reset {reset} now {now}");

    // Other buckets and the other org are separate.
    let single = h.get(Hub, "/api/v1/users/nobody@example.com").await;
    assert_eq!(
        (single.status, single.header("x-rate-limit-limit")),
        (404, Some("2000"))
    );
    assert_eq!(h.get(Spoke, "/api/v1/users?limit=1").await.status, 200);
    assert_eq!(h.sim.counters(Hub).get("users"), Some(&4));

    // Unauthenticated calls are refused with E0000011 and still carry the headers.
    let anon = h
        .try_send(Hub, Method::GET, "/api/v1/logs", None, Some("SSWS nope"))
        .await
        .unwrap();
    assert_eq!(
        (anon.status, anon.body["errorCode"].as_str()),
        (401, Some("E0000011"))
    );
    assert_eq!(anon.header("x-rate-limit-limit"), Some("120"));
}

#[tokio::test]
async fn a_window_resets_after_its_length() {
    let h = Harness::start(small(users_limit(1, Duration::from_millis(300)))).await;
    assert_eq!(h.get(Hub, "/api/v1/users?limit=1").await.status, 200);
    assert_eq!(h.get(Hub, "/api/v1/users?limit=1").await.status, 429);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = h.get(Hub, "/api/v1/users?limit=1").await;
        if r.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the window never reset");
        tokio::task::yield_now().await;
    }
}

async fn statuses(h: &Harness, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(h.get(Hub, "/api/v1/users?limit=1").await.status);
    }
    out
}

fn errors(rate: f64) -> Faults {
    Faults {
        default: FaultSpec::default(),
        buckets: BTreeMap::from([(
            "users".to_string(),
            FaultSpec {
                error_rate: rate,
                ..FaultSpec::default()
            },
        )]),
    }
}

#[tokio::test]
async fn injected_errors_repeat_exactly_under_the_same_seed() {
    let h = Harness::start(small(RateLimits::default())).await;
    h.sim.set_faults(Hub, errors(0.4));
    let first = statuses(&h, 30).await;
    assert!(first.contains(&500) && first.contains(&200), "{first:?}");
    h.sim.set_faults(Hub, errors(0.4));
    assert_eq!(statuses(&h, 30).await, first);

    // Another simulator with the same seed makes the same decisions; another seed does not.
    let same = Harness::start(small(RateLimits::default())).await;
    same.sim.set_faults(Hub, errors(0.4));
    assert_eq!(statuses(&same, 30).await, first);
    let other = Harness::start(SimConfig {
        seed: 7,
        ..small(RateLimits::default())
    })
    .await;
    other.sim.set_faults(Hub, errors(0.4));
    assert_ne!(statuses(&other, 30).await, first);

    // Faults are per bucket: logs are untouched.
    assert_eq!(h.get(Hub, "/api/v1/logs").await.status, 200);
}

#[tokio::test]
async fn dropped_connections_and_latency() {
    let h = Harness::start(small(RateLimits::default())).await;
    let faults = Faults {
        default: FaultSpec::default(),
        buckets: BTreeMap::from([
            (
                "logs".to_string(),
                FaultSpec {
                    drop_rate: 1.0,
                    ..FaultSpec::default()
                },
            ),
            (
                "groups".to_string(),
                FaultSpec {
                    latency_ms: 200,
                    ..FaultSpec::default()
                },
            ),
        ]),
    };
    // Through the control API this time.
    let set = h
        .post(Hub, "/__sim/faults", serde_json::to_value(&faults).unwrap())
        .await;
    assert_eq!(set.status, 200, "{}", set.body);
    let dropped = h
        .try_send(Hub, Method::GET, "/api/v1/logs", None, None)
        .await;
    assert!(dropped.is_err(), "{dropped:?}");
    assert_eq!(h.sim.requests(Hub).last().unwrap().status, 0);

    let started = Instant::now();
    assert_eq!(h.get(Hub, "/api/v1/groups").await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn concurrency_cap_refuses_requests_beyond_it() {
    let limits = RateLimits {
        max_in_flight: 2,
        ..RateLimits::default()
    };
    let h = Harness::start(small(limits)).await;
    h.sim.set_faults(
        Hub,
        Faults {
            default: FaultSpec {
                latency_ms: 1000,
                ..FaultSpec::default()
            },
            buckets: BTreeMap::new(),
        },
    );
    let calls = (0..6).map(|_| h.get(Hub, "/api/v1/users?limit=1"));
    let results: Vec<u16> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.status)
        .collect();
    let ok = results.iter().filter(|s| **s == 200).count();
    let refused = results.iter().filter(|s| **s == 429).count();
    assert_eq!(ok + refused, 6, "{results:?}");
    assert!(ok <= 2 && refused >= 4, "{results:?}");
}
