//! The org's password policy and the cause Okta reports when a password breaks it.
//!
//! Owns the check. It does not decide when a password is set (`users`, `push`).

use serde::{Deserialize, Serialize};

/// The hub's password policy, checked when a password is set (by Org2Org push or an update).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub min_lower_case: usize,
    pub min_upper_case: usize,
    pub min_number: usize,
    pub min_symbol: usize,
    pub exclude_username: bool,
}

impl Default for PasswordPolicy {
    /// Okta's default policy for the Okta password authenticator.
    fn default() -> Self {
        PasswordPolicy {
            min_length: 8,
            min_lower_case: 1,
            min_upper_case: 1,
            min_number: 1,
            min_symbol: 0,
            exclude_username: true,
        }
    }
}

impl PasswordPolicy {
    /// The cause Okta reports when a password breaks the policy, or None when it complies.
    pub(crate) fn violation(&self, password: &str, login: &str) -> Option<String> {
        let count = |f: fn(&char) -> bool| password.chars().filter(f).count();
        let username = login.split('@').next().unwrap_or("").to_lowercase();
        let ok = password.chars().count() >= self.min_length
            && count(char::is_ascii_lowercase) >= self.min_lower_case
            && count(char::is_ascii_uppercase) >= self.min_upper_case
            && count(char::is_ascii_digit) >= self.min_number
            && count(|c| !c.is_ascii_alphanumeric()) >= self.min_symbol
            && !(self.exclude_username
                && !username.is_empty()
                && password.to_lowercase().contains(&username));
        if ok {
            return None;
        }
        let mut parts = vec![format!("at least {} characters", self.min_length)];
        if self.min_lower_case > 0 {
            parts.push("a lowercase letter".into());
        }
        if self.min_upper_case > 0 {
            parts.push("an uppercase letter".into());
        }
        if self.min_number > 0 {
            parts.push("a number".into());
        }
        if self.min_symbol > 0 {
            parts.push("a symbol".into());
        }
        if self.exclude_username {
            parts.push("no parts of your username".into());
        }
        Some(format!(
            "Password requirements were not met. Password requirements: {}.",
            parts.join(", ")
        ))
    }
}
