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

/// Runs one rulebook's cases; in text mode prints its results, in JSON mode returns its report.
fn test_one(
    f: &Path,
    rb: &Rulebook,
    run: &TestRun,
    output: Output,
) -> Result<(bool, Option<Value>), CliError> {
    if rb.tests.is_empty() {
        let msg = format!(
            "{}: no test cases (add a `tests:` section or {})",
            f.display(),
            rulebook::sidecar_path(f).display()
        );
        if output == Output::Text {
            eprintln!("error: {msg}");
        }
        let report = json!({ "file": f.display().to_string(), "error": msg });
        return Ok((false, Some(report)));
    }
    if run.snapshot && catalogue::shipped_named(f).is_some() {
        let msg = format!(
            "{}: `--snapshot` compares with a `.snap` file beside the rulebook; a shipped rulebook has none here (copy it with `remedy rules init {}`)",
            f.display(),
            f.display()
        );
        if output == Output::Text {
            eprintln!("error: {msg}");
        }
        let report = json!({ "file": f.display().to_string(), "error": msg });
        return Ok((false, Some(report)));
    }
    let results = review::run_cases(rb, run.now);
    let mut ok = results.iter().all(|r| r.passed);
    let mut snap = None;
    let mut snapshot_error = None;
    if run.snapshot {
        let body = review::decisions_snapshot(rb, &results);
        match review::check_snapshot(f, &body, run.accept) {
            Ok(s) => {
                ok &= !matches!(
                    s,
                    SnapshotStatus::Changed {
                        accepted: false,
                        ..
                    }
                );
                snap = Some(s);
            }
            Err(e) => {
                ok = false;
                let msg = format!(
                    "cannot write the decision snapshot for {}: {e}",
                    f.display()
                );
                if output == Output::Text {
                    eprintln!("error: {msg}");
                }
                snapshot_error = Some(msg);
            }
        }
    }
    if output == Output::Json {
        let mut report =
            json!({ "file": f.display().to_string(), "cases": results, "snapshot": snap });
        if let Some(msg) = snapshot_error {
            report["error"] = json!(msg);
        }
        return Ok((ok, Some(report)));
    }
    let mut text = review::render_results(&f.display().to_string(), &results);
    text.push_str(&snapshot_text(snap.as_ref()));
    text.push('\n');
    print::text(&text)?;
    Ok((ok, None))
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
