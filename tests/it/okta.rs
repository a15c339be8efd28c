//! Okta client tests: configuration, conformance to Okta's OpenAPI spec, and every endpoint over HTTP
//! against the simulator (auth, pagination, rate limits, retries, errors, secrets).

// Tests may unwrap and panic: a failure is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// Configuration: the SDK chain, remedy.yaml, validation errors.
mod config;
// Private keys, client assertions and DPoP proofs.
mod keys;
// The endpoint table checked against management-openapi.yaml.
mod spec;
// Shared simulator setup for the HTTP tests.
mod harness;
// Every endpoint over HTTP with SSWS, and the error codes.
mod http;
// OAuth service apps with DPoP, end to end.
mod oauth_flow;
// 429s, 5xx, timeouts and dropped connections.
mod resilience;
// Nothing secret in logs, Debug, Display or errors.
mod secrets;
// Throughput measurements (ignored by default).
mod bench;
// Remedy A end to end through the client.
mod story;
