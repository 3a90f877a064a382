//! Okta's error object (`errorCode`, `errorSummary`, `errorLink`, `errorId`, `errorCauses`)
//! and the codes the simulator answers with.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::org::random_base62;

/// An Okta API error, rendered as Okta's error body.
#[derive(Debug, Clone)]
pub struct OktaError {
    pub status: StatusCode,
    pub code: &'static str,
    pub summary: String,
    pub causes: Vec<String>,
    /// `WWW-Authenticate` for Bearer token failures.
    pub www_authenticate: Option<String>,
}

impl OktaError {
    pub fn new(status: StatusCode, code: &'static str, summary: impl Into<String>) -> Self {
        OktaError {
            status,
            code,
            summary: summary.into(),
            causes: Vec::new(),
            www_authenticate: None,
        }
    }

    /// E0000007: an unknown resource, e.g. `not_found("00u123", "User")`.
    pub fn not_found(id: &str, kind: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "E0000007",
            format!("Not found: Resource not found: {id} ({kind})"),
        )
    }

    pub fn path_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "E0000008",
            "The requested path was not found",
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "E0000022",
            "The endpoint does not support the provided HTTP method",
        )
    }

    pub fn invalid_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "E0000011",
            "Invalid token provided",
        )
    }

    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "E0000006",
            "You do not have permission to perform the requested action",
        )
    }

    /// A call with a DPoP-bound token whose proof is missing or wrong. Okta says why in
    /// `WWW-Authenticate: DPoP … error="invalid_dpop_proof"` (okta/okta-sdk-nodejs#453),
    /// as a 400 (okta/okta-sdk-python#541); the caller sets that header.
    pub fn dpop_refused() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "E0000011",
            "Invalid token provided",
        )
    }

    pub fn rate_limited() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "E0000047",
            "API call exceeded rate limit due to too many requests.",
        )
    }

    pub fn invalid_search() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "E0000031",
            "Invalid search criteria.",
        )
    }

    pub fn search_and_filter() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "E0000033",
            "Bad request. Can't specify a search query and filter in the same request.",
        )
    }

    pub fn invalid_date() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "E0000030",
            "Bad request. Invalid date. Dates must be of the form yyyy-MM-dd'T'HH:mm:ss.SSSZZ, e.g. 2013-01-01T12:00:00.000-07:00.",
        )
    }

    pub fn validation(cause: impl Into<String>) -> Self {
        let cause = cause.into();
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            "E0000001",
            format!("Api validation failed: {cause}"),
        );
        e.causes.push(cause);
        e
    }

    /// The error Okta gives for an arbitrary status (used for injected faults).
    pub fn for_status(status: StatusCode) -> Self {
        match status.as_u16() {
            400 => Self::validation("request"),
            401 => Self::invalid_token(),
            403 => Self::forbidden(),
            404 => Self::new(status, "E0000007", "Not found: Resource not found"),
            405 => Self::method_not_allowed(),
            429 => Self::rate_limited(),
            503 => Self::new(status, "E0000010", "Service is in read only mode"),
            _ => Self::new(status, "E0000009", "Internal Server Error"),
        }
    }
}

impl IntoResponse for OktaError {
    fn into_response(self) -> Response {
        let body = json!({
            "errorCode": self.code,
            "errorSummary": self.summary,
            "errorLink": self.code,
            "errorId": format!("oae{}", random_base62(22)),
            "errorCauses": self.causes.iter().map(|c| json!({"errorSummary": c})).collect::<Vec<_>>(),
        });
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(w) = self.www_authenticate
            && let Ok(v) = HeaderValue::from_str(&w)
        {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        resp
    }
}

/// An OAuth 2.0 error from `/oauth2/v1/token` (`{"error", "error_description"}`).
pub fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}
