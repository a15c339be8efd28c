//! The query string of one Okta request: its parameters in request order, Okta's readings of `limit`
//! and boolean flags, and `search`/`filter` expressions parsed under the simulator's limits.
//!
//! Owns how a parameter is read and which reading is a 400. It does not know which parameters an
//! operation accepts (`users`, `apps`, `logs` ask for theirs).

use super::query::{self, Allow, Expr};
use super::response::{bad_request, invalid_search, ApiError};

/// QueryParams parameters in request order (Okta echoes them back in `Link` headers).
#[derive(Debug, Clone, Default)]
pub(crate) struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        QueryParams(
            url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn pairs(&self) -> impl Iterator<Item = (String, String)> + '_ {
        self.0.iter().cloned()
    }

    /// `limit`, defaulted and clamped to `max` like Okta; a non-number is a 400.
    pub(crate) fn limit(&self, default: usize, max: usize) -> Result<usize, ApiError> {
        match self.get("limit") {
            None => Ok(default),
            Some(s) => match s.parse::<i64>() {
                Ok(n) if n >= 1 => Ok((n as usize).min(max)),
                _ => Err(bad_request(&format!("limit: invalid value `{s}`"))),
            },
        }
    }

    pub(crate) fn flag(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(s) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(s) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(s) => Err(bad_request(&format!("{key}: invalid boolean `{s}`"))),
        }
    }
}

/// Parses an optional `search`/`filter` expression; a bad one (or one past the parser's limits) is
/// Okta's `E0000031`.
pub(crate) fn parse_expr(text: Option<&str>, allow: Allow<'_>) -> Result<Option<Expr>, ApiError> {
    text.map(|t| query::parse(t, allow).map(Expr::merged))
        .transpose()
        .map_err(|e| invalid_search(&e.to_string()))
}
