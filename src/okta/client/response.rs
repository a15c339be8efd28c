//! What a received response means for the call that got it: a success; a 429 to wait out (until the
//! bucket's reset, or a short backoff when the bucket still has room and the 429 is the org's
//! concurrency limit); a refused OAuth token or a DPoP nonce challenge, answered once by repeating the
//! call; a 5xx retried when the call is safe to repeat; anything else a typed [`OktaError`].

use std::time::{Duration, Instant};

use super::super::error::{api_error, codes, OktaError};
use super::super::ratelimit::until_epoch;
use super::request::header_str;
use super::send::{Attempt, Outcome, Received};
use super::{AuthState, OktaClient, Reply};

impl OktaClient {
    pub(super) async fn classify(
        &self,
        a: &Attempt<'_>,
        r: Received,
        auth_retried: &mut bool,
    ) -> Outcome {
        let org = &self.inner.name;
        if (200..300).contains(&r.status) {
            return Outcome::Done(Reply {
                status: r.status,
                headers: r.headers,
                body: r.body,
                request_id: r.request_id,
                url: a.url.clone(),
            });
        }
        if r.status == 429 {
            return self.rate_limited(a.key, r);
        }
        if r.status == 401 {
            if let Some(retry) = self.answer_refused_token(a.key, &r, auth_retried).await {
                return retry;
            }
        }
        let err = api_error(r.status, &r.body, r.request_id, org, a.key);
        if r.status >= 500 && a.call.idempotent && a.retries < self.inner.limits.max_retries {
            return Outcome::Retry {
                wait: self.backoff(a.retries),
                why: "server error",
            };
        }
        Outcome::Fail(OktaError::Api(Box::new(err)))
    }

    /// A 429: how long the bucket says to wait, recorded so other calls to it wait too.
    fn rate_limited(&self, key: &str, r: Received) -> Outcome {
        let backoff = Outcome::RateLimited {
            wait: None,
            request_id: r.request_id.clone(),
        };
        let wait = match r.rate {
            // The bucket still has room, so this 429 is the org's concurrency limit, not the
            // bucket's: a short backoff, not a wait for a reset up to a minute away.
            Some(rate) if rate.remaining > 0 => return backoff,
            Some(rate) => rate.reset_in,
            None => match header_str(&r.headers, "x-rate-limit-reset")
                .and_then(|v| v.trim().parse::<u64>().ok())
            {
                Some(reset) => until_epoch(reset, &r.headers),
                None => return backoff,
            },
        };
        self.inner.rates.exhausted(key, wait, Instant::now());
        Outcome::RateLimited {
            wait: Some(wait),
            request_id: r.request_id,
        }
    }

    /// A 401 to an OAuth call that one repeat may cure: a DPoP nonce challenge (the nonce is
    /// remembered for the repeat) or an access token the API refused (a new one is fetched). The
    /// request was refused before anything happened, so the repeat is safe for any method. `None`
    /// when the 401 is final, as it is once the call has been repeated for this reason.
    async fn answer_refused_token(
        &self,
        key: &str,
        r: &Received,
        auth_retried: &mut bool,
    ) -> Option<Outcome> {
        let AuthState::OAuth(src) = &self.inner.auth else {
            return None;
        };
        if let Some(n) = header_str(&r.headers, "dpop-nonce") {
            src.set_api_nonce(&n);
        }
        if *auth_retried {
            return None;
        }
        *auth_retried = true;
        let www = header_str(&r.headers, "www-authenticate").unwrap_or_default();
        if www.contains("use_dpop_nonce") {
            return Some(Outcome::Retry {
                wait: Duration::ZERO,
                why: "dpop nonce required",
            });
        }
        let code = api_error(r.status, &r.body, None, &self.inner.name, key).code;
        if www.contains("invalid_token") || code == codes::INVALID_TOKEN {
            src.invalidate().await;
            return Some(Outcome::Retry {
                wait: Duration::ZERO,
                why: "access token refused; fetching a new one",
            });
        }
        None
    }
}
