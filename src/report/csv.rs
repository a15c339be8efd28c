//! The CSV report: a header and one row per step, in the plan's display order (by action, then the
//! plan's order). Columns: `step, subject, rule, action, org, safety, state, after, params, detail`;
//! `state` is `planned` for a plan and the journal's state for results. Quoting is the `csv` crate's
//! (RFC 4180); a cell a spreadsheet would read as a formula is made inert (see [`inert`]).

use super::{ReportError, View};

const HEADER: [&str; 10] = [
    "step", "subject", "rule", "action", "org", "safety", "state", "after", "params", "detail",
];

pub(super) fn render(view: &View) -> Result<String, ReportError> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    w.write_record(HEADER)?;
    for r in view.groups.iter().flat_map(|g| &g.steps) {
        let cells = [
            r.id.as_str(),
            &r.subject,
            &r.rule,
            r.action,
            &r.org,
            r.safety,
            r.state,
            &r.after,
            &r.params,
            &r.detail,
        ];
        w.write_record(cells.iter().map(|c| inert(c)))?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| ReportError::Flush(e.into_error()))?;
    Ok(String::from_utf8(bytes)?)
}

/// A cell that a spreadsheet would evaluate (one starting with `=`, `+`, `-`, `@`, a tab or a
/// carriage return) prefixed with `'`, so it is shown as text (OWASP's advice on CSV injection).
fn inert(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::inert;

    #[test]
    fn formula_prefixes_are_made_text() {
        for cell in ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"] {
            assert_eq!(inert(cell), format!("'{cell}"));
        }
        assert_eq!(inert("ana@example.com"), "ana@example.com");
        assert_eq!(inert(""), "");
    }
}
