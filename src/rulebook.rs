//! The rulebook: the YAML model, its validation into the types the engine uses, and located
//! diagnostics. A rulebook is parsed with serde_yaml into `serde_yaml::Value` (the raw serde layer), then
//! checked node by node into [`Rulebook`]: JSONPaths and regexes compiled once, durations typed, action
//! parameters checked per action kind, every problem reported with `file:line:column` in one run.
//! Evaluation is not here (see `engine` and `condition`).
//!
//! Parsing is pure (text in, rulebook or diagnostics out); [`load`] is the thin edge that reads
//! files. The submodules, one concept each:
//! - `model`: the validated types; `action_name`: the actions and their parameters; `keyword`: the
//!   closed sets of names (one enum each); `fields`: the fields allowed at each level;
//! - `limits`: sizes, depths and counts checked before the expensive work;
//! - `locate`: where each YAML node is; `yaml_error`: serde_yaml's errors made readable;
//! - `check`: the node-checking toolkit; `sections`, `conditions`, `actions`, `template`, `cases`:
//!   the checks for each part of a rulebook; `schema`: the published JSON Schema;
//! - `load`: reading the rulebook, its sidecar tests and their subject files from disk.

mod action_name;
mod actions;
pub mod cases;
mod check;
mod conditions;
mod fields;
pub mod keyword;
pub mod limits;
mod load;
pub mod locate;
mod model;
pub mod schema;
mod sections;
mod template;
mod yaml_error;

use serde_yaml::Value as Yaml;

use crate::diagnostic::{Diagnostic, Position};
use check::Checker;
use locate::{Locator, Seg};

pub use action_name::{ActionName, ActionSpec, Param, ACTIONS};
pub use cases::{Expectation, SubjectFiles, TestCase};
pub use fields::{GUARD_FIELDS, RULE_FIELDS, SUBJECT_FIELDS, TOP_FIELDS};
pub use keyword::Keyword;
pub use load::{load, sidecar_path};
pub use model::{
    Action, ActionKind, Guards, Mode, RetryMethod, Rule, RuleId, Rulebook, Safety, SubjectKind,
    Subjects,
};
pub use template::Template;
pub(crate) use yaml_error::{without_bom, yaml_errors};

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

/// Parses and validates rulebook text; `file` names it in diagnostics. Test cases may not use
/// `subject_file` here (nothing is read from disk): [`load`] reads them.
pub fn parse(text: &str, file: &str) -> Result<Rulebook, RulebookError> {
    parse_with(text, file, &cases::NoSubjectFiles)
}

/// Parses and validates rulebook text, reading test cases' `subject_file`s through `files`.
pub fn parse_with(
    text: &str,
    file: &str,
    files: &dyn SubjectFiles,
) -> Result<Rulebook, RulebookError> {
    // The sha256 is of the file as written (apply compares it with the file's bytes), but the YAML
    // is read without a leading byte-order mark: editors on Windows add one, serde_yaml rejects it.
    let full = text;
    let text = without_bom(text);
    let invalid = |diagnostics: Vec<Diagnostic>| RulebookError::Invalid {
        path: file.to_string(),
        source_text: text.to_string(),
        diagnostics,
    };
    let locator = match preflight(text, file) {
        Ok(locator) => locator,
        Err(d) => return Err(invalid(vec![d])),
    };
    let doc: Yaml = match serde_yaml::from_str(text) {
        Ok(v) => v,
        Err(e) => return Err(invalid(yaml_errors(file, text, &e, &locator))),
    };
    let mut ck = Checker::new(file, text, &locator);
    let rb = sections::check_rulebook(&mut ck, &doc, full, files);
    let mut diagnostics = std::mem::take(&mut ck.diagnostics);
    match rb {
        Some(mut rb) if !diagnostics.iter().any(|d| d.is_error()) => {
            diagnostics.sort_by_key(|d| (d.line, d.column));
            rb.warnings = diagnostics;
            Ok(rb)
        }
        _ => {
            diagnostics.sort_by_key(|d| (d.severity, d.line, d.column));
            Err(invalid(limits::capped(diagnostics, file)))
        }
    }
}

/// The limits checked before serde_yaml sees the text: size, flow nesting (one linear scan), block
/// nesting and rule count (from the locator, which stops at the depth limit).
pub(crate) fn preflight(text: &str, file: &str) -> Result<Locator, Diagnostic> {
    if text.len() as u64 > limits::MAX_FILE_BYTES {
        return Err(limits::too_large(file, text.len() as u64));
    }
    if let Some(at) = limits::flow_too_deep(text) {
        return Err(limits::too_deep(file, at));
    }
    let locator = Locator::new(text);
    if let Some(at) = locator.too_deep() {
        return Err(limits::too_deep(file, at));
    }
    let over = [Seg::Key("rules".into()), Seg::Index(limits::MAX_RULES)];
    if locator.has(&over) {
        return Err(Diagnostic::error(
            file,
            locator.value(&over),
            format!("a rulebook has at most {} rules", limits::MAX_RULES),
        )
        .with_help(Some("split the rules into several rulebooks".into())));
    }
    Ok(locator)
}
