//! Okta's official Node SDK (`@okta/okta-sdk-nodejs`, pinned in `tests/node-sdk/package-lock.json`)
//! against `remedy sim`: `tests/node-sdk/sdk-check.mjs` reads users by id and by percent-encoded login,
//! lists, filters and searches users across `Link` pages, reads the Org2Org app and its users, resets
//! and expires passwords, makes lifecycle calls and reads the System Log, then does it again as an
//! OAuth service app (`authorizationMode: PrivateKey`, DPoP); every step must pass.
//! `.ci/run` installs the SDK with `npm ci` first; a local run without `tests/node-sdk/node_modules`
//! skips with a message saying how to install it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::cli::crate_root;

const SERVICE_APP: &str = "0oanodesdk";

/// `remedy sim`, killed when dropped.
struct Sim(std::process::Child);

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `remedy sim` on free ports and returns it with the (url, token) of the hub and the spoke.
fn start_sim() -> (Sim, [(String, String); 2]) {
    let mut sim = Sim(Command::new(env!("CARGO_BIN_EXE_remedy"))
        .args(["sim", "--hub-port", "0", "--spoke-port", "0", "--seed", "7"])
        .args(["--hub-token", "node-hub", "--spoke-token", "node-spoke"])
        // A service app whose key is the client tests' RSA key (its public JWK is committed beside
        // the script).
        .args(["--service-app", SERVICE_APP, "--service-app-jwk"])
        .arg(crate_root().join("tests/node-sdk/service-app.jwk.json"))
        .args(["--service-app-scopes", "okta.users.read,okta.users.manage"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap());
    let mut lines = BufReader::new(sim.0.stdout.take().unwrap()).lines();
    let mut org = |name: &str| {
        let line = lines.next().unwrap().unwrap();
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields[0], format!("{name}:"), "{line}");
        (fields[1].to_string(), fields[3].to_string())
    };
    let orgs = [org("hub"), org("spoke")];
    // The simulator prints more lines, and dies of a closed pipe if nobody reads them: drain its
    // stdout for its whole life.
    std::thread::spawn(move || lines.for_each(drop));
    (sim, orgs)
}

#[test]
fn okta_node_sdk_runs_against_the_simulator() {
    let dir = crate_root().join("tests/node-sdk");
    if !dir.join("node_modules/@okta/okta-sdk-nodejs").is_dir() {
        println!(
            "SKIPPED: Okta's Node SDK is not installed; run `npm ci` in tests/node-sdk (Node 20+) \
             to run this test (.ci/run always does)"
        );
        return;
    }
    let (_sim, [(hub_url, hub_token), (spoke_url, spoke_token)]) = start_sim();
    let mut node = Command::new("node")
        .arg("sdk-check.mjs")
        .current_dir(&dir)
        .env("HUB_URL", &hub_url)
        .env("HUB_TOKEN", &hub_token)
        .env("SPOKE_URL", &spoke_url)
        .env("SPOKE_TOKEN", &spoke_token)
        .env("CLIENT_ID", SERVICE_APP)
        .env(
            "PRIVATE_KEY_FILE",
            crate_root().join("tests/fixtures/okta/test-rsa-pkcs8.pem"),
        )
        .env("KEY_ID", "node-sdk")
        // The SDK sends every request through an HTTPS proxy named in the environment.
        .env_remove("https_proxy")
        .env_remove("HTTPS_PROXY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while node.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = node.kill();
            panic!("the Node SDK check did not finish in 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = node.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the Node SDK check failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    for step in [
        "ok list users across pages",
        "ok get user by id",
        "ok get user by percent-encoded login",
        "ok unknown user is a 404 with an Okta error body",
        "ok filter users",
        "ok search users across pages",
        "ok read the Org2Org app",
        "ok list app users across pages",
        "ok a user's groups and app links",
        "ok reset password",
        "ok a password call on a FEDERATION user is refused as Okta does",
        "ok expire password",
        "ok suspend and unsuspend",
        "ok a lifecycle call in the wrong state is refused with an Okta error body",
        "ok deactivate and activate",
        "ok System Log",
        "ok PrivateKey service app with DPoP",
        "all steps passed",
    ] {
        assert!(
            stdout.lines().any(|l| l.starts_with(step)),
            "step `{step}` missing:\n{stdout}"
        );
    }
}
