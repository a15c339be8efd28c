//! The explanation a plan keeps for each subject, within a size budget: the matched rule's (or the
//! guard's) explanation tree with every value shown cut to [`VALUE_BYTES`], at most [`SEEN_VALUES`]
//! values seen per leaf, and, if the tree is still over [`EXPLANATION_BUDGET`], only the leaves that
//! fit in it (`leaves`, `omitted`). A leaf's `seen_count` is kept only when values were left out. The full explanation is re-derived on demand by
//! `remedy explain --plan PLAN --subject KEY` from the pinned rulebook and the subject.

use serde_json::{json, Map, Value};

use crate::condition::{Explanation, Outcome, Quantifier};
use crate::engine::RuleTrace;

/// At most this many bytes of compact JSON for each value a leaf shows (`expected`, each of `seen`).
pub const VALUE_BYTES: usize = 64;
/// At most this many values seen per leaf (`seen_count` still says how many there were).
pub const SEEN_VALUES: usize = 3;
/// At most this many bytes of compact JSON for one subject's explanation in the plan.
pub const EXPLANATION_BUDGET: usize = 1024;

/// A value cut to at most [`VALUE_BYTES`] bytes of compact JSON: a long string keeps its start and
/// ends with `…`; an object or array that is too long becomes the start of its JSON text, as a string.
pub fn truncate_value(v: &Value) -> Value {
    let fits = match v {
        Value::Null | Value::Bool(_) => true,
        // Short and with nothing to escape: its JSON text is the string and two quotes.
        Value::String(s) if s.len() + 2 <= VALUE_BYTES => {
            s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') || size(v) <= VALUE_BYTES
        }
        _ => size(v) <= VALUE_BYTES,
    };
    if fits {
        return v.clone();
    }
    let text;
    let source = match v {
        Value::String(s) => s.as_str(),
        _ => {
            text = v.to_string();
            text.as_str()
        }
    };
    Value::String(cut(source, VALUE_BYTES.saturating_sub(5)))
}

/// The start of `s` in at most `max` bytes (on a character boundary), with `…` appended.
fn cut(s: &str, max: usize) -> String {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// An explanation tree (as JSON) with its leaves' values truncated. The reference [`truncate_node`]
/// is tested against.
#[cfg(test)]
fn truncate_tree(node: &Value) -> Value {
    match node {
        Value::Object(m) => {
            let mut out = Map::new();
            let shown = m.get("seen").and_then(Value::as_array).map(Vec::len);
            for (k, v) in m {
                // `seen_count` only says something when values were left out.
                if k == "seen_count"
                    && shown.is_some_and(|n| n <= SEEN_VALUES)
                    && v.as_u64() == shown.map(|n| n as u64)
                {
                    continue;
                }
                let v = match (k.as_str(), v) {
                    ("expected", v) => truncate_value(v),
                    ("seen", Value::Array(items)) => {
                        Value::Array(items.iter().take(SEEN_VALUES).map(truncate_value).collect())
                    }
                    (_, v) => truncate_tree(v),
                };
                out.insert(k.clone(), v);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(truncate_tree).collect()),
        other => other.clone(),
    }
}

/// The leaves of an explanation tree, in order.
fn leaves<'v>(node: &'v Value, out: &mut Vec<&'v Value>) {
    match node {
        Value::Object(m) if m.get("kind").and_then(Value::as_str) == Some("leaf") => out.push(node),
        Value::Object(m) => m.values().for_each(|v| leaves(v, out)),
        Value::Array(items) => items.iter().for_each(|v| leaves(v, out)),
        _ => {}
    }
}

/// Counts the bytes written to it, so a size is known without building the text.
struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The length of `v`'s compact JSON text.
fn size<T: serde::Serialize + ?Sized>(v: &T) -> usize {
    let mut c = Counter(0);
    // Writing to a counter cannot fail, and a `Value` always serializes.
    match serde_json::to_writer(&mut c, v) {
        Ok(()) => c.0,
        Err(_) => usize::MAX,
    }
}

/// The plan's explanation of the rules that matched (`[{rule, outcome, explanation}]`), the same as
/// [`compact`] of their JSON, built straight from the traces.
pub fn compact_traces(traces: &[&RuleTrace]) -> Value {
    let entries: Vec<Value> = traces
        .iter()
        .map(|t| {
            let mut m = Map::with_capacity(3);
            m.insert("rule".into(), Value::String(t.rule.0.clone()));
            m.insert("outcome".into(), outcome(t.outcome));
            m.insert("explanation".into(), truncate_node(&t.explanation));
            Value::Object(m)
        })
        .collect();
    within_budget(Value::Array(entries))
}

/// The plan's explanation of a guard's conditions (a list of explanation nodes), the same as
/// [`compact`] of their JSON, built straight from the nodes.
pub fn compact_nodes(nodes: &[Explanation]) -> Value {
    within_budget(Value::Array(nodes.iter().map(truncate_node).collect()))
}

fn outcome(o: Outcome) -> Value {
    Value::String(o.as_str().into())
}

/// [`truncate_tree`] of an explanation node's JSON, without building that JSON first.
fn truncate_node(e: &Explanation) -> Value {
    let mut m = Map::new();
    let kind = |k: &str| Value::String(k.into());
    match e {
        Explanation::All {
            outcome: o,
            children,
        }
        | Explanation::Any {
            outcome: o,
            children,
        } => {
            let k = if matches!(e, Explanation::All { .. }) {
                "all"
            } else {
                "any"
            };
            m.insert("kind".into(), kind(k));
            m.insert("outcome".into(), outcome(*o));
            m.insert(
                "children".into(),
                children.iter().map(truncate_node).collect(),
            );
        }
        Explanation::Not { outcome: o, child } => {
            m.insert("kind".into(), kind("not"));
            m.insert("outcome".into(), outcome(*o));
            m.insert("child".into(), truncate_node(child));
        }
        Explanation::Leaf {
            outcome: o,
            path,
            operator,
            expected,
            quantifier,
            seen,
            seen_count,
        } => {
            m.insert("kind".into(), kind("leaf"));
            m.insert("outcome".into(), outcome(*o));
            m.insert("path".into(), Value::String(path.clone()));
            m.insert("operator".into(), Value::String((*operator).into()));
            m.insert("expected".into(), truncate_value(expected));
            if *quantifier != Quantifier::Any {
                m.insert("quantifier".into(), kind(quantifier.as_str()));
            }
            let shown: Vec<Value> = seen.iter().take(SEEN_VALUES).map(truncate_value).collect();
            m.insert("seen".into(), Value::Array(shown));
            if !(seen.len() <= SEEN_VALUES && *seen_count == seen.len()) {
                m.insert("seen_count".into(), Value::from(*seen_count));
            }
        }
    }
    Value::Object(m)
}

/// One rule's (or guard's) explanation in the plan: truncated values, and within the budget.
/// `entry` is `{rule, outcome, explanation}` for a rule, or a bare explanation node for a guard.
/// The definition of the plan's explanation over its JSON: planning builds the same thing straight
/// from the traces ([`compact_traces`], [`compact_nodes`]), and the tests hold the two equal.
#[cfg(test)]
pub fn compact(explanation: &Value) -> Value {
    within_budget(truncate_tree(explanation))
}

/// A truncated explanation, or if it is over [`EXPLANATION_BUDGET`], the leaves of each entry that fit.
fn within_budget(truncated: Value) -> Value {
    if size(&truncated) <= EXPLANATION_BUDGET {
        return truncated;
    }
    // Over budget: keep, per entry, its rule and outcome and the leaves that fit.
    let entries: Vec<Value> = match &truncated {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    let mut used = 2;
    let mut out = Vec::new();
    for entry in &entries {
        let mut all = Vec::new();
        leaves(entry, &mut all);
        let mut kept = Vec::new();
        let mut head = Map::new();
        for key in ["rule", "outcome"] {
            if let Some(v) = entry.get(key) {
                head.insert(key.into(), v.clone());
            }
        }
        used += size(&Value::Object(head.clone())) + 40;
        for leaf in &all {
            let n = size(leaf) + 1;
            if used + n > EXPLANATION_BUDGET {
                break;
            }
            used += n;
            kept.push((*leaf).clone());
        }
        head.insert("omitted".into(), json!(all.len() - kept.len()));
        head.insert("leaves".into(), Value::Array(kept));
        out.push(Value::Object(head));
    }
    Value::Array(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(path: &str, seen: Vec<Value>) -> Value {
        json!({ "kind": "leaf", "outcome": "holds", "path": path, "operator": "equals",
                "expected": "x".repeat(200), "seen_count": seen.len(), "seen": seen })
    }

    /// The traces built straight into their compact form read the same as the compact form of
    /// their JSON, which is how the plan format defines them.
    #[test]
    fn compact_traces_equal_the_compact_json_of_the_traces() {
        use crate::condition::Quantifier;
        let long = "é".repeat(50);
        let leaf = |path: &str, seen: Vec<Value>, q: Quantifier| Explanation::Leaf {
            outcome: Outcome::Holds,
            path: path.into(),
            operator: "equals",
            expected: json!(long.clone()),
            quantifier: q,
            // Every count shown but the long paths', whose count equals what they show.
            seen_count: seen.len() + if path.len() > 8 { 0 } else { 2 },
            seen,
        };
        let small = Explanation::All {
            outcome: Outcome::Holds,
            children: vec![
                leaf("$.user.status", vec![json!("ACTIVE")], Quantifier::Any),
                Explanation::Not {
                    outcome: Outcome::Undecided,
                    child: Box::new(leaf(
                        "$.a",
                        vec![json!("q\"uote"), json!(null)],
                        Quantifier::All,
                    )),
                },
                leaf(
                    "$.b",
                    vec![
                        json!({"k": "v".repeat(80)}),
                        json!(1.5),
                        json!(true),
                        json!("x"),
                    ],
                    Quantifier::None,
                ),
            ],
        };
        let big = Explanation::Any {
            outcome: Outcome::Fails,
            children: (0..40)
                .map(|i| {
                    leaf(
                        &format!("$.f{i}"),
                        vec![json!("v".repeat(90)); 4],
                        Quantifier::Any,
                    )
                })
                .collect(),
        };
        for explanation in [small, big] {
            let trace = RuleTrace {
                rule: crate::rulebook::RuleId("r".into()),
                outcome: Outcome::Holds,
                explanation,
            };
            let via_json = compact(&serde_json::to_value([&trace]).unwrap());
            assert_eq!(compact_traces(&[&trace]), via_json);
            let nodes = vec![trace.explanation.clone()];
            assert_eq!(
                compact_nodes(&nodes),
                compact(&serde_json::to_value(&nodes).unwrap())
            );
        }
    }

    #[test]
    fn long_values_are_cut_and_marked() {
        let v = truncate_value(&json!("é".repeat(100)));
        let s = v.as_str().unwrap();
        assert!(s.ends_with('…'));
        assert!(v.to_string().len() <= VALUE_BYTES);
        let obj = truncate_value(&json!({ "a": "b".repeat(100) }));
        assert!(obj.as_str().unwrap().starts_with("{\"a\":\"bbb"));
        assert_eq!(truncate_value(&json!("short")), json!("short"));
    }

    #[test]
    fn an_explanation_stays_within_the_budget_and_counts_what_it_dropped() {
        let children: Vec<Value> = (0..40)
            .map(|i| {
                leaf(
                    &format!("$.user.profile.f{i}"),
                    vec![json!("v".repeat(90)); 9],
                )
            })
            .collect();
        let e = json!([{ "rule": "r", "outcome": "holds",
            "explanation": { "kind": "all", "outcome": "holds", "children": children } }]);
        let c = compact(&e);
        assert!(size(&c) <= EXPLANATION_BUDGET, "{} bytes", size(&c));
        assert_eq!(c[0]["rule"], "r");
        let kept = c[0]["leaves"].as_array().unwrap().len();
        assert!(kept >= 1);
        assert_eq!(c[0]["omitted"], json!(40 - kept));
        assert!(c[0]["leaves"][0]["seen"].as_array().unwrap().len() <= SEEN_VALUES);
    }

    #[test]
    fn a_small_explanation_keeps_its_tree_and_counts_only_what_it_leaves_out() {
        let e = json!([{ "rule": "r", "outcome": "holds",
            "explanation": { "kind": "leaf", "outcome": "holds", "path": "$.user.status",
              "operator": "equals", "expected": "ACTIVE", "seen": ["ACTIVE"], "seen_count": 1 } }]);
        let mut expected = e.clone();
        expected[0]["explanation"]
            .as_object_mut()
            .unwrap()
            .remove("seen_count");
        assert_eq!(compact(&e), expected);
        let many = json!({ "kind": "leaf", "outcome": "holds", "path": "$.a", "operator": "equals",
            "expected": 1, "seen": [1, 2, 3, 4, 5], "seen_count": 9 });
        assert_eq!(compact(&many)["seen_count"], 9);
        assert_eq!(compact(&many)["seen"], json!([1, 2, 3]));
    }
}
