//! One integration-test binary; each module covers one area, run with `cargo test`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// The Okta simulator over HTTP.
mod sim;
// The Okta client against the simulator.
mod okta;
// The `remedy` binary as a black box (exit code, stdout, stderr), and the helper to run it.
mod cli;
// Broken rulebooks, one mistake per file, and their rendered diagnostics.
mod rulebook_errors;
// Engine scenarios from tests/cases/: decisions, explanations and rendered plans.
mod cases;
// Collecting subjects from the simulator and planning against them.
mod collect;
// Every shipped rulebook in rules/: loads cleanly, its cases pass, its decision review is unchanged.
mod shipped;
// The one-command demo.
mod demo;
// The docs stay in sync: rulebook reference vs schema, published schema, plan and journal formats, examples.
mod docs;
// `remedy apply`/`status`/`restore` against the simulator: end to end, crashes, faults, drift, guards.
mod apply;
// Reports to share: show/status as markdown, html and csv; markup and formulas rendered inert.
mod report;
// Okta's official Node SDK against `remedy sim` (needs `npm ci` in tests/node-sdk).
mod node_sdk;
// Plans at scale: streamed plan files, the explanation budget, bounded show, explain --plan.
mod plans_at_scale;
// Plan formats: format 2 fixtures read, shown, explained and applied as format 3; a bad `why` refused.
mod plan_formats;
// Plan format 3's layout: steps on subject lines; streamed and in-memory plans alike; steps apart kept.
mod plan_layout;
// `remedy explain --plan --config`: a planned subject's explanation re-derived from the live orgs.
mod explain_live;
// Property tests: the condition language's three-valued laws, plans independent of input order.
mod properties;
// Notifications delivered by apply to local webhook and SMTP receivers: bodies, retries, resume, no secret.
mod notify;
// `remedy serve`: polling and event hooks to fixes, approvals, restarts and SIGKILL, guards, kill switch.
mod serve;
