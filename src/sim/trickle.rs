//! The trickle: a running simulator keeps producing new failing Org2Org assignments, each a
//! FEDERATION collision made by the generator's own code (`generate::add_federation_collisions`), at a
//! steady rate (`SimConfig::trickle_per_minute`) or on demand (`Sim::trickle_now`, `/__sim/trickle`).
//!
//! Owns the trickle's deterministic sequence (its random stream and login serials) and the rate
//! arithmetic. It does not run a clock (`activity`).

use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::generate::{add_federation_collisions, Collision};
use super::model::{now, OrgName};
use super::runtime::{lock, Shared};
use super::SimError;

/// The highest `trickle_per_minute` accepted (100 a second).
pub const MAX_TRICKLE_PER_MINUTE: u32 = 6_000;

/// The most collisions one `trickle_now` call (or `/__sim/trickle` request) adds.
pub const MAX_TRICKLE_BATCH: usize = 1_000;

/// Trickled logins carry serials from here on, clear of any generated scenario's.
const FIRST_SERIAL: usize = 1_000_000;

/// The trickle's sequence: the same seed gives the same users in the same order.
#[derive(Debug)]
pub(crate) struct Trickle {
    rng: ChaCha8Rng,
    serial: usize,
    /// Collisions added by the clock so far (the ones `trickle_now` adds are not counted).
    by_clock: u64,
}

impl Trickle {
    pub(crate) fn new(seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(11);
        Trickle {
            rng,
            serial: FIRST_SERIAL,
            by_clock: 0,
        }
    }

    /// How many collisions the clock owes after `elapsed` at `per_minute`, counting them as added.
    pub(crate) fn due(&mut self, per_minute: u32, elapsed: Duration) -> usize {
        let owed = (elapsed.as_millis() * u128::from(per_minute) / 60_000) as u64;
        let due = owed.saturating_sub(self.by_clock);
        let due = due.min(MAX_TRICKLE_BATCH as u64);
        self.by_clock += due;
        due as usize
    }
}

/// Adds `n` FEDERATION collisions now (at most [`MAX_TRICKLE_BATCH`]).
pub(crate) fn add(shared: &Shared, n: usize) -> Result<Vec<Collision>, SimError> {
    if n > MAX_TRICKLE_BATCH {
        return Err(SimError::TrickleBatch(n));
    }
    let mut trickle = lock(&shared.activity.trickle);
    let state = &mut *trickle;
    let mut world = shared.write_world();
    let (hub, spoke) = world.hub_and_spoke();
    add_federation_collisions(hub, spoke, &mut state.rng, &mut state.serial, now(), n)
        .ok_or(SimError::NoOrg2OrgApp(OrgName::Spoke))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_owes_whole_collisions_at_the_rate() {
        let mut t = Trickle::new(1);
        assert_eq!(t.due(60, Duration::from_millis(999)), 0);
        assert_eq!(t.due(60, Duration::from_millis(1000)), 1);
        assert_eq!(t.due(60, Duration::from_millis(1500)), 0);
        assert_eq!(t.due(60, Duration::from_secs(10)), 9);
        assert_eq!(t.due(0, Duration::from_secs(100)), 0);
    }
}
