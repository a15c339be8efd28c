//! `OktaError`: every way a call to Okta can fail, typed. It owns the decoding of Okta's error body
//! (`errorCode`, `errorSummary`, `errorCauses`, `errorId`) and the helpers the product branches on
//! (`E0000001`, `E0000007`, ...). It deliberately does not decide whether to retry: that is the client's
//! job (`client/response.rs`), which alone knows whether a call was idempotent.
//!
//! No variant ever carries a secret: request bodies, headers and full URLs with credentials are never
//! copied into an error, and transport errors keep only reqwest's message without its URL.

use std::time::Duration;

use serde::Deserialize;

use super::config::ConfigError;

/// Okta error codes the product branches on, named after Okta's error-code reference.
pub mod codes {
    /// 400: API validation failed (bad body, a lifecycle call not allowed for the user, ...).
    pub const API_VALIDATION_FAILED: &str = "E0000001";
    /// 401: authentication failed (bad or missing API token).
    pub const AUTHENTICATION_FAILED: &str = "E0000004";
    /// 403: the token or its scopes do not allow the action.
    pub const ACCESS_DENIED: &str = "E0000006";
    /// 404: resource not found.
    pub const NOT_FOUND: &str = "E0000007";
    /// 500: Okta internal error.
    pub const INTERNAL_SERVER_ERROR: &str = "E0000009";
    /// 401: invalid (or expired) token.
    pub const INVALID_TOKEN: &str = "E0000011";
    /// 403: activation failed because the user is already active.
    pub const ALREADY_ACTIVE: &str = "E0000016";
    /// 403: the operation is not allowed in the user's current status.
    pub const OPERATION_NOT_ALLOWED_IN_STATUS: &str = "E0000038";
    /// 403: deactivating the application for the user is forbidden (for example a group assignment).
    pub const DEACTIVATE_APP_FOR_USER_FORBIDDEN: &str = "E0000046";
    /// 429: rate limit exceeded.
    pub const RATE_LIMITED: &str = "E0000047";
}

/// The decoded body and metadata of an Okta error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status of the response.
    pub status: u16,
    /// Okta's `errorCode` (`E0000007`...), empty when the body was not an Okta error.
    pub code: String,
    /// Okta's `errorSummary`, or a short description of the non-Okta body.
    pub summary: String,
    /// Okta's `errorCauses[].errorSummary`, in order.
    pub causes: Vec<String>,
    /// Okta's `errorId`, for Okta support.
    pub error_id: Option<String>,
    /// The `X-Okta-Request-Id` response header.
    pub request_id: Option<String>,
    /// The org's name in configuration (`hub`, `spoke`...).
    pub org: String,
    /// The endpoint, as `METHOD /path/{template}`.
    pub call: String,
}

/// Errors of the Okta client.
///
/// The API variant is boxed so `Result<_, OktaError>` stays small for every caller.
#[derive(Debug, thiserror::Error)]
pub enum OktaError {
    /// Okta answered with an error status.
    #[error("{} {}: {} ({}){}", .0.org, .0.call, .0.summary, display_code(&.0.code, .0.status), display_causes(&.0.causes))]
    Api(Box<ApiError>),
    /// The request did not complete (connection refused or dropped, TLS, ...). When `maybe_applied` is
    /// true the request may have reached Okta, so a mutating call's outcome is unknown.
    #[error("{org} {call}: cannot reach okta: {message}")]
    Transport {
        org: String,
        call: String,
        message: String,
        maybe_applied: bool,
    },
    /// No response within the configured timeout.
    #[error("{org} {call}: no response within {}", humantime::format_duration(*after))]
    Timeout {
        org: String,
        call: String,
        after: Duration,
        maybe_applied: bool,
    },
    /// Still rate limited (HTTP 429, `E0000047`) after the configured number of waits.
    #[error("{org} {call}: rate limited after {attempts} attempts (E0000047)")]
    RateLimited {
        org: String,
        call: String,
        attempts: u32,
        request_id: Option<String>,
    },
    /// Credentials could not be attached to `call`: getting an OAuth access token failed (the token
    /// endpoint refused the client, its key or a scope, or could not be reached), or the API token
    /// cannot be sent as a header. `message` is Okta's OAuth error, never the credentials.
    #[error("{org} {call}: authorization failed: {message}")]
    Auth {
        org: String,
        call: String,
        message: String,
    },
    /// The client's configuration is unusable.
    #[error(transparent)]
    Config(#[from] Box<ConfigError>),
    /// Okta answered 2xx but the body did not have the expected shape.
    #[error("{org} {call}: unexpected response body: {message}")]
    Decode {
        org: String,
        call: String,
        message: String,
        request_id: Option<String>,
    },
    /// A request could not be built (for example an id that is not a valid path segment).
    #[error("{org} {call}: invalid request: {message}")]
    InvalidRequest {
        org: String,
        call: String,
        message: String,
    },
}

impl From<ConfigError> for OktaError {
    fn from(e: ConfigError) -> Self {
        Self::Config(Box::new(e))
    }
}

fn display_code(code: &str, status: u16) -> String {
    if code.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("{code}, HTTP {status}")
    }
}

fn display_causes(causes: &[String]) -> String {
    if causes.is_empty() {
        String::new()
    } else {
        format!("; causes: {}", causes.join("; "))
    }
}

impl OktaError {
    /// The Okta error details, when Okta answered with an error status.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Self::Api(e) => Some(e),
            _ => None,
        }
    }

    /// The endpoint of the failed call (`GET /api/v1/users/{id}`), when the error is about one.
    pub fn call(&self) -> Option<&str> {
        match self {
            Self::Api(e) => Some(&e.call),
            Self::Transport { call, .. }
            | Self::Timeout { call, .. }
            | Self::RateLimited { call, .. }
            | Self::Auth { call, .. }
            | Self::Decode { call, .. }
            | Self::InvalidRequest { call, .. } => Some(call),
            Self::Config(_) => None,
        }
    }

    /// Okta's `errorCode`, when there is one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api(e) if !e.code.is_empty() => Some(&e.code),
            Self::RateLimited { .. } => Some(codes::RATE_LIMITED),
            _ => None,
        }
    }

    /// HTTP status, when Okta answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api(e) => Some(e.status),
            Self::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    /// `X-Okta-Request-Id` of the failing response, when there was one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::Api(e) => e.request_id.as_deref(),
            Self::RateLimited { request_id, .. } | Self::Decode { request_id, .. } => {
                request_id.as_deref()
            }
            _ => None,
        }
    }

    /// Whether the error carries the given Okta error code.
    pub fn has_code(&self, code: &str) -> bool {
        self.code() == Some(code)
    }

    /// 404 / `E0000007`: the resource does not exist.
    pub fn is_not_found(&self) -> bool {
        self.has_code(codes::NOT_FOUND) || self.status() == Some(404)
    }

    /// `E0000001`: validation failed (including lifecycle calls Okta refuses in the user's state).
    pub fn is_validation(&self) -> bool {
        self.has_code(codes::API_VALIDATION_FAILED)
    }

    /// `E0000011`: the token is invalid or expired.
    pub fn is_invalid_token(&self) -> bool {
        self.has_code(codes::INVALID_TOKEN)
    }

    /// `E0000038`: not allowed in the user's current status.
    pub fn is_not_allowed_in_status(&self) -> bool {
        self.has_code(codes::OPERATION_NOT_ALLOWED_IN_STATUS)
    }

    /// `E0000046`: the app assignment cannot be removed for this user (for example it comes from a group).
    pub fn is_unassign_forbidden(&self) -> bool {
        self.has_code(codes::DEACTIVATE_APP_FOR_USER_FORBIDDEN)
    }

    /// `E0000047` / 429: rate limited.
    pub fn is_rate_limited(&self) -> bool {
        matches!(self, Self::RateLimited { .. }) || self.has_code(codes::RATE_LIMITED)
    }

    /// `E0000006` / 403 without a more specific code: the credentials lack a permission or scope.
    pub fn is_access_denied(&self) -> bool {
        self.has_code(codes::ACCESS_DENIED)
    }

    /// Whether a mutating call may have been applied although it did not report success: no answer
    /// came back after the request was sent, or Okta answered 5xx (which does not promise that nothing
    /// changed). The executor must reconcile by reading Okta's state instead of assuming either way.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            Self::Transport { maybe_applied, .. } | Self::Timeout { maybe_applied, .. } => {
                *maybe_applied
            }
            Self::Api(e) => e.status >= 500,
            _ => false,
        }
    }
}

/// A JSON decoding error's message without the values it quotes: serde names a missing field with
/// backticks (kept), but quotes an offending value in double quotes, and a value in a response may be
/// a credential.
pub(crate) fn decode_message(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    if msg.contains('"') {
        format!(
            "{:?} error at line {} column {}",
            e.classify(),
            e.line(),
            e.column()
        )
        .to_lowercase()
    } else {
        msg
    }
}

/// Okta's error body (`Error` in the spec).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody {
    #[serde(default)]
    error_code: String,
    #[serde(default)]
    error_summary: String,
    #[serde(default)]
    error_id: Option<String>,
    #[serde(default)]
    error_causes: Vec<ErrorCause>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ErrorCause {
    #[serde(default)]
    error_summary: String,
}

/// The OAuth error body of `/oauth2/v1/token` (RFC 6749 section 5.2).
#[derive(Debug, Deserialize)]
pub(crate) struct OAuthErrorBody {
    pub error: String,
    #[serde(default)]
    pub error_description: Option<String>,
}

/// Builds the API error of a non-2xx response. A body that is not Okta's error shape is summarised by
/// its length only, never echoed: it could hold anything.
pub(crate) fn api_error(
    status: u16,
    body: &[u8],
    request_id: Option<String>,
    org: &str,
    call: &str,
) -> ApiError {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(b) if !b.error_code.is_empty() || !b.error_summary.is_empty() => ApiError {
            status,
            code: b.error_code,
            summary: b.error_summary,
            causes: b
                .error_causes
                .into_iter()
                .map(|c| c.error_summary)
                .collect(),
            error_id: b.error_id,
            request_id,
            org: org.to_string(),
            call: call.to_string(),
        },
        _ => ApiError {
            status,
            code: String::new(),
            summary: format!(
                "HTTP {status} with a {}-byte body that is not an okta error",
                body.len()
            ),
            causes: Vec::new(),
            error_id: None,
            request_id,
            org: org.to_string(),
            call: call.to_string(),
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn decodes_okta_error_body_and_recognises_codes() {
        let body = br#"{"errorCode":"E0000001","errorSummary":"Api validation failed: password","errorLink":"E0000001","errorId":"oaeXYZ","errorCauses":[{"errorSummary":"password: Password requirements were not met"}]}"#;
        let e = OktaError::Api(Box::new(api_error(
            400,
            body,
            Some("req1".into()),
            "hub",
            "POST /api/v1/users",
        )));
        assert!(e.is_validation());
        assert!(!e.is_not_found());
        assert_eq!(e.request_id(), Some("req1"));
        assert_eq!(
            e.to_string(),
            "hub POST /api/v1/users: Api validation failed: password (E0000001, HTTP 400); causes: password: Password requirements were not met"
        );
    }

    #[test]
    fn non_okta_body_is_not_echoed() {
        let e = api_error(
            502,
            b"<html>secret-ish proxy page</html>",
            None,
            "hub",
            "GET /api/v1/users",
        );
        assert_eq!(e.code, "");
        assert!(!e.summary.contains("proxy"));
    }

    #[test]
    fn decode_errors_do_not_quote_values() {
        let e = serde_json::from_str::<u64>(r#""tok-secret""#).unwrap_err();
        assert!(!decode_message(&e).contains("tok-secret"));
        assert_eq!(decode_message(&e), "data error at line 1 column 12");
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct S {
            id: String,
        }
        let e = serde_json::from_str::<S>("{}").unwrap_err();
        assert_eq!(decode_message(&e), "missing field `id` at line 1 column 2");
    }

    #[test]
    fn error_stays_small() {
        assert!(std::mem::size_of::<OktaError>() <= 128);
    }
}
