//! The SCIM 2.0 endpoints under `/scim/v2`: discovery and `/Users`.
//!
//! Attribute names are matched case-insensitively (RFC 7643 §2.1); `attributes` and
//! `excludedAttributes` (RFC 7644 §3.9) apply to every response that returns users.

use std::collections::HashMap;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use crate::sim::common::lock;

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

// ---- rendering ----------------------------------------------------------------------

fn ts(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A member as a SCIM User resource.
pub(super) fn render_user(m: &Member, base: &str) -> Map<String, Value> {
    let mut u = Map::new();
    u.insert("schemas".into(), json!([CORE_USER, EXT_USER]));
    u.insert("id".into(), json!(m.id));
    if let Some(e) = &m.external_id {
        u.insert("externalId".into(), json!(e));
    }
    u.insert("userName".into(), json!(m.user_name));
    let mut name = Map::new();
    if let Some(g) = &m.given_name {
        name.insert("givenName".into(), json!(g));
    }
    if let Some(f) = &m.family_name {
        name.insert("familyName".into(), json!(f));
    }
    if !name.is_empty() {
        u.insert("name".into(), Value::Object(name));
    }
    if let Some(d) = &m.display_name {
        u.insert("displayName".into(), json!(d));
    }
    if let Some(l) = &m.locale {
        u.insert("locale".into(), json!(l));
    }
    u.insert(
        "active".into(),
        json!(m.membership != super::team::Membership::Deactivated),
    );
    u.insert(
        "emails".into(),
        json!([{"value": m.user_name, "type": "work", "primary": true}]),
    );
    u.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": ts(m.created),
            "lastModified": ts(m.last_modified),
            "location": format!("{base}/scim/v2/Users/{}", m.id),
        }),
    );
    u.insert(
        EXT_USER.into(),
        json!({"membership": m.membership.as_str(), "role": m.role}),
    );
    u
}

/// An attribute reference from `attributes`/`excludedAttributes`, lowercased: the
/// top-level key as rendered (the extension URN for extension attributes) and an
/// optional sub-attribute.
#[derive(Debug, Clone, PartialEq)]
struct AttrRef {
    top: String,
    sub: Option<String>,
}

fn parse_attr_ref(raw: &str) -> AttrRef {
    let lc = raw.trim().to_lowercase();
    let ext = EXT_USER.to_lowercase();
    let core = CORE_USER.to_lowercase();
    if lc == ext {
        return AttrRef {
            top: ext,
            sub: None,
        };
    }
    if let Some(rest) = lc.strip_prefix(&format!("{ext}:")) {
        return AttrRef {
            top: ext,
            sub: Some(rest.to_string()),
        };
    }
    let path = lc.strip_prefix(&format!("{core}:")).unwrap_or(&lc);
    match path.split_once('.') {
        Some((t, s)) => AttrRef {
            top: t.to_string(),
            sub: Some(s.to_string()),
        },
        None => AttrRef {
            top: path.to_string(),
            sub: None,
        },
    }
}

/// Which attributes to return (RFC 7644 §3.9).
#[derive(Debug, Clone, Default)]
pub(super) struct Projection {
    include: Option<Vec<AttrRef>>,
    exclude: Vec<AttrRef>,
}

impl Projection {
    fn from_query(q: &HashMap<String, String>) -> Projection {
        let refs = |v: &String| -> Vec<AttrRef> {
            v.split(',')
                .filter(|s| !s.trim().is_empty())
                .map(parse_attr_ref)
                .collect()
        };
        Projection {
            include: q.get("attributes").map(refs).filter(|v| !v.is_empty()),
            exclude: q.get("excludedattributes").map(refs).unwrap_or_default(),
        }
    }

    fn apply(&self, mut user: Map<String, Value>) -> Value {
        // `id` and `schemas` are always returned.
        let always = |k: &str| k == "id" || k == "schemas";
        if let Some(include) = &self.include {
            user = user
                .into_iter()
                .filter_map(|(k, v)| {
                    if always(&k) {
                        return Some((k, v));
                    }
                    let kl = k.to_lowercase();
                    let wanted: Vec<&AttrRef> = include.iter().filter(|r| r.top == kl).collect();
                    if wanted.is_empty() {
                        return None;
                    }
                    if wanted.iter().any(|r| r.sub.is_none()) {
                        return Some((k, v));
                    }
                    match v {
                        Value::Object(obj) => {
                            let kept: Map<String, Value> = obj
                                .into_iter()
                                .filter(|(sk, _)| {
                                    wanted
                                        .iter()
                                        .any(|r| r.sub.as_deref() == Some(&sk.to_lowercase()))
                                })
                                .collect();
                            (!kept.is_empty()).then_some((k, Value::Object(kept)))
                        }
                        other => Some((k, other)),
                    }
                })
                .collect();
        }
        for r in &self.exclude {
            let Some(key) = user.keys().find(|k| k.to_lowercase() == r.top).cloned() else {
                continue;
            };
            if always(&key) {
                continue;
            }
            match &r.sub {
                None => {
                    user.remove(&key);
                }
                Some(sub) => {
                    if let Some(Value::Object(obj)) = user.get_mut(&key) {
                        obj.retain(|sk, _| sk.to_lowercase() != *sub);
                        if obj.is_empty() {
                            user.remove(&key);
                        }
                    }
                }
            }
        }
        Value::Object(user)
    }
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
}

/// Parses the only filters kafkaman supports: `userName eq "…"` and `externalId eq "…"`.
pub(super) fn parse_filter(raw: &str) -> Result<UserFilter, ScimError> {
    let invalid = || {
        ScimError::bad_request(
            "invalidFilter",
            format!(
                "Unsupported filter {raw:?}: only 'userName eq \"...\"' and 'externalId eq \"...\"' are supported"
            ),
        )
    };
    let s = raw.trim();
    let (attr, rest) = s.split_once(char::is_whitespace).ok_or_else(invalid)?;
    let (op, value) = rest
        .trim_start()
        .split_once(char::is_whitespace)
        .ok_or_else(invalid)?;
    if !op.eq_ignore_ascii_case("eq") {
        return Err(invalid());
    }
    let value: String = serde_json::from_str(value.trim()).map_err(|_| invalid())?;
    let attr_lc = attr.to_lowercase();
    let core_prefix = format!("{}:", CORE_USER.to_lowercase());
    let attr_lc = attr_lc.strip_prefix(&core_prefix).unwrap_or(&attr_lc);
    match attr_lc {
        "username" => Ok(UserFilter::UserName(value)),
        "externalid" => Ok(UserFilter::ExternalId(value)),
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
        Some(f) => {
            let hits: Vec<usize> = match f {
                UserFilter::UserName(u) => team.index_of_user_name(u).into_iter().collect(),
                UserFilter::ExternalId(e) => {
                    let mut v = team.indexes_of_external_id(e);
                    v.sort_unstable();
                    v
                }
            };
            let n = hits.len();
            let page = hits.into_iter().skip(start - 1).take(count).collect();
            (n, page)
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
fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn opt_string(v: Option<&Value>, attr: &str) -> Result<Option<String>, ScimError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ScimError::bad_request(
            "invalidValue",
            format!("Attribute '{attr}' must be a string"),
        )),
    }
}

fn boolean(v: &Value, attr: &str) -> Result<bool, ScimError> {
    v.as_bool().ok_or_else(|| {
        ScimError::bad_request(
            "invalidValue",
            format!("Attribute '{attr}' must be a boolean"),
        )
    })
}

/// `name` as (givenName, familyName); other sub-attributes aren't stored.
fn name_parts(v: Option<&Value>) -> Result<(Option<String>, Option<String>), ScimError> {
    match v {
        None | Some(Value::Null) => Ok((None, None)),
        Some(Value::Object(n)) => Ok((
            opt_string(get_ci(n, "givenName"), "name.givenName")?,
            opt_string(get_ci(n, "familyName"), "name.familyName")?,
        )),
        Some(_) => Err(ScimError::bad_request(
            "invalidValue",
            "Attribute 'name' must be an object",
        )),
    }
}

fn require_schema(body: &Map<String, Value>, urn: &str) -> Result<(), ScimError> {
    let ok = get_ci(body, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|a| {
            a.iter()
                .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)))
        });
    if ok {
        Ok(())
    } else {
        Err(ScimError::bad_request(
            "invalidSyntax",
            format!("The request's 'schemas' must include {urn}"),
        ))
    }
}

fn user_name_of(body: &Map<String, Value>) -> Result<String, ScimError> {
    match get_ci(body, "userName") {
        Some(Value::String(u)) if !u.trim().is_empty() => Ok(u.trim().to_string()),
        Some(Value::String(_)) | None | Some(Value::Null) => Err(ScimError::bad_request(
            "invalidValue",
            "Attribute 'userName' is required",
        )),
        Some(_) => Err(ScimError::bad_request(
            "invalidValue",
            "Attribute 'userName' must be a string",
        )),
    }
}

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
    let idx = lock(&s.team).create_user(new_user, Utc::now())?;
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
        team.apply_changes(idx, &changes, Utc::now())?;
        idx
    };
    Ok(user_response(&s, &headers, raw, idx, StatusCode::OK))
}

/// The change a `replace` of one attribute asks for. `top`/`sub` are as written by the
/// client (any case); `value` is the new value.
fn change_for(top: &str, sub: Option<&str>, value: &Value) -> Result<Change, ScimError> {
    let top_lc = top.to_lowercase();
    let sub_lc = sub.map(str::to_lowercase);
    let path = match sub {
        Some(s) => format!("{top}.{s}"),
        None => top.to_string(),
    };
    let invalid_path = || {
        ScimError::bad_request(
            "invalidPath",
            format!("Attribute path '{path}' is not supported"),
        )
    };
    if top_lc == EXT_USER.to_lowercase() {
        return Ok(Change::ReadOnly(path.clone()));
    }
    match (top_lc.as_str(), sub_lc.as_deref()) {
        ("active", None) => Ok(Change::Active(boolean(value, "active")?)),
        ("name", None) => {
            let (given, family) = name_parts(Some(value))?;
            Ok(Change::Name { given, family })
        }
        ("name", Some("givenname")) => Ok(Change::GivenName(opt_string(Some(value), &path)?)),
        ("name", Some("familyname")) => Ok(Change::FamilyName(opt_string(Some(value), &path)?)),
        ("username", None) => match value {
            Value::String(u) => Ok(Change::UserName(u.clone())),
            _ => Err(ScimError::bad_request(
                "invalidValue",
                "Attribute 'userName' must be a string",
            )),
        },
        ("externalid", None) => Ok(Change::ExternalId(opt_string(Some(value), "externalId")?)),
        ("displayname", None) => Ok(Change::DisplayName(opt_string(Some(value), &path)?)),
        ("locale", None) => Ok(Change::Locale(opt_string(Some(value), &path)?)),
        ("emails" | "id" | "meta", _) => Ok(Change::ReadOnly(path.clone())),
        _ => Err(invalid_path()),
    }
}

/// Splits a PATCH path into (top, sub), dropping an optional schema URN prefix.
fn split_path(path: &str) -> Result<(String, Option<String>), ScimError> {
    let p = path.trim();
    if p.contains('[') {
        // Value filters select items of multi-valued attributes; only `emails` is
        // multi-valued here and it is readOnly.
        let top = p.split('[').next().unwrap_or("");
        if top.eq_ignore_ascii_case("emails") {
            return Ok(("emails".to_string(), None));
        }
        return Err(ScimError::bad_request(
            "invalidPath",
            format!("Attribute path '{p}' is not supported"),
        ));
    }
    let lc = p.to_lowercase();
    let ext = EXT_USER.to_lowercase();
    if lc == ext || lc.starts_with(&format!("{ext}:")) {
        return Ok((EXT_USER.to_string(), None));
    }
    let core = format!("{}:", CORE_USER.to_lowercase());
    let rest = if lc.starts_with(&core) {
        &p[core.len()..]
    } else {
        p
    };
    Ok(match rest.split_once('.') {
        Some((t, s)) => (t.to_string(), Some(s.to_string())),
        None => (rest.to_string(), None),
    })
}

/// The changes of a PatchOp body (RFC 7644 §3.5.2; kafkaman supports `replace` only).
fn patch_changes(body: &Map<String, Value>) -> Result<Vec<Change>, ScimError> {
    require_schema(body, PATCH_OP)?;
    let ops = get_ci(body, "Operations")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            ScimError::bad_request("invalidSyntax", "'Operations' must be a non-empty array")
        })?;
    let mut changes = Vec::new();
    for op in ops {
        let op = op.as_object().ok_or_else(|| {
            ScimError::bad_request("invalidSyntax", "Each operation must be an object")
        })?;
        let kind = get_ci(op, "op").and_then(Value::as_str).unwrap_or("");
        if !kind.eq_ignore_ascii_case("replace") {
            return Err(ScimError::new(
                StatusCode::BAD_REQUEST,
                format!("Unsupported PATCH operation {kind:?}: only \"replace\" is supported"),
            ));
        }
        let value = get_ci(op, "value")
            .ok_or_else(|| ScimError::bad_request("invalidSyntax", "A replace needs a 'value'"))?;
        match get_ci(op, "path").and_then(Value::as_str) {
            Some(path) => {
                let (top, sub) = split_path(path)?;
                changes.push(change_for(&top, sub.as_deref(), value)?);
            }
            None => {
                let obj = value.as_object().ok_or_else(|| {
                    ScimError::bad_request(
                        "invalidValue",
                        "A replace without 'path' needs an object 'value'",
                    )
                })?;
                for (k, v) in obj {
                    if k.eq_ignore_ascii_case("schemas") {
                        continue;
                    }
                    let (top, sub) = split_path(k)?;
                    changes.push(change_for(&top, sub.as_deref(), v)?);
                }
            }
        }
    }
    Ok(changes)
}

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
        team.apply_changes(idx, &changes, Utc::now())?;
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
        for bad in [
            r#"userName co "a""#,
            r#"emails eq "a""#,
            r#"userName eq "a" and externalId eq "b""#,
            "userName eq a",
            "userName pr",
            "",
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
