//! The review console in a real browser: headless Chromium (Debian's `chromium`) driven through
//! `/usr/bin/chromedriver` by `fantoccini`: sign in, a forged cross-origin form refused, the approvals,
//! plan and subject pages, a destructive step approved and then applied on the simulator, the audit
//! line; a screenshot of each page under `target/console-screenshots/` (not committed). Skips, loudly,
//! only when chromedriver is absent (`.ci/run` installs it).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use okta_remedy::serve::{Store, WorkState};
use okta_remedy::sim::OrgName;

use super::super::{seeded_sim, wait_for, Running};
use super::{console_config, load, pending_approval, TOKEN};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a free loopback port, stopped when dropped.
struct Driver {
    child: std::process::Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

async fn driver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let d = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = reqwest::get(format!("{}/status", d.url)).await {
            if r.status().is_success() {
                return d;
            }
        }
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn browser(driver: &Driver, profile: &Path) -> fantoccini::Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1280,1000",
                format!("--user-data-dir={}", profile.display()),
            ]
        }),
    );
    fantoccini::ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .unwrap()
}

fn screenshots() -> PathBuf {
    let dir = super::super::super::cli::crate_root().join("target/console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Waits until the browser shows a page at `path`.
async fn until_path(client: &fantoccini::Client, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while client.current_url().await.unwrap().path() != path {
        assert!(
            Instant::now() < deadline,
            "the browser never reached {path}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn shot(client: &fantoccini::Client, name: &str) {
    let png = client.screenshot().await.unwrap();
    std::fs::write(screenshots().join(format!("{name}.png")), png).unwrap();
}

/// A page on another origin with a form posting to the console (a cross-site request forgery).
async fn attacker(console: &str, id: i64) -> std::net::SocketAddr {
    let page = format!(
        "<!doctype html><title>win a prize</title><form method=post action=\"{console}/console/approvals\">\
         <input type=hidden name=one value=\"approve:{id}\"><button id=go>Claim</button></form>"
    );
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || async move { axum::response::Html(page) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_a_reviewer_signs_in_reads_the_plan_and_approves_a_delete_that_is_applied() {
    if !Path::new(CHROMEDRIVER).exists() {
        eprintln!(
            "\n\n!!!!!!!! SKIPPED: the console's browser test needs {CHROMEDRIVER} \
             (apt-get install chromium chromium-driver; .ci/run installs them) !!!!!!!!\n\n"
        );
        return;
    }
    let started = Instant::now();
    let sim = seeded_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let config = console_config(dir.path(), &sim);
    let mut svc = Running::start(load(&config));
    let store = Store::open_existing(&dir.path().join("state")).unwrap();
    let id = pending_approval(&store).await;
    let approval = store.approval(id).unwrap();
    let driver = driver().await;
    let client = browser(&driver, &dir.path().join("chromium")).await;
    let base = svc.url("");
    use fantoccini::Locator;

    // Sign in.
    client.goto(&svc.url("/console")).await.unwrap();
    assert_eq!(
        client.current_url().await.unwrap().path(),
        "/console/signin"
    );
    shot(&client, "signin").await;
    client
        .find(Locator::Css("#token"))
        .await
        .unwrap()
        .send_keys(TOKEN)
        .await
        .unwrap();
    client
        .find(Locator::Css("form.signin button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("#remediations"))
        .await
        .unwrap();
    assert_eq!(client.current_url().await.unwrap().path(), "/console");
    let html = client.source().await.unwrap();
    assert!(html.contains("1 approval pending"), "{html}");
    shot(&client, "overview").await;

    // A forged form on another origin is refused (no CSRF token), and nothing is approved.
    let evil = attacker(base.trim_end_matches('/'), id).await;
    client.goto(&format!("http://{evil}/")).await.unwrap();
    client
        .find(Locator::Css("#go"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until_path(&client, "/console/approvals").await;
    let html = client.source().await.unwrap();
    assert!(
        html.contains("forbidden: the form's CSRF token is missing"),
        "{html}"
    );
    assert_eq!(store.approval(id).unwrap().state, "pending");

    // The approvals page; the plan (the report, with the destructive step marked); the subject.
    client.goto(&svc.url("/console/approvals")).await.unwrap();
    let html = client.source().await.unwrap();
    assert!(html.contains(&approval.subject), "{html}");
    shot(&client, "approvals").await;
    client
        .find(Locator::LinkText("plan"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(".report-main"))
        .await
        .unwrap();
    let html = client.source().await.unwrap();
    assert!(
        html.contains("delete_recreate") && html.contains(&approval.subject),
        "{html}"
    );
    shot(&client, "plan").await;
    client
        .goto(&svc.url(&format!("/console/subjects/main/{}", approval.user_id)))
        .await
        .unwrap();
    let html = client.source().await.unwrap();
    assert!(
        html.contains("Events seen") && html.contains("application.provision.user"),
        "{html}"
    );
    shot(&client, "subject").await;

    // Approve it with a reason: the service applies the delete on the simulator.
    client.goto(&svc.url("/console/approvals")).await.unwrap();
    client
        .find(Locator::Css("#reason"))
        .await
        .unwrap()
        .send_keys("checked with the app owner")
        .await
        .unwrap();
    client
        .find(Locator::Css(&format!("#approve-{id}")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(".message"))
        .await
        .unwrap();
    let html = client.source().await.unwrap();
    assert!(
        html.contains(&format!("Approval #{id} approved by alice")),
        "{html}"
    );
    wait_for("the approved delete applied", 30, || {
        svc.alive();
        store.work(None, 100).unwrap().iter().any(|w| {
            w.subject.as_deref() == Some(approval.subject.as_str()) && w.state == WorkState::Done
        })
    })
    .await;
    assert!(sim
        .requests(OrgName::Hub)
        .iter()
        .any(|r| r.method == "DELETE"));
    // The subject's page now shows the applied steps with Okta's request ids; the audit log the calls.
    client
        .goto(&svc.url(&format!("/console/subjects/main/{}", approval.user_id)))
        .await
        .unwrap();
    let html = client.source().await.unwrap();
    assert!(
        html.contains("delete_recreate") && html.contains("state-done"),
        "{html}"
    );
    assert!(!html.contains("No call was made."), "{html}");
    client
        .goto(&svc.url("/console/audit?who=alice"))
        .await
        .unwrap();
    let html = client.source().await.unwrap();
    assert!(
        html.contains("approved: checked with the app owner"),
        "{html}"
    );
    shot(&client, "audit").await;
    client
        .goto(&svc.url("/console/approvals?all=1"))
        .await
        .unwrap();
    shot(&client, "approvals-decided").await;

    client.close().await.unwrap();
    drop(driver);
    svc.stop().unwrap();
    eprintln!(
        "console browser test: {:.1}s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        screenshots().display()
    );
}
