//! Notifications that are delivered: the sinks declared in `remedy.yaml`'s `notifications:` section
//! (webhook, e-mail), built into a [`Notifier`] that sends an [`Event`] with bounded retries and
//! exponential backoff, and says what happened ([`Delivery`] or [`NotifyError`]).
//!
//! The API other parts use is small: [`read_config`] → [`Notifier::new`] → [`Notifier::send`] (every
//! sink whose filter takes the event) or [`Notifier::send_to`] (one named sink). [`delivery_key`]
//! derives the key a receiver dedupes on.
//!
//! It does not journal: a caller that must never send twice (the apply executor's `notify` step)
//! records the delivery key before and after [`Notifier::send_to`] (see `apply/notify.rs`). It
//! never prints or logs a webhook URL or a credential; errors name the sink only.

pub mod config;
mod email;
mod event;
mod webhook;

use sha2::{Digest, Sha256};

pub use config::{read as read_config, NotifyConfig, NotifyConfigError};
pub use event::{scrub, Event, EventKind, PlanRef, StepRef, MAX_MESSAGE_CHARS};

use config::{SinkConfig, Target, UrlSource};
use email::Email;
use webhook::Webhook;

/// A delivery that failed, or a sink that could not be set up. The text names the sink, never its
/// URL or credentials.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("notification sink `{sink}`: environment variable `{var}` is not set or empty")]
    MissingEnv { sink: String, var: String },
    #[error("notification sink `{sink}`: {message}")]
    Setup { sink: String, message: String },
    #[error("no notification sink is named `{0}`")]
    UnknownSink(String),
    #[error("notification to sink `{sink}` failed after {attempts} attempts: {reason}")]
    Failed {
        sink: String,
        attempts: u32,
        reason: String,
    },
}

/// A message a sink accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub sink: String,
    /// The key the receiver saw ([`delivery_key`]).
    pub key: String,
    /// Attempts made, the successful one included.
    pub attempts: u32,
    /// The receiver's answer (`HTTP 200`, `SMTP 250`).
    pub answer: String,
}

/// Every sink's outcome for one [`Notifier::send`].
#[derive(Debug, Default)]
pub struct Sent {
    pub delivered: Vec<Delivery>,
    pub failed: Vec<NotifyError>,
}

/// How one attempt ended when it did not deliver.
#[derive(Debug)]
enum Attempt {
    /// May pass: try again after the backoff.
    Retry(String),
    /// The receiver's final answer: stop trying.
    Final(String),
}

enum Transport {
    Webhook(Webhook),
    Email(Box<Email>),
}

struct Sink {
    config: SinkConfig,
    transport: Transport,
}

/// The configured sinks, ready to send. Cheap to share behind an `Arc`.
pub struct Notifier {
    sinks: Vec<Sink>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.sink_names()).finish()
    }
}

/// The key one sink's receiver sees for `event_key`: 32 hex characters, the same on every attempt
/// and every run that delivers the same event.
pub fn delivery_key(event_key: &str, sink: &str) -> String {
    let digest = Sha256::digest(format!("{event_key}\n{sink}").as_bytes());
    hex::encode(&digest[..16])
}

fn env_secret(sink: &str, var: &str) -> Result<String, NotifyError> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(NotifyError::MissingEnv {
            sink: sink.to_string(),
            var: var.to_string(),
        }),
    }
}

impl Notifier {
    /// Builds every sink: reads the secrets their config names from the environment and sets up
    /// their transports. Nothing is sent.
    pub fn new(config: NotifyConfig) -> Result<Notifier, NotifyError> {
        let mut sinks = Vec::with_capacity(config.sinks.len());
        for c in config.sinks {
            let setup = |message: String| NotifyError::Setup {
                sink: c.name.clone(),
                message,
            };
            let transport = match &c.target {
                Target::Webhook { url, format } => {
                    let url = match url {
                        UrlSource::Inline(s) => s.clone(),
                        UrlSource::Env(var) => {
                            let v = crate::okta::Secret::new(env_secret(&c.name, var)?);
                            config::check_url(v.expose())
                                .map_err(|m| setup(format!("{m} (from `{var}`)")))?;
                            v
                        }
                    };
                    let client = reqwest::Client::builder()
                        .timeout(c.timeout)
                        .redirect(reqwest::redirect::Policy::none())
                        .user_agent(concat!("okta-remedy/", env!("CARGO_PKG_VERSION")))
                        .build()
                        .map_err(|e| setup(format!("cannot build an HTTP client: {e}")))?;
                    Transport::Webhook(Webhook {
                        url,
                        format: *format,
                        client,
                    })
                }
                Target::Email(t) => {
                    let credentials = match &t.credentials {
                        Some((u, p)) => Some((env_secret(&c.name, u)?, env_secret(&c.name, p)?)),
                        None => None,
                    };
                    Transport::Email(Box::new(
                        Email::new(t, credentials, c.timeout).map_err(setup)?,
                    ))
                }
            };
            sinks.push(Sink {
                config: c,
                transport,
            });
        }
        Ok(Notifier { sinks })
    }

    /// The sinks' names, in config order.
    pub fn sink_names(&self) -> impl Iterator<Item = &str> {
        self.sinks.iter().map(|s| s.config.name.as_str())
    }

    /// Whether sink `name` exists and its filter takes `kind` events from `remediation`; `None`
    /// when no sink has that name.
    pub fn accepts(&self, name: &str, kind: EventKind, remediation: &str) -> Option<bool> {
        self.sink(name)
            .map(|s| s.config.filter.accepts(kind, remediation))
    }

    /// The sinks whose filter takes `event`, in config order.
    pub fn targets(&self, event: &Event) -> Vec<&str> {
        self.sinks
            .iter()
            .filter(|s| s.config.filter.accepts(event.kind, &event.remediation))
            .map(|s| s.config.name.as_str())
            .collect()
    }

    fn sink(&self, name: &str) -> Option<&Sink> {
        self.sinks.iter().find(|s| s.config.name == name)
    }

    /// Sends `event` to every sink whose filter takes it, one after the other, each with its retries.
    pub async fn send(&self, event: &Event) -> Sent {
        let mut sent = Sent::default();
        for name in self.targets(event) {
            match self.send_to(name, event).await {
                Ok(d) => sent.delivered.push(d),
                Err(e) => sent.failed.push(e),
            }
        }
        sent
    }

    /// Sends `event` to sink `name` (whatever its filter says), retrying with backoff up to the
    /// sink's attempts.
    pub async fn send_to(&self, name: &str, event: &Event) -> Result<Delivery, NotifyError> {
        self.send_with(name, event, |_| Ok(())).await
    }

    /// [`Notifier::send_to`], calling `before(n)` ahead of attempt `n` (the journal records the
    /// attempt there; an error from it stops the delivery unattempted).
    pub async fn send_with(
        &self,
        name: &str,
        event: &Event,
        mut before: impl FnMut(u32) -> Result<(), String>,
    ) -> Result<Delivery, NotifyError> {
        let sink = self
            .sink(name)
            .ok_or_else(|| NotifyError::UnknownSink(name.to_string()))?;
        let key = delivery_key(&event.key, name);
        let retry = sink.config.retry;
        let failed = |attempts, reason| NotifyError::Failed {
            sink: name.to_string(),
            attempts,
            reason,
        };
        let mut n = 1;
        loop {
            before(n).map_err(|reason| failed(n - 1, reason))?;
            let outcome = match &sink.transport {
                Transport::Webhook(w) => w.post(event, &key).await,
                Transport::Email(m) => m.send(event, &key).await,
            };
            match outcome {
                Ok(answer) => {
                    return Ok(Delivery {
                        sink: name.to_string(),
                        key,
                        attempts: n,
                        answer,
                    })
                }
                Err(Attempt::Final(reason)) => return Err(failed(n, reason)),
                Err(Attempt::Retry(reason)) if n >= retry.attempts => {
                    return Err(failed(n, reason))
                }
                Err(Attempt::Retry(reason)) => {
                    tracing::info!(sink = name, attempt = n, %reason, "notification not delivered; retrying");
                    tokio::time::sleep(retry.delay(n)).await;
                    n += 1;
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_transport_error_names_the_sink_never_the_url() {
        let yaml = "notifications:\n  sinks:\n    - { name: hook, type: webhook, format: json, url: 'http://127.0.0.1:9/services/SECRET-PATH', retry: { attempts: 2, backoff: 1ms }, timeout: 2s }\n";
        let config = config::parse(std::path::Path::new("r.yaml"), yaml)
            .unwrap()
            .unwrap();
        let n = Notifier::new(config).unwrap();
        let event = Event::new(EventKind::Notify, "r", "m", "k", chrono::Utc::now());
        let e = n.send_to("hook", &event).await.unwrap_err().to_string();
        assert!(
            e.starts_with("notification to sink `hook` failed after 2 attempts: could not connect"),
            "{e}"
        );
        assert!(!e.contains("SECRET") && !e.contains("127.0.0.1:9"), "{e}");
        assert!(!format!("{n:?}").contains("SECRET"));
    }

    #[test]
    fn delivery_keys_are_stable_and_per_sink() {
        assert_eq!(
            delivery_key("plan-1/s0001", "a"),
            delivery_key("plan-1/s0001", "a")
        );
        assert_ne!(
            delivery_key("plan-1/s0001", "a"),
            delivery_key("plan-1/s0001", "b")
        );
        assert_eq!(delivery_key("k", "a").len(), 32);
    }

    #[test]
    fn a_missing_variable_is_named() {
        let yaml = "notifications:\n  sinks:\n    - { name: hook, type: webhook, format: slack, urlEnv: REMEDY_TEST_UNSET_VARIABLE }\n";
        let config = config::parse(std::path::Path::new("r.yaml"), yaml)
            .unwrap()
            .unwrap();
        assert_eq!(
            Notifier::new(config).unwrap_err().to_string(),
            "notification sink `hook`: environment variable `REMEDY_TEST_UNSET_VARIABLE` is not set or empty"
        );
    }
}
