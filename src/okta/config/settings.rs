//! One layer of connection settings as the Okta SDKs know them ([`ClientSettings`]: okta.yaml's
//! `okta.client` block, `OKTA_CLIENT_*` environment variables, command-line flags), how a later layer
//! overrides an earlier one key by key, and reading an okta.yaml file. It does not decide what the
//! layers add up to (`validate.rs`) or which layers an org has (`config.rs`, `remedy_yaml.rs`).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::super::secret::Secret;
use super::ConfigError;

/// Scopes as a YAML list or a space/comma separated string (the SDKs accept both).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Scopes {
    List(Vec<String>),
    Text(String),
}

impl Scopes {
    pub(super) fn into_vec(self) -> Vec<String> {
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

    pub(super) fn merge(&mut self, over: ClientSettings) {
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

/// Reads an okta.yaml file's `okta.client` block; a missing file is empty unless `required`.
pub(super) fn read_okta_yaml(path: &Path, required: bool) -> Result<ClientSettings, ConfigError> {
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
