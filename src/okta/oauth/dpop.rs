//! DPoP proofs (RFC 9449): an ephemeral P-256 key per client, and the signed proof of each request
//! (method, URL without query, the access token's hash, the server's nonce).

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::EncodePrivateKey;
use serde::Serialize;
use sha2::{Digest, Sha256};
use url::Url;

use super::super::secret::Secret;
use super::{b64, epoch_secs, OAuthError};

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
