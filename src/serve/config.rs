//! The service's part of `remedy.yaml`: the `service` section (state directory, listening address,
//! sources of work, schedules, kill switch) and the `remediations` (a rulebook and the orgs it runs on,
//! its autonomy policy and rate guards). Parsed into serde mirrors here, then validated into the
//! types the service runs on; the `orgs` section is the Okta client's (`okta::config`).
//!
//! ```yaml
//! service:
//!   stateDir: ./remedy-state          # the SQLite store, plans, journals, audit log (0700)
//!   listen: 127.0.0.1:8787            # health, metrics, event hooks
//!   pollInterval: 60s                 # System Log polling; `sources: [hook]` turns it off
//!   sources: [poll, hook]
//!   recheck: 5m                       # waiting subjects are re-checked this often (and on hub events)
//!   killSwitch: ./remedy-state/PAUSE  # while this file exists nothing is changed
//!   eventHook: { header: Authorization, secretEnv: REMEDY_HOOK_SECRET }
//! remediations:
//!   - name: spoke-eu
//!     rules: org2org-password-sync    # a path or a shipped rulebook's name
//!     orgs: { hub: hub, spoke: spoke }  # optional: configured org names for the rulebook's roles
//!     autonomy: { safe: auto, reversible: auto, destructive: approve }
//!     limits: { perHour: 20, perDay: 100 }
//! ```

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::rulebook::Safety;

/// Limits on the config itself (it is outside input).
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;
/// At most this many remediations in one service.
pub const MAX_REMEDIATIONS: usize = 100;
/// Poll intervals below this would spend the System Log's rate bucket on nothing.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Why the service's configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ServeConfigError {
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` is larger than {MAX_CONFIG_BYTES} bytes", path.display())]
    TooLarge { path: PathBuf },
    #[error("`{}` is not valid: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("`{}`: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

/// What a class of steps may do without a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Autonomy {
    /// Applied at once.
    Auto,
    /// Queued until a person approves it (`remedy approve`).
    Approve,
    /// Planned and reported, never applied by the service.
    Report,
}

/// The autonomy of each safety class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(default = "auto")]
    pub safe: Autonomy,
    #[serde(default = "auto")]
    pub reversible: Autonomy,
    #[serde(default = "approve")]
    pub destructive: Autonomy,
}

fn auto() -> Autonomy {
    Autonomy::Auto
}
fn approve() -> Autonomy {
    Autonomy::Approve
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            safe: Autonomy::Auto,
            reversible: Autonomy::Auto,
            destructive: Autonomy::Approve,
        }
    }
}

impl Policy {
    pub fn of(&self, safety: Safety) -> Autonomy {
        match safety {
            Safety::Safe => self.safe,
            Safety::Reversible => self.reversible,
            Safety::Destructive => self.destructive,
        }
    }
}

/// Rate guards for unattended changes, per remediation: changing steps per rolling hour and day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateGuard {
    #[serde(default = "per_hour")]
    pub per_hour: u64,
    #[serde(default = "per_day")]
    pub per_day: u64,
}

fn per_hour() -> u64 {
    20
}
fn per_day() -> u64 {
    100
}

impl Default for RateGuard {
    fn default() -> Self {
        RateGuard {
            per_hour: per_hour(),
            per_day: per_day(),
        }
    }
}

/// Where work comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceMode {
    /// System Log polling.
    Poll,
    /// Okta Event Hooks delivered to `/hooks/okta/{org}`.
    Hook,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    service: Option<ServiceRaw>,
    #[serde(default)]
    remediations: Vec<RemediationRaw>,
    // The sections other parts read.
    #[serde(default, rename = "orgs")]
    _orgs: Option<serde_yaml::Value>,
    #[serde(default, rename = "notifications")]
    _notifications: Option<serde_yaml::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ServiceRaw {
    state_dir: Option<PathBuf>,
    listen: Option<String>,
    poll_interval: Option<String>,
    sources: Option<Vec<SourceMode>>,
    recheck: Option<String>,
    kill_switch: Option<PathBuf>,
    event_hook: Option<HookRaw>,
    apply_concurrency: Option<usize>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct HookRaw {
    header: Option<String>,
    secret_env: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RemediationRaw {
    name: String,
    rules: String,
    #[serde(default)]
    orgs: Option<OrgsRaw>,
    #[serde(default)]
    autonomy: Option<Policy>,
    #[serde(default)]
    limits: Option<RateGuard>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgsRaw {
    hub: Option<String>,
    spoke: Option<String>,
}

/// The event hook's authentication: the header Okta sends and the secret it must carry. The secret
/// is held in memory only, never logged or written.
#[derive(Clone)]
pub struct HookAuth {
    pub header: String,
    pub secret: crate::okta::Secret,
}

impl std::fmt::Debug for HookAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "HookAuth {{ header: {:?}, secret: <redacted> }}",
            self.header
        )
    }
}

/// One remediation: a rulebook, the configured orgs it runs on, what it may do alone.
#[derive(Debug, Clone)]
pub struct Remediation {
    pub name: String,
    /// A path (relative to the config's directory) or a shipped rulebook's name.
    pub rules: PathBuf,
    /// Configured org names for the rulebook's hub and spoke (default: the rulebook's own names).
    pub hub: Option<String>,
    pub spoke: Option<String>,
    pub policy: Policy,
    pub guard: RateGuard,
}

/// The validated service configuration.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The `remedy.yaml` it came from (its `orgs` are read by the Okta client's loader).
    pub path: PathBuf,
    pub state_dir: PathBuf,
    pub listen: SocketAddr,
    pub poll_interval: Duration,
    pub sources: BTreeSet<SourceMode>,
    pub recheck: Duration,
    pub kill_switch: Option<PathBuf>,
    pub hook: Option<HookAuth>,
    pub apply_concurrency: usize,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub remediations: Vec<Remediation>,
}

impl ServeConfig {
    /// Reads and validates the service's sections of `path`; `env` reads environment variables
    /// (the event hook's secret).
    pub fn load(
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ServeConfig, ServeConfigError> {
        validate(path, read_file(path)?, env)
    }

    /// Only the state directory of the config at `path`: what the approval and pause commands need
    /// (they must work without the service's secrets in their environment).
    pub fn state_dir_of(path: &Path) -> Result<PathBuf, ServeConfigError> {
        let file = read_file(path)?;
        Ok(state_dir(
            &base_dir(path),
            file.service.and_then(|s| s.state_dir),
        ))
    }
}

/// The config's directory, absolute (relative paths in the config are relative to it).
fn base_dir(path: &Path) -> PathBuf {
    let parent = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let parent = if parent.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        parent
    };
    std::fs::canonicalize(&parent).unwrap_or(parent)
}

fn state_dir(base: &Path, configured: Option<PathBuf>) -> PathBuf {
    base.join(configured.unwrap_or_else(|| "remedy-state".into()))
}

fn read_file(path: &Path) -> Result<File, ServeConfigError> {
    let read = |source| ServeConfigError::Read {
        path: path.to_path_buf(),
        source,
    };
    let len = std::fs::metadata(path).map_err(read)?.len();
    if len > MAX_CONFIG_BYTES {
        return Err(ServeConfigError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    let text = std::fs::read_to_string(path).map_err(read)?;
    serde_yaml::from_str(&text).map_err(|e| ServeConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

fn duration(
    path: &Path,
    key: &str,
    raw: Option<String>,
    default: Duration,
) -> Result<Duration, ServeConfigError> {
    match raw {
        None => Ok(default),
        Some(s) => humantime::parse_duration(&s).map_err(|e| ServeConfigError::Invalid {
            path: path.to_path_buf(),
            message: format!("`service.{key}` `{s}` is not a duration: {e}"),
        }),
    }
}

fn validate(
    path: &Path,
    file: File,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ServeConfig, ServeConfigError> {
    let invalid = |message: String| ServeConfigError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    // Absolute, so the paths the store records (plans) mean the same to every command.
    let base = base_dir(path);
    let svc = file.service.unwrap_or_default();
    let listen_raw = svc.listen.unwrap_or_else(|| "127.0.0.1:8787".into());
    let listen: SocketAddr = listen_raw.parse().map_err(|_| {
        invalid(format!(
            "`service.listen` `{listen_raw}` is not an address:port"
        ))
    })?;
    let poll_interval = duration(
        path,
        "pollInterval",
        svc.poll_interval,
        Duration::from_secs(60),
    )?;
    if poll_interval < MIN_POLL_INTERVAL {
        return Err(invalid(format!(
            "`service.pollInterval` must be at least {}",
            humantime::format_duration(MIN_POLL_INTERVAL)
        )));
    }
    let recheck = duration(path, "recheck", svc.recheck, Duration::from_secs(300))?;
    let sources: BTreeSet<SourceMode> = svc
        .sources
        .unwrap_or_else(|| vec![SourceMode::Poll])
        .into_iter()
        .collect();
    if sources.is_empty() {
        return Err(invalid("`service.sources` names no source of work".into()));
    }
    let hook = match svc.event_hook {
        Some(h) => {
            let secret = env(&h.secret_env)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    invalid(format!(
                        "`service.eventHook.secretEnv`: the environment variable `{}` is not set",
                        h.secret_env
                    ))
                })?;
            Some(HookAuth {
                header: h.header.unwrap_or_else(|| "Authorization".into()),
                secret: crate::okta::Secret::new(secret),
            })
        }
        None => None,
    };
    if sources.contains(&SourceMode::Hook) && hook.is_none() {
        return Err(invalid(
            "`service.sources` includes `hook` but `service.eventHook` (header and secretEnv) is missing"
                .into(),
        ));
    }
    let tls = match (svc.tls_cert, svc.tls_key) {
        (Some(c), Some(k)) => Some((base.join(c), base.join(k))),
        (None, None) => None,
        _ => {
            return Err(invalid(
                "`service.tlsCert` and `service.tlsKey` go together".into(),
            ))
        }
    };
    if file.remediations.is_empty() {
        return Err(invalid("`remediations` is empty: name at least one".into()));
    }
    if file.remediations.len() > MAX_REMEDIATIONS {
        return Err(invalid(format!(
            "more than {MAX_REMEDIATIONS} remediations"
        )));
    }
    let mut names = BTreeSet::new();
    let mut remediations = Vec::new();
    for r in file.remediations {
        if r.name.is_empty()
            || !r
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(invalid(format!(
                "remediation name `{}` must be letters, digits, `-` or `_`",
                r.name
            )));
        }
        if !names.insert(r.name.clone()) {
            return Err(invalid(format!("remediation `{}` is named twice", r.name)));
        }
        let rules = if crate::pipeline::catalogue::find(&r.rules).is_some() {
            PathBuf::from(&r.rules)
        } else {
            base.join(&r.rules)
        };
        let guard = r.limits.unwrap_or_default();
        if guard.per_hour > guard.per_day {
            return Err(invalid(format!(
                "remediation `{}`: `limits.perHour` ({}) is above `limits.perDay` ({})",
                r.name, guard.per_hour, guard.per_day
            )));
        }
        remediations.push(Remediation {
            name: r.name,
            rules,
            hub: r.orgs.as_ref().and_then(|o| o.hub.clone()),
            spoke: r.orgs.as_ref().and_then(|o| o.spoke.clone()),
            policy: r.autonomy.unwrap_or_default(),
            guard,
        });
    }
    Ok(ServeConfig {
        path: path.to_path_buf(),
        state_dir: state_dir(&base, svc.state_dir),
        listen,
        poll_interval,
        sources,
        recheck,
        kill_switch: svc.kill_switch.map(|k| base.join(k)),
        hook,
        apply_concurrency: svc.apply_concurrency.unwrap_or(8).clamp(1, 64),
        tls,
        remediations,
    })
}
