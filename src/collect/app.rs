//! Finding the Org2Org app on the spoke by its API name (`filter=name eq`) or its label (`q`). Several
//! Org2Org apps (one per hub) are normal; exactly one of those matching may be active.

use futures::TryStreamExt;
use serde_json::Value;

use super::{okta, CollectError};
use crate::okta::{AppQuery, JsonModel, OktaApi};

/// The one app named `app` (API name or label) on the spoke, as Okta returns it.
pub(super) async fn find<S: OktaApi>(spoke: &S, app: &str) -> Result<Value, CollectError> {
    let org = spoke.org_name();
    let query = if app.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        AppQuery {
            filter: Some(format!("name eq \"{app}\"")),
            ..AppQuery::default()
        }
    } else {
        AppQuery {
            q: Some(app.to_string()),
            ..AppQuery::default()
        }
    };
    let mut found = Vec::new();
    let mut pages = spoke.list_apps(query);
    while let Some(page) = pages.try_next().await.map_err(okta(org))? {
        found.extend(
            page.items
                .into_iter()
                .filter(|a| a.name == app || a.label == app)
                .map(|a| a.to_value()),
        );
    }
    match found.len() {
        0 => Err(CollectError::AppNotFound {
            org: org.to_string(),
            app: app.to_string(),
        }),
        1 => Ok(found.remove(0)),
        _ => {
            let active: Vec<&Value> = found
                .iter()
                .filter(|a| a.get("status").and_then(Value::as_str) == Some("ACTIVE"))
                .collect();
            if active.len() == 1 {
                return Ok(active[0].clone());
            }
            Err(CollectError::AppAmbiguous {
                org: org.to_string(),
                app: app.to_string(),
                ids: found
                    .iter()
                    .filter_map(|a| a.get("id").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
    }
}
