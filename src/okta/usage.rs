//! Where a run's time went at Okta: requests per endpoint, and the binding bucket, the one whose
//! rate limit bounds the run from below. A bucket of `n` requests used at share `s` of a limit of `L`
//! a minute takes at least `n / (s·L)` minutes, however fast everything else is; the bucket with the
//! largest such floor binds. The client keys buckets by endpoint (`METHOD /path/{template}`) and
//! learns each limit from `X-Rate-Limit-Limit`; when Okta shares one bucket between several endpoints
//! their floors add up, which this report does not know (docs/cost-model.md). It does not count
//! anything itself (`client` and `ratelimit` do).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::BucketUse;

/// The bucket that bounds a run from below.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Binding {
    /// `ORG METHOD PATH` (`spoke GET /api/v1/apps/{appId}/users/{userId}`).
    pub endpoint: String,
    /// Requests sent to it, retries included.
    pub requests: u64,
    /// Okta's limit for it, requests a minute (`X-Rate-Limit-Limit`).
    pub limit_per_minute: u64,
    /// The share of the limit the client uses (`max_capacity_share`).
    pub share: f64,
    /// `requests / (share × limit)` in seconds, to 0.1 s: the least time these requests take.
    pub floor_seconds: f64,
    /// Time requests to it spent waiting (share used up, or a 429), to 0.1 s, summed over requests:
    /// concurrent waits add up, so it can exceed the run's wall time.
    pub waited_seconds: f64,
}

/// Requests per endpoint of one or more orgs, and the binding bucket among them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RequestReport {
    /// `ORG METHOD PATH` → requests sent, retries and the token endpoint included.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requests: BTreeMap<String, u64>,
    /// `None` when no response announced a limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<Binding>,
}

fn tenths(seconds: f64) -> f64 {
    (seconds * 10.0).round() / 10.0
}

impl RequestReport {
    /// One org's report from its client's counts and buckets.
    pub fn of(
        org: &str,
        counts: &BTreeMap<String, u64>,
        usage: &BTreeMap<String, BucketUse>,
        share: f64,
    ) -> RequestReport {
        let requests = counts
            .iter()
            .map(|(k, n)| (format!("{org} {k}"), *n))
            .collect();
        let binding = counts
            .iter()
            .filter_map(|(k, n)| {
                let used = usage.get(k)?;
                let limit = used.limit?;
                let floor = (*n as f64) * 60.0 / (share * limit as f64);
                Some(Binding {
                    endpoint: format!("{org} {k}"),
                    requests: *n,
                    limit_per_minute: limit,
                    share,
                    floor_seconds: tenths(floor),
                    waited_seconds: tenths(used.waited.as_secs_f64()),
                })
            })
            .fold(None, |best: Option<Binding>, b| match best {
                Some(x) if !binds_more(&b, &x) => Some(x),
                _ => Some(b),
            });
        RequestReport { requests, binding }
    }

    /// Several orgs' reports as one.
    pub fn merge(reports: impl IntoIterator<Item = RequestReport>) -> RequestReport {
        let mut out = RequestReport::default();
        for r in reports {
            for (k, n) in r.requests {
                *out.requests.entry(k).or_insert(0) += n;
            }
            out.binding = match (out.binding, r.binding) {
                (Some(a), Some(b)) if binds_more(&b, &a) => Some(b),
                (Some(a), _) => Some(a),
                (None, b) => b,
            };
        }
        out
    }

    /// Requests in all.
    pub fn total(&self) -> u64 {
        self.requests.values().sum()
    }

    /// One line for people: the total, per org, and the binding bucket.
    pub fn line(&self) -> String {
        let mut per_org: BTreeMap<&str, u64> = BTreeMap::new();
        for (k, n) in &self.requests {
            let org = k.split(' ').next().unwrap_or(k);
            *per_org.entry(org).or_insert(0) += n;
        }
        let orgs = per_org
            .iter()
            .map(|(o, n)| format!("{o} {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut line = format!("Requests: {} ({orgs})", self.total());
        if let Some(b) = &self.binding {
            line.push_str(&format!(
                "; binding bucket {}: {} at {:.0}% of {}/min take at least {:.1} s (waited {:.1} s)",
                b.endpoint,
                b.requests,
                b.share * 100.0,
                b.limit_per_minute,
                b.floor_seconds,
                b.waited_seconds
            ));
        }
        line
    }
}

/// Whether `a` bounds the run more than `b` (larger floor; then more waiting; then name order, so
/// the choice does not depend on map order).
fn binds_more(a: &Binding, b: &Binding) -> bool {
    a.floor_seconds
        .total_cmp(&b.floor_seconds)
        .then(a.waited_seconds.total_cmp(&b.waited_seconds))
        .then(b.endpoint.cmp(&a.endpoint))
        .is_gt()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_bucket_with_the_largest_floor_binds() {
        let counts = BTreeMap::from([
            ("GET /api/v1/users/{id}".to_string(), 1200),
            ("GET /api/v1/apps/{appId}/users/{userId}".to_string(), 2400),
            ("GET /api/v1/logs".to_string(), 2),
        ]);
        let usage = BTreeMap::from([
            (
                "GET /api/v1/users/{id}".to_string(),
                BucketUse {
                    limit: Some(600),
                    waited: Duration::ZERO,
                },
            ),
            (
                "GET /api/v1/apps/{appId}/users/{userId}".to_string(),
                BucketUse {
                    limit: Some(500),
                    waited: Duration::from_secs(300),
                },
            ),
        ]);
        let r = RequestReport::of("spoke", &counts, &usage, 0.8);
        let b = r.binding.clone().unwrap();
        assert_eq!(b.endpoint, "spoke GET /api/v1/apps/{appId}/users/{userId}");
        // 2,400 at 0.8 × 500/min: 6 minutes.
        assert_eq!(b.floor_seconds, 360.0);
        assert_eq!(r.total(), 3602);
        let hub = RequestReport::of("hub", &counts, &BTreeMap::new(), 0.8);
        let both = RequestReport::merge([hub, r]);
        assert_eq!(both.requests.len(), 6);
        assert_eq!(both.binding.unwrap().floor_seconds, 360.0);
    }
}
