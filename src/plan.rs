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
//!   refused?: {guard: "max_actions"|"max_destructive", count, limit},
//!   checksum }
//! ```
//! Only matched and protected subjects are listed (unmatched ones are counted), so a plan over millions
//! of subjects stays small. `checksum` is the sha256 of the document serialised without it; `apply`
//! refuses a plan whose checksum does not match. Same inputs give byte-identical output. `refused` is
//! present only on a plan over a guard: it is written so it can be reviewed, and `apply` refuses it.

mod derive;
pub mod render;
mod step;

pub use derive::{derive_steps, planned_subject, subject_ids, PlanBuilder};
pub use step::{Precondition, Step, StepAction};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::engine::Verdict;
use crate::rulebook::{Mode, SubjectKind};

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
        /// The plan, marked `refused`, for review.
        plan: Box<Plan>,
    },
    #[error(
        "plan refused: {count} destructive steps, over `guards.max_destructive: {limit}` ({at})"
    )]
    TooManyDestructive {
        count: u64,
        limit: u64,
        at: String,
        /// The plan, marked `refused`, for review.
        plan: Box<Plan>,
    },
    #[error("cannot read plan `{path}`: {message}")]
    Read { path: String, message: String },
    #[error("plan `{path}` was edited after it was written (checksum mismatch); make a new plan")]
    Tampered { path: String },
    #[error(
        "plan `{path}` has format version {found}; this release reads version {FORMAT_VERSION}"
    )]
    Version { path: String, found: u32 },
}

impl PlanError {
    /// The plan a guard refused, marked `refused`: written and shown for review, never applied.
    pub fn refused_plan(&self) -> Option<&Plan> {
        match self {
            PlanError::TooManyActions { plan, .. } | PlanError::TooManyDestructive { plan, .. } => {
                Some(plan)
            }
            _ => None,
        }
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
