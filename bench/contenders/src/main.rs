//! The evaluation benchmark's Rego contender: reads a JSON Lines subjects file, evaluates
//! `bench/rules/bench.rego` (the bench rule in Rego) on each subject with regorus, and prints how many
//! matched and the rate, in the same format as `examples/bench_typed.rs`.
//!
//! `cargo run --release --manifest-path bench/contenders/Cargo.toml --bin regorus-eval -- bench/rules/bench.rego FILE.jsonl`

use std::io::{BufRead, BufReader};
use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(policy), Some(path)) = (args.next(), args.next()) else {
        return Err("usage: regorus-eval POLICY.rego FILE.jsonl".into());
    };
    let mut engine = regorus::Engine::new();
    engine.add_policy_from_file(&policy)?;
    let rule = "data.bench.matched".to_string();
    let reader = BufReader::new(std::fs::File::open(path)?);
    let start = Instant::now();
    let (mut n, mut matched) = (0u64, 0u64);
    for line in reader.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        engine.set_input(regorus::Value::from_json_str(&line)?);
        n += 1;
        if engine.eval_rule(rule.clone())? == regorus::Value::from(true) {
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
