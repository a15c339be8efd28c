//! Message templates: `message: "... {{ $.path }} ..."` split into text and compiled JSONPaths at
//! load time, rendered against a subject at plan time. Rendering never fails: a missing value shows
//! as `?`.

use super::check::Checker;
use super::locate::Seg;
use crate::condition::JsonPath;
use crate::diagnostic::Position;

/// A message with `{{ $.path }}` placeholders filled from the subject.
#[derive(Debug, Clone)]
pub struct Template {
    pub source: String,
    parts: Vec<TemplatePart>,
}

#[derive(Debug, Clone)]
enum TemplatePart {
    Text(String),
    Path(JsonPath),
}

impl Template {
    /// Renders the message: each placeholder becomes its first value (strings bare), or `?` if missing.
    pub fn render(&self, subject: &serde_json::Value) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                TemplatePart::Text(t) => out.push_str(t),
                TemplatePart::Path(p) => match p.query(subject).first() {
                    Some(serde_json::Value::String(s)) => out.push_str(s),
                    Some(v) => out.push_str(&v.to_string()),
                    None => out.push('?'),
                },
            }
        }
        out
    }

    pub fn paths(&self) -> impl Iterator<Item = &JsonPath> {
        self.parts.iter().filter_map(|p| match p {
            TemplatePart::Path(p) => Some(p),
            TemplatePart::Text(_) => None,
        })
    }
}

/// Moves `at` (where a scalar starts) onto `text` (a part of the scalar) when that part is written
/// verbatim on the same line; otherwise (escapes, folded lines) the scalar's start is the best we have.
fn point_into(ck: &Checker, at: Position, text: &str) -> Position {
    let needle = text.lines().next().unwrap_or("");
    let line = ck.line(at);
    let Some((from, _)) = line.char_indices().nth(at.column.saturating_sub(1)) else {
        return at;
    };
    match line[from..].find(needle) {
        Some(i) if !needle.is_empty() => Position {
            line: at.line,
            column: at.column + line[from..from + i].chars().count(),
        },
        _ => at,
    }
}

/// Splits `{{ $.path }}` placeholders out of a message and compiles them.
pub(super) fn check_template(ck: &mut Checker, s: &str, path: &[Seg]) -> Option<Template> {
    let mut parts = Vec::new();
    let mut rest = s;
    let mut ok = true;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            parts.push(TemplatePart::Text(rest[..start].to_string()));
        }
        let opened = s.len() - rest.len() + start;
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            let at = point_into(ck, ck.at(path), &s[opened..]);
            ck.error_at(
                at,
                "unclosed `{{` in `message`",
                Some("close the placeholder with `}}`".into()),
            );
            return None;
        };
        let inner = &after[..end];
        let expr = inner.trim();
        match JsonPath::compile(expr) {
            Ok(p) => parts.push(TemplatePart::Path(p)),
            Err(e) => {
                let from = opened + 2 + (inner.len() - inner.trim_start().len());
                let at = point_into(ck, ck.at(path), &s[from..]);
                ck.error_at(
                    at,
                    format!("invalid JSONPath `{expr}` in `message`: {}", e.message),
                    Some("placeholders look like `{{ $.user.profile.login }}`".into()),
                );
                ok = false;
            }
        }
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        parts.push(TemplatePart::Text(rest.to_string()));
    }
    ok.then(|| Template {
        source: s.to_string(),
        parts,
    })
}
