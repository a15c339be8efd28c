//! What a rulebook may hold at most, checked before the expensive work so a hostile or broken file
//! answers quickly with a located error instead of exhausting memory or time. Every limit here is
//! documented in `docs/rulebook.md` ("Limits").

use std::time::Duration;

use crate::diagnostic::{Diagnostic, Position};

/// A rulebook or test file is at most 1 MiB.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// A test case's `subject_file` is at most 1 MiB.
pub const MAX_SUBJECT_FILE_BYTES: u64 = 1024 * 1024;

/// YAML nesting (mappings, lists, flow brackets) is at most 64 levels deep.
pub const MAX_DEPTH: usize = 64;

/// A rulebook has at most 10,000 rules.
pub const MAX_RULES: usize = 10_000;

/// A duration (`since`, `timeout`, `older_than`, `newer_than`) is at most 3650 days, so adding it
/// to any timestamp stays in range.
pub const MAX_DURATION: Duration = Duration::from_secs(3650 * 86_400);

/// At most this many diagnostics are kept for one file; the rest are counted in a last one.
pub const MAX_DIAGNOSTICS: usize = 200;

/// `diagnostics` cut to [`MAX_DIAGNOSTICS`], the rest counted in a last error, so a file with a
/// hundred thousand mistakes renders in linear time and readable length.
pub fn capped(mut diagnostics: Vec<Diagnostic>, file: &str) -> Vec<Diagnostic> {
    if diagnostics.len() <= MAX_DIAGNOSTICS {
        return diagnostics;
    }
    let more = diagnostics.len() - MAX_DIAGNOSTICS;
    diagnostics.truncate(MAX_DIAGNOSTICS);
    let at = diagnostics
        .last()
        .map_or(Position { line: 1, column: 1 }, |d| Position {
            line: d.line,
            column: d.column,
        });
    diagnostics.push(
        Diagnostic::error(file, at, format!("{more} more problems are not shown"))
            .with_help(Some("fix the ones above and run again".into())),
    );
    diagnostics
}

/// The error for a file over [`MAX_FILE_BYTES`].
pub fn too_large(file: &str, bytes: u64) -> Diagnostic {
    Diagnostic::error(
        file,
        Position { line: 1, column: 1 },
        format!("the file is {bytes} bytes, more than the limit of {MAX_FILE_BYTES}"),
    )
    .with_help(Some(
        "a rulebook is at most 1 MiB; split it into several rulebooks".into(),
    ))
}

/// The error for nesting deeper than [`MAX_DEPTH`], at the bracket or node that crosses it.
pub fn too_deep(file: &str, at: Position) -> Diagnostic {
    Diagnostic::error(
        file,
        at,
        format!("the YAML is nested more than {MAX_DEPTH} levels deep here"),
    )
    .with_help(Some(
        "rulebooks need only a few levels; is a bracket or an indentation wrong?".into(),
    ))
}

/// The first flow bracket (`[` or `{`) nested deeper than [`MAX_DEPTH`], found by one linear scan
/// of the text before any YAML parser sees it (parsers slow down quadratically on deep flow
/// nesting). Quoted strings and comments are skipped; block nesting is checked by the locator.
pub fn flow_too_deep(text: &str) -> Option<Position> {
    let mut depth = 0usize;
    for (line_no, line) in text.lines().enumerate() {
        let mut quote: Option<char> = None;
        let mut prev = ' ';
        for (col, c) in line.chars().enumerate() {
            match quote {
                Some('\'') if c == '\'' => quote = None,
                Some('"') if c == '"' && prev != '\\' => quote = None,
                Some(_) => {}
                None => match c {
                    '#' if prev == ' ' || prev == '\t' || col == 0 => break,
                    '\'' | '"' if depth > 0 || matches!(prev, ' ' | ':' | ',' | '[' | '{') => {
                        quote = Some(c)
                    }
                    '[' | '{' => {
                        depth += 1;
                        if depth > MAX_DEPTH {
                            return Some(Position {
                                line: line_no + 1,
                                column: col + 1,
                            });
                        }
                    }
                    ']' | '}' => depth = depth.saturating_sub(1),
                    _ => {}
                },
            }
            prev = c;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_deep_flow_nesting_and_skips_quotes_and_comments() {
        let deep = "a: ".to_string() + &"[".repeat(MAX_DEPTH + 1);
        assert_eq!(
            flow_too_deep(&deep),
            Some(Position {
                line: 1,
                column: 4 + MAX_DEPTH
            })
        );
        let quoted = format!("a: '{}'\n# {}\n", "[".repeat(100), "{".repeat(100));
        assert_eq!(flow_too_deep(&quoted), None);
        assert_eq!(flow_too_deep("a: [[1], {b: [2]}]\n"), None);
    }
}
