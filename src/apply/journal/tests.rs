//! The journal's own guarantees: one process, states that survive, nothing read as a default.

use super::*;
use crate::apply::PlanLock;

#[test]
fn second_open_is_refused_and_state_survives() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("j.sqlite");
    let j = Journal::open(&p, "plan-1", "c", "r").unwrap();
    j.intent("s0001", "a@x", "reset_password", "reset_password")
        .unwrap();
    let second = Journal::open(&p, "plan-1", "c", "r");
    assert!(
        matches!(second, Err(JournalError::Busy(_))),
        "{:?}",
        second.err()
    );
    drop(j);
    let j = Journal::open(&p, "plan-1", "c", "r").unwrap();
    assert_eq!(j.step("s0001").unwrap().unwrap().state, StepState::Intent);
    assert!(j.had_intent("s0001", "reset_password").unwrap());
    assert!(matches!(
        Journal::open(&p, "plan-2", "c", "r").map(|_| ()),
        Err(JournalError::OtherPlan { .. }) | Err(JournalError::Busy(_))
    ));
}

#[test]
fn an_unreadable_state_or_time_is_an_error_not_a_default() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("j.sqlite");
    let j = Journal::open(&p, "plan-1", "c", "r").unwrap();
    j.touch_started("s1", "a@x", "await").unwrap();
    j.with(|c| {
        c.execute(
            "UPDATE steps SET state = 'bogus', started = 'yesterday'",
            [],
        )
    })
    .unwrap();
    let err = j.step("s1").unwrap_err().to_string();
    assert!(err.contains("a step state `bogus`"), "{err}");
    j.with(|c| c.execute("UPDATE steps SET state = 'pending'", []))
        .unwrap();
    let err = j
        .touch_started("s1", "a@x", "await")
        .unwrap_err()
        .to_string();
    assert!(err.contains("a start time `yesterday`"), "{err}");
}

#[cfg(unix)]
#[test]
fn the_journal_is_private_and_a_plan_is_locked_across_journals() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("j.sqlite");
    let _j = Journal::open(&p, "plan-1", "c", "r").unwrap();
    let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let locks = dir.path().join("locks");
    let held = PlanLock::acquire(&locks, "plan-1", "abc").unwrap();
    let err = PlanLock::acquire(&locks, "plan-1", "abc")
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("being applied by another process"), "{err}");
    assert!(PlanLock::acquire(&locks, "plan-2", "def").is_ok());
    drop(held);
    assert!(PlanLock::acquire(&locks, "plan-1", "abc").is_ok());
}

#[test]
fn only_successful_outcomes_close_a_call_and_the_last_intent_decides() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open(&dir.path().join("j.sqlite"), "plan-1", "c", "r").unwrap();
    assert!(!j.open_intent("s1", "touch").unwrap());
    j.intent("s1", "a@x", "retry_provisioning", "touch")
        .unwrap();
    assert!(j.open_intent("s1", "touch").unwrap());
    j.call_outcome("s1", "touch", "error: E0000038", None)
        .unwrap();
    assert!(!j.open_intent("s1", "touch").unwrap());
    assert!(!j.had_outcome("s1", "touch").unwrap());
    j.call_outcome("s1", "touch-before", "{\"lastUpdated\":\"t0\"}", None)
        .unwrap();
    j.call_outcome("s1", "touch-before", "{\"lastUpdated\":\"t1\"}", None)
        .unwrap();
    assert_eq!(
        j.first_outcome("s1", "touch-before").unwrap().as_deref(),
        Some("{\"lastUpdated\":\"t0\"}")
    );
    j.intent("s1", "a@x", "retry_provisioning", "touch")
        .unwrap();
    j.call_outcome("s1", "touch", "reconciled: applied", None)
        .unwrap();
    assert!(j.had_outcome("s1", "touch").unwrap());
    assert!(!j.open_intent("s1", "touch").unwrap());
}

/// `status` lists subjects and steps as the journal reads them: by subject (step id), at most so
/// many of each state, every one with no limit, and stops when told to.
#[test]
fn listings_are_in_order_limited_per_state_and_stop_when_told() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open(&dir.path().join("j.sqlite"), "plan-1", "c", "r").unwrap();
    for (s, state) in [
        ("e@x", "done"),
        ("a@x", "failed"),
        ("d@x", "done"),
        ("b@x", "done"),
        ("c@x", "failed"),
    ] {
        j.set_subject(s, state, Some(&format!("{s} is {state}")))
            .unwrap();
    }
    let list = |state: Option<&str>, per: Option<usize>| {
        let mut out = Vec::new();
        j.each_subject(state, per, &mut |s, st, d| {
            out.push(format!("{s} {st} {}", d.unwrap_or("-")));
            true
        })
        .unwrap();
        out
    };
    assert_eq!(
        list(None, None),
        [
            "a@x failed a@x is failed",
            "b@x done b@x is done",
            "c@x failed c@x is failed",
            "d@x done d@x is done",
            "e@x done e@x is done"
        ]
    );
    assert_eq!(
        list(None, Some(1)),
        ["a@x failed a@x is failed", "b@x done b@x is done"]
    );
    assert_eq!(
        list(Some("done"), Some(2)),
        ["b@x done b@x is done", "d@x done d@x is done"]
    );
    assert_eq!(list(Some("done"), None).len(), 3);
    let mut seen = 0;
    j.each_subject(None, None, &mut |_, _, _| {
        seen += 1;
        seen < 2
    })
    .unwrap();
    assert_eq!(seen, 2);

    for (id, s) in [("s0003", "c@x"), ("s0001", "a@x"), ("s0002", "b@x")] {
        j.intent(id, s, "unlock", "unlock").unwrap();
    }
    j.touch_started("s0004", "d@x", "await").unwrap();
    let steps = |per: Option<usize>| {
        let mut out = Vec::new();
        j.each_step(per, &mut |st| {
            out.push(st.step_id);
            true
        })
        .unwrap();
        out
    };
    assert_eq!(steps(None), ["s0001", "s0002", "s0003", "s0004"]);
    assert_eq!(steps(Some(1)), ["s0001", "s0004"]);
}
