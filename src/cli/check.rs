//! `remedy validate` and `remedy test`: checking rulebooks and running their own cases, one report
//! for all the files named. Loading a rulebook (a file or a shipped name) is `pipeline::catalogue`'s,
//! running cases and decision snapshots `review`'s.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::invocation::TestRun;
use super::{print, CliError, Exit, Output};
use crate::pipeline::catalogue;
use crate::review::{self, SnapshotStatus};
use crate::rulebook::{self, Rulebook, RulebookError};
use crate::subject::{self, FieldTree, SubjectError};

/// Loads a rulebook, printing its warnings to stderr in text mode.
pub fn load_rulebook(reference: &Path, output: Output) -> Result<Rulebook, CliError> {
    let rb = catalogue::load(reference)?;
    if output == Output::Text {
        print::warnings(&rb, reference);
    }
    Ok(rb)
}

/// Rulebooks among `files`: a sidecar `NAME.tests.yaml` is loaded with its rulebook `NAME.yaml`, so a
/// glob like `rules/*.yaml` names each rulebook once (its sidecar is added when the rulebook is not).
fn rulebooks_only(files: &[PathBuf]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for f in files {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let target = match name.strip_suffix(".tests.yaml") {
            Some(stem) => f.with_file_name(format!("{stem}.yaml")),
            None => f.clone(),
        };
        if !out.contains(&target) {
            out.push(target);
        }
    }
    out
}

/// A rulebook that did not load, as one entry of a JSON report.
fn broken(f: &Path, e: &RulebookError) -> Value {
    json!({ "file": f.display().to_string(), "ok": false, "diagnostics": e.diagnostics() })
}

pub fn validate(files: &[PathBuf], output: Output) -> Result<Exit, CliError> {
    let mut reports = Vec::new();
    let mut failed = false;
    for f in &rulebooks_only(files) {
        match catalogue::load(f) {
            Ok(rb) => {
                if output == Output::Text {
                    print::warnings(&rb, f);
                    let warnings = match rb.warnings.len() {
                        0 => String::new(),
                        n => format!(", {n} warnings"),
                    };
                    print::text(&format!(
                        "{}: ok ({} rules, {} test cases{warnings})\n",
                        f.display(),
                        rb.rules.len(),
                        rb.tests.len(),
                    ))?;
                }
                reports.push(json!({ "file": f.display().to_string(), "ok": true, "rules": rb.rules.len(), "diagnostics": rb.warnings }));
            }
            Err(e) => {
                failed = true;
                if output == Output::Text {
                    eprint!("{}", e.render());
                }
                reports.push(broken(f, &e));
            }
        }
    }
    if output == Output::Json {
        print::json(&json!({ "files": reports }))?;
    }
    Ok(if failed { Exit::Error } else { Exit::Ok })
}

pub fn test(run: &TestRun, output: Output) -> Result<Exit, CliError> {
    let mut failed = false;
    let mut reports = Vec::new();
    for f in &rulebooks_only(&run.rulebooks) {
        // A broken rulebook is one entry of the report, and the other rulebooks still run.
        let rb = match catalogue::load(f) {
            Ok(rb) => rb,
            Err(e) => {
                failed = true;
                match output {
                    Output::Text => eprint!("{}", e.render()),
                    Output::Json => reports.push(broken(f, &e)),
                }
                continue;
            }
        };
        if output == Output::Text {
            print::warnings(&rb, f);
        }
        let (ok, report) = test_one(f, &rb, run, output)?;
        failed |= !ok;
        reports.extend(report);
    }
    if output == Output::Json {
        print::json(&json!({ "ok": !failed, "rulebooks": reports }))?;
    }
    Ok(if failed { Exit::Error } else { Exit::Ok })
}

/// A rulebook that cannot be tested as asked: told on stderr in text mode, one report entry either way.
fn refused(f: &Path, msg: String, output: Output) -> (bool, Option<Value>) {
    if output == Output::Text {
        eprintln!("error: {msg}");
    }
    (
        false,
        Some(json!({ "file": f.display().to_string(), "error": msg })),
    )
}

/// Runs one rulebook's cases (and, with `--subjects`, reviews a subjects file's decisions); in text
/// mode prints its results, in JSON mode returns its report.
fn test_one(
    f: &Path,
    rb: &Rulebook,
    run: &TestRun,
    output: Output,
) -> Result<(bool, Option<Value>), CliError> {
    if rb.tests.is_empty() && run.subjects.is_none() {
        let msg = format!(
            "{}: no test cases (add a `tests:` section or {})",
            f.display(),
            rulebook::sidecar_path(f).display()
        );
        return Ok(refused(f, msg, output));
    }
    if run.snapshot && catalogue::shipped_named(f).is_some() {
        let msg = format!(
            "{}: `--snapshot` compares with a `.snap` file beside the rulebook; a shipped rulebook has none here (copy it with `remedy rules init {}`)",
            f.display(),
            f.display()
        );
        return Ok(refused(f, msg, output));
    }
    let results = review::run_cases(rb, run.now);
    let mut ok = results.iter().all(|r| r.passed);
    let mut errors = Vec::new();
    let snap = if run.snapshot && !results.is_empty() {
        let body = review::decisions_snapshot(rb, &results);
        compared(
            review::check_snapshot(f, &body, run.accept),
            f,
            &mut ok,
            &mut errors,
        )
    } else {
        None
    };
    let subjects_snap = match &run.subjects {
        Some(file) => {
            let body = subjects_review(rb, file, run.now)?;
            let path = review::subjects_snapshot_path(f);
            let checked = review::check_snapshot_at(&path, f, &body, run.accept);
            compared(checked, f, &mut ok, &mut errors)
        }
        None => None,
    };
    if output == Output::Json {
        let mut report =
            json!({ "file": f.display().to_string(), "cases": results, "snapshot": snap });
        if run.subjects.is_some() {
            report["subjects_snapshot"] = json!(subjects_snap);
        }
        if !errors.is_empty() {
            report["error"] = json!(errors.join("; "));
        }
        return Ok((ok, Some(report)));
    }
    for e in &errors {
        eprintln!("error: {e}");
    }
    let mut text = if results.is_empty() {
        String::new()
    } else {
        review::render_results(&f.display().to_string(), &results)
    };
    text.push_str(&snapshot_text(snap.as_ref()));
    if let Some(file) = &run.subjects {
        text.push_str(&format!("decision review of {}: ", file.display()));
        text.push_str(&snapshot_text(subjects_snap.as_ref()));
    }
    text.push('\n');
    print::text(&text)?;
    Ok((ok, None))
}

/// What comparing with a stored snapshot gave: a changed, unaccepted snapshot fails the run, and a
/// snapshot that could not be written is an error of the run.
fn compared(
    checked: std::io::Result<SnapshotStatus>,
    f: &Path,
    ok: &mut bool,
    errors: &mut Vec<String>,
) -> Option<SnapshotStatus> {
    match checked {
        Ok(s) => {
            *ok &= !matches!(
                s,
                SnapshotStatus::Changed {
                    accepted: false,
                    ..
                }
            );
            Some(s)
        }
        Err(e) => {
            *ok = false;
            errors.push(format!(
                "cannot write the decision snapshot for {}: {e}",
                f.display()
            ));
            None
        }
    }
}

/// Every subject of `file` decided at `now`, streamed (one subject in memory at a time), into the
/// bounded review body ([`review::SubjectsReview`]).
fn subjects_review(
    rb: &Rulebook,
    file: &Path,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<String, CliError> {
    let shown = file.display().to_string();
    let input = std::fs::File::open(file).map_err(|source| CliError::Read {
        path: shown.clone(),
        source,
    })?;
    let always = crate::engine::always_read(rb.subjects.kind);
    let fields = FieldTree::from_paths(rb.paths().into_iter().chain(always.iter()));
    let mut review = review::SubjectsReview::new(rb, review::LISTED_PER_DECISION);
    subject::for_each(std::io::BufReader::new(input), &shown, &fields, |i, v| {
        review.add(&crate::engine::evaluate(rb, &v, now, i));
        Ok::<(), SubjectError>(())
    })?;
    Ok(review.body(&shown))
}

fn snapshot_text(snap: Option<&SnapshotStatus>) -> String {
    match snap {
        Some(SnapshotStatus::Written { path }) => {
            format!("decision snapshot written to {path}; review it and commit it\n")
        }
        Some(SnapshotStatus::Unchanged { path }) => format!("decisions unchanged ({path})\n"),
        Some(SnapshotStatus::Changed {
            path,
            diff,
            accepted: true,
        }) => format!("\ndecisions changed ({path}):\n{diff}\naccepted: {path} updated\n"),
        Some(SnapshotStatus::Changed { path, diff, .. }) => format!(
            "\ndecisions changed ({path}):\n{diff}\nthe new decisions are in {path}.new; run `remedy test --snapshot --accept` to take them\n"
        ),
        None => String::new(),
    }
}
