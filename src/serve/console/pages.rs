//! The console's read-only pages: the overview (each remediation's policy, guards, last cycle and
//! work by state; paused or not; pending approvals; the newest work), a plan (the HTML report of
//! `remedy status`, with the journal's states), and a subject (its work row, the events seen for it,
//! its approvals, and the steps and Okta calls its plan's journal holds, with Okta's request ids).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::Extension;
use base64::Engine;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::auth::{Me, Session};
use super::{journal, render, ConsoleError, Ctx, CSP, PAGE};
use crate::plan::sample::sample;
use crate::plan::stream::Opened;
use crate::report::{self, ReportFormat};
use crate::serve::{Approval, Work, WorkState};

#[derive(Serialize)]
struct RemediationView {
    name: String,
    hub: String,
    spoke: String,
    policy: String,
    limits: String,
    guard_raised: bool,
    last_cycle: Option<String>,
    counts: Vec<(String, u64)>,
}

#[derive(Serialize)]
struct WorkView {
    remediation: String,
    user_id: String,
    subject: String,
    state: String,
    detail: String,
    attempts: u32,
    updated: String,
    plan_link: Option<String>,
}

#[derive(Serialize)]
struct OverviewView {
    me: Me,
    title: &'static str,
    paused: Option<String>,
    kill_switch: Option<bool>,
    remediations: Vec<RemediationView>,
    pending: Vec<Approval>,
    work: Vec<WorkView>,
}

/// `/console/plans/<remediation>/<file>` for a plan under the state directory, if it is one.
pub(super) fn plan_link(ctx: &super::Console, plan: &str) -> Option<String> {
    let plans = ctx.shared.config.state_dir.join("plans");
    let rel = Path::new(plan).strip_prefix(&plans).ok()?;
    let mut parts = rel.iter().filter_map(|p| p.to_str());
    let (rem, file) = (parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some(format!("/console/plans/{rem}/{file}"))
}

fn work_view(ctx: &super::Console, w: &Work) -> WorkView {
    WorkView {
        remediation: w.remediation.clone(),
        user_id: w.user_id.clone(),
        subject: w.subject.clone().unwrap_or_default(),
        state: w.state.label().to_string(),
        detail: w.detail.clone().unwrap_or_default(),
        attempts: w.attempts,
        updated: w.updated.clone(),
        plan_link: w.plan.as_deref().and_then(|p| plan_link(ctx, p)),
    }
}

pub(super) async fn overview(
    State(ctx): State<Ctx>,
    Extension(session): Extension<Session>,
) -> Result<Response, ConsoleError> {
    let store = &ctx.shared.store;
    let mut counts: BTreeMap<String, BTreeMap<WorkState, u64>> = BTreeMap::new();
    for (r, s, n) in store.counts()? {
        *counts.entry(r).or_default().entry(s).or_insert(0) += n;
    }
    let mut remediations = Vec::new();
    for r in &ctx.shared.remediations {
        let c = &r.config;
        let last = store
            .last_cycle(&c.name)?
            .map(|(at, planned, applied, outcome)| {
                format!("{at}: {planned} planned, {applied} applied, {outcome}")
            });
        let by_state = counts.get(&c.name);
        remediations.push(RemediationView {
            name: c.name.clone(),
            hub: r.hub.clone(),
            spoke: r.spoke.clone(),
            policy: format!(
                "safe: {:?}, reversible: {:?}, destructive: {:?}",
                c.policy.safe, c.policy.reversible, c.policy.destructive
            )
            .to_lowercase(),
            limits: format!(
                "{} changes an hour, {} a day",
                c.guard.per_hour, c.guard.per_day
            ),
            guard_raised: r.guard_raised.load(Ordering::SeqCst),
            last_cycle: last,
            counts: WorkState::ALL
                .iter()
                .map(|s| {
                    let n = by_state.and_then(|m| m.get(s)).copied().unwrap_or(0);
                    (s.label().to_string(), n)
                })
                .collect(),
        });
    }
    let paused = store
        .paused()?
        .map(|(at, by)| format!("paused by {by} at {at}"));
    let view = OverviewView {
        me: Me::from(&session),
        title: "Overview",
        paused,
        kill_switch: ctx.shared.config.kill_switch.as_ref().map(|k| k.exists()),
        remediations,
        pending: store.approvals(false)?.into_iter().take(PAGE).collect(),
        work: store
            .work(None, PAGE)?
            .iter()
            .map(|w| work_view(&ctx, w))
            .collect(),
    };
    render(&ctx, "overview.html", &view)
}

/// A plan file under `stateDir/plans/<remediation>/`, by names checked to be plain file names.
fn plan_path(ctx: &super::Console, remediation: &str, file: &str) -> Result<PathBuf, ConsoleError> {
    let known = ctx
        .shared
        .remediations
        .iter()
        .any(|r| r.config.name == remediation);
    let plain = !file.starts_with('.')
        && file.ends_with(".json")
        && file
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    if !known || !plain {
        return Err(ConsoleError::NotFound);
    }
    let path = ctx
        .shared
        .config
        .state_dir
        .join("plans")
        .join(remediation)
        .join(file);
    if !path.is_file() {
        return Err(ConsoleError::NotFound);
    }
    Ok(path)
}

/// The plan page lists at most this many steps of each action (the summary counts them all).
pub const PLAN_PER_ACTION: usize = 200;

#[derive(Serialize)]
struct PlanView {
    me: Me,
    title: String,
    journal_note: Option<String>,
    report_style: String,
    report_body: String,
}

/// The text between `open` and `close` in `html`.
fn between<'a>(html: &'a str, open: &str, close: &str) -> &'a str {
    html.split_once(open)
        .and_then(|(_, rest)| rest.split_once(close))
        .map(|(inner, _)| inner)
        .unwrap_or_default()
}

pub(super) async fn plan(
    State(ctx): State<Ctx>,
    Extension(session): Extension<Session>,
    UrlPath((remediation, file)): UrlPath<(String, String)>,
) -> Result<Response, ConsoleError> {
    let path = plan_path(&ctx, &remediation, &file)?;
    // A bounded sample, read as a stream: a page costs the same however large the plan.
    let opened = Opened::open(&path).map_err(|e| ConsoleError::Plan(e.to_string()))?;
    let plan =
        sample(&opened, Some(PLAN_PER_ACTION)).map_err(|e| ConsoleError::Plan(e.to_string()))?;
    let journal_path = path.with_extension("journal.sqlite");
    let step_ids: Vec<&str> = plan.steps.iter().map(|s| s.id.as_str()).collect();
    let keys: Vec<&str> = plan.subjects.iter().map(|s| s.key.as_str()).collect();
    let (results, journal_note) = if journal_path.exists() {
        match journal::results(&journal_path, &step_ids, &keys) {
            Ok(r) => (Some(r), None),
            Err(e) => (
                None,
                Some(format!(
                    "the journal cannot be read right now ({e}); showing the plan only"
                )),
            ),
        }
    } else {
        (None, Some("nothing applied yet: no journal".to_string()))
    };
    // The report's own document; its body and stylesheet go into the console's page. Everything in
    // it was escaped by the report's template.
    let html = report::render(&plan, results.as_ref(), ReportFormat::Html)?;
    // The report styles a whole document; here it is a part of the console's page.
    let style = between(&html, "<style>", "</style>").replace("body {", ".report {");
    // The console's page has its own `main`.
    let body = between(&html, "<body>", "</body>")
        .replace("<main>", "<div class=\"report-main\">")
        .replace("</main>", "</div>");
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(style.as_bytes()));
    let view = PlanView {
        me: Me::from(&session),
        title: format!("Plan {}", plan.plan_id),
        journal_note,
        report_style: style,
        report_body: body,
    };
    let mut res = render(&ctx, "plan.html", &view)?;
    let csp = CSP.replace(
        "style-src 'self'",
        &format!("style-src 'self' 'sha256-{hash}'"),
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    Ok(res)
}

#[derive(Serialize)]
struct SubjectView {
    me: Me,
    title: String,
    remediation: String,
    user_id: String,
    work: Option<WorkView>,
    events: Vec<crate::serve::store::StoredEvent>,
    approvals: Vec<Approval>,
    steps: Vec<journal::StepRow>,
    calls: Vec<journal::CallRow>,
    journal_note: Option<String>,
}

pub(super) async fn subject(
    State(ctx): State<Ctx>,
    Extension(session): Extension<Session>,
    UrlPath((remediation, user)): UrlPath<(String, String)>,
) -> Result<Response, ConsoleError> {
    let store = &ctx.shared.store;
    let work = store
        .work(Some(&remediation), 1_000_000)?
        .into_iter()
        .find(|w| w.user_id == user);
    let Some(work) = work else {
        return Err(ConsoleError::NotFound);
    };
    let mut events = store.events_of(&user)?;
    if let Some(hub) = &work.hub_user_id {
        events.extend(store.events_of(hub)?);
    }
    events.sort_by(|a, b| a.published.cmp(&b.published));
    let approvals = store
        .approvals(true)?
        .into_iter()
        .filter(|a| a.remediation == remediation && a.user_id == user)
        .collect();
    let (mut steps, mut calls, mut journal_note) = (Vec::new(), Vec::new(), None);
    if let (Some(plan), Some(key)) = (&work.plan, &work.subject) {
        let jp = Path::new(plan).with_extension("journal.sqlite");
        if jp.exists() {
            let read = journal::steps(&jp, Some(key)).and_then(|s| {
                let ids: Vec<String> = s.iter().map(|r| r.step_id.clone()).collect();
                Ok((journal::calls(&jp, &ids)?, s))
            });
            match read {
                Ok((c, s)) => {
                    steps = s;
                    calls = c;
                }
                Err(e) => {
                    journal_note = Some(format!("the journal cannot be read right now ({e})"))
                }
            }
        } else {
            journal_note = Some("nothing applied yet: no journal".into());
        }
    }
    let view = SubjectView {
        me: Me::from(&session),
        title: format!(
            "Subject {}",
            work.subject.clone().unwrap_or_else(|| user.clone())
        ),
        remediation,
        user_id: user,
        work: Some(work_view(&ctx, &work)),
        events,
        approvals,
        steps,
        calls,
        journal_note,
    };
    render(&ctx, "subject.html", &view)
}
