//! Property tests (proptest): the condition language's three-valued laws over generated conditions
//! and subjects, and plans that do not depend on the order subjects arrive in.

use chrono::{TimeZone, Utc};
use okta_remedy::engine::{evaluate, Verdict};
use okta_remedy::plan::{PlanBuilder, Source};
use okta_remedy::rulebook::{parse, Rulebook, SubjectKind};
use proptest::prelude::*;
use serde_json::{json, Value};

/// A leaf condition as rulebook YAML (flow style), over a few paths that may or may not exist.
fn leaf() -> impl Strategy<Value = String> {
    let path = prop_oneof![
        Just("$.user.status"),
        Just("$.user.credentials.provider.type"),
        Just("$.user.profile.n"),
        Just("$.events[*].outcome.result"),
    ];
    let op = prop_oneof![
        Just("equals: ACTIVE".to_string()),
        Just("equals: FEDERATION".to_string()),
        Just("in: [ACTIVE, RECOVERY, SUCCESS]".to_string()),
        Just("exists: true".to_string()),
        Just("exists: false".to_string()),
        Just("matches: '^A'".to_string()),
        Just("gt: 3".to_string()),
        Just("not_equals: FAILURE".to_string()),
    ];
    (path, op).prop_map(|(p, o)| format!("{{ path: '{p}', {o} }}"))
}

/// A condition tree of depth at most 3.
fn condition() -> impl Strategy<Value = String> {
    leaf().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..3)
                .prop_map(|cs| format!("{{ all: [{}] }}", cs.join(", "))),
            prop::collection::vec(inner.clone(), 1..3)
                .prop_map(|cs| format!("{{ any: [{}] }}", cs.join(", "))),
            inner.prop_map(|c| format!("{{ not: {c} }}")),
        ]
    })
}

/// A user subject where each field may be missing, null, or of a surprising type.
fn subject() -> impl Strategy<Value = Value> {
    let maybe =
        |vals: Vec<Value>| prop_oneof![Just(None), prop::sample::select(vals).prop_map(Some)];
    (
        maybe(vec![json!("ACTIVE"), json!("RECOVERY"), json!(null), json!(5)]),
        maybe(vec![json!("FEDERATION"), json!("OKTA")]),
        maybe(vec![json!(1), json!(7), json!("7"), json!(null)]),
        prop::collection::vec(
            prop::sample::select(vec!["SUCCESS", "FAILURE"]),
            0..3,
        ),
        "[a-z]{1,8}",
    )
        .prop_map(|(status, provider, n, events, login)| {
            let mut user = json!({ "id": format!("00u{login}"), "profile": { "login": format!("{login}@example.com") } });
            if let Some(s) = status {
                user["status"] = s;
            }
            if let Some(p) = provider {
                user["credentials"] = json!({ "provider": { "type": p } });
            }
            if let Some(n) = n {
                user["profile"]["n"] = n;
            }
            let events: Vec<Value> = events
                .into_iter()
                .map(|r| json!({ "outcome": { "result": r } }))
                .collect();
            json!({ "org": "hub", "user": user, "events": events })
        })
}

/// A rulebook with one rule per condition, in `all_matches` mode so each rule is decided.
fn rulebook(conditions: &[String]) -> Rulebook {
    let rules: String = conditions
        .iter()
        .enumerate()
        .map(|(i, c)| {
            format!("  - id: r{i}\n    when: {c}\n    then: [ {{ action: report, message: m }} ]\n")
        })
        .collect();
    let text = format!(
        "version: 1\nname: p\nmode: all_matches\nsubjects: {{ kind: user, org: hub }}\nrules:\n{rules}"
    );
    parse(&text, "p.yaml").unwrap_or_else(|e| panic!("{}\n{text}", e.render()))
}

fn outcomes(rb: &Rulebook, subject: &Value) -> Vec<String> {
    let now = Utc.with_ymd_and_hms(2026, 11, 29, 0, 0, 0).unwrap();
    evaluate(rb, subject, now, 0)
        .rules
        .iter()
        .map(|t| format!("{:?}", t.outcome))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// not(not c) = c; De Morgan both ways; unknown absorbs as Kleene logic says: evaluated on the
    /// same subject, the equivalent conditions give the same outcome (holds, fails or unknown).
    #[test]
    fn three_valued_laws(a in condition(), b in condition(), s in subject()) {
        let rb = rulebook(&[
            format!("{{ not: {{ not: {a} }} }}"),
            a.clone(),
            format!("{{ not: {{ all: [{a}, {b}] }} }}"),
            format!("{{ any: [{{ not: {a} }}, {{ not: {b} }}] }}"),
            format!("{{ not: {{ any: [{a}, {b}] }} }}"),
            format!("{{ all: [{{ not: {a} }}, {{ not: {b} }}] }}"),
            format!("{{ all: [{a}, {b}] }}"),
            format!("{{ all: [{b}, {a}] }}"),
            format!("{{ any: [{a}, {a}] }}"),
        ]);
        let o = outcomes(&rb, &s);
        prop_assert_eq!(&o[0], &o[1], "double negation");
        prop_assert_eq!(&o[2], &o[3], "not all = any not");
        prop_assert_eq!(&o[4], &o[5], "not any = all not");
        prop_assert_eq!(&o[6], &o[7], "all commutes");
        prop_assert_eq!(&o[8], &o[1], "any is idempotent");
    }

    /// The fast verdict used while planning agrees with the explained evaluation.
    #[test]
    fn verdict_agrees_with_evaluation(cs in prop::collection::vec(condition(), 1..4), s in subject()) {
        let rb = rulebook(&cs);
        let now = Utc.with_ymd_and_hms(2026, 11, 29, 0, 0, 0).unwrap();
        let full = evaluate(&rb, &s, now, 0);
        let (verdict, undecided) = okta_remedy::engine::verdict(&rb, &s, now);
        prop_assert_eq!(verdict, full.verdict);
        if verdict == Verdict::NoMatch {
            prop_assert_eq!(undecided, full.has_undecided());
        }
    }

    /// Permuting the subjects permutes the plan: every subject gets the same decision and steps, and
    /// the summary is the same.
    #[test]
    fn plans_do_not_depend_on_input_order(
        cs in prop::collection::vec(condition(), 1..3),
        subjects in prop::collection::vec(subject(), 1..8),
        seed in any::<u64>(),
    ) {
        let rb = rulebook(&cs);
        let now = Utc.with_ymd_and_hms(2026, 11, 29, 0, 0, 0).unwrap();
        let mut shuffled = subjects.clone();
        let n = shuffled.len();
        for i in (1..n).rev() {
            shuffled.swap(i, (seed as usize ^ i.wrapping_mul(2654435761)) % (i + 1));
        }
        let decide = |input: &[Value]| {
            let mut b = PlanBuilder::new(&rb, now, Source::file(SubjectKind::User, None));
            for (i, s) in input.iter().enumerate() {
                b.add(s, &evaluate(&rb, s, now, i));
            }
            let plan = b.finish().unwrap();
            let mut per_subject: Vec<(String, Vec<String>)> = plan
                .subjects
                .iter()
                .map(|p| {
                    // Sorted: two generated subjects may share a login, and so a key.
                    let mut steps: Vec<String> = plan
                        .steps
                        .iter()
                        .filter(|st| st.subject == p.key)
                        .map(|st| format!("{} {} {:?}", st.rule, st.org, st.action))
                        .collect();
                    steps.sort();
                    (format!("{} {:?} {:?}", p.key, p.verdict, p.rules), steps)
                })
                .collect();
            per_subject.sort();
            (per_subject, serde_json::to_string(&plan.summary).unwrap())
        };
        prop_assert_eq!(decide(&subjects), decide(&shuffled));
    }
}
