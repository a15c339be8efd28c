//! `GET /api/v1/users`: which users a `search`, `filter` or `q` selects, in which order, and the cursor
//! pages over them.
//!
//! Owns the attributes and operators each of `search` and `filter` accepts (Okta's documented subset)
//! and the sort. It does not change users (`users`).

use serde_json::{json, Value};

use crate::sim::api::Invocation;
use crate::sim::model::{ts, Org, User, UserStatus};
use crate::sim::params::parse_expr;
use crate::sim::query::{Expr, Op};
use crate::sim::response::{ApiError, ListPage};

/// Values of a user attribute for `search`/`filter` (`profile.*` arrays are flattened).
pub(crate) fn field(u: &User, attr: &str) -> Vec<Value> {
    let t =
        |d: Option<chrono::DateTime<chrono::Utc>>| d.map(|d| json!(ts(d))).into_iter().collect();
    match attr {
        "id" => vec![json!(u.id)],
        "status" => vec![json!(u.status.as_str())],
        "created" => t(Some(u.created)),
        "activated" => t(u.activated),
        "statusChanged" => t(u.status_changed),
        "lastUpdated" => t(Some(u.last_updated)),
        "passwordChanged" => t(u.password_changed),
        "lastLogin" => t(u.last_login),
        "type.id" => vec![json!(u.type_id)],
        _ => match attr.strip_prefix("profile.") {
            Some(key) => match u.profile.get(key) {
                Some(Value::Array(items)) => items.clone(),
                Some(Value::Null) | None => Vec::new(),
                Some(v) => vec![v.clone()],
            },
            None => Vec::new(),
        },
    }
}

fn search_allow(attr: &str, op: Op) -> bool {
    let top = matches!(
        attr,
        "id" | "status" | "created" | "activated" | "statusChanged" | "lastUpdated" | "type.id"
    );
    let profile = attr.starts_with("profile.") && attr.len() > "profile.".len();
    let co_ok = matches!(
        attr,
        "profile.firstName" | "profile.lastName" | "profile.email" | "profile.login"
    );
    match op {
        Op::Ne => false,
        Op::Co => co_ok,
        _ => top || profile,
    }
}

fn filter_allow(attr: &str, op: Op) -> bool {
    match attr {
        "lastUpdated" => matches!(op, Op::Eq | Op::Gt | Op::Ge | Op::Lt | Op::Le),
        "status" | "id" | "profile.login" | "profile.email" | "profile.firstName"
        | "profile.lastName" => op == Op::Eq,
        _ => false,
    }
}

/// The selection of one list request: the expression (and whether its values ignore case) and the
/// `q` prefix.
struct Selection {
    expr: Option<Expr>,
    fold_case: bool,
    text: Option<String>,
}

impl Selection {
    fn keeps(&self, u: &User) -> bool {
        let matched = match &self.expr {
            Some(e) => e.eval(&|attr| field(u, attr), self.fold_case),
            None => u.status != UserStatus::Deprovisioned,
        };
        matched
            && self.text.as_ref().is_none_or(|t| {
                ["firstName", "lastName", "email"].iter().any(|k| {
                    u.profile
                        .get(*k)
                        .and_then(Value::as_str)
                        .is_some_and(|v| v.to_lowercase().starts_with(t))
                })
            })
    }
}

/// `GET /api/v1/users`: id order, `after` = last id of the previous page.
pub(crate) fn list(org: &Org, call: &Invocation<'_>) -> Result<ListPage, ApiError> {
    let q = call.query;
    // `q` is for people pickers: 10 results by default, and no pagination.
    let limit = q.limit(if q.get("q").is_some() { 10 } else { 200 }, 200)?;
    // `search` values are case-insensitive, `filter` values are not.
    let (expr, fold_case) = match q.get("search") {
        Some(s) => (parse_expr(Some(s), &search_allow)?, true),
        None => (parse_expr(q.get("filter"), &filter_allow)?, false),
    };
    let sel = Selection {
        expr,
        fold_case,
        text: q.get("q").map(str::to_lowercase),
    };
    let after = q.get("after");
    let candidates: Box<dyn Iterator<Item = &User>> = match (q.get("search"), q.get("sortBy")) {
        (Some(_), Some(sort_by)) => {
            let descending = q
                .get("sortOrder")
                .is_some_and(|o| o.eq_ignore_ascii_case("desc"));
            Box::new(sorted(org, &sel, sort_by, descending, after).into_iter())
        }
        _ => {
            let start = match after {
                Some(a) => std::ops::Bound::Excluded(a.to_string()),
                None => std::ops::Bound::Unbounded,
            };
            Box::new(
                org.users
                    .range((start, std::ops::Bound::Unbounded))
                    .map(|(_, u)| u)
                    .filter(|u| sel.keeps(u)),
            )
        }
    };
    let mut items = Vec::new();
    let mut more = false;
    let mut last = None;
    for u in candidates {
        if items.len() == limit {
            more = true;
            break;
        }
        items.push(u.list_item(call.base));
        last = Some(u.id.clone());
    }
    // `q` does not paginate in Okta.
    let next = match (more && sel.text.is_none(), last) {
        (true, Some(last)) => {
            let mut params: Vec<(String, String)> =
                q.pairs().filter(|(k, _)| k != "after").collect();
            params.push(("after".into(), last));
            Some(params)
        }
        _ => None,
    };
    Ok(ListPage::new(items, next))
}

/// `sortBy` (search only) orders by that attribute, ties by id; the cursor is still the last id
/// returned. Numbers sort as numbers, everything else as its text; missing values first.
fn sorted<'a>(
    org: &'a Org,
    sel: &Selection,
    sort_by: &str,
    descending: bool,
    after: Option<&str>,
) -> Vec<&'a User> {
    let key = |u: &User| -> (Option<f64>, String) {
        match field(u, sort_by).first() {
            Some(Value::Number(n)) => (n.as_f64(), String::new()),
            Some(Value::String(t)) => (None, t.clone()),
            Some(other) => (None, other.to_string()),
            None => (None, String::new()),
        }
    };
    let mut sorted: Vec<&User> = org.users.values().filter(|u| sel.keeps(u)).collect();
    sorted.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        ka.0.partial_cmp(&kb.0)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| ka.1.cmp(&kb.1))
            .then_with(|| a.id.cmp(&b.id))
    });
    if descending {
        sorted.reverse();
    }
    let from = after
        .and_then(|a| sorted.iter().position(|u| u.id == a))
        .map_or(0, |p| p + 1);
    sorted.split_off(from.min(sorted.len()))
}
