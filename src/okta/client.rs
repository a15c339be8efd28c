//! `OktaClient`: the HTTP engine every endpoint goes through. It owns authentication headers (SSWS, or
//! OAuth with DPoP via `oauth.rs`), the in-flight cap, rate-limit waits (`ratelimit.rs`), retries with
//! capped exponential backoff for calls that are safe to repeat, request counting per endpoint,
//! pagination by `Link` headers, and turning responses into typed errors. The endpoint methods
//! themselves (`OktaApi`) are in `api.rs`.
//!
//! What it logs (through `tracing`): org, endpoint template, attempt, status, request id, rate-limit
//! figures. Never headers, bodies or full URLs, which may carry credentials or one-time URLs.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::BoxStream;
use futures::StreamExt;
use rand::Rng;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::Semaphore;
use url::Url;

use super::config::{validate_org_url, Auth, ClientLimits, ConfigError, OrgConfig};
use super::endpoints::{self, Endpoint};
use super::error::{api_error, decode_message, OktaError};
use super::link::next_link;
use super::model::{Fetched, Page};
use super::oauth::TokenSource;
use super::ratelimit::{until_epoch, Admission, RateBook, RateHeaders};
use super::secret::Secret;

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

/// One request to make: an endpoint, its path parameters and query, an optional JSON body.
#[derive(Clone)]
pub struct Call {
    pub endpoint: &'static Endpoint,
    pub path_params: Vec<String>,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Value>,
    pub if_match: Option<String>,
    /// Overrides the endpoint's own idempotency (a caller that knows repeating is safe).
    pub idempotent: bool,
    /// A `Link: rel="next"` URL to fetch verbatim instead of building one.
    pub(crate) target: Option<Url>,
}

impl Call {
    pub fn new(endpoint: &'static Endpoint) -> Self {
        Self {
            endpoint,
            path_params: Vec::new(),
            query: Vec::new(),
            body: None,
            if_match: None,
            idempotent: endpoint.idempotent,
            target: None,
        }
    }
    pub fn path(mut self, param: impl Into<String>) -> Self {
        self.path_params.push(param.into());
        self
    }
    pub fn query(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }
    pub fn query_opt(self, name: &'static str, value: Option<impl Into<String>>) -> Self {
        match value {
            Some(v) => self.query(name, v),
            None => self,
        }
    }
    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
}

/// A successful response.
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub request_id: Option<String>,
    pub url: Url,
}

// Bodies may hold passwords (a create) or one-time URLs (a reset): Debug shows their size only.
impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("endpoint", &self.endpoint.key())
            .field("path_params", &self.path_params)
            .field("query", &self.query)
            .field("body", &self.body.as_ref().map(|_| "[redacted]"))
            .field("idempotent", &self.idempotent)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("request_id", &self.request_id)
            .field("body_bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl Reply {
    /// The `Link: rel="next"` URL, verbatim.
    pub fn next_link(&self) -> Option<Url> {
        let values = self
            .headers
            .get_all(reqwest::header::LINK)
            .iter()
            .filter_map(|v| v.to_str().ok());
        next_link(values, &self.url)
    }

    pub fn etag(&self) -> Option<String> {
        self.headers
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

fn header_str(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn sensitive(value: &str) -> Result<HeaderValue, ()> {
    let mut v = HeaderValue::from_str(value).map_err(|_| ())?;
    v.set_sensitive(true);
    Ok(v)
}

/// Error text of a reqwest failure with its causes, never the URL.
fn transport_message(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

/// One admitted request's hold on its rate-limit bucket.
struct Reservation<'a> {
    book: &'a RateBook,
    bucket: &'a str,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.book.release(self.bucket);
    }
}

/// Why auth headers could not be built; `transient` when the token endpoint was unreachable or
/// answered 5xx/429, so the same call may be tried again.
struct AuthFailure {
    error: OktaError,
    transient: bool,
}

enum Outcome {
    Done(Reply),
    Retry {
        wait: Duration,
        why: &'static str,
    },
    /// A 429: wait until the bucket's reset, or `None` for a backoff (a concurrency 429).
    RateLimited {
        wait: Option<Duration>,
        request_id: Option<String>,
    },
    Fail(OktaError),
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

    fn count(&self, key: &str) {
        if let Ok(mut c) = self.inner.counts.lock() {
            *c.entry(key.to_string()).or_insert(0) += 1;
        }
    }

    fn url_of(&self, call: &Call) -> Result<Url, OktaError> {
        let invalid = |message: String| OktaError::InvalidRequest {
            org: self.inner.name.clone(),
            call: call.endpoint.key(),
            message,
        };
        if let Some(t) = &call.target {
            // Following a next link to another host would hand it our credentials.
            if t.origin() != self.inner.base_url.origin() {
                return Err(invalid("the next-page link points to another host".into()));
            }
            return Ok(t.clone());
        }
        let mut url = self.inner.base_url.clone();
        {
            let mut segs = url
                .path_segments_mut()
                .map_err(|_| invalid("the org URL cannot have a path".into()))?;
            segs.clear();
            let mut params = call.path_params.iter();
            for seg in call.endpoint.path.trim_start_matches('/').split('/') {
                if seg.starts_with('{') {
                    let p = params
                        .next()
                        .ok_or_else(|| invalid(format!("missing path parameter {seg}")))?;
                    if p.is_empty() {
                        return Err(invalid(format!("empty path parameter {seg}")));
                    }
                    segs.push(p);
                } else {
                    segs.push(seg);
                }
            }
        }
        if !call.query.is_empty() {
            let mut q = url.query_pairs_mut();
            for (k, v) in &call.query {
                debug_assert!(
                    call.endpoint.query.contains(k),
                    "query parameter {k} not declared for {}",
                    call.endpoint.key()
                );
                q.append_pair(k, v);
            }
        }
        Ok(url)
    }

    async fn auth_headers(
        &self,
        method: &str,
        url: &Url,
        headers: &mut HeaderMap,
        call_key: &str,
    ) -> Result<(), AuthFailure> {
        let auth_err = |message: String| AuthFailure {
            error: OktaError::Auth {
                org: self.inner.name.clone(),
                message,
            },
            transient: false,
        };
        match &self.inner.auth {
            AuthState::Ssws(token) => {
                let v = sensitive(&format!("SSWS {}", token.expose())).map_err(|_| {
                    auth_err("the API token has characters not allowed in a header".into())
                })?;
                headers.insert(AUTHORIZATION, v);
            }
            AuthState::OAuth(src) => {
                let token_key = endpoints::TOKEN.key();
                let token = src
                    .token(&self.inner.http, &|| self.count(&token_key))
                    .await
                    .map_err(|e| AuthFailure {
                        transient: e.is_transient(),
                        ..auth_err(e.to_string())
                    })?;
                if token.dpop {
                    let nonce = src.api_nonce();
                    let proof = src
                        .dpop
                        .proof(method, url, Some(&token.token), nonce.as_deref())
                        .map_err(|e| auth_err(e.to_string()))?;
                    headers.insert(
                        AUTHORIZATION,
                        sensitive(&format!("DPoP {}", token.token.expose()))
                            .map_err(|_| auth_err("bad access token".into()))?,
                    );
                    headers.insert(
                        "dpop",
                        sensitive(proof.expose()).map_err(|_| auth_err("bad dpop proof".into()))?,
                    );
                } else {
                    headers.insert(
                        AUTHORIZATION,
                        sensitive(&format!("Bearer {}", token.token.expose()))
                            .map_err(|_| auth_err("bad access token".into()))?,
                    );
                }
                tracing::trace!(org = %self.inner.name, call = %call_key, dpop = token.dpop, "okta oauth headers attached");
            }
        }
        Ok(())
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let l = &self.inner.limits;
        let cap = l
            .backoff_base
            .saturating_mul(2u32.saturating_pow(attempt.min(16)))
            .min(l.backoff_max);
        // Full jitter: spreads the retries of many concurrent calls.
        let ms = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::thread_rng().gen_range(ms / 2..=ms.max(1)))
    }

    fn jitter(&self) -> Duration {
        Duration::from_millis(rand::thread_rng().gen_range(10..=150))
    }

    /// Sends one call with waits and retries, returning the 2xx reply or a typed error.
    pub async fn execute(&self, call: &Call) -> Result<Reply, OktaError> {
        use tracing::Instrument;
        let span =
            tracing::debug_span!("okta_call", org = %self.inner.name, call = %call.endpoint.key());
        self.execute_in_span(call).instrument(span).await
    }

    async fn execute_in_span(&self, call: &Call) -> Result<Reply, OktaError> {
        let key = call.endpoint.key();
        let url = self.url_of(call)?;
        let body = match &call.body {
            Some(b) => Some(
                serde_json::to_vec(b).map_err(|e| OktaError::InvalidRequest {
                    org: self.inner.name.clone(),
                    call: key.clone(),
                    message: e.to_string(),
                })?,
            ),
            None => None,
        };
        let mut retries = 0u32;
        let mut rate_waits = 0u32;
        let mut auth_retried = false;
        loop {
            // Admission before taking an in-flight slot, so a call waiting for one bucket's reset does not
            // hold up calls to other buckets.
            loop {
                match self.inner.rates.admit(&key, Instant::now()) {
                    Admission::Go => break,
                    Admission::Wait(d) => {
                        let d = d + self.jitter();
                        tracing::debug!(org = %self.inner.name, call = %key, wait_ms = d.as_millis() as u64, "okta rate-limit share used up; waiting for the bucket reset");
                        tokio::time::sleep(d).await;
                    }
                }
            }
            let outcome = {
                // Released however the attempt ends, even if the caller drops this future.
                let _reservation = Reservation {
                    book: &self.inner.rates,
                    bucket: &key,
                };
                let permit = self.inner.in_flight.acquire().await;
                let outcome = self
                    .attempt(
                        call,
                        &key,
                        &url,
                        body.as_deref(),
                        retries,
                        &mut auth_retried,
                    )
                    .await;
                drop(permit);
                outcome
            };
            match outcome {
                Outcome::Done(r) => return Ok(r),
                Outcome::Fail(e) => return Err(e),
                Outcome::Retry { wait, why } => {
                    retries += 1;
                    tracing::info!(org = %self.inner.name, call = %key, retry = retries, wait_ms = wait.as_millis() as u64, reason = why, "okta call failed; retrying");
                    tokio::time::sleep(wait).await;
                }
                Outcome::RateLimited { wait, request_id } => {
                    rate_waits += 1;
                    if rate_waits > self.inner.limits.max_rate_limit_waits {
                        return Err(OktaError::RateLimited {
                            org: self.inner.name.clone(),
                            call: key,
                            attempts: rate_waits,
                            request_id,
                        });
                    }
                    let wait = match wait {
                        Some(w) => w + self.jitter(),
                        None => self.backoff(rate_waits - 1),
                    };
                    tracing::info!(org = %self.inner.name, call = %key, wait_ms = wait.as_millis() as u64, request_id = request_id.as_deref().unwrap_or(""), "okta rate limit hit (429); waiting");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    async fn attempt(
        &self,
        call: &Call,
        key: &str,
        url: &Url,
        body: Option<&[u8]>,
        retries: u32,
        auth_retried: &mut bool,
    ) -> Outcome {
        let org = &self.inner.name;
        let method = call.endpoint.method;
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("okta-remedy/", env!("CARGO_PKG_VERSION"))),
        );
        if body.is_some() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        if let Some(tag) = &call.if_match {
            match HeaderValue::from_str(tag) {
                Ok(v) => {
                    headers.insert(reqwest::header::IF_MATCH, v);
                }
                Err(_) => {
                    return Outcome::Fail(OktaError::InvalidRequest {
                        org: org.clone(),
                        call: key.to_string(),
                        message: "the ETag is not a valid header value".into(),
                    })
                }
            }
        }
        if let Err(f) = self.auth_headers(method, url, &mut headers, key).await {
            // No API request went out, so retrying is safe whatever the call.
            if f.transient && retries < self.inner.limits.max_retries {
                return Outcome::Retry {
                    wait: self.backoff(retries),
                    why: "token endpoint unavailable",
                };
            }
            return Outcome::Fail(f.error);
        }
        let m = match reqwest::Method::from_bytes(method.as_bytes()) {
            Ok(m) => m,
            Err(_) => {
                return Outcome::Fail(OktaError::InvalidRequest {
                    org: org.clone(),
                    call: key.to_string(),
                    message: "bad method".into(),
                })
            }
        };
        let mut req = self.inner.http.request(m, url.clone()).headers(headers);
        if let Some(b) = body {
            req = req.body(b.to_vec());
        }
        self.count(key);
        tracing::debug!(org = %org, call = %key, attempt = retries + 1, "okta request");
        let sent = req.send().await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                return self.transport_failure(call, key, e, retries);
            }
        };
        let status = resp.status().as_u16();
        let resp_headers = resp.headers().clone();
        let request_id = header_str(&resp_headers, "x-okta-request-id");
        let rate = RateHeaders::parse(&resp_headers);
        self.inner.rates.record(key, rate, Instant::now());
        let bytes = match resp.bytes().await {
            Ok(b) => b.to_vec(),
            Err(e) => return self.transport_failure(call, key, e, retries),
        };
        tracing::debug!(
            org = %org, call = %key, status, request_id = request_id.as_deref().unwrap_or(""),
            rate_remaining = rate.map(|r| r.remaining), rate_limit = rate.map(|r| r.limit), "okta response"
        );
        if (200..300).contains(&status) {
            return Outcome::Done(Reply {
                status,
                headers: resp_headers,
                body: bytes,
                request_id,
                url: url.clone(),
            });
        }
        if status == 429 {
            let wait = match rate {
                // The bucket still has room, so this 429 is the org's concurrency limit, not the
                // bucket's: a short backoff, not a wait for a reset up to a minute away.
                Some(r) if r.remaining > 0 => {
                    return Outcome::RateLimited {
                        wait: None,
                        request_id,
                    };
                }
                Some(r) => {
                    self.inner.rates.exhausted(key, r.reset_in, Instant::now());
                    r.reset_in
                }
                None => match header_str(&resp_headers, "x-rate-limit-reset")
                    .and_then(|r| r.trim().parse::<u64>().ok())
                {
                    Some(reset) => {
                        let wait = until_epoch(reset, &resp_headers);
                        self.inner.rates.exhausted(key, wait, Instant::now());
                        wait
                    }
                    None => {
                        return Outcome::RateLimited {
                            wait: None,
                            request_id,
                        }
                    }
                },
            };
            return Outcome::RateLimited {
                wait: Some(wait),
                request_id,
            };
        }
        if status == 401 {
            if let AuthState::OAuth(src) = &self.inner.auth {
                if let Some(n) = header_str(&resp_headers, "dpop-nonce") {
                    src.set_api_nonce(&n);
                }
                let www = header_str(&resp_headers, "www-authenticate").unwrap_or_default();
                // The request was refused before anything happened, so one retry with a fresh nonce or
                // token is safe for any method.
                if !*auth_retried {
                    *auth_retried = true;
                    if www.contains("use_dpop_nonce") {
                        return Outcome::Retry {
                            wait: Duration::ZERO,
                            why: "dpop nonce required",
                        };
                    }
                    if www.contains("invalid_token")
                        || api_error(status, &bytes, None, org, key).code
                            == super::error::codes::INVALID_TOKEN
                    {
                        src.invalidate().await;
                        return Outcome::Retry {
                            wait: Duration::ZERO,
                            why: "access token refused; fetching a new one",
                        };
                    }
                }
            }
        }
        let err = api_error(status, &bytes, request_id, org, key);
        if status >= 500 && call.idempotent && retries < self.inner.limits.max_retries {
            return Outcome::Retry {
                wait: self.backoff(retries),
                why: "server error",
            };
        }
        Outcome::Fail(OktaError::Api(Box::new(err)))
    }

    fn transport_failure(
        &self,
        call: &Call,
        key: &str,
        e: reqwest::Error,
        retries: u32,
    ) -> Outcome {
        // A refused connection never reached Okta: safe to retry whatever the call.
        let never_sent = e.is_connect();
        let timeout = e.is_timeout();
        if (call.idempotent || never_sent) && retries < self.inner.limits.max_retries {
            return Outcome::Retry {
                wait: self.backoff(retries),
                why: if timeout {
                    "timeout"
                } else {
                    "connection failed"
                },
            };
        }
        let org = self.inner.name.clone();
        let maybe_applied = !never_sent && !call.idempotent;
        if timeout {
            Outcome::Fail(OktaError::Timeout {
                org,
                call: key.to_string(),
                after: self.inner.limits.timeout,
                maybe_applied,
            })
        } else {
            Outcome::Fail(OktaError::Transport {
                org,
                call: key.to_string(),
                message: transport_message(e),
                maybe_applied,
            })
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

    /// Pages of a list endpoint, following `Link: rel="next"` verbatim until there is none.
    pub fn paginate<T: DeserializeOwned + Send + 'static>(
        &self,
        call: Call,
    ) -> BoxStream<'static, Result<Page<T>, OktaError>> {
        let client = self.clone();
        futures::stream::try_unfold(Some(call), move |state| {
            let client = client.clone();
            async move {
                let Some(call) = state else { return Ok(None) };
                let reply = client.execute(&call).await?;
                let items: Vec<T> = client.decode(&call, &reply)?;
                let next = reply.next_link();
                let next_call = next.map(|u| Call {
                    target: Some(u),
                    query: Vec::new(),
                    ..call.clone()
                });
                Ok(Some((
                    Page {
                        items,
                        request_id: reply.request_id,
                    },
                    next_call,
                )))
            }
        })
        .boxed()
    }

    /// Polls a list endpoint forever (the System Log polling form): follows the next link, and when a
    /// page comes back empty waits `interval` and asks the same link again. Empty pages are not yielded.
    pub fn poll<T: DeserializeOwned + Send + 'static>(
        &self,
        call: Call,
        interval: Duration,
    ) -> BoxStream<'static, Result<Page<T>, OktaError>> {
        let client = self.clone();
        futures::stream::try_unfold(call, move |call| {
            let client = client.clone();
            async move {
                let mut call = call;
                loop {
                    let reply = client.execute(&call).await?;
                    let items: Vec<T> = client.decode(&call, &reply)?;
                    let next = reply.next_link().unwrap_or_else(|| reply.url.clone());
                    call = Call {
                        target: Some(next),
                        query: Vec::new(),
                        ..call
                    };
                    if items.is_empty() {
                        tokio::time::sleep(interval).await;
                        continue;
                    }
                    return Ok(Some((
                        Page {
                            items,
                            request_id: reply.request_id,
                        },
                        call,
                    )));
                }
            }
        })
        .boxed()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
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

    #[test]
    fn debug_of_a_call_hides_its_body() {
        let call = Call::new(&endpoints::CREATE_USER)
            .body(serde_json::json!({"credentials": {"password": {"value": "hunter2"}}}));
        let dbg = format!("{call:?}");
        assert!(!dbg.contains("hunter2"));
        assert!(dbg.contains("POST /api/v1/users"));
    }
}
