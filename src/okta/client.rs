//! `OktaClient`: the HTTP engine every endpoint goes through, for one org. This file owns the client's
//! shared state (org, base URL, credentials, limits, rate-limit book, request counters) and the typed
//! ways to send a call ([`OktaClient::fetch`], [`OktaClient::call_json`], ...). The endpoint methods
//! themselves (`OktaApi`) are in `api.rs`.
//!
//! - `client/call.rs`: [`Call`] and [`Reply`], the request and the success as values.
//! - `client/request.rs`: URL and headers of a request, with SSWS or OAuth (`oauth.rs`) credentials.
//! - `client/send.rs`: rate-limit admission, the in-flight cap, one attempt, the retry loop.
//! - `client/response.rs`: what a response means (success, 429 wait, token retry, 5xx retry, error).
//! - `client/pages.rs`: pagination by `Link` headers and System Log polling.

mod call;
mod pages;
mod request;
mod response;
mod send;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::Semaphore;
use url::Url;

use super::config::{validate_org_url, Auth, ClientLimits, ConfigError, OrgConfig};
use super::error::{decode_message, OktaError};
use super::model::Fetched;
use super::oauth::TokenSource;
use super::ratelimit::RateBook;
use super::secret::Secret;
use send::transport_message;

pub use call::{Call, Reply};

/// A client for one Okta org. Cheap to clone (state is shared behind an `Arc`).
#[derive(Clone, Debug)]
pub struct OktaClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    name: String,
    base_url: Url,
    http: reqwest::Client,
    auth: AuthState,
    limits: ClientLimits,
    in_flight: Semaphore,
    rates: RateBook,
    counts: Mutex<BTreeMap<String, u64>>,
}

#[derive(Debug)]
enum AuthState {
    Ssws(Secret),
    OAuth(Box<TokenSource>),
}

impl OktaClient {
    /// Builds a client; fails on an unusable configuration (a key that does not parse, say).
    pub fn new(cfg: OrgConfig) -> Result<Self, OktaError> {
        // An OrgConfig may be built by hand, bypassing `load_orgs`: check the URL again so credentials
        // never go to a plain-http, non-loopback host.
        validate_org_url(&cfg.name, cfg.base_url.as_str())
            .map_err(|e| OktaError::Config(Box::new(e)))?;
        let config_err = |message: String| {
            OktaError::Config(Box::new(ConfigError::InvalidKey {
                org: cfg.name.clone(),
                message,
            }))
        };
        let auth = match &cfg.auth {
            Auth::Ssws(t) => AuthState::Ssws(t.clone()),
            Auth::PrivateKey {
                client_id,
                key,
                kid,
                scopes,
            } => AuthState::OAuth(Box::new(
                TokenSource::new(
                    &cfg.base_url,
                    client_id.clone(),
                    key,
                    kid.clone(),
                    scopes.clone(),
                )
                .map_err(|e| config_err(e.to_string()))?,
            )),
        };
        let http = reqwest::Client::builder()
            .timeout(cfg.limits.timeout)
            .connect_timeout(cfg.limits.timeout.min(Duration::from_secs(10)))
            // Redirects could carry the Authorization header elsewhere; Okta's API does not redirect.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| OktaError::Transport {
                org: cfg.name.clone(),
                call: "client setup".into(),
                message: transport_message(e),
                maybe_applied: false,
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                name: cfg.name,
                base_url: cfg.base_url,
                http,
                auth,
                in_flight: Semaphore::new(cfg.limits.max_in_flight.max(1)),
                rates: RateBook::new(cfg.limits.max_capacity_share),
                limits: cfg.limits,
                counts: Mutex::new(BTreeMap::new()),
            }),
        })
    }

    /// The org's name in configuration.
    pub fn org_name(&self) -> &str {
        &self.inner.name
    }

    pub fn base_url(&self) -> &Url {
        &self.inner.base_url
    }

    /// Requests sent so far per endpoint (`GET /api/v1/users/{id}`), retries included, the token
    /// endpoint too.
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        self.inner
            .counts
            .lock()
            .map(|c| c.clone())
            .unwrap_or_default()
    }

    /// Requests per endpoint with the rate-limit buckets they used: what [`RequestReport`] is built
    /// from.
    pub fn request_report(&self) -> crate::okta::RequestReport {
        crate::okta::RequestReport::of(
            self.org_name(),
            &self.request_counts(),
            &self.inner.rates.usage(),
            self.inner.rates.share(),
        )
    }

    /// Each rate-limit bucket's (remaining, limit) as Okta last announced it.
    pub fn rate_headroom(&self) -> BTreeMap<String, (u64, u64)> {
        self.inner.rates.headroom()
    }

    fn count(&self, key: &str) {
        if let Ok(mut c) = self.inner.counts.lock() {
            *c.entry(key.to_string()).or_insert(0) += 1;
        }
    }

    /// Sends a call and decodes its JSON body.
    pub async fn fetch<T: DeserializeOwned>(&self, call: &Call) -> Result<Fetched<T>, OktaError> {
        let reply = self.execute(call).await?;
        let value = self.decode(call, &reply)?;
        Ok(Fetched {
            value,
            etag: reply.etag(),
            request_id: reply.request_id,
        })
    }

    /// Sends a call whose body does not matter.
    pub async fn send_unit(&self, call: &Call) -> Result<Fetched<()>, OktaError> {
        let reply = self.execute(call).await?;
        Ok(Fetched {
            value: (),
            etag: reply.etag(),
            request_id: reply.request_id,
        })
    }

    /// Like [`OktaClient::fetch`], with 404 as `None`.
    pub async fn fetch_optional<T: DeserializeOwned>(
        &self,
        call: &Call,
    ) -> Result<Option<Fetched<T>>, OktaError> {
        match self.fetch(call).await {
            Ok(f) => Ok(Some(f)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn decode<T: DeserializeOwned>(&self, call: &Call, reply: &Reply) -> Result<T, OktaError> {
        serde_json::from_slice(&reply.body).map_err(|e| OktaError::Decode {
            org: self.inner.name.clone(),
            call: call.endpoint.key(),
            message: decode_message(&e),
            request_id: reply.request_id.clone(),
        })
    }

    /// Any endpoint of the table with a caller-chosen idempotency: the way to mark a mutating call safe
    /// to repeat. Returns the JSON body (`null` when empty).
    pub async fn call_json(
        &self,
        mut call: Call,
        idempotent: bool,
    ) -> Result<Fetched<Value>, OktaError> {
        call.idempotent = idempotent;
        let reply = self.execute(&call).await?;
        let value = if reply.body.is_empty() {
            Value::Null
        } else {
            self.decode(&call, &reply)?
        };
        Ok(Fetched {
            value,
            etag: reply.etag(),
            request_id: reply.request_id,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::endpoints;
    use super::*;

    fn client(limits: ClientLimits) -> OktaClient {
        OktaClient::new(OrgConfig {
            name: "hub".into(),
            base_url: Url::parse("https://hub.okta.com").unwrap(),
            auth: Auth::Ssws(Secret::new("t")),
            limits,
        })
        .unwrap()
    }

    #[test]
    fn paths_are_built_from_templates_with_encoded_segments() {
        let c = client(ClientLimits::default());
        let call = Call::new(&endpoints::GET_APP_USER)
            .path("0oa1")
            .path("a/b@example.com")
            .query("expand", "user");
        assert_eq!(
            c.url_of(&call).unwrap().as_str(),
            "https://hub.okta.com/api/v1/apps/0oa1/users/a%2Fb@example.com?expand=user"
        );
        let missing = Call::new(&endpoints::GET_APP_USER).path("0oa1");
        assert!(matches!(
            c.url_of(&missing),
            Err(OktaError::InvalidRequest { .. })
        ));
        let empty = Call::new(&endpoints::GET_USER).path("");
        assert!(matches!(
            c.url_of(&empty),
            Err(OktaError::InvalidRequest { .. })
        ));
    }

    #[test]
    fn a_next_link_to_another_host_is_refused() {
        let c = client(ClientLimits::default());
        let mut call = Call::new(&endpoints::LIST_USERS);
        call.target = Some(Url::parse("https://evil.example.com/api/v1/users?after=x").unwrap());
        assert!(matches!(
            c.url_of(&call),
            Err(OktaError::InvalidRequest { .. })
        ));
        call.target = Some(Url::parse("https://hub.okta.com/api/v1/users?after=x").unwrap());
        assert_eq!(c.url_of(&call).unwrap().query(), Some("after=x"));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let c = client(ClientLimits {
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_millis(700),
            ..Default::default()
        });
        for attempt in 0..10 {
            let cap = (100u64 << attempt.min(10)).min(700);
            let d = c.backoff(attempt).as_millis() as u64;
            assert!(
                d >= cap / 2 && d <= cap,
                "attempt {attempt}: {d} ms outside [{}, {cap}]",
                cap / 2
            );
        }
    }

    #[test]
    fn plain_http_is_refused_even_for_a_hand_built_config() {
        let e = OktaClient::new(OrgConfig {
            name: "hub".into(),
            base_url: Url::parse("http://hub.okta.com").unwrap(),
            auth: Auth::Ssws(Secret::new("t")),
            limits: ClientLimits::default(),
        })
        .unwrap_err();
        assert!(e.to_string().contains("must use https"), "{e}");
    }
}
