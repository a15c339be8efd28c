//! The Okta Management API client: the only code that talks to Okta. It owns configuration
//! (`config`), authentication (SSWS and OAuth service apps with DPoP, `oauth`), the HTTP engine with
//! rate-limit waits, retries and pagination (`client`), the endpoints as the [`OktaApi`] trait (`api`),
//! typed resources (`model`) and typed errors (`error`). It deliberately knows nothing of rules, plans
//! or journals: the collector and executor decide what to call; this module only calls it well.
//!
//! ```text
//! let orgs = load_orgs(Some(path), &|k| std::env::var(k).ok())?;   // BTreeMap<name, OrgConfig>
//! let hub = OktaClient::new(orgs["hub"].clone())?;                // Clone; one per org
//! let user = hub.get_user("a@example.com").await?;                 // Option<Fetched<User>>
//! let mut pages = hub.list_users(UserQuery { search: Some(..), ..Default::default() });
//! while let Some(page) = pages.next().await { for u in page?.items { .. } }
//! ```
//!
//! What is retried (see `endpoints.rs`): every call after a 429 (waiting for the bucket's reset, or a
//! short backoff when the 429 is the org's concurrency limit), after a refused access token (once, with a
//! new token) and after a failed token request (nothing reached the API); after a 5xx, a timeout or a
//! dropped connection only GETs, `PUT` group membership, the set-style updates (`POST` user / app user),
//! and calls the caller marks idempotent ([`OktaClient::call_json`]). Any other failure of a mutating
//! call is returned at once; [`OktaError::outcome_unknown`] tells the executor to reconcile by reading.

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
mod usage;

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
    Group, GroupId, GroupRule, JsonModel, LogEvent, NewUser, Page, Profile, Provider, ProviderType,
    ResetOutcome, User, UserId, UserStatus,
};
pub use ratelimit::{Admission, BucketUse, RateBook, RateHeaders};
pub use secret::Secret;
pub use usage::{Binding, RequestReport};
