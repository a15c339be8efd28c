//! Planning from a subjects file (JSON Lines, a JSON array, or a `remedy snapshot` file): subjects
//! stream through the engine, so a file of millions plans in bounded memory. A snapshot file's header
//! supplies the source and the time of the live collection it recorded, so the offline plan
//! reproduces the live one. Collecting live is `live`'s.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::condition::JsonPath;
use crate::engine::{always_read, evaluate, verdict, verdict_reads, Verdict};
use crate::plan::stream::PlanHead;
use crate::plan::{Plan, PlanBuilder, PlanError, Source};
use crate::rulebook::Rulebook;
use crate::subject::{self, FieldTree, SubjectError};

/// Why planning from a file failed.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("cannot read `{path}`: {source}")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Subjects(#[from] SubjectError),
    #[error("`{path}`: the snapshot header's `{field}` is not valid: {message}")]
    Header {
        path: String,
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The thread explaining matched subjects stopped (a bug: it has no error of its own).
    #[error("planning stopped: the thread explaining matched subjects panicked")]
    Explaining,
}

/// What a `remedy snapshot` file's header line records.
#[derive(Debug, Clone, Default)]
struct Recorded {
    source: Option<Source>,
    now: Option<DateTime<Utc>>,
}

fn recorded(path: &Path) -> Result<Recorded, PlanFileError> {
    let Some(header) = subject::read_snapshot_header(path)? else {
        return Ok(Recorded::default());
    };
    let bad = |field, message: String| PlanFileError::Header {
        path: path.display().to_string(),
        field,
        message,
    };
    let source = match header.get("source") {
        Some(s) => Some(
            serde_json::from_value::<Source>(s.clone())
                .map_err(|e| bad("source", e.to_string()))?,
        ),
        None => None,
    };
    let now = match header.get("now").map(|n| n.as_str()) {
        None => None,
        Some(None) => return Err(bad("now", "not a string".into())),
        Some(Some(text)) => Some(
            DateTime::parse_from_rfc3339(text)
                .map_err(|e| bad("now", format!("`{text}`: {e}")))?
                .with_timezone(&Utc),
        ),
    };
    Ok(Recorded { source, now })
}

/// Where the subjects of the file at `path` come from and when they are planned: a snapshot file's
/// header says both; without `now`, any other file is planned at the current time.
fn opened(
    rb: &Rulebook,
    path: &Path,
    now: Option<DateTime<Utc>>,
) -> Result<(std::fs::File, DateTime<Utc>, Source), PlanFileError> {
    let display = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| PlanFileError::Open {
        path: display.clone(),
        source,
    })?;
    let recorded = recorded(path)?;
    let now = now.or(recorded.now).unwrap_or_else(Utc::now);
    let source = recorded
        .source
        .unwrap_or_else(|| Source::file(rb.subjects.kind, Some(display)));
    Ok((file, now, source))
}

/// Plans the subjects in the file at `path`, in memory. Without `now`, a snapshot file is planned at
/// the time it was collected (so it reproduces the live plan), any other file at the current time.
pub fn plan_from_file(
    rb: &Rulebook,
    path: &Path,
    now: Option<DateTime<Utc>>,
) -> Result<Plan, PlanFileError> {
    let (file, now, source) = opened(rb, path, now)?;
    plan_from_reader(rb, file, &path.display().to_string(), now, source)
}

/// Plans the subjects in the file at `path` straight into the plan file `out` (created 0600), never
/// holding the plan: see [`crate::plan::stream`]. Returns what the plan holds but its subjects and
/// steps, and the guard error when the plan is over a guard (it is written all the same, marked
/// `refused`).
pub fn plan_file_to(
    rb: &Rulebook,
    path: &Path,
    now: Option<DateTime<Utc>>,
    out: &Path,
) -> Result<(PlanHead, Option<PlanError>), PlanFileError> {
    let (file, now, source) = opened(rb, path, now)?;
    let shown = out.display().to_string();
    let target = super::create_private(out).map_err(|source| PlanError::Write {
        path: shown.clone(),
        source,
    })?;
    let mut builder = PlanBuilder::to_file(rb, now, source, target, &shown)?;
    decide_each(rb, file, &path.display().to_string(), now, &mut builder)?;
    Ok(builder.finish_stream()?)
}

/// Streams subjects from `input` through the engine into a plan, pruning each subject to the fields
/// the rulebook can read.
pub fn plan_from_reader(
    rb: &Rulebook,
    input: impl std::io::Read,
    file: &str,
    now: DateTime<Utc>,
    source: Source,
) -> Result<Plan, PlanFileError> {
    let mut builder = PlanBuilder::new(rb, now, source);
    decide_each(rb, input, file, now, &mut builder)?;
    Ok(builder.finish()?)
}

/// Subjects handed to the explaining thread at once, and batches in flight before reading waits
/// for it (so memory stays bounded).
const BATCH: usize = 256;
const IN_FLIGHT: usize = 8;

/// Decides each subject of `input` into `builder`. Reading and the quick verdict happen here; the
/// subjects that match (or are protected) go to a second thread that explains them and adds them to
/// the plan and writes it, so a plan where most subjects match uses two cores. (A third thread for
/// writing alone was measured slower: handing each subject and step over cost more than it saved.)
fn decide_each(
    rb: &Rulebook,
    input: impl std::io::Read,
    file: &str,
    now: DateTime<Utc>,
    builder: &mut PlanBuilder<'_>,
) -> Result<(), PlanFileError> {
    let always = always_read(rb.subjects.kind);
    let full = FieldTree::from_paths(rb.paths().into_iter().chain(always.iter()));
    // Most subjects match nothing: they are decided on a smaller read, and only the few that match
    // (or are protected) are read again in full to be explained and listed.
    let collect_error = JsonPath::compile("$.collect_error").ok();
    let quick = FieldTree::from_reads(
        verdict_reads(rb)
            .into_iter()
            .chain(collect_error.iter().map(|p| (p, true))),
    );
    let (mut no_match, mut undecided) = (0u64, 0u64);
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<(usize, Value)>>(IN_FLIGHT);
        // Batches come back to be dropped here: memory is cheapest to free on the thread that
        // allocated it (freeing on another makes the allocator hand it back later).
        let (done_tx, done_rx) = std::sync::mpsc::channel::<Vec<(usize, Value)>>();
        let adding = &mut *builder;
        let explaining = scope.spawn(move || {
            for batch in rx {
                for (i, subject) in &batch {
                    adding.add(subject, &evaluate(rb, subject, now, *i));
                }
                // The reader has stopped when this fails; the batch is simply dropped here then.
                drop(done_tx.send(batch));
            }
        });
        let mut batch = Vec::with_capacity(BATCH);
        let read = subject::for_each_staged(input, file, &quick, &full, |i, staged| {
            match verdict(rb, staged.value(), now) {
                (Verdict::NoMatch, was_undecided) => {
                    no_match += 1;
                    undecided += u64::from(was_undecided);
                }
                _ => {
                    batch.push((i, staged.into_full()?));
                    if batch.len() >= BATCH {
                        let mut next = match done_rx.try_recv() {
                            Ok(mut old) => {
                                old.clear();
                                old
                            }
                            Err(_) => Vec::with_capacity(BATCH),
                        };
                        std::mem::swap(&mut batch, &mut next);
                        tx.send(next).map_err(|_| PlanFileError::Explaining)?;
                    }
                }
            }
            Ok::<(), PlanFileError>(())
        });
        let last = match (&read, batch.is_empty()) {
            (Ok(_), false) => tx.send(batch).map_err(|_| PlanFileError::Explaining),
            _ => Ok(()),
        };
        drop(tx);
        explaining.join().map_err(|_| PlanFileError::Explaining)?;
        read.and(last)
    })?;
    builder.add_unmatched_count(no_match, undecided);
    Ok(())
}
