//! The engine: `evaluate(rulebook, subject, now) -> Decision`. Pure and synchronous: guards first
//! (protected subjects get no actions), then rules in priority-then-file order, first match wins unless
//! the rulebook says `mode: all_matches`. Every decision carries the explanation of each rule it tried.
//! Turning decisions into steps is `plan`'s job.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::condition::{Explanation, JsonPath, Outcome};
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
    /// The collector could not read the subject fully (`collect_error`); no rule is tried.
    Unknown,
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
    pub fn has_unknown(&self) -> bool {
        self.rules.iter().any(|t| t.outcome == Outcome::Unknown)
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
        .find_map(|p| subject.pointer(p).and_then(Value::as_str))
        .map_or_else(|| format!("subject #{}", position + 1), str::to_string)
}

/// Evaluates a rulebook on one subject. Pure: the same inputs always give the same decision.
pub fn evaluate(
    rulebook: &Rulebook,
    subject: &Value,
    now: DateTime<Utc>,
    position: usize,
) -> Decision {
    let key = subject_key(rulebook.subjects.kind, subject, position);
    if subject.get("collect_error").is_some_and(|e| !e.is_null()) {
        return Decision {
            subject: key,
            verdict: Verdict::Unknown,
            matched: Vec::new(),
            protected_by: None,
            protect_trace: Vec::new(),
            rules: Vec::new(),
        };
    }
    let mut protect_trace = Vec::new();
    let mut protected_by = None;
    for (i, guard) in rulebook.guards.protect.iter().enumerate() {
        let e = guard.evaluate(subject, now);
        let holds = e.outcome() == Outcome::Holds;
        protect_trace.push(e);
        if holds {
            protected_by = Some(i);
            break;
        }
    }
    let mut rules = Vec::new();
    let mut matched = Vec::new();
    for rule in &rulebook.rules {
        let explanation = rule.when.evaluate(subject, now);
        let outcome = explanation.outcome();
        rules.push(RuleTrace {
            rule: rule.id.clone(),
            outcome,
            explanation,
        });
        if outcome == Outcome::Holds {
            matched.push(rule.id.clone());
            if rulebook.mode == Mode::FirstMatch {
                break;
            }
        }
    }
    let verdict = if protected_by.is_some() {
        Verdict::Protected
    } else if matched.is_empty() {
        Verdict::NoMatch
    } else {
        Verdict::Matched
    };
    Decision {
        subject: key,
        verdict,
        matched,
        protected_by,
        protect_trace: if protected_by.is_some() {
            protect_trace
        } else {
            Vec::new()
        },
        rules,
    }
}

/// The verdict alone, and whether some rule was undecided (a path it reads was missing), without
/// explanations: the fast path for planning, where unmatched subjects are only counted. Agrees with
/// [`evaluate`].
pub fn verdict(rulebook: &Rulebook, subject: &Value, now: DateTime<Utc>) -> (Verdict, bool) {
    if subject.get("collect_error").is_some_and(|e| !e.is_null()) {
        return (Verdict::Unknown, false);
    }
    let mut unknown = false;
    let mut matched = false;
    for rule in &rulebook.rules {
        match rule.when.outcome(subject, now) {
            Outcome::Holds => {
                matched = true;
                break;
            }
            Outcome::Unknown => unknown = true,
            Outcome::Fails => {}
        }
    }
    let protected = rulebook
        .guards
        .protect
        .iter()
        .any(|g| g.outcome(subject, now) == Outcome::Holds);
    let v = if protected {
        Verdict::Protected
    } else if matched {
        Verdict::Matched
    } else {
        Verdict::NoMatch
    };
    (v, unknown)
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
            if v == Verdict::NoMatch {
                assert_eq!(unknown, full.has_unknown(), "case {}", case.name);
            }
        }
    }
}
