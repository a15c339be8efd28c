//! What a notification says: an [`Event`] built from plan data only (remediation, plan, subject key,
//! rule, action, state, counts), never from an Okta response, so it cannot carry a reset URL or a
//! token; its text for people ([`Event::headline`], [`Event::text`]) and the generic JSON body
//! ([`Event::to_json`]). Formats for a particular receiver (Slack, e-mail) are in their sink's file.
//!
//! A message written in a rulebook (`notify`) is rendered from the subject at plan time; as a last
//! line of defence [`scrub`] removes any URL in it that looks like a one-time link (password reset,
//! activation, recovery, or a `token` parameter) before it leaves the machine.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

/// The longest message text sent, in characters (a longer one is cut, marked with `…`).
pub const MAX_MESSAGE_CHARS: usize = 4000;

/// The kinds of event, as sink filters name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventKind {
    /// A plan was written (by `remedy serve`).
    PlanWritten,
    /// A destructive step waits for a person's approval (by `remedy serve`).
    ApprovalNeeded,
    /// A step failed.
    StepFailed,
    /// A guard refused a plan or a subject.
    GuardHit,
    /// An apply run finished: counts per state.
    RunFinished,
    /// A rulebook's `notify` action.
    Notify,
}

impl EventKind {
    /// Every kind, in the order the docs list them.
    pub const ALL: [EventKind; 6] = [
        EventKind::PlanWritten,
        EventKind::ApprovalNeeded,
        EventKind::StepFailed,
        EventKind::GuardHit,
        EventKind::RunFinished,
        EventKind::Notify,
    ];

    /// The name in config files and in the JSON body.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::PlanWritten => "plan_written",
            EventKind::ApprovalNeeded => "approval_needed",
            EventKind::StepFailed => "step_failed",
            EventKind::GuardHit => "guard_hit",
            EventKind::RunFinished => "run_finished",
            EventKind::Notify => "notify",
        }
    }
}

/// The plan an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRef {
    pub id: String,
    pub checksum: String,
}

/// The step an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRef {
    pub id: String,
    pub rule: String,
    pub action: String,
}

/// One notification. Build it with [`Event::new`] and the `with_*` methods; every field comes from
/// plan data or the run's own counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub kind: EventKind,
    /// The remediation (in one-shot runs, the rulebook's name); sink filters match it.
    pub remediation: String,
    pub plan: Option<PlanRef>,
    /// The subject's key (a login, or an assignment's key).
    pub subject: Option<String>,
    pub step: Option<StepRef>,
    /// The text for people ([`scrub`]bed and cut to [`MAX_MESSAGE_CHARS`] on construction).
    pub message: String,
    /// Counts per state (`run_finished`).
    pub counts: BTreeMap<String, u64>,
    /// Identifies this event across retries and resumed runs; each sink's delivery key is derived
    /// from it ([`super::delivery_key`]). Receivers dedupe on the delivery key.
    pub key: String,
    pub time: DateTime<Utc>,
}

impl Event {
    /// An event with no plan, subject or step yet.
    pub fn new(
        kind: EventKind,
        remediation: &str,
        message: &str,
        key: &str,
        time: DateTime<Utc>,
    ) -> Event {
        Event {
            kind,
            remediation: remediation.to_string(),
            plan: None,
            subject: None,
            step: None,
            message: limit(&scrub(message)),
            counts: BTreeMap::new(),
            key: key.to_string(),
            time,
        }
    }

    pub fn with_plan(mut self, id: &str, checksum: &str) -> Event {
        self.plan = Some(PlanRef {
            id: id.to_string(),
            checksum: checksum.to_string(),
        });
        self
    }

    pub fn with_subject(mut self, subject: &str) -> Event {
        self.subject = Some(subject.to_string());
        self
    }

    pub fn with_step(mut self, id: &str, rule: &str, action: &str) -> Event {
        self.step = Some(StepRef {
            id: id.to_string(),
            rule: rule.to_string(),
            action: action.to_string(),
        });
        self
    }

    pub fn with_counts(mut self, counts: BTreeMap<String, u64>) -> Event {
        self.counts = counts;
        self
    }

    /// One line: what happened, for a mail subject or a chat notification.
    pub fn headline(&self) -> String {
        let what = match self.kind {
            EventKind::PlanWritten => "plan written",
            EventKind::ApprovalNeeded => "approval needed",
            EventKind::StepFailed => "step failed",
            EventKind::GuardHit => "guard hit",
            EventKind::RunFinished => "run finished",
            EventKind::Notify => "notice",
        };
        match &self.subject {
            Some(s) => format!("[remedy] {}: {what} for {s}", self.remediation),
            None => format!("[remedy] {}: {what}", self.remediation),
        }
    }

    /// The message with its context, as plain text lines.
    pub fn text(&self) -> String {
        let mut out = format!("{}\n", self.message);
        if !self.counts.is_empty() {
            let counts: Vec<String> = self
                .counts
                .iter()
                .map(|(state, n)| format!("{state} {n}"))
                .collect();
            out.push_str(&format!("\nsubjects: {}\n", counts.join(", ")));
        }
        out.push('\n');
        out.push_str(&format!("remediation: {}\n", self.remediation));
        if let Some(p) = &self.plan {
            out.push_str(&format!("plan: {} (checksum {})\n", p.id, p.checksum));
        }
        if let Some(s) = &self.subject {
            out.push_str(&format!("subject: {s}\n"));
        }
        if let Some(s) = &self.step {
            out.push_str(&format!(
                "step: {} ({} of rule {})\n",
                s.id, s.action, s.rule
            ));
        }
        out.push_str(&format!(
            "event: {} at {}\n",
            self.kind.name(),
            self.stamp()
        ));
        out
    }

    /// The event's time as RFC 3339 (seconds, UTC).
    pub fn stamp(&self) -> String {
        self.time.to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    /// The generic JSON body (`format: json`), version 1; `delivery_key` is the sink's key.
    pub fn to_json(&self, delivery_key: &str) -> Value {
        let mut v = json!({
            "version": 1,
            "kind": self.kind.name(),
            "idempotency_key": delivery_key,
            "time": self.stamp(),
            "remediation": self.remediation,
            "message": self.message,
        });
        if let Some(p) = &self.plan {
            v["plan"] = json!({ "id": p.id, "checksum": p.checksum });
        }
        if let Some(s) = &self.subject {
            v["subject"] = json!(s);
        }
        if let Some(s) = &self.step {
            v["step"] = json!({ "id": s.id, "rule": s.rule, "action": s.action });
        }
        if !self.counts.is_empty() {
            v["counts"] = json!(self.counts);
        }
        v
    }
}

/// Cuts `text` to [`MAX_MESSAGE_CHARS`] characters.
fn limit(text: &str) -> String {
    if text.chars().count() <= MAX_MESSAGE_CHARS {
        return text.to_string();
    }
    let mut out: String = text.chars().take(MAX_MESSAGE_CHARS - 1).collect();
    out.push('…');
    out
}

/// Replaces every URL that looks like a one-time link (a password reset, an activation, a recovery,
/// or one with a `token` parameter) with `[link removed]`.
pub fn scrub(text: &str) -> String {
    text.split_inclusive(char::is_whitespace)
        .map(|word| {
            let trimmed = word.trim_end();
            let lower = trimmed.to_ascii_lowercase();
            let url = lower.contains("http://") || lower.contains("https://");
            let secret = [
                "reset", "recovery", "activat", "token", "/tokens/", "sig=", "code=",
            ]
            .iter()
            .any(|m| lower.contains(m));
            if url && secret {
                let start = lower.find("http").unwrap_or(0);
                format!("{}[link removed]{}", &word[..start], &word[trimmed.len()..])
            } else {
                word.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn one_time_links_are_removed_and_other_text_kept() {
        assert_eq!(
            scrub("reset: https://acme.okta.com/reset_password/drpX?fromURI=a next\nhttps://acme.okta.com/app ok"),
            "reset: [link removed] next\nhttps://acme.okta.com/app ok"
        );
        assert_eq!(
            scrub("see(https://x.example/?token=abc)"),
            "see([link removed]"
        );
    }

    #[test]
    fn long_messages_are_cut() {
        let e = Event::new(
            EventKind::Notify,
            "r",
            &"x".repeat(MAX_MESSAGE_CHARS + 10),
            "k",
            Utc::now(),
        );
        assert_eq!(e.message.chars().count(), MAX_MESSAGE_CHARS);
        assert!(e.message.ends_with('…'));
    }
}
