//! Translating serde_yaml's errors into located diagnostics a rulebook author can act on: the
//! construct left open (an unclosed `{`, `[` or quote) is pointed at where it began, a repeated key
//! at its repeat, and common slips (tabs, an unquoted path in a flow mapping, `: ` in a plain value)
//! get a `help:`. It knows nothing about what the nodes mean.

use super::locate::Locator;
use crate::diagnostic::{Diagnostic, Position};

/// `text` without a leading UTF-8 byte-order mark.
pub(crate) fn without_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// The diagnostics for a document serde_yaml rejects. serde_yaml locates a repeated key only at its
/// mapping, so repeats are reported from the locator instead, each at the repeated key.
pub(crate) fn yaml_errors(
    file: &str,
    text: &str,
    e: &serde_yaml::Error,
    locator: &Locator,
) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = locator
        .duplicates()
        .iter()
        .map(|d| {
            Diagnostic::error(
                file,
                d.again,
                format!("invalid YAML: key `{}` is written twice in one mapping", d.key),
            )
            .with_help(Some(if d.key == "when" {
                format!(
                    "the first `when` is at line {}; a rule has one `when`: combine conditions with `all: [...]`",
                    d.first.line
                )
            } else {
                format!("the first `{}` is at line {}; keep one", d.key, d.first.line)
            }))
        })
        .collect();
    if out.is_empty() || !e.to_string().contains("duplicate entry") {
        out.push(yaml_syntax(file, text, e));
    }
    out.sort_by_key(|d| (d.line, d.column));
    out
}

/// A YAML syntax error from serde_yaml, located.
pub(crate) fn yaml_syntax(file: &str, source: &str, e: &serde_yaml::Error) -> Diagnostic {
    let at = e
        .location()
        .map_or(Position { line: 1, column: 1 }, |l| Position {
            line: l.line(),
            column: l.column(),
        });
    // serde_yaml writes "MESSAGE at line L column C[, while CONTEXT at line L2 column C2]": the
    // location is shown separately, and the context says where an unclosed construct began.
    let text = e.to_string();
    let (message, context) = split_yaml_error(&text);
    let gave_up = format!(
        "the parser gave up at line {}, column {}",
        at.line, at.column
    );
    let (at, message, help) = match context {
        // A `{`/`[` opened on an earlier line and never closed: point at the opening bracket.
        Some((what, opened))
            if opened.line < at.line
                && (what == "parsing a flow mapping" || what == "parsing a flow sequence") =>
        {
            let (open, close) = if what == "parsing a flow mapping" {
                ('{', '}')
            } else {
                ('[', ']')
            };
            (
                opened,
                format!("this `{open}` is not closed"),
                Some(format!("close it with `{close}`; {gave_up} ({message})")),
            )
        }
        Some(("scanning a quoted scalar", opened)) => (
            opened,
            "this quoted string is not closed".to_string(),
            Some(format!("end it with the same quote mark; {gave_up}")),
        ),
        // The parser names what it expected, not what the writer got wrong; say it for common slips.
        _ => {
            let help = if let Some(scalar) = unquoted_flow_scalar(source, at, context) {
                Some(format!(
                    "inside `{{ ... }}`, a value with `[`, `]`, `{{`, `}}` or `,` must be quoted: write `'{scalar}'`"
                ))
            } else if message.contains("tab character") {
                Some("indent with spaces: YAML does not allow tabs in indentation".to_string())
            } else if message.contains("expected ',' or '}'") {
                Some("entries of a `{ ... }` mapping are separated by `,`; is one missing, or the `}`?".into())
            } else if message.contains("expected ',' or ']'") {
                Some(
                    "items of a `[ ... ]` list are separated by `,`; is one missing, or the `]`?"
                        .into(),
                )
            } else if message.contains("expected '-' indicator") {
                Some("this line's indentation does not line up with the list items above it".into())
            } else if message.contains("mapping values are not allowed") {
                Some(
                    "a value containing `: ` must be quoted, e.g. `message: \"hub user: ...\"`"
                        .into(),
                )
            } else {
                None
            };
            (at, message.to_string(), help)
        }
    };
    Diagnostic::error(file, at, format!("invalid YAML: {message}")).with_help(help)
}

/// The plain value the parser stopped in, when it stopped at a bracket inside a flow collection on
/// the same line: `{ path: $.events[*].reason }` needs the path quoted.
fn unquoted_flow_scalar(
    source: &str,
    at: Position,
    context: Option<(&str, Position)>,
) -> Option<String> {
    let (what, opened) = context?;
    if !what.starts_with("parsing a flow") || opened.line != at.line {
        return None;
    }
    let line: Vec<char> = source
        .lines()
        .nth(at.line.checked_sub(1)?)?
        .chars()
        .collect();
    let i = at.column.checked_sub(1)?;
    if !matches!(line.get(i), Some('[' | ']' | '{' | '}')) {
        return None;
    }
    // The value starts after the `: ` before the bracket and ends at the `,` or `}` after it.
    let start = (0..i)
        .rev()
        .find(|&j| line[j] == ' ' && j > 0 && line[j - 1] == ':')?
        + 1;
    let mut depth = 0i32;
    let mut end = line.len();
    for (j, c) in line.iter().enumerate().skip(start) {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' | '}' if depth <= 0 => {
                end = j;
                break;
            }
            _ => {}
        }
    }
    let scalar: String = line.get(start..end)?.iter().collect();
    let scalar = scalar.trim();
    (scalar.starts_with('$') && !scalar.contains('\'')).then(|| scalar.to_string())
}

/// Splits serde_yaml's error text into its message and, when given, the construct it was reading
/// and where that construct began.
fn split_yaml_error(text: &str) -> (&str, Option<(&str, Position)>) {
    let Some(i) = text.find(" at line ") else {
        return (text, None);
    };
    let message = &text[..i];
    let context = text[i..].split_once(", while ").and_then(|(_, ctx)| {
        let (what, loc) = ctx.split_once(" at line ")?;
        let (line, column) = loc.split_once(" column ")?;
        let position = Position {
            line: line.trim().parse().ok()?,
            column: column.trim().parse().ok()?,
        };
        Some((what, position))
    });
    (message, context)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_quoting_a_path_in_a_flow_mapping() {
        let src = "when: { path: $.e[*].r, equals: 1 }\n";
        let ctx = Some(("parsing a flow mapping", Position { line: 1, column: 7 }));
        let at = Position {
            line: 1,
            column: 18,
        };
        assert_eq!(
            unquoted_flow_scalar(src, at, ctx).as_deref(),
            Some("$.e[*].r")
        );
        let at_colon = Position {
            line: 1,
            column: 13,
        };
        assert_eq!(unquoted_flow_scalar(src, at_colon, ctx), None);
    }
}
