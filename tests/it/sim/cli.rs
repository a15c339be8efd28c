//! `remedy sim` as a black box: it prints both orgs' URLs and tokens, and a client can page through
//! every user by following `Link` headers.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::Value;

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn remedy_sim_prints_urls_and_tokens_and_serves_every_user() {
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_remedy"))
            .args([
                "sim",
                "--users",
                "1000",
                "--hub-token",
                "t-hub",
                "--spoke-token",
                "t-spoke",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let mut read = || lines.next().unwrap().unwrap();
    let (hub, spoke) = (read(), read());
    let field = |line: &str, i: usize| line.split_whitespace().nth(i).unwrap().to_string();
    assert_eq!(
        (field(&hub, 0), field(&hub, 3)),
        ("hub:".to_string(), "t-hub".to_string())
    );
    assert_eq!(
        (field(&spoke, 0), field(&spoke, 3)),
        ("spoke:".to_string(), "t-spoke".to_string())
    );
    let base = field(&hub, 1);
    assert!(base.starts_with("http://127.0.0.1:"), "{hub}");

    let http = reqwest::Client::new();
    let mut next = Some(format!("{base}/api/v1/users?limit=200"));
    let mut seen = 0;
    let mut pages = 0;
    while let Some(url) = next {
        let r = http
            .get(&url)
            .header("authorization", "SSWS t-hub")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        next = r.headers().get_all("link").iter().find_map(|h| {
            let h = h.to_str().ok()?;
            h.strip_suffix("; rel=\"next\"")
                .map(|u| u.trim_matches(|c| c == '<' || c == '>').to_string())
        });
        let page: Vec<Value> = r.json().await.unwrap();
        seen += page.len();
        pages += 1;
    }
    // 1000 background users plus those Org2Org created, less the DEPROVISIONED ones.
    assert!(seen > 900 && pages >= 5, "{seen} users in {pages} pages");
}

#[test]
fn remedy_sim_help() {
    let out = Command::new(env!("CARGO_BIN_EXE_remedy"))
        .args(["sim", "--help"])
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    assert!(out.status.success());
    insta::assert_snapshot!(String::from_utf8(out.stdout).unwrap());
}

#[test]
fn remedy_sim_reports_a_bad_faults_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("faults.json");
    std::fs::write(&path, r#"{"buckets": {"users": {"error_rate": "lots"}}}"#).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_remedy"))
        .args(["sim", "--faults-file"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("error: invalid faults file `"),
        "{stderr}"
    );
}

#[test]
fn remedy_sim_checks_the_service_flags_without_printing_secrets() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_remedy"))
            .arg("sim")
            .args(args)
            .env_remove("REMEDY_TEST_NO_SUCH_VAR")
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8(out.stderr).unwrap())
    };
    let (code, stderr) = run(&["--trickle", "lots/min"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("`lots/min` is not a rate"), "{stderr}");
    let (code, stderr) = run(&["--trickle", "6001/min"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("maximum of 6000"), "{stderr}");
    let (code, stderr) = run(&[
        "--event-hook",
        "hub=http://127.0.0.1:9/hook?token=s3cr3t",
        "--event-hook-secret-env",
        "REMEDY_TEST_NO_SUCH_VAR",
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("`REMEDY_TEST_NO_SUCH_VAR`"), "{stderr}");
    assert!(!stderr.contains("s3cr3t"), "{stderr}");
}
