//! The HTTP transport both API clients use: one request loop ([`Transport`]) that each
//! API configures with a [`Profile`] and an [`Auth`], plus the helpers around it (`Link`
//! pagination, rate-limit windows, reading headers).

mod error;
mod link;
mod profile;
mod rate_limit;
mod transport;

pub use error::{HttpError, Refused, TransportFailure, Unanswered, rid_part, suffix};
pub use link::next_link;
pub use profile::{Auth, Profile, Signed, StaticAuth};
pub use rate_limit::{After429, Observed, RateLimitScheme, RateWindow, ResetClock, server_now};
pub use transport::{Reply, Request, Transport, backoff};

use std::sync::{Mutex, MutexGuard};

use reqwest::header::HeaderMap;

/// Locks a mutex, recovering the data if a task panicked while holding it: the state
/// guarded here (rate-limit counters) stays meaningful.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

pub fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    header_str(headers, name).and_then(|v| v.parse().ok())
}

/// A URL's path for logs and errors: no query string (which may hold cursors or filters
/// with personal data) and no credentials.
pub fn log_path(url: &url::Url) -> String {
    url.path().to_string()
}

/// A response body as JSON of type `T`, or why it isn't (with the start of the body).
/// Every JSON body either client reads goes through here.
pub fn decode_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| {
        format!(
            "body is not the expected JSON ({e}); it starts with {:?}",
            body_snippet(body, 80)
        )
    })
}

/// The first `max` characters of a response body, for error messages about bodies that
/// are not what the API promises.
pub fn body_snippet(body: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text.chars().take(max).collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}
