//! Drives every implemented operation to a success and an error response; the harness validates each
//! body against the spec, and this test checks that none was left out.

use okta_remedy::sim::OrgName::{Hub, Spoke};
use okta_remedy::sim::SimConfig;
use reqwest::Method;
use serde_json::{json, Value};

use super::{spec, Harness};

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn every_operation_success_and_error_matches_the_spec() {
    let h = Harness::start(SimConfig::default()).await;
    let app = h.org2org_app().await;
    let ok =
        |r: &super::Resp, what: &str| assert!(r.status < 300, "{what}: {} {}", r.status, r.body);
    let err =
        |r: &super::Resp, what: &str| assert!(r.status >= 400, "{what}: {} {}", r.status, r.body);

    // Users.
    ok(&h.get(Hub, "/api/v1/users?limit=3").await, "listUsers");
    err(
        &h.get(Hub, "/api/v1/users?search=status%20ne%20%22ACTIVE%22")
            .await,
        "listUsers",
    );
    let body = json!({
        "profile": { "firstName": "Fi", "lastName": "Del", "login": "fi.del@example.com", "email": "fi.del@example.com" },
        "credentials": { "password": { "value": "Fidelity-1234" } },
    });
    let count = || h.sim.dump(Hub)["users"].as_array().unwrap().len();
    let before = count();
    let created = h.post(Hub, "/api/v1/users", body.clone()).await;
    ok(&created, "createUser");
    assert_eq!(
        count(),
        before + 1,
        "a new user never replaces a generated one"
    );
    err(
        &h.post(Hub, "/api/v1/users", body).await,
        "createUser duplicate",
    );
    let uid = id(&created.body);
    let u = |rest: &str| format!("/api/v1/users/{uid}{rest}");
    ok(&h.get(Hub, &u("")).await, "getUser");
    err(&h.get(Hub, "/api/v1/users/00unotthere").await, "getUser");
    ok(
        &h.post(Hub, &u(""), json!({ "profile": { "nickName": "fi" } }))
            .await,
        "updateUser",
    );
    err(
        &h.post(Hub, &u(""), json!({ "profile": { "login": "" } }))
            .await,
        "updateUser",
    );
    let full = json!({ "profile": { "firstName": "Fi", "lastName": "Del", "login": "fi.del@example.com", "email": "fi.del@example.com" } });
    ok(
        &h.send(Hub, Method::PUT, &u(""), Some(full.clone())).await,
        "replaceUser",
    );
    err(
        &h.send(Hub, Method::PUT, "/api/v1/users/00unotthere", Some(full))
            .await,
        "replaceUser",
    );
    ok(&h.get(Hub, &u("/groups")).await, "listUserGroups");
    err(
        &h.get(Hub, "/api/v1/users/00unotthere/groups").await,
        "listUserGroups",
    );
    ok(&h.get(Hub, &u("/appLinks")).await, "listAppLinks");
    err(
        &h.get(Hub, "/api/v1/users/00unotthere/appLinks").await,
        "listAppLinks",
    );

    // Lifecycle, in an order where each call is valid, then invalid.
    let lc = |op: &str| u(&format!("/lifecycle/{op}"));
    err(
        &h.post(Hub, &lc("activate"), json!({})).await,
        "activateUser on ACTIVE",
    );
    ok(&h.post(Hub, &lc("suspend"), json!({})).await, "suspendUser");
    err(&h.post(Hub, &lc("suspend"), json!({})).await, "suspendUser");
    ok(
        &h.post(Hub, &lc("unsuspend"), json!({})).await,
        "unsuspendUser",
    );
    err(
        &h.post(Hub, &lc("unsuspend"), json!({})).await,
        "unsuspendUser",
    );
    err(&h.post(Hub, &lc("unlock"), json!({})).await, "unlockUser");
    h.sim
        .patch_user(Hub, &uid, json!({ "status": "LOCKED_OUT" }))
        .unwrap();
    ok(&h.post(Hub, &lc("unlock"), json!({})).await, "unlockUser");
    ok(
        &h.post(Hub, &lc("expire_password"), json!({})).await,
        "expirePassword",
    );
    ok(
        &h.post(Hub, &lc("reset_password?sendEmail=false"), json!({}))
            .await,
        "resetPassword",
    );
    ok(
        &h.post(Hub, &lc("reset_password?sendEmail=true"), json!({}))
            .await,
        "resetPassword",
    );
    err(
        &h.post(Hub, &lc("expire_password"), json!({})).await,
        "expirePassword on RECOVERY",
    );
    ok(
        &h.post(Hub, &lc("reactivate"), json!({})).await,
        "reactivateUser",
    );
    ok(
        &h.post(Hub, &lc("deactivate"), json!({})).await,
        "deactivateUser",
    );
    err(
        &h.post(Hub, &lc("deactivate"), json!({})).await,
        "deactivateUser",
    );
    err(
        &h.post(Hub, &lc("reactivate"), json!({})).await,
        "reactivateUser",
    );
    err(
        &h.post(Hub, &lc("reset_password?sendEmail=true"), json!({}))
            .await,
        "resetPassword",
    );
    ok(
        &h.post(Hub, &lc("activate?sendEmail=false"), json!({}))
            .await,
        "activateUser",
    );
    ok(&h.delete(Hub, &u("")).await, "deleteUser deactivates");
    ok(&h.delete(Hub, &u("")).await, "deleteUser deletes");
    err(&h.delete(Hub, &u("")).await, "deleteUser");

    // Apps and app users.
    ok(&h.get(Spoke, "/api/v1/apps").await, "listApplications");
    err(
        &h.get(Spoke, "/api/v1/apps?filter=name%20sw%20%22okta%22")
            .await,
        "listApplications",
    );
    ok(
        &h.get(Spoke, &format!("/api/v1/apps/{app}")).await,
        "getApplication",
    );
    err(
        &h.get(Spoke, "/api/v1/apps/0oanotthere").await,
        "getApplication",
    );
    let a = |rest: &str| format!("/api/v1/apps/{app}/users{rest}");
    let listed = h.get(Spoke, &a("?limit=500&expand=user")).await;
    ok(&listed, "listApplicationUsers");
    err(
        &h.get(Spoke, "/api/v1/apps/0oanotthere/users").await,
        "listApplicationUsers",
    );
    let first = id(&listed.body[0]);
    ok(
        &h.get(Spoke, &a(&format!("/{first}?expand=user"))).await,
        "getApplicationUser",
    );
    err(
        &h.get(Spoke, &a("/00unotthere")).await,
        "getApplicationUser",
    );
    ok(
        &h.post(
            Spoke,
            &a(&format!("/{first}")),
            json!({ "profile": { "title": "x" } }),
        )
        .await,
        "updateApplicationUser",
    );
    err(
        &h.post(Spoke, &a("/00unotthere"), json!({ "profile": {} }))
            .await,
        "updateApplicationUser",
    );
    let individual = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["scope"] == "USER")
        .map(id)
        .unwrap();
    let grouped = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["scope"] == "GROUP")
        .map(id)
        .unwrap();
    ok(
        &h.delete(Spoke, &a(&format!("/{individual}"))).await,
        "unassignUserFromApplication",
    );
    err(
        &h.delete(Spoke, &a(&format!("/{grouped}"))).await,
        "unassignUserFromApplication",
    );
    ok(
        &h.post(Spoke, &a(""), json!({ "id": individual, "scope": "USER" }))
            .await,
        "assignUserToApplication",
    );
    err(
        &h.post(Spoke, &a(""), json!({ "id": "00unotthere" })).await,
        "assignUserToApplication",
    );
    err(
        &h.post(Spoke, &a(""), Value::Null).await,
        "assignUserToApplication without body",
    );

    // Groups and logs.
    let groups = h.get(Hub, "/api/v1/groups").await;
    ok(&groups, "listGroups");
    err(
        &h.get(Hub, "/api/v1/groups?search=profile.name%20gt%20%22A%22")
            .await,
        "listGroups",
    );
    let gid = id(&groups.body[0]);
    ok(
        &h.get(Hub, &format!("/api/v1/groups/{gid}")).await,
        "getGroup",
    );
    err(&h.get(Hub, "/api/v1/groups/00gnotthere").await, "getGroup");
    ok(
        &h.get(Hub, &format!("/api/v1/groups/{gid}/users?limit=5"))
            .await,
        "listGroupUsers",
    );
    err(
        &h.get(Hub, "/api/v1/groups/00gnotthere/users").await,
        "listGroupUsers",
    );
    let first_user = h.get(Hub, "/api/v1/users?limit=1").await.body[0].clone();
    let member = |g: &str| format!("/api/v1/groups/{g}/users/{}", id(&first_user));
    ok(
        &h.send(Hub, Method::PUT, &member(&gid), None).await,
        "assignUserToGroup",
    );
    err(
        &h.send(Hub, Method::PUT, &member("00gnotthere"), None).await,
        "assignUserToGroup",
    );
    ok(&h.delete(Hub, &member(&gid)).await, "unassignUserFromGroup");
    err(
        &h.delete(Hub, &member("00gnotthere")).await,
        "unassignUserFromGroup",
    );
    ok(
        &h.get(Spoke, "/api/v1/logs?limit=1000&since=2000-01-01T00:00:00Z")
            .await,
        "listLogEvents",
    );
    ok(
        &h.get(Hub, "/api/v1/logs?limit=1000&since=2000-01-01T00:00:00Z")
            .await,
        "listLogEvents",
    );
    err(
        &h.get(Spoke, "/api/v1/logs?sortOrder=SIDEWAYS").await,
        "listLogEvents",
    );

    // Errors that any operation can answer.
    err(
        &h.try_send(Hub, Method::GET, "/api/v1/users", None, Some("SSWS bad"))
            .await
            .unwrap(),
        "401",
    );
    err(
        &h.send(Hub, Method::PATCH, "/api/v1/users", None).await,
        "405",
    );
    err(&h.get(Hub, "/api/v1/nothing").await, "404");

    let covered = h.covered.lock().unwrap().clone();
    let ops: Vec<String> = spec().doc["operations"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let missing: Vec<String> = ops
        .iter()
        .flat_map(|op| {
            [true, false]
                .into_iter()
                .filter(|s| !covered.contains(&(op.clone(), *s)))
                .map(move |s| format!("{op} {}", if s { "success" } else { "error" }))
        })
        .collect();
    assert!(missing.is_empty(), "not exercised: {missing:?}");
}
