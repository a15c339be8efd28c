//! Checking a rule's `then`: each action's name, its parameters (known, required, typed, with their
//! defaults), the org it runs on, and whether it fits the rulebook's subject kind.

use std::time::Duration;

use serde_yaml::{Mapping, Value as Yaml};

use super::action_name::ActionName;
use super::check::{describe, index, key, shorten, Checker};
use super::conditions::check_condition;
use super::keyword::Keyword;
use super::locate::Seg;
use super::model::{Action, ActionKind, RetryMethod, SubjectKind, Subjects};
use super::template::{check_template, Template};
use crate::diagnostic::did_you_mean;

/// What actions are checked against: the rulebook's subjects (when they checked) and the orgs
/// they name.
pub(super) struct Context<'a> {
    pub subjects: Option<&'a Subjects>,
    pub orgs: &'a [String],
}

pub(super) fn check_actions(
    ck: &mut Checker,
    v: &Yaml,
    path: &[Seg],
    cx: &Context,
) -> Option<Vec<Action>> {
    let Yaml::Sequence(items) = v else {
        ck.error(
            path,
            format!("`then` must be a list of actions, found {}", describe(v)),
            Some(
                "write one `- { action: ... }` line per action, or `then: [{ action: ... }]`"
                    .into(),
            ),
        );
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match check_action(ck, item, &index(path, i), cx) {
            Some(a) => out.push(a),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// One action: its mapping, its name, its parameters, its org, then its typed kind.
fn check_action(ck: &mut Checker, v: &Yaml, path: &[Seg], cx: &Context) -> Option<Action> {
    let m = action_mapping(ck, v, path)?;
    let name = action_name(ck, m, path)?;
    check_params(ck, m, path, name);
    let org = action_org(ck, m, path, name, cx)?;
    if name == ActionName::RetryProvisioning
        && cx.subjects.is_some_and(|s| s.kind == SubjectKind::User)
    {
        ck.error(
            &key(path, "action"),
            "`retry_provisioning` needs `subjects.kind: org2org_assignment` (it retries an app assignment)",
            Some("a `user` rulebook acts on users: `reset_password`, `unlock`, `activate`, `await`, `report`, `notify`".into()),
        );
        return None;
    }
    let kind = action_kind(ck, m, path, name, cx)?;
    Some(Action { kind, org })
}

/// The action's mapping; a bare name (`- report`) gets a help showing the mapping it meant.
fn action_mapping<'v>(ck: &mut Checker, v: &'v Yaml, path: &[Seg]) -> Option<&'v Mapping> {
    match v {
        Yaml::Mapping(m) => Some(m),
        Yaml::String(name) => {
            let help = if ActionName::parse(name).is_some() {
                format!("write `- {{ action: {name} }}` with its parameters")
            } else {
                format!(
                    "write `- {{ action: NAME }}`, NAME one of {}",
                    ActionName::names().join(", ")
                )
            };
            ck.error(
                path,
                "an action must be a mapping, found a string",
                Some(help),
            );
            None
        }
        other => ck.mapping(other, path, "an action").and(None),
    }
}

/// The `action:` field, which must name a known action.
fn action_name(ck: &mut Checker, m: &Mapping, path: &[Seg]) -> Option<ActionName> {
    let Some(v) = m.get("action") else {
        ck.error(
            path,
            "missing field `action` in an action",
            Some(format!("one of {}", ActionName::names().join(", "))),
        );
        return None;
    };
    let p = key(path, "action");
    let s = ck.string(v, &p, "`action`")?;
    let name = ActionName::parse(&s);
    if name.is_none() {
        ck.error(
            &p,
            format!("unknown action `{}`", shorten(&s)),
            did_you_mean(&s, &ActionName::names()),
        );
    }
    name
}

/// Reports parameters the action does not take and required ones that are missing.
fn check_params(ck: &mut Checker, m: &Mapping, path: &[Seg], name: ActionName) {
    let spec = name.spec();
    let mut allowed = vec!["action", "org"];
    allowed.extend(spec.params.iter().map(|p| p.name));
    ck.known_keys(m, path, &allowed, &format!("action `{name}`"));
    for param in spec.params {
        if param.required && m.get(param.name).is_none() {
            let help = match (name, param.name) {
                (ActionName::Await, "until") => {
                    Some("e.g. `until: { path: $.user.status, equals: ACTIVE }`".to_string())
                }
                (_, "message") => Some(
                    "e.g. `message: \"password policy mismatch for {{ $.user.profile.login }}\"`"
                        .to_string(),
                ),
                _ => None,
            };
            ck.error(
                path,
                format!("action `{name}` needs `{}`", param.name),
                help,
            );
        }
    }
}

/// The org the action runs on: `org:` when given (it must be one `subjects` names), else the spoke
/// for `retry_provisioning` and the user's org for the rest.
fn action_org(
    ck: &mut Checker,
    m: &Mapping,
    path: &[Seg],
    name: ActionName,
    cx: &Context,
) -> Option<String> {
    let retry = name == ActionName::RetryProvisioning;
    let Some(v) = m.get("org") else {
        return Some(match cx.subjects {
            Some(s) if retry => s.spoke.clone(),
            Some(s) => s.user_org().to_string(),
            None => "hub".to_string(),
        });
    };
    let p = key(path, "org");
    let o = ck.string(v, &p, "`org`")?;
    if !cx.orgs.is_empty() && !cx.orgs.contains(&o) {
        let known: Vec<&str> = cx.orgs.iter().map(String::as_str).collect();
        let listed: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
        ck.error(
            &p,
            format!(
                "unknown org `{}`: `subjects` names {}",
                shorten(&o),
                listed.join(" and ")
            ),
            did_you_mean(&o, &known),
        );
        return None;
    }
    if retry
        && cx
            .subjects
            .is_some_and(|s| s.kind == SubjectKind::Org2orgAssignment && o != s.spoke)
    {
        ck.error(
            &p,
            "`retry_provisioning` runs on the spoke org, which owns the Org2Org app",
            Some(format!(
                "write `org: {}` or leave `org` out",
                cx.subjects.map_or("spoke", |s| s.spoke.as_str())
            )),
        );
        return None;
    }
    Some(o)
}

/// The action with its typed parameters and their defaults.
fn action_kind(
    ck: &mut Checker,
    m: &Mapping,
    path: &[Seg],
    name: ActionName,
    cx: &Context,
) -> Option<ActionKind> {
    let params = Params { m, path };
    Some(match name {
        ActionName::ResetPassword => ActionKind::ResetPassword {
            send_email: params.send_email(ck, true)?,
        },
        ActionName::Await => {
            let until = m
                .get("until")
                .and_then(|u| check_condition(ck, u, &key(path, "until")));
            let (timeout, timeout_text) =
                params.timeout(ck, Duration::from_secs(7 * 86_400), "7d")?;
            ActionKind::Await {
                until: until?,
                timeout,
                timeout_text,
            }
        }
        ActionName::RetryProvisioning => {
            let method = match m.get("method") {
                Some(v) => ck.keyword::<RetryMethod>(v, &key(path, "method"), "retry method")?,
                None => RetryMethod::Touch,
            };
            let (timeout, timeout_text) = params.timeout(ck, Duration::from_secs(5 * 60), "5m")?;
            ActionKind::RetryProvisioning {
                method,
                timeout,
                timeout_text,
            }
        }
        ActionName::DeleteRecreate => {
            if cx.subjects.is_some_and(|s| s.kind == SubjectKind::User) {
                ck.error(
                    &key(path, "action"),
                    "`delete_recreate` needs `subjects.kind: org2org_assignment` (Org2Org recreates the user)",
                    None,
                );
                return None;
            }
            ActionKind::DeleteRecreate
        }
        ActionName::Unlock => ActionKind::Unlock,
        ActionName::Activate => ActionKind::Activate {
            send_email: params.send_email(ck, false)?,
        },
        ActionName::Notify => {
            let channel = m
                .get("channel")
                .and_then(|v| ck.string(v, &key(path, "channel"), "`channel`"));
            ActionKind::Notify {
                message: params.message(ck)?,
                channel,
            }
        }
        ActionName::Report => ActionKind::Report {
            message: params.message(ck)?,
        },
    })
}

/// Reads one action's optional parameters, with their defaults.
struct Params<'m> {
    m: &'m Mapping,
    path: &'m [Seg],
}

impl Params<'_> {
    fn send_email(&self, ck: &mut Checker, default: bool) -> Option<bool> {
        match self.m.get("send_email") {
            Some(v) => ck.boolean(v, &key(self.path, "send_email"), "`send_email`"),
            None => Some(default),
        }
    }

    fn timeout(
        &self,
        ck: &mut Checker,
        default: Duration,
        default_text: &str,
    ) -> Option<(Duration, String)> {
        match self.m.get("timeout") {
            Some(v) => ck.duration(v, &key(self.path, "timeout"), "`timeout`"),
            None => Some((default, default_text.to_string())),
        }
    }

    fn message(&self, ck: &mut Checker) -> Option<Template> {
        let v = self.m.get("message")?;
        let p = key(self.path, "message");
        let s = ck.string(v, &p, "`message`")?;
        check_template(ck, &s, &p)
    }
}
