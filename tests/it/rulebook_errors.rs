//! Broken rulebooks, one mistake per file in `tests/rulebook_errors/` (named after the mistake), run
//! through the real `remedy validate`: exit code and rendered diagnostics are snapshotted together, and
//! every file must yield a located error. Warning-only files in `warnings/` must still load; cut and
//! randomly corrupted rulebooks must never panic the loader. What the diagnostics say is reviewed in
//! the snapshots; this module does not test valid rulebooks (see `cases` and `shipped`).

use std::path::Path;

use crate::cli::{crate_root, relative, remedy};

/// The first line of a diagnostic: `FILE:LINE:COLUMN: SEVERITY: `.
fn assert_located(first_line: &str, file: &str, severity: &str) {
    let pattern = format!(r"^{}:\d+:\d+: {severity}: ", regex::escape(file));
    let re = regex::Regex::new(&pattern).unwrap();
    assert!(
        re.is_match(first_line),
        "first line of stderr should match `{pattern}`, got `{first_line}`"
    );
}

fn assert_no_panic(text: &str) {
    assert!(
        !text.contains("panicked") && !text.contains("RUST_BACKTRACE"),
        "remedy panicked:\n{text}"
    );
}

#[test]
fn every_broken_rulebook_is_a_located_error() {
    insta::glob!("../rulebook_errors", "*.yaml", |path| {
        let file = relative(path);
        let run = remedy(&["validate", &file]);
        assert_no_panic(&run.stderr);
        assert_eq!(
            run.code, 1,
            "{file} should fail validation:\n{}",
            run.stderr
        );
        assert_eq!(
            run.stdout, "",
            "a failed validation prints nothing on stdout"
        );
        assert_located(run.stderr.lines().next().unwrap_or(""), &file, "error");
        let errors = run
            .stderr
            .lines()
            .filter(|l| l.contains(": error: "))
            .count();
        if file.ends_with("several-problems-at-once.yaml") {
            assert!(errors >= 3, "all problems in one run, got {errors}");
        } else {
            assert_eq!(errors, 1, "one mistake per file, got:\n{}", run.stderr);
        }
        insta::assert_snapshot!(run.transcript());
    });
}

#[test]
fn warnings_alone_do_not_stop_a_rulebook() {
    insta::glob!("../rulebook_errors/warnings", "*.yaml", |path| {
        let file = relative(path);
        let run = remedy(&["validate", &file]);
        assert_no_panic(&run.stderr);
        assert_eq!(run.code, 0, "{file} should load:\n{}", run.stderr);
        assert_located(run.stderr.lines().next().unwrap_or(""), &file, "warning");
        assert!(!run.stderr.contains(": error: "));
        assert!(run.stdout.starts_with(&format!("{file}: ok (")));
        insta::assert_snapshot!(run.transcript());
    });
}

/// The issue asks for at least 25 broken rulebooks; keep the folder from shrinking unnoticed.
#[test]
fn the_error_corpus_is_complete() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rulebook_errors");
    let count = |d: &Path| {
        std::fs::read_dir(d)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "yaml")
            })
            .count()
    };
    assert!(count(&dir) >= 28, "{} broken rulebooks", count(&dir));
    assert!(count(&dir.join("warnings")) >= 3);
}

/// The JSON report carries the same located diagnostics as the text, for editors and CI.
#[test]
fn json_output_locates_every_diagnostic() {
    let run = remedy(&[
        "--output",
        "json",
        "validate",
        "tests/rulebook_errors/several-problems-at-once.yaml",
        "tests/rulebook_errors/warnings/empty-then.yaml",
    ]);
    assert_eq!(run.code, 1);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    insta::assert_json_snapshot!(v);
}

/// No input makes the loader panic: every line-prefix of every corpus file and of the shipped
/// rulebook is parsed in-process (a cut file is the commonest broken input an editor produces).
#[test]
fn truncated_rulebooks_never_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("rules/org2org-password-sync.yaml")];
    for d in ["tests/rulebook_errors", "tests/rulebook_errors/warnings"] {
        for e in std::fs::read_dir(root.join(d)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "yaml") {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut parsed = 0;
    for f in &files {
        let text = String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned();
        let mut cut = 0;
        for line in text.split_inclusive('\n') {
            // Cut mid-line too, where a flow mapping or a quoted string is left open.
            let mid = line
                .char_indices()
                .nth(line.chars().count() / 2)
                .map_or(0, |(i, _)| i);
            for end in [cut + mid, cut + line.len()] {
                let _ = okta_remedy::rulebook::parse(&text[..end], "cut.yaml");
                parsed += 1;
            }
            cut += line.len();
        }
    }
    assert!(parsed > 500, "only {parsed} prefixes parsed");
}

/// Nor does any small corruption: seeded random edits (a character replaced, dropped or doubled;
/// a line's indentation shifted) of the shipped rulebook, parsed in-process.
#[test]
fn mutated_rulebooks_never_panic() {
    use rand::{Rng, SeedableRng};
    let text =
        std::fs::read_to_string(crate_root().join("rules/org2org-password-sync.yaml")).unwrap();
    let chars: Vec<char> = text.chars().collect();
    let pool: Vec<char> = ":-{}[],'\"#&*!|>%@` \t\n$.?()\\0aZ".chars().collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
    let mut errors = 0;
    for _ in 0..600 {
        let mut c = chars.clone();
        for _ in 0..rng.gen_range(1..4) {
            let i = rng.gen_range(0..c.len());
            match rng.gen_range(0..4) {
                0 => c[i] = pool[rng.gen_range(0..pool.len())],
                1 => {
                    c.remove(i);
                }
                2 => c.insert(i, c[i]),
                _ => c.insert(i, ' '),
            }
        }
        let mutated: String = c.into_iter().collect();
        if okta_remedy::rulebook::parse(&mutated, "mutated.yaml").is_err() {
            errors += 1;
        }
    }
    // Most edits break something; if none did, the mutations are not reaching the loader.
    assert!(errors > 100, "only {errors} of 600 mutations were rejected");
}

/// Parses `text` in-process and returns the rendered diagnostics, checking it answered in time.
/// The bound is 2 s in a release build; a debug build (`cargo test`) gets five times that.
fn rejected_quickly(text: &str, what: &str) -> String {
    let bound = std::time::Duration::from_secs(if cfg!(debug_assertions) { 10 } else { 2 });
    let started = std::time::Instant::now();
    let result = okta_remedy::rulebook::parse(text, "hostile.yaml");
    let took = started.elapsed();
    assert!(took < bound, "{what} took {took:?}");
    let err = result.expect_err(what);
    let diagnostics = err.diagnostics();
    assert!(
        diagnostics.iter().any(|d| d.is_error() && d.line >= 1),
        "{what}: no located error"
    );
    diagnostics
        .iter()
        .map(|d| format!("{}:{}:{}: {}", d.file, d.line, d.column, d.message))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Hostile rulebooks answer quickly with a located error: nesting, huge mappings, many rules, many
/// duplicate ids are all checked in linear time, before or while parsing.
#[test]
fn hostile_rulebooks_are_refused_quickly() {
    let blocks = "- ".repeat(10_000) + "x\n";
    let shown = rejected_quickly(&blocks, "nested block sequences");
    assert!(shown.contains("nested more than 64 levels"), "{shown}");

    let flow = "a: ".to_string() + &"[".repeat(100_000);
    let shown = rejected_quickly(&flow, "nested flow brackets");
    assert!(shown.starts_with("hostile.yaml:1:68: "), "{shown}");

    let mut keys = String::new();
    for i in 0..100_000 {
        keys.push_str(&format!("k{i}: 1\n"));
    }
    keys.push_str("k7: 2\n");
    let shown = rejected_quickly(&keys, "a mapping of 100,000 keys");
    assert!(shown.contains("key `k7` is written twice"), "{shown}");

    let mut rules =
        String::from("version: 1\nname: many\nsubjects: { kind: user, org: hub }\nrules:\n");
    for _ in 0..9_000 {
        rules.push_str("  - { id: same, when: always, then: [] }\n");
    }
    let shown = rejected_quickly(&rules, "9,000 rules with one id");
    assert!(shown.contains("duplicate rule id `same`"), "{shown}");
    assert!(shown.contains("more problems are not shown"), "{shown}");

    let mut too_many =
        String::from("version: 1\nname: many\nsubjects: { kind: user, org: hub }\nrules:\n");
    for i in 0..10_001 {
        too_many.push_str(&format!("  - {{ id: r{i}, then: [] }}\n"));
    }
    let shown = rejected_quickly(&too_many, "10,001 rules");
    assert!(shown.contains("at most 10000 rules"), "{shown}");

    let big = "# padding\n".repeat(110_000);
    let shown = rejected_quickly(&big, "a file over 1 MiB");
    assert!(shown.contains("more than the limit of 1048576"), "{shown}");
}

/// A duplicate rule id is reported together with the other errors, even when a rule holding it has
/// an error of its own.
#[test]
fn duplicate_ids_are_reported_with_other_errors() {
    let text = "version: 1\nname: dup\nsubjects: { kind: user, org: hub }\nrules:\n  - id: a\n    when: { path: $.user.status, equals: SUSPENDED }\n    then: []\n  - id: a\n    when: { path: $.user.status, equalz: ACTIVE }\n    then: []\n";
    let err = okta_remedy::rulebook::parse(text, "dup.yaml").unwrap_err();
    let messages: Vec<String> = err.diagnostics().into_iter().map(|d| d.message).collect();
    assert!(
        messages.contains(&"duplicate rule id `a`".to_string()),
        "{messages:?}"
    );
    assert!(
        messages.contains(&"unknown operator `equalz`".to_string()),
        "{messages:?}"
    );
}
