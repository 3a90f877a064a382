//! How a request fails inside the transport, before the client's own error type.

use std::time::Duration;

/// How a request failed before a complete response was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportFailure {
    /// The connection could not be established: the request was provably not sent.
    Connect,
    /// No complete answer within the timeout: the server may have acted on it.
    Timeout,
    /// The connection dropped after the request was (possibly) sent, or while the body
    /// was being read.
    Dropped,
}

impl TransportFailure {
    pub fn of(err: &reqwest::Error) -> TransportFailure {
        if err.is_timeout() {
            TransportFailure::Timeout
        } else if err.is_connect() {
            TransportFailure::Connect
        } else {
            TransportFailure::Dropped
        }
    }

    /// True when the server may have received (and acted on) the request.
    pub fn request_may_have_arrived(self) -> bool {
        !matches!(self, TransportFailure::Connect)
    }

    pub fn describe(self) -> &'static str {
        match self {
            TransportFailure::Connect => "could not connect",
            TransportFailure::Timeout => "timed out",
            TransportFailure::Dropped => "connection dropped",
        }
    }
}

/// A request that got no complete response, after the retries it allowed. Both clients'
/// `Transport` errors carry it, with their own hint of what to check.
#[derive(Debug, thiserror::Error)]
#[error("{method} {path}: {} after {attempts} attempt(s)", .kind.describe())]
pub struct Unanswered {
    pub method: String,
    pub path: String,
    pub kind: TransportFailure,
    pub attempts: u32,
    #[source]
    pub source: reqwest::Error,
}

/// A response with a status the call did not expect, and what its error body said.
#[derive(Debug, thiserror::Error)]
#[error(
    "{method} {path} with HTTP {status}{}{}{}",
    suffix(", ", .code),
    suffix(": ", .detail),
    rid_part(.request_id)
)]
pub struct Refused {
    pub method: String,
    pub path: String,
    pub status: u16,
    /// The API's error code (Okta's `errorCode`, SCIM's `scimType`).
    pub code: Option<String>,
    /// Its explanation (Okta's `errorSummary`, SCIM's `detail`).
    pub detail: Option<String>,
    pub request_id: Option<String>,
}

/// A request the transport gave up on. Each client turns it into its own error type
/// (`From<HttpError>`), which is what callers see and match on.
#[derive(Debug)]
pub enum HttpError {
    /// No complete response, after the retries the request allowed.
    Transport(Unanswered),
    /// Still 429 when waiting as the server asks would take the request's waits past
    /// the profile's longest total wait.
    RateLimited {
        method: String,
        path: String,
        attempts: u32,
        /// The wait the server asked for on the last 429.
        wait: Duration,
        /// True when waiting `wait` would have exceeded the profile's longest total wait
        /// (always, since 429s are no longer bounded by a retry count).
        too_long: bool,
        request_id: Option<String>,
    },
    /// The response body was larger than the transport reads.
    BodyTooLarge {
        method: String,
        path: String,
        status: u16,
        request_id: Option<String>,
        limit: usize,
    },
}

/// `prefix` and the value, or nothing: the optional pieces of error messages.
pub fn suffix(prefix: &str, value: &Option<String>) -> String {
    value
        .as_deref()
        .map(|v| format!("{prefix}{v}"))
        .unwrap_or_default()
}

/// ", request id …" when the server sent one, so that its support can find the request.
pub fn rid_part(request_id: &Option<String>) -> String {
    suffix(", request id ", request_id)
}
