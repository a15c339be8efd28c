//! `remedy demo` runs to the end on its own from any directory, repairs what the rulebook can repair,
//! and says where its journal and audit log are.

use std::process::Command;

#[test]
fn demo_repairs_the_fixable_failures() {
    let dir = tempfile::tempdir().unwrap();
    // Run outside the repository: the demo's rulebook is built into the binary.
    let out = Command::new(env!("CARGO_BIN_EXE_remedy"))
        .args(["demo", "--dir"])
        .arg(dir.path().join("out"))
        .current_dir(dir.path())
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
    // Every injected failure is found; all are repaired but those the rulebook only reports (policy
    // mismatch, deprovisioned or suspended hub user) and the protected admins.
    let spec = okta_remedy::sim::lookup_demo_scenario();
    let reported = spec.policy_lookalikes + spec.deprovisioned_hub + spec.suspended_hub;
    let failing = spec.federation_collisions
        + spec.protected_admins
        + spec.not_active_hub
        + spec.missing_hub
        + reported;
    assert_eq!(
        (before, after),
        (failing, reported + spec.protected_admins),
        "{stdout}"
    );
    assert!(stdout.contains("0 failed"), "{stdout}");
    let out_dir = dir.path().join("out");
    assert!(out_dir.join("plan.journal.sqlite").exists());
    let audit = std::fs::read_to_string(out_dir.join("plan.audit.jsonl")).unwrap();
    assert!(
        audit.lines().count() >= 50,
        "audit log has {} lines",
        audit.lines().count()
    );
    assert!(stdout.contains(&format!(
        "Audit log: {}",
        out_dir.join("plan.audit.jsonl").display()
    )));
}
