//! Okta event hooks, simulated: each configured hook receives its org's new System Log events of the
//! types it subscribes to, as Okta delivers them (the one-time verification `GET` with
//! `X-Okta-Verification-Challenge`, then `POST`s of `com.okta.event_hook` bodies carrying the
//! authentication header, at least once: seeded duplicates, one retry of a failed delivery).
//!
//! This file owns the configuration (`EventHooks`, `EventHook`), its limits and the record of every
//! delivery attempt (`HookDelivery`); the delivering task is in `hooks/deliver.rs`.

mod deliver;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use super::model::OrgName;
use super::runtime::lock;

pub(crate) use deliver::{run, HookTask};

/// At most this many hooks (Okta allows 10 to 25 an org).
pub const MAX_EVENT_HOOKS: usize = 10;
/// At most this many subscribed event types a hook.
pub const MAX_EVENT_TYPES: usize = 100;
/// At most this many events in one delivery; more are split into several deliveries.
pub const MAX_EVENTS_PER_DELIVERY: usize = 50;
/// The longest delivery timeout accepted (Okta waits 3 seconds).
pub const MAX_HOOK_TIMEOUT: Duration = Duration::from_secs(60);
/// Delivery attempts kept for [`super::Sim::hook_deliveries`]; older ones are forgotten.
pub const MAX_DELIVERY_RECORDS: usize = 10_000;

/// The event types a hook subscribes to by default: Org2Org's provisioning failures, and the hub
/// events that can end a wait for a user (a password set, an activation).
pub const DEFAULT_EVENT_TYPES: &[&str] = &[
    "application.provision.user.push",
    "application.provision.user.push_password",
    "user.account.update_password",
    "user.lifecycle.activate",
];

/// One event hook, as an Okta admin registers it on one org.
#[derive(Clone, PartialEq)]
pub struct EventHook {
    /// The org whose events the hook delivers.
    pub org: OrgName,
    /// Where deliveries go (`http` or `https`). It may carry a token: never logged.
    pub url: String,
    /// The authentication header's name (Okta's "Authentication field").
    pub header: String,
    /// The authentication header's value (Okta's "Authentication secret"); none sends no header.
    pub secret: Option<String>,
    /// The event types delivered.
    pub event_types: Vec<String>,
}

impl EventHook {
    /// A hook on `org` to `url`, with Okta's `Authorization` header, no secret, the default types.
    pub fn new(org: OrgName, url: impl Into<String>) -> Self {
        EventHook {
            org,
            url: url.into(),
            header: "Authorization".into(),
            secret: None,
            event_types: DEFAULT_EVENT_TYPES.iter().map(|t| t.to_string()).collect(),
        }
    }

    fn validate(&self) -> Result<(), HookError> {
        let url = url::Url::parse(&self.url).map_err(|_| HookError::Url)?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(HookError::Url);
        }
        axum::http::HeaderName::from_bytes(self.header.as_bytes())
            .map_err(|_| HookError::Header(self.header.clone()))?;
        if let Some(secret) = &self.secret {
            axum::http::HeaderValue::from_str(secret).map_err(|_| HookError::Secret)?;
        }
        if self.event_types.is_empty() || self.event_types.len() > MAX_EVENT_TYPES {
            return Err(HookError::Types(self.event_types.len()));
        }
        if let Some(bad) = self
            .event_types
            .iter()
            .find(|t| t.is_empty() || t.len() > 200 || t.contains(char::is_whitespace))
        {
            return Err(HookError::Type(bad.clone()));
        }
        Ok(())
    }
}

impl std::fmt::Debug for EventHook {
    /// The URL (which may hold a token) and the secret are redacted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventHook")
            .field("org", &self.org)
            .field("url", &"<redacted>")
            .field("header", &self.header)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("event_types", &self.event_types)
            .finish()
    }
}

/// The event hooks of a simulator run and how deliveries behave.
#[derive(Debug, Clone, PartialEq)]
pub struct EventHooks {
    pub hooks: Vec<EventHook>,
    /// Share of deliveries sent a second time, identical (0.0-1.0): Okta delivers at least once.
    pub duplicate_rate: f64,
    /// How long a delivery may take before it counts as failed and is retried (Okta: 3 s).
    pub timeout: Duration,
}

impl Default for EventHooks {
    fn default() -> Self {
        EventHooks {
            hooks: Vec::new(),
            duplicate_rate: 0.0,
            timeout: Duration::from_secs(3),
        }
    }
}

impl EventHooks {
    /// Checks the limits documented on the constants of this module.
    pub fn validate(&self) -> Result<(), HookError> {
        if self.hooks.len() > MAX_EVENT_HOOKS {
            return Err(HookError::Count(self.hooks.len()));
        }
        if !(0.0..=1.0).contains(&self.duplicate_rate) {
            return Err(HookError::DuplicateRate(self.duplicate_rate));
        }
        if self.timeout.is_zero() || self.timeout > MAX_HOOK_TIMEOUT {
            return Err(HookError::Timeout(self.timeout));
        }
        self.hooks.iter().try_for_each(EventHook::validate)
    }
}

/// Why an event hook configuration is refused. Messages never hold the URL or the secret.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum HookError {
    #[error("at most {MAX_EVENT_HOOKS} event hooks, got {0}")]
    Count(usize),
    #[error("an event hook URL must be an absolute http or https URL")]
    Url,
    #[error("`{0}` is not a valid header name")]
    Header(String),
    #[error("the event hook secret is not a valid header value")]
    Secret,
    #[error("an event hook subscribes to 1 to {MAX_EVENT_TYPES} event types, got {0}")]
    Types(usize),
    #[error("`{0}` is not an event type")]
    Type(String),
    #[error("duplicate rate {0} is outside 0.0-1.0")]
    DuplicateRate(f64),
    #[error("event hook timeout {0:?} is not between 1 ms and 60 s")]
    Timeout(Duration),
}

/// What a delivery attempt carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryKind {
    /// The one-time verification `GET`.
    Verification,
    /// A `POST` of events.
    Events,
}

/// One delivery attempt, as [`super::Sim::hook_deliveries`] reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HookDelivery {
    /// The hook's index in `EventHooks::hooks`.
    pub hook: usize,
    pub org: OrgName,
    pub kind: DeliveryKind,
    /// The body's `eventId` (the same on a retry and on a duplicate).
    pub event_id: Option<String>,
    /// The `uuid` of each LogEvent carried, in order.
    pub uuids: Vec<String>,
    /// 1 for the first attempt, 2 for Okta's one retry.
    pub attempt: u32,
    /// A seeded duplicate of a delivery already made.
    pub duplicate: bool,
    /// The receiver's status; None when it did not answer in time or could not be reached.
    pub status: Option<u16>,
    pub latency: Duration,
    /// Why the attempt failed, if it did (never the URL or the secret).
    pub error: Option<String>,
}

impl HookDelivery {
    /// Whether the receiver accepted it (a 2xx; for verification, with the challenge echoed).
    pub fn ok(&self) -> bool {
        self.error.is_none() && self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// The hooks' shared state: verification flags and delivery records.
#[derive(Debug, Default)]
pub(crate) struct HookRecords {
    verified: Vec<AtomicBool>,
    deliveries: Mutex<VecDeque<HookDelivery>>,
}

impl HookRecords {
    pub(crate) fn new(hooks: usize) -> Self {
        HookRecords {
            verified: (0..hooks).map(|_| AtomicBool::new(false)).collect(),
            deliveries: Mutex::new(VecDeque::new()),
        }
    }

    pub(crate) fn record(&self, d: HookDelivery) {
        let mut all = lock(&self.deliveries);
        if all.len() == MAX_DELIVERY_RECORDS {
            all.pop_front();
        }
        all.push_back(d);
    }

    pub(crate) fn set_verified(&self, hook: usize) {
        if let Some(v) = self.verified.get(hook) {
            v.store(true, Ordering::SeqCst);
        }
    }

    pub(crate) fn verified(&self, hook: usize) -> bool {
        self.verified
            .get(hook)
            .is_some_and(|v| v.load(Ordering::SeqCst))
    }

    pub(crate) fn deliveries(&self) -> Vec<HookDelivery> {
        lock(&self.deliveries).iter().cloned().collect()
    }
}
