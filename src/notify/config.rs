//! The `notifications:` section of `remedy.yaml`: its serde shape (which never leaves this file) and
//! its validation into [`NotifyConfig`], with errors that name the sink. Secrets are not read here:
//! a sink names the environment variables that hold its webhook URL or SMTP credentials, and
//! [`super::Notifier::new`] reads them. An inline webhook URL is kept as a [`Secret`].
//!
//! Other top-level keys of the file (`orgs:`, `remediations:`) belong to other readers and are
//! ignored here.
//!
//! # Limits
//! - the file: at most [`MAX_FILE_BYTES`] bytes, read before parsing;
//! - at most [`MAX_SINKS`] sinks, names of 1 to [`MAX_NAME_LEN`] characters from
//!   `A-Z a-z 0-9 # . _ -` (so a Slack-like `#identity-ops` is a valid name), unique;
//! - an e-mail sink: at most [`MAX_RECIPIENTS`] recipients;
//! - `retry.attempts` 1 to [`MAX_ATTEMPTS`], `retry.backoff` at most [`MAX_BACKOFF`], `timeout` 1 ms to
//!   [`MAX_TIMEOUT`];
//! - `remediations` and `events`: at most [`MAX_FILTER_ITEMS`] entries each.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::event::EventKind;
use crate::okta::Secret;

/// The largest config file read.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// Sinks in one config.
pub const MAX_SINKS: usize = 32;
/// Characters in a sink name.
pub const MAX_NAME_LEN: usize = 64;
/// Recipients of one e-mail sink.
pub const MAX_RECIPIENTS: usize = 50;
/// Delivery attempts of one message to one sink.
pub const MAX_ATTEMPTS: u32 = 10;
/// The longest first backoff (it doubles per attempt, capped at [`MAX_BACKOFF`] too).
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// The longest time one attempt may take.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(120);
/// Entries of a `remediations` or `events` filter.
pub const MAX_FILTER_ITEMS: usize = 100;

const DEFAULT_ATTEMPTS: u32 = 3;
const DEFAULT_BACKOFF: Duration = Duration::from_secs(1);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A problem in the `notifications:` section, naming the file and the sink.
#[derive(Debug, thiserror::Error)]
pub enum NotifyConfigError {
    #[error("cannot read `{path}`: {message}")]
    Read { path: PathBuf, message: String },
    #[error("`{path}` is larger than {MAX_FILE_BYTES} bytes")]
    TooLarge { path: PathBuf },
    #[error("`{path}`: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("`{path}`: {count} notification sinks; at most {MAX_SINKS} are allowed")]
    TooManySinks { path: PathBuf, count: usize },
    #[error("`{path}`: notification sink `{sink}`: {message}")]
    Sink {
        path: PathBuf,
        sink: String,
        message: String,
    },
}

/// `notifications:` as validated: the sinks in file order.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    pub sinks: Vec<SinkConfig>,
}

/// One sink: where it delivers, what it takes, how hard it tries.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    pub name: String,
    pub target: Target,
    pub filter: Filter,
    pub retry: Retry,
    /// The longest one attempt may take.
    pub timeout: Duration,
}

/// Where a sink delivers.
#[derive(Debug, Clone)]
pub enum Target {
    Webhook {
        url: UrlSource,
        format: WebhookFormat,
    },
    Email(EmailTarget),
}

/// A webhook URL: inline (a secret all the same) or the name of the environment variable holding it.
#[derive(Debug, Clone)]
pub enum UrlSource {
    Inline(Secret),
    Env(String),
}

/// The body a webhook receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// A Slack incoming-webhook body: `text`, with `blocks`.
    Slack,
    /// The generic event (see `docs/notifications.md`).
    Json,
}

/// An SMTP server and the envelope.
#[derive(Debug, Clone)]
pub struct EmailTarget {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub from: String,
    pub to: Vec<String>,
    /// Environment variables holding the SMTP user name and password (both or neither).
    pub credentials: Option<(String, String)>,
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain connection upgraded with STARTTLS (required, not opportunistic); port 587 by default.
    Starttls,
    /// TLS from the first byte (SMTPS); port 465 by default.
    Tls,
    /// No encryption at all: only to a loopback host and without credentials (local tests).
    Plain,
}

/// Which events a sink takes: `None` is all.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub remediations: Option<Vec<String>>,
    pub events: Option<Vec<EventKind>>,
}

impl Filter {
    /// Whether the sink takes an event of `kind` from `remediation`.
    pub fn accepts(&self, kind: EventKind, remediation: &str) -> bool {
        self.events.as_ref().is_none_or(|e| e.contains(&kind))
            && self
                .remediations
                .as_ref()
                .is_none_or(|r| r.iter().any(|n| n == remediation))
    }
}

/// Bounded retries with exponential backoff (no jitter: delivery timing is deterministic).
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The wait after the first failed attempt; doubled after each further one.
    pub backoff: Duration,
}

impl Retry {
    /// The wait after failed attempt `n` (1-based), capped at [`MAX_BACKOFF`].
    pub fn delay(&self, n: u32) -> Duration {
        let factor = 2u32.saturating_pow(n.saturating_sub(1));
        self.backoff.saturating_mul(factor).min(MAX_BACKOFF)
    }
}

#[derive(Debug, Deserialize)]
struct File {
    #[serde(default)]
    notifications: Option<Section>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Section {
    #[serde(default)]
    sinks: Vec<SinkSpec>,
}

/// One sink as written: every key of every type, checked per type by [`validate_sink`].
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SinkSpec {
    name: String,
    #[serde(rename = "type")]
    kind: SinkKind,
    remediations: Option<Vec<String>>,
    events: Option<Vec<String>>,
    retry: Option<RetrySpec>,
    timeout: Option<String>,
    // webhook
    url: Option<Secret>,
    url_env: Option<String>,
    format: Option<WebhookFormat>,
    // email
    host: Option<String>,
    port: Option<u16>,
    security: Option<Security>,
    from: Option<String>,
    to: Option<Vec<String>>,
    username_env: Option<String>,
    password_env: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum SinkKind {
    Webhook,
    Email,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetrySpec {
    attempts: Option<u32>,
    backoff: Option<String>,
}

/// The `notifications:` section of the YAML file at `path`, validated; `None` when the file has
/// none.
pub fn read(path: &Path) -> Result<Option<NotifyConfig>, NotifyConfigError> {
    let read_err = |e: std::io::Error| NotifyConfigError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let len = std::fs::metadata(path).map_err(read_err)?.len();
    if len > MAX_FILE_BYTES {
        return Err(NotifyConfigError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    let text = std::fs::read_to_string(path).map_err(read_err)?;
    parse(path, &text)
}

/// Parses and validates the `notifications:` section of `text` (`path` is for messages).
pub fn parse(path: &Path, text: &str) -> Result<Option<NotifyConfig>, NotifyConfigError> {
    let file: File = serde_yaml::from_str(text).map_err(|e| NotifyConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let Some(section) = file.notifications else {
        return Ok(None);
    };
    if section.sinks.len() > MAX_SINKS {
        return Err(NotifyConfigError::TooManySinks {
            path: path.to_path_buf(),
            count: section.sinks.len(),
        });
    }
    let mut sinks: Vec<SinkConfig> = Vec::with_capacity(section.sinks.len());
    for spec in section.sinks {
        let name = spec.name.clone();
        let err = |message: String| NotifyConfigError::Sink {
            path: path.to_path_buf(),
            sink: name.clone(),
            message,
        };
        if sinks.iter().any(|s| s.name == spec.name) {
            return Err(err("the name is used by another sink".into()));
        }
        sinks.push(validate_sink(spec).map_err(err)?);
    }
    Ok(Some(NotifyConfig { sinks }))
}

fn validate_sink(spec: SinkSpec) -> Result<SinkConfig, String> {
    check_name(&spec.name)?;
    let target = match spec.kind {
        SinkKind::Webhook => webhook(&spec)?,
        SinkKind::Email => email(&spec)?,
    };
    let filter = Filter {
        remediations: spec.remediations.map(bounded("remediations")).transpose()?,
        events: spec
            .events
            .map(bounded("events"))
            .transpose()?
            .map(|names| names.iter().map(|n| event_kind(n)).collect())
            .transpose()?,
    };
    let retry = match spec.retry {
        None => Retry {
            attempts: DEFAULT_ATTEMPTS,
            backoff: DEFAULT_BACKOFF,
        },
        Some(r) => Retry {
            attempts: r.attempts.unwrap_or(DEFAULT_ATTEMPTS),
            backoff: r
                .backoff
                .map(|b| duration("retry.backoff", &b))
                .transpose()?
                .unwrap_or(DEFAULT_BACKOFF),
        },
    };
    if !(1..=MAX_ATTEMPTS).contains(&retry.attempts) {
        return Err(format!(
            "`retry.attempts` is {}; it must be 1 to {MAX_ATTEMPTS}",
            retry.attempts
        ));
    }
    if retry.backoff > MAX_BACKOFF {
        return Err(format!(
            "`retry.backoff` is over {}",
            humantime::format_duration(MAX_BACKOFF)
        ));
    }
    let timeout = spec
        .timeout
        .as_deref()
        .map(|t| duration("timeout", t))
        .transpose()?
        .unwrap_or(DEFAULT_TIMEOUT);
    if timeout.is_zero() || timeout > MAX_TIMEOUT {
        return Err(format!(
            "`timeout` must be more than 0 and at most {}",
            humantime::format_duration(MAX_TIMEOUT)
        ));
    }
    Ok(SinkConfig {
        name: spec.name,
        target,
        filter,
        retry,
        timeout,
    })
}

fn check_name(name: &str) -> Result<(), String> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '#' | '.' | '_' | '-');
    if name.is_empty() || name.chars().count() > MAX_NAME_LEN || !name.chars().all(ok_char) {
        return Err(format!(
            "a sink name is 1 to {MAX_NAME_LEN} characters from `A-Z a-z 0-9 # . _ -`"
        ));
    }
    Ok(())
}

fn bounded(what: &'static str) -> impl Fn(Vec<String>) -> Result<Vec<String>, String> {
    move |v| {
        if v.len() > MAX_FILTER_ITEMS {
            Err(format!(
                "`{what}` has {} entries; at most {MAX_FILTER_ITEMS}",
                v.len()
            ))
        } else {
            Ok(v)
        }
    }
}

fn event_kind(name: &str) -> Result<EventKind, String> {
    EventKind::ALL
        .iter()
        .copied()
        .find(|k| k.name() == name)
        .ok_or_else(|| {
            let names: Vec<String> = EventKind::ALL
                .iter()
                .map(|k| format!("`{}`", k.name()))
                .collect();
            format!(
                "unknown event `{name}`; the events are {}",
                names.join(", ")
            )
        })
}

fn duration(what: &str, text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("`{what}` `{text}` is not a duration such as `10s` ({e})"))
}

/// Keys of the other sink type, which are mistakes on this one.
fn refuse(present: &[(&str, bool)], kind: &str) -> Result<(), String> {
    match present.iter().find(|(_, p)| *p) {
        Some((key, _)) => Err(format!("`{key}` is not a setting of a {kind} sink")),
        None => Ok(()),
    }
}

fn webhook(spec: &SinkSpec) -> Result<Target, String> {
    refuse(
        &[
            ("host", spec.host.is_some()),
            ("port", spec.port.is_some()),
            ("security", spec.security.is_some()),
            ("from", spec.from.is_some()),
            ("to", spec.to.is_some()),
            ("usernameEnv", spec.username_env.is_some()),
            ("passwordEnv", spec.password_env.is_some()),
        ],
        "webhook",
    )?;
    let url = match (&spec.url, &spec.url_env) {
        (Some(_), Some(_)) => return Err("give `url` or `urlEnv`, not both".into()),
        (None, None) => {
            return Err("a webhook sink needs `urlEnv` (or an inline `url`)".into());
        }
        (Some(url), None) => {
            check_url(url.expose())?;
            UrlSource::Inline(url.clone())
        }
        (None, Some(var)) => UrlSource::Env(env_name("urlEnv", var)?),
    };
    let format = spec
        .format
        .ok_or("a webhook sink needs `format`: `slack` or `json`")?;
    Ok(Target::Webhook { url, format })
}

/// An `http(s)` URL with a host. The URL itself never appears in the message: it may hold a token.
pub(super) fn check_url(url: &str) -> Result<(), String> {
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "https" | "http") && u.host().is_some() => Ok(()),
        _ => Err("the webhook URL is not an `http` or `https` URL with a host".into()),
    }
}

fn env_name(what: &str, name: &str) -> Result<String, String> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(name.to_string())
    } else {
        Err(format!(
            "`{what}` names an environment variable: letters, digits and `_`"
        ))
    }
}

fn email(spec: &SinkSpec) -> Result<Target, String> {
    refuse(
        &[
            ("url", spec.url.is_some()),
            ("urlEnv", spec.url_env.is_some()),
            ("format", spec.format.is_some()),
        ],
        "email",
    )?;
    let host = spec
        .host
        .clone()
        .filter(|h| !h.trim().is_empty())
        .ok_or("an email sink needs `host`")?;
    let security = spec
        .security
        .ok_or("an email sink needs `security`: `starttls`, `tls` or `plain`")?;
    let credentials = match (&spec.username_env, &spec.password_env) {
        (Some(u), Some(p)) => Some((env_name("usernameEnv", u)?, env_name("passwordEnv", p)?)),
        (None, None) => None,
        _ => return Err("give both `usernameEnv` and `passwordEnv`, or neither".into()),
    };
    if security == Security::Plain {
        if !is_loopback(&host) {
            return Err(format!(
                "`security: plain` sends mail unencrypted and is allowed only to a loopback host (for local tests), not `{host}`"
            ));
        }
        if credentials.is_some() {
            return Err("`security: plain` would send the SMTP password unencrypted: use `starttls` or `tls`".into());
        }
    }
    let from = spec.from.clone().ok_or("an email sink needs `from`")?;
    check_address("from", &from)?;
    let to = spec.to.clone().unwrap_or_default();
    if to.is_empty() || to.len() > MAX_RECIPIENTS {
        return Err(format!(
            "`to` lists 1 to {MAX_RECIPIENTS} recipients, not {}",
            to.len()
        ));
    }
    for a in &to {
        check_address("to", a)?;
    }
    let port = spec.port.unwrap_or(match security {
        Security::Starttls => 587,
        Security::Tls => 465,
        Security::Plain => 25,
    });
    Ok(Target::Email(EmailTarget {
        host,
        port,
        security,
        from,
        to,
        credentials,
    }))
}

fn check_address(what: &str, address: &str) -> Result<(), String> {
    address
        .parse::<lettre::message::Mailbox>()
        .map(|_| ())
        .map_err(|e| format!("`{what}` address `{address}` is not an e-mail address ({e})"))
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn err(yaml: &str) -> String {
        parse(Path::new("remedy.yaml"), yaml)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_full_config_validates_and_other_sections_are_ignored() {
        let yaml = "orgs: { hub: { orgUrl: x } }\nremediations: [whatever]\nnotifications:\n  sinks:\n    - { name: '#ops', type: webhook, format: slack, urlEnv: SLACK_URL, events: [run_finished, notify] }\n    - { name: mail, type: email, host: smtp.example.com, security: starttls, from: remedy@example.com, to: [a@example.com], usernameEnv: U, passwordEnv: P, retry: { attempts: 5, backoff: 10ms }, timeout: 3s }\n";
        let c = parse(Path::new("remedy.yaml"), yaml).unwrap().unwrap();
        assert_eq!(c.sinks.len(), 2);
        assert_eq!(c.sinks[0].name, "#ops");
        assert!(c.sinks[0]
            .filter
            .accepts(EventKind::RunFinished, "anything"));
        assert!(!c.sinks[0].filter.accepts(EventKind::StepFailed, "anything"));
        let Target::Email(e) = &c.sinks[1].target else {
            panic!("email")
        };
        assert_eq!(e.port, 587);
        assert_eq!(c.sinks[1].retry.attempts, 5);
        assert_eq!(c.sinks[1].retry.delay(3), Duration::from_millis(40));
        assert!(parse(Path::new("x"), "orgs: {}\n").unwrap().is_none());
    }

    #[test]
    fn mistakes_name_the_sink() {
        assert_eq!(
            err("notifications:\n  sinks:\n    - { name: hook, type: webhook, format: json }\n"),
            "`remedy.yaml`: notification sink `hook`: a webhook sink needs `urlEnv` (or an inline `url`)"
        );
        assert!(err("notifications:\n  sinks:\n    - { name: hook, type: webhook, format: json, urlEnv: X, events: [plan_writen] }\n")
            .contains("sink `hook`: unknown event `plan_writen`; the events are `plan_written`"));
        assert!(err("notifications:\n  sinks:\n    - { name: m, type: email, host: smtp.example.com, security: plain, from: a@b.c, to: [d@e.f] }\n")
            .contains("allowed only to a loopback host"));
        assert!(err("notifications:\n  sinks:\n    - { name: m, type: email, host: 127.0.0.1, security: plain, from: a@b.c, to: [d@e.f], usernameEnv: U, passwordEnv: P }\n")
            .contains("unencrypted"));
        assert!(err("notifications:\n  sinks:\n    - { name: m, type: email, host: h, security: tls, from: a@b.c, to: [d@e.f], urlEnv: X }\n")
            .contains("`urlEnv` is not a setting of a email sink"));
        assert!(err("notifications:\n  sinks:\n    - { name: a, type: webhook, format: json, urlEnv: X }\n    - { name: a, type: webhook, format: json, urlEnv: Y }\n")
            .contains("sink `a`: the name is used by another sink"));
        assert!(err("notifications:\n  sinks:\n    - { name: a, type: webhook, format: json, urlEnv: X, retry: { attempts: 0 } }\n")
            .contains("`retry.attempts` is 0"));
    }

    #[test]
    fn an_inline_url_never_appears_in_an_error() {
        let e = err("notifications:\n  sinks:\n    - { name: a, type: webhook, format: json, url: 'ftp://hooks.example.com/T0/SECRET' }\n");
        assert!(!e.contains("SECRET"), "{e}");
        let e = err("notifications:\n  sinks:\n    - { name: a, type: webhook, url: 'https://hooks.example.com/T0/SECRET', urlEnv: X }\n");
        assert!(!e.contains("SECRET"), "{e}");
    }
}
