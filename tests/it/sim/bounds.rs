//! Hostile or careless input the simulator must refuse cleanly: filter expressions nested or long
//! enough to exhaust a recursive parser's stack, and fault settings that are not shares of requests or
//! would hang every request.

use okta_remedy::sim::OrgName::{Hub, Spoke};
use okta_remedy::sim::{FaultSpec, Faults, OrgName, Sim, SimConfig};
use reqwest::Method;
use serde_json::json;

use super::Harness;

/// Asserts Okta's answer to a bad expression: 400 `E0000031` "Invalid search criteria."
fn assert_invalid_search(r: &super::Resp, what: &str) {
    assert_eq!(r.status, 400, "{what}: {}", r.body);
    assert_eq!(r.body["errorCode"], "E0000031", "{what}: {}", r.body);
    assert_eq!(
        r.body["errorSummary"], "Invalid search criteria.",
        "{what}: {}",
        r.body
    );
}

#[tokio::test]
async fn deep_and_long_filters_are_refused_on_users_logs_and_apps_and_both_orgs_stay_up() {
    let h = Harness::start(SimConfig::default()).await;
    let parens = "(".repeat(2_000);
    let nots = "not%20".repeat(5_000);
    let deep_nots = format!("{}status%20pr", "not%20".repeat(500));
    for (org, target) in [
        (Hub, format!("/api/v1/users?search={parens}")),
        (Hub, format!("/api/v1/users?search={nots}")),
        (Hub, format!("/api/v1/users?filter={deep_nots}")),
        (Hub, format!("/api/v1/logs?filter={parens}")),
        (Hub, format!("/api/v1/logs?filter={nots}")),
        (Spoke, format!("/api/v1/logs?filter={deep_nots}")),
        (Spoke, format!("/api/v1/apps?filter={parens}")),
        (Spoke, format!("/api/v1/apps?filter={nots}")),
    ] {
        let r = h.get(org, &target).await;
        assert_invalid_search(&r, &target[..40]);
    }
    // Both orgs still serve.
    assert_eq!(h.get(Hub, "/api/v1/users?limit=1").await.status, 200);
    assert_eq!(h.get(Spoke, "/api/v1/apps").await.status, 200);
    // An ordinary nested expression is still fine.
    let r = h
        .get(
            Hub,
            "/api/v1/users?search=((status%20eq%20%22ACTIVE%22)%20and%20not%20(id%20eq%20%22x%22))",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

fn faults(spec: FaultSpec) -> Faults {
    Faults {
        default: spec,
        ..Faults::default()
    }
}

#[tokio::test]
async fn the_control_api_refuses_fault_rates_outside_0_1_and_hanging_latencies() {
    let h = Harness::start(SimConfig::default()).await;
    for (body, says) in [
        (
            json!({"default": {"error_rate": 5}}),
            "`error_rate` of the default is 5: a share of requests must be between 0 and 1",
        ),
        (
            json!({"buckets": {"users": {"drop_rate": -0.5}}}),
            "`drop_rate` of bucket `users` is -0.5",
        ),
        (
            json!({"default": {"latency_ms": u64::MAX}}),
            "`latency_ms` of the default is 18446744073709551615: at most 60000 ms",
        ),
    ] {
        let r = h.post(Hub, "/__sim/faults", body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        let error = r.body["error"].as_str().unwrap();
        assert!(error.starts_with("invalid faults: "), "{error}");
        assert!(error.contains(says), "{error}");
    }
    // Nothing was applied: requests are answered at once and without errors.
    let started = std::time::Instant::now();
    for _ in 0..20 {
        assert_eq!(h.get(Hub, "/api/v1/users?limit=1").await.status, 200);
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let r = h
        .send(
            Hub,
            Method::POST,
            "/__sim/faults",
            Some(json!({"default": {"error_rate": 1.0, "latency_ms": 60000}})),
        )
        .await;
    assert_eq!(
        r.status, 200,
        "the limits themselves are allowed: {}",
        r.body
    );
}

#[tokio::test]
async fn invalid_faults_are_refused_by_start_and_by_try_set_faults() {
    let bad = faults(FaultSpec {
        error_rate: 5.0,
        ..FaultSpec::default()
    });
    let e = Sim::start(SimConfig {
        faults: bad.clone(),
        ..SimConfig::default()
    })
    .await
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid faults: `error_rate` of the default is 5: a share of requests must be between 0 and 1"
    );
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let e = sim
        .try_set_faults(
            OrgName::Spoke,
            faults(FaultSpec {
                latency_ms: u64::MAX,
                ..FaultSpec::default()
            }),
        )
        .unwrap_err();
    assert!(e.to_string().contains("at most 60000 ms"), "{e}");
    sim.try_set_faults(OrgName::Spoke, faults(FaultSpec::default()))
        .unwrap();
    sim.shutdown().await;
}

#[test]
fn remedy_sim_refuses_out_of_range_fault_flags_and_files() {
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_remedy"))
            .arg("sim")
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["--fault-error-rate", "5"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("invalid faults: `error_rate` of the default is 5"),
        "{stderr}"
    );
    let out = run(&["--fault-latency-ms", "18446744073709551615"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("at most 60000 ms"), "{stderr}");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("faults.json");
    std::fs::write(&path, r#"{"buckets": {"logs": {"drop_rate": 1.5}}}"#).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_remedy"))
        .args(["sim", "--faults-file"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("`drop_rate` of bucket `logs` is 1.5"),
        "{stderr}"
    );
}
