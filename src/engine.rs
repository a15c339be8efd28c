//! The engine: `evaluate(rulebook, subject, now) -> Decision`. Pure and synchronous: guards first
//! (protected subjects get no actions), then rules in priority-then-file order, first match wins unless
//! the rulebook says `mode: all_matches`. Every decision carries the explanation of each rule it tried.
//! Turning decisions into steps is `plan`'s job.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::condition::{Explained, Explanation, JsonPath, Outcome, Quiet, Record};
use crate::rulebook::{Action, Mode, RuleId, Rulebook, SubjectKind};

/// What happened to one subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// At least one rule matched; its actions apply.
    Matched,
    /// No rule matched.
    NoMatch,
    /// A guard protects the subject; nothing will be done to it.
    Protected,
    /// The collector could not read the subject fully (`collect_error`); no rule is tried. Written
    /// `unknown` in plans.
    #[serde(rename = "unknown")]
    Unreadable,
}

/// How one rule came out on one subject.
#[derive(Debug, Clone, Serialize)]
pub struct RuleTrace {
    pub rule: RuleId,
    pub outcome: Outcome,
    pub explanation: Explanation,
}

/// The decision for one subject, explaining itself.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub subject: String,
    pub verdict: Verdict,
    /// Rules that matched, in evaluation order (one at most in `first_match` mode). For a protected
    /// subject, the rules that *would* have matched.
    pub matched: Vec<RuleId>,
    /// The protect guard (by index in `guards.protect`) that holds, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protected_by: Option<usize>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub protect_trace: Vec<Explanation>,
    /// Each rule tried, in order; in `first_match` mode rules after the match are not tried.
    pub rules: Vec<RuleTrace>,
}

impl Decision {
    /// The actions to take, rule by rule (none for protected or unmatched subjects).
    pub fn actions<'r>(&self, rulebook: &'r Rulebook) -> Vec<(RuleId, &'r Action)> {
        if self.verdict != Verdict::Matched {
            return Vec::new();
        }
        self.matched
            .iter()
            .filter_map(|id| rulebook.rule(&id.0))
            .flat_map(|r| r.then.iter().map(move |a| (r.id.clone(), a)))
            .collect()
    }

    /// Whether some rule could not be decided because a path it read was missing.
    pub fn has_undecided(&self) -> bool {
        self.rules.iter().any(|t| t.outcome == Outcome::Undecided)
    }
}

/// The human key of a subject: the login it is about, else an id, else its position.
pub fn subject_key(kind: SubjectKind, subject: &Value, position: usize) -> String {
    let candidates: &[&str] = match kind {
        SubjectKind::Org2orgAssignment => &[
            "/spoke_user/profile/login",
            "/assignment/credentials/userName",
            "/assignment/id",
            "/user/profile/login",
        ],
        SubjectKind::User => &["/user/profile/login", "/user/id"],
    };
    candidates
        .iter()
        .find_map(|p| crate::subject::shape::at(subject, p).and_then(Value::as_str))
        .map_or_else(|| format!("subject #{}", position + 1), str::to_string)
}

/// What one walk of the guards and rules found, with what `R` records of each guard tried.
struct Walk<N> {
    verdict: Verdict,
    protected_by: Option<usize>,
    protect_trace: Vec<N>,
}

/// Decides one subject: guards first (stopping at the first that holds), then rules in evaluation
/// order (stopping at the first match in `first_match` mode), each rule tried handed to `tried`
/// with its index and outcome. The one implementation behind both [`evaluate`] (which explains)
/// and [`verdict`] (which does not, and allocates nothing per subject for it).
fn walk<R: Record>(
    rulebook: &Rulebook,
    subject: &Value,
    now: DateTime<Utc>,
    mut tried: impl FnMut(usize, Outcome, R::Node),
) -> Walk<R::Node> {
    if subject.get("collect_error").is_some_and(|e| !e.is_null()) {
        return Walk {
            verdict: Verdict::Unreadable,
            protected_by: None,
            protect_trace: Vec::new(),
        };
    }
    let mut protect_trace = Vec::new();
    let mut protected_by = None;
    for (i, guard) in rulebook.guards.protect.iter().enumerate() {
        let (outcome, node) = guard.eval::<R>(subject, now);
        protect_trace.push(node);
        if outcome == Outcome::Holds {
            protected_by = Some(i);
            break;
        }
    }
    let mut matched = false;
    for (i, rule) in rulebook.rules.iter().enumerate() {
        let (outcome, node) = rule.when.eval::<R>(subject, now);
        tried(i, outcome, node);
        if outcome == Outcome::Holds {
            matched = true;
            if rulebook.mode == Mode::FirstMatch {
                break;
            }
        }
    }
    let verdict = if protected_by.is_some() {
        Verdict::Protected
    } else if matched {
        Verdict::Matched
    } else {
        Verdict::NoMatch
    };
    Walk {
        verdict,
        protected_by,
        protect_trace,
    }
}

/// Evaluates a rulebook on one subject. Pure: the same inputs always give the same decision.
pub fn evaluate(
    rulebook: &Rulebook,
    subject: &Value,
    now: DateTime<Utc>,
    position: usize,
) -> Decision {
    let key = subject_key(rulebook.subjects.kind, subject, position);
    let mut matched = Vec::new();
    let mut rules = Vec::new();
    let walked = walk::<Explained>(rulebook, subject, now, |i, outcome, explanation| {
        let rule = &rulebook.rules[i];
        if outcome == Outcome::Holds {
            matched.push(rule.id.clone());
        }
        rules.push(RuleTrace {
            rule: rule.id.clone(),
            outcome,
            explanation,
        });
    });
    Decision {
        subject: key,
        verdict: walked.verdict,
        matched,
        protected_by: walked.protected_by,
        protect_trace: if walked.protected_by.is_some() {
            walked.protect_trace
        } else {
            Vec::new()
        },
        rules,
    }
}

/// The verdict alone, and whether some rule tried was undecided (a path it reads was missing),
/// without explanations: the fast path for planning, where unmatched subjects are only counted.
/// The same walk as [`evaluate`], recording nothing.
pub fn verdict(rulebook: &Rulebook, subject: &Value, now: DateTime<Utc>) -> (Verdict, bool) {
    let mut undecided = false;
    let walked = walk::<Quiet>(rulebook, subject, now, |_, outcome, ()| {
        undecided |= outcome == Outcome::Undecided;
    });
    (walked.verdict, undecided)
}

/// What [`verdict`] reads: every rule and guard path, with whether it needs the values' content
/// (`false` when only presence, count or null-ness matter, so a reader may keep just their shape).
pub fn verdict_reads(rulebook: &Rulebook) -> Vec<(&JsonPath, bool)> {
    use crate::condition::Op;
    rulebook
        .guards
        .protect
        .iter()
        .chain(rulebook.rules.iter().map(|r| &r.when))
        .flat_map(|c| c.leaves())
        .map(|l| {
            let content = !matches!(
                &l.op,
                Op::Exists(_) | Op::Count(_) | Op::Equals(Value::Null) | Op::NotEquals(Value::Null)
            );
            (&l.path, content)
        })
        .collect()
}

/// Paths every subject must keep for planning besides what rules read: its key and the fields
/// preconditions always record.
pub fn always_read(kind: SubjectKind) -> Vec<JsonPath> {
    let paths: &[&str] = match kind {
        SubjectKind::Org2orgAssignment => &[
            "$.spoke_user.profile.login",
            "$.spoke_user.id",
            "$.assignment.id",
            "$.assignment.credentials.userName",
            "$.assignment.lastUpdated",
            "$.assignment.syncState",
            "$.assignment.scope",
            "$.assignment.externalId",
            "$.user.id",
            "$.user.profile.login",
            "$.user.status",
            "$.user.lastUpdated",
            "$.app.id",
            "$.collect_error",
        ],
        SubjectKind::User => &[
            "$.org",
            "$.user.id",
            "$.user.profile.login",
            "$.user.status",
            "$.user.lastUpdated",
            "$.collect_error",
        ],
    };
    paths
        .iter()
        .filter_map(|p| JsonPath::compile(p).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // The fast verdict used for planning must agree with the explained evaluation on every shipped case.
    #[test]
    fn fast_verdict_agrees_with_evaluate() {
        let rb = crate::rulebook::load(std::path::Path::new("rules/org2org-password-sync.yaml"))
            .unwrap();
        assert!(rb.tests.len() >= 12);
        let now = Utc::now();
        for (i, case) in rb.tests.iter().enumerate() {
            let full = evaluate(&rb, &case.subject, case.now.unwrap_or(now), i);
            let (v, unknown) = verdict(&rb, &case.subject, case.now.unwrap_or(now));
            assert_eq!(v, full.verdict, "case {}", case.name);
            assert_eq!(unknown, full.has_undecided(), "case {}", case.name);
        }
    }
}
