//! Group memberships (direct, and filled by a group rule) and app assignments through
//! `delete_recreate` and `restore`, with the executor run in process over a
//! hub client wrapped (`tapped`) to record what it sends. Work-around: the simulator has no
//! `PUT /api/v1/groups/{groupId}/users/{userId}` and ignores `groupIds` on create, so the wrapper
//! answers the membership call itself and the test checks the requests rather than the org.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use okta_remedy::apply::journal::Journal;
use okta_remedy::apply::{apply, restore, ApplyOptions, Progress, SubjectState};
use okta_remedy::okta::{JsonModel, OktaApi, UserId};
use okta_remedy::plan::Plan;
use okta_remedy::sim::{generate, OrgName, Scenario, SimConfig};
use serde_json::json;

use super::tapped::{client, Tapped};
use super::{hub_user, seed_spec, subjects_by_rule, Env};

const RULE_GROUP: &str = "00gwikieditors000001";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_recreate_and_restore_give_back_the_groups() {
    // The seed scenario with every FEDERATION collision in the Engineering group.
    let mut seed = generate(&seed_spec(), 4242, "http://127.0.0.1:0");
    let engineering = seed
        .hub
        .groups
        .iter()
        .find(|g| g["profile"]["name"] == "Engineering")
        .and_then(|g| g["id"].as_str())
        .unwrap()
        .to_string();
    let federated: Vec<String> = seed
        .hub
        .users
        .iter()
        .filter(|u| u["credentials"]["provider"]["type"] == "FEDERATION")
        .filter_map(|u| u["id"].as_str().map(str::to_string))
        .collect();
    seed.hub
        .group_members
        .entry(engineering.clone())
        .or_default()
        .extend(federated.clone());
    // A hub app every FEDERATION user is assigned to: `restore` assigns the recreated user again.
    let mut wiki = seed.spoke.apps[0].clone();
    wiki["id"] = json!("0oahubwiki0000000001");
    wiki["name"] = json!("bookmark");
    wiki["label"] = json!("Wiki");
    let template = seed
        .spoke
        .app_users
        .values()
        .flatten()
        .next()
        .unwrap()
        .clone();
    let wiki_users = federated
        .iter()
        .map(|id| {
            let mut au = template.clone();
            au["id"] = json!(id);
            au["scope"] = json!("USER");
            au["syncState"] = json!("DISABLED");
            au["externalId"] = serde_json::Value::Null;
            au
        })
        .collect();
    seed.hub.apps.push(wiki);
    // And a group an active rule fills with each of them (by login): not re-added by hand, the rule
    // adds the recreated user again.
    let mut editors = seed
        .hub
        .groups
        .iter()
        .find(|g| g["id"] == json!(engineering))
        .unwrap()
        .clone();
    editors["id"] = json!(RULE_GROUP);
    editors["profile"]["name"] = json!("Wiki editors");
    seed.hub.groups.push(editors);
    seed.hub
        .group_members
        .insert(RULE_GROUP.into(), federated.clone());
    for (i, id) in federated.iter().enumerate() {
        let login = seed
            .hub
            .users
            .iter()
            .find(|u| u["id"] == json!(id))
            .unwrap()["profile"]["login"]
            .clone();
        seed.hub.group_rules.push(json!({
            "id": format!("0pr{i:017}"),
            "type": "group_rule",
            "status": "ACTIVE",
            "name": format!("wiki editor {i}"),
            "conditions": {"expression": {
                "type": "urn:okta:expression:1.0",
                "value": format!("user.login==\"{}\"", login.as_str().unwrap()),
            }},
            "actions": {"assignUserToGroups": {"groupIds": [RULE_GROUP]}},
        }));
    }
    seed.hub
        .app_users
        .insert("0oahubwiki0000000001".into(), wiki_users);
    let env = Env::start(
        SimConfig {
            scenario: Scenario::Seed(seed),
            ..SimConfig::default()
        },
        "tests/fixtures/apply/guards.yaml",
    )
    .await;
    let plan_path = env.plan().await;
    let recreate = subjects_by_rule(&plan_path)["federation-recreate"].clone();
    assert_eq!(recreate.len(), 2);
    let plan = Plan::read(&plan_path).unwrap();
    let rb = okta_remedy::rulebook::load(&env.path(&plan.rulebook.path)).unwrap();
    let config = env.path("remedy.yaml");
    let mut hub = Tapped::new(client(&config, "hub"));
    hub.answer_groups = true;
    let spoke = client(&config, "spoke");
    let journal = Journal::open(
        &env.path("plan.journal.sqlite"),
        &plan.plan_id,
        &plan.checksum,
        &plan.rulebook.sha256,
    )
    .unwrap();
    let progress = Arc::new(Mutex::new(Vec::new()));
    let seen = progress.clone();
    let opts = ApplyOptions {
        approve_destructive: true,
        concurrency: 4,
        max_actions: None,
        reset_urls: None,
        manual_retries: env.path("manual.txt"),
        audit_log: env.path("audit.jsonl"),
        poll_interval: Duration::from_millis(20),
        operator: Some("groups-test".into()),
        notifier: None,
        only: None,
        approved: Default::default(),
        cancel: None,
        listed: None,
        progress: Some(Progress(Arc::new(move |n, total| {
            seen.lock().unwrap().push((n, total));
        }))),
    };
    let summary = apply(&plan, &rb, &hub, &spoke, &journal, &opts)
        .await
        .unwrap();
    let ticks = progress.lock().unwrap().clone();
    let total = plan.subjects.len();
    assert_eq!(ticks, (1..=total).map(|n| (n, total)).collect::<Vec<_>>());
    for login in &recreate {
        let r = summary
            .subjects
            .iter()
            .find(|s| &s.subject == login)
            .unwrap();
        assert_eq!(r.state, SubjectState::Done, "{r:?}");
        assert!(
            r.detail
                .as_deref()
                .unwrap()
                .contains("1 groups restored, 1 come back by group rule"),
            "{r:?}"
        );
        // The rule put the recreated user back in its group (the simulator runs rules on create).
        let new_id = hub_user(&env.sim, login).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let groups = hub.inner.user_groups(&UserId(new_id)).await.unwrap();
        assert!(
            groups.iter().any(|g| g.id.as_str() == RULE_GROUP),
            "{groups:?}"
        );
    }
    // One membership per recreated user, for the new hub user, in Engineering.
    let mut added = hub.added.lock().unwrap().clone();
    added.sort();
    let mut expected: Vec<(String, String)> = recreate
        .iter()
        .map(|l| {
            let id = hub_user(&env.sim, l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string();
            (engineering.clone(), id)
        })
        .collect();
    expected.sort();
    assert_eq!(added, expected);

    // Restore after the recreated user was lost: the create request carries the backup's groups.
    let login = &recreate[0];
    let id = hub_user(&env.sim, login).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..2 {
        hub.inner
            .delete_user(&UserId(id.clone()), false)
            .await
            .unwrap();
    }
    let restored = restore(&hub, &journal, login).await.unwrap();
    assert_eq!(restored.groups, 1);
    assert_eq!(restored.groups_by_rule, 1);
    // The backup's app links are assignments again; factors are said not to be restorable.
    assert_eq!(restored.apps, vec!["0oahubwiki0000000001".to_string()]);
    assert!(
        restored.apps_failed.is_empty(),
        "{:?}",
        restored.apps_failed
    );
    assert!(restored.not_restored.contains("factors"));
    let new_id = hub_user(&env.sim, login).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let wiki = okta_remedy::okta::AppId("0oahubwiki0000000001".into());
    let assigned = hub
        .inner
        .get_app_user(&wiki, &UserId(new_id), false)
        .await
        .unwrap()
        .expect("the restored user is assigned to the wiki again");
    assert_eq!(assigned.value.to_value()["scope"], "USER");
    // The backup's provider comes back too (`?provider=true` on the create request).
    assert_eq!(restored.provider, "FEDERATION");
    assert_eq!(
        hub_user(&env.sim, login).unwrap()["credentials"]["provider"]["type"],
        "FEDERATION"
    );
    let created = hub.created.lock().unwrap().clone();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["groupIds"], json!([engineering]));
    assert_eq!(created[0]["profile"]["login"], json!(login));
    assert!(hub_user(&env.sim, login).is_some());
    assert!(env
        .sim
        .requests(OrgName::Hub)
        .iter()
        .any(|r| r.method == "POST" && r.path == "/api/v1/users"));
}
