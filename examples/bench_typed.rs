//! The evaluation benchmark's baseline (`bench/run`): the benchmark's rule (`bench/rules/eval.yaml`)
//! written by hand over structs that borrow from the input line and hold only the fields the rule
//! reads (serde derive): the practical limit a general engine is measured against. `remedy plan`'s
//! goal is to stay within 1.5x of it. Prints how many subjects matched and the rate.
//!
//! `cargo run --release --example bench_typed -- /tmp/subjects.jsonl`

use std::borrow::Cow;
use std::io::{BufRead, BufReader};
use std::time::Instant;

use serde::Deserialize;

// The same allocator as `remedy`, so the comparison is of the evaluation, not of allocators.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Deserialize)]
struct Provider<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
}
#[derive(Deserialize)]
struct Credentials<'a> {
    #[serde(borrow)]
    provider: Provider<'a>,
}
#[derive(Deserialize)]
struct User<'a> {
    #[serde(borrow)]
    status: Cow<'a, str>,
    #[serde(borrow)]
    credentials: Credentials<'a>,
}
#[derive(Deserialize)]
struct Assignment<'a> {
    #[serde(rename = "syncState", borrow)]
    sync_state: Option<Cow<'a, str>>,
}
#[derive(Deserialize)]
struct Outcome<'a> {
    #[serde(borrow)]
    result: Cow<'a, str>,
    #[serde(borrow)]
    reason: Option<Cow<'a, str>>,
}
#[derive(Deserialize)]
struct Event<'a> {
    #[serde(borrow)]
    outcome: Outcome<'a>,
}
#[derive(Deserialize)]
struct Subject<'a> {
    #[serde(borrow)]
    user: Option<User<'a>>,
    #[serde(borrow)]
    assignment: Assignment<'a>,
    #[serde(borrow, default)]
    events: Vec<Event<'a>>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: bench_typed FILE.jsonl")?;
    let mut reader = BufReader::new(std::fs::File::open(path)?);
    let re = regex::Regex::new(r"Api validation failed: password \(password: Password\)$")?;
    let start = Instant::now();
    let (mut n, mut matched) = (0u64, 0u64);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        let s: Subject = serde_json::from_str(&line)?;
        n += 1;
        let Some(u) = &s.user else { continue };
        if u.credentials.provider.kind == "FEDERATION"
            && ["ACTIVE", "PROVISIONED", "PASSWORD_EXPIRED"].contains(&&*u.status)
            && s.assignment.sync_state.as_deref() == Some("ERROR")
            && s.events.iter().any(|e| {
                e.outcome.result == "FAILURE"
                    && e.outcome.reason.as_deref().is_some_and(|r| re.is_match(r))
            })
        {
            matched += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{n} subjects, {matched} matched, {secs:.2} s, {:.0} subjects/s",
        n as f64 / secs
    );
    Ok(())
}
