//! The trickle: new failing Org2Org assignments while the simulator runs, on demand and by the clock.

use std::time::{Duration, Instant};

use okta_remedy::sim::OrgName::{Hub, Spoke};
use okta_remedy::sim::{Sim, SimConfig, SimError};
use serde_json::{json, Value};

use super::Harness;

/// The spoke's failed pushes of one user, through the System Log API.
async fn push_failures(h: &Harness, spoke_user: &str) -> Vec<Value> {
    let r = h
        .get(
            Spoke,
            &format!(
                "/api/v1/logs?filter=eventType%20eq%20%22application.provision.user.push%22%20and%20target.id%20eq%20%22{spoke_user}%22&limit=100"
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body.as_array().unwrap().clone()
}

#[tokio::test]
async fn trickled_assignments_fail_like_the_generated_collisions() {
    let h = Harness::start(SimConfig::default()).await;
    let app = h.org2org_app().await;
    let made = h.sim.trickle_now(3).unwrap();
    assert_eq!(made.len(), 3);
    for c in &made {
        let au = h
            .get(
                Spoke,
                &format!("/api/v1/apps/{app}/users/{}", c.spoke_user_id),
            )
            .await;
        assert_eq!(au.status, 200);
        assert_eq!(au.body["syncState"], "ERROR", "{}", au.body);
        assert_eq!(au.body["credentials"]["userName"], c.login.as_str());
        let hub = h
            .get(Hub, &format!("/api/v1/users/{}", c.hub_user_id))
            .await;
        assert_eq!(hub.body["credentials"]["provider"]["type"], "FEDERATION");
        assert_eq!(hub.body["profile"]["login"], c.login.as_str());
        let events = push_failures(&h, &c.spoke_user_id).await;
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0]["outcome"]["result"], "FAILURE");
        assert_eq!(
            events[0]["outcome"]["reason"],
            "Api validation failed: password (password: Password)"
        );
    }
    // Dated now, so a poller that started before sees them.
    let since = (chrono::Utc::now() - chrono::Duration::seconds(30))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (recent, _) = h
        .get_all(
            Spoke,
            &format!(
                "/api/v1/logs?since={since}&until={}&filter=outcome.result%20eq%20%22FAILURE%22",
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            ),
        )
        .await;
    assert_eq!(recent.len(), 3);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn the_trickle_follows_the_seed_and_refuses_huge_batches() {
    let logins = |sim: &Sim| -> Vec<String> {
        sim.trickle_now(4)
            .unwrap()
            .into_iter()
            .map(|c| c.login)
            .collect()
    };
    let a = Sim::start(SimConfig::default()).await.unwrap();
    let b = Sim::start(SimConfig::default()).await.unwrap();
    let other = Sim::start(SimConfig {
        seed: 7,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    assert_eq!(logins(&a), logins(&b));
    assert_ne!(logins(&a), logins(&other));
    assert!(matches!(
        a.trickle_now(1001),
        Err(SimError::TrickleBatch(1001))
    ));
    for sim in [a, b, other] {
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn the_control_call_adds_assignments_and_the_clock_keeps_adding() {
    let h = Harness::start(SimConfig {
        trickle_per_minute: 6000,
        ..SimConfig::default()
    })
    .await;
    let app = h.org2org_app().await;
    let r = h.post(Spoke, "/__sim/trickle", json!({ "count": 2 })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["added"].as_array().unwrap().len(), 2);
    assert!(r.body["added"][0]["hubUserId"].as_str().is_some());
    let bad = h
        .post(Spoke, "/__sim/trickle", json!({ "count": -1 }))
        .await;
    assert_eq!(bad.status, 400);

    // 100 a second: within a short deadline the clock has added more than the two above.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let (users, _) = h
            .get_all(Spoke, &format!("/api/v1/apps/{app}/users?limit=500"))
            .await;
        let trickled = users
            .iter()
            .filter(|u| u["syncState"] == "ERROR")
            .filter(|u| {
                u["credentials"]["userName"]
                    .as_str()
                    .is_some_and(|l| l.contains("100000"))
            })
            .count();
        if trickled >= 6 {
            break;
        }
        assert!(Instant::now() < deadline, "only {trickled} trickled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    h.sim.shutdown().await;
}

#[tokio::test]
async fn trickle_settings_are_checked() {
    let e = Sim::start(SimConfig {
        trickle_per_minute: 6001,
        ..SimConfig::default()
    })
    .await
    .unwrap_err();
    assert!(matches!(e, SimError::TrickleRate(6001)), "{e}");
    let e = Sim::start(SimConfig {
        complete_resets_after: Some(Duration::from_secs(31 * 24 * 3600)),
        ..SimConfig::default()
    })
    .await
    .unwrap_err();
    assert!(matches!(e, SimError::ResetDelay(_)), "{e}");
}
