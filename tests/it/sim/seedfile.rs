//! Seed files: the committed demo seed is what the generator writes, and seeds load and dump back
//! without loss.

use chrono::{DateTime, Utc};
use okta_remedy::sim::OrgName::{Hub, Spoke};
use okta_remedy::sim::{generate, lookup_demo_scenario, SeedData, SEED_FILE_HUB_URL};

use super::Harness;

const DEMO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/sim/demo-seed.json"
);

/// The demo scenario with a fixed "now", so the committed file is reproducible.
fn demo() -> SeedData {
    let anchor = DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let spec = okta_remedy::sim::GenerateSpec {
        anchor: Some(anchor),
        ..lookup_demo_scenario()
    };
    generate(&spec, 42, SEED_FILE_HUB_URL).compacted()
}

#[tokio::test]
async fn demo_seed_fixture_is_generated_by_code_and_loads() {
    let text = demo().to_file_text();
    if std::env::var_os("UPDATE_SIM_FIXTURES").is_some() {
        std::fs::write(DEMO, &text).unwrap();
    }
    let committed = std::fs::read_to_string(DEMO).unwrap();
    assert!(committed.len() < 2_000_000, "{} bytes", committed.len());
    assert!(
        committed == text,
        "tests/fixtures/sim/demo-seed.json is stale: rerun with UPDATE_SIM_FIXTURES=1"
    );

    let seed: SeedData = serde_json::from_str(&committed).unwrap();
    assert!(seed.anchor.is_some());
    let h = Harness::seeded(seed.clone()).await;
    let app = h.org2org_app().await;
    let (assignments, _) = h
        .get_all(Spoke, &format!("/api/v1/apps/{app}/users?limit=500"))
        .await;
    let spec = lookup_demo_scenario();
    assert_eq!(assignments.len(), spec.spoke_assignments);
    assert!(assignments.iter().any(|a| a["syncState"] == "ERROR"));
    // The anchor moves the recorded history to now: failures are inside the default 7 days.
    let recent = h
        .get(
            Spoke,
            "/api/v1/logs?filter=outcome.result%20eq%20%22FAILURE%22&limit=1000",
        )
        .await;
    assert!(!recent.body.as_array().unwrap().is_empty());

    // Without the anchor, loading and dumping loses nothing.
    let fixed = SeedData {
        anchor: None,
        ..seed
    };
    let h = Harness::seeded(fixed.clone()).await;
    let back: SeedData = serde_json::from_value(serde_json::json!({
        "hub": h.sim.dump(Hub),
        "spoke": h.sim.dump(Spoke),
    }))
    .unwrap();
    assert!(
        back.compacted() == fixed,
        "dump of a loaded seed differs from the seed"
    );
}
