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
use crate::rulebook::{ActionKind, Mode, RetryMethod, Rulebook, Safety, SubjectKind};

pub const FORMAT_VERSION: u32 = 1;

/// The rulebook a plan was made from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RulebookRef {
    pub name: String,
    pub path: String,
    pub sha256: String,
}

/// Whether a plan's subjects were read from a file or collected from the orgs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// Read from a subjects file (`--subjects`), offline.
    #[default]
    File,
    /// Collected from the orgs.
    Live,
}

/// Where the subjects came from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Source {
    pub kind: SourceKind,
    #[serde(with = "subject_kind")]
    pub subjects_kind: SubjectKind,
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

impl Source {
    /// Subjects read from a file.
    pub fn file(subjects_kind: SubjectKind, path: Option<String>) -> Source {
        Source {
            kind: SourceKind::File,
            subjects_kind,
            path,
            orgs: BTreeMap::new(),
            window: None,
            requests: BTreeMap::new(),
        }
    }

    /// Subjects collected from the orgs (URLs and request counts are added by the pipeline).
    pub fn live(subjects_kind: SubjectKind, window: Option<Window>) -> Source {
        Source {
            kind: SourceKind::Live,
            window,
            ..Source::file(subjects_kind, None)
        }
    }
}

mod subject_kind {
    //! `SubjectKind` as the plan writes it (`user`, `org2org_assignment`).
    use crate::rulebook::SubjectKind;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(k: &SubjectKind, s: S) -> Result<S::Ok, S::Error> {
        k.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SubjectKind, D::Error> {
        match String::deserialize(d)?.as_str() {
            "user" => Ok(SubjectKind::User),
            "org2org_assignment" => Ok(SubjectKind::Org2orgAssignment),
            other => Err(serde::de::Error::unknown_variant(
                other,
                &["user", "org2org_assignment"],
            )),
        }
    }
}

mod mode {
    //! `Mode` as the plan writes it (`first_match`, `all_matches`).
    use crate::rulebook::Mode;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(m: &Mode, s: S) -> Result<S::Ok, S::Error> {
        m.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Mode, D::Error> {
        match String::deserialize(d)?.as_str() {
            "first_match" => Ok(Mode::FirstMatch),
            "all_matches" => Ok(Mode::AllMatches),
            other => Err(serde::de::Error::unknown_variant(
                other,
                &["first_match", "all_matches"],
            )),
        }
    }
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

/// What a step does, with its checked parameters. In the JSON these are the step's `action` (the
/// variant's snake_case name) and `params` (its fields); reading a plan with an unknown action or a
/// missing parameter is an error naming the step, never a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", content = "params", rename_all = "snake_case")]
pub enum StepAction {
    ResetPassword {
        send_email: bool,
    },
    /// `until` is the rulebook's condition as JSON, for the reviewer; `apply` evaluates the pinned
    /// rulebook's compiled condition, never this copy.
    Await {
        until: Value,
        timeout: String,
    },
    RetryProvisioning {
        #[serde(with = "retry_method")]
        method: RetryMethod,
        timeout: String,
    },
    DeleteRecreate {},
    Unlock {},
    Activate {
        send_email: bool,
    },
    Notify {
        message: String,
        #[serde(deserialize_with = "required")]
        channel: Option<String>,
    },
    Report {
        message: String,
    },
}

impl StepAction {
    /// Builds a step's action from the rulebook's validated action, rendering messages on `subject`.
    pub fn from_rule(kind: &ActionKind, subject: &Value) -> StepAction {
        match kind {
            ActionKind::ResetPassword { send_email } => StepAction::ResetPassword {
                send_email: *send_email,
            },
            ActionKind::Await {
                until,
                timeout_text,
                ..
            } => StepAction::Await {
                until: until.to_json(),
                timeout: timeout_text.clone(),
            },
            ActionKind::RetryProvisioning {
                method,
                timeout_text,
                ..
            } => StepAction::RetryProvisioning {
                method: *method,
                timeout: timeout_text.clone(),
            },
            ActionKind::DeleteRecreate => StepAction::DeleteRecreate {},
            ActionKind::Unlock => StepAction::Unlock {},
            ActionKind::Activate { send_email } => StepAction::Activate {
                send_email: *send_email,
            },
            ActionKind::Notify { message, channel } => StepAction::Notify {
                message: message.render(subject),
                channel: channel.clone(),
            },
            ActionKind::Report { message } => StepAction::Report {
                message: message.render(subject),
            },
        }
    }

    /// Where the action's group is shown in a rendered plan: what changes most comes last.
    pub fn display_rank(&self) -> u8 {
        match self {
            StepAction::Report { .. } => 0,
            StepAction::Notify { .. } => 1,
            StepAction::Unlock {} => 2,
            StepAction::Activate { .. } => 3,
            StepAction::ResetPassword { .. } => 4,
            StepAction::Await { .. } => 5,
            StepAction::RetryProvisioning { .. } => 6,
            StepAction::DeleteRecreate {} => 7,
        }
    }

    /// The action's name as the rulebook and the plan's JSON write it.
    pub fn name(&self) -> &'static str {
        match self {
            StepAction::ResetPassword { .. } => "reset_password",
            StepAction::Await { .. } => "await",
            StepAction::RetryProvisioning { .. } => "retry_provisioning",
            StepAction::DeleteRecreate {} => "delete_recreate",
            StepAction::Unlock {} => "unlock",
            StepAction::Activate { .. } => "activate",
            StepAction::Notify { .. } => "notify",
            StepAction::Report { .. } => "report",
        }
    }
}

/// A field that must be present even when its value is `null`.
fn required<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    T::deserialize(d)
}

mod retry_method {
    //! `RetryMethod` as the plan writes it (`reassign`, `touch`, `manual`).
    use crate::rulebook::RetryMethod;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(m: &RetryMethod, s: S) -> Result<S::Ok, S::Error> {
        m.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<RetryMethod, D::Error> {
        match String::deserialize(d)?.as_str() {
            "reassign" => Ok(RetryMethod::Reassign),
            "touch" => Ok(RetryMethod::Touch),
            "manual" => Ok(RetryMethod::Manual),
            other => Err(serde::de::Error::unknown_variant(
                other,
                &["reassign", "touch", "manual"],
            )),
        }
    }
}

/// One step: one action on one subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "StepWire", into = "StepWire")]
pub struct Step {
    pub id: String,
    pub subject: String,
    pub rule: String,
    pub action: StepAction,
    pub org: String,
    pub preconditions: Vec<Precondition>,
    pub depends_on: Vec<String>,
    pub safety: Safety,
}

/// A step as the JSON lays it out: `action` and `params` apart, with `org` between them.
#[derive(Serialize, Deserialize)]
struct StepWire {
    id: String,
    subject: String,
    rule: String,
    action: String,
    org: String,
    params: Value,
    preconditions: Vec<Precondition>,
    depends_on: Vec<String>,
    safety: Safety,
}

impl TryFrom<StepWire> for Step {
    type Error = String;

    fn try_from(w: StepWire) -> Result<Step, String> {
        let action: StepAction =
            serde_json::from_value(json!({ "action": w.action, "params": w.params }))
                .map_err(|e| format!("step `{}` (`{}`): {e}", w.id, w.action))?;
        Ok(Step {
            id: w.id,
            subject: w.subject,
            rule: w.rule,
            action,
            org: w.org,
            preconditions: w.preconditions,
            depends_on: w.depends_on,
            safety: w.safety,
        })
    }
}

impl From<Step> for StepWire {
    fn from(s: Step) -> StepWire {
        let (action, params) = match serde_json::to_value(&s.action) {
            Ok(Value::Object(mut m)) => (
                m.remove("action")
                    .and_then(|a| a.as_str().map(str::to_string))
                    .unwrap_or_default(),
                m.remove("params").unwrap_or_else(|| json!({})),
            ),
            _ => (s.action.name().to_string(), json!({})),
        };
        StepWire {
            id: s.id,
            subject: s.subject,
            rule: s.rule,
            action,
            org: s.org,
            params,
            preconditions: s.preconditions,
            depends_on: s.depends_on,
            safety: s.safety,
        }
    }
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
    #[serde(with = "mode")]
    pub mode: Mode,
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

use crate::subject::shape::{is_state_path, pointer_of, STATE_FIELDS};

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
        self.subjects.push(planned_subject(subject, decision));
        if decision.verdict != Verdict::Matched {
            return;
        }
        let steps = derive_steps(self.rulebook, subject, decision, self.steps.len() + 1);
        for step in steps {
            *self
                .summary
                .by_action
                .entry(step.action.name().to_string())
                .or_default() += 1;
            self.summary.steps += 1;
            if step.safety != Safety::Safe {
                self.summary.changing += 1;
            }
            if step.safety == Safety::Destructive {
                self.summary.destructive += 1;
            }
            self.steps.push(step);
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
            mode: self.rulebook.mode,
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

/// The ids the executor acts on, read from a subject (see [`crate::subject::shape`]).
pub fn subject_ids(subject: &Value) -> BTreeMap<String, String> {
    crate::subject::shape::ids(subject)
}

/// A subject as the plan lists it: its verdict, the rules that matched, its ids and why.
pub fn planned_subject(subject: &Value, decision: &Decision) -> PlannedSubject {
    let explanation = match decision.verdict {
        Verdict::Unknown => {
            json!({ "collect_error": subject.get("collect_error").cloned().unwrap_or(Value::Null) })
        }
        Verdict::Protected => serde_json::to_value(&decision.protect_trace).unwrap_or(Value::Null),
        _ => {
            let traces: Vec<&crate::engine::RuleTrace> = decision
                .rules
                .iter()
                .filter(|t| decision.matched.contains(&t.rule))
                .collect();
            serde_json::to_value(traces).unwrap_or(Value::Null)
        }
    };
    PlannedSubject {
        key: decision.subject.clone(),
        verdict: decision.verdict,
        rules: decision.matched.iter().map(|r| r.0.clone()).collect(),
        protected_by: decision.protected_by,
        ids: subject_ids(subject),
        explanation,
    }
}

/// What the matched rules read, per state path, as the subject is now, plus the state fields every
/// step relies on. Events are history, not state: they are never preconditions.
fn state_read(
    rulebook: &Rulebook,
    subject: &Value,
    decision: &Decision,
) -> BTreeMap<String, Vec<Value>> {
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
    if rulebook.subjects.kind == SubjectKind::Org2orgAssignment
        && subject.get("user").is_some_and(Value::is_null)
    {
        read.insert("$.user".into(), vec![Value::Null]);
    }
    read
}

/// The steps a matched decision produces, numbered from `first` (`s0001`...), each depending on the
/// one before, with preconditions and safety derived from the rulebook. Planning and `apply`'s live
/// re-check both call this, so a plan step is valid exactly when the rulebook produces it.
pub fn derive_steps(
    rulebook: &Rulebook,
    subject: &Value,
    decision: &Decision,
    first: usize,
) -> Vec<Step> {
    let read = state_read(rulebook, subject, decision);
    let mut steps: Vec<Step> = Vec::new();
    let mut changed: Vec<&str> = Vec::new();
    for (rule, action) in decision.actions(rulebook) {
        let id = format!("s{:04}", first + steps.len());
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
        steps.push(Step {
            id,
            subject: decision.subject.clone(),
            rule: rule.0.clone(),
            action: StepAction::from_rule(&action.kind, subject),
            org: action.org.clone(),
            preconditions,
            depends_on: steps.last().map(|s| s.id.clone()).into_iter().collect(),
            safety: action.safety(),
        });
        changed.extend(action.changes());
    }
    steps
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
