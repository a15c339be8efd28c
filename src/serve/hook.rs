//! The Okta Event Hook endpoint, `/hooks/okta/{org}` (the org whose events Okta delivers there):
//!
//! - `GET` with `X-Okta-Verification-Challenge` answers `{"verification": "<the value>"}` (Okta's
//!   one-time verification when the hook is registered);
//! - `POST` delivers a batch (`{"eventType": "com.okta.event_hook", "data": {"events": [...]}}`).
//!
//! Both must carry the configured header with the configured secret (compared in constant time); a
//! wrong or missing one is answered 401 and logged without its value. A delivery is stored durably
//! (deduplicated by each event's `uuid`, since Okta delivers at least once) and answered 200 at
//! once; processing happens afterwards from the store, so Okta's ~3 s deadline holds whatever the
//! backlog. Limits: a body of at most [`MAX_BODY`] bytes and [`MAX_EVENTS`] events (413 past them),
//! a challenge of at most 1 KiB.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use super::events::stored;
use super::metrics::OrgLabels;
use super::Shared;
use crate::okta::{JsonModel, LogEvent};

/// The largest delivery accepted.
pub const MAX_BODY: usize = 4 * 1024 * 1024;
/// The most events in one delivery.
pub const MAX_EVENTS: usize = 1000;

fn authorized(shared: &Shared, headers: &HeaderMap, org: &str) -> bool {
    let Some(auth) = &shared.config.hook else {
        return false;
    };
    let given = headers
        .get(auth.header.as_str())
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    let ok: bool = given.ct_eq(auth.secret.expose().as_bytes()).into();
    if !ok {
        shared
            .metrics
            .hook_refused
            .get_or_create(&OrgLabels {
                org: org.to_string(),
            })
            .inc();
        tracing::warn!(
            org = %org,
            header = %auth.header,
            present = !given.is_empty(),
            "event hook request refused: wrong or missing secret header"
        );
    }
    ok
}

fn known(shared: &Shared, org: &str) -> bool {
    shared.orgs.contains_key(org)
}

/// `GET /hooks/okta/{org}`: the verification challenge.
pub(super) async fn verify(
    State(shared): State<Arc<Shared>>,
    Path(org): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !known(&shared, &org) {
        return StatusCode::NOT_FOUND.into_response();
    }
    if !authorized(&shared, &headers, &org) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let Some(challenge) = headers
        .get("x-okta-verification-challenge")
        .and_then(|v| v.to_str().ok())
        .filter(|c| c.len() <= 1024)
    else {
        return (
            StatusCode::BAD_REQUEST,
            "missing X-Okta-Verification-Challenge header",
        )
            .into_response();
    };
    tracing::info!(org = %org, "event hook verified");
    Json(json!({ "verification": challenge })).into_response()
}

/// `POST /hooks/okta/{org}`: a delivery.
pub(super) async fn deliver(
    State(shared): State<Arc<Shared>>,
    Path(org): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !known(&shared, &org) {
        return StatusCode::NOT_FOUND.into_response();
    }
    if !authorized(&shared, &headers, &org) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if body.len() > MAX_BODY {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    }
    let events = match parse(&body) {
        Ok(e) => e,
        Err((status, message)) => {
            tracing::warn!(org = %org, problem = %message, "event hook delivery rejected");
            return (status, message).into_response();
        }
    };
    let rows: Vec<_> = events.iter().map(stored).collect();
    match shared.store.add_events(&org, "hook", &rows, None) {
        Ok(added) => {
            shared.stored("hook", &org, rows.len(), added);
            StatusCode::OK.into_response()
        }
        // Not stored: Okta must deliver again, so say so with a 5xx.
        Err(e) => {
            tracing::error!(org = %org, error = %e, "event hook delivery could not be stored");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// The events of a delivery, each checked to be a LogEvent with a uuid.
fn parse(body: &[u8]) -> Result<Vec<LogEvent>, (StatusCode, String)> {
    let bad = |m: String| (StatusCode::BAD_REQUEST, m);
    let v: Value = serde_json::from_slice(body).map_err(|e| bad(format!("not JSON: {e}")))?;
    let events = v
        .pointer("/data/events")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no `data.events` array".into()))?;
    if events.len() > MAX_EVENTS {
        return Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("more than {MAX_EVENTS} events in one delivery"),
        ));
    }
    events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            LogEvent::from_value(e.clone())
                .map_err(|err| bad(format!("event #{} is not a LogEvent: {err}", i + 1)))
                .and_then(|e| {
                    if e.uuid.is_empty() {
                        Err(bad(format!("event #{} has no uuid", i + 1)))
                    } else {
                        Ok(e)
                    }
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_needs_events_with_uuids() {
        assert!(parse(b"{}").is_err());
        assert!(parse(br#"{"data":{"events":[{"published":"x","eventType":"y"}]}}"#).is_err());
        let ok = parse(
            br#"{"data":{"events":[{"uuid":"u1","published":"2026-01-01T00:00:00.000Z","eventType":"user.lifecycle.activate"}]}}"#,
        );
        assert_eq!(ok.map(|e| e.len()).ok(), Some(1));
    }
}
