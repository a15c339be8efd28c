//! Okta client tests against the simulator (placeholder).
