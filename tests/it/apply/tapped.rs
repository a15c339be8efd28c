//! A client wrapper for in-process executor tests: records `create_user` bodies, can answer
//! `add_user_to_group` itself (the simulator has no such route) and can lose the response of a
//! mutating call after it was applied (a seeded share of them), which the simulator's own fault
//! injection never does (it faults before the operation).

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use okta_remedy::okta::{
    ActivateOutcome, AppId, AppLink, AppQuery, AppUser, AppUserAssignment, AppUserQuery,
    Application, Fetched, Group, GroupId, LogEvent, LogQuery, NewUser, OktaApi, OktaClient,
    OktaError, PageStream, ResetOutcome, User, UserId, UserQuery,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

/// An org client from a `remedy.yaml`.
pub fn client(config: &Path, org: &str) -> OktaClient {
    let env = |_: &str| None;
    let orgs = okta_remedy::okta::load_orgs(Some(config), &env).unwrap();
    OktaClient::new(okta_remedy::okta::select_org(&orgs, org).unwrap().clone()).unwrap()
}

pub struct Tapped {
    pub inner: OktaClient,
    /// Answer `add_user_to_group` here, recording (group, user).
    pub answer_groups: bool,
    pub added: Mutex<Vec<(String, String)>>,
    pub created: Mutex<Vec<Value>>,
    /// Share of applied mutating calls whose response is lost, and the generator deciding.
    lose: f64,
    rng: Mutex<ChaCha8Rng>,
    pub lost: Mutex<u32>,
}

impl Tapped {
    pub fn new(inner: OktaClient) -> Tapped {
        Tapped {
            inner,
            answer_groups: false,
            added: Mutex::new(Vec::new()),
            created: Mutex::new(Vec::new()),
            lose: 0.0,
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(0)),
            lost: Mutex::new(0),
        }
    }

    /// Loses the response of `share` of the applied mutating calls, decided by `seed`.
    pub fn losing(mut self, share: f64, seed: u64) -> Tapped {
        self.lose = share;
        self.rng = Mutex::new(ChaCha8Rng::seed_from_u64(seed));
        self
    }

    /// The call's result, or a lost response (a transport error that may have applied) instead.
    fn deliver<T>(&self, call: &str, r: Result<T, OktaError>) -> Result<T, OktaError> {
        if r.is_ok() && self.lose > 0.0 && self.rng.lock().unwrap().gen_bool(self.lose) {
            *self.lost.lock().unwrap() += 1;
            return Err(OktaError::Transport {
                org: self.inner.org_name().to_string(),
                call: call.to_string(),
                message: "connection reset after the request was sent (test)".into(),
                maybe_applied: true,
            });
        }
        r
    }
}

impl OktaApi for Tapped {
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
        let r = self.inner.create_user(user, activate).await;
        self.deliver("POST /api/v1/users", r)
    }
    async fn update_user(
        &self,
        id: &UserId,
        partial: &Value,
        if_match: Option<&str>,
    ) -> Result<Fetched<User>, OktaError> {
        let r = self.inner.update_user(id, partial, if_match).await;
        self.deliver("POST /api/v1/users/{id}", r)
    }
    async fn reset_password(
        &self,
        id: &UserId,
        send_email: bool,
    ) -> Result<ResetOutcome, OktaError> {
        let r = self.inner.reset_password(id, send_email).await;
        self.deliver("POST /api/v1/users/{id}/lifecycle/reset_password", r)
    }
    async fn deactivate_user(
        &self,
        id: &UserId,
        send_email: bool,
    ) -> Result<Fetched<()>, OktaError> {
        let r = self.inner.deactivate_user(id, send_email).await;
        self.deliver("POST /api/v1/users/{id}/lifecycle/deactivate", r)
    }
    async fn activate_user(
        &self,
        id: &UserId,
        send_email: bool,
    ) -> Result<ActivateOutcome, OktaError> {
        let r = self.inner.activate_user(id, send_email).await;
        self.deliver("POST /api/v1/users/{id}/lifecycle/activate", r)
    }
    async fn reactivate_user(
        &self,
        id: &UserId,
        send_email: bool,
    ) -> Result<ActivateOutcome, OktaError> {
        let r = self.inner.reactivate_user(id, send_email).await;
        self.deliver("POST /api/v1/users/{id}/lifecycle/reactivate", r)
    }
    async fn unlock_user(&self, id: &UserId) -> Result<Fetched<()>, OktaError> {
        let r = self.inner.unlock_user(id).await;
        self.deliver("POST /api/v1/users/{id}/lifecycle/unlock", r)
    }
    async fn delete_user(&self, id: &UserId, send_email: bool) -> Result<Fetched<()>, OktaError> {
        let r = self.inner.delete_user(id, send_email).await;
        self.deliver("DELETE /api/v1/users/{id}", r)
    }
    async fn user_groups(&self, id: &UserId) -> Result<Vec<Group>, OktaError> {
        self.inner.user_groups(id).await
    }
    async fn user_app_links(&self, id: &UserId) -> Result<Vec<AppLink>, OktaError> {
        self.inner.user_app_links(id).await
    }
    async fn group_rules(&self) -> Result<Vec<okta_remedy::okta::GroupRule>, OktaError> {
        self.inner.group_rules().await
    }
    async fn add_user_to_group(
        &self,
        group: &GroupId,
        user: &UserId,
    ) -> Result<Fetched<()>, OktaError> {
        if !self.answer_groups {
            return self.inner.add_user_to_group(group, user).await;
        }
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
        let r = self.inner.assign_app_user(app, assignment).await;
        self.deliver("POST /api/v1/apps/{appId}/users", r)
    }
    async fn update_app_user(
        &self,
        app: &AppId,
        user: &UserId,
        body: &Value,
    ) -> Result<Fetched<AppUser>, OktaError> {
        let r = self.inner.update_app_user(app, user, body).await;
        self.deliver("POST /api/v1/apps/{appId}/users/{userId}", r)
    }
    async fn unassign_app_user(
        &self,
        app: &AppId,
        user: &UserId,
        send_email: bool,
    ) -> Result<Fetched<()>, OktaError> {
        let r = self.inner.unassign_app_user(app, user, send_email).await;
        self.deliver("DELETE /api/v1/apps/{appId}/users/{userId}", r)
    }
    fn list_logs(&self, query: LogQuery) -> PageStream<'_, LogEvent> {
        self.inner.list_logs(query)
    }
    fn poll_logs(&self, query: LogQuery, interval: Duration) -> PageStream<'_, LogEvent> {
        self.inner.poll_logs(query, interval)
    }
}
