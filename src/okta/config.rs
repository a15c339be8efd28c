//! Configuration of Okta org connections: the Okta SDKs' chain (`~/.okta/okta.yaml`, then
//! `./.okta.yaml`, then `OKTA_CLIENT_*` environment variables, then flags) for a single org, and the
//! tool's own `remedy.yaml` naming several orgs (`hub`, `spoke`, ...), each built from an okta.yaml file,
//! inline settings, an environment prefix, or a mix. It owns parsing, layering and validation into
//! [`OrgConfig`]; it does not open connections or fetch tokens (`client.rs`, `oauth.rs`).
//!
//! - `config/settings.rs`: one layer of SDK settings, merging, okta.yaml and environment reading, flags.
//! - `config/remedy_yaml.rs`: the `remedy.yaml` format and each org's layers.
//! - `config/validate.rs`: merged settings to a checked [`OrgConfig`] (URL, credentials, limits).
//!
//! Everything that reads the outside world goes through [`ConfigInputs`] (home, working directory,
//! environment lookup), so tests never touch the real home directory or process environment.
//!
//! `remedy.yaml` format (keys are camelCase like okta.yaml's `okta.client` block; unknown keys are errors):
//! ```yaml
//! orgs:
//!   hub:
//!     oktaYaml: hub-okta.yaml        # an okta.yaml file, relative to remedy.yaml (lowest precedence)
//!     orgUrl: https://hub.okta.com   # inline settings override the file
//!     tokenEnv: HUB_OKTA_TOKEN       # read the API token from this variable, keeping it out of files
//!     limits: { maxCapacityShare: 0.5, maxInFlight: 8, maxRetries: 4, timeout: 30s }
//!   spoke:
//!     envPrefix: SPOKE_              # SPOKE_OKTA_CLIENT_ORGURL, SPOKE_OKTA_CLIENT_TOKEN, ... (highest)
//! ```

mod remedy_yaml;
mod settings;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;

use super::secret::Secret;
use settings::read_okta_yaml;
use validate::validate;

pub use settings::{ClientSettings, OrgFlags, RateLimitSettings, Scopes};
pub use validate::validate_org_url;

/// The connection to one org, validated.
#[derive(Debug, Clone)]
pub struct OrgConfig {
    /// The org's name in configuration (`hub`, `spoke`, or `default` for the SDK chain).
    pub name: String,
    /// `https://{yourOktaDomain}` with no path; `http` only for loopback (the simulator).
    pub base_url: Url,
    pub auth: Auth,
    pub limits: ClientLimits,
}

/// How the client authenticates.
#[derive(Debug, Clone)]
pub enum Auth {
    /// `Authorization: SSWS <token>`.
    Ssws(Secret),
    /// OAuth 2.0 service app: client credentials with a private-key JWT, DPoP-bound tokens.
    PrivateKey {
        client_id: String,
        /// PEM (PKCS#8, PKCS#1 RSA or SEC1 EC) or a private JWK as JSON.
        key: Secret,
        /// Key id sent as the JWT `kid` header, as registered in Okta.
        kid: Option<String>,
        scopes: Vec<String>,
    },
}

/// Client-side limits of one org connection.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientLimits {
    /// Share of each rate-limit bucket this client may use before it waits for the reset (0.0-1.0],
    /// like the Okta Terraform provider's `max_api_capacity` (as a fraction).
    pub max_capacity_share: f64,
    /// Requests in flight at once to this org.
    pub max_in_flight: usize,
    /// Retries of a safe-to-repeat call after a 5xx, a timeout or a dropped connection.
    pub max_retries: u32,
    /// Per-request timeout.
    pub timeout: Duration,
    /// How many times one call waits out a 429 before giving up with `RateLimited`.
    pub max_rate_limit_waits: u32,
    /// First retry backoff; doubles per attempt up to `backoff_max`, with full jitter.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
}

impl Default for ClientLimits {
    fn default() -> Self {
        Self {
            max_capacity_share: 0.8,
            max_in_flight: 8,
            max_retries: 4,
            timeout: Duration::from_secs(30),
            max_rate_limit_waits: 20,
            backoff_base: Duration::from_millis(250),
            backoff_max: Duration::from_secs(10),
        }
    }
}

/// Errors of configuration loading.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read `{}`: {message}", path.display())]
    Read { path: PathBuf, message: String },
    #[error("`{}` is not valid: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("org `{org}`: missing {what}; {hint}")]
    Missing {
        org: String,
        what: String,
        hint: String,
    },
    #[error("org `{org}`: {message}")]
    Contradictory { org: String, message: String },
    #[error("org `{org}`: org URL `{url}` {reason}")]
    InvalidUrl {
        org: String,
        url: String,
        reason: String,
    },
    #[error("org `{org}`: `{key}` {message}")]
    InvalidValue {
        org: String,
        key: String,
        message: String,
    },
    #[error("org `{org}`: the private key cannot be used: {message}")]
    InvalidKey { org: String, message: String },
    #[error("`{}` names no orgs", path.display())]
    NoOrgs { path: PathBuf },
    #[error("connection flags were given but `{}` names several orgs; say which with `--okta-org`", path.display())]
    FlagsNeedOrg { path: PathBuf },
    #[error("unknown org `{name}`; configured orgs: {known}")]
    UnknownOrg { name: String, known: String },
}

/// Where configuration comes from. Tests fill it with temporary directories and a map for the
/// environment; [`load_orgs`] fills it from the process.
pub struct ConfigInputs<'a> {
    /// `remedy.yaml`; when absent, the SDK chain yields one org named `default`.
    pub tool_config: Option<&'a Path>,
    /// Home directory, for `~/.okta/okta.yaml`.
    pub home: Option<PathBuf>,
    /// Working directory, for `./.okta.yaml`.
    pub cwd: Option<PathBuf>,
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// Command-line flags, applied last.
    pub flags: ClientSettings,
    /// Which org the flags apply to (`default` when there is no tool config).
    pub flags_org: Option<String>,
}

/// Loads every configured org: from `path` (the tool's `remedy.yaml`) when given, else the Okta SDK
/// chain as one org named `default`. Home comes from `HOME` (or `USERPROFILE`) through `env`.
pub fn load_orgs(
    path: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, OrgConfig>, ConfigError> {
    let home = env("HOME")
        .or_else(|| env("USERPROFILE"))
        .map(PathBuf::from);
    let inputs = ConfigInputs {
        tool_config: path,
        home,
        cwd: std::env::current_dir().ok(),
        env,
        flags: ClientSettings::default(),
        flags_org: None,
    };
    load_orgs_with(&inputs)
}

/// [`load_orgs`] with every input explicit.
pub fn load_orgs_with(
    inputs: &ConfigInputs<'_>,
) -> Result<BTreeMap<String, OrgConfig>, ConfigError> {
    match inputs.tool_config {
        Some(path) => remedy_yaml::load(path, inputs),
        None => sdk_chain(inputs),
    }
}

/// The Okta SDKs' chain for one org: `~/.okta/okta.yaml`, `./.okta.yaml`, `OKTA_CLIENT_*`, flags.
fn sdk_chain(inputs: &ConfigInputs<'_>) -> Result<BTreeMap<String, OrgConfig>, ConfigError> {
    let mut s = ClientSettings::default();
    if let Some(home) = &inputs.home {
        s.merge(read_okta_yaml(
            &home.join(".okta").join("okta.yaml"),
            false,
        )?);
    }
    if let Some(cwd) = &inputs.cwd {
        s.merge(read_okta_yaml(&cwd.join(".okta.yaml"), false)?);
    }
    s.merge(ClientSettings::from_env("", inputs.env));
    let name = inputs
        .flags_org
        .clone()
        .unwrap_or_else(|| "default".to_string());
    s.merge(inputs.flags.clone());
    let base_dir = inputs.cwd.clone().unwrap_or_default();
    let cfg = validate(&name, s, None, &base_dir)?;
    Ok(BTreeMap::from([(name, cfg)]))
}

fn unknown_org<'a>(name: &str, known: impl Iterator<Item = &'a String>) -> ConfigError {
    let known: Vec<String> = known.map(|k| format!("`{k}`")).collect();
    ConfigError::UnknownOrg {
        name: name.to_string(),
        known: known.join(", "),
    }
}

/// Picks one org by name from a loaded map, with the list of known names in the error.
pub fn select_org<'a>(
    orgs: &'a BTreeMap<String, OrgConfig>,
    name: &str,
) -> Result<&'a OrgConfig, ConfigError> {
    orgs.get(name).ok_or_else(|| unknown_org(name, orgs.keys()))
}
