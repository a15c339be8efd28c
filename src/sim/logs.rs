//! The System Log: how the simulator writes Okta-shaped LogEvents and how `GET /api/v1/logs` pages
//! through them.
//!
//! Owns event construction (actor, targets, outcome, request context) and the list semantics (`since`,
//! `until`, `filter`, `sortOrder`, cursors, polling). It does not decide which events an operation
//! writes: the operations in `users`, `apps` and `push` do.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};

use super::model::{ts, Org, User};
use super::params::{parse_expr, QueryParams};
use super::query::{self, Op};
use super::response::{bad_request, item, ApiError, ListPage};

/// Who caused an event and through which request, copied into every event the request writes.
#[derive(Debug, Clone)]
pub(crate) struct EventCtx {
    pub actor: Value,
    pub request_id: String,
    pub user_agent: String,
    pub uri: String,
    /// Extra `debugContext.debugData` entries (an IdP's name on a JIT creation, for example).
    pub debug: Map<String, Value>,
}

impl EventCtx {
    /// The context of background work Okta does on its own (provisioning tasks, JIT, generation).
    pub(crate) fn system(request_id: String) -> Self {
        EventCtx {
            actor: json!({
                "id": "0oa1oktasystem000001",
                "type": "SystemPrincipal",
                "alternateId": "system@okta.com",
                "displayName": "Okta System",
            }),
            request_id,
            user_agent: DEFAULT_USER_AGENT.into(),
            uri: String::new(),
            debug: Map::new(),
        }
    }
}

pub(crate) fn user_target(u: &User) -> Value {
    let name = format!(
        "{} {}",
        u.profile
            .get("firstName")
            .and_then(Value::as_str)
            .unwrap_or(""),
        u.profile
            .get("lastName")
            .and_then(Value::as_str)
            .unwrap_or("")
    );
    json!({
        "id": u.id,
        "type": "User",
        "alternateId": u.login(),
        "displayName": name.trim(),
    })
}

pub(crate) fn app_target(id: &str, label: &str) -> Value {
    json!({ "id": id, "type": "AppInstance", "alternateId": label, "displayName": label })
}

pub(crate) fn app_user_target(id: &str, login: &str) -> Value {
    json!({ "id": id, "type": "AppUser", "alternateId": login, "displayName": login })
}

/// What one event says happened.
pub(crate) struct Happened<'a> {
    pub event_type: &'a str,
    pub display: &'a str,
    pub targets: Vec<Value>,
    pub failure: Option<&'a str>,
}

/// Writes one event into `org`'s System Log.
pub(crate) fn write(org: &mut Org, at: DateTime<Utc>, ctx: &EventCtx, what: Happened<'_>) {
    let uuid = org.ids.uuid();
    let mut debug = Map::new();
    debug.insert("requestId".into(), json!(ctx.request_id));
    if !ctx.uri.is_empty() {
        debug.insert("requestUri".into(), json!(ctx.uri));
        debug.insert("url".into(), json!(ctx.uri));
    }
    debug.extend(ctx.debug.clone());
    let outcome = match what.failure {
        None => json!({ "result": "SUCCESS" }),
        Some(reason) => json!({ "result": "FAILURE", "reason": reason }),
    };
    let mut event = json!({
        "actor": ctx.actor,
        "displayMessage": what.display,
        "eventType": what.event_type,
        "outcome": outcome,
        "published": ts(at),
        "debugContext": { "debugData": debug },
        "uuid": uuid,
        "target": what.targets,
    });
    if ctx.user_agent != DEFAULT_USER_AGENT {
        event["client"] = client(&ctx.user_agent);
    }
    fill_event_defaults(&mut event);
    org.push_event(at, event);
}

/// The user agent of Okta's own background work, and the default of seed events.
pub(crate) const DEFAULT_USER_AGENT: &str = "Okta-Integrations";

fn client(user_agent: &str) -> Value {
    json!({
        "userAgent": { "rawUserAgent": user_agent, "os": "Unknown", "browser": "UNKNOWN" },
        "zone": "null",
        "device": "Unknown",
        "ipAddress": "127.0.0.1",
    })
}

/// Fills the LogEvent fields a seed file may leave out: `client` (loopback, the default user
/// agent), `authenticationContext`, `securityContext`, `severity` (WARN on FAILURE), `legacyEventType`
/// (the event type), `version`, `request` and `transaction` (id = `debugContext.debugData.requestId`).
pub(crate) fn fill_event_defaults(event: &mut Value) {
    let event_type = event["eventType"].clone();
    let failed = event["outcome"]["result"] == "FAILURE";
    let request_id = event
        .pointer("/debugContext/debugData/requestId")
        .cloned()
        .unwrap_or(Value::Null);
    let Some(obj) = event.as_object_mut() else {
        return;
    };
    let defaults = [
        ("client", client(DEFAULT_USER_AGENT)),
        (
            "authenticationContext",
            json!({ "authenticationStep": 0, "externalSessionId": "trs-sim" }),
        ),
        ("securityContext", json!({})),
        ("severity", json!(if failed { "WARN" } else { "INFO" })),
        ("legacyEventType", event_type),
        (
            "transaction",
            json!({ "type": "WEB", "id": request_id, "detail": {} }),
        ),
        ("version", json!("0")),
        (
            "request",
            json!({ "ipChain": [{ "ip": "127.0.0.1", "version": "V4" }] }),
        ),
    ];
    for (key, value) in defaults {
        obj.entry(key).or_insert(value);
    }
}

fn parse_time(q: &QueryParams, key: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    match q.get(key) {
        None => Ok(None),
        Some(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| bad_request(&format!("{key}: invalid date `{s}`"))),
    }
}

/// Which filter expressions the System Log accepts: any attribute with `eq`, `sw`, `co`, `pr` and
/// comparisons on `published`.
fn log_allow(attr: &str, op: Op) -> bool {
    !attr.is_empty() && (op != Op::Ne)
}

/// `GET /api/v1/logs`: events between `since` (default 7 days ago) and `until` (default now).
/// Ascending order without `until` is a polling request: like Okta it always returns a `next` link,
/// even on an empty page, so clients must stop on an empty page.
pub(crate) fn list(org: &Org, q: &QueryParams, now: DateTime<Utc>) -> Result<ListPage, ApiError> {
    let since = parse_time(q, "since")?.unwrap_or(now - Duration::days(7));
    let until = parse_time(q, "until")?;
    let limit = q.limit(100, 1000)?;
    let descending = match q.get("sortOrder").unwrap_or("ASCENDING") {
        "ASCENDING" => false,
        "DESCENDING" => true,
        other => return Err(bad_request(&format!("sortOrder: invalid value `{other}`"))),
    };
    let filter = parse_expr(q.get("filter"), &log_allow)?;
    let text = q.get("q").map(|s| s.to_lowercase());
    let after = q
        .get("after")
        .map(|a| parse_cursor(a).ok_or_else(|| bad_request("after: invalid cursor")))
        .transpose()?;
    let upper = until.unwrap_or(now + Duration::milliseconds(1));
    let lo = org.logs.partition_point(|e| e.published < since);
    let hi = org.logs.partition_point(|e| e.published < upper);
    let window = &org.logs[lo..hi.max(lo)];
    let matches = |e: &&super::model::StoredEvent| {
        filter
            .as_ref()
            .is_none_or(|f| f.eval(&|p| query::json_path_values(&e.json, p), false))
            && text
                .as_ref()
                .is_none_or(|t| e.json.to_string().to_lowercase().contains(t))
    };
    let mut items = Vec::new();
    let mut last_key = after;
    let mut more = false;
    let iter: Box<dyn Iterator<Item = &super::model::StoredEvent>> = if descending {
        Box::new(window.iter().rev())
    } else {
        Box::new(window.iter())
    };
    for e in iter {
        let key = (e.published.timestamp_millis(), e.seq);
        if let Some(a) = after {
            let past = if descending { key < a } else { key > a };
            if !past {
                continue;
            }
        }
        if !matches(&e) {
            continue;
        }
        if items.len() == limit {
            more = true;
            break;
        }
        items.push(item(&e.json));
        last_key = Some(key);
    }
    let polling = !descending && until.is_none();
    let next = if more || polling {
        let (ms, seq) = last_key.unwrap_or((since.timestamp_millis() - 1, u64::MAX));
        let mut params: Vec<(String, String)> = q.pairs().filter(|(k, _)| k != "after").collect();
        params.push(("after".into(), format!("{ms}_{seq}")));
        Some(params)
    } else {
        None
    };
    Ok(ListPage::new(items, next))
}

fn parse_cursor(s: &str) -> Option<(i64, u64)> {
    let (ms, seq) = s.split_once('_')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}
