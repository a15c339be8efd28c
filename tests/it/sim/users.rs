//! Users API semantics, the System Log list, the control API and the generator, over HTTP.

use okta_remedy::sim::OrgName::{Hub, Spoke};
use okta_remedy::sim::{GenerateSpec, Scenario, SimConfig};
use reqwest::Method;
use serde_json::json;

use super::Harness;

fn scenario(hub_users: usize) -> SimConfig {
    SimConfig {
        scenario: Scenario::Generate(GenerateSpec {
            hub_users,
            ..GenerateSpec::default()
        }),
        ..SimConfig::default()
    }
}

#[tokio::test]
async fn pages_through_every_user_via_link_headers_and_omits_deprovisioned() {
    let h = Harness::start(scenario(450)).await;
    let state = h.sim.dump(Hub);
    let all = state["users"].as_array().unwrap();
    let visible = all
        .iter()
        .filter(|u| u["status"] != "DEPROVISIONED")
        .count();
    assert!(
        visible < all.len(),
        "the generator makes some DEPROVISIONED users"
    );

    let (items, pages) = h.get_all(Hub, "/api/v1/users?limit=200").await;
    assert_eq!(items.len(), visible);
    assert_eq!(pages, visible.div_ceil(200));
    let mut ids: Vec<&str> = items.iter().map(|u| u["id"].as_str().unwrap()).collect();
    let before = ids.clone();
    ids.sort();
    ids.dedup();
    assert_eq!(ids, before, "pages are in id order without repeats");

    // A limit above 200 is clamped; search and filter include DEPROVISIONED users.
    let r = h.get(Hub, "/api/v1/users?limit=1000").await;
    assert_eq!(r.body.as_array().unwrap().len(), 200);
    let (deprov, _) = h
        .get_all(
            Hub,
            "/api/v1/users?search=status%20eq%20%22DEPROVISIONED%22",
        )
        .await;
    assert_eq!(deprov.len(), all.len() - visible);
    let (filtered, _) = h
        .get_all(
            Hub,
            "/api/v1/users?filter=status%20eq%20%22DEPROVISIONED%22",
        )
        .await;
    assert_eq!(filtered.len(), deprov.len());
}

#[tokio::test]
async fn search_and_filter_follow_okta_rules() {
    let h = Harness::start(scenario(120)).await;
    let (ada, _) = h
        .get_all(Hub, "/api/v1/users?search=profile.firstName%20eq%20%22ada%22%20and%20(status%20eq%20%22ACTIVE%22%20or%20status%20eq%20%22SUSPENDED%22)")
        .await;
    assert!(!ada.is_empty());
    assert!(ada.iter().all(|u| u["profile"]["firstName"] == "Ada"
        && (u["status"] == "ACTIVE" || u["status"] == "SUSPENDED")));

    let login = ada[0]["profile"]["login"].as_str().unwrap().to_string();
    let prefix = &login[..5];
    let (sw, _) = h
        .get_all(
            Hub,
            &format!(
                "/api/v1/users?search=profile.login%20sw%20%22{}%22",
                prefix.to_uppercase()
            ),
        )
        .await;
    assert!(sw.iter().any(|u| u["profile"]["login"] == login.as_str()));

    // Filter values are case-sensitive; filter supports only a few attributes.
    let exact = h
        .get(
            Hub,
            &format!("/api/v1/users?filter=profile.login%20eq%20%22{login}%22"),
        )
        .await;
    assert_eq!(exact.body.as_array().unwrap().len(), 1);
    let upper = h
        .get(
            Hub,
            &format!(
                "/api/v1/users?filter=profile.login%20eq%20%22{}%22",
                login.to_uppercase()
            ),
        )
        .await;
    assert_eq!(upper.body.as_array().unwrap().len(), 0);
    let bad = h
        .get(
            Hub,
            "/api/v1/users?filter=profile.department%20eq%20%22Sales%22",
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.body["errorCode"], "E0000031");

    // Okta cannot search on the credential provider.
    let provider = h
        .get(
            Hub,
            "/api/v1/users?search=credentials.provider.type%20eq%20%22FEDERATION%22",
        )
        .await;
    assert_eq!(provider.status, 400);

    // sortBy orders search results, ties by id, across pages.
    let (sorted, pages) = h
        .get_all(Hub, "/api/v1/users?search=status%20eq%20%22ACTIVE%22&sortBy=profile.lastName&sortOrder=desc&limit=7")
        .await;
    assert!(pages > 2);
    let keys: Vec<(String, String)> = sorted
        .iter()
        .map(|u| {
            (
                u["profile"]["lastName"].as_str().unwrap().to_string(),
                u["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut expected = keys.clone();
    expected.sort();
    expected.reverse();
    assert_eq!(keys, expected);

    let since = h
        .get(
            Hub,
            "/api/v1/users?search=lastUpdated%20gt%20%222000-01-01T00:00:00.000Z%22&limit=5",
        )
        .await;
    assert_eq!(since.body.as_array().unwrap().len(), 5);
    assert!(since.next().unwrap().contains("search=lastUpdated%20gt%20"));
}

#[tokio::test]
async fn lifecycle_transitions_and_errors() {
    let h = Harness::seeded(super::fixture("story-seed.json")).await;
    let created = h
        .post(Hub, "/api/v1/users?activate=false", json!({
            "profile": { "firstName": "Kim", "lastName": "Doe", "login": "kim.doe@example.com", "email": "kim.doe@example.com" },
            "credentials": { "password": { "value": "Str0ng-Passw0rd" } },
        }))
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert_eq!(created.body["status"], "STAGED");
    assert_eq!(created.body["credentials"]["password"], json!({}));
    let id = created.body["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("00u") && id.len() == 20);
    let lc = |op: &str| format!("/api/v1/users/{id}/lifecycle/{op}");

    assert_eq!(
        h.post(Hub, &lc("activate?sendEmail=false"), json!({}))
            .await
            .status,
        200
    );
    let again = h.post(Hub, &lc("activate"), json!({})).await;
    assert_eq!(
        (again.status, again.body["errorCode"].as_str()),
        (403, Some("E0000016"))
    );
    assert_eq!(h.post(Hub, &lc("suspend"), json!({})).await.status, 200);
    let bad = h.post(Hub, &lc("suspend"), json!({})).await;
    assert_eq!(
        (bad.status, bad.body["errorCode"].as_str()),
        (403, Some("E0000038"))
    );
    assert_eq!(h.post(Hub, &lc("unsuspend"), json!({})).await.status, 200);
    let expired = h.post(Hub, &lc("expire_password"), json!({})).await;
    assert_eq!(expired.body["status"], "PASSWORD_EXPIRED");
    let no_email = h.post(Hub, &lc("reset_password"), json!({})).await;
    assert_eq!(no_email.status, 400);
    let reset = h
        .post(Hub, &lc("reset_password?sendEmail=true"), json!({}))
        .await;
    assert_eq!((reset.status, reset.body.clone()), (200, json!({})));
    assert_eq!(h.post(Hub, &lc("deactivate"), json!({})).await.status, 200);
    let twice = h.post(Hub, &lc("deactivate"), json!({})).await;
    assert_eq!(twice.body["errorCode"], "E0000038");
    let missing = h
        .post(Hub, "/api/v1/users/00unope/lifecycle/activate", json!({}))
        .await;
    assert_eq!(
        (missing.status, missing.body["errorCode"].as_str()),
        (404, Some("E0000007"))
    );

    // A FEDERATION user cannot receive a password.
    let fed = h
        .post(
            Hub,
            "/api/v1/users/pat.jones@example.com",
            json!({ "credentials": { "password": { "value": "Any-Passw0rd" } } }),
        )
        .await;
    assert_eq!(fed.status, 400);
    assert_eq!(fed.body["errorSummary"], "Api validation failed: password");
    assert_eq!(
        fed.body["errorCauses"][0]["errorSummary"],
        "password: Password"
    );

    let events: Vec<String> = h
        .get(
            Hub,
            &format!("/api/v1/logs?filter=target.id%20eq%20%22{id}%22"),
        )
        .await
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["eventType"].as_str().unwrap().to_string())
        .collect();
    insta::assert_snapshot!(events.join("\n"));
}

#[tokio::test]
async fn logs_page_by_cursor_and_poll_in_ascending_order() {
    let h = Harness::start(SimConfig::default()).await;
    let (all, _) = h
        .get_all(
            Spoke,
            "/api/v1/logs?sortOrder=DESCENDING&limit=7&since=2000-01-01T00:00:00Z",
        )
        .await;
    assert!(all.len() > 20);
    let published: Vec<&str> = all
        .iter()
        .map(|e| e["published"].as_str().unwrap())
        .collect();
    let mut sorted = published.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(published, sorted);

    // Ascending without `until` is a polling request: the next link is always there.
    let since = "2000-01-01T00:00:00.000Z";
    let mut url =
        format!("/api/v1/logs?since={since}&limit=1000&filter=eventType%20sw%20%22application.%22");
    let first = h.get(Spoke, &url).await;
    let n = first.body.as_array().unwrap().len();
    assert!(n > 0);
    url = first.next().unwrap();
    let empty = h.get(Spoke, &url).await;
    assert_eq!(empty.body, json!([]));
    assert!(empty.next().is_some());

    // New events show up on the same cursor.
    let app = h.org2org_app().await;
    let created = h
        .post(Spoke, "/api/v1/users", json!({
            "profile": { "firstName": "New", "lastName": "Hire", "login": "new.hire@example.com", "email": "new.hire@example.com" },
            "credentials": { "password": { "value": "Fresh-Start-1" } },
        }))
        .await;
    let uid = created.body["id"].as_str().unwrap();
    h.post(
        Spoke,
        &format!("/api/v1/apps/{app}/users"),
        json!({ "id": uid }),
    )
    .await;
    let more = h.get(Spoke, &url).await;
    let types: Vec<&str> = more
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "application.user_membership.add",
            "application.provision.user.push"
        ]
    );
    let until = h
        .get(
            Spoke,
            &format!("/api/v1/logs?since={since}&until=2001-01-01T00:00:00.000Z"),
        )
        .await;
    assert_eq!((until.body.clone(), until.next()), (json!([]), None));
    let bad = h.get(Spoke, "/api/v1/logs?since=yesterday").await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn control_api_needs_the_token_and_is_not_counted() {
    let h = Harness::start(scenario(10)).await;
    let denied = h
        .try_send(
            Hub,
            Method::GET,
            "/__sim/counters",
            None,
            Some("SSWS wrong"),
        )
        .await
        .unwrap();
    assert_eq!(denied.status, 401);
    h.get(Hub, "/api/v1/users?limit=1").await;
    h.get(Hub, "/api/v1/users?limit=1").await;
    let counters = h.get(Hub, "/__sim/counters").await;
    assert_eq!(counters.body, json!({ "users": 2 }));
    let requests = h.get(Hub, "/__sim/requests").await;
    assert_eq!(requests.body.as_array().unwrap().len(), 2);
    assert_eq!(requests.body[0]["query"], "limit=1");
    assert_eq!(h.sim.requests(Hub).len(), 2);

    // Drift: patch a user behind the tool's back; lastUpdated moves.
    let user = h.get(Hub, "/api/v1/users?limit=1").await.body[0].clone();
    let id = user["id"].as_str().unwrap();
    let patched = h
        .post(
            Hub,
            &format!("/__sim/users/{id}/patch"),
            json!({ "profile": { "department": "Drifted" } }),
        )
        .await;
    assert_eq!(patched.status, 200);
    let now = h.get(Hub, &format!("/api/v1/users/{id}")).await;
    assert_eq!(now.body["profile"]["department"], "Drifted");
    assert!(now.body["lastUpdated"].as_str().unwrap() > user["lastUpdated"].as_str().unwrap());

    // Reset restores the initial state and clears records.
    let before = h.sim.dump(Spoke);
    assert_eq!(h.post(Hub, "/__sim/reset", json!({})).await.status, 200);
    assert_eq!(
        h.get(Hub, &format!("/api/v1/users/{id}")).await.body["profile"]["department"],
        user["profile"]["department"]
    );
    assert_eq!(h.sim.dump(Spoke), before);
    assert_eq!(h.sim.counters(Hub).get("users.id.get"), Some(&1));
    let state = h.get(Spoke, "/__sim/state").await;
    assert_eq!(state.body, before);
}

#[tokio::test]
async fn generator_makes_every_failure_kind_with_matching_logs() {
    let h = Harness::start(SimConfig::default()).await;
    let app = h.org2org_app().await;
    let (assignments, _) = h
        .get_all(
            Spoke,
            &format!("/api/v1/apps/{app}/users?limit=500&expand=user"),
        )
        .await;
    let spec = GenerateSpec::default();
    assert_eq!(assignments.len(), spec.spoke_assignments);
    let failing: Vec<_> = assignments
        .iter()
        .filter(|a| a["syncState"] == "ERROR")
        .collect();
    let kinds = spec.federation_collisions
        + spec.policy_lookalikes
        + spec.not_active_hub
        + spec.missing_hub
        + spec.deprovisioned_hub
        + spec.suspended_hub
        + spec.protected_admins;
    assert_eq!(failing.len(), kinds);
    assert!(failing
        .iter()
        .all(|a| a["_embedded"]["user"]["id"] == a["id"]));
    assert!(failing.iter().any(|a| a["credentials"]["userName"]
        .as_str()
        .unwrap()
        .starts_with("admin.")));

    let r = h
        .get(Spoke, "/api/v1/logs?filter=eventType%20sw%20%22application.provision.user%22%20and%20outcome.result%20eq%20%22FAILURE%22&limit=1000")
        .await;
    let mut reasons: Vec<String> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["outcome"]["reason"].as_str().unwrap().to_string())
        .collect();
    reasons.sort();
    insta::assert_snapshot!(reasons.join("\n"));

    // A transient failure succeeds on retry; a hub user that is not ACTIVE keeps failing.
    let user_of = |reason: &str| -> String {
        let event = r
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["outcome"]["reason"].as_str().unwrap().starts_with(reason))
            .unwrap();
        let user = event["target"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["type"] == "User")
            .unwrap();
        user["id"].as_str().unwrap().to_string()
    };
    let retry = |id: String| {
        let app = app.clone();
        let h = &h;
        async move {
            h.post(
                Spoke,
                &format!("/api/v1/apps/{app}/users/{id}"),
                json!({ "profile": {} }),
            )
            .await
            .body["syncState"]
                .clone()
        }
    };
    assert_eq!(
        retry(user_of("Internal Server Error")).await,
        "SYNCHRONIZED"
    );
    assert_eq!(
        retry(user_of("This operation is not allowed")).await,
        "ERROR"
    );

    // FEDERATION hub users were created by JIT from the IdP.
    let (fed, _) = h
        .get_all(Hub, "/api/v1/logs?filter=eventType%20eq%20%22user.lifecycle.create%22%20and%20debugContext.debugData.jitProvisioning%20eq%20%22true%22&since=2000-01-01T00:00:00Z&sortOrder=DESCENDING")
        .await;
    assert!(!fed.is_empty());
    for e in &fed {
        assert_eq!(e["actor"]["type"], "PublicClientApp");
        assert_eq!(
            e["debugContext"]["debugData"]["idpName"],
            "Corporate SAML IdP"
        );
    }
}

#[tokio::test]
async fn groups_and_app_links() {
    let h = Harness::start(scenario(30)).await;
    let groups = h.get(Hub, "/api/v1/groups?q=Every").await;
    assert_eq!(groups.body[0]["profile"]["name"], "Everyone");
    let gid = groups.body[0]["id"].as_str().unwrap();
    let (members, _) = h
        .get_all(Hub, &format!("/api/v1/groups/{gid}/users?limit=10"))
        .await;
    assert_eq!(
        members.len(),
        h.sim.dump(Hub)["users"].as_array().unwrap().len()
    );
    let uid = members[0]["id"].as_str().unwrap();
    let ug = h.get(Hub, &format!("/api/v1/users/{uid}/groups")).await;
    assert!(ug.body.as_array().unwrap().iter().any(|g| g["id"] == gid));

    // Create a user straight into a group, then move them out of it.
    let created = h
        .post(Hub, "/api/v1/users", json!({
            "profile": { "firstName": "G", "lastName": "M", "login": "g.m@example.com", "email": "g.m@example.com" },
            "groupIds": [gid],
        }))
        .await;
    let new_id = created.body["id"].as_str().unwrap().to_string();
    let groups_of = |id: String| {
        let h = &h;
        async move {
            h.get(Hub, &format!("/api/v1/users/{id}/groups"))
                .await
                .body
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(groups_of(new_id.clone()).await, [gid.to_string()]);
    let removed = h
        .delete(Hub, &format!("/api/v1/groups/{gid}/users/{new_id}"))
        .await;
    assert_eq!(removed.status, 204);
    assert!(groups_of(new_id.clone()).await.is_empty());
    let bad = h
        .post(Hub, "/api/v1/users", json!({
            "profile": { "firstName": "X", "lastName": "Y", "login": "x.y@example.com", "email": "x.y@example.com" },
            "groupIds": ["00gnotthere"],
        }))
        .await;
    assert_eq!(bad.status, 400);

    let app = h.org2org_app().await;
    let au = h
        .get(Spoke, &format!("/api/v1/apps/{app}/users?limit=1"))
        .await;
    let spoke_uid = au.body[0]["id"].as_str().unwrap();
    let links = h
        .get(Spoke, &format!("/api/v1/users/{spoke_uid}/appLinks"))
        .await;
    assert_eq!(links.body[0]["appName"], "okta_org2org");
    assert_eq!(links.body[0]["label"], "Hub Org");
}

#[tokio::test]
async fn etag_and_if_none_match_and_people_picker_q() {
    let h = Harness::seeded(super::fixture("story-seed.json")).await;
    let first = h.get(Hub, "/api/v1/users/pat.jones@example.com").await;
    let etag = first.header("etag").unwrap().to_string();
    let url = format!("{}/api/v1/users/00uhubpat00000000001", h.base(Hub));
    let same = h
        .http
        .get(&url)
        .header("authorization", "SSWS hub-token")
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), 304);
    h.sim
        .patch_user(
            Hub,
            "00uhubpat00000000001",
            json!({ "profile": { "title": "Drift" } }),
        )
        .unwrap();
    let changed = h
        .http
        .get(&url)
        .header("authorization", "SSWS hub-token")
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);

    // `q` matches first name, last name or email prefixes and does not paginate.
    let q = h.get(Hub, "/api/v1/users?q=sam").await;
    assert_eq!(q.body.as_array().unwrap().len(), 1);
    assert_eq!(q.next(), None);
    let unknown = h.get(Hub, "/api/v1/nothing/here").await;
    assert!(unknown.header("x-rate-limit-remaining").is_some());
}

#[tokio::test]
async fn shutdown_stops_both_servers_even_with_open_connections() {
    let h = Harness::start(scenario(5)).await;
    // Leaves a keep-alive connection open in the client's pool.
    assert_eq!(h.get(Hub, "/api/v1/users?limit=1").await.status, 200);
    let hub = h.base(Hub);
    let Harness { sim, http, .. } = h;
    tokio::time::timeout(std::time::Duration::from_secs(10), sim.shutdown())
        .await
        .expect("shutdown finishes");
    let after = http.get(format!("{hub}/api/v1/users")).send().await;
    assert!(after.is_err(), "the hub still answers: {after:?}");
}
