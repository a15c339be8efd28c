//! Every endpoint of `OktaApi` over HTTP against the simulator with SSWS auth: pagination, users and
//! their lifecycle, groups, app links, apps and assignments, the System Log (bounded and polling), and
//! each Okta error code the product branches on. Every request sent is checked against the spec.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::StreamExt;
use okta_remedy::okta::{
    codes, collect_all, AppId, AppQuery, AppUserAssignment, AppUserQuery, GroupId, LogQuery,
    NewUser, OktaApi, OktaClient, OktaError, ProviderType, User, UserId, UserQuery, UserStatus,
};
use okta_remedy::sim::OrgName;
use serde_json::json;

use super::harness::{assert_requests_match_spec, hub, sim_config, spoke, ssws_client, start};

/// Every user matching a `search` expression.
async fn search(client: &OktaClient, expr: &str) -> Vec<User> {
    collect_all(client.list_users(UserQuery {
        search: Some(expr.into()),
        limit: Some(200),
        ..Default::default()
    }))
    .await
    .unwrap()
}

fn api_code(e: &OktaError) -> String {
    format!("{} {}", e.status().unwrap_or(0), e.code().unwrap_or("-"))
}

#[tokio::test]
async fn users_list_follows_link_headers_over_ten_pages() {
    let sim = start(sim_config()).await;
    let hub = hub(&sim);
    let mut pages = hub.list_users(UserQuery {
        limit: Some(5),
        ..Default::default()
    });
    let mut ids = Vec::new();
    let mut n_pages = 0;
    while let Some(page) = pages.next().await {
        let page = page.unwrap();
        assert!(page.items.len() <= 5);
        assert!(page.request_id.is_some());
        ids.extend(page.items.into_iter().map(|u| u.id));
        n_pages += 1;
    }
    assert!(n_pages >= 10, "only {n_pages} pages");
    let unique: BTreeSet<_> = ids.iter().cloned().collect();
    assert_eq!(unique.len(), ids.len(), "a user was listed twice");
    // Plain lists omit DEPROVISIONED users; search reaches them.
    let deprovisioned = search(&hub, "status eq \"DEPROVISIONED\"").await;
    assert!(!deprovisioned.is_empty());
    assert!(deprovisioned
        .iter()
        .all(|u| u.status == UserStatus::Deprovisioned));
    assert!(deprovisioned.iter().all(|u| !unique.contains(&u.id)));
    // Pages after the first were fetched with the server's cursor, not one the client built.
    let records = sim.requests(OrgName::Hub);
    let list_requests: Vec<_> = records
        .iter()
        .filter(|r| r.method == "GET" && r.path == "/api/v1/users")
        .collect();
    assert!(list_requests
        .iter()
        .skip(1)
        .take(n_pages - 1)
        .all(|r| r.query.contains("after=")));
    assert_eq!(
        hub.request_counts()["GET /api/v1/users"],
        (n_pages + 1) as u64
    );
    assert_requests_match_spec(&sim, OrgName::Hub);
    sim.shutdown().await;
}

#[tokio::test]
async fn user_lifecycle_end_to_end() {
    let sim = start(sim_config()).await;
    let hub = hub(&sim);
    let mut profile = serde_json::Map::new();
    for (k, v) in [
        ("login", "new.person@example.com"),
        ("email", "new.person@example.com"),
        ("firstName", "New"),
        ("lastName", "Person"),
    ] {
        profile.insert(k.into(), json!(v));
    }
    let password = json!({"password": {"value": "Correct-Horse-9-Battery"}});
    let created = hub
        .create_user(
            &NewUser {
                profile,
                credentials: Some(password),
                ..Default::default()
            },
            false,
        )
        .await
        .unwrap();
    assert_eq!(created.value.status, UserStatus::Staged);
    assert!(created.request_id.is_some());
    let id = created.value.id.clone();

    // By login and by id, with ETag; unknown users are None.
    let by_login = hub
        .get_user("new.person@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_login.value.id, id);
    assert!(by_login.etag.is_some(), "no ETag on get user");
    assert!(hub.get_user("nobody@example.com").await.unwrap().is_none());

    // Partial update keeps the other fields.
    let updated = hub
        .update_user(
            &id,
            &json!({"profile": {"nickName": "np"}}),
            by_login.etag.as_deref(),
        )
        .await
        .unwrap();
    assert_eq!(updated.value.profile.get("nickName"), Some(&json!("np")));
    assert_eq!(updated.value.profile.first_name(), Some("New"));

    // Activation without email returns the activation URL and token as secrets; the user has a
    // password, so it becomes ACTIVE, and activating again is E0000016.
    let act = hub.activate_user(&id, false).await.unwrap();
    assert!(act.activation_url.is_some() && act.activation_token.is_some());
    assert!(!format!("{act:?}").contains("/tokens/"));
    assert_eq!(
        hub.get_user(id.as_str())
            .await
            .unwrap()
            .unwrap()
            .value
            .status,
        UserStatus::Active
    );
    let e = hub.activate_user(&id, false).await.unwrap_err();
    assert_eq!(e.code(), Some(codes::ALREADY_ACTIVE), "{e}");

    // Reset password: sendEmail=false gives the one-time URL (a secret); the user goes to RECOVERY
    // and the provider to OKTA.
    let reset = hub.reset_password(&id, false).await.unwrap();
    let url = reset.reset_password_url.expect("reset URL");
    assert!(url.expose().contains("reset-password"));
    assert_eq!(format!("{url:?}"), "[redacted]");
    let user = hub.get_user(id.as_str()).await.unwrap().unwrap().value;
    assert_eq!(user.status, UserStatus::Recovery);
    assert_eq!(user.provider_type(), Some(&ProviderType::Okta));
    let sent = sim.requests(OrgName::Hub);
    let reset_req = sent
        .iter()
        .find(|r| r.path.ends_with("/lifecycle/reset_password"))
        .unwrap();
    assert!(reset_req.query.contains("sendEmail=false"));
    assert!(!reset_req.query.contains("provider"));
    sim.complete_password_reset(OrgName::Hub, id.as_str())
        .unwrap();
    assert_eq!(
        hub.get_user(id.as_str())
            .await
            .unwrap()
            .unwrap()
            .value
            .status,
        UserStatus::Active
    );
    assert!(hub
        .reset_password(&id, true)
        .await
        .unwrap()
        .reset_password_url
        .is_none());
    sim.complete_password_reset(OrgName::Hub, id.as_str())
        .unwrap();

    // Deactivate, then delete twice semantics: delete on DEPROVISIONED removes the user.
    hub.deactivate_user(&id, false).await.unwrap();
    assert_eq!(
        hub.get_user(id.as_str())
            .await
            .unwrap()
            .unwrap()
            .value
            .status,
        UserStatus::Deprovisioned
    );
    let del = hub.delete_user(&id, false).await.unwrap();
    assert!(del.request_id.is_some());
    assert!(hub.get_user(id.as_str()).await.unwrap().is_none());
    assert_requests_match_spec(&sim, OrgName::Hub);
    sim.shutdown().await;
}

#[tokio::test]
async fn unlock_a_locked_out_user() {
    let sim = start(sim_config()).await;
    let hub = hub(&sim);
    let locked = search(&hub, "status eq \"LOCKED_OUT\"").await;
    let user = match locked.first() {
        Some(u) => u.id.clone(),
        None => {
            let any = search(&hub, "status eq \"ACTIVE\"").await;
            let id = any[0].id.clone();
            sim.patch_user(OrgName::Hub, id.as_str(), json!({"status": "LOCKED_OUT"}))
                .unwrap();
            id
        }
    };
    hub.unlock_user(&user).await.unwrap();
    assert_eq!(
        hub.get_user(user.as_str())
            .await
            .unwrap()
            .unwrap()
            .value
            .status,
        UserStatus::Active
    );
    // Unlocking an active user is refused for its status.
    let e = hub.unlock_user(&user).await.unwrap_err();
    assert!(e.is_not_allowed_in_status(), "{e}");
    sim.shutdown().await;
}

#[tokio::test]
async fn groups_app_links_apps_and_assignments() {
    let sim = start(sim_config()).await;
    let (hub, spoke) = (hub(&sim), spoke(&sim));

    // Groups: a hub user's groups, then adding it to another group.
    let users = search(&hub, "status eq \"ACTIVE\"").await;
    let user = users[0].id.clone();
    let groups = hub.user_groups(&user).await.unwrap();
    assert!(
        !groups.is_empty(),
        "generated users are in Everyone at least"
    );
    assert!(groups.iter().all(|g| g.name().is_some()));
    // Apps: find Org2Org by filter on the spoke.
    let apps = collect_all(spoke.list_apps(AppQuery {
        filter: Some("name eq \"okta_org2org\"".into()),
        ..Default::default()
    }))
    .await
    .unwrap();
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0].name, "okta_org2org");
    let app: AppId = apps[0].id.clone();

    // Assignments with the user embedded, paginated.
    let mut pages = spoke.list_app_users(
        &app,
        AppUserQuery {
            expand_user: true,
            limit: Some(3),
            ..Default::default()
        },
    );
    let mut assignments = Vec::new();
    let mut n_pages = 0;
    while let Some(p) = pages.next().await {
        assignments.extend(p.unwrap().items);
        n_pages += 1;
    }
    assert!(n_pages >= 5);
    assert_eq!(assignments.len(), 20);
    assert!(
        assignments.iter().all(|a| a.embedded_user().is_some()),
        "expand=user embeds the user"
    );
    assert!(assignments.iter().any(|a| a.sync_state() == Some("ERROR")));

    // App links of an assigned spoke user.
    let first = &assignments[0];
    let links = spoke.user_app_links(&first.id).await.unwrap();
    assert!(
        links
            .iter()
            .any(|l| l.app_instance_id() == Some(app.as_str())),
        "{links:?}"
    );

    // Get, update ("touch"), unassign and re-assign an individual assignment.
    let individual = assignments
        .iter()
        .find(|a| a.scope() == Some("USER"))
        .unwrap();
    let got = spoke
        .get_app_user(&app, &individual.id, true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.value.id, individual.id);
    assert!(got.value.embedded_user().is_some());
    let profile = got.value.profile().cloned().unwrap_or_default();
    let touched = spoke
        .update_app_user(&app, &individual.id, &json!({"profile": profile}))
        .await
        .unwrap();
    assert_eq!(touched.value.id, individual.id);
    let user_name = individual.user_name().map(str::to_string);
    spoke
        .unassign_app_user(&app, &individual.id, false)
        .await
        .unwrap();
    assert!(spoke
        .get_app_user(&app, &individual.id, false)
        .await
        .unwrap()
        .is_none());
    let re = spoke
        .assign_app_user(
            &app,
            &AppUserAssignment {
                id: individual.id.clone(),
                scope: Some("USER".into()),
                credentials: user_name.map(|n| json!({"userName": n})),
                profile: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(re.value.id, individual.id);

    // A group-scoped assignment cannot be removed individually: E0000046.
    if let Some(grouped) = assignments.iter().find(|a| a.scope() == Some("GROUP")) {
        let e = spoke
            .unassign_app_user(&app, &grouped.id, false)
            .await
            .unwrap_err();
        assert!(e.is_unassign_forbidden(), "{e}");
    } else {
        panic!("the scenario has a group-scoped assignment");
    }
    assert_requests_match_spec(&sim, OrgName::Hub);
    assert_requests_match_spec(&sim, OrgName::Spoke);
    sim.shutdown().await;
}

#[tokio::test]
async fn add_user_to_group() {
    let sim = start(sim_config()).await;
    let hub = hub(&sim);
    let users = search(&hub, "status eq \"ACTIVE\"").await;
    let user = users[0].id.clone();
    let mine: BTreeSet<String> = hub
        .user_groups(&user)
        .await
        .unwrap()
        .iter()
        .map(|g| g.id.to_string())
        .collect();
    let dump = sim.dump(OrgName::Hub);
    let all_groups: Vec<String> = dump["groups"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|g| g["id"].as_str().map(str::to_string))
                .collect()
        })
        .or_else(|| {
            dump["groups"]
                .as_object()
                .map(|o| o.keys().cloned().collect())
        })
        .unwrap_or_default();
    let target = all_groups
        .iter()
        .find(|g| !mine.contains(*g))
        .expect("a group the user is not in")
        .clone();
    let added = hub
        .add_user_to_group(&GroupId::from(target.as_str()), &user)
        .await
        .unwrap();
    assert!(added.request_id.is_some());
    let after: BTreeSet<String> = hub
        .user_groups(&user)
        .await
        .unwrap()
        .iter()
        .map(|g| g.id.to_string())
        .collect();
    assert!(after.contains(&target));
    // PUT twice is fine: it is idempotent.
    hub.add_user_to_group(&GroupId::from(target.as_str()), &user)
        .await
        .unwrap();
    assert_requests_match_spec(&sim, OrgName::Hub);
    sim.shutdown().await;
}

#[tokio::test]
async fn system_log_bounded_and_polling() {
    let sim = start(sim_config()).await;
    let spoke = spoke(&sim);
    let since = chrono::Utc::now() - chrono::Duration::days(30);
    let failures =
        collect_all(
            spoke.list_logs(LogQuery {
                since: Some(since),
                until: Some(chrono::Utc::now()),
                filter: Some(
                    "eventType sw \"application.provision.user\" and outcome.result eq \"FAILURE\""
                        .into(),
                ),
                limit: Some(2),
                ..Default::default()
            }),
        )
        .await
        .unwrap();
    assert!(failures.len() >= 3, "{}", failures.len());
    assert!(failures
        .iter()
        .all(|e| e.outcome_result() == Some("FAILURE")
            && e.event_type.starts_with("application.provision.user")));

    // Polling: catches up with existing events, then sees a new one as it happens.
    let hub = hub(&sim);
    let start_at = chrono::Utc::now() - chrono::Duration::seconds(1);
    let mut poll = hub.poll_logs(
        LogQuery {
            since: Some(start_at),
            filter: Some("eventType eq \"user.account.unlock\"".into()),
            ..Default::default()
        },
        Duration::from_millis(50),
    );
    let locked = search(&hub, "status eq \"ACTIVE\"").await;
    let id = locked[0].id.clone();
    sim.patch_user(OrgName::Hub, id.as_str(), json!({"status": "LOCKED_OUT"}))
        .unwrap();
    hub.unlock_user(&id).await.unwrap();
    let page = tokio::time::timeout(Duration::from_secs(10), poll.next())
        .await
        .expect("poll saw the event")
        .unwrap()
        .unwrap();
    assert_eq!(page.items[0].event_type, "user.account.unlock");
    assert_requests_match_spec(&sim, OrgName::Spoke);
    sim.shutdown().await;
}

#[tokio::test]
async fn error_codes_are_typed() {
    let sim = start(sim_config()).await;
    let hub = hub(&sim);
    let mut seen = Vec::new();

    // E0000007: unknown user on a lifecycle call.
    let e = hub
        .deactivate_user(&UserId::from("00unknown"), false)
        .await
        .unwrap_err();
    assert!(e.is_not_found());
    seen.push(("deactivate unknown user", api_code(&e)));

    // E0000001: a create without a login.
    let mut profile = serde_json::Map::new();
    profile.insert("email".into(), json!("x@example.com"));
    let e = hub
        .create_user(
            &NewUser {
                profile,
                ..Default::default()
            },
            true,
        )
        .await
        .unwrap_err();
    assert!(e.is_validation(), "{e}");
    seen.push(("create without login", api_code(&e)));

    // E0000038: reset on a DEPROVISIONED user.
    let gone = search(&hub, "status eq \"DEPROVISIONED\"").await;
    let e = hub.reset_password(&gone[0].id, true).await.unwrap_err();
    assert!(e.is_not_allowed_in_status());
    seen.push(("reset deprovisioned", api_code(&e)));

    // E0000011: a bad token.
    let bad = ssws_client(
        "hub",
        &sim.hub_url(),
        "not-the-token",
        super::harness::fast_limits(),
    );
    let e = bad.get_user("anyone").await.unwrap_err();
    assert!(e.is_invalid_token());
    seen.push(("bad token", api_code(&e)));

    let report: String = seen.iter().map(|(k, v)| format!("{k}: {v}\n")).collect();
    insta::assert_snapshot!(report);
    // What a user reads: org, endpoint, Okta's summary, code and status.
    let e = hub
        .deactivate_user(&UserId::from("00unknown"), false)
        .await
        .unwrap_err();
    insta::assert_snapshot!("display_not_found", e.to_string());
    sim.shutdown().await;
}

/// Every typed model read from the simulator converts back to exactly the JSON Okta sent.
#[tokio::test]
async fn typed_models_round_trip_real_responses_losslessly() {
    use okta_remedy::okta::{
        endpoints, AppLink, AppUser, Application, Call, Group, JsonModel, LogEvent,
    };

    fn check<T: JsonModel>(label: &str, raw: &serde_json::Value) -> usize {
        let items = raw
            .as_array()
            .unwrap_or_else(|| panic!("{label}: not an array"));
        for item in items {
            let typed = T::from_value(item.clone()).unwrap_or_else(|e| panic!("{label}: {e}"));
            assert_eq!(&typed.to_value(), item, "{label}: lossy round trip");
        }
        items.len()
    }

    let sim = start(sim_config()).await;
    let (hub, spoke) = (hub(&sim), spoke(&sim));
    let raw = |client: &OktaClient, call: Call| {
        let client = client.clone();
        async move { client.call_json(call, true).await.unwrap().value }
    };
    let users = raw(
        &hub,
        Call::new(&endpoints::LIST_USERS).query("limit", "200"),
    )
    .await;
    assert!(check::<User>("users", &users) > 10);
    let user_id = users[0]["id"].as_str().unwrap().to_string();
    let groups = raw(&hub, Call::new(&endpoints::USER_GROUPS).path(&user_id)).await;
    assert!(check::<Group>("groups", &groups) > 0);
    let logs = raw(
        &hub,
        Call::new(&endpoints::LIST_LOGS)
            .query("since", "2000-01-01T00:00:00.000Z")
            .query("limit", "100"),
    )
    .await;
    assert!(check::<LogEvent>("hub logs", &logs) > 0);
    let apps = raw(&spoke, Call::new(&endpoints::LIST_APPS)).await;
    assert!(check::<Application>("apps", &apps) > 0);
    let app_id = apps[0]["id"].as_str().unwrap().to_string();
    let app_users = raw(
        &spoke,
        Call::new(&endpoints::LIST_APP_USERS)
            .path(&app_id)
            .query("expand", "user"),
    )
    .await;
    assert!(check::<AppUser>("app users", &app_users) > 0);
    let spoke_user = app_users[0]["id"].as_str().unwrap().to_string();
    let links = raw(
        &spoke,
        Call::new(&endpoints::USER_APP_LINKS).path(&spoke_user),
    )
    .await;
    assert!(check::<AppLink>("app links", &links) > 0);
    let spoke_logs = raw(
        &spoke,
        Call::new(&endpoints::LIST_LOGS)
            .query("since", "2000-01-01T00:00:00.000Z")
            .query("limit", "100"),
    )
    .await;
    assert!(check::<LogEvent>("spoke logs", &spoke_logs) > 0);
    sim.shutdown().await;
}

/// DELETE on an active user only deactivates it; the second DELETE removes it (as Okta does).
#[tokio::test]
async fn deleting_an_active_user_takes_two_calls() {
    let sim = start(sim_config()).await;
    let hub = hub(&sim);
    let id = search(&hub, "status eq \"ACTIVE\"").await[0].id.clone();
    hub.delete_user(&id, false).await.unwrap();
    let after_one = hub
        .get_user(id.as_str())
        .await
        .unwrap()
        .expect("still there after one delete");
    assert_eq!(after_one.value.status, UserStatus::Deprovisioned);
    hub.delete_user(&id, false).await.unwrap();
    assert!(hub.get_user(id.as_str()).await.unwrap().is_none());
    // A third is a 404 like any unknown user.
    assert!(hub
        .delete_user(&id, false)
        .await
        .unwrap_err()
        .is_not_found());
    sim.shutdown().await;
}

/// `update_user` with the ETag of an earlier read is refused (412) once the user changed in between, so
/// the executor never overwrites drift.
#[tokio::test]
async fn a_stale_etag_is_refused() {
    let sim = start(sim_config()).await;
    let hub = hub(&sim);
    let id = search(&hub, "status eq \"ACTIVE\"").await[0].id.clone();
    let read = hub.get_user(id.as_str()).await.unwrap().unwrap();
    sim.patch_user(
        OrgName::Hub,
        id.as_str(),
        json!({"profile": {"nickName": "drifted"}}),
    )
    .unwrap();
    let e = hub
        .update_user(
            &id,
            &json!({"profile": {"nickName": "mine"}}),
            read.etag.as_deref(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(412), "{e}");
    sim.shutdown().await;
}
