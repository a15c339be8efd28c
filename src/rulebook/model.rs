//! The validated rulebook: the types the engine, the planner and the executor see (rules with
//! compiled conditions, actions with checked parameters, typed durations). Built only by the checks in
//! `sections`, `conditions` and `actions`; the YAML never reaches past the rulebook module.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::action_name::ActionName;
use super::cases::TestCase;
use super::keyword::Keyword;
use super::template::Template;
use crate::condition::{Condition, JsonPath};
use crate::diagnostic::{Diagnostic, Position};

/// A rule's id, unique within a rulebook.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct RuleId(pub String);

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a collector builds subjects from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    /// One subject per user of one org: `{ org, user }`.
    User,
    /// One subject per failing assignment of the spoke's Org2Org app.
    Org2orgAssignment,
}

/// The `subjects:` section.
#[derive(Debug, Clone, Serialize)]
pub struct Subjects {
    pub kind: SubjectKind,
    /// For `user`: the org whose users are subjects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    pub hub: String,
    pub spoke: String,
    /// How far back the System Log is read.
    #[serde(skip)]
    pub since: Duration,
    #[serde(rename = "since")]
    pub since_text: String,
    /// The spoke app to read (API name or label); `okta_org2org` by default.
    pub app: String,
}

impl Subjects {
    /// The org names actions may target.
    pub fn orgs(&self) -> Vec<&str> {
        match self.kind {
            SubjectKind::User => self.org.iter().map(String::as_str).collect(),
            SubjectKind::Org2orgAssignment => vec![self.hub.as_str(), self.spoke.as_str()],
        }
    }

    /// The org holding the user a rule acts on (the hub for Org2Org, the org for `user`).
    pub fn user_org(&self) -> &str {
        match self.kind {
            SubjectKind::User => self.org.as_deref().unwrap_or(&self.hub),
            SubjectKind::Org2orgAssignment => &self.hub,
        }
    }
}

/// Whether the first matching rule wins or every matching rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    FirstMatch,
    AllMatches,
}

/// The `guards:` section: limits the plan must respect and subjects never to touch.
#[derive(Debug, Clone, Default)]
pub struct Guards {
    pub max_actions: Option<u64>,
    pub max_destructive: Option<u64>,
    pub protect: Vec<Condition>,
    /// Where each limit was written, for messages that point back at it.
    pub max_actions_at: Option<Position>,
    pub max_destructive_at: Option<Position>,
}

/// How risky an action is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Safety {
    /// Changes nothing in Okta.
    Safe,
    /// Changes Okta in a way that can be undone.
    Reversible,
    /// Removes data; needs approval and counts against `max_destructive`.
    Destructive,
}

/// How `retry_provisioning` makes Okta push the user again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RetryMethod {
    /// Unassign and re-assign the app user (only individually assigned, unlinked users).
    Reassign,
    /// Update the app user with its current profile.
    Touch,
    /// Emit the list to retry by hand under Dashboard > Tasks.
    Manual,
}

/// An action with its checked parameters.
#[derive(Debug, Clone)]
pub enum ActionKind {
    ResetPassword {
        send_email: bool,
    },
    Await {
        until: Condition,
        timeout: Duration,
        timeout_text: String,
    },
    RetryProvisioning {
        method: RetryMethod,
        timeout: Duration,
        timeout_text: String,
    },
    DeleteRecreate,
    Unlock,
    Activate {
        send_email: bool,
    },
    Notify {
        message: Template,
        channel: Option<String>,
    },
    Report {
        message: Template,
    },
}

/// One step of a rule's `then`.
#[derive(Debug, Clone)]
pub struct Action {
    pub kind: ActionKind,
    /// The org the action runs against.
    pub org: String,
}

impl ActionKind {
    /// Which action this is.
    pub fn name(&self) -> ActionName {
        match self {
            ActionKind::ResetPassword { .. } => ActionName::ResetPassword,
            ActionKind::Await { .. } => ActionName::Await,
            ActionKind::RetryProvisioning { .. } => ActionName::RetryProvisioning,
            ActionKind::DeleteRecreate => ActionName::DeleteRecreate,
            ActionKind::Unlock => ActionName::Unlock,
            ActionKind::Activate { .. } => ActionName::Activate,
            ActionKind::Notify { .. } => ActionName::Notify,
            ActionKind::Report { .. } => ActionName::Report,
        }
    }
}

impl Action {
    /// The action's name as written in a rulebook and a plan.
    pub fn name(&self) -> &'static str {
        self.kind.name().as_str()
    }

    pub fn safety(&self) -> Safety {
        match &self.kind {
            ActionKind::Await { .. } | ActionKind::Notify { .. } | ActionKind::Report { .. } => {
                Safety::Safe
            }
            ActionKind::RetryProvisioning {
                method: RetryMethod::Manual,
                ..
            } => Safety::Safe,
            ActionKind::ResetPassword { .. }
            | ActionKind::RetryProvisioning { .. }
            | ActionKind::Unlock
            | ActionKind::Activate { .. } => Safety::Reversible,
            ActionKind::DeleteRecreate => Safety::Destructive,
        }
    }

    /// Whether the action changes Okta (and so counts against `max_actions`).
    pub fn changes_okta(&self) -> bool {
        self.safety() != Safety::Safe
    }

    /// Subject fields this action is expected to change; later steps of the same subject do not
    /// re-check them as preconditions.
    pub fn changes(&self) -> &'static [&'static str] {
        match &self.kind {
            ActionKind::ResetPassword { .. } | ActionKind::Unlock | ActionKind::Activate { .. } => {
                &["$.user"]
            }
            ActionKind::Await { .. } => &["$.user", "$.assignment"],
            ActionKind::RetryProvisioning { .. } => &["$.assignment", "$.user", "$.events"],
            ActionKind::DeleteRecreate => &["$.user", "$.assignment", "$.events"],
            ActionKind::Notify { .. } | ActionKind::Report { .. } => &[],
        }
    }
}

/// A validated rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: RuleId,
    pub description: Option<String>,
    /// Higher runs first; ties keep file order.
    pub priority: i64,
    pub when: Condition,
    /// `true` when the rule had no `when` (it matches every subject).
    pub catch_all: bool,
    pub then: Vec<Action>,
    pub at: Position,
}

/// A loaded, validated rulebook.
#[derive(Debug, Clone)]
pub struct Rulebook {
    pub version: u64,
    pub name: String,
    pub description: Option<String>,
    pub mode: Mode,
    pub subjects: Subjects,
    pub guards: Guards,
    /// In evaluation order: priority (highest first), then file order.
    pub rules: Vec<Rule>,
    pub tests: Vec<TestCase>,
    /// The file it was loaded from, as given.
    pub path: String,
    /// sha256 of the file's bytes, hex.
    pub sha256: String,
    /// Warnings found while loading.
    pub warnings: Vec<Diagnostic>,
}

impl Rulebook {
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id.0 == id)
    }

    /// Every JSONPath any rule, guard or message can read.
    pub fn paths(&self) -> Vec<&JsonPath> {
        let mut out: Vec<&JsonPath> = Vec::new();
        for c in self.guards.protect.iter() {
            out.extend(c.leaves().into_iter().map(|l| &l.path));
        }
        for r in &self.rules {
            out.extend(r.when.leaves().into_iter().map(|l| &l.path));
            for a in &r.then {
                match &a.kind {
                    ActionKind::Await { until, .. } => {
                        out.extend(until.leaves().into_iter().map(|l| &l.path))
                    }
                    ActionKind::Notify { message, .. } | ActionKind::Report { message } => {
                        out.extend(message.paths())
                    }
                    _ => {}
                }
            }
        }
        out
    }
}

impl Keyword for SubjectKind {
    const ALL: &'static [Self] = &[SubjectKind::User, SubjectKind::Org2orgAssignment];
    fn as_str(self) -> &'static str {
        match self {
            SubjectKind::User => "user",
            SubjectKind::Org2orgAssignment => "org2org_assignment",
        }
    }
}

impl Keyword for Mode {
    const ALL: &'static [Self] = &[Mode::FirstMatch, Mode::AllMatches];
    fn as_str(self) -> &'static str {
        match self {
            Mode::FirstMatch => "first_match",
            Mode::AllMatches => "all_matches",
        }
    }
}

impl Keyword for RetryMethod {
    const ALL: &'static [Self] = &[
        RetryMethod::Reassign,
        RetryMethod::Touch,
        RetryMethod::Manual,
    ];
    fn as_str(self) -> &'static str {
        match self {
            RetryMethod::Reassign => "reassign",
            RetryMethod::Touch => "touch",
            RetryMethod::Manual => "manual",
        }
    }
}
