//! The plan: a versioned, deterministic JSON document of steps built from decisions, and its rendering
//! for people (like a Terraform plan). Pure: building takes decisions and `now`; nothing here talks to
//! Okta or reads the clock. Applying a plan is `apply`'s job.
//!
//! # Format
//! The fields of every version (docs/plan-format.md has the whole history):
//! ```text
//! { format_version, plan_id, rulebook: {name, path, sha256}, mode, now,
//!   source: {kind: "file"|"live", subjects_kind, path?, orgs: {name: url}, window?: {since, until}, requests?},
//!   conditions: {rule id: condition as explanations show it},                         (version 3)
//!   subjects: [ {key, verdict, rules, protected_by?, ids: {user_id?, spoke_user_id?, app_id?, app_user_id?},
//!                why (version 3, matched subjects) | explanation,
//!                steps? (version 3: the subject's steps, each as below)} ],
//!   steps: [ {id, subject, rule, action, org, params, preconditions: [{path, values}], depends_on, safety} ],
//!          (versions 1 and 2: every step; version 3: only steps not following their subject, if any)
//!   summary: {subjects, matched, no_match, protected, undecided, steps, changing, destructive, by_action},
//!   refused?: {guard: "max_actions"|"max_destructive", count, limit},
//!   checksum }
//! ```
//! Only matched and protected subjects are listed (unmatched ones are counted), so a plan over millions
//! of subjects stays small. Version 1 is one pretty document whose `checksum` is the sha256 of it
//! serialised without it; versions 2 and 3 are written as a stream ([`stream`]), one subject (in
//! version 3 with its steps) or step per line, with the checksum of the bytes before it. `apply` refuses a plan whose checksum does not
//! match. Same inputs give byte-identical output. `refused` is present only on a plan over a guard: it
//! is written so it can be reviewed, and `apply` refuses it. In memory every explanation is in its
//! version 2 form ([`compact`]); version 3 stores matched subjects' as `why` ([`why`]).

pub mod compact;
mod derive;
pub mod render;
pub mod sample;
mod step;
pub mod stream;
pub mod why;

pub use derive::{derive_steps, planned_subject, subject_ids, PlanBuilder};
pub use step::{Precondition, Step, StepAction};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::engine::Verdict;
use crate::rulebook::{Mode, SubjectKind};

/// The version this release writes; it also reads versions 1 and 2 (see docs/plan-format.md).
pub const FORMAT_VERSION: u32 = 3;

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
    /// The rate-limit bucket that bounded collection from below (docs/cost-model.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<crate::okta::Binding>,
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
            binding: None,
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
    /// Each rule's condition as explanations show it (format 3; null in older plans): matched
    /// subjects' explanations are stored against it (see [`why`]).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub conditions: Value,
    pub subjects: Vec<PlannedSubject>,
    pub steps: Vec<Step>,
    pub summary: Summary,
    /// Set only when the plan is over a guard: kept for review, never applied. Omitted when absent,
    /// so plans within their guards are byte-identical to those written before the field existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<Refusal>,
    #[serde(default)]
    pub checksum: String,
}

/// The guard a plan is over. The plan is still written, so a person can see what would have been done.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Refusal {
    pub guard: Guard,
    /// Steps that would change Okta (`max_actions`) or destructive steps (`max_destructive`).
    pub count: u64,
    pub limit: u64,
}

/// A guard that refuses a whole plan.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Guard {
    MaxActions,
    MaxDestructive,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (what, guard) = match self.guard {
            Guard::MaxActions => ("steps would change Okta", "max_actions"),
            Guard::MaxDestructive => ("destructive steps", "max_destructive"),
        };
        write!(
            f,
            "{} {what}, over `guards.{guard}: {}`",
            self.count, self.limit
        )
    }
}

/// Why a plan could not be built or read.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(
        "plan refused: {count} steps would change Okta, over `guards.max_actions: {limit}` ({at})"
    )]
    TooManyActions {
        count: u64,
        limit: u64,
        at: String,
        /// The plan, marked `refused`, for review (absent when it was written as a stream).
        plan: Option<Box<Plan>>,
    },
    #[error(
        "plan refused: {count} destructive steps, over `guards.max_destructive: {limit}` ({at})"
    )]
    TooManyDestructive {
        count: u64,
        limit: u64,
        at: String,
        /// The plan, marked `refused`, for review (absent when it was written as a stream).
        plan: Option<Box<Plan>>,
    },
    #[error("cannot read plan `{path}`: {message}")]
    Read { path: String, message: String },
    #[error("plan `{path}` was edited after it was written (checksum mismatch); make a new plan")]
    Tampered { path: String },
    #[error(
        "plan `{path}` has format version {found}; this release reads versions 1 to {FORMAT_VERSION}"
    )]
    Version { path: String, found: u32 },
    #[error("cannot write plan `{path}`: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("plan `{path}` is {bytes} bytes, more than {limit} bytes can be read whole; it is read as a stream by `remedy show`, `apply`, `explain` and reports")]
    TooLarge {
        path: String,
        bytes: u64,
        limit: u64,
    },
}

impl PlanError {
    /// The plan a guard refused, marked `refused`: written and shown for review, never applied.
    pub fn refused_plan(&self) -> Option<&Plan> {
        match self {
            PlanError::TooManyActions { plan, .. } | PlanError::TooManyDestructive { plan, .. } => {
                plan.as_deref()
            }
            _ => None,
        }
    }
}

impl Plan {
    /// The version 1 checksum: the compact JSON of the whole plan with empty `checksum` and
    /// `plan_id`.
    fn legacy_body_hash(&self) -> String {
        let mut unsealed = self.clone();
        unsealed.checksum = String::new();
        unsealed.plan_id = String::new();
        let bytes = serde_json::to_vec(&unsealed).unwrap_or_default();
        hex::encode(Sha256::digest(&bytes))
    }

    /// Writes the plan in the current format to `out`; returns the checksum of what was written.
    pub fn write_to<W: std::io::Write>(&self, out: W) -> std::io::Result<(String, W)> {
        let opening = stream::Opening {
            rulebook: &self.rulebook,
            mode: self.mode,
            now: &self.now,
            source: &self.source,
            conditions: &self.conditions,
        };
        let mut w = stream::PlanWriter::start(out, &opening)?;
        // Each matched subject's steps follow it, grouped as planning made them: steps of a rule it
        // matched, the first with no dependency, each next one depending on the step before. (Keys
        // can repeat: a protected subject, or one whose rule has no action, takes no step.)
        let mut steps = self.steps.iter().peekable();
        for s in &self.subjects {
            let mut own: Vec<Step> = Vec::new();
            while let Some(st) = steps.peek() {
                let next = match own.last() {
                    None => st.depends_on.is_empty(),
                    Some(prev) => st.depends_on.len() == 1 && st.depends_on[0] == prev.id,
                };
                let ours = s.verdict == Verdict::Matched
                    && st.subject == s.key
                    && s.rules.contains(&st.rule);
                if !ours || !next {
                    break;
                }
                own.extend(steps.next().cloned());
            }
            w.subject(s, &own)?;
        }
        // Steps that do not follow their subject (only a plan put together by hand has them) are
        // listed apart after the subjects, as format 2 listed every step.
        let apart: Vec<Step> = steps.cloned().collect();
        w.finish(&apart, &self.summary, self.refused.as_ref())
    }

    /// Sets `format_version` to the current one, and `plan_id` and `checksum` from the content.
    pub fn seal(&mut self) {
        self.format_version = FORMAT_VERSION;
        let h = self
            .write_to(std::io::sink())
            .map(|(h, _)| h)
            .unwrap_or_default();
        self.plan_id = stream::plan_id(&h);
        self.checksum = h;
    }

    /// The plan as its file holds it (the current `format_version`, sealed as it is written).
    pub fn to_json(&self) -> String {
        let bytes = self
            .write_to(Vec::new())
            .map(|(_, v)| v)
            .unwrap_or_default();
        String::from_utf8(bytes).unwrap_or_default()
    }

    /// Everything but the subjects and steps.
    pub fn head(&self) -> stream::PlanHead {
        stream::PlanHead {
            format_version: self.format_version,
            plan_id: self.plan_id.clone(),
            rulebook: self.rulebook.clone(),
            mode: self.mode,
            now: self.now.clone(),
            source: self.source.clone(),
            conditions: self.conditions.clone(),
            summary: self.summary.clone(),
            refused: self.refused.clone(),
            checksum: self.checksum.clone(),
        }
    }

    /// Reads a whole plan file (of either version), checking its version and checksum. Plans over
    /// [`stream::WHOLE_PLAN_LIMIT`] bytes are refused: read them with [`stream::Opened`].
    pub fn read(path: &std::path::Path) -> Result<Plan, PlanError> {
        let display = path.display().to_string();
        let bytes = std::fs::metadata(path)
            .map_err(|e| PlanError::Read {
                path: display.clone(),
                message: e.to_string(),
            })?
            .len();
        if bytes > stream::WHOLE_PLAN_LIMIT {
            return Err(PlanError::TooLarge {
                path: display,
                bytes,
                limit: stream::WHOLE_PLAN_LIMIT,
            });
        }
        match stream::probe_version(path)? {
            1 => Plan::read_v1(path),
            2 | FORMAT_VERSION => Plan::read_v2(path),
            found => Err(PlanError::Version {
                path: display,
                found,
            }),
        }
    }

    fn read_v2(path: &std::path::Path) -> Result<Plan, PlanError> {
        stream::verify(path)?;
        let mut subjects = Vec::new();
        let mut steps = Vec::new();
        let want = stream::Want {
            subjects: true,
            steps: true,
        };
        let file = std::fs::File::open(path).map_err(|e| PlanError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let head = stream::visit(path, file, want, &mut |item| {
            match item {
                stream::Item::Subject(s) => subjects.push(s),
                stream::Item::Step(s) => steps.push(s),
            }
            Ok(true)
        })?
        .ok_or_else(|| PlanError::Read {
            path: path.display().to_string(),
            message: "not a plan".into(),
        })?;
        Ok(Plan::from_head(head, subjects, steps))
    }

    /// A whole plan from a streamed plan's head and (some of) its subjects and steps.
    pub fn from_head(
        head: stream::PlanHead,
        subjects: Vec<PlannedSubject>,
        steps: Vec<Step>,
    ) -> Plan {
        Plan {
            format_version: head.format_version,
            plan_id: head.plan_id,
            rulebook: head.rulebook,
            mode: head.mode,
            now: head.now,
            source: head.source,
            conditions: head.conditions,
            subjects,
            steps,
            summary: head.summary,
            refused: head.refused,
            checksum: head.checksum,
        }
    }

    /// A version 1 plan: one pretty JSON document, checked with the version 1 checksum.
    fn read_v1(path: &std::path::Path) -> Result<Plan, PlanError> {
        let display = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| PlanError::Read {
            path: display.clone(),
            message: e.to_string(),
        })?;
        let plan: Plan = serde_json::from_str(&text).map_err(|e| PlanError::Read {
            path: display.clone(),
            message: format!("not a plan: {e}"),
        })?;
        if plan.format_version != 1 {
            return Err(PlanError::Version {
                path: display,
                found: plan.format_version,
            });
        }
        if plan.legacy_body_hash() != plan.checksum {
            return Err(PlanError::Tampered { path: display });
        }
        Ok(plan)
    }
}
