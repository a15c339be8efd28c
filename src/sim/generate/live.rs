//! The generator's collisions made on live orgs: what the simulator's trickle adds while it runs.
//!
//! Owns moving live orgs through the generator and reporting what it made. It does not decide when
//! (`trickle`).

use chrono::{DateTime, Utc};
use rand_chacha::ChaCha8Rng;

use super::{Gen, Kind, When};
use crate::sim::model::{Org, OrgName};

/// What [`add_federation_collisions`] made: one failing assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collision {
    /// The FEDERATION hub user the push collided with.
    pub hub_user_id: String,
    /// The login both users share.
    pub login: String,
    /// The spoke user whose Org2Org assignment is now in `syncState` ERROR.
    pub spoke_user_id: String,
}

/// Adds `n` FEDERATION collisions to live orgs, made exactly as the generator makes them (a FEDERATION
/// hub user created by SAML JIT, the matching spoke user assigned to the spoke's Org2Org app, the
/// failed push and its events), every object and event dated `at`. `rng` and `serial` carry the
/// caller's deterministic sequence; logins use `serial`, so the caller keeps it clear of the
/// generated scenario's. Returns None when the spoke has no Org2Org app.
pub(crate) fn add_federation_collisions(
    hub: &mut Org,
    spoke: &mut Org,
    rng: &mut ChaCha8Rng,
    serial: &mut usize,
    at: DateTime<Utc>,
    n: usize,
) -> Option<Vec<Collision>> {
    let app = spoke.org2org_app()?.to_string();
    // The orgs move into a generator and back: `Gen` owns its orgs, and a move costs nothing.
    let mut g = Gen {
        rng: rng.clone(),
        anchor: at,
        serial: *serial,
        hub: std::mem::replace(hub, Org::new(OrgName::Hub, 0)),
        spoke: std::mem::replace(spoke, Org::new(OrgName::Spoke, 0)),
    };
    let mut made = Vec::with_capacity(n);
    for i in 0..n {
        let (spoke_user_id, login) =
            g.assignment_when(&app, "", Kind::Federation, false, i, When::At(at));
        if let Some(hub_user_id) = g.hub.user_id(&login) {
            made.push(Collision {
                hub_user_id,
                login,
                spoke_user_id,
            });
        }
    }
    *rng = g.rng;
    *serial = g.serial;
    *hub = g.hub;
    *spoke = g.spoke;
    Some(made)
}
