//! Rate limits (per-endpoint buckets, concurrency cap) and fault injection, both deterministic: limits
//! count requests, faults draw from a seeded generator per bucket.
//!
//! Owns the bookkeeping and the decisions. It does not build HTTP responses (`api` turns decisions
//! into `X-Rate-Limit-*` headers, 429s, 5xx and dropped connections).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sha2::Digest;

/// Per-bucket request budgets. Defaults are Okta's published per-minute org limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimits {
    /// Requests allowed per window, by bucket name (see [`bucket_names`]); unknown buckets use `default`.
    pub buckets: BTreeMap<String, u32>,
    /// Budget of any bucket not listed.
    pub default: u32,
    /// Window length (Okta: one minute). Tests scale it down.
    #[serde(with = "humantime_serde_compat")]
    pub window: Duration,
    /// Concurrent requests allowed per org before 429s (Okta's default concurrency limit is 75).
    pub max_in_flight: usize,
}

/// Every bucket the simulator meters, with its Okta default limit per minute.
pub fn bucket_names() -> &'static [(&'static str, u32)] {
    &[
        ("users", 600),         // GET/POST /api/v1/users
        ("users.id.get", 2000), // GET /api/v1/users/{idOrLogin}
        ("users.id", 600),      // every other /api/v1/users/{id}... call
        ("apps", 100),          // GET /api/v1/apps
        ("apps.id", 500),       // /api/v1/apps/{id}/...
        ("groups", 500),        // /api/v1/groups...
        ("logs", 120),          // GET /api/v1/logs
        ("oauth2.token", 600),  // POST /oauth2/v1/token
    ]
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            buckets: bucket_names()
                .iter()
                .map(|(n, l)| (n.to_string(), *l))
                .collect(),
            default: 600,
            window: Duration::from_secs(60),
            max_in_flight: 75,
        }
    }
}

impl RateLimits {
    /// No effective limit, for load tests.
    pub fn unlimited() -> Self {
        RateLimits {
            buckets: BTreeMap::new(),
            default: u32::MAX,
            window: Duration::from_secs(60),
            max_in_flight: usize::MAX,
        }
    }

    pub(crate) fn limit(&self, bucket: &str) -> u32 {
        self.buckets.get(bucket).copied().unwrap_or(self.default)
    }
}

/// `window` as a humantime string ("60s", "500ms") in JSON.
mod humantime_serde_compat {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map_err(serde::de::Error::custom)
    }
}

/// Faults injected into one bucket.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultSpec {
    /// Share of requests answered 500 `E0000009` (0.0–1.0).
    pub error_rate: f64,
    /// Share of requests whose connection is dropped without a response (0.0–1.0).
    pub drop_rate: f64,
    /// Added latency in milliseconds before answering (at most [`MAX_FAULT_LATENCY_MS`]).
    pub latency_ms: u64,
}

/// The longest latency a fault may add: a minute, Okta's own request timeout scale; more would only
/// hang every request.
pub const MAX_FAULT_LATENCY_MS: u64 = 60_000;

/// Why fault settings were refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FaultError {
    #[error("`{field}` of {scope} is {value}: a share of requests must be between 0 and 1")]
    Rate {
        scope: String,
        field: &'static str,
        value: f64,
    },
    #[error("`latency_ms` of {scope} is {value}: at most {MAX_FAULT_LATENCY_MS} ms")]
    Latency { scope: String, value: u64 },
}

impl FaultSpec {
    /// Checks the rates are shares (0-1, not NaN) and the latency is at most
    /// [`MAX_FAULT_LATENCY_MS`]; `scope` names the spec in the error.
    fn validate(&self, scope: &str) -> Result<(), FaultError> {
        for (field, value) in [
            ("error_rate", self.error_rate),
            ("drop_rate", self.drop_rate),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(FaultError::Rate {
                    scope: scope.to_string(),
                    field,
                    value,
                });
            }
        }
        if self.latency_ms > MAX_FAULT_LATENCY_MS {
            return Err(FaultError::Latency {
                scope: scope.to_string(),
                value: self.latency_ms,
            });
        }
        Ok(())
    }

    fn is_none(&self) -> bool {
        self.error_rate <= 0.0 && self.drop_rate <= 0.0 && self.latency_ms == 0
    }
}

/// Fault injection per endpoint bucket; `default` applies to buckets not listed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    pub default: FaultSpec,
    pub buckets: BTreeMap<String, FaultSpec>,
}

impl Faults {
    /// Checks every spec (see [`FaultSpec`]'s limits).
    pub fn validate(&self) -> Result<(), FaultError> {
        self.default.validate("the default")?;
        for (bucket, spec) in &self.buckets {
            spec.validate(&format!("bucket `{bucket}`"))?;
        }
        Ok(())
    }

    fn spec(&self, bucket: &str) -> &FaultSpec {
        self.buckets.get(bucket).unwrap_or(&self.default)
    }
}

/// What the fault injector decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultDecision {
    Pass,
    Error,
    Drop,
}

/// Seeded fault state of one org: one generator per bucket, so a bucket's sequence of decisions does
/// not depend on how requests to other buckets interleave.
#[derive(Debug)]
pub(crate) struct FaultState {
    seed: u64,
    faults: Faults,
    rngs: HashMap<String, ChaCha8Rng>,
}

impl FaultState {
    pub(crate) fn new(seed: u64, faults: Faults) -> Self {
        FaultState {
            seed,
            faults,
            rngs: HashMap::new(),
        }
    }

    /// Replaces the faults and restarts every generator, so what follows is reproducible.
    pub(crate) fn set(&mut self, faults: Faults) {
        self.faults = faults;
        self.rngs.clear();
    }

    pub(crate) fn decide(&mut self, bucket: &str) -> (FaultDecision, Duration) {
        let spec = self.faults.spec(bucket).clone();
        if spec.is_none() {
            return (FaultDecision::Pass, Duration::ZERO);
        }
        let seed = self.seed;
        let rng = self.rngs.entry(bucket.to_string()).or_insert_with(|| {
            let digest = sha2::Sha256::digest(format!("{seed}:{bucket}"));
            let mut bytes = [0u8; 32];
            bytes.copy_from_slice(&digest);
            ChaCha8Rng::from_seed(bytes)
        });
        let u: f64 = rng.gen();
        let decision = if u < spec.drop_rate {
            FaultDecision::Drop
        } else if u < spec.drop_rate + spec.error_rate {
            FaultDecision::Error
        } else {
            FaultDecision::Pass
        };
        (decision, Duration::from_millis(spec.latency_ms))
    }
}

/// The rate-limit headers' values after one request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RateStatus {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Unix seconds at which the window resets.
    pub reset: u64,
}

/// Fixed windows per bucket, started by the first request after the previous window ended.
#[derive(Debug)]
pub(crate) struct Limiter {
    limits: RateLimits,
    windows: HashMap<String, (Instant, u32)>,
}

impl Limiter {
    pub(crate) fn new(limits: RateLimits) -> Self {
        Limiter {
            limits,
            windows: HashMap::new(),
        }
    }

    pub(crate) fn reset(&mut self) {
        self.windows.clear();
    }

    pub(crate) fn max_in_flight(&self) -> usize {
        self.limits.max_in_flight
    }

    /// Counts a request against `bucket` when `consume`, else only reports the state.
    pub(crate) fn check(&mut self, bucket: &str, consume: bool) -> RateStatus {
        let limit = self.limits.limit(bucket);
        let window = self.limits.window;
        let now = Instant::now();
        let entry = self.windows.entry(bucket.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= window {
            *entry = (now, 0);
        }
        let allowed = entry.1 < limit;
        if allowed && consume {
            entry.1 += 1;
        }
        let left = window.saturating_sub(now.duration_since(entry.0));
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let reset = (unix + left).as_secs() + u64::from((unix + left).subsec_nanos() > 0);
        RateStatus {
            allowed,
            limit,
            remaining: limit.saturating_sub(entry.1),
            reset,
        }
    }
}

/// Counts requests in flight; `enter` fails once the cap is reached.
#[derive(Debug, Default)]
pub(crate) struct InFlight(AtomicUsize);

pub(crate) struct InFlightGuard<'a>(&'a AtomicUsize);

impl InFlight {
    pub(crate) fn enter(&self, cap: usize) -> Option<InFlightGuard<'_>> {
        let prev = self.0.fetch_add(1, Ordering::SeqCst);
        if prev >= cap {
            self.0.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(InFlightGuard(&self.0))
    }
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_reproducible_per_bucket() {
        let faults = Faults {
            default: FaultSpec {
                error_rate: 0.3,
                drop_rate: 0.1,
                latency_ms: 0,
            },
            buckets: BTreeMap::new(),
        };
        let run = || {
            let mut st = FaultState::new(7, faults.clone());
            (0..50).map(|_| st.decide("users").0).collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        assert!(a.contains(&FaultDecision::Error) && a.contains(&FaultDecision::Pass));
    }

    #[test]
    fn fault_settings_out_of_range_are_refused() {
        let with = |spec: FaultSpec| Faults {
            buckets: BTreeMap::from([("users".to_string(), spec)]),
            ..Faults::default()
        };
        let rate = with(FaultSpec {
            error_rate: 5.0,
            ..FaultSpec::default()
        });
        assert_eq!(
            rate.validate().unwrap_err().to_string(),
            "`error_rate` of bucket `users` is 5: a share of requests must be between 0 and 1"
        );
        let nan = with(FaultSpec {
            drop_rate: f64::NAN,
            ..FaultSpec::default()
        });
        assert!(nan.validate().is_err());
        let slow = Faults {
            default: FaultSpec {
                latency_ms: u64::MAX,
                ..FaultSpec::default()
            },
            ..Faults::default()
        };
        assert!(matches!(slow.validate(), Err(FaultError::Latency { .. })));
        assert!(with(FaultSpec {
            error_rate: 1.0,
            drop_rate: 0.0,
            latency_ms: MAX_FAULT_LATENCY_MS,
        })
        .validate()
        .is_ok());
    }

    #[test]
    fn limiter_exhausts_then_refuses() {
        let mut l = Limiter::new(RateLimits {
            buckets: BTreeMap::from([("logs".to_string(), 2)]),
            ..RateLimits::default()
        });
        assert!(l.check("logs", true).allowed);
        let s = l.check("logs", true);
        assert!(s.allowed && s.remaining == 0);
        assert!(!l.check("logs", true).allowed);
        assert_eq!(l.check("users", true).limit, 600);
    }
}
