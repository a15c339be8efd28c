//! System Log polling, one poller per org: Okta's polling form of `GET /api/v1/logs` (`since` and no
//! `until`, ascending, the next link followed forever) with [`POLL_FILTER`](super::events::POLL_FILTER).
//!
//! The cursor is durable: each page's events and the newest `published` among them are stored in
//! one transaction, so a restart (or a SIGKILL) resumes from the last stored page. A restart asks
//! again from [`OVERLAP`] before the cursor, because Okta may persist an event a little after its
//! `published` time; what is read twice is recognised by its `uuid` and not processed again. A
//! failed poll is retried from the stored cursor after a pause; refused credentials stop the service.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;

use super::events::{stored, POLL_FILTER};
use super::metrics::OrgLabels;
use super::{ServeError, Shared};
use crate::okta::{LogQuery, OktaApi, OktaClient, SortOrder};

/// How far before the stored cursor a restarted poll asks again.
pub const OVERLAP: chrono::Duration = chrono::Duration::minutes(2);

/// The cursor's key in the store.
pub fn cursor_key(org: &str) -> String {
    format!("poll:{org}")
}

/// Polls `org` until shutdown; returns an error only for refused credentials.
pub(super) async fn run(
    shared: Arc<Shared>,
    client: OktaClient,
    lookback: chrono::Duration,
) -> Result<(), ServeError> {
    let org = client.org_name().to_string();
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        let since = start(&shared, &org, lookback)?;
        let query = LogQuery {
            since: Some(since),
            filter: Some(POLL_FILTER.to_string()),
            limit: Some(1000),
            sort_order: Some(SortOrder::Ascending),
            ..LogQuery::default()
        };
        let mut pages = client.poll_logs(query, shared.config.poll_interval);
        let failed = loop {
            let page = tokio::select! {
                _ = shutdown.changed() => return Ok(()),
                page = pages.next() => page,
            };
            match page {
                None => break None,
                Some(Ok(page)) => store_page(&shared, &org, &page.items)?,
                Some(Err(e)) => break Some(e),
            }
        };
        if let Some(e) = failed {
            if e.status().is_some_and(|s| s == 401 || s == 403)
                || matches!(e, crate::okta::OktaError::Auth { .. })
            {
                return Err(ServeError::Refused {
                    org,
                    message: e.to_string(),
                });
            }
            shared
                .metrics
                .poll_errors
                .get_or_create(&OrgLabels { org: org.clone() })
                .inc();
            tracing::warn!(org = %org, error = %e, "System Log poll failed; retrying from the stored cursor");
        }
        let pause = shared.config.poll_interval.max(Duration::from_millis(200));
        tokio::select! {
            _ = shutdown.changed() => return Ok(()),
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

/// Where a (re)started poll begins: the stored cursor less the overlap, or `lookback` ago.
fn start(
    shared: &Shared,
    org: &str,
    lookback: chrono::Duration,
) -> Result<DateTime<Utc>, ServeError> {
    let now = Utc::now();
    Ok(match shared.store.cursor(&cursor_key(org))? {
        Some(c) => DateTime::parse_from_rfc3339(&c)
            .map(|t| t.with_timezone(&Utc) - OVERLAP)
            .unwrap_or(now - lookback),
        None => now - lookback,
    })
}

/// Stores one page's events and the cursor after them.
fn store_page(
    shared: &Shared,
    org: &str,
    items: &[crate::okta::LogEvent],
) -> Result<(), ServeError> {
    if items.is_empty() {
        return Ok(());
    }
    let events: Vec<_> = items.iter().map(stored).collect();
    let newest = events
        .iter()
        .map(|(e, _)| e.published.as_str())
        .max()
        .unwrap_or_default()
        .to_string();
    let key = cursor_key(org);
    let added = shared
        .store
        .add_events(org, "poll", &events, Some((&key, &newest)))?;
    shared.stored("poll", org, events.len(), added);
    Ok(())
}
