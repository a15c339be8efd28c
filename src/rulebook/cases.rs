//! A rulebook's own test cases: the `tests:` section or a sidecar `NAME.tests.yaml`. Each case is a
//! subject (inline or a JSON file) and the decision it must get. Parsing and validation only; running
//! them is `review`'s job.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_yaml::Value as Yaml;

use super::action_name::ActionName;
use super::check::{index, key, shorten, Checker};
use super::keyword::Keyword;
use super::locate::Seg;
use super::model::{ActionKind, Rulebook};
use super::RulebookError;
use crate::condition::Op;
use crate::diagnostic::{did_you_mean, Diagnostic, Position};

pub const CASE_FIELDS: &[&str] = &["name", "subject", "subject_file", "now", "expect"];
pub const EXPECT_FIELDS: &[&str] = &["rule", "rules", "actions", "outcome"];

/// The decisions an `expect.outcome` can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedOutcome {
    Matched,
    NoMatch,
    Protected,
}

impl Keyword for ExpectedOutcome {
    const ALL: &'static [Self] = &[
        ExpectedOutcome::Matched,
        ExpectedOutcome::NoMatch,
        ExpectedOutcome::Protected,
    ];
    fn as_str(self) -> &'static str {
        match self {
            ExpectedOutcome::Matched => "matched",
            ExpectedOutcome::NoMatch => "no_match",
            ExpectedOutcome::Protected => "protected",
        }
    }
}

/// Where test cases' `subject_file`s come from: the parser stays pure, the loader reads the disk.
pub trait SubjectFiles {
    /// The file `name` (as written in the case): its path as shown in messages, and its text; or
    /// why it cannot be read, as a message.
    fn read(&self, name: &str) -> Result<(String, String), String>;
}

/// No files: for rulebooks parsed from text alone.
pub struct NoSubjectFiles;

impl SubjectFiles for NoSubjectFiles {
    fn read(&self, name: &str) -> Result<(String, String), String> {
        Err(format!(
            "cannot read `{}`: subject files are read only when the rulebook is loaded from a file",
            shorten(name)
        ))
    }
}

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
            if let ActionKind::Await { until, .. } = &a.kind {
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
    files: &dyn SubjectFiles,
) -> Vec<TestCase> {
    let Some(items) = ck.sequence(v, path, "`tests`") else {
        return Vec::new();
    };
    let needs_now = uses_now(rb);
    let mut out = Vec::new();
    let mut names: HashMap<String, Position> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let p = index(path, i);
        if let Some(case) = check_case(ck, item, &p, rb, needs_now, files) {
            if let Some(first) = names.get(&case.name) {
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
            names.entry(case.name.clone()).or_insert(case.at);
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
    files: &dyn SubjectFiles,
) -> Option<TestCase> {
    let m = ck.mapping(v, path, "a test case")?;
    ck.known_keys(m, path, CASE_FIELDS, "a test case");
    let name = ck
        .required(m, path, "name", "a test case")
        .and_then(|v| ck.string(v, &key(path, "name"), "`name`"));
    let subject = match (m.get("subject"), m.get("subject_file")) {
        (Some(s), None) => ck.json(s, &key(path, "subject"), "`subject`"),
        (None, Some(f)) => {
            let p = key(path, "subject_file");
            let file = ck.string(f, &p, "`subject_file`")?;
            subject_from_file(ck, files, &file, &p)
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

/// A case's subject read from `file` through `files`, which must hold one JSON value.
fn subject_from_file(
    ck: &mut Checker,
    files: &dyn SubjectFiles,
    file: &str,
    p: &[Seg],
) -> Option<serde_json::Value> {
    let (shown, text) = match files.read(file) {
        Ok(read) => read,
        Err(message) => {
            ck.error(p, message, None);
            return None;
        }
    };
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(v) => Some(v),
        Err(e) => {
            ck.error(p, format!("`{shown}` is not valid JSON: {e}"), None);
            None
        }
    }
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
        Some(o) => ck.keyword::<ExpectedOutcome>(o, &key(path, "outcome"), "outcome")?,
        None => ExpectedOutcome::Matched,
    };
    match outcome {
        ExpectedOutcome::NoMatch => return Some(Expectation::NoMatch),
        ExpectedOutcome::Protected => return Some(Expectation::Protected),
        ExpectedOutcome::Matched => {}
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
        Some(a) => Some(expected_actions(ck, a, &key(path, "actions"))?),
        None => None,
    };
    Some(Expectation::Matched { rules, actions })
}

/// The action names an expectation lists, each checked against the known actions.
fn expected_actions(ck: &mut Checker, v: &Yaml, p: &[Seg]) -> Option<Vec<String>> {
    let items = ck.sequence(v, p, "`actions`")?;
    let names = ActionName::names();
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let ip = index(p, i);
        if let Some(s) = ck.string(item, &ip, "an action name") {
            if ActionName::parse(&s).is_none() {
                ck.error(
                    &ip,
                    format!("unknown action `{}`", shorten(&s)),
                    did_you_mean(&s, &names),
                );
            }
            out.push(s);
        }
    }
    Some(out)
}

/// Parses a sidecar `NAME.tests.yaml` (a mapping with a `tests:` list) against its rulebook.
pub fn parse_sidecar(
    text: &str,
    file: &str,
    rb: &Rulebook,
    files: &dyn SubjectFiles,
) -> Result<Vec<TestCase>, RulebookError> {
    let text = super::without_bom(text);
    let invalid = |diagnostics: Vec<Diagnostic>| RulebookError::Invalid {
        path: file.to_string(),
        source_text: text.to_string(),
        diagnostics,
    };
    let locator = super::preflight(text, file).map_err(|d| invalid(vec![d]))?;
    let doc: Yaml = serde_yaml::from_str(text)
        .map_err(|e| invalid(super::yaml_errors(file, text, &e, &locator)))?;
    let mut ck = Checker::new(file, text, &locator);
    let root: Vec<Seg> = Vec::new();
    let mut cases = Vec::new();
    if let Some(m) = ck.mapping(&doc, &root, "a test file") {
        ck.known_keys(m, &root, &["tests"], "a test file");
        if let Some(v) = ck.required(m, &root, "tests", "a test file") {
            cases = check_cases(&mut ck, v, &key(&root, "tests"), rb, files);
        }
    }
    if ck.has_errors() {
        return Err(invalid(super::limits::capped(ck.diagnostics, file)));
    }
    Ok(cases)
}
