//! The plain-text summary of a run, as `remedy apply` prints it.

use chrono::{DateTime, SecondsFormat, Utc};

use super::{ApplySummary, SubjectState};

/// Plain-text summary of a run.
pub fn render_summary(
    summary: &ApplySummary,
    journal: &std::path::Path,
    audit: &std::path::Path,
) -> String {
    let mut out = String::new();
    for r in &summary.subjects {
        let mark = match r.state {
            SubjectState::Done => "done     ",
            SubjectState::Waiting => "waiting  ",
            SubjectState::SkippedDrift => "drift    ",
            SubjectState::Skipped => "skipped  ",
            SubjectState::Failed => "FAILED   ",
            SubjectState::Protected => "protected",
            SubjectState::Refused => "REFUSED  ",
        };
        // The journal keeps a drift verdict as "drift: ..."; the mark says it already.
        let detail = r
            .detail
            .as_deref()
            .map(|d| d.strip_prefix("drift: ").unwrap_or(d));
        out.push_str(&format!(
            "  {mark} {}{}\n",
            r.subject,
            detail.map(|d| format!(": {d}")).unwrap_or_default()
        ));
    }
    out.push_str(&format!(
        "\nApply {}: {} done, {} waiting, {} skipped for drift, {} skipped, {} failed, {} protected.\n",
        summary.plan_id,
        summary.count(SubjectState::Done),
        summary.count(SubjectState::Waiting),
        summary.count(SubjectState::SkippedDrift),
        summary.count(SubjectState::Skipped),
        summary.count(SubjectState::Failed),
        summary.count(SubjectState::Protected),
    ));
    if summary.count(SubjectState::Refused) > 0 {
        out.push_str(&format!(
            "{} subjects refused: the plan's steps are not what the rulebook produces on their live state; make a new plan.\n",
            summary.count(SubjectState::Refused)
        ));
    }
    if !summary.requests.requests.is_empty() {
        out.push_str(&format!("{}.\n", summary.requests.line()));
    }
    out.push_str(&format!(
        "Journal: {}\nAudit log: {}\n",
        journal.display(),
        audit.display()
    ));
    if summary.count(SubjectState::Waiting) > 0 {
        out.push_str("Some subjects are waiting: `remedy status` shows why; run apply again later to continue.\n");
    }
    out
}

/// Now, as the journal writes it (for status output).
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}
