//! The secret-scanning test: a full run (SSWS and OAuth+DPoP clients on both orgs, every kind of call,
//! failures included) with `tracing` captured at TRACE level for every target, plus the Debug and
//! Display of every config, client, outcome and error. Nothing captured may contain an API token, a
//! private-key PEM body, an access token, a DPoP proof or client assertion (any JWT), or a
//! resetPasswordUrl / activation token.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use okta_remedy::okta::oauth::ClientKey;
use okta_remedy::okta::{
    collect_all, Auth, ClientLimits, LogQuery, OktaApi, OktaClient, OrgConfig, Secret, UserId,
    UserQuery,
};
use okta_remedy::sim::{FaultSpec, Faults, OAuthClient, OrgName, SimConfig};
use tracing_subscriber::fmt::MakeWriter;

use super::harness::{fast_limits, fixture, sim_config, start, ALL_SCOPES};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

const HUB_TOKEN: &str = "00HubSswsSecretTokenValue0123456789abcdef";
const SPOKE_TOKEN: &str = "00SpokeSswsSecretTokenValue0123456789abcd";

/// The environment variable that lets the scan run: set only for the child process.
const CHILD: &str = "OKTA_REMEDY_SECRET_SCAN_CHILD";

/// Runs the scan in a process of its own. `tracing` caches per call site whether anyone listens, for
/// the whole process; with other tests running in parallel threads, a thread-scoped subscriber misses
/// events now and then. Alone in a child process, the scan installs a global subscriber and sees all.
#[test]
fn no_secret_reaches_logs_debug_display_or_errors() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "okta::secrets::scan_in_a_process_of_its_own",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the secret scan failed:\n{text}");
    assert!(
        text.contains("1 passed") && text.contains("secret scan:"),
        "the secret scan did not run:\n{text}"
    );
}

#[tokio::test]
#[ignore = "run by no_secret_reaches_logs_debug_display_or_errors in a child process"]
async fn scan_in_a_process_of_its_own() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(capture.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let ec_pem = fixture("test-ec-pkcs8.pem");
    let key = ClientKey::parse(&Secret::new(ec_pem.clone()), Some("kid")).unwrap();
    let scopes = ALL_SCOPES;
    let sim = start(SimConfig {
        hub_token: HUB_TOKEN.into(),
        spoke_token: SPOKE_TOKEN.into(),
        oauth_clients: vec![OAuthClient {
            client_id: "0oaRemedy".into(),
            public_jwk: key.public_jwk().clone(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        }],
        token_ttl: Duration::from_secs(2),
        ..sim_config()
    })
    .await;
    let mut printed = String::new();
    let mut show = |label: &str, s: String| printed.push_str(&format!("{label}: {s}\n"));

    let ssws_cfg = OrgConfig {
        name: "hub".into(),
        base_url: url::Url::parse(&sim.hub_url()).unwrap(),
        auth: Auth::Ssws(Secret::new(HUB_TOKEN)),
        limits: fast_limits(),
    };
    let oauth_cfg = OrgConfig {
        name: "spoke".into(),
        base_url: url::Url::parse(&sim.spoke_url()).unwrap(),
        auth: Auth::PrivateKey {
            client_id: "0oaRemedy".into(),
            key: Secret::new(ec_pem.clone()),
            kid: Some("kid".into()),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        },
        limits: ClientLimits {
            max_retries: 1,
            ..fast_limits()
        },
    };
    show("ssws config", format!("{ssws_cfg:?}"));
    show("oauth config", format!("{oauth_cfg:?}"));
    // The configuration layers as loaded from the environment, and a configuration error.
    let env = |k: &str| match k {
        "OKTA_CLIENT_TOKEN" => Some(HUB_TOKEN.to_string()),
        "OKTA_CLIENT_PRIVATEKEY" => Some(ec_pem.clone()),
        "OKTA_CLIENT_ORGURL" => Some("https://x.okta.com".to_string()),
        _ => None,
    };
    show(
        "env settings",
        format!(
            "{:?}",
            okta_remedy::okta::ClientSettings::from_env("", &env)
        ),
    );
    let contradictory = okta_remedy::okta::load_orgs_with(&okta_remedy::okta::ConfigInputs {
        tool_config: None,
        home: None,
        cwd: None,
        env: &env,
        flags: Default::default(),
        flags_org: None,
    })
    .unwrap_err();
    show(
        "config error",
        format!("{contradictory} / {contradictory:?}"),
    );
    let hub = OktaClient::new(ssws_cfg).unwrap();
    let spoke = OktaClient::new(oauth_cfg).unwrap();

    // Successful calls of every kind on both auth modes.
    let users = collect_all(hub.list_users(UserQuery {
        search: Some("status eq \"ACTIVE\"".into()),
        ..Default::default()
    }))
    .await
    .unwrap();
    let id = users[0].id.clone();
    show(
        "user",
        format!("{:?}", hub.get_user(id.as_str()).await.unwrap()),
    );
    let reset = hub.reset_password(&id, false).await.unwrap();
    show("reset outcome", format!("{reset:?}"));
    let reset_url = reset.reset_password_url.clone().unwrap();
    sim.complete_password_reset(OrgName::Hub, id.as_str())
        .unwrap();
    hub.deactivate_user(&id, false).await.unwrap();
    let act = hub.activate_user(&id, false).await.unwrap();
    show("activate outcome", format!("{act:?}"));
    let spoke_users = collect_all(spoke.list_users(Default::default()))
        .await
        .unwrap();
    show("spoke user", format!("{:?}", spoke_users[0]));
    let logs = collect_all(spoke.list_logs(LogQuery {
        limit: Some(50),
        ..Default::default()
    }))
    .await
    .unwrap();
    show("log count", logs.len().to_string());
    // Past the token's refresh point, so a refresh happens inside the captured run.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while spoke.request_counts()["POST /oauth2/v1/token"] < 3
        && std::time::Instant::now() < deadline
    {
        spoke.get_user("nobody@example.com").await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let spoke_reset = spoke.reset_password(&spoke_users[0].id, false).await;
    show("spoke reset", format!("{spoke_reset:?}"));
    let spoke_reset_url = spoke_reset.ok().and_then(|r| r.reset_password_url);

    // Failures of every kind, printed with Debug and Display.
    let bad = OktaClient::new(OrgConfig {
        name: "hub".into(),
        base_url: url::Url::parse(&sim.hub_url()).unwrap(),
        auth: Auth::Ssws(Secret::new(format!("{HUB_TOKEN}x"))),
        limits: fast_limits(),
    })
    .unwrap();
    let mut errors = vec![
        bad.get_user("x").await.unwrap_err(),
        hub.deactivate_user(&UserId::from("00unknown"), false)
            .await
            .unwrap_err(),
    ];
    sim.set_faults(
        OrgName::Hub,
        Faults {
            default: FaultSpec {
                error_rate: 1.0,
                ..Default::default()
            },
            ..Default::default()
        },
    );
    errors.push(hub.reset_password(&id, false).await.unwrap_err());
    sim.set_faults(
        OrgName::Hub,
        Faults {
            default: FaultSpec {
                drop_rate: 1.0,
                ..Default::default()
            },
            ..Default::default()
        },
    );
    errors.push(hub.reset_password(&id, false).await.unwrap_err());
    sim.set_faults(OrgName::Hub, Faults::default());
    let wrong_key = OktaClient::new(OrgConfig {
        name: "spoke".into(),
        base_url: url::Url::parse(&sim.spoke_url()).unwrap(),
        auth: Auth::PrivateKey {
            client_id: "0oaRemedy".into(),
            key: Secret::new(fixture("test-rsa-pkcs8.pem")),
            kid: None,
            scopes: vec!["okta.users.read".into()],
        },
        limits: fast_limits(),
    })
    .unwrap();
    errors.push(wrong_key.get_user("x").await.unwrap_err());
    for e in &errors {
        show("error display", e.to_string());
        show("error debug", format!("{e:?}"));
    }
    show("hub client", format!("{hub:?}"));
    show("spoke client", format!("{spoke:?}"));
    sim.shutdown().await;

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("okta request"),
        "the capture missed the client's logs ({} bytes): {}",
        logs.len(),
        &logs[..logs.len().min(3000)]
    );
    assert!(logs.contains("TRACE"), "the capture ran at TRACE level");
    let everything = format!("{logs}\n{printed}");

    let mut secrets: Vec<(String, String)> = vec![
        ("hub API token".into(), HUB_TOKEN.into()),
        ("spoke API token".into(), SPOKE_TOKEN.into()),
        ("resetPasswordUrl".into(), reset_url.expose().to_string()),
    ];
    if let Some(u) = &spoke_reset_url {
        secrets.push(("spoke resetPasswordUrl".into(), u.expose().to_string()));
    }
    for (label, secret) in [
        ("activationUrl", &act.activation_url),
        ("activationToken", &act.activation_token),
    ] {
        if let Some(s) = secret {
            secrets.push((label.into(), s.expose().to_string()));
        }
    }
    // The reset token part alone.
    if let Some(tok) = reset_url.expose().rsplit('/').next() {
        secrets.push(("reset token".into(), tok.to_string()));
    }
    for pem in ["test-ec-pkcs8.pem", "test-rsa-pkcs8.pem"] {
        for line in fixture(pem)
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() >= 16)
        {
            secrets.push((format!("{pem} body"), line.to_string()));
        }
    }
    for (label, secret) in &secrets {
        assert!(!everything.contains(secret.as_str()), "{label} leaked");
    }
    // Access tokens (the simulator issues 48-character alphanumerics) and any JWT (DPoP proofs, client
    // assertions) must not appear either.
    let token_like = regex::Regex::new(r"[A-Za-z0-9]{40,}").unwrap();
    let leaked: Vec<&str> = token_like
        .find_iter(&everything)
        .map(|m| m.as_str())
        .collect();
    assert!(leaked.is_empty(), "token-like strings leaked: {leaked:?}");
    let jwt = regex::Regex::new(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}").unwrap();
    assert!(
        !jwt.is_match(&everything),
        "a JWT (DPoP proof or client assertion) leaked"
    );
    eprintln!(
        "secret scan: {} bytes of TRACE logs and {} bytes of Debug/Display scanned",
        logs.len(),
        printed.len()
    );
}
