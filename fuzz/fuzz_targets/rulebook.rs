//! Rulebook loading and validation on arbitrary text: never a panic, and every error renders.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        match okta_remedy::rulebook::parse(text, "fuzz.yaml") {
            Ok(rb) => {
                let _ = okta_remedy::rulebook::schema::rulebook_schema();
                let _ = rb.paths();
            }
            Err(e) => {
                let _ = e.render();
            }
        }
    }
});
