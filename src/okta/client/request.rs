//! Building a request: the URL from the endpoint's path template (every parameter percent-encoded as
//! one segment, next-page links kept to the org's own origin) and the headers, including the
//! `Authorization` (SSWS, or a DPoP-bound OAuth token with its proof) that `oauth.rs` supplies. Header
//! values carrying credentials are marked sensitive so no `Debug` output shows them.

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use url::Url;

use super::super::endpoints;
use super::super::error::OktaError;
use super::{AuthState, Call, OktaClient};

/// Why auth headers could not be built; `transient` when the token endpoint was unreachable or
/// answered 5xx/429, so the same call may be tried again.
pub(super) struct AuthFailure {
    pub(super) error: OktaError,
    pub(super) transient: bool,
}

pub(super) fn header_str(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn sensitive(value: &str) -> Result<HeaderValue, ()> {
    let mut v = HeaderValue::from_str(value).map_err(|_| ())?;
    v.set_sensitive(true);
    Ok(v)
}

impl OktaClient {
    pub(super) fn url_of(&self, call: &Call) -> Result<Url, OktaError> {
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

    /// The headers every request carries, and `If-Match` when the call has an ETag; not the
    /// credentials (see [`OktaClient::auth_headers`]).
    pub(super) fn request_headers(
        &self,
        call: &Call,
        key: &str,
        has_body: bool,
    ) -> Result<HeaderMap, OktaError> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("okta-remedy/", env!("CARGO_PKG_VERSION"))),
        );
        if has_body {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        if let Some(tag) = &call.if_match {
            let v = HeaderValue::from_str(tag).map_err(|_| OktaError::InvalidRequest {
                org: self.inner.name.clone(),
                call: key.to_string(),
                message: "the ETag is not a valid header value".into(),
            })?;
            headers.insert(reqwest::header::IF_MATCH, v);
        }
        Ok(headers)
    }

    /// Adds `Authorization` (and `DPoP` for a DPoP-bound token), fetching an OAuth token if needed.
    pub(super) async fn auth_headers(
        &self,
        method: &str,
        url: &Url,
        headers: &mut HeaderMap,
        call_key: &str,
    ) -> Result<(), AuthFailure> {
        let auth_err = |message: String| AuthFailure {
            error: OktaError::Auth {
                org: self.inner.name.clone(),
                call: call_key.to_string(),
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
}
