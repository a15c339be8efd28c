//! The pipeline the CLI and the demo share: subjects → decisions → plan, from a subjects file or
//! collected live, and the checks that come before an apply (the plan is intact, its rulebook
//! unchanged, the orgs it names configured). It sits at the library's edge: it reads and writes files,
//! reads the environment for org configuration and talks to Okta, but it decides nothing itself
//! (rules are `engine`'s, steps `plan`'s, execution `apply`'s) and prints nothing (that is `cli`'s).

pub mod catalogue;
pub mod live;
pub mod offline;
pub mod orgs;
pub mod preflight;
pub mod snapshot;

use std::io::Write;
use std::path::Path;

pub use live::{collect_live, plan_collection, plan_live, LiveError, LiveOptions};
pub use offline::{plan_file_to, plan_from_file, plan_from_reader, PlanFileError};
pub use orgs::{Clients, OrgDirectory, OrgError, Roles};
pub use preflight::{prepare_apply, PreflightError, Prepared};
pub use snapshot::write_snapshot;

/// Writes `bytes` to `path`, replacing it; a new file is readable by its owner only (0600 on Unix),
/// since plans and snapshots hold people's data.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = create_private(path)?;
    file.write_all(bytes)?;
    file.flush()
}

/// Creates (or truncates) the file at `path` for writing, readable by its owner only (0600 on Unix).
pub fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}
