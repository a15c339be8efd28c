//! Command-line interface: argument parsing, choosing text or JSON output, and exit codes. Each
//! command calls into the library and prints; no decision logic lives here.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use serde_json::{json, Value};

use crate::engine::evaluate;
use crate::plan::{render::render, Plan, PlanBuilder, PlanError, Source};
use crate::rulebook::{self, Rulebook};
use crate::subject::{self, FieldTree, SubjectError};

/// Exit codes of `remedy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success (for `plan --detailed-exitcode`: no changes).
    Ok = 0,
    /// An error: bad input, a broken rulebook, a failed test, an unreachable org.
    Error = 1,
    /// `plan --detailed-exitcode`: the plan has changes.
    Changes = 2,
    /// `apply` finished but some steps failed.
    ApplyFailed = 3,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

const EXIT_HELP: &str =
    "Exit codes: 0 ok (plan --detailed-exitcode: no changes) · 1 error · 2 plan has changes \
(with --detailed-exitcode) · 3 apply finished with failures";

/// Rule-driven remediation for Okta identity orgs: collect, evaluate a rulebook, plan, apply.
#[derive(Debug, Parser)]
#[command(name = "remedy", version, after_help = EXIT_HELP)]
pub struct Cli {
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    #[command(subcommand)]
    pub command: Command,
}

/// How to reach the orgs when collecting live.
#[derive(Debug, Clone, clap::Args)]
pub struct LiveArgs {
    /// The tool's config file naming the orgs (`orgs: { hub: ..., spoke: ... }`); without it the Okta
    /// SDK chain (~/.okta/okta.yaml, ./.okta.yaml, OKTA_CLIENT_* variables) gives one org.
    #[arg(long, env = "REMEDY_CONFIG")]
    pub config: Option<PathBuf>,
    /// Walk every assignment of the app instead of starting from the System Log failures.
    #[arg(long)]
    pub full_scan: bool,
    /// Subjects read at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// No progress on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check rulebooks and report every problem with its location.
    Validate {
        #[arg(required = true)]
        rulebooks: Vec<PathBuf>,
    },
    /// Show why each rule did or did not match one subject.
    Explain {
        /// The rulebook (YAML).
        #[arg(long)]
        rules: PathBuf,
        /// A subjects file (JSON object, JSON array or JSON Lines).
        #[arg(long)]
        subject: PathBuf,
        /// Which subject of the file (0-based).
        #[arg(long, default_value_t = 0)]
        subject_index: usize,
        /// Evaluation time (RFC 3339); defaults to the current time.
        #[arg(long)]
        now: Option<String>,
    },
    /// Run rulebooks' own test cases.
    Test {
        #[arg(required = true)]
        rulebooks: Vec<PathBuf>,
        /// Also compare every case's whole decision with the `.snap` file beside the rulebook.
        #[arg(long)]
        snapshot: bool,
        /// Accept changed decision snapshots.
        #[arg(long, requires = "snapshot")]
        accept: bool,
        /// Time for cases that do not give `now` (RFC 3339); defaults to the current time.
        #[arg(long)]
        now: Option<String>,
    },
    /// Evaluate a rulebook on subjects and write a reviewable plan.
    Plan {
        /// The rulebook (YAML).
        #[arg(long)]
        rules: PathBuf,
        /// Read subjects from this file (JSON array or JSON Lines) instead of the orgs.
        #[arg(long)]
        subjects: Option<PathBuf>,
        /// Write the plan JSON here.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Evaluation time (RFC 3339); defaults to the current time.
        #[arg(long)]
        now: Option<String>,
        /// Exit 0 when there are no changes, 2 when there are, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
        #[command(flatten)]
        live: LiveArgs,
    },
    /// Collect subjects from the orgs and write them as JSON Lines, so a plan can be reproduced offline.
    Snapshot {
        /// The rulebook (YAML).
        #[arg(long)]
        rules: PathBuf,
        /// Where to write the subjects (JSON Lines, with a header line recording the source).
        #[arg(long)]
        out: PathBuf,
        /// Evaluation time (RFC 3339); defaults to the current time.
        #[arg(long)]
        now: Option<String>,
        #[command(flatten)]
        live: LiveArgs,
    },
    /// Render a plan file.
    Show { plan: PathBuf },
    /// Apply a plan to the orgs: resumable, journaled, re-checking each subject before acting.
    Apply {
        plan: PathBuf,
        /// Allow destructive steps (delete_recreate) without asking.
        #[arg(long)]
        approve_destructive: bool,
        /// Subjects in flight at once.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// The journal (SQLite); default: PLAN with `.journal.sqlite`.
        #[arg(long)]
        journal: Option<PathBuf>,
        /// The audit log (JSON Lines); default: beside the journal, `.audit.jsonl`.
        #[arg(long)]
        audit_log: Option<PathBuf>,
        /// Where one-time reset URLs go for `send_email: false` (created with mode 0600).
        #[arg(long)]
        reset_urls: Option<PathBuf>,
        /// At most this many Okta-changing steps in this run.
        #[arg(long)]
        max_actions: Option<u64>,
        /// Apply even if the rulebook changed since the plan was made.
        #[arg(long)]
        allow_rulebook_change: bool,
        /// The tool's config file naming the orgs.
        #[arg(long, env = "REMEDY_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Show what a journal holds: done, waiting (and why), failed, skipped.
    Status {
        /// The journal (or the plan, whose default journal is used).
        path: PathBuf,
    },
    /// Recreate a deleted hub user from its journal backup.
    Restore {
        #[arg(long)]
        journal: PathBuf,
        #[arg(long)]
        user: String,
        /// The org to recreate the user in (as named in config).
        #[arg(long, default_value = "hub")]
        org: String,
        #[arg(long, env = "REMEDY_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Print the JSON Schema of rulebooks.
    Schema,
    /// Print shell completions.
    Completions { shell: clap_complete::Shell },
    /// Run the Okta simulator (a hub and a spoke org on loopback).
    Sim(crate::sim::SimArgs),
    /// The whole story with no Okta and no setup: simulator, plan, apply, users reset, resume, results.
    Demo(crate::demo::DemoArgs),
}

/// Entry point used by `main.rs`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    run(cli).into()
}

fn fail(msg: impl std::fmt::Display) -> Exit {
    eprintln!("error: {msg}");
    Exit::Error
}

fn print_json(v: &Value) {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    let _ = std::io::stdout().write_all(s.as_bytes());
}

fn parse_now(now: Option<&str>) -> Result<DateTime<Utc>, Exit> {
    match now {
        None => Ok(Utc::now()),
        Some(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| fail(format!("`--now {s}` is not an RFC 3339 timestamp: {e}"))),
    }
}

/// Loads a rulebook, printing its diagnostics (errors and warnings) to stderr in text mode.
fn load_rulebook(path: &Path, output: Output) -> Result<Rulebook, Exit> {
    match rulebook::load(path) {
        Ok(rb) => {
            if output == Output::Text && !rb.warnings.is_empty() {
                let text = std::fs::read_to_string(path).unwrap_or_default();
                eprint!("{}", crate::diagnostic::render_all(&rb.warnings, &text));
            }
            Ok(rb)
        }
        Err(e) => {
            match output {
                Output::Text => eprint!("{}", e.render()),
                Output::Json => print_json(&json!({ "ok": false, "diagnostics": e.diagnostics() })),
            }
            Err(Exit::Error)
        }
    }
}

pub fn run(cli: Cli) -> Exit {
    let output = cli.output;
    let result = match cli.command {
        Command::Validate { rulebooks } => validate(&rulebooks, output),
        Command::Explain {
            rules,
            subject,
            subject_index,
            now,
        } => explain(&rules, &subject, subject_index, now.as_deref(), output),
        Command::Test {
            rulebooks,
            snapshot,
            accept,
            now,
        } => test(&rulebooks, snapshot, accept, now.as_deref(), output),
        Command::Plan {
            rules,
            subjects,
            out,
            now,
            detailed_exitcode,
            live,
        } => plan(
            &rules,
            subjects.as_deref(),
            out.as_deref(),
            now.as_deref(),
            detailed_exitcode,
            &live,
            output,
        ),
        Command::Snapshot {
            rules,
            out,
            now,
            live,
        } => snapshot(&rules, &out, now.as_deref(), &live, output),
        Command::Show { plan } => show(&plan, output),
        Command::Apply {
            plan,
            approve_destructive,
            concurrency,
            journal,
            audit_log,
            reset_urls,
            max_actions,
            allow_rulebook_change,
            config,
        } => apply_cmd(
            &plan,
            ApplyArgs {
                approve_destructive,
                concurrency,
                journal,
                audit_log,
                reset_urls,
                max_actions,
                allow_rulebook_change,
                config,
            },
            output,
        ),
        Command::Status { path } => status_cmd(&path, output),
        Command::Restore {
            journal,
            user,
            org,
            config,
        } => restore_cmd(&journal, &user, &org, config.as_deref(), output),
        Command::Schema => {
            print_json(&rulebook::schema::rulebook_schema());
            Ok(Exit::Ok)
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "remedy", &mut std::io::stdout());
            Ok(Exit::Ok)
        }
        Command::Sim(args) => block_on(crate::sim::run(args)).map(|_| Exit::Ok),
        Command::Demo(args) => {
            block_on(crate::demo::run(args, std::io::stdout().is_terminal())).map(|_| Exit::Ok)
        }
    };
    match result {
        Ok(e) | Err(e) => e,
    }
}

/// Runs async work (only the network commands need it) on a fresh runtime.
fn block_on<T, E: std::fmt::Display>(
    fut: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, Exit> {
    let rt = tokio::runtime::Runtime::new()
        .map_err(|e| fail(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(fut).map_err(fail)
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

fn validate(files: &[PathBuf], output: Output) -> Result<Exit, Exit> {
    let mut reports = Vec::new();
    let mut failed = false;
    for f in &rulebooks_only(files) {
        match rulebook::load(f) {
            Ok(rb) => {
                if output == Output::Text {
                    let text = std::fs::read_to_string(f).unwrap_or_default();
                    eprint!("{}", crate::diagnostic::render_all(&rb.warnings, &text));
                    println!(
                        "{}: ok ({} rules, {} test cases{})",
                        f.display(),
                        rb.rules.len(),
                        rb.tests.len(),
                        if rb.warnings.is_empty() {
                            String::new()
                        } else {
                            format!(", {} warnings", rb.warnings.len())
                        }
                    );
                }
                reports.push(json!({ "file": f.display().to_string(), "ok": true, "rules": rb.rules.len(), "diagnostics": rb.warnings }));
            }
            Err(e) => {
                failed = true;
                if output == Output::Text {
                    eprint!("{}", e.render());
                }
                reports.push(json!({ "file": f.display().to_string(), "ok": false, "diagnostics": e.diagnostics() }));
            }
        }
    }
    if output == Output::Json {
        print_json(&json!({ "files": reports }));
    }
    Ok(if failed { Exit::Error } else { Exit::Ok })
}

fn explain(
    rules: &Path,
    file: &Path,
    index: usize,
    now: Option<&str>,
    output: Output,
) -> Result<Exit, Exit> {
    let now = parse_now(now)?;
    let rb = load_rulebook(rules, output)?;
    let text = std::fs::read_to_string(file)
        .map_err(|e| fail(format!("cannot read `{}`: {e}", file.display())))?;
    // A single JSON object is one subject; otherwise an array or JSON Lines.
    let mut found = None;
    let single: Option<Value> = serde_json::from_str::<Value>(&text)
        .ok()
        .filter(Value::is_object);
    if let Some(v) = single {
        if index == 0 {
            found = Some(v);
        }
    } else {
        subject::for_each(
            text.as_bytes(),
            &file.display().to_string(),
            &FieldTree::everything(),
            |i, v| {
                if i == index {
                    found = Some(v);
                }
                Ok::<(), SubjectError>(())
            },
        )
        .map_err(fail)?;
    }
    let subject = found.ok_or_else(|| {
        fail(format!(
            "`{}` has no subject at index {index}",
            file.display()
        ))
    })?;
    let decision = evaluate(&rb, &subject, now, index);
    if output == Output::Json {
        print_json(&serde_json::to_value(&decision).unwrap_or(Value::Null));
        return Ok(Exit::Ok);
    }
    let verdict = match decision.verdict {
        crate::engine::Verdict::Matched => format!(
            "matched {}",
            decision
                .matched
                .iter()
                .map(|r| r.0.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        crate::engine::Verdict::NoMatch => "no rule matched".to_string(),
        crate::engine::Verdict::Unknown => {
            "unknown: the subject could not be read fully (`collect_error`)".to_string()
        }
        crate::engine::Verdict::Protected => format!(
            "protected by guards.protect[{}]",
            decision.protected_by.unwrap_or(0)
        ),
    };
    println!("subject {}: {verdict}", decision.subject);
    if !decision.protect_trace.is_empty() {
        println!("\nguards.protect:");
        for e in &decision.protect_trace {
            let mut lines = Vec::new();
            crate::review::explanation_lines(e, 1, &mut lines);
            for l in lines {
                println!("{l}");
            }
        }
    }
    for t in &decision.rules {
        println!(
            "\nrule {}: {}",
            t.rule,
            serde_json::to_value(t.outcome)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        );
        let mut lines = Vec::new();
        crate::review::explanation_lines(&t.explanation, 1, &mut lines);
        for l in lines {
            println!("{l}");
        }
    }
    let actions = decision.actions(&rb);
    if !actions.is_empty() {
        println!("\nactions:");
        for (rule, a) in actions {
            println!("  {} on {}  [{rule}]", a.name(), a.org);
        }
    }
    let skipped = rb.rules.len() - decision.rules.len();
    if skipped > 0 {
        println!("\n({skipped} later rules not tried: first match wins)");
    }
    Ok(Exit::Ok)
}

fn test(
    files: &[PathBuf],
    snapshot: bool,
    accept: bool,
    now: Option<&str>,
    output: Output,
) -> Result<Exit, Exit> {
    let now = parse_now(now)?;
    let mut failed = false;
    let mut reports = Vec::new();
    for f in &rulebooks_only(files) {
        // In JSON mode a broken rulebook is one entry of the single report, not a document of its own.
        let loaded = match output {
            Output::Text => load_rulebook(f, output).map_err(|_| None),
            Output::Json => rulebook::load(f).map_err(Some),
        };
        let rb = match loaded {
            Ok(rb) => rb,
            Err(e) => {
                failed = true;
                if let Some(e) = e {
                    reports.push(json!({ "file": f.display().to_string(), "ok": false, "diagnostics": e.diagnostics() }));
                }
                continue;
            }
        };
        if rb.tests.is_empty() {
            failed = true;
            let msg = format!(
                "{}: no test cases (add a `tests:` section or {})",
                f.display(),
                rulebook::sidecar_path(f).display()
            );
            if output == Output::Text {
                eprintln!("error: {msg}");
            }
            reports.push(json!({ "file": f.display().to_string(), "error": msg }));
            continue;
        }
        let results = crate::review::run_cases(&rb, now);
        if results.iter().any(|r| !r.passed) {
            failed = true;
        }
        let mut snap = None;
        if snapshot {
            let body = crate::review::decisions_snapshot(&rb, &results);
            match crate::review::check_snapshot(f, &body, accept) {
                Ok(s) => {
                    if matches!(
                        s,
                        crate::review::SnapshotStatus::Changed {
                            accepted: false,
                            ..
                        }
                    ) {
                        failed = true;
                    }
                    snap = Some(s);
                }
                Err(e) => {
                    failed = true;
                    eprintln!(
                        "error: cannot write the decision snapshot for {}: {e}",
                        f.display()
                    );
                }
            }
        }
        if output == Output::Text {
            print!(
                "{}",
                crate::review::render_results(&f.display().to_string(), &results)
            );
            match &snap {
                Some(crate::review::SnapshotStatus::Written { path }) => {
                    println!("decision snapshot written to {path}; review it and commit it")
                }
                Some(crate::review::SnapshotStatus::Unchanged { path }) => {
                    println!("decisions unchanged ({path})")
                }
                Some(crate::review::SnapshotStatus::Changed {
                    path,
                    diff,
                    accepted,
                }) => {
                    println!("\ndecisions changed ({path}):\n{diff}");
                    if *accepted {
                        println!("accepted: {path} updated");
                    } else {
                        println!("the new decisions are in {path}.new; run `remedy test --snapshot --accept` to take them");
                    }
                }
                None => {}
            }
            println!();
        } else {
            reports.push(
                json!({ "file": f.display().to_string(), "cases": results, "snapshot": snap }),
            );
        }
    }
    if output == Output::Json {
        print_json(&json!({ "ok": !failed, "rulebooks": reports }));
    }
    Ok(if failed { Exit::Error } else { Exit::Ok })
}

fn plan(
    rules: &Path,
    subjects: Option<&Path>,
    out: Option<&Path>,
    now: Option<&str>,
    detailed: bool,
    live: &LiveArgs,
    output: Output,
) -> Result<Exit, Exit> {
    let now = parse_now(now)?;
    let rb = load_rulebook(rules, output)?;
    let Some(subjects) = subjects else {
        let collection = block_on(collect_live(&rb, now, live, output))?;
        let mut builder = PlanBuilder::new(&rb, now, collection.source);
        for (i, s) in collection.subjects.iter().enumerate() {
            builder.add(s, &evaluate(&rb, s, now, i));
        }
        let p = builder.finish().map_err(fail)?;
        return emit_plan(&p, out, detailed, output);
    };
    let file = std::fs::File::open(subjects)
        .map_err(|e| fail(format!("cannot read `{}`: {e}", subjects.display())))?;
    // A file written by `remedy snapshot` records where its subjects came from; the plan keeps that, so
    // it reproduces the live plan exactly.
    let recorded = subject::read_snapshot_header(subjects)
        .map_err(fail)?
        .and_then(|h| h.get("source").cloned())
        .and_then(|s| serde_json::from_value::<Source>(s).ok());
    let source = recorded.unwrap_or(Source::file(
        rb.subjects.kind,
        Some(subjects.display().to_string()),
    ));
    let p =
        plan_from_reader(&rb, file, &subjects.display().to_string(), now, source).map_err(fail)?;
    emit_plan(&p, out, detailed, output)
}

/// Why planning from a file failed.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error(transparent)]
    Subjects(#[from] SubjectError),
    #[error(transparent)]
    Plan(#[from] PlanError),
}

/// Streams subjects from `input` through the engine into a plan, pruning each subject to the fields the
/// rulebook can read.
pub fn plan_from_reader(
    rb: &Rulebook,
    input: impl std::io::Read,
    file: &str,
    now: DateTime<Utc>,
    source: Source,
) -> Result<Plan, PlanFileError> {
    let always = crate::engine::always_read(rb.subjects.kind);
    let full = FieldTree::from_paths(rb.paths().into_iter().chain(always.iter()));
    // Most subjects match nothing: they are decided on a smaller read, and only the few that match
    // (or are protected) are read again in full to be explained and listed.
    let collect_error = crate::condition::JsonPath::compile("$.collect_error").ok();
    let quick = FieldTree::from_reads(
        crate::engine::verdict_reads(rb)
            .into_iter()
            .chain(collect_error.iter().map(|p| (p, true))),
    );
    let mut builder = PlanBuilder::new(rb, now, source);
    subject::for_each_staged(input, file, &quick, &full, |i, decided_on, reread| {
        match crate::engine::verdict(rb, &decided_on, now) {
            (crate::engine::Verdict::NoMatch, undecided) => builder.add_unmatched(undecided),
            _ => {
                let subject = reread()?;
                builder.add(&subject, &evaluate(rb, &subject, now, i));
            }
        }
        Ok::<(), PlanFileError>(())
    })?;
    Ok(builder.finish()?)
}

fn emit_plan(p: &Plan, out: Option<&Path>, detailed: bool, output: Output) -> Result<Exit, Exit> {
    if let Some(path) = out {
        std::fs::write(path, p.to_json())
            .map_err(|e| fail(format!("cannot write `{}`: {e}", path.display())))?;
    }
    match output {
        Output::Json => {
            let _ = std::io::stdout().write_all(p.to_json().as_bytes());
        }
        Output::Text => {
            print!("{}", render(p));
            if let Some(path) = out {
                println!(
                    "Saved to {}. Apply it with: remedy apply {}",
                    path.display(),
                    path.display()
                );
            }
        }
    }
    Ok(if detailed && p.summary.steps > 0 {
        Exit::Changes
    } else {
        Exit::Ok
    })
}

fn show(path: &Path, output: Output) -> Result<Exit, Exit> {
    let p = Plan::read(path).map_err(fail)?;
    match output {
        Output::Json => {
            let _ = std::io::stdout().write_all(p.to_json().as_bytes());
        }
        Output::Text => print!("{}", render(&p)),
    }
    Ok(Exit::Ok)
}

/// Whether stderr is a terminal (progress bars and colour only then).
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

fn snapshot(
    rules: &Path,
    out: &Path,
    now: Option<&str>,
    live: &LiveArgs,
    output: Output,
) -> Result<Exit, Exit> {
    let now = parse_now(now)?;
    let rb = load_rulebook(rules, output)?;
    let collection = block_on(collect_live(&rb, now, live, output))?;
    let mut text = serde_json::to_string(&json!({ "remedy_snapshot": { "format_version": 1, "now": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), "source": collection.source } }))
        .unwrap_or_default();
    text.push('\n');
    for s in &collection.subjects {
        text.push_str(&serde_json::to_string(s).unwrap_or_default());
        text.push('\n');
    }
    std::fs::write(out, text)
        .map_err(|e| fail(format!("cannot write `{}`: {e}", out.display())))?;
    match output {
        Output::Text => println!(
            "wrote {} subjects to {} (plan them with: remedy plan --rules {} --subjects {} --now {})",
            collection.subjects.len(),
            out.display(),
            rules.display(),
            out.display(),
            now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
        Output::Json => print_json(&json!({ "subjects": collection.subjects.len(), "out": out.display().to_string(), "source": collection.source })),
    }
    Ok(Exit::Ok)
}

/// Why live collection could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(transparent)]
    Config(#[from] crate::okta::ConfigError),
    #[error(transparent)]
    Okta(#[from] crate::okta::OktaError),
    #[error(transparent)]
    Collect(#[from] crate::collect::CollectError),
}

/// Connects to the orgs the rulebook names and collects its subjects, with progress on a terminal.
async fn collect_live(
    rb: &Rulebook,
    now: DateTime<Utc>,
    live: &LiveArgs,
    output: Output,
) -> Result<crate::collect::Collection, LiveError> {
    let env = |k: &str| std::env::var(k).ok();
    let orgs = crate::okta::load_orgs(live.config.as_deref(), &env)?;
    let (hub_name, spoke_name) = match rb.subjects.kind {
        rulebook::SubjectKind::User => {
            let o = rb.subjects.user_org().to_string();
            (o.clone(), o)
        }
        rulebook::SubjectKind::Org2orgAssignment => {
            (rb.subjects.hub.clone(), rb.subjects.spoke.clone())
        }
    };
    // Without a tool config the SDK chain yields one org, `default`, used for every role.
    let pick = |name: &str| {
        crate::okta::select_org(&orgs, name).or_else(|e| {
            if live.config.is_none() {
                crate::okta::select_org(&orgs, "default")
            } else {
                Err(e)
            }
        })
    };
    let hub = crate::okta::OktaClient::new(pick(&hub_name)?.clone())?;
    let spoke = crate::okta::OktaClient::new(pick(&spoke_name)?.clone())?;
    let bar = (!live.quiet && output == Output::Text && stderr_is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new_spinner();
        b.enable_steady_tick(std::time::Duration::from_millis(120));
        b.set_style(
            indicatif::ProgressStyle::with_template("{spinner} [{elapsed}] {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        b
    });
    let pages = std::sync::atomic::AtomicUsize::new(0);
    let report = |p: crate::collect::Progress| {
        let Some(b) = &bar else { return };
        match p {
            crate::collect::Progress::Phase(m) => b.set_message(m.to_string()),
            crate::collect::Progress::Page { items } => {
                let n = pages.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                b.set_message(format!("page {n} ({items} items)"));
            }
            crate::collect::Progress::Subject { done, total } => {
                b.set_message(format!("subjects {done}/{total}"))
            }
        }
    };
    let opts = crate::collect::CollectOptions {
        now,
        full_scan: live.full_scan,
        concurrency: live.concurrency,
    };
    let result = crate::collect::collect(rb, &hub, &spoke, &opts, &report).await;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let mut collection = result?;
    for c in [&hub, &spoke] {
        collection
            .source
            .orgs
            .insert(c.org_name().to_string(), c.base_url().to_string());
    }
    let mut requests = std::collections::BTreeMap::new();
    for (org, c) in [(&hub_name, &hub), (&spoke_name, &spoke)] {
        for (endpoint, n) in c.request_counts() {
            *requests.entry(format!("{org} {endpoint}")).or_insert(0) += n;
        }
    }
    collection.source.requests = requests;
    Ok(collection)
}

struct ApplyArgs {
    approve_destructive: bool,
    concurrency: usize,
    journal: Option<PathBuf>,
    audit_log: Option<PathBuf>,
    reset_urls: Option<PathBuf>,
    max_actions: Option<u64>,
    allow_rulebook_change: bool,
    config: Option<PathBuf>,
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("plan");
    let stem = [".journal.sqlite", ".sqlite", ".json"]
        .iter()
        .find_map(|ext| name.strip_suffix(ext))
        .unwrap_or(name);
    p.with_file_name(format!("{stem}{suffix}"))
}

/// The org clients a plan needs, from config.
fn clients(config: Option<&Path>, names: &[&str]) -> Result<Vec<crate::okta::OktaClient>, Exit> {
    let env = |k: &str| std::env::var(k).ok();
    let orgs = crate::okta::load_orgs(config, &env).map_err(fail)?;
    names
        .iter()
        .map(|n| {
            let cfg = crate::okta::select_org(&orgs, n)
                .or_else(|e| {
                    if config.is_none() {
                        crate::okta::select_org(&orgs, "default")
                    } else {
                        Err(e)
                    }
                })
                .map_err(fail)?;
            crate::okta::OktaClient::new(cfg.clone()).map_err(fail)
        })
        .collect()
}

fn apply_cmd(plan_path: &Path, args: ApplyArgs, output: Output) -> Result<Exit, Exit> {
    let plan = Plan::read(plan_path).map_err(fail)?;
    // The plan is applied with the rulebook it pins: each subject's steps are re-derived from it on
    // live state. Refuse the plan if that rulebook changed since, unless told to use the new one.
    let rb = rulebook::load(Path::new(&plan.rulebook.path)).map_err(|e| {
        fail(format!(
            "cannot load the plan's rulebook `{}`: {}",
            plan.rulebook.path,
            e.render()
        ))
    })?;
    if !args.allow_rulebook_change && rb.sha256 != plan.rulebook.sha256 {
        return Err(fail(format!(
            "rulebook `{}` changed since plan {} was made; make a new plan, or pass --allow-rulebook-change",
            plan.rulebook.path, plan.plan_id
        )));
    }
    let destructive = plan
        .steps
        .iter()
        .filter(|s| s.safety == rulebook::Safety::Destructive)
        .count();
    let mut approve = args.approve_destructive;
    if destructive > 0 && !approve && std::io::stdin().is_terminal() && output == Output::Text {
        eprint!("{destructive} destructive steps (delete_recreate). Type `yes` to approve them: ");
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        approve = answer.trim() == "yes";
    }
    let journal_path = args
        .journal
        .unwrap_or_else(|| with_suffix(plan_path, ".journal.sqlite"));
    let audit_path = args
        .audit_log
        .unwrap_or_else(|| with_suffix(&journal_path, ".audit.jsonl"));
    let journal = crate::apply::journal::Journal::open(
        &journal_path,
        &plan.plan_id,
        &plan.checksum,
        &plan.rulebook.sha256,
    )
    .map_err(fail)?;
    // Which configured orgs play hub and spoke comes from the rulebook's `subjects`; a `user`
    // rulebook needs only its one org (a user plan never calls the spoke).
    let hub_name = rb.subjects.user_org().to_string();
    let spoke_name = match rb.subjects.kind {
        rulebook::SubjectKind::Org2orgAssignment => rb.subjects.spoke.clone(),
        rulebook::SubjectKind::User => hub_name.clone(),
    };
    let mut cs = clients(args.config.as_deref(), &[&hub_name, &spoke_name])?;
    let spoke = cs.pop().ok_or(Exit::Error)?;
    let hub = cs.pop().ok_or(Exit::Error)?;
    let opts = crate::apply::ApplyOptions {
        approve_destructive: approve,
        concurrency: args.concurrency,
        max_actions: args.max_actions,
        reset_urls: args.reset_urls,
        manual_retries: with_suffix(&journal_path, ".manual-retries.txt"),
        audit_log: audit_path.clone(),
        poll_interval: std::time::Duration::from_millis(500),
        operator: std::env::var("USER")
            .or_else(|_| std::env::var("USERNAME"))
            .ok(),
        progress: (output == Output::Text && stderr_is_terminal()).then(|| {
            crate::apply::Progress(std::sync::Arc::new(|n, total| {
                eprint!("\rapplying: {n}/{total} subjects");
                if n == total {
                    eprintln!();
                }
            }))
        }),
    };
    let summary = block_on(crate::apply::apply(
        &plan, &rb, &hub, &spoke, &journal, &opts,
    ))?;
    match output {
        Output::Json => print_json(&serde_json::to_value(&summary).unwrap_or(Value::Null)),
        Output::Text => print!(
            "{}",
            crate::apply::render_summary(&summary, &journal_path, &audit_path)
        ),
    }
    Ok(if summary.failed() {
        Exit::ApplyFailed
    } else {
        Exit::Ok
    })
}

fn status_cmd(path: &Path, output: Output) -> Result<Exit, Exit> {
    let journal_path = if path.extension().and_then(|e| e.to_str()) == Some("json") {
        with_suffix(path, ".journal.sqlite")
    } else {
        path.to_path_buf()
    };
    let journal = crate::apply::journal::Journal::open_existing(&journal_path).map_err(fail)?;
    let subjects = journal.subjects().map_err(fail)?;
    let steps = journal.steps().map_err(fail)?;
    if output == Output::Json {
        print_json(&json!({
            "journal": journal_path.display().to_string(),
            "plan_id": journal.meta("plan_id").map_err(fail)?,
            "subjects": subjects.iter().map(|(s, st, d)| json!({"subject": s, "state": st, "detail": d})).collect::<Vec<_>>(),
            "steps": steps,
        }));
        return Ok(Exit::Ok);
    }
    println!(
        "journal {} (plan {})",
        journal_path.display(),
        journal.meta("plan_id").map_err(fail)?.unwrap_or_default()
    );
    let mut by_state: std::collections::BTreeMap<&str, Vec<(&String, &Option<String>)>> =
        Default::default();
    for (s, st, d) in &subjects {
        by_state.entry(st.as_str()).or_default().push((s, d));
    }
    for (state, list) in &by_state {
        println!("\n{state} ({})", list.len());
        for (s, d) in list {
            println!(
                "  {s}{}",
                d.as_ref().map(|d| format!(": {d}")).unwrap_or_default()
            );
        }
    }
    let unknown = steps
        .iter()
        .filter(|s| s.state == crate::apply::journal::StepState::Intent)
        .count();
    if unknown > 0 {
        println!("\n{unknown} steps were interrupted mid-way (a call may or may not have reached Okta); run apply again to reconcile and finish them");
    }
    Ok(Exit::Ok)
}

fn restore_cmd(
    journal: &Path,
    user: &str,
    org: &str,
    config: Option<&Path>,
    output: Output,
) -> Result<Exit, Exit> {
    let j = crate::apply::journal::Journal::open_existing(journal).map_err(fail)?;
    let mut cs = clients(config, &[org])?;
    let hub = cs.pop().ok_or(Exit::Error)?;
    let r = block_on(crate::apply::restore(&hub, &j, user))?;
    match output {
        Output::Json => print_json(&json!({ "restored": user, "org": org, "user": r })),
        Output::Text => {
            println!(
                "restored {user} in {org} as {} ({}, provider {}) from the journal backup, with {} groups",
                r.id, r.status, r.provider, r.groups
            );
        }
    }
    Ok(Exit::Ok)
}
