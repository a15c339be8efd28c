//! Which configured org plays which part of a rulebook, and the clients for them. A rulebook's
//! `subjects` names its orgs: one for `kind: user`, a hub and a spoke for `kind: org2org_assignment`.
//! The org configuration comes from a `remedy.yaml` naming orgs, or from the Okta SDK chain, which
//! gives one unnamed org. Nothing here reads a plan: the roles come from the rulebook alone.

use std::collections::BTreeMap;
use std::path::Path;

use crate::okta::{load_orgs, select_org, ConfigError, OktaClient, OktaError, OrgConfig};
use crate::rulebook::{SubjectKind, Subjects};

/// The name the Okta SDK chain gives its one org.
const SDK_CHAIN_ORG: &str = "default";

/// Why the orgs a rulebook needs could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum OrgError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Client(#[from] OktaError),
    #[error(
        "this rulebook needs two orgs (hub and spoke): use a remedy.yaml naming `{hub}` and `{spoke}` (`--config`)"
    )]
    NeedsTwoOrgs { hub: String, spoke: String },
}

/// The orgs a rulebook acts on, by the names its `subjects` gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roles {
    /// `kind: user`: the one org whose users are the subjects.
    Single(String),
    /// `kind: org2org_assignment`: users live in the hub, the Org2Org assignments in the spoke.
    HubSpoke { hub: String, spoke: String },
}

impl Roles {
    /// The roles `subjects` declares.
    pub fn of(subjects: &Subjects) -> Roles {
        match subjects.kind {
            SubjectKind::User => Roles::Single(subjects.user_org().to_string()),
            SubjectKind::Org2orgAssignment => Roles::HubSpoke {
                hub: subjects.hub.clone(),
                spoke: subjects.spoke.clone(),
            },
        }
    }
}

/// The configured orgs: those of a `remedy.yaml`, or the one org of the Okta SDK chain
/// (`~/.okta/okta.yaml`, `./.okta.yaml`, `OKTA_CLIENT_*` variables).
#[derive(Debug, Clone)]
pub struct OrgDirectory {
    orgs: BTreeMap<String, OrgConfig>,
    sdk_chain: bool,
}

impl OrgDirectory {
    /// Loads `config` when given, else the SDK chain, reading the process environment.
    pub fn load(config: Option<&Path>) -> Result<OrgDirectory, OrgError> {
        let env = |k: &str| std::env::var(k).ok();
        Ok(OrgDirectory {
            orgs: load_orgs(config, &env)?,
            sdk_chain: config.is_none(),
        })
    }

    /// The org called `name`. The SDK chain's one org answers to any name and takes it, so the plan,
    /// the request counts and the audit log call it what the rulebook calls it.
    pub fn get(&self, name: &str) -> Result<OrgConfig, OrgError> {
        match select_org(&self.orgs, name) {
            Ok(cfg) => Ok(cfg.clone()),
            Err(e) if self.sdk_chain => {
                let mut cfg = select_org(&self.orgs, SDK_CHAIN_ORG)
                    .map_err(|_| e)?
                    .clone();
                cfg.name = name.to_string();
                Ok(cfg)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A client for the org called `name`.
    pub fn client(&self, name: &str) -> Result<OktaClient, OrgError> {
        Ok(OktaClient::new(self.get(name)?)?)
    }

    /// Clients for `roles`. Two roles need two orgs, so the SDK chain's single org is refused for
    /// them rather than silently playing both.
    pub fn connect(&self, roles: &Roles) -> Result<Clients, OrgError> {
        match roles {
            Roles::Single(org) => Ok(Clients::single(self.client(org)?)),
            Roles::HubSpoke { hub, spoke } => {
                if self.sdk_chain && hub != spoke {
                    return Err(OrgError::NeedsTwoOrgs {
                        hub: hub.clone(),
                        spoke: spoke.clone(),
                    });
                }
                Ok(Clients::pair(self.client(hub)?, self.client(spoke)?))
            }
        }
    }
}

/// Clients for a rulebook's orgs. A `kind: user` rulebook has one, which serves in both of the
/// collector's and executor's hub and spoke positions: a user plan never calls the spoke.
#[derive(Debug, Clone)]
pub struct Clients {
    hub: OktaClient,
    spoke: Option<OktaClient>,
}

impl Clients {
    /// One org for a `kind: user` rulebook.
    pub fn single(org: OktaClient) -> Clients {
        Clients {
            hub: org,
            spoke: None,
        }
    }

    /// A hub and a spoke for an Org2Org rulebook.
    pub fn pair(hub: OktaClient, spoke: OktaClient) -> Clients {
        Clients {
            hub,
            spoke: Some(spoke),
        }
    }

    /// The org holding the users (for `kind: user`, the one org).
    pub fn hub(&self) -> &OktaClient {
        &self.hub
    }

    /// The org holding the Org2Org assignments (for `kind: user`, the one org again).
    pub fn spoke(&self) -> &OktaClient {
        self.spoke.as_ref().unwrap_or(&self.hub)
    }

    fn each(&self) -> impl Iterator<Item = &OktaClient> {
        std::iter::once(&self.hub).chain(self.spoke.iter())
    }

    /// Org name → base URL.
    pub fn urls(&self) -> BTreeMap<String, String> {
        self.each()
            .map(|c| (c.org_name().to_string(), c.base_url().to_string()))
            .collect()
    }

    /// Requests sent so far per endpoint and the binding rate-limit bucket among them.
    pub fn request_report(&self) -> crate::okta::RequestReport {
        crate::okta::RequestReport::merge(self.each().map(OktaClient::request_report))
    }

    /// Requests sent so far, keyed `ORG METHOD PATH` (`hub GET /api/v1/users/{id}`).
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for c in self.each() {
            for (endpoint, n) in c.request_counts() {
                *out.entry(format!("{} {endpoint}", c.org_name()))
                    .or_insert(0) += n;
            }
        }
        out
    }
}
