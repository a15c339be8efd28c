//! The condition language: compiled conditions (JSONPath queries and regexes built once at load time)
//! and their evaluation over a subject, with or without an explanation of every node. Pure: the clock
//! is the `now` passed in. Parsing conditions out of YAML belongs to `rulebook`, not here.
//!
//! Logic is three-valued. A path that yields nothing is *missing*; a comparison on a missing path is
//! *undecided* (only `exists: false` holds on it). `all` fails if any child fails, else is undecided
//! if any child is; `any` holds if any child holds, else is undecided if any child is; `not` swaps
//! holds and fails. A rule matches only when its condition holds. These laws are written once, in
//! [`Outcome::and`], [`Outcome::or`] and [`Outcome::not`], and the tree is walked once, by
//! [`Condition::eval`], whether or not an explanation is built.

mod op;
mod path;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

pub use op::{Bound, CountCmp, CountField, Op, OpName, OPERATORS};
pub use path::{member, JsonPath, JsonPathSyntaxError};

/// How many of a path's values must satisfy a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Quantifier {
    #[default]
    Any,
    All,
    None,
}

impl Quantifier {
    pub const ALL: &'static [Quantifier] = &[Quantifier::Any, Quantifier::All, Quantifier::None];

    pub const fn as_str(self) -> &'static str {
        match self {
            Quantifier::Any => "any",
            Quantifier::All => "all",
            Quantifier::None => "none",
        }
    }
}

/// The nodes that combine conditions, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Combinator {
    All,
    Any,
    Not,
}

impl Combinator {
    pub const ALL: &'static [Combinator] = &[Combinator::All, Combinator::Any, Combinator::Not];

    pub const fn as_str(self) -> &'static str {
        match self {
            Combinator::All => "all",
            Combinator::Any => "any",
            Combinator::Not => "not",
        }
    }
}

/// A compiled leaf: a path, an operator and a quantifier.
#[derive(Debug, Clone)]
pub struct Leaf {
    pub path: JsonPath,
    pub op: Op,
    pub quantifier: Quantifier,
}

/// A compiled condition tree.
#[derive(Debug, Clone)]
pub enum Condition {
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
    Leaf(Leaf),
}

/// The three-valued result of a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Holds,
    Fails,
    /// Neither: a comparison read a missing path. Written `unknown` in plans and explanations.
    #[serde(rename = "unknown")]
    Undecided,
}

#[allow(non_upper_case_globals)]
impl Outcome {
    fn from_bool(b: bool) -> Self {
        if b {
            Outcome::Holds
        } else {
            Outcome::Fails
        }
    }

    /// Three-valued conjunction: fails dominates, then undecided.
    pub fn and(self, other: Outcome) -> Outcome {
        match (self, other) {
            (Outcome::Fails, _) | (_, Outcome::Fails) => Outcome::Fails,
            (Outcome::Undecided, _) | (_, Outcome::Undecided) => Outcome::Undecided,
            _ => Outcome::Holds,
        }
    }

    /// Three-valued disjunction: holds dominates, then undecided.
    pub fn or(self, other: Outcome) -> Outcome {
        self.not().and(other.not()).not()
    }

    /// Three-valued negation: holds and fails swap, undecided stays.
    /// The outcome's word in explanations and plans (`holds`, `fails`, `unknown`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Holds => "holds",
            Outcome::Fails => "fails",
            Outcome::Undecided => "unknown",
        }
    }

    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Outcome {
        match self {
            Outcome::Holds => Outcome::Fails,
            Outcome::Fails => Outcome::Holds,
            Outcome::Undecided => Outcome::Undecided,
        }
    }

    /// The outcome that settles a combinator whatever its other children say.
    fn settles(self, comb: Combinator) -> bool {
        matches!(
            (comb, self),
            (Combinator::All, Outcome::Fails) | (Combinator::Any, Outcome::Holds)
        )
    }
}

/// At most this many values are kept per leaf in an explanation, so one huge array cannot bloat a plan.
const MAX_SEEN: usize = 5;

/// Why a condition came out the way it did, node by node.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Explanation {
    All {
        outcome: Outcome,
        children: Vec<Explanation>,
    },
    Any {
        outcome: Outcome,
        children: Vec<Explanation>,
    },
    Not {
        outcome: Outcome,
        child: Box<Explanation>,
    },
    Leaf {
        outcome: Outcome,
        path: String,
        operator: &'static str,
        expected: Value,
        #[serde(skip_serializing_if = "is_any")]
        quantifier: Quantifier,
        /// The values the path yielded (at most five), in document order.
        seen: Vec<Value>,
        /// How many values the path yielded in all.
        seen_count: usize,
    },
}

fn is_any(q: &Quantifier) -> bool {
    *q == Quantifier::Any
}

impl Explanation {
    pub fn outcome(&self) -> Outcome {
        match self {
            Explanation::All { outcome, .. }
            | Explanation::Any { outcome, .. }
            | Explanation::Not { outcome, .. }
            | Explanation::Leaf { outcome, .. } => *outcome,
        }
    }

    /// Every leaf of the explanation, depth first.
    pub fn leaves(&self) -> Vec<&Explanation> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(e) = stack.pop() {
            match e {
                Explanation::All { children, .. } | Explanation::Any { children, .. } => {
                    stack.extend(children.iter().rev())
                }
                Explanation::Not { child, .. } => stack.push(child),
                Explanation::Leaf { .. } => out.push(e),
            }
        }
        out
    }
}

/// What an evaluation records about each node besides its outcome. [`Condition::eval`] is generic
/// over it so that deciding and explaining share one walk and one set of three-valued laws.
pub trait Record {
    /// What is kept per node: `()` when only the outcome matters, an [`Explanation`] otherwise.
    type Node;
    /// Whether children after the one that settles a combinator are still evaluated (to show them).
    const EXHAUSTIVE: bool;
    fn leaf(leaf: &Leaf, values: &[&Value], outcome: Outcome) -> Self::Node;
    fn combine(comb: Combinator, outcome: Outcome, children: Vec<Self::Node>) -> Self::Node;
}

/// Records nothing: the fast path for subjects that will not be shown.
pub enum Quiet {}

impl Record for Quiet {
    type Node = ();
    const EXHAUSTIVE: bool = false;
    fn leaf(_: &Leaf, _: &[&Value], _: Outcome) {}
    fn combine(_: Combinator, _: Outcome, _: Vec<()>) {}
}

/// Records an [`Explanation`] of every node.
pub enum Explained {}

impl Record for Explained {
    type Node = Explanation;
    const EXHAUSTIVE: bool = true;
    fn leaf(leaf: &Leaf, values: &[&Value], outcome: Outcome) -> Explanation {
        Explanation::Leaf {
            outcome,
            path: leaf.path.as_str().to_string(),
            operator: leaf.op.name().as_str(),
            expected: leaf.op.operand(),
            quantifier: if leaf.op.is_collective() {
                Quantifier::Any
            } else {
                leaf.quantifier
            },
            seen: values.iter().take(MAX_SEEN).map(|v| (*v).clone()).collect(),
            seen_count: values.len(),
        }
    }
    fn combine(comb: Combinator, outcome: Outcome, mut children: Vec<Explanation>) -> Explanation {
        match comb {
            Combinator::All => Explanation::All { outcome, children },
            Combinator::Any => Explanation::Any { outcome, children },
            Combinator::Not => Explanation::Not {
                outcome,
                child: Box::new(children.pop().unwrap_or(Explanation::All {
                    outcome: Outcome::Holds,
                    children: Vec::new(),
                })),
            },
        }
    }
}

impl Condition {
    /// The condition written back as rulebook JSON (`{path, <operator>: operand}` leaves under
    /// `all`/`any`/`not`), so a plan can show it to a reviewer (`apply` evaluates the rulebook's
    /// compiled condition, never this copy).
    pub fn to_json(&self) -> Value {
        match self {
            Condition::All(cs) => {
                serde_json::json!({ "all": cs.iter().map(Condition::to_json).collect::<Vec<_>>() })
            }
            Condition::Any(cs) => {
                serde_json::json!({ "any": cs.iter().map(Condition::to_json).collect::<Vec<_>>() })
            }
            Condition::Not(c) => serde_json::json!({ "not": c.to_json() }),
            Condition::Leaf(l) => {
                let mut m = serde_json::Map::new();
                m.insert("path".into(), Value::String(l.path.as_str().to_string()));
                m.insert(l.op.name().as_str().into(), l.op.operand());
                if l.quantifier != Quantifier::Any {
                    m.insert(
                        "quantifier".into(),
                        Value::String(l.quantifier.as_str().into()),
                    );
                }
                Value::Object(m)
            }
        }
    }

    /// Evaluates the condition on `subject` at `now`, recording what `R` keeps of each node.
    pub fn eval<R: Record>(&self, subject: &Value, now: DateTime<Utc>) -> (Outcome, R::Node) {
        let (comb, children): (Combinator, &[Condition]) = match self {
            Condition::Leaf(leaf) => {
                let values = leaf.path.query(subject);
                let outcome = leaf.outcome_of(&values, now);
                return (outcome, R::leaf(leaf, &values, outcome));
            }
            Condition::Not(child) => {
                let (outcome, node) = child.eval::<R>(subject, now);
                let outcome = outcome.not();
                return (outcome, R::combine(Combinator::Not, outcome, vec![node]));
            }
            Condition::All(cs) => (Combinator::All, cs),
            Condition::Any(cs) => (Combinator::Any, cs),
        };
        // The identity of `and` is holds, of `or` fails.
        let mut outcome = match comb {
            Combinator::Any => Outcome::Fails,
            _ => Outcome::Holds,
        };
        let mut nodes = Vec::new();
        for c in children {
            let (o, node) = c.eval::<R>(subject, now);
            nodes.push(node);
            outcome = match comb {
                Combinator::Any => outcome.or(o),
                _ => outcome.and(o),
            };
            if !R::EXHAUSTIVE && outcome.settles(comb) {
                break;
            }
        }
        (outcome, R::combine(comb, outcome, nodes))
    }

    /// The condition's outcome alone, without building an explanation (the fast path for subjects
    /// that will not be shown).
    pub fn outcome(&self, subject: &Value, now: DateTime<Utc>) -> Outcome {
        self.eval::<Quiet>(subject, now).0
    }

    /// Evaluates the condition on `subject` at `now`, explaining every node.
    pub fn evaluate(&self, subject: &Value, now: DateTime<Utc>) -> Explanation {
        self.eval::<Explained>(subject, now).1
    }

    /// Every leaf of the condition, in file order.
    pub fn leaves(&self) -> Vec<&Leaf> {
        match self {
            Condition::All(cs) | Condition::Any(cs) => cs.iter().flat_map(|c| c.leaves()).collect(),
            Condition::Not(c) => c.leaves(),
            Condition::Leaf(l) => vec![l],
        }
    }
}

impl Leaf {
    /// The leaf's outcome given the values its path yielded (none: the path is missing).
    fn outcome_of(&self, values: &[&Value], now: DateTime<Utc>) -> Outcome {
        if let Op::Exists(want) = &self.op {
            Outcome::from_bool(values.is_empty() != *want)
        } else if let Op::Count(cmps) = &self.op {
            let n = values.len() as u64;
            Outcome::from_bool(cmps.iter().all(|c| c.test(n)))
        } else if values.is_empty() {
            Outcome::Undecided
        } else {
            let mut results = values.iter().map(|v| self.op.test_one(v, now));
            Outcome::from_bool(match self.quantifier {
                Quantifier::Any => results.any(|b| b),
                Quantifier::All => results.all(|b| b),
                Quantifier::None => !results.any(|b| b),
            })
        }
    }

    pub fn evaluate(&self, subject: &Value, now: DateTime<Utc>) -> Explanation {
        let values = self.path.query(subject);
        let outcome = self.outcome_of(&values, now);
        Explained::leaf(self, &values, outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn leaf(path: &str, op: Op) -> Condition {
        Condition::Leaf(Leaf {
            path: JsonPath::compile(path).unwrap(),
            op,
            quantifier: Quantifier::Any,
        })
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-10T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn missing_path_is_unknown_except_for_exists_false() {
        let s = json!({"user": {"status": "ACTIVE"}});
        let eq = leaf("$.user.missing", Op::Equals(json!("x")));
        assert_eq!(eq.evaluate(&s, now()).outcome(), Outcome::Undecided);
        let ex = leaf("$.user.missing", Op::Exists(false));
        assert_eq!(ex.evaluate(&s, now()).outcome(), Outcome::Holds);
        let not = Condition::Not(Box::new(eq));
        assert_eq!(not.evaluate(&s, now()).outcome(), Outcome::Undecided);
    }

    #[test]
    fn types_are_strict_and_null_is_present() {
        let s = json!({"n": 5, "z": null});
        assert_eq!(
            leaf("$.n", Op::Equals(json!("5")))
                .evaluate(&s, now())
                .outcome(),
            Outcome::Fails
        );
        assert_eq!(
            leaf("$.n", Op::Equals(json!(5)))
                .evaluate(&s, now())
                .outcome(),
            Outcome::Holds
        );
        assert_eq!(
            leaf("$.z", Op::Equals(Value::Null))
                .evaluate(&s, now())
                .outcome(),
            Outcome::Holds
        );
        assert_eq!(
            leaf("$.q", Op::Equals(Value::Null))
                .evaluate(&s, now())
                .outcome(),
            Outcome::Undecided
        );
    }

    #[test]
    fn numbers_equal_by_value_other_types_strictly() {
        let s = json!({"n": 5, "f": 5.0, "xs": [1, 2.5], "o": {"a": 1}});
        let holds = |path: &str, op: Op| leaf(path, op).evaluate(&s, now()).outcome();
        assert_eq!(holds("$.n", Op::Equals(json!(5.0))), Outcome::Holds);
        assert_eq!(holds("$.f", Op::Equals(json!(5))), Outcome::Holds);
        assert_eq!(
            holds("$.f", Op::In(vec![json!(4), json!(5)])),
            Outcome::Holds
        );
        assert_eq!(holds("$.xs", Op::Contains(json!(1.0))), Outcome::Holds);
        assert_eq!(holds("$.xs", Op::Equals(json!([1.0, 2.5]))), Outcome::Holds);
        assert_eq!(holds("$.o", Op::Equals(json!({"a": 1.0}))), Outcome::Holds);
        assert_eq!(holds("$.n", Op::NotEquals(json!(5.0))), Outcome::Fails);
        assert_eq!(holds("$.n", Op::Equals(json!("5"))), Outcome::Fails);
        assert_eq!(holds("$.n", Op::Equals(json!(5.5))), Outcome::Fails);
        assert_eq!(Op::Gt(Bound::Number(3.0)).operand(), json!(3));
        assert_eq!(Op::Gt(Bound::Number(2.5)).operand(), json!(2.5));
    }

    #[test]
    fn quantifiers_and_time() {
        let s = json!({"e": [{"t": "2026-01-01T00:00:00Z"}, {"t": "2026-01-09T12:00:00Z"}]});
        let mut l = Leaf {
            path: JsonPath::compile("$.e[*].t").unwrap(),
            op: Op::OlderThan(Duration::from_secs(3 * 86400)),
            quantifier: Quantifier::Any,
        };
        assert_eq!(l.evaluate(&s, now()).outcome(), Outcome::Holds);
        l.quantifier = Quantifier::All;
        assert_eq!(l.evaluate(&s, now()).outcome(), Outcome::Fails);
        l.quantifier = Quantifier::None;
        assert_eq!(l.evaluate(&s, now()).outcome(), Outcome::Fails);
        let gt = leaf(
            "$.e[*].t",
            Op::Gt(Bound::Time(
                DateTime::parse_from_rfc3339("2026-01-05T00:00:00Z")
                    .unwrap()
                    .with_timezone(&Utc),
            )),
        );
        assert_eq!(gt.evaluate(&s, now()).outcome(), Outcome::Holds);
        let count = leaf("$.e[*]", Op::Count(vec![CountCmp::Gte(2)]));
        assert_eq!(count.evaluate(&s, now()).outcome(), Outcome::Holds);
    }

    #[test]
    fn bad_path_reports_column() {
        let e = JsonPath::compile("$.a[?@.b ==").unwrap_err();
        assert_eq!(e.column, Some(12));
        assert!(JsonPath::compile("user.status").is_err());
        assert_eq!(
            JsonPath::compile("$.user.profile.login")
                .unwrap()
                .field_prefix(),
            vec!["user", "profile", "login"]
        );
    }

    /// The quiet walk short-circuits, the explained one does not; both give the same outcome on
    /// every combination of children.
    #[test]
    fn quiet_and_explained_walks_agree() {
        let s = json!({"a": 1});
        let holds = leaf("$.a", Op::Equals(json!(1)));
        let fails = leaf("$.a", Op::Equals(json!(2)));
        let undecided = leaf("$.missing", Op::Equals(json!(1)));
        let kids = [holds, fails, undecided];
        for x in &kids {
            for y in &kids {
                for c in [
                    Condition::All(vec![x.clone(), y.clone()]),
                    Condition::Any(vec![x.clone(), y.clone()]),
                    Condition::Not(Box::new(x.clone())),
                    Condition::All(Vec::new()),
                    Condition::Any(Vec::new()),
                ] {
                    assert_eq!(c.outcome(&s, now()), c.evaluate(&s, now()).outcome());
                }
            }
        }
    }
}
