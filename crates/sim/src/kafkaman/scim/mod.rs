//! The SCIM 2.0 endpoints under `/scim/v2`: discovery and `/Users`.
//!
//! Attribute names are matched case-insensitively (RFC 7643 §2.1); `attributes` and
//! `excludedAttributes` (RFC 7644 §3.9) apply to every response that returns users.

mod body;
mod render;

use body::*;
use render::*;

use std::collections::HashMap;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use crate::common::lock;

use super::discovery::{self, CORE_USER, EXT_USER, LIST_RESPONSE, PATCH_OP};
use super::http::{Shared, json_body, method_not_allowed, scim_json};
use super::team::{Change, Member, NewUser, ScimError};

/// Most users one page returns (`count` is clamped to it).
const MAX_COUNT: usize = 100;
const DELETE_DETAIL: &str = "Users can't be deleted; deactivate them with PATCH active=false";

// ---- discovery ----------------------------------------------------------------------

pub(super) async fn service_provider_config(
    State(s): State<Shared>,
    headers: HeaderMap,
) -> Response {
    scim_json(
        StatusCode::OK,
        &discovery::service_provider_config(&s.base_for(&headers)),
    )
}

pub(super) async fn resource_types(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let base = s.base_for(&headers);
    scim_json(
        StatusCode::OK,
        &discovery::list(vec![discovery::user_resource_type(&base)]),
    )
}

pub(super) async fn resource_type(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if id == "User" {
        scim_json(
            StatusCode::OK,
            &discovery::user_resource_type(&s.base_for(&headers)),
        )
    } else {
        ScimError::new(
            StatusCode::NOT_FOUND,
            format!("Resource type {id} not found"),
        )
        .into_response()
    }
}

pub(super) async fn schemas(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let base = s.base_for(&headers);
    scim_json(
        StatusCode::OK,
        &discovery::list(vec![
            discovery::user_schema(&base),
            discovery::extension_schema(&base),
        ]),
    )
}

pub(super) async fn schema(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let base = s.base_for(&headers);
    if id.eq_ignore_ascii_case(CORE_USER) {
        scim_json(StatusCode::OK, &discovery::user_schema(&base))
    } else if id.eq_ignore_ascii_case(EXT_USER) {
        scim_json(StatusCode::OK, &discovery::extension_schema(&base))
    } else {
        ScimError::new(StatusCode::NOT_FOUND, format!("Schema {id} not found")).into_response()
    }
}

pub(super) async fn not_found(uri: axum::http::Uri) -> Response {
    super::http::api_error(
        super::http::Api::of(uri.path()),
        StatusCode::NOT_FOUND,
        &format!("No resource at {}", uri.path()),
    )
}

pub(super) async fn search_not_supported() -> Response {
    ScimError::new(
        StatusCode::NOT_IMPLEMENTED,
        "POST .search is not supported; use GET /Users with a filter",
    )
    .into_response()
}

pub(super) async fn delete_user(uri: axum::http::Uri) -> Response {
    method_not_allowed(uri.path(), "GET, PUT, PATCH", DELETE_DETAIL)
}

/// Query parameters by lowercased name (RFC 7644 parameter names are matched loosely).
fn query_map(raw: Option<String>) -> HashMap<String, String> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.to_lowercase(), v.into_owned()))
        .collect()
}

// ---- filter -------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
pub(super) enum UserFilter {
    UserName(String),
    ExternalId(String),
    /// `meta.lastModified gt "<time>"` (or `ge`, then `inclusive`).
    LastModified {
        since: DateTime<Utc>,
        inclusive: bool,
    },
}

/// The filters kafkaman supports, for error details.
const SUPPORTED_FILTERS: &str =
    r#"'userName eq "..."', 'externalId eq "..."' and 'meta.lastModified gt|ge "<RFC 3339 time>"'"#;

/// The answer to a filter kafkaman doesn't support.
pub(super) fn unsupported_filter(raw: &str, supported: &str) -> ScimError {
    ScimError::bad_request(
        "invalidFilter",
        format!("Unsupported filter {raw:?}: only {supported} are supported"),
    )
}

/// Parses the only filters kafkaman supports: `userName eq "…"`, `externalId eq "…"`
/// and `meta.lastModified gt|ge "<RFC 3339 time>"` (one at a time).
pub(super) fn parse_filter(raw: &str) -> Result<UserFilter, ScimError> {
    let invalid = || unsupported_filter(raw, SUPPORTED_FILTERS);
    let s = raw.trim();
    let (attr, rest) = s.split_once(char::is_whitespace).ok_or_else(invalid)?;
    let (op, value) = rest
        .trim_start()
        .split_once(char::is_whitespace)
        .ok_or_else(invalid)?;
    let value: String = serde_json::from_str(value.trim()).map_err(|_| invalid())?;
    let attr_lc = attr.to_lowercase();
    let core_prefix = format!("{}:", CORE_USER.to_lowercase());
    let attr_lc = attr_lc.strip_prefix(&core_prefix).unwrap_or(&attr_lc);
    let op = op.to_ascii_lowercase();
    match (attr_lc, op.as_str()) {
        ("username", "eq") => Ok(UserFilter::UserName(value)),
        ("externalid", "eq") => Ok(UserFilter::ExternalId(value)),
        ("meta.lastmodified", "gt" | "ge") => {
            let since = DateTime::parse_from_rfc3339(value.trim()).map_err(|e| {
                ScimError::bad_request(
                    "invalidFilter",
                    format!("meta.lastModified must be compared with an RFC 3339 time, got {value:?} ({e})"),
                )
            })?;
            Ok(UserFilter::LastModified {
                since: since.with_timezone(&Utc),
                inclusive: op == "ge",
            })
        }
        _ => Err(invalid()),
    }
}

fn parse_index(q: &HashMap<String, String>, name: &str) -> Result<Option<i64>, ScimError> {
    match q.get(&name.to_lowercase()) {
        None => Ok(None),
        Some(v) => v.trim().parse::<i64>().map(Some).map_err(|_| {
            ScimError::bad_request(
                "invalidValue",
                format!("{name} must be an integer, got {v:?}"),
            )
        }),
    }
}

// ---- /Users -------------------------------------------------------------------------

pub(super) async fn list_users(
    State(s): State<Shared>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ScimError> {
    let q = query_map(raw);
    let filter = match q.get("filter") {
        Some(f) => Some(parse_filter(f)?),
        None => None,
    };
    // RFC 7644 §3.4.2.4: startIndex < 1 is 1; a negative count is 0.
    let start = parse_index(&q, "startIndex")?.unwrap_or(1).max(1) as usize;
    let count = parse_index(&q, "count")?
        .unwrap_or(MAX_COUNT as i64)
        .clamp(0, MAX_COUNT as i64) as usize;
    let projection = Projection::from_query(&q);
    let base = s.base_for(&headers);
    let team = lock(&s.team);
    let (total, page): (usize, Vec<usize>) = match &filter {
        None => {
            let n = team.member_count();
            let from = (start - 1).min(n);
            (n, (from..(from + count).min(n)).collect())
        }
        Some(UserFilter::LastModified { .. }) if !team.compat.last_modified_filter => {
            // A target that only knows the `eq` filters.
            return Err(unsupported_filter(
                q.get("filter").map_or("", String::as_str),
                r#"'userName eq "..."' and 'externalId eq "..."'"#,
            ));
        }
        Some(UserFilter::LastModified { since, inclusive }) => {
            let n = team.modified_since(*since, *inclusive).count();
            let page = team
                .modified_since(*since, *inclusive)
                .skip(start - 1)
                .take(count)
                .collect();
            (n, page)
        }
        Some(UserFilter::UserName(u)) => paged(
            team.index_of_user_name(u).into_iter().collect(),
            start,
            count,
        ),
        Some(UserFilter::ExternalId(e)) => {
            let mut hits = team.indexes_of_external_id(e);
            hits.sort_unstable();
            paged(hits, start, count)
        }
    };
    let resources: Vec<Value> = page
        .iter()
        .map(|&i| projection.apply(render_user(team.member_at(i), &base)))
        .collect();
    let body = json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    });
    Ok(scim_json(StatusCode::OK, &body))
}

/// `(totalResults, the page)` of `hits` for a 1-based `start`.
fn paged(hits: Vec<usize>, start: usize, count: usize) -> (usize, Vec<usize>) {
    let n = hits.len();
    (n, hits.into_iter().skip(start - 1).take(count).collect())
}

pub(super) async fn get_user(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ScimError> {
    let projection = Projection::from_query(&query_map(raw));
    let team = lock(&s.team);
    let idx = team
        .index_of_id(&id)
        .ok_or_else(|| ScimError::not_found(&id))?;
    let body = projection.apply(render_user(team.member_at(idx), &s.base_for(&headers)));
    Ok(scim_json(StatusCode::OK, &body))
}

/// Case-insensitive lookup of an attribute in a JSON object (RFC 7643 §2.1).
fn user_response(
    s: &Shared,
    headers: &HeaderMap,
    raw_query: Option<String>,
    idx: usize,
    status: StatusCode,
) -> Response {
    let base = s.base_for(headers);
    let team = lock(&s.team);
    let m = team.member_at(idx);
    let body = Projection::from_query(&query_map(raw_query)).apply(render_user(m, &base));
    let mut resp = scim_json(status, &body);
    if status == StatusCode::CREATED
        && let Ok(v) = HeaderValue::from_str(&format!("{base}/scim/v2/Users/{}", m.id))
    {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

pub(super) async fn create_user(
    State(s): State<Shared>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, ScimError> {
    let body = json_body(&headers, &body)?;
    require_schema(&body, CORE_USER)?;
    let (given_name, family_name) = name_parts(get_ci(&body, "name"))?;
    let active = match get_ci(&body, "active") {
        None | Some(Value::Null) => true,
        Some(v) => boolean(v, "active")?,
    };
    // emails, id, meta and the extension are the server's: values sent are ignored.
    let new_user = NewUser {
        user_name: user_name_of(&body)?,
        given_name,
        family_name,
        external_id: opt_string(get_ci(&body, "externalId"), "externalId")?,
        display_name: opt_string(get_ci(&body, "displayName"), "displayName")?,
        locale: opt_string(get_ci(&body, "locale"), "locale")?,
        active,
    };
    let user_name = new_user.user_name.clone();
    let idx = {
        let mut team = lock(&s.team);
        let now = team.now();
        team.create_user(new_user, now)?
    };
    tracing::debug!(user_name = %user_name, "kafkaman sim: user created");
    Ok(user_response(&s, &headers, raw, idx, StatusCode::CREATED))
}

pub(super) async fn replace_user(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, ScimError> {
    let body = json_body(&headers, &body)?;
    require_schema(&body, CORE_USER)?;
    let (given, family) = name_parts(get_ci(&body, "name"))?;
    // PUT replaces name and active; userName must stay; externalId is immutable;
    // displayName, locale, emails and the extension are readOnly here and ignored.
    let mut changes = vec![
        Change::UserName(user_name_of(&body)?),
        Change::Name { given, family },
        Change::ExternalId(opt_string(get_ci(&body, "externalId"), "externalId")?),
    ];
    if let Some(v) = get_ci(&body, "active").filter(|v| !v.is_null()) {
        changes.push(Change::Active(boolean(v, "active")?));
    }
    let idx = {
        let mut team = lock(&s.team);
        let idx = team
            .index_of_id(&id)
            .ok_or_else(|| ScimError::not_found(&id))?;
        let now = team.now();
        team.apply_changes(idx, &changes, now)?;
        idx
    };
    Ok(user_response(&s, &headers, raw, idx, StatusCode::OK))
}

/// The change a `replace` of one attribute asks for. `top`/`sub` are as written by the
/// client (any case); `value` is the new value.
pub(super) async fn patch_user(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, ScimError> {
    let body = json_body(&headers, &body)?;
    let idx = {
        let mut team = lock(&s.team);
        let idx = team
            .index_of_id(&id)
            .ok_or_else(|| ScimError::not_found(&id))?;
        let changes = patch_changes(&body)?;
        let now = team.now();
        team.apply_changes(idx, &changes, now)?;
        if team.compat.patch_no_content {
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        idx
    };
    Ok(user_response(&s, &headers, raw, idx, StatusCode::OK))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        assert_eq!(
            parse_filter(r#"userName eq "A@x.com""#).unwrap(),
            UserFilter::UserName("A@x.com".into())
        );
        assert_eq!(
            parse_filter(r#"EXTERNALID EQ "00u1""#).unwrap(),
            UserFilter::ExternalId("00u1".into())
        );
        assert_eq!(
            parse_filter(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "a b""#)
                .unwrap(),
            UserFilter::UserName("a b".into())
        );
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(
            parse_filter(r#"meta.lastModified gt "2024-05-01T10:00:00.123Z""#).unwrap(),
            UserFilter::LastModified {
                since: at("2024-05-01T10:00:00.123Z"),
                inclusive: false
            }
        );
        assert_eq!(
            parse_filter(r#"META.LASTMODIFIED GE "2024-05-01T12:00:00+02:00""#).unwrap(),
            UserFilter::LastModified {
                since: at("2024-05-01T10:00:00Z"),
                inclusive: true
            }
        );
        for bad in [
            r#"userName co "a""#,
            r#"emails eq "a""#,
            r#"userName eq "a" and externalId eq "b""#,
            "userName eq a",
            "userName pr",
            "",
            r#"meta.lastModified eq "2024-05-01T10:00:00Z""#,
            r#"meta.lastModified lt "2024-05-01T10:00:00Z""#,
            r#"meta.created gt "2024-05-01T10:00:00Z""#,
            r#"meta.lastModified gt "yesterday""#,
            r#"meta.lastModified gt "2024-05-01""#,
            r#"meta.lastModified gt 2024-05-01T10:00:00Z"#,
            r#"meta.lastModified gt "2024-05-01T10:00:00Z" and userName eq "a""#,
            r#"userName gt "a""#,
        ] {
            let e = parse_filter(bad).unwrap_err();
            assert_eq!(e.scim_type, Some("invalidFilter"), "{bad}");
        }
    }

    #[test]
    fn projection_includes_and_excludes() {
        let user: Map<String, Value> = serde_json::from_value(json!({
            "schemas": [CORE_USER], "id": "1", "userName": "a",
            "name": {"givenName": "A", "familyName": "B"}, "active": true
        }))
        .unwrap();
        let mut q = HashMap::new();
        q.insert("attributes".to_string(), "name.givenName".to_string());
        let out = Projection::from_query(&q).apply(user.clone());
        assert_eq!(
            out,
            json!({"schemas": [CORE_USER], "id": "1", "name": {"givenName": "A"}})
        );
        let mut q = HashMap::new();
        q.insert("excludedattributes".to_string(), "NAME,id".to_string());
        let out = Projection::from_query(&q).apply(user);
        assert_eq!(
            out,
            json!({"schemas": [CORE_USER], "id": "1", "userName": "a", "active": true})
        );
    }
}
