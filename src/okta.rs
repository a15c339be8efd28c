//! The Okta Management API client. Placeholder until the client lands.
