//! Rate limits and retries against the simulator: a 2,000-request job through a bucket of 100 per
//! (scaled-down, 1 s) window finishes with zero failed calls; 429s wait for the reset; 5xx, timeouts
//! and dropped connections are retried for GETs and for calls marked idempotent, never for a POST.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use okta_remedy::okta::{
    collect_all, endpoints, Call, ClientLimits, OktaApi, OktaError, UserId, UserQuery,
};
use okta_remedy::sim::{FaultSpec, Faults, OrgName, Sim};

use super::harness::{fast_limits, hub, hub_with, sim_config, start};

fn faults(bucket: &str, spec: FaultSpec) -> Faults {
    Faults {
        default: FaultSpec::default(),
        buckets: BTreeMap::from([(bucket.to_string(), spec)]),
    }
}

async fn user_ids(sim: &Sim) -> Vec<UserId> {
    collect_all(hub(sim).list_users(UserQuery {
        limit: Some(200),
        ..Default::default()
    }))
    .await
    .unwrap()
    .into_iter()
    .map(|u| u.id)
    .collect()
}

fn recorded(sim: &Sim, method: &str, path_start: &str, status: u16) -> usize {
    sim.requests(OrgName::Hub)
        .iter()
        .filter(|r| r.method == method && r.path.starts_with(path_start) && r.status == status)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_requests_through_a_100_per_window_bucket_all_succeed() {
    let mut cfg = sim_config();
    cfg.limits.window = Duration::from_secs(1);
    cfg.limits.buckets.insert("users.id.get".into(), 100);
    let sim = start(cfg).await;
    let ids = user_ids(&sim).await;
    let client = hub_with(
        &sim,
        ClientLimits {
            max_in_flight: 16,
            ..fast_limits()
        },
    );
    let started = Instant::now();
    let results: Vec<Result<_, OktaError>> = futures::stream::iter(0..2000)
        .map(|i| {
            let c = client.clone();
            let id = ids[i % ids.len()].clone();
            async move { c.get_user(id.as_str()).await }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let failed: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err().map(|e| e.to_string()))
        .take(3)
        .collect();
    assert!(failed.is_empty(), "failed calls: {failed:?}");
    assert!(results.iter().all(|r| matches!(r, Ok(Some(_)))));
    let ok = recorded(&sim, "GET", "/api/v1/users/", 200);
    let limited = recorded(&sim, "GET", "/api/v1/users/", 429);
    assert_eq!(ok, 2000);
    // Every 429 was retried: the client's count is successes plus 429s.
    assert_eq!(
        client.request_counts()["GET /api/v1/users/{id}"],
        (ok + limited) as u64
    );
    // 2,000 requests at 100 per second cannot take less than 19 full windows.
    assert!(elapsed >= Duration::from_secs(19), "{elapsed:?}");
    eprintln!(
        "rate-limited job: 2000 GETs in {:.1}s, {limited} answered 429 (share 0.8, 16 in flight)",
        elapsed.as_secs_f64()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_429_waits_for_the_reset_and_gives_up_only_when_told() {
    let mut cfg = sim_config();
    cfg.limits.window = Duration::from_secs(1);
    cfg.limits.buckets.insert("users.id.get".into(), 1);
    cfg.limits.window = Duration::from_secs(2);
    let sim = start(cfg).await;
    let ids = user_ids(&sim).await;
    // Two clients share a bucket of one request per window; the second knows nothing of the first's
    // usage, hits a 429, waits for the reset (by the server's clock), and succeeds.
    let full = ClientLimits {
        max_capacity_share: 1.0,
        ..fast_limits()
    };
    let a = hub_with(&sim, full.clone());
    let b = hub_with(&sim, full.clone());
    a.get_user(ids[0].as_str()).await.unwrap();
    let started = Instant::now();
    b.get_user(ids[1].as_str()).await.unwrap();
    assert_eq!(recorded(&sim, "GET", "/api/v1/users/", 429), 1);
    assert_eq!(b.request_counts()["GET /api/v1/users/{id}"], 2);
    assert!(started.elapsed() < Duration::from_secs(5));

    // `b` just used the new window: with no waits allowed, a third client's 429 surfaces as E0000047.
    let c = hub_with(
        &sim,
        ClientLimits {
            max_rate_limit_waits: 0,
            ..full
        },
    );
    let err = c.get_user(ids[2].as_str()).await.err();
    assert_eq!(recorded(&sim, "GET", "/api/v1/users/", 429), 2);
    let e = err.expect("a 429 with no waits allowed");
    assert!(e.is_rate_limited(), "{e}");
    assert_eq!(e.code(), Some("E0000047"));
    sim.shutdown().await;
}

/// 40 GETs through a bucket with `spec` faults all succeed; returns the faulty answers (status
/// `faulty_status`) the simulator recorded, after checking each was retried.
async fn gets_survive(spec: FaultSpec, faulty_status: u16) -> usize {
    let sim = start(sim_config()).await;
    let ids = user_ids(&sim).await;
    sim.set_faults(OrgName::Hub, faults("users.id.get", spec));
    let client = hub(&sim);
    for id in ids.iter().take(40) {
        client.get_user(id.as_str()).await.unwrap().unwrap();
    }
    let faulty = recorded(&sim, "GET", "/api/v1/users/", faulty_status);
    assert_eq!(
        client.request_counts()["GET /api/v1/users/{id}"],
        40 + faulty as u64
    );
    sim.shutdown().await;
    faulty
}

#[tokio::test]
async fn server_errors_on_gets_are_retried() {
    let errors = gets_survive(
        FaultSpec {
            error_rate: 0.3,
            ..Default::default()
        },
        500,
    )
    .await;
    assert!(errors > 0, "the fault injector produced no 500s");
}

#[tokio::test]
async fn dropped_connections_on_gets_are_retried() {
    // The simulator records a dropped connection with status 0.
    let dropped = gets_survive(
        FaultSpec {
            drop_rate: 0.3,
            ..Default::default()
        },
        0,
    )
    .await;
    assert!(dropped > 0, "the fault injector dropped nothing");
}

#[tokio::test]
async fn timeouts_on_gets_are_retried_then_reported() {
    let sim = start(sim_config()).await;
    let ids = user_ids(&sim).await;
    sim.set_faults(
        OrgName::Hub,
        faults(
            "users.id.get",
            FaultSpec {
                latency_ms: 400,
                ..Default::default()
            },
        ),
    );
    let client = hub_with(
        &sim,
        ClientLimits {
            timeout: Duration::from_millis(100),
            max_retries: 2,
            ..fast_limits()
        },
    );
    let e = client.get_user(ids[0].as_str()).await.unwrap_err();
    assert!(
        matches!(
            e,
            OktaError::Timeout {
                maybe_applied: false,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(
        client.request_counts()["GET /api/v1/users/{id}"],
        3,
        "one try and two retries"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_post_is_never_retried_blindly() {
    let sim = start(sim_config()).await;
    let ids = user_ids(&sim).await;
    let client = hub(&sim);
    let lifecycle = "POST /api/v1/users/{id}/lifecycle/reset_password";

    // 500 on a reset: reported after one attempt, outcome unknown.
    sim.set_faults(
        OrgName::Hub,
        faults(
            "users.id",
            FaultSpec {
                error_rate: 1.0,
                ..Default::default()
            },
        ),
    );
    let e = client.reset_password(&ids[0], true).await.unwrap_err();
    assert_eq!(e.status(), Some(500));
    assert_eq!(e.code(), Some("E0000009"));
    assert!(e.outcome_unknown());
    assert_eq!(client.request_counts()[lifecycle], 1);

    // Dropped connection after sending: one attempt, may have been applied.
    sim.set_faults(
        OrgName::Hub,
        faults(
            "users.id",
            FaultSpec {
                drop_rate: 1.0,
                ..Default::default()
            },
        ),
    );
    let e = client.reset_password(&ids[0], true).await.unwrap_err();
    assert!(
        matches!(
            e,
            OktaError::Transport {
                maybe_applied: true,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.outcome_unknown());
    assert_eq!(client.request_counts()[lifecycle], 2);

    // Timeout: same.
    sim.set_faults(
        OrgName::Hub,
        faults(
            "users.id",
            FaultSpec {
                latency_ms: 400,
                ..Default::default()
            },
        ),
    );
    let slow = hub_with(
        &sim,
        ClientLimits {
            timeout: Duration::from_millis(100),
            ..fast_limits()
        },
    );
    let e = slow.reset_password(&ids[0], true).await.unwrap_err();
    assert!(
        matches!(
            e,
            OktaError::Timeout {
                maybe_applied: true,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(slow.request_counts()[lifecycle], 1);

    // The same call marked idempotent by the caller is retried through the 500s.
    sim.set_faults(
        OrgName::Hub,
        faults(
            "users.id",
            FaultSpec {
                error_rate: 0.5,
                ..Default::default()
            },
        ),
    );
    let before = recorded(&sim, "POST", "/api/v1/users/", 500);
    let patient = hub_with(
        &sim,
        ClientLimits {
            max_retries: 12,
            ..fast_limits()
        },
    );
    for id in ids.iter().take(10) {
        let call = Call::new(&endpoints::UPDATE_USER)
            .path(id.as_str())
            .body(serde_json::json!({"profile": {"nickName": "n"}}));
        patient.call_json(call, true).await.unwrap();
    }
    assert!(recorded(&sim, "POST", "/api/v1/users/", 500) > before);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_flight_cap_keeps_under_the_orgs_concurrency_limit() {
    let mut cfg = sim_config();
    cfg.limits.max_in_flight = 4;
    let sim = start(cfg).await;
    let ids = user_ids(&sim).await;
    sim.set_faults(
        OrgName::Hub,
        faults(
            "users.id.get",
            FaultSpec {
                latency_ms: 30,
                ..Default::default()
            },
        ),
    );
    let run = |limit: usize| {
        let client = hub_with(
            &sim,
            ClientLimits {
                max_in_flight: limit,
                ..fast_limits()
            },
        );
        let ids = ids.clone();
        async move {
            let results: Vec<Result<_, OktaError>> = futures::stream::iter(0..60)
                .map(|i| {
                    let c = client.clone();
                    let id = ids[i % ids.len()].clone();
                    async move { c.get_user(id.as_str()).await }
                })
                .buffer_unordered(30)
                .collect()
                .await;
            assert!(results.iter().all(Result::is_ok));
        }
    };
    // Capped at the org's limit: no concurrency 429s.
    run(4).await;
    assert_eq!(recorded(&sim, "GET", "/api/v1/users/", 429), 0);
    // Above it, the org refuses some (and the client waits them out): the cap is what kept it clean.
    run(16).await;
    assert!(recorded(&sim, "GET", "/api/v1/users/", 429) > 0);
    sim.shutdown().await;
}
