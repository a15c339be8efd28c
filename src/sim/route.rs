//! Which Okta operation a method and path name, with the operation's rate-limit bucket and OAuth
//! scope. Path parameters are percent-decoded here, as Okta decodes them (SDKs send a login as
//! `anita%40example.com`).
//!
//! Owns the path table. It does not serve anything (`api` dispatches a [`Route`] to its operation).

use axum::http::{Method, StatusCode};

/// A recognised Okta operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    ListUsers,
    CreateUser,
    GetUser(String),
    UpdateUser(String, bool),
    DeleteUser(String),
    UserGroups(String),
    UserAppLinks(String),
    Lifecycle(String, String),
    ListApps,
    GetApp(String),
    ListAppUsers(String),
    AssignAppUser(String),
    GetAppUser(String, String),
    UpdateAppUser(String, String),
    UnassignAppUser(String, String),
    ListGroups,
    ListGroupRules,
    GetGroup(String),
    ListGroupUsers(String),
    AddGroupUser(String, String),
    RemoveGroupUser(String, String),
    ListLogs,
    Token,
}

impl Route {
    /// Okta's rate-limit bucket of the operation (see `limits::bucket_names`).
    pub(crate) fn bucket(&self) -> &'static str {
        match self {
            Route::ListUsers | Route::CreateUser => "users",
            Route::GetUser(_) => "users.id.get",
            Route::UpdateUser(..)
            | Route::DeleteUser(_)
            | Route::UserGroups(_)
            | Route::UserAppLinks(_)
            | Route::Lifecycle(..) => "users.id",
            Route::ListApps => "apps",
            Route::GetApp(_)
            | Route::ListAppUsers(_)
            | Route::AssignAppUser(_)
            | Route::GetAppUser(..)
            | Route::UpdateAppUser(..)
            | Route::UnassignAppUser(..) => "apps.id",
            Route::ListGroups
            | Route::ListGroupRules
            | Route::GetGroup(_)
            | Route::ListGroupUsers(_)
            | Route::AddGroupUser(..)
            | Route::RemoveGroupUser(..) => "groups",
            Route::ListLogs => "logs",
            Route::Token => "oauth2.token",
        }
    }

    /// The OAuth scope an access token needs (`manage` implies `read`).
    pub(crate) fn scope(&self) -> &'static str {
        match self {
            Route::ListUsers
            | Route::GetUser(_)
            | Route::UserGroups(_)
            | Route::UserAppLinks(_) => "okta.users.read",
            Route::CreateUser
            | Route::UpdateUser(..)
            | Route::DeleteUser(_)
            | Route::Lifecycle(..) => "okta.users.manage",
            Route::ListApps | Route::GetApp(_) | Route::ListAppUsers(_) | Route::GetAppUser(..) => {
                "okta.apps.read"
            }
            Route::AssignAppUser(_) | Route::UpdateAppUser(..) | Route::UnassignAppUser(..) => {
                "okta.apps.manage"
            }
            Route::ListGroups
            | Route::ListGroupRules
            | Route::GetGroup(_)
            | Route::ListGroupUsers(_) => "okta.groups.read",
            Route::AddGroupUser(..) | Route::RemoveGroupUser(..) => "okta.groups.manage",
            Route::ListLogs => "okta.logs.read",
            Route::Token => "",
        }
    }

    pub(crate) fn writes(&self) -> bool {
        matches!(
            self,
            Route::CreateUser
                | Route::UpdateUser(..)
                | Route::DeleteUser(_)
                | Route::Lifecycle(..)
                | Route::AssignAppUser(_)
                | Route::UpdateAppUser(..)
                | Route::UnassignAppUser(..)
                | Route::AddGroupUser(..)
                | Route::RemoveGroupUser(..)
        )
    }
}

const LIFECYCLE: &[&str] = &[
    "activate",
    "deactivate",
    "reactivate",
    "reset_password",
    "expire_password",
    "suspend",
    "unsuspend",
    "unlock",
];

/// Maps a method and path to an operation; `Err` tells 404 (no such path) from 405 (wrong method).
pub(crate) fn route(method: &Method, path: &str) -> Result<Route, StatusCode> {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let m = method.as_str();
    let s = |i: usize| segs.get(i).map(|x| decode_segment(x)).unwrap_or_default();
    let found = match (segs.as_slice(), m) {
        (["api", "v1", "users"], "GET") => Route::ListUsers,
        (["api", "v1", "users"], "POST") => Route::CreateUser,
        (["api", "v1", "users", _], "GET") => Route::GetUser(s(3)),
        (["api", "v1", "users", _], "POST") => Route::UpdateUser(s(3), true),
        (["api", "v1", "users", _], "PUT") => Route::UpdateUser(s(3), false),
        (["api", "v1", "users", _], "DELETE") => Route::DeleteUser(s(3)),
        (["api", "v1", "users", _, "groups"], "GET") => Route::UserGroups(s(3)),
        (["api", "v1", "users", _, "appLinks"], "GET") => Route::UserAppLinks(s(3)),
        (["api", "v1", "users", _, "lifecycle", op], "POST") if LIFECYCLE.contains(op) => {
            Route::Lifecycle(s(3), s(5))
        }
        (["api", "v1", "apps"], "GET") => Route::ListApps,
        (["api", "v1", "apps", _], "GET") => Route::GetApp(s(3)),
        (["api", "v1", "apps", _, "users"], "GET") => Route::ListAppUsers(s(3)),
        (["api", "v1", "apps", _, "users"], "POST") => Route::AssignAppUser(s(3)),
        (["api", "v1", "apps", _, "users", _], "GET") => Route::GetAppUser(s(3), s(5)),
        (["api", "v1", "apps", _, "users", _], "POST") => Route::UpdateAppUser(s(3), s(5)),
        (["api", "v1", "apps", _, "users", _], "DELETE") => Route::UnassignAppUser(s(3), s(5)),
        (["api", "v1", "groups"], "GET") => Route::ListGroups,
        (["api", "v1", "groups", "rules"], "GET") => Route::ListGroupRules,
        (["api", "v1", "groups", _], "GET") => Route::GetGroup(s(3)),
        (["api", "v1", "groups", _, "users"], "GET") => Route::ListGroupUsers(s(3)),
        (["api", "v1", "groups", _, "users", _], "PUT") => Route::AddGroupUser(s(3), s(5)),
        (["api", "v1", "groups", _, "users", _], "DELETE") => Route::RemoveGroupUser(s(3), s(5)),
        (["api", "v1", "logs"], "GET") => Route::ListLogs,
        (["oauth2", "v1", "token"], "POST") => Route::Token,
        (
            ["api", "v1", "users"]
            | ["api", "v1", "users", _]
            | ["api", "v1", "users", _, "groups" | "appLinks"]
            | ["api", "v1", "users", _, "lifecycle", _]
            | ["api", "v1", "apps"]
            | ["api", "v1", "apps", _]
            | ["api", "v1", "apps", _, "users"]
            | ["api", "v1", "apps", _, "users", _]
            | ["api", "v1", "groups"]
            | ["api", "v1", "groups", _]
            | ["api", "v1", "groups", _, "users"]
            | ["api", "v1", "groups", _, "users", _]
            | ["api", "v1", "logs"]
            | ["oauth2", "v1", "token"],
            _,
        ) => return Err(StatusCode::METHOD_NOT_ALLOWED),
        _ => return Err(StatusCode::NOT_FOUND),
    };
    Ok(found)
}

/// Percent-decodes one path segment as Okta does (`anita%40example.com` is `anita@example.com`); `+`
/// stays a plus, as in any path. Bytes that are not UTF-8 become U+FFFD and so match nothing.
pub(crate) fn decode_segment(seg: &str) -> String {
    let bytes = seg.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                // Two hex digits make at most 0xFF.
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'%'));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn routes_paths_and_methods() {
        assert_eq!(
            route(&Method::POST, "/api/v1/users/00u1/lifecycle/reset_password"),
            Ok(Route::Lifecycle("00u1".into(), "reset_password".into()))
        );
        assert_eq!(
            route(&Method::DELETE, "/api/v1/logs"),
            Err(StatusCode::METHOD_NOT_ALLOWED)
        );
        assert_eq!(route(&Method::GET, "/api/v2/x"), Err(StatusCode::NOT_FOUND));
        assert_eq!(
            route(&Method::GET, "/api/v1/users/a@b.com").map(|r| r.bucket()),
            Ok("users.id.get")
        );
    }

    #[test]
    fn path_parameters_are_percent_decoded() {
        assert_eq!(
            route(&Method::GET, "/api/v1/users/anita%40example.com"),
            Ok(Route::GetUser("anita@example.com".into()))
        );
        assert_eq!(
            route(&Method::DELETE, "/api/v1/apps/0oa%31/users/a+b%2"),
            Ok(Route::UnassignAppUser("0oa1".into(), "a+b%2".into()))
        );
    }
}
