//! Plan loading: arbitrary bytes as a plan document, rendered and re-serialised when they parse.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(plan) = serde_json::from_slice::<okta_remedy::plan::Plan>(data) {
        let _ = okta_remedy::plan::render::render(&plan);
        let text = plan.to_json();
        let again: okta_remedy::plan::Plan =
            serde_json::from_str(&text).expect("a plan we wrote reads back");
        assert_eq!(again, plan, "a plan changes through a write and a read");
    }
});
