//! Building a plan from decisions: the plan's subjects, steps, preconditions and summary. Planning and
//! `apply`'s live re-check of each subject both derive steps here, so a step is valid exactly when the
//! rulebook produces it.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use super::{Guard, Refusal, RulebookRef, FORMAT_VERSION};
use super::{Plan, PlanError, PlannedSubject, Precondition, Source, Step, StepAction, Summary};
use crate::condition::Explanation;
use crate::engine::{Decision, Verdict};
use crate::rulebook::{Rulebook, Safety, SubjectKind};
use crate::subject::shape::{is_state_path, pointer_of, STATE_FIELDS};

/// Builds a plan incrementally from decisions, so subjects can stream through.
pub struct PlanBuilder<'r> {
    rulebook: &'r Rulebook,
    now: DateTime<Utc>,
    source: Source,
    subjects: Vec<PlannedSubject>,
    steps: Vec<Step>,
    summary: Summary,
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
                if decision.has_undecided() {
                    self.summary.undecided += 1;
                }
                return;
            }
            Verdict::Protected => self.summary.protected += 1,
            Verdict::Matched => self.summary.matched += 1,
            Verdict::Unreadable => self.summary.unknown += 1,
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

    /// Finishes the plan: seals it with its checksum and enforces the guards. A plan over a guard is
    /// an error that carries the plan, marked `refused`, so it can still be written and reviewed.
    pub fn finish(self) -> Result<Plan, PlanError> {
        let at = |p: Option<crate::diagnostic::Position>| match p {
            Some(p) => format!("{}:{}:{}", self.rulebook.path, p.line, p.column),
            None => self.rulebook.path.clone(),
        };
        let g = &self.rulebook.guards;
        // The first guard the plan is over, checked in this order (a plan over both names max_actions).
        let over = g
            .max_actions
            .filter(|&limit| self.summary.changing > limit)
            .map(|limit| {
                let n = self.summary.changing;
                (Guard::MaxActions, n, limit, at(g.max_actions_at))
            })
            .or_else(|| {
                g.max_destructive
                    .filter(|&limit| self.summary.destructive > limit)
                    .map(|limit| {
                        let n = self.summary.destructive;
                        (Guard::MaxDestructive, n, limit, at(g.max_destructive_at))
                    })
            });
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
            refused: over.as_ref().map(|&(guard, count, limit, _)| Refusal {
                guard,
                count,
                limit,
            }),
            checksum: String::new(),
        };
        plan.seal();
        match over {
            None => Ok(plan),
            Some((Guard::MaxActions, count, limit, at)) => Err(PlanError::TooManyActions {
                count,
                limit,
                at,
                plan: Box::new(plan),
            }),
            Some((Guard::MaxDestructive, count, limit, at)) => Err(PlanError::TooManyDestructive {
                count,
                limit,
                at,
                plan: Box::new(plan),
            }),
        }
    }
}

/// The ids the executor acts on, read from a subject (see [`crate::subject::shape`]).
pub fn subject_ids(subject: &Value) -> BTreeMap<String, String> {
    crate::subject::shape::ids(subject)
}

/// A subject as the plan lists it: its verdict, the rules that matched, its ids and why.
pub fn planned_subject(subject: &Value, decision: &Decision) -> PlannedSubject {
    let explanation = match decision.verdict {
        Verdict::Unreadable => {
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
