//! Writes N synthetic org2org subjects (~2.2 KB each) as JSON Lines to stdout, for the planning
//! benchmark (`scripts/bench-plan.sh`). About 1 in 10,000 is a FEDERATION failure (100 per million, within the seed rulebook's guards); the rest match nothing.
//!
//! `cargo run --release --example gen_subjects -- 1000000 > /tmp/subjects.jsonl`

use std::io::{BufWriter, Write};

use serde_json::json;

fn main() -> std::io::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let out = std::io::stdout();
    let mut w = BufWriter::new(out.lock());
    for i in 0..n {
        let login = format!("user{i}@example.com");
        let fed = i % 10_000 == 7;
        let reason = if fed {
            "Api validation failed: password (password: Password)"
        } else {
            "Could not connect to the hub org (E0000009)"
        };
        let hub = json!({
            "id": format!("00uhub{i:014}"), "status": "ACTIVE",
            "created": "2025-03-02T10:00:00.000Z", "activated": "2025-03-02T10:00:00.000Z",
            "statusChanged": "2026-11-20T08:00:00.000Z", "lastLogin": null,
            "lastUpdated": "2026-11-20T08:00:00.000Z", "passwordChanged": null,
            "type": {"id": "oty1hubdefault0000001"},
            "profile": {"firstName": "User", "lastName": format!("Number {i}"), "email": login, "login": login,
                        "mobilePhone": "+1 555 0100", "secondEmail": null, "department": "Engineering",
                        "title": "Software Engineer", "costCenter": "CC-1234", "employeeNumber": format!("{i}")},
            "credentials": {"provider": {"type": if fed { "FEDERATION" } else { "OKTA" }, "name": if fed { "FEDERATION" } else { "OKTA" }}},
            "_links": {"self": {"href": format!("https://hub.example.okta.com/api/v1/users/00uhub{i:014}")}}
        });
        let subject = json!({
            "app": {"id": "0oa1org2org00000001", "name": "okta_org2org", "label": "Hub Org"},
            "assignment": {"id": format!("00uspk{i:014}"), "externalId": null, "created": "2026-11-26T16:00:01.000Z",
                "lastUpdated": "2026-11-26T16:00:05.000Z", "scope": "USER", "status": "STAGED",
                "statusChanged": "2026-11-26T16:00:01.000Z", "syncState": "ERROR", "lastSync": "2026-11-26T16:00:05.000Z",
                "credentials": {"userName": login}, "profile": {"department": "Engineering"},
                "_links": {"app": {"href": "https://spoke.example.okta.com/api/v1/apps/0oa1org2org00000001"}}},
            "spoke_user": {"id": format!("00uspk{i:014}"), "status": "ACTIVE", "created": "2024-01-15T09:30:00.000Z",
                "lastUpdated": "2026-11-26T16:00:00.000Z", "passwordChanged": "2026-10-01T12:00:00.000Z",
                "profile": {"firstName": "User", "lastName": format!("Number {i}"), "email": login, "login": login},
                "credentials": {"password": {}, "provider": {"type": "OKTA", "name": "OKTA"}}},
            "user": hub,
            "events": [{"uuid": format!("evt{i:020}"), "published": "2026-11-26T16:00:05.000Z",
                "eventType": "application.provision.user.push", "version": "0", "severity": "ERROR",
                "displayMessage": "Push new user to external application",
                "actor": {"id": "0oa1org2org00000001", "type": "PublicClientApp", "alternateId": "Hub Org", "displayName": "Hub Org"},
                "outcome": {"result": "FAILURE", "reason": reason},
                "target": [{"id": format!("00uspk{i:014}"), "type": "User", "alternateId": login, "displayName": login}]}]
        });
        serde_json::to_writer(&mut w, &subject)?;
        w.write_all(b"\n")?;
    }
    w.flush()
}
