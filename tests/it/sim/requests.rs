//! Request details Okta honours: percent-encoded path parameters (how Okta's SDKs send a login) and
//! conditional updates with `If-Match`.

use okta_remedy::sim::OrgName::Hub;
use okta_remedy::sim::SimConfig;
use serde_json::{json, Value};

use super::Harness;

/// The first ACTIVE hub user's (id, login).
async fn active_user(h: &Harness) -> (String, String) {
    let r = h
        .get(
            Hub,
            "/api/v1/users?search=status%20eq%20%22ACTIVE%22&limit=1",
        )
        .await;
    let u = &r.body[0];
    (
        u["id"].as_str().unwrap().to_string(),
        u["profile"]["login"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn a_percent_encoded_login_or_id_names_the_same_user() {
    let h = Harness::start(SimConfig::default()).await;
    let (id, login) = active_user(&h).await;
    let encoded = login.replace('@', "%40").replace('.', "%2E");
    let r = h.get(Hub, &format!("/api/v1/users/{encoded}")).await;
    assert_eq!(r.status, 200, "{encoded}: {}", r.body);
    assert_eq!(r.body["id"], Value::from(id.as_str()));
    let r = h.get(Hub, &format!("/api/v1/users/{encoded}/groups")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Every `{id}` is decoded, ids too.
    let spelled: String = id.chars().map(|c| format!("%{:02X}", c as u32)).collect();
    let r = h.get(Hub, &format!("/api/v1/users/{spelled}")).await;
    assert_eq!(r.body["id"], Value::from(id.as_str()));
    // The control API decodes its path the same way.
    let r = h
        .post(
            Hub,
            &format!("/__sim/users/{encoded}/patch"),
            json!({"profile": {"nickName": "encoded"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // `+` stays a plus in a path: no such login.
    let plus = login.replace('.', "+");
    assert_eq!(
        h.get(Hub, &format!("/api/v1/users/{plus}")).await.status,
        404
    );
}

/// `POST /api/v1/users/{id}` with the given `If-Match`; returns (status, body, ETag).
async fn update_if_match(h: &Harness, id: &str, etag: Option<&str>, nick: &str) -> (u16, Value) {
    let mut req = h
        .http
        .post(format!("{}/api/v1/users/{id}", h.base(Hub)))
        .header("authorization", format!("SSWS {}", h.token(Hub)))
        .json(&json!({"profile": {"nickName": nick}}));
    if let Some(e) = etag {
        req = req.header("if-match", e);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn an_update_with_a_stale_if_match_is_412_and_changes_nothing() {
    let h = Harness::start(SimConfig::default()).await;
    let (id, _) = active_user(&h).await;
    let read = h.get(Hub, &format!("/api/v1/users/{id}")).await;
    let etag = read.header("etag").unwrap().to_string();
    // The current ETag is accepted.
    let (status, body) = update_if_match(&h, &id, Some(&etag), "first").await;
    assert_eq!(status, 200, "{body}");
    // The user changed since `etag` was read (by that update): refused, even within one millisecond.
    let (status, body) = update_if_match(&h, &id, Some(&etag), "second").await;
    assert_eq!(status, 412, "{body}");
    for key in [
        "errorCode",
        "errorSummary",
        "errorLink",
        "errorId",
        "errorCauses",
    ] {
        assert!(body.get(key).is_some(), "{body}");
    }
    let now = h.get(Hub, &format!("/api/v1/users/{id}")).await;
    assert_eq!(now.body["profile"]["nickName"], "first");
    // Drift behind the tool's back changes the ETag too.
    let fresh = now.header("etag").unwrap().to_string();
    h.sim
        .patch_user(Hub, &id, json!({"profile": {"nickName": "drifted"}}))
        .unwrap();
    let (status, _) = update_if_match(&h, &id, Some(&fresh), "mine").await;
    assert_eq!(status, 412);
    // Without `If-Match` the update is unconditional.
    let (status, body) = update_if_match(&h, &id, None, "mine").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["profile"]["nickName"], "mine");
}
