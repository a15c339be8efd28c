//! The service's HTTP endpoints: `GET /healthz` (the process answers), `GET /readyz` (every task
//! started and not stopping), `GET /metrics` (Prometheus text format) and the event hook routes
//! (`hook.rs`). Health and metrics need no credentials; nothing they show is secret (counts, names of
//! remediations and orgs).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::{hook, ServeError, Shared};

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/hooks/okta/{org}", get(hook::verify).post(hook::deliver))
        .layer(DefaultBodyLimit::max(hook::MAX_BODY))
        .with_state(shared)
}

async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    if shared.ready.load(Ordering::SeqCst) {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    match shared.metrics.render() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Serves until shutdown; requests in flight finish.
pub(super) async fn serve(
    shared: Arc<Shared>,
    listener: tokio::net::TcpListener,
) -> Result<(), ServeError> {
    let addr = listener.local_addr().map_err(|source| ServeError::Listen {
        addr: shared.config.listen,
        source,
    })?;
    let mut shutdown = shared.shutdown.subscribe();
    axum::serve(listener, router(shared.clone()))
        .with_graceful_shutdown(async move {
            // An error means the sender is gone: the service is stopping either way.
            shutdown.changed().await.ok();
        })
        .await
        .map_err(|source| ServeError::Listen { addr, source })
}
