//! Okta event hooks from the simulator to a local receiver: the verification handshake, deliveries
//! with the secret header, seeded duplicates, the retry after a failure, nothing before verification.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use okta_remedy::sim::OrgName::Spoke;
use okta_remedy::sim::{DeliveryKind, EventHook, EventHooks, HookDelivery, Sim, SimConfig};
use serde_json::{json, Value};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    method: Method,
    headers: HeaderMap,
    body: Value,
}

/// How the receiver behaves, and what it got.
#[derive(Default)]
struct Receiver {
    got: Mutex<Vec<Received>>,
    /// Answer verifications with a wrong value while set.
    refuse_verification: AtomicBool,
    /// Answer this many event POSTs with 500 before accepting.
    fail_posts: AtomicUsize,
    /// Answer this many event POSTs only after 400 ms.
    slow_posts: AtomicUsize,
}

impl Receiver {
    fn posts(&self) -> Vec<Received> {
        let got = self.got.lock().unwrap();
        got.iter()
            .filter(|r| r.method == Method::POST)
            .cloned()
            .collect()
    }
}

async fn receive(
    State(rx): State<Arc<Receiver>>,
    method: Method,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> (StatusCode, String) {
    let parsed = serde_json::from_slice(&body).unwrap_or(Value::Null);
    rx.got.lock().unwrap().push(Received {
        method: method.clone(),
        headers: headers.clone(),
        body: parsed,
    });
    if method == Method::GET {
        let challenge = headers
            .get("x-okta-verification-challenge")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let echoed = if rx.refuse_verification.load(Ordering::SeqCst) {
            "not-the-challenge"
        } else {
            challenge
        };
        return (
            StatusCode::OK,
            json!({ "verification": echoed }).to_string(),
        );
    }
    let slow = rx.slow_posts.load(Ordering::SeqCst);
    if slow > 0 {
        rx.slow_posts.store(slow - 1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let failing = rx.fail_posts.load(Ordering::SeqCst);
    if failing > 0 {
        rx.fail_posts.store(failing - 1, Ordering::SeqCst);
        return (StatusCode::INTERNAL_SERVER_ERROR, String::new());
    }
    (StatusCode::OK, String::new())
}

/// A receiver on 127.0.0.1:0 and its URL.
async fn receiver(rx: Arc<Receiver>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new()
        .route("/okta/events", axum::routing::any(receive))
        .with_state(rx);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://127.0.0.1:{port}/okta/events")
}

async fn sim_with_hook(url: String, duplicate_rate: f64) -> Sim {
    sim_with_timeout(url, duplicate_rate, Duration::from_secs(3)).await
}

async fn sim_with_timeout(url: String, duplicate_rate: f64, timeout: Duration) -> Sim {
    let hook = EventHook {
        secret: Some("hook-secret-1".into()),
        ..EventHook::new(Spoke, url)
    };
    Sim::start(SimConfig {
        event_hooks: EventHooks {
            hooks: vec![hook],
            duplicate_rate,
            timeout,
        },
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

/// Polls `done` until it holds, failing after 3 s.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(3);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn event_deliveries(sim: &Sim) -> Vec<HookDelivery> {
    sim.hook_deliveries()
        .into_iter()
        .filter(|d| d.kind == DeliveryKind::Events)
        .collect()
}

fn uuids(body: &Value) -> Vec<String> {
    body["data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["uuid"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn verified_hook_receives_push_failures_with_the_secret() {
    let rx = Arc::new(Receiver::default());
    let sim = sim_with_hook(receiver(rx.clone()).await, 0.0).await;
    until("verification", || sim.hook_verified(0)).await;
    let first = rx.got.lock().unwrap()[0].clone();
    assert_eq!(first.method, Method::GET);
    assert_eq!(first.headers["authorization"], "hook-secret-1");
    assert_eq!(
        first.headers["x-okta-verification-challenge"].len(),
        40,
        "a challenge is sent"
    );

    let made = sim.trickle_now(2).unwrap();
    until("a delivery", || {
        rx.posts()
            .iter()
            .map(|p| uuids(&p.body).len())
            .sum::<usize>()
            == 2
    })
    .await;
    let posts = rx.posts();
    let post = &posts[0];
    assert_eq!(post.headers["authorization"], "hook-secret-1");
    assert_eq!(post.headers["content-type"], "application/json");
    for key in [
        "eventType",
        "eventTypeVersion",
        "cloudEventsVersion",
        "contentType",
    ] {
        assert!(post.body[key].is_string(), "{key}: {}", post.body);
    }
    assert_eq!(post.body["eventType"], "com.okta.event_hook");
    assert_eq!(post.body["eventTypeVersion"], "1.0");
    assert!(post.body["source"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}/api/v1/eventHooks/who", sim.spoke_url())));
    // Only the subscribed type: the pushes that failed, not the creations and assignments.
    let events: Vec<Value> = posts
        .iter()
        .flat_map(|p| p.body["data"]["events"].as_array().unwrap().clone())
        .collect();
    for (e, c) in events.iter().zip(&made) {
        assert_eq!(e["eventType"], "application.provision.user.push");
        assert_eq!(e["outcome"]["result"], "FAILURE");
        assert!(e["target"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == c.spoke_user_id.as_str()));
    }
    let records = event_deliveries(&sim);
    assert!(records
        .iter()
        .all(|d| d.ok() && d.attempt == 1 && !d.duplicate));
    sim.shutdown().await;
}

#[tokio::test]
async fn duplicates_resend_the_same_event_ids_and_uuids() {
    let rx = Arc::new(Receiver::default());
    let sim = sim_with_hook(receiver(rx.clone()).await, 1.0).await;
    until("verification", || sim.hook_verified(0)).await;
    sim.trickle_now(1).unwrap();
    until("two deliveries", || rx.posts().len() == 2).await;
    let posts = rx.posts();
    assert_eq!(posts[0].body["eventId"], posts[1].body["eventId"]);
    assert_eq!(uuids(&posts[0].body), uuids(&posts[1].body));
    let records = event_deliveries(&sim);
    assert_eq!(
        records.iter().map(|d| d.duplicate).collect::<Vec<_>>(),
        [false, true]
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_failed_delivery_is_retried_once() {
    let rx = Arc::new(Receiver::default());
    rx.fail_posts.store(1, Ordering::SeqCst);
    let sim = sim_with_hook(receiver(rx.clone()).await, 0.0).await;
    until("verification", || sim.hook_verified(0)).await;
    sim.trickle_now(1).unwrap();
    until("the retry", || rx.posts().len() == 2).await;
    let posts = rx.posts();
    assert_eq!(
        posts[0].body, posts[1].body,
        "the retry sends the same body"
    );
    until("the records", || event_deliveries(&sim).len() == 2).await;
    let records = event_deliveries(&sim);
    assert_eq!(records[0].status, Some(500));
    assert_eq!(records[0].attempt, 1);
    assert!(!records[0].ok());
    assert_eq!(records[1].status, Some(200));
    assert_eq!(records[1].attempt, 2);
    assert_eq!(records[0].event_id, records[1].event_id);

    // Okta retries once: two failures give up on the batch.
    rx.fail_posts.store(2, Ordering::SeqCst);
    sim.trickle_now(1).unwrap();
    until("two more attempts", || event_deliveries(&sim).len() == 4).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let records = event_deliveries(&sim);
    assert_eq!(records.len(), 4, "no third attempt: {records:?}");
    assert!(records[2..].iter().all(|d| d.status == Some(500)));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_delivery_not_answered_in_time_is_retried() {
    let rx = Arc::new(Receiver::default());
    rx.slow_posts.store(1, Ordering::SeqCst);
    let sim = sim_with_timeout(receiver(rx.clone()).await, 0.0, Duration::from_millis(150)).await;
    until("verification", || sim.hook_verified(0)).await;
    sim.trickle_now(1).unwrap();
    until("the retry", || event_deliveries(&sim).len() == 2).await;
    let records = event_deliveries(&sim);
    assert_eq!(records[0].status, None);
    assert_eq!(
        records[0].error.as_deref(),
        Some("no answer within the timeout")
    );
    assert!(records[0].latency >= Duration::from_millis(150));
    assert!(records[1].ok() && records[1].attempt == 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn nothing_is_delivered_before_verification() {
    let rx = Arc::new(Receiver::default());
    rx.refuse_verification.store(true, Ordering::SeqCst);
    let sim = sim_with_hook(receiver(rx.clone()).await, 0.0).await;
    until("a refused verification", || {
        sim.hook_deliveries()
            .iter()
            .any(|d| d.kind == DeliveryKind::Verification && !d.ok())
    })
    .await;
    assert!(!sim.hook_verified(0));
    let unverified = sim.trickle_now(1).unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(rx.posts().is_empty());

    rx.refuse_verification.store(false, Ordering::SeqCst);
    until("verification", || sim.hook_verified(0)).await;
    let verified = sim.trickle_now(1).unwrap();
    until("a delivery", || !rx.posts().is_empty()).await;
    let delivered: Vec<Value> = rx
        .posts()
        .iter()
        .flat_map(|p| p.body["data"]["events"].as_array().unwrap().clone())
        .collect();
    let about = |id: &str| {
        delivered.iter().any(|e| {
            e["target"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["id"] == id)
        })
    };
    assert!(about(&verified[0].spoke_user_id));
    assert!(!about(&unverified[0].spoke_user_id));
    let failed = sim
        .hook_deliveries()
        .into_iter()
        .find(|d| d.kind == DeliveryKind::Verification && !d.ok())
        .unwrap();
    assert_eq!(
        failed.error.as_deref(),
        Some("the receiver did not echo the challenge")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn hook_settings_are_checked_without_echoing_secrets() {
    let bad = |hooks: EventHooks| async move {
        Sim::start(SimConfig {
            event_hooks: hooks,
            ..SimConfig::default()
        })
        .await
        .unwrap_err()
        .to_string()
    };
    let hook = EventHook::new(Spoke, "ftp://127.0.0.1/?token=abc");
    let e = bad(EventHooks {
        hooks: vec![hook],
        ..EventHooks::default()
    })
    .await;
    assert!(e.contains("http or https"), "{e}");
    assert!(!e.contains("token=abc"), "{e}");
    let e = bad(EventHooks {
        duplicate_rate: 1.5,
        ..EventHooks::default()
    })
    .await;
    assert!(e.contains("1.5"), "{e}");
    let hook = EventHook {
        secret: Some("bad\nsecret".into()),
        ..EventHook::new(Spoke, "http://127.0.0.1:9/")
    };
    let e = bad(EventHooks {
        hooks: vec![hook.clone()],
        ..EventHooks::default()
    })
    .await;
    assert!(!e.contains("bad\nsecret"), "{e}");
    assert!(!format!("{hook:?}").contains("127.0.0.1:9"));
}
