//! Signing in to the console: a form taking a configured token (compared in constant time), then a
//! server-side session named by a random id in an `HttpOnly`, `SameSite=Strict` cookie, ending after
//! [`SESSION_TTL`]. Each session has its own CSRF token, which every form carries and every POST is
//! checked against (403 otherwise); the sign-in form itself is protected by a double-submit token in
//! a short-lived cookie. At most [`MAX_SESSIONS`] sessions live at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use rand::RngCore;
use serde::Serialize;
use subtle::ConstantTimeEq;

use super::{render, ConsoleError, Ctx};

/// How long a session lasts after sign-in.
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);
/// Sessions held at once; a sign-in beyond is refused until some expire.
pub const MAX_SESSIONS: usize = 1000;
const COOKIE: &str = "remedy_console";
const PRE_COOKIE: &str = "remedy_console_signin";

/// A signed-in person.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub user: String,
    pub csrf: String,
    expires: Instant,
}

/// The live sessions, by id.
#[derive(Default)]
pub(crate) struct Sessions(Mutex<HashMap<String, Session>>);

impl Sessions {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        match self.0.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn get(&self, id: &str) -> Option<Session> {
        let mut map = self.map();
        match map.get(id) {
            Some(s) if s.expires > Instant::now() => Some(s.clone()),
            Some(_) => {
                map.remove(id);
                None
            }
            None => None,
        }
    }

    fn create(&self, user: &str) -> Option<String> {
        let mut map = self.map();
        let now = Instant::now();
        map.retain(|_, s| s.expires > now);
        if map.len() >= MAX_SESSIONS {
            return None;
        }
        let id = random();
        map.insert(
            id.clone(),
            Session {
                user: user.to_string(),
                csrf: random(),
                expires: now + SESSION_TTL,
            },
        );
        Some(id)
    }

    fn remove(&self, id: &str) {
        self.map().remove(id);
    }
}

/// 32 random bytes from the OS, hex.
fn random() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

fn eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// A cookie's value from the request's `Cookie` headers.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The fields of a urlencoded form body, in order (repeated names kept).
pub(super) fn fields(body: &Bytes) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

pub(super) fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Whether the form's CSRF token matches the session's (if not, the answer is [`forbidden`]).
pub(super) fn csrf_ok(session: &Session, fields: &[(String, String)]) -> bool {
    field(fields, "csrf").is_some_and(|t| eq(t, &session.csrf))
}

/// 403: the CSRF token is missing or wrong.
pub(super) fn forbidden() -> Response {
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "forbidden: the form's CSRF token is missing or wrong; reload the page and try again\n",
    )
        .into_response()
}

/// Lets signed-in requests through with their [`Session`]; sends the others to the sign-in form.
pub(super) async fn require(State(ctx): State<Ctx>, mut req: Request, next: Next) -> Response {
    let session = cookie(req.headers(), COOKIE).and_then(|id| ctx.sessions.get(&id));
    match session {
        Some(s) => {
            req.extensions_mut().insert(s);
            next.run(req).await
        }
        None => Redirect::to("/console/signin").into_response(),
    }
}

#[derive(Serialize)]
struct FormView {
    csrf: String,
    error: Option<&'static str>,
    me: Option<Me>,
}

fn form_page(ctx: &Ctx, error: Option<&'static str>, status: StatusCode) -> Response {
    let token = random();
    let view = FormView {
        csrf: token.clone(),
        error,
        me: None,
    };
    let mut res = match render(ctx, "signin.html", &view) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    *res.status_mut() = status;
    set_cookie(
        &mut res,
        &format!(
            "{PRE_COOKIE}={token}; Path=/console/signin; HttpOnly; SameSite=Strict; Max-Age=3600"
        ),
    );
    res
}

fn set_cookie(res: &mut Response, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
}

pub(super) async fn form(State(ctx): State<Ctx>) -> Response {
    form_page(&ctx, None, StatusCode::OK)
}

/// Checks the token against every configured user's (all compared, in constant time each).
pub(super) async fn sign_in(State(ctx): State<Ctx>, headers: HeaderMap, body: Bytes) -> Response {
    let f = fields(&body);
    let pre = cookie(&headers, PRE_COOKIE).unwrap_or_default();
    match field(&f, "csrf") {
        Some(t) if !pre.is_empty() && eq(t, &pre) => {}
        _ => return forbidden(),
    }
    let given = field(&f, "token").unwrap_or_default().trim();
    let mut who = None;
    for (name, token) in &ctx.users.users {
        if eq(given, token.expose()) && who.is_none() {
            who = Some(name.clone());
        }
    }
    let Some(user) = who else {
        tracing::warn!("console: a sign-in with a wrong token");
        // Slows guessing down; the token is at least 16 characters anyway.
        tokio::time::sleep(Duration::from_millis(300)).await;
        return form_page(
            &ctx,
            Some("That token is not valid."),
            StatusCode::UNAUTHORIZED,
        );
    };
    let Some(id) = ctx.sessions.create(&user) else {
        return ConsoleError::BadRequest("too many sessions are open; try again later".into())
            .into_response();
    };
    tracing::info!(%user, "console: signed in");
    let mut res = Redirect::to("/console").into_response();
    set_cookie(
        &mut res,
        &format!(
            "{COOKIE}={id}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={}",
            SESSION_TTL.as_secs()
        ),
    );
    set_cookie(
        &mut res,
        &format!("{PRE_COOKIE}=; Path=/console/signin; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    res
}

pub(super) async fn sign_out(
    State(ctx): State<Ctx>,
    axum::Extension(session): axum::Extension<Session>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !csrf_ok(&session, &fields(&body)) {
        return forbidden();
    }
    if let Some(id) = cookie(&headers, COOKIE) {
        ctx.sessions.remove(&id);
    }
    let mut res = Redirect::to("/console/signin").into_response();
    set_cookie(
        &mut res,
        &format!("{COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    res
}

/// What every signed-in page's layout shows: who, and the token its forms carry.
#[derive(Serialize)]
pub(super) struct Me {
    pub user: String,
    pub csrf: String,
}

impl From<&Session> for Me {
    fn from(s: &Session) -> Me {
        Me {
            user: s.user.clone(),
            csrf: s.csrf.clone(),
        }
    }
}
