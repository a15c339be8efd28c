//! Writing to the terminal: stdout documents (text or JSON) whose write errors are reported, never
//! dropped, what is a terminal, and the async runtime the network commands run on.

use std::future::Future;
use std::io::{IsTerminal, Write};
use std::path::Path;

use serde_json::Value;

use super::CliError;
use crate::rulebook::Rulebook;

/// Writes `bytes` to stdout.
pub fn bytes(bytes: &[u8]) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(CliError::Stdout)
}

/// Writes `text` to stdout.
pub fn text(text: &str) -> Result<(), CliError> {
    bytes(text.as_bytes())
}

/// Writes `v` to stdout as pretty JSON with a final newline.
pub fn json(v: &Value) -> Result<(), CliError> {
    let mut s = serde_json::to_string_pretty(v)?;
    s.push('\n');
    text(&s)
}

/// Writes `v`, serialised, to stdout as pretty JSON.
pub fn serialized(v: &impl serde::Serialize) -> Result<(), CliError> {
    json(&serde_json::to_value(v)?)
}

/// Writes a rulebook's warnings to stderr, with snippets from its text.
pub fn warnings(rb: &Rulebook, reference: &Path) {
    if rb.warnings.is_empty() {
        return;
    }
    // Without its text a warning is still shown, only without the snippet.
    let text = crate::pipeline::catalogue::read(reference)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    eprint!("{}", crate::diagnostic::render_all(&rb.warnings, &text));
}

pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

/// Whether stderr is a terminal (progress bars only then).
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

pub fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}

/// Runs async work (only the network commands need it) on a fresh runtime.
pub fn block_on<F: Future>(fut: F) -> Result<F::Output, CliError> {
    let rt = tokio::runtime::Runtime::new().map_err(CliError::Runtime)?;
    Ok(rt.block_on(fut))
}
