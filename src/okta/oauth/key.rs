//! The service app's private key: parsing PEM (PKCS#8, PKCS#1 RSA, SEC1 EC) or JWK, RSA keys signing
//! RS256 and P-256 keys ES256, the public JWK to register in Okta, and the private-key JWT client
//! assertion (RFC 7523) signed with it. The key never leaves [`ClientKey`]; `Debug` shows its algorithm
//! only.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::traits::PublicKeyParts;
use serde::Serialize;
use serde_json::{json, Value};
use url::Url;

use super::super::secret::Secret;
use super::{b64, epoch_secs, OAuthError};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

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
