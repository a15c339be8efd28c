//! Library usage: load a rulebook, evaluate one subject, print the decision and its explanation.
//!
//! `cargo run --example evaluate [RULEBOOK] [SUBJECTS.jsonl] [INDEX]`

use std::process::ExitCode;

use okta_remedy::{engine, review, rulebook, subject};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let rules = args
        .get(1)
        .map_or("rules/org2org-password-sync.yaml", String::as_str);
    let subjects = args
        .get(2)
        .map_or("examples/subjects/org2org-failures.jsonl", String::as_str);
    let index: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(0);

    let rb = match rulebook::load(std::path::Path::new(rules)) {
        Ok(rb) => rb,
        Err(e) => {
            eprint!("{}", e.render());
            return ExitCode::FAILURE;
        }
    };
    let file = match std::fs::File::open(subjects) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: cannot read `{subjects}`: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut found = None;
    let read = subject::for_each(file, subjects, &subject::FieldTree::everything(), |i, s| {
        if i == index {
            found = Some(s);
        }
        Ok::<(), subject::SubjectError>(())
    });
    if let Err(e) = read {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let Some(subject) = found else {
        eprintln!("error: `{subjects}` has no subject at index {index}");
        return ExitCode::FAILURE;
    };
    // A fixed time keeps the output reproducible.
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-29T00:00:00Z")
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(|_| chrono::Utc::now());
    let decision = engine::evaluate(&rb, &subject, now, index);
    println!("subject: {}", decision.subject);
    println!("verdict: {:?}", decision.verdict);
    for trace in &decision.rules {
        println!("rule {}:", trace.rule);
        let mut lines = Vec::new();
        review::explanation_lines(&trace.explanation, 1, &mut lines);
        for l in lines {
            println!("{l}");
        }
    }
    for (rule, action) in decision.actions(&rb) {
        println!(
            "action: {} on {} (rule {rule}, {:?})",
            action.name(),
            action.org,
            action.safety()
        );
    }
    ExitCode::SUCCESS
}
