//! OAuth 2.0 service apps against the simulator: private-key JWT client assertions (ES256, RS256),
//! DPoP nonce, DPoP-bound tokens, scopes per endpoint, expiry.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use okta_remedy::sim::OrgName::Hub;
use okta_remedy::sim::{GenerateSpec, OAuthClient, Scenario, SimConfig};
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use reqwest::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::Harness;

struct Key {
    alg: Algorithm,
    enc: EncodingKey,
    jwk: Value,
}

fn es256(seed: u64) -> Key {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let sk = p256::SecretKey::random(&mut rng);
    let pem = sk.to_pkcs8_pem(LineEnding::LF).unwrap();
    Key {
        alg: Algorithm::ES256,
        enc: EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
        jwk: serde_json::from_str(&sk.public_key().to_jwk_string()).unwrap(),
    }
}

fn rs256(seed: u64) -> Key {
    use rsa::pkcs8::EncodePrivateKey as _;
    use rsa::traits::PublicKeyParts;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let sk = rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap();
    let pem = sk.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF).unwrap();
    Key {
        alg: Algorithm::RS256,
        enc: EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
        jwk: json!({
            "kty": "RSA",
            "n": URL_SAFE_NO_PAD.encode(sk.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(sk.e().to_bytes_be()),
        }),
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn jti() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn proof(key: &Key, htm: &str, htu: &str, nonce: Option<&str>, token: Option<&str>) -> String {
    let mut header = Header::new(key.alg);
    header.typ = Some("dpop+jwt".into());
    header.jwk = Some(serde_json::from_value(key.jwk.clone()).unwrap());
    let mut claims = json!({ "htm": htm, "htu": htu, "iat": now(), "jti": jti() });
    if let Some(n) = nonce {
        claims["nonce"] = json!(n);
    }
    if let Some(t) = token {
        claims["ath"] = json!(URL_SAFE_NO_PAD.encode(Sha256::digest(t.as_bytes())));
    }
    encode(&header, &claims, &key.enc).unwrap()
}

fn assertion(key: &Key, kid: &str, client_id: &str, aud: &str) -> String {
    let mut header = Header::new(key.alg);
    header.kid = Some(kid.into());
    let claims = json!({
        "iss": client_id, "sub": client_id, "aud": aud,
        "iat": now(), "exp": now() + 300, "jti": jti(),
    });
    encode(&header, &claims, &key.enc).unwrap()
}

fn client(id: &str, key: &Key, kid: &str, scopes: &[&str]) -> OAuthClient {
    let mut jwk = key.jwk.clone();
    jwk["kid"] = json!(kid);
    OAuthClient {
        client_id: id.into(),
        public_jwk: jwk,
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
    }
}

async fn token_request(
    h: &Harness,
    client_key: &Key,
    kid: &str,
    client_id: &str,
    dpop: &Key,
    nonce: Option<&str>,
    scope: &str,
) -> (u16, Value, Option<String>) {
    let url = format!("{}/oauth2/v1/token", h.base(Hub));
    let r = h
        .http
        .post(&url)
        .header("DPoP", proof(dpop, "POST", &url, nonce, None))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", scope),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            (
                "client_assertion",
                &assertion(client_key, kid, client_id, &url),
            ),
        ])
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let nonce = r
        .headers()
        .get("dpop-nonce")
        .map(|v| v.to_str().unwrap().to_string());
    (status, r.json().await.unwrap(), nonce)
}

async fn api(
    h: &Harness,
    dpop: &Key,
    token: &str,
    path: &str,
    tamper: bool,
) -> (u16, Value, Option<String>) {
    let url = format!("{}{path}", h.base(Hub));
    let htu = url.split('?').next().unwrap().to_string();
    let bound = if tamper { "other-token" } else { token };
    let r = h
        .http
        .get(&url)
        .header("authorization", format!("DPoP {token}"))
        .header("DPoP", proof(dpop, "GET", &htu, None, Some(bound)))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let www = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    let body: Value = r.json().await.unwrap();
    let path_only = url::Url::parse(&url).unwrap().path().to_string();
    super::spec().check(&Method::GET, &path_only, status, &body);
    (status, body, www)
}

fn config(clients: Vec<OAuthClient>, ttl: Duration) -> SimConfig {
    SimConfig {
        scenario: Scenario::Generate(GenerateSpec {
            hub_users: 5,
            ..GenerateSpec::default()
        }),
        oauth_clients: clients,
        token_ttl: ttl,
        ..SimConfig::default()
    }
}

#[tokio::test]
async fn dpop_nonce_then_token_then_scoped_api_calls() {
    let signing = es256(1);
    let dpop = es256(2);
    let h = Harness::start(config(
        vec![client(
            "0oaservice1",
            &signing,
            "k1",
            &["okta.users.read", "okta.logs.read"],
        )],
        Duration::from_secs(3600),
    ))
    .await;

    let (status, body, nonce) = token_request(
        &h,
        &signing,
        "k1",
        "0oaservice1",
        &dpop,
        None,
        "okta.users.read",
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"error": "use_dpop_nonce", "error_description": "Authorization server requires nonce in DPoP proof."})
    );
    let nonce = nonce.unwrap();
    let (status, body, _) = token_request(
        &h,
        &signing,
        "k1",
        "0oaservice1",
        &dpop,
        Some(&nonce),
        "okta.users.read okta.logs.read",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "okta.users.read okta.logs.read");
    let token = body["access_token"].as_str().unwrap().to_string();

    let (status, users, _) = api(&h, &dpop, &token, "/api/v1/users?limit=2", false).await;
    assert_eq!((status, users.as_array().unwrap().len()), (200, 2));
    let (status, _, _) = api(&h, &dpop, &token, "/api/v1/logs", false).await;
    assert_eq!(status, 200);

    // No okta.apps.read: 403 E0000006 naming the scope.
    let (status, body, www) = api(&h, &dpop, &token, "/api/v1/apps", false).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (403, Some("E0000006"))
    );
    assert!(www.unwrap().contains("scope=\"okta.apps.read\""));

    // A proof bound to another token, another key, or a plain Bearer header is refused.
    let (status, body, _) = api(&h, &dpop, &token, "/api/v1/users", true).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (401, Some("E0000011"))
    );
    let (status, _, _) = api(&h, &es256(3), &token, "/api/v1/users", false).await;
    assert_eq!(status, 401);
    let bearer = h
        .try_send(
            Hub,
            Method::GET,
            "/api/v1/users",
            None,
            Some(&format!("Bearer {token}")),
        )
        .await
        .unwrap();
    assert_eq!(bearer.status, 401);

    // Scopes the client was not granted are refused at the token endpoint.
    let (status, body, _) = token_request(
        &h,
        &signing,
        "k1",
        "0oaservice1",
        &dpop,
        Some(&nonce),
        "okta.users.manage",
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    // An unknown key id or a wrong signing key is an invalid client.
    let (status, body, _) = token_request(
        &h,
        &signing,
        "k2",
        "0oaservice1",
        &dpop,
        Some(&nonce),
        "okta.users.read",
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, _, _) = token_request(
        &h,
        &es256(9),
        "k1",
        "0oaservice1",
        &dpop,
        Some(&nonce),
        "okta.users.read",
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn rs256_assertions_and_token_expiry() {
    let signing = rs256(5);
    let dpop = es256(6);
    let h = Harness::start(config(
        vec![client(
            "0oaservice2",
            &signing,
            "rsa1",
            &["okta.users.manage"],
        )],
        Duration::from_secs(1),
    ))
    .await;
    let (_, _, nonce) = token_request(
        &h,
        &signing,
        "rsa1",
        "0oaservice2",
        &dpop,
        None,
        "okta.users.manage",
    )
    .await;
    let (status, body, _) = token_request(
        &h,
        &signing,
        "rsa1",
        "0oaservice2",
        &dpop,
        nonce.as_deref(),
        "okta.users.manage",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap().to_string();
    // okta.users.manage implies read.
    assert_eq!(
        api(&h, &dpop, &token, "/api/v1/users?limit=1", false)
            .await
            .0,
        200
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body, _) = api(&h, &dpop, &token, "/api/v1/users?limit=1", false).await;
        if status == 401 {
            assert_eq!(body["errorCode"], "E0000011");
            break;
        }
        assert!(Instant::now() < deadline, "the token never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn service_apps_of_a_seed_file_get_dpop_tokens() {
    let signing = es256(11);
    let dpop = es256(12);
    let mut seed = super::fixture("story-seed.json");
    seed.service_apps = vec![client("0oaseeded", &signing, "k9", &["okta.users.read"])];
    // Through the file format: written, then read back.
    let seed: okta_remedy::sim::SeedData = serde_json::from_str(&seed.to_file_text()).unwrap();
    assert_eq!(seed.service_apps.len(), 1);
    let h = Harness::seeded(seed).await;
    let request = |nonce: Option<String>| {
        let (h, signing, dpop) = (&h, &signing, &dpop);
        async move {
            token_request(
                h,
                signing,
                "k9",
                "0oaseeded",
                dpop,
                nonce.as_deref(),
                "okta.users.read",
            )
            .await
        }
    };
    let (status, _, nonce) = request(None).await;
    assert_eq!(status, 400);
    let (status, body, _) = request(nonce).await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap();
    let (status, users, _) = api(&h, &dpop, token, "/api/v1/users?limit=1", false).await;
    assert_eq!((status, users.as_array().unwrap().len()), (200, 1));
}

#[test]
fn remedy_sim_refuses_a_service_app_key_that_is_not_a_public_jwk() {
    let dir = tempfile::tempdir().unwrap();
    let mut private = es256(13).jwk;
    private["d"] = json!("c2VjcmV0");
    for (jwk, says) in [
        (
            private,
            "invalid service app: `0oaflag`: `public_jwk` holds a private key",
        ),
        (
            json!({"kty": "oct", "k": "c2VjcmV0"}),
            "invalid service app: `0oaflag`: `public_jwk` is not a public EC or RSA JWK",
        ),
    ] {
        let path = dir.path().join("key.json");
        std::fs::write(&path, jwk.to_string()).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_remedy"))
            .args(["sim", "--service-app", "0oaflag", "--service-app-jwk"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains(says), "{stderr}");
    }
}

#[tokio::test]
async fn the_resource_server_can_demand_a_dpop_nonce() {
    let signing = es256(21);
    let dpop = es256(22);
    let h = Harness::start(SimConfig {
        api_dpop_nonce: true,
        ..config(
            vec![client("0oanonce", &signing, "k1", &["okta.users.read"])],
            Duration::from_secs(3600),
        )
    })
    .await;
    let (_, _, nonce) = token_request(
        &h,
        &signing,
        "k1",
        "0oanonce",
        &dpop,
        None,
        "okta.users.read",
    )
    .await;
    let (status, body, _) = token_request(
        &h,
        &signing,
        "k1",
        "0oanonce",
        &dpop,
        nonce.as_deref(),
        "okta.users.read",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap().to_string();
    let url = format!("{}/api/v1/users", h.base(Hub));
    let call = |nonce: Option<String>| {
        let (h, dpop, token, url) = (&h, &dpop, &token, &url);
        async move {
            h.http
                .get(url)
                .header("authorization", format!("DPoP {token}"))
                .header(
                    "DPoP",
                    proof(dpop, "GET", url, nonce.as_deref(), Some(token)),
                )
                .send()
                .await
                .unwrap()
        }
    };
    let challenged = call(None).await;
    assert_eq!(challenged.status(), 401);
    let www = challenged.headers()["www-authenticate"].to_str().unwrap();
    assert!(www.contains("error=\"use_dpop_nonce\""), "{www}");
    let api_nonce = challenged.headers()["dpop-nonce"]
        .to_str()
        .unwrap()
        .to_string();
    assert_ne!(Some(api_nonce.as_str()), nonce.as_deref());
    assert_eq!(call(Some(api_nonce)).await.status(), 200);
}
