//! `Secret`: a string that must never be printed (API tokens, private keys, access tokens, DPoP proofs,
//! `resetPasswordUrl` values). It owns redaction in `Debug`/`Display` and nothing else: it does not zero
//! memory and does not encrypt, because the threat it addresses is leaking through logs and error text.

use std::fmt;

/// A secret string. `Debug` and `Display` print `[redacted]`; [`Secret::expose`] is the one door out,
/// used only where the value must go on the wire or into a signature.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value that must never be printed.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value itself. Callers must not log or format it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string (a configuration mistake worth reporting).
    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

// Serialising a secret writes the redaction marker, so a config or outcome dumped as JSON stays safe.
impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("[redacted]")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn debug_display_and_json_are_redacted() {
        let s = Secret::new("00abcSECRET");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(&s)), "Some([redacted])");
        assert_eq!(
            serde_json::to_string(&s).unwrap_or_default(),
            "\"[redacted]\""
        );
        assert_eq!(s.expose(), "00abcSECRET");
    }
}
