//! The demo's narration on stdout: headings, what happened at each stage, and the closing
//! before/after table. It reports; it does not act (that is `demo::run`'s).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use serde_json::Value;

use super::DemoError;
use crate::apply::journal::{Journal, StepState};
use crate::apply::{render_summary, ApplySummary, SubjectState};
use crate::engine::Verdict;
use crate::pipeline::Clients;
use crate::plan::{render::render_limited, Plan};
use crate::sim::{GenerateSpec, Sim};

/// What the demo has told so far, and how to style it.
pub struct Story {
    color: bool,
    started: Instant,
    /// Failing assignments before and after, by login.
    pub before: BTreeMap<String, Value>,
    pub after: BTreeMap<String, Value>,
}

/// Subjects left waiting (for their users to set a password) by an apply run.
pub fn waiting(summary: &ApplySummary) -> Vec<String> {
    summary
        .subjects
        .iter()
        .filter(|s| s.state == SubjectState::Waiting)
        .map(|s| s.subject.clone())
        .collect()
}

impl Story {
    pub fn new(color: bool) -> Story {
        Story {
            color,
            started: Instant::now(),
            before: BTreeMap::new(),
            after: BTreeMap::new(),
        }
    }

    fn heading(&self, text: &str) -> String {
        if self.color {
            format!("\n\x1b[1;36m▶ {text}\x1b[0m")
        } else {
            format!("\n== {text}")
        }
    }

    /// A stage's heading.
    pub fn head(&self, text: &str) {
        println!("{}", self.heading(text));
    }

    pub fn say(&self, text: &str) {
        println!("{text}");
    }

    pub fn simulator(&self, sim: &Sim, spec: &GenerateSpec) {
        println!(
            "hub   {}  ({} users)\nspoke {}  (Org2Org app `okta_org2org`, {} assignments)",
            sim.hub_url(),
            spec.hub_users,
            sim.spoke_url(),
            spec.spoke_assignments
        );
    }

    pub fn failing_before(&self) {
        println!(
            "{} assignments fail to provision (syncState ERROR, or STAGED and never linked)",
            self.before.len()
        );
    }

    pub fn planned(&self, plan: &Plan, path: &Path) {
        print!("{}", render_limited(plan, Some(4)));
        println!("(full plan: remedy show {})", path.display());
    }

    pub fn first_apply(&self, s: &ApplySummary) {
        println!(
            "{} done, {} waiting for users to set a password, {} failed, {} protected",
            s.count(SubjectState::Done),
            s.count(SubjectState::Waiting),
            s.count(SubjectState::Failed),
            s.count(SubjectState::Protected)
        );
    }

    /// The resumed run's summary, without the list of subjects already done.
    pub fn second_apply(&self, s: &ApplySummary, journal: &Path, audit: &Path) {
        let text: String = render_summary(s, journal, audit)
            .lines()
            .filter(|l| !l.starts_with("  done"))
            .map(|l| format!("{l}\n"))
            .collect();
        print!("{text}");
    }

    /// The before/after table, then what is still failing and why.
    pub fn results(&self, plan: &Plan, journal: &Journal, orgs: &Clients) -> Result<(), DemoError> {
        let mut reasons: BTreeMap<&str, u64> = BTreeMap::new();
        for s in plan
            .subjects
            .iter()
            .filter(|s| s.verdict == Verdict::Matched)
        {
            if let Some(rule) = s.rules.first() {
                *reasons.entry(rule).or_default() += 1;
            }
        }
        let mut actions: BTreeMap<String, u64> = BTreeMap::new();
        for r in journal.steps()? {
            if r.state == StepState::Done {
                *actions.entry(r.action).or_default() += 1;
            }
        }
        let repaired = self
            .before
            .keys()
            .filter(|k| !self.after.contains_key(*k))
            .count();
        let row = |label: &str, n: &dyn std::fmt::Display| format!("  {label:<52} {n:>8}\n");
        let mut t = format!("{}\n", self.heading("Before and after"));
        t.push_str(&format!("  {:<52} {:>8} {:>8}\n", "", "before", "after"));
        t.push_str(&format!(
            "  {:<52} {:>8} {:>8}\n",
            "failing Org2Org assignments",
            self.before.len(),
            self.after.len()
        ));
        t.push_str(&row("repaired", &repaired));
        for (rule, n) in &reasons {
            t.push_str(&format!("    matched {rule:<42} {n:>8}\n"));
        }
        t.push_str(&row("protected (never touched)", &plan.summary.protected));
        t.push_str("  actions taken:\n");
        for (a, n) in &actions {
            t.push_str(&format!("    {a:<50} {n:>8}\n"));
        }
        let planning: u64 = plan.source.requests.values().sum();
        let all: u64 = orgs.request_counts().values().sum();
        t.push_str(&row("Okta requests while planning", &planning));
        t.push_str(&row("Okta requests in all", &all));
        print!("{t}");
        if !self.after.is_empty() {
            println!("\nStill failing, by design (a person decides): policy mismatches and deprovisioned or suspended hub users were reported, admins are protected:");
            for login in self.after.keys().take(20) {
                println!("  {login}");
            }
        }
        Ok(())
    }

    pub fn files(&self, journal: &Path, audit: &Path, plan: &Path) {
        println!(
            "\nJournal:   {}\nAudit log: {}\nPlan:      {}\nFinished in {:.1} s.",
            journal.display(),
            audit.display(),
            plan.display(),
            self.started.elapsed().as_secs_f64()
        );
    }
}
