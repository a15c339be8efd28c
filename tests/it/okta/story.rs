//! The product's remedy A driven through the client only, as the executor will: find a failing Org2Org
//! assignment on the spoke, see that its hub user is FEDERATION, reset the hub password (the user goes
//! to RECOVERY with provider OKTA), let the user complete the reset, retry provisioning by "touching"
//! the assignment, and verify the push succeeded. A smoke test of the client as a whole.

use futures::StreamExt;
use okta_remedy::okta::{
    collect_all, AppQuery, AppUserQuery, LogQuery, OktaApi, ProviderType, UserStatus,
};
use okta_remedy::sim::OrgName;
use serde_json::json;

use super::harness::{hub, sim_config, spoke, start};

#[tokio::test]
async fn reset_then_touch_fixes_a_federation_collision() {
    let sim = start(sim_config()).await;
    let (hub, spoke) = (hub(&sim), spoke(&sim));

    // Start from the spoke's System Log, as the collector does.
    let since = chrono::Utc::now() - chrono::Duration::days(30);
    let failures =
        collect_all(
            spoke.list_logs(LogQuery {
                since: Some(since),
                filter: Some(
                    "eventType sw \"application.provision.user\" and outcome.result eq \"FAILURE\""
                        .into(),
                ),
                ..Default::default()
            }),
        )
        .await
        .unwrap();
    assert!(failures.iter().any(|e| e
        .outcome_reason()
        .is_some_and(|r| r.ends_with("(password: Password)"))));

    let app = collect_all(spoke.list_apps(AppQuery {
        filter: Some("name eq \"okta_org2org\"".into()),
        ..Default::default()
    }))
    .await
    .unwrap()
    .remove(0);
    let mut pages = spoke.list_app_users(
        &app.id,
        AppUserQuery {
            expand_user: true,
            ..Default::default()
        },
    );
    let mut target = None;
    while let Some(page) = pages.next().await {
        for a in page.unwrap().items {
            if a.sync_state() != Some("ERROR") || a.scope() != Some("USER") {
                continue;
            }
            let Some(login) = a.embedded_user().map(|u| u.profile.login) else {
                continue;
            };
            if login.starts_with("admin.") {
                continue;
            }
            let Some(hub_user) = hub.get_user(&login).await.unwrap() else {
                continue;
            };
            if hub_user.value.provider_type() == Some(&ProviderType::Federation)
                && hub_user.value.status == UserStatus::Active
            {
                target = Some((a, hub_user));
                break;
            }
        }
        if target.is_some() {
            break;
        }
    }
    let (assignment, hub_user) = target.expect("a federation collision in the scenario");

    // Remedy A: reset without provider; the user goes to RECOVERY and the provider to OKTA.
    let reset = hub.reset_password(&hub_user.value.id, false).await.unwrap();
    assert!(reset.reset_password_url.is_some());
    let after = hub
        .get_user(hub_user.value.id.as_str())
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(after.status, UserStatus::Recovery);
    assert_eq!(after.provider_type(), Some(&ProviderType::Okta));
    sim.complete_password_reset(OrgName::Hub, hub_user.value.id.as_str())
        .unwrap();
    assert_eq!(
        hub.get_user(hub_user.value.id.as_str())
            .await
            .unwrap()
            .unwrap()
            .value
            .status,
        UserStatus::Active
    );

    // Retry provisioning by touching the assignment with its own profile.
    let profile = assignment.profile().cloned().unwrap_or_default();
    spoke
        .update_app_user(&app.id, &assignment.id, &json!({ "profile": profile }))
        .await
        .unwrap();
    let fixed = spoke
        .get_app_user(&app.id, &assignment.id, false)
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(
        fixed.sync_state(),
        Some("SYNCHRONIZED"),
        "{:?}",
        fixed.extra
    );
    assert_eq!(fixed.external_id(), Some(hub_user.value.id.as_str()));
    sim.shutdown().await;
}
