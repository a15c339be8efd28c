//! What is checked before a plan is applied, before any journal is opened or Okta is called: the plan
//! file is intact (version and checksum, by `plan`) and not refused by a guard, the rulebook it pins loads and is byte for byte
//! the one the plan was made from, and which orgs the rulebook acts on. The executor itself is
//! `apply`'s.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::catalogue;
use super::orgs::Roles;
use crate::plan::stream::{Opened, PlanHead};
use crate::plan::{PlanError, Refusal};
use crate::rulebook::{Rulebook, RulebookError};

/// Why a plan may not be applied.
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("cannot read the plan's rulebook `{path}`: {source}")]
    ReadRulebook {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "rulebook `{path}` changed since plan {plan_id} was made; make a new plan, or pass --allow-rulebook-change"
    )]
    RulebookChanged { path: String, plan_id: String },
    #[error(transparent)]
    Rulebook(#[from] RulebookError),
    #[error("plan {plan_id} was refused when it was made: {refusal}; it is kept for review and cannot be applied (raise the guard in the rulebook, or narrow the subjects, and make a new plan)")]
    Refused { plan_id: String, refusal: Refusal },
}

/// A plan ready to apply, with the rulebook it pins and the orgs that rulebook acts on.
#[derive(Debug)]
pub struct Prepared {
    /// The plan, verified (version and checksum), read as a stream when it is large.
    pub plan: Opened,
    /// The plan without its subjects and steps.
    pub head: PlanHead,
    pub rulebook: Rulebook,
    pub roles: Roles,
}

/// Reads the plan at `plan_path` and loads its rulebook (a file, or a shipped rulebook by name). The rulebook must be unchanged since the plan
/// was made unless `allow_rulebook_change`; either way it must load, since it names the orgs.
pub fn prepare_apply(
    plan_path: &Path,
    allow_rulebook_change: bool,
) -> Result<Prepared, PreflightError> {
    let opened = Opened::open(plan_path)?;
    let plan = opened.head();
    // Before the rulebook, the journal or any Okta call: a refused plan is never applied.
    if let Some(refusal) = &plan.refused {
        return Err(PreflightError::Refused {
            plan_id: plan.plan_id.clone(),
            refusal: refusal.clone(),
        });
    }
    let path = Path::new(&plan.rulebook.path);
    let changed = || PreflightError::RulebookChanged {
        path: plan.rulebook.path.clone(),
        plan_id: plan.plan_id.clone(),
    };
    // Compared before parsing, so an edited rulebook is reported as changed, not as broken.
    let bytes = catalogue::read(path).map_err(|source| PreflightError::ReadRulebook {
        path: plan.rulebook.path.clone(),
        source,
    })?;
    let pinned = hex::encode(Sha256::digest(&bytes)) == plan.rulebook.sha256;
    if !pinned && !allow_rulebook_change {
        return Err(changed());
    }
    let rulebook = catalogue::load(path)?;
    // The file could have been replaced between the two reads.
    if pinned && rulebook.sha256 != plan.rulebook.sha256 && !allow_rulebook_change {
        return Err(changed());
    }
    let roles = Roles::of(&rulebook.subjects);
    Ok(Prepared {
        plan: opened,
        head: plan,
        rulebook,
        roles,
    })
}
