//! OAuth 2.0 for Okta service apps: the client's private key (PEM or JWK, RSA or P-256), the
//! private-key JWT client assertion (RFC 7523), DPoP proofs (RFC 9449) with an ephemeral P-256 key per
//! client, and the access-token cache with refresh before expiry and the `use_dpop_nonce` retry.
//! It does not send API calls (`client/request.rs` does, asking this module for the `Authorization`
//! and `DPoP` header values).
//!
//! Every key, assertion, proof and token is a `Secret` or stays inside this module's private types.
//! A final refusal by the token endpoint (wrong client, key or scope) is remembered for
//! [`REFUSAL_HOLD`] and shared by every caller, so a refused client costs one token request, not one
//! per API call.
//!
//! - `oauth/key.rs`: [`ClientKey`] and the client assertion.
//! - `oauth/dpop.rs`: [`DpopKey`] and DPoP proofs.
//! - `oauth/token.rs`: [`TokenSource`], the token requests and their cache.

mod dpop;
mod key;
mod token;

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

pub use dpop::DpopKey;
pub use key::{client_assertion, ClientKey};
pub use token::{AccessToken, TokenSource, REFUSAL_HOLD};

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

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn epoch_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::Value;
    use sha2::{Digest, Sha256};
    use url::Url;

    use super::super::secret::Secret;
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
