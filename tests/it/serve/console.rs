//! The review console of `remedy serve`: over HTTP (sign-in required, a wrong token refused, CSRF
//! checked on every POST, the security headers, values escaped, a denial recorded under the signed-in
//! name), and the console block's validation. `browser.rs`: the pages in a real browser.

use std::path::{Path, PathBuf};
use std::time::Duration;

use okta_remedy::serve::{ServeConfig, Store};
use okta_remedy::sim::Sim;
use reqwest::header;
use reqwest::redirect::Policy;
use serde_json::Value;

use super::{seeded_sim, wait_for, write_config, Running};

// The pages in a real browser.
mod browser;

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
