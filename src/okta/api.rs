//! `OktaApi`: the endpoints the product needs, as a trait the collector and executor are generic over,
//! and its implementation for the HTTP [`OktaClient`]. Query types for the list calls live here too.
//! Request shapes (paths, parameter names, bodies) follow `management-openapi.yaml`; the endpoint table
//! they use is in `endpoints.rs`. This module does no retry or auth logic of its own (`client.rs`).

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use futures::stream::BoxStream;
use serde_json::Value;

use super::client::{Call, OktaClient};
use super::endpoints as ep;
use super::error::OktaError;
use super::model::{
    ActivateOutcome, AppId, AppLink, AppUser, AppUserAssignment, Application, Fetched, Group,
    GroupId, GroupRule, LogEvent, NewUser, Page, ResetOutcome, User, UserId,
};
use super::secret::Secret;

/// A stream of pages; each item is one page or the error that ended the listing.
pub type PageStream<'a, T> = BoxStream<'a, Result<Page<T>, OktaError>>;

/// `GET /api/v1/users` parameters. `search` reaches every status including DEPROVISIONED; a plain list
/// or `filter` omits DEPROVISIONED users (Okta's behaviour).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserQuery {
    pub search: Option<String>,
    pub filter: Option<String>,
    pub q: Option<String>,
    /// Page size (Okta allows at most 200).
    pub limit: Option<u32>,
    pub sort_by: Option<String>,
    pub sort_order: Option<SortOrder>,
}

/// `sortOrder`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    Ascending,
    Descending,
}

impl SortOrder {
    fn as_str(self) -> &'static str {
        match self {
            Self::Ascending => "ASCENDING",
            Self::Descending => "DESCENDING",
        }
    }
}

/// `GET /api/v1/apps` parameters (`filter=name eq "okta_org2org"`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppQuery {
    pub filter: Option<String>,
    pub q: Option<String>,
    pub limit: Option<u32>,
}

/// `GET /api/v1/apps/{appId}/users` parameters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppUserQuery {
    /// `expand=user`: embed each assignment's user under `_embedded.user`.
    pub expand_user: bool,
    pub q: Option<String>,
    pub limit: Option<u32>,
}

/// `GET /api/v1/logs` parameters. Bounded when `until` is set (or for `list_logs`, which stops at the
/// last page); `poll_logs` keeps following the next link.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogQuery {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub filter: Option<String>,
    pub q: Option<String>,
    pub limit: Option<u32>,
    pub sort_order: Option<SortOrder>,
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn flag(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// The Okta operations the product uses. Implemented by [`OktaClient`] over HTTP; tests may implement
/// it in process. Mutating calls return the request id (`X-Okta-Request-Id`) for the audit log.
pub trait OktaApi: Send + Sync {
    /// The org's name in configuration.
    fn org_name(&self) -> &str;

    /// Lists or searches users, page by page.
    fn list_users(&self, query: UserQuery) -> PageStream<'_, User>;
    /// A user by id or login; `None` when Okta answers 404. Keeps the `ETag`.
    fn get_user(
        &self,
        id_or_login: &str,
    ) -> impl Future<Output = Result<Option<Fetched<User>>, OktaError>> + Send;
    /// Creates a user (`activate` chooses ACTIVE/PROVISIONED vs STAGED).
    fn create_user(
        &self,
        user: &NewUser,
        activate: bool,
    ) -> impl Future<Output = Result<Fetched<User>, OktaError>> + Send;
    /// Partial update (`POST /api/v1/users/{id}`): only the given `profile`/`credentials` fields change.
    /// `if_match` sends `If-Match` with an ETag from `get_user`, so a user changed since is refused (412).
    fn update_user(
        &self,
        id: &UserId,
        partial: &Value,
        if_match: Option<&str>,
    ) -> impl Future<Output = Result<Fetched<User>, OktaError>> + Send;
    /// `reset_password` with `sendEmail` always sent and `provider` never sent.
    fn reset_password(
        &self,
        id: &UserId,
        send_email: bool,
    ) -> impl Future<Output = Result<ResetOutcome, OktaError>> + Send;
    fn deactivate_user(
        &self,
        id: &UserId,
        send_email: bool,
    ) -> impl Future<Output = Result<Fetched<()>, OktaError>> + Send;
    fn activate_user(
        &self,
        id: &UserId,
        send_email: bool,
    ) -> impl Future<Output = Result<ActivateOutcome, OktaError>> + Send;
    /// Re-sends activation to a PROVISIONED user (Okta allows `activate` only on STAGED and
    /// DEPROVISIONED users).
    fn reactivate_user(
        &self,
        id: &UserId,
        send_email: bool,
    ) -> impl Future<Output = Result<ActivateOutcome, OktaError>> + Send;
    fn unlock_user(
        &self,
        id: &UserId,
    ) -> impl Future<Output = Result<Fetched<()>, OktaError>> + Send;
    /// Deletes a user. On a user that is not DEPROVISIONED this only deactivates it: call twice.
    fn delete_user(
        &self,
        id: &UserId,
        send_email: bool,
    ) -> impl Future<Output = Result<Fetched<()>, OktaError>> + Send;
    /// The groups a user belongs to.
    fn user_groups(
        &self,
        id: &UserId,
    ) -> impl Future<Output = Result<Vec<Group>, OktaError>> + Send;
    /// The user's app links (what the dashboard shows).
    fn user_app_links(
        &self,
        id: &UserId,
    ) -> impl Future<Output = Result<Vec<AppLink>, OktaError>> + Send;
    fn add_user_to_group(
        &self,
        group: &GroupId,
        user: &UserId,
    ) -> impl Future<Output = Result<Fetched<()>, OktaError>> + Send;
    /// Every group rule of the org.
    fn group_rules(&self) -> impl Future<Output = Result<Vec<GroupRule>, OktaError>> + Send;
    /// Lists applications, page by page (`filter=name eq "okta_org2org"`).
    fn list_apps(&self, query: AppQuery) -> PageStream<'_, Application>;
    /// Lists an app's assignments, page by page.
    fn list_app_users(&self, app: &AppId, query: AppUserQuery) -> PageStream<'_, AppUser>;
    /// One assignment; `None` when Okta answers 404.
    fn get_app_user(
        &self,
        app: &AppId,
        user: &UserId,
        expand_user: bool,
    ) -> impl Future<Output = Result<Option<Fetched<AppUser>>, OktaError>> + Send;
    fn assign_app_user(
        &self,
        app: &AppId,
        assignment: &AppUserAssignment,
    ) -> impl Future<Output = Result<Fetched<AppUser>, OktaError>> + Send;
    /// Updates an assignment (`POST /api/v1/apps/{appId}/users/{userId}` with `profile`/`credentials`).
    fn update_app_user(
        &self,
        app: &AppId,
        user: &UserId,
        body: &Value,
    ) -> impl Future<Output = Result<Fetched<AppUser>, OktaError>> + Send;
    fn unassign_app_user(
        &self,
        app: &AppId,
        user: &UserId,
        send_email: bool,
    ) -> impl Future<Output = Result<Fetched<()>, OktaError>> + Send;
    /// System Log events between `since` and `until`, page by page, ending at the last page.
    fn list_logs(&self, query: LogQuery) -> PageStream<'_, LogEvent>;
    /// System Log polling: never ends; waits `interval` whenever it has caught up.
    fn poll_logs(&self, query: LogQuery, interval: Duration) -> PageStream<'_, LogEvent>;
}

fn secret_field(v: &Value, key: &str) -> Option<Secret> {
    v.get(key)
        .and_then(Value::as_str)
        .map(|s| Secret::new(s.to_string()))
}

impl OktaClient {
    /// `activate` and `reactivate`: the same query and the same (secret) answer.
    async fn activation(
        &self,
        endpoint: &'static ep::Endpoint,
        id: &UserId,
        send_email: bool,
    ) -> Result<ActivateOutcome, OktaError> {
        let call = Call::new(endpoint)
            .path(id.as_str())
            .query("sendEmail", flag(send_email));
        let reply = self.call_json(call, false).await?;
        Ok(ActivateOutcome {
            activation_url: secret_field(&reply.value, "activationUrl"),
            activation_token: secret_field(&reply.value, "activationToken"),
            request_id: reply.request_id,
        })
    }
}

fn log_call(query: &LogQuery) -> Call {
    Call::new(&ep::LIST_LOGS)
        .query_opt("since", query.since.map(ts))
        .query_opt("until", query.until.map(ts))
        .query_opt("filter", query.filter.clone())
        .query_opt("q", query.q.clone())
        .query_opt("limit", query.limit.map(|l| l.to_string()))
        .query_opt("sortOrder", query.sort_order.map(SortOrder::as_str))
}

impl OktaApi for OktaClient {
    fn org_name(&self) -> &str {
        OktaClient::org_name(self)
    }

    fn list_users(&self, query: UserQuery) -> PageStream<'_, User> {
        let call = Call::new(&ep::LIST_USERS)
            .query_opt("search", query.search)
            .query_opt("filter", query.filter)
            .query_opt("q", query.q)
            .query_opt("limit", query.limit.map(|l| l.to_string()))
            .query_opt("sortBy", query.sort_by)
            .query_opt("sortOrder", query.sort_order.map(SortOrder::as_str));
        self.paginate(call)
    }

    async fn get_user(&self, id_or_login: &str) -> Result<Option<Fetched<User>>, OktaError> {
        self.fetch_optional(&Call::new(&ep::GET_USER).path(id_or_login))
            .await
    }

    async fn create_user(
        &self,
        user: &NewUser,
        activate: bool,
    ) -> Result<Fetched<User>, OktaError> {
        let body = serde_json::to_value(user).map_err(|e| OktaError::InvalidRequest {
            org: self.org_name().to_string(),
            call: ep::CREATE_USER.key(),
            message: e.to_string(),
        })?;
        self.fetch(
            &Call::new(&ep::CREATE_USER)
                .query("activate", flag(activate))
                .query_opt("provider", user.provider.then(|| "true".to_string()))
                .body(body),
        )
        .await
    }

    async fn update_user(
        &self,
        id: &UserId,
        partial: &Value,
        if_match: Option<&str>,
    ) -> Result<Fetched<User>, OktaError> {
        let mut call = Call::new(&ep::UPDATE_USER)
            .path(id.as_str())
            .body(partial.clone());
        call.if_match = if_match.map(str::to_string);
        self.fetch(&call).await
    }

    async fn reset_password(
        &self,
        id: &UserId,
        send_email: bool,
    ) -> Result<ResetOutcome, OktaError> {
        let call = Call::new(&ep::RESET_PASSWORD)
            .path(id.as_str())
            .query("sendEmail", flag(send_email));
        let reply = self.call_json(call, false).await?;
        Ok(ResetOutcome {
            reset_password_url: secret_field(&reply.value, "resetPasswordUrl"),
            request_id: reply.request_id,
        })
    }

    async fn deactivate_user(
        &self,
        id: &UserId,
        send_email: bool,
    ) -> Result<Fetched<()>, OktaError> {
        self.send_unit(
            &Call::new(&ep::DEACTIVATE_USER)
                .path(id.as_str())
                .query("sendEmail", flag(send_email)),
        )
        .await
    }

    async fn activate_user(
        &self,
        id: &UserId,
        send_email: bool,
    ) -> Result<ActivateOutcome, OktaError> {
        self.activation(&ep::ACTIVATE_USER, id, send_email).await
    }

    async fn reactivate_user(
        &self,
        id: &UserId,
        send_email: bool,
    ) -> Result<ActivateOutcome, OktaError> {
        self.activation(&ep::REACTIVATE_USER, id, send_email).await
    }

    async fn unlock_user(&self, id: &UserId) -> Result<Fetched<()>, OktaError> {
        self.send_unit(&Call::new(&ep::UNLOCK_USER).path(id.as_str()))
            .await
    }

    async fn delete_user(&self, id: &UserId, send_email: bool) -> Result<Fetched<()>, OktaError> {
        self.send_unit(
            &Call::new(&ep::DELETE_USER)
                .path(id.as_str())
                .query("sendEmail", flag(send_email)),
        )
        .await
    }

    async fn user_groups(&self, id: &UserId) -> Result<Vec<Group>, OktaError> {
        collect_all(self.paginate(Call::new(&ep::USER_GROUPS).path(id.as_str()))).await
    }

    async fn user_app_links(&self, id: &UserId) -> Result<Vec<AppLink>, OktaError> {
        collect_all(self.paginate(Call::new(&ep::USER_APP_LINKS).path(id.as_str()))).await
    }

    async fn group_rules(&self) -> Result<Vec<GroupRule>, OktaError> {
        collect_all(self.paginate(Call::new(&ep::LIST_GROUP_RULES).query("limit", "200"))).await
    }

    async fn add_user_to_group(
        &self,
        group: &GroupId,
        user: &UserId,
    ) -> Result<Fetched<()>, OktaError> {
        self.send_unit(
            &Call::new(&ep::ADD_USER_TO_GROUP)
                .path(group.as_str())
                .path(user.as_str()),
        )
        .await
    }

    fn list_apps(&self, query: AppQuery) -> PageStream<'_, Application> {
        let call = Call::new(&ep::LIST_APPS)
            .query_opt("filter", query.filter)
            .query_opt("q", query.q)
            .query_opt("limit", query.limit.map(|l| l.to_string()));
        self.paginate(call)
    }

    fn list_app_users(&self, app: &AppId, query: AppUserQuery) -> PageStream<'_, AppUser> {
        let call = Call::new(&ep::LIST_APP_USERS)
            .path(app.as_str())
            .query_opt("expand", query.expand_user.then_some("user"))
            .query_opt("q", query.q)
            .query_opt("limit", query.limit.map(|l| l.to_string()));
        self.paginate(call)
    }

    async fn get_app_user(
        &self,
        app: &AppId,
        user: &UserId,
        expand_user: bool,
    ) -> Result<Option<Fetched<AppUser>>, OktaError> {
        let call = Call::new(&ep::GET_APP_USER)
            .path(app.as_str())
            .path(user.as_str())
            .query_opt("expand", expand_user.then_some("user"));
        self.fetch_optional(&call).await
    }

    async fn assign_app_user(
        &self,
        app: &AppId,
        assignment: &AppUserAssignment,
    ) -> Result<Fetched<AppUser>, OktaError> {
        let body = serde_json::to_value(assignment).map_err(|e| OktaError::InvalidRequest {
            org: self.org_name().to_string(),
            call: ep::ASSIGN_APP_USER.key(),
            message: e.to_string(),
        })?;
        self.fetch(
            &Call::new(&ep::ASSIGN_APP_USER)
                .path(app.as_str())
                .body(body),
        )
        .await
    }

    async fn update_app_user(
        &self,
        app: &AppId,
        user: &UserId,
        body: &Value,
    ) -> Result<Fetched<AppUser>, OktaError> {
        self.fetch(
            &Call::new(&ep::UPDATE_APP_USER)
                .path(app.as_str())
                .path(user.as_str())
                .body(body.clone()),
        )
        .await
    }

    async fn unassign_app_user(
        &self,
        app: &AppId,
        user: &UserId,
        send_email: bool,
    ) -> Result<Fetched<()>, OktaError> {
        let call = Call::new(&ep::UNASSIGN_APP_USER)
            .path(app.as_str())
            .path(user.as_str())
            .query("sendEmail", flag(send_email));
        self.send_unit(&call).await
    }

    fn list_logs(&self, query: LogQuery) -> PageStream<'_, LogEvent> {
        use futures::StreamExt;
        // Okta answers a bounded query with a next link on every page, ending with an empty page; stop
        // there instead of yielding it.
        self.paginate(log_call(&query))
            .take_while(|p| std::future::ready(!matches!(p, Ok(page) if page.items.is_empty())))
            .boxed()
    }

    fn poll_logs(&self, query: LogQuery, interval: Duration) -> PageStream<'_, LogEvent> {
        self.poll(log_call(&query), interval)
    }
}

/// Collects every item of a page stream (for lists that are small by nature, such as a user's groups).
pub async fn collect_all<T>(mut pages: PageStream<'_, T>) -> Result<Vec<T>, OktaError> {
    use futures::StreamExt;
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        out.extend(page?.items);
    }
    Ok(out)
}
