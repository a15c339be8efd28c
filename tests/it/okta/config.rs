//! Configuration loading: the Okta SDK chain (home okta.yaml, ./.okta.yaml, env, flags), the tool's
//! remedy.yaml with several orgs, and the errors for missing or contradictory settings.

use std::collections::BTreeMap;
use std::path::Path;

use okta_remedy::okta::{
    load_orgs, load_orgs_with, Auth, ClientSettings, ConfigInputs, OrgConfig, Secret,
};

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/okta/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(p, text).unwrap();
}

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k: &str| map.get(k).cloned()
}

fn load(
    home: &Path,
    cwd: &Path,
    tool: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
    flags: ClientSettings,
) -> Result<BTreeMap<String, OrgConfig>, String> {
    load_orgs_with(&ConfigInputs {
        tool_config: tool,
        home: Some(home.to_path_buf()),
        cwd: Some(cwd.to_path_buf()),
        env,
        flags,
        flags_org: None,
    })
    .map_err(|e| e.to_string())
}

fn token(cfg: &OrgConfig) -> &str {
    match &cfg.auth {
        Auth::Ssws(t) => t.expose(),
        Auth::PrivateKey { .. } => "",
    }
}

#[test]
fn sdk_chain_layers_home_then_cwd_then_env_then_flags() {
    let home = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    write(
        home.path(),
        ".okta/okta.yaml",
        "okta:\n  client:\n    orgUrl: https://home.okta.com\n    token: home-token\n    requestTimeout: 12\n    rateLimit:\n      maxRetries: 7\n    proxy: { port: 8080 }\n",
    );
    write(
        cwd.path(),
        ".okta.yaml",
        "okta:\n  client:\n    orgUrl: https://cwd.okta.com\n",
    );
    let env = env_of(&[]);
    let orgs = load(
        home.path(),
        cwd.path(),
        None,
        &env,
        ClientSettings::default(),
    )
    .unwrap();
    let d = &orgs["default"];
    assert_eq!(d.base_url.as_str(), "https://cwd.okta.com/");
    assert_eq!(token(d), "home-token");
    assert_eq!(d.limits.timeout.as_secs(), 12);
    assert_eq!(d.limits.max_retries, 7);

    let env = env_of(&[
        ("OKTA_CLIENT_TOKEN", "env-token"),
        ("OKTA_CLIENT_ORGURL", "https://env.okta.com"),
    ]);
    let orgs = load(
        home.path(),
        cwd.path(),
        None,
        &env,
        ClientSettings::default(),
    )
    .unwrap();
    assert_eq!(orgs["default"].base_url.as_str(), "https://env.okta.com/");
    assert_eq!(token(&orgs["default"]), "env-token");

    let flags = ClientSettings {
        org_url: Some("https://flag.okta.com".into()),
        ..Default::default()
    };
    let orgs = load(home.path(), cwd.path(), None, &env, flags).unwrap();
    assert_eq!(orgs["default"].base_url.as_str(), "https://flag.okta.com/");
    assert_eq!(token(&orgs["default"]), "env-token");
}

#[test]
fn load_orgs_reads_home_from_the_given_environment_only() {
    let home = tempfile::tempdir().unwrap();
    write(
        home.path(),
        ".okta/okta.yaml",
        "okta:\n  client:\n    orgUrl: https://home.okta.com\n    token: t\n",
    );
    let home_str = home.path().to_string_lossy().to_string();
    let env = env_of(&[("HOME", &home_str)]);
    let orgs = load_orgs(None, &env).unwrap();
    assert_eq!(orgs["default"].base_url.as_str(), "https://home.okta.com/");
}

#[test]
fn private_key_mode_from_env_with_a_key_file_and_comma_scopes() {
    let home = tempfile::tempdir().unwrap();
    let key_path = fixture("test-ec-pkcs8.pem");
    let env = env_of(&[
        ("OKTA_CLIENT_ORGURL", "http://127.0.0.1:8080"),
        ("OKTA_CLIENT_AUTHORIZATIONMODE", "PrivateKey"),
        ("OKTA_CLIENT_CLIENTID", "0oaClient"),
        (
            "OKTA_CLIENT_SCOPES",
            "okta.users.read,okta.users.manage okta.logs.read",
        ),
        ("OKTA_CLIENT_PRIVATEKEY", &key_path),
        ("OKTA_CLIENT_PRIVATEKEYID", "kid-1"),
    ]);
    let orgs = load(
        home.path(),
        home.path(),
        None,
        &env,
        ClientSettings::default(),
    )
    .unwrap();
    match &orgs["default"].auth {
        Auth::PrivateKey {
            client_id,
            key,
            kid,
            scopes,
        } => {
            assert_eq!(client_id, "0oaClient");
            assert!(key.expose().starts_with("-----BEGIN PRIVATE KEY-----"));
            assert_eq!(kid.as_deref(), Some("kid-1"));
            assert_eq!(
                scopes,
                &["okta.users.read", "okta.users.manage", "okta.logs.read"]
            );
        }
        Auth::Ssws(_) => panic!("expected private key auth"),
    }
}

#[test]
fn remedy_yaml_names_several_orgs_from_different_sources() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "hub-okta.yaml",
        "okta:\n  client:\n    orgUrl: https://hub.okta.com\n    token: file-token\n",
    );
    write(
        dir.path(),
        "remedy.yaml",
        &format!(
            "orgs:\n  hub:\n    oktaYaml: hub-okta.yaml\n    tokenEnv: HUB_TOKEN\n    limits: {{ maxCapacityShare: 0.5, maxInFlight: 3, timeout: 5s }}\n  spoke:\n    envPrefix: SPOKE_\n  svc:\n    orgUrl: https://svc.okta.com\n    clientId: 0oaSvc\n    privateKey: {}\n    scopes: [okta.users.read]\n",
            fixture("test-rsa-pkcs1.pem")
        ),
    );
    let env = env_of(&[
        ("HUB_TOKEN", "hub-env-token"),
        ("SPOKE_OKTA_CLIENT_ORGURL", "https://spoke.okta.com"),
        ("SPOKE_OKTA_CLIENT_TOKEN", "spoke-token"),
        // The SDK's unprefixed variables do not leak into named orgs.
        ("OKTA_CLIENT_ORGURL", "https://ignored.okta.com"),
    ]);
    let tool = dir.path().join("remedy.yaml");
    let orgs = load(
        dir.path(),
        dir.path(),
        Some(&tool),
        &env,
        ClientSettings::default(),
    )
    .unwrap();
    assert_eq!(orgs.keys().collect::<Vec<_>>(), ["hub", "spoke", "svc"]);
    assert_eq!(orgs["hub"].base_url.as_str(), "https://hub.okta.com/");
    assert_eq!(token(&orgs["hub"]), "hub-env-token");
    assert_eq!(orgs["hub"].limits.max_capacity_share, 0.5);
    assert_eq!(orgs["hub"].limits.max_in_flight, 3);
    assert_eq!(orgs["hub"].limits.timeout.as_secs(), 5);
    assert_eq!(orgs["spoke"].base_url.as_str(), "https://spoke.okta.com/");
    assert_eq!(token(&orgs["spoke"]), "spoke-token");
    assert!(matches!(orgs["svc"].auth, Auth::PrivateKey { .. }));
}

#[test]
fn loopback_http_is_allowed_and_other_http_is_not() {
    let home = tempfile::tempdir().unwrap();
    for (url, ok) in [
        ("http://127.0.0.1:1234", true),
        ("http://localhost:1234", true),
        ("http://[::1]:1234", true),
        ("https://x.okta.com/", true),
        ("http://x.okta.com", false),
        ("http://10.0.0.1", false),
    ] {
        let env = env_of(&[("OKTA_CLIENT_ORGURL", url), ("OKTA_CLIENT_TOKEN", "t")]);
        let r = load(
            home.path(),
            home.path(),
            None,
            &env,
            ClientSettings::default(),
        );
        assert_eq!(r.is_ok(), ok, "{url}: {r:?}");
    }
}

/// A case name, the environment, and the text of remedy.yaml when there is one.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Option<&'a str>);

/// Every configuration mistake, with the message a user sees. None may contain a secret.
#[test]
fn configuration_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let key = std::fs::read_to_string(fixture("test-ec-pkcs8.pem")).unwrap();
    let cases: Vec<Case> = vec![
        ("no url", vec![("OKTA_CLIENT_TOKEN", "sekrit-token")], None),
        ("no token", vec![("OKTA_CLIENT_ORGURL", "https://x.okta.com")], None),
        ("http not loopback", vec![("OKTA_CLIENT_ORGURL", "http://x.okta.com"), ("OKTA_CLIENT_TOKEN", "sekrit-token")], None),
        ("admin url", vec![("OKTA_CLIENT_ORGURL", "https://x-admin.okta.com"), ("OKTA_CLIENT_TOKEN", "sekrit-token")], None),
        ("placeholder", vec![("OKTA_CLIENT_ORGURL", "https://{yourOktaDomain}"), ("OKTA_CLIENT_TOKEN", "sekrit-token")], None),
        ("url with path", vec![("OKTA_CLIENT_ORGURL", "https://x.okta.com/api/v1"), ("OKTA_CLIENT_TOKEN", "sekrit-token")], None),
        (
            "token and key without mode",
            vec![("OKTA_CLIENT_ORGURL", "https://x.okta.com"), ("OKTA_CLIENT_TOKEN", "sekrit-token"), ("OKTA_CLIENT_PRIVATEKEY", &key), ("OKTA_CLIENT_CLIENTID", "c")],
            None,
        ),
        (
            "ssws mode with a key",
            vec![("OKTA_CLIENT_ORGURL", "https://x.okta.com"), ("OKTA_CLIENT_AUTHORIZATIONMODE", "SSWS"), ("OKTA_CLIENT_TOKEN", "sekrit-token"), ("OKTA_CLIENT_PRIVATEKEY", &key)],
            None,
        ),
        ("unknown mode", vec![("OKTA_CLIENT_ORGURL", "https://x.okta.com"), ("OKTA_CLIENT_AUTHORIZATIONMODE", "Bearer")], None),
        (
            "private key without client id",
            vec![("OKTA_CLIENT_ORGURL", "https://x.okta.com"), ("OKTA_CLIENT_AUTHORIZATIONMODE", "PrivateKey"), ("OKTA_CLIENT_PRIVATEKEY", &key)],
            None,
        ),
        (
            "private key without scopes",
            vec![("OKTA_CLIENT_ORGURL", "https://x.okta.com"), ("OKTA_CLIENT_CLIENTID", "c"), ("OKTA_CLIENT_PRIVATEKEY", &key)],
            None,
        ),
        (
            "mangled key",
            vec![
                ("OKTA_CLIENT_ORGURL", "https://x.okta.com"),
                ("OKTA_CLIENT_CLIENTID", "c"),
                ("OKTA_CLIENT_SCOPES", "okta.users.read"),
                ("OKTA_CLIENT_PRIVATEKEY", "-----BEGIN PRIVATE KEY-----\nc2Vrcml0LWtleQ==\n-----END PRIVATE KEY-----"),
            ],
            None,
        ),
        (
            "key neither pem nor file",
            vec![("OKTA_CLIENT_ORGURL", "https://x.okta.com"), ("OKTA_CLIENT_CLIENTID", "c"), ("OKTA_CLIENT_SCOPES", "s"), ("OKTA_CLIENT_PRIVATEKEY", "sekrit-key-body")],
            None,
        ),
        ("remedy.yaml unknown key", vec![], Some("orgs:\n  hub:\n    orgUrl: https://x.okta.com\n    tokn: sekrit-token\n")),
        ("remedy.yaml no orgs", vec![], Some("orgs: {}\n")),
        ("remedy.yaml bad share", vec![], Some("orgs:\n  hub:\n    orgUrl: https://x.okta.com\n    token: sekrit-token\n    limits: { maxCapacityShare: 1.5 }\n")),
        ("remedy.yaml missing token env", vec![], Some("orgs:\n  hub:\n    orgUrl: https://x.okta.com\n    tokenEnv: HUB_TOKEN\n")),
        ("remedy.yaml missing okta.yaml", vec![], Some("orgs:\n  hub:\n    oktaYaml: nowhere.yaml\n")),
    ];
    let mut report = String::new();
    for (name, vars, tool_text) in cases {
        let env = env_of(&vars);
        let tool = tool_text.map(|t| {
            write(dir.path(), "remedy.yaml", t);
            dir.path().join("remedy.yaml")
        });
        let err = load(
            dir.path(),
            dir.path(),
            tool.as_deref(),
            &env,
            ClientSettings::default(),
        )
        .unwrap_err();
        assert!(
            !err.contains("sekrit") && !err.contains("c2Vrcml0"),
            "{name}: secret in `{err}`"
        );
        let err = err.replace(&dir.path().display().to_string(), "[dir]");
        report.push_str(&format!("{name}:\n  {err}\n"));
    }
    insta::assert_snapshot!(report);
}

#[test]
fn config_debug_output_redacts_secrets() {
    let cfg = OrgConfig {
        name: "hub".into(),
        base_url: url::Url::parse("https://x.okta.com").unwrap(),
        auth: Auth::PrivateKey {
            client_id: "c".into(),
            key: Secret::new("PEMBODY"),
            kid: None,
            scopes: vec![],
        },
        limits: Default::default(),
    };
    let dbg = format!("{cfg:?}");
    assert!(!dbg.contains("PEMBODY"));
    assert!(dbg.contains("[redacted]"));
}

#[test]
fn command_line_flags_are_the_last_layer() {
    use clap::Parser;
    use okta_remedy::okta::config::OrgFlags;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        okta: OrgFlags,
    }
    let key = format!(
        "{}/tests/fixtures/okta/test-rsa-pkcs8.pem",
        env!("CARGO_MANIFEST_DIR")
    );
    let cli = Cli::try_parse_from([
        "remedy",
        "--org-url",
        "https://flag.okta.com",
        "--client-id",
        "0oaFlag",
        "--scopes",
        "okta.users.read,okta.logs.read",
        "--private-key-file",
        &key,
        "--private-key-id",
        "k9",
    ])
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    let env = env_of(&[("OKTA_CLIENT_ORGURL", "https://env.okta.com")]);
    let orgs = load(home.path(), home.path(), None, &env, cli.okta.settings()).unwrap();
    let d = &orgs["default"];
    assert_eq!(d.base_url.as_str(), "https://flag.okta.com/");
    match &d.auth {
        Auth::PrivateKey {
            client_id,
            kid,
            scopes,
            key,
        } => {
            assert_eq!(client_id, "0oaFlag");
            assert_eq!(kid.as_deref(), Some("k9"));
            assert_eq!(scopes, &["okta.users.read", "okta.logs.read"]);
            assert!(key.expose().contains("BEGIN PRIVATE KEY"));
        }
        Auth::Ssws(_) => panic!("flags chose a private key"),
    }
    // Clap has no flag for the token.
    assert!(Cli::try_parse_from(["remedy", "--token", "x"]).is_err());
}

#[test]
fn a_pem_with_escaped_newlines_in_one_variable_is_accepted() {
    let pem = std::fs::read_to_string(fixture("test-ec-pkcs8.pem")).unwrap();
    let one_line = pem.trim().replace('\n', "\\n");
    let env = env_of(&[
        ("OKTA_CLIENT_ORGURL", "https://x.okta.com"),
        ("OKTA_CLIENT_CLIENTID", "c"),
        ("OKTA_CLIENT_SCOPES", "okta.users.read"),
        ("OKTA_CLIENT_PRIVATEKEY", &one_line),
    ]);
    let home = tempfile::tempdir().unwrap();
    let orgs = load(
        home.path(),
        home.path(),
        None,
        &env,
        ClientSettings::default(),
    )
    .unwrap();
    match &orgs["default"].auth {
        Auth::PrivateKey { key, .. } => assert_eq!(key.expose(), pem.trim()),
        Auth::Ssws(_) => panic!("expected a private key"),
    }
}

#[test]
fn flags_with_several_orgs_must_name_one() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "remedy.yaml",
        "orgs:\n  hub: { orgUrl: https://hub.okta.com, token: a }\n  spoke: { orgUrl: https://spoke.okta.com, token: b }\n",
    );
    let tool = dir.path().join("remedy.yaml");
    let env = env_of(&[]);
    let flags = ClientSettings {
        org_url: Some("https://flag.okta.com".into()),
        ..Default::default()
    };
    let err = load(dir.path(), dir.path(), Some(&tool), &env, flags.clone()).unwrap_err();
    assert!(err.contains("--okta-org"), "{err}");
    let orgs = load_orgs_with(&ConfigInputs {
        tool_config: Some(&tool),
        home: None,
        cwd: None,
        env: &env,
        flags,
        flags_org: Some("spoke".into()),
    })
    .unwrap();
    assert_eq!(orgs["spoke"].base_url.as_str(), "https://flag.okta.com/");
    assert_eq!(orgs["hub"].base_url.as_str(), "https://hub.okta.com/");
}
