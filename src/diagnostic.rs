//! Diagnostics for people: a located message (`file:line:column: error: ...`), a snippet with a caret,
//! and a `help:` line. Owns rendering (text and JSON) and "did you mean" suggestions; it does not decide
//! what is wrong (the rulebook validator does).

use serde::Serialize;

/// How bad a diagnostic is. Errors stop a rulebook from loading; warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    fn label(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A 1-based position in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Default)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// One problem found in a file, with where it is and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// The id of the rule the problem is in, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(file: &str, at: Position, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            file: file.to_string(),
            line: at.line,
            column: at.column,
            message: message.into(),
            rule: None,
            help: None,
        }
    }

    pub fn warning(file: &str, at: Position, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(file, at, message)
        }
    }

    pub fn with_help(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }

    pub fn in_rule(mut self, rule: Option<&str>) -> Self {
        self.rule = rule.map(str::to_string);
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders the diagnostic the way compilers do, with a snippet of `source` and a caret.
    pub fn render(&self, source: &str) -> String {
        let mut out = format!(
            "{}:{}:{}: {}: {}",
            self.file,
            self.line,
            self.column,
            self.severity.label(),
            self.message
        );
        if let Some(rule) = &self.rule {
            let (rule, _) = snippet_window(rule, 0);
            out.push_str(&format!(" (in rule `{rule}`)"));
        }
        out.push('\n');
        if let Some(line) = source.lines().nth(self.line.saturating_sub(1)) {
            let gutter = self.line.to_string().len();
            let pad = " ".repeat(gutter);
            let (text, caret_at) = snippet_window(line, self.column.saturating_sub(1));
            let caret_pad: String = text
                .chars()
                .take(caret_at)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            out.push_str(&format!(
                "{pad} |\n{} | {text}\n{pad} | {caret_pad}^\n",
                self.line
            ));
        }
        if let Some(help) = &self.help {
            out.push_str(&format!("  = help: {help}\n"));
        }
        out
    }
}

/// At most this many characters of a source line are shown on each side of the caret.
const SNIPPET_REACH: usize = 80;

/// The part of `line` shown in a snippet (all of it when short; else [`SNIPPET_REACH`] characters
/// either side of the caret, cuts marked `…`) and the caret's character offset in it, so one huge
/// line cannot make a huge message.
fn snippet_window(line: &str, caret: usize) -> (String, usize) {
    let count = line.chars().count();
    if count <= 2 * SNIPPET_REACH {
        return (line.to_string(), caret);
    }
    let from = caret.saturating_sub(SNIPPET_REACH);
    let to = (caret + SNIPPET_REACH).min(count);
    let mut shown = String::new();
    if from > 0 {
        shown.push('…');
    }
    shown.extend(line.chars().skip(from).take(to - from));
    if to < count {
        shown.push('…');
    }
    (shown, caret - from + usize::from(from > 0))
}

/// Renders every diagnostic, errors first then warnings, each in file order, with a closing count.
pub fn render_all(diagnostics: &[Diagnostic], source: &str) -> String {
    let mut sorted: Vec<&Diagnostic> = diagnostics.iter().collect();
    sorted.sort_by_key(|d| (d.severity, d.line, d.column));
    let mut out = String::new();
    for d in &sorted {
        out.push_str(&d.render(source));
        out.push('\n');
    }
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    if errors + warnings > 0 {
        out.push_str(&format!(
            "{} error{}, {} warning{}\n",
            errors,
            if errors == 1 { "" } else { "s" },
            warnings,
            if warnings == 1 { "" } else { "s" }
        ));
    }
    out
}

/// The closest of `candidates` to `word`, when it is close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3) && *d < c.len().max(word.len()))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// A `help:` text suggesting the nearest valid name, or listing the valid names.
pub fn did_you_mean(word: &str, candidates: &[&str]) -> Option<String> {
    match closest(word, candidates.iter().copied()) {
        Some(c) => Some(format!("did you mean `{c}`?")),
        None if !candidates.is_empty() => Some(format!(
            "expected one of {}",
            candidates
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_line_is_shown_around_the_caret_only() {
        let source = format!("key: {}X{}\n", "a".repeat(5000), "b".repeat(5000));
        let d = Diagnostic::error(
            "f.yaml",
            Position {
                line: 1,
                column: 5006,
            },
            "here",
        );
        let shown = d.render(&source);
        assert!(shown.len() < 600, "{} bytes", shown.len());
        let lines: Vec<&str> = shown.lines().collect();
        let caret = lines[3].chars().position(|c| c == '^').unwrap();
        assert_eq!(lines[2].chars().nth(caret), Some('X'), "{shown}");
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            closest("reset_pasword", ["reset_password", "await"]),
            Some("reset_password")
        );
        assert_eq!(closest("zzz", ["reset_password", "await"]), None);
        assert_eq!(closest("eqals", ["equals", "exists"]), Some("equals"));
    }

    #[test]
    fn renders_caret_under_column() {
        let d = Diagnostic::error("r.yaml", Position { line: 2, column: 3 }, "bad")
            .with_help(Some("fix it".into()));
        let text = d.render("a: 1\nb: 2\n");
        assert!(text.contains("r.yaml:2:3: error: bad"));
        assert!(text.contains("2 | b: 2\n  |   ^"));
    }
}
