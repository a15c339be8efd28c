//! The CLI says when it waits for a rate-limit reset: against a simulator with a tiny limit, `remedy
//! plan` (without `-v`) prints one warning per wait naming the org, the bucket and how long, not one
//! per waiting call.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use okta_remedy::sim::{RateLimits, SimConfig};

use super::{scenario, seed_spec, Env};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_says_once_per_reset_that_it_waits_for_a_rate_limit() {
    let mut limits = RateLimits::default();
    for v in limits.buckets.values_mut() {
        *v = 2;
    }
    limits.default = 2;
    limits.window = Duration::from_secs(2);
    let config = SimConfig {
        scenario: scenario(&seed_spec()),
        limits,
        ..SimConfig::default()
    };
    let env = Env::start(config, "rules/org2org-password-sync.yaml").await;
    let started = Instant::now();
    let run = env
        .remedy(&[
            "plan",
            "--rules",
            "rules.yaml",
            "--config",
            "remedy.yaml",
            "--out",
            "plan.json",
        ])
        .await;
    let elapsed = started.elapsed();
    assert_eq!(run.code, 0, "{}", run.transcript());
    let waits: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("rate limit on `"))
        .collect();
    assert!(!waits.is_empty(), "no wait announced:\n{}", run.stderr);
    for w in &waits {
        assert!(
            (w.contains("for org `hub`'s") || w.contains("for org `spoke`'s"))
                && w.contains(" s for org ")
                && w.contains("/api/v1/"),
            "{w}"
        );
    }
    // At most one announcement per org and bucket per window elapsed: not one per waiting call.
    let windows = (elapsed.as_secs_f64() / 2.0).ceil() as usize + 1;
    let mut per_bucket: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for w in &waits {
        let between = |a: &str, b: &str| w.split(a).nth(1).and_then(|r| r.split(b).next());
        let key = (
            between("for org `", "`'s").unwrap(),
            between("rate limit on `", "` to reset").unwrap(),
        );
        *per_bucket.entry(key).or_default() += 1;
    }
    for (key, n) in &per_bucket {
        assert!(
            *n <= windows,
            "{key:?} announced {n} times in {elapsed:?} ({windows} windows):\n{}",
            run.stderr
        );
    }
}
