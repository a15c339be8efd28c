//! Users completing their password resets over time, with the events Okta writes.

use std::time::{Duration, Instant};

use okta_remedy::sim::OrgName::Hub;
use okta_remedy::sim::SimConfig;
use serde_json::Value;

use super::Harness;

/// The hub's events of one type about one user.
async fn events(h: &Harness, event_type: &str, user: &str) -> Vec<Value> {
    let r = h
        .get(
            Hub,
            &format!(
                "/api/v1/logs?filter=eventType%20eq%20%22{event_type}%22%20and%20target.id%20eq%20%22{user}%22&limit=100"
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body.as_array().unwrap().clone()
}

/// Some hub user in `status` with the OKTA provider.
async fn hub_user(h: &Harness, status: &str) -> String {
    let r = h
        .get(
            Hub,
            &format!("/api/v1/users?search=status%20eq%20%22{status}%22&limit=200"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let users = r.body.as_array().unwrap();
    let okta = users
        .iter()
        .find(|u| u["credentials"]["provider"]["type"] == "OKTA")
        .unwrap();
    okta["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_reset_user_sets_a_password_after_the_delay() {
    let h = Harness::start(SimConfig {
        complete_resets_after: Some(Duration::from_millis(150)),
        ..SimConfig::default()
    })
    .await;
    let id = hub_user(&h, "ACTIVE").await;
    let before = events(&h, "user.account.update_password", &id).await.len();
    let reset_at = Instant::now();
    let r = h
        .post(
            Hub,
            &format!("/api/v1/users/{id}/lifecycle/reset_password?sendEmail=false"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        h.get(Hub, &format!("/api/v1/users/{id}")).await.body["status"],
        "RECOVERY"
    );

    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let u = h.get(Hub, &format!("/api/v1/users/{id}")).await;
        if u.body["status"] == "ACTIVE" {
            assert!(u.body["passwordChanged"].is_string());
            break;
        }
        assert_eq!(u.body["status"], "RECOVERY");
        assert!(Instant::now() < deadline, "the reset was never completed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(reset_at.elapsed() >= Duration::from_millis(150));
    let updates = events(&h, "user.account.update_password", &id).await;
    assert_eq!(updates.len(), before + 1);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn without_the_setting_reset_users_keep_waiting() {
    let h = Harness::start(SimConfig::default()).await;
    let id = hub_user(&h, "ACTIVE").await;
    let r = h
        .post(
            Hub,
            &format!("/api/v1/users/{id}/lifecycle/reset_password?sendEmail=false"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(r.status, 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        h.get(Hub, &format!("/api/v1/users/{id}")).await.body["status"],
        "RECOVERY"
    );
    h.sim.shutdown().await;
}

#[tokio::test]
async fn a_provisioned_user_setting_a_password_is_activated_in_the_log() {
    let h = Harness::start(SimConfig::default()).await;
    let id = hub_user(&h, "PROVISIONED").await;
    h.sim.complete_password_reset(Hub, &id).unwrap();
    assert_eq!(
        events(&h, "user.account.update_password", &id).await.len(),
        1
    );
    assert_eq!(events(&h, "user.lifecycle.activate", &id).await.len(), 1);
    h.sim.shutdown().await;
}
