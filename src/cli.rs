//! Command-line interface: the argument definitions, dispatch to one function per command, and
//! printing. Arguments are checked once into an [`invocation::Invocation`]; every error is reported in
//! one place ([`error::report`]), as text on stderr or, with `--output json`, as the run's one JSON
//! document on stdout. What a command does is the library's (`pipeline`, `apply`, `review`, ...).

mod apply;
mod check;
mod error;
mod explain;
mod invocation;
mod logging;
mod plan;
mod print;
mod progress;
mod report;
mod rules;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

pub use error::CliError;
use invocation::Invocation;
pub use logging::LogFormat;

/// Exit codes of `remedy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success (for `plan --detailed-exitcode`: no step changes Okta).
    Ok = 0,
    /// An error: bad input, a broken rulebook, a failed test, an unreachable org.
    Error = 1,
    /// `plan --detailed-exitcode`: some step changes Okta.
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
    /// More log detail on stderr: -v info, -vv debug, -vvv trace (`RUST_LOG` takes precedence).
    #[arg(long, short, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Log line format on stderr (`json`: one object a line).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
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

/// The document `show` and `status` print: text for a terminal, or a report to share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For a terminal.
    Text,
    /// For a change ticket.
    Markdown,
    /// One self-contained page (no script, no external resource).
    Html,
    /// One row per step.
    Csv,
}

/// Arguments of `remedy apply`.
#[derive(Debug, Clone, clap::Args)]
pub struct ApplyArgs {
    pub plan: PathBuf,
    /// Allow destructive steps (delete_recreate) without asking.
    #[arg(long)]
    pub approve_destructive: bool,
    /// Subjects in flight at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// The journal (SQLite); default: PLAN with `.journal.sqlite`.
    #[arg(long)]
    pub journal: Option<PathBuf>,
    /// The audit log (JSON Lines); default: beside the journal, `.audit.jsonl`.
    #[arg(long)]
    pub audit_log: Option<PathBuf>,
    /// Where one-time reset URLs go for `send_email: false` (created with mode 0600).
    #[arg(long)]
    pub reset_urls: Option<PathBuf>,
    /// At most this many Okta-changing steps in this run.
    #[arg(long)]
    pub max_actions: Option<u64>,
    /// Apply even if the rulebook changed since the plan was made.
    #[arg(long)]
    pub allow_rulebook_change: bool,
    /// Who runs this apply, recorded on every audit line and in the journal's `runs` table (at most
    /// 128 characters, no control characters); default: the OS user (`$USER`).
    #[arg(long, env = "REMEDY_OPERATOR")]
    pub operator: Option<String>,
    /// The tool's config file naming the orgs.
    #[arg(long, env = "REMEDY_CONFIG")]
    pub config: Option<PathBuf>,
    /// The file whose `notifications:` section declares where `notify` steps and the run summary
    /// go; default: the `--config` file, when it has that section.
    #[arg(long)]
    pub notify_config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check rulebooks and report every problem with its location.
    Validate {
        /// Rulebook files, or names of shipped rulebooks (`remedy rules list`).
        #[arg(required = true)]
        rulebooks: Vec<PathBuf>,
    },
    /// Show why each rule did or did not match one subject.
    ///
    /// With `--plan PLAN --subject KEY`, re-derives the full explanation of a planned subject (the
    /// plan keeps a shortened one) from the rulebook the plan pins and the subject, read from
    /// `--subjects FILE` or the plan's own subjects file.
    Explain {
        /// The rulebook (YAML), or the name of a shipped one (not with `--plan`).
        #[arg(long, required_unless_present = "plan", conflicts_with = "plan")]
        rules: Option<PathBuf>,
        /// A subjects file (JSON object, JSON array or JSON Lines); with `--plan`, the subject's key.
        #[arg(long)]
        subject: String,
        /// A plan: explain its subject `--subject KEY` with the rulebook and time it pins.
        #[arg(long)]
        plan: Option<PathBuf>,
        /// With `--plan`: the subjects file to find the subject in (default: the plan's own).
        #[arg(long, requires = "plan")]
        subjects: Option<PathBuf>,
        /// With `--plan`: read the subject live from the orgs this config file names (only that
        /// subject is read), instead of from a subjects file.
        #[arg(long, requires = "plan", conflicts_with = "subjects")]
        config: Option<PathBuf>,
        /// Which subject of the file (0-based).
        #[arg(long, default_value_t = 0)]
        subject_index: usize,
        /// Evaluation time (RFC 3339); defaults to the current time.
        #[arg(long)]
        now: Option<String>,
    },
    /// Run rulebooks' own test cases.
    Test {
        /// Rulebook files, or names of shipped rulebooks.
        #[arg(required = true)]
        rulebooks: Vec<PathBuf>,
        /// Also compare every case's whole decision with the `.snap` file beside the rulebook.
        #[arg(long)]
        snapshot: bool,
        /// Accept changed decision snapshots.
        #[arg(long, requires = "snapshot")]
        accept: bool,
        /// Also review the decisions on every subject of this file (JSON array or JSON Lines, e.g.
        /// a `remedy snapshot`), in `NAME.subjects.snap`: counts per decision and the first 20
        /// subjects of each, explained.
        #[arg(long, requires = "snapshot")]
        subjects: Option<PathBuf>,
        /// Time for cases that do not give `now` (RFC 3339); defaults to the current time.
        #[arg(long)]
        now: Option<String>,
    },
    /// Evaluate a rulebook on subjects and write a reviewable plan.
    Plan {
        /// The rulebook (YAML), or the name of a shipped one.
        #[arg(long)]
        rules: PathBuf,
        /// Read subjects from this file (JSON array or JSON Lines) instead of the orgs.
        #[arg(long, conflicts_with = "full_scan")]
        subjects: Option<PathBuf>,
        /// Write the plan JSON here.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Evaluation time (RFC 3339); defaults to the current time, or for a `remedy snapshot`
        /// file to the time it was collected.
        #[arg(long)]
        now: Option<String>,
        /// Exit 0 when no step changes Okta, 2 when some step does, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
        #[command(flatten)]
        live: LiveArgs,
    },
    /// Collect subjects from the orgs and write them as JSON Lines, so a plan can be reproduced offline.
    Snapshot {
        /// The rulebook (YAML), or the name of a shipped one.
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
    Show {
        plan: PathBuf,
        /// Print the plan as a report to share (markdown, html, csv) instead of text.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Write the report to this file (created 0600) instead of stdout; needs `--format`.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Every step and subject; by default at most 50 of each action are listed (all counted).
        #[arg(long)]
        all: bool,
    },
    /// Apply a plan to the orgs: resumable, journaled, re-checking each subject before acting.
    Apply(ApplyArgs),
    /// Show what a journal holds: done, waiting (and why), failed, skipped.
    Status {
        /// The journal (or the plan, whose default journal is used).
        path: PathBuf,
        /// Print the results as a report to share (markdown, html, csv) instead of text; needs the
        /// plan as PATH.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Write the report to this file (created 0600) instead of stdout; needs `--format`.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Every subject; by default at most 50 of each state are listed (all counted).
        #[arg(long)]
        all: bool,
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
    /// The shipped rulebooks: list them, print one, or copy one to start from.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Print the JSON Schema of rulebooks.
    Schema,
    /// Print shell completions.
    Completions { shell: clap_complete::Shell },
    /// Run the Okta simulator (a hub and a spoke org on loopback).
    Sim(Box<crate::sim::SimArgs>),
    /// The whole story with no Okta and no setup: simulator, plan, apply, users reset, resume, results.
    Demo(crate::demo::DemoArgs),
    /// Run continuously: take work from the System Log or Okta event hooks, plan and apply it under
    /// the config's autonomy policy, rate guards and kill switch, until SIGTERM or Ctrl-C.
    Serve(ServeArgs),
    /// List the approvals a running service waits for (`--all`: decided ones too).
    Approvals {
        #[command(flatten)]
        service: ServiceArgs,
        /// Decided approvals too.
        #[arg(long)]
        all: bool,
    },
    /// Approve a pending approval of a running service; recorded in the audit log with who approved.
    Approve {
        /// The approval's number (`remedy approvals`).
        id: i64,
        #[command(flatten)]
        service: ServiceArgs,
    },
    /// Deny a pending approval; the work ends `denied` and nothing is applied for it.
    Deny {
        id: i64,
        /// Why (recorded in the audit log).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        service: ServiceArgs,
    },
    /// Pause every change a running service makes (the kill switch); it keeps planning.
    Pause {
        #[command(flatten)]
        service: ServiceArgs,
    },
    /// Resume changes after `remedy pause`.
    Resume {
        #[command(flatten)]
        service: ServiceArgs,
    },
}

/// Arguments of `remedy serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// The config: `orgs`, `service` and `remediations` (see README, "Run continuously").
    #[arg(long, env = "REMEDY_CONFIG")]
    pub config: PathBuf,
    /// Listen on a non-loopback address without TLS (behind a TLS-terminating proxy).
    #[arg(long)]
    pub insecure_listen: bool,
}

/// Which service a control command talks to, and who runs it.
#[derive(Debug, Clone, clap::Args)]
pub struct ServiceArgs {
    /// The running service's config (its `service.stateDir` holds the store).
    #[arg(long, env = "REMEDY_CONFIG")]
    pub config: PathBuf,
    /// Who decides (the audit log's `operator`); default: `REMEDY_OPERATOR`, else the OS user.
    #[arg(long, env = "REMEDY_OPERATOR")]
    pub operator: Option<String>,
}

/// `remedy rules ...`.
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// List the shipped rulebooks.
    List,
    /// Print a shipped rulebook.
    Show { name: String },
    /// Write a shipped rulebook, its test cases, their reviewed decisions and the rulebook schema into
    /// DIR, to start from.
    Init {
        name: String,
        /// Where to write (created if missing); default: the working directory.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
}

/// Entry point used by `main.rs`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::install(cli.verbose, cli.log_format);
    run(cli).into()
}

/// Checks the arguments, runs the command and reports its error, if any.
pub fn run(cli: Cli) -> Exit {
    let output = cli.output;
    match Invocation::check(cli.command).and_then(|inv| dispatch(inv, output)) {
        Ok(exit) => exit,
        Err(e) => error::report(&e, output),
    }
}

fn dispatch(inv: Invocation, output: Output) -> Result<Exit, CliError> {
    match inv {
        Invocation::Validate(files) => check::validate(&files, output),
        Invocation::Test(run) => check::test(&run, output),
        Invocation::Explain(run) => explain::explain(&run, output),
        Invocation::Plan(run) => plan::plan(&run, output),
        Invocation::Snapshot(run) => plan::snapshot(&run, output),
        Invocation::Show(path, report, all) => plan::show(&path, report.as_ref(), all, output),
        Invocation::Apply(run) => apply::apply(run, output),
        Invocation::Status(run) => match run.report {
            Some(r) => report::status(&run.journal, &r, run.all, output),
            None => apply::status(&run.journal, run.all, output),
        },
        Invocation::Restore(run) => apply::restore(&run, output),
        Invocation::Rules(command) => rules::rules(&command, output),
        Invocation::Schema => {
            print::json(&crate::rulebook::schema::rulebook_schema())?;
            Ok(Exit::Ok)
        }
        Invocation::Completions(shell) => {
            let mut text = Vec::new();
            clap_complete::generate(
                shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "remedy",
                &mut text,
            );
            print::bytes(&text)?;
            Ok(Exit::Ok)
        }
        Invocation::Sim(args) => {
            print::block_on(crate::sim::run(*args))?.map_err(CliError::Sim)?;
            Ok(Exit::Ok)
        }
        Invocation::Demo(args) => {
            let color = print::stdout_is_terminal();
            print::block_on(crate::demo::run(args, color))?.map_err(CliError::Demo)?;
            Ok(Exit::Ok)
        }
        Invocation::Serve(args) => serve::serve(&args),
        Invocation::Control(command) => serve::control(command, output),
    }
}
