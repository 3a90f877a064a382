//! The management API routes: users, the app's users and groups, groups, System Log.
//!
//! Every list is ordered by id and resumes strictly after the cursor's id, so items that
//! exist for the whole walk are seen exactly once however the data changes in between.

use std::ops::Bound;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use super::Shared;
use super::error::OktaError;
use super::filter::{self, AttrValue, Expr, Op};
use super::org::{User, UserStatus, fmt_ts, now};
use super::render;
use crate::sim::common::lock;

/// Query parameters in the order given.
struct Params {
    pairs: Vec<(String, String)>,
    raw: Option<String>,
}

impl Params {
    fn new(raw: Option<String>) -> Params {
        let pairs = raw
            .as_deref()
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        Params { pairs, raw }
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn has_value(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| !v.is_empty())
    }

    fn limit(&self, default: usize, min: usize, max: usize) -> Result<usize, OktaError> {
        match self.get("limit") {
            None | Some("") => Ok(default),
            Some(v) => {
                let n: i64 = v
                    .trim()
                    .parse()
                    .map_err(|_| OktaError::validation(format!("limit: '{v}' is not a number")))?;
                Ok((n.max(0) as usize).clamp(min, max))
            }
        }
    }

    fn expand(&self, what: &str) -> bool {
        self.get("expand")
            .is_some_and(|e| e.split(',').any(|x| x.trim() == what))
    }
}

/// Characters kept as-is in a link's query values (RFC 3986 unreserved).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn self_link(base: &str, path: &str, p: &Params) -> String {
    match &p.raw {
        Some(q) if !q.is_empty() => format!("{base}{path}?{q}"),
        _ => format!("{base}{path}"),
    }
}

/// The next page: the same parameters (less `after` and those in `drop`), then `after`.
fn next_link(base: &str, path: &str, p: &Params, drop: &[&str], cursor: &str) -> String {
    let mut q: Vec<String> = p
        .pairs
        .iter()
        .filter(|(k, _)| k != "after" && !drop.contains(&k.as_str()))
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, QUERY_VALUE),
                utf8_percent_encode(v, QUERY_VALUE)
            )
        })
        .collect();
    q.push(format!(
        "after={}",
        utf8_percent_encode(cursor, QUERY_VALUE)
    ));
    format!("{base}{path}?{}", q.join("&"))
}

/// A JSON array with one `Link` header line per relation.
fn page<T: serde::Serialize>(items: &[T], self_url: String, next_url: Option<String>) -> Response {
    let mut resp = match serde_json::to_vec(items) {
        Ok(body) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "okta sim: cannot serialize a page");
            return OktaError::for_status(axum::http::StatusCode::INTERNAL_SERVER_ERROR)
                .into_response();
        }
    };
    let h = resp.headers_mut();
    let mut links = vec![format!("<{self_url}>; rel=\"self\"")];
    if let Some(n) = next_url {
        links.push(format!("<{n}>; rel=\"next\""));
    }
    for l in links {
        if let Ok(v) = HeaderValue::from_str(&l) {
            h.append(header::LINK, v);
        }
    }
    resp
}

fn encode_cursor(id: &str) -> String {
    URL_SAFE_NO_PAD.encode(id.as_bytes())
}

fn decode_cursor(p: &Params) -> Result<Option<String>, OktaError> {
    match p.get("after") {
        None | Some("") => Ok(None),
        Some(c) => URL_SAFE_NO_PAD
            .decode(c.as_bytes())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .map(Some)
            .ok_or_else(|| OktaError::validation("after: invalid cursor")),
    }
}

fn after_bound(cursor: &Option<String>) -> (Bound<String>, Bound<String>) {
    match cursor {
        Some(c) => (Bound::Excluded(c.clone()), Bound::Unbounded),
        None => (Bound::Unbounded, Bound::Unbounded),
    }
}

fn json_attr(v: &Value) -> Vec<AttrValue> {
    match v {
        Value::Null => vec![AttrValue::Null],
        Value::Bool(b) => vec![AttrValue::Bool(*b)],
        Value::Number(n) => vec![AttrValue::Num(n.as_f64().unwrap_or(0.0))],
        Value::String(s) => vec![AttrValue::Str(s.clone())],
        Value::Array(a) => a.iter().flat_map(json_attr).collect(),
        Value::Object(_) => vec![AttrValue::Str(v.to_string())],
    }
}

fn ts_attr(t: Option<&super::org::Ts>) -> Vec<AttrValue> {
    vec![t.map(|t| AttrValue::Time(*t)).unwrap_or(AttrValue::Null)]
}

/// A user's attribute for `filter` / `search`.
fn user_attr(u: &User, attr: &str) -> Vec<AttrValue> {
    match attr {
        "id" => vec![AttrValue::Str(u.id.clone())],
        "status" => vec![AttrValue::Str(u.status.as_str().to_string())],
        "created" => ts_attr(Some(&u.created)),
        "activated" => ts_attr(u.activated.as_ref()),
        "statusChanged" => ts_attr(u.status_changed.as_ref()),
        "lastUpdated" => ts_attr(Some(&u.last_updated)),
        "passwordChanged" => ts_attr(u.password_changed.as_ref()),
        "lastLogin" => vec![AttrValue::Null],
        _ => match attr.strip_prefix("profile.") {
            Some(k) => u.profile.get(k).map(json_attr).unwrap_or_default(),
            None => Vec::new(),
        },
    }
}

const TIME_ATTRS: &[&str] = &[
    "created",
    "activated",
    "statusChanged",
    "lastUpdated",
    "passwordChanged",
    "lastLogin",
    "lastMembershipUpdated",
];

/// Dates on the right of a time attribute must parse (E0000030 otherwise).
fn check_dates(e: &Expr) -> Result<(), OktaError> {
    for (attr, op, lit) in e.leaves() {
        if TIME_ATTRS.contains(&attr)
            && op != Op::Pr
            && !matches!(lit, Some(filter::Literal::Str(s)) if filter::parse_time(s).is_some())
        {
            return Err(OktaError::invalid_date());
        }
    }
    Ok(())
}

/// Okta's `filter` on users: a few attributes, `eq` (and ordering on `lastUpdated`).
fn user_filter(s: &str) -> Result<Expr, OktaError> {
    let e = filter::parse(s).map_err(|_| OktaError::invalid_search())?;
    const ALLOWED: &[&str] = &[
        "status",
        "lastUpdated",
        "id",
        "profile.login",
        "profile.email",
        "profile.firstName",
        "profile.lastName",
    ];
    for (attr, op, _) in e.leaves() {
        let ok = ALLOWED.contains(&attr)
            && (op == Op::Eq || (attr == "lastUpdated" && op.is_ordering()));
        if !ok {
            return Err(OktaError::invalid_search());
        }
    }
    check_dates(&e)?;
    Ok(e)
}

/// Okta's `search` on users: any profile attribute and the top-level properties.
fn user_search(s: &str) -> Result<Expr, OktaError> {
    let e = filter::parse(s).map_err(|_| OktaError::invalid_search())?;
    const TOP: &[&str] = &[
        "id",
        "status",
        "created",
        "activated",
        "statusChanged",
        "lastUpdated",
        "passwordChanged",
        "lastLogin",
        "type.id",
    ];
    const CO_OK: &[&str] = &[
        "profile.firstName",
        "profile.lastName",
        "profile.email",
        "profile.login",
    ];
    for (attr, op, _) in e.leaves() {
        let known = TOP.contains(&attr) || attr.starts_with("profile.");
        let op_ok = match op {
            Op::Ne => false,
            Op::Co => CO_OK.contains(&attr),
            Op::Ew => false,
            _ => true,
        };
        if !known || !op_ok {
            return Err(OktaError::invalid_search());
        }
    }
    check_dates(&e)?;
    Ok(e)
}

fn starts_with_ci(v: Option<&Value>, prefix: &str) -> bool {
    v.and_then(Value::as_str)
        .is_some_and(|s| s.to_lowercase().starts_with(prefix))
}

/// `GET /api/v1/users`.
pub async fn list_users(State(s): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    match list_users_inner(&s, Params::new(raw)) {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

fn list_users_inner(s: &Shared, p: Params) -> Result<Response, OktaError> {
    if p.has_value("filter") && p.has_value("search") {
        return Err(OktaError::search_and_filter());
    }
    let q = p.get("q").filter(|q| !q.is_empty()).map(str::to_lowercase);
    let expr = if let Some(f) = p.get("filter").filter(|f| !f.is_empty()) {
        Some(user_filter(f)?)
    } else if let Some(f) = p.get("search").filter(|f| !f.is_empty()) {
        Some(user_search(f)?)
    } else {
        None
    };
    let limit = p.limit(if q.is_some() { 10 } else { 200 }, 1, 200)?;
    let cursor = decode_cursor(&p)?;
    let base = s.base();
    let org = lock(&s.org);
    let keep = |u: &User| -> bool {
        match (&expr, &q) {
            (Some(e), _) => e.eval(&|a| user_attr(u, a)),
            (None, Some(q)) => {
                u.status != UserStatus::Deprovisioned
                    && ["firstName", "lastName", "email"]
                        .iter()
                        .any(|k| starts_with_ci(u.profile.get(*k), q))
            }
            // Okta's default list leaves DEPROVISIONED users out.
            (None, None) => u.status != UserStatus::Deprovisioned,
        }
    };
    let ids = expr.as_ref().and_then(|e| e.id_disjunction());
    let mut hits: Vec<&User> = match &ids {
        // An id lookup filter: straight from the index, in the same id order.
        Some(ids) => ids
            .range::<String, _>(after_bound(&cursor))
            .filter_map(|id| org.users.get(id))
            .take(limit + 1)
            .collect(),
        None => org
            .users
            .range(after_bound(&cursor))
            .map(|(_, u)| u)
            .filter(|u| keep(u))
            .take(limit + 1)
            .collect(),
    };
    // `q` isn't paginated in Okta: one page, no next link.
    let more = hits.len() > limit && q.is_none();
    hits.truncate(limit);
    let next = match hits.last() {
        Some(last) if more => Some(next_link(
            base,
            "/api/v1/users",
            &p,
            &[],
            &encode_cursor(&last.id),
        )),
        _ => None,
    };
    let items: Vec<_> = hits
        .iter()
        .map(|u| render::user_out(u, base, false))
        .collect();
    Ok(page(&items, self_link(base, "/api/v1/users", &p), next))
}

/// `GET /api/v1/users/{id or login}`.
pub async fn get_user(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let org = lock(&s.org);
    match org.resolve_user(&id).and_then(|uid| org.users.get(&uid)) {
        Some(u) => axum::Json(render::user_out(u, s.base(), true)).into_response(),
        None => OktaError::not_found(&id, "User").into_response(),
    }
}

fn check_app(s: &Shared, app_id: &str) -> Result<(), OktaError> {
    if lock(&s.org).app_id == app_id {
        Ok(())
    } else {
        Err(OktaError::not_found(app_id, "AppInstance"))
    }
}

/// `GET /api/v1/apps/{appId}`.
pub async fn get_app(State(s): State<Arc<Shared>>, Path(app_id): Path<String>) -> Response {
    if let Err(e) = check_app(&s, &app_id) {
        return e.into_response();
    }
    let org = lock(&s.org);
    axum::Json(render::application(&org, s.base())).into_response()
}

/// `GET /api/v1/apps/{appId}/users`.
pub async fn list_app_users(
    State(s): State<Arc<Shared>>,
    Path(app_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    match list_app_users_inner(&s, &app_id, Params::new(raw)) {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

fn list_app_users_inner(s: &Shared, app_id: &str, p: Params) -> Result<Response, OktaError> {
    check_app(s, app_id)?;
    let limit = p.limit(50, 1, 500)?;
    let cursor = decode_cursor(&p)?;
    let expand_user = p.expand("user");
    let q = p.get("q").filter(|q| !q.is_empty()).map(str::to_lowercase);
    let base = s.base();
    let org = lock(&s.org);
    let mut hits = Vec::with_capacity(limit + 1);
    for (uid, row) in org.app_users.range(after_bound(&cursor)) {
        let Some(u) = org.users.get(uid) else {
            continue;
        };
        if let Some(q) = &q {
            let matches = u.login().to_lowercase().starts_with(q.as_str())
                || ["firstName", "lastName", "email"]
                    .iter()
                    .any(|k| starts_with_ci(u.profile.get(*k), q));
            if !matches {
                continue;
            }
        }
        hits.push((u, row));
        if hits.len() > limit {
            break;
        }
    }
    let more = hits.len() > limit;
    hits.truncate(limit);
    let path = format!("/api/v1/apps/{app_id}/users");
    let next = match hits.last() {
        Some((u, _)) if more => Some(next_link(base, &path, &p, &[], &encode_cursor(&u.id))),
        _ => None,
    };
    let items: Vec<_> = hits
        .iter()
        .map(|(u, row)| render::app_user_out(&org, u, row, base, expand_user))
        .collect();
    Ok(page(&items, self_link(base, &path, &p), next))
}

/// `GET /api/v1/apps/{appId}/users/{userId}`.
pub async fn get_app_user(
    State(s): State<Arc<Shared>>,
    Path((app_id, user_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Err(e) = check_app(&s, &app_id) {
        return e.into_response();
    }
    let p = Params::new(raw);
    let org = lock(&s.org);
    match (org.app_users.get(&user_id), org.users.get(&user_id)) {
        (Some(row), Some(u)) => axum::Json(render::app_user_out(
            &org,
            u,
            row,
            s.base(),
            p.expand("user"),
        ))
        .into_response(),
        _ => OktaError::not_found(&user_id, "AppUser").into_response(),
    }
}

/// `GET /api/v1/apps/{appId}/groups`.
pub async fn list_app_groups(
    State(s): State<Arc<Shared>>,
    Path(app_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let p = Params::new(raw);
    let run = || -> Result<Response, OktaError> {
        check_app(&s, &app_id)?;
        let limit = p.limit(20, 20, 200)?;
        let cursor = decode_cursor(&p)?;
        let q = p.get("q").filter(|q| !q.is_empty()).map(str::to_lowercase);
        let base = s.base();
        let org = lock(&s.org);
        let mut hits: Vec<_> = org
            .group_assignments
            .range(after_bound(&cursor))
            .filter_map(|(gid, a)| org.groups.get(gid).map(|g| (g, a)))
            .filter(|(g, _)| {
                q.as_ref()
                    .is_none_or(|q| g.name.to_lowercase().starts_with(q.as_str()))
            })
            .take(limit + 1)
            .collect();
        let more = hits.len() > limit;
        hits.truncate(limit);
        let path = format!("/api/v1/apps/{app_id}/groups");
        let next = match hits.last() {
            Some((g, _)) if more => Some(next_link(base, &path, &p, &[], &encode_cursor(&g.id))),
            _ => None,
        };
        let items = hits
            .iter()
            .map(|(g, a)| render::app_group(&org, g, a, base, p.expand("group")))
            .collect::<Vec<Value>>();
        Ok(page(&items, self_link(base, &path, &p), next))
    };
    run().unwrap_or_else(IntoResponse::into_response)
}

/// `GET /api/v1/groups`.
pub async fn list_groups(State(s): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let p = Params::new(raw);
    let run = || -> Result<Response, OktaError> {
        if p.has_value("filter") && p.has_value("search") {
            return Err(OktaError::search_and_filter());
        }
        let expr = match p
            .get("filter")
            .or(p.get("search"))
            .filter(|f| !f.is_empty())
        {
            Some(f) => {
                let e = filter::parse(f).map_err(|_| OktaError::invalid_search())?;
                check_dates(&e)?;
                Some(e)
            }
            None => None,
        };
        let q = p.get("q").filter(|q| !q.is_empty()).map(str::to_lowercase);
        let limit = p.limit(10000, 1, 10000)?;
        let cursor = decode_cursor(&p)?;
        let base = s.base();
        let org = lock(&s.org);
        let attr = |g: &super::org::Group, a: &str| -> Vec<AttrValue> {
            match a {
                "id" => vec![AttrValue::Str(g.id.clone())],
                "type" => vec![AttrValue::Str("OKTA_GROUP".into())],
                "lastUpdated" => ts_attr(Some(&g.last_updated)),
                "lastMembershipUpdated" => ts_attr(Some(&g.last_membership_updated)),
                "created" => ts_attr(Some(&g.created)),
                "profile.name" => vec![AttrValue::Str(g.name.clone())],
                "profile.description" => {
                    vec![
                        g.description
                            .clone()
                            .map(AttrValue::Str)
                            .unwrap_or(AttrValue::Null),
                    ]
                }
                _ => Vec::new(),
            }
        };
        let mut hits: Vec<_> = org
            .groups
            .range(after_bound(&cursor))
            .map(|(_, g)| g)
            .filter(|g| {
                q.as_ref()
                    .is_none_or(|q| g.name.to_lowercase().starts_with(q.as_str()))
            })
            .filter(|g| expr.as_ref().is_none_or(|e| e.eval(&|a| attr(g, a))))
            .take(limit + 1)
            .collect();
        let more = hits.len() > limit;
        hits.truncate(limit);
        let next = match hits.last() {
            Some(g) if more => Some(next_link(
                base,
                "/api/v1/groups",
                &p,
                &[],
                &encode_cursor(&g.id),
            )),
            _ => None,
        };
        let stats = p.expand("stats");
        let items = hits
            .iter()
            .map(|g| {
                let apps = usize::from(org.group_assignments.contains_key(&g.id));
                render::group(g, base, stats, apps)
            })
            .collect::<Vec<Value>>();
        Ok(page(&items, self_link(base, "/api/v1/groups", &p), next))
    };
    run().unwrap_or_else(IntoResponse::into_response)
}

/// `GET /api/v1/groups/{groupId}`.
pub async fn get_group(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let org = lock(&s.org);
    match org.groups.get(&id) {
        Some(g) => {
            let apps = usize::from(org.group_assignments.contains_key(&g.id));
            axum::Json(render::group(g, s.base(), false, apps)).into_response()
        }
        None => OktaError::not_found(&id, "UserGroup").into_response(),
    }
}

/// `GET /api/v1/users/{id}/groups` (listUserGroups): the groups a user is a member of,
/// in group id order. Okta does not paginate this list.
pub async fn list_user_groups(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let org = lock(&s.org);
    let Some(uid) = org.resolve_user(&id) else {
        return OktaError::not_found(&id, "User").into_response();
    };
    let base = s.base();
    let items: Vec<Value> = org
        .groups
        .values()
        .filter(|g| g.members.contains(&uid))
        .map(|g| {
            let apps = usize::from(org.group_assignments.contains_key(&g.id));
            render::group(g, base, false, apps)
        })
        .collect();
    axum::Json(items).into_response()
}

/// `GET /api/v1/groups/{groupId}/users` (DEPROVISIONED members included: deactivation
/// keeps group memberships).
pub async fn list_group_users(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let p = Params::new(raw);
    let run = || -> Result<Response, OktaError> {
        let limit = p.limit(1000, 1, 10000)?;
        let cursor = decode_cursor(&p)?;
        let base = s.base();
        let org = lock(&s.org);
        let g = org
            .groups
            .get(&id)
            .ok_or_else(|| OktaError::not_found(&id, "UserGroup"))?;
        let mut hits: Vec<&User> = g
            .members
            .range(after_bound(&cursor))
            .filter_map(|uid| org.users.get(uid))
            .take(limit + 1)
            .collect();
        let more = hits.len() > limit;
        hits.truncate(limit);
        let path = format!("/api/v1/groups/{id}/users");
        let next = match hits.last() {
            Some(u) if more => Some(next_link(base, &path, &p, &[], &encode_cursor(&u.id))),
            _ => None,
        };
        let items: Vec<_> = hits
            .iter()
            .map(|u| render::user_out(u, base, false))
            .collect();
        Ok(page(&items, self_link(base, &path, &p), next))
    };
    run().unwrap_or_else(IntoResponse::into_response)
}

fn log_cursor(seq: u64, published_ms: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{published_ms}_{seq}"))
}

fn decode_log_cursor(c: &str) -> Option<u64> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(c.as_bytes()).ok()?).ok()?;
    raw.rsplit('_').next()?.parse().ok()
}

fn invalid_log_filter() -> OktaError {
    OktaError::new(
        axum::http::StatusCode::BAD_REQUEST,
        "E0000053",
        "Invalid syntax.",
    )
}

/// A LogEvent's attribute by dotted path; arrays (e.g. `target`) yield every element's.
fn event_attr(ev: &Value, path: &str) -> Vec<AttrValue> {
    let mut cur = vec![ev];
    for seg in path.split('.') {
        let mut next = Vec::new();
        for v in cur {
            match v {
                Value::Array(a) => next.extend(a.iter().filter_map(|x| x.get(seg))),
                other => next.extend(other.get(seg)),
            }
        }
        cur = next;
    }
    cur.into_iter().flat_map(json_attr).collect()
}

/// `GET /api/v1/logs`: polling (ASCENDING without `until`: `next` always present, pages
/// may be empty) and bounded queries.
pub async fn list_logs(State(s): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let p = Params::new(raw);
    let run = || -> Result<Response, OktaError> {
        let limit = p.limit(100, 0, 1000)?;
        let descending = match p.get("sortOrder") {
            None | Some("") | Some("ASCENDING") => false,
            Some("DESCENDING") => true,
            Some(other) => {
                return Err(OktaError::validation(format!(
                    "sortOrder: '{other}' is not ASCENDING or DESCENDING"
                )));
            }
        };
        let cursor = match p.get("after").filter(|a| !a.is_empty()) {
            Some(c) => Some(
                decode_log_cursor(c)
                    .ok_or_else(|| OktaError::validation("after: invalid cursor"))?,
            ),
            None => None,
        };
        if cursor.is_some() && p.has_value("since") {
            return Err(OktaError::validation(
                "after and since can't be used together",
            ));
        }
        let parse_opt = |k: &str| -> Result<Option<super::org::Ts>, OktaError> {
            match p.get(k).filter(|v| !v.is_empty()) {
                Some(v) => filter::parse_time(v)
                    .map(Some)
                    .ok_or_else(OktaError::invalid_date),
                None => Ok(None),
            }
        };
        let until = parse_opt("until")?;
        let now_ts = now();
        let since = parse_opt("since")?.unwrap_or(until.unwrap_or(now_ts) - Duration::days(7));
        if since < now_ts - Duration::days(180) {
            return Err(invalid_log_filter());
        }
        let expr = match p.get("filter").filter(|f| !f.is_empty()) {
            Some(f) => {
                let e = filter::parse(f).map_err(|_| invalid_log_filter())?;
                if e.leaves().iter().any(|(a, _, _)| *a == "published") {
                    return Err(invalid_log_filter());
                }
                Some(e)
            }
            None => None,
        };
        let keywords: Vec<String> = p
            .get("q")
            .map(|q| q.split_whitespace().map(str::to_lowercase).collect())
            .unwrap_or_default();
        let base = s.base();
        let org = lock(&s.org);
        let matches = |e: &super::org::LogEntry| -> bool {
            if cursor.is_none() && e.published < since {
                return false;
            }
            if until.is_some_and(|u| e.published >= u) {
                return false;
            }
            if let Some(x) = &expr
                && !x.eval(&|a| event_attr(&e.event, a))
            {
                return false;
            }
            if !keywords.is_empty() {
                let text = e.event.to_string().to_lowercase();
                return keywords.iter().all(|k| text.contains(k.as_str()));
            }
            true
        };
        let polling = until.is_none() && !descending;
        let mut hits = Vec::new();
        let mut last_scanned = cursor.unwrap_or(0);
        let mut more = false;
        if descending {
            let end = cursor
                .map(|c| (c.saturating_sub(1)) as usize)
                .unwrap_or(org.log.len());
            for e in org.log[..end.min(org.log.len())].iter().rev() {
                if matches(e) {
                    if hits.len() == limit {
                        more = true;
                        break;
                    }
                    hits.push(e);
                }
            }
        } else {
            let start = cursor.unwrap_or(0) as usize;
            for e in org.log.iter().skip(start) {
                if until.is_some_and(|u| e.published >= u) {
                    break;
                }
                if matches(e) {
                    if hits.len() == limit {
                        more = true;
                        break;
                    }
                    hits.push(e);
                }
                last_scanned = e.seq;
            }
        }
        let next = if polling {
            // Resume after the last event returned, or after everything scanned when the
            // page wasn't full (nothing before that point can match any more).
            let seq = if more {
                hits.last().map(|e| e.seq).unwrap_or(last_scanned)
            } else {
                last_scanned
            };
            let ms = org
                .log
                .get(seq.saturating_sub(1) as usize)
                .map(|e| e.published.timestamp_millis())
                .unwrap_or(0);
            Some(next_link(
                base,
                "/api/v1/logs",
                &p,
                &["since"],
                &log_cursor(seq, ms),
            ))
        } else if more {
            hits.last().map(|e| {
                let c = log_cursor(e.seq, e.published.timestamp_millis());
                next_link(base, "/api/v1/logs", &p, &["since"], &c)
            })
        } else {
            None
        };
        let items: Vec<&Value> = hits.iter().map(|e| &e.event).collect();
        tracing::trace!(returned = hits.len(), polling, since = %fmt_ts(&since), "okta sim: logs page");
        Ok(page(&items, self_link(base, "/api/v1/logs", &p), next))
    };
    run().unwrap_or_else(IntoResponse::into_response)
}
