//! The rulebook: the YAML model, its validation into the types the engine uses, and located
//! diagnostics. A rulebook is parsed with serde_yaml into `serde_yaml::Value` (the raw serde layer), then
//! checked node by node into [`Rulebook`]: JSONPaths and regexes compiled once, durations typed, action
//! parameters checked per action kind, every problem reported with `file:line:column` in one run. The
//! field and action tables here are also what `remedy schema` publishes, so the schema cannot drift from
//! what the loader accepts. Evaluation is not here (see `engine` and `condition`).

pub mod cases;
mod check;
pub mod locate;
pub mod schema;

use std::fmt;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use regex::Regex;
use serde::Serialize;
use serde_yaml::{Mapping, Value as Yaml};
use sha2::{Digest, Sha256};

use crate::condition::{Bound, Condition, CountCmp, JsonPath, Leaf, Op, Quantifier, OPERATORS};
use crate::diagnostic::{did_you_mean, Diagnostic, Position};
use check::{describe, index, key, to_json, Checker};
use locate::{Locator, NodePath, Seg};

pub use cases::{Expectation, TestCase};

/// A rule's id, unique within a rulebook.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct RuleId(pub String);

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a collector builds subjects from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    /// One subject per user of one org: `{ org, user }`.
    User,
    /// One subject per failing assignment of the spoke's Org2Org app.
    Org2orgAssignment,
}

/// The `subjects:` section.
#[derive(Debug, Clone, Serialize)]
pub struct Subjects {
    pub kind: SubjectKind,
    /// For `user`: the org whose users are subjects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    pub hub: String,
    pub spoke: String,
    /// How far back the System Log is read.
    #[serde(skip)]
    pub since: Duration,
    #[serde(rename = "since")]
    pub since_text: String,
    /// The spoke app to read (API name or label); `okta_org2org` by default.
    pub app: String,
}

impl Subjects {
    /// The org names actions may target.
    pub fn orgs(&self) -> Vec<&str> {
        match self.kind {
            SubjectKind::User => self.org.iter().map(String::as_str).collect(),
            SubjectKind::Org2orgAssignment => vec![self.hub.as_str(), self.spoke.as_str()],
        }
    }

    /// The org holding the user a rule acts on (the hub for Org2Org, the org for `user`).
    pub fn user_org(&self) -> &str {
        match self.kind {
            SubjectKind::User => self.org.as_deref().unwrap_or(&self.hub),
            SubjectKind::Org2orgAssignment => &self.hub,
        }
    }
}

/// Whether the first matching rule wins or every matching rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    FirstMatch,
    AllMatches,
}

/// The `guards:` section: limits the plan must respect and subjects never to touch.
#[derive(Debug, Clone, Default)]
pub struct Guards {
    pub max_actions: Option<u64>,
    pub max_destructive: Option<u64>,
    pub protect: Vec<Condition>,
    /// Where each limit was written, for messages that point back at it.
    pub max_actions_at: Option<Position>,
    pub max_destructive_at: Option<Position>,
}

/// How risky an action is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Safety {
    /// Changes nothing in Okta.
    Safe,
    /// Changes Okta in a way that can be undone.
    Reversible,
    /// Removes data; needs approval and counts against `max_destructive`.
    Destructive,
}

/// How `retry_provisioning` makes Okta push the user again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RetryMethod {
    /// Unassign and re-assign the app user (only individually assigned, unlinked users).
    Reassign,
    /// Update the app user with its current profile.
    Touch,
    /// Emit the list to retry by hand under Dashboard > Tasks.
    Manual,
}

/// A message with `{{ $.path }}` placeholders filled from the subject.
#[derive(Debug, Clone)]
pub struct Template {
    pub source: String,
    parts: Vec<TemplatePart>,
}

#[derive(Debug, Clone)]
enum TemplatePart {
    Text(String),
    Path(JsonPath),
}

impl Template {
    /// Renders the message: each placeholder becomes its first value (strings bare), or `?` if missing.
    pub fn render(&self, subject: &serde_json::Value) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                TemplatePart::Text(t) => out.push_str(t),
                TemplatePart::Path(p) => match p.query(subject).first() {
                    Some(serde_json::Value::String(s)) => out.push_str(s),
                    Some(v) => out.push_str(&v.to_string()),
                    None => out.push('?'),
                },
            }
        }
        out
    }

    pub fn paths(&self) -> impl Iterator<Item = &JsonPath> {
        self.parts.iter().filter_map(|p| match p {
            TemplatePart::Path(p) => Some(p),
            TemplatePart::Text(_) => None,
        })
    }
}

/// An action with its checked parameters.
#[derive(Debug, Clone)]
pub enum ActionKind {
    ResetPassword {
        send_email: bool,
    },
    Await {
        until: Condition,
        timeout: Duration,
        timeout_text: String,
    },
    RetryProvisioning {
        method: RetryMethod,
        timeout: Duration,
        timeout_text: String,
    },
    DeleteRecreate,
    Unlock,
    Activate {
        send_email: bool,
    },
    Notify {
        message: Template,
        channel: Option<String>,
    },
    Report {
        message: Template,
    },
}

/// One step of a rule's `then`.
#[derive(Debug, Clone)]
pub struct Action {
    pub kind: ActionKind,
    /// The org the action runs against.
    pub org: String,
}

impl Action {
    pub fn name(&self) -> &'static str {
        match &self.kind {
            ActionKind::ResetPassword { .. } => "reset_password",
            ActionKind::Await { .. } => "await",
            ActionKind::RetryProvisioning { .. } => "retry_provisioning",
            ActionKind::DeleteRecreate => "delete_recreate",
            ActionKind::Unlock => "unlock",
            ActionKind::Activate { .. } => "activate",
            ActionKind::Notify { .. } => "notify",
            ActionKind::Report { .. } => "report",
        }
    }

    pub fn safety(&self) -> Safety {
        match &self.kind {
            ActionKind::Await { .. } | ActionKind::Notify { .. } | ActionKind::Report { .. } => {
                Safety::Safe
            }
            ActionKind::RetryProvisioning {
                method: RetryMethod::Manual,
                ..
            } => Safety::Safe,
            ActionKind::ResetPassword { .. }
            | ActionKind::RetryProvisioning { .. }
            | ActionKind::Unlock
            | ActionKind::Activate { .. } => Safety::Reversible,
            ActionKind::DeleteRecreate => Safety::Destructive,
        }
    }

    /// Whether the action changes Okta (and so counts against `max_actions`).
    pub fn changes_okta(&self) -> bool {
        self.safety() != Safety::Safe
    }

    /// Subject fields this action is expected to change; later steps of the same subject do not
    /// re-check them as preconditions.
    pub fn changes(&self) -> &'static [&'static str] {
        match &self.kind {
            ActionKind::ResetPassword { .. } | ActionKind::Unlock | ActionKind::Activate { .. } => {
                &["$.user"]
            }
            ActionKind::Await { .. } => &["$.user", "$.assignment"],
            ActionKind::RetryProvisioning { .. } => &["$.assignment", "$.user", "$.events"],
            ActionKind::DeleteRecreate => &["$.user", "$.assignment", "$.events"],
            ActionKind::Notify { .. } | ActionKind::Report { .. } => &[],
        }
    }
}

/// A validated rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: RuleId,
    pub description: Option<String>,
    /// Higher runs first; ties keep file order.
    pub priority: i64,
    pub when: Condition,
    /// `true` when the rule had no `when` (it matches every subject).
    pub catch_all: bool,
    pub then: Vec<Action>,
    pub at: Position,
}

/// A loaded, validated rulebook.
#[derive(Debug, Clone)]
pub struct Rulebook {
    pub version: u64,
    pub name: String,
    pub description: Option<String>,
    pub mode: Mode,
    pub subjects: Subjects,
    pub guards: Guards,
    /// In evaluation order: priority (highest first), then file order.
    pub rules: Vec<Rule>,
    pub tests: Vec<TestCase>,
    /// The file it was loaded from, as given.
    pub path: String,
    /// sha256 of the file's bytes, hex.
    pub sha256: String,
    /// Warnings found while loading.
    pub warnings: Vec<Diagnostic>,
}

impl Rulebook {
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id.0 == id)
    }

    /// Every JSONPath any rule, guard or message can read.
    pub fn paths(&self) -> Vec<&JsonPath> {
        let mut out: Vec<&JsonPath> = Vec::new();
        for c in self.guards.protect.iter() {
            out.extend(c.leaves().into_iter().map(|l| &l.path));
        }
        for r in &self.rules {
            out.extend(r.when.leaves().into_iter().map(|l| &l.path));
            for a in &r.then {
                match &a.kind {
                    ActionKind::Await { until, .. } => {
                        out.extend(until.leaves().into_iter().map(|l| &l.path))
                    }
                    ActionKind::Notify { message, .. } | ActionKind::Report { message } => {
                        out.extend(message.paths())
                    }
                    _ => {}
                }
            }
        }
        out
    }
}

/// Why a rulebook could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RulebookError {
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path}` has {} error(s)", diagnostics.iter().filter(|d| d.is_error()).count())]
    Invalid {
        path: String,
        source_text: String,
        diagnostics: Vec<Diagnostic>,
    },
}

impl RulebookError {
    /// The diagnostics rendered for a terminal (or the I/O error).
    pub fn render(&self) -> String {
        match self {
            RulebookError::Read { .. } => format!("error: {self}\n"),
            RulebookError::Invalid {
                source_text,
                diagnostics,
                ..
            } => crate::diagnostic::render_all(diagnostics, source_text),
        }
    }

    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            RulebookError::Read { path, source } => vec![Diagnostic::error(
                path,
                Position { line: 0, column: 0 },
                format!("cannot read file: {source}"),
            )],
            RulebookError::Invalid { diagnostics, .. } => diagnostics.clone(),
        }
    }
}

/// Fields allowed at each level; `remedy schema` publishes the same tables.
pub const TOP_FIELDS: &[&str] = &[
    "version",
    "name",
    "description",
    "mode",
    "subjects",
    "guards",
    "rules",
    "tests",
];
pub const SUBJECT_FIELDS: &[&str] = &["kind", "org", "hub", "spoke", "since", "app"];
pub const SUBJECT_KINDS: &[&str] = &["user", "org2org_assignment"];
pub const GUARD_FIELDS: &[&str] = &["max_actions", "max_destructive", "protect"];
pub const RULE_FIELDS: &[&str] = &["id", "description", "priority", "when", "then"];
pub const MODES: &[&str] = &["first_match", "all_matches"];
pub const QUANTIFIERS: &[&str] = &["any", "all", "none"];
pub const COMBINATORS: &[&str] = &["all", "any", "not"];
pub const COUNT_FIELDS: &[&str] = &["equals", "gt", "gte", "lt", "lte"];
pub const RETRY_METHODS: &[&str] = &["reassign", "touch", "manual"];

/// One action kind's parameters: (name, required, description).
pub struct ActionSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub params: &'static [(&'static str, bool, &'static str)],
}

/// Every action a rule can take, with its parameters (besides `action` and `org`).
pub const ACTIONS: &[ActionSpec] = &[
    ActionSpec {
        name: "reset_password",
        description: "Reset the user's password (FEDERATION users become OKTA-provider, status RECOVERY).",
        params: &[("send_email", false, "email the user the reset link (default true)")],
    },
    ActionSpec {
        name: "await",
        description: "Wait until a condition holds on the re-read subject, up to a timeout.",
        params: &[
            ("until", true, "the condition to wait for"),
            ("timeout", false, "how long to wait before failing the subject (default 7d)"),
        ],
    },
    ActionSpec {
        name: "retry_provisioning",
        description: "Make the spoke push the user to the hub again, then verify it is linked.",
        params: &[
            ("method", false, "reassign, touch (default) or manual"),
            ("timeout", false, "how long to wait for SYNCHRONIZED (default 5m)"),
        ],
    },
    ActionSpec {
        name: "delete_recreate",
        description: "Back up, deactivate and delete the hub user, then let Org2Org recreate it (destructive).",
        params: &[],
    },
    ActionSpec {
        name: "unlock",
        description: "Unlock a LOCKED_OUT user.",
        params: &[],
    },
    ActionSpec {
        name: "activate",
        description: "Activate or reactivate the user.",
        params: &[("send_email", false, "email the activation link (default false)")],
    },
    ActionSpec {
        name: "notify",
        description: "Record a finding for a notification channel; changes nothing.",
        params: &[
            ("message", true, "text; `{{ $.path }}` is replaced by the subject's value"),
            ("channel", false, "where to deliver it once sinks exist"),
        ],
    },
    ActionSpec {
        name: "report",
        description: "Record a finding in the plan; changes nothing.",
        params: &[("message", true, "text; `{{ $.path }}` is replaced by the subject's value")],
    },
];

/// Loads and validates a rulebook file, with its sidecar `NAME.tests.yaml` when present.
pub fn load(path: &Path) -> Result<Rulebook, RulebookError> {
    let display = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| RulebookError::Read {
        path: display.clone(),
        source,
    })?;
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            return Err(not_utf8(
                &display,
                e.as_bytes(),
                e.utf8_error().valid_up_to(),
            ))
        }
    };
    let mut rb = parse(&text, &display)?;
    let sidecar = sidecar_path(path);
    if sidecar.exists() {
        let side_display = sidecar.display().to_string();
        let side_text =
            std::fs::read_to_string(&sidecar).map_err(|source| RulebookError::Read {
                path: side_display.clone(),
                source,
            })?;
        let cases = cases::parse_sidecar(&side_text, &side_display, &rb)?;
        rb.tests.extend(cases);
    }
    Ok(rb)
}

/// A file that is not UTF-8 (often UTF-16 from a Windows editor), located at its first bad byte.
fn not_utf8(file: &str, bytes: &[u8], valid_up_to: usize) -> RulebookError {
    let before = String::from_utf8_lossy(&bytes[..valid_up_to]);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    let help = if bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]) {
        "this looks like UTF-16; save the file as UTF-8"
    } else {
        "save the file as UTF-8"
    };
    RulebookError::Invalid {
        path: file.to_string(),
        source_text: String::from_utf8_lossy(bytes).into_owned(),
        diagnostics: vec![Diagnostic::error(
            file,
            Position { line, column },
            "the file is not UTF-8 text",
        )
        .with_help(Some(help.into()))],
    }
}

/// `rules/foo.yaml` → `rules/foo.tests.yaml`.
pub fn sidecar_path(path: &Path) -> std::path::PathBuf {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("rulebook");
    path.with_file_name(format!("{stem}.tests.yaml"))
}

/// Parses and validates rulebook text; `file` names it in diagnostics.
pub fn parse(text: &str, file: &str) -> Result<Rulebook, RulebookError> {
    // The sha256 is of the file as written (apply compares it with the file's bytes), but the YAML
    // is read without a leading byte-order mark: editors on Windows add one, serde_yaml rejects it.
    let full = text;
    let text = without_bom(text);
    let invalid = |diagnostics: Vec<Diagnostic>| RulebookError::Invalid {
        path: file.to_string(),
        source_text: text.to_string(),
        diagnostics,
    };
    let locator = Locator::new(text);
    let doc: Yaml = match serde_yaml::from_str(text) {
        Ok(v) => v,
        Err(e) => return Err(invalid(yaml_errors(file, text, &e, &locator))),
    };
    let mut ck = Checker::new(file, text, &locator);
    let rb = check_rulebook(&mut ck, &doc, full);
    let mut diagnostics = std::mem::take(&mut ck.diagnostics);
    match rb {
        Some(mut rb) if !diagnostics.iter().any(|d| d.is_error()) => {
            diagnostics.sort_by_key(|d| (d.line, d.column));
            rb.warnings = diagnostics;
            Ok(rb)
        }
        _ => {
            diagnostics.sort_by_key(|d| (d.severity, d.line, d.column));
            Err(invalid(diagnostics))
        }
    }
}

/// `text` without a leading UTF-8 byte-order mark.
pub(crate) fn without_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// The diagnostics for a document serde_yaml rejects. serde_yaml locates a repeated key only at its
/// mapping, so repeats are reported from the locator instead, each at the repeated key.
pub(crate) fn yaml_errors(
    file: &str,
    text: &str,
    e: &serde_yaml::Error,
    locator: &Locator,
) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = locator
        .duplicates()
        .iter()
        .map(|d| {
            Diagnostic::error(
                file,
                d.again,
                format!("invalid YAML: key `{}` is written twice in one mapping", d.key),
            )
            .with_help(Some(if d.key == "when" {
                format!(
                    "the first `when` is at line {}; a rule has one `when`: combine conditions with `all: [...]`",
                    d.first.line
                )
            } else {
                format!("the first `{}` is at line {}; keep one", d.key, d.first.line)
            }))
        })
        .collect();
    if out.is_empty() || !e.to_string().contains("duplicate entry") {
        out.push(yaml_syntax(file, text, e));
    }
    out.sort_by_key(|d| (d.line, d.column));
    out
}

/// A YAML syntax error from serde_yaml, located.
pub(crate) fn yaml_syntax(file: &str, source: &str, e: &serde_yaml::Error) -> Diagnostic {
    let at = e
        .location()
        .map_or(Position { line: 1, column: 1 }, |l| Position {
            line: l.line(),
            column: l.column(),
        });
    // serde_yaml writes "MESSAGE at line L column C[, while CONTEXT at line L2 column C2]": the
    // location is shown separately, and the context says where an unclosed construct began.
    let text = e.to_string();
    let (message, context) = split_yaml_error(&text);
    let gave_up = format!(
        "the parser gave up at line {}, column {}",
        at.line, at.column
    );
    let (at, message, help) = match context {
        // A `{`/`[` opened on an earlier line and never closed: point at the opening bracket.
        Some((what, opened))
            if opened.line < at.line
                && (what == "parsing a flow mapping" || what == "parsing a flow sequence") =>
        {
            let (open, close) = if what == "parsing a flow mapping" {
                ('{', '}')
            } else {
                ('[', ']')
            };
            (
                opened,
                format!("this `{open}` is not closed"),
                Some(format!("close it with `{close}`; {gave_up} ({message})")),
            )
        }
        Some(("scanning a quoted scalar", opened)) => (
            opened,
            "this quoted string is not closed".to_string(),
            Some(format!("end it with the same quote mark; {gave_up}")),
        ),
        // The parser names what it expected, not what the writer got wrong; say it for common slips.
        _ => {
            let help = if let Some(scalar) = unquoted_flow_scalar(source, at, context) {
                Some(format!(
                    "inside `{{ ... }}`, a value with `[`, `]`, `{{`, `}}` or `,` must be quoted: write `'{scalar}'`"
                ))
            } else if message.contains("tab character") {
                Some("indent with spaces: YAML does not allow tabs in indentation".to_string())
            } else if message.contains("expected ',' or '}'") {
                Some("entries of a `{ ... }` mapping are separated by `,`; is one missing, or the `}`?".into())
            } else if message.contains("expected ',' or ']'") {
                Some(
                    "items of a `[ ... ]` list are separated by `,`; is one missing, or the `]`?"
                        .into(),
                )
            } else if message.contains("expected '-' indicator") {
                Some("this line's indentation does not line up with the list items above it".into())
            } else if message.contains("mapping values are not allowed") {
                Some(
                    "a value containing `: ` must be quoted, e.g. `message: \"hub user: ...\"`"
                        .into(),
                )
            } else {
                None
            };
            (at, message.to_string(), help)
        }
    };
    Diagnostic::error(file, at, format!("invalid YAML: {message}")).with_help(help)
}

/// The plain value the parser stopped in, when it stopped at a bracket inside a flow collection on
/// the same line: `{ path: $.events[*].reason }` needs the path quoted.
fn unquoted_flow_scalar(
    source: &str,
    at: Position,
    context: Option<(&str, Position)>,
) -> Option<String> {
    let (what, opened) = context?;
    if !what.starts_with("parsing a flow") || opened.line != at.line {
        return None;
    }
    let line: Vec<char> = source
        .lines()
        .nth(at.line.checked_sub(1)?)?
        .chars()
        .collect();
    let i = at.column.checked_sub(1)?;
    if !matches!(line.get(i), Some('[' | ']' | '{' | '}')) {
        return None;
    }
    // The value starts after the `: ` before the bracket and ends at the `,` or `}` after it.
    let start = (0..i)
        .rev()
        .find(|&j| line[j] == ' ' && j > 0 && line[j - 1] == ':')?
        + 1;
    let mut depth = 0i32;
    let mut end = line.len();
    for (j, c) in line.iter().enumerate().skip(start) {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' | '}' if depth <= 0 => {
                end = j;
                break;
            }
            _ => {}
        }
    }
    let scalar: String = line.get(start..end)?.iter().collect();
    let scalar = scalar.trim();
    (scalar.starts_with('$') && !scalar.contains('\'')).then(|| scalar.to_string())
}

/// Splits serde_yaml's error text into its message and, when given, the construct it was reading
/// and where that construct began.
fn split_yaml_error(text: &str) -> (&str, Option<(&str, Position)>) {
    let Some(i) = text.find(" at line ") else {
        return (text, None);
    };
    let message = &text[..i];
    let context = text[i..].split_once(", while ").and_then(|(_, ctx)| {
        let (what, loc) = ctx.split_once(" at line ")?;
        let (line, column) = loc.split_once(" column ")?;
        let position = Position {
            line: line.trim().parse().ok()?,
            column: column.trim().parse().ok()?,
        };
        Some((what, position))
    });
    (message, context)
}

fn check_rulebook(ck: &mut Checker, doc: &Yaml, text: &str) -> Option<Rulebook> {
    let root: NodePath = Vec::new();
    if doc.is_null() {
        ck.error(
            &root,
            "the rulebook is empty",
            Some("a rulebook has at least `version: 1`, `name`, `subjects` and `rules`".into()),
        );
        return None;
    }
    let Yaml::Mapping(m) = doc else {
        ck.error(
            &root,
            format!("a rulebook must be a mapping, found {}", describe(doc)),
            Some("the top level holds fields: `version: 1`, `name`, `subjects`, `rules`".into()),
        );
        return None;
    };
    ck.known_keys(m, &root, TOP_FIELDS, "the rulebook");

    let version = match m.get("version") {
        Some(v) => match ck.unsigned(v, &key(&root, "version"), "`version`") {
            Some(1) => Some(1),
            Some(n) => {
                ck.error(
                    &key(&root, "version"),
                    format!("unsupported rulebook version {n}"),
                    Some("this release reads `version: 1`".into()),
                );
                None
            }
            None => None,
        },
        None => None,
    };
    let name = m
        .get("name")
        .and_then(|v| ck.string(v, &key(&root, "name"), "`name`"));
    let description = m
        .get("description")
        .and_then(|v| ck.string(v, &key(&root, "description"), "`description`"));
    let mode = match m.get("mode") {
        None => Some(Mode::FirstMatch),
        Some(v) => ck.choice(v, &key(&root, "mode"), "mode", MODES).map(|s| {
            if s == "all_matches" {
                Mode::AllMatches
            } else {
                Mode::FirstMatch
            }
        }),
    };
    for (field, example) in [
        ("version", "version: 1"),
        ("name", "name: org2org-password-sync"),
        (
            "subjects",
            "subjects: { kind: org2org_assignment, hub: hub, spoke: spoke }",
        ),
        ("rules", "rules: [{ id: ..., when: ..., then: [...] }]"),
    ] {
        if m.get(field).is_none() {
            ck.error(
                &root,
                format!("missing field `{field}` in the rulebook"),
                Some(format!("add e.g. `{example}`")),
            );
        }
    }
    let subjects = match m.get("subjects") {
        Some(v) => check_subjects(ck, v, &key(&root, "subjects")),
        None => None,
    };
    let orgs: Vec<String> = subjects
        .as_ref()
        .map(|s| s.orgs().into_iter().map(str::to_string).collect())
        .unwrap_or_default();
    let guards = match m.get("guards") {
        Some(v) => check_guards(ck, v, &key(&root, "guards")),
        None => Some(Guards::default()),
    };
    let rules = match m.get("rules") {
        Some(v) => check_rules(ck, v, &key(&root, "rules"), subjects.as_ref(), &orgs, mode),
        None => None,
    };
    let (Some(version), Some(name), Some(mode), Some(subjects), Some(guards), Some(rules)) =
        (version, name, mode, subjects, guards, rules)
    else {
        return None;
    };
    let mut rb = Rulebook {
        version,
        name,
        description,
        mode,
        subjects,
        guards,
        rules,
        tests: Vec::new(),
        path: ck.file.to_string(),
        sha256: hex::encode(Sha256::digest(text.as_bytes())),
        warnings: Vec::new(),
    };
    if let Some(v) = m.get("tests") {
        let tests = cases::check_cases(ck, v, &key(&root, "tests"), &rb);
        rb.tests = tests;
    }
    Some(rb)
}

fn check_subjects(ck: &mut Checker, v: &Yaml, path: &[Seg]) -> Option<Subjects> {
    let m = ck.mapping(v, path, "`subjects`")?;
    ck.known_keys(m, path, SUBJECT_FIELDS, "`subjects`");
    let kind = ck
        .required(m, path, "kind", "`subjects`")
        .and_then(|k| ck.choice(k, &key(path, "kind"), "subject kind", SUBJECT_KINDS))
        .map(|k| {
            if k == "user" {
                SubjectKind::User
            } else {
                SubjectKind::Org2orgAssignment
            }
        });
    let mut text_field = |name: &str, default: &str| -> String {
        m.get(name)
            .and_then(|v| ck.string(v, &key(path, name), &format!("`{name}`")))
            .unwrap_or_else(|| default.to_string())
    };
    let hub = text_field("hub", "hub");
    let spoke = text_field("spoke", "spoke");
    let app = text_field("app", "okta_org2org");
    let org = m
        .get("org")
        .and_then(|v| ck.string(v, &key(path, "org"), "`org`"));
    let (since, since_text) = match m.get("since") {
        Some(v) => ck.duration(v, &key(path, "since"), "`since`")?,
        None => (Duration::from_secs(7 * 86400), "7d".to_string()),
    };
    let kind = kind?;
    if kind == SubjectKind::User && org.is_none() {
        ck.error(
            path,
            "missing field `org` in `subjects`: a `user` rulebook reads the users of one org",
            Some("add e.g. `org: hub`".into()),
        );
        return None;
    }
    if kind == SubjectKind::Org2orgAssignment && org.is_some() {
        ck.error_key(
            &key(path, "org"),
            "`org` applies to `kind: user`; an `org2org_assignment` rulebook names `hub` and `spoke`",
            None,
        );
    }
    Some(Subjects {
        kind,
        org,
        hub,
        spoke,
        since,
        since_text,
        app,
    })
}

fn check_guards(ck: &mut Checker, v: &Yaml, path: &[Seg]) -> Option<Guards> {
    let m = ck.mapping(v, path, "`guards`")?;
    ck.known_keys(m, path, GUARD_FIELDS, "`guards`");
    let mut g = Guards::default();
    let mut ok = true;
    if let Some(v) = m.get("max_actions") {
        let p = key(path, "max_actions");
        g.max_actions = ck.unsigned(v, &p, "`max_actions`");
        g.max_actions_at = Some(ck.at(&p));
        ok &= g.max_actions.is_some();
    }
    if let Some(v) = m.get("max_destructive") {
        let p = key(path, "max_destructive");
        g.max_destructive = ck.unsigned(v, &p, "`max_destructive`");
        g.max_destructive_at = Some(ck.at(&p));
        ok &= g.max_destructive.is_some();
    }
    if let Some(v) = m.get("protect") {
        let p = key(path, "protect");
        if let Some(items) = ck.sequence(v, &p, "`protect`") {
            for (i, item) in items.iter().enumerate() {
                match check_condition(ck, item, &index(&p, i)) {
                    Some(c) => g.protect.push(c),
                    None => ok = false,
                }
            }
        }
    }
    ok.then_some(g)
}

fn check_rules(
    ck: &mut Checker,
    v: &Yaml,
    path: &[Seg],
    subjects: Option<&Subjects>,
    orgs: &[String],
    mode: Option<Mode>,
) -> Option<Vec<Rule>> {
    let items = ck.sequence(v, path, "`rules`")?;
    if items.is_empty() {
        ck.error(
            path,
            "`rules` is empty: a rulebook needs at least one rule",
            None,
        );
    }
    let mut rules = Vec::new();
    let mut seen: Vec<(String, Position)> = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let p = index(path, i);
        match check_rule(ck, item, &p, subjects, orgs) {
            Some(rule) => {
                if let Some((_, first)) = seen.iter().find(|(id, _)| *id == rule.id.0) {
                    ck.rule = Some(rule.id.0.clone());
                    ck.error(
                        &key(&p, "id"),
                        format!("duplicate rule id `{}`", rule.id),
                        Some(format!(
                            "the first rule with this id is at line {}",
                            first.line
                        )),
                    );
                    ok = false;
                } else {
                    seen.push((rule.id.0.clone(), ck.at(&key(&p, "id"))));
                }
                rules.push(rule);
            }
            None => ok = false,
        }
        ck.rule = None;
    }
    // Evaluation order: priority, highest first; the sort is stable so ties keep file order.
    rules.sort_by_key(|r| std::cmp::Reverse(r.priority));
    if mode == Some(Mode::FirstMatch) {
        if let Some(pos) = rules.iter().position(|r| r.catch_all) {
            let catch_all = rules[pos].id.clone();
            for r in &rules[pos + 1..] {
                ck.diagnostics.push(
                    Diagnostic::warning(
                        ck.file,
                        r.at,
                        format!("rule `{}` can never match: rule `{catch_all}` before it matches every subject", r.id),
                    )
                    .with_help(Some(
                        "give the catch-all a `when`, move it last, or lower its `priority`".into(),
                    ))
                    .in_rule(Some(&r.id.0)),
                );
            }
        }
    }
    ok.then_some(rules)
}

fn check_rule(
    ck: &mut Checker,
    v: &Yaml,
    path: &[Seg],
    subjects: Option<&Subjects>,
    orgs: &[String],
) -> Option<Rule> {
    let m = ck.mapping(v, path, "a rule")?;
    let id = m
        .get("id")
        .and_then(|v| ck.string(v, &key(path, "id"), "`id`"));
    ck.rule = id.clone();
    ck.known_keys(m, path, RULE_FIELDS, "a rule");
    if m.get("id").is_none() {
        ck.error(
            path,
            "missing field `id` in a rule",
            Some("every rule needs a unique `id`".into()),
        );
    }
    if let Some(id) = &id {
        if id.trim().is_empty() {
            ck.error(&key(path, "id"), "rule `id` is empty", None);
        }
    }
    let description = m
        .get("description")
        .and_then(|v| ck.string(v, &key(path, "description"), "`description`"));
    let priority = match m.get("priority") {
        Some(v) => ck.integer(v, &key(path, "priority"), "`priority`"),
        None => Some(0),
    };
    let (when, catch_all) = match m.get("when") {
        Some(v) => (check_condition(ck, v, &key(path, "when")), false),
        None => (Some(Condition::All(Vec::new())), true),
    };
    let then = match m.get("then") {
        Some(v) => check_actions(ck, v, &key(path, "then"), subjects, orgs),
        None => {
            ck.error(
                path,
                "missing field `then` in a rule",
                Some(
                    "list what the rule does, e.g. `then: [{ action: report, message: \"...\" }]`"
                        .into(),
                ),
            );
            None
        }
    };
    if let Some(actions) = &then {
        if actions.is_empty() {
            ck.warning(
                &key(path, "then"),
                "this rule has no actions: a match changes nothing and reports nothing",
                Some("add `- { action: report, message: \"...\" }` to record the finding".into()),
            );
        }
    }
    Some(Rule {
        id: RuleId(id?),
        description,
        priority: priority?,
        when: when?,
        catch_all,
        then: then?,
        at: ck.locator.key(path),
    })
}

/// Rebuilds a condition from its JSON form (see `Condition::to_json`), e.g. an `await` step's `until`
/// carried in a plan. Errors are the loader's messages, without locations.
pub fn condition_from_json(v: &serde_json::Value) -> Result<Condition, String> {
    let yaml: Yaml = serde_yaml::to_value(v).map_err(|e| e.to_string())?;
    let locator = Locator::default();
    let mut ck = Checker::new("plan", "", &locator);
    match check_condition(&mut ck, &yaml, &[]) {
        Some(c) if !ck.has_errors() => Ok(c),
        _ => Err(ck
            .diagnostics
            .iter()
            .map(|d| d.message.clone())
            .collect::<Vec<_>>()
            .join("; ")),
    }
}

/// Compiles a condition node: a combinator (`all`/`any`/`not`) or a leaf (`path` + one operator).
pub(crate) fn check_condition(ck: &mut Checker, v: &Yaml, path: &[Seg]) -> Option<Condition> {
    let m = match v {
        Yaml::Mapping(m) => m,
        Yaml::Sequence(_) => {
            ck.error(
                path,
                "a condition must be a mapping, found a list",
                Some("to combine conditions, put the list under `all:` (every one holds) or `any:` (one holds)".into()),
            );
            return None;
        }
        other => return ck.mapping(other, path, "a condition").and(None),
    };
    let combinators: Vec<&str> = COMBINATORS
        .iter()
        .copied()
        .filter(|c| m.get(*c).is_some())
        .collect();
    if let Some(first) = combinators.first() {
        if m.len() > 1 {
            let extra: Vec<String> = m
                .iter()
                .filter_map(|(k, _)| k.as_str())
                .filter(|k| k != first)
                .map(|k| format!("`{k}`"))
                .collect();
            ck.error(
                path,
                format!(
                    "`{first}` must be alone in its condition, but it is next to {}",
                    extra.join(", ")
                ),
                Some(format!(
                    "wrap the conditions in `all:` or move them into the `{first}` list"
                )),
            );
            return None;
        }
        let p = key(path, first);
        let child = m.get(*first)?;
        return match *first {
            "not" => {
                if let Yaml::Sequence(_) = child {
                    ck.error(
                        &p,
                        "`not` takes one condition, found a list",
                        Some("to negate several, wrap them: `not: { any: [...] }` (none of them holds) or `not: { all: [...] }`".into()),
                    );
                    return None;
                }
                check_condition(ck, child, &p).map(|c| Condition::Not(Box::new(c)))
            }
            comb => {
                let Yaml::Sequence(items) = child else {
                    ck.error(
                        &p,
                        format!("`{comb}` takes a list of conditions, found {}", describe(child)),
                        Some(format!("write `{comb}: [{{ path: ..., equals: ... }}, ...]`; one condition needs no `{comb}`")),
                    );
                    return None;
                };
                if items.is_empty() {
                    // A vacuous `all` matches every subject, an empty `any` none: both are slips.
                    let what = if comb == "all" {
                        "`all: []` holds for every subject"
                    } else {
                        "`any: []` never holds"
                    };
                    ck.warning(
                        &p,
                        what,
                        Some(format!("list the conditions inside `{comb}`")),
                    );
                }
                let mut out = Vec::new();
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    match check_condition(ck, item, &index(&p, i)) {
                        Some(c) => out.push(c),
                        None => ok = false,
                    }
                }
                if !ok {
                    None
                } else if comb == "all" {
                    Some(Condition::All(out))
                } else {
                    Some(Condition::Any(out))
                }
            }
        };
    }
    check_leaf(ck, m, path).map(Condition::Leaf)
}

fn check_leaf(ck: &mut Checker, m: &Mapping, path: &[Seg]) -> Option<Leaf> {
    let mut allowed: Vec<&str> = vec!["path", "quantifier"];
    allowed.extend(OPERATORS);
    allowed.extend(COMBINATORS);
    let mut unknown = false;
    for (k, _) in m {
        if let Some(name) = k.as_str() {
            if !allowed.contains(&name) {
                unknown = true;
                let help = did_you_mean(name, &allowed).filter(|h| h.starts_with("did you mean"));
                ck.error_key(
                    &key(path, name),
                    format!("unknown operator `{name}`"),
                    help.or_else(|| Some(format!("operators are {}", OPERATORS.join(", ")))),
                );
            }
        }
    }
    let jsonpath = match m.get("path") {
        Some(v) => {
            let p = key(path, "path");
            ck.string(v, &p, "`path`")
                .and_then(|s| compile_path(ck, &s, &p))
        }
        None => {
            ck.error(
                path,
                "a condition needs a `path` and an operator, or one of `all`, `any`, `not`",
                None,
            );
            None
        }
    };
    let ops: Vec<&str> = OPERATORS
        .iter()
        .copied()
        .filter(|o| m.get(*o).is_some())
        .collect();
    let op = match ops.as_slice() {
        [] => {
            if !unknown {
                ck.error(
                    path,
                    "this condition has a `path` but no operator",
                    Some("add one of `equals`, `in`, `exists`, `matches`, ...".into()),
                );
            }
            None
        }
        [one] => {
            let p = key(path, one);
            m.get(*one).and_then(|v| check_operand(ck, one, v, &p))
        }
        [_, second, ..] => {
            ck.error_key(
                &key(path, second),
                format!(
                    "a condition takes one operator, found {}",
                    ops.iter()
                        .map(|o| format!("`{o}`"))
                        .collect::<Vec<_>>()
                        .join(" and ")
                ),
                Some("combine several checks with `all: [...]`".into()),
            );
            None
        }
    };
    let quantifier = match m.get("quantifier") {
        None => Some(Quantifier::Any),
        Some(v) => {
            let p = key(path, "quantifier");
            let q = ck
                .choice(v, &p, "quantifier", QUANTIFIERS)
                .map(|q| match q.as_str() {
                    "all" => Quantifier::All,
                    "none" => Quantifier::None,
                    _ => Quantifier::Any,
                });
            if matches!(op, Some(Op::Exists(_)) | Some(Op::Count(_))) {
                ck.warning(
                    &p,
                    "`quantifier` has no effect on `exists` and `count`, which look at all values together",
                    Some("remove `quantifier`".into()),
                );
            }
            q
        }
    };
    if unknown {
        return None;
    }
    Some(Leaf {
        path: jsonpath?,
        op: op?,
        quantifier: quantifier?,
    })
}

/// Compiles a JSONPath written at `node`; the caret points into the path string when it can.
pub(crate) fn compile_path(ck: &mut Checker, source: &str, node: &[Seg]) -> Option<JsonPath> {
    match JsonPath::compile(source) {
        Ok(p) => Some(p),
        Err(e) => {
            let mut at = ck.at(node);
            // The parser reports where it gave up, usually past an unclosed `[`: name the bracket.
            let unclosed = unclosed_bracket(source);
            let (column, message) = match unclosed {
                Some(col) => (Some(col), "`[` is not closed".to_string()),
                None => (e.column, e.message),
            };
            // Quoted scalars start with the quote; the path text starts one column later.
            if let Some(col) = column {
                let line = ck_line(ck, at);
                let quoted = line
                    .chars()
                    .nth(at.column.saturating_sub(1))
                    .is_some_and(|c| c == '\'' || c == '"');
                at.column += col - 1 + usize::from(quoted);
            }
            let help = if unclosed.is_some() {
                Some("close it with `]`, e.g. `$.events[*].outcome.reason`".into())
            } else if !source.starts_with('$') {
                Some(format!(
                    "paths start at the subject root, e.g. `$.{}`",
                    source.trim_start_matches('.')
                ))
            } else {
                Some(
                    "see RFC 9535 JSONPath, e.g. `$.user.status` or `$.events[*].outcome.reason`"
                        .into(),
                )
            };
            ck.error_at(at, format!("invalid JSONPath `{source}`: {message}"), help);
            None
        }
    }
}

/// The 1-based column of a `[` in a JSONPath that is never closed (quoted names skipped).
fn unclosed_bracket(source: &str) -> Option<usize> {
    let mut open: Vec<usize> = Vec::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in source.chars().enumerate() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => quote = Some(c),
                '[' => open.push(i + 1),
                ']' => {
                    open.pop();
                }
                _ => {}
            },
        }
    }
    open.last().copied()
}

fn ck_line<'s>(ck: &Checker<'s>, at: Position) -> &'s str {
    ck.source
        .lines()
        .nth(at.line.saturating_sub(1))
        .unwrap_or("")
}

fn check_operand(ck: &mut Checker, op: &str, v: &Yaml, path: &[Seg]) -> Option<Op> {
    let what = format!("the operand of `{op}`");
    match op {
        "equals" => Some(Op::Equals(to_json(v))),
        "not_equals" => Some(Op::NotEquals(to_json(v))),
        "contains" => Some(Op::Contains(to_json(v))),
        "in" | "not_in" => {
            let Yaml::Sequence(items) = v else {
                // A lone value is the usual slip; show it as the one-item list it meant.
                let help = match v {
                    Yaml::String(_) | Yaml::Number(_) | Yaml::Bool(_) => {
                        let shown = serde_yaml::to_string(v).unwrap_or_default();
                        Some(format!("write a list: `{op}: [{}]`", shown.trim()))
                    }
                    _ => Some(format!("write a list, e.g. `{op}: [ACTIVE, RECOVERY]`")),
                };
                ck.error(
                    path,
                    format!("{what} must be a list, found {}", describe(v)),
                    help,
                );
                return None;
            };
            let values: Vec<serde_json::Value> = items.iter().map(to_json).collect();
            Some(if op == "in" {
                Op::In(values)
            } else {
                Op::NotIn(values)
            })
        }
        "exists" => ck.boolean(v, path, &what).map(Op::Exists),
        "starts_with" => ck.string(v, path, &what).map(Op::StartsWith),
        "matches" => {
            let s = ck.string(v, path, &what)?;
            match Regex::new(&s) {
                Ok(r) => Some(Op::Matches(r)),
                Err(e) => {
                    let detail = match &e {
                        regex::Error::Syntax(text) => text
                            .lines()
                            .rev()
                            .find(|l| l.starts_with("error:"))
                            .map(|l| l.trim_start_matches("error:").trim().to_string())
                            .unwrap_or_else(|| text.clone()),
                        other => other.to_string(),
                    };
                    let help = if detail.contains("look-around") {
                        "the regex engine has no look-around; negate a pattern with `not: { path: ..., matches: ... }`"
                    } else if detail.contains("group")
                        || detail.contains("class")
                        || detail.contains("repetition")
                    {
                        "escape `(`, `)`, `[`, `.`, `*`, `+`, `?` with a backslash to match them literally"
                    } else {
                        "see the Rust regex syntax: https://docs.rs/regex/latest/regex/#syntax"
                    };
                    ck.error(
                        path,
                        format!("invalid regex `{s}`: {detail}"),
                        Some(help.into()),
                    );
                    None
                }
            }
        }
        "gt" | "gte" | "lt" | "lte" => {
            let bound = match v {
                Yaml::Number(n) => n.as_f64().map(Bound::Number),
                Yaml::String(s) => DateTime::parse_from_rfc3339(s)
                    .ok()
                    .map(|t| Bound::Time(t.with_timezone(&Utc))),
                _ => None,
            };
            if bound.is_none() {
                ck.error(
                    path,
                    format!(
                        "{what} must be a number or an RFC 3339 timestamp, found {}",
                        describe(v)
                    ),
                    Some("e.g. `gte: 3` or `lt: 2026-01-01T00:00:00Z`".into()),
                );
            }
            bound.map(|b| match op {
                "gt" => Op::Gt(b),
                "gte" => Op::Gte(b),
                "lt" => Op::Lt(b),
                _ => Op::Lte(b),
            })
        }
        "older_than" | "newer_than" => {
            let (d, _) = ck.duration(v, path, &what)?;
            Some(if op == "older_than" {
                Op::OlderThan(d)
            } else {
                Op::NewerThan(d)
            })
        }
        "count" => {
            let Yaml::Mapping(m) = v else {
                ck.error(
                    path,
                    format!("`count` takes a comparison, found {}", describe(v)),
                    Some(match v {
                        Yaml::Number(n) => {
                            format!("write `count: {{ equals: {n} }}` or `count: {{ gte: {n} }}`")
                        }
                        _ => "e.g. `count: { gte: 2 }`".into(),
                    }),
                );
                return None;
            };
            ck.known_keys(m, path, COUNT_FIELDS, "`count`");
            let mut cmps = Vec::new();
            for (k, val) in m {
                let Some(name) = k.as_str() else { continue };
                if !COUNT_FIELDS.contains(&name) {
                    continue;
                }
                let n = ck.unsigned(val, &key(path, name), &format!("`count.{name}`"))?;
                cmps.push(match name {
                    "equals" => CountCmp::Equals(n),
                    "gt" => CountCmp::Gt(n),
                    "gte" => CountCmp::Gte(n),
                    "lt" => CountCmp::Lt(n),
                    _ => CountCmp::Lte(n),
                });
            }
            if cmps.is_empty() {
                ck.error(
                    path,
                    "`count` needs a comparison",
                    Some("e.g. `count: { gte: 2 }`".into()),
                );
                return None;
            }
            Some(Op::Count(cmps))
        }
        _ => None,
    }
}

fn check_actions(
    ck: &mut Checker,
    v: &Yaml,
    path: &[Seg],
    subjects: Option<&Subjects>,
    orgs: &[String],
) -> Option<Vec<Action>> {
    let Yaml::Sequence(items) = v else {
        ck.error(
            path,
            format!("`then` must be a list of actions, found {}", describe(v)),
            Some(
                "write one `- { action: ... }` line per action, or `then: [{ action: ... }]`"
                    .into(),
            ),
        );
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match check_action(ck, item, &index(path, i), subjects, orgs) {
            Some(a) => out.push(a),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn check_action(
    ck: &mut Checker,
    v: &Yaml,
    path: &[Seg],
    subjects: Option<&Subjects>,
    orgs: &[String],
) -> Option<Action> {
    let m = match v {
        Yaml::Mapping(m) => m,
        Yaml::String(name) => {
            let names: Vec<&str> = ACTIONS.iter().map(|a| a.name).collect();
            let help = if names.contains(&name.as_str()) {
                format!("write `- {{ action: {name} }}` with its parameters")
            } else {
                format!(
                    "write `- {{ action: NAME }}`, NAME one of {}",
                    names.join(", ")
                )
            };
            ck.error(
                path,
                "an action must be a mapping, found a string",
                Some(help),
            );
            return None;
        }
        other => return ck.mapping(other, path, "an action").and(None),
    };
    let names: Vec<&str> = ACTIONS.iter().map(|a| a.name).collect();
    let name = match m.get("action") {
        Some(v) => {
            let p = key(path, "action");
            let s = ck.string(v, &p, "`action`")?;
            if !names.contains(&s.as_str()) {
                ck.error(
                    &p,
                    format!("unknown action `{s}`"),
                    did_you_mean(&s, &names),
                );
                return None;
            }
            s
        }
        None => {
            ck.error(
                path,
                "missing field `action` in an action",
                Some(format!("one of {}", names.join(", "))),
            );
            return None;
        }
    };
    let spec = ACTIONS.iter().find(|a| a.name == name)?;
    let mut allowed = vec!["action", "org"];
    allowed.extend(spec.params.iter().map(|(p, _, _)| *p));
    ck.known_keys(m, path, &allowed, &format!("action `{name}`"));
    for (param, required, _) in spec.params {
        if *required && m.get(*param).is_none() {
            let help = match (name.as_str(), *param) {
                ("await", "until") => {
                    Some("e.g. `until: { path: $.user.status, equals: ACTIVE }`".to_string())
                }
                (_, "message") => Some(
                    "e.g. `message: \"password policy mismatch for {{ $.user.profile.login }}\"`"
                        .to_string(),
                ),
                _ => None,
            };
            ck.error(path, format!("action `{name}` needs `{param}`"), help);
        }
    }
    let default_org = match (name.as_str(), subjects) {
        ("retry_provisioning", Some(s)) => s.spoke.clone(),
        (_, Some(s)) => s.user_org().to_string(),
        (_, None) => "hub".to_string(),
    };
    let org = match m.get("org") {
        Some(v) => {
            let p = key(path, "org");
            let o = ck.string(v, &p, "`org`")?;
            if !orgs.is_empty() && !orgs.contains(&o) {
                let known: Vec<&str> = orgs.iter().map(String::as_str).collect();
                ck.error(
                    &p,
                    format!(
                        "unknown org `{o}`: `subjects` names {}",
                        known
                            .iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(" and ")
                    ),
                    did_you_mean(&o, &known),
                );
                return None;
            }
            if name == "retry_provisioning"
                && subjects
                    .is_some_and(|s| s.kind == SubjectKind::Org2orgAssignment && o != s.spoke)
            {
                ck.error(
                    &p,
                    "`retry_provisioning` runs on the spoke org, which owns the Org2Org app",
                    Some(format!(
                        "write `org: {}` or leave `org` out",
                        subjects.map_or("spoke", |s| s.spoke.as_str())
                    )),
                );
                return None;
            }
            o
        }
        None => default_org,
    };
    if name == "retry_provisioning" && subjects.is_some_and(|s| s.kind == SubjectKind::User) {
        ck.error(
            &key(path, "action"),
            "`retry_provisioning` needs `subjects.kind: org2org_assignment` (it retries an app assignment)",
            Some("a `user` rulebook acts on users: `reset_password`, `unlock`, `activate`, `await`, `report`, `notify`".into()),
        );
        return None;
    }
    let send_email = |ck: &mut Checker, default: bool| -> Option<bool> {
        match m.get("send_email") {
            Some(v) => ck.boolean(v, &key(path, "send_email"), "`send_email`"),
            None => Some(default),
        }
    };
    let timeout = |ck: &mut Checker, default: &str| -> Option<(Duration, String)> {
        match m.get("timeout") {
            Some(v) => ck.duration(v, &key(path, "timeout"), "`timeout`"),
            None => humantime::parse_duration(default)
                .ok()
                .map(|d| (d, default.to_string())),
        }
    };
    let message = |ck: &mut Checker| -> Option<Template> {
        let v = m.get("message")?;
        let p = key(path, "message");
        let s = ck.string(v, &p, "`message`")?;
        check_template(ck, &s, &p)
    };
    let kind = match name.as_str() {
        "reset_password" => ActionKind::ResetPassword {
            send_email: send_email(ck, true)?,
        },
        "await" => {
            let until = m
                .get("until")
                .and_then(|u| check_condition(ck, u, &key(path, "until")));
            let (timeout, timeout_text) = timeout(ck, "7d")?;
            ActionKind::Await {
                until: until?,
                timeout,
                timeout_text,
            }
        }
        "retry_provisioning" => {
            let method = match m.get("method") {
                Some(v) => ck.choice(v, &key(path, "method"), "retry method", RETRY_METHODS)?,
                None => "touch".to_string(),
            };
            let (timeout, timeout_text) = timeout(ck, "5m")?;
            ActionKind::RetryProvisioning {
                method: match method.as_str() {
                    "reassign" => RetryMethod::Reassign,
                    "manual" => RetryMethod::Manual,
                    _ => RetryMethod::Touch,
                },
                timeout,
                timeout_text,
            }
        }
        "delete_recreate" => {
            if subjects.is_some_and(|s| s.kind == SubjectKind::User) {
                ck.error(
                    &key(path, "action"),
                    "`delete_recreate` needs `subjects.kind: org2org_assignment` (Org2Org recreates the user)",
                    None,
                );
                return None;
            }
            ActionKind::DeleteRecreate
        }
        "unlock" => ActionKind::Unlock,
        "activate" => ActionKind::Activate {
            send_email: send_email(ck, false)?,
        },
        "notify" => {
            let channel = m
                .get("channel")
                .and_then(|v| ck.string(v, &key(path, "channel"), "`channel`"));
            ActionKind::Notify {
                message: message(ck)?,
                channel,
            }
        }
        "report" => ActionKind::Report {
            message: message(ck)?,
        },
        _ => return None,
    };
    Some(Action { kind, org })
}

/// Moves `at` (where a scalar starts) onto `text` (a part of the scalar) when that part is written
/// verbatim on the same line; otherwise (escapes, folded lines) the scalar's start is the best we have.
fn point_into(ck: &Checker, at: Position, text: &str) -> Position {
    let needle = text.lines().next().unwrap_or("");
    let line = ck_line(ck, at);
    let Some((from, _)) = line.char_indices().nth(at.column.saturating_sub(1)) else {
        return at;
    };
    match line[from..].find(needle) {
        Some(i) if !needle.is_empty() => Position {
            line: at.line,
            column: at.column + line[from..from + i].chars().count(),
        },
        _ => at,
    }
}

/// Splits `{{ $.path }}` placeholders out of a message and compiles them.
fn check_template(ck: &mut Checker, s: &str, path: &[Seg]) -> Option<Template> {
    let mut parts = Vec::new();
    let mut rest = s;
    let mut ok = true;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            parts.push(TemplatePart::Text(rest[..start].to_string()));
        }
        let opened = s.len() - rest.len() + start;
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            let at = point_into(ck, ck.at(path), &s[opened..]);
            ck.error_at(
                at,
                "unclosed `{{` in `message`",
                Some("close the placeholder with `}}`".into()),
            );
            return None;
        };
        let inner = &after[..end];
        let expr = inner.trim();
        match JsonPath::compile(expr) {
            Ok(p) => parts.push(TemplatePart::Path(p)),
            Err(e) => {
                let from = opened + 2 + (inner.len() - inner.trim_start().len());
                let at = point_into(ck, ck.at(path), &s[from..]);
                ck.error_at(
                    at,
                    format!("invalid JSONPath `{expr}` in `message`: {}", e.message),
                    Some("placeholders look like `{{ $.user.profile.login }}`".into()),
                );
                ok = false;
            }
        }
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        parts.push(TemplatePart::Text(rest.to_string()));
    }
    ok.then(|| Template {
        source: s.to_string(),
        parts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_unclosed_bracket_of_a_path() {
        assert_eq!(unclosed_bracket("$.events[*.outcome.reason"), Some(9));
        assert_eq!(unclosed_bracket("$.events[*].outcome.reason"), None);
        assert_eq!(unclosed_bracket("$.e[?@.r == ']'].x"), None);
        assert_eq!(unclosed_bracket("$.e[?@.r == \"[\"].x[0"), Some(19));
    }

    #[test]
    fn suggests_quoting_a_path_in_a_flow_mapping() {
        let src = "when: { path: $.e[*].r, equals: 1 }\n";
        let ctx = Some(("parsing a flow mapping", Position { line: 1, column: 7 }));
        let at = Position {
            line: 1,
            column: 18,
        };
        assert_eq!(
            unquoted_flow_scalar(src, at, ctx).as_deref(),
            Some("$.e[*].r")
        );
        let at_colon = Position {
            line: 1,
            column: 13,
        };
        assert_eq!(unquoted_flow_scalar(src, at_colon, ctx), None);
    }
}
