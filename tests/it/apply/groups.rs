//! Group memberships through `delete_recreate` and `restore`, with the executor run in process over a
//! hub client wrapped to record what it sends. Work-around: the simulator has no
//! `PUT /api/v1/groups/{groupId}/users/{userId}` and ignores `groupIds` on create, so the wrapper
//! answers the membership call itself and the test checks the requests rather than the org.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use okta_remedy::apply::journal::Journal;
use okta_remedy::apply::{apply, restore, ApplyOptions, Progress, SubjectState};
use okta_remedy::okta::{
    ActivateOutcome, AppId, AppLink, AppQuery, AppUser, AppUserAssignment, AppUserQuery,
    Application, Fetched, Group, GroupId, LogEvent, LogQuery, NewUser, OktaApi, OktaClient,
    OktaError, PageStream, ResetOutcome, User, UserId, UserQuery,
};
use okta_remedy::plan::Plan;
use okta_remedy::sim::{generate, OrgName, Scenario, SimConfig};
use serde_json::{json, Value};

use super::{hub_user, seed_spec, subjects_by_rule, Env};

/// The hub client, recording `add_user_to_group` (answered here) and `create_user` bodies.
struct Recording {
    inner: OktaClient,
    added: Mutex<Vec<(String, String)>>,
    created: Mutex<Vec<Value>>,
}

impl OktaApi for Recording {
    fn org_name(&self) -> &str {
        self.inner.org_name()
    }
    fn list_users(&self, query: UserQuery) -> PageStream<'_, User> {
        self.inner.list_users(query)
    }
    async fn get_user(&self, id: &str) -> Result<Option<Fetched<User>>, OktaError> {
        self.inner.get_user(id).await
    }
    async fn create_user(
        &self,
        user: &NewUser,
        activate: bool,
    ) -> Result<Fetched<User>, OktaError> {
        self.created
            .lock()
            .unwrap()
            .push(serde_json::to_value(user).unwrap());
        self.inner.create_user(user, activate).await
    }
    async fn update_user(
        &self,
        id: &UserId,
        partial: &Value,
        if_match: Option<&str>,
    ) -> Result<Fetched<User>, OktaError> {
        self.inner.update_user(id, partial, if_match).await
    }
    async fn reset_password(
        &self,
        id: &UserId,
        send_email: bool,
    ) -> Result<ResetOutcome, OktaError> {
        self.inner.reset_password(id, send_email).await
    }
    async fn deactivate_user(
        &self,
        id: &UserId,
        send_email: bool,
    ) -> Result<Fetched<()>, OktaError> {
        self.inner.deactivate_user(id, send_email).await
    }
    async fn activate_user(
        &self,
        id: &UserId,
        send_email: bool,
    ) -> Result<ActivateOutcome, OktaError> {
        self.inner.activate_user(id, send_email).await
    }
    async fn unlock_user(&self, id: &UserId) -> Result<Fetched<()>, OktaError> {
        self.inner.unlock_user(id).await
    }
    async fn delete_user(&self, id: &UserId, send_email: bool) -> Result<Fetched<()>, OktaError> {
        self.inner.delete_user(id, send_email).await
    }
    async fn user_groups(&self, id: &UserId) -> Result<Vec<Group>, OktaError> {
        self.inner.user_groups(id).await
    }
    async fn user_app_links(&self, id: &UserId) -> Result<Vec<AppLink>, OktaError> {
        self.inner.user_app_links(id).await
    }
    async fn add_user_to_group(
        &self,
        group: &GroupId,
        user: &UserId,
    ) -> Result<Fetched<()>, OktaError> {
        self.added
            .lock()
            .unwrap()
            .push((group.as_str().to_string(), user.as_str().to_string()));
        Ok(Fetched {
            value: (),
            etag: None,
            request_id: Some("recorded".into()),
        })
    }
    fn list_apps(&self, query: AppQuery) -> PageStream<'_, Application> {
        self.inner.list_apps(query)
    }
    fn list_app_users(&self, app: &AppId, query: AppUserQuery) -> PageStream<'_, AppUser> {
        self.inner.list_app_users(app, query)
    }
    async fn get_app_user(
        &self,
        app: &AppId,
        user: &UserId,
        expand_user: bool,
    ) -> Result<Option<Fetched<AppUser>>, OktaError> {
        self.inner.get_app_user(app, user, expand_user).await
    }
    async fn assign_app_user(
        &self,
        app: &AppId,
        assignment: &AppUserAssignment,
    ) -> Result<Fetched<AppUser>, OktaError> {
        self.inner.assign_app_user(app, assignment).await
    }
    async fn update_app_user(
        &self,
        app: &AppId,
        user: &UserId,
        body: &Value,
    ) -> Result<Fetched<AppUser>, OktaError> {
        self.inner.update_app_user(app, user, body).await
    }
    async fn unassign_app_user(
        &self,
        app: &AppId,
        user: &UserId,
        send_email: bool,
    ) -> Result<Fetched<()>, OktaError> {
        self.inner.unassign_app_user(app, user, send_email).await
    }
    fn list_logs(&self, query: LogQuery) -> PageStream<'_, LogEvent> {
        self.inner.list_logs(query)
    }
    fn poll_logs(&self, query: LogQuery, interval: Duration) -> PageStream<'_, LogEvent> {
        self.inner.poll_logs(query, interval)
    }
}

fn client(config: &Path, org: &str) -> OktaClient {
    let env = |_: &str| None;
    let orgs = okta_remedy::okta::load_orgs(Some(config), &env).unwrap();
    OktaClient::new(okta_remedy::okta::select_org(&orgs, org).unwrap().clone()).unwrap()
}

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
        .extend(federated);
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
    let config = env.path("remedy.yaml");
    let hub = Recording {
        inner: client(&config, "hub"),
        added: Mutex::new(Vec::new()),
        created: Mutex::new(Vec::new()),
    };
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
        progress: Some(Progress(Arc::new(move |n, total| {
            seen.lock().unwrap().push((n, total));
        }))),
    };
    let summary = apply(&plan, &hub, &spoke, &journal, &opts).await.unwrap();
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
            r.detail.as_deref().unwrap().contains("1 groups restored"),
            "{r:?}"
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
    assert_eq!(restored.provider_changed.as_deref(), Some("FEDERATION"));
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
