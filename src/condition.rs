//! The condition language: compiled conditions (JSONPath queries and regexes built once at load time)
//! and their evaluation over a subject, with an explanation of every leaf. Pure: the clock is the `now`
//! passed in. Parsing conditions out of YAML belongs to `rulebook`, not here.
//!
//! Logic is three-valued: a path that yields nothing makes a comparison *unknown* (only
//! `exists: false` holds on it). `all` fails if any child fails, else is unknown if any child is unknown;
//! `any` holds if any child holds, else is unknown if any child is unknown; `not` swaps holds and fails.
//! A rule matches only when its condition holds.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonpath_rust::parser::model::JpQuery;
use regex::Regex;
use serde::Serialize;
use serde_json::Value;

/// A JSONPath query compiled once, remembering its source text.
#[derive(Debug, Clone)]
pub struct JsonPath {
    source: String,
    query: JpQuery,
    /// The same query as plain steps when it only uses names and `[*]` (most rulebook paths), walked
    /// directly: jsonpath-rust builds a normalized path string for every value it visits, which
    /// dominates evaluation time on large inputs.
    simple: Option<Vec<Step>>,
}

/// One step of a simple path.
#[derive(Debug, Clone)]
enum Step {
    Name(String),
    Wildcard,
    Index(i64),
}

fn simple_steps(query: &JpQuery) -> Option<Vec<Step>> {
    use jsonpath_rust::parser::model::{Segment, Selector};
    query
        .segments
        .iter()
        .map(|seg| match seg {
            Segment::Selector(Selector::Name(n)) => {
                Some(Step::Name(n.trim_matches(['\'', '"']).to_string()))
            }
            Segment::Selector(Selector::Wildcard) => Some(Step::Wildcard),
            Segment::Selector(Selector::Index(i)) => Some(Step::Index(*i)),
            _ => None,
        })
        .collect()
}

fn walk<'a>(v: &'a Value, steps: &[Step], out: &mut Vec<&'a Value>) {
    let Some((first, rest)) = steps.split_first() else {
        out.push(v);
        return;
    };
    match (first, v) {
        (Step::Name(n), Value::Object(m)) => {
            if let Some(child) = m.get(n) {
                walk(child, rest, out);
            }
        }
        (Step::Wildcard, Value::Object(m)) => m.values().for_each(|c| walk(c, rest, out)),
        (Step::Wildcard, Value::Array(a)) => a.iter().for_each(|c| walk(c, rest, out)),
        (Step::Index(i), Value::Array(a)) => {
            let idx = if *i < 0 { a.len() as i64 + i } else { *i };
            if let Some(child) = usize::try_from(idx).ok().and_then(|i| a.get(i)) {
                walk(child, rest, out);
            }
        }
        _ => {}
    }
}

/// Why a JSONPath does not compile, with the 1-based character column inside the path when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPathSyntaxError {
    pub column: Option<usize>,
    pub message: String,
}

impl JsonPath {
    pub fn compile(source: &str) -> Result<Self, JsonPathSyntaxError> {
        if !source.starts_with('$') {
            return Err(JsonPathSyntaxError {
                column: Some(1),
                message: "a path must start at the subject root `$`".into(),
            });
        }
        match jsonpath_rust::parser::parse_json_path(source) {
            Ok(query) => Ok(JsonPath {
                source: source.to_string(),
                simple: simple_steps(&query),
                query,
            }),
            Err(jsonpath_rust::parser::errors::JsonPathError::PestError(e)) => {
                let column = match e.line_col {
                    pest::error::LineColLocation::Pos((_, c)) => c,
                    pest::error::LineColLocation::Span((_, c), _) => c,
                };
                let expected = match &e.variant {
                    pest::error::ErrorVariant::ParsingError { positives, .. }
                        if !positives.is_empty() =>
                    {
                        format!(
                            "expected {}",
                            positives
                                .iter()
                                .map(|r| format!("{r:?}").replace('_', " "))
                                .collect::<Vec<_>>()
                                .join(" or ")
                        )
                    }
                    pest::error::ErrorVariant::CustomError { message } => message.clone(),
                    _ => "unexpected input".to_string(),
                };
                Err(JsonPathSyntaxError {
                    column: Some(column),
                    message: expected,
                })
            }
            Err(other) => Err(JsonPathSyntaxError {
                column: None,
                message: other.to_string().to_lowercase(),
            }),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Every value the path yields on `subject` (none when the path is missing).
    pub fn query<'a>(&self, subject: &'a Value) -> Vec<&'a Value> {
        if let Some(steps) = &self.simple {
            let mut out = Vec::new();
            walk(subject, steps, &mut out);
            return out;
        }
        match jsonpath_rust::query::js_path_process(&self.query, subject) {
            Ok(refs) => refs.into_iter().map(|r| r.val()).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// The path as field steps (`None` for a name, `Some` wildcard for `[*]` or an index), when it
    /// has only those; `None` for filters, slices, unions and recursive descent.
    pub fn field_steps(&self) -> Option<Vec<Option<String>>> {
        self.simple.as_ref().map(|steps| {
            steps
                .iter()
                .map(|s| match s {
                    Step::Name(n) => Some(n.clone()),
                    Step::Wildcard | Step::Index(_) => None,
                })
                .collect()
        })
    }

    /// The leading chain of plain field names (`$.user.profile.login` → user, profile, login), which is
    /// what a subject must keep for this path to see the same values. A wildcard, filter or recursive
    /// descent stops the chain, meaning "keep the whole subtree from here".
    pub fn field_prefix(&self) -> Vec<String> {
        use jsonpath_rust::parser::model::{Segment, Selector};
        let mut out = Vec::new();
        for seg in &self.query.segments {
            match seg {
                Segment::Selector(Selector::Name(n)) => {
                    out.push(n.trim_matches(['\'', '"']).to_string())
                }
                _ => break,
            }
        }
        out
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// How many of a path's values must satisfy a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Quantifier {
    #[default]
    Any,
    All,
    None,
}

/// A bound for `gt`/`gte`/`lt`/`lte`: a number, or an instant given as an RFC 3339 timestamp.
#[derive(Debug, Clone, PartialEq)]
pub enum Bound {
    Number(f64),
    Time(DateTime<Utc>),
}

/// Comparisons `count` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountCmp {
    Equals(u64),
    Gt(u64),
    Gte(u64),
    Lt(u64),
    Lte(u64),
}

/// A leaf operator with its compiled operand.
#[derive(Debug, Clone)]
pub enum Op {
    Equals(Value),
    NotEquals(Value),
    In(Vec<Value>),
    NotIn(Vec<Value>),
    Exists(bool),
    Matches(Regex),
    Contains(Value),
    StartsWith(String),
    Gt(Bound),
    Gte(Bound),
    Lt(Bound),
    Lte(Bound),
    OlderThan(Duration),
    NewerThan(Duration),
    Count(Vec<CountCmp>),
}

/// Every operator name, as written in a rulebook.
pub const OPERATORS: &[&str] = &[
    "equals",
    "not_equals",
    "in",
    "not_in",
    "exists",
    "matches",
    "contains",
    "starts_with",
    "gt",
    "gte",
    "lt",
    "lte",
    "older_than",
    "newer_than",
    "count",
];

impl Op {
    pub fn name(&self) -> &'static str {
        match self {
            Op::Equals(_) => "equals",
            Op::NotEquals(_) => "not_equals",
            Op::In(_) => "in",
            Op::NotIn(_) => "not_in",
            Op::Exists(_) => "exists",
            Op::Matches(_) => "matches",
            Op::Contains(_) => "contains",
            Op::StartsWith(_) => "starts_with",
            Op::Gt(_) => "gt",
            Op::Gte(_) => "gte",
            Op::Lt(_) => "lt",
            Op::Lte(_) => "lte",
            Op::OlderThan(_) => "older_than",
            Op::NewerThan(_) => "newer_than",
            Op::Count(_) => "count",
        }
    }

    /// The operand as JSON, for explanations.
    pub fn operand(&self) -> Value {
        fn bound(b: &Bound) -> Value {
            match b {
                // Show `gt: 3` as 3, not 3.0: the bound is kept as f64 only to compare.
                Bound::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => Value::from(*n as i64),
                Bound::Number(n) => {
                    serde_json::Number::from_f64(*n).map_or(Value::Null, Value::Number)
                }
                Bound::Time(t) => {
                    Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
                }
            }
        }
        match self {
            Op::Equals(v) | Op::NotEquals(v) | Op::Contains(v) => v.clone(),
            Op::In(vs) | Op::NotIn(vs) => Value::Array(vs.clone()),
            Op::Exists(b) => Value::Bool(*b),
            Op::Matches(r) => Value::String(r.as_str().to_string()),
            Op::StartsWith(s) => Value::String(s.clone()),
            Op::Gt(b) | Op::Gte(b) | Op::Lt(b) | Op::Lte(b) => bound(b),
            Op::OlderThan(d) | Op::NewerThan(d) => {
                Value::String(humantime::format_duration(*d).to_string())
            }
            Op::Count(cmps) => {
                let mut m = serde_json::Map::new();
                for c in cmps {
                    let (k, n) = match c {
                        CountCmp::Equals(n) => ("equals", n),
                        CountCmp::Gt(n) => ("gt", n),
                        CountCmp::Gte(n) => ("gte", n),
                        CountCmp::Lt(n) => ("lt", n),
                        CountCmp::Lte(n) => ("lte", n),
                    };
                    m.insert(k.into(), Value::from(*n));
                }
                Value::Object(m)
            }
        }
    }

    /// Whether this operator looks at the set of values as a whole (quantifiers do not apply).
    fn is_collective(&self) -> bool {
        matches!(self, Op::Exists(_) | Op::Count(_))
    }

    fn test_one(&self, v: &Value, now: DateTime<Utc>) -> bool {
        match self {
            Op::Equals(x) => same(v, x),
            Op::NotEquals(x) => !same(v, x),
            Op::In(xs) => xs.iter().any(|x| same(v, x)),
            Op::NotIn(xs) => !xs.iter().any(|x| same(v, x)),
            Op::Matches(r) => v.as_str().is_some_and(|s| r.is_match(s)),
            Op::Contains(x) => match (v, x) {
                (Value::String(s), Value::String(needle)) => s.contains(needle.as_str()),
                (Value::Array(items), x) => items.iter().any(|i| same(i, x)),
                _ => false,
            },
            Op::StartsWith(p) => v.as_str().is_some_and(|s| s.starts_with(p.as_str())),
            Op::Gt(b) => compare(v, b).is_some_and(|o| o.is_gt()),
            Op::Gte(b) => compare(v, b).is_some_and(|o| o.is_ge()),
            Op::Lt(b) => compare(v, b).is_some_and(|o| o.is_lt()),
            Op::Lte(b) => compare(v, b).is_some_and(|o| o.is_le()),
            Op::OlderThan(d) => age(v, now).is_some_and(|a| a > *d),
            Op::NewerThan(d) => age(v, now).is_some_and(|a| a < *d),
            Op::Exists(_) | Op::Count(_) => false,
        }
    }
}

/// JSON equality with numbers compared by value: `5` equals `5.0` (both are JSON numbers; only the
/// YAML or JSON spelling differs). Every other type compares strictly, so `5` never equals `"5"`.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            x.as_f64() == y.as_f64()
        }
        (Value::Array(xs), Value::Array(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same(x, y))
        }
        (Value::Object(xs), Value::Object(ys)) => {
            xs.len() == ys.len()
                && xs
                    .iter()
                    .all(|(k, x)| ys.get(k).is_some_and(|y| same(x, y)))
        }
        _ => a == b,
    }
}

fn parse_time(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// Strict comparison: numbers with numbers, timestamps with timestamps; anything else is no match.
fn compare(v: &Value, b: &Bound) -> Option<std::cmp::Ordering> {
    match b {
        Bound::Number(n) => v.as_f64().and_then(|x| x.partial_cmp(n)),
        Bound::Time(t) => parse_time(v).map(|x| x.cmp(t)),
    }
}

/// How long ago the timestamp `v` was; a timestamp in the future has age zero.
fn age(v: &Value, now: DateTime<Utc>) -> Option<Duration> {
    let t = parse_time(v)?;
    Some((now - t).to_std().unwrap_or(Duration::ZERO))
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
    Unknown,
}

impl Outcome {
    fn from_bool(b: bool) -> Self {
        if b {
            Outcome::Holds
        } else {
            Outcome::Fails
        }
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

impl Condition {
    /// The condition written back as rulebook JSON (`{path, <operator>: operand}` leaves under
    /// `all`/`any`/`not`), so a plan can carry it and `rulebook::condition_from_json` can rebuild it.
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
                m.insert(l.op.name().into(), l.op.operand());
                if l.quantifier != Quantifier::Any {
                    m.insert(
                        "quantifier".into(),
                        serde_json::to_value(l.quantifier).unwrap_or(Value::Null),
                    );
                }
                Value::Object(m)
            }
        }
    }

    /// The condition's outcome alone, without building an explanation (the fast path for subjects
    /// that will not be shown). Always equal to `evaluate(..).outcome()`.
    pub fn outcome(&self, subject: &Value, now: DateTime<Utc>) -> Outcome {
        match self {
            Condition::All(children) => {
                let mut unknown = false;
                for c in children {
                    match c.outcome(subject, now) {
                        Outcome::Fails => return Outcome::Fails,
                        Outcome::Unknown => unknown = true,
                        Outcome::Holds => {}
                    }
                }
                if unknown {
                    Outcome::Unknown
                } else {
                    Outcome::Holds
                }
            }
            Condition::Any(children) => {
                let mut unknown = false;
                for c in children {
                    match c.outcome(subject, now) {
                        Outcome::Holds => return Outcome::Holds,
                        Outcome::Unknown => unknown = true,
                        Outcome::Fails => {}
                    }
                }
                if unknown {
                    Outcome::Unknown
                } else {
                    Outcome::Fails
                }
            }
            Condition::Not(child) => match child.outcome(subject, now) {
                Outcome::Holds => Outcome::Fails,
                Outcome::Fails => Outcome::Holds,
                Outcome::Unknown => Outcome::Unknown,
            },
            Condition::Leaf(leaf) => leaf.outcome_of(&leaf.path.query(subject), now),
        }
    }

    /// Evaluates the condition on `subject` at `now`, explaining every node.
    pub fn evaluate(&self, subject: &Value, now: DateTime<Utc>) -> Explanation {
        match self {
            Condition::All(children) => {
                let children: Vec<Explanation> =
                    children.iter().map(|c| c.evaluate(subject, now)).collect();
                let outcome = if children.iter().any(|c| c.outcome() == Outcome::Fails) {
                    Outcome::Fails
                } else if children.iter().any(|c| c.outcome() == Outcome::Unknown) {
                    Outcome::Unknown
                } else {
                    Outcome::Holds
                };
                Explanation::All { outcome, children }
            }
            Condition::Any(children) => {
                let children: Vec<Explanation> =
                    children.iter().map(|c| c.evaluate(subject, now)).collect();
                let outcome = if children.iter().any(|c| c.outcome() == Outcome::Holds) {
                    Outcome::Holds
                } else if children.iter().any(|c| c.outcome() == Outcome::Unknown) {
                    Outcome::Unknown
                } else {
                    Outcome::Fails
                };
                Explanation::Any { outcome, children }
            }
            Condition::Not(child) => {
                let child = child.evaluate(subject, now);
                let outcome = match child.outcome() {
                    Outcome::Holds => Outcome::Fails,
                    Outcome::Fails => Outcome::Holds,
                    Outcome::Unknown => Outcome::Unknown,
                };
                Explanation::Not {
                    outcome,
                    child: Box::new(child),
                }
            }
            Condition::Leaf(leaf) => leaf.evaluate(subject, now),
        }
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
    fn outcome_of(&self, values: &[&Value], now: DateTime<Utc>) -> Outcome {
        if let Op::Exists(want) = &self.op {
            Outcome::from_bool(values.is_empty() != *want)
        } else if let Op::Count(cmps) = &self.op {
            let n = values.len() as u64;
            Outcome::from_bool(cmps.iter().all(|c| match c {
                CountCmp::Equals(x) => n == *x,
                CountCmp::Gt(x) => n > *x,
                CountCmp::Gte(x) => n >= *x,
                CountCmp::Lt(x) => n < *x,
                CountCmp::Lte(x) => n <= *x,
            }))
        } else if values.is_empty() {
            Outcome::Unknown
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
        Explanation::Leaf {
            outcome,
            path: self.path.as_str().to_string(),
            operator: self.op.name(),
            expected: self.op.operand(),
            quantifier: if self.op.is_collective() {
                Quantifier::Any
            } else {
                self.quantifier
            },
            seen: values.iter().take(MAX_SEEN).map(|v| (*v).clone()).collect(),
            seen_count: values.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
        assert_eq!(eq.evaluate(&s, now()).outcome(), Outcome::Unknown);
        let ex = leaf("$.user.missing", Op::Exists(false));
        assert_eq!(ex.evaluate(&s, now()).outcome(), Outcome::Holds);
        let not = Condition::Not(Box::new(eq));
        assert_eq!(not.evaluate(&s, now()).outcome(), Outcome::Unknown);
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
            Outcome::Unknown
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
}
