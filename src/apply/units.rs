//! The plan's subjects, each with its planned steps, one at a time: from a plan in memory (the steps
//! of a subject are all those naming it), or from a plan file read as a stream by two reader threads
//! (one over the subjects, one over the steps, each a bounded channel ahead of the executor), joined
//! on the order a plan is written in: a subject's steps follow each other, in subject order.
//!
//! [`check`] reads them all once before the run (no Okta call yet) and refuses a plan whose subjects
//! or step ids repeat, or whose steps are out of that order, holding a 128-bit digest per subject and
//! per step, not the plan.

use std::collections::HashSet;
use std::iter::Peekable;
use std::sync::mpsc::{sync_channel, IntoIter, Receiver};

use sha2::{Digest, Sha256};

use super::ApplyError;
use crate::plan::stream::{visit_path, Item, Opened, PlanItems, Want};
use crate::plan::{Plan, PlannedSubject, Step};

/// How many subjects (and steps) each reader thread reads ahead of the executor.
const AHEAD: usize = 256;

/// One subject and the steps the plan has for it.
pub type Unit = (PlannedSubject, Vec<Step>);

/// The plan to apply: in memory, or a file read as a stream.
pub enum ToApply<'a> {
    Memory(&'a Plan),
    File(&'a Opened),
}

impl ToApply<'_> {
    pub fn items(&self) -> &dyn PlanItems {
        match self {
            ToApply::Memory(p) => *p,
            ToApply::File(o) => *o,
        }
    }

    /// The subjects with their steps, in plan order.
    pub fn units(&self) -> Units<'_> {
        match self {
            ToApply::Memory(p) => Units::Memory {
                plan: p,
                next: p.subjects.iter(),
            },
            ToApply::File(Opened::Small(p)) => Units::Memory {
                plan: p,
                next: p.subjects.iter(),
            },
            ToApply::File(Opened::Stream { path, .. }) => {
                let subjects = reader(path.clone(), true);
                let steps = Box::new(reader(path.clone(), false).into_iter().peekable());
                Units::Stream { subjects, steps }
            }
        }
    }
}

type Read<T> = Result<T, String>;

/// A thread reading the subjects (or the steps) of the plan at `path` into a bounded channel. It
/// ends when the plan is read, or when the receiver is dropped.
fn reader(path: std::path::PathBuf, subjects: bool) -> Receiver<Read<Item>> {
    let (tx, rx) = sync_channel(AHEAD);
    std::thread::spawn(move || {
        let want = Want {
            subjects,
            steps: !subjects,
        };
        let done = visit_path(&path, want, &mut |item| Ok(tx.send(Ok(item)).is_ok()));
        if let Err(e) = done {
            match tx.send(Err(e.to_string())) {
                // Sent, or the receiver is gone already: then nobody is waiting for the error.
                Ok(()) | Err(_) => {}
            }
        }
    });
    rx
}

/// The subjects with their steps, one at a time.
pub enum Units<'a> {
    Memory {
        plan: &'a Plan,
        next: std::slice::Iter<'a, PlannedSubject>,
    },
    Stream {
        subjects: Receiver<Read<Item>>,
        steps: Box<Peekable<IntoIter<Read<Item>>>>,
    },
}

impl Iterator for Units<'_> {
    type Item = Read<Unit>;

    fn next(&mut self) -> Option<Read<Unit>> {
        match self {
            Units::Memory { plan, next } => {
                let s = next.next()?;
                let steps = plan
                    .steps
                    .iter()
                    .filter(|st| st.subject == s.key)
                    .cloned()
                    .collect();
                Some(Ok((s.clone(), steps)))
            }
            Units::Stream { subjects, steps } => {
                let s = match subjects.recv().ok()? {
                    Ok(Item::Subject(s)) => s,
                    Ok(Item::Step(_)) => return Some(Err("a step among the subjects".into())),
                    Err(e) => return Some(Err(e)),
                };
                let mut mine = Vec::new();
                loop {
                    match steps.peek() {
                        Some(Ok(Item::Step(st))) if st.subject == s.key => {}
                        Some(Err(_)) => {
                            return steps.next().map(|e| e.map(|_| (s, Vec::new())));
                        }
                        _ => break,
                    }
                    if let Some(Ok(Item::Step(st))) = steps.next() {
                        mine.push(st);
                    }
                }
                Some(Ok((s, mine)))
            }
        }
    }
}

impl Units<'_> {
    /// Whether steps are left once the subjects are all read (steps out of order, or of a subject
    /// the plan does not list).
    fn steps_left(&mut self) -> Option<String> {
        match self {
            Units::Memory { .. } => None,
            Units::Stream { steps, .. } => match steps.next() {
                Some(Ok(Item::Step(st))) => Some(st.id),
                Some(Ok(Item::Subject(s))) => Some(s.key),
                Some(Err(e)) => Some(e),
                None => None,
            },
        }
    }
}

fn digest(what: &str, key: &str) -> u128 {
    let h = Sha256::new()
        .chain_update(what)
        .chain_update([0])
        .chain_update(key)
        .finalize();
    let mut first = [0u8; 16];
    first.copy_from_slice(&h[..16]);
    u128::from_le_bytes(first)
}

/// Reads every subject and step once, before the run: refuses repeated subjects or step ids, and
/// steps out of the order the plan is written in.
pub fn check(plan: &ToApply<'_>) -> Result<(), ApplyError> {
    let mut seen: HashSet<u128> = HashSet::new();
    let mut units = plan.units();
    for unit in units.by_ref() {
        let (s, steps) = unit.map_err(ApplyError::PlanStream)?;
        if !seen.insert(digest("subject", &s.key)) {
            return Err(ApplyError::Duplicate {
                what: "subject",
                key: s.key,
            });
        }
        for st in steps {
            if !seen.insert(digest("step", &st.id)) {
                return Err(ApplyError::Duplicate {
                    what: "step",
                    key: st.id,
                });
            }
        }
    }
    if let Some(left) = units.steps_left() {
        return Err(ApplyError::StepOrder(left));
    }
    if let ToApply::Memory(p) = plan {
        // A plan in memory may list a step id twice under subjects it does not list.
        let mut ids = HashSet::new();
        if let Some(st) = p.steps.iter().find(|st| !ids.insert(&st.id)) {
            return Err(ApplyError::Duplicate {
                what: "step",
                key: st.id.clone(),
            });
        }
    }
    Ok(())
}
