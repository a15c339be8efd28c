//! The approvals page: pending (or all) approvals, filtered by remediation and text; approve or deny
//! one, the ones ticked, or every one shown, with a reason (required to deny). Each decision is
//! `Store::decide` and the audit line `remedy approve`/`deny` write, under the signed-in person's
//! configured name; a request already decided is skipped and said so.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::{Deserialize, Serialize};

use super::auth::{csrf_ok, field, fields, forbidden, Me, Session};
use super::{render, ConsoleError, Ctx, PAGE};
use crate::serve::{Approval, StoreError};

/// At most this many decisions in one request.
pub const MAX_BULK: usize = 1000;
/// A reason longer than this is refused.
pub const MAX_REASON: usize = 1000;

#[derive(Debug, Default, Deserialize, Serialize, Clone)]
pub(super) struct Filter {
    #[serde(default)]
    remediation: String,
    /// Matched against the subject, user id and actions.
    #[serde(default)]
    q: String,
    /// Show decided ones too.
    #[serde(default)]
    all: Option<String>,
}

#[derive(Serialize)]
struct ApprovalView {
    #[serde(flatten)]
    a: Approval,
    subject_link: String,
    plan_link: Option<String>,
}

#[derive(Serialize)]
struct ListView {
    me: Me,
    title: &'static str,
    filter: Filter,
    remediations: Vec<String>,
    approvals: Vec<ApprovalView>,
    pending_shown: usize,
    more: bool,
    messages: Vec<String>,
}

fn matching(ctx: &super::Console, filter: &Filter) -> Result<Vec<Approval>, StoreError> {
    let q = filter.q.trim().to_lowercase();
    Ok(ctx
        .shared
        .store
        .approvals(filter.all.is_some())?
        .into_iter()
        .filter(|a| filter.remediation.is_empty() || a.remediation == filter.remediation)
        .filter(|a| {
            q.is_empty()
                || a.subject.to_lowercase().contains(&q)
                || a.user_id.to_lowercase().contains(&q)
                || a.actions.to_lowercase().contains(&q)
        })
        .collect())
}

fn page(
    ctx: &super::Console,
    session: &Session,
    filter: Filter,
    messages: Vec<String>,
) -> Result<Response, ConsoleError> {
    let all = matching(ctx, &filter)?;
    let more = all.len() > PAGE;
    let approvals: Vec<ApprovalView> = all
        .into_iter()
        .take(PAGE)
        .map(|a| ApprovalView {
            subject_link: format!("/console/subjects/{}/{}", a.remediation, a.user_id),
            plan_link: super::pages::plan_link(ctx, &a.plan),
            a,
        })
        .collect();
    let view = ListView {
        me: Me::from(session),
        title: "Approvals",
        pending_shown: approvals.iter().filter(|a| a.a.state == "pending").count(),
        filter,
        remediations: ctx
            .shared
            .remediations
            .iter()
            .map(|r| r.config.name.clone())
            .collect(),
        approvals,
        more,
        messages,
    };
    render(ctx, "approvals.html", &view)
}

pub(super) async fn list(
    State(ctx): State<Ctx>,
    Extension(session): Extension<Session>,
    Query(filter): Query<Filter>,
) -> Result<Response, ConsoleError> {
    page(&ctx, &session, filter, Vec::new())
}

/// What the form asks: `one=approve:ID` or `one=deny:ID` (a row's button), or `decision` with the
/// ticked `id`s, or `all=approve|deny` for every pending approval the filter shows.
fn requested(
    ctx: &super::Console,
    f: &[(String, String)],
    filter: &Filter,
) -> Result<(bool, Vec<i64>), ConsoleError> {
    let bad = |m: &str| ConsoleError::BadRequest(m.to_string());
    let approve = |v: &str| match v {
        "approve" => Ok(true),
        "deny" => Ok(false),
        _ => Err(bad("the decision is `approve` or `deny`")),
    };
    if let Some(one) = field(f, "one") {
        let (d, id) = one
            .split_once(':')
            .ok_or_else(|| bad("malformed decision"))?;
        let id = id.parse().map_err(|_| bad("malformed approval id"))?;
        return Ok((approve(d)?, vec![id]));
    }
    if let Some(d) = field(f, "all") {
        let ids = matching(ctx, filter)?
            .into_iter()
            .filter(|a| a.state == "pending")
            .take(PAGE)
            .map(|a| a.id)
            .collect();
        return Ok((approve(d)?, ids));
    }
    // Enter in the reason field presses the form's first button, which names no decision.
    let Some(d) = field(f, "decision") else {
        return Ok((true, Vec::new()));
    };
    let ids = f
        .iter()
        .filter(|(k, _)| k == "id")
        .map(|(_, v)| v.parse::<i64>().map_err(|_| bad("malformed approval id")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((approve(d)?, ids))
}

pub(super) async fn decide(
    State(ctx): State<Ctx>,
    Extension(session): Extension<Session>,
    body: Bytes,
) -> Result<Response, ConsoleError> {
    let f = fields(&body);
    if !csrf_ok(&session, &f) {
        return Ok(forbidden());
    }
    let filter = Filter {
        remediation: field(&f, "remediation").unwrap_or_default().to_string(),
        q: field(&f, "q").unwrap_or_default().to_string(),
        all: field(&f, "show_all").map(str::to_string),
    };
    let (approve, ids) = requested(&ctx, &f, &filter)?;
    let reason = field(&f, "reason").map(str::trim).filter(|r| !r.is_empty());
    let mut messages = Vec::new();
    if ids.is_empty() {
        messages.push(
            "Nothing was decided: tick approvals and press a button, or press a row's button."
                .to_string(),
        );
    } else if ids.len() > MAX_BULK {
        return Err(ConsoleError::BadRequest(format!(
            "at most {MAX_BULK} decisions at once"
        )));
    } else if reason.is_some_and(|r| r.chars().count() > MAX_REASON) {
        return Err(ConsoleError::BadRequest(format!(
            "the reason is longer than {MAX_REASON} characters"
        )));
    } else if !approve && reason.is_none() {
        messages.push("A denial needs a reason: nothing was denied.".to_string());
    } else {
        for id in ids {
            messages.push(decide_one(&ctx, &session.user, id, approve, reason)?);
        }
        // The service applies what was approved on its next cycle; wake it now.
        ctx.shared.wake.notify_one();
    }
    Ok(page(&ctx, &session, filter, messages)?.into_response())
}

/// One decision, as `remedy approve`/`deny` make it: the store, then the audit line.
fn decide_one(
    ctx: &super::Console,
    who: &str,
    id: i64,
    approve: bool,
    reason: Option<&str>,
) -> Result<String, ConsoleError> {
    let a = match ctx.shared.store.decide(id, approve, who, reason) {
        Ok(a) => a,
        Err(e @ (StoreError::Decided { .. } | StoreError::NoApproval(_))) => {
            return Ok(format!("Not changed: {e}."))
        }
        Err(e) => return Err(e.into()),
    };
    let result = match &a.reason {
        Some(r) => format!("{}: {r}", a.state),
        None => a.state.clone(),
    };
    crate::apply::record_decision(
        &ctx.shared.config.state_dir.join("audit.jsonl"),
        &plan_id(&a.plan),
        who,
        &a.subject,
        approve,
        &format!("approval #{id} ({})", a.actions),
        &result,
    )
    .map_err(|e| ConsoleError::Audit(e.to_string()))?;
    tracing::info!(id, by = %who, state = %a.state, "console: approval decided");
    Ok(format!(
        "Approval #{id} {} by {who}: {} ({}).",
        a.state, a.subject, a.actions
    ))
}

/// The plan id a service plan's file name carries (`<time>-<plan id>.json`), as `remedy approve`.
fn plan_id(plan: &str) -> String {
    std::path::Path::new(plan)
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.split_once('-'))
        .map(|(_, id)| id.to_string())
        .unwrap_or_default()
}
