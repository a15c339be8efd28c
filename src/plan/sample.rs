//! A bounded sample of a plan, for renderings that need a plan in memory (reports): the plan's head
//! and summary whole, at most `per_action` steps of each action, the subjects those steps act on,
//! and at most `per_action` protected and unknown subjects. Read as a stream, so the memory it takes
//! depends on `per_action`, not on the plan.

use std::collections::{BTreeMap, BTreeSet};

use super::stream::{Item, PlanItems, Want};
use super::{Plan, PlanError};
use crate::engine::Verdict;

/// The sample (everything with `None`; then the plan is all in memory).
pub fn sample(plan: &dyn PlanItems, per_action: Option<usize>) -> Result<Plan, PlanError> {
    let head = plan.head();
    let limit = per_action.unwrap_or(usize::MAX);
    let wanted: usize = head
        .summary
        .by_action
        .values()
        .map(|n| (*n as usize).min(limit))
        .sum();
    let mut taken: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut steps = Vec::new();
    let mut keys = BTreeSet::new();
    let want_steps = Want {
        subjects: false,
        steps: true,
    };
    plan.each(want_steps, &mut |item| {
        if let Item::Step(st) = item {
            let n = taken.entry(st.action.name()).or_default();
            if *n < limit {
                *n += 1;
                keys.insert(st.subject.clone());
                steps.push(st);
            }
        }
        Ok(steps.len() < wanted)
    })?;
    let mut subjects = Vec::new();
    let (mut protected, mut unknown) = (0usize, 0usize);
    let want_subjects = Want {
        subjects: true,
        steps: false,
    };
    // Read until every subject wanted is found (the rest of the file is not parsed).
    let s = &head.summary;
    let protected_wanted = (s.protected as usize).min(limit);
    let unknown_wanted = (s.unknown as usize).min(limit);
    let mut found = 0usize;
    plan.each(want_subjects, &mut |item| {
        if let Item::Subject(p) = item {
            let keep = match p.verdict {
                Verdict::Protected => bump(&mut protected, limit),
                Verdict::Unreadable => bump(&mut unknown, limit),
                _ => keys.contains(&p.key),
            };
            if keep {
                found += 1;
                subjects.push(p);
            }
        }
        Ok(found < keys.len() + protected_wanted + unknown_wanted)
    })?;
    Ok(Plan::from_head(head, subjects, steps))
}

/// Counts one more, if under `limit`.
fn bump(n: &mut usize, limit: usize) -> bool {
    let under = *n < limit;
    if under {
        *n += 1;
    }
    under
}
