//! The shipped rulebooks of `rules/`, embedded in the binary so they work from any directory, and the
//! one way every command loads a rulebook: a path to a file, or the name of a shipped rulebook
//! (`org2org-password-sync`) when no file has that name. Parsing and checking are `rulebook`'s.

use std::path::Path;

use crate::rulebook::{self, cases, Rulebook, RulebookError};

/// A shipped rulebook and its test cases, as in `rules/`.
#[derive(Debug, Clone, Copy)]
pub struct Shipped {
    /// The file name without `.yaml`.
    pub name: &'static str,
    pub rulebook: &'static str,
    /// The sidecar `NAME.tests.yaml`.
    pub tests: &'static str,
    /// The reviewed decisions of its cases, `NAME.snap` (`remedy test --snapshot`).
    pub decisions: &'static str,
}

macro_rules! shipped {
    ($($name:literal),* $(,)?) => {
        &[$(Shipped {
            name: $name,
            rulebook: include_str!(concat!("../../rules/", $name, ".yaml")),
            tests: include_str!(concat!("../../rules/", $name, ".tests.yaml")),
            decisions: include_str!(concat!("../../rules/", $name, ".snap")),
        }),*]
    };
}

/// Every shipped rulebook, by name.
pub const CATALOGUE: &[Shipped] = shipped![
    "hub-users-stuck",
    "locked-out-users",
    "org2org-deprovisioned-hub-user",
    "org2org-password-policy",
    "org2org-password-sync",
];

/// The rulebook the demo runs.
pub const DEMO_RULEBOOK: &str = "org2org-password-sync";

/// The shipped rulebook called `name`.
pub fn find(name: &str) -> Option<&'static Shipped> {
    CATALOGUE.iter().find(|s| s.name == name)
}

impl Shipped {
    /// The first comment paragraph of the rulebook: what it is for.
    pub fn summary(&self) -> String {
        self.rulebook
            .lines()
            .filter_map(|l| l.strip_prefix('#'))
            .map(str::trim)
            .skip_while(|l| l.is_empty() || l.starts_with("yaml-language-server:"))
            .take_while(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Parses and checks the rulebook with its cases; diagnostics name it by `name`.
    pub fn load(&self) -> Result<Rulebook, RulebookError> {
        let mut rb = rulebook::parse(self.rulebook, self.name)?;
        let cases = cases::parse_sidecar(
            self.tests,
            &format!("{}.tests.yaml", self.name),
            &rb,
            &cases::NoSubjectFiles,
        )?;
        rb.tests.extend(cases);
        Ok(rb)
    }
}

/// The shipped rulebook that `reference` names: a bare name (no directory, no extension) that is
/// not a file in the working directory.
pub fn shipped_named(reference: &Path) -> Option<&'static Shipped> {
    let name = reference.to_str()?;
    if reference.exists() || name.contains(['/', '\\', '.']) {
        return None;
    }
    find(name)
}

/// Loads the rulebook at `reference`: a file, or else a shipped rulebook by name.
pub fn load(reference: &Path) -> Result<Rulebook, RulebookError> {
    match shipped_named(reference) {
        Some(shipped) => shipped.load(),
        None => rulebook::load(reference),
    }
}

/// The bytes of the rulebook at `reference` (a file, or else a shipped rulebook by name), for
/// checking a plan's pinned sha256.
pub fn read(reference: &Path) -> std::io::Result<Vec<u8>> {
    match shipped_named(reference) {
        Some(shipped) => Ok(shipped.rulebook.as_bytes().to_vec()),
        None => std::fs::read(reference),
    }
}

/// The names of the shipped rulebooks, for messages.
pub fn names() -> String {
    CATALOGUE
        .iter()
        .map(|s| format!("`{}`", s.name))
        .collect::<Vec<_>>()
        .join(", ")
}
