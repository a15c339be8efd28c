//! Configuration of Okta org connections: the Okta SDKs' chain (`~/.okta/okta.yaml`, then
//! `./.okta.yaml`, then `OKTA_CLIENT_*` environment variables, then flags) for a single org, and the
//! tool's own `remedy.yaml` naming several orgs (`hub`, `spoke`, ...), each built from an okta.yaml file,
//! inline settings, an environment prefix, or a mix. It owns parsing, layering and validation into
//! [`OrgConfig`]; it does not open connections or fetch tokens (`client.rs`, `oauth.rs`).
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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use super::oauth::ClientKey;
use super::secret::Secret;

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

/// Scopes as a YAML list or a space/comma separated string (the SDKs accept both).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Scopes {
    List(Vec<String>),
    Text(String),
}

impl Scopes {
    fn into_vec(self) -> Vec<String> {
        match self {
            Self::List(v) => v
                .into_iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            Self::Text(s) => split_scopes(&s),
        }
    }
}

fn split_scopes(s: &str) -> Vec<String> {
    s.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// One layer of settings, as okta.yaml's `okta.client` block, environment variables or flags give them.
/// Later layers override earlier ones key by key.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientSettings {
    pub org_url: Option<String>,
    pub token: Option<Secret>,
    /// `SSWS` or `PrivateKey`.
    pub authorization_mode: Option<String>,
    pub client_id: Option<String>,
    pub scopes: Option<Scopes>,
    /// The key itself (PEM or JWK JSON) or a path to a file holding it.
    pub private_key: Option<Secret>,
    pub private_key_id: Option<String>,
    /// Seconds (okta.yaml `requestTimeout`; 0 means the default).
    pub request_timeout: Option<u64>,
    pub rate_limit: Option<RateLimitSettings>,
}

/// okta.yaml `okta.client.rateLimit`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitSettings {
    pub max_retries: Option<u32>,
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

impl ClientSettings {
    /// Whether no setting is given.
    pub fn is_empty(&self) -> bool {
        self.org_url.is_none()
            && self.token.is_none()
            && self.authorization_mode.is_none()
            && self.client_id.is_none()
            && self.scopes.is_none()
            && self.private_key.is_none()
            && self.private_key_id.is_none()
            && self.request_timeout.is_none()
            && self.rate_limit.is_none()
    }

    fn merge(&mut self, over: ClientSettings) {
        macro_rules! take {
            ($($f:ident),*) => { $( if over.$f.is_some() { self.$f = over.$f; } )* };
        }
        take!(
            org_url,
            token,
            authorization_mode,
            client_id,
            scopes,
            private_key,
            private_key_id,
            request_timeout
        );
        if let Some(rl) = over.rate_limit {
            let mine = self.rate_limit.get_or_insert_with(Default::default);
            if rl.max_retries.is_some() {
                mine.max_retries = rl.max_retries;
            }
        }
    }

    /// Settings from `{prefix}OKTA_CLIENT_*` environment variables (prefix empty for the SDK names).
    pub fn from_env(prefix: &str, env: &dyn Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| {
            env(&format!("{prefix}OKTA_CLIENT_{name}")).filter(|v| !v.trim().is_empty())
        };
        Self {
            org_url: get("ORGURL"),
            token: get("TOKEN").map(Secret::new),
            authorization_mode: get("AUTHORIZATIONMODE"),
            client_id: get("CLIENTID"),
            scopes: get("SCOPES").map(Scopes::Text),
            private_key: get("PRIVATEKEY").map(Secret::new),
            private_key_id: get("PRIVATEKEYID"),
            request_timeout: get("REQUESTTIMEOUT").and_then(|v| v.trim().parse().ok()),
            rate_limit: get("RATELIMIT_MAXRETRIES")
                .and_then(|v| v.trim().parse().ok())
                .map(|n| RateLimitSettings {
                    max_retries: Some(n),
                }),
        }
    }
}

/// Command-line flags for an org connection, applied after files and environment (the SDKs' order).
/// There is deliberately no token flag: a token on a command line is visible to every user of the
/// machine (`ps`); use `OKTA_CLIENT_TOKEN` or `tokenEnv`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OrgFlags {
    /// With a remedy.yaml naming several orgs: the org these flags apply to.
    #[arg(long = "okta-org", value_name = "NAME")]
    pub org: Option<String>,
    /// Okta org URL (`https://example.okta.com`).
    #[arg(long, value_name = "URL")]
    pub org_url: Option<String>,
    /// `SSWS` or `PrivateKey`.
    #[arg(long, value_name = "MODE")]
    pub authorization_mode: Option<String>,
    /// OAuth service app client id.
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// OAuth scopes, comma separated.
    #[arg(long, value_delimiter = ',', value_name = "SCOPES")]
    pub scopes: Vec<String>,
    /// File holding the service app's private key (PEM or JWK).
    #[arg(long, value_name = "FILE")]
    pub private_key_file: Option<PathBuf>,
    /// Key id (`kid`) of the private key as registered in Okta.
    #[arg(long, value_name = "KID")]
    pub private_key_id: Option<String>,
    /// Per-request timeout in seconds.
    #[arg(long, value_name = "SECONDS")]
    pub request_timeout: Option<u64>,
}

impl OrgFlags {
    /// The flags as the last settings layer.
    pub fn settings(&self) -> ClientSettings {
        ClientSettings {
            org_url: self.org_url.clone(),
            token: None,
            authorization_mode: self.authorization_mode.clone(),
            client_id: self.client_id.clone(),
            scopes: (!self.scopes.is_empty()).then(|| Scopes::List(self.scopes.clone())),
            // A path: `privateKey` accepts a key or a file name.
            private_key: self
                .private_key_file
                .as_ref()
                .map(|p| Secret::new(p.to_string_lossy().to_string())),
            private_key_id: self.private_key_id.clone(),
            request_timeout: self.request_timeout,
            rate_limit: None,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct OktaYaml {
    #[serde(default)]
    okta: Option<OktaYamlOkta>,
}

#[derive(Debug, Default, Deserialize)]
struct OktaYamlOkta {
    #[serde(default)]
    client: Option<ClientSettings>,
}

/// `remedy.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolConfig {
    orgs: BTreeMap<String, ToolOrg>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ToolOrg {
    okta_yaml: Option<PathBuf>,
    env_prefix: Option<String>,
    token_env: Option<String>,
    org_url: Option<String>,
    token: Option<Secret>,
    authorization_mode: Option<String>,
    client_id: Option<String>,
    scopes: Option<Scopes>,
    private_key: Option<Secret>,
    private_key_id: Option<String>,
    limits: Option<LimitSettings>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LimitSettings {
    max_capacity_share: Option<f64>,
    max_in_flight: Option<usize>,
    max_retries: Option<u32>,
    #[serde(default, with = "humantime_serde_opt")]
    timeout: Option<Duration>,
}

mod humantime_serde_opt {
    use serde::Deserialize;
    use std::time::Duration;

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        s.map(|s| humantime::parse_duration(&s).map_err(serde::de::Error::custom))
            .transpose()
    }
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
    let mut out = BTreeMap::new();
    match inputs.tool_config {
        None => {
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
            out.insert(name.clone(), validate(&name, s, None, &base_dir)?);
        }
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
            let tool: ToolConfig = serde_yaml::from_str(&text).map_err(|e| ConfigError::Parse {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
            if tool.orgs.is_empty() {
                return Err(ConfigError::NoOrgs {
                    path: path.to_path_buf(),
                });
            }
            // Flags name one org; with a single org they need not.
            let flags_org = match (&inputs.flags_org, inputs.flags.is_empty()) {
                (Some(name), _) if !tool.orgs.contains_key(name) => {
                    return Err(unknown_org(name, tool.orgs.keys()))
                }
                (Some(name), _) => Some(name.clone()),
                (None, true) => None,
                (None, false) if tool.orgs.len() == 1 => tool.orgs.keys().next().cloned(),
                (None, false) => {
                    return Err(ConfigError::FlagsNeedOrg {
                        path: path.to_path_buf(),
                    })
                }
            };
            let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            for (name, org) in tool.orgs {
                let mut s = ClientSettings::default();
                if let Some(file) = &org.okta_yaml {
                    s.merge(read_okta_yaml(&base_dir.join(file), true)?);
                }
                let token = match &org.token_env {
                    Some(var) => Some(Secret::new((inputs.env)(var).ok_or_else(|| {
                        ConfigError::Missing {
                            org: name.clone(),
                            what: format!(
                                "the API token (environment variable `{var}` named by `tokenEnv`)"
                            ),
                            hint: format!("set `{var}` or remove `tokenEnv`"),
                        }
                    })?)),
                    None => org.token,
                };
                s.merge(ClientSettings {
                    org_url: org.org_url,
                    token,
                    authorization_mode: org.authorization_mode,
                    client_id: org.client_id,
                    scopes: org.scopes,
                    private_key: org.private_key,
                    private_key_id: org.private_key_id,
                    request_timeout: None,
                    rate_limit: None,
                });
                if let Some(prefix) = &org.env_prefix {
                    s.merge(ClientSettings::from_env(prefix, inputs.env));
                }
                if flags_org.as_deref() == Some(name.as_str()) {
                    s.merge(inputs.flags.clone());
                }
                let cfg = validate(&name, s, org.limits.as_ref(), &base_dir)?;
                out.insert(name, cfg);
            }
        }
    }
    Ok(out)
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

fn read_okta_yaml(path: &Path, required: bool) -> Result<ClientSettings, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
            return Ok(ClientSettings::default())
        }
        Err(e) => {
            return Err(ConfigError::Read {
                path: path.to_path_buf(),
                message: e.to_string(),
            })
        }
    };
    if text.trim().is_empty() {
        return Ok(ClientSettings::default());
    }
    let doc: OktaYaml = serde_yaml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok(doc.okta.and_then(|o| o.client).unwrap_or_default())
}

/// Checks an org URL: `https`, or `http` on loopback only; no path, query or credentials.
pub fn validate_org_url(org: &str, raw: &str) -> Result<Url, ConfigError> {
    let bad = |reason: &str| ConfigError::InvalidUrl {
        org: org.to_string(),
        url: raw.to_string(),
        reason: reason.to_string(),
    };
    if raw.contains("{yourOktaDomain}") {
        return Err(bad("is the documentation placeholder; use your org's URL"));
    }
    let url = Url::parse(raw.trim()).map_err(|e| bad(&format!("is not a URL ({e})")))?;
    let host = url.host_str().ok_or_else(|| bad("has no host"))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => return Err(bad("must use https (http is allowed only on loopback)")),
        _ => return Err(bad("must use https")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not contain credentials"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(bad(
            "must be the org's base URL with no path, query or fragment",
        ));
    }
    if host.contains("-admin.") {
        return Err(bad(
            "is the admin console URL; remove `-admin` from the host",
        ));
    }
    Ok(url)
}

fn validate(
    org: &str,
    s: ClientSettings,
    limits: Option<&LimitSettings>,
    base_dir: &Path,
) -> Result<OrgConfig, ConfigError> {
    let missing = |what: &str, hint: &str| ConfigError::Missing {
        org: org.to_string(),
        what: what.to_string(),
        hint: hint.to_string(),
    };
    let raw_url = s.org_url.as_deref().ok_or_else(|| {
        missing(
            "the org URL",
            "set `orgUrl` in okta.yaml or remedy.yaml, `OKTA_CLIENT_ORGURL`, or `--org-url`",
        )
    })?;
    let base_url = validate_org_url(org, raw_url)?;

    let token = s.token.filter(|t| !t.is_empty());
    let key = s.private_key.filter(|k| !k.is_empty());
    let mode = match s.authorization_mode.as_deref().map(str::trim) {
        Some(m) if m.eq_ignore_ascii_case("ssws") => Mode::Ssws,
        Some(m) if m.eq_ignore_ascii_case("privatekey") => Mode::PrivateKey,
        Some(other) => {
            return Err(ConfigError::InvalidValue {
                org: org.to_string(),
                key: "authorizationMode".to_string(),
                message: format!("is `{other}`; supported modes are `SSWS` and `PrivateKey`"),
            })
        }
        None => match (&token, &key) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::Contradictory {
                    org: org.to_string(),
                    message: "both an API token and a private key are set; choose one with `authorizationMode` (`SSWS` or `PrivateKey`)".to_string(),
                })
            }
            (None, Some(_)) => Mode::PrivateKey,
            _ => Mode::Ssws,
        },
    };
    let auth = match mode {
        Mode::Ssws => {
            let token = token.ok_or_else(|| {
                missing(
                    "the API token",
                    "set `token` in okta.yaml, `tokenEnv` in remedy.yaml, or `OKTA_CLIENT_TOKEN`",
                )
            })?;
            if key.is_some() || s.client_id.is_some() {
                return Err(ConfigError::Contradictory {
                    org: org.to_string(),
                    message: "`authorizationMode` is `SSWS` but a client id or private key is also set; remove them or use `PrivateKey`".to_string(),
                });
            }
            Auth::Ssws(token)
        }
        Mode::PrivateKey => {
            if token.is_some() {
                return Err(ConfigError::Contradictory {
                    org: org.to_string(),
                    message: "`authorizationMode` is `PrivateKey` but an API token is also set; remove the token or use `SSWS`".to_string(),
                });
            }
            let client_id = s
                .client_id
                .filter(|c| !c.trim().is_empty())
                .ok_or_else(|| {
                    missing(
                        "the client id",
                        "set `clientId` in okta.yaml or remedy.yaml, or `OKTA_CLIENT_CLIENTID`",
                    )
                })?;
            let key = key.ok_or_else(|| {
                missing(
                    "the private key",
                    "set `privateKey` (PEM, JWK or a file path) or `OKTA_CLIENT_PRIVATEKEY`",
                )
            })?;
            let key = resolve_key(org, key, base_dir)?;
            ClientKey::parse(&key, None).map_err(|e| ConfigError::InvalidKey {
                org: org.to_string(),
                message: e.to_string(),
            })?;
            let scopes = s.scopes.map(Scopes::into_vec).unwrap_or_default();
            if scopes.is_empty() {
                return Err(missing(
                    "the OAuth scopes",
                    "set `scopes` (for example `okta.users.read okta.users.manage`) or `OKTA_CLIENT_SCOPES`",
                ));
            }
            Auth::PrivateKey {
                client_id,
                key,
                kid: s.private_key_id,
                scopes,
            }
        }
    };

    let mut l = ClientLimits::default();
    if let Some(t) = s.request_timeout.filter(|t| *t > 0) {
        l.timeout = Duration::from_secs(t);
    }
    if let Some(n) = s.rate_limit.and_then(|r| r.max_retries) {
        l.max_retries = n;
    }
    if let Some(ls) = limits {
        if let Some(share) = ls.max_capacity_share {
            if !(share > 0.0 && share <= 1.0) {
                return Err(ConfigError::InvalidValue {
                    org: org.to_string(),
                    key: "limits.maxCapacityShare".to_string(),
                    message: format!("is {share}; it must be in (0, 1]"),
                });
            }
            l.max_capacity_share = share;
        }
        if let Some(n) = ls.max_in_flight {
            if n == 0 {
                return Err(ConfigError::InvalidValue {
                    org: org.to_string(),
                    key: "limits.maxInFlight".to_string(),
                    message: "is 0; it must be at least 1".to_string(),
                });
            }
            l.max_in_flight = n;
        }
        if let Some(n) = ls.max_retries {
            l.max_retries = n;
        }
        if let Some(t) = ls.timeout {
            l.timeout = t;
        }
    }
    Ok(OrgConfig {
        name: org.to_string(),
        base_url,
        auth,
        limits: l,
    })
}

enum Mode {
    Ssws,
    PrivateKey,
}

/// `privateKey` holds the key (PEM or JWK JSON) or names a file that does.
fn resolve_key(org: &str, key: Secret, base_dir: &Path) -> Result<Secret, ConfigError> {
    let v = key.expose().trim();
    if v.starts_with("-----BEGIN") && !v.contains('\n') && v.contains("\\n") {
        // A PEM squeezed into one environment variable line with literal `\n` separators.
        return Ok(Secret::new(v.replace("\\n", "\n")));
    }
    if v.starts_with("-----BEGIN") || v.starts_with('{') {
        return Ok(key);
    }
    // Never echo the value: it may be a mangled key rather than a path.
    std::fs::read_to_string(base_dir.join(v))
        .map(Secret::new)
        .map_err(|e| ConfigError::InvalidKey {
            org: org.to_string(),
            message: format!(
                "`privateKey` is neither a PEM or JWK key nor a readable file path ({})",
                e.kind()
            ),
        })
}
