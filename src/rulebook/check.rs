//! The validator's toolkit: walks `serde_yaml::Value` nodes with their paths and records located
//! diagnostics (wrong type, unknown field with a suggestion, missing field). It knows nothing about
//! rules or actions; `rulebook` decides what is allowed where.

use serde_yaml::{Mapping, Value as Yaml};

use super::keyword::Keyword;
use super::limits::MAX_DURATION;
use super::locate::{Locator, NodePath, Seg};
use crate::diagnostic::{did_you_mean, Diagnostic, Position};

/// At most this many characters of a user's input are echoed in a message.
const MAX_ECHO: usize = 80;

/// `text` cut to [`MAX_ECHO`] characters (with `…`), so a huge input cannot make a huge message.
pub fn shorten(text: &str) -> String {
    match text.char_indices().nth(MAX_ECHO) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// Collects every problem of one file.
pub struct Checker<'a> {
    pub file: &'a str,
    pub source: &'a str,
    pub locator: &'a Locator,
    pub diagnostics: Vec<Diagnostic>,
    /// The rule being checked, named in diagnostics.
    pub rule: Option<String>,
}

/// A child path: `path` + `seg`.
pub fn child(path: &[Seg], seg: Seg) -> NodePath {
    let mut p = path.to_vec();
    p.push(seg);
    p
}

pub fn key(path: &[Seg], k: &str) -> NodePath {
    child(path, Seg::Key(k.to_string()))
}

pub fn index(path: &[Seg], i: usize) -> NodePath {
    child(path, Seg::Index(i))
}

/// "a string", "a number"... for messages.
pub fn describe(v: &Yaml) -> &'static str {
    match v {
        Yaml::Null => "null",
        Yaml::Bool(_) => "a boolean",
        Yaml::Number(_) => "a number",
        Yaml::String(_) => "a string",
        Yaml::Sequence(_) => "a list",
        Yaml::Mapping(_) => "a mapping",
        Yaml::Tagged(_) => "a tagged value",
    }
}

impl<'a> Checker<'a> {
    pub fn new(file: &'a str, source: &'a str, locator: &'a Locator) -> Self {
        Checker {
            file,
            source,
            locator,
            diagnostics: Vec::new(),
            rule: None,
        }
    }

    pub fn at(&self, path: &[Seg]) -> Position {
        self.locator.value(path)
    }

    /// The source line `at` is on (empty when out of range).
    pub fn line(&self, at: Position) -> &'a str {
        self.source
            .lines()
            .nth(at.line.saturating_sub(1))
            .unwrap_or("")
    }

    /// An error at the value of `path`.
    pub fn error(&mut self, path: &[Seg], message: impl Into<String>, help: Option<String>) {
        let at = self.locator.value(path);
        self.error_at(at, message, help);
    }

    /// An error at the key of the entry at `path` (unknown or misplaced fields).
    pub fn error_key(&mut self, path: &[Seg], message: impl Into<String>, help: Option<String>) {
        let at = self.locator.key(path);
        self.error_at(at, message, help);
    }

    pub fn error_at(&mut self, at: Position, message: impl Into<String>, help: Option<String>) {
        let d = Diagnostic::error(self.file, at, message)
            .with_help(help)
            .in_rule(self.rule.as_deref());
        self.diagnostics.push(d);
    }

    pub fn warning(&mut self, path: &[Seg], message: impl Into<String>, help: Option<String>) {
        let d = Diagnostic::warning(self.file, self.locator.key(path), message)
            .with_help(help)
            .in_rule(self.rule.as_deref());
        self.diagnostics.push(d);
    }

    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.is_error())
    }

    /// `v` as a mapping, or an error saying what `what` should be.
    pub fn mapping<'v>(&mut self, v: &'v Yaml, path: &[Seg], what: &str) -> Option<&'v Mapping> {
        match v {
            Yaml::Mapping(m) => Some(m),
            other => {
                self.error(
                    path,
                    format!("{what} must be a mapping, found {}", describe(other)),
                    None,
                );
                None
            }
        }
    }

    pub fn sequence<'v>(&mut self, v: &'v Yaml, path: &[Seg], what: &str) -> Option<&'v Vec<Yaml>> {
        match v {
            Yaml::Sequence(s) => Some(s),
            other => {
                self.error(
                    path,
                    format!("{what} must be a list, found {}", describe(other)),
                    None,
                );
                None
            }
        }
    }

    /// Reports keys of `m` not in `allowed` (with a suggestion) and non-string keys.
    pub fn known_keys(&mut self, m: &Mapping, path: &[Seg], allowed: &[&str], context: &str) {
        for (k, _) in m {
            match k.as_str() {
                Some(name) if allowed.contains(&name) => {}
                Some(name) => {
                    self.error_key(
                        &key(path, name),
                        format!("unknown field `{}` in {context}", shorten(name)),
                        did_you_mean(name, allowed),
                    );
                }
                None => self.error(path, format!("keys in {context} must be strings"), None),
            }
        }
    }

    /// The value of a required field, or an error at the mapping.
    pub fn required<'v>(
        &mut self,
        m: &'v Mapping,
        path: &[Seg],
        name: &str,
        context: &str,
    ) -> Option<&'v Yaml> {
        let v = m.get(name);
        if v.is_none() {
            self.error(path, format!("missing field `{name}` in {context}"), None);
        }
        v
    }

    pub fn string(&mut self, v: &Yaml, path: &[Seg], what: &str) -> Option<String> {
        match v {
            Yaml::String(s) => Some(s.clone()),
            other => {
                self.error(
                    path,
                    format!("{what} must be a string, found {}", describe(other)),
                    None,
                );
                None
            }
        }
    }

    pub fn boolean(&mut self, v: &Yaml, path: &[Seg], what: &str) -> Option<bool> {
        match v {
            Yaml::Bool(b) => Some(*b),
            other => {
                self.error(
                    path,
                    format!(
                        "{what} must be `true` or `false`, found {}",
                        describe(other)
                    ),
                    None,
                );
                None
            }
        }
    }

    pub fn unsigned(&mut self, v: &Yaml, path: &[Seg], what: &str) -> Option<u64> {
        match v.as_u64() {
            Some(n) => Some(n),
            None => {
                self.error(
                    path,
                    format!(
                        "{what} must be a whole number of 0 or more, found {}",
                        describe(v)
                    ),
                    None,
                );
                None
            }
        }
    }

    pub fn integer(&mut self, v: &Yaml, path: &[Seg], what: &str) -> Option<i64> {
        match v.as_i64() {
            Some(n) => Some(n),
            None => {
                self.error(
                    path,
                    format!("{what} must be a whole number, found {}", describe(v)),
                    None,
                );
                None
            }
        }
    }

    /// A duration like `30m`, `12h`, `7d`.
    pub fn duration(
        &mut self,
        v: &Yaml,
        path: &[Seg],
        what: &str,
    ) -> Option<(std::time::Duration, String)> {
        let text = match v {
            Yaml::String(s) => s.clone(),
            Yaml::Number(n) => n.to_string(),
            other => {
                self.error(
                    path,
                    format!(
                        "{what} must be a duration like `7d`, found {}",
                        describe(other)
                    ),
                    None,
                );
                return None;
            }
        };
        match humantime::parse_duration(&text) {
            Ok(d) if d <= MAX_DURATION => Some((d, text)),
            Ok(_) => {
                self.error(
                    path,
                    format!(
                        "{what} `{}` is longer than the maximum of `{}d` (about 10 years)",
                        shorten(&text),
                        MAX_DURATION.as_secs() / 86_400
                    ),
                    Some("write a shorter duration, e.g. `30d`".into()),
                );
                None
            }
            Err(e) => {
                self.error(
                    path,
                    format!(
                        "{what} `{}` is not a duration: {}",
                        shorten(&text),
                        e.to_string().to_lowercase()
                    ),
                    Some("write a number and a unit, e.g. `30m`, `12h`, `7d`, `2w`".into()),
                );
                None
            }
        }
    }

    /// One name of a keyword set, e.g. a mode or a retry method.
    pub fn keyword<K: Keyword>(&mut self, v: &Yaml, path: &[Seg], what: &str) -> Option<K> {
        let s = self.string(v, path, what)?;
        match K::parse(&s) {
            Some(k) => Some(k),
            None => {
                self.error(
                    path,
                    format!("unknown {what} `{}`", shorten(&s)),
                    did_you_mean(&s, &K::names()),
                );
                None
            }
        }
    }

    /// A YAML value as JSON, refusing numbers JSON cannot hold (`.inf`, `.nan`).
    pub fn json(&mut self, v: &Yaml, path: &[Seg], what: &str) -> Option<serde_json::Value> {
        if has_non_finite(v) {
            self.error(
                path,
                format!("{what} holds a number that is not finite (`.inf` or `.nan`)"),
                Some("JSON has no infinity or NaN: write a finite number, or quote it (`'.inf'`) to mean the string".into()),
            );
            return None;
        }
        Some(to_json(v))
    }
}

/// Whether a YAML value holds an infinite or NaN number anywhere.
fn has_non_finite(v: &Yaml) -> bool {
    match v {
        Yaml::Number(n) => n.as_f64().is_some_and(|f| !f.is_finite()),
        Yaml::Sequence(items) => items.iter().any(has_non_finite),
        Yaml::Mapping(m) => m
            .iter()
            .any(|(k, v)| has_non_finite(k) || has_non_finite(v)),
        Yaml::Tagged(t) => has_non_finite(&t.value),
        _ => false,
    }
}

/// Converts a YAML value to JSON (tags dropped, non-string keys stringified).
pub fn to_json(v: &Yaml) -> serde_json::Value {
    match v {
        Yaml::Null => serde_json::Value::Null,
        Yaml::Bool(b) => serde_json::Value::Bool(*b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                serde_json::Value::from(i)
            } else if let Some(u) = n.as_u64() {
                serde_json::Value::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(serde_json::Value::Null, serde_json::Value::Number)
            }
        }
        Yaml::String(s) => serde_json::Value::String(s.clone()),
        Yaml::Sequence(items) => serde_json::Value::Array(items.iter().map(to_json).collect()),
        Yaml::Mapping(m) => serde_json::Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) => s.clone(),
                        other => serde_yaml::to_string(other)
                            .unwrap_or_default()
                            .trim()
                            .to_string(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Yaml::Tagged(t) => to_json(&t.value),
    }
}
