//! Condition evaluation and planning over arbitrary JSON subjects, with every shipped rulebook.
#![no_main]

use std::sync::OnceLock;

use chrono::TimeZone;
use okta_remedy::engine::{evaluate, verdict};
use okta_remedy::plan::{PlanBuilder, Source};
use okta_remedy::rulebook::Rulebook;

fn rulebooks() -> &'static Vec<Rulebook> {
    static RB: OnceLock<Vec<Rulebook>> = OnceLock::new();
    RB.get_or_init(|| {
        [
            include_str!("../../rules/org2org-password-sync.yaml"),
            include_str!("../../rules/org2org-password-policy.yaml"),
            include_str!("../../rules/org2org-deprovisioned-hub-user.yaml"),
            include_str!("../../rules/hub-users-stuck.yaml"),
            include_str!("../../rules/locked-out-users.yaml"),
        ]
        .iter()
        .filter_map(|t| okta_remedy::rulebook::parse(t, "shipped.yaml").ok())
        .collect()
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(subject) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let now = chrono::Utc.with_ymd_and_hms(2026, 11, 29, 0, 0, 0).unwrap();
    for rb in rulebooks() {
        let d = evaluate(rb, &subject, now, 0);
        let (v, _) = verdict(rb, &subject, now);
        assert_eq!(
            v, d.verdict,
            "the fast verdict disagrees with the evaluation"
        );
        let mut b = PlanBuilder::new(rb, now, Source::file(rb.subjects.kind, None));
        b.add(&subject, &d);
        if let Ok(plan) = b.finish() {
            let _ = okta_remedy::plan::render::render(&plan);
        }
    }
});
