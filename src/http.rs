//! HTTP helpers shared by the Okta and kafkaman clients: `Link` header parsing, retry
//! backoff with jitter, header reading, and classifying transport failures.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;

/// Locks a mutex, recovering the data if a task panicked while holding it: the state
/// guarded here (rate-limit counters) stays meaningful.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What a client knows about one server-side rate-limit window, for pacing: it lets a
/// request go while the window's used count (the server's, from the last response, plus
/// our requests in flight since) stays under a share of the limit, and otherwise says
/// how long until the window resets.
#[derive(Debug, Clone, Default)]
pub struct RateWindow {
    /// False until a response carried rate-limit headers.
    known: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Server epoch seconds of the reset, when the server says (Okta); informational.
    pub reset_epoch: u64,
    reset_at: Option<Instant>,
    used: u32,
    in_flight: u32,
}

impl RateWindow {
    /// Reserves one request if it fits within `share` of the limit; otherwise returns
    /// how long to wait before asking again.
    pub fn try_reserve(&mut self, share: f64, now: Instant) -> Result<(), Duration> {
        if self.known {
            if let Some(reset_at) = self.reset_at
                && now >= reset_at
            {
                // The window we knew about is over; a new one starts.
                self.used = self.in_flight;
                self.remaining = self.limit;
                self.reset_at = None;
            }
            let budget = ((f64::from(self.limit) * share).floor() as u32).max(1);
            if self.used >= budget {
                return Err(match self.reset_at {
                    Some(reset_at) => reset_at.saturating_duration_since(now),
                    // Over budget in a window whose end we don't know yet: a response
                    // in flight will tell.
                    None => Duration::from_millis(50),
                });
            }
        }
        self.used += 1;
        self.in_flight += 1;
        Ok(())
    }

    /// A reserved request ended without rate-limit headers.
    pub fn release(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// A reserved request ended with these rate-limit headers.
    pub fn observe(&mut self, limit: u32, remaining: u32, reset_in: Duration, reset_epoch: u64) {
        self.release();
        self.known = true;
        self.limit = limit;
        self.remaining = remaining.min(limit);
        self.reset_epoch = reset_epoch;
        self.reset_at = Some(Instant::now() + reset_in);
        self.used = (limit - self.remaining) + self.in_flight;
    }

    pub fn is_known(&self) -> bool {
        self.known
    }
}

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

/// The `rel="next"` target among all `Link` headers of a response. Accepts one header
/// line per link and several links comma-joined into one line (RFC 8288).
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(reqwest::header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(split_links)
        .find_map(|(target, params)| link_has_rel(&params, "next").then(|| target.to_string()))
}

/// Splits one `Link` header value into `(target, params)` pairs. Commas inside `<…>` or
/// inside quoted parameter values don't split.
fn split_links(value: &str) -> Vec<(String, String)> {
    let mut links = Vec::new();
    let mut rest = value.trim();
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('>') else { break };
        let target = after[..end].trim().to_string();
        let tail = &after[end + 1..];
        // Parameters run until a comma that is outside quotes.
        let mut in_quotes = false;
        let mut cut = tail.len();
        for (i, c) in tail.char_indices() {
            match c {
                '"' => in_quotes = !in_quotes,
                ',' if !in_quotes => {
                    cut = i;
                    break;
                }
                _ => {}
            }
        }
        links.push((target, tail[..cut].to_string()));
        rest = if cut < tail.len() {
            &tail[cut + 1..]
        } else {
            ""
        };
    }
    links
}

/// Whether a link's parameters contain `rel` with the given relation type (rel may hold
/// several space-separated types, quoted or not; comparison is case-insensitive).
fn link_has_rel(params: &str, wanted: &str) -> bool {
    params.split(';').any(|p| {
        let Some((name, value)) = p.split_once('=') else {
            return false;
        };
        name.trim().eq_ignore_ascii_case("rel")
            && value
                .trim()
                .trim_matches('"')
                .split_ascii_whitespace()
                .any(|r| r.eq_ignore_ascii_case(wanted))
    })
}

/// Exponential backoff with full jitter for retry number `attempt` (1-based):
/// a random delay in `[base·2^(attempt-1) / 2, base·2^(attempt-1)]`, capped at `cap`.
pub fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let ceiling = exp.min(cap);
    let half = ceiling / 2;
    half + ceiling.mul_f64(fastrand::f64() * 0.5)
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

/// The server's clock from its `Date` header, as Unix epoch seconds.
pub fn server_date_epoch(headers: &HeaderMap) -> Option<u64> {
    let date = httpdate::parse_http_date(header_str(headers, "date")?).ok()?;
    date.duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// A URL's path for logs and errors: no query string (which may hold cursors or filters
/// with personal data) and no credentials.
pub fn log_path(url: &url::Url) -> String {
    url.path().to_string()
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

/// Builds the reqwest client both API clients use.
pub fn build_client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("scim-sync/", env!("CARGO_PKG_VERSION")))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderValue, LINK};

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(LINK, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn next_link_from_separate_lines() {
        let h = headers(&[
            r#"<https://x.okta.com/api/v1/apps/a/users?limit=2>; rel="self""#,
            r#"<https://x.okta.com/api/v1/apps/a/users?after=00u2&limit=2>; rel="next""#,
        ]);
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://x.okta.com/api/v1/apps/a/users?after=00u2&limit=2")
        );
    }

    #[test]
    fn next_link_from_comma_joined_line() {
        let h =
            headers(&[r#"<https://x/a?limit=2,3>; rel="self", <https://x/a?after=b,c>; rel=next"#]);
        assert_eq!(next_link(&h).as_deref(), Some("https://x/a?after=b,c"));
    }

    #[test]
    fn no_next_link_on_last_page() {
        let h = headers(&[r#"<https://x/a>; rel="self""#]);
        assert_eq!(next_link(&h), None);
        assert_eq!(next_link(&HeaderMap::new()), None);
    }

    #[test]
    fn multi_valued_rel() {
        let h = headers(&[r#"<https://x/b>; title="a, b"; rel="prefetch next""#]);
        assert_eq!(next_link(&h).as_deref(), Some("https://x/b"));
    }

    #[test]
    fn rate_window_paces_within_share() {
        let mut w = RateWindow::default();
        let now = Instant::now();
        assert!(w.try_reserve(0.5, now).is_ok());
        w.observe(10, 9, Duration::from_secs(5), 0);
        for _ in 0..4 {
            assert!(w.try_reserve(0.5, now).is_ok());
        }
        let wait = w.try_reserve(0.5, now).unwrap_err();
        assert!(wait > Duration::from_secs(4), "{wait:?}");
        // After the reset the budget is available again.
        assert!(w.try_reserve(0.5, now + Duration::from_secs(6)).is_ok());
    }

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
