//! The Markdown report, readable in a change ticket both raw and rendered (CommonMark with GitHub's
//! tables): a header with the rulebook and its checksum, the summary, the steps grouped by action in
//! tables, protected and unknown subjects, then why each subject was decided, its explanation in a
//! code block. Every value from a subject or the rulebook is escaped ([`text`]) or fenced
//! ([`fenced`]), so a login holding `<script>` or `|` is shown, never interpreted.

use super::{Line, Row, View};

pub(super) fn render(view: &View) -> String {
    let mut out = String::new();
    header(view, &mut out);
    summary(view, &mut out);
    steps(view, &mut out);
    protected(view, &mut out);
    subjects(view, &mut out);
    out
}

fn header(view: &View, out: &mut String) {
    out.push_str(&format!("# {} `{}`\n\n", view.title, view.plan_id));
    out.push_str(&format!(
        "- **Rulebook:** {} ({})\n",
        text(&view.rulebook_name),
        text(&view.rulebook_path)
    ));
    out.push_str(&format!(
        "- **Rulebook sha256:** `{}`\n",
        view.rulebook_sha256
    ));
    out.push_str(&format!("- **Evaluated at:** {}\n", text(&view.now)));
    out.push_str(&format!(
        "- **Subjects:** {}, from {}\n\n",
        view.subjects_kind,
        text(&view.source)
    ));
}

fn summary(view: &View, out: &mut String) {
    out.push_str("## Summary\n\n| What | Count |\n| --- | ---: |\n");
    for c in &view.counts {
        out.push_str(&format!("| {} | {} |\n", c.label, c.value));
    }
    out.push_str(&format!("\n{}\n\n", text(&view.totals)));
    if !view.states.is_empty() {
        out.push_str("### Steps by state\n\n| State | Steps |\n| --- | ---: |\n");
        for c in &view.states {
            out.push_str(&format!("| `{}` | {} |\n", c.label, c.value));
        }
        out.push('\n');
    }
}

fn steps(view: &View, out: &mut String) {
    if view.groups.is_empty() {
        return;
    }
    out.push_str("## Steps\n\n");
    let results = !view.states.is_empty();
    for g in &view.groups {
        out.push_str(&format!("### `{}` ({})\n\n", g.action, g.total));
        if g.destructive {
            out.push_str("**Destructive:** these steps need `--approve-destructive`.\n\n");
        }
        out.push_str("| Step | Subject | Org | Rule | Safety | After | Parameters | State |");
        out.push_str(if results { " Detail |\n" } else { "\n" });
        out.push_str("| --- | --- | --- | --- | --- | --- | --- | --- |");
        out.push_str(if results { " --- |\n" } else { "\n" });
        for r in &g.steps {
            row(r, results, out);
        }
        if g.more > 0 {
            out.push_str(&format!(
                "\n… and {} more (all of them with `--all`).\n",
                g.more
            ));
        }
        out.push('\n');
    }
}

fn row(r: &Row, results: bool, out: &mut String) {
    // Bold, so a destructive step stands out without colour.
    let safety = match r.safety {
        "destructive" => format!("**{} {}**", r.marker, r.safety),
        _ => format!("{} {}", r.marker, r.safety),
    };
    out.push_str(&format!(
        "| `{}` | {} | {} | {} | {safety} | {} | {} | `{}` |",
        r.id,
        text(&r.subject),
        text(&r.org),
        text(&r.rule),
        text(&r.after),
        text(&r.params),
        r.state
    ));
    if results {
        out.push_str(&format!(" {} |", text(&r.detail)));
    }
    out.push('\n');
}

fn protected(view: &View, out: &mut String) {
    if !view.protected.is_empty() {
        out.push_str("## Protected subjects\n\nNever acted on.\n\n");
        for p in &view.protected {
            out.push_str(&format!(
                "- {}: by `guards.protect[{}]`",
                text(&p.key),
                p.guard
            ));
            if !p.would_match.is_empty() {
                out.push_str(&format!(", would match {}", text(&p.would_match)));
            }
            out.push('\n');
        }
        out.push('\n');
    }
    if !view.unknown.is_empty() {
        out.push_str("## Unknown subjects\n\nCould not be read fully; no action planned.\n\n");
        for u in &view.unknown {
            out.push_str(&format!("- {}: {}\n", text(&u.key), text(&u.why)));
        }
        out.push('\n');
    }
}

fn subjects(view: &View, out: &mut String) {
    if view.subjects.is_empty() {
        return;
    }
    out.push_str("## Why each subject\n\n");
    for s in &view.subjects {
        out.push_str(&format!("### {}: {}", text(&s.key), s.verdict));
        if !s.rules.is_empty() {
            out.push_str(&format!(" ({})", text(&s.rules)));
        }
        out.push_str("\n\n");
        if !s.state.is_empty() {
            out.push_str(&format!("State: {}", text(&s.state)));
            if !s.detail.is_empty() {
                out.push_str(&format!(": {}", text(&s.detail)));
            }
            out.push_str("\n\n");
        }
        out.push_str(&fenced(&s.explanation));
        out.push('\n');
    }
}

/// `s` as inline Markdown text: line breaks become spaces and every character Markdown or HTML
/// could give a meaning to is backslash-escaped (CommonMark lets any ASCII punctuation be).
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\r' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '#' | '&' | '!' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Explanation lines in a fenced code block, its fence longer than any run of backticks inside so
/// no value can close it.
fn fenced(lines: &[Line]) -> String {
    let body: String = lines
        .iter()
        .map(|l| {
            format!(
                "{}{}\n",
                "  ".repeat(l.depth),
                l.text.replace(['\n', '\r'], " ")
            )
        })
        .collect();
    let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}text\n{body}{fence}\n")
}

#[cfg(test)]
mod tests {
    use super::{fenced, text, Line};

    #[test]
    fn markup_in_values_is_escaped() {
        assert_eq!(
            text("<script>alert(1)</script> | *x*\nnext"),
            "\\<script\\>alert(1)\\</script\\> \\| \\*x\\* next"
        );
    }

    #[test]
    fn a_fence_outlasts_backticks_inside() {
        let lines = [Line {
            depth: 0,
            text: "saw \"````\"".to_string(),
        }];
        assert_eq!(fenced(&lines), "`````text\nsaw \"````\"\n`````\n");
    }
}
