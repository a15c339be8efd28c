//! Each command's arguments checked once, into the values the commands run on: timestamps parsed,
//! counts in range, default paths (journal, audit log) derived. Nothing past this module sees a raw
//! argument string. Checks that need the files themselves (a rulebook's content) happen where the
//! files are read.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::{ApplyArgs, CliError, Command, Format, LiveArgs, RulesCommand};
use crate::report::ReportFormat;

/// A command with checked arguments.
pub enum Invocation {
    Validate(Vec<PathBuf>),
    Test(TestRun),
    Explain(ExplainRun),
    Plan(PlanRun),
    Snapshot(SnapshotRun),
    /// The plan, and the report to print it as (`None`: text).
    /// The plan, the report to print it as, and whether to list everything.
    Show(PathBuf, Option<ReportTo>, bool),
    Apply(ApplyRun),
    Status(StatusRun),
    Restore(RestoreRun),
    Rules(RulesCommand),
    Schema,
    Completions(clap_complete::Shell),
    Sim(Box<crate::sim::SimArgs>),
    Demo(crate::demo::DemoArgs),
    Serve(super::ServeArgs),
    Control(super::serve::Control),
}

/// `remedy test`.
pub struct TestRun {
    pub rulebooks: Vec<PathBuf>,
    pub snapshot: bool,
    pub accept: bool,
    /// A subjects file whose decisions are reviewed too (`NAME.subjects.snap`).
    pub subjects: Option<PathBuf>,
    /// For cases that give no `now`.
    pub now: DateTime<Utc>,
}

/// `remedy explain`: one subject of a file, or a planned subject by key.
pub enum ExplainRun {
    File {
        rules: PathBuf,
        subjects: PathBuf,
        index: usize,
        now: DateTime<Utc>,
    },
    Planned {
        plan: PathBuf,
        key: String,
        from: ExplainFrom,
    },
}

/// Where `remedy explain --plan` reads the subject again.
pub enum ExplainFrom {
    /// The subjects file the plan was made from (`source.path`).
    PlanSource,
    /// Another subjects file (`--subjects`).
    File(PathBuf),
    /// The orgs of a config file (`--config`): only that subject is read.
    Orgs(PathBuf),
}

/// Where `remedy plan` reads subjects.
pub enum SubjectsFrom {
    File(PathBuf),
    Live(LiveRun),
}

/// `remedy plan`.
pub struct PlanRun {
    pub rules: PathBuf,
    pub from: SubjectsFrom,
    pub out: Option<PathBuf>,
    /// `None`: the current time, or a snapshot file's own.
    pub now: Option<DateTime<Utc>>,
    pub detailed_exitcode: bool,
}

/// How to collect live.
pub struct LiveRun {
    pub config: Option<PathBuf>,
    pub full_scan: bool,
    pub concurrency: usize,
    pub quiet: bool,
}

/// `remedy snapshot`.
pub struct SnapshotRun {
    pub rules: PathBuf,
    pub out: PathBuf,
    pub now: DateTime<Utc>,
    pub live: LiveRun,
}

/// `remedy status`.
pub struct StatusRun {
    pub journal: PathBuf,
    /// For `--format` other than text: the plan and the report to print its results as.
    pub report: Option<StatusReport>,
    /// List every subject, not a bounded sample of each state.
    pub all: bool,
}

/// `remedy status PLAN --format ...`.
pub struct StatusReport {
    pub plan: PathBuf,
    pub to: ReportTo,
}

/// A report's format and where it goes.
pub struct ReportTo {
    pub format: ReportFormat,
    /// A file (created 0600), or stdout.
    pub out: Option<PathBuf>,
}

/// `remedy apply`.
pub struct ApplyRun {
    pub plan: PathBuf,
    pub approve_destructive: bool,
    pub concurrency: usize,
    pub journal: PathBuf,
    pub audit_log: PathBuf,
    pub manual_retries: PathBuf,
    pub reset_urls: Option<PathBuf>,
    pub max_actions: Option<u64>,
    pub allow_rulebook_change: bool,
    pub config: Option<PathBuf>,
    /// Where the `notifications:` section is read from (`None`: the `config` file's, if any).
    pub notify_config: Option<PathBuf>,
    /// `--operator`, else the OS user; `None` when neither is known.
    pub operator: Option<String>,
}

/// `remedy restore`.
pub struct RestoreRun {
    pub journal: PathBuf,
    pub user: String,
    pub org: String,
    pub config: Option<PathBuf>,
}

impl Invocation {
    /// Checks `command`'s arguments.
    pub fn check(command: Command) -> Result<Invocation, CliError> {
        Ok(match command {
            Command::Validate { rulebooks } => Invocation::Validate(rulebooks),
            Command::Explain {
                rules,
                subject,
                plan,
                subjects,
                config,
                subject_index,
                now,
            } => Invocation::Explain(match (plan, rules) {
                (Some(plan), _) => ExplainRun::Planned {
                    plan,
                    key: subject,
                    from: match (subjects, config) {
                        (_, Some(config)) => ExplainFrom::Orgs(config),
                        (Some(file), None) => ExplainFrom::File(file),
                        (None, None) => ExplainFrom::PlanSource,
                    },
                },
                (None, rules) => ExplainRun::File {
                    rules: rules.unwrap_or_default(),
                    subjects: PathBuf::from(subject),
                    index: subject_index,
                    now: now_or_clock(now.as_deref())?,
                },
            }),
            Command::Test {
                rulebooks,
                snapshot,
                accept,
                subjects,
                now,
            } => Invocation::Test(TestRun {
                rulebooks,
                snapshot,
                accept,
                subjects,
                now: now_or_clock(now.as_deref())?,
            }),
            Command::Plan {
                rules,
                subjects,
                out,
                now,
                detailed_exitcode,
                live,
            } => Invocation::Plan(PlanRun {
                rules,
                from: match subjects {
                    Some(file) => SubjectsFrom::File(file),
                    None => SubjectsFrom::Live(LiveRun::check(live)?),
                },
                out,
                now: now.as_deref().map(timestamp).transpose()?,
                detailed_exitcode,
            }),
            Command::Snapshot {
                rules,
                out,
                now,
                live,
            } => Invocation::Snapshot(SnapshotRun {
                rules,
                out,
                now: now_or_clock(now.as_deref())?,
                live: LiveRun::check(live)?,
            }),
            Command::Show {
                plan,
                format,
                out,
                all,
            } => Invocation::Show(plan, ReportTo::check(format, out)?, all),
            Command::Apply(args) => Invocation::Apply(ApplyRun::check(args)?),
            Command::Status {
                path,
                format,
                out,
                all,
            } => Invocation::Status(StatusRun {
                all,
                ..StatusRun::check(path, ReportTo::check(format, out)?)?
            }),
            Command::Restore {
                journal,
                user,
                org,
                config,
            } => Invocation::Restore(RestoreRun {
                journal,
                user,
                org,
                config,
            }),
            Command::Rules(c) => Invocation::Rules(c),
            Command::Schema => Invocation::Schema,
            Command::Completions { shell } => Invocation::Completions(shell),
            Command::Sim(args) => Invocation::Sim(args),
            Command::Demo(args) => Invocation::Demo(args),
            Command::Serve(args) => Invocation::Serve(args),
            Command::Approvals { service, all } => {
                Invocation::Control(super::serve::Control::List { service, all })
            }
            Command::Approve { id, service } => {
                Invocation::Control(super::serve::Control::Decide {
                    id,
                    approve: true,
                    reason: None,
                    service,
                })
            }
            Command::Deny {
                id,
                reason,
                service,
            } => Invocation::Control(super::serve::Control::Decide {
                id,
                approve: false,
                reason: Some(reason),
                service,
            }),
            Command::Pause { service } => Invocation::Control(super::serve::Control::Pause {
                paused: true,
                service,
            }),
            Command::Resume { service } => Invocation::Control(super::serve::Control::Pause {
                paused: false,
                service,
            }),
        })
    }
}

impl LiveRun {
    fn check(live: LiveArgs) -> Result<LiveRun, CliError> {
        Ok(LiveRun {
            concurrency: at_least_one("concurrency", live.concurrency)?,
            config: live.config,
            full_scan: live.full_scan,
            quiet: live.quiet,
        })
    }
}

impl ApplyRun {
    fn check(args: ApplyArgs) -> Result<ApplyRun, CliError> {
        let journal = args
            .journal
            .unwrap_or_else(|| with_suffix(&args.plan, ".journal.sqlite"));
        Ok(ApplyRun {
            concurrency: at_least_one("concurrency", args.concurrency)?,
            audit_log: args
                .audit_log
                .unwrap_or_else(|| with_suffix(&journal, ".audit.jsonl")),
            manual_retries: with_suffix(&journal, ".manual-retries.txt"),
            journal,
            plan: args.plan,
            approve_destructive: args.approve_destructive,
            reset_urls: args.reset_urls,
            max_actions: args.max_actions,
            allow_rulebook_change: args.allow_rulebook_change,
            config: args.config,
            notify_config: args.notify_config,
            operator: operator(args.operator)?,
        })
    }
}

/// Longest `--operator` accepted: a name or an email address, not a document.
const OPERATOR_MAX_CHARS: usize = 128;

/// The operator named by `--operator` (or `REMEDY_OPERATOR`), checked, else the OS user.
fn operator(named: Option<String>) -> Result<Option<String>, CliError> {
    let Some(name) = named else {
        return Ok(std::env::var("USER")
            .or_else(|_| std::env::var("USERNAME"))
            .ok()
            .filter(|u| !u.trim().is_empty()));
    };
    let message = if name.trim().is_empty() {
        "must name someone"
    } else if name.chars().count() > OPERATOR_MAX_CHARS {
        "must be at most 128 characters"
    } else if name.chars().any(char::is_control) {
        "must not contain control characters"
    } else {
        return Ok(Some(name));
    };
    Err(CliError::Argument {
        flag: "operator",
        value: name.chars().filter(|c| !c.is_control()).take(40).collect(),
        message,
    })
}

impl StatusRun {
    fn check(path: PathBuf, to: Option<ReportTo>) -> Result<StatusRun, CliError> {
        let journal = journal_of(&path);
        let Some(to) = to else {
            return Ok(StatusRun {
                journal,
                report: None,
                all: false,
            });
        };
        // The journal holds states, not the steps: a report needs the plan they belong to.
        if journal == path {
            return Err(CliError::ReportNeedsPlan {
                path: path.display().to_string(),
            });
        }
        Ok(StatusRun {
            journal,
            report: Some(StatusReport { plan: path, to }),
            all: false,
        })
    }
}

impl ReportTo {
    /// The report `--format` asks for (`None` for the terminal's text, which `--out` cannot take).
    fn check(format: Format, out: Option<PathBuf>) -> Result<Option<ReportTo>, CliError> {
        let format = match format {
            Format::Text => {
                return match out {
                    Some(path) => Err(CliError::Argument {
                        flag: "out",
                        value: path.display().to_string(),
                        message:
                            "needs `--format markdown`, `html` or `csv` (text goes to the terminal)",
                    }),
                    None => Ok(None),
                };
            }
            Format::Markdown => ReportFormat::Markdown,
            Format::Html => ReportFormat::Html,
            Format::Csv => ReportFormat::Csv,
        };
        Ok(Some(ReportTo { format, out }))
    }
}

/// `--now` parsed as RFC 3339.
fn timestamp(text: &str) -> Result<DateTime<Utc>, CliError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| CliError::Timestamp {
            flag: "now",
            value: text.to_string(),
            message: e.to_string(),
        })
}

/// `--now` when given, else the current time.
fn now_or_clock(text: Option<&str>) -> Result<DateTime<Utc>, CliError> {
    Ok(text.map(timestamp).transpose()?.unwrap_or_else(Utc::now))
}

fn at_least_one(flag: &'static str, n: usize) -> Result<usize, CliError> {
    if n == 0 {
        return Err(CliError::Argument {
            flag,
            value: n.to_string(),
            message: "must be at least 1",
        });
    }
    Ok(n)
}

/// The journal a `status` argument names: itself, or a plan's default journal.
fn journal_of(path: &Path) -> PathBuf {
    if path.extension().and_then(|e| e.to_str()) == Some("json") {
        with_suffix(path, ".journal.sqlite")
    } else {
        path.to_path_buf()
    }
}

/// `dir/plan.json` → `dir/plan{suffix}` (also from `plan.journal.sqlite` or `plan.sqlite`).
fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("plan");
    let stem = [".journal.sqlite", ".sqlite", ".json"]
        .iter()
        .find_map(|ext| name.strip_suffix(ext))
        .unwrap_or(name);
    p.with_file_name(format!("{stem}{suffix}"))
}
