//! Building a plan from decisions: the plan's subjects, steps, preconditions and summary. Planning and
//! `apply`'s live re-check of each subject both derive steps here, so a step is valid exactly when the
//! rulebook produces it.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use super::compact::{compact_nodes, compact_traces};
use super::stream::{Opening, PlanHead, PlanWriter};
use super::{Guard, Refusal, RulebookRef, FORMAT_VERSION};
use super::{Plan, PlanError, PlannedSubject, Precondition, Source, Step, StepAction, Summary};
use crate::condition::{member, Explanation, JsonPath};
use crate::engine::{Decision, Verdict};
use crate::rulebook::{Rulebook, Safety, SubjectKind};
use crate::subject::shape::{is_state_path, STATE_FIELDS};

/// Where a builder puts subjects and steps: kept in memory, or written to a plan file as they come.
enum Out {
    Memory {
        subjects: Vec<PlannedSubject>,
        steps: Vec<Step>,
    },
    Stream {
        writer: Box<PlanWriter<std::fs::File>>,
        path: String,
        /// The first write that failed; nothing more is written, and `finish_stream` reports it.
        failed: Option<std::io::Error>,
    },
}

/// Builds a plan incrementally from decisions, so subjects can stream through: in memory
/// ([`PlanBuilder::new`], for small plans), or straight to a file ([`PlanBuilder::to_file`]).
pub struct PlanBuilder<'r> {
    rulebook: &'r Rulebook,
    now: DateTime<Utc>,
    source: Source,
    out: Out,
    summary: Summary,
    /// The rules' conditions, as the plan holds them (see [`super::why`]).
    conditions: Value,
}

/// The first guard a plan is over: which, the count, the limit and where the rulebook sets it.
type Over = (Guard, u64, u64, String);

impl<'r> PlanBuilder<'r> {
    pub fn new(rulebook: &'r Rulebook, now: DateTime<Utc>, source: Source) -> Self {
        PlanBuilder {
            rulebook,
            now,
            source,
            out: Out::Memory {
                subjects: Vec::new(),
                steps: Vec::new(),
            },
            summary: Summary::default(),
            conditions: super::why::conditions(rulebook),
        }
    }

    /// A builder that writes the plan to `file` (at `path`, for messages) as subjects are added,
    /// holding none of them.
    pub fn to_file(
        rulebook: &'r Rulebook,
        now: DateTime<Utc>,
        source: Source,
        file: std::fs::File,
        path: &str,
    ) -> Result<Self, PlanError> {
        let now_text = now.to_rfc3339_opts(SecondsFormat::Secs, true);
        let rb = rulebook_ref(rulebook);
        let conditions = super::why::conditions(rulebook);
        let opening = Opening {
            rulebook: &rb,
            mode: rulebook.mode,
            now: &now_text,
            source: &source,
            conditions: &conditions,
        };
        let writer = PlanWriter::start(file, &opening).map_err(|source| PlanError::Write {
            path: path.to_string(),
            source,
        })?;
        Ok(PlanBuilder {
            rulebook,
            now,
            source,
            out: Out::Stream {
                writer: Box::new(writer),
                path: path.to_string(),
                failed: None,
            },
            summary: Summary::default(),
            conditions,
        })
    }

    /// Counts `no_match` subjects no rule matched, `undecided` of them with an undecided condition.
    pub fn add_unmatched_count(&mut self, no_match: u64, undecided: u64) {
        self.summary.subjects += no_match;
        self.summary.no_match += no_match;
        self.summary.undecided += undecided;
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
        let steps = if decision.verdict == Verdict::Matched {
            let first = self.summary.steps as usize + 1;
            derive_steps(self.rulebook, subject, decision, first)
        } else {
            Vec::new()
        };
        for step in &steps {
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
        }
        if !self.put_matched(subject, decision, &steps) {
            self.put(planned_subject(subject, decision), steps);
        }
    }

    /// Writes a matched subject and its steps straight from its decision when the plan is written
    /// as it goes; `false` when it is to be built and put with [`PlanBuilder::put`].
    fn put_matched(&mut self, subject: &Value, decision: &Decision, steps: &[Step]) -> bool {
        let Out::Stream { writer, failed, .. } = &mut self.out else {
            return false;
        };
        if decision.verdict != Verdict::Matched || decision.protected_by.is_some() {
            return false;
        }
        if failed.is_some() {
            return true;
        }
        let traces: Vec<&crate::engine::RuleTrace> = decision
            .rules
            .iter()
            .filter(|t| decision.matched.contains(&t.rule))
            .collect();
        match writer.matched_subject(&decision.subject, &traces, &subject_ids(subject), steps) {
            Ok(written) => written,
            Err(e) => {
                *failed = Some(e);
                true
            }
        }
    }

    fn put(&mut self, s: PlannedSubject, new_steps: Vec<Step>) {
        match &mut self.out {
            Out::Memory { subjects, steps } => {
                subjects.push(s);
                steps.extend(new_steps);
            }
            Out::Stream { writer, failed, .. } => {
                if failed.is_none() {
                    *failed = writer.subject(&s, &new_steps).err();
                }
            }
        }
    }

    /// The first guard the plan is over, checked in this order (a plan over both names max_actions).
    fn over(&self) -> Option<Over> {
        let at = |p: Option<crate::diagnostic::Position>| match p {
            Some(p) => format!("{}:{}:{}", self.rulebook.path, p.line, p.column),
            None => self.rulebook.path.clone(),
        };
        let g = &self.rulebook.guards;
        let s = &self.summary;
        g.max_actions
            .filter(|&limit| s.changing > limit)
            .map(|limit| (Guard::MaxActions, s.changing, limit, at(g.max_actions_at)))
            .or_else(|| {
                g.max_destructive
                    .filter(|&limit| s.destructive > limit)
                    .map(|limit| {
                        let at = at(g.max_destructive_at);
                        (Guard::MaxDestructive, s.destructive, limit, at)
                    })
            })
    }

    /// Finishes a plan built in memory: seals it with its checksum and enforces the guards. A plan
    /// over a guard is an error that carries the plan, marked `refused`, so it can still be written
    /// and reviewed.
    pub fn finish(self) -> Result<Plan, PlanError> {
        let over = self.over();
        let (subjects, steps) = match self.out {
            Out::Memory { subjects, steps } => (subjects, steps),
            Out::Stream { .. } => (Vec::new(), Vec::new()),
        };
        let mut plan = Plan {
            format_version: FORMAT_VERSION,
            plan_id: String::new(),
            rulebook: rulebook_ref(self.rulebook),
            mode: self.rulebook.mode,
            now: self.now.to_rfc3339_opts(SecondsFormat::Secs, true),
            source: self.source,
            conditions: self.conditions,
            subjects,
            steps,
            summary: self.summary,
            refused: over.as_ref().map(refusal),
            checksum: String::new(),
        };
        plan.seal();
        match over {
            None => Ok(plan),
            Some(over) => Err(guard_error(over, Some(Box::new(plan)))),
        }
    }

    /// Finishes a plan written to a file: writes the steps, summary and seal, and returns what the
    /// file holds but its subjects and steps. A plan over a guard is written (marked `refused`) and
    /// returned too: the caller refuses it with [`guard_error`] of [`PlanBuilder::refusal_of`].
    pub fn finish_stream(self) -> Result<(PlanHead, Option<PlanError>), PlanError> {
        let over = self.over();
        let Out::Stream {
            writer,
            path,
            failed,
        } = self.out
        else {
            return Err(PlanError::Read {
                path: String::new(),
                message: "not a streamed plan".into(),
            });
        };
        let write_err = |source| PlanError::Write {
            path: path.clone(),
            source,
        };
        if let Some(e) = failed {
            return Err(write_err(e));
        }
        let refused = over.as_ref().map(refusal);
        let (checksum, file) = writer
            .finish(&[], &self.summary, refused.as_ref())
            .map_err(write_err)?;
        file.sync_all().map_err(write_err)?;
        let head = PlanHead {
            format_version: FORMAT_VERSION,
            plan_id: super::stream::plan_id(&checksum),
            rulebook: rulebook_ref(self.rulebook),
            mode: self.rulebook.mode,
            now: self.now.to_rfc3339_opts(SecondsFormat::Secs, true),
            source: self.source,
            conditions: self.conditions,
            summary: self.summary,
            refused,
            checksum,
        };
        Ok((head, over.map(|o| guard_error(o, None))))
    }
}

fn rulebook_ref(rulebook: &Rulebook) -> RulebookRef {
    RulebookRef {
        name: rulebook.name.clone(),
        path: rulebook.path.clone(),
        sha256: rulebook.sha256.clone(),
    }
}

fn refusal(over: &Over) -> Refusal {
    Refusal {
        guard: over.0,
        count: over.1,
        limit: over.2,
    }
}

/// The error a plan over a guard is refused with, carrying the plan when it is in memory.
fn guard_error((guard, count, limit, at): Over, plan: Option<Box<Plan>>) -> PlanError {
    match guard {
        Guard::MaxActions => PlanError::TooManyActions {
            count,
            limit,
            at,
            plan,
        },
        Guard::MaxDestructive => PlanError::TooManyDestructive {
            count,
            limit,
            at,
            plan,
        },
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
        Verdict::Protected => compact_nodes(&decision.protect_trace),
        _ => {
            let traces: Vec<&crate::engine::RuleTrace> = decision
                .rules
                .iter()
                .filter(|t| decision.matched.contains(&t.rule))
                .collect();
            compact_traces(&traces)
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
        // The rule's own compiled leaves (an explanation has one leaf per leaf of the condition, in
        // order), so nothing is compiled or looked up again per subject.
        match rulebook.rule(&trace.rule.0) {
            Some(rule) => {
                for leaf in rule.when.leaves() {
                    let path = leaf.path.as_str();
                    if is_state_path(path) && !read.contains_key(path) {
                        let values = leaf.path.query(subject).into_iter().cloned().collect();
                        read.insert(path.to_string(), values);
                    }
                }
            }
            None => {
                for leaf in trace.explanation.leaves() {
                    if let Explanation::Leaf { path, .. } = leaf {
                        if is_state_path(path) && !read.contains_key(path) {
                            let values = JsonPath::compile(path)
                                .map(|p| p.query(subject).into_iter().cloned().collect())
                                .unwrap_or_default();
                            read.insert(path.clone(), values);
                        }
                    }
                }
            }
        }
    }
    for field in STATE_FIELDS {
        // Plain dotted paths: walked name by name, with no pointer text built per subject.
        let value = field.strip_prefix("$.").and_then(|rest| {
            rest.split('.').try_fold(subject, |v, name| {
                v.as_object().and_then(|m| member(m, name))
            })
        });
        if let Some(value) = value {
            read.entry((*field).to_string())
                .or_insert_with(|| vec![value.clone()]);
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
    let mut read = state_read(rulebook, subject, decision);
    let mut steps: Vec<Step> = Vec::new();
    let mut changed: Vec<&str> = Vec::new();
    let actions = decision.actions(rulebook);
    let last = actions.len().saturating_sub(1);
    for (i, (rule, action)) in actions.into_iter().enumerate() {
        let id = format!("s{:04}", first + steps.len());
        let unchanged = |p: &str| {
            !changed.iter().any(|c| {
                p.strip_prefix(*c)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
            })
        };
        // The last step takes what was read; the others copy it.
        let preconditions: Vec<Precondition> = if i == last {
            std::mem::take(&mut read)
                .into_iter()
                .filter(|(p, _)| unchanged(p))
                .map(|(path, values)| Precondition { path, values })
                .collect()
        } else {
            read.iter()
                .filter(|(p, _)| unchanged(p))
                .map(|(p, v)| Precondition {
                    path: p.clone(),
                    values: v.clone(),
                })
                .collect()
        };
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
