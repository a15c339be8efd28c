//! okta-remedy: a rule-driven remediation engine for Okta identity orgs.
//!
//! The pure core (`rulebook`, `condition`, `engine`, `plan`, `subject`) has no network, no clock and no
//! printing; effects live at the edge (`okta`, `sim`, `collect`, `apply`, `cli`).

pub mod apply;
pub mod cli;
pub mod collect;
pub mod condition;
pub mod demo;
pub mod diagnostic;
pub mod engine;
pub mod notify;
pub mod okta;
pub mod pipeline;
pub mod plan;
pub mod report;
pub mod review;
pub mod rulebook;
pub mod serve;
pub mod sim;
pub mod subject;
