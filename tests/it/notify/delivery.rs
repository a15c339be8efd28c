//! `remedy apply` with `notify` steps and sinks in `remedy.yaml`, against the simulator (the harness of
//! `tests/it/apply.rs`) and the local receivers: exact bodies, retries, failure, one delivery across
//! a crash and resume, the run summary, and nothing secret in any of it.

use std::path::Path;
use std::time::Duration;

use okta_remedy::apply::journal::{DeliveryState, Journal, StepState};
use okta_remedy::sim::{generate, OrgName, Scenario, SimConfig};
use serde_json::{json, Value};

use super::receivers::{Hook, Received, Reply, Smtp};
use crate::apply::{poll_until, redact, seed_spec, Env};
use crate::cli::Run;

const RULES: &str = "tests/fixtures/notify/notify.yaml";

/// The seed scenario with exactly `locked` LOCKED_OUT and `expired` PASSWORD_EXPIRED hub users (OKTA
/// provider); their logins.
async fn env(locked: usize, expired: usize) -> (Env, Vec<String>, Vec<String>) {
    let mut seed = generate(&seed_spec(), 4242, "http://127.0.0.1:0");
    seed.anchor = None;
    for u in seed.hub.users.iter_mut() {
        if matches!(
            u["status"].as_str(),
            Some("LOCKED_OUT") | Some("PASSWORD_EXPIRED")
        ) {
            u["status"] = json!("ACTIVE");
        }
    }
    let mut chosen = seed
        .hub
        .users
        .iter_mut()
        .filter(|u| u["status"] == "ACTIVE" && u["credentials"]["provider"]["type"] == "OKTA");
    let mut pick = |n: usize, status: &str| -> Vec<String> {
        let mut logins = Vec::new();
        for u in chosen.by_ref().take(n) {
            u["status"] = json!(status);
            logins.push(u["profile"]["login"].as_str().unwrap().to_string());
        }
        logins
    };
    let locked = pick(locked, "LOCKED_OUT");
    let expired = pick(expired, "PASSWORD_EXPIRED");
    let env = Env::start(
        SimConfig {
            scenario: Scenario::Seed(seed),
            ..SimConfig::default()
        },
        RULES,
    )
    .await;
    (env, locked, expired)
}

/// Appends a `notifications:` section with `sinks` (YAML list items) to the env's `remedy.yaml`.
fn add_sinks(env: &Env, sinks: &str) {
    let path = env.path("remedy.yaml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("notifications:\n  sinks:\n");
    text.push_str(sinks);
    std::fs::write(&path, text).unwrap();
}

/// `remedy apply plan.json --config remedy.yaml EXTRA...` with environment variables.
async fn apply(env: &Env, extra: &[&str], vars: &[(&str, &str)]) -> Run {
    let mut args = vec!["apply", "plan.json", "--config", "remedy.yaml"];
    args.extend_from_slice(extra);
    let mut c = env.command(&args);
    for (k, v) in vars {
        c.env(k, v);
    }
    let out = c.output().await.unwrap();
    Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn journal(env: &Env, name: &str) -> Journal {
    Journal::open_existing(&env.path(name)).unwrap()
}

/// A JSON body with its volatile fields (time, plan id and checksum, key) replaced, after checking
/// the key is the header's.
fn stable(r: &Received) -> Value {
    let mut b = r.body.clone();
    if let Some(key) = b.get("idempotency_key") {
        assert_eq!(key.as_str(), r.key.as_deref(), "body key is the header key");
        b["idempotency_key"] = json!("[KEY]");
    }
    if b.get("plan").is_some() {
        b["plan"] = json!({ "id": "[PLAN-ID]", "checksum": "[CHECKSUM]" });
    }
    let text = redact(&b.to_string(), Path::new("/nonexistent"));
    serde_json::from_str(&text).unwrap()
}

/// Quoted-printable text decoded (soft line breaks joined, `=XX` bytes restored).
fn unquote(data: &str) -> String {
    let joined = data.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], joined.get(i + 1..i + 3)) {
            (b'=', Some(hex)) if u8::from_str_radix(hex, 16).is_ok() => {
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

/// Mail text, its body decoded, with its volatile headers and values replaced.
fn stable_mail(data: &str) -> String {
    let (head, body) = data.split_once("\r\n\r\n").unwrap();
    assert!(
        head.contains("Content-Transfer-Encoding: quoted-printable"),
        "{head}"
    );
    let text = redact(
        &format!("{head}\r\n\r\n{}", unquote(body)),
        Path::new("/nonexistent"),
    );
    let key = regex::Regex::new(r"^<[0-9a-f]{32}@okta-remedy>$").unwrap();
    let checksum = regex::Regex::new(r"checksum [0-9a-f]{64}").unwrap();
    let mut out = Vec::new();
    for line in text.lines() {
        let line = if line.starts_with("Date: ") {
            "Date: [DATE]".to_string()
        } else if let Some(id) = line.strip_prefix("Message-ID: ") {
            assert!(key.is_match(id), "{id}");
            "Message-ID: [KEY]".to_string()
        } else {
            checksum
                .replace_all(line, "checksum [CHECKSUM]")
                .into_owned()
        };
        out.push(line);
    }
    out.join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_and_summary_arrive_exactly_and_hold_no_secret() {
    let (env, locked, expired) = env(1, 2).await;
    let hook = Hook::start().await;
    let smtp = Smtp::start().await;
    add_sinks(
        &env,
        &format!(
            "    - {{ name: hook, type: webhook, format: json, urlEnv: HOOK_URL, events: [notify], retry: {{ attempts: 3, backoff: 10ms }} }}\n    - {{ name: '#ops', type: webhook, format: slack, urlEnv: SLACK_URL, events: [run_finished] }}\n    - {{ name: mail, type: email, host: 127.0.0.1, port: {}, security: plain, from: 'remedy <remedy@example.test>', to: [okta-admins@example.test], events: [run_finished, notify], remediations: [notify-test] }}\n",
            smtp.port
        ),
    );
    env.plan().await;
    let hook_url = hook.url("services/T0/B0/SECRET-HOOK-TOKEN");
    let slack_url = hook.url("services/T1/B1/SECRET-SLACK-TOKEN");
    let run = apply(
        &env,
        &["--reset-urls", "reset-urls.txt"],
        &[("HOOK_URL", &hook_url), ("SLACK_URL", &slack_url)],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.transcript());

    // The webhook: a notice per subject (json) and one summary (slack).
    let received = hook.received();
    let mut notices: Vec<&Received> = received
        .iter()
        .filter(|r| r.path.starts_with("services/T0/"))
        .collect();
    notices.sort_by_key(|r| r.body["subject"].as_str().unwrap_or("").to_string());
    let summaries: Vec<&Received> = received
        .iter()
        .filter(|r| r.path.starts_with("services/T1/"))
        .collect();
    assert_eq!(notices.len(), 3, "{received:#?}");
    assert_eq!(summaries.len(), 1, "{received:#?}");
    let mut subjects: Vec<&str> = notices
        .iter()
        .map(|r| r.body["subject"].as_str().unwrap())
        .collect();
    subjects.sort();
    let mut expected: Vec<&str> = locked.iter().chain(&expired).map(String::as_str).collect();
    expected.sort();
    assert_eq!(subjects, expected);
    let bodies: Vec<Value> = notices.iter().map(|r| stable(r)).collect();
    insta::assert_json_snapshot!("webhook_notices", bodies);
    insta::assert_json_snapshot!("slack_summary", stable(summaries[0]));

    // The mail: a notice per expired user (the locked one names `hook` only) and the summary.
    let mails = smtp.messages();
    assert_eq!(mails.len(), 3, "{mails:#?}");
    for m in &mails {
        assert_eq!(m.from, "<remedy@example.test>");
        assert_eq!(m.to, vec!["<okta-admins@example.test>".to_string()]);
    }
    let mut texts: Vec<String> = mails.iter().map(|m| stable_mail(&m.data)).collect();
    texts.sort();
    insta::assert_snapshot!("mails", texts.join("\n\n=====\n\n"));

    // Nothing sent or written holds a reset URL, a token or a webhook URL.
    let urls = std::fs::read_to_string(env.path("reset-urls.txt")).unwrap();
    let urls: Vec<&str> = urls.lines().filter_map(|l| l.split('\t').nth(1)).collect();
    assert_eq!(urls.len(), 2, "two one-time reset URLs were issued");
    let journal_bytes = std::fs::read(env.path("plan.journal.sqlite")).unwrap();
    let mut everything: Vec<String> = received.iter().map(|r| r.body.to_string()).collect();
    everything.extend(mails.iter().map(|m| m.data.clone()));
    everything.push(run.stdout.clone());
    everything.push(run.stderr.clone());
    everything.push(String::from_utf8_lossy(&journal_bytes).into_owned());
    everything.push(std::fs::read_to_string(env.path("plan.audit.jsonl")).unwrap());
    for text in &everything {
        for secret in urls
            .iter()
            .copied()
            .chain(["reset-password", "SECRET-", "services/T"])
            .chain([env.sim.hub_token(), env.sim.spoke_token()])
        {
            assert!(!text.contains(secret), "`{secret}` leaked into: {text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_is_retried_and_a_sink_that_never_accepts_fails_the_step() {
    let (env, locked, _) = env(1, 0).await;
    let hook = Hook::start().await;
    add_sinks(
        &env,
        "    - { name: hook, type: webhook, format: json, urlEnv: HOOK_URL, events: [notify], retry: { attempts: 3, backoff: 10ms } }\n",
    );
    env.plan().await;
    let url = hook.url("hook");
    let vars = [("HOOK_URL", url.as_str())];

    // 500, then 200: delivered on the second attempt, with the same key and body.
    hook.script(&[Reply::Status(500)]);
    let run = apply(&env, &[], &vars).await;
    assert_eq!(run.code, 0, "{}", run.transcript());
    let got = hook.received();
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(got[0].key, got[1].key);
    assert_eq!(got[0].body, got[1].body);
    assert_eq!(got[0].body["subject"], json!(locked[0]));
    let j = journal(&env, "plan.journal.sqlite");
    let d = j.deliveries().unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!((d[0].state, d[0].attempts), (DeliveryState::Delivered, 2));
    assert_eq!(d[0].detail.as_deref(), Some("HTTP 200"));
    let step = &j.steps().unwrap()[0];
    assert_eq!(step.state, StepState::Done);
    assert!(
        step.detail
            .as_deref()
            .unwrap()
            .ends_with("(delivered to `hook`)"),
        "{step:?}"
    );
    drop(j);

    // Always 500, with a fresh journal: three attempts, then the step is failed and apply exits 3.
    hook.otherwise(Reply::Status(500));
    let run = apply(&env, &["--journal", "second.sqlite"], &vars).await;
    assert_eq!(run.code, 3, "{}", run.transcript());
    assert_eq!(hook.received().len(), 5);
    let reason = "notification to sink `hook` failed after 3 attempts: HTTP 500";
    assert!(run.stdout.contains(reason), "{}", run.transcript());
    let j = journal(&env, "second.sqlite");
    let step = &j.steps().unwrap()[0];
    assert_eq!(step.state, StepState::Failed);
    assert!(
        step.detail.as_deref().unwrap().starts_with(reason),
        "{step:?}"
    );
    assert_eq!(j.deliveries().unwrap()[0].state, DeliveryState::Failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_run_never_resends_a_delivered_notification() {
    let (env, _, expired) = env(0, 1).await;
    let (a, b) = (Hook::start().await, Hook::start().await);
    add_sinks(
        &env,
        "    - { name: a, type: webhook, format: json, urlEnv: A_URL, events: [notify], retry: { attempts: 2, backoff: 10ms } }\n    - { name: b, type: webhook, format: json, urlEnv: B_URL, events: [notify], retry: { attempts: 2, backoff: 10ms }, timeout: 60s }\n",
    );
    env.plan().await;
    let (a_url, b_url) = (a.url("a"), b.url("b"));
    let vars = [("A_URL", a_url.as_str()), ("B_URL", b_url.as_str())];
    let args = [
        "apply",
        "plan.json",
        "--config",
        "remedy.yaml",
        "--reset-urls",
        "urls.txt",
    ];

    // `a` accepts; `b` holds the request open and the run is killed meanwhile: sent, not recorded.
    b.script(&[Reply::Hang]);
    let mut c = env.command(&args);
    for (k, v) in vars {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    let reached = poll_until(Duration::from_secs(60), || b.received().len() == 1).await;
    assert!(reached, "the second sink got its request");
    child.kill().await.unwrap();

    let run = apply(&env, &["--reset-urls", "urls.txt"], &vars).await;
    assert_eq!(run.code, 0, "{}", run.transcript());
    // `a` was recorded delivered before `b` was tried: never sent again. `b` is sent again with the
    // same key, for the receiver to dedupe.
    assert_eq!(a.received().len(), 1);
    let b_got = b.received();
    assert_eq!(b_got.len(), 2);
    assert_eq!(b_got[0].key, b_got[1].key);
    assert_eq!(b_got[0].body["subject"], json!(expired[0]));
    let j = journal(&env, "plan.journal.sqlite");
    let d: Vec<(String, DeliveryState, u32)> = j
        .deliveries()
        .unwrap()
        .into_iter()
        .map(|d| (d.sink, d.state, d.attempts))
        .collect();
    assert_eq!(
        d,
        vec![
            ("a".to_string(), DeliveryState::Delivered, 1),
            ("b".to_string(), DeliveryState::Delivered, 2)
        ]
    );
    // The reset before the notice was not repeated either.
    let resets = env
        .sim
        .requests(OrgName::Hub)
        .iter()
        .filter(|r| r.path.ends_with("/lifecycle/reset_password"))
        .count();
    assert_eq!(resets, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_that_is_no_sink_is_refused_before_anything_runs() {
    let (env, _, _) = env(1, 0).await;
    env.plan().await;
    let run = apply(&env, &[], &[]).await;
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stderr
            .contains("notifies channel `hook`, but no notification sink is configured"),
        "{}",
        run.transcript()
    );
    add_sinks(
        &env,
        "    - { name: other, type: webhook, format: json, url: 'http://127.0.0.1:9/x', events: [notify] }\n",
    );
    let run = apply(&env, &[], &[]).await;
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stderr
            .contains("but no notification sink has that name (the sinks are `other`)"),
        "{}",
        run.transcript()
    );
    assert!(env
        .sim
        .requests(OrgName::Hub)
        .iter()
        .all(|r| r.method == "GET" || r.path.starts_with("/oauth2/")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undelivered_summary_is_told_and_fails_the_exit_code() {
    let (env, _, _) = env(0, 0).await;
    let hook = Hook::start().await;
    hook.otherwise(Reply::Status(503));
    add_sinks(
        &env,
        "    - { name: summary, type: webhook, format: slack, urlEnv: HOOK_URL, events: [run_finished], retry: { attempts: 2, backoff: 10ms } }\n",
    );
    env.plan().await;
    let url = hook.url("services/T0/SECRET-SUMMARY");
    let run = apply(&env, &[], &[("HOOK_URL", &url)]).await;
    assert_eq!(run.code, 3, "{}", run.transcript());
    assert_eq!(hook.received().len(), 2);
    assert!(
        run.stderr.contains(
            "error: the run summary was not delivered: notification to sink `summary` failed after 2 attempts: HTTP 503"
        ),
        "{}",
        run.transcript()
    );
    assert!(!run.stderr.contains("SECRET") && !run.stdout.contains("SECRET"));
}
