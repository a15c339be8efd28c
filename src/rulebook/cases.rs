//! A rulebook's own test cases: the `tests:` section or a sidecar `NAME.tests.yaml`. Each case is a
//! subject (inline or a JSON file) and the decision it must get. Parsing and validation only; running
//! them is `review`'s job.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_yaml::Value as Yaml;

use super::check::{index, key, to_json, Checker};
use super::locate::{Locator, Seg};
use super::{Rulebook, RulebookError};
use crate::condition::Op;
use crate::diagnostic::{did_you_mean, Diagnostic, Position};

pub const CASE_FIELDS: &[&str] = &["name", "subject", "subject_file", "now", "expect"];
pub const EXPECT_FIELDS: &[&str] = &["rule", "rules", "actions", "outcome"];
pub const OUTCOMES: &[&str] = &["matched", "no_match", "protected"];

/// The decision a case expects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Expectation {
    /// These rules match (one for `first_match`), optionally with exactly these actions in order.
    Matched {
        rules: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        actions: Option<Vec<String>>,
    },
    NoMatch,
    Protected,
}

/// One test case of a rulebook.
#[derive(Debug, Clone)]
pub struct TestCase {
    pub name: String,
    pub subject: serde_json::Value,
    pub now: Option<DateTime<Utc>>,
    pub expect: Expectation,
    /// Where the case is written.
    pub file: String,
    pub at: Position,
}

/// Whether any rule or guard compares against the evaluation's `now`.
fn uses_now(rb: &Rulebook) -> bool {
    let mut conds: Vec<&crate::condition::Condition> = rb.guards.protect.iter().collect();
    for r in &rb.rules {
        conds.push(&r.when);
        for a in &r.then {
            if let super::ActionKind::Await { until, .. } = &a.kind {
                conds.push(until);
            }
        }
    }
    conds
        .iter()
        .flat_map(|c| c.leaves())
        .any(|l| matches!(l.op, Op::OlderThan(_) | Op::NewerThan(_)))
}

/// Checks a `tests:` list.
pub(crate) fn check_cases(
    ck: &mut Checker,
    v: &Yaml,
    path: &[Seg],
    rb: &Rulebook,
) -> Vec<TestCase> {
    let Some(items) = ck.sequence(v, path, "`tests`") else {
        return Vec::new();
    };
    let needs_now = uses_now(rb);
    let mut out = Vec::new();
    let mut names: Vec<(String, Position)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = index(path, i);
        if let Some(case) = check_case(ck, item, &p, rb, needs_now) {
            if let Some((_, first)) = names.iter().find(|(n, _)| *n == case.name) {
                let help = format!(
                    "the first case with this name is at line {}; names tell cases apart in reports and decision snapshots",
                    first.line
                );
                ck.error(
                    &key(&p, "name"),
                    format!("duplicate test case name `{}`", case.name),
                    Some(help),
                );
            }
            names.push((case.name.clone(), case.at));
            out.push(case);
        }
    }
    out
}

fn check_case(
    ck: &mut Checker,
    v: &Yaml,
    path: &[Seg],
    rb: &Rulebook,
    needs_now: bool,
) -> Option<TestCase> {
    let m = ck.mapping(v, path, "a test case")?;
    ck.known_keys(m, path, CASE_FIELDS, "a test case");
    let name = ck
        .required(m, path, "name", "a test case")
        .and_then(|v| ck.string(v, &key(path, "name"), "`name`"));
    let subject = match (m.get("subject"), m.get("subject_file")) {
        (Some(s), None) => Some(to_json(s)),
        (None, Some(f)) => {
            let p = key(path, "subject_file");
            let file = ck.string(f, &p, "`subject_file`")?;
            let base = Path::new(ck.file).parent().unwrap_or(Path::new("."));
            let full = base.join(&file);
            match std::fs::read_to_string(&full) {
                Ok(text) => match serde_json::from_str::<serde_json::Value>(&text) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        ck.error(
                            &p,
                            format!("`{}` is not valid JSON: {e}", full.display()),
                            None,
                        );
                        None
                    }
                },
                Err(e) => {
                    ck.error(&p, format!("cannot read `{}`: {e}", full.display()), None);
                    None
                }
            }
        }
        (Some(_), Some(_)) => {
            ck.error_key(
                &key(path, "subject_file"),
                "give either `subject` or `subject_file`, not both",
                None,
            );
            None
        }
        (None, None) => {
            ck.error(
                path,
                "a test case needs a `subject` (inline) or a `subject_file`",
                None,
            );
            None
        }
    };
    let now = match m.get("now") {
        Some(v) => {
            let p = key(path, "now");
            let s = ck.string(v, &p, "`now`")?;
            match DateTime::parse_from_rfc3339(&s) {
                Ok(t) => Some(t.with_timezone(&Utc)),
                Err(e) => {
                    ck.error(
                        &p,
                        format!("`now` `{s}` is not an RFC 3339 timestamp: {e}"),
                        Some("e.g. `now: 2026-11-29T00:00:00Z`".into()),
                    );
                    return None;
                }
            }
        }
        None if needs_now => {
            ck.error(
                path,
                "this rulebook compares timestamps with `older_than`/`newer_than`, so each case needs a `now`",
                Some("add e.g. `now: 2026-11-29T00:00:00Z` so the case gives the same result every day".into()),
            );
            return None;
        }
        None => None,
    };
    let expect = match ck.required(m, path, "expect", "a test case") {
        Some(v) => check_expect(ck, v, &key(path, "expect"), rb),
        None => None,
    };
    Some(TestCase {
        name: name?,
        subject: subject?,
        now,
        expect: expect?,
        file: ck.file.to_string(),
        at: ck.locator.key(path),
    })
}

fn check_expect(ck: &mut Checker, v: &Yaml, path: &[Seg], rb: &Rulebook) -> Option<Expectation> {
    if let Yaml::String(s) = v {
        return match s.as_str() {
            "no_match" => Some(Expectation::NoMatch),
            "protected" => Some(Expectation::Protected),
            other => {
                ck.error(
                    path,
                    format!("unknown expectation `{other}`"),
                    did_you_mean(other, &["no_match", "protected"]).or(Some(
                        "write `no_match`, `protected`, or `{ rule: ID, actions: [...] }`".into(),
                    )),
                );
                None
            }
        };
    }
    let m = ck.mapping(v, path, "`expect`")?;
    ck.known_keys(m, path, EXPECT_FIELDS, "`expect`");
    let outcome = match m.get("outcome") {
        Some(o) => ck.choice(o, &key(path, "outcome"), "outcome", OUTCOMES)?,
        None => "matched".to_string(),
    };
    match outcome.as_str() {
        "no_match" => return Some(Expectation::NoMatch),
        "protected" => return Some(Expectation::Protected),
        _ => {}
    }
    let ids: Vec<&str> = rb.rules.iter().map(|r| r.id.0.as_str()).collect();
    let mut rules = Vec::new();
    let mut check_id = |ck: &mut Checker, v: &Yaml, p: &[Seg]| {
        if let Some(id) = ck.string(v, p, "a rule id") {
            if ids.contains(&id.as_str()) {
                rules.push(id);
            } else {
                ck.error(p, format!("no rule has id `{id}`"), did_you_mean(&id, &ids));
            }
        }
    };
    match (m.get("rule"), m.get("rules")) {
        (Some(r), None) => check_id(ck, r, &key(path, "rule")),
        (None, Some(rs)) => {
            let p = key(path, "rules");
            if let Some(items) = ck.sequence(rs, &p, "`rules`") {
                for (i, r) in items.iter().enumerate() {
                    check_id(ck, r, &index(&p, i));
                }
            }
        }
        _ => {
            ck.error(
                path,
                "`expect` needs `rule` (or `rules` with `mode: all_matches`)",
                Some(format!(
                    "e.g. `expect: {{ rule: {}, actions: [...] }}`, or `expect: no_match`",
                    ids.first().copied().unwrap_or("RULE-ID")
                )),
            );
            return None;
        }
    }
    let actions = match m.get("actions") {
        Some(a) => {
            let p = key(path, "actions");
            let items = ck.sequence(a, &p, "`actions`")?;
            let names: Vec<&str> = super::ACTIONS.iter().map(|a| a.name).collect();
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let ip = index(&p, i);
                if let Some(s) = ck.string(item, &ip, "an action name") {
                    if !names.contains(&s.as_str()) {
                        ck.error(
                            &ip,
                            format!("unknown action `{s}`"),
                            did_you_mean(&s, &names),
                        );
                    }
                    out.push(s);
                }
            }
            Some(out)
        }
        None => None,
    };
    Some(Expectation::Matched { rules, actions })
}

/// Parses a sidecar `NAME.tests.yaml` (a mapping with a `tests:` list) against its rulebook.
pub fn parse_sidecar(
    text: &str,
    file: &str,
    rb: &Rulebook,
) -> Result<Vec<TestCase>, RulebookError> {
    let text = super::without_bom(text);
    let invalid = |diagnostics: Vec<Diagnostic>| RulebookError::Invalid {
        path: file.to_string(),
        source_text: text.to_string(),
        diagnostics,
    };
    let locator = Locator::new(text);
    let doc: Yaml = serde_yaml::from_str(text)
        .map_err(|e| invalid(super::yaml_errors(file, text, &e, &locator)))?;
    let mut ck = Checker::new(file, text, &locator);
    let root: Vec<Seg> = Vec::new();
    let mut cases = Vec::new();
    if let Some(m) = ck.mapping(&doc, &root, "a test file") {
        ck.known_keys(m, &root, &["tests"], "a test file");
        if let Some(v) = ck.required(m, &root, "tests", "a test file") {
            cases = check_cases(&mut ck, v, &key(&root, "tests"), rb);
        }
    }
    if ck.has_errors() {
        return Err(invalid(ck.diagnostics));
    }
    Ok(cases)
}
