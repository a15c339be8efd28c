//! The fixed Okta objects of a generated scenario: groups and the spoke's Org2Org app instance.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::sim::model::ts;

pub(super) fn group_json(id: &str, name: &str, kind: &str, at: DateTime<Utc>) -> Value {
    let ts = ts(at);
    json!({
        "id": id,
        "created": ts,
        "lastUpdated": ts,
        "lastMembershipUpdated": ts,
        "objectClass": ["okta:user_group"],
        "type": kind,
        "profile": { "name": name, "description": format!("{name} (generated)") },
    })
}

pub(super) fn org2org_app(id: &str, hub_url: &str, at: DateTime<Utc>) -> Value {
    let ts = ts(at);
    json!({
        "id": id,
        "name": "okta_org2org",
        "label": "Hub Org",
        "status": "ACTIVE",
        "lastUpdated": ts,
        "created": ts,
        "accessibility": { "selfService": false },
        "visibility": { "autoSubmitToolbar": false, "hide": { "iOS": false, "web": false }, "appLinks": { "login": true } },
        "features": ["PUSH_NEW_USERS", "PUSH_PASSWORD_UPDATES", "PUSH_PROFILE_UPDATES", "PUSH_USER_DEACTIVATION", "REACTIVATE_USERS", "IMPORT_NEW_USERS", "IMPORT_PROFILE_UPDATES"],
        "signOnMode": "SAML_2_0",
        "credentials": {
            "userNameTemplate": { "template": "${source.login}", "type": "BUILT_IN" },
            "signing": { "kid": "sim-signing-key" },
        },
        "settings": {
            "app": { "baseUrl": hub_url, "acsUrl": format!("{hub_url}/sso/saml2/0oa1hubsamlidp000001"), "audRestriction": "https://www.okta.com/saml2/service-provider/sim" },
            "notifications": { "vpn": { "network": { "connection": "DISABLED" } } },
        },
    })
}
