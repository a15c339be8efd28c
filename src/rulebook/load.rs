//! Reading rulebooks from disk: the only part of the rulebook module that touches the file system.
//! It reads the rulebook (size-limited, UTF-8 checked), its sidecar `NAME.tests.yaml`, and the
//! `subject_file`s its test cases name (regular files under the rulebook's directory, size-limited),
//! then hands text to the pure parser.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use super::cases::{self, SubjectFiles};
use super::limits::{too_large, MAX_FILE_BYTES, MAX_SUBJECT_FILE_BYTES};
use super::model::Rulebook;
use super::{parse_with, RulebookError};
use crate::diagnostic::{Diagnostic, Position};

/// Loads and validates a rulebook file, with its sidecar `NAME.tests.yaml` when present.
pub fn load(path: &Path) -> Result<Rulebook, RulebookError> {
    let display = path.display().to_string();
    let text = read_text(path, &display)?;
    let files = DirFiles {
        dir: path.parent().unwrap_or(Path::new(".")).to_path_buf(),
    };
    let mut rb = parse_with(&text, &display, &files)?;
    let sidecar = sidecar_path(path);
    if sidecar.exists() {
        let side_display = sidecar.display().to_string();
        let side_text = read_text(&sidecar, &side_display)?;
        let cases = cases::parse_sidecar(&side_text, &side_display, &rb, &files)?;
        rb.tests.extend(cases);
    }
    Ok(rb)
}

/// `rules/foo.yaml` → `rules/foo.tests.yaml`.
pub fn sidecar_path(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("rulebook");
    path.with_file_name(format!("{stem}.tests.yaml"))
}

/// A rulebook or test file's text: at most [`MAX_FILE_BYTES`], and UTF-8.
fn read_text(path: &Path, display: &str) -> Result<String, RulebookError> {
    let read_error = |source| RulebookError::Read {
        path: display.to_string(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        let size = std::fs::metadata(path).map_or(bytes.len() as u64, |m| m.len());
        return Err(RulebookError::Invalid {
            path: display.to_string(),
            source_text: String::new(),
            diagnostics: vec![too_large(display, size)],
        });
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid_up_to = e.utf8_error().valid_up_to();
        not_utf8(display, e.as_bytes(), valid_up_to)
    })
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

/// Test cases' subject files, read from the rulebook's directory.
struct DirFiles {
    dir: PathBuf,
}

impl SubjectFiles for DirFiles {
    fn read(&self, name: &str) -> Result<(String, String), String> {
        let relative = Path::new(name);
        if relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(format!(
                "`subject_file` `{name}` must be a relative path inside the rulebook's directory, without `..`"
            ));
        }
        let full = self.dir.join(relative);
        let shown = full.display().to_string();
        let meta = std::fs::metadata(&full).map_err(|e| format!("cannot read `{shown}`: {e}"))?;
        if !meta.is_file() {
            return Err(format!("`{shown}` is not a regular file"));
        }
        let inside = match (full.canonicalize(), self.dir.canonicalize()) {
            (Ok(f), Ok(d)) => f.starts_with(d),
            _ => false,
        };
        if !inside {
            return Err(format!(
                "`{shown}` is outside the rulebook's directory (through a symbolic link)"
            ));
        }
        if meta.len() > MAX_SUBJECT_FILE_BYTES {
            return Err(format!(
                "`{shown}` is {} bytes, more than the limit of {MAX_SUBJECT_FILE_BYTES} for a `subject_file`",
                meta.len()
            ));
        }
        let mut text = String::new();
        std::fs::File::open(&full)
            .and_then(|f| f.take(MAX_SUBJECT_FILE_BYTES).read_to_string(&mut text))
            .map_err(|e| format!("cannot read `{shown}`: {e}"))?;
        Ok((shown, text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `subject_file` reads only regular files under the rulebook's directory, up to the limit.
    #[test]
    fn subject_files_stay_inside_the_rulebook_directory() {
        let root =
            std::env::temp_dir().join(format!("remedy-subject-files-{}", std::process::id()));
        let dir = root.join("rules");
        std::fs::create_dir_all(dir.join("subjects")).unwrap();
        std::fs::write(dir.join("subjects/ok.json"), "{}").unwrap();
        std::fs::write(root.join("secret.json"), "{}").unwrap();
        std::os::unix::fs::symlink(root.join("secret.json"), dir.join("link.json")).unwrap();
        let fifo = dir.join("fifo.json");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        std::fs::write(
            dir.join("big.json"),
            vec![b' '; MAX_SUBJECT_FILE_BYTES as usize + 1],
        )
        .unwrap();
        let files = DirFiles { dir: dir.clone() };
        assert_eq!(files.read("subjects/ok.json").unwrap().1, "{}");
        for (name, says) in [
            ("../secret.json", "relative path inside"),
            ("/etc/passwd", "relative path inside"),
            ("link.json", "outside the rulebook's directory"),
            ("big.json", "more than the limit"),
            ("subjects", "not a regular file"),
            ("missing.json", "cannot read"),
        ] {
            let err = files.read(name).unwrap_err();
            assert!(err.contains(says), "{name}: {err}");
        }
        if made.is_ok_and(|s| s.success()) {
            assert!(files
                .read("fifo.json")
                .unwrap_err()
                .contains("not a regular file"));
        }
        std::fs::remove_dir_all(&root).unwrap();
    }
}
