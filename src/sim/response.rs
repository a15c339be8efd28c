//! Okta's response vocabulary as the simulator speaks it: the error answer (`ApiError`, with the
//! constructors of every error code the simulator sends), a successful answer (`Answer`), one page of a
//! collection (`ListPage`) and their rendering into HTTP, `Link` headers included.
//!
//! Owns the shape of every body and header an operation answers with. It does not decide which answer
//! a request gets (the operations do) nor the common headers of the pipeline (`api`).

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{json, Value};

use super::params::QueryParams;

/// An Okta error response: status, `errorCode`, `errorSummary` and `errorCauses`.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub summary: String,
    pub causes: Vec<String>,
    pub headers: Vec<(&'static str, String)>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, summary: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            summary: summary.into(),
            causes: Vec::new(),
            headers: Vec::new(),
        }
    }

    pub(crate) fn cause(mut self, cause: impl Into<String>) -> Self {
        self.causes.push(cause.into());
        self
    }

    /// How Org2Org reports a hub error in a push failure: `summary (cause)`.
    pub(crate) fn reason(&self) -> String {
        if self.causes.is_empty() {
            self.summary.clone()
        } else {
            format!("{} ({})", self.summary, self.causes.join(", "))
        }
    }

    pub(crate) fn body(&self, error_id: &str) -> Value {
        json!({
            "errorCode": self.code,
            "errorSummary": self.summary,
            "errorLink": self.code,
            "errorId": error_id,
            "errorCauses": self.causes.iter().map(|c| json!({ "errorSummary": c })).collect::<Vec<_>>(),
        })
    }
}

pub(crate) fn bad_request(cause: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "E0000001",
        "Api validation failed: request",
    )
    .cause(cause)
}

pub(crate) fn validation(field: &str, cause: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "E0000001",
        format!("Api validation failed: {field}"),
    )
    .cause(format!("{field}: {cause}"))
}

pub(crate) fn malformed() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "E0000003",
        "The request body was not well-formed.",
    )
}

pub(crate) fn invalid_search(cause: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "E0000031",
        "Invalid search criteria.",
    )
    .cause(cause)
}

pub(crate) fn not_found(what: &str, kind: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "E0000007",
        format!("Not found: Resource not found: {what} ({kind})"),
    )
}

pub(crate) fn bad_status() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "E0000038",
        "This operation is not allowed in the user's current status.",
    )
}

pub(crate) fn unauthorized() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "E0000011",
        "Invalid token provided",
    )
}

pub(crate) fn rate_limited() -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "E0000047",
        "API call exceeded rate limit due to too many requests.",
    )
}

pub(crate) fn internal() -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "E0000009",
        "Internal Server Error",
    )
}

pub(crate) fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "E0000022",
        "The endpoint does not support the provided HTTP method",
    )
}

/// A conditional update whose `If-Match` no longer names the resource's current state. Okta's
/// published error list names no code for 412; the simulator sends `E0000001` with a cause naming the
/// header, so clients can only rely on the status.
pub(crate) fn precondition_failed() -> ApiError {
    ApiError::new(
        StatusCode::PRECONDITION_FAILED,
        "E0000001",
        "Api validation failed: If-Match",
    )
    .cause("If-Match: the resource changed since the ETag was read")
}

pub(crate) fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(malformed()),
    }
}

/// One page of a collection, already serialised (lists are the hot path, and items are rendered
/// straight to text); `next` holds the query of the next page when there is one.
#[derive(Debug)]
pub(crate) struct ListPage {
    pub json: String,
    pub next: Option<Vec<(String, String)>>,
}

impl ListPage {
    pub(crate) fn new(items: Vec<String>, next: Option<Vec<(String, String)>>) -> Self {
        let mut json = String::with_capacity(items.iter().map(|i| i.len() + 1).sum::<usize>() + 2);
        json.push('[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            json.push_str(item);
        }
        json.push(']');
        ListPage { json, next }
    }
}

/// Serialises one collection item.
pub(crate) fn item<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// A successful answer of an operation (OAuth errors too, whose body is not Okta's error shape).
#[derive(Debug)]
pub(crate) enum Answer {
    /// A JSON body with its status and extra headers.
    Json(StatusCode, Value, Vec<(&'static str, String)>),
    /// One page of a collection, with its `Link` headers.
    List(ListPage),
    /// No body.
    Empty(StatusCode),
}

impl Answer {
    pub(crate) fn ok(v: Value) -> Self {
        Answer::Json(StatusCode::OK, v, Vec::new())
    }
}

/// A header pair, or None when the value cannot be a header value.
pub(crate) fn header(name: &'static str, value: &str) -> Option<(&'static str, HeaderValue)> {
    HeaderValue::from_str(value).ok().map(|v| (name, v))
}

fn link_header(base: &str, path: &str, query: &[(String, String)], rel: &str) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in query {
        ser.append_pair(k, v);
    }
    let qs = ser.finish().replace('+', "%20");
    if qs.is_empty() {
        format!("<{base}{path}>; rel=\"{rel}\"")
    } else {
        format!("<{base}{path}?{qs}>; rel=\"{rel}\"")
    }
}

/// Renders an operation's outcome as an HTTP response (without the common headers).
pub(crate) fn render(
    outcome: Result<Answer, ApiError>,
    base: &str,
    path: &str,
    query: &QueryParams,
    error_id: &str,
) -> Response {
    let json = |status: StatusCode, v: &Value| -> Response {
        let bytes = serde_json::to_vec(v).unwrap_or_default();
        let mut r = (status, bytes).into_response();
        r.headers_mut()
            .insert("content-type", HeaderValue::from_static("application/json"));
        r
    };
    match outcome {
        Ok(Answer::Json(status, v, headers)) => {
            let mut r = json(status, &v);
            for (k, v) in headers {
                if let Some((k, v)) = header(k, &v) {
                    r.headers_mut().append(k, v);
                }
            }
            r
        }
        Ok(Answer::Empty(status)) => status.into_response(),
        Ok(Answer::List(page)) => {
            let mut r = (StatusCode::OK, page.json).into_response();
            r.headers_mut()
                .insert("content-type", HeaderValue::from_static("application/json"));
            let own: Vec<(String, String)> = query.pairs().collect();
            if let Some(h) = header("link", &link_header(base, path, &own, "self")) {
                r.headers_mut().append(h.0, h.1);
            }
            if let Some(next) = page.next {
                if let Some(h) = header("link", &link_header(base, path, &next, "next")) {
                    r.headers_mut().append(h.0, h.1);
                }
            }
            r
        }
        Err(e) => {
            let mut r = json(e.status, &e.body(error_id));
            for (k, v) in &e.headers {
                if let Some((k, v)) = header(k, v) {
                    r.headers_mut().append(k, v);
                }
            }
            r
        }
    }
}

pub(crate) fn dropped_response() -> Response {
    let stream = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "fault injection dropped the connection",
        ))
    });
    Response::new(Body::from_stream(stream))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn link_headers_encode_spaces_as_percent_20() {
        let q = vec![("search".to_string(), "status eq \"ACTIVE\"".to_string())];
        assert_eq!(
            link_header("http://h", "/api/v1/users", &q, "next"),
            "<http://h/api/v1/users?search=status%20eq%20%22ACTIVE%22>; rel=\"next\""
        );
    }
}
