//! A plan's steps: one typed action with its parameters on one subject, and the JSON layout of a step
//! (`action` and `params` apart, `org` between them, as `format_version` 1 has always written it).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::rulebook::{ActionKind, RetryMethod, Safety};
use crate::subject::shape::assignment;

/// A field a step relies on: re-reading the subject must yield exactly these values at `path`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Precondition {
    pub path: String,
    pub values: Vec<Value>,
}

/// What a step does, with its checked parameters. In the JSON these are the step's `action` (the
/// variant's snake_case name) and `params` (its fields); reading a plan with an unknown action or a
/// missing parameter is an error naming the step, never a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", content = "params", rename_all = "snake_case")]
pub enum StepAction {
    ResetPassword {
        send_email: bool,
    },
    /// `until` is the rulebook's condition as JSON, for the reviewer; `apply` evaluates the pinned
    /// rulebook's compiled condition, never this copy.
    Await {
        until: Value,
        timeout: String,
    },
    RetryProvisioning {
        #[serde(with = "retry_method")]
        method: RetryMethod,
        timeout: String,
        /// Why the method differs from the rulebook's (a `reassign` planned as `touch` on a
        /// group-scoped assignment); omitted otherwise, so other plans are unchanged.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        warning: Option<String>,
    },
    DeleteRecreate {},
    Unlock {},
    Activate {
        send_email: bool,
    },
    Notify {
        message: String,
        #[serde(deserialize_with = "required")]
        channel: Option<String>,
    },
    Report {
        message: String,
    },
}

/// The warning on a `reassign` planned as `touch` because the assignment comes from a group.
pub const GROUP_REASSIGN_WARNING: &str = "the rulebook asks for `reassign`, but this assignment \
comes from a group (scope GROUP), which Okta cannot unassign from one user (E0000046): planned as \
`touch`, which pushes it again without removing it";

impl StepAction {
    /// Builds a step's action from the rulebook's validated action, rendering messages on `subject`.
    pub fn from_rule(kind: &ActionKind, subject: &Value) -> StepAction {
        match kind {
            ActionKind::ResetPassword { send_email } => StepAction::ResetPassword {
                send_email: *send_email,
            },
            ActionKind::Await {
                until,
                timeout_text,
                ..
            } => StepAction::Await {
                until: until.to_json(),
                timeout: timeout_text.clone(),
            },
            ActionKind::RetryProvisioning {
                method,
                timeout_text,
                ..
            } => {
                // Okta refuses to remove a group's assignment from one user (E0000046), so
                // `reassign` cannot work on it, while `touch` pushes it again without removing it.
                // Decided from the subject, so apply's re-derivation from the live subject agrees.
                let from_group = *method == RetryMethod::Reassign
                    && assignment(subject).get("scope").and_then(Value::as_str) == Some("GROUP");
                StepAction::RetryProvisioning {
                    method: if from_group {
                        RetryMethod::Touch
                    } else {
                        *method
                    },
                    timeout: timeout_text.clone(),
                    warning: from_group.then(|| GROUP_REASSIGN_WARNING.to_string()),
                }
            }
            ActionKind::DeleteRecreate => StepAction::DeleteRecreate {},
            ActionKind::Unlock => StepAction::Unlock {},
            ActionKind::Activate { send_email } => StepAction::Activate {
                send_email: *send_email,
            },
            ActionKind::Notify { message, channel } => StepAction::Notify {
                message: message.render(subject),
                channel: channel.clone(),
            },
            ActionKind::Report { message } => StepAction::Report {
                message: message.render(subject),
            },
        }
    }

    /// Where the action's group is shown in a rendered plan: what changes most comes last.
    pub fn display_rank(&self) -> u8 {
        match self {
            StepAction::Report { .. } => 0,
            StepAction::Notify { .. } => 1,
            StepAction::Unlock {} => 2,
            StepAction::Activate { .. } => 3,
            StepAction::ResetPassword { .. } => 4,
            StepAction::Await { .. } => 5,
            StepAction::RetryProvisioning { .. } => 6,
            StepAction::DeleteRecreate {} => 7,
        }
    }

    /// [`StepAction::display_rank`] of an action by its name (unknown names last).
    pub fn rank_of(name: &str) -> u8 {
        match name {
            "report" => 0,
            "notify" => 1,
            "unlock" => 2,
            "activate" => 3,
            "reset_password" => 4,
            "await" => 5,
            "retry_provisioning" => 6,
            "delete_recreate" => 7,
            _ => u8::MAX,
        }
    }

    /// The action's name as the rulebook and the plan's JSON write it.
    pub fn name(&self) -> &'static str {
        match self {
            StepAction::ResetPassword { .. } => "reset_password",
            StepAction::Await { .. } => "await",
            StepAction::RetryProvisioning { .. } => "retry_provisioning",
            StepAction::DeleteRecreate {} => "delete_recreate",
            StepAction::Unlock {} => "unlock",
            StepAction::Activate { .. } => "activate",
            StepAction::Notify { .. } => "notify",
            StepAction::Report { .. } => "report",
        }
    }
}

/// A field that must be present even when its value is `null`.
fn required<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    T::deserialize(d)
}

mod retry_method {
    //! `RetryMethod` as the plan writes it (`reassign`, `touch`, `manual`).
    use crate::rulebook::RetryMethod;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(m: &RetryMethod, s: S) -> Result<S::Ok, S::Error> {
        m.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<RetryMethod, D::Error> {
        match String::deserialize(d)?.as_str() {
            "reassign" => Ok(RetryMethod::Reassign),
            "touch" => Ok(RetryMethod::Touch),
            "manual" => Ok(RetryMethod::Manual),
            other => Err(serde::de::Error::unknown_variant(
                other,
                &["reassign", "touch", "manual"],
            )),
        }
    }
}

/// One step: one action on one subject.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "StepWire")]
pub struct Step {
    pub id: String,
    pub subject: String,
    pub rule: String,
    pub action: StepAction,
    pub org: String,
    pub preconditions: Vec<Precondition>,
    pub depends_on: Vec<String>,
    pub safety: Safety,
}

/// A step as the JSON lays it out: `action` and `params` apart, with `org` between them.
#[derive(Deserialize)]
struct StepWire {
    id: String,
    subject: String,
    rule: String,
    action: String,
    org: String,
    params: Value,
    preconditions: Vec<Precondition>,
    depends_on: Vec<String>,
    safety: Safety,
}

impl TryFrom<StepWire> for Step {
    type Error = String;

    fn try_from(w: StepWire) -> Result<Step, String> {
        let action: StepAction =
            serde_json::from_value(json!({ "action": w.action, "params": w.params }))
                .map_err(|e| format!("step `{}` (`{}`): {e}", w.id, w.action))?;
        Ok(Step {
            id: w.id,
            subject: w.subject,
            rule: w.rule,
            action,
            org: w.org,
            preconditions: w.preconditions,
            depends_on: w.depends_on,
            safety: w.safety,
        })
    }
}

/// `action` and `params` of a step's action, as its JSON lays them out: the definition [`Params`]
/// is tested against.
#[cfg(test)]
fn action_and_params(action: &StepAction) -> (String, Value) {
    match serde_json::to_value(action) {
        Ok(Value::Object(mut m)) => (
            m.remove("action")
                .and_then(|a| a.as_str().map(str::to_string))
                .unwrap_or_default(),
            m.remove("params").unwrap_or_else(|| json!({})),
        ),
        _ => (action.name().to_string(), json!({})),
    }
}

/// A step's `params`, written straight from its action (the fields of the action's variant, as
/// [`StepAction`]'s derived form writes them), without building them as JSON first.
struct Params<'a>(&'a StepAction);

impl Serialize for Params<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = serializer.serialize_map(None)?;
        match self.0 {
            StepAction::ResetPassword { send_email } | StepAction::Activate { send_email } => {
                m.serialize_entry("send_email", send_email)?;
            }
            StepAction::Await { until, timeout } => {
                m.serialize_entry("until", until)?;
                m.serialize_entry("timeout", timeout)?;
            }
            StepAction::RetryProvisioning {
                method,
                timeout,
                warning,
            } => {
                m.serialize_entry("method", method)?;
                m.serialize_entry("timeout", timeout)?;
                if let Some(w) = warning {
                    m.serialize_entry("warning", w)?;
                }
            }
            StepAction::DeleteRecreate {} | StepAction::Unlock {} => {}
            StepAction::Notify { message, channel } => {
                m.serialize_entry("message", message)?;
                m.serialize_entry("channel", channel)?;
            }
            StepAction::Report { message } => m.serialize_entry("message", message)?,
        }
        m.end()
    }
}

/// A step written as [`StepWire`] lays it out, borrowing the step rather than copying it (plans
/// write hundreds of thousands).
impl Serialize for Step {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            id: &'a str,
            subject: &'a str,
            rule: &'a str,
            action: &'a str,
            org: &'a str,
            params: Params<'a>,
            preconditions: &'a [Precondition],
            depends_on: &'a [String],
            safety: Safety,
        }
        Wire {
            id: &self.id,
            subject: &self.subject,
            rule: &self.rule,
            action: self.action.name(),
            org: &self.org,
            params: Params(&self.action),
            preconditions: &self.preconditions,
            depends_on: &self.depends_on,
            safety: self.safety,
        }
        .serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rulebook::RetryMethod;

    /// Every action's `params` written straight equal the derived form's, field for field and in
    /// order, and its name the derived tag.
    #[test]
    fn params_are_written_as_the_derived_form_lays_them_out() {
        let actions = [
            StepAction::ResetPassword { send_email: true },
            StepAction::Await {
                until: json!({"path": "$.user.status", "equals": "ACTIVE"}),
                timeout: "10m".into(),
            },
            StepAction::RetryProvisioning {
                method: RetryMethod::Reassign,
                timeout: "5m".into(),
                warning: None,
            },
            StepAction::RetryProvisioning {
                method: RetryMethod::Touch,
                timeout: "5m".into(),
                warning: Some(GROUP_REASSIGN_WARNING.into()),
            },
            StepAction::DeleteRecreate {},
            StepAction::Unlock {},
            StepAction::Activate { send_email: false },
            StepAction::Notify {
                message: "m \"q\"".into(),
                channel: None,
            },
            StepAction::Notify {
                message: "m".into(),
                channel: Some("ops".into()),
            },
            StepAction::Report {
                message: "r".into(),
            },
        ];
        for a in &actions {
            let (name, params) = action_and_params(a);
            assert_eq!(name, a.name());
            let written = serde_json::to_string(&Params(a)).unwrap();
            assert_eq!(written, serde_json::to_string(&params).unwrap(), "{a:?}");
        }
    }
}
