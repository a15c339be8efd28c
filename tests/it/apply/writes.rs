//! What `apply` writes: a write that fails stops the run loudly, a plan is applied by one process at
//! a time on a machine whichever journal it uses, and files holding people's data are 0600.

use okta_remedy::apply::PlanLock;
use okta_remedy::plan::Plan;

use super::{seed_spec, Env};

const SEED: &str = "rules/org2org-password-sync.yaml";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_plan_is_refused_while_another_journal_applies_it() {
    let env = Env::generated(seed_spec(), SEED).await;
    let path = env.plan().await;
    let plan = Plan::read(&path).unwrap();
    let held = PlanLock::acquire(&PlanLock::default_dir(), &plan.plan_id, &plan.checksum).unwrap();
    let run = env.apply(&["--journal", "second.sqlite"]).await;
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stderr
            .contains("is being applied by another process on this machine"),
        "{}",
        run.transcript()
    );
    assert!(super::mutations(&env.sim).is_empty());
    drop(held);
    let run = env.apply(&["--journal", "second.sqlite"]).await;
    assert_eq!(run.code, 0, "{}", run.transcript());
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_url_that_cannot_be_saved_stops_the_run() {
    let env = Env::generated(seed_spec(), SEED).await;
    let rules = std::fs::read_to_string(&env.rules).unwrap();
    assert!(rules.contains("send_email: true"));
    std::fs::write(
        &env.rules,
        rules.replace("send_email: true", "send_email: false"),
    )
    .unwrap();
    env.plan().await;
    // Every write to /dev/full fails (ENOSPC).
    let run = env.apply(&["--reset-urls", "/dev/full"]).await;
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stderr.contains("could not be saved") && run.stderr.contains("/dev/full"),
        "{}",
        run.transcript()
    );
    assert!(!run.stdout.contains("done"), "{}", run.transcript());
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journal_and_audit_log_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::generated(seed_spec(), SEED).await;
    env.plan().await;
    let run = env.apply(&[]).await;
    assert_eq!(run.code, 0, "{}", run.transcript());
    for f in ["plan.journal.sqlite", "plan.audit.jsonl"] {
        let mode = std::fs::metadata(env.path(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{f} is {mode:o}");
    }
}
