//! The tool's own `remedy.yaml`, naming several orgs (`hub`, `spoke`, ...): its format (see
//! `config.rs` for an example), and the settings layers of each org in precedence order (its okta.yaml
//! file, inline keys with `tokenEnv`, its environment prefix, then the command-line flags when they
//! name it). Validation of what the layers add up to is `validate.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::super::secret::Secret;
use super::settings::{read_okta_yaml, ClientSettings, Scopes};
use super::validate::validate;
use super::{unknown_org, ConfigError, ConfigInputs, OrgConfig};

/// `remedy.yaml`. The sections other parts own (`service` and `remediations` for `remedy serve`,
/// `notifications` for the notification sinks) are read by them; here they are only allowed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolConfig {
    orgs: BTreeMap<String, ToolOrg>,
    #[serde(default, rename = "service")]
    _service: Option<serde_yaml::Value>,
    #[serde(default, rename = "remediations")]
    _remediations: Option<serde_yaml::Value>,
    #[serde(default, rename = "notifications")]
    _notifications: Option<serde_yaml::Value>,
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
pub(super) struct LimitSettings {
    pub(super) max_capacity_share: Option<f64>,
    pub(super) max_in_flight: Option<usize>,
    pub(super) max_retries: Option<u32>,
    #[serde(default, with = "humantime_serde_opt")]
    pub(super) timeout: Option<Duration>,
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

/// Every org of the `remedy.yaml` at `path`, validated.
pub(super) fn load(
    path: &Path,
    inputs: &ConfigInputs<'_>,
) -> Result<BTreeMap<String, OrgConfig>, ConfigError> {
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
    let flags_org = flags_org(path, &tool, inputs)?;
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut out = BTreeMap::new();
    for (name, mut org) in tool.orgs {
        let limits = org.limits.take();
        let mut s = org_settings(&name, org, &base_dir, inputs)?;
        if flags_org.as_deref() == Some(name.as_str()) {
            s.merge(inputs.flags.clone());
        }
        let cfg = validate(&name, s, limits.as_ref(), &base_dir)?;
        out.insert(name, cfg);
    }
    Ok(out)
}

/// The org the command-line flags apply to: the one they name, or the only one; `None` when no
/// flag is given.
fn flags_org(
    path: &Path,
    tool: &ToolConfig,
    inputs: &ConfigInputs<'_>,
) -> Result<Option<String>, ConfigError> {
    match (&inputs.flags_org, inputs.flags.is_empty()) {
        (Some(name), _) if !tool.orgs.contains_key(name) => {
            Err(unknown_org(name, tool.orgs.keys()))
        }
        (Some(name), _) => Ok(Some(name.clone())),
        (None, true) => Ok(None),
        (None, false) if tool.orgs.len() == 1 => Ok(tool.orgs.keys().next().cloned()),
        (None, false) => Err(ConfigError::FlagsNeedOrg {
            path: path.to_path_buf(),
        }),
    }
}

/// One org's settings from its okta.yaml file, inline keys and environment prefix, in that order.
fn org_settings(
    name: &str,
    org: ToolOrg,
    base_dir: &Path,
    inputs: &ConfigInputs<'_>,
) -> Result<ClientSettings, ConfigError> {
    let mut s = ClientSettings::default();
    if let Some(file) = &org.okta_yaml {
        s.merge(read_okta_yaml(&base_dir.join(file), true)?);
    }
    let token = match &org.token_env {
        Some(var) => Some(Secret::new((inputs.env)(var).ok_or_else(|| {
            ConfigError::Missing {
                org: name.to_string(),
                what: format!("the API token (environment variable `{var}` named by `tokenEnv`)"),
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
    Ok(s)
}
