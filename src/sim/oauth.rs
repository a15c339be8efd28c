//! Authentication of Okta API calls: SSWS API tokens, and OAuth 2.0 service apps (client credentials
//! with a private-key JWT client assertion, DPoP-bound access tokens per RFC 9449, scopes per
//! endpoint).
//!
//! Owns `POST /oauth2/v1/token`, proof and assertion verification, the nonce, issued tokens and
//! replay protection. It does not sign anything (clients do) and does not route requests (`api`).
//! Access tokens are opaque random strings here, not JWTs as Okta issues: clients must not read them.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use axum::http::{HeaderMap, Method, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::model::{IdGen, OrgName};
use super::response::{unauthorized, Answer, ApiError};
use super::route::Route;
use super::runtime::{lock, OrgRuntime, Shared};

/// A registered OAuth service app: its id, the public JWK that verifies its client assertions, and
/// the scopes it was granted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OAuthClient {
    pub client_id: String,
    pub public_jwk: Value,
    pub scopes: Vec<String>,
}

impl OAuthClient {
    /// Checks the app can authenticate: a client id, a public EC or RSA JWK (no private part), and
    /// at least one scope.
    pub fn validate(&self) -> Result<(), String> {
        let id = &self.client_id;
        if id.trim().is_empty() {
            return Err("a service app has an empty `client_id`".into());
        }
        if self.public_jwk.get("d").is_some() {
            return Err(format!(
                "`{id}`: `public_jwk` holds a private key; register only the public part"
            ));
        }
        if jwk_thumbprint(&self.public_jwk).is_none() {
            return Err(format!(
                "`{id}`: `public_jwk` is not a public EC or RSA JWK"
            ));
        }
        if self.scopes.is_empty() {
            return Err(format!("`{id}`: no scopes granted"));
        }
        Ok(())
    }
}

struct IssuedToken {
    client_id: String,
    scopes: Vec<String>,
    jkt: String,
    expires: Instant,
}

/// Per-org OAuth state.
pub(crate) struct OAuthState {
    /// The authorization server's nonce (token requests).
    nonce: String,
    /// The resource server's nonce (API calls, when `SimConfig::api_dpop_nonce` asks for one).
    api_nonce: String,
    tokens: HashMap<String, IssuedToken>,
    seen_jti: HashSet<String>,
    ids: IdGen,
}

impl OAuthState {
    pub(crate) fn new(seed: u64, org: OrgName) -> Self {
        let mut ids = IdGen::new(seed, 200 + org.index() as u64);
        // Its own stream, so requiring it changes no other id.
        let api_nonce = IdGen::new(seed, 300 + org.index() as u64).alnum(32);
        OAuthState {
            nonce: ids.alnum(32),
            api_nonce,
            tokens: HashMap::new(),
            seen_jti: HashSet::new(),
            ids,
        }
    }
}

/// Who made an API call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Principal {
    ApiToken,
    Client(String),
    TokenEndpoint,
}

impl Principal {
    /// The System Log actor of the call: the token's admin, or the service app.
    pub(crate) fn actor(&self, rt: &OrgRuntime) -> Value {
        match self {
            Principal::Client(id) => json!({
                "id": id, "type": "PublicClientApp", "alternateId": id, "displayName": id,
            }),
            _ => {
                let host = rt.base_url.trim_start_matches("http://");
                json!({
                    "id": "00u1simadmin00000001",
                    "type": "User",
                    "alternateId": format!("admin@{host}"),
                    "displayName": "Sim Admin",
                })
            }
        }
    }
}

/// RFC 7638 thumbprint of a public JWK (EC or RSA).
pub fn jwk_thumbprint(jwk: &Value) -> Option<String> {
    let canonical = match jwk["kty"].as_str()? {
        "EC" => {
            json!({ "crv": jwk["crv"].as_str()?, "kty": "EC", "x": jwk["x"].as_str()?, "y": jwk["y"].as_str()? })
        }
        "RSA" => json!({ "e": jwk["e"].as_str()?, "kty": "RSA", "n": jwk["n"].as_str()? }),
        _ => return None,
    };
    // serde_json keeps insertion order here, which is already lexicographic as RFC 7638 requires.
    let bytes = serde_json::to_vec(&canonical).ok()?;
    Some(URL_SAFE_NO_PAD.encode(Sha256::digest(bytes)))
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Why a DPoP proof was refused; `NeedNonce` asks the client to retry with the server's nonce.
enum ProofError {
    NeedNonce,
    Invalid(String),
}

/// Verifies a DPoP proof for `method` `htu`; returns the key's thumbprint and the claims.
fn verify_proof(
    proof: &str,
    method: &str,
    htu: &str,
    nonce: Option<&str>,
    st: &mut OAuthState,
) -> Result<(String, Value), ProofError> {
    let bad = |m: &str| ProofError::Invalid(m.to_string());
    let header = decode_header(proof).map_err(|_| bad("the DPoP proof is not a valid JWT"))?;
    // Only asymmetric algorithms make sense for a proof carrying its own public key.
    if matches!(
        header.alg,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    ) {
        return Err(bad("the DPoP proof must use an asymmetric algorithm"));
    }
    if header.typ.as_deref() != Some("dpop+jwt") {
        return Err(bad("the DPoP proof `typ` must be `dpop+jwt`"));
    }
    let jwk = header
        .jwk
        .ok_or_else(|| bad("the DPoP proof header has no `jwk`"))?;
    let jwk_json = serde_json::to_value(&jwk).map_err(|_| bad("unreadable `jwk`"))?;
    if jwk_json.get("d").is_some() {
        return Err(bad("the DPoP proof `jwk` must be a public key"));
    }
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| bad("unsupported `jwk`"))?;
    let mut validation = Validation::new(header.alg);
    validation.set_required_spec_claims::<&str>(&[]);
    validation.validate_exp = false;
    validation.validate_aud = false;
    let claims = decode::<Value>(proof, &key, &validation)
        .map_err(|_| bad("the DPoP proof signature is invalid"))?
        .claims;
    if claims["htm"].as_str() != Some(method) {
        return Err(bad(
            "the DPoP proof `htm` does not match the request method",
        ));
    }
    if claims["htu"].as_str() != Some(htu) {
        return Err(bad("the DPoP proof `htu` does not match the request URL"));
    }
    let iat = claims["iat"]
        .as_i64()
        .ok_or_else(|| bad("the DPoP proof has no `iat`"))?;
    let now = unix_now();
    if iat > now + 60 || iat < now - 300 {
        return Err(bad("the DPoP proof `iat` is not fresh"));
    }
    let jti = claims["jti"]
        .as_str()
        .ok_or_else(|| bad("the DPoP proof has no `jti`"))?;
    if let Some(n) = nonce {
        if claims["nonce"].as_str() != Some(n) {
            return Err(ProofError::NeedNonce);
        }
    }
    if !st.seen_jti.insert(format!("dpop:{jti}")) {
        return Err(bad("the DPoP proof `jti` was already used"));
    }
    let jkt = jwk_thumbprint(&jwk_json).ok_or_else(|| bad("unsupported `jwk`"))?;
    Ok((jkt, claims))
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Answer {
    Answer::Json(
        status,
        json!({ "error": error, "error_description": description }),
        Vec::new(),
    )
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Verifies a client assertion and returns the client it authenticates.
fn verify_assertion<'a>(
    shared: &'a Shared,
    assertion: &str,
    token_url: &str,
    st: &mut OAuthState,
) -> Result<&'a super::OAuthClient, String> {
    let payload = assertion
        .split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .ok_or("the client assertion is not a valid JWT")?;
    let iss = payload["iss"].as_str().unwrap_or("");
    let client = shared
        .oauth_clients
        .iter()
        .find(|c| c.client_id == iss)
        .ok_or("the client assertion `iss` is not a registered client")?;
    let header = decode_header(assertion).map_err(|_| "the client assertion is not a valid JWT")?;
    if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
        return Err("the client assertion must be signed with RS256 or ES256".into());
    }
    let registered_kid = client.public_jwk["kid"].as_str();
    if header.kid.is_none() || (registered_kid.is_some() && header.kid.as_deref() != registered_kid)
    {
        return Err("the client assertion `kid` does not name the registered key".into());
    }
    let jwk: Jwk = serde_json::from_value(client.public_jwk.clone())
        .map_err(|_| "the registered key is not a valid JWK")?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| "the registered key is not supported")?;
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[token_url]);
    validation.set_issuer(&[client.client_id.as_str()]);
    validation.sub = Some(client.client_id.clone());
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    validation.leeway = 30;
    let claims = decode::<Value>(assertion, &key, &validation)
        .map_err(|e| format!("the client assertion is invalid: {e}"))?
        .claims;
    if claims["iat"].as_i64().is_none() {
        return Err("the client assertion has no `iat`".into());
    }
    let jti = claims["jti"]
        .as_str()
        .ok_or("the client assertion has no `jti`")?;
    if !st.seen_jti.insert(format!("assertion:{jti}")) {
        return Err("the client assertion `jti` was already used".into());
    }
    Ok(client)
}

/// `POST /oauth2/v1/token`: client credentials with a private-key JWT and a DPoP proof.
pub(crate) fn token(
    shared: &Shared,
    org: OrgName,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Answer, ApiError> {
    let rt = shared.runtime(org);
    let token_url = format!("{}{path}", rt.base_url);
    let form: HashMap<String, String> = url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    if field("grant_type") != "client_credentials" {
        return Ok(oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
        ));
    }
    if field("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
        return Ok(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The client_assertion_type is invalid.",
        ));
    }
    let mut st = lock(&rt.oauth);
    let client = match verify_assertion(shared, field("client_assertion"), &token_url, &mut st) {
        Ok(c) => c,
        Err(e) => return Ok(oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", &e)),
    };
    let jkt = match token_proof(headers, method, &token_url, &mut st) {
        Ok(jkt) => jkt,
        Err(refusal) => return Ok(refusal),
    };
    let scopes = match granted_scopes(client, field("scope")) {
        Ok(s) => s,
        Err(refusal) => return Ok(refusal),
    };
    Ok(issue(&mut st, client, scopes, jkt, shared.token_ttl))
}

/// The DPoP proof of a token request, which must carry the authorization server's nonce; returns the
/// key's thumbprint the token is bound to, or the refusal.
fn token_proof(
    headers: &HeaderMap,
    method: &Method,
    token_url: &str,
    st: &mut OAuthState,
) -> Result<String, Answer> {
    let Some(proof) = header_str(headers, "dpop") else {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_dpop_proof",
            "The DPoP proof JWT header is missing.",
        ));
    };
    let nonce = st.nonce.clone();
    match verify_proof(proof, method.as_str(), token_url, Some(&nonce), st) {
        Ok((jkt, _)) => Ok(jkt),
        Err(ProofError::NeedNonce) => Err(Answer::Json(
            StatusCode::BAD_REQUEST,
            json!({
                "error": "use_dpop_nonce",
                "error_description": "Authorization server requires nonce in DPoP proof.",
            }),
            vec![("dpop-nonce", nonce)],
        )),
        Err(ProofError::Invalid(m)) => Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_dpop_proof",
            &m,
        )),
    }
}

/// The requested scopes, all of which the client must have been granted.
fn granted_scopes(client: &OAuthClient, scope: &str) -> Result<Vec<String>, Answer> {
    let requested: Vec<String> = scope.split_whitespace().map(str::to_string).collect();
    if requested.is_empty() {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "The authorization server requires the 'scope' parameter.",
        ));
    }
    let denied: Vec<&str> = requested
        .iter()
        .filter(|s| !client.scopes.contains(s))
        .map(String::as_str)
        .collect();
    if !denied.is_empty() {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            &format!("The following scopes are not allowed: {}", denied.join(" ")),
        ));
    }
    Ok(requested)
}

/// Issues a DPoP-bound access token.
fn issue(
    st: &mut OAuthState,
    client: &OAuthClient,
    scopes: Vec<String>,
    jkt: String,
    ttl: std::time::Duration,
) -> Answer {
    let access_token = st.ids.alnum(48);
    let scope = scopes.join(" ");
    st.tokens.insert(
        access_token.clone(),
        IssuedToken {
            client_id: client.client_id.clone(),
            scopes,
            jkt,
            expires: Instant::now() + ttl,
        },
    );
    Answer::Json(
        StatusCode::OK,
        json!({
            "token_type": "DPoP",
            "expires_in": ttl.as_secs(),
            "access_token": access_token,
            "scope": scope,
        }),
        vec![
            ("cache-control", "no-store".into()),
            ("pragma", "no-cache".into()),
        ],
    )
}

fn has_scope(granted: &[String], needed: &str) -> bool {
    let manage = needed.replace(".read", ".manage");
    granted.iter().any(|g| g == needed || *g == manage)
}

fn dpop_challenge(error: &str, description: &str) -> String {
    format!("DPoP algs=\"RS256 ES256\", error=\"{error}\", error_description=\"{description}\"")
}

/// Authenticates an Okta API call by SSWS token or DPoP-bound access token, enforcing the route's
/// scope for the latter, and the resource server's nonce when the simulator asks for one.
pub(crate) fn authenticate(
    shared: &Shared,
    org: OrgName,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    route: &Route,
) -> Result<Principal, ApiError> {
    let rt = shared.runtime(org);
    let auth = header_str(headers, "authorization").unwrap_or("");
    if let Some(token) = auth.strip_prefix("SSWS ") {
        if token == rt.token {
            return Ok(Principal::ApiToken);
        }
        return Err(unauthorized());
    }
    let Some(access) = auth.strip_prefix("DPoP ") else {
        return Err(unauthorized());
    };
    let mut st = lock(&rt.oauth);
    let (client_id, scopes, jkt) = match st.tokens.get(access) {
        Some(t) if t.expires > Instant::now() => {
            (t.client_id.clone(), t.scopes.clone(), t.jkt.clone())
        }
        _ => return Err(unauthorized()),
    };
    let refuse = |m: &str| {
        let mut e = unauthorized();
        e.headers
            .push(("www-authenticate", dpop_challenge("invalid_dpop_proof", m)));
        e
    };
    let Some(proof) = header_str(headers, "dpop") else {
        return Err(refuse("The DPoP proof JWT header is missing."));
    };
    let htu = format!("{}{path}", rt.base_url);
    let nonce = shared.api_dpop_nonce.then(|| st.api_nonce.clone());
    let claims = match verify_proof(proof, method.as_str(), &htu, nonce.as_deref(), &mut st) {
        Ok((proof_jkt, _)) if proof_jkt != jkt => {
            return Err(refuse(
                "The DPoP proof key does not match the access token.",
            ))
        }
        Ok((_, claims)) => claims,
        Err(ProofError::NeedNonce) => {
            let mut e = unauthorized();
            e.headers.push((
                "www-authenticate",
                dpop_challenge(
                    "use_dpop_nonce",
                    "Resource server requires nonce in DPoP proof.",
                ),
            ));
            e.headers.push(("dpop-nonce", st.api_nonce.clone()));
            return Err(e);
        }
        Err(ProofError::Invalid(m)) => return Err(refuse(&m)),
    };
    let ath = URL_SAFE_NO_PAD.encode(Sha256::digest(access.as_bytes()));
    if claims["ath"].as_str() != Some(ath.as_str()) {
        return Err(refuse(
            "The DPoP proof `ath` does not match the access token.",
        ));
    }
    check_scope(rt, path, route, &scopes)?;
    Ok(Principal::Client(client_id))
}

/// Refuses (403 `E0000006` with Okta's `insufficient_scope` challenge) a token without the scope the
/// route needs.
fn check_scope(
    rt: &OrgRuntime,
    path: &str,
    route: &Route,
    scopes: &[String],
) -> Result<(), ApiError> {
    let needed = route.scope();
    if !has_scope(scopes, needed) {
        let mut e = ApiError::new(
            StatusCode::FORBIDDEN,
            "E0000006",
            "You do not have permission to perform the requested action",
        );
        e.headers.push((
            "www-authenticate",
            format!(
                "DPoP authorization_uri=\"{base}/oauth2/v1/authorize\", realm=\"{base}\", scope=\"{needed}\", error=\"insufficient_scope\", error_description=\"The access token provided does not contain the required scopes.\", resource=\"{path}\"",
                base = rt.base_url
            ),
        ));
        return Err(e);
    }
    Ok(())
}
