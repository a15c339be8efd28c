//! Leaf operators: their names as written in a rulebook ([`OpName`]), their compiled operands
//! ([`Op`]) and how one value is tested against them. How a leaf's outcome follows from the tests of
//! its values (quantifiers, missing paths) is `condition`'s business.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use regex::Regex;
use serde_json::Value;

/// A leaf operator's name, as written in a rulebook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpName {
    Equals,
    NotEquals,
    In,
    NotIn,
    Exists,
    Matches,
    Contains,
    StartsWith,
    Gt,
    Gte,
    Lt,
    Lte,
    OlderThan,
    NewerThan,
    Count,
}

impl OpName {
    /// Every operator, in the order the documentation lists them.
    pub const ALL: &'static [OpName] = &[
        OpName::Equals,
        OpName::NotEquals,
        OpName::In,
        OpName::NotIn,
        OpName::Exists,
        OpName::Matches,
        OpName::Contains,
        OpName::StartsWith,
        OpName::Gt,
        OpName::Gte,
        OpName::Lt,
        OpName::Lte,
        OpName::OlderThan,
        OpName::NewerThan,
        OpName::Count,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            OpName::Equals => "equals",
            OpName::NotEquals => "not_equals",
            OpName::In => "in",
            OpName::NotIn => "not_in",
            OpName::Exists => "exists",
            OpName::Matches => "matches",
            OpName::Contains => "contains",
            OpName::StartsWith => "starts_with",
            OpName::Gt => "gt",
            OpName::Gte => "gte",
            OpName::Lt => "lt",
            OpName::Lte => "lte",
            OpName::OlderThan => "older_than",
            OpName::NewerThan => "newer_than",
            OpName::Count => "count",
        }
    }
}

impl fmt::Display for OpName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every operator name, as written in a rulebook (built from [`OpName::ALL`]).
pub const OPERATORS: [&str; OpName::ALL.len()] = {
    let mut out = [""; OpName::ALL.len()];
    let mut i = 0;
    while i < out.len() {
        out[i] = OpName::ALL[i].as_str();
        i += 1;
    }
    out
};

/// A bound for `gt`/`gte`/`lt`/`lte`: a number, or an instant given as an RFC 3339 timestamp.
#[derive(Debug, Clone, PartialEq)]
pub enum Bound {
    Number(f64),
    Time(DateTime<Utc>),
}

/// The comparisons `count` accepts, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountField {
    Equals,
    Gt,
    Gte,
    Lt,
    Lte,
}

impl CountField {
    pub const ALL: &'static [CountField] = &[
        CountField::Equals,
        CountField::Gt,
        CountField::Gte,
        CountField::Lt,
        CountField::Lte,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            CountField::Equals => "equals",
            CountField::Gt => "gt",
            CountField::Gte => "gte",
            CountField::Lt => "lt",
            CountField::Lte => "lte",
        }
    }
}

/// One comparison of `count` with its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountCmp {
    Equals(u64),
    Gt(u64),
    Gte(u64),
    Lt(u64),
    Lte(u64),
}

impl CountCmp {
    pub fn new(field: CountField, n: u64) -> Self {
        match field {
            CountField::Equals => CountCmp::Equals(n),
            CountField::Gt => CountCmp::Gt(n),
            CountField::Gte => CountCmp::Gte(n),
            CountField::Lt => CountCmp::Lt(n),
            CountField::Lte => CountCmp::Lte(n),
        }
    }

    /// The comparison's name and number.
    pub fn parts(self) -> (CountField, u64) {
        match self {
            CountCmp::Equals(n) => (CountField::Equals, n),
            CountCmp::Gt(n) => (CountField::Gt, n),
            CountCmp::Gte(n) => (CountField::Gte, n),
            CountCmp::Lt(n) => (CountField::Lt, n),
            CountCmp::Lte(n) => (CountField::Lte, n),
        }
    }

    /// Whether a count of `n` values passes.
    pub fn test(self, n: u64) -> bool {
        match self {
            CountCmp::Equals(x) => n == x,
            CountCmp::Gt(x) => n > x,
            CountCmp::Gte(x) => n >= x,
            CountCmp::Lt(x) => n < x,
            CountCmp::Lte(x) => n <= x,
        }
    }
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

impl Op {
    pub fn name(&self) -> OpName {
        match self {
            Op::Equals(_) => OpName::Equals,
            Op::NotEquals(_) => OpName::NotEquals,
            Op::In(_) => OpName::In,
            Op::NotIn(_) => OpName::NotIn,
            Op::Exists(_) => OpName::Exists,
            Op::Matches(_) => OpName::Matches,
            Op::Contains(_) => OpName::Contains,
            Op::StartsWith(_) => OpName::StartsWith,
            Op::Gt(_) => OpName::Gt,
            Op::Gte(_) => OpName::Gte,
            Op::Lt(_) => OpName::Lt,
            Op::Lte(_) => OpName::Lte,
            Op::OlderThan(_) => OpName::OlderThan,
            Op::NewerThan(_) => OpName::NewerThan,
            Op::Count(_) => OpName::Count,
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
                    let (field, n) = c.parts();
                    m.insert(field.as_str().into(), Value::from(n));
                }
                Value::Object(m)
            }
        }
    }

    /// Whether this operator looks at the set of values as a whole (quantifiers do not apply).
    pub fn is_collective(&self) -> bool {
        matches!(self, Op::Exists(_) | Op::Count(_))
    }

    /// Whether one value passes a per-value operator (collective operators never do).
    pub(super) fn test_one(&self, v: &Value, now: DateTime<Utc>) -> bool {
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
