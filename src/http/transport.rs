//! The one request loop both API clients use: pace by the rate-limit window, sign, send,
//! read a bounded body, record metrics, then retry or wait as the answer allows, and log
//! what failed with the server's request id.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap};
use reqwest::{Method, StatusCode};
use url::Url;

use super::profile::{Auth, Profile, Signed};
use super::rate_limit::RateWindow;
use super::{HttpError, Refused, TransportFailure, Unanswered, header_str, lock, log_path};

/// The first retry waits about this long; later ones double (with jitter).
const RETRY_BASE: Duration = Duration::from_millis(250);
const RETRY_CAP: Duration = Duration::from_secs(10);
/// Retries after failures (transport errors, 5xx) stop once the next would start this
/// long after the request's first attempt, whatever `max_retries` allows.
const RETRY_DEADLINE: Duration = Duration::from_secs(60);
/// The largest response body read; a larger one is refused, not buffered.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// One request to send.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a Method,
    pub url: &'a Url,
    pub json: Option<&'a serde_json::Value>,
    /// Whether sending it again is harmless when it may already have arrived. True for
    /// reads; a write is repeated only when provably not sent (refused connection, 429).
    pub repeatable: bool,
}

impl<'a> Request<'a> {
    pub fn new(method: &'a Method, url: &'a Url) -> Self {
        Request {
            method,
            url,
            json: None,
            repeatable: matches!(*method, Method::GET | Method::HEAD),
        }
    }

    pub fn get(url: &'a Url) -> Self {
        Request::new(&Method::GET, url)
    }

    pub fn json(self, body: &'a serde_json::Value) -> Self {
        Request {
            json: Some(body),
            ..self
        }
    }

    /// Marks a write whose repetition changes nothing (e.g. a token exchange).
    pub fn repeatable(self) -> Self {
        Request {
            repeatable: true,
            ..self
        }
    }
}

/// A response read to the end.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub request_id: Option<String>,
    api: &'static str,
    method: Method,
    path: String,
}

impl Reply {
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The request's path, for errors and logs (no query: it may hold personal data).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// None for a 404: the thing asked for does not exist.
    pub fn found(self) -> Option<Reply> {
        (self.status != StatusCode::NOT_FOUND).then_some(self)
    }

    /// This response as an unexpected status, with the error body's code and detail.
    pub fn refused(&self, code: Option<String>, detail: Option<String>) -> Refused {
        Refused {
            method: self.method.to_string(),
            path: self.path.clone(),
            status: self.status.as_u16(),
            code,
            detail,
            request_id: self.request_id.clone(),
        }
    }

    /// Logs `err` as the failure of this request, with the server's request id, and
    /// hands it back.
    pub fn failed<E: Display>(&self, err: E) -> E {
        // INFO: the error goes back to the caller, which says the failure it makes (an
        // operation's outcome, a cycle's error); this line adds the request's detail.
        tracing::info!(
            api = self.api,
            method = %self.method,
            path = %self.path,
            status = self.status.as_u16(),
            request_id = self.request_id.as_deref().unwrap_or(""),
            error = %err,
            "request failed"
        );
        err
    }

    /// The body as JSON, or why it isn't (with the start of the body).
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, String> {
        super::decode_json(&self.body)
    }
}

/// Cheap to share behind an `Arc`; the rate-limit windows and the request counter are
/// shared by every caller, so concurrent tasks pace together.
pub struct Transport {
    http: reqwest::Client,
    profile: Profile,
    windows: Mutex<BTreeMap<&'static str, RateWindow>>,
    requests: AtomicU64,
    /// The last response `Date` and when it arrived: the server's clock.
    server_date: Mutex<Option<(std::time::SystemTime, Instant)>>,
}

impl Transport {
    pub fn new(profile: Profile, timeout: Duration) -> Result<Transport, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("scim-sync/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Transport {
            http,
            profile,
            windows: Mutex::new(BTreeMap::new()),
            requests: AtomicU64::new(0),
            server_date: Mutex::new(None),
        })
    }

    /// HTTP requests sent so far (retries included).
    pub fn requests_made(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The windows a response has described so far, by name.
    pub fn windows(&self) -> Vec<(&'static str, RateWindow)> {
        lock(&self.windows)
            .iter()
            .filter(|(_, w)| w.is_known())
            .map(|(name, w)| (*name, w.clone()))
            .collect()
    }

    /// Sends `req` with pacing, `auth`, and the retries it allows: any request after a
    /// refused connection or a 429 (waiting as the server says); a repeatable one also
    /// after 5xx, timeouts and dropped connections; one more attempt with new
    /// credentials after a 401 when `auth` can renew them. Returns the final reply
    /// whatever its status.
    /// The server's current time: the last response `Date` plus the time since it
    /// arrived (monotonic); None before any response with a `Date`. `Date` has second
    /// precision, so callers read back with an overlap.
    pub fn server_time(&self) -> Option<std::time::SystemTime> {
        let (date, seen) = (*lock(&self.server_date))?;
        date.checked_add(seen.elapsed())
    }

    fn observe_date(&self, headers: &HeaderMap) {
        let date = header_str(headers, "date").and_then(|d| httpdate::parse_http_date(d).ok());
        if let Some(date) = date {
            *lock(&self.server_date) = Some((date, Instant::now()));
        }
    }

    pub async fn execute<A: Auth>(&self, auth: &A, req: Request<'_>) -> Result<Reply, A::Error> {
        let p = &self.profile;
        let method = req.method;
        let window = (p.window_of)(method, req.url.path());
        let path = log_path(req.url);
        let mut attempts: u32 = 0;
        // Retries after failures (transport, 5xx) count against `max_retries` and the
        // overall RETRY_DEADLINE; waits after 429s count only against
        // `max_rate_limit_wait`, in total over the request.
        let mut failures: u32 = 0;
        let mut rate_limit_waited = Duration::ZERO;
        let first_sent = tokio::time::Instant::now();
        let mut retry_for: Option<String> = None;
        let mut renewed = false;
        loop {
            attempts += 1;
            self.pace(window).await;
            let mut builder = self
                .http
                .request(method.clone(), req.url.clone())
                .header(ACCEPT, p.media_type);
            if let Some(body) = req.json {
                builder = builder
                    .header(CONTENT_TYPE, p.media_type)
                    .body(body.to_string());
            }
            if let (Some(rid), Some((for_header, count_header))) = (&retry_for, p.retry_for_headers)
            {
                builder = builder
                    .header(for_header, rid.as_str())
                    .header(count_header, (attempts - 1).to_string());
            }
            let Signed {
                request: builder,
                renewable,
            } = match auth.sign(method, req.url, builder).await {
                Ok(signed) => signed,
                Err(e) => {
                    self.with_window(window, RateWindow::release);
                    return Err(e);
                }
            };
            self.requests.fetch_add(1, Ordering::Relaxed);
            let reply = match self.send(builder, method, &path).await {
                Ok(Ok(reply)) => reply,
                Ok(Err(too_large)) => {
                    self.with_window(window, RateWindow::release);
                    tracing::warn!(api = p.api, method = %method, path = %path, error = ?too_large, "response refused");
                    return Err(too_large.into());
                }
                Err(source) => {
                    self.with_window(window, RateWindow::release);
                    let kind = TransportFailure::of(&source);
                    // A refused connection provably sent nothing; anything else may have
                    // reached the server, so only repeatable requests go again.
                    let retryable = req.repeatable || !kind.request_may_have_arrived();
                    failures += 1;
                    let delay = backoff(failures, RETRY_BASE, RETRY_CAP);
                    if retryable
                        && failures <= p.max_retries
                        && first_sent.elapsed() + delay <= RETRY_DEADLINE
                    {
                        tracing::info!(api = p.api, method = %method, path = %path, failure = kind.describe(), attempt = attempts, delay_ms = delay.as_millis() as u64, "request failed; retrying");
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    // INFO, as in `failed` above: the caller says the failure.
                    tracing::info!(api = p.api, method = %method, path = %path, failure = kind.describe(), attempts, error = %source, "request failed");
                    return Err(HttpError::Transport(Unanswered {
                        method: method.to_string(),
                        path,
                        kind,
                        attempts,
                        source,
                    })
                    .into());
                }
            };
            self.observe(window, &reply.headers);
            self.observe_date(&reply.headers);
            let status = reply.status;
            let rid = reply.request_id.as_deref().unwrap_or("");
            if status == StatusCode::TOO_MANY_REQUESTS {
                // A 429 was not processed: safe to repeat for any method.
                let wait = p.rate_limit.wait_after_429(&reply.headers);
                // Each wait counts at least a second, so that a server answering 429 with
                // no wait can't keep the request going for ever.
                let counted = wait.max(Duration::from_secs(1));
                // Saturating: a server may ask for u64::MAX seconds.
                let too_long = rate_limit_waited.saturating_add(counted) > p.max_rate_limit_wait;
                if too_long {
                    return Err(reply.failed(A::Error::from(HttpError::RateLimited {
                        method: method.to_string(),
                        path,
                        attempts,
                        wait,
                        too_long,
                        request_id: reply.request_id.clone(),
                    })));
                }
                tracing::info!(api = p.api, method = %method, path = %path, request_id = rid, wait_ms = wait.as_millis() as u64, attempt = attempts, "rate limit hit; waiting as the server asks");
                retry_for = reply.request_id.clone().or(retry_for);
                rate_limit_waited = rate_limit_waited.saturating_add(counted);
                tokio::time::sleep(wait).await;
                continue;
            }
            if status == StatusCode::UNAUTHORIZED
                && !renewed
                && let Some(credential) = renewable
                && auth.rejected(&credential, &reply.headers).await
            {
                // The credential may have been revoked or expired early: one new one.
                renewed = true;
                tracing::info!(api = p.api, path = %path, request_id = rid, "credentials rejected; retrying with new ones");
                continue;
            }
            if status.is_server_error() && req.repeatable {
                failures += 1;
                let delay = backoff(failures, RETRY_BASE, RETRY_CAP);
                if failures <= p.max_retries && first_sent.elapsed() + delay <= RETRY_DEADLINE {
                    tracing::info!(api = p.api, method = %method, path = %path, status = status.as_u16(), request_id = rid, attempt = attempts, delay_ms = delay.as_millis() as u64, "server error; retrying");
                    tokio::time::sleep(delay).await;
                    continue;
                }
            }
            return Ok(reply);
        }
    }

    /// Sends one attempt, records it, and reads the body (at most [`MAX_BODY`]). A body
    /// that breaks off is a transport failure like a refused connection.
    async fn send(
        &self,
        builder: reqwest::RequestBuilder,
        method: &Method,
        path: &str,
    ) -> Result<Result<Reply, HttpError>, reqwest::Error> {
        let api = self.profile.api;
        let mut resp = builder
            .send()
            .await
            .inspect_err(|_| crate::metrics::api_request(api, None))?;
        let status = resp.status();
        crate::metrics::api_request(api, Some(status.as_u16()));
        let headers = resp.headers().clone();
        let mut request_id =
            header_str(&headers, self.profile.request_id_header).map(str::to_string);
        let mut body = BytesMut::new();
        while let Some(chunk) = resp.chunk().await? {
            if body.len() + chunk.len() > MAX_BODY {
                return Ok(Err(HttpError::BodyTooLarge {
                    method: method.to_string(),
                    path: path.to_string(),
                    status: status.as_u16(),
                    request_id,
                    limit: MAX_BODY,
                }));
            }
            body.extend_from_slice(&chunk);
        }
        let body = body.freeze();
        if request_id.is_none() {
            request_id = self.profile.request_id_in_body.and_then(|read| read(&body));
        }
        Ok(Ok(Reply {
            status,
            headers,
            body,
            request_id,
            api,
            method: method.clone(),
            path: path.to_string(),
        }))
    }

    fn with_window(&self, window: &'static str, f: impl FnOnce(&mut RateWindow)) {
        f(lock(&self.windows).entry(window).or_default());
    }

    /// Waits until one more request fits within the profile's share of `window`, and
    /// reserves it.
    async fn pace(&self, window: &'static str) {
        loop {
            let reserved = lock(&self.windows)
                .entry(window)
                .or_default()
                .try_reserve(self.profile.share, Instant::now());
            let Err(wait) = reserved else { return };
            tracing::debug!(
                api = self.profile.api,
                window,
                wait_ms = wait.as_millis() as u64,
                "pacing requests to stay within the rate-limit share"
            );
            // A little past the reset, so the server's window has surely turned over.
            tokio::time::sleep(wait + Duration::from_millis(20)).await;
        }
    }

    /// Ends the reservation of a request that got a response, with what its rate-limit
    /// headers say.
    fn observe(&self, window: &'static str, headers: &HeaderMap) {
        match self.profile.rate_limit.read(headers) {
            Some(seen) => {
                crate::metrics::rate_limit_remaining(
                    self.profile.api,
                    window,
                    u64::from(seen.remaining),
                    u64::from(seen.limit),
                );
                self.with_window(window, |w| w.observe(seen));
            }
            None => self.with_window(window, RateWindow::release),
        }
    }
}

/// Exponential backoff with full jitter for retry number `attempt` (1-based):
/// a random delay in `[base·2^(attempt-1) / 2, base·2^(attempt-1)]`, capped at `cap`.
pub fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let ceiling = exp.min(cap);
    let half = ceiling / 2;
    half + ceiling.mul_f64(fastrand::f64() * 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(1);
        for _ in 0..50 {
            let d1 = backoff(1, base, cap);
            assert!(d1 >= Duration::from_millis(50) && d1 <= base);
            let d10 = backoff(10, base, cap);
            assert!(d10 >= cap / 2 && d10 <= cap);
        }
    }
}
