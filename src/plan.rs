//! The plan: a versioned, deterministic JSON document of steps built from decisions, and its rendering
//! for people (like a Terraform plan). Pure: building takes decisions and `now`; nothing here talks to
//! Okta or reads the clock. Applying a plan is `apply`'s job.
//!
//! # Format (`format_version` 1)
//! ```text
//! { format_version, plan_id, rulebook: {name, path, sha256}, mode, now,
//!   source: {kind: "file"|"live", subjects_kind, path?, orgs: {name: url}, window?: {since, until}, requests?},
//!   subjects: [ {key, verdict, rules, protected_by?, ids: {user_id?, spoke_user_id?, app_id?, app_user_id?}, explanation} ],
//!   steps: [ {id, subject, rule, action, org, params, preconditions: [{path, values}], depends_on, safety} ],
//!   summary: {subjects, matched, no_match, protected, undecided, steps, changing, destructive, by_action},
//!   checksum }
//! ```
//! Only matched and protected subjects are listed (unmatched ones are counted), so a plan over millions
//! of subjects stays small. `checksum` is the sha256 of the document serialised without it; `apply`
//! refuses a plan whose checksum does not match. Same inputs give byte-identical output.

pub mod render;

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::condition::Explanation;
use crate::engine::{Decision, Verdict};
use crate::rulebook::{ActionKind, Rulebook, Safety};

pub const FORMAT_VERSION: u32 = 1;

/// The rulebook a plan was made from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RulebookRef {
    pub name: String,
    pub path: String,
    pub sha256: String,
}

/// Where the subjects came from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Source {
    /// `file` (offline) or `live` (collected from the orgs).
    pub kind: String,
    pub subjects_kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Org name → base URL, for live plans.
    #[serde(default)]
    pub orgs: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Window>,
    /// Requests made while collecting, per endpoint.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requests: BTreeMap<String, u64>,
}

/// The System Log window a live plan read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Window {
    pub since: String,
    pub until: String,
}

/// A subject the plan acts on or protects.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PlannedSubject {
    pub key: String,
    pub verdict: Verdict,
    pub rules: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected_by: Option<usize>,
    /// Ids the executor acts on, taken from the subject as read.
    #[serde(default)]
    pub ids: BTreeMap<String, String>,
    /// Why: the matched rule's explanation (or the guard's, for a protected subject).
    pub explanation: Value,
}

/// A field a step relies on: re-reading the subject must yield exactly these values at `path`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Precondition {
    pub path: String,
    pub values: Vec<Value>,
}

/// One step: one action on one subject.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Step {
    pub id: String,
    pub subject: String,
    pub rule: String,
    pub action: String,
    pub org: String,
    pub params: Value,
    pub preconditions: Vec<Precondition>,
    pub depends_on: Vec<String>,
    pub safety: Safety,
}

/// Counts for the summary line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Summary {
    pub subjects: u64,
    pub matched: u64,
    pub no_match: u64,
    pub protected: u64,
    /// Unmatched subjects where some rule could not be decided because a path was missing.
    pub undecided: u64,
    pub steps: u64,
    pub changing: u64,
    pub destructive: u64,
    pub by_action: BTreeMap<String, u64>,
    /// Subjects the collector could not read fully; they get no action.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unknown: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A reviewable plan. See the module documentation for the format.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Plan {
    pub format_version: u32,
    pub plan_id: String,
    pub rulebook: RulebookRef,
    pub mode: String,
    pub now: String,
    pub source: Source,
    pub subjects: Vec<PlannedSubject>,
    pub steps: Vec<Step>,
    pub summary: Summary,
    #[serde(default)]
    pub checksum: String,
}

/// Why a plan could not be built or read.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(
        "plan refused: {count} steps would change Okta, over `guards.max_actions: {limit}` ({at})"
    )]
    TooManyActions { count: u64, limit: u64, at: String },
    #[error(
        "plan refused: {count} destructive steps, over `guards.max_destructive: {limit}` ({at})"
    )]
    TooManyDestructive { count: u64, limit: u64, at: String },
    #[error("cannot read plan `{path}`: {message}")]
    Read { path: String, message: String },
    #[error("plan `{path}` was edited after it was written (checksum mismatch); make a new plan")]
    Tampered { path: String },
    #[error(
        "plan `{path}` has format version {found}; this release reads version {FORMAT_VERSION}"
    )]
    Version { path: String, found: u32 },
}

/// Builds a plan incrementally from decisions, so subjects can stream through.
pub struct PlanBuilder<'r> {
    rulebook: &'r Rulebook,
    now: DateTime<Utc>,
    source: Source,
    subjects: Vec<PlannedSubject>,
    steps: Vec<Step>,
    summary: Summary,
}

/// Okta state fields whose current values a step relies on besides what the rule read.
const STATE_FIELDS: &[&str] = &[
    "$.user.status",
    "$.user.lastUpdated",
    "$.assignment.syncState",
    "$.assignment.lastUpdated",
];

/// Prefixes of subject fields that can be re-read from Okta (events are history, not state).
const STATE_ROOTS: &[&str] = &["$.user", "$.assignment", "$.spoke_user"];

fn is_state_path(p: &str) -> bool {
    STATE_ROOTS
        .iter()
        .any(|r| p == *r || p.starts_with(&format!("{r}.")) || p.starts_with(&format!("{r}[")))
}

fn pointer_of(path: &str) -> Option<String> {
    // `$.a.b.c` → `/a/b/c` for plain dotted paths; others are read through JSONPath.
    let rest = path.strip_prefix("$.")?;
    if rest.contains(['[', '*', '?', '(']) || rest.contains("..") {
        return None;
    }
    Some(format!("/{}", rest.replace('.', "/")))
}

impl<'r> PlanBuilder<'r> {
    pub fn new(rulebook: &'r Rulebook, now: DateTime<Utc>, source: Source) -> Self {
        PlanBuilder {
            rulebook,
            now,
            source,
            subjects: Vec::new(),
            steps: Vec::new(),
            summary: Summary::default(),
        }
    }

    /// Counts a subject no rule matched, without listing it (see [`crate::engine::verdict`]).
    pub fn add_unmatched(&mut self, undecided: bool) {
        self.summary.subjects += 1;
        self.summary.no_match += 1;
        if undecided {
            self.summary.undecided += 1;
        }
    }

    /// Adds one subject's decision (and the subject it was made on, to read ids and preconditions).
    pub fn add(&mut self, subject: &Value, decision: &Decision) {
        self.summary.subjects += 1;
        match decision.verdict {
            Verdict::NoMatch => {
                self.summary.no_match += 1;
                if decision.has_unknown() {
                    self.summary.undecided += 1;
                }
                return;
            }
            Verdict::Protected => self.summary.protected += 1,
            Verdict::Matched => self.summary.matched += 1,
            Verdict::Unknown => self.summary.unknown += 1,
        }
        let explanation = match decision.verdict {
            Verdict::Unknown => {
                json!({ "collect_error": subject.get("collect_error").cloned().unwrap_or(Value::Null) })
            }
            Verdict::Protected => {
                serde_json::to_value(&decision.protect_trace).unwrap_or(Value::Null)
            }
            _ => {
                let traces: Vec<&crate::engine::RuleTrace> = decision
                    .rules
                    .iter()
                    .filter(|t| decision.matched.contains(&t.rule))
                    .collect();
                serde_json::to_value(traces).unwrap_or(Value::Null)
            }
        };
        let mut ids = BTreeMap::new();
        for (name, ptr) in [
            ("user_id", "/user/id"),
            ("spoke_user_id", "/spoke_user/id"),
            ("app_user_id", "/assignment/id"),
            ("app_id", "/app/id"),
        ] {
            if let Some(s) = subject.pointer(ptr).and_then(Value::as_str) {
                ids.insert(name.to_string(), s.to_string());
            }
        }
        self.subjects.push(PlannedSubject {
            key: decision.subject.clone(),
            verdict: decision.verdict,
            rules: decision.matched.iter().map(|r| r.0.clone()).collect(),
            protected_by: decision.protected_by,
            ids,
            explanation,
        });
        if decision.verdict != Verdict::Matched {
            return;
        }
        // What the matched rules read, per path, as the subject was when planned.
        let mut read: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for trace in decision
            .rules
            .iter()
            .filter(|t| decision.matched.contains(&t.rule))
        {
            for leaf in trace.explanation.leaves() {
                if let Explanation::Leaf { path, .. } = leaf {
                    if is_state_path(path) {
                        let values = crate::condition::JsonPath::compile(path)
                            .map(|p| p.query(subject).into_iter().cloned().collect())
                            .unwrap_or_default();
                        read.insert(path.clone(), values);
                    }
                }
            }
        }
        for field in STATE_FIELDS {
            let values: Vec<Value> = pointer_of(field)
                .and_then(|p| subject.pointer(&p).cloned())
                .into_iter()
                .collect();
            if !values.is_empty() {
                read.entry((*field).to_string()).or_insert(values);
            }
        }
        if self.rulebook.subjects.kind == crate::rulebook::SubjectKind::Org2orgAssignment
            && subject.get("user").is_some_and(Value::is_null)
        {
            read.insert("$.user".into(), vec![Value::Null]);
        }
        let mut changed: Vec<&str> = Vec::new();
        let mut previous: Option<String> = None;
        for (rule, action) in decision.actions(self.rulebook) {
            let n = self.steps.len() + 1;
            let id = format!("s{n:04}");
            let preconditions: Vec<Precondition> = read
                .iter()
                .filter(|(p, _)| {
                    !changed
                        .iter()
                        .any(|c| p.as_str() == *c || p.starts_with(&format!("{c}.")))
                })
                .map(|(p, v)| Precondition {
                    path: p.clone(),
                    values: v.clone(),
                })
                .collect();
            let params = params_of(&action.kind, subject);
            let safety = action.safety();
            *self
                .summary
                .by_action
                .entry(action.name().to_string())
                .or_default() += 1;
            self.summary.steps += 1;
            if action.changes_okta() {
                self.summary.changing += 1;
            }
            if safety == Safety::Destructive {
                self.summary.destructive += 1;
            }
            self.steps.push(Step {
                id: id.clone(),
                subject: decision.subject.clone(),
                rule: rule.0.clone(),
                action: action.name().to_string(),
                org: action.org.clone(),
                params,
                preconditions,
                depends_on: previous.iter().cloned().collect(),
                safety,
            });
            changed.extend(action.changes());
            previous = Some(id);
        }
    }

    /// Finishes the plan: enforces the guards and seals it with its checksum.
    pub fn finish(self) -> Result<Plan, PlanError> {
        let at = |p: Option<crate::diagnostic::Position>| match p {
            Some(p) => format!("{}:{}:{}", self.rulebook.path, p.line, p.column),
            None => self.rulebook.path.clone(),
        };
        let g = &self.rulebook.guards;
        if let Some(limit) = g.max_actions {
            if self.summary.changing > limit {
                return Err(PlanError::TooManyActions {
                    count: self.summary.changing,
                    limit,
                    at: at(g.max_actions_at),
                });
            }
        }
        if let Some(limit) = g.max_destructive {
            if self.summary.destructive > limit {
                return Err(PlanError::TooManyDestructive {
                    count: self.summary.destructive,
                    limit,
                    at: at(g.max_destructive_at),
                });
            }
        }
        let mut plan = Plan {
            format_version: FORMAT_VERSION,
            plan_id: String::new(),
            rulebook: RulebookRef {
                name: self.rulebook.name.clone(),
                path: self.rulebook.path.clone(),
                sha256: self.rulebook.sha256.clone(),
            },
            mode: match self.rulebook.mode {
                crate::rulebook::Mode::FirstMatch => "first_match".into(),
                crate::rulebook::Mode::AllMatches => "all_matches".into(),
            },
            now: self.now.to_rfc3339_opts(SecondsFormat::Secs, true),
            source: self.source,
            subjects: self.subjects,
            steps: self.steps,
            summary: self.summary,
            checksum: String::new(),
        };
        plan.seal();
        Ok(plan)
    }
}

fn params_of(kind: &ActionKind, subject: &Value) -> Value {
    match kind {
        ActionKind::ResetPassword { send_email } => json!({ "send_email": send_email }),
        ActionKind::Await {
            until,
            timeout_text,
            ..
        } => json!({ "until": until.to_json(), "timeout": timeout_text }),
        ActionKind::RetryProvisioning {
            method,
            timeout_text,
            ..
        } => json!({ "method": method, "timeout": timeout_text }),
        ActionKind::DeleteRecreate | ActionKind::Unlock => json!({}),
        ActionKind::Activate { send_email } => json!({ "send_email": send_email }),
        ActionKind::Notify { message, channel } => {
            json!({ "message": message.render(subject), "channel": channel })
        }
        ActionKind::Report { message } => json!({ "message": message.render(subject) }),
    }
}

impl Plan {
    fn body_hash(&self) -> String {
        let mut unsealed = self.clone();
        unsealed.checksum = String::new();
        unsealed.plan_id = String::new();
        let bytes = serde_json::to_vec(&unsealed).unwrap_or_default();
        hex::encode(Sha256::digest(&bytes))
    }

    /// Sets `plan_id` and `checksum` from the content.
    pub fn seal(&mut self) {
        let h = self.body_hash();
        self.plan_id = format!("plan-{}", &h[..12]);
        self.checksum = h;
    }

    /// The plan as pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Reads a plan file, checking its version and checksum.
    pub fn read(path: &std::path::Path) -> Result<Plan, PlanError> {
        let display = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| PlanError::Read {
            path: display.clone(),
            message: e.to_string(),
        })?;
        let probe: Value = serde_json::from_str(&text).map_err(|e| PlanError::Read {
            path: display.clone(),
            message: format!("not valid JSON: {e}"),
        })?;
        let found = probe
            .get("format_version")
            .and_then(Value::as_u64)
            .unwrap_or(0) as u32;
        if found != FORMAT_VERSION {
            return Err(PlanError::Version {
                path: display,
                found,
            });
        }
        let plan: Plan = serde_json::from_value(probe).map_err(|e| PlanError::Read {
            path: display.clone(),
            message: format!("not a plan: {e}"),
        })?;
        if plan.body_hash() != plan.checksum {
            return Err(PlanError::Tampered { path: display });
        }
        Ok(plan)
    }
}
