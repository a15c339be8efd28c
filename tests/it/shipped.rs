//! Every rulebook shipped in `rules/` is held to what we ask of users: it loads with no error or
//! warning, carries at least six test cases of its own, they all pass, and its decision review
//! (`remedy test --snapshot`, `rules/NAME.snap`) is unchanged. What the seed rulebook decides case by
//! case is reviewed in that `.snap`; the CLI's output format is covered by `cli`.

use std::path::PathBuf;

use crate::cli::{crate_root, relative, remedy, NOW};

/// `rules/*.yaml`, sidecar test files excluded, relative to the crate root.
fn shipped() -> Vec<String> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(crate_root().join("rules"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.ends_with(".yaml") && !name.ends_with(".tests.yaml")
        })
        .collect();
    out.sort();
    out.iter().map(|p| relative(p)).collect()
}

#[test]
fn shipped_rulebooks_load_cleanly_with_enough_cases() {
    let files = shipped();
    assert!(!files.is_empty(), "no rulebook in rules/");
    for f in &files {
        let rb = okta_remedy::rulebook::load(std::path::Path::new(f))
            .unwrap_or_else(|e| panic!("{f} does not load:\n{}", e.render()));
        let text = std::fs::read_to_string(crate_root().join(f)).unwrap();
        assert!(
            rb.warnings.is_empty(),
            "{f} has warnings:\n{}",
            okta_remedy::diagnostic::render_all(&rb.warnings, &text)
        );
        assert!(rb.tests.len() >= 6, "{f} has {} test cases", rb.tests.len());
    }
}

#[test]
fn shipped_rulebooks_pass_their_cases_and_decisions_are_unchanged() {
    for f in shipped() {
        let snap = crate_root().join(&f).with_extension("snap");
        assert!(
            snap.exists(),
            "{} is missing: run `remedy test --snapshot {f} --now {NOW}`, review it and commit it",
            relative(&snap)
        );
        let run = remedy(&["test", "--snapshot", &f, "--now", NOW]);
        assert_eq!(
            run.code, 0,
            "`remedy test --snapshot {f}` failed; if the change is intended, review the diff and \
             run it again with `--accept`:\n{}{}",
            run.stdout, run.stderr
        );
        assert!(run.stdout.contains("test result: ok."), "{}", run.stdout);
        assert!(run.stdout.contains("decisions unchanged"), "{}", run.stdout);
        assert!(!run.stdout.contains("FAILED"));
    }
}
