//! Turning the merged settings of one org into an [`OrgConfig`]: the org URL (`https`, or `http` on
//! loopback only), the authorization mode and its credentials (an API token, or an OAuth service app's
//! client id, private key and scopes, never both), and the client limits with their bounds. Every
//! refusal names the org and the setting, never a credential's value.

use std::path::Path;
use std::time::Duration;

use url::Url;

use super::super::oauth::ClientKey;
use super::super::secret::Secret;
use super::remedy_yaml::LimitSettings;
use super::settings::{ClientSettings, Scopes};
use super::{Auth, ClientLimits, ConfigError, OrgConfig};

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

/// The one org's settings, validated.
pub(super) fn validate(
    org: &str,
    s: ClientSettings,
    limits: Option<&LimitSettings>,
    base_dir: &Path,
) -> Result<OrgConfig, ConfigError> {
    let raw_url = s.org_url.as_deref().ok_or_else(|| {
        missing(
            org,
            "the org URL",
            "set `orgUrl` in okta.yaml or remedy.yaml, `OKTA_CLIENT_ORGURL`, or `--org-url`",
        )
    })?;
    let base_url = validate_org_url(org, raw_url)?;
    let mut l = ClientLimits::default();
    if let Some(t) = s.request_timeout.filter(|t| *t > 0) {
        l.timeout = Duration::from_secs(t);
    }
    if let Some(n) = s.rate_limit.as_ref().and_then(|r| r.max_retries) {
        l.max_retries = n;
    }
    let auth = auth(org, s, base_dir)?;
    if let Some(ls) = limits {
        apply_limits(org, ls, &mut l)?;
    }
    Ok(OrgConfig {
        name: org.to_string(),
        base_url,
        auth,
        limits: l,
    })
}

fn missing(org: &str, what: &str, hint: &str) -> ConfigError {
    ConfigError::Missing {
        org: org.to_string(),
        what: what.to_string(),
        hint: hint.to_string(),
    }
}

fn contradictory(org: &str, message: &str) -> ConfigError {
    ConfigError::Contradictory {
        org: org.to_string(),
        message: message.to_string(),
    }
}

enum Mode {
    Ssws,
    PrivateKey,
}

/// The credentials: `authorizationMode` when given, else whichever of a token or a key is set.
fn auth(org: &str, s: ClientSettings, base_dir: &Path) -> Result<Auth, ConfigError> {
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
                return Err(contradictory(org, "both an API token and a private key are set; choose one with `authorizationMode` (`SSWS` or `PrivateKey`)"))
            }
            (None, Some(_)) => Mode::PrivateKey,
            _ => Mode::Ssws,
        },
    };
    match mode {
        Mode::Ssws => {
            let token = token.ok_or_else(|| {
                missing(
                    org,
                    "the API token",
                    "set `token` in okta.yaml, `tokenEnv` in remedy.yaml, or `OKTA_CLIENT_TOKEN`",
                )
            })?;
            if key.is_some() || s.client_id.is_some() {
                return Err(contradictory(org, "`authorizationMode` is `SSWS` but a client id or private key is also set; remove them or use `PrivateKey`"));
            }
            Ok(Auth::Ssws(token))
        }
        Mode::PrivateKey => {
            if token.is_some() {
                return Err(contradictory(org, "`authorizationMode` is `PrivateKey` but an API token is also set; remove the token or use `SSWS`"));
            }
            private_key_auth(org, s.client_id, key, s.private_key_id, s.scopes, base_dir)
        }
    }
}

/// An OAuth service app: client id, a usable private key, and at least one scope.
fn private_key_auth(
    org: &str,
    client_id: Option<String>,
    key: Option<Secret>,
    kid: Option<String>,
    scopes: Option<Scopes>,
    base_dir: &Path,
) -> Result<Auth, ConfigError> {
    let client_id = client_id.filter(|c| !c.trim().is_empty()).ok_or_else(|| {
        missing(
            org,
            "the client id",
            "set `clientId` in okta.yaml or remedy.yaml, or `OKTA_CLIENT_CLIENTID`",
        )
    })?;
    let key = key.ok_or_else(|| {
        missing(
            org,
            "the private key",
            "set `privateKey` (PEM, JWK or a file path) or `OKTA_CLIENT_PRIVATEKEY`",
        )
    })?;
    let key = resolve_key(org, key, base_dir)?;
    ClientKey::parse(&key, None).map_err(|e| ConfigError::InvalidKey {
        org: org.to_string(),
        message: e.to_string(),
    })?;
    let scopes = scopes.map(Scopes::into_vec).unwrap_or_default();
    if scopes.is_empty() {
        return Err(missing(
            org,
            "the OAuth scopes",
            "set `scopes` (for example `okta.users.read okta.users.manage`) or `OKTA_CLIENT_SCOPES`",
        ));
    }
    Ok(Auth::PrivateKey {
        client_id,
        key,
        kid,
        scopes,
    })
}

/// remedy.yaml's `limits` over the defaults, each checked against its bounds.
fn apply_limits(org: &str, ls: &LimitSettings, l: &mut ClientLimits) -> Result<(), ConfigError> {
    let invalid = |key: &str, message: String| ConfigError::InvalidValue {
        org: org.to_string(),
        key: key.to_string(),
        message,
    };
    if let Some(share) = ls.max_capacity_share {
        if !(share > 0.0 && share <= 1.0) {
            return Err(invalid(
                "limits.maxCapacityShare",
                format!("is {share}; it must be in (0, 1]"),
            ));
        }
        l.max_capacity_share = share;
    }
    if let Some(n) = ls.max_in_flight {
        if n == 0 {
            return Err(invalid(
                "limits.maxInFlight",
                "is 0; it must be at least 1".to_string(),
            ));
        }
        l.max_in_flight = n;
    }
    if let Some(n) = ls.max_retries {
        l.max_retries = n;
    }
    if let Some(t) = ls.timeout {
        l.timeout = t;
    }
    Ok(())
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
