//! Reviewing a rulebook's decisions: running its own test cases (`remedy test`), recording each
//! case's whole decision in an insta-format `.snap` file beside the rulebook, and rendering
//! explanations for people. Split by what each part holds:
//! - `runner`: running cases and comparing the decision with what each case expects;
//! - `explain`: explanations rendered as reviewable lines and one-line summaries;
//! - `snapshot`: the decision snapshot's text and how it compares with a stored one (pure);
//! - `subjects`: the decision review of a subjects file, bounded whatever the file's size (pure);
//! - `store`: reading and writing the snapshot file beside the rulebook (the only effectful part).

mod explain;
mod runner;
mod snapshot;
mod store;
mod subjects;

pub use explain::{condition_summary, explanation_lines};
pub use runner::{actual_of, diff, render_results, run_cases, CaseResult};
pub use snapshot::{
    compare_snapshot, decisions_snapshot, snapshot_body, snapshot_file, SnapshotStatus,
};
pub use store::{check_snapshot, check_snapshot_at, snapshot_path, subjects_snapshot_path};
pub use subjects::{SubjectsReview, LISTED_PER_DECISION, MAX_DECISIONS};
