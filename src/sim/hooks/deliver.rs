//! One event hook's delivering task: verification first (retried with backoff until the receiver
//! echoes the challenge; nothing is delivered before), then every poll interval the org's new events
//! of the subscribed types, batched into `com.okta.event_hook` bodies, each delivered with one retry
//! and, by the seeded duplicate rate, a second time.
//!
//! Owns the HTTP side of a hook. Events written while the hook is unverified are never delivered, as
//! in Okta. Which events share a batch depends on timing; the ids, challenges and duplicate decisions
//! follow the seed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use super::{DeliveryKind, EventHook, HookDelivery, MAX_EVENTS_PER_DELIVERY};
use crate::sim::model::{now, ts, IdGen};
use crate::sim::runtime::Shared;
use crate::sim::tap::LogTap;

/// How often a verified hook looks for new events.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// The first wait before verification is tried again; it doubles up to `VERIFY_BACKOFF_MAX`.
const VERIFY_BACKOFF: Duration = Duration::from_millis(100);
const VERIFY_BACKOFF_MAX: Duration = Duration::from_secs(5);
/// The wait before Okta's one retry of a failed delivery.
const RETRY_DELAY: Duration = Duration::from_millis(100);
/// The largest receiver answer read (a verification reply is a few dozen bytes).
const MAX_REPLY_BYTES: usize = 64 * 1024;

/// What a delivering task needs besides the shared state.
pub(crate) struct HookTask {
    pub index: usize,
    pub hook: EventHook,
    pub duplicate_rate: f64,
    pub timeout: Duration,
    pub seed: u64,
}

struct Deliverer {
    shared: Arc<Shared>,
    task: HookTask,
    http: reqwest::Client,
    ids: IdGen,
    rng: ChaCha8Rng,
    hook_id: String,
}

/// Runs one hook until the task is aborted.
pub(crate) async fn run(shared: Arc<Shared>, task: HookTask) {
    let http = match reqwest::Client::builder().timeout(task.timeout).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(hook = task.index, error = %e, "event hook cannot start");
            return;
        }
    };
    let mut ids = IdGen::new(task.seed, 300 + task.index as u64);
    let mut rng = ChaCha8Rng::seed_from_u64(task.seed);
    rng.set_stream(300 + task.index as u64);
    let hook_id = format!("who{}", ids.alnum(17));
    let mut d = Deliverer {
        shared,
        task,
        http,
        ids,
        rng,
        hook_id,
    };
    d.verify_until_accepted().await;
    d.deliver_forever().await;
}

impl Deliverer {
    fn record(&self, d: HookDelivery) {
        self.shared.activity.hooks.record(d);
    }

    fn blank(&self, kind: DeliveryKind) -> HookDelivery {
        HookDelivery {
            hook: self.task.index,
            org: self.task.hook.org,
            kind,
            event_id: None,
            uuids: Vec::new(),
            attempt: 1,
            duplicate: false,
            status: None,
            latency: Duration::ZERO,
            error: None,
        }
    }

    fn authenticated(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let req = req.header("accept", "application/json");
        match &self.task.hook.secret {
            Some(secret) => req.header(self.task.hook.header.as_str(), secret.as_str()),
            None => req,
        }
    }

    async fn verify_until_accepted(&mut self) {
        let mut wait = VERIFY_BACKOFF;
        loop {
            let challenge = self.ids.alnum(40);
            let mut rec = self.blank(DeliveryKind::Verification);
            let started = Instant::now();
            let req = self
                .http
                .get(&self.task.hook.url)
                .header("x-okta-verification-challenge", &challenge);
            let answer = self.authenticated(req).send().await;
            rec.latency = started.elapsed();
            match answer {
                Ok(resp) => {
                    rec.status = Some(resp.status().as_u16());
                    let body = read_reply(resp).await;
                    let echoed = body
                        .as_ref()
                        .and_then(|b| serde_json::from_slice::<Value>(b).ok())
                        .is_some_and(|v| v["verification"] == challenge.as_str());
                    if !rec.status.is_some_and(|s| (200..300).contains(&s)) {
                        rec.error = Some("the receiver did not answer 2xx".into());
                    } else if !echoed {
                        rec.error = Some("the receiver did not echo the challenge".into());
                    }
                }
                Err(e) => rec.error = Some(reqwest_failure(&e)),
            }
            let ok = rec.ok();
            if ok {
                tracing::info!(hook = self.task.index, org = %self.task.hook.org, "event hook verified");
            } else {
                tracing::error!(
                    hook = self.task.index,
                    org = %self.task.hook.org,
                    error = rec.error.as_deref().unwrap_or(""),
                    "event hook verification failed; deliveries wait for it"
                );
            }
            self.record(rec);
            if ok {
                self.shared.activity.hooks.set_verified(self.task.index);
                return;
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(VERIFY_BACKOFF_MAX);
        }
    }

    async fn deliver_forever(&mut self) {
        let org = self.task.hook.org;
        let mut generation = self.shared.generation();
        let mut tap = LogTap::at_end(self.shared.read_world().org(org));
        loop {
            tokio::time::sleep(POLL_INTERVAL).await;
            let events: Vec<Value> = {
                let world = self.shared.read_world();
                if self.shared.generation() != generation {
                    // The world was reset: its seeded events are not news.
                    generation = self.shared.generation();
                    tap = LogTap::at_end(world.org(org));
                    continue;
                }
                tap.read(world.org(org))
                    .into_iter()
                    .filter(|e| self.subscribed(&e.json))
                    .map(|e| e.json.clone())
                    .collect()
            };
            for batch in events.chunks(MAX_EVENTS_PER_DELIVERY) {
                self.deliver_batch(batch).await;
            }
        }
    }

    fn subscribed(&self, event: &Value) -> bool {
        let t = event["eventType"].as_str().unwrap_or("");
        self.task.hook.event_types.iter().any(|s| s == t)
    }

    /// One batch: delivered with a retry, then maybe once more as a duplicate.
    async fn deliver_batch(&mut self, events: &[Value]) {
        let event_id = self.ids.uuid();
        let base = &self.shared.runtime(self.task.hook.org).base_url;
        let body = json!({
            "eventType": "com.okta.event_hook",
            "eventTypeVersion": "1.0",
            "cloudEventsVersion": "0.1",
            "source": format!("{base}/api/v1/eventHooks/{}", self.hook_id),
            "eventId": event_id,
            "eventTime": ts(now()),
            "contentType": "application/json",
            "data": { "events": events },
        });
        let uuids: Vec<String> = events
            .iter()
            .filter_map(|e| e["uuid"].as_str().map(str::to_string))
            .collect();
        // Drawn for every batch, so the duplicate decisions follow the seed batch by batch.
        let duplicate = self.rng.gen_bool(self.task.duplicate_rate);
        self.send_with_retry(&body, &event_id, &uuids, false).await;
        if duplicate {
            self.send_with_retry(&body, &event_id, &uuids, true).await;
        }
    }

    async fn send_with_retry(&self, body: &Value, event_id: &str, uuids: &[String], dup: bool) {
        for attempt in 1..=2 {
            let mut rec = self.blank(DeliveryKind::Events);
            rec.event_id = Some(event_id.to_string());
            rec.uuids = uuids.to_vec();
            rec.attempt = attempt;
            rec.duplicate = dup;
            let started = Instant::now();
            let req = self.http.post(&self.task.hook.url).json(body);
            match self.authenticated(req).send().await {
                Ok(resp) => {
                    rec.status = Some(resp.status().as_u16());
                    if read_reply(resp).await.is_none() {
                        rec.error = Some("the receiver's answer could not be read".into());
                    } else if !rec.ok() {
                        rec.error = Some("the receiver did not answer 2xx".into());
                    }
                }
                Err(e) => rec.error = Some(reqwest_failure(&e)),
            }
            rec.latency = started.elapsed();
            let ok = rec.ok();
            tracing::info!(
                hook = self.task.index,
                org = %self.task.hook.org,
                events = uuids.len(),
                attempt,
                duplicate = dup,
                status = rec.status,
                latency_ms = rec.latency.as_millis() as u64,
                error = rec.error.as_deref(),
                "event hook delivery"
            );
            self.record(rec);
            if ok {
                return;
            }
            if attempt == 1 {
                tokio::time::sleep(RETRY_DELAY).await;
            }
        }
    }
}

/// The receiver's answer, up to [`MAX_REPLY_BYTES`]; None when it cannot be read or is longer.
async fn read_reply(mut resp: reqwest::Response) -> Option<Vec<u8>> {
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_REPLY_BYTES as u64)
    {
        return None;
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.ok()? {
        if body.len() + chunk.len() > MAX_REPLY_BYTES {
            return None;
        }
        body.extend_from_slice(&chunk);
    }
    Some(body)
}

/// A reqwest failure in words, without its URL (which may hold a token).
fn reqwest_failure(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "no answer within the timeout".into()
    } else if e.is_connect() {
        "cannot connect to the receiver".into()
    } else {
        "the request failed".into()
    }
}
