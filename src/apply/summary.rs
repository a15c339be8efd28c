//! The summary of a run: every subject's end counted by state, a listing of them bounded per state
//! ([`Listing`]), and its plain text as `remedy apply` prints it. A run over a million subjects holds
//! the counts and at most `listed` subjects of each state, not a result per subject; the journal has
//! every one (`remedy status JOURNAL --all`).

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};

use super::{ApplySummary, SubjectResult, SubjectState};

/// Subjects' ends as they finish: all counted, listed up to a bound per state (the first in key
/// order, so the listing does not depend on the order subjects finish in).
#[derive(Debug, Default)]
pub(super) struct Listing {
    /// At most this many of each state (`None`: every one).
    limit: Option<usize>,
    counts: BTreeMap<SubjectState, u64>,
    listed: BTreeMap<SubjectState, BTreeMap<String, Option<String>>>,
}

impl Listing {
    pub(super) fn new(limit: Option<usize>) -> Listing {
        Listing {
            limit,
            ..Listing::default()
        }
    }

    /// Counts `r`, and keeps it when it is among the first `limit` of its state by key.
    pub(super) fn add(mut self, r: SubjectResult) -> Listing {
        *self.counts.entry(r.state).or_insert(0) += 1;
        let kept = self.listed.entry(r.state).or_default();
        kept.insert(r.subject, r.detail);
        if self.limit.is_some_and(|l| kept.len() > l) {
            kept.pop_last();
        }
        self
    }

    /// The listed subjects in key order, the counts by state label, and how many were left unlisted.
    pub(super) fn finish(self) -> (Vec<SubjectResult>, BTreeMap<String, u64>, u64) {
        let mut subjects: Vec<SubjectResult> = self
            .listed
            .into_iter()
            .flat_map(|(state, kept)| {
                kept.into_iter()
                    .map(move |(subject, detail)| SubjectResult {
                        subject,
                        state,
                        detail,
                    })
            })
            .collect();
        subjects.sort_by(|a, b| a.subject.cmp(&b.subject));
        let total: u64 = self.counts.values().sum();
        let unlisted = total - subjects.len() as u64;
        let counts = self
            .counts
            .into_iter()
            .map(|(s, n)| (s.label().to_string(), n))
            .collect();
        (subjects, counts, unlisted)
    }
}

/// Plain-text summary of a run: the listed subjects, what was left unlisted, the counts.
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
    if summary.unlisted > 0 {
        out.push_str(&format!(
            "  … and {} more ({}); `remedy status {} --all` lists every one\n",
            summary.unlisted,
            unlisted_by_state(summary),
            journal.display()
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

/// "199950 done, 3 failed": the subjects of each state the listing left out.
fn unlisted_by_state(summary: &ApplySummary) -> String {
    let mut parts = Vec::new();
    for (label, n) in &summary.counts {
        let listed = summary
            .subjects
            .iter()
            .filter(|r| r.state.label() == label)
            .count() as u64;
        if *n > listed {
            parts.push(format!("{} {label}", n - listed));
        }
    }
    parts.join(", ")
}

/// Now, as the journal writes it (for status output).
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(subject: &str, state: SubjectState) -> SubjectResult {
        SubjectResult {
            subject: subject.into(),
            state,
            detail: None,
        }
    }

    #[test]
    fn the_listing_keeps_the_first_keys_of_each_state_and_counts_all() {
        let mut listing = Listing::new(Some(2));
        for key in ["e", "a", "d", "c", "b"] {
            listing = listing.add(result(key, SubjectState::Done));
        }
        listing = listing.add(result("z", SubjectState::Failed));
        let (subjects, counts, unlisted) = listing.finish();
        let keys: Vec<_> = subjects.iter().map(|r| r.subject.as_str()).collect();
        assert_eq!(keys, ["a", "b", "z"]);
        assert_eq!(counts["done"], 5);
        assert_eq!(counts["failed"], 1);
        assert_eq!(unlisted, 3);
    }

    #[test]
    fn without_a_limit_every_subject_is_listed() {
        let mut listing = Listing::new(None);
        for key in ["b", "a", "c"] {
            listing = listing.add(result(key, SubjectState::Waiting));
        }
        let (subjects, counts, unlisted) = listing.finish();
        assert_eq!(subjects.len(), 3);
        assert_eq!(counts["waiting"], 3);
        assert_eq!(unlisted, 0);
    }
}
