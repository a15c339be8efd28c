//! Writes N synthetic, deterministic Org2Org subjects (about 2.6 KB each: a full hub user, the
//! assignment, the spoke user, two or three System Log events) as JSON Lines to stdout, for the
//! evaluation benchmark (`bench/run`). Subject `i` depends on `i` alone, so every run and machine
//! writes the same bytes.
//!
//! Per 1,000 subjects, for the benchmark's rule (`bench/rules/eval.yaml`: FEDERATION, an active
//! status, syncState ERROR, and one *same* event with outcome FAILURE whose reason is the
//! password-validation text):
//! - 1 matches;
//! - 50 miss it by one condition each: the password text only on a SUCCESS event (a decoy, beside a
//!   FAILURE with another reason), a SUSPENDED hub user, a synchronized assignment, an OKTA hub user,
//!   no hub user;
//! - about 190 more are FEDERATION, ACTIVE and synchronized, and the rest OKTA users, some with the
//!   password text on SUCCESS events.
//!
//! The shipped rulebook (`rules/org2org-password-sync.yaml`) plans about 52 counted steps per 1,000
//! subjects from it, within its `max_actions` of 200 up to about 3,800 subjects.
//!
//! `cargo run --release --example gen_subjects -- 1000000 > /tmp/subjects.jsonl`

use std::io::{BufWriter, Write};

use serde_json::{json, Value};

const PASSWORD: &str = "Api validation failed: password (password: Password)";
const CONNECT: &str = "Could not connect to the hub org (E0000009)";

/// What subject `i` is, for the benchmark's rule.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Match,
    /// The password text on a SUCCESS event only, a FAILURE with another reason beside it.
    Decoy,
    Suspended,
    Synchronized,
    OktaProvider,
    NoHubUser,
    /// FEDERATION, ACTIVE, synchronized, successful pushes.
    FederatedHealthy,
    /// OKTA, ACTIVE, synchronized; every third has the password text on a SUCCESS event.
    Healthy,
}

fn kind(i: usize) -> Kind {
    match (i % 1000, i % 100, i % 10) {
        (7, _, _) => Kind::Match,
        (_, 11, _) => Kind::Decoy,
        (_, 23, _) => Kind::Suspended,
        (_, 37, _) => Kind::Synchronized,
        (_, 41, _) => Kind::OktaProvider,
        (_, 53, _) => Kind::NoHubUser,
        (_, _, 0 | 2) => Kind::FederatedHealthy,
        _ => Kind::Healthy,
    }
}

fn event(i: usize, n: usize, login: &str, result: &str, reason: Option<&str>) -> Value {
    json!({"uuid": format!("evt{i:018}{n:02}"), "published": format!("2026-11-26T16:00:0{n}.000Z"),
        "eventType": "application.provision.user.push", "version": "0",
        "severity": if result == "FAILURE" { "ERROR" } else { "INFO" },
        "displayMessage": "Push new user to external application",
        "actor": {"id": "0oa1org2org00000001", "type": "PublicClientApp", "alternateId": "Hub Org", "displayName": "Hub Org"},
        "outcome": {"result": result, "reason": reason},
        "target": [{"id": format!("00uspk{i:014}"), "type": "User", "alternateId": login, "displayName": login}]})
}

fn events(i: usize, k: Kind, login: &str) -> Vec<Value> {
    let failure = |n, reason| event(i, n, login, "FAILURE", Some(reason));
    let success = |n, reason| event(i, n, login, "SUCCESS", reason);
    match k {
        Kind::Match | Kind::Suspended | Kind::Synchronized | Kind::OktaProvider => {
            vec![success(1, None), failure(2, PASSWORD)]
        }
        Kind::Decoy => vec![
            success(1, Some(PASSWORD)),
            failure(2, CONNECT),
            success(3, None),
        ],
        Kind::NoHubUser => vec![success(1, None), failure(2, CONNECT)],
        Kind::FederatedHealthy => vec![success(1, None), success(2, None)],
        Kind::Healthy if i.is_multiple_of(3) => vec![success(1, None), success(2, Some(PASSWORD))],
        Kind::Healthy => vec![success(1, None), success(2, None)],
    }
}

fn hub_user(i: usize, k: Kind, login: &str) -> Value {
    let federated = matches!(
        k,
        Kind::Match | Kind::Decoy | Kind::Suspended | Kind::Synchronized | Kind::FederatedHealthy
    );
    let provider = if federated { "FEDERATION" } else { "OKTA" };
    let status = if k == Kind::Suspended {
        "SUSPENDED"
    } else {
        "ACTIVE"
    };
    json!({
        "id": format!("00uhub{i:014}"), "status": status,
        "created": "2025-03-02T10:00:00.000Z", "activated": "2025-03-02T10:00:00.000Z",
        "statusChanged": "2026-11-20T08:00:00.000Z", "lastLogin": null,
        "lastUpdated": "2026-11-20T08:00:00.000Z", "passwordChanged": null,
        "type": {"id": "oty1hubdefault0000001"},
        "profile": {"firstName": "User", "lastName": format!("Number {i}"), "email": login, "login": login,
                    "mobilePhone": "+1 555 0100", "secondEmail": null, "department": "Engineering",
                    "title": "Software Engineer", "costCenter": "CC-1234", "employeeNumber": format!("{i}")},
        "credentials": {"provider": {"type": provider, "name": provider}},
        "_links": {"self": {"href": format!("https://hub.example.okta.com/api/v1/users/00uhub{i:014}")}}
    })
}

fn subject(i: usize) -> Value {
    let k = kind(i);
    let login = format!("user{i}@example.com");
    let sync_state = match k {
        Kind::Match | Kind::Decoy | Kind::Suspended | Kind::OktaProvider | Kind::NoHubUser => {
            "ERROR"
        }
        _ => "SYNCHRONIZED",
    };
    let user = if k == Kind::NoHubUser {
        Value::Null
    } else {
        hub_user(i, k, &login)
    };
    json!({
        "app": {"id": "0oa1org2org00000001", "name": "okta_org2org", "label": "Hub Org"},
        "assignment": {"id": format!("00uspk{i:014}"), "externalId": null, "created": "2026-11-26T16:00:01.000Z",
            "lastUpdated": "2026-11-26T16:00:05.000Z", "scope": "USER", "status": "STAGED",
            "statusChanged": "2026-11-26T16:00:01.000Z", "syncState": sync_state, "lastSync": "2026-11-26T16:00:05.000Z",
            "credentials": {"userName": login}, "profile": {"department": "Engineering"},
            "_links": {"app": {"href": "https://spoke.example.okta.com/api/v1/apps/0oa1org2org00000001"}}},
        "spoke_user": {"id": format!("00uspk{i:014}"), "status": "ACTIVE", "created": "2024-01-15T09:30:00.000Z",
            "lastUpdated": "2026-11-26T16:00:00.000Z", "passwordChanged": "2026-10-01T12:00:00.000Z",
            "profile": {"firstName": "User", "lastName": format!("Number {i}"), "email": login, "login": login},
            "credentials": {"password": {}, "provider": {"type": "OKTA", "name": "OKTA"}}},
        "user": user,
        "events": events(i, k, &login)
    })
}

fn main() -> std::io::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let out = std::io::stdout();
    let mut w = BufWriter::new(out.lock());
    for i in 0..n {
        serde_json::to_writer(&mut w, &subject(i))?;
        w.write_all(b"\n")?;
    }
    w.flush()
}
