//! Okta's errors as callers see them: each says what to check, and those that come from
//! a response carry Okta's request id.

use std::time::Duration;

use crate::http::{HttpError, Refused, Unanswered, rid_part, suffix};

/// A failed Okta call. Errors that come from a response carry Okta's request id
/// (`X-Okta-Request-Id`) so that Okta support and the System Log can find the request.
#[derive(Debug, thiserror::Error)]
pub enum OktaError {
    #[error("invalid Okta settings: {0}")]
    Config(String),
    #[error("{hint} (HTTP {status}{}{})", suffix(", ", .error_code), rid_part(.request_id))]
    Unauthorized {
        status: u16,
        error_code: Option<String>,
        request_id: Option<String>,
        hint: String,
    },
    #[error(
        "Okta refused {method} {path}: {hint} (HTTP 403{}{})",
        suffix(", ", .error_code),
        rid_part(.request_id)
    )]
    Forbidden {
        method: String,
        path: String,
        error_code: Option<String>,
        request_id: Option<String>,
        hint: String,
    },
    #[error(
        "app id {app_id:?} not found in the Okta org (HTTP 404{}{}): check okta.app_id",
        suffix(", ", .error_code),
        rid_part(.request_id)
    )]
    AppNotFound {
        app_id: String,
        error_code: Option<String>,
        request_id: Option<String>,
    },
    #[error(
        "{path} answered 404 without Okta's not-found answer (E0000007{}){}: nothing is concluded from it (a proxy in the way, or okta.org_url not the Okta org?)",
        .error_code.as_deref().map(|c| format!("; it said {c}")).unwrap_or_default(),
        rid_part(.request_id)
    )]
    UnprovenNotFound {
        path: String,
        error_code: Option<String>,
        request_id: Option<String>,
    },
    #[error("Okta answered {0}")]
    // Boxed: the error stays small on every Ok path.
    Api(Box<Refused>),
    #[error(
        "Okta rate limit for {path} still exceeded after {attempts} attempt(s){}{}: another integration may be using the org's budget; lower the sync frequency or raise this app's share in Okta's rate-limit settings",
        wait_part(.wait_needed),
        rid_part(.request_id)
    )]
    RateLimited {
        path: String,
        attempts: u32,
        /// The wait the server asked for when it exceeded `max_rate_limit_wait`.
        wait_needed: Option<Duration>,
        request_id: Option<String>,
    },
    #[error("{0}: check okta.org_url and the network ({src})", src = .0.source)]
    Transport(#[source] Unanswered),
    #[error("Okta sent an unusable response to {path}{}: {reason}", rid_part(.request_id))]
    Malformed {
        path: String,
        status: u16,
        request_id: Option<String>,
        reason: String,
    },
    #[error(
        "Okta refused the OAuth token request (HTTP {status}, {error}{}){}: {}",
        suffix(": ", .description),
        rid_part(.request_id),
        token_hint(.error, .description.as_deref())
    )]
    Token {
        status: u16,
        error: String,
        description: Option<String>,
        request_id: Option<String>,
    },
}

/// What to check when Okta refuses a token request, by its `error` code.
fn token_hint(error: &str, description: Option<&str>) -> &'static str {
    let description = description.unwrap_or("").to_ascii_lowercase();
    if error.contains("dpop") {
        "Okta refused the DPoP proof scim-sync sends with every token request and call \
         (RFC 9449; new API Services apps require it): check that nothing between this host \
         and Okta drops or rewrites the DPoP header, and that this host's clock is right"
    } else if error == "consent_required" || error == "invalid_scope" {
        "grant the service app every scope in okta.oauth.scopes (Admin Console: the app's \
         Okta API Scopes tab), or remove the ones it doesn't need from okta.oauth.scopes"
    } else if description.contains("expir") || description.contains("future") {
        "the client assertion's time was refused: check this host's clock (NTP)"
    } else {
        "check okta.oauth.client_id, that the service app's registered public key matches \
         the private key (and key id), and that the scopes are granted"
    }
}

fn wait_part(w: &Option<Duration>) -> String {
    w.map(|w| format!(" (the next window opens in {} s)", w.as_secs()))
        .unwrap_or_default()
}

impl OktaError {
    pub fn request_id(&self) -> Option<&str> {
        match self {
            OktaError::Unauthorized { request_id, .. }
            | OktaError::Forbidden { request_id, .. }
            | OktaError::AppNotFound { request_id, .. }
            | OktaError::UnprovenNotFound { request_id, .. }
            | OktaError::RateLimited { request_id, .. }
            | OktaError::Malformed { request_id, .. }
            | OktaError::Token { request_id, .. } => request_id.as_deref(),
            OktaError::Api(refused) => refused.request_id.as_deref(),
            OktaError::Config(_) | OktaError::Transport(_) => None,
        }
    }

    pub fn error_code(&self) -> Option<&str> {
        match self {
            OktaError::Unauthorized { error_code, .. }
            | OktaError::Forbidden { error_code, .. }
            | OktaError::AppNotFound { error_code, .. }
            | OktaError::UnprovenNotFound { error_code, .. } => error_code.as_deref(),
            OktaError::Api(refused) => refused.code.as_deref(),
            OktaError::RateLimited { .. } => Some("E0000047"),
            OktaError::Token { error, .. } => Some(error),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            OktaError::Unauthorized { status, .. }
            | OktaError::Malformed { status, .. }
            | OktaError::Token { status, .. } => Some(*status),
            OktaError::Api(refused) => Some(refused.status),
            OktaError::Forbidden { .. } => Some(403),
            OktaError::AppNotFound { .. } | OktaError::UnprovenNotFound { .. } => Some(404),
            OktaError::RateLimited { .. } => Some(429),
            OktaError::Config(_) | OktaError::Transport(_) => None,
        }
    }
}

impl From<HttpError> for OktaError {
    fn from(e: HttpError) -> Self {
        match e {
            HttpError::Transport(failure) => OktaError::Transport(failure),
            HttpError::RateLimited {
                path,
                attempts,
                wait,
                too_long,
                request_id,
                ..
            } => OktaError::RateLimited {
                path,
                attempts,
                wait_needed: too_long.then_some(wait),
                request_id,
            },
            HttpError::BodyTooLarge {
                path,
                status,
                request_id,
                limit,
                ..
            } => OktaError::Malformed {
                path,
                status,
                request_id,
                reason: format!("the body is larger than {limit} bytes"),
            },
        }
    }
}
