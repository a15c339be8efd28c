//! Writes N synthetic `kind: user` subjects (~2.2 KB each) as JSON Lines to stdout, for the
//! plans-at-scale benchmark (`bench/plans-at-scale.sh`). Subjects numbered `i % 10 < 8` (80%) never
//! signed in (`lastLogin: null`) and match `bench/never-signed-in.yaml`; 1 in 10,000 does too but is
//! also LOCKED_OUT, for the few-matches comparison with `bench/locked-out-few.yaml`. With
//! `--locked N`, the first N users are LOCKED_OUT for more than an hour instead (the unlock plan of
//! `bench/unlock-all.yaml`), and the rest signed in.
//!
//! `cargo run --release --example gen_users -- 1000000 > subjects.jsonl`
//! `cargo run --release --example gen_users -- 200000 --locked 200000 > locked.jsonl`

use std::io::{BufWriter, Write};

use serde_json::json;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let locked: Option<usize> = args
        .iter()
        .position(|a| a == "--locked")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok());
    let out = std::io::stdout();
    let mut w = BufWriter::new(out.lock());
    for i in 0..n {
        let login = format!("user{i}@example.com");
        let (status, last_login) = match locked {
            Some(l) if i < l => ("LOCKED_OUT", json!("2026-11-01T09:00:00.000Z")),
            Some(_) => ("ACTIVE", json!("2026-11-01T09:00:00.000Z")),
            None if i % 10_000 == 7 => ("LOCKED_OUT", json!(null)),
            None if i % 10 < 8 => ("ACTIVE", json!(null)),
            None => ("ACTIVE", json!("2026-11-01T09:00:00.000Z")),
        };
        let user = json!({
            "id": format!("00u{i:017}"), "status": status,
            "created": "2025-03-02T10:00:00.000Z", "activated": "2025-03-02T10:00:00.000Z",
            "statusChanged": "2026-11-28T08:00:00.000Z", "lastLogin": last_login,
            "lastUpdated": "2026-11-28T08:00:00.000Z", "passwordChanged": "2025-03-02T10:05:00.000Z",
            "type": {"id": "oty1hubdefault0000001"},
            "profile": {"firstName": "User", "lastName": format!("Number {i}"), "email": login, "login": login,
                        "mobilePhone": "+1 555 0100", "secondEmail": null, "department": "Engineering",
                        "title": "Software Engineer", "costCenter": "CC-1234", "employeeNumber": format!("{i}"),
                        "organization": "Example Corporation", "division": "Platform", "manager": "Jane Manager",
                        "managerId": "00u00000000000000001", "streetAddress": "1 Example Street", "city": "Springfield",
                        "state": "OR", "zipCode": "97477", "countryCode": "US", "preferredLanguage": "en",
                        "locale": "en_US", "timezone": "America/Los_Angeles", "userType": "Employee",
                        "nickName": format!("user{i}"), "displayName": format!("User Number {i}")},
            "credentials": {"password": {}, "emails": [{"value": login, "status": "VERIFIED", "type": "PRIMARY"}],
                            "provider": {"type": "OKTA", "name": "OKTA"}},
            "_links": {"self": {"href": format!("https://hub.example.okta.com/api/v1/users/00u{i:017}")},
                       "unlock": {"href": format!("https://hub.example.okta.com/api/v1/users/00u{i:017}/lifecycle/unlock"), "method": "POST"},
                       "resetPassword": {"href": format!("https://hub.example.okta.com/api/v1/users/00u{i:017}/lifecycle/reset_password"), "method": "POST"},
                       "expirePassword": {"href": format!("https://hub.example.okta.com/api/v1/users/00u{i:017}/lifecycle/expire_password"), "method": "POST"},
                       "suspend": {"href": format!("https://hub.example.okta.com/api/v1/users/00u{i:017}/lifecycle/suspend"), "method": "POST"},
                       "deactivate": {"href": format!("https://hub.example.okta.com/api/v1/users/00u{i:017}/lifecycle/deactivate"), "method": "POST"},
                       "schema": {"href": "https://hub.example.okta.com/api/v1/meta/schemas/user/osc1hubdefault0000001"},
                       "type": {"href": "https://hub.example.okta.com/api/v1/meta/types/user/oty1hubdefault0000001"}}
        });
        serde_json::to_writer(&mut w, &json!({ "org": "hub", "user": user }))?;
        w.write_all(b"\n")?;
    }
    w.flush()
}
