//! The HTTP pipeline of one simulated org: the entry point, control calls set apart, then for Okta
//! paths routing, concurrency cap, authentication, rate limits, faults, dispatch to the operation and
//! request records, with the common response headers.
//!
//! Owns the order of those steps. It does not define Okta's response shapes (`response`), the path
//! table (`route`), query parameters (`params`) nor the operations (`users`, `apps`, `logs`, `oauth`,
//! `control`).

use std::cell::RefCell;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use serde::Serialize;

use super::limits::{FaultDecision, RateStatus};
use super::logs::EventCtx;
use super::model::{now, OrgName};
use super::oauth::Principal;
use super::params::QueryParams;
use super::response::{
    dropped_response, header, internal, method_not_allowed, not_found, rate_limited, render,
    Answer, ApiError,
};
use super::route::{route, Route};
use super::runtime::{OrgRuntime, Shared, World};
use super::{apps, control, logs, oauth, push, rules, users};

/// Everything an operation needs to know about its call.
pub(crate) struct Invocation<'a> {
    pub org: OrgName,
    pub base: &'a str,
    pub query: &'a QueryParams,
    pub body: &'a [u8],
    pub events: EventCtx,
    pub now: chrono::DateTime<chrono::Utc>,
    /// `If-Match`: the ETag a conditional update expects (412 when the user changed since).
    pub if_match: Option<String>,
    /// `If-None-Match`: the ETag a conditional read already holds (304 when unchanged).
    pub if_none_match: Option<String>,
    /// Wait before an Org2Org push; zero pushes within the call.
    pub push_delay: std::time::Duration,
    /// Org2Org pushes (app id, user id) the call left to run after `push_delay`.
    pub deferred: RefCell<Vec<(String, String)>>,
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
    let query = QueryParams::parse(uri.query());
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

/// What the pipeline knows about one Okta request once it is routed: enough to record it and to finish
/// its response with the rate-limit headers.
struct Exchange<'a> {
    rt: &'a OrgRuntime,
    method: &'a Method,
    path: &'a str,
    query: &'a QueryParams,
    request_id: &'a str,
    bucket: &'static str,
}

impl Exchange<'_> {
    fn record(&self, status: u16) -> RequestRecord {
        RequestRecord {
            method: self.method.to_string(),
            path: self.path.to_string(),
            query: self
                .query
                .pairs()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&"),
            status,
            request_id: self.request_id.to_string(),
            bucket: self.bucket.to_string(),
        }
    }

    /// Renders the outcome, adds the rate-limit headers and records the request.
    fn finish(&self, outcome: Result<Answer, ApiError>, rate: RateStatus) -> Response {
        // Error ids are only drawn for errors, so successes do not move the generator.
        let error_id = if outcome.is_err() {
            self.rt.next_error_id()
        } else {
            String::new()
        };
        let mut r = render(outcome, &self.rt.base_url, self.path, self.query, &error_id);
        for (k, v) in [
            ("x-rate-limit-limit", rate.limit.to_string()),
            ("x-rate-limit-remaining", rate.remaining.to_string()),
            ("x-rate-limit-reset", rate.reset.to_string()),
        ] {
            if let Some((k, v)) = header(k, &v) {
                r.headers_mut().insert(k, v);
            }
        }
        self.rt.record(self.record(r.status().as_u16()));
        r
    }

    /// Answers without consuming the bucket (the request is refused before it counts).
    fn refuse(&self, e: ApiError) -> Response {
        self.finish(Err(e), self.rt.rate(self.bucket, false))
    }
}

/// The pipeline of one Okta request: route, concurrency cap, authentication, rate limit, faults, then
/// the operation.
async fn okta_request(
    st: &OrgState,
    method: &Method,
    path: &str,
    query: &QueryParams,
    headers: &HeaderMap,
    body: &[u8],
    request_id: &str,
) -> Response {
    let shared = &st.shared;
    let rt = shared.runtime(st.org);
    let routed = route(method, path);
    let ex = Exchange {
        rt,
        method,
        path,
        query,
        request_id,
        bucket: routed.as_ref().map(Route::bucket).unwrap_or("default"),
    };
    let route = match routed {
        Ok(r) => r,
        Err(StatusCode::METHOD_NOT_ALLOWED) => return ex.refuse(method_not_allowed()),
        Err(_) => return ex.refuse(not_found(path, "Path")),
    };
    let Some(_guard) = rt.in_flight.enter(rt.max_in_flight()) else {
        return ex.refuse(rate_limited());
    };
    let principal = if route == Route::Token {
        Principal::TokenEndpoint
    } else {
        match oauth::authenticate(shared, st.org, method, path, headers, &route) {
            Ok(p) => p,
            Err(e) => return ex.refuse(e),
        }
    };
    let rate = rt.rate(ex.bucket, true);
    if !rate.allowed {
        return ex.finish(Err(rate_limited()), rate);
    }
    let (decision, latency) = rt.fault(ex.bucket);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match decision {
        FaultDecision::Drop => {
            rt.record(ex.record(0));
            return dropped_response();
        }
        FaultDecision::Error => return ex.finish(Err(internal()), rate),
        FaultDecision::Pass => {}
    }
    if route == Route::Token {
        let outcome = oauth::token(shared, st.org, method, path, headers, body);
        return ex.finish(outcome, rate);
    }
    let call = Invocation {
        org: st.org,
        base: rt.base_url.as_str(),
        query,
        body,
        events: event_context(rt, &principal, request_id, path, headers),
        now: now(),
        if_match: header_text(headers, "if-match"),
        if_none_match: header_text(headers, "if-none-match"),
        push_delay: shared.push_delay,
        deferred: RefCell::new(Vec::new()),
    };
    let outcome = if route.writes() {
        let outcome = dispatch_write(&mut shared.write_world(), &route, &call);
        push::schedule(shared, call.deferred.take(), &call.events);
        outcome
    } else {
        dispatch_read(&shared.read_world(), &route, &call)
    };
    ex.finish(outcome, rate)
}

/// What every event the call writes says about who made it and how.
fn event_context(
    rt: &OrgRuntime,
    principal: &Principal,
    request_id: &str,
    path: &str,
    headers: &HeaderMap,
) -> EventCtx {
    EventCtx {
        actor: principal.actor(rt),
        request_id: request_id.to_string(),
        user_agent: header_text(headers, "user-agent").unwrap_or_default(),
        uri: path.to_string(),
        debug: serde_json::Map::new(),
    }
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn dispatch_read(world: &World, route: &Route, call: &Invocation<'_>) -> Result<Answer, ApiError> {
    let org = world.org(call.org);
    match route {
        Route::ListUsers => users::list(org, call).map(Answer::List),
        Route::GetUser(id) => users::get(org, call, id),
        Route::UserGroups(id) => users::groups(org, call, id),
        Route::UserAppLinks(id) => users::app_links(org, call, id),
        Route::ListApps => apps::list(org, call).map(Answer::List),
        Route::GetApp(id) => apps::get(org, call, id),
        Route::ListAppUsers(app) => apps::list_users(org, call, app).map(Answer::List),
        Route::GetAppUser(app, user) => apps::get_user(org, call, app, user),
        Route::ListGroups => apps::list_groups(org, call).map(Answer::List),
        Route::ListGroupRules => rules::list_rules(org, call).map(Answer::List),
        Route::GetGroup(id) => apps::get_group(org, call, id),
        Route::ListGroupUsers(id) => apps::group_users(org, call, id).map(Answer::List),
        Route::ListLogs => logs::list(org, call.query, call.now).map(Answer::List),
        _ => Err(internal()),
    }
}

fn dispatch_write(
    world: &mut World,
    route: &Route,
    call: &Invocation<'_>,
) -> Result<Answer, ApiError> {
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
