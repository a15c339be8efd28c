//! `why` against its definition: what [`Shapes::write_why`] writes straight from rule traces is
//! byte for byte [`Shapes::compress`] of the format 2 explanation ([`compact_traces`]), written or
//! not in exactly the same cases; `expand` gives that explanation back; malformed `why` and
//! `conditions` are errors.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::*;
use crate::condition::{Explanation, Outcome, Quantifier};
use crate::engine::RuleTrace;
use crate::plan::compact::{compact_traces, EXPLANATION_BUDGET};
use crate::rulebook::{self, RuleId, Rulebook};

/// Nesting of `all`/`any`/`not`, a leaf that cannot be decided, quantifiers, `count`, a long
/// expected value and strings that need escaping.
const RULEBOOK: &str = r#"
version: 1
name: why-tests
mode: all_matches
subjects: { kind: user, org: hub }
rules:
  - id: nested
    when:
      all:
        - { path: $.user.status, equals: ACTIVE }
        - not: { path: $.user.lastLogin, exists: true }
        - any:
            - { path: '$.user.profile.tags[*]', equals: admin }
            - { path: $.user.profile.department, in: [Sales, "Support \"Tier\" 2\\3"] }
            - all:
                - { path: $.user.profile.missing, equals: x }
                - not: { path: $.user.profile.title, starts_with: "xx" }
    then: [{ action: report, message: nested }]
  - id: quantified
    when:
      any:
        - { path: '$.user.profile.tags[*]', equals: admin, quantifier: none }
        - { path: '$.user.profile.tags[*]', matches: '^[a-z]', quantifier: all }
    then: [{ action: report, message: quantified }]
  - id: counted
    when: { path: '$.user.profile.tags[*]', count: { gte: 2, lt: 9 } }
    then: [{ action: report, message: counted }]
  - id: long-expected
    when:
      not: { path: $.user.profile.title, equals: "ééééééééééééééééééééééééééééééééééééééééééééééééééééé and more" }
    then: [{ action: report, message: long }]
  - id: "esc\"aped"
    when: { path: $.user.profile.note, contains: "quote \" back \\ tab \t" }
    then: [{ action: report, message: escaped }]
  - id: wide
    when:
      any:
        - { path: $.user.profile.f0, equals: v }
        - { path: $.user.profile.f1, equals: v }
        - { path: $.user.profile.f2, equals: v }
        - { path: $.user.profile.f3, equals: v }
        - { path: $.user.profile.f4, equals: v }
        - { path: $.user.profile.f5, equals: v }
        - { path: '$.user.profile.g[*]', equals: v }
        - { path: $.user.profile.f6, equals: v }
    then: [{ action: report, message: wide }]
"#;

fn rulebook() -> Rulebook {
    rulebook::parse(RULEBOOK, "why-tests.yaml").unwrap_or_else(|e| panic!("{e:?}"))
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-29T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn shapes(rb: &Rulebook) -> Shapes {
    Shapes::new(&conditions(rb)).unwrap()
}

/// Holds `write_why` to `compress(compact_traces(traces))`: the same bytes after what `out` held,
/// or nothing written and `false` exactly when `compress` gives `None`; and `expand` of what was
/// written (read back from its text) is the format 2 explanation. Returns `compress`'s answer.
fn check(shapes: &Shapes, traces: &[&RuleTrace]) -> Option<Value> {
    let v2 = compact_traces(traces);
    let rules: Vec<String> = traces.iter().map(|t| t.rule.0.clone()).collect();
    let why = shapes.compress(&rules, &v2);
    let mut out = b"{\"key\":1,".to_vec();
    let written = shapes.write_why(&mut out, traces);
    match &why {
        Some(why) => {
            assert!(written, "write_why refused what compress took: {v2}");
            let mut want = b"{\"key\":1,\"why\":".to_vec();
            want.extend(serde_json::to_vec(why).unwrap());
            assert_eq!(
                String::from_utf8(out.clone()).unwrap(),
                String::from_utf8(want).unwrap()
            );
            out.push(b'}');
            let read: Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(shapes.expand(&rules, &read["why"]).unwrap(), v2);
            // The expansion is the format 2 text itself, not only an equal value.
            let expanded = shapes.expand(&rules, why).unwrap();
            assert_eq!(expanded.to_string(), v2.to_string());
        }
        None => {
            assert!(!written, "write_why wrote what compress refused: {v2}");
            assert_eq!(out, b"{\"key\":1,");
        }
    }
    why
}

/// A user subject with `profile` and the top-level user fields of `user`.
fn subject(user: Value, profile: Value) -> Value {
    let mut u = json!({ "id": "00u1", "status": "ACTIVE", "profile": profile });
    if let (Some(m), Value::Object(extra)) = (u.as_object_mut(), user) {
        m.extend(extra);
    }
    json!({ "org": "hub", "user": u })
}

fn subjects() -> Vec<Value> {
    let long = "x".repeat(100);
    vec![
        // Three small rules match; `nested` cannot be decided (no department).
        subject(
            json!({}),
            json!({ "login": "a@example.com", "tags": ["x", "y"], "title": "short" }),
        ),
        subject(
            json!({ "lastLogin": null }),
            json!({ "tags": ["admin", "b", "c"], "department": "Support \"Tier\" 2\\3" }),
        ),
        // Five tags: three shown, the count kept; long values and values needing escapes.
        subject(
            json!({ "status": "SUSPENDED" }),
            json!({ "tags": [long, "q\"uote\\", "tab\tnew\nline", {"k": long}, 7],
                    "title": long, "note": "quote \" back \\ tab \t é" }),
        ),
        // Seven tags (more than the engine keeps, five), numbers, null, booleans, an object.
        subject(
            json!({ "lastLogin": "2026-11-01T00:00:00.000Z" }),
            json!({ "tags": [1.5, null, true, "admin", {"a": [1, 2]}, "z", "y"],
                    "title": "ééééééééééééééééééééééééééééééééééééééééééééééééééééé and more",
                    "department": "Sales" }),
        ),
        // Every `wide` leaf sees a long value: over the budget in all_matches.
        subject(
            json!({}),
            json!({ "f6": "v", "f0": long, "f1": long, "f2": long, "f3": long, "f4": long, "f5": long,
                    "g": [long, long, long, long], "tags": ["a", "b"] }),
        ),
    ]
}

#[test]
fn write_why_writes_what_compress_gives_for_engine_traces() {
    let rb = rulebook();
    let shapes = shapes(&rb);
    let (mut written, mut whole, mut several) = (0, 0, 0);
    let mut letters = std::collections::BTreeSet::new();
    for (i, s) in subjects().iter().enumerate() {
        let d = crate::engine::evaluate(&rb, s, now(), i);
        assert_eq!(
            d.rules.len(),
            rb.rules.len(),
            "all_matches tries every rule"
        );
        // Every rule's trace alone, whatever its outcome (holds, fails, unknown).
        for t in &d.rules {
            match check(&shapes, &[t]) {
                Some(why) => {
                    written += 1;
                    letters.extend(why[0]["outcomes"].as_str().unwrap().chars());
                }
                None => whole += 1,
            }
        }
        // The matched rules together, as a plan stores a matched subject.
        let matched: Vec<&RuleTrace> = d
            .rules
            .iter()
            .filter(|t| d.matched.contains(&t.rule))
            .collect();
        if matched.len() > 1 && check(&shapes, &matched).is_some() {
            several += 1;
        }
    }
    assert!(
        written >= 20 && whole >= 1 && several >= 2,
        "{written} {whole} {several}"
    );
    assert_eq!(letters.into_iter().collect::<String>(), "fhu");
}

/// A rule `any` of `leaves` leaves on `$.user.profile.fN` (as `conditions` holds it), and a trace
/// of it whose leaves saw `seen(n)`.
fn wide(leaves: usize, seen: impl Fn(usize) -> Vec<Value>) -> (Shapes, RuleTrace) {
    let children: Vec<Value> = (0..leaves)
        .map(|n| {
            json!({ "kind": "leaf", "path": format!("$.user.profile.f{n}"),
                         "operator": "equals", "expected": "v" })
        })
        .collect();
    let shapes = Shapes::new(&json!({ "r": { "kind": "any", "children": children } })).unwrap();
    let trace = RuleTrace {
        rule: RuleId("r".into()),
        outcome: Outcome::Fails,
        explanation: Explanation::Any {
            outcome: Outcome::Fails,
            children: (0..leaves)
                .map(|n| {
                    let seen = seen(n);
                    Explanation::Leaf {
                        outcome: Outcome::Fails,
                        path: format!("$.user.profile.f{n}"),
                        operator: "equals",
                        expected: json!("v"),
                        quantifier: Quantifier::Any,
                        seen_count: seen.len(),
                        seen,
                    }
                })
                .collect(),
        },
    };
    (shapes, trace)
}

/// Grows one value seen a byte at a time across the budget: the last explanation kept as `why` is
/// exactly [`EXPLANATION_BUDGET`] bytes in format 2, the next is stored whole, and `write_why`
/// agrees at every size. With `counted`, the growing leaf saw more values than are shown.
fn budget_edge(counted: bool) {
    let mut last_fit = None;
    let mut first_over = None;
    for len in 0..=60 {
        let (shapes, trace) = wide(8, |n| match n {
            0 if counted => vec![json!("y".repeat(len)), json!(1), json!(2), json!(3)],
            0 => vec![json!("y".repeat(len))],
            _ => vec![json!("z".repeat(5))],
        });
        match check(&shapes, &[&trace]) {
            Some(_) => {
                assert!(first_over.is_none(), "fits again at {len} after being over");
                last_fit = Some(compact_traces(&[&trace]).to_string().len());
            }
            None => first_over = first_over.or(Some(len)),
        }
    }
    assert_eq!(last_fit, Some(EXPLANATION_BUDGET), "counted: {counted}");
    assert!(
        first_over.is_some(),
        "the sizes tried never crossed the budget"
    );
}

#[test]
fn the_budget_edge_is_the_same_for_write_why_and_compress() {
    budget_edge(false);
    budget_edge(true);
}

/// Leaves whose `seen_count` is not what `seen` holds (a count without the values, fewer values
/// than counted, as many as shown) keep their count; values are cut to [`VALUE_BYTES`].
#[test]
fn counts_and_cut_values_are_written_as_compress_writes_them() {
    let cases: Vec<(Vec<Value>, usize)> = vec![
        (vec![], 0),
        (vec![], 4),
        (vec![json!("a")], 1),
        (vec![json!("a")], 2),
        (vec![json!(1), json!(2), json!(3)], 3),
        (vec![json!(1), json!(2), json!(3), json!(4)], 4),
        (
            vec![
                json!("é".repeat(40)),
                json!({"k": "v".repeat(70)}),
                json!("\"\\\u{1}"),
            ],
            9,
        ),
    ];
    for (seen, count) in cases {
        let (shapes, mut trace) = wide(1, |_| seen.clone());
        if let Explanation::Any { children, .. } = &mut trace.explanation {
            if let Some(Explanation::Leaf { seen_count, .. }) = children.first_mut() {
                *seen_count = count;
            }
        }
        let why = check(&shapes, &[&trace]).unwrap();
        let entry = &why[0]["seen"][0];
        let counted = !(seen.len() <= 3 && count == seen.len());
        assert_eq!(entry.is_object(), counted, "{entry}");
        if counted {
            assert_eq!(entry["count"], json!(count));
        }
        // Each value as it is, or cut to its first bytes and `…`.
        let shown = entry.get("values").unwrap_or(entry).as_array().unwrap();
        for (v, was) in shown.iter().zip(&seen) {
            let cut = v.as_str().filter(|s| s.ends_with('…'));
            assert!(
                v == was || cut.is_some_and(|s| s.len() < VALUE_BYTES),
                "{v}"
            );
        }
    }
}

/// Traces that do not fit their rule's shape (another kind, path, operator, expected value or
/// quantifier, another number of children, an outcome not the root's, a rule not in `conditions`)
/// are not written as `why`, exactly as `compress` refuses them.
#[test]
fn a_trace_that_does_not_fit_its_shape_is_not_written() {
    let leaf = |path: &str, expected: Value, q: Quantifier| Explanation::Leaf {
        outcome: Outcome::Holds,
        path: path.into(),
        operator: "equals",
        expected,
        quantifier: q,
        seen: vec![json!("v")],
        seen_count: 1,
    };
    let shapes = Shapes::new(&json!({
        "r": { "kind": "leaf", "path": "$.a", "operator": "equals", "expected": "v" },
        "q": { "kind": "leaf", "path": "$.a", "operator": "equals", "expected": "v",
               "quantifier": "all" },
        "n": { "kind": "not", "child": { "kind": "all", "children": [] } },
    }))
    .unwrap();
    let trace = |rule: &str, outcome: Outcome, explanation: Explanation| RuleTrace {
        rule: RuleId(rule.into()),
        outcome,
        explanation,
    };
    let h = Outcome::Holds;
    let fits = [
        trace("r", h, leaf("$.a", json!("v"), Quantifier::Any)),
        trace("q", h, leaf("$.a", json!("v"), Quantifier::All)),
        trace(
            "n",
            Outcome::Fails,
            Explanation::Not {
                outcome: Outcome::Fails,
                child: Box::new(Explanation::All {
                    outcome: h,
                    children: vec![],
                }),
            },
        ),
    ];
    for t in &fits {
        assert!(check(&shapes, &[t]).is_some(), "{}", t.rule);
    }
    let misfits = [
        trace("r", h, leaf("$.b", json!("v"), Quantifier::Any)),
        trace("r", h, leaf("$.a", json!("w"), Quantifier::Any)),
        trace("r", h, leaf("$.a", json!("v"), Quantifier::None)),
        trace("q", h, leaf("$.a", json!("v"), Quantifier::Any)),
        trace(
            "r",
            Outcome::Fails,
            leaf("$.a", json!("v"), Quantifier::Any),
        ),
        trace("missing", h, leaf("$.a", json!("v"), Quantifier::Any)),
        trace(
            "r",
            h,
            Explanation::All {
                outcome: h,
                children: vec![leaf("$.a", json!("v"), Quantifier::Any)],
            },
        ),
        trace(
            "n",
            Outcome::Fails,
            Explanation::Not {
                outcome: Outcome::Fails,
                child: Box::new(Explanation::Any {
                    outcome: h,
                    children: vec![],
                }),
            },
        ),
        trace(
            "n",
            Outcome::Fails,
            Explanation::Not {
                outcome: Outcome::Fails,
                child: Box::new(Explanation::All {
                    outcome: h,
                    children: vec![leaf("$.a", json!("v"), Quantifier::Any)],
                }),
            },
        ),
    ];
    for t in &misfits {
        assert!(check(&shapes, &[t]).is_none(), "{t:?}");
        // Next to a trace that fits, the subject is still stored whole.
        assert!(check(&shapes, &[&fits[0], t]).is_none(), "{t:?}");
    }
    assert!(check(&shapes, &[]).is_none());
}

/// Format 2 explanations `compress` turns into `why` expand back to themselves; those it cannot
/// (a guard's, an unreadable subject's, one cut to its leaves) it leaves alone.
#[test]
fn expand_gives_back_what_compress_took() {
    let rb = rulebook();
    let shapes = shapes(&rb);
    for (i, s) in subjects().iter().enumerate() {
        let d = crate::engine::evaluate(&rb, s, now(), i);
        for t in &d.rules {
            let x = compact_traces(&[t]);
            let rules = vec![t.rule.0.clone()];
            match shapes.compress(&rules, &x) {
                Some(why) => assert_eq!(shapes.expand(&rules, &why).unwrap(), x),
                None => assert!(x[0].get("leaves").is_some(), "{x}"),
            }
        }
    }
    let rules = vec!["nested".to_string()];
    let guard = json!([{ "kind": "leaf", "outcome": "holds", "path": "$.user.status",
                         "operator": "equals", "expected": "ACTIVE", "seen": ["ACTIVE"] }]);
    let unreadable = json!({ "collect_error": "timed out" });
    let edited = json!([{ "rule": "nested", "outcome": "holds", "explanation":
        { "kind": "leaf", "outcome": "holds", "path": "$.user.status", "operator": "equals",
          "expected": "ACTIVE", "seen": ["ACTIVE"] } }]);
    for x in [guard, unreadable, edited, json!([]), json!(null)] {
        assert_eq!(shapes.compress(&rules, &x), None, "{x}");
    }
    assert_eq!(shapes.compress(&[], &json!([])), None);
}

#[test]
fn malformed_why_is_an_error_naming_what_is_wrong() {
    let shapes = Shapes::new(&json!({ "r": { "kind": "not", "child":
        { "kind": "leaf", "path": "$.a", "operator": "equals", "expected": 1 } } }))
    .unwrap();
    let r = vec!["r".to_string()];
    let ok = json!([{ "outcomes": "fh", "seen": [[1]] }]);
    assert_eq!(
        shapes.expand(&r, &ok).unwrap()[0]["explanation"]["child"]["seen"],
        json!([1])
    );
    let counted = json!([{ "outcomes": "fh", "seen": [{ "values": [1], "count": 5 }] }]);
    assert_eq!(
        shapes.expand(&r, &counted).unwrap()[0]["explanation"]["child"]["seen_count"],
        5
    );
    let other = vec!["s".to_string()];
    let bad: Vec<(Value, &[String], &str)> = vec![
        (json!([{ "outcomes": "f", "seen": [[1]] }]), &r, "shorter"),
        (
            json!([{ "outcomes": "fhh", "seen": [[1]] }]),
            &r,
            "more than",
        ),
        (json!([{ "outcomes": "fx", "seen": [[1]] }]), &r, "`x`"),
        (json!([{ "outcomes": "fH", "seen": [[1]] }]), &r, "`H`"),
        (
            json!([{ "outcomes": "fé", "seen": [[1]] }]),
            &r,
            "not h, f or u",
        ),
        (
            json!([{ "outcomes": "fh", "seen": [] }]),
            &r,
            "fewer entries",
        ),
        (
            json!([{ "outcomes": "fh", "seen": [[1], [2]] }]),
            &r,
            "more than",
        ),
        (json!([{ "outcomes": "fh", "seen": [1] }]), &r, "neither"),
        (json!([{ "outcomes": "fh", "seen": ["1"] }]), &r, "neither"),
        (json!([{ "outcomes": "fh", "seen": [null] }]), &r, "neither"),
        (
            json!([{ "outcomes": "fh", "seen": [{ "values": [1] }] }]),
            &r,
            "neither",
        ),
        (
            json!([{ "outcomes": "fh", "seen": [{ "values": 1, "count": 1 }] }]),
            &r,
            "neither",
        ),
        (
            json!([{ "outcomes": "fh", "seen": [{ "values": [1], "count": "1" }] }]),
            &r,
            "neither",
        ),
        (
            json!([{ "outcomes": "fh", "seen": [{ "values": [], "count": 1, "x": 1 }] }]),
            &r,
            "neither",
        ),
        (json!([{ "outcomes": "fh" }]), &r, "no `seen`"),
        (json!([{ "seen": [[1]] }]), &r, "no `outcomes`"),
        (
            json!([{ "outcomes": 7, "seen": [[1]] }]),
            &r,
            "no `outcomes`",
        ),
        (json!([[1]]), &r, "no `outcomes`"),
        (json!([]), &r, "0 entries for 1 rules"),
        (
            json!([ok[0].clone(), ok[0].clone()]),
            &r,
            "2 entries for 1 rules",
        ),
        (json!({ "outcomes": "fh" }), &r, "not a list"),
        (
            ok.clone(),
            &other,
            "rule `s` is not in the plan's `conditions`",
        ),
    ];
    for (why, rules, message) in bad {
        let err = shapes.expand(rules, &why).unwrap_err();
        assert!(err.contains(message), "{why}: {err}");
    }
    // A plan without `conditions` (format 2) has no rule to expand against.
    assert!(Shapes::default().expand(&r, &ok).is_err());
}

#[test]
fn malformed_conditions_are_an_error() {
    let leaf = json!({ "kind": "leaf", "path": "$.a", "operator": "equals", "expected": 1 });
    assert!(Shapes::new(&json!({ "r": leaf })).is_ok());
    assert!(Shapes::new(&Value::Null).is_ok());
    let mut deep = leaf.clone();
    for _ in 0..70 {
        deep = json!({ "kind": "not", "child": deep });
    }
    for bad in [
        json!([]),
        json!("r"),
        json!({ "r": 1 }),
        json!({ "r": {} }),
        json!({ "r": { "kind": "xor" } }),
        json!({ "r": { "kind": "all" } }),
        json!({ "r": { "kind": "all", "children": {} } }),
        json!({ "r": { "kind": "all", "children": [1] } }),
        json!({ "r": { "kind": "not" } }),
        json!({ "r": { "kind": "leaf", "path": "$.a", "operator": "equals" } }),
        json!({ "r": deep }),
    ] {
        assert!(Shapes::new(&bad).is_err(), "{bad}");
    }
}

/// `conditions` shows each leaf as its explanations do: the expected value cut, the quantifier only
/// when not `any`.
#[test]
fn conditions_hold_what_explanations_show_of_each_rule() {
    let c = conditions(&rulebook());
    let nested = &c["nested"];
    assert_eq!(nested["kind"], "all");
    assert_eq!(nested["children"][1]["kind"], "not");
    assert_eq!(nested["children"][1]["child"]["operator"], "exists");
    assert_eq!(
        nested["children"][2]["children"][1]["expected"],
        json!(["Sales", "Support \"Tier\" 2\\3"])
    );
    assert_eq!(c["quantified"]["children"][0]["quantifier"], "none");
    assert_eq!(c["quantified"]["children"][1]["quantifier"], "all");
    assert!(c["nested"]["children"][0].get("quantifier").is_none());
    assert_eq!(c["counted"]["expected"], json!({ "gte": 2, "lt": 9 }));
    assert!(c["counted"].get("quantifier").is_none());
    let cut = c["long-expected"]["child"]["expected"].as_str().unwrap();
    assert!(
        cut.ends_with('…') && json!(cut).to_string().len() <= VALUE_BYTES,
        "{cut}"
    );
    assert!(c.get("esc\"aped").is_some());
    // No outcome and nothing seen: those are the subjects'.
    let text = c.to_string();
    assert!(
        !text.contains("outcome") && !text.contains("seen"),
        "{text}"
    );
}
