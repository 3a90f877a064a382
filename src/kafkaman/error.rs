//! kafkaman's errors as callers see them: each says what to check, those from a response
//! carry kafkaman's request id, and writes say whether they may have happened.

use std::time::Duration;

use crate::http::{HttpError, Refused, Unanswered, rid_part, suffix};

/// Why a create was refused with 409.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictReason {
    /// The userName belongs to a team member (active or deactivated): reactivate, don't
    /// create.
    AlreadyMember,
    /// A pending invite not created by SCIM blocks provisioning: delete it first.
    PendingInvite,
    Other,
}

#[derive(Debug, thiserror::Error)]
pub enum KafkamanError {
    #[error("invalid kafkaman settings: {0}")]
    Config(String),
    #[error(
        "kafkaman rejected the SCIM API key (HTTP 401{}): check that kafkaman.api_key is the team's current key and that it is ACTIVE, not revoked",
        rid_part(.request_id)
    )]
    Unauthorized { request_id: Option<String> },
    #[error(
        "SCIM provisioning is not enabled for this kafkaman team (HTTP 403{}): a team admin enables it under Team Settings → Authentication (SSO must be configured first)",
        rid_part(.request_id)
    )]
    ScimDisabled { request_id: Option<String> },
    #[error(
        "no free seat on the kafkaman team (HTTP 403{}): add seats or deactivate members",
        rid_part(.request_id)
    )]
    NoSeat { request_id: Option<String> },
    #[error("kafkaman refused: {detail} (HTTP 409{}{})", suffix(", ", .scim_type), rid_part(.request_id))]
    Conflict {
        detail: String,
        scim_type: Option<String>,
        request_id: Option<String>,
    },
    #[error("kafkaman answered {0}")]
    // Boxed: the error stays small on every Ok path.
    Api(Box<Refused>),
    #[error(
        "kafkaman rate limit still exceeded for {method} {path} after {attempts} attempt(s){}",
        rid_part(.request_id)
    )]
    RateLimited {
        method: String,
        path: String,
        attempts: u32,
        retry_after: Option<Duration>,
        request_id: Option<String>,
    },
    #[error("{0}: check kafkaman.base_url and the network ({src})", src = .0.source)]
    Transport(#[source] Unanswered),
    #[error(
        "kafkaman sent an unusable response to {method} {path} (HTTP {status}{}): {reason}",
        rid_part(.request_id)
    )]
    Malformed {
        method: String,
        path: String,
        status: u16,
        request_id: Option<String>,
        reason: String,
    },
    /// A call that was not sent because its arguments can't make a valid request.
    #[error("not asking kafkaman: {0}")]
    InvalidRequest(String),
    /// Members kept changing while a `meta.lastModified` listing was read, so one read
    /// to the end never settled; reading again later, or the full listing, will do.
    #[error(
        "the kafkaman team kept changing while GET {path} was read ({passes} passes): read it again"
    )]
    Unsettled { path: String, passes: usize },
}

impl KafkamanError {
    /// kafkaman's `X-Request-Id` of the failed response.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            KafkamanError::Unauthorized { request_id }
            | KafkamanError::ScimDisabled { request_id }
            | KafkamanError::NoSeat { request_id }
            | KafkamanError::Conflict { request_id, .. }
            | KafkamanError::RateLimited { request_id, .. }
            | KafkamanError::Malformed { request_id, .. } => request_id.as_deref(),
            KafkamanError::Api(refused) => refused.request_id.as_deref(),
            KafkamanError::Config(_)
            | KafkamanError::Transport(_)
            | KafkamanError::InvalidRequest(_)
            | KafkamanError::Unsettled { .. } => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            KafkamanError::Unauthorized { .. } => Some(401),
            KafkamanError::ScimDisabled { .. } | KafkamanError::NoSeat { .. } => Some(403),
            KafkamanError::Conflict { .. } => Some(409),
            KafkamanError::RateLimited { .. } => Some(429),
            KafkamanError::Api(refused) => Some(refused.status),
            KafkamanError::Malformed { status, .. } => Some(*status),
            KafkamanError::Config(_)
            | KafkamanError::Transport(_)
            | KafkamanError::InvalidRequest(_)
            | KafkamanError::Unsettled { .. } => None,
        }
    }

    /// True for a 400 `invalidFilter`: the target doesn't support the filter asked for
    /// (e.g. `meta.lastModified gt`), so the caller reads the full listing instead.
    pub fn is_unsupported_filter(&self) -> bool {
        matches!(self, KafkamanError::Api(refused)
            if refused.status == 400
                && refused
                    .code
                    .as_deref()
                    .is_some_and(|c| c.eq_ignore_ascii_case("invalidFilter")))
    }

    /// True when a write may have reached the server and taken effect (timeouts, 5xx,
    /// a connection dropped after sending, a success answer that couldn't be read);
    /// false when it provably didn't (connection refused, 4xx, 429).
    pub fn write_may_have_happened(&self) -> bool {
        match self {
            KafkamanError::Transport(failure) => failure.kind.request_may_have_arrived(),
            KafkamanError::Api(refused) => refused.status >= 500,
            KafkamanError::Malformed { status, .. } => *status < 400 || *status >= 500,
            _ => false,
        }
    }

    /// For a 409: why the server refused.
    pub fn conflict_reason(&self) -> Option<ConflictReason> {
        let KafkamanError::Conflict { detail, .. } = self else {
            return None;
        };
        let d = detail.to_ascii_lowercase();
        Some(if d.contains("invite") {
            ConflictReason::PendingInvite
        } else if d.contains("already exists") {
            ConflictReason::AlreadyMember
        } else {
            ConflictReason::Other
        })
    }
}

impl From<HttpError> for KafkamanError {
    fn from(e: HttpError) -> Self {
        match e {
            HttpError::Transport(failure) => KafkamanError::Transport(failure),
            HttpError::RateLimited {
                method,
                path,
                attempts,
                wait,
                request_id,
                ..
            } => KafkamanError::RateLimited {
                method,
                path,
                attempts,
                retry_after: Some(wait),
                request_id,
            },
            HttpError::BodyTooLarge {
                method,
                path,
                status,
                request_id,
                limit,
            } => KafkamanError::Malformed {
                method,
                path,
                status,
                request_id,
                reason: format!("the body is larger than {limit} bytes"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflict_reasons() {
        let c = |d: &str| KafkamanError::Conflict {
            detail: d.to_string(),
            scim_type: Some("uniqueness".into()),
            request_id: None,
        };
        assert_eq!(
            c("A pending invite exists for this email").conflict_reason(),
            Some(ConflictReason::PendingInvite)
        );
        assert_eq!(
            c("User already exists in this team").conflict_reason(),
            Some(ConflictReason::AlreadyMember)
        );
    }

    #[test]
    fn only_a_400_invalid_filter_is_an_unsupported_filter() {
        let refused = |status: u16, code: Option<&str>| {
            KafkamanError::Api(Box::new(Refused {
                method: "GET".into(),
                path: "/scim/v2/Users".into(),
                status,
                code: code.map(str::to_string),
                detail: None,
                request_id: Some("req_1".into()),
            }))
        };
        assert!(refused(400, Some("invalidFilter")).is_unsupported_filter());
        assert!(!refused(400, Some("invalidValue")).is_unsupported_filter());
        assert!(!refused(400, None).is_unsupported_filter());
        assert!(!refused(500, Some("invalidFilter")).is_unsupported_filter());
        let conflict = KafkamanError::Conflict {
            detail: "x".into(),
            scim_type: Some("invalidFilter".into()),
            request_id: None,
        };
        assert!(!conflict.is_unsupported_filter());
    }
}
