//! The table of Okta endpoints the client calls: method, path template as the spec spells it, the query
//! parameters it may send, and whether the call is safe to repeat. Every request the client builds names
//! one of these, so one test can check the whole table against Okta's OpenAPI spec, and request counts
//! and rate-limit buckets are keyed by it. It owns no behaviour.

/// One Okta endpoint.
#[derive(Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub method: &'static str,
    /// Path template exactly as in `management-openapi.yaml` (`/api/v1/users/{id}`).
    pub path: &'static str,
    /// Query parameter names this client may send.
    pub query: &'static [&'static str],
    /// Whether repeating the call after a 5xx, timeout or dropped connection is safe: GETs, and
    /// updates that set fields to given values. Lifecycle calls, creates, assignments and deletes are
    /// not (a second DELETE of a user deletes what the first only deactivated).
    pub idempotent: bool,
}

impl Endpoint {
    /// `METHOD /path/{template}`: the key of request counts and rate-limit buckets.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

macro_rules! endpoints {
    ($($(#[$doc:meta])* $name:ident = $method:literal $path:literal [$($q:literal),*] $idem:literal;)*) => {
        $( $(#[$doc])* pub static $name: Endpoint = Endpoint { method: $method, path: $path, query: &[$($q),*], idempotent: $idem }; )*
        /// Every endpoint the client calls.
        pub static ALL: &[&Endpoint] = &[$(&$name),*];
    };
}

endpoints! {
    /// List or search users.
    LIST_USERS = "GET" "/api/v1/users" ["search", "filter", "q", "limit", "after", "sortBy", "sortOrder"] true;
    /// Create a user.
    CREATE_USER = "POST" "/api/v1/users" ["activate", "provider"] false;
    /// Get a user by id or login.
    GET_USER = "GET" "/api/v1/users/{id}" [] true;
    /// Partial update (`POST`): sets the given fields, keeps the rest.
    UPDATE_USER = "POST" "/api/v1/users/{id}" [] true;
    /// Delete a user (deactivates an active user first).
    DELETE_USER = "DELETE" "/api/v1/users/{id}" ["sendEmail"] false;
    /// Reset password. Never sends `provider`.
    RESET_PASSWORD = "POST" "/api/v1/users/{id}/lifecycle/reset_password" ["sendEmail"] false;
    DEACTIVATE_USER = "POST" "/api/v1/users/{id}/lifecycle/deactivate" ["sendEmail"] false;
    ACTIVATE_USER = "POST" "/api/v1/users/{id}/lifecycle/activate" ["sendEmail"] false;
    REACTIVATE_USER = "POST" "/api/v1/users/{id}/lifecycle/reactivate" ["sendEmail"] false;
    UNLOCK_USER = "POST" "/api/v1/users/{id}/lifecycle/unlock" [] false;
    USER_GROUPS = "GET" "/api/v1/users/{id}/groups" [] true;
    USER_APP_LINKS = "GET" "/api/v1/users/{id}/appLinks" [] true;
    /// Group rules (which groups Okta fills by rule).
    LIST_GROUP_RULES = "GET" "/api/v1/groups/rules" ["limit", "after"] true;
    /// Add a user to a group (`PUT`, idempotent by definition).
    ADD_USER_TO_GROUP = "PUT" "/api/v1/groups/{groupId}/users/{userId}" [] true;
    LIST_APPS = "GET" "/api/v1/apps" ["filter", "q", "limit", "after"] true;
    LIST_APP_USERS = "GET" "/api/v1/apps/{appId}/users" ["expand", "q", "limit", "after"] true;
    /// Assign a user to an app.
    ASSIGN_APP_USER = "POST" "/api/v1/apps/{appId}/users" [] false;
    GET_APP_USER = "GET" "/api/v1/apps/{appId}/users/{userId}" ["expand"] true;
    /// Update an assignment's profile or credentials (sets given values).
    UPDATE_APP_USER = "POST" "/api/v1/apps/{appId}/users/{userId}" [] true;
    UNASSIGN_APP_USER = "DELETE" "/api/v1/apps/{appId}/users/{userId}" ["sendEmail"] false;
    /// System Log events, bounded or polling.
    LIST_LOGS = "GET" "/api/v1/logs" ["since", "until", "filter", "q", "limit", "sortOrder", "after"] true;
}

/// The OAuth token endpoint (not part of the Management API spec; counted like the others).
pub static TOKEN: Endpoint = Endpoint {
    method: "POST",
    path: "/oauth2/v1/token",
    query: &[],
    idempotent: false,
};
