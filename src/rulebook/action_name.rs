//! The names of the actions a rule can take, with what each does and the parameters it accepts:
//! the one list the loader checks `then` against, `remedy schema` publishes, test expectations are
//! checked against and "did you mean" hints are drawn from.

use std::fmt;

use super::keyword::Keyword;

/// Which action a step of `then` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ActionName {
    ResetPassword,
    Await,
    RetryProvisioning,
    DeleteRecreate,
    Unlock,
    Activate,
    Notify,
    Report,
}

/// One parameter of an action (besides `action` and `org`).
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub required: bool,
    pub description: &'static str,
}

/// What an action does and which parameters it takes.
#[derive(Debug, Clone, Copy)]
pub struct ActionSpec {
    /// The name as written in a rulebook.
    pub name: &'static str,
    pub action: ActionName,
    pub description: &'static str,
    pub params: &'static [Param],
}

impl ActionName {
    /// Every action, in the order the documentation lists them.
    pub const ALL: [ActionName; 8] = [
        ActionName::ResetPassword,
        ActionName::Await,
        ActionName::RetryProvisioning,
        ActionName::DeleteRecreate,
        ActionName::Unlock,
        ActionName::Activate,
        ActionName::Notify,
        ActionName::Report,
    ];

    /// The name as written in a rulebook and a plan.
    pub const fn as_str(self) -> &'static str {
        match self {
            ActionName::ResetPassword => "reset_password",
            ActionName::Await => "await",
            ActionName::RetryProvisioning => "retry_provisioning",
            ActionName::DeleteRecreate => "delete_recreate",
            ActionName::Unlock => "unlock",
            ActionName::Activate => "activate",
            ActionName::Notify => "notify",
            ActionName::Report => "report",
        }
    }

    /// What the action does and its parameters.
    pub const fn spec(self) -> ActionSpec {
        const MESSAGE: Param = Param {
            name: "message",
            required: true,
            description: "text; `{{ $.path }}` is replaced by the subject's value",
        };
        let (description, params): (&'static str, &'static [Param]) = match self {
            ActionName::ResetPassword => (
                "Reset the user's password (FEDERATION users become OKTA-provider, status RECOVERY).",
                &[Param { name: "send_email", required: false, description: "email the user the reset link (default true)" }],
            ),
            ActionName::Await => (
                "Wait until a condition holds on the re-read subject, up to a timeout.",
                &[
                    Param { name: "until", required: true, description: "the condition to wait for" },
                    Param { name: "timeout", required: false, description: "how long to wait before failing the subject (default 7d)" },
                ],
            ),
            ActionName::RetryProvisioning => (
                "Make the spoke push the user to the hub again, then verify it is linked.",
                &[
                    Param { name: "method", required: false, description: "reassign, touch (default) or manual" },
                    Param { name: "timeout", required: false, description: "how long to wait for SYNCHRONIZED (default 5m)" },
                ],
            ),
            ActionName::DeleteRecreate => (
                "Back up, deactivate and delete the hub user, then let Org2Org recreate it (destructive).",
                &[],
            ),
            ActionName::Unlock => ("Unlock a LOCKED_OUT user.", &[]),
            ActionName::Activate => (
                "Activate or reactivate the user.",
                &[Param { name: "send_email", required: false, description: "email the activation link (default false)" }],
            ),
            ActionName::Notify => (
                "Deliver a finding to notification sinks; changes nothing in Okta.",
                &[
                    MESSAGE,
                    Param { name: "channel", required: false, description: "the notification sink to deliver it to (a name under `notifications.sinks`); default: every sink that takes `notify` events" },
                ],
            ),
            ActionName::Report => ("Record a finding in the plan; changes nothing.", &[MESSAGE]),
        };
        ActionSpec {
            name: self.as_str(),
            action: self,
            description,
            params,
        }
    }
}

impl Keyword for ActionName {
    const ALL: &'static [Self] = &ActionName::ALL;
    fn as_str(self) -> &'static str {
        ActionName::as_str(self)
    }
}

impl fmt::Display for ActionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every action a rule can take, with its parameters, built from [`ActionName::ALL`].
pub const ACTIONS: [ActionSpec; ActionName::ALL.len()] = {
    let mut out = [ActionName::ResetPassword.spec(); ActionName::ALL.len()];
    let mut i = 0;
    while i < out.len() {
        out[i] = ActionName::ALL[i].spec();
        i += 1;
    }
    out
};
