//! The simulator's `search`/`filter` parser (bounded in length, depth and terms) and evaluator: the
//! first line is the expression, the rest a JSON document to evaluate it on.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (expr, doc) = text.split_once('\n').unwrap_or((text, "{}"));
    let doc = serde_json::from_str(doc).unwrap_or(serde_json::Value::Null);
    let _ = okta_remedy::sim::check_filter(expr, &doc);
});
