//! The decision review of a subjects file (`remedy test --snapshot --subjects FILE`): every subject
//! decided and counted by its decision (verdict, matched rules, actions with their orgs), and the
//! first [`LISTED_PER_DECISION`] subjects of each decision, in file order, listed with their whole
//! explanation. Whatever the file's size, the review holds counts and at most that many explanations
//! per decision (and at most [`MAX_DECISIONS`] distinct decisions; subjects past those are counted
//! together), so a snapshot of a million subjects stays as small as one of a few hundred.
//!
//! Pure: the caller streams the file and hands each decision to [`SubjectsReview::add`].

use std::collections::BTreeMap;

use serde::Serialize;

use super::explain::explanation_lines;
use super::runner::yaml;
use crate::engine::{Decision, Verdict};
use crate::rulebook::Rulebook;

/// Subjects listed, with their explanation, per decision.
pub const LISTED_PER_DECISION: usize = 20;

/// Distinct decisions kept apart; the subjects of any further ones are counted together.
pub const MAX_DECISIONS: usize = 100;

/// One decision: the verdict's rank (one per verdict, in the order decisions are shown in), the
/// matched rules, the actions with their orgs.
type DecisionKey = (u8, Vec<String>, Vec<String>);

/// Every subject's decision counted, a bounded sample of each listed.
pub struct SubjectsReview<'a> {
    rb: &'a Rulebook,
    listed_per_decision: usize,
    subjects: u64,
    decisions: BTreeMap<DecisionKey, Group>,
    /// Subjects whose decision came after [`MAX_DECISIONS`] others.
    other: u64,
}

struct Group {
    verdict: Verdict,
    subjects: u64,
    listed: Vec<Listed>,
}

#[derive(Serialize)]
struct Listed {
    subject: String,
    explanation: Vec<String>,
}

#[derive(Serialize)]
struct DecisionRecord<'a> {
    verdict: Verdict,
    matched: &'a [String],
    actions: &'a [String],
    subjects: u64,
    listed: &'a [Listed],
    #[serde(skip_serializing_if = "is_zero")]
    unlisted: u64,
}

#[derive(Serialize)]
struct ReviewRecord<'a> {
    subjects_file: &'a str,
    subjects: u64,
    listed_per_decision: usize,
    decisions: Vec<DecisionRecord<'a>>,
    #[serde(skip_serializing_if = "is_zero")]
    other_decisions: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn rank(v: Verdict) -> u8 {
    match v {
        Verdict::Matched => 0,
        Verdict::Protected => 1,
        Verdict::Unreadable => 2,
        Verdict::NoMatch => 3,
    }
}

impl<'a> SubjectsReview<'a> {
    /// A review listing at most `listed_per_decision` subjects of each decision.
    pub fn new(rb: &'a Rulebook, listed_per_decision: usize) -> SubjectsReview<'a> {
        SubjectsReview {
            rb,
            listed_per_decision,
            subjects: 0,
            decisions: BTreeMap::new(),
            other: 0,
        }
    }

    /// Counts one subject's decision, and lists it while its decision has room.
    pub fn add(&mut self, decision: &Decision) {
        self.subjects += 1;
        let actions = decision
            .actions(self.rb)
            .iter()
            .map(|(_, a)| format!("{} on {}", a.name(), a.org))
            .collect();
        let matched = decision.matched.iter().map(|m| m.0.clone()).collect();
        let key = (rank(decision.verdict), matched, actions);
        if !self.decisions.contains_key(&key) && self.decisions.len() >= MAX_DECISIONS {
            self.other += 1;
            return;
        }
        let group = self.decisions.entry(key).or_insert_with(|| Group {
            verdict: decision.verdict,
            subjects: 0,
            listed: Vec::new(),
        });
        group.subjects += 1;
        if group.listed.len() < self.listed_per_decision {
            group.listed.push(Listed {
                subject: decision.subject.clone(),
                explanation: explanation(decision),
            });
        }
    }

    /// The snapshot body (YAML): counts, then each decision with its listed subjects.
    pub fn body(&self, subjects_file: &str) -> String {
        let decisions = self
            .decisions
            .iter()
            .map(|((_, matched, actions), g)| DecisionRecord {
                verdict: g.verdict,
                matched,
                actions,
                subjects: g.subjects,
                listed: &g.listed,
                unlisted: g.subjects - g.listed.len() as u64,
            })
            .collect();
        yaml(&ReviewRecord {
            subjects_file,
            subjects: self.subjects,
            listed_per_decision: self.listed_per_decision,
            decisions,
            other_decisions: self.other,
        })
    }

    /// How many subjects were reviewed.
    pub fn subjects(&self) -> u64 {
        self.subjects
    }
}

/// The guard that protects the subject, or each rule tried, as reviewable lines.
fn explanation(decision: &Decision) -> Vec<String> {
    let mut lines = Vec::new();
    if decision.verdict == Verdict::Protected {
        lines.push("guards.protect:".to_string());
        for e in &decision.protect_trace {
            explanation_lines(e, 1, &mut lines);
        }
    }
    for t in &decision.rules {
        lines.push(format!("rule {}:", t.rule));
        explanation_lines(&t.explanation, 1, &mut lines);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::evaluate;
    use serde_json::json;

    const RULES: &str = r#"
version: 1
name: t
subjects: { kind: user, org: hub }
rules:
  - id: locked
    when: { path: $.user.status, equals: LOCKED_OUT }
    then: [{ action: unlock, org: hub }]
"#;

    fn review(n: usize, listed: usize) -> String {
        let rb = crate::rulebook::parse(RULES, "t.yaml").unwrap();
        let now = chrono::Utc::now();
        let mut review = SubjectsReview::new(&rb, listed);
        for i in 0..n {
            let status = if i % 3 == 0 { "ACTIVE" } else { "LOCKED_OUT" };
            let s = json!({ "org": "hub", "user": { "id": format!("00u{i}"), "status": status,
                "profile": { "login": format!("u{i}@example.com") } } });
            review.add(&evaluate(&rb, &s, now, i));
        }
        assert_eq!(review.subjects(), n as u64);
        review.body("s.jsonl")
    }

    #[test]
    fn each_decision_lists_its_first_subjects_and_counts_the_rest() {
        let body = review(30, 2);
        assert!(body.contains("subjects: 30\n"), "{body}");
        assert!(body.contains("  subjects: 20\n"), "{body}");
        assert!(body.contains("  unlisted: 18\n"), "{body}");
        assert!(body.contains("  subjects: 10\n"), "{body}");
        assert!(body.contains("  unlisted: 8\n"), "{body}");
        assert_eq!(body.matches("- subject: ").count(), 4, "{body}");
        // Matched decisions come first.
        assert!(body.find("verdict: matched") < body.find("verdict: no_match"));
    }

    #[test]
    fn the_body_does_not_grow_with_the_file() {
        let (small, large) = (review(300, 2), review(3000, 2));
        // Only the five counts gain a digit.
        assert!(large.len() <= small.len() + 5, "{small}\n{large}");
    }
}
