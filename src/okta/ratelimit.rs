//! Client-side rate-limit bookkeeping per endpoint bucket, from Okta's `X-Rate-Limit-Limit`,
//! `X-Rate-Limit-Remaining` and `X-Rate-Limit-Reset` headers. It decides when a request must wait for
//! the bucket's reset so the client stays under a configured share of capacity, and how long to wait
//! after a 429. Reset times are converted with the server's `Date` header, so a skewed local clock does
//! not matter. It does not sleep or send anything itself (`client/send.rs` does).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What the rate-limit headers of one response said.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateHeaders {
    pub limit: u64,
    pub remaining: u64,
    /// `X-Rate-Limit-Reset` as sent: epoch seconds by the server's clock, identifying the window.
    pub reset_epoch: u64,
    /// Time from the response until the bucket resets.
    pub reset_in: Duration,
}

impl RateHeaders {
    /// Reads the headers; `None` when any is missing or malformed.
    pub fn parse(headers: &reqwest::header::HeaderMap) -> Option<Self> {
        let num = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<u64>().ok();
        let limit = num("x-rate-limit-limit")?;
        let remaining = num("x-rate-limit-remaining")?;
        let reset_epoch = num("x-rate-limit-reset")?;
        Some(Self {
            limit,
            remaining,
            reset_epoch,
            reset_in: until_epoch(reset_epoch, headers),
        })
    }
}

/// Time until `epoch` (seconds) by the server's clock. The server's `Date` has whole seconds only, so
/// the local clock is used for sub-second precision when it agrees with `Date` within a second; when
/// it does not (a skewed machine), `Date` wins.
pub fn until_epoch(epoch: u64, headers: &reqwest::header::HeaderMap) -> Duration {
    let local = local_epoch();
    let now = match server_date(headers) {
        Some(date) if (local - date as f64).abs() <= 1.0 => local,
        Some(date) => date as f64,
        None => local,
    };
    Duration::from_secs_f64((epoch as f64 - now).max(0.0))
}

/// The server's `Date` header as epoch seconds.
pub fn server_date(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    let v = headers.get(reqwest::header::DATE)?.to_str().ok()?;
    let t = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    u64::try_from(t.timestamp()).ok()
}

fn local_epoch() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    limit: u64,
    remaining: u64,
    reset_at: Instant,
    reset_epoch: u64,
    /// Requests admitted but not yet answered: they will consume capacity the headers do not show yet.
    reserved: u64,
}

/// Per-bucket state of one org connection.
#[derive(Debug)]
pub struct RateBook {
    share: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
    /// Time requests spent waiting per bucket (share used up, or a 429), for reports.
    waits: Mutex<HashMap<String, Duration>>,
}

/// What one bucket cost so far, for reports: the limit Okta announced (`X-Rate-Limit-Limit`, once a
/// response carried it) and the time requests spent waiting for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BucketUse {
    pub limit: Option<u64>,
    pub waited: Duration,
}

/// Whether a request may go now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Go,
    /// Wait this long (until the bucket's reset), then ask again.
    Wait(Duration),
}

impl RateBook {
    pub fn new(max_capacity_share: f64) -> Self {
        Self {
            share: max_capacity_share.clamp(0.01, 1.0),
            buckets: Mutex::new(HashMap::new()),
            waits: Mutex::new(HashMap::new()),
        }
    }

    /// The share of each bucket's capacity this client uses.
    pub fn share(&self) -> f64 {
        self.share
    }

    /// Adds time a request to `bucket` waited (the client's sleep, before admission or after a 429).
    pub fn waited(&self, bucket: &str, d: Duration) {
        if let Ok(mut w) = self.waits.lock() {
            *w.entry(bucket.to_string()).or_default() += d;
        }
    }

    /// Every bucket heard of so far with its announced limit and the time waited for it.
    pub fn usage(&self) -> BTreeMap<String, BucketUse> {
        let mut out: BTreeMap<String, BucketUse> = BTreeMap::new();
        if let Ok(map) = self.buckets.lock() {
            for (k, b) in map.iter() {
                // A reset epoch comes only from response headers: placeholders have none.
                let limit = (b.reset_epoch > 0 && b.limit > 0).then_some(b.limit);
                out.entry(k.clone()).or_default().limit = limit;
            }
        }
        if let Ok(w) = self.waits.lock() {
            for (k, d) in w.iter() {
                out.entry(k.clone()).or_default().waited = *d;
            }
        }
        out
    }

    /// Each bucket heard of from Okta: (requests remaining, limit) as its last response said; the
    /// service's rate-limit headroom metric.
    pub fn headroom(&self) -> BTreeMap<String, (u64, u64)> {
        self.buckets
            .lock()
            .map(|map| {
                map.iter()
                    .filter(|(_, b)| b.reset_epoch > 0)
                    .map(|(k, b)| (k.clone(), (b.remaining, b.limit)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Requests this bucket must leave unused: the share of capacity not ours.
    fn floor(&self, limit: u64) -> u64 {
        // Ceil so a share below 1.0 always keeps at least one request in reserve.
        let keep = (limit as f64) * (1.0 - self.share);
        keep.ceil() as u64
    }

    /// Admits one request to `bucket` (reserving capacity) or says how long to wait first.
    pub fn admit(&self, bucket: &str, now: Instant) -> Admission {
        let Ok(mut map) = self.buckets.lock() else {
            return Admission::Go;
        };
        // A bucket never heard of is tracked from its first request, so the reservation has a home.
        let b = map.entry(bucket.to_string()).or_insert(Bucket {
            limit: 0,
            remaining: 0,
            reset_at: now,
            reset_epoch: 0,
            reserved: 0,
        });
        if b.limit == 0 {
            // No headers seen yet: nothing to go by.
            b.reserved += 1;
            return Admission::Go;
        }
        if now >= b.reset_at {
            // The window has rolled over; the next response will tell the new state.
            b.remaining = b.limit;
            b.reset_at = now + Duration::from_secs(1);
        }
        let floor = self.floor(b.limit);
        if b.remaining.saturating_sub(b.reserved) > floor {
            b.reserved += 1;
            Admission::Go
        } else {
            Admission::Wait(b.reset_at.saturating_duration_since(now))
        }
    }

    /// Records a response's rate-limit headers.
    pub fn record(&self, bucket: &str, headers: Option<RateHeaders>, now: Instant) {
        let Ok(mut map) = self.buckets.lock() else {
            return;
        };
        if let Some(h) = headers {
            let reset_at = now + h.reset_in;
            let b = map.entry(bucket.to_string()).or_insert(Bucket {
                limit: h.limit,
                remaining: h.remaining,
                reset_at,
                reset_epoch: h.reset_epoch,
                reserved: 0,
            });
            // Responses arrive out of order: within one window (same reset) keep the lowest remaining
            // count; a later reset is a new window whose count replaces the old one; an earlier one is
            // stale news.
            if h.reset_epoch > b.reset_epoch {
                b.remaining = h.remaining;
                b.reset_epoch = h.reset_epoch;
                b.reset_at = reset_at;
            } else if h.reset_epoch == b.reset_epoch {
                b.remaining = b.remaining.min(h.remaining);
                b.reset_at = reset_at;
            }
            b.limit = h.limit;
        }
    }

    /// Releases one reservation made by [`RateBook::admit`] (the request was answered, failed, or
    /// was abandoned).
    pub fn release(&self, bucket: &str) {
        if let Ok(mut map) = self.buckets.lock() {
            if let Some(b) = map.get_mut(bucket) {
                b.reserved = b.reserved.saturating_sub(1);
            }
        }
    }

    /// Marks the bucket empty until `reset_in` from now (after a 429), so other requests wait too.
    pub fn exhausted(&self, bucket: &str, reset_in: Duration, now: Instant) {
        let Ok(mut map) = self.buckets.lock() else {
            return;
        };
        let reset_at = now + reset_in;
        let b = map.entry(bucket.to_string()).or_insert(Bucket {
            limit: 1,
            remaining: 0,
            reset_at,
            reset_epoch: 0,
            reserved: 0,
        });
        b.remaining = 0;
        b.reset_at = b.reset_at.max(reset_at);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn headers(limit: u64, remaining: u64, reset: u64, date: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            "x-rate-limit-limit",
            HeaderValue::from_str(&limit.to_string()).unwrap(),
        );
        h.insert(
            "x-rate-limit-remaining",
            HeaderValue::from_str(&remaining.to_string()).unwrap(),
        );
        h.insert(
            "x-rate-limit-reset",
            HeaderValue::from_str(&reset.to_string()).unwrap(),
        );
        h.insert("date", HeaderValue::from_str(date).unwrap());
        h
    }

    #[test]
    fn reset_is_measured_against_server_date_not_local_clock() {
        // Server clock says 2001-09-09T01:46:40Z (epoch 1_000_000_000); reset is 7 s later by that clock,
        // whatever this machine's clock says.
        let h = headers(100, 5, 1_000_000_007, "Sun, 09 Sep 2001 01:46:40 GMT");
        let r = RateHeaders::parse(&h).unwrap();
        assert_eq!(
            r,
            RateHeaders {
                limit: 100,
                remaining: 5,
                reset_epoch: 1_000_000_007,
                reset_in: Duration::from_secs(7)
            }
        );
    }

    #[test]
    fn waits_before_the_share_is_used_up() {
        let book = RateBook::new(0.5);
        let now = Instant::now();
        let h = |remaining| {
            Some(RateHeaders {
                limit: 10,
                remaining,
                reset_epoch: 9,
                reset_in: Duration::from_secs(3),
            })
        };
        // Unknown bucket: go, and the answer says 6 of 10 are left.
        assert_eq!(book.admit("GET /x", now), Admission::Go);
        book.record("GET /x", h(6), now);
        book.release("GET /x");
        // Floor is 5 (half of 10 is not ours): one more may go while none is in flight...
        assert_eq!(book.admit("GET /x", now), Admission::Go);
        // ...but not a second while the first is unanswered (6 - 1 reserved = 5).
        assert_eq!(
            book.admit("GET /x", now),
            Admission::Wait(Duration::from_secs(3))
        );
        book.record("GET /x", h(5), now);
        book.release("GET /x");
        assert_eq!(
            book.admit("GET /x", now),
            Admission::Wait(Duration::from_secs(3))
        );
        // After the reset the bucket opens again.
        assert_eq!(
            book.admit("GET /x", now + Duration::from_secs(3)),
            Admission::Go
        );
        // Other buckets are independent.
        assert_eq!(book.admit("POST /y", now), Admission::Go);
    }

    #[test]
    fn full_share_waits_only_when_empty_and_429_blocks_everyone() {
        let book = RateBook::new(1.0);
        let now = Instant::now();
        book.record(
            "b",
            Some(RateHeaders {
                limit: 10,
                remaining: 1,
                reset_epoch: 9,
                reset_in: Duration::from_secs(2),
            }),
            now,
        );
        assert_eq!(book.admit("b", now), Admission::Go);
        assert!(matches!(book.admit("b", now), Admission::Wait(_)));
        book.exhausted("c", Duration::from_secs(1), now);
        assert_eq!(
            book.admit("c", now),
            Admission::Wait(Duration::from_secs(1))
        );
    }

    #[test]
    fn out_of_order_answers_keep_the_lowest_count_and_a_new_window_replaces_it() {
        let book = RateBook::new(1.0);
        let now = Instant::now();
        let h = |remaining, reset_epoch| {
            Some(RateHeaders {
                limit: 10,
                remaining,
                reset_epoch,
                reset_in: Duration::from_secs(5),
            })
        };
        book.record("b", h(3, 100), now);
        book.record("b", h(7, 100), now); // older answer of the same window
        for _ in 0..3 {
            assert_eq!(book.admit("b", now), Admission::Go);
        }
        assert!(matches!(book.admit("b", now), Admission::Wait(_)));
        book.record("b", h(9, 99), now); // stale window: ignored
        assert!(matches!(book.admit("b", now), Admission::Wait(_)));
        book.record("b", h(9, 101), now); // the next window
        assert_eq!(book.admit("b", now), Admission::Go);
    }
}
