//! Justifying a subject's steps before the first one runs: the pinned rulebook is evaluated on the
//! subject's live state, and the plan's steps run only if the rulebook produces that same sequence now
//! (same rules, actions, parameters, orgs and order, for the same Okta objects). Safety classes and
//! preconditions come from the rulebook, never from the file. Nothing in a plan file can therefore make
//! `apply` do what the rulebook would not: a rewritten action, a widened safety class, a step added
//! for a protected subject, changed ids or parameters are all refused and named.

use serde_json::Value;

use super::observe::read_live;
use super::stop::Stop;
use super::Ctx;
use crate::engine::{evaluate, Verdict};
use crate::okta::OktaApi;
use crate::plan::{derive_steps, PlannedSubject, Precondition, Step};
use crate::subject::shape;

/// The steps to run for `subject`: the plan's, checked against what the rulebook derives from the
/// live subject (`state` is its state as just read).
pub(super) async fn justify<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    subject: &PlannedSubject,
    planned: &[&Step],
    state: Value,
) -> Result<Vec<Step>, Stop> {
    let live = read_live(ctx, subject, state).await?;
    let decision = evaluate(ctx.rulebook, &live, ctx.now, 0);
    if decision.subject != subject.key {
        return Err(refused(format!(
            "the Okta objects the plan names belong to `{}`, not to this subject",
            decision.subject
        )));
    }
    match decision.verdict {
        Verdict::Matched => {}
        Verdict::Protected => {
            return Err(refused(
                "the subject is protected by `guards.protect` on its live state; never acted on",
            ))
        }
        Verdict::NoMatch | Verdict::Unreadable => {
            return Err(refused(
                "the rulebook does not match this subject on its live state; make a new plan",
            ))
        }
    }
    check_ids(subject, &live)?;
    let derived = derive_steps(ctx.rulebook, &live, &decision, 1);
    compare(planned, &derived)
}

fn refused(why: impl std::fmt::Display) -> Stop {
    Stop::Refused(format!("refused: {why}"))
}

/// The Okta objects the plan names must be the live subject's.
fn check_ids(subject: &PlannedSubject, live: &Value) -> Result<(), Stop> {
    let now = shape::ids(live);
    for (name, _) in shape::IDS {
        let planned = subject.ids.get(*name);
        let found = now.get(*name);
        if planned != found {
            return Err(refused(format!(
                "the plan names {name} {}, Okta has {}",
                planned.map_or("none".to_string(), |v| format!("`{v}`")),
                found.map_or("none".to_string(), |v| format!("`{v}`")),
            )));
        }
    }
    Ok(())
}

/// The plan's steps if they are the derived ones (ids and precondition values aside), with safety
/// and precondition paths from the derivation and the values the plan recorded.
fn compare(planned: &[&Step], derived: &[Step]) -> Result<Vec<Step>, Stop> {
    let names = |steps: &mut dyn Iterator<Item = &Step>| -> String {
        steps
            .map(|s| format!("{} ({})", s.action.name(), s.rule))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if planned.len() != derived.len() {
        return Err(refused(format!(
            "the plan has {} for this subject, the rulebook produces {}",
            names(&mut planned.iter().copied()),
            names(&mut derived.iter())
        )));
    }
    let mut out: Vec<Step> = Vec::with_capacity(derived.len());
    for (p, d) in planned.iter().zip(derived) {
        let what = format!("step `{}`", p.id);
        if p.rule != d.rule || p.action != d.action || p.org != d.org {
            return Err(refused(format!(
                "{what} is `{}` of rule `{}` on org `{}` with {}; the rulebook produces `{}` of rule `{}` on org `{}` with {}",
                p.action.name(), p.rule, p.org, params(p),
                d.action.name(), d.rule, d.org, params(d),
            )));
        }
        let chain: Vec<String> = out.last().map(|s| s.id.clone()).into_iter().collect();
        if p.depends_on != chain {
            return Err(refused(format!(
                "{what} depends on [{}]; it must depend on [{}]",
                p.depends_on.join(", "),
                chain.join(", ")
            )));
        }
        if p.safety != d.safety {
            return Err(refused(format!(
                "{what} is marked {:?}; the rulebook's `{}` is {:?}",
                p.safety,
                d.action.name(),
                d.safety
            )));
        }
        let preconditions = d
            .preconditions
            .iter()
            .map(|want| {
                p.preconditions
                    .iter()
                    .find(|have| have.path == want.path)
                    .cloned()
                    .ok_or_else(|| {
                        refused(format!(
                            "{what} lacks the precondition on `{}` the rulebook requires",
                            want.path
                        ))
                    })
            })
            .collect::<Result<Vec<Precondition>, Stop>>()?;
        out.push(Step {
            id: p.id.clone(),
            subject: p.subject.clone(),
            rule: d.rule.clone(),
            action: d.action.clone(),
            org: d.org.clone(),
            preconditions,
            depends_on: chain,
            safety: d.safety,
        });
    }
    Ok(out)
}

/// A step's parameters as the plan writes them.
fn params(s: &Step) -> String {
    match serde_json::to_value(&s.action) {
        Ok(Value::Object(mut m)) => m
            .remove("params")
            .map(|p| p.to_string())
            .unwrap_or_default(),
        _ => String::new(),
    }
}
