//! `remedy serve` on the simulator, over loopback: failures picked up from the System Log and fixed
//! without a manual command (reset, await, retry once the user sets a password), destructive steps
//! held for `remedy approve`, report-only subjects reported; the polling cursor across a graceful
//! restart and a SIGKILL; the event hook endpoint (verification, secret, duplicates, a burst); rate
//! guards and the kill switch. The service runs in process on its own thread, or as the `remedy`
//! binary where a process must be killed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use okta_remedy::serve::{ServeConfig, ServeOptions, Service, Store, WorkState};
use okta_remedy::sim::{OrgName, Sim, SimConfig};
use serde_json::{json, Value};

use super::apply::{assignment_of, hub_user, scenario, seed_spec};

// The review console: sign-in, CSRF, headers over HTTP, and the pages in a real browser.
mod console;

/// The test rulebook: the shipped one with DEPROVISIONED hub users recreated (destructive).
fn rules() -> PathBuf {
    super::cli::crate_root().join("tests/fixtures/serve/rules.yaml")
}

/// A temp dir with a `remedy.yaml` naming `sim`'s orgs, the `service` settings and one remediation.
fn write_config(dir: &Path, sim: &Sim, service: &str, remediation: &str) -> PathBuf {
    let path = dir.join("remedy.yaml");
    let text = format!(
        "orgs:\n  hub: {{ orgUrl: '{}', token: {} }}\n  spoke: {{ orgUrl: '{}', token: {} }}\n\
         service:\n  stateDir: state\n  listen: 127.0.0.1:0\n  recheck: 1s\n{service}\
         remediations:\n  - name: main\n    rules: '{}'\n{remediation}",
        sim.hub_url(),
        sim.hub_token(),
        sim.spoke_url(),
        sim.spoke_token(),
        rules().display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// A service running in process on its own thread (its work loop is not `Send`).
struct Running {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), String>>>,
}

impl Running {
    fn start(config: ServeConfig) -> Running {
        if std::env::var("REMEDY_TEST_LOG").is_ok() {
            tracing_subscriber::fmt()
                .with_env_filter("okta_remedy=debug")
                .try_init()
                .ok();
        }
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async move {
                let svc = Service::start(config, ServeOptions::default())
                    .await
                    .map_err(|e| e.to_string())?;
                addr_tx.send(svc.addr()).ok();
                svc.run_until(async {
                    stop_rx.await.ok();
                })
                .await
                .map_err(|e| e.to_string())
            })
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the service starts");
        Running {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Stops gracefully and returns how the service ended.
    fn stop(mut self) -> Result<(), String> {
        if let Some(s) = self.stop.take() {
            s.send(()).ok();
        }
        self.thread.take().unwrap().join().unwrap()
    }

    /// Panics with the service's error if it stopped on its own.
    fn alive(&mut self) {
        if self.thread.as_ref().is_some_and(|t| t.is_finished()) {
            let ended = self.thread.take().unwrap().join().unwrap();
            panic!("the service stopped on its own: {ended:?}");
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            s.send(()).ok();
        }
    }
}

fn load(config: &Path, secret: Option<&str>) -> ServeConfig {
    let secret = secret.map(str::to_string);
    ServeConfig::load(config, &move |k| {
        (k == "REMEDY_TEST_HOOK_SECRET")
            .then(|| secret.clone())
            .flatten()
    })
    .unwrap()
}

/// Polls `check` every 50 ms until it holds or `secs` pass; panics with `what` on timeout.
async fn wait_for(what: &str, secs: u64, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `/metrics` until it contains `needle` (gauges are refreshed after each cycle).
async fn wait_metric(svc: &Running, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = reqwest::get(svc.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text.contains(needle) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "metrics never showed `{needle}`:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Work by state.
fn states(store: &Store) -> BTreeMap<WorkState, u64> {
    let mut out = BTreeMap::new();
    for (_, s, n) in store.counts().unwrap() {
        *out.entry(s).or_insert(0) += n;
    }
    out
}

fn count(store: &Store, s: WorkState) -> u64 {
    states(store).get(&s).copied().unwrap_or(0)
}

/// How many times the hub was asked to reset each user's password.
fn resets(sim: &Sim) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in sim.requests(OrgName::Hub) {
        if r.method == "POST" && r.path.ends_with("/lifecycle/reset_password") {
            *out.entry(r.path).or_insert(0) += 1;
        }
    }
    out
}

async fn seeded_sim() -> Sim {
    Sim::start(SimConfig {
        scenario: scenario(&seed_spec()),
        push_delay: Duration::from_millis(50),
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_in_the_log_are_fixed_without_a_manual_command_and_deletes_wait_for_approval() {
    let sim = seeded_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim, "  pollInterval: 200ms\n", "");
    let svc = Running::start(load(&config, None));
    let store = Store::open_existing(&dir.path().join("state")).unwrap();

    // Planned and applied as far as it goes alone: resets sent, awaits parked, the delete held.
    wait_for("the first cycle", 30, || {
        count(&store, WorkState::New) == 0
            && count(&store, WorkState::Ready) == 0
            && count(&store, WorkState::Approval) == 1
            && count(&store, WorkState::Waiting) > 0
    })
    .await;
    let reset = resets(&sim);
    assert_eq!(
        reset.len(),
        3,
        "one reset per FEDERATION collision: {reset:?}"
    );
    assert!(reset.values().all(|n| *n == 1), "{reset:?}");
    let approvals = store.approvals(false).unwrap();
    assert_eq!(approvals.len(), 1);
    assert_eq!(approvals[0].actions, "delete_recreate");
    // Nothing deleted before approval.
    assert!(!sim
        .requests(OrgName::Hub)
        .iter()
        .any(|r| r.method == "DELETE"));
    // The report-only subjects are reported.
    assert!(
        count(&store, WorkState::Reported) >= 2,
        "{:?}",
        states(&store)
    );

    // The users set their passwords: the hub's events wake the waits, the pushes are retried.
    let waiting: Vec<_> = store
        .work(None, 100)
        .unwrap()
        .into_iter()
        .filter(|w| w.state == WorkState::Waiting)
        .collect();
    for w in &waiting {
        let login = w.subject.clone().unwrap();
        if hub_user(&sim, &login).unwrap()["status"] == "RECOVERY" {
            sim.complete_password_reset(OrgName::Hub, &login).unwrap();
        }
    }
    let reset_logins: Vec<String> = waiting
        .iter()
        .filter(|w| {
            reset.keys().any(|p| {
                w.hub_user_id
                    .as_ref()
                    .is_some_and(|h| p.contains(h.as_str()))
            })
        })
        .map(|w| w.subject.clone().unwrap())
        .collect();
    assert_eq!(reset_logins.len(), 3);
    wait_for("the retried pushes", 30, || {
        store.work(None, 100).unwrap().iter().all(|w| {
            !reset_logins.contains(w.subject.as_ref().unwrap_or(&String::new()))
                || w.state == WorkState::Done
        })
    })
    .await;
    for login in &reset_logins {
        let a = assignment_of(&sim, login).unwrap();
        assert_eq!(a["syncState"], "SYNCHRONIZED", "{login}: {a}");
    }

    // A person approves the delete: it is applied, and the user comes back by Org2Org.
    let id = approvals[0].id;
    let login = approvals[0].subject.clone();
    let list = std::process::Command::new(env!("CARGO_BIN_EXE_remedy"))
        .args(["approvals", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(list.status.success(), "{listed}");
    assert!(
        listed.contains(&format!("#{id}"))
            && listed.contains(&login)
            && listed.contains("delete_recreate"),
        "{listed}"
    );
    let approve = std::process::Command::new(env!("CARGO_BIN_EXE_remedy"))
        .args([
            "approve",
            &id.to_string(),
            "--operator",
            "alice",
            "--config",
        ])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        approve.status.success(),
        "{}",
        String::from_utf8_lossy(&approve.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&approve.stdout),
        format!("approval #{id} approved by alice: {login} (delete_recreate)\n")
    );
    // Deciding twice is refused.
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_remedy"))
        .args(["deny", &id.to_string(), "--reason", "late", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&again.stderr),
        format!("error: approval #{id} is already approved\n")
    );
    let mut svc = svc;
    wait_for("the approved delete_recreate", 30, || {
        svc.alive();
        store
            .work(None, 100)
            .unwrap()
            .iter()
            .any(|w| w.subject.as_deref() == Some(login.as_str()) && w.state == WorkState::Done)
    })
    .await;
    assert!(sim
        .requests(OrgName::Hub)
        .iter()
        .any(|r| r.method == "DELETE"));
    let audit = std::fs::read_to_string(dir.path().join("state/audit.jsonl")).unwrap();
    assert!(audit.contains("\"action\":\"delete_recreate\""), "{audit}");
    let decision: Value = audit
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|l| l["action"] == "approve")
        .unwrap();
    assert_eq!(decision["operator"], "alice");
    assert_eq!(decision["user"], login.as_str());
    assert_eq!(decision["result"], "approved");

    // Metrics say what happened.
    let metrics = wait_metric(&svc, "remedy_approvals_pending 0").await;
    assert!(
        metrics.contains("remedy_events_received_total{source=\"poll\",org=\"spoke\"}"),
        "{metrics}"
    );
    assert_eq!(
        reqwest::get(svc.url("/healthz")).await.unwrap().status(),
        200
    );
    assert_eq!(
        reqwest::get(svc.url("/readyz")).await.unwrap().status(),
        200
    );
    svc.stop().unwrap();
    // Still one reset per user after everything.
    assert!(resets(&sim).values().all(|n| *n == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_resumes_the_cursor_missing_nothing_and_processing_nothing_twice() {
    let sim = seeded_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim, "  pollInterval: 200ms\n", "");
    let svc = Running::start(load(&config, None));
    let store = Store::open_existing(&dir.path().join("state")).unwrap();
    wait_for("the first cycle", 30, || {
        count(&store, WorkState::Waiting) > 0 && count(&store, WorkState::Ready) == 0
    })
    .await;
    svc.stop().unwrap();
    let events = store.event_count().unwrap();
    let plans = std::fs::read_dir(dir.path().join("state/plans/main"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "json")
        })
        .count();
    // While the service is down, the users set their passwords: the events wait in the log.
    let waiting: Vec<_> = store
        .work(None, 100)
        .unwrap()
        .into_iter()
        .filter(|w| w.state == WorkState::Waiting)
        .collect();
    let mut completed = Vec::new();
    for w in &waiting {
        let login = w.subject.clone().unwrap();
        if hub_user(&sim, &login).unwrap()["status"] == "RECOVERY" {
            sim.complete_password_reset(OrgName::Hub, &login).unwrap();
            completed.push(login);
        }
    }
    assert!(!completed.is_empty());
    let svc = Running::start(load(&config, None));
    wait_for("the missed events to be read and acted on", 30, || {
        store.work(None, 100).unwrap().iter().all(|w| {
            !completed.contains(w.subject.as_ref().unwrap_or(&String::new()))
                || w.state == WorkState::Done
        })
    })
    .await;
    svc.stop().unwrap();
    // The only new events are the password changes (one per user) and what the retries wrote; the
    // failures read again from the overlap were recognised and not planned again.
    let new_events = store.event_count().unwrap() - events;
    assert!(new_events >= completed.len() as u64, "{new_events}");
    let plans_after = std::fs::read_dir(dir.path().join("state/plans/main"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "json")
        })
        .count();
    assert_eq!(plans_after, plans, "nothing was planned again");
    assert!(resets(&sim).values().all(|n| *n == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_any_moment_loses_nothing_and_repeats_nothing() {
    let sim = Sim::start(SimConfig {
        scenario: scenario(&okta_remedy::sim::GenerateSpec {
            federation_collisions: 24,
            spoke_assignments: 40,
            hub_users: 60,
            ..seed_spec()
        }),
        push_delay: Duration::from_millis(50),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &sim,
        "  pollInterval: 200ms\n  applyConcurrency: 2\n",
        "    limits: { perHour: 1000, perDay: 1000 }\n",
    );
    // Killed three times, each a little later, then left to finish.
    for delay_ms in [150u64, 300, 600] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_remedy"))
            .args(["serve", "--config"])
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let svc = Running::start(load(&config, None));
    let store = Store::open_existing(&dir.path().join("state")).unwrap();
    wait_for("every collision reset and waiting", 60, || {
        count(&store, WorkState::New) == 0
            && count(&store, WorkState::Ready) == 0
            && count(&store, WorkState::Failed) == 0
            && resets(&sim).len() == 24
    })
    .await;
    svc.stop().unwrap();
    let reset = resets(&sim);
    assert!(
        reset.values().all(|n| *n == 1),
        "a reset was sent twice: {reset:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_hook_verifies_authenticates_deduplicates_and_answers_a_burst_at_once() {
    let sim = seeded_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &sim,
        "  sources: [hook]\n  eventHook: { header: Authorization, secretEnv: REMEDY_TEST_HOOK_SECRET }\n",
        "",
    );
    let svc = Running::start(load(&config, Some("s3cret-hook-value")));
    let store = Store::open_existing(&dir.path().join("state")).unwrap();
    let http = reqwest::Client::new();
    let hook = svc.url("/hooks/okta/spoke");

    // Verification: the challenge echoed, only with the secret.
    let ok = http
        .get(&hook)
        .header("Authorization", "s3cret-hook-value")
        .header("X-Okta-Verification-Challenge", "abc123")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.json::<Value>().await.unwrap(),
        json!({"verification": "abc123"})
    );
    let refused = http
        .get(&hook)
        .header("X-Okta-Verification-Challenge", "abc123")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    // The spoke's failures, delivered as Okta delivers them, twice.
    let logs: Vec<Value> = http
        .get(format!("{}/api/v1/logs?limit=1000", sim.spoke_url()))
        .header("Authorization", format!("SSWS {}", sim.spoke_token()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let body = json!({
        "eventType": "com.okta.event_hook", "eventTypeVersion": "1.0", "cloudEventsVersion": "0.1",
        "contentType": "application/json", "eventId": "delivery-1",
        "data": { "events": logs },
    });
    let wrong = http
        .post(&hook)
        .header("Authorization", "guess")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(
        store.event_count().unwrap(),
        0,
        "nothing stored from a refused delivery"
    );
    for _ in 0..2 {
        let r = http
            .post(&hook)
            .header("Authorization", "s3cret-hook-value")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    assert_eq!(
        store.event_count().unwrap(),
        logs.len() as u64,
        "each uuid stored once"
    );
    wait_for("the delivered failures planned", 30, || {
        count(&store, WorkState::New) == 0 && count(&store, WorkState::Waiting) > 0
    })
    .await;
    assert!(resets(&sim).values().all(|n| *n == 1));

    // A burst of 1,000 events in 100 concurrent deliveries: each answered well within Okta's ~3 s.
    let started = Instant::now();
    let mut deliveries = Vec::new();
    for d in 0..100 {
        let events: Vec<Value> = (0..10)
            .map(|i| {
                json!({
                    "uuid": format!("burst-{d}-{i}"), "published": "2026-11-29T00:00:00.000Z",
                    "eventType": "user.session.start", "outcome": {"result": "SUCCESS"},
                    "target": [], "actor": {"id": "x", "type": "User"},
                })
            })
            .collect();
        let http = http.clone();
        let hook = hook.clone();
        deliveries.push(tokio::spawn(async move {
            let t = Instant::now();
            let r = http
                .post(&hook)
                .header("Authorization", "s3cret-hook-value")
                .json(&json!({"eventType": "com.okta.event_hook", "data": {"events": events}}))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), t.elapsed())
        }));
    }
    let mut slowest = Duration::ZERO;
    for d in deliveries {
        let (status, took) = d.await.unwrap();
        assert_eq!(status, 200);
        slowest = slowest.max(took);
    }
    assert!(
        slowest < Duration::from_secs(3),
        "slowest answer {slowest:?}"
    );
    eprintln!(
        "burst: 1000 events in 100 deliveries answered in {:?} (slowest {slowest:?})",
        started.elapsed()
    );
    assert_eq!(store.event_count().unwrap(), logs.len() as u64 + 1000);
    let metrics = reqwest::get(svc.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("remedy_hook_refused_total{org=\"spoke\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "remedy_events_duplicate_total{{source=\"hook\",org=\"spoke\"}} {}",
            logs.len()
        )),
        "{metrics}"
    );
    svc.stop().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kill_switch_and_the_rate_guard_stop_changes_and_say_so() {
    let sim = seeded_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &sim,
        "  pollInterval: 200ms\n  killSwitch: PAUSE\n",
        "    limits: { perHour: 1, perDay: 10 }\n",
    );
    std::fs::write(dir.path().join("PAUSE"), "incident 42").unwrap();
    let svc = Running::start(load(&config, None));
    let store = Store::open_existing(&dir.path().join("state")).unwrap();
    wait_for("planning while paused", 30, || {
        count(&store, WorkState::New) == 0 && count(&store, WorkState::Ready) > 0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(resets(&sim).is_empty(), "nothing changed while paused");
    wait_metric(&svc, "remedy_paused 1").await;

    // Resumed: one change allowed per hour, the rest held and the guard raised.
    std::fs::remove_file(dir.path().join("PAUSE")).unwrap();
    wait_for("the rate guard", 30, || {
        store.work(None, 100).unwrap().iter().any(|w| {
            w.detail
                .as_deref()
                .is_some_and(|d| d.contains("per_hour rate guard"))
        })
    })
    .await;
    let changes: Vec<String> = [OrgName::Hub, OrgName::Spoke]
        .into_iter()
        .flat_map(|o| sim.requests(o))
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(changes.len(), 1, "one change within the guard: {changes:?}");
    wait_metric(
        &svc,
        "remedy_guard_hits_total{remediation=\"main\",guard=\"per_hour\"}",
    )
    .await;
    wait_metric(&svc, "remedy_paused 0").await;
    svc.stop().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_needed_plans_written_and_guard_hits_reach_the_configured_sinks() {
    let sim = seeded_sim().await;
    let receiver = super::notify::receivers::Hook::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &sim,
        "  pollInterval: 200ms\n",
        "    limits: { perHour: 1, perDay: 10 }\n",
    );
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "notifications:\n  sinks:\n    - {{ name: ops, type: webhook, format: json, url: '{}', \
         events: [plan_written, approval_needed, guard_hit, step_failed] }}\n",
        receiver.url("/ops")
    ));
    std::fs::write(&config, text).unwrap();
    let svc = Running::start(load(&config, None));
    let kinds = || -> Vec<String> {
        receiver
            .received()
            .iter()
            .map(|r| r.body["kind"].as_str().unwrap_or("?").to_string())
            .collect()
    };
    wait_for("the notifications", 30, || {
        let k = kinds();
        ["plan_written", "approval_needed", "guard_hit"]
            .iter()
            .all(|want| k.iter().any(|got| got == want))
    })
    .await;
    svc.stop().unwrap();
    let received = receiver.received();
    let approval = received
        .iter()
        .find(|r| r.body["kind"] == "approval_needed")
        .unwrap();
    let message = approval.body["message"].as_str().unwrap();
    assert!(
        message.starts_with("approval #1 needed for ") && message.contains("delete_recreate"),
        "{message}"
    );
    assert_eq!(approval.body["remediation"], "main");
    let guard = received
        .iter()
        .find(|r| r.body["kind"] == "guard_hit")
        .unwrap();
    assert!(
        guard.body["message"]
            .as_str()
            .unwrap()
            .starts_with("rate guard `per_hour` reached (1 changes an hour"),
        "{}",
        guard.body
    );
    // Each kind once (the guard is raised once while it holds), and nothing secret in any body.
    assert_eq!(
        kinds().iter().filter(|k| *k == "approval_needed").count(),
        1
    );
    assert_eq!(kinds().iter().filter(|k| *k == "guard_hit").count(), 1);
    for r in &received {
        let body = r.body.to_string();
        for secret in [
            sim.hub_token(),
            sim.spoke_token(),
            "resetPasswordUrl",
            "/ops",
        ] {
            assert!(!body.contains(secret), "`{secret}` in {body}");
        }
        assert!(
            r.key.is_some(),
            "every delivery carries its idempotency key"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_collisions_trickling_in_every_one_is_reset_awaited_and_retried_unattended() {
    // Users set their passwords 300 ms after a reset, as people eventually do.
    let sim = Sim::start(SimConfig {
        scenario: scenario(&seed_spec()),
        push_delay: Duration::from_millis(50),
        complete_resets_after: Some(Duration::from_millis(300)),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The default rate guard (20 changes an hour) would hold most of them: raised for the test.
    let config = write_config(
        dir.path(),
        &sim,
        "  pollInterval: 200ms\n",
        "    limits: { perHour: 1000, perDay: 1000 }\n",
    );
    let svc = Running::start(load(&config, None));
    let store = Store::open_existing(&dir.path().join("state")).unwrap();
    // New collisions keep arriving while the service runs: three waves.
    let mut trickled = Vec::new();
    for _ in 0..3 {
        trickled.extend(sim.trickle_now(4).unwrap());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let fixed = |login: &str| {
        assignment_of(&sim, login).is_some_and(|a| a["syncState"] == "SYNCHRONIZED")
            && hub_user(&sim, login).is_some_and(|u| {
                u["status"] == "ACTIVE" && u["credentials"]["provider"]["type"] == "OKTA"
            })
    };
    wait_for("every trickled collision fixed", 60, || {
        trickled.iter().all(|c| fixed(&c.login))
    })
    .await;
    svc.stop().unwrap();
    // Each was reset exactly once and its push retried; no command was run.
    let reset = resets(&sim);
    for c in &trickled {
        let n = reset
            .iter()
            .filter(|(path, _)| path.contains(&c.hub_user_id))
            .map(|(_, n)| *n)
            .sum::<usize>();
        assert_eq!(n, 1, "{} reset {n} times", c.login);
    }
    let done: Vec<String> = store
        .work(None, 1000)
        .unwrap()
        .into_iter()
        .filter(|w| w.state == WorkState::Done)
        .filter_map(|w| w.subject)
        .collect();
    for c in &trickled {
        assert!(done.contains(&c.login), "{} not done", c.login);
    }
}
