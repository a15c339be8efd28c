//! The decision snapshot's file beside its rulebook (`rules/NAME.snap`, and `NAME.snap.new` for a
//! change awaiting review): the only part of `review` that touches the file system.

use std::path::{Path, PathBuf};

use super::snapshot::{compare_snapshot, snapshot_file, SnapshotStatus};

/// `rules/foo.yaml` → `rules/foo.snap`.
pub fn snapshot_path(rulebook: &Path) -> PathBuf {
    let stem = rulebook
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("rulebook");
    rulebook.with_file_name(format!("{stem}.snap"))
}

/// `rules/foo.yaml` → `rules/foo.subjects.snap`: the decision review of a subjects file.
pub fn subjects_snapshot_path(rulebook: &Path) -> PathBuf {
    let stem = rulebook
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("rulebook");
    rulebook.with_file_name(format!("{stem}.subjects.snap"))
}

/// Compares the decisions with the stored snapshot; writes a new one when missing or accepted, else
/// the changed one to `NAME.snap.new` for review.
pub fn check_snapshot(
    rulebook_path: &Path,
    body: &str,
    accept: bool,
) -> std::io::Result<SnapshotStatus> {
    check_snapshot_at(&snapshot_path(rulebook_path), rulebook_path, body, accept)
}

/// [`check_snapshot`] for the snapshot file at `path`, of the rulebook at `rulebook_path`.
pub fn check_snapshot_at(
    path: &Path,
    rulebook_path: &Path,
    body: &str,
    accept: bool,
) -> std::io::Result<SnapshotStatus> {
    let path = path.to_path_buf();
    let file = snapshot_file(&rulebook_path.display().to_string(), body);
    let new_path = path.with_extension("snap.new");
    let old = match std::fs::read_to_string(&path) {
        Ok(old) => Some(old),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let status = compare_snapshot(old.as_deref(), body, path.display().to_string(), accept);
    match &status {
        SnapshotStatus::Written { .. } => crate::pipeline::write_private(&path, file.as_bytes())?,
        SnapshotStatus::Unchanged { .. } => remove_stale(&new_path)?,
        SnapshotStatus::Changed { accepted: true, .. } => {
            crate::pipeline::write_private(&path, file.as_bytes())?;
            remove_stale(&new_path)?;
        }
        SnapshotStatus::Changed { .. } => {
            crate::pipeline::write_private(&new_path, file.as_bytes())?
        }
    }
    Ok(status)
}

/// Removes a `.snap.new` left by an earlier run; there being none is fine.
fn remove_stale(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
