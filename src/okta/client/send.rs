//! Sending one call until it has an answer: waiting for rate-limit admission, holding an in-flight
//! slot, one attempt at a time (headers, credentials, the request), and the retry loop that sleeps out
//! 429s and backs off before repeating what is safe to repeat. What a response means (success, a
//! retry, a rate-limit wait, an error) is decided in `response.rs`.
//!
//! What it logs (through `tracing`): org, endpoint template, attempt, status, request id, rate-limit
//! figures. Never headers, bodies or full URLs, which may carry credentials or one-time URLs.

use std::time::{Duration, Instant};

use rand::Rng;
use reqwest::header::HeaderMap;
use url::Url;

use super::super::error::OktaError;
use super::super::ratelimit::{Admission, RateBook, RateHeaders};
use super::request::header_str;
use super::{Call, OktaClient, Reply};

/// What one attempt came to.
pub(super) enum Outcome {
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

/// The fixed inputs of every attempt at one call.
pub(super) struct Attempt<'a> {
    pub(super) call: &'a Call,
    /// The endpoint's key (`GET /api/v1/users/{id}`): its rate-limit bucket and counter.
    pub(super) key: &'a str,
    pub(super) url: &'a Url,
    pub(super) body: Option<&'a [u8]>,
    /// Retries made so far (0 on the first attempt).
    pub(super) retries: u32,
}

/// A response as received, before it is classified.
pub(super) struct Received {
    pub(super) status: u16,
    pub(super) headers: HeaderMap,
    pub(super) request_id: Option<String>,
    pub(super) rate: Option<RateHeaders>,
    pub(super) body: Vec<u8>,
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

/// Error text of a reqwest failure with its causes, never the URL.
pub(super) fn transport_message(e: reqwest::Error) -> String {
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

impl OktaClient {
    /// Capped exponential backoff with full jitter for the `attempt`-th retry (0-based).
    pub(super) fn backoff(&self, attempt: u32) -> Duration {
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
        let body = self.encode_body(call, &key)?;
        let mut retries = 0u32;
        let mut rate_waits = 0u32;
        let mut auth_retried = false;
        loop {
            let attempt = Attempt {
                call,
                key: &key,
                url: &url,
                body: body.as_deref(),
                retries,
            };
            let wait = match self.admitted_attempt(&attempt, &mut auth_retried).await {
                Outcome::Done(r) => return Ok(r),
                Outcome::Fail(e) => return Err(e),
                Outcome::Retry { wait, why } => {
                    retries += 1;
                    tracing::info!(org = %self.inner.name, call = %key, retry = retries, wait_ms = wait.as_millis() as u64, reason = why, "okta call failed; retrying");
                    wait
                }
                Outcome::RateLimited { wait, request_id } => {
                    rate_waits += 1;
                    let wait = self.rate_limit_wait(&key, rate_waits, wait, request_id)?;
                    self.inner.rates.waited(&key, wait);
                    wait
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    fn encode_body(&self, call: &Call, key: &str) -> Result<Option<Vec<u8>>, OktaError> {
        call.body
            .as_ref()
            .map(|b| {
                serde_json::to_vec(b).map_err(|e| OktaError::InvalidRequest {
                    org: self.inner.name.clone(),
                    call: key.to_string(),
                    message: e.to_string(),
                })
            })
            .transpose()
    }

    /// How long to wait after the `rate_waits`-th 429 of one call, or the error once the call has
    /// waited as often as the limits allow.
    fn rate_limit_wait(
        &self,
        key: &str,
        rate_waits: u32,
        wait: Option<Duration>,
        request_id: Option<String>,
    ) -> Result<Duration, OktaError> {
        if rate_waits > self.inner.limits.max_rate_limit_waits {
            return Err(OktaError::RateLimited {
                org: self.inner.name.clone(),
                call: key.to_string(),
                attempts: rate_waits,
                request_id,
            });
        }
        let wait = match wait {
            Some(w) => w + self.jitter(),
            None => self.backoff(rate_waits - 1),
        };
        tracing::info!(org = %self.inner.name, call = %key, wait_ms = wait.as_millis() as u64, request_id = request_id.as_deref().unwrap_or(""), "okta rate limit hit (429); waiting");
        self.announce_wait(key, wait, "Okta answered 429");
        Ok(wait)
    }

    /// Says on stderr (a warning, shown without `-v`) that calls to `bucket` wait `d` for its
    /// rate-limit reset, once per reset however many calls wait for it, and only if `d` is long
    /// enough for a person to notice.
    fn announce_wait(&self, bucket: &str, d: Duration, why: &str) {
        if self.inner.rates.announce(bucket, d, Instant::now()) {
            tracing::warn!(
                org = %self.inner.name,
                bucket,
                wait_s = d.as_secs_f64(),
                "waiting {:.1} s for org `{}`'s rate limit on `{bucket}` to reset ({why})",
                d.as_secs_f64(),
                self.inner.name,
            );
        }
    }

    /// One attempt once the call's bucket admits it, holding an in-flight slot.
    async fn admitted_attempt(&self, a: &Attempt<'_>, auth_retried: &mut bool) -> Outcome {
        // Admission before taking an in-flight slot, so a call waiting for one bucket's reset does not
        // hold up calls to other buckets.
        while let Admission::Wait(d) = self.inner.rates.admit(a.key, Instant::now()) {
            let d = d + self.jitter();
            tracing::debug!(org = %self.inner.name, call = %a.key, wait_ms = d.as_millis() as u64, "okta rate-limit share used up; waiting for the bucket reset");
            self.announce_wait(a.key, d, "this client's share of it is used up");
            self.inner.rates.waited(a.key, d);
            tokio::time::sleep(d).await;
        }
        // Released however the attempt ends, even if the caller drops this future.
        let _reservation = Reservation {
            book: &self.inner.rates,
            bucket: a.key,
        };
        let permit = self.inner.in_flight.acquire().await;
        let outcome = self.attempt(a, auth_retried).await;
        drop(permit);
        outcome
    }

    /// One attempt: headers and credentials, the request, and what its response means.
    async fn attempt(&self, a: &Attempt<'_>, auth_retried: &mut bool) -> Outcome {
        let mut headers = match self.request_headers(a.call, a.key, a.body.is_some()) {
            Ok(h) => h,
            Err(e) => return Outcome::Fail(e),
        };
        let method = a.call.endpoint.method;
        if let Err(f) = self.auth_headers(method, a.url, &mut headers, a.key).await {
            // No API request went out, so retrying is safe whatever the call.
            if f.transient && a.retries < self.inner.limits.max_retries {
                return Outcome::Retry {
                    wait: self.backoff(a.retries),
                    why: "token endpoint unavailable",
                };
            }
            return Outcome::Fail(f.error);
        }
        match self.send(a, headers).await {
            Ok(received) => self.classify(a, received, auth_retried).await,
            Err(outcome) => outcome,
        }
    }

    /// Sends the request and reads the whole response; a transport failure is already an outcome.
    async fn send(&self, a: &Attempt<'_>, headers: HeaderMap) -> Result<Received, Outcome> {
        let org = &self.inner.name;
        let key = a.key;
        let method =
            reqwest::Method::from_bytes(a.call.endpoint.method.as_bytes()).map_err(|_| {
                Outcome::Fail(OktaError::InvalidRequest {
                    org: org.clone(),
                    call: key.to_string(),
                    message: "bad method".into(),
                })
            })?;
        let mut req = self
            .inner
            .http
            .request(method, a.url.clone())
            .headers(headers);
        if let Some(b) = a.body {
            req = req.body(b.to_vec());
        }
        self.count(key);
        tracing::debug!(org = %org, call = %key, attempt = a.retries + 1, "okta request");
        let resp = req.send().await.map_err(|e| self.transport_failure(a, e))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let request_id = header_str(&headers, "x-okta-request-id");
        let rate = RateHeaders::parse(&headers);
        self.inner.rates.record(key, rate, Instant::now());
        let body = resp
            .bytes()
            .await
            .map_err(|e| self.transport_failure(a, e))?
            .to_vec();
        tracing::debug!(
            org = %org, call = %key, status, request_id = request_id.as_deref().unwrap_or(""),
            rate_remaining = rate.map(|r| r.remaining), rate_limit = rate.map(|r| r.limit), "okta response"
        );
        Ok(Received {
            status,
            headers,
            request_id,
            rate,
            body,
        })
    }

    fn transport_failure(&self, a: &Attempt<'_>, e: reqwest::Error) -> Outcome {
        // A refused connection never reached Okta: safe to retry whatever the call.
        let never_sent = e.is_connect();
        let timeout = e.is_timeout();
        if (a.call.idempotent || never_sent) && a.retries < self.inner.limits.max_retries {
            return Outcome::Retry {
                wait: self.backoff(a.retries),
                why: if timeout {
                    "timeout"
                } else {
                    "connection failed"
                },
            };
        }
        let org = self.inner.name.clone();
        let maybe_applied = !never_sent && !a.call.idempotent;
        if timeout {
            Outcome::Fail(OktaError::Timeout {
                org,
                call: a.key.to_string(),
                after: self.inner.limits.timeout,
                maybe_applied,
            })
        } else {
            Outcome::Fail(OktaError::Transport {
                org,
                call: a.key.to_string(),
                message: transport_message(e),
                maybe_applied,
            })
        }
    }
}
