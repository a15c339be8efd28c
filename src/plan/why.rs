//! Plan format 3's explanations of matched subjects (`why`): what a rule's explanation holds that does
//! not change from subject to subject (its condition's kinds, paths, operators and expected values)
//! is written once, in the plan's `conditions`, and each matched subject keeps only what it saw: one
//! letter per condition node for its outcome, and each leaf's values seen. Reading expands `why` back
//! into the same explanation tree format 2 stores ([`super::compact`]), so everything that shows a
//! plan reads one form. An explanation that cannot be written as `why` (over the explanation budget,
//! a guard's, an unreadable subject's) is stored whole as `explanation`, as in format 2.
//!
//! ```text
//! "conditions": {"<rule id>": {"kind":"all","children":[{"kind":"leaf","path":"$.user.status",
//!                 "operator":"equals","expected":"ACTIVE"}, ...]}, ...}
//! subject:      {..., "rules":["<rule id>"], "why":[{"outcomes":"hhf","seen":[["ACTIVE"],[...]]}]}
//! ```
//!
//! `why` has one entry per rule in `rules`, in order. `outcomes` has one letter per node of the rule's
//! condition in pre-order (`h` holds, `f` fails, `u` unknown); `seen` one entry per leaf, in order:
//! the values seen (each cut to [`VALUE_BYTES`], at most [`SEEN_VALUES`]), or `{"values": [...],
//! "count": N}` when values were left out.

use std::collections::HashMap;
use std::io::Write;

use serde_json::{Map, Value};

use super::compact::{truncate_value, EXPLANATION_BUDGET, SEEN_VALUES, VALUE_BYTES};
use crate::condition::{Condition, Explanation, Outcome, Quantifier};
use crate::engine::RuleTrace;
use crate::rulebook::Rulebook;

/// The `conditions` of a plan made from `rulebook`: each rule's condition as its explanation shows it,
/// without what a subject saw.
pub fn conditions(rulebook: &Rulebook) -> Value {
    Value::Object(
        rulebook
            .rules
            .iter()
            .map(|r| (r.id.0.clone(), shape_of(&r.when)))
            .collect(),
    )
}

fn shape_of(c: &Condition) -> Value {
    let mut m = Map::new();
    let kind = |k: &str| Value::String(k.into());
    match c {
        Condition::All(cs) | Condition::Any(cs) => {
            let k = if matches!(c, Condition::All(_)) {
                "all"
            } else {
                "any"
            };
            m.insert("kind".into(), kind(k));
            m.insert("children".into(), cs.iter().map(shape_of).collect());
        }
        Condition::Not(child) => {
            m.insert("kind".into(), kind("not"));
            m.insert("child".into(), shape_of(child));
        }
        Condition::Leaf(leaf) => {
            // As the explanation of a leaf shows it (`Explained::leaf`).
            m.insert("kind".into(), kind("leaf"));
            m.insert("path".into(), kind(leaf.path.as_str()));
            m.insert("operator".into(), kind(leaf.op.name().as_str()));
            m.insert("expected".into(), truncate_value(&leaf.op.operand()));
            if !leaf.op.is_collective() && leaf.quantifier != Quantifier::Any {
                m.insert("quantifier".into(), kind(leaf.quantifier.as_str()));
            }
        }
    }
    Value::Object(m)
}

/// One rule's condition as `conditions` holds it, with what a subject's explanation adds counted.
struct Shape {
    tree: Value,
    /// Bytes of the format 2 explanation entry (`{rule, outcome, explanation}`) with every outcome
    /// empty and every `seen` empty: what is the same for every subject.
    fixed: usize,
}

/// The plan's `conditions`, ready to write and read `why`.
#[derive(Default)]
pub struct Shapes {
    rules: HashMap<String, Shape>,
}

fn letter(o: Outcome) -> u8 {
    match o {
        Outcome::Holds => b'h',
        Outcome::Fails => b'f',
        Outcome::Undecided => b'u',
    }
}

fn word(letter: u8) -> Option<&'static str> {
    match letter {
        b'h' => Some("holds"),
        b'f' => Some("fails"),
        b'u' => Some("unknown"),
        _ => None,
    }
}

/// What [`expand_node`] reads a subject's part from.
struct Saw<'a> {
    outcomes: &'a [u8],
    at: usize,
    seen: &'a [Value],
    leaf: usize,
    /// Every outcome empty and every `seen` empty (to measure what does not change).
    blank: bool,
}

impl Saw<'_> {
    fn outcome(&mut self) -> Result<Value, String> {
        if self.blank {
            return Ok(Value::String(String::new()));
        }
        let l = *self
            .outcomes
            .get(self.at)
            .ok_or("`outcomes` is shorter than the rule's condition")?;
        self.at += 1;
        word(l)
            .map(|w| Value::String(w.into()))
            .ok_or_else(|| format!("`outcomes` has `{}`, not h, f or u", l as char))
    }

    /// The leaf's `seen` and `seen_count` (when values were left out).
    fn seen(&mut self) -> Result<(Value, Option<Value>), String> {
        if self.blank {
            return Ok((Value::Array(Vec::new()), None));
        }
        let entry = self
            .seen
            .get(self.leaf)
            .ok_or("`seen` has fewer entries than the rule's condition has leaves")?;
        self.leaf += 1;
        match entry {
            Value::Array(_) => Ok((entry.clone(), None)),
            Value::Object(m) => match (m.get("values"), m.get("count")) {
                (Some(v @ Value::Array(_)), Some(n @ Value::Number(_))) if m.len() == 2 => {
                    Ok((v.clone(), Some(n.clone())))
                }
                _ => Err("a `seen` entry is neither a list nor {values, count}".into()),
            },
            _ => Err("a `seen` entry is neither a list nor {values, count}".into()),
        }
    }
}

/// The format 2 explanation node of `shape` with what `saw` holds.
fn expand_node(shape: &Value, saw: &mut Saw<'_>, depth: usize) -> Result<Value, String> {
    if depth > 64 {
        return Err("the condition is nested more than 64 deep".into());
    }
    let bad = || "a condition in `conditions` is not a condition".to_string();
    let m = shape.as_object().ok_or_else(bad)?;
    let kind = m.get("kind").and_then(Value::as_str).ok_or_else(bad)?;
    let mut out = Map::new();
    out.insert("kind".into(), Value::String(kind.into()));
    out.insert("outcome".into(), saw.outcome()?);
    match kind {
        "all" | "any" => {
            let children = m
                .get("children")
                .and_then(Value::as_array)
                .ok_or_else(bad)?;
            let children = children
                .iter()
                .map(|c| expand_node(c, saw, depth + 1))
                .collect::<Result<Vec<_>, _>>()?;
            out.insert("children".into(), Value::Array(children));
        }
        "not" => {
            let child = m.get("child").ok_or_else(bad)?;
            out.insert("child".into(), expand_node(child, saw, depth + 1)?);
        }
        "leaf" => {
            for key in ["path", "operator", "expected"] {
                out.insert(key.into(), m.get(key).ok_or_else(bad)?.clone());
            }
            if let Some(q) = m.get("quantifier") {
                out.insert("quantifier".into(), q.clone());
            }
            let (seen, count) = saw.seen()?;
            out.insert("seen".into(), seen);
            if let Some(n) = count {
                out.insert("seen_count".into(), n);
            }
        }
        _ => return Err(bad()),
    }
    Ok(Value::Object(out))
}

/// Writes `v` as compact JSON cut as [`truncate_value`] cuts it, without copying it when it fits.
fn write_truncated(out: &mut Vec<u8>, v: &Value) {
    let start = out.len();
    // Writing to memory cannot fail, and a `Value` always serializes.
    if serde_json::to_writer(&mut *out, v).is_ok() && out.len() - start <= VALUE_BYTES {
        return;
    }
    out.truncate(start);
    drop(serde_json::to_writer(&mut *out, &truncate_value(v)));
}

impl Shapes {
    /// The shapes of a plan's `conditions` (`Value::Null` for a plan without them).
    pub fn new(conditions: &Value) -> Result<Shapes, String> {
        let mut rules = HashMap::new();
        let Some(map) = conditions.as_object() else {
            return match conditions {
                Value::Null => Ok(Shapes::default()),
                _ => Err("`conditions` is not an object".into()),
            };
        };
        for (id, tree) in map {
            let mut blank = Saw {
                outcomes: b"",
                at: 0,
                seen: &[],
                leaf: 0,
                blank: true,
            };
            let entry = entry(
                id,
                Value::String(String::new()),
                expand_node(tree, &mut blank, 0)?,
            );
            rules.insert(
                id.clone(),
                Shape {
                    tree: tree.clone(),
                    fixed: size(&entry),
                },
            );
        }
        Ok(Shapes { rules })
    }

    /// A matched subject's explanation (format 2's `[{rule, outcome, explanation}]`, one per rule in
    /// `rules`) as `why`, or `None` when it cannot be (then it is stored whole). Only what expands back
    /// to exactly `explanation` is returned.
    pub fn compress(&self, rules: &[String], explanation: &Value) -> Option<Value> {
        let entries = explanation.as_array()?;
        if entries.len() != rules.len() || rules.is_empty() {
            return None;
        }
        let mut why = Vec::with_capacity(entries.len());
        for e in entries {
            let mut outcomes = String::new();
            let mut seen = Vec::new();
            collect(e.get("explanation")?, &mut outcomes, &mut seen);
            why.push(serde_json::json!({ "outcomes": outcomes, "seen": seen }));
        }
        let why = Value::Array(why);
        (self.expand(rules, &why).ok()? == *explanation).then_some(why)
    }

    /// Format 2's explanation of a matched subject from its `why` and `rules`.
    pub fn expand(&self, rules: &[String], why: &Value) -> Result<Value, String> {
        let entries = why.as_array().ok_or("`why` is not a list")?;
        if entries.len() != rules.len() {
            return Err(format!(
                "`why` has {} entries for {} rules",
                entries.len(),
                rules.len()
            ));
        }
        let mut out = Vec::with_capacity(entries.len());
        for (rule, e) in rules.iter().zip(entries) {
            let shape = self
                .rules
                .get(rule)
                .ok_or_else(|| format!("rule `{rule}` is not in the plan's `conditions`"))?;
            let outcomes = e
                .get("outcomes")
                .and_then(Value::as_str)
                .ok_or("a `why` entry has no `outcomes`")?;
            let seen = e
                .get("seen")
                .and_then(Value::as_array)
                .ok_or("a `why` entry has no `seen`")?;
            let mut saw = Saw {
                outcomes: outcomes.as_bytes(),
                at: 0,
                seen,
                leaf: 0,
                blank: false,
            };
            let tree = expand_node(&shape.tree, &mut saw, 0)?;
            if saw.at != outcomes.len() || saw.leaf != seen.len() {
                return Err("`why` holds more than the rule's condition".into());
            }
            let root = tree.get("outcome").cloned().unwrap_or(Value::Null);
            out.push(entry(rule, root, tree));
        }
        Ok(Value::Array(out))
    }

    /// Writes `"why":[...]` for the matched rules' `traces` straight to `out`: the same bytes as
    /// [`Shapes::compress`] of [`super::compact::compact_traces`] gives, without building either.
    /// Writes nothing and returns `false` when that is `None` (over the explanation budget, or a
    /// trace that does not fit its rule's shape): then the explanation is stored whole.
    pub fn write_why(&self, out: &mut Vec<u8>, traces: &[&RuleTrace]) -> bool {
        let start = out.len();
        let ok = self.try_write_why(out, traces);
        if !ok {
            out.truncate(start);
        }
        ok
    }

    fn try_write_why(&self, out: &mut Vec<u8>, traces: &[&RuleTrace]) -> bool {
        if traces.is_empty() {
            return false;
        }
        // The size of format 2's compact explanation, which decides whether it is within budget.
        let mut v2 = 2 + traces.len() - 1;
        out.extend_from_slice(b"\"why\":[");
        for (i, t) in traces.iter().enumerate() {
            let Some(shape) = self.rules.get(&t.rule.0) else {
                return false;
            };
            if t.explanation.outcome() != t.outcome {
                return false;
            }
            if i > 0 {
                out.push(b',');
            }
            v2 += shape.fixed + t.outcome.as_str().len();
            out.extend_from_slice(b"{\"outcomes\":\"");
            if !outcomes(&t.explanation, &shape.tree, out, &mut v2) {
                return false;
            }
            out.extend_from_slice(b"\",\"seen\":[");
            let mut first = true;
            if !seen(&t.explanation, out, &mut first, &mut v2) {
                return false;
            }
            out.extend_from_slice(b"]}");
        }
        out.push(b']');
        v2 <= EXPLANATION_BUDGET
    }
}

fn entry(rule: &str, outcome: Value, tree: Value) -> Value {
    let mut m = Map::with_capacity(3);
    m.insert("rule".into(), Value::String(rule.into()));
    m.insert("outcome".into(), outcome);
    m.insert("explanation".into(), tree);
    Value::Object(m)
}

/// A format 2 explanation node's outcomes (pre-order letters) and leaves' `seen` entries.
fn collect(node: &Value, outcomes: &mut String, seen: &mut Vec<Value>) {
    let l = match node.get("outcome").and_then(Value::as_str) {
        Some("holds") => 'h',
        Some("fails") => 'f',
        Some("unknown") => 'u',
        _ => '?',
    };
    outcomes.push(l);
    if let Some(children) = node.get("children").and_then(Value::as_array) {
        children.iter().for_each(|c| collect(c, outcomes, seen));
    } else if let Some(child) = node.get("child") {
        collect(child, outcomes, seen);
    } else {
        let values = node.get("seen").cloned().unwrap_or(Value::Null);
        seen.push(match node.get("seen_count") {
            Some(n) => serde_json::json!({ "values": values, "count": n }),
            None => values,
        });
    }
}

/// Writes the pre-order outcome letters of `e`, checking it against its `shape`; adds each node's
/// outcome word to `v2`.
fn outcomes(e: &Explanation, shape: &Value, out: &mut Vec<u8>, v2: &mut usize) -> bool {
    let kind = shape.get("kind").and_then(Value::as_str);
    let o = e.outcome();
    out.push(letter(o));
    *v2 += o.as_str().len();
    match e {
        Explanation::All { children, .. } | Explanation::Any { children, .. } => {
            let want = if matches!(e, Explanation::All { .. }) {
                "all"
            } else {
                "any"
            };
            let Some(shapes) = shape.get("children").and_then(Value::as_array) else {
                return false;
            };
            kind == Some(want)
                && shapes.len() == children.len()
                && children
                    .iter()
                    .zip(shapes)
                    .all(|(c, s)| outcomes(c, s, out, v2))
        }
        Explanation::Not { child, .. } => {
            kind == Some("not")
                && shape
                    .get("child")
                    .is_some_and(|s| outcomes(child, s, out, v2))
        }
        Explanation::Leaf {
            path,
            operator,
            expected,
            quantifier,
            ..
        } => {
            kind == Some("leaf")
                && shape.get("path").and_then(Value::as_str) == Some(path.as_str())
                && shape.get("operator").and_then(Value::as_str) == Some(*operator)
                && shape.get("quantifier").and_then(Value::as_str)
                    == (*quantifier != Quantifier::Any).then_some(quantifier.as_str())
                && shape
                    .get("expected")
                    .is_some_and(|e| same_expected(e, expected))
        }
    }
}

/// Whether a leaf's `expected` shows as `shown` (its shape's): equal as it is, or once cut (only
/// a value too long to show whole needs cutting, so the short common case allocates nothing).
fn same_expected(shown: &Value, expected: &Value) -> bool {
    shown == expected || *shown == truncate_value(expected)
}

/// Writes the leaves' `seen` entries of `e`, in order; adds what they add to format 2's size to `v2`.
fn seen(e: &Explanation, out: &mut Vec<u8>, first: &mut bool, v2: &mut usize) -> bool {
    match e {
        Explanation::All { children, .. } | Explanation::Any { children, .. } => {
            children.iter().all(|c| seen(c, out, first, v2))
        }
        Explanation::Not { child, .. } => seen(child, out, first, v2),
        Explanation::Leaf {
            seen: values,
            seen_count,
            ..
        } => {
            if !*first {
                out.push(b',');
            }
            *first = false;
            let counted = !(values.len() <= SEEN_VALUES && *seen_count == values.len());
            if counted {
                out.extend_from_slice(b"{\"values\":");
            }
            out.push(b'[');
            let inner = out.len();
            for (i, v) in values.iter().take(SEEN_VALUES).enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_truncated(out, v);
            }
            *v2 += out.len() - inner;
            out.push(b']');
            if counted {
                let before = out.len();
                // Writing to memory cannot fail.
                drop(write!(out, ",\"count\":{seen_count}}}"));
                // `,"seen_count":N` in format 2 is 4 bytes longer than `,"count":N}`.
                *v2 += out.len() - before + 4;
            }
            true
        }
    }
}

/// The length of `v`'s compact JSON text.
fn size(v: &Value) -> usize {
    serde_json::to_vec(v).map_or(usize::MAX, |b| b.len())
}

#[cfg(test)]
mod tests;
