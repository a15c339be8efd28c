//! The webhook sink: one JSON POST per attempt, as a Slack incoming-webhook body (`text` and
//! `blocks`) or the generic event ([`super::Event::to_json`]), with the delivery key in the
//! `X-Idempotency-Key` header. The URL is a secret (a Slack webhook URL is its own credential): it is
//! never logged, and transport errors are reported without it.

use serde_json::{json, Value};

use super::config::WebhookFormat;
use super::{Attempt, Event};
use crate::okta::Secret;

/// Longest response body text kept for an error message.
const MAX_ERROR_BODY: usize = 200;

/// A webhook ready to send.
pub(super) struct Webhook {
    pub(super) url: Secret,
    pub(super) format: WebhookFormat,
    pub(super) client: reqwest::Client,
}

impl Webhook {
    /// The body this sink sends for `event`.
    pub(super) fn body(&self, event: &Event, key: &str) -> Value {
        match self.format {
            WebhookFormat::Json => event.to_json(key),
            WebhookFormat::Slack => slack(event),
        }
    }

    /// One attempt: `Ok` with the status on a 2xx.
    pub(super) async fn post(&self, event: &Event, key: &str) -> Result<String, Attempt> {
        let response = self
            .client
            .post(self.url.expose())
            .header("X-Idempotency-Key", key)
            .json(&self.body(event, key))
            .send()
            .await
            .map_err(|e| Attempt::Retry(describe(&e)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(format!("HTTP {}", status.as_u16()));
        }
        let text = response.text().await.unwrap_or_default();
        let text: String = text.chars().take(MAX_ERROR_BODY).collect();
        let detail = format!("HTTP {}: {}", status.as_u16(), text.trim());
        // Timeouts, rate limits and server errors may pass; any other answer is the receiver's no.
        if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
            Err(Attempt::Retry(detail))
        } else {
            Err(Attempt::Final(detail))
        }
    }
}

/// A transport error without its URL.
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    // The error's own text names the URL: only its kind and its sources (I/O, TLS) are kept.
    let mut text = kind.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

/// Escapes the three characters Slack's mrkdwn treats as control (`<!channel>`, `<url|text>`), so a
/// login or message cannot mention people or forge a link.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A Slack incoming-webhook body: `text` (the fallback shown in notifications) and blocks: a
/// section with the message, and a context line with the remediation, plan and subject.
fn slack(event: &Event) -> Value {
    let headline = slack_escape(&event.headline());
    let mut body = slack_escape(&event.message);
    if !event.counts.is_empty() {
        let counts: Vec<String> = event
            .counts
            .iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        body.push_str(&format!("\nsubjects: {}", counts.join(", ")));
    }
    let mut context = vec![format!("event `{}`", event.kind.name())];
    if let Some(p) = &event.plan {
        context.push(format!("plan `{}`", slack_escape(&p.id)));
    }
    if let Some(s) = &event.step {
        context.push(format!(
            "step `{}` ({} of rule `{}`)",
            slack_escape(&s.id),
            slack_escape(&s.action),
            slack_escape(&s.rule)
        ));
    }
    context.push(event.stamp());
    json!({
        "text": format!("{headline}: {body}"),
        "blocks": [
            { "type": "section", "text": { "type": "mrkdwn", "text": format!("*{headline}*\n{body}") } },
            { "type": "context", "elements": [ { "type": "mrkdwn", "text": context.join(" · ") } ] }
        ]
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::EventKind;
    use super::*;

    #[test]
    fn slack_text_cannot_mention_or_link() {
        let e = Event::new(
            EventKind::Notify,
            "r",
            "<!channel> look at <https://evil.example|this> & that",
            "k",
            chrono::Utc::now(),
        );
        let v = slack(&e);
        let text = v["text"].as_str().unwrap();
        assert!(
            text.contains("&lt;!channel&gt; look at &lt;https://evil.example|this&gt; &amp; that"),
            "{text}"
        );
        assert!(!v.to_string().contains("<!channel>"));
    }
}
