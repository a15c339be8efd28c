//! The Okta Management API client: the only code that talks to Okta. It owns configuration
//! (`config`), authentication (SSWS and OAuth service apps with DPoP, `oauth`), the HTTP engine with
//! rate-limit waits, retries and pagination (`client`), the endpoints as the [`OktaApi`] trait (`api`),
//! typed resources (`model`) and typed errors (`error`). It deliberately knows nothing of rules, plans
//! or journals: the collector and executor decide what to call; this module only calls it well.
//!
//! ```text
//! load_orgs(...) -> OrgConfig -> OktaClient::new -> impl OktaApi (list_users, reset_password, ...)
//! ```

mod api;
mod client;
pub mod config;
pub mod endpoints;
mod error;
mod link;
mod model;
pub mod oauth;
mod ratelimit;
mod secret;

pub use api::{
    collect_all, AppQuery, AppUserQuery, LogQuery, OktaApi, PageStream, SortOrder, UserQuery,
};
pub use client::{Call, OktaClient, Reply};
pub use config::{
    load_orgs, load_orgs_with, select_org, Auth, ClientLimits, ClientSettings, ConfigError,
    ConfigInputs, OrgConfig,
};
pub use error::{codes, ApiError, OktaError};
pub use link::{next_link, parse_links};
pub use model::{
    ActivateOutcome, AppId, AppLink, AppUser, AppUserAssignment, Application, Credentials, Fetched,
    Group, GroupId, JsonModel, LogEvent, NewUser, Page, Profile, Provider, ProviderType,
    ResetOutcome, User, UserId, UserStatus,
};
pub use ratelimit::{Admission, RateBook, RateHeaders};
pub use secret::Secret;
