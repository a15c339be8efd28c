//! Access tokens for one service app on one org: the client-credentials request with a client
//! assertion and a DPoP proof, the `use_dpop_nonce` retry, the cache with refresh before expiry, and
//! the shared memory of a refusal.

use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::Mutex;
use url::Url;

use super::super::error::{decode_message, OAuthErrorBody};
use super::super::secret::Secret;
use super::{client_assertion, ClientKey, DpopKey, OAuthError};

/// An access token and how to present it.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub token: Secret,
    /// True for `token_type: DPoP` (send `Authorization: DPoP` plus a proof), false for `Bearer`.
    pub dpop: bool,
    /// When to fetch a new one: ahead of the real expiry, so no request goes out with a dying token.
    refresh_at: Instant,
}

#[derive(Deserialize)]
struct TokenResponse {
    token_type: String,
    expires_in: u64,
    access_token: String,
    /// Granted scopes, space separated; may be fewer than requested.
    #[serde(default)]
    scope: Option<String>,
}

/// Fetches and caches access tokens for one service app on one org.
#[derive(Debug)]
pub struct TokenSource {
    client_id: String,
    kid: Option<String>,
    scopes: Vec<String>,
    key: ClientKey,
    pub(crate) dpop: DpopKey,
    token_url: Url,
    cache: Mutex<Option<Cached>>,
    /// The latest `DPoP-Nonce` from the authorization server, reused on the next token request.
    auth_nonce: std::sync::Mutex<Option<String>>,
    /// The latest `DPoP-Nonce` from the resource server (API calls).
    pub(crate) api_nonce: std::sync::Mutex<Option<String>>,
}

/// What the token cache holds: a token, or the token endpoint's recent refusal.
#[derive(Debug, Clone)]
enum Cached {
    Token(AccessToken),
    /// A final refusal (a wrong client, key or scope), answered again without asking until `until`:
    /// callers waiting on the same fetch, and calls made right after, would only be refused again, and
    /// each refusal is a request against the token endpoint's rate limit.
    Refused {
        status: u16,
        error: String,
        description: Option<String>,
        until: Instant,
    },
}

/// How long a refusal by the token endpoint is answered from the cache: long enough that one run's
/// concurrent callers share one refusal, short enough that a long-running process sees a fix.
pub const REFUSAL_HOLD: Duration = Duration::from_secs(30);

/// How much of a token's lifetime to keep in reserve: a fifth, at most a minute.
fn refresh_margin(ttl: Duration) -> Duration {
    (ttl / 5).min(Duration::from_secs(60))
}

/// One answer of the token endpoint, as received.
struct TokenReply {
    status: u16,
    body: Vec<u8>,
    /// When the request went out; the token's lifetime counts from here.
    sent: Instant,
}

impl TokenSource {
    pub fn new(
        base_url: &Url,
        client_id: String,
        key: &Secret,
        kid: Option<String>,
        scopes: Vec<String>,
    ) -> Result<Self, OAuthError> {
        let key = ClientKey::parse(key, kid.as_deref())?;
        let kid = key.kid().map(str::to_string);
        if kid.is_none() {
            // Okta refuses an assertion without `kid` when the app has several keys.
            tracing::warn!("no key id (`privateKeyId`) for the okta service app key; okta may refuse the client assertion");
        }
        let token_url = base_url
            .join("/oauth2/v1/token")
            .map_err(|e| OAuthError::Sign(e.to_string()))?;
        Ok(Self {
            client_id,
            kid,
            scopes,
            key,
            dpop: DpopKey::generate()?,
            token_url,
            cache: Mutex::new(None),
            auth_nonce: std::sync::Mutex::new(None),
            api_nonce: std::sync::Mutex::new(None),
        })
    }

    /// The token endpoint.
    pub fn token_url(&self) -> &Url {
        &self.token_url
    }

    /// A valid token, fetching one when there is none or it is close to expiry. Concurrent callers
    /// wait for one fetch instead of each starting their own; a final refusal is shared the same way
    /// for [`REFUSAL_HOLD`].
    pub async fn token(
        &self,
        http: &reqwest::Client,
        counts: &(dyn Fn() + Sync),
    ) -> Result<AccessToken, OAuthError> {
        let mut cache = self.cache.lock().await;
        match cache.as_ref() {
            Some(Cached::Token(t)) if Instant::now() < t.refresh_at => return Ok(t.clone()),
            Some(Cached::Token(_)) => tracing::debug!("okta access token is due for refresh"),
            Some(Cached::Refused {
                status,
                error,
                description,
                until,
            }) if Instant::now() < *until => {
                return Err(OAuthError::Refused {
                    status: *status,
                    error: error.clone(),
                    description: description.clone(),
                })
            }
            _ => {}
        }
        match self.fetch(http, counts).await {
            Ok(fresh) => {
                *cache = Some(Cached::Token(fresh.clone()));
                Ok(fresh)
            }
            Err(e) => {
                if let OAuthError::Refused {
                    status,
                    error,
                    description,
                } = &e
                {
                    if !e.is_transient() {
                        *cache = Some(Cached::Refused {
                            status: *status,
                            error: error.clone(),
                            description: description.clone(),
                            until: Instant::now() + REFUSAL_HOLD,
                        });
                    }
                }
                Err(e)
            }
        }
    }

    /// Forgets the cached token (after the API refused it), so the next call fetches a new one.
    pub async fn invalidate(&self) {
        *self.cache.lock().await = None;
    }

    /// Asks the token endpoint for a token, answering one `use_dpop_nonce` challenge.
    async fn fetch(
        &self,
        http: &reqwest::Client,
        counts: &(dyn Fn() + Sync),
    ) -> Result<AccessToken, OAuthError> {
        let mut nonce_retried = false;
        loop {
            let reply = self.request_token(http, counts).await?;
            if (200..300).contains(&reply.status) {
                return self.accept(&reply);
            }
            match serde_json::from_slice::<OAuthErrorBody>(&reply.body) {
                Ok(e) if e.error == "use_dpop_nonce" => {
                    if nonce_retried {
                        return Err(OAuthError::NonceLoop);
                    }
                    nonce_retried = true;
                    tracing::debug!("okta token endpoint asked for a dpop nonce; retrying with it");
                }
                Ok(e) => {
                    return Err(OAuthError::Refused {
                        status: reply.status,
                        error: e.error,
                        description: e.error_description,
                    })
                }
                Err(_) => {
                    return Err(OAuthError::Status {
                        status: reply.status,
                    })
                }
            }
        }
    }

    /// One client-credentials request with a fresh assertion and DPoP proof (carrying the
    /// authorization server's latest nonce, which is remembered from the answer).
    async fn request_token(
        &self,
        http: &reqwest::Client,
        counts: &(dyn Fn() + Sync),
    ) -> Result<TokenReply, OAuthError> {
        let nonce = self.auth_nonce.lock().map(|n| n.clone()).unwrap_or(None);
        let assertion = client_assertion(
            &self.key,
            self.kid.as_deref(),
            &self.client_id,
            &self.token_url,
        )?;
        let proof = self
            .dpop
            .proof("POST", &self.token_url, None, nonce.as_deref())?;
        let form = [
            ("grant_type", "client_credentials"),
            ("scope", &self.scopes.join(" ")),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion.expose()),
        ];
        let mut dpop_header = reqwest::header::HeaderValue::from_str(proof.expose())
            .map_err(|e| OAuthError::Sign(e.to_string()))?;
        dpop_header.set_sensitive(true);
        counts();
        let sent = Instant::now();
        let resp = http
            .post(self.token_url.clone())
            .header("DPoP", dpop_header)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| OAuthError::Transport(e.without_url().to_string()))?;
        let status = resp.status().as_u16();
        if let Some(n) = resp
            .headers()
            .get("dpop-nonce")
            .and_then(|v| v.to_str().ok())
        {
            if let Ok(mut slot) = self.auth_nonce.lock() {
                *slot = Some(n.to_string());
            }
        }
        let body = resp
            .bytes()
            .await
            .map_err(|e| OAuthError::Transport(e.without_url().to_string()))?;
        Ok(TokenReply {
            status,
            body: body.to_vec(),
            sent,
        })
    }

    /// The token of a 2xx answer; warns when Okta granted fewer scopes than asked for.
    fn accept(&self, reply: &TokenReply) -> Result<AccessToken, OAuthError> {
        let t: TokenResponse = serde_json::from_slice(&reply.body)
            .map_err(|e| OAuthError::Decode(decode_message(&e)))?;
        let ttl = Duration::from_secs(t.expires_in);
        tracing::debug!(token_type = %t.token_type, expires_in = t.expires_in, "okta access token obtained");
        if let Some(granted) = &t.scope {
            let granted: Vec<&str> = granted.split_whitespace().collect();
            let missing: Vec<&str> = self
                .scopes
                .iter()
                .map(String::as_str)
                .filter(|s| !granted.contains(s))
                .collect();
            if !missing.is_empty() {
                // Calls needing them will fail with E0000006; say why up front.
                tracing::warn!(missing = %missing.join(" "), "okta granted fewer scopes than requested");
            }
        }
        Ok(AccessToken {
            token: Secret::new(t.access_token),
            dpop: t.token_type.eq_ignore_ascii_case("dpop"),
            refresh_at: reply.sent + ttl.saturating_sub(refresh_margin(ttl)),
        })
    }

    /// Remembers a resource-server nonce (`DPoP-Nonce` on an API response).
    pub fn set_api_nonce(&self, nonce: &str) {
        if let Ok(mut slot) = self.api_nonce.lock() {
            *slot = Some(nonce.to_string());
        }
    }

    /// The resource-server nonce, if the API ever sent one.
    pub fn api_nonce(&self) -> Option<String> {
        self.api_nonce.lock().map(|n| n.clone()).unwrap_or(None)
    }
}
