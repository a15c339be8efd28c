//! The Okta simulator (hub and spoke orgs on loopback). Placeholder until the simulator lands.

/// Arguments of `remedy sim`.
#[derive(Debug, clap::Args)]
pub struct SimArgs {}

/// Errors of the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("the simulator is not built yet")]
    NotBuilt,
}

/// Runs `remedy sim` until interrupted.
pub async fn run(_args: SimArgs) -> Result<(), SimError> {
    Err(SimError::NotBuilt)
}
