//! The audit log page: `stateDir/audit.jsonl`, newest first, filtered by operator or user (`who`, a
//! substring of either), action or call (`action`), and day (`date`, `YYYY-MM-DD`, a prefix of the
//! line's time), [`super::PAGE`] lines a page. Only the last [`MAX_READ`] bytes of the file are read,
//! so a page costs the same however long the log grows; lines that are not JSON objects are skipped.

use std::io::{Read, Seek, SeekFrom};

use axum::extract::{Query, State};
use axum::response::Response;
use axum::Extension;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::auth::{Me, Session};
use super::{render, ConsoleError, Ctx, PAGE};

/// How much of the end of the audit log is read for a page.
pub const MAX_READ: u64 = 16 * 1024 * 1024;

#[derive(Debug, Default, Deserialize, Serialize)]
pub(super) struct Filter {
    #[serde(default)]
    who: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    page: usize,
}

#[derive(Serialize)]
struct Line {
    time: String,
    operator: String,
    user: String,
    action: String,
    call: String,
    result: String,
    plan_id: String,
    request_id: String,
}

#[derive(Serialize)]
struct View {
    me: Me,
    title: &'static str,
    filter: Filter,
    lines: Vec<Line>,
    truncated: bool,
    prev: Option<usize>,
    next: Option<usize>,
}

fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// The last [`MAX_READ`] bytes of the log (from a line start), and whether earlier lines were left.
fn tail(path: &std::path::Path) -> Result<(String, bool), ConsoleError> {
    let err = |source| ConsoleError::Read {
        path: path.display().to_string(),
        source,
    };
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((String::new(), false)),
        Err(e) => return Err(err(e)),
    };
    let len = f.metadata().map_err(err)?.len();
    let start = len.saturating_sub(MAX_READ);
    f.seek(SeekFrom::Start(start)).map_err(err)?;
    let mut bytes = Vec::new();
    f.take(MAX_READ).read_to_end(&mut bytes).map_err(err)?;
    let mut s = String::from_utf8_lossy(&bytes).into_owned();
    if start > 0 {
        // Drop the partial first line.
        s = s
            .split_once('\n')
            .map(|(_, r)| r.to_string())
            .unwrap_or_default();
    }
    Ok((s, start > 0))
}

pub(super) async fn page(
    State(ctx): State<Ctx>,
    Extension(session): Extension<Session>,
    Query(filter): Query<Filter>,
) -> Result<Response, ConsoleError> {
    let (log, truncated) = tail(&ctx.shared.config.state_dir.join("audit.jsonl"))?;
    let who = filter.who.trim().to_lowercase();
    let action = filter.action.trim().to_lowercase();
    let date = filter.date.trim().to_string();
    let skip = filter.page.saturating_mul(PAGE);
    let mut lines = Vec::new();
    let mut more = false;
    let matching = log
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.is_object())
        .map(|v| Line {
            time: text(&v, "time"),
            operator: text(&v, "operator"),
            user: text(&v, "user"),
            action: text(&v, "action"),
            call: text(&v, "call"),
            result: text(&v, "result"),
            plan_id: text(&v, "plan_id"),
            request_id: text(&v, "request_id"),
        })
        .filter(|l| {
            who.is_empty()
                || l.operator.to_lowercase().contains(&who)
                || l.user.to_lowercase().contains(&who)
        })
        .filter(|l| {
            action.is_empty()
                || l.action.to_lowercase() == action
                || l.call.to_lowercase().contains(&action)
        })
        .filter(|l| date.is_empty() || l.time.starts_with(&date))
        .skip(skip);
    for l in matching {
        if lines.len() == PAGE {
            more = true;
            break;
        }
        lines.push(l);
    }
    let view = View {
        me: Me::from(&session),
        title: "Audit log",
        prev: filter.page.checked_sub(1),
        next: more.then_some(filter.page + 1),
        filter,
        lines,
        truncated,
    };
    render(&ctx, "audit.html", &view)
}
