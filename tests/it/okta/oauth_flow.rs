//! OAuth 2.0 service-app auth end to end against the simulator: client-credentials token with a
//! private-key JWT (ES256 and RS256), the `use_dpop_nonce` retry, DPoP-bound API calls, refresh before
//! expiry, scopes (E0000006 when one is missing) and a refused client.

use std::time::{Duration, Instant};

use okta_remedy::okta::oauth::ClientKey;
use okta_remedy::okta::{Auth, LogQuery, OktaApi, OktaClient, OktaError, OrgConfig, Secret};
use okta_remedy::sim::{OAuthClient, OrgName, SimConfig};

use super::harness::{fast_limits, fixture, sim_config, start, ALL_SCOPES};

const TOKEN: &str = "POST /oauth2/v1/token";

fn oauth_sim(key_file: &str, scopes: &[&str], ttl: Duration) -> SimConfig {
    let key = ClientKey::parse(&Secret::new(fixture(key_file)), Some("test-kid")).unwrap();
    SimConfig {
        oauth_clients: vec![OAuthClient {
            client_id: "0oaRemedy".into(),
            public_jwk: key.public_jwk().clone(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        }],
        token_ttl: ttl,
        ..sim_config()
    }
}

fn oauth_client(url: &str, key_file: &str, client_id: &str, scopes: &[&str]) -> OktaClient {
    OktaClient::new(oauth_config(url, key_file, client_id, scopes)).unwrap()
}

fn oauth_config(url: &str, key_file: &str, client_id: &str, scopes: &[&str]) -> OrgConfig {
    OrgConfig {
        name: "hub".into(),
        base_url: url::Url::parse(url).unwrap(),
        auth: Auth::PrivateKey {
            client_id: client_id.into(),
            key: Secret::new(fixture(key_file)),
            kid: Some("test-kid".into()),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        },
        limits: fast_limits(),
    }
}

#[tokio::test]
async fn es256_client_gets_a_dpop_token_after_a_nonce_retry_and_refreshes_it() {
    let sim = start(oauth_sim(
        "test-ec-pkcs8.pem",
        ALL_SCOPES,
        Duration::from_secs(2),
    ))
    .await;
    let client = oauth_client(&sim.hub_url(), "test-ec-pkcs8.pem", "0oaRemedy", ALL_SCOPES);
    let user = client.get_user("nobody@example.com").await.unwrap();
    assert!(user.is_none());
    // First token request without a nonce gets use_dpop_nonce; the retry with it succeeds.
    assert_eq!(client.request_counts()[TOKEN], 2);
    let token_statuses: Vec<u16> = sim
        .requests(OrgName::Hub)
        .iter()
        .filter(|r| r.path == "/oauth2/v1/token")
        .map(|r| r.status)
        .collect();
    assert_eq!(token_statuses, [400, 200]);
    // The token is reused while fresh.
    let sa = client.list_users(Default::default());
    let _ = okta_remedy::okta::collect_all(sa).await.unwrap();
    assert_eq!(client.request_counts()[TOKEN], 2);

    // Refresh before expiry (a fifth of the 2 s lifetime is kept in reserve): keep calling until the
    // client fetches a new token, with a deadline; no API call may see an expired token.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        client.get_user("nobody@example.com").await.unwrap();
        if client.request_counts()[TOKEN] > 2 {
            break;
        }
        assert!(Instant::now() < deadline, "the token was never refreshed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let api_401 = sim
        .requests(OrgName::Hub)
        .iter()
        .filter(|r| r.path.starts_with("/api/") && r.status == 401)
        .count();
    assert_eq!(api_401, 0, "a call went out with an expired token");
    // The nonce is remembered, so the refresh needed one request only.
    assert_eq!(client.request_counts()[TOKEN], 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn rs256_client_works_too() {
    let sim = start(oauth_sim(
        "test-rsa-pkcs1.pem",
        ALL_SCOPES,
        Duration::from_secs(3600),
    ))
    .await;
    let client = oauth_client(
        &sim.hub_url(),
        "test-rsa-pkcs8.pem",
        "0oaRemedy",
        ALL_SCOPES,
    );
    let users = okta_remedy::okta::collect_all(client.list_users(Default::default()))
        .await
        .unwrap();
    assert!(!users.is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_missing_scope_is_access_denied() {
    let sim = start(oauth_sim(
        "test-ec-pkcs8.pem",
        &["okta.users.read"],
        Duration::from_secs(3600),
    ))
    .await;
    let client = oauth_client(
        &sim.hub_url(),
        "test-ec-pkcs8.pem",
        "0oaRemedy",
        &["okta.users.read"],
    );
    client.get_user("nobody@example.com").await.unwrap();
    let e = okta_remedy::okta::collect_all(client.list_logs(LogQuery::default()))
        .await
        .unwrap_err();
    assert!(e.is_access_denied(), "{e}");
    assert_eq!(e.status(), Some(403));
    sim.shutdown().await;
}

#[tokio::test]
async fn an_unknown_client_is_refused_with_an_auth_error() {
    let sim = start(oauth_sim(
        "test-ec-pkcs8.pem",
        ALL_SCOPES,
        Duration::from_secs(3600),
    ))
    .await;
    // Right key, wrong client id; and right client id, wrong key.
    for (client_id, key) in [
        ("0oaSomeoneElse", "test-ec-pkcs8.pem"),
        ("0oaRemedy", "test-rsa-pkcs8.pem"),
    ] {
        let client = oauth_client(&sim.hub_url(), key, client_id, ALL_SCOPES);
        let e = client.get_user("nobody@example.com").await.unwrap_err();
        assert!(matches!(e, OktaError::Auth { .. }), "{e}");
        assert!(e.to_string().contains("invalid_client"), "{e}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_refused_token_is_replaced_once() {
    let config = oauth_sim("test-ec-pkcs8.pem", ALL_SCOPES, Duration::from_secs(3600));
    let sim = start(config.clone()).await;
    let url = sim.hub_url();
    let port = url::Url::parse(&url).unwrap().port().unwrap();
    let client = oauth_client(&url, "test-ec-pkcs8.pem", "0oaRemedy", ALL_SCOPES);
    client.get_user("nobody@example.com").await.unwrap();
    assert_eq!(client.request_counts()[TOKEN], 2);
    // A new simulator on the same port has never issued the client's token (like a revoked token):
    // the API answers 401 E0000011 and the client fetches a new token and repeats the call once.
    sim.shutdown().await;
    let sim = start(SimConfig {
        hub_port: port,
        ..config
    })
    .await;
    client.get_user("nobody@example.com").await.unwrap();
    let statuses: Vec<(String, u16)> = sim
        .requests(OrgName::Hub)
        .iter()
        .map(|r| (r.path.clone(), r.status))
        .collect();
    assert!(
        statuses.contains(&("/api/v1/users/nobody@example.com".to_string(), 401)),
        "{statuses:?}"
    );
    assert_eq!(statuses.last().map(|s| s.1), Some(404));
    assert!(client.request_counts()[TOKEN] >= 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_failing_token_endpoint_is_retried_because_nothing_was_sent_to_the_api() {
    let sim = start(oauth_sim(
        "test-ec-pkcs8.pem",
        ALL_SCOPES,
        Duration::from_secs(3600),
    ))
    .await;
    let faults = okta_remedy::sim::Faults {
        buckets: std::collections::BTreeMap::from([(
            "oauth2.token".to_string(),
            okta_remedy::sim::FaultSpec {
                error_rate: 0.5,
                ..Default::default()
            },
        )]),
        ..Default::default()
    };
    sim.set_faults(OrgName::Hub, faults);
    // A reset is not idempotent, yet a token failure happens before it is sent: safe to retry.
    for _ in 0..5 {
        let limits = okta_remedy::okta::ClientLimits {
            max_retries: 10,
            ..fast_limits()
        };
        let config = oauth_config(&sim.hub_url(), "test-ec-pkcs8.pem", "0oaRemedy", ALL_SCOPES);
        let client = OktaClient::new(OrgConfig { limits, ..config }).unwrap();
        let e = client
            .reset_password(&okta_remedy::okta::UserId::from("00unknown"), true)
            .await
            .unwrap_err();
        assert!(e.is_not_found(), "{e}");
        assert_eq!(
            client.request_counts()["POST /api/v1/users/{id}/lifecycle/reset_password"],
            1
        );
    }
    let token_500s = sim
        .requests(OrgName::Hub)
        .iter()
        .filter(|r| r.path == "/oauth2/v1/token" && r.status == 500)
        .count();
    assert!(
        token_500s > 0,
        "the fault injector produced no token failures"
    );
    sim.shutdown().await;
}

/// Okta may also demand a nonce on API calls (401 with `WWW-Authenticate: DPoP error="use_dpop_nonce"`
/// and a `DPoP-Nonce` header); the client stores it and repeats the call once with a proof carrying it.
#[tokio::test]
async fn a_resource_server_nonce_challenge_is_answered() {
    let sim = start(SimConfig {
        api_dpop_nonce: true,
        ..oauth_sim("test-ec-pkcs8.pem", ALL_SCOPES, Duration::from_secs(3600))
    })
    .await;
    let client = oauth_client(&sim.hub_url(), "test-ec-pkcs8.pem", "0oaRemedy", ALL_SCOPES);
    client.get_user("nobody@example.com").await.unwrap();
    let api: Vec<u16> = sim
        .requests(OrgName::Hub)
        .iter()
        .filter(|r| r.path.starts_with("/api/"))
        .map(|r| r.status)
        .collect();
    assert_eq!(api, [401, 404], "a nonce challenge, then the answer");
    sim.shutdown().await;
}

/// Asking for a scope the service app was not granted is refused at the token endpoint, and the
/// error says so.
#[tokio::test]
async fn an_ungranted_scope_is_an_auth_error() {
    let sim = start(oauth_sim(
        "test-ec-pkcs8.pem",
        &["okta.users.read"],
        Duration::from_secs(3600),
    ))
    .await;
    let client = oauth_client(
        &sim.hub_url(),
        "test-ec-pkcs8.pem",
        "0oaRemedy",
        &["okta.users.read", "okta.users.manage"],
    );
    let e = client.get_user("nobody@example.com").await.unwrap_err();
    assert!(matches!(e, OktaError::Auth { .. }), "{e}");
    assert!(e.to_string().contains("invalid_scope"), "{e}");
    sim.shutdown().await;
}
