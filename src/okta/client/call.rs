//! The values a request is made of and a success comes back as: [`Call`] (an endpoint of the table
//! with its path parameters, query, body and headers) and [`Reply`] (status, headers, body, request
//! id). It owns their redacted `Debug` forms and the reading of the `Link` and `ETag` headers; it does
//! not send anything (`send.rs` does).

use reqwest::header::HeaderMap;
use serde_json::Value;
use url::Url;

use super::super::endpoints::Endpoint;
use super::super::link::next_link;

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

    /// The same call aimed at a `Link: rel="next"` URL (which carries the query itself).
    pub(crate) fn following(&self, next: Url) -> Self {
        Self {
            target: Some(next),
            query: Vec::new(),
            ..self.clone()
        }
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

#[cfg(test)]
mod tests {
    use super::super::super::endpoints;
    use super::*;

    #[test]
    fn debug_of_a_call_hides_its_body() {
        let call = Call::new(&endpoints::CREATE_USER)
            .body(serde_json::json!({"credentials": {"password": {"value": "hunter2"}}}));
        let dbg = format!("{call:?}");
        assert!(!dbg.contains("hunter2"));
        assert!(dbg.contains("POST /api/v1/users"));
    }
}
