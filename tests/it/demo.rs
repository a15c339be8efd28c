//! `remedy demo` runs to the end on its own, repairs what the rulebook can repair, and says where its
//! journal and audit log are.

use std::process::Command;

#[test]
fn demo_repairs_the_fixable_failures() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_remedy"))
        .args(["demo", "--dir"])
        .arg(dir.path())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Piped output is plain text.
    assert!(!stdout.contains('\x1b'), "colour codes in piped output");
    let row = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("failing Org2Org assignments"))
        .expect("a before/after row");
    let nums: Vec<usize> = row
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(nums.len(), 2, "{row}");
    let (before, after) = (nums[0], nums[1]);
    // The demo scenario has 47 failures; all are repaired but the 12 reported (policy mismatch,
    // deprovisioned, suspended hub users) and the 2 protected admins.
    assert_eq!((before, after), (47, 14), "{stdout}");
    assert!(stdout.contains("0 failed"), "{stdout}");
    assert!(dir.path().join("plan.journal.sqlite").exists());
    let audit = std::fs::read_to_string(dir.path().join("plan.audit.jsonl")).unwrap();
    assert!(
        audit.lines().count() >= 50,
        "audit log has {} lines",
        audit.lines().count()
    );
    assert!(stdout.contains(&format!(
        "Audit log: {}",
        dir.path().join("plan.audit.jsonl").display()
    )));
}
