//! The Org2Org remediation stories, driven through HTTP alone (control calls included).

use okta_remedy::sim::OrgName::{Hub, Spoke};
use serde_json::{json, Value};

use super::{fixture, Harness};

const PUSH_FAILURES: &str = "/api/v1/logs?filter=eventType%20eq%20%22application.provision.user.push%22%20and%20outcome.result%20eq%20%22FAILURE%22&sortOrder=DESCENDING";

/// `eventType outcome.result [reason]` lines of an org's log, oldest first.
async fn log_lines(h: &Harness, org: okta_remedy::sim::OrgName) -> Vec<String> {
    let r = h
        .get(org, "/api/v1/logs?sortOrder=DESCENDING&limit=1000")
        .await;
    assert_eq!(r.status, 200);
    let mut lines: Vec<String> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let reason = e["outcome"]["reason"]
                .as_str()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            let targets: Vec<&str> = e["target"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|t| t["type"] == "User")
                .filter_map(|t| t["alternateId"].as_str())
                .collect();
            format!(
                "{} {}{} {}",
                e["eventType"].as_str().unwrap(),
                e["outcome"]["result"].as_str().unwrap(),
                reason,
                targets.join(",")
            )
        })
        .collect();
    lines.reverse();
    lines
}

#[tokio::test]
async fn federation_collision_is_fixed_by_reset_password_then_retry() {
    let h = Harness::seeded(fixture("story-seed.json")).await;
    let app = h.org2org_app().await;

    // Assign: the hub user is FEDERATION, so the password push fails.
    let r = h
        .post(
            Spoke,
            &format!("/api/v1/apps/{app}/users"),
            json!({
                "id": "00uspokepat000000001", "scope": "USER",
                "credentials": { "userName": "pat.jones@example.com" },
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["syncState"], "ERROR");
    assert_eq!(r.body["status"], "STAGED");
    assert!(r.body.get("externalId").is_none());

    let failures = h.get(Spoke, PUSH_FAILURES).await;
    assert_eq!(
        failures.body[0]["outcome"]["reason"],
        "Api validation failed: password (password: Password)"
    );

    // Remedy A: reset the hub user's password (no provider parameter).
    let hub_user = h.get(Hub, "/api/v1/users/pat.jones@example.com").await;
    assert_eq!(
        hub_user.body["credentials"]["provider"]["type"],
        "FEDERATION"
    );
    assert!(hub_user.header("etag").is_some());
    let id = hub_user.body["id"].as_str().unwrap().to_string();
    let reset = h
        .post(
            Hub,
            &format!("/api/v1/users/{id}/lifecycle/reset_password?sendEmail=false"),
            json!({}),
        )
        .await;
    assert_eq!(reset.status, 200);
    assert!(reset.body["resetPasswordUrl"]
        .as_str()
        .unwrap()
        .contains("/reset-password/"));
    let after = h.get(Hub, &format!("/api/v1/users/{id}")).await;
    assert_eq!(after.body["status"], "RECOVERY");
    assert_eq!(after.body["credentials"]["provider"]["type"], "OKTA");
    assert_ne!(after.header("etag"), hub_user.header("etag"));

    // Retrying while the user is in RECOVERY still fails.
    let touch = h
        .post(
            Spoke,
            &format!("/api/v1/apps/{app}/users/00uspokepat000000001"),
            json!({ "profile": {} }),
        )
        .await;
    assert_eq!(touch.body["syncState"], "ERROR");

    // The user completes the reset; the retry now links the hub user.
    let done = h
        .post(Hub, &format!("/__sim/users/{id}/complete_reset"), json!({}))
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(
        h.get(Hub, &format!("/api/v1/users/{id}")).await.body["status"],
        "ACTIVE"
    );
    let touch = h
        .post(
            Spoke,
            &format!("/api/v1/apps/{app}/users/00uspokepat000000001"),
            json!({ "profile": {} }),
        )
        .await;
    assert_eq!(touch.body["syncState"], "SYNCHRONIZED");
    assert_eq!(touch.body["status"], "PROVISIONED");
    assert_eq!(touch.body["externalId"], id.as_str());

    let mut lines = log_lines(&h, Hub).await;
    lines.extend(
        log_lines(&h, Spoke)
            .await
            .into_iter()
            .map(|l| format!("spoke: {l}")),
    );
    insta::assert_snapshot!(lines.join("\n"));
}

#[tokio::test]
async fn delete_then_repush_creates_a_new_okta_user() {
    let h = Harness::seeded(fixture("story-seed.json")).await;
    let app = h.org2org_app().await;
    let assign = json!({ "id": "00uspokesam000000001", "scope": "USER" });
    let r = h
        .post(Spoke, &format!("/api/v1/apps/{app}/users"), assign.clone())
        .await;
    assert_eq!(r.body["syncState"], "ERROR");

    // Remedy B: a DELETE on an active user only deactivates it; the second one deletes.
    let old = "00uhubsam00000000001";
    assert_eq!(
        h.delete(Hub, &format!("/api/v1/users/{old}")).await.status,
        204
    );
    assert_eq!(
        h.get(Hub, &format!("/api/v1/users/{old}")).await.body["status"],
        "DEPROVISIONED"
    );
    assert_eq!(
        h.delete(Hub, &format!("/api/v1/users/{old}")).await.status,
        204
    );
    let gone = h.get(Hub, &format!("/api/v1/users/{old}")).await;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.body["errorCode"], "E0000007");

    // Retry by re-assigning: unassign then assign again.
    let un = h
        .delete(
            Spoke,
            &format!("/api/v1/apps/{app}/users/00uspokesam000000001"),
        )
        .await;
    assert_eq!(un.status, 204);
    let r = h
        .post(Spoke, &format!("/api/v1/apps/{app}/users"), assign)
        .await;
    assert_eq!(r.body["syncState"], "SYNCHRONIZED", "{}", r.body);
    let new_id = r.body["externalId"].as_str().unwrap();
    assert_ne!(new_id, old);
    let new_user = h.get(Hub, &format!("/api/v1/users/{new_id}")).await;
    assert_eq!(new_user.body["credentials"]["provider"]["type"], "OKTA");
    assert_eq!(new_user.body["status"], "ACTIVE");
    assert_eq!(new_user.body["profile"]["login"], "sam.lee@example.com");

    let hub = log_lines(&h, Hub).await;
    assert_eq!(
        hub.iter()
            .map(|l| l.split(' ').next().unwrap())
            .collect::<Vec<_>>(),
        [
            "user.lifecycle.deactivate",
            "user.lifecycle.delete.initiated",
            "user.lifecycle.delete.completed",
            "user.lifecycle.create",
            "user.lifecycle.activate",
        ]
    );
}

#[tokio::test]
async fn policy_lookalike_keeps_failing_until_the_password_changes() {
    let h = Harness::seeded(fixture("story-seed.json")).await;
    let app = h.org2org_app().await;
    let r = h
        .post(
            Spoke,
            &format!("/api/v1/apps/{app}/users"),
            json!({ "id": "00uspokeweak00000001" }),
        )
        .await;
    assert_eq!(r.body["syncState"], "ERROR");
    let reason = |v: &Value| v[0]["outcome"]["reason"].as_str().unwrap().to_string();
    let first = reason(&h.get(Spoke, PUSH_FAILURES).await.body);
    assert!(
        first.starts_with(
            "Api validation failed: password (password: Password requirements were not met."
        ),
        "{first}"
    );
    let retry = h
        .post(
            Spoke,
            &format!("/api/v1/apps/{app}/users/00uspokeweak00000001"),
            json!({ "profile": {} }),
        )
        .await;
    assert_eq!(retry.body["syncState"], "ERROR");

    // The spoke user changes their password behind the tool's back; the next retry succeeds.
    let patched = h
        .post(
            Spoke,
            "/__sim/users/wes.weak@example.com/patch",
            json!({ "credentials": { "password": { "value": "Much-Better-42" } } }),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    let retry = h
        .post(
            Spoke,
            &format!("/api/v1/apps/{app}/users/00uspokeweak00000001"),
            json!({ "profile": {} }),
        )
        .await;
    assert_eq!(retry.body["syncState"], "SYNCHRONIZED");
}

#[tokio::test]
async fn group_scoped_assignments_cannot_be_unassigned_alone() {
    let h = Harness::start(okta_remedy::sim::SimConfig::default()).await;
    let app = h.org2org_app().await;
    let (users, _) = h
        .get_all(Spoke, &format!("/api/v1/apps/{app}/users?limit=500"))
        .await;
    let grouped = users.iter().find(|u| u["scope"] == "GROUP").unwrap();
    let id = grouped["id"].as_str().unwrap();
    let r = h
        .delete(Spoke, &format!("/api/v1/apps/{app}/users/{id}"))
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.body["errorCode"], "E0000046");
}

/// Polls the app user until its `syncState` leaves `SYNCING`, with a deadline; returns it.
async fn settled(h: &Harness, app: &str, user: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let r = h
            .get(Spoke, &format!("/api/v1/apps/{app}/users/{user}"))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        if r.body["syncState"] != "SYNCING" {
            return r.body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the push never ran: {}",
            r.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn with_a_push_delay_the_push_runs_in_the_background() {
    let h = Harness::start(okta_remedy::sim::SimConfig {
        scenario: okta_remedy::sim::Scenario::Seed(fixture("story-seed.json")),
        push_delay: std::time::Duration::from_millis(200),
        ..okta_remedy::sim::SimConfig::default()
    })
    .await;
    let app = h.org2org_app().await;
    let pat = "00uspokepat000000001";
    let r = h
        .post(
            Spoke,
            &format!("/api/v1/apps/{app}/users"),
            json!({ "id": pat, "scope": "USER", "credentials": { "userName": "pat.jones@example.com" } }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Answered before the push: SYNCING, and no push event yet.
    assert_eq!(r.body["syncState"], "SYNCING");
    assert_eq!(r.body["status"], "STAGED");
    let before = push_events(&h).await;
    let failed = settled(&h, &app, pat).await;
    assert_eq!(failed["syncState"], "ERROR");
    assert_eq!(push_events(&h).await, before + 1);

    // Fixed on the hub, then retried: SYNCING again, then linked.
    let hub_user = h.get(Hub, "/api/v1/users/pat.jones@example.com").await;
    let id = hub_user.body["id"].as_str().unwrap().to_string();
    let reset = h
        .post(
            Hub,
            &format!("/api/v1/users/{id}/lifecycle/reset_password?sendEmail=false"),
            json!({}),
        )
        .await;
    assert_eq!(reset.status, 200);
    h.sim.complete_password_reset(Hub, &id).unwrap();
    let retry = h
        .post(
            Spoke,
            &format!("/api/v1/apps/{app}/users/{pat}"),
            json!({ "profile": {} }),
        )
        .await;
    assert_eq!(retry.body["syncState"], "SYNCING");
    let linked = settled(&h, &app, pat).await;
    assert_eq!(linked["syncState"], "SYNCHRONIZED", "{linked}");
    assert_eq!(linked["externalId"], Value::from(id.as_str()));
}

/// How many Org2Org push events the spoke logged.
async fn push_events(h: &Harness) -> usize {
    log_lines(h, Spoke)
        .await
        .into_iter()
        .filter(|l| l.starts_with("application.provision.user.push"))
        .count()
}
