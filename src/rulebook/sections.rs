//! Checking the sections of a rulebook (top level, `subjects`, `guards`, `rules` and each rule) into
//! the validated model. Conditions are checked by `conditions`, actions by `actions`, test cases by
//! `cases`; this module wires them together and reports missing or misplaced fields.

use std::collections::HashMap;
use std::time::Duration;

use serde_yaml::{Mapping, Value as Yaml};
use sha2::{Digest, Sha256};

use super::actions::check_actions;
use super::actions::Context;
use super::cases::{self, SubjectFiles};
use super::check::{describe, index, key, shorten, Checker};
use super::conditions::check_condition;
use super::fields::{GUARD_FIELDS, RULE_FIELDS, SUBJECT_FIELDS, TOP_FIELDS};
use super::locate::{NodePath, Seg};
use super::model::{Guards, Mode, Rule, RuleId, Rulebook, SubjectKind, Subjects};
use crate::condition::Condition;

/// The `when` of a rule that matches every subject on purpose.
pub const ALWAYS: &str = "always";
use crate::diagnostic::{Diagnostic, Position};

pub(super) fn check_rulebook(
    ck: &mut Checker,
    doc: &Yaml,
    text: &str,
    files: &dyn SubjectFiles,
) -> Option<Rulebook> {
    let root: NodePath = Vec::new();
    if doc.is_null() {
        ck.error(
            &root,
            "the rulebook is empty",
            Some("a rulebook has at least `version: 1`, `name`, `subjects` and `rules`".into()),
        );
        return None;
    }
    let Yaml::Mapping(m) = doc else {
        ck.error(
            &root,
            format!("a rulebook must be a mapping, found {}", describe(doc)),
            Some("the top level holds fields: `version: 1`, `name`, `subjects`, `rules`".into()),
        );
        return None;
    };
    ck.known_keys(m, &root, TOP_FIELDS, "the rulebook");

    let version = check_version(ck, m, &root);
    let name = m
        .get("name")
        .and_then(|v| ck.string(v, &key(&root, "name"), "`name`"));
    let description = m
        .get("description")
        .and_then(|v| ck.string(v, &key(&root, "description"), "`description`"));
    let mode = match m.get("mode") {
        None => Some(Mode::FirstMatch),
        Some(v) => ck.keyword::<Mode>(v, &key(&root, "mode"), "mode"),
    };
    report_missing_top_fields(ck, m, &root);
    let subjects = match m.get("subjects") {
        Some(v) => check_subjects(ck, v, &key(&root, "subjects")),
        None => None,
    };
    let orgs: Vec<String> = subjects
        .as_ref()
        .map(|s| s.orgs().into_iter().map(str::to_string).collect())
        .unwrap_or_default();
    let guards = match m.get("guards") {
        Some(v) => check_guards(ck, v, &key(&root, "guards")),
        None => Some(Guards::default()),
    };
    let rules = match m.get("rules") {
        Some(v) => check_rules(ck, v, &key(&root, "rules"), subjects.as_ref(), &orgs, mode),
        None => None,
    };
    let (Some(version), Some(name), Some(mode), Some(subjects), Some(guards), Some(rules)) =
        (version, name, mode, subjects, guards, rules)
    else {
        return None;
    };
    let mut rb = Rulebook {
        version,
        name,
        description,
        mode,
        subjects,
        guards,
        rules,
        tests: Vec::new(),
        path: ck.file.to_string(),
        sha256: hex::encode(Sha256::digest(text.as_bytes())),
        warnings: Vec::new(),
    };
    if let Some(v) = m.get("tests") {
        let tests = cases::check_cases(ck, v, &key(&root, "tests"), &rb, files);
        rb.tests = tests;
    }
    Some(rb)
}

/// `version`, which must be 1.
fn check_version(ck: &mut Checker, m: &Mapping, root: &[Seg]) -> Option<u64> {
    let v = m.get("version")?;
    match ck.unsigned(v, &key(root, "version"), "`version`")? {
        1 => Some(1),
        n => {
            ck.error(
                &key(root, "version"),
                format!("unsupported rulebook version {n}"),
                Some("this release reads `version: 1`".into()),
            );
            None
        }
    }
}

/// Reports each required top-level field that is missing, with an example.
fn report_missing_top_fields(ck: &mut Checker, m: &Mapping, root: &[Seg]) {
    for (field, example) in [
        ("version", "version: 1"),
        ("name", "name: org2org-password-sync"),
        (
            "subjects",
            "subjects: { kind: org2org_assignment, hub: hub, spoke: spoke }",
        ),
        ("rules", "rules: [{ id: ..., when: ..., then: [...] }]"),
    ] {
        if m.get(field).is_none() {
            ck.error(
                root,
                format!("missing field `{field}` in the rulebook"),
                Some(format!("add e.g. `{example}`")),
            );
        }
    }
}

fn check_subjects(ck: &mut Checker, v: &Yaml, path: &[Seg]) -> Option<Subjects> {
    let m = ck.mapping(v, path, "`subjects`")?;
    ck.known_keys(m, path, SUBJECT_FIELDS, "`subjects`");
    let kind = ck
        .required(m, path, "kind", "`subjects`")
        .and_then(|k| ck.keyword::<SubjectKind>(k, &key(path, "kind"), "subject kind"));
    let mut text_field = |name: &str, default: &str| -> String {
        m.get(name)
            .and_then(|v| ck.string(v, &key(path, name), &format!("`{name}`")))
            .unwrap_or_else(|| default.to_string())
    };
    let hub = text_field("hub", "hub");
    let spoke = text_field("spoke", "spoke");
    let app = text_field("app", "okta_org2org");
    let org = m
        .get("org")
        .and_then(|v| ck.string(v, &key(path, "org"), "`org`"));
    let (since, since_text) = match m.get("since") {
        Some(v) => ck.duration(v, &key(path, "since"), "`since`")?,
        None => (Duration::from_secs(7 * 86400), "7d".to_string()),
    };
    let kind = kind?;
    if kind == SubjectKind::User && org.is_none() {
        ck.error(
            path,
            "missing field `org` in `subjects`: a `user` rulebook reads the users of one org",
            Some("add e.g. `org: hub`".into()),
        );
        return None;
    }
    if kind == SubjectKind::Org2orgAssignment && org.is_some() {
        ck.error_key(
            &key(path, "org"),
            "`org` applies to `kind: user`; an `org2org_assignment` rulebook names `hub` and `spoke`",
            None,
        );
    }
    Some(Subjects {
        kind,
        org,
        hub,
        spoke,
        since,
        since_text,
        app,
    })
}

fn check_guards(ck: &mut Checker, v: &Yaml, path: &[Seg]) -> Option<Guards> {
    let m = ck.mapping(v, path, "`guards`")?;
    ck.known_keys(m, path, GUARD_FIELDS, "`guards`");
    let mut g = Guards::default();
    let mut ok = true;
    if let Some(v) = m.get("max_actions") {
        let p = key(path, "max_actions");
        g.max_actions = ck.unsigned(v, &p, "`max_actions`");
        g.max_actions_at = Some(ck.at(&p));
        ok &= g.max_actions.is_some();
    }
    if let Some(v) = m.get("max_destructive") {
        let p = key(path, "max_destructive");
        g.max_destructive = ck.unsigned(v, &p, "`max_destructive`");
        g.max_destructive_at = Some(ck.at(&p));
        ok &= g.max_destructive.is_some();
    }
    if let Some(v) = m.get("protect") {
        let p = key(path, "protect");
        if let Some(items) = ck.sequence(v, &p, "`protect`") {
            for (i, item) in items.iter().enumerate() {
                match check_condition(ck, item, &index(&p, i)) {
                    Some(c) => g.protect.push(c),
                    None => ok = false,
                }
            }
        }
    }
    ok.then_some(g)
}

fn check_rules(
    ck: &mut Checker,
    v: &Yaml,
    path: &[Seg],
    subjects: Option<&Subjects>,
    orgs: &[String],
    mode: Option<Mode>,
) -> Option<Vec<Rule>> {
    let items = ck.sequence(v, path, "`rules`")?;
    if items.is_empty() {
        ck.error(
            path,
            "`rules` is empty: a rulebook needs at least one rule",
            None,
        );
    }
    let mut rules = Vec::new();
    let mut ok = report_duplicate_ids(ck, items, path);
    for (i, item) in items.iter().enumerate() {
        match check_rule(ck, item, &index(path, i), subjects, orgs) {
            Some(rule) => rules.push(rule),
            None => ok = false,
        }
        ck.rule = None;
    }
    // Evaluation order: priority, highest first; the sort is stable so ties keep file order.
    rules.sort_by_key(|r| std::cmp::Reverse(r.priority));
    if mode == Some(Mode::FirstMatch) {
        warn_unreachable_after_catch_all(ck, &rules);
    }
    ok.then_some(rules)
}

/// Reports every rule whose `id` an earlier rule already has, whether or not either rule has other
/// errors (one hash lookup per rule); returns whether all ids are unique.
fn report_duplicate_ids(ck: &mut Checker, items: &[Yaml], path: &[Seg]) -> bool {
    let mut seen: HashMap<&str, Position> = HashMap::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let Some(id) = item.get("id").and_then(Yaml::as_str) else {
            continue;
        };
        let at = key(&index(path, i), "id");
        match seen.get(id) {
            Some(first) => {
                let help = format!("the first rule with this id is at line {}", first.line);
                ck.rule = Some(id.to_string());
                ck.error(
                    &at,
                    format!("duplicate rule id `{}`", shorten(id)),
                    Some(help),
                );
                ck.rule = None;
                ok = false;
            }
            None => {
                seen.insert(id, ck.at(&at));
            }
        }
    }
    ok
}

/// In `first_match` mode, warns about each rule after a catch-all (it can never match).
fn warn_unreachable_after_catch_all(ck: &mut Checker, rules: &[Rule]) {
    let Some(pos) = rules.iter().position(|r| r.catch_all) else {
        return;
    };
    let catch_all = &rules[pos].id;
    for r in &rules[pos + 1..] {
        ck.diagnostics.push(
            Diagnostic::warning(
                ck.file,
                r.at,
                format!(
                    "rule `{}` can never match: rule `{catch_all}` before it matches every subject",
                    r.id
                ),
            )
            .with_help(Some(
                "narrow the catch-all's `when`, move it last, or lower its `priority`".into(),
            ))
            .in_rule(Some(&r.id.0)),
        );
    }
}

/// A rule's `when`: a condition, or `always` for a deliberate catch-all. A rule without `when` also
/// matches every subject, but that is usually a forgotten line: it gets a warning naming `always`.
/// Returns the condition and whether the rule is a catch-all.
fn check_when(ck: &mut Checker, when: Option<&Yaml>, path: &[Seg]) -> (Option<Condition>, bool) {
    match when {
        Some(Yaml::String(s)) if s == ALWAYS => (Some(Condition::All(Vec::new())), true),
        Some(v) => (check_condition(ck, v, &key(path, "when")), false),
        None => {
            // One forgotten line would turn a rule that resets passwords into one that resets
            // everyone the guards allow: a catch-all must be written.
            ck.error(
                path,
                "this rule has no `when`; it would match every subject",
                Some(format!(
                    "did you mean `when: {ALWAYS}`? write it to make the catch-all deliberate"
                )),
            );
            (None, false)
        }
    }
}

fn check_rule(
    ck: &mut Checker,
    v: &Yaml,
    path: &[Seg],
    subjects: Option<&Subjects>,
    orgs: &[String],
) -> Option<Rule> {
    let m = ck.mapping(v, path, "a rule")?;
    let id = m
        .get("id")
        .and_then(|v| ck.string(v, &key(path, "id"), "`id`"));
    ck.rule = id.clone();
    ck.known_keys(m, path, RULE_FIELDS, "a rule");
    if m.get("id").is_none() {
        ck.error(
            path,
            "missing field `id` in a rule",
            Some("every rule needs a unique `id`".into()),
        );
    }
    if let Some(id) = &id {
        if id.trim().is_empty() {
            ck.error(&key(path, "id"), "rule `id` is empty", None);
        }
    }
    let description = m
        .get("description")
        .and_then(|v| ck.string(v, &key(path, "description"), "`description`"));
    let priority = match m.get("priority") {
        Some(v) => ck.integer(v, &key(path, "priority"), "`priority`"),
        None => Some(0),
    };
    let (when, catch_all) = check_when(ck, m.get("when"), path);
    let then = match m.get("then") {
        Some(v) => check_actions(ck, v, &key(path, "then"), &Context { subjects, orgs }),
        None => {
            ck.error(
                path,
                "missing field `then` in a rule",
                Some(
                    "list what the rule does, e.g. `then: [{ action: report, message: \"...\" }]`"
                        .into(),
                ),
            );
            None
        }
    };
    if let Some(actions) = &then {
        if actions.is_empty() {
            ck.warning(
                &key(path, "then"),
                "this rule has no actions: a match changes nothing and reports nothing",
                Some("add `- { action: report, message: \"...\" }` to record the finding".into()),
            );
        }
    }
    Some(Rule {
        id: RuleId(id?),
        description,
        priority: priority?,
        when: when?,
        catch_all,
        then: then?,
        at: ck.locator.key(path),
    })
}
