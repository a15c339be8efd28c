//! Checking conditions: a `when`, a guard's `protect` entry or an `await`'s `until`, from YAML into a
//! compiled [`Condition`] (JSONPaths and regexes compiled once, operands typed), every problem
//! located. Evaluation is `condition`'s business.

use chrono::{DateTime, Utc};
use regex::Regex;
use serde_yaml::{Mapping, Value as Yaml};

use super::check::{describe, index, key, shorten, Checker};
use super::keyword::Keyword;

use super::locate::Seg;
use crate::condition::{
    Bound, Combinator, Condition, CountCmp, CountField, JsonPath, Leaf, Op, OpName, Quantifier,
};
use crate::diagnostic::did_you_mean;

/// Compiles a condition node: a combinator (`all`/`any`/`not`) or a leaf (`path` + one operator).
pub(crate) fn check_condition(ck: &mut Checker, v: &Yaml, path: &[Seg]) -> Option<Condition> {
    let m = match v {
        Yaml::Mapping(m) => m,
        Yaml::Sequence(_) => {
            ck.error(
                path,
                "a condition must be a mapping, found a list",
                Some("to combine conditions, put the list under `all:` (every one holds) or `any:` (one holds)".into()),
            );
            return None;
        }
        other => return ck.mapping(other, path, "a condition").and(None),
    };
    let first = Combinator::ALL
        .iter()
        .copied()
        .find(|c| m.get(c.as_str()).is_some());
    match first {
        Some(comb) => check_combinator(ck, m, path, comb),
        None => check_leaf(ck, m, path).map(Condition::Leaf),
    }
}

/// A condition written with `all`, `any` or `not`, which must be alone in its mapping.
fn check_combinator(
    ck: &mut Checker,
    m: &Mapping,
    path: &[Seg],
    comb: Combinator,
) -> Option<Condition> {
    let name = comb.as_str();
    if m.len() > 1 {
        let extra: Vec<String> = m
            .iter()
            .filter_map(|(k, _)| k.as_str())
            .filter(|k| *k != name)
            .map(|k| format!("`{k}`"))
            .collect();
        ck.error(
            path,
            format!(
                "`{name}` must be alone in its condition, but it is next to {}",
                extra.join(", ")
            ),
            Some(format!(
                "wrap the conditions in `all:` or move them into the `{name}` list"
            )),
        );
        return None;
    }
    let p = key(path, name);
    let child = m.get(name)?;
    if comb == Combinator::Not {
        if let Yaml::Sequence(_) = child {
            ck.error(
                &p,
                "`not` takes one condition, found a list",
                Some("to negate several, wrap them: `not: { any: [...] }` (none of them holds) or `not: { all: [...] }`".into()),
            );
            return None;
        }
        return check_condition(ck, child, &p).map(|c| Condition::Not(Box::new(c)));
    }
    let Yaml::Sequence(items) = child else {
        ck.error(
            &p,
            format!("`{name}` takes a list of conditions, found {}", describe(child)),
            Some(format!(
                "write `{name}: [{{ path: ..., equals: ... }}, ...]`; one condition needs no `{name}`"
            )),
        );
        return None;
    };
    if items.is_empty() {
        // A vacuous `all` matches every subject, an empty `any` none: both are slips.
        let what = if comb == Combinator::All {
            "`all: []` is empty: it would hold for every subject"
        } else {
            "`any: []` is empty: it would never hold"
        };
        let help = if comb == Combinator::All {
            "list the conditions inside `all`; for a rule that matches every subject on purpose, write `when: always`"
        } else {
            "list the conditions inside `any`"
        };
        ck.error(&p, what, Some(help.into()));
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match check_condition(ck, item, &index(&p, i)) {
            Some(c) => out.push(c),
            None => ok = false,
        }
    }
    match comb {
        _ if !ok => None,
        Combinator::All => Some(Condition::All(out)),
        _ => Some(Condition::Any(out)),
    }
}

/// A leaf: `path`, exactly one operator, and optionally `quantifier`.
fn check_leaf(ck: &mut Checker, m: &Mapping, path: &[Seg]) -> Option<Leaf> {
    let unknown = report_unknown_operators(ck, m, path);
    let jsonpath = match m.get("path") {
        Some(v) => {
            let p = key(path, "path");
            ck.string(v, &p, "`path`")
                .and_then(|s| compile_path(ck, &s, &p))
        }
        None => {
            ck.error(
                path,
                "a condition needs a `path` and an operator, or one of `all`, `any`, `not`",
                None,
            );
            None
        }
    };
    let op = leaf_operator(ck, m, path, unknown);
    let quantifier = match m.get("quantifier") {
        None => Some(Quantifier::Any),
        Some(v) => {
            let p = key(path, "quantifier");
            let q = ck.keyword::<Quantifier>(v, &p, "quantifier");
            if matches!(op, Some(Op::Exists(_)) | Some(Op::Count(_))) {
                ck.warning(
                    &p,
                    "`quantifier` has no effect on `exists` and `count`, which look at all values together",
                    Some("remove `quantifier`".into()),
                );
            }
            q
        }
    };
    if unknown {
        return None;
    }
    Some(Leaf {
        path: jsonpath?,
        op: op?,
        quantifier: quantifier?,
    })
}

/// Reports every key of a leaf that is neither `path`, `quantifier`, an operator nor a combinator;
/// returns whether there was one.
fn report_unknown_operators(ck: &mut Checker, m: &Mapping, path: &[Seg]) -> bool {
    let mut allowed: Vec<&str> = vec!["path", "quantifier"];
    allowed.extend(OpName::names());
    allowed.extend(Combinator::names());
    let mut unknown = false;
    for (k, _) in m {
        if let Some(name) = k.as_str() {
            if !allowed.contains(&name) {
                unknown = true;
                let help = did_you_mean(name, &allowed).filter(|h| h.starts_with("did you mean"));
                ck.error_key(
                    &key(path, name),
                    format!("unknown operator `{}`", shorten(name)),
                    help.or_else(|| Some(format!("operators are {}", OpName::names().join(", ")))),
                );
            }
        }
    }
    unknown
}

/// The one operator of a leaf with its checked operand.
fn leaf_operator(ck: &mut Checker, m: &Mapping, path: &[Seg], unknown: bool) -> Option<Op> {
    let ops: Vec<OpName> = OpName::ALL
        .iter()
        .copied()
        .filter(|o| m.get(o.as_str()).is_some())
        .collect();
    match ops.as_slice() {
        [] => {
            if !unknown {
                ck.error(
                    path,
                    "this condition has a `path` but no operator",
                    Some("add one of `equals`, `in`, `exists`, `matches`, ...".into()),
                );
            }
            None
        }
        [one] => {
            let p = key(path, one.as_str());
            m.get(one.as_str())
                .and_then(|v| check_operand(ck, *one, v, &p))
        }
        [_, second, ..] => {
            ck.error_key(
                &key(path, second.as_str()),
                format!(
                    "a condition takes one operator, found {}",
                    ops.iter()
                        .map(|o| format!("`{o}`"))
                        .collect::<Vec<_>>()
                        .join(" and ")
                ),
                Some("combine several checks with `all: [...]`".into()),
            );
            None
        }
    }
}
/// Compiles a JSONPath written at `node`; the caret points into the path string when it can.
pub(crate) fn compile_path(ck: &mut Checker, source: &str, node: &[Seg]) -> Option<JsonPath> {
    match JsonPath::compile(source) {
        Ok(p) => Some(p),
        Err(e) => {
            let mut at = ck.at(node);
            // The parser reports where it gave up, usually past an unclosed `[`: name the bracket.
            let unclosed = unclosed_bracket(source);
            let (column, message) = match unclosed {
                Some(col) => (Some(col), "`[` is not closed".to_string()),
                None => (e.column, e.message),
            };
            // Quoted scalars start with the quote; the path text starts one column later.
            if let Some(col) = column {
                let line = ck.line(at);
                let quoted = line
                    .chars()
                    .nth(at.column.saturating_sub(1))
                    .is_some_and(|c| c == '\'' || c == '"');
                at.column += col - 1 + usize::from(quoted);
            }
            let help = if unclosed.is_some() {
                Some("close it with `]`, e.g. `$.events[*].outcome.reason`".into())
            } else if !source.starts_with('$') {
                Some(format!(
                    "paths start at the subject root, e.g. `$.{}`",
                    source.trim_start_matches('.')
                ))
            } else {
                Some(
                    "see RFC 9535 JSONPath, e.g. `$.user.status` or `$.events[*].outcome.reason`"
                        .into(),
                )
            };
            ck.error_at(
                at,
                format!("invalid JSONPath `{}`: {message}", shorten(source)),
                help,
            );
            None
        }
    }
}

/// The 1-based column of a `[` in a JSONPath that is never closed (quoted names skipped).
fn unclosed_bracket(source: &str) -> Option<usize> {
    let mut open: Vec<usize> = Vec::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in source.chars().enumerate() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => quote = Some(c),
                '[' => open.push(i + 1),
                ']' => {
                    open.pop();
                }
                _ => {}
            },
        }
    }
    open.last().copied()
}

/// The operand of `op`, checked and compiled.
fn check_operand(ck: &mut Checker, op: OpName, v: &Yaml, path: &[Seg]) -> Option<Op> {
    let what = format!("the operand of `{op}`");
    match op {
        OpName::Equals => ck.json(v, path, &what).map(Op::Equals),
        OpName::NotEquals => ck.json(v, path, &what).map(Op::NotEquals),
        OpName::Contains => ck.json(v, path, &what).map(Op::Contains),
        OpName::In => list_operand(ck, op, v, path).map(Op::In),
        OpName::NotIn => list_operand(ck, op, v, path).map(Op::NotIn),
        OpName::Exists => ck.boolean(v, path, &what).map(Op::Exists),
        OpName::StartsWith => ck.string(v, path, &what).map(Op::StartsWith),
        OpName::Matches => regex_operand(ck, v, path, &what).map(Op::Matches),
        OpName::Gt => bound_operand(ck, v, path, &what).map(Op::Gt),
        OpName::Gte => bound_operand(ck, v, path, &what).map(Op::Gte),
        OpName::Lt => bound_operand(ck, v, path, &what).map(Op::Lt),
        OpName::Lte => bound_operand(ck, v, path, &what).map(Op::Lte),
        OpName::OlderThan => ck.duration(v, path, &what).map(|(d, _)| Op::OlderThan(d)),
        OpName::NewerThan => ck.duration(v, path, &what).map(|(d, _)| Op::NewerThan(d)),
        OpName::Count => count_operand(ck, v, path).map(Op::Count),
    }
}

/// The list of `in` / `not_in`.
fn list_operand(
    ck: &mut Checker,
    op: OpName,
    v: &Yaml,
    path: &[Seg],
) -> Option<Vec<serde_json::Value>> {
    let Yaml::Sequence(items) = v else {
        // A lone value is the usual slip; show it as the one-item list it meant.
        let help = match v {
            Yaml::String(_) | Yaml::Number(_) | Yaml::Bool(_) => {
                let shown = serde_yaml::to_string(v).unwrap_or_default();
                Some(format!("write a list: `{op}: [{}]`", shorten(shown.trim())))
            }
            _ => Some(format!("write a list, e.g. `{op}: [ACTIVE, RECOVERY]`")),
        };
        ck.error(
            path,
            format!(
                "the operand of `{op}` must be a list, found {}",
                describe(v)
            ),
            help,
        );
        return None;
    };
    let what = format!("the operand of `{op}`");
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        out.push(ck.json(item, &index(path, i), &what)?);
    }
    Some(out)
}

/// The regex of `matches`, compiled; a syntax error keeps the regex crate's own explanation.
fn regex_operand(ck: &mut Checker, v: &Yaml, path: &[Seg], what: &str) -> Option<Regex> {
    let s = ck.string(v, path, what)?;
    let e = match Regex::new(&s) {
        Ok(r) => return Some(r),
        Err(e) => e,
    };
    let detail = match &e {
        regex::Error::Syntax(text) => text
            .lines()
            .rev()
            .find(|l| l.starts_with("error:"))
            .map(|l| l.trim_start_matches("error:").trim().to_string())
            .unwrap_or_else(|| text.clone()),
        other => other.to_string(),
    };
    let help = if detail.contains("look-around") {
        "the regex engine has no look-around; negate a pattern with `not: { path: ..., matches: ... }`"
    } else if detail.contains("group") || detail.contains("class") || detail.contains("repetition")
    {
        "escape `(`, `)`, `[`, `.`, `*`, `+`, `?` with a backslash to match them literally"
    } else {
        "see the Rust regex syntax: https://docs.rs/regex/latest/regex/#syntax"
    };
    ck.error(
        path,
        format!("invalid regex `{}`: {}", shorten(&s), shorten(&detail)),
        Some(help.into()),
    );
    None
}

/// The bound of `gt`/`gte`/`lt`/`lte`: a finite number or an RFC 3339 timestamp.
fn bound_operand(ck: &mut Checker, v: &Yaml, path: &[Seg], what: &str) -> Option<Bound> {
    let bound = match v {
        Yaml::Number(n) => n.as_f64().filter(|f| f.is_finite()).map(Bound::Number),
        Yaml::String(s) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| Bound::Time(t.with_timezone(&Utc))),
        _ => None,
    };
    if bound.is_none() {
        let found = match v {
            Yaml::Number(_) => "a number that is not finite",
            other => describe(other),
        };
        ck.error(
            path,
            format!("{what} must be a number or an RFC 3339 timestamp, found {found}"),
            Some("e.g. `gte: 3` or `lt: 2026-01-01T00:00:00Z`".into()),
        );
    }
    bound
}

/// The comparisons of `count`, e.g. `{ gte: 2 }`.
fn count_operand(ck: &mut Checker, v: &Yaml, path: &[Seg]) -> Option<Vec<CountCmp>> {
    let Yaml::Mapping(m) = v else {
        ck.error(
            path,
            format!("`count` takes a comparison, found {}", describe(v)),
            Some(match v {
                Yaml::Number(n) => {
                    format!("write `count: {{ equals: {n} }}` or `count: {{ gte: {n} }}`")
                }
                _ => "e.g. `count: { gte: 2 }`".into(),
            }),
        );
        return None;
    };
    ck.known_keys(m, path, &CountField::names(), "`count`");
    let mut cmps = Vec::new();
    for (k, val) in m {
        let Some(field) = k.as_str().and_then(CountField::parse) else {
            continue;
        };
        let name = field.as_str();
        let n = ck.unsigned(val, &key(path, name), &format!("`count.{name}`"))?;
        cmps.push(CountCmp::new(field, n));
    }
    if cmps.is_empty() {
        ck.error(
            path,
            "`count` needs a comparison",
            Some("e.g. `count: { gte: 2 }`".into()),
        );
        return None;
    }
    Some(cmps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_unclosed_bracket_of_a_path() {
        assert_eq!(unclosed_bracket("$.events[*.outcome.reason"), Some(9));
        assert_eq!(unclosed_bracket("$.events[*].outcome.reason"), None);
        assert_eq!(unclosed_bracket("$.e[?@.r == ']'].x"), None);
        assert_eq!(unclosed_bracket("$.e[?@.r == \"[\"].x[0"), Some(19));
    }
}
