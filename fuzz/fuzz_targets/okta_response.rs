//! Okta response parsing: `Link` headers, and bodies as users, app users, log events, apps, groups.
#![no_main]

use okta_remedy::okta::{next_link, parse_links, AppUser, Application, Group, LogEvent, User};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_links(text);
        if let Ok(base) = url::Url::parse("https://example.okta.com/api/v1/users?limit=2") {
            let _ = next_link(text.split('\n'), &base);
        }
    }
    let _ = serde_json::from_slice::<User>(data);
    let _ = serde_json::from_slice::<Vec<AppUser>>(data);
    let _ = serde_json::from_slice::<Vec<LogEvent>>(data);
    let _ = serde_json::from_slice::<Application>(data);
    let _ = serde_json::from_slice::<Group>(data);
});
