//! The kafkaman client itself: options, construction, the profile it gives the shared
//! transport, and how a response becomes a value or a [`KafkamanError`]. The endpoints
//! are in `scim` and `invites`.
//!
//! Reads are retried on transient failures. Writes are retried only when they provably
//! did not happen (the connection was refused, or a 429 said so): after a timeout or a
//! 5xx the caller decides, e.g. by looking the user up before creating again.

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::KafkamanError;
use super::model::{ScimUser, decode_scim_user, error_details};
use crate::http::{
    After429, Profile, RateLimitScheme, Reply, Request, ResetClock, StaticAuth, Transport,
};

#[derive(Debug, Clone)]
pub struct KafkamanClientOptions {
    /// e.g. `https://api.kafkaman.co`; SCIM lives under `/scim/v2`, the team API under
    /// `/api/v1/team`.
    pub base_url: Url,
    pub api_key: SecretString,
    pub timeout: Duration,
    /// Retries of one request (reads after 5xx/timeouts/drops; any request after a 429
    /// or a refused connection).
    pub max_retries: u32,
    /// Share of the key's rate-limit window this client may use, in (0, 1].
    pub rate_limit_share: f64,
}

impl KafkamanClientOptions {
    /// Options with the defaults: 30 s timeout, 3 retries.
    pub fn new(base_url: Url, api_key: SecretString) -> Self {
        KafkamanClientOptions {
            base_url,
            api_key,
            timeout: Duration::from_secs(30),
            max_retries: 3,
            rate_limit_share: 0.9,
        }
    }
}

/// The API's name in logs and metrics (`api` label).
pub const API: &str = "kafkaman";

/// kafkaman's `X-RateLimit-*` headers (the reset counts seconds from the response) and
/// `Retry-After` on 429s.
pub const RATE_LIMIT: RateLimitScheme = RateLimitScheme {
    limit_header: "x-ratelimit-limit",
    remaining_header: "x-ratelimit-remaining",
    reset_header: "x-ratelimit-reset",
    reset: ResetClock::Delta,
    after_429: After429::RetryAfter,
};
/// A 429 asking for a longer wait than this fails the call instead.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);
/// Guard against a server that never ends a listing.
pub(super) const MAX_PAGES: usize = 100_000;
/// The rate-limit window: one per API key.
const WINDOW: &str = "key";

/// Cheap to clone; clones share the rate-limit state and counters, so concurrent tasks
/// pace together.
#[derive(Clone)]
pub struct KafkamanClient {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    base_url: Url,
    auth: StaticAuth<KafkamanError>,
}

impl KafkamanClient {
    pub fn new(opts: KafkamanClientOptions) -> Result<Self, KafkamanError> {
        if !matches!(opts.base_url.scheme(), "https" | "http") || opts.base_url.host().is_none() {
            return Err(KafkamanError::Config(format!(
                "kafkaman.base_url must be an http(s) URL like https://api.kafkaman.co, got {}",
                opts.base_url
            )));
        }
        if opts.api_key.expose_secret().trim().is_empty() {
            return Err(KafkamanError::Config(
                "kafkaman.api_key is empty".to_string(),
            ));
        }
        let profile = Profile {
            api: API,
            request_id_header: "x-request-id",
            request_id_in_body: None,
            media_type: "application/scim+json",
            rate_limit: RATE_LIMIT,
            window_of: |_, _| WINDOW,
            // The key's window is ours alone, but a window used to its last request meets
            // 429s where our count and kafkaman's window disagree about its start.
            share: opts.rate_limit_share.clamp(f64::MIN_POSITIVE, 1.0),
            max_retries: opts.max_retries,
            max_rate_limit_wait: MAX_RETRY_AFTER,
            retry_for_headers: None,
        };
        let transport = Transport::new(profile, opts.timeout)
            .map_err(|e| KafkamanError::Config(format!("cannot build the HTTP client: {e}")))?;
        let mut base_url = opts.base_url;
        base_url.set_query(None);
        base_url.set_fragment(None);
        Ok(KafkamanClient {
            inner: Arc::new(Inner {
                transport,
                base_url,
                auth: StaticAuth::new("Bearer", opts.api_key),
            }),
        })
    }

    /// `(limit, remaining)` from the last response that carried rate-limit headers.
    pub fn rate_limit_status(&self) -> Option<(u32, u32)> {
        self.inner
            .transport
            .windows()
            .into_iter()
            .find(|(name, _)| *name == WINDOW)
            .map(|(_, w)| (w.limit, w.remaining))
    }

    /// HTTP requests sent so far (retries included).
    pub fn requests_made(&self) -> u64 {
        self.inner.transport.requests_made()
    }

    /// kafkaman's clock: the last response `Date` plus the time since (second precision);
    /// None before any response with a `Date`.
    pub fn server_time(&self) -> Option<std::time::SystemTime> {
        self.inner.transport.server_time()
    }

    // ----- internals shared by the endpoints -----

    pub(super) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.inner.base_url.clone();
        // base_url was checked to be an http(s) URL with a host, which can be a base.
        if let Ok(mut segs) = url.path_segments_mut() {
            segs.pop_if_empty().extend(segments);
        }
        url
    }

    pub(super) async fn execute(&self, req: Request<'_>) -> Result<Reply, KafkamanError> {
        self.inner.transport.execute(&self.inner.auth, req).await
    }

    pub(super) async fn get(&self, url: &Url) -> Result<Reply, KafkamanError> {
        self.execute(Request::get(url)).await
    }

    pub(super) fn parse<T: serde::de::DeserializeOwned>(
        &self,
        reply: &Reply,
    ) -> Result<T, KafkamanError> {
        reply.json().map_err(|reason| self.malformed(reply, reason))
    }

    pub(super) fn parse_user(&self, reply: &Reply) -> Result<ScimUser, KafkamanError> {
        decode_scim_user(&reply.body).map_err(|reason| self.malformed(reply, reason))
    }

    pub(super) fn malformed(&self, reply: &Reply, reason: String) -> KafkamanError {
        reply.failed(KafkamanError::Malformed {
            method: reply.method().to_string(),
            path: reply.path().to_string(),
            status: reply.status.as_u16(),
            request_id: reply.request_id.clone(),
            reason,
        })
    }

    /// Ok for 2xx; otherwise the error that explains the status (and a log line).
    pub(super) fn expect_success(&self, reply: &Reply) -> Result<(), KafkamanError> {
        if reply.status.is_success() {
            return Ok(());
        }
        let (scim_type, detail) = error_details(&reply.body);
        let request_id = reply.request_id.clone();
        let detail_lc = detail.as_deref().unwrap_or("").to_ascii_lowercase();
        Err(reply.failed(match reply.status.as_u16() {
            401 => KafkamanError::Unauthorized { request_id },
            403 if detail_lc.contains("scim provisioning is not enabled") => {
                KafkamanError::ScimDisabled { request_id }
            }
            403 if detail_lc.contains("no seats") => KafkamanError::NoSeat { request_id },
            409 => KafkamanError::Conflict {
                detail: detail.unwrap_or_else(|| "conflict".to_string()),
                scim_type,
                request_id,
            },
            429 => KafkamanError::RateLimited {
                method: reply.method().to_string(),
                path: reply.path().to_string(),
                attempts: 1,
                retry_after: None,
                request_id,
            },
            _ => KafkamanError::Api(Box::new(reply.refused(scim_type, detail))),
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use reqwest::header::{HeaderMap, HeaderValue};

    use super::*;

    /// kafkaman used to measure an HTTP-date `Retry-After` against the local clock;
    /// like Okta's reset it is now measured against the server's `Date`.
    #[test]
    fn retry_after_date_is_measured_against_the_server_clock() {
        let server = SystemTime::now() - Duration::from_secs(3600);
        let mut headers = HeaderMap::new();
        for (name, at) in [
            ("date", server),
            ("retry-after", server + Duration::from_secs(5)),
        ] {
            let value = httpdate::fmt_http_date(at);
            headers.insert(name, HeaderValue::from_str(&value).unwrap());
        }
        assert_eq!(RATE_LIMIT.wait_after_429(&headers), Duration::from_secs(5));
    }
}
