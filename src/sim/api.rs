//! The HTTP face of one simulated org: routing of Okta paths, authentication, rate limits, faults,
//! request records, Okta's error bodies, pagination `Link` headers and the common response headers.
//!
//! Owns the request pipeline and the shared response vocabulary (`OktaError`, `Page`, `Reply`,
//! `Query`). It does not implement the operations themselves (`users`, `apps`, `logs`, `oauth`,
//! `control`).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{json, Value};

use super::limits::FaultDecision;
use super::logs::EventCtx;
use super::model::{now, OrgName};
use super::oauth::Principal;
use super::{apps, control, logs, oauth, users, Shared};

/// Query parameters in request order (Okta echoes them back in `Link` headers).
#[derive(Debug, Clone, Default)]
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        Query(
            url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn pairs(&self) -> impl Iterator<Item = (String, String)> + '_ {
        self.0.iter().cloned()
    }

    /// `limit`, defaulted and clamped to `max` like Okta; a non-number is a 400.
    pub(crate) fn limit(&self, default: usize, max: usize) -> Result<usize, OktaError> {
        match self.get("limit") {
            None => Ok(default),
            Some(s) => match s.parse::<i64>() {
                Ok(n) if n >= 1 => Ok((n as usize).min(max)),
                _ => Err(bad_request(&format!("limit: invalid value `{s}`"))),
            },
        }
    }

    pub(crate) fn flag(&self, key: &str) -> Result<Option<bool>, OktaError> {
        match self.get(key) {
            None => Ok(None),
            Some(s) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(s) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(s) => Err(bad_request(&format!("{key}: invalid boolean `{s}`"))),
        }
    }
}

/// An Okta error response: status, `errorCode`, `errorSummary` and `errorCauses`.
#[derive(Debug, Clone)]
pub(crate) struct OktaError {
    pub status: StatusCode,
    pub code: &'static str,
    pub summary: String,
    pub causes: Vec<String>,
    pub headers: Vec<(&'static str, String)>,
}

impl OktaError {
    pub(crate) fn new(status: StatusCode, code: &'static str, summary: impl Into<String>) -> Self {
        OktaError {
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

pub(crate) fn bad_request(cause: &str) -> OktaError {
    OktaError::new(
        StatusCode::BAD_REQUEST,
        "E0000001",
        "Api validation failed: request",
    )
    .cause(cause)
}

pub(crate) fn validation(field: &str, cause: &str) -> OktaError {
    OktaError::new(
        StatusCode::BAD_REQUEST,
        "E0000001",
        format!("Api validation failed: {field}"),
    )
    .cause(format!("{field}: {cause}"))
}

pub(crate) fn malformed() -> OktaError {
    OktaError::new(
        StatusCode::BAD_REQUEST,
        "E0000003",
        "The request body was not well-formed.",
    )
}

/// Parses an optional `search`/`filter` expression; a bad one is Okta's `E0000031`.
pub(crate) fn parse_expr(
    text: Option<&str>,
    allow: super::query::Allow<'_>,
) -> Result<Option<super::query::Expr>, OktaError> {
    text.map(|t| super::query::parse(t, allow))
        .transpose()
        .map_err(|e| invalid_search(&e.to_string()))
}

fn invalid_search(cause: &str) -> OktaError {
    OktaError::new(
        StatusCode::BAD_REQUEST,
        "E0000031",
        "Invalid search criteria.",
    )
    .cause(cause)
}

pub(crate) fn not_found(what: &str, kind: &str) -> OktaError {
    OktaError::new(
        StatusCode::NOT_FOUND,
        "E0000007",
        format!("Not found: Resource not found: {what} ({kind})"),
    )
}

pub(crate) fn bad_status() -> OktaError {
    OktaError::new(
        StatusCode::FORBIDDEN,
        "E0000038",
        "This operation is not allowed in the user's current status.",
    )
}

pub(crate) fn unauthorized() -> OktaError {
    OktaError::new(
        StatusCode::UNAUTHORIZED,
        "E0000011",
        "Invalid token provided",
    )
}

pub(crate) fn rate_limited() -> OktaError {
    OktaError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "E0000047",
        "API call exceeded rate limit due to too many requests.",
    )
}

pub(crate) fn internal() -> OktaError {
    OktaError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "E0000009",
        "Internal Server Error",
    )
}

pub(crate) fn parse_body(body: &[u8]) -> Result<Value, OktaError> {
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
pub(crate) struct Page {
    pub json: String,
    pub next: Option<Vec<(String, String)>>,
}

impl Page {
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
        Page { json, next }
    }
}

/// Serialises one collection item.
pub(crate) fn item<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// A successful answer.
#[derive(Debug)]
pub(crate) enum Reply {
    Json(StatusCode, Value, Vec<(&'static str, String)>),
    Page(Page),
    Empty(StatusCode),
}

impl Reply {
    pub(crate) fn ok(v: Value) -> Self {
        Reply::Json(StatusCode::OK, v, Vec::new())
    }
}

/// Everything an operation needs to know about its call.
pub(crate) struct Call<'a> {
    pub org: OrgName,
    pub base: &'a str,
    pub query: &'a Query,
    pub body: &'a [u8],
    pub events: EventCtx,
    pub now: chrono::DateTime<chrono::Utc>,
}

/// A recognised Okta operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    ListUsers,
    CreateUser,
    GetUser(String),
    UpdateUser(String, bool),
    DeleteUser(String),
    UserGroups(String),
    UserAppLinks(String),
    Lifecycle(String, String),
    ListApps,
    GetApp(String),
    ListAppUsers(String),
    AssignAppUser(String),
    GetAppUser(String, String),
    UpdateAppUser(String, String),
    UnassignAppUser(String, String),
    ListGroups,
    GetGroup(String),
    ListGroupUsers(String),
    AddGroupUser(String, String),
    RemoveGroupUser(String, String),
    ListLogs,
    Token,
}

impl Route {
    /// Okta's rate-limit bucket of the operation (see `limits::bucket_names`).
    pub(crate) fn bucket(&self) -> &'static str {
        match self {
            Route::ListUsers | Route::CreateUser => "users",
            Route::GetUser(_) => "users.id.get",
            Route::UpdateUser(..)
            | Route::DeleteUser(_)
            | Route::UserGroups(_)
            | Route::UserAppLinks(_)
            | Route::Lifecycle(..) => "users.id",
            Route::ListApps => "apps",
            Route::GetApp(_)
            | Route::ListAppUsers(_)
            | Route::AssignAppUser(_)
            | Route::GetAppUser(..)
            | Route::UpdateAppUser(..)
            | Route::UnassignAppUser(..) => "apps.id",
            Route::ListGroups
            | Route::GetGroup(_)
            | Route::ListGroupUsers(_)
            | Route::AddGroupUser(..)
            | Route::RemoveGroupUser(..) => "groups",
            Route::ListLogs => "logs",
            Route::Token => "oauth2.token",
        }
    }

    /// The OAuth scope an access token needs (`manage` implies `read`).
    pub(crate) fn scope(&self) -> &'static str {
        match self {
            Route::ListUsers
            | Route::GetUser(_)
            | Route::UserGroups(_)
            | Route::UserAppLinks(_) => "okta.users.read",
            Route::CreateUser
            | Route::UpdateUser(..)
            | Route::DeleteUser(_)
            | Route::Lifecycle(..) => "okta.users.manage",
            Route::ListApps | Route::GetApp(_) | Route::ListAppUsers(_) | Route::GetAppUser(..) => {
                "okta.apps.read"
            }
            Route::AssignAppUser(_) | Route::UpdateAppUser(..) | Route::UnassignAppUser(..) => {
                "okta.apps.manage"
            }
            Route::ListGroups | Route::GetGroup(_) | Route::ListGroupUsers(_) => "okta.groups.read",
            Route::AddGroupUser(..) | Route::RemoveGroupUser(..) => "okta.groups.manage",
            Route::ListLogs => "okta.logs.read",
            Route::Token => "",
        }
    }

    fn writes(&self) -> bool {
        matches!(
            self,
            Route::CreateUser
                | Route::UpdateUser(..)
                | Route::DeleteUser(_)
                | Route::Lifecycle(..)
                | Route::AssignAppUser(_)
                | Route::UpdateAppUser(..)
                | Route::UnassignAppUser(..)
                | Route::AddGroupUser(..)
                | Route::RemoveGroupUser(..)
        )
    }
}

const LIFECYCLE: &[&str] = &[
    "activate",
    "deactivate",
    "reactivate",
    "reset_password",
    "expire_password",
    "suspend",
    "unsuspend",
    "unlock",
];

/// Maps a method and path to an operation; `Err` tells 404 (no such path) from 405 (wrong method).
pub(crate) fn route(method: &Method, path: &str) -> Result<Route, StatusCode> {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let m = method.as_str();
    let s = |i: usize| segs.get(i).map(|x| x.to_string()).unwrap_or_default();
    let found = match (segs.as_slice(), m) {
        (["api", "v1", "users"], "GET") => Route::ListUsers,
        (["api", "v1", "users"], "POST") => Route::CreateUser,
        (["api", "v1", "users", _], "GET") => Route::GetUser(s(3)),
        (["api", "v1", "users", _], "POST") => Route::UpdateUser(s(3), true),
        (["api", "v1", "users", _], "PUT") => Route::UpdateUser(s(3), false),
        (["api", "v1", "users", _], "DELETE") => Route::DeleteUser(s(3)),
        (["api", "v1", "users", _, "groups"], "GET") => Route::UserGroups(s(3)),
        (["api", "v1", "users", _, "appLinks"], "GET") => Route::UserAppLinks(s(3)),
        (["api", "v1", "users", _, "lifecycle", op], "POST") if LIFECYCLE.contains(op) => {
            Route::Lifecycle(s(3), s(5))
        }
        (["api", "v1", "apps"], "GET") => Route::ListApps,
        (["api", "v1", "apps", _], "GET") => Route::GetApp(s(3)),
        (["api", "v1", "apps", _, "users"], "GET") => Route::ListAppUsers(s(3)),
        (["api", "v1", "apps", _, "users"], "POST") => Route::AssignAppUser(s(3)),
        (["api", "v1", "apps", _, "users", _], "GET") => Route::GetAppUser(s(3), s(5)),
        (["api", "v1", "apps", _, "users", _], "POST") => Route::UpdateAppUser(s(3), s(5)),
        (["api", "v1", "apps", _, "users", _], "DELETE") => Route::UnassignAppUser(s(3), s(5)),
        (["api", "v1", "groups"], "GET") => Route::ListGroups,
        (["api", "v1", "groups", _], "GET") => Route::GetGroup(s(3)),
        (["api", "v1", "groups", _, "users"], "GET") => Route::ListGroupUsers(s(3)),
        (["api", "v1", "groups", _, "users", _], "PUT") => Route::AddGroupUser(s(3), s(5)),
        (["api", "v1", "groups", _, "users", _], "DELETE") => Route::RemoveGroupUser(s(3), s(5)),
        (["api", "v1", "logs"], "GET") => Route::ListLogs,
        (["oauth2", "v1", "token"], "POST") => Route::Token,
        (
            ["api", "v1", "users"]
            | ["api", "v1", "users", _]
            | ["api", "v1", "users", _, "groups" | "appLinks"]
            | ["api", "v1", "users", _, "lifecycle", _]
            | ["api", "v1", "apps"]
            | ["api", "v1", "apps", _]
            | ["api", "v1", "apps", _, "users"]
            | ["api", "v1", "apps", _, "users", _]
            | ["api", "v1", "groups"]
            | ["api", "v1", "groups", _]
            | ["api", "v1", "groups", _, "users"]
            | ["api", "v1", "groups", _, "users", _]
            | ["api", "v1", "logs"]
            | ["oauth2", "v1", "token"],
            _,
        ) => return Err(StatusCode::METHOD_NOT_ALLOWED),
        _ => return Err(StatusCode::NOT_FOUND),
    };
    Ok(found)
}

/// One request the org received, as `requests()` and `GET /__sim/requests` report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    pub query: String,
    /// HTTP status sent; 0 when the connection was dropped by fault injection.
    pub status: u16,
    pub request_id: String,
    pub bucket: String,
}

/// The axum state of one org's server.
#[derive(Clone)]
pub(crate) struct OrgState {
    pub shared: Arc<Shared>,
    pub org: OrgName,
}

fn header(name: &'static str, value: &str) -> Option<(&'static str, HeaderValue)> {
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
    outcome: Result<Reply, OktaError>,
    base: &str,
    path: &str,
    query: &Query,
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
        Ok(Reply::Json(status, v, headers)) => {
            let mut r = json(status, &v);
            for (k, v) in headers {
                if let Some((k, v)) = header(k, &v) {
                    r.headers_mut().append(k, v);
                }
            }
            r
        }
        Ok(Reply::Empty(status)) => status.into_response(),
        Ok(Reply::Page(page)) => {
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

fn dropped_response() -> Response {
    let stream = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "fault injection dropped the connection",
        ))
    });
    Response::new(Body::from_stream(stream))
}

/// The single entry point of an org's server.
pub(crate) async fn handle(
    State(st): State<OrgState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let shared = &st.shared;
    let rt = shared.runtime(st.org);
    let request_id = rt.next_request_id();
    let path = uri.path().to_string();
    let query = Query::parse(uri.query());
    let mut response = if path.starts_with("/__sim/") {
        control::handle(shared, st.org, &method, &path, &headers, &body)
    } else {
        okta_request(&st, &method, &path, &query, &headers, &body, &request_id).await
    };
    if let Some(h) = header("x-okta-request-id", &request_id) {
        response.headers_mut().insert(h.0, h.1);
    }
    response
}

async fn okta_request(
    st: &OrgState,
    method: &Method,
    path: &str,
    query: &Query,
    headers: &HeaderMap,
    body: &[u8],
    request_id: &str,
) -> Response {
    let shared = &st.shared;
    let rt = shared.runtime(st.org);
    let base = rt.base_url.as_str();
    let routed = route(method, path);
    let bucket = routed.as_ref().map(Route::bucket).unwrap_or("default");
    let record = |status: u16| RequestRecord {
        method: method.to_string(),
        path: path.to_string(),
        query: query
            .pairs()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&"),
        status,
        request_id: request_id.to_string(),
        bucket: bucket.to_string(),
    };
    let finish = |outcome: Result<Reply, OktaError>, rate: Option<super::limits::RateStatus>| {
        // Error ids are only drawn for errors, so successes do not move the generator.
        let error_id = if outcome.is_err() {
            rt.next_error_id()
        } else {
            String::new()
        };
        let mut r = render(outcome, base, path, query, &error_id);
        if let Some(rate) = rate {
            for (k, v) in [
                ("x-rate-limit-limit", rate.limit.to_string()),
                ("x-rate-limit-remaining", rate.remaining.to_string()),
                ("x-rate-limit-reset", rate.reset.to_string()),
            ] {
                if let Some((k, v)) = header(k, &v) {
                    r.headers_mut().insert(k, v);
                }
            }
        }
        rt.record(record(r.status().as_u16()));
        r
    };
    let route = match routed {
        Ok(r) => r,
        Err(StatusCode::METHOD_NOT_ALLOWED) => {
            let e = OktaError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "E0000022",
                "The endpoint does not support the provided HTTP method",
            );
            return finish(Err(e), Some(rt.rate(bucket, false)));
        }
        Err(_) => {
            let e = not_found(path, "Path");
            return finish(Err(e), Some(rt.rate(bucket, false)));
        }
    };
    let Some(_guard) = rt.in_flight.enter(rt.max_in_flight()) else {
        let rate = rt.rate(bucket, false);
        return finish(Err(rate_limited()), Some(rate));
    };
    let principal = if route == Route::Token {
        Principal::TokenEndpoint
    } else {
        match oauth::authenticate(shared, st.org, method, path, headers, &route) {
            Ok(p) => p,
            Err(e) => return finish(Err(e), Some(rt.rate(bucket, false))),
        }
    };
    let rate = rt.rate(bucket, true);
    if !rate.allowed {
        return finish(Err(rate_limited()), Some(rate));
    }
    let (decision, latency) = rt.fault(bucket);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match decision {
        FaultDecision::Drop => {
            rt.record(record(0));
            return dropped_response();
        }
        FaultDecision::Error => return finish(Err(internal()), Some(rate)),
        FaultDecision::Pass => {}
    }
    if route == Route::Token {
        let outcome = oauth::token(shared, st.org, method, path, headers, body);
        return finish(outcome, Some(rate));
    }
    let user_agent = headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let call = Call {
        org: st.org,
        base,
        query,
        body,
        events: EventCtx {
            actor: principal.actor(rt),
            request_id: request_id.to_string(),
            user_agent,
            uri: path.to_string(),
            debug: serde_json::Map::new(),
        },
        now: now(),
    };
    let if_none_match = headers
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let outcome = if route.writes() {
        let mut world = shared.write_world();
        dispatch_write(&mut world, &route, &call)
    } else {
        let world = shared.read_world();
        dispatch_read(&world, &route, &call, if_none_match.as_deref())
    };
    finish(outcome, Some(rate))
}

fn dispatch_read(
    world: &super::World,
    route: &Route,
    call: &Call<'_>,
    if_none_match: Option<&str>,
) -> Result<Reply, OktaError> {
    let org = world.org(call.org);
    match route {
        Route::ListUsers => users::list(org, call).map(Reply::Page),
        Route::GetUser(id) => users::get(org, call, id, if_none_match),
        Route::UserGroups(id) => users::groups(org, call, id),
        Route::UserAppLinks(id) => users::app_links(org, call, id),
        Route::ListApps => apps::list(org, call).map(Reply::Page),
        Route::GetApp(id) => apps::get(org, call, id),
        Route::ListAppUsers(app) => apps::list_users(org, call, app).map(Reply::Page),
        Route::GetAppUser(app, user) => apps::get_user(org, call, app, user),
        Route::ListGroups => apps::list_groups(org, call).map(Reply::Page),
        Route::GetGroup(id) => apps::get_group(org, call, id),
        Route::ListGroupUsers(id) => apps::group_users(org, call, id).map(Reply::Page),
        Route::ListLogs => logs::list(org, call.query, call.now).map(Reply::Page),
        _ => Err(internal()),
    }
}

fn dispatch_write(
    world: &mut super::World,
    route: &Route,
    call: &Call<'_>,
) -> Result<Reply, OktaError> {
    match route {
        Route::CreateUser => users::create(world.org_mut(call.org), call),
        Route::UpdateUser(id, partial) => {
            users::update(world.org_mut(call.org), call, id, *partial)
        }
        Route::DeleteUser(id) => users::delete(world.org_mut(call.org), call, id),
        Route::Lifecycle(id, op) => users::lifecycle(world.org_mut(call.org), call, id, op),
        Route::AssignAppUser(app) => apps::assign(world, call, app),
        Route::UpdateAppUser(app, user) => apps::update_user(world, call, app, user),
        Route::UnassignAppUser(app, user) => apps::unassign(world, call, app, user),
        Route::AddGroupUser(group, user) => {
            apps::group_membership(world.org_mut(call.org), call, group, user, true)
        }
        Route::RemoveGroupUser(group, user) => {
            apps::group_membership(world.org_mut(call.org), call, group, user, false)
        }
        _ => Err(internal()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn routes_paths_and_methods() {
        assert_eq!(
            route(&Method::POST, "/api/v1/users/00u1/lifecycle/reset_password"),
            Ok(Route::Lifecycle("00u1".into(), "reset_password".into()))
        );
        assert_eq!(
            route(&Method::DELETE, "/api/v1/logs"),
            Err(StatusCode::METHOD_NOT_ALLOWED)
        );
        assert_eq!(route(&Method::GET, "/api/v2/x"), Err(StatusCode::NOT_FOUND));
        assert_eq!(
            route(&Method::GET, "/api/v1/users/a@b.com").map(|r| r.bucket()),
            Ok("users.id.get")
        );
    }

    #[test]
    fn link_headers_encode_spaces_as_percent_20() {
        let q = vec![("search".to_string(), "status eq \"ACTIVE\"".to_string())];
        assert_eq!(
            link_header("http://h", "/api/v1/users", &q, "next"),
            "<http://h/api/v1/users?search=status%20eq%20%22ACTIVE%22>; rel=\"next\""
        );
    }
}
