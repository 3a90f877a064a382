//! What every kafkaman response goes through: bearer-key auth, the per-key rate window,
//! the SCIM-enabled switch, the rate-limit and request-id headers, and the two error
//! formats (SCIM's for `/scim/v2`, the team API's for `/api/v1/team`).

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::common::{WindowVerdict, epoch_secs, lock};

use super::discovery::ERROR;
use super::team::{KeyCheck, ScimError, Team};

pub(super) const SCIM_MEDIA_TYPE: &str = "application/scim+json";
const SCIM_DISABLED: &str = "SCIM provisioning is not enabled for this team";
/// Rate window for requests that carry no valid key (kafkaman limits per key; these
/// still get the headers every response carries).
const ANONYMOUS_BUCKET: &str = "\u{0}anonymous";

/// State shared by all handlers.
#[derive(Clone)]
pub(super) struct Shared {
    pub team: Arc<Mutex<Team>>,
    /// Base URL the server was bound on, for `meta.location` when a request has no Host.
    pub base_url: Arc<std::sync::OnceLock<String>>,
}

impl Shared {
    /// The base URL as the client addressed us (Host header), for `meta.location`.
    pub fn base_for(&self, headers: &HeaderMap) -> String {
        headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(|h| format!("http://{h}"))
            .unwrap_or_else(|| self.base_url.get().cloned().unwrap_or_default())
    }
}

/// Which of the two APIs a path belongs to (they render errors differently).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Api {
    Scim,
    Team,
}

impl Api {
    pub fn of(path: &str) -> Api {
        if path.starts_with("/api/") {
            Api::Team
        } else {
            Api::Scim
        }
    }
}

/// A JSON body with the SCIM media type.
pub(super) fn scim_json(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(SCIM_MEDIA_TYPE),
        )],
        bytes,
    )
        .into_response()
}

pub(super) fn scim_error_body(status: StatusCode, scim_type: Option<&str>, detail: &str) -> Value {
    let mut body = json!({
        "schemas": [ERROR],
        "status": status.as_u16().to_string(),
        "detail": detail,
    });
    if let Some(t) = scim_type {
        body["scimType"] = json!(t);
    }
    body
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        scim_json(
            self.status,
            &scim_error_body(self.status, self.scim_type, &self.detail),
        )
    }
}

/// A team API error: `{"error":{"name","message","details":{}}}`.
pub(super) fn team_error(status: StatusCode, name: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"name": name, "message": message, "details": {}}})),
    )
        .into_response()
}

/// An error in the format of the API the path belongs to.
pub(super) fn api_error(api: Api, status: StatusCode, detail: &str) -> Response {
    match api {
        Api::Scim => ScimError::new(status, detail).into_response(),
        Api::Team => {
            let name = match status {
                StatusCode::UNAUTHORIZED => "unauthorized",
                StatusCode::FORBIDDEN => "forbidden",
                StatusCode::NOT_FOUND => "notFound",
                StatusCode::METHOD_NOT_ALLOWED => "methodNotAllowed",
                StatusCode::TOO_MANY_REQUESTS => "rateLimitExceeded",
                s if s.is_server_error() => "serverError",
                _ => "invalidRequest",
            };
            team_error(status, name, detail)
        }
    }
}

fn set_header(resp: &mut Response, name: &'static str, value: impl ToString) {
    if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
        resp.headers_mut().insert(HeaderName::from_static(name), v);
    }
}

fn add_rate_headers(resp: &mut Response, v: &WindowVerdict, now: u64) {
    set_header(resp, "x-ratelimit-limit", v.limit);
    set_header(resp, "x-ratelimit-remaining", v.remaining);
    set_header(resp, "x-ratelimit-reset", v.reset_epoch.saturating_sub(now));
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_string())
}

/// Middleware over both APIs: auth, rate window, SCIM switch, rate headers.
pub(super) async fn guard(State(shared): State<Shared>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let api = Api::of(&path);
    // RFC 7644 §4: the service provider configuration is readable without a key.
    let public = path.trim_end_matches('/') == "/scim/v2/ServiceProviderConfig";
    let token = bearer(req.headers());
    let now = epoch_secs();
    let (verdict, key, enabled, team_api, clock) = {
        let mut team = lock(&shared.team);
        let key = team.check_key(token.as_deref());
        let bucket = match (&token, key) {
            (Some(t), KeyCheck::Active) => t.as_str(),
            _ => ANONYMOUS_BUCKET,
        };
        (
            team.acquire(bucket, now),
            key,
            team.scim_enabled,
            team.compat.team_api,
            team.now(),
        )
    };
    let mut resp = if !verdict.allowed {
        let mut r = api_error(api, StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded");
        set_header(
            &mut r,
            "retry-after",
            verdict.reset_epoch.saturating_sub(now).max(1),
        );
        r
    } else if api == Api::Team && !team_api {
        // A plain RFC 7644 service provider has no such API.
        StatusCode::NOT_FOUND.into_response()
    } else if public {
        next.run(req).await
    } else if key != KeyCheck::Active {
        let detail = match key {
            KeyCheck::Missing => "Missing SCIM API key",
            KeyCheck::Revoked => "The SCIM API key has been revoked",
            _ => "Invalid SCIM API key",
        };
        let mut r = api_error(api, StatusCode::UNAUTHORIZED, detail);
        let challenge = if key == KeyCheck::Missing {
            "Bearer realm=\"kafkaman\""
        } else {
            "Bearer realm=\"kafkaman\", error=\"invalid_token\""
        };
        set_header(&mut r, "www-authenticate", challenge);
        r
    } else if !enabled {
        api_error(api, StatusCode::FORBIDDEN, SCIM_DISABLED)
    } else {
        next.run(req).await
    };
    add_rate_headers(&mut resp, &verdict, now);
    // kafkaman's clock, which `/__sim/clock` may have moved from the local one.
    if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(clock.into())) {
        resp.headers_mut().insert(header::DATE, v);
    }
    resp
}

/// Outermost middleware: a unique `X-Request-Id` on every response, faults included.
pub(super) async fn request_id(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let id = format!("req_{}", uuid::Uuid::new_v4().simple());
    set_header(&mut resp, "x-request-id", id);
    resp
}

/// How injected fault statuses look: a SCIM error; a 429 carries the rate headers and
/// `Retry-After`.
pub(super) fn render_injected(status: StatusCode, message: &str, limit: u32) -> Response {
    let mut resp = scim_json(status, &scim_error_body(status, None, message));
    if status == StatusCode::TOO_MANY_REQUESTS {
        set_header(&mut resp, "retry-after", 1);
        set_header(&mut resp, "x-ratelimit-limit", limit);
        set_header(&mut resp, "x-ratelimit-remaining", 0);
        set_header(&mut resp, "x-ratelimit-reset", 1);
    }
    resp
}

/// 405 in the format of the path's API, with `Allow`.
pub(super) fn method_not_allowed(path: &str, allow: &'static str, detail: &str) -> Response {
    let mut r = api_error(Api::of(path), StatusCode::METHOD_NOT_ALLOWED, detail);
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    r
}

/// Reads a request body as a JSON object, accepting `application/scim+json` and
/// `application/json` (RFC 7644 §3.1; a missing Content-Type is tolerated).
pub(super) fn json_body(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<serde_json::Map<String, Value>, ScimError> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
        let media = ct.split(';').next().unwrap_or("").trim();
        if media != SCIM_MEDIA_TYPE && media != "application/json" {
            return Err(ScimError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("Unsupported media type {media:?}: use application/scim+json"),
            ));
        }
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ScimError::bad_request(
            "invalidSyntax",
            "The request body must be a JSON object",
        )),
        Err(e) => Err(ScimError::bad_request(
            "invalidSyntax",
            format!("The request body is not valid JSON: {e}"),
        )),
    }
}

/// An empty 204.
pub(super) fn no_content() -> Response {
    Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(Body::empty())
        .unwrap_or_else(|_| StatusCode::NO_CONTENT.into_response())
}
