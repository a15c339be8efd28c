//! OAuth 2.0 for Okta service apps: the client's private key (PEM or JWK, RSA or P-256), the
//! private-key JWT client assertion (RFC 7523), DPoP proofs (RFC 9449) with an ephemeral P-256 key per
//! client, and the access-token cache with refresh before expiry and the `use_dpop_nonce` retry.
//! It does not send API calls (`client.rs` does, asking this module for the `Authorization` and `DPoP`
//! header values).
//!
//! Every key, assertion, proof and token is a [`Secret`] or stays inside this module's private types.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::traits::PublicKeyParts;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;
use url::Url;

use super::error::{decode_message, OAuthErrorBody};
use super::secret::Secret;

/// Errors of key handling and token requests.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("the key is not a PEM (PKCS#8, PKCS#1 RSA or SEC1 EC) or JWK private key")]
    UnrecognisedKey,
    #[error("the key is {0}; use an RSA (RS256) or P-256 (ES256) key")]
    UnsupportedKey(String),
    #[error("cannot sign a token: {0}")]
    Sign(String),
    #[error("the token endpoint refused the request: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused {
        status: u16,
        error: String,
        description: Option<String>,
    },
    #[error("the token endpoint answered HTTP {status} without an OAuth error body")]
    Status { status: u16 },
    #[error("the token endpoint asked for a DPoP nonce twice")]
    NonceLoop,
    #[error("cannot reach the token endpoint: {0}")]
    Transport(String),
    #[error("unexpected token response: {0}")]
    Decode(String),
}

impl OAuthError {
    /// Whether asking the token endpoint again may succeed (it was unreachable, overloaded or failing).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Transport(_) => true,
            Self::Status { status } | Self::Refused { status, .. } => {
                *status >= 500 || *status == 429
            }
            _ => false,
        }
    }
}

/// The service app's private key, parsed once.
#[derive(Clone)]
pub struct ClientKey {
    alg: Algorithm,
    encoding: EncodingKey,
    public_jwk: Value,
}

impl std::fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientKey")
            .field("alg", &self.alg)
            .field("key", &"[redacted]")
            .finish()
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(s: &str) -> Result<rsa::BigUint, OAuthError> {
    URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map(|b| rsa::BigUint::from_bytes_be(&b))
        .map_err(|_| OAuthError::UnrecognisedKey)
}

impl ClientKey {
    /// Parses a PEM (PKCS#8, PKCS#1 RSA, SEC1 EC) or JWK private key. RSA keys sign RS256, P-256 keys
    /// ES256. `kid` goes into the public JWK (for registering the key in Okta).
    pub fn parse(key: &Secret, kid: Option<&str>) -> Result<Self, OAuthError> {
        let text = key.expose().trim();
        let mut parsed = if text.starts_with('{') {
            let mut k = Self::from_jwk(text)?;
            // A JWK names its own key id; keep it unless configuration gives one.
            let own_kid = serde_json::from_str::<Value>(text)
                .ok()
                .and_then(|v| v.get("kid").cloned());
            if let (Some(kid), Some(obj)) = (own_kid, k.public_jwk.as_object_mut()) {
                obj.insert("kid".to_string(), kid);
            }
            k
        } else if let Ok(k) =
            p256::SecretKey::from_pkcs8_pem(text).or_else(|_| p256::SecretKey::from_sec1_pem(text))
        {
            Self::from_p256(&k)?
        } else if let Ok(k) = rsa::RsaPrivateKey::from_pkcs8_pem(text)
            .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(text))
        {
            Self::from_rsa(&k)?
        } else if text.contains("BEGIN") {
            // A PEM that is neither: say what it is without showing it.
            return Err(OAuthError::UnsupportedKey(
                "not an RSA or P-256 private key".to_string(),
            ));
        } else {
            return Err(OAuthError::UnrecognisedKey);
        };
        if let (Some(kid), Some(obj)) = (kid, parsed.public_jwk.as_object_mut()) {
            obj.insert("kid".to_string(), json!(kid));
        }
        Ok(parsed)
    }

    fn from_p256(k: &p256::SecretKey) -> Result<Self, OAuthError> {
        let der = k
            .to_pkcs8_der()
            .map_err(|e| OAuthError::Sign(e.to_string()))?;
        let public: Value = serde_json::from_str(&k.public_key().to_jwk_string())
            .map_err(|e| OAuthError::Sign(e.to_string()))?;
        Ok(Self {
            alg: Algorithm::ES256,
            encoding: EncodingKey::from_ec_der(der.as_bytes()),
            public_jwk: public,
        })
    }

    fn from_rsa(k: &rsa::RsaPrivateKey) -> Result<Self, OAuthError> {
        let der = k
            .to_pkcs1_der()
            .map_err(|e| OAuthError::Sign(e.to_string()))?;
        let public =
            json!({"kty": "RSA", "n": b64(&k.n().to_bytes_be()), "e": b64(&k.e().to_bytes_be())});
        Ok(Self {
            alg: Algorithm::RS256,
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
            public_jwk: public,
        })
    }

    fn from_jwk(text: &str) -> Result<Self, OAuthError> {
        let v: Value = serde_json::from_str(text).map_err(|_| OAuthError::UnrecognisedKey)?;
        let field = |k: &str| v.get(k).and_then(Value::as_str);
        match field("kty") {
            Some("EC") => {
                if field("crv") != Some("P-256") {
                    return Err(OAuthError::UnsupportedKey(format!(
                        "an EC key on `{}`",
                        field("crv").unwrap_or("?")
                    )));
                }
                // The p256 parser refuses members it does not know (`kid`, `use`, `alg`): give it only its own.
                let core = serde_json::json!({
                    "kty": "EC", "crv": "P-256", "x": field("x"), "y": field("y"), "d": field("d"),
                });
                let k = p256::SecretKey::from_jwk_str(&core.to_string())
                    .map_err(|_| OAuthError::UnrecognisedKey)?;
                Self::from_p256(&k)
            }
            Some("RSA") => {
                let need = |k: &str| field(k).ok_or(OAuthError::UnrecognisedKey).and_then(unb64);
                let primes = vec![need("p")?, need("q")?];
                let k =
                    rsa::RsaPrivateKey::from_components(need("n")?, need("e")?, need("d")?, primes)
                        .map_err(|_| OAuthError::UnrecognisedKey)?;
                Self::from_rsa(&k)
            }
            Some(other) => Err(OAuthError::UnsupportedKey(format!("a `{other}` key"))),
            None => Err(OAuthError::UnrecognisedKey),
        }
    }

    /// The public half as a JWK, to register in Okta (or in the simulator).
    pub fn public_jwk(&self) -> &Value {
        &self.public_jwk
    }

    /// The key id of the public JWK (from configuration, or the private JWK's own `kid`).
    pub fn kid(&self) -> Option<&str> {
        self.public_jwk.get("kid").and_then(Value::as_str)
    }

    /// `RS256` or `ES256`.
    pub fn algorithm(&self) -> &'static str {
        match self.alg {
            Algorithm::ES256 => "ES256",
            _ => "RS256",
        }
    }
}

fn epoch_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[derive(Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
    jti: String,
}

/// Signs the private-key JWT client assertion for the token endpoint.
pub fn client_assertion(
    key: &ClientKey,
    kid: Option<&str>,
    client_id: &str,
    token_url: &Url,
) -> Result<Secret, OAuthError> {
    let mut header = Header::new(key.alg);
    header.kid = kid.map(str::to_string);
    let iat = epoch_secs();
    let claims = AssertionClaims {
        iss: client_id,
        sub: client_id,
        aud: token_url.as_str(),
        iat,
        // Okta accepts assertions valid for at most an hour; five minutes is plenty for one request.
        exp: iat + 300,
        jti: uuid::Uuid::new_v4().to_string(),
    };
    jsonwebtoken::encode(&header, &claims, &key.encoding)
        .map(Secret::new)
        .map_err(|e| OAuthError::Sign(e.to_string()))
}

/// The ephemeral key DPoP proofs are signed with: generated per client, never leaves the process.
#[derive(Clone)]
pub struct DpopKey {
    encoding: EncodingKey,
    jwk: jsonwebtoken::jwk::Jwk,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DpopKey([redacted])")
    }
}

#[derive(Serialize)]
struct DpopClaims<'a> {
    htm: &'a str,
    htu: &'a str,
    iat: u64,
    jti: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    ath: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
}

impl DpopKey {
    /// A fresh P-256 key.
    pub fn generate() -> Result<Self, OAuthError> {
        let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let der = secret
            .to_pkcs8_der()
            .map_err(|e| OAuthError::Sign(e.to_string()))?;
        let jwk: jsonwebtoken::jwk::Jwk =
            serde_json::from_str(&secret.public_key().to_jwk_string())
                .map_err(|e| OAuthError::Sign(e.to_string()))?;
        Ok(Self {
            encoding: EncodingKey::from_ec_der(der.as_bytes()),
            jwk,
        })
    }

    /// A DPoP proof for one request: `htu` is the URL without query or fragment, `ath` binds the proof
    /// to the access token when there is one.
    pub fn proof(
        &self,
        method: &str,
        url: &Url,
        access_token: Option<&Secret>,
        nonce: Option<&str>,
    ) -> Result<Secret, OAuthError> {
        let mut htu = url.clone();
        htu.set_query(None);
        htu.set_fragment(None);
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("dpop+jwt".to_string());
        header.jwk = Some(self.jwk.clone());
        let claims = DpopClaims {
            htm: method,
            htu: htu.as_str(),
            iat: epoch_secs(),
            jti: uuid::Uuid::new_v4().to_string(),
            ath: access_token.map(|t| b64(&Sha256::digest(t.expose().as_bytes()))),
            nonce,
        };
        jsonwebtoken::encode(&header, &claims, &self.encoding)
            .map(Secret::new)
            .map_err(|e| OAuthError::Sign(e.to_string()))
    }
}

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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn decode_part(jwt: &str, i: usize) -> Value {
        let part = jwt.split('.').nth(i).unwrap_or_default();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap_or_default())
            .unwrap_or(Value::Null)
    }

    #[test]
    fn dpop_proof_has_rfc9449_header_and_claims() {
        let key = DpopKey::generate().unwrap();
        let url = Url::parse("https://example.okta.com/api/v1/users?limit=2").unwrap();
        let token = Secret::new("tok");
        let proof = key.proof("GET", &url, Some(&token), Some("n1")).unwrap();
        let h = decode_part(proof.expose(), 0);
        let c = decode_part(proof.expose(), 1);
        assert_eq!(h["typ"], "dpop+jwt");
        assert_eq!(h["alg"], "ES256");
        assert_eq!(h["jwk"]["kty"], "EC");
        assert!(
            h["jwk"].get("d").is_none(),
            "the private part must not be in the proof"
        );
        assert_eq!(c["htm"], "GET");
        assert_eq!(c["htu"], "https://example.okta.com/api/v1/users");
        assert_eq!(c["nonce"], "n1");
        assert_eq!(c["ath"], b64(&Sha256::digest(b"tok")));
        assert!(c["jti"].as_str().is_some_and(|j| !j.is_empty()));
    }

    #[test]
    fn ec_jwk_key_round_trips_to_public_jwk() {
        let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let jwk = secret.to_jwk_string();
        let k = ClientKey::parse(&Secret::new(jwk.to_string()), Some("k1")).unwrap();
        assert_eq!(k.algorithm(), "ES256");
        assert_eq!(k.public_jwk()["kid"], "k1");
        assert!(k.public_jwk().get("d").is_none());
    }

    #[test]
    fn garbage_key_is_rejected_without_echo() {
        let e = ClientKey::parse(
            &Secret::new("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"),
            None,
        )
        .unwrap_err();
        assert!(!e.to_string().contains("AAAA"));
        assert!(matches!(
            ClientKey::parse(&Secret::new("hello"), None),
            Err(OAuthError::UnrecognisedKey)
        ));
    }
}
