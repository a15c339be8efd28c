//! Baseline for the planning benchmark: the seed rule's federation check written by hand over typed
//! structs holding only the fields it reads (the "hand-written typed program" the engine is measured
//! against). The engine's goal is to stay within 1.5x of this. Prints how many subjects matched and
//! the rate.
//!
//! `cargo run --release --example bench_typed -- /tmp/remedy-bench-1000000.jsonl`

use std::io::{BufRead, BufReader};
use std::time::Instant;

use serde::Deserialize;

#[derive(Deserialize)]
struct Provider {
    #[serde(rename = "type")]
    kind: String,
}
#[derive(Deserialize)]
struct Credentials {
    provider: Provider,
}
#[derive(Deserialize)]
struct Profile {
    login: String,
}
#[derive(Deserialize)]
struct User {
    status: String,
    credentials: Credentials,
    profile: Profile,
}
#[derive(Deserialize)]
struct Outcome {
    reason: Option<String>,
}
#[derive(Deserialize)]
struct Event {
    outcome: Outcome,
}
#[derive(Deserialize)]
struct Subject {
    user: Option<User>,
    events: Vec<Event>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: bench_typed FILE.jsonl")?;
    let reader = BufReader::new(std::fs::File::open(path)?);
    let re = regex::Regex::new(r"Api validation failed: password \(password: Password\)$")?;
    let admin = regex::Regex::new(r"^admin[.@]")?;
    let start = Instant::now();
    let (mut n, mut matched) = (0u64, 0u64);
    for line in reader.lines() {
        let line = line?;
        let s: Subject = serde_json::from_str(&line)?;
        n += 1;
        if let Some(u) = &s.user {
            let active = ["ACTIVE", "PROVISIONED", "PASSWORD_EXPIRED", "RECOVERY"]
                .contains(&u.status.as_str());
            let failed = s
                .events
                .iter()
                .any(|e| e.outcome.reason.as_deref().is_some_and(|r| re.is_match(r)));
            if !admin.is_match(&u.profile.login)
                && u.credentials.provider.kind == "FEDERATION"
                && active
                && failed
            {
                matched += 1;
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{n} subjects, {matched} matched, {secs:.2} s, {:.0} subjects/s",
        n as f64 / secs
    );
    Ok(())
}
