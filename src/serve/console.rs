//! The review console: server-rendered pages on the service's HTTP listener, under `/console`, for the
//! people who review and approve what the service does. Enabled by `service.console` in the config
//! (no console routes otherwise). It reads the service's store, the plans and journals it references,
//! and the audit log; the only thing it changes is an approval's decision (with the audit line
//! `remedy approve`/`deny` write), recorded under the signed-in person's configured name.
//!
//! - `auth.rs`: sign-in with a configured token, server-side sessions, the CSRF token of every form;
//! - `pages.rs`: the overview, a plan (the HTML report with the journal's live states), a subject;
//! - `approvals.rs`: pending and decided approvals, approve or deny one, several or all shown;
//! - `audit.rs`: the audit log, filtered and paged; `journal.rs`: reading a journal without a lock;
//! - `templates/`: the minijinja templates (auto-escaped) and the stylesheet, embedded at build time.
//!
//! Every response carries a strict Content-Security-Policy (no script at all, styles from
//! `/console/static/console.css`; the plan page also allows the report's own stylesheet by its hash),
//! `X-Frame-Options: DENY`, `nosniff`, `no-referrer` and `no-store`. Nothing rendered comes from a
//! secret: tokens are compared, never shown, and neither the store nor the plans hold reset URLs.

mod approvals;
mod audit;
mod auth;
mod journal;
mod pages;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use minijinja::Environment;
use serde::Serialize;

use super::config::ConsoleAuth;
use super::Shared;

pub(crate) use auth::Sessions;

/// The console's Content-Security-Policy: nothing but same-origin styles, images and form posts.
pub const CSP: &str =
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
/// A form body larger than this is refused (413): a bulk decision of 1,000 ids fits easily.
pub const MAX_FORM: usize = 64 * 1024;
/// At most this many rows in one list (work, approvals); the audit log is paged by this too.
pub const PAGE: usize = 200;

const CSS: &str = include_str!("console/templates/console.css");

/// Why a console page could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("the console's templates: {0}")]
    Template(#[from] minijinja::Error),
    #[error(transparent)]
    Store(#[from] super::StoreError),
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    #[error("cannot read the plan: {0}")]
    Plan(String),
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot record the decision in the audit log: {0}")]
    Audit(String),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let status = match &self {
            ConsoleError::NotFound => StatusCode::NOT_FOUND,
            ConsoleError::BadRequest(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self, "console page failed");
        }
        // Plain text, escaped by its content type; the error names files and ids, never a secret.
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{self}\n"),
        )
            .into_response()
    }
}

/// What the console's handlers share.
pub(crate) struct Console {
    pub shared: Arc<Shared>,
    pub users: ConsoleAuth,
    pub sessions: Sessions,
    pub templates: Environment<'static>,
}

type Ctx = Arc<Console>;

/// The console's routes, when the config enables it.
pub(super) fn router(shared: &Arc<Shared>) -> Result<Option<Router>, ConsoleError> {
    let Some(users) = shared.config.console.clone() else {
        return Ok(None);
    };
    let ctx = Arc::new(Console {
        shared: shared.clone(),
        users,
        sessions: Sessions::default(),
        templates: templates()?,
    });
    let signed_in = Router::new()
        .route("/console", get(pages::overview))
        .route("/console/plans/{remediation}/{file}", get(pages::plan))
        .route(
            "/console/subjects/{remediation}/{user}",
            get(pages::subject),
        )
        .route(
            "/console/approvals",
            get(approvals::list).post(approvals::decide),
        )
        .route("/console/audit", get(audit::page))
        .route("/console/signout", post(auth::sign_out))
        .route_layer(middleware::from_fn_with_state(ctx.clone(), auth::require));
    let open = Router::new()
        .route("/console/signin", get(auth::form).post(auth::sign_in))
        .route("/console/static/console.css", get(css));
    Ok(Some(
        signed_in
            .merge(open)
            .route("/console/", get(|| async { Redirect::to("/console") }))
            .layer(middleware::from_fn(headers))
            .layer(DefaultBodyLimit::max(MAX_FORM))
            .with_state(ctx),
    ))
}

fn templates() -> Result<Environment<'static>, ConsoleError> {
    let mut env = Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()?,
    );
    // `.html` names turn on auto-escaping.
    for (name, text) in [
        ("layout.html", include_str!("console/templates/layout.html")),
        ("signin.html", include_str!("console/templates/signin.html")),
        (
            "overview.html",
            include_str!("console/templates/overview.html"),
        ),
        ("plan.html", include_str!("console/templates/plan.html")),
        (
            "subject.html",
            include_str!("console/templates/subject.html"),
        ),
        (
            "approvals.html",
            include_str!("console/templates/approvals.html"),
        ),
        ("audit.html", include_str!("console/templates/audit.html")),
        (
            "work_table.html",
            include_str!("console/templates/work_table.html"),
        ),
    ] {
        env.add_template(name, text)?;
    }
    Ok(env)
}

/// Renders template `name` with `view` (HTML-escaped by the engine).
fn render<V: Serialize>(ctx: &Console, name: &str, view: &V) -> Result<Response, ConsoleError> {
    let template = ctx.templates.get_template(name)?;
    let html = template.render(minijinja::Value::from(minijinja::value::Serde(view)))?;
    Ok(Html(html).into_response())
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        CSS,
    )
        .into_response()
}

/// Security headers on every console response; a handler may set a stricter or hash-extended CSP.
async fn headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}
