//! The review console of `remedy serve`: over HTTP (sign-in required, a wrong token refused, CSRF
//! checked on every POST, the security headers, values escaped, a denial recorded under the signed-in
//! name), and in a real browser (headless Chromium through chromedriver): sign in, open each page and
//! keep a screenshot of it under `target/console-screenshots/`, a cross-origin form refused, a
//! destructive step approved and then applied on the simulator.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use okta_remedy::serve::{ServeConfig, Store, WorkState};
use okta_remedy::sim::{OrgName, Sim};
use reqwest::header;
use reqwest::redirect::Policy;
use serde_json::Value;

use super::{seeded_sim, wait_for, write_config, Running};

const TOKEN: &str = "console-test-token-0123456789";
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn console_config(dir: &Path, sim: &Sim) -> PathBuf {
    write_config(
        dir,
        sim,
        "  pollInterval: 200ms\n  console: { tokenEnv: REMEDY_TEST_CONSOLE_TOKEN, operator: alice }\n",
        "",
    )
}

fn load(config: &Path) -> ServeConfig {
    ServeConfig::load(config, &|k| {
        (k == "REMEDY_TEST_CONSOLE_TOKEN").then(|| TOKEN.to_string())
    })
    .unwrap()
}

/// Waits for the service's first cycle to hold the delete for approval; returns its id.
async fn pending_approval(store: &Store) -> i64 {
    wait_for("the delete held for approval", 30, || {
        store.approvals(false).unwrap().len() == 1
    })
    .await;
    store.approvals(false).unwrap()[0].id
}

/// The value of the hidden `csrf` field of the first form in `html`.
fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..].split('"').next().unwrap().to_string()
}

/// `name=value` of the cookie `name` set by `res`, with its attributes.
fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_needs_sign_in_checks_csrf_and_records_decisions_under_the_signed_in_name() {
    let sim = seeded_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let config = console_config(dir.path(), &sim);
    let mut svc = Running::start(load(&config));
    std::thread::sleep(Duration::from_millis(300));
    svc.alive();
    let store = Store::open_existing(&dir.path().join("state")).unwrap();
    let http = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();

    // Health checks stay open; every console page sends a stranger to the sign-in form.
    assert_eq!(
        http.get(svc.url("/healthz")).send().await.unwrap().status(),
        200
    );
    for path in [
        "/console",
        "/console/approvals",
        "/console/audit",
        "/console/subjects/main/x",
    ] {
        let res = http.get(svc.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 303, "{path}");
        assert_eq!(res.headers()[header::LOCATION], "/console/signin", "{path}");
    }

    // The sign-in form, with the security headers.
    let form = http.get(svc.url("/console/signin")).send().await.unwrap();
    assert_eq!(form.status(), 200);
    assert_eq!(form.headers()[header::CONTENT_SECURITY_POLICY], CSP);
    assert_eq!(form.headers()[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(form.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let pre = cookie_pair(&set_cookie(&form, "remedy_console_signin").unwrap());
    let html = form.text().await.unwrap();
    assert!(html.contains("<label for=\"token\">"), "{html}");
    assert!(!html.contains("<script"), "{html}");
    let csrf = csrf_of(&html);

    // A wrong token: 401, no session.
    let wrong = http
        .post(svc.url("/console/signin"))
        .header(header::COOKIE, &pre)
        .form(&[
            ("csrf", csrf.as_str()),
            ("token", "console-test-token-wrong-000"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(set_cookie(&wrong, "remedy_console").is_none());
    assert!(wrong
        .text()
        .await
        .unwrap()
        .contains("That token is not valid."));
    // The right token without the form's CSRF token: 403.
    let no_csrf = http
        .post(svc.url("/console/signin"))
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(no_csrf.status(), 403);
    // Signed in: an HttpOnly, SameSite=Strict session cookie.
    let ok = http
        .post(svc.url("/console/signin"))
        .header(header::COOKIE, &pre)
        .form(&[("csrf", csrf.as_str()), ("token", TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 303);
    let session = set_cookie(&ok, "remedy_console").unwrap();
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Strict"),
        "{session}"
    );
    let session = cookie_pair(&session);

    let get = |path: &str| {
        http.get(svc.url(path))
            .header(header::COOKIE, &session)
            .send()
    };
    let overview = get("/console").await.unwrap();
    assert_eq!(overview.status(), 200);
    assert_eq!(overview.headers()[header::CONTENT_SECURITY_POLICY], CSP);
    let html = overview.text().await.unwrap();
    assert!(
        html.contains("Signed in as <strong>alice</strong>"),
        "{html}"
    );
    assert!(html.contains("<h3>main</h3>"), "{html}");
    assert!(!html.contains(TOKEN) && !html.contains(sim.hub_token()));
    let csrf = csrf_of(&html);

    let id = pending_approval(&store).await;
    let decide = |fields: Vec<(&'static str, String)>| {
        http.post(svc.url("/console/approvals"))
            .header(header::COOKIE, &session)
            .form(&fields)
            .send()
    };
    // No CSRF token, or another one: 403, nothing decided.
    let res = decide(vec![("one", format!("deny:{id}")), ("reason", "x".into())])
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = decide(vec![
        ("csrf", "0".repeat(64)),
        ("one", format!("deny:{id}")),
        ("reason", "x".into()),
    ])
    .await
    .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(store.approval(id).unwrap().state, "pending");
    // Enter in the reason field (the form's default button) decides nothing.
    let res = decide(vec![
        ("csrf", csrf.clone()),
        ("noop", "1".into()),
        ("reason", "x".into()),
    ])
    .await
    .unwrap();
    assert!(res.text().await.unwrap().contains("Nothing was decided"));
    assert_eq!(store.approval(id).unwrap().state, "pending");
    // A denial needs a reason.
    let res = decide(vec![("csrf", csrf.clone()), ("one", format!("deny:{id}"))])
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("A denial needs a reason"));
    assert_eq!(store.approval(id).unwrap().state, "pending");
    // Denied with a reason holding markup: recorded under alice, shown as text.
    let res = decide(vec![
        ("csrf", csrf.clone()),
        ("one", format!("deny:{id}")),
        ("reason", "<script>alert(1)</script> not now".into()),
        ("show_all", "1".into()),
    ])
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt; not now"),
        "{html}"
    );
    assert!(!html.contains("<script>"), "{html}");
    let a = store.approval(id).unwrap();
    assert_eq!(
        (a.state.as_str(), a.decided_by.as_deref()),
        ("denied", Some("alice"))
    );
    let audit = std::fs::read_to_string(dir.path().join("state/audit.jsonl")).unwrap();
    let line: Value = audit
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|l| l["action"] == "deny")
        .unwrap();
    assert_eq!(line["operator"], "alice");
    assert_eq!(line["result"], "denied: <script>alert(1)</script> not now");
    // Deciding again changes nothing and says so.
    let res = decide(vec![
        ("csrf", csrf.clone()),
        ("one", format!("approve:{id}")),
    ])
    .await
    .unwrap();
    assert!(res.text().await.unwrap().contains("is already denied"));

    // The audit page finds the decision by operator and action.
    let html = get("/console/audit?who=alice&action=deny")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("approval #"), "{html}");
    let none = get("/console/audit?who=nobody-such")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(none.contains("No line matches."));
    // A subject's page shows its events; a plan outside the plans folder is not found.
    let user = store.approval(id).unwrap().user_id;
    let html = get(&format!("/console/subjects/main/{user}"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("application.provision.user"), "{html}");
    let res = get("/console/plans/main/..%2F..%2Fremedy.yaml")
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    // Signed out: the session no longer works.
    let res = http
        .post(svc.url("/console/signout"))
        .header(header::COOKIE, &session)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(get("/console").await.unwrap().status(), 303);
    svc.stop().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_console_block_there_are_no_console_routes() {
    let sim = seeded_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim, "  pollInterval: 200ms\n", "");
    let svc = Running::start(load(&config));
    for path in ["/console", "/console/signin"] {
        assert_eq!(
            reqwest::get(svc.url(path)).await.unwrap().status(),
            404,
            "{path}"
        );
    }
    svc.stop().unwrap();
}

#[test]
fn the_console_block_is_validated_and_its_tokens_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("remedy.yaml");
    let check = |console: &str, env: &[(&str, &str)]| {
        std::fs::write(
            &path,
            format!(
                "service:\n  console: {console}\nremediations:\n  - {{ name: main, rules: org2org-password-sync }}\n"
            ),
        )
        .unwrap();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ServeConfig::load(&path, &move |k| {
            env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })
    };
    let ok = check(
        "{ users: [{ name: alice, tokenEnv: A }, { name: bob, tokenEnv: B }] }",
        &[("A", TOKEN), ("B", "another-token-0123456789")],
    )
    .unwrap();
    let users = ok.console.unwrap();
    let names: Vec<&str> = users.users.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["alice", "bob"]);
    assert!(!format!("{users:?}").contains(TOKEN));
    let one = check("{ tokenEnv: A }", &[("A", TOKEN)]).unwrap();
    assert_eq!(one.console.unwrap().users[0].0, "console");
    for (console, env, says) in [
        (
            "{ tokenEnv: A }",
            vec![],
            "`A` is not set or shorter than 16 characters",
        ),
        (
            "{ tokenEnv: A }",
            vec![("A", "short")],
            "shorter than 16 characters",
        ),
        (
            "{ tokenEnv: A, users: [{ name: bob, tokenEnv: B }] }",
            vec![("A", TOKEN), ("B", TOKEN)],
            "either `tokenEnv` (and `operator`) or `users`",
        ),
        (
            "{ users: [{ name: bob, tokenEnv: A }, { name: bob, tokenEnv: B }] }",
            vec![("A", TOKEN), ("B", TOKEN)],
            "`bob` is named twice",
        ),
    ] {
        let err = check(console, &env).unwrap_err().to_string();
        assert!(err.contains(says), "{console}: {err}");
        assert!(!err.contains(TOKEN), "{err}");
    }
}

// ---- the browser

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
    let dir = super::super::cli::crate_root().join("target/console-screenshots");
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
