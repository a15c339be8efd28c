//! `delete_recreate`: back the hub user up durably, deactivate and delete it (a DELETE on an active
//! user only deactivates it, so twice), let Org2Org recreate it from the spoke, check the new user is
//! OKTA-provider and give back its groups. `remedy restore` brings a user back from the backup if the
//! recreate does not complete.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::actions::fetch_user;
use super::call::{close_open_intents, journaled, Target};
use super::journal::Backup;
use super::observe::{assignment_ids, linked, provider};
use super::retry::repush;
use super::stop::{hint, okta_failure, Stop};
use super::Ctx;
use crate::okta::{GroupId, JsonModel, OktaApi, OktaError, UserId};
use crate::plan::{PlannedSubject, Step};
use crate::subject::shape;

pub(super) async fn run<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    subject: &PlannedSubject,
    step: &Step,
    current: &Value,
) -> Result<Option<String>, Stop> {
    let (app, app_uid) = assignment_ids(subject).ok_or_else(|| {
        Stop::Failed("the plan has no app or assignment id for this subject".into())
    })?;
    let backup = backup(ctx, subject, step, current).await?;
    let old = backup.body.get("user").cloned().unwrap_or(Value::Null);
    let old_id = old
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| Stop::Failed("the backup holds no user id".into()))?
        .to_string();
    let login = shape::login(&old);
    remove(ctx, step, &login, &old_id).await?;
    // Let Org2Org recreate the user from the spoke.
    let assignment = ctx
        .spoke
        .get_app_user(&app, &app_uid, false)
        .await
        .map_err(|e| okta_failure(&e))?
        .map(|f| f.value.to_value())
        .unwrap_or(Value::Null);
    let spoke = Target {
        step,
        user: &login,
        org: ctx.spoke.org_name(),
    };
    if linked(&assignment) {
        // A killed run's push may be what linked it: its open intent is closed as applied.
        close_open_intents(ctx, &spoke)?;
    } else {
        repush(ctx, &spoke, "repush", &app, &app_uid, &assignment)
            .await
            .map_err(|stop| {
                hint(
                    stop,
                    &format!(
                        "{login} is deleted from the hub and not recreated yet; `remedy restore --journal {} --user {login}` brings it back from the backup",
                        ctx.journal.path().display()
                    ),
                )
            })?;
    }
    let (new_id, groups) = regroup(ctx, step, &login, &backup).await?;
    let by_rule = match rule_groups(&backup.body).len() {
        0 => String::new(),
        n => format!(", {n} come back by group rule"),
    };
    Ok(Some(format!(
        "recreated {login} as {} (provider OKTA), {groups} groups restored{by_rule}; backup kept in the journal",
        new_id.0,
    )))
}

/// The durable backup of the hub user (JSON, groups, app links), taken before anything changes and
/// kept from the first run on resume.
async fn backup<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    subject: &PlannedSubject,
    step: &Step,
    current: &Value,
) -> Result<Backup, Stop> {
    if ctx.journal.backup_for(&subject.key, "user")?.is_none() {
        let user = shape::hub_user(current).clone();
        let Some(id) = user.get("id").and_then(Value::as_str) else {
            return Err(Stop::Failed(
                "no hub user to back up; nothing deleted".into(),
            ));
        };
        let uid = UserId(id.to_string());
        let groups = ctx
            .hub
            .user_groups(&uid)
            .await
            .map_err(|e| okta_failure(&e))?;
        let links = ctx
            .hub
            .user_app_links(&uid)
            .await
            .map_err(|e| okta_failure(&e))?;
        // Groups an active rule fills: the rule gives the membership back, so it is not re-added by
        // hand (a direct membership would outlive the rule).
        let ruled: BTreeSet<GroupId> = ctx
            .hub
            .group_rules()
            .await
            .map_err(|e| okta_failure(&e))?
            .iter()
            .filter(|r| r.is_active())
            .flat_map(|r| r.group_ids())
            .collect();
        let rule_groups: Vec<&str> = groups
            .iter()
            .filter(|g| ruled.contains(&g.id))
            .map(|g| g.id.as_str())
            .collect();
        let body = json!({
            "user": user,
            "groups": groups.iter().map(JsonModel::to_value).collect::<Vec<_>>(),
            "rule_groups": rule_groups,
            "app_links": links.iter().map(JsonModel::to_value).collect::<Vec<_>>(),
        });
        ctx.journal
            .backup(&subject.key, "user", &step.org, &shape::login(&user), &body)?;
    }
    ctx.journal
        .backup_for(&subject.key, "user")?
        .ok_or_else(|| Stop::Failed("the backup is missing from the journal".into()))
}

/// Deactivates, then deletes the old hub user, each call journaled.
async fn remove<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    step: &Step,
    login: &str,
    old_id: &str,
) -> Result<(), Stop> {
    let old_uid = UserId(old_id.to_string());
    let target = Target {
        step,
        user: login,
        org: &step.org,
    };
    let gone_or = |deactivated_is_enough: bool| async move {
        let u = ctx.hub.get_user(old_id).await?;
        Ok::<bool, OktaError>(match u {
            None => true,
            Some(f) => {
                deactivated_is_enough
                    && f.value.to_value().get("status").and_then(Value::as_str)
                        == Some("DEPROVISIONED")
            }
        })
    };
    journaled(
        ctx,
        &target,
        "deactivate",
        || async {
            match ctx.hub.get_user(old_id).await? {
                Some(f)
                    if f.value.to_value().get("status").and_then(Value::as_str)
                        != Some("DEPROVISIONED") =>
                {
                    ctx.hub
                        .delete_user(&old_uid, false)
                        .await
                        .map(|f| ((), f.request_id))
                }
                _ => Ok(((), None)),
            }
        },
        || gone_or(true),
    )
    .await?;
    journaled(
        ctx,
        &target,
        "delete",
        || async {
            match ctx.hub.get_user(old_id).await? {
                Some(_) => ctx
                    .hub
                    .delete_user(&old_uid, false)
                    .await
                    .map(|f| ((), f.request_id)),
                None => Ok(((), None)),
            }
        },
        || gone_or(false),
    )
    .await?;
    Ok(())
}

/// The groups of a backup to add the user to by hand: not Okta's built-in ones, and not those an
/// active group rule filled (`rule_groups`, which the rule gives back): (id, name).
pub(super) fn backup_groups(backup: &Value) -> Vec<(String, String)> {
    let ruled = rule_groups(backup);
    groups_of(backup, |id| !ruled.iter().any(|r| r == id))
}

/// The ids of the backup's groups that an active group rule filled (`rule_groups`; absent in
/// backups taken before rules were read, which then have none).
pub(super) fn rule_groups(backup: &Value) -> Vec<String> {
    backup
        .get("rule_groups")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// The backup's non-built-in groups whose id passes `keep`: (id, name).
fn groups_of(backup: &Value, keep: impl Fn(&str) -> bool) -> Vec<(String, String)> {
    backup
        .get("groups")
        .and_then(Value::as_array)
        .map(|gs| {
            gs.iter()
                .filter(|g| g.get("type").and_then(Value::as_str) != Some("BUILT_IN"))
                .filter(|g| g.get("id").and_then(Value::as_str).is_some_and(&keep))
                .filter_map(|g| {
                    Some((
                        g.get("id")?.as_str()?.to_string(),
                        g.pointer("/profile/name")
                            .and_then(Value::as_str)
                            .unwrap_or("?")
                            .to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Checks the recreated user is OKTA-provider and adds it to the backup's groups.
async fn regroup<H: OktaApi, S: OktaApi>(
    ctx: &Ctx<'_, H, S>,
    step: &Step,
    login: &str,
    backup: &Backup,
) -> Result<(UserId, usize), Stop> {
    let new = fetch_user(ctx, login).await.map_err(|e| okta_failure(&e))?;
    if new.is_null() {
        return Err(Stop::Failed(format!(
            "{login} was not recreated in the hub; restore it with `remedy restore`"
        )));
    }
    if provider(&new) != Some("OKTA") {
        return Err(Stop::Failed(format!(
            "the recreated {login} has provider {}, not OKTA",
            provider(&new).unwrap_or("missing")
        )));
    }
    let new_id = UserId(
        new.get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| Stop::Failed(format!("the recreated {login} has no id")))?
            .to_string(),
    );
    let groups = backup_groups(&backup.body);
    for (gid, _) in &groups {
        // Adding a member is idempotent in Okta, so a resumed run may repeat it safely.
        let r = ctx
            .hub
            .add_user_to_group(&GroupId(gid.clone()), &new_id)
            .await
            .map_err(|e| okta_failure(&e))?;
        ctx.audit.record(
            &step.org,
            login,
            step,
            "add_to_group",
            "ok",
            r.request_id.as_deref(),
        )?;
    }
    Ok((new_id, groups.len()))
}
