//! `remedy apply`, `status` and `restore` against an in-process simulator over loopback HTTP: the seed
//! scenario end to end, drift, guards and restore here; SIGKILL crashes and injected faults in the
//! child modules. Owns the harness those modules share (a simulator, a temp dir with config and
//! rulebook, the binary run as a child process, journal and request-log readers). The engine and plan
//! rendering are covered by `cli`; the simulator itself by `sim`.

// `--operator` on the audit log and the journal's runs; docs/journal.md against what apply writes.
mod audit;
// A rate-limit wait is announced on stderr without `-v`, once per reset.
mod ratewait;
// SIGKILL at 20+ points of a 200-subject mixed plan; resumed runs must equal an uninterrupted one.
mod crash;
// 5xx, dropped connections and tight rate limits: every step ends done, skipped or failed-with-reason.
mod faults;
// The seed scenario from plan to SYNCHRONIZED, drift, guards and restore.
mod flows;
// Groups given back by delete_recreate and restore, the executor in process over a recording client.
mod groups;
// `activate` on a pending (PROVISIONED) user re-sends it with `reactivate`.
mod reactivate;
// Exact request counts of apply, dense and sparse, within 1.2x of the cheapest safe calls.
mod reads;
// Rewritten plans (checksum recomputed) are refused against the pinned rulebook on live state.
mod tamper;
// Failed writes stop the run, one process per plan, private files.
mod writes;
// The client wrapper of the in-process tests: records calls, answers group adds, loses responses.
mod tapped;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use okta_remedy::apply::journal::{Journal, StepState};
use okta_remedy::sim::{generate, GenerateSpec, OrgName, RequestRecord, Scenario, Sim, SimConfig};
use serde_json::Value;

use super::cli::Run;

/// A fixed "now" for generated scenarios, so two simulators built from one spec are identical. It is
/// rounded to the minute so the System Log window of a plan made right after still covers it.
pub fn anchor() -> DateTime<Utc> {
    use chrono::{DurationRound, TimeDelta};
    Utc::now()
        .duration_trunc(TimeDelta::minutes(1))
        .unwrap_or_else(|_| Utc::now())
}

/// The generator's seed scenario: one or two of every failure kind.
pub fn seed_spec() -> GenerateSpec {
    GenerateSpec {
        hub_users: 30,
        spoke_assignments: 16,
        federation_collisions: 3,
        policy_lookalikes: 1,
        not_active_hub: 2,
        missing_hub: 2,
        deprovisioned_hub: 1,
        suspended_hub: 1,
        protected_admins: 1,
        group_assigned: 1,
        anchor: Some(anchor()),
    }
}

/// `spec` generated once as seed data. The seed's `anchor` is cleared: the spec's anchor already puts
/// the history where it belongs, and an anchored seed is moved to its load time, which would make two
/// simulators built from it differ by the milliseconds between their starts.
pub fn scenario(spec: &GenerateSpec) -> Scenario {
    let mut seed = generate(spec, 4242, "http://127.0.0.1:0");
    seed.anchor = None;
    Scenario::Seed(seed)
}

/// A simulator, a temp dir with `remedy.yaml` naming it, and a copy of a rulebook.
pub struct Env {
    pub sim: Sim,
    pub dir: tempfile::TempDir,
    /// `rules.yaml` in `dir`.
    pub rules: PathBuf,
}

impl Env {
    pub async fn start(config: SimConfig, rulebook: &str) -> Env {
        let sim = Sim::start(config).await.expect("simulator starts");
        let dir = tempfile::tempdir().expect("temp dir");
        let rules = dir.path().join("rules.yaml");
        std::fs::copy(super::cli::crate_root().join(rulebook), &rules).expect("rulebook copied");
        let env = Env { sim, dir, rules };
        env.write_config("remedy.yaml", &env.sim);
        env
    }

    /// The generated scenario `spec`, default limits and no faults.
    pub async fn generated(spec: GenerateSpec, rulebook: &str) -> Env {
        Env::start(
            SimConfig {
                scenario: scenario(&spec),
                ..SimConfig::default()
            },
            rulebook,
        )
        .await
    }

    /// Writes a config file naming `sim`'s orgs as `hub` and `spoke`.
    pub fn write_config(&self, name: &str, sim: &Sim) -> PathBuf {
        let path = self.dir.path().join(name);
        let text = format!(
            "orgs:\n  hub: {{ orgUrl: '{}', token: {} }}\n  spoke: {{ orgUrl: '{}', token: {} }}\n",
            sim.hub_url(),
            sim.hub_token(),
            sim.spoke_url(),
            sim.spoke_token()
        );
        std::fs::write(&path, text).expect("config written");
        path
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `remedy ARGS` in the temp dir as a child process (the simulator keeps serving meanwhile).
    pub async fn remedy(&self, args: &[&str]) -> Run {
        let out = self.command(args).output().await.expect("remedy runs");
        Run {
            code: out.status.code().expect("remedy exits, not killed"),
            stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        }
    }

    /// The child process command, not yet started.
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_remedy"));
        c.args(args)
            .current_dir(self.dir.path())
            .env_remove("RUST_LOG")
            .env_remove("REMEDY_CONFIG")
            .env_remove("REMEDY_OPERATOR")
            .env("NO_COLOR", "1")
            .env("USER", "apply-test")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        c
    }

    /// `remedy plan` from the live simulator into `plan.json`.
    pub async fn plan(&self) -> PathBuf {
        let run = self
            .remedy(&[
                "plan",
                "--rules",
                "rules.yaml",
                "--config",
                "remedy.yaml",
                "--out",
                "plan.json",
            ])
            .await;
        assert_eq!(run.code, 0, "{}", run.transcript());
        self.path("plan.json")
    }

    /// `remedy apply plan.json --config remedy.yaml EXTRA...`.
    pub async fn apply(&self, extra: &[&str]) -> Run {
        let mut args = vec!["apply", "plan.json", "--config", "remedy.yaml"];
        args.extend_from_slice(extra);
        self.remedy(&args).await
    }

    /// Completes the password reset of every subject a journal shows waiting; returns how many.
    pub fn complete_waiting(&self, sim: &Sim, journal: &Path) -> usize {
        let mut n = 0;
        for login in waiting_subjects(journal) {
            if sim.complete_password_reset(OrgName::Hub, &login).is_ok() {
                n += 1;
            }
        }
        n
    }

    /// Replaces the temp dir's path in text, for snapshots.
    pub fn redact(&self, text: &str) -> String {
        redact(text, self.dir.path())
    }
}

/// Times, plan ids, request ids, Okta ids and request counts (polls vary with timing) replaced, the
/// temp dir named `[TMP]`.
pub fn redact(text: &str, dir: &Path) -> String {
    let mut out = text.replace(&dir.display().to_string(), "[TMP]");
    for (re, with) in [
        (
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)",
            "[TIME]",
        ),
        (r"plan-[0-9a-f]{12}", "plan-[ID]"),
        (r"\b00u[0-9A-Za-z]{17}\b", "[USER-ID]"),
        (r"(?m)^Requests: .*$", "Requests: [COUNTS]"),
    ] {
        out = regex::Regex::new(re)
            .expect("valid regex")
            .replace_all(&out, with)
            .into_owned();
    }
    out
}

/// Subjects (logins) with a step waiting in the journal (opened only while no apply runs).
pub fn waiting_subjects(journal: &Path) -> Vec<String> {
    let Ok(j) = Journal::open_existing(journal) else {
        return Vec::new();
    };
    let mut out: Vec<String> = j
        .steps()
        .expect("journal steps")
        .into_iter()
        .filter(|s| s.state == StepState::Waiting)
        .map(|s| s.subject)
        .collect();
    out.dedup();
    out
}

/// Mutating Okta requests (both orgs) that reached the operation, as `ORG METHOD PATH`, with counts.
/// Faulted requests (5xx injected before the operation, dropped connections, 429s) never changed
/// anything and are left out.
pub fn mutations(sim: &Sim) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    for org in [OrgName::Hub, OrgName::Spoke] {
        for r in sim.requests(org) {
            if is_mutation(&r) && reached(&r) {
                *out.entry(format!("{org} {} {}", r.method, r.path))
                    .or_insert(0) += 1;
            }
        }
    }
    out
}

pub fn is_mutation(r: &RequestRecord) -> bool {
    r.method != "GET" && !r.path.starts_with("/oauth2/")
}

/// Whether the request got to the operation (the simulator injects faults and 429s before it).
pub fn reached(r: &RequestRecord) -> bool {
    r.status != 0 && r.status != 429 && r.status != 500
}

/// The number of mutating requests either org has received so far (faulted ones included).
pub fn mutation_count(sim: &Sim) -> usize {
    [OrgName::Hub, OrgName::Spoke]
        .iter()
        .map(|o| sim.requests(*o).iter().filter(|r| is_mutation(r)).count())
        .sum()
}

/// Polls `cond` every few milliseconds until it holds or `limit` passes; returns whether it held.
pub async fn poll_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// An org's state without what differs between equal histories: ids, timestamps, request ids,
/// generated passwords and System Log events. Users are keyed by login, assignments by user name,
/// groups by name with member logins.
pub fn normalized_state(sim: &Sim, org: OrgName) -> Value {
    let dump = sim.dump(org);
    let users = dump["users"].as_array().cloned().unwrap_or_default();
    let login_of: BTreeMap<String, String> = users
        .iter()
        .filter_map(|u| {
            Some((
                u["id"].as_str()?.to_string(),
                u["profile"]["login"].as_str()?.to_string(),
            ))
        })
        .collect();
    let mut out = serde_json::Map::new();
    let mut us = serde_json::Map::new();
    for u in &users {
        let login = u["profile"]["login"].as_str().unwrap_or("?").to_string();
        us.insert(
            login,
            serde_json::json!({
                "status": u["status"],
                "provider": u["credentials"]["provider"]["type"],
                "has_password": u["credentials"]["password"]["value"].is_string(),
                "profile": u["profile"],
            }),
        );
    }
    out.insert("users".into(), Value::Object(us));
    let group_names: BTreeMap<String, String> = dump["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| {
            Some((
                g["id"].as_str()?.to_string(),
                g["profile"]["name"].as_str()?.to_string(),
            ))
        })
        .collect();
    let mut groups = serde_json::Map::new();
    for (gid, members) in dump["group_members"].as_object().into_iter().flatten() {
        let mut logins: Vec<String> = members
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| login_of.get(m.as_str()?).cloned())
            .collect();
        logins.sort();
        groups.insert(
            group_names.get(gid).cloned().unwrap_or_else(|| gid.clone()),
            serde_json::json!(logins),
        );
    }
    out.insert("groups".into(), Value::Object(groups));
    let mut assignments = serde_json::Map::new();
    for (_, aus) in dump["app_users"].as_object().into_iter().flatten() {
        for au in aus.as_array().into_iter().flatten() {
            let name = au["credentials"]["userName"]
                .as_str()
                .unwrap_or("?")
                .to_string();
            assignments.insert(
                name,
                serde_json::json!({
                    "status": au["status"],
                    "syncState": au["syncState"],
                    "scope": au["scope"],
                    "linked": au["externalId"].as_str().is_some_and(|s| !s.is_empty()),
                    "profile": au["profile"],
                }),
            );
        }
    }
    out.insert("assignments".into(), Value::Object(assignments));
    Value::Object(out)
}

/// The spoke's Org2Org assignment of `login` and the hub user it should be linked to.
pub fn assignment_of(sim: &Sim, login: &str) -> Option<Value> {
    let dump = sim.dump(OrgName::Spoke);
    dump["app_users"]
        .as_object()?
        .values()
        .flat_map(|v| v.as_array().cloned().unwrap_or_default())
        .find(|au| au["credentials"]["userName"].as_str() == Some(login))
}

/// A hub user in seed form (with `credentials.password.value` when it has one).
pub fn hub_user(sim: &Sim, login: &str) -> Option<Value> {
    sim.dump(OrgName::Hub)["users"]
        .as_array()?
        .iter()
        .find(|u| u["profile"]["login"].as_str() == Some(login))
        .cloned()
}

/// The plan's subjects by the rule that matched them.
pub fn subjects_by_rule(plan: &Path) -> BTreeMap<String, Vec<String>> {
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(plan).expect("plan")).expect("plan JSON");
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in plan["subjects"].as_array().into_iter().flatten() {
        let key = s["key"].as_str().unwrap_or("?").to_string();
        let verdict = s["verdict"].as_str().unwrap_or("?");
        let rule = match s["rules"][0].as_str() {
            Some(r) if verdict == "matched" => r.to_string(),
            _ => format!("({verdict})"),
        };
        out.entry(rule).or_default().push(key);
    }
    out
}
