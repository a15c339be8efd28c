//! Okta events as the service stores and reads them, whichever way they came (System Log polling or
//! an event hook): which events start work (provisioning failures in a spoke) and which may end a
//! wait (a hub user setting a password, or becoming active).

use serde_json::Value;

use super::store::StoredEvent;
use crate::okta::{JsonModel, LogEvent};

/// Hub events that may end an await: the user set a password, or was activated.
pub const WAKE_TYPES: &[&str] = &["user.account.update_password", "user.lifecycle.activate"];

/// The System Log filter the poller reads each org with: provisioning failures (what starts work in
/// a spoke) and the hub events that may end a wait.
pub const POLL_FILTER: &str = "(eventType sw \"application.provision.user\" and outcome.result eq \"FAILURE\") or eventType eq \"user.account.update_password\" or eventType eq \"user.lifecycle.activate\"";

/// Whether an event is a provisioning failure (the work a spoke's remediation takes up).
pub fn is_failure(e: &StoredEvent) -> bool {
    e.event_type.starts_with("application.provision.user")
        && e.outcome.as_deref() == Some("FAILURE")
}

/// Whether an event may end a hub user's wait.
pub fn is_wake(e: &StoredEvent) -> bool {
    WAKE_TYPES.contains(&e.event_type.as_str())
}

/// The stored form of a System Log event: its uuid, type, time, outcome and the user it is about
/// (its first `User` target), with the whole event as JSON.
pub fn stored(e: &LogEvent) -> (StoredEvent, String) {
    let user_id = e
        .targets()
        .iter()
        .find(|t| t.get("type").and_then(Value::as_str) == Some("User"))
        .and_then(|t| t.get("id").and_then(Value::as_str))
        .map(str::to_string);
    let body = serde_json::to_string(&e.to_value()).unwrap_or_default();
    (
        StoredEvent {
            uuid: e.uuid.clone(),
            org: String::new(),
            event_type: e.event_type.clone(),
            published: e.published.clone(),
            user_id,
            outcome: e.outcome_result().map(str::to_string),
            via: String::new(),
        },
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_poll_filter_is_one_the_simulator_and_okta_accept() {
        let failure = json!({"eventType": "application.provision.user.push_password", "outcome": {"result": "FAILURE"}});
        let success = json!({"eventType": "application.provision.user.push_password", "outcome": {"result": "SUCCESS"}});
        let wake =
            json!({"eventType": "user.account.update_password", "outcome": {"result": "SUCCESS"}});
        let other = json!({"eventType": "user.session.start", "outcome": {"result": "SUCCESS"}});
        assert_eq!(crate::sim::check_filter(POLL_FILTER, &failure), Ok(true));
        assert_eq!(crate::sim::check_filter(POLL_FILTER, &success), Ok(false));
        assert_eq!(crate::sim::check_filter(POLL_FILTER, &wake), Ok(true));
        assert_eq!(crate::sim::check_filter(POLL_FILTER, &other), Ok(false));
    }
}
