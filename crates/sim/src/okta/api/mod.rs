//! The management API routes: users, the app's users and groups, groups, System Log.
//!
//! Every list is ordered by id and resumes strictly after the cursor's id, so items that
//! exist for the whole walk are seen exactly once however the data changes in between.

mod apps;
mod groups;
mod logs;
mod users;

pub use apps::{get_app, get_app_user, list_app_groups, list_app_users};
pub use groups::{get_group, list_group_users, list_groups, list_user_groups};
pub use logs::list_logs;
pub use users::{get_user, list_users};

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
use super::org::{Group, LogEntry, Ts, User, UserStatus, fmt_ts};
use super::render;
use crate::common::lock;

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

// ---- filter attributes shared by users, groups and the System Log ----

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

fn ts_attr(t: Option<&Ts>) -> Vec<AttrValue> {
    vec![t.map(|t| AttrValue::Time(*t)).unwrap_or(AttrValue::Null)]
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

fn starts_with_ci(v: Option<&Value>, prefix: &str) -> bool {
    v.and_then(Value::as_str)
        .is_some_and(|s| s.to_lowercase().starts_with(prefix))
}
