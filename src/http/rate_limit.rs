//! Rate limits: reading a server's rate-limit headers, pacing within a window, and how
//! long a 429 asks to wait. Every wait is measured against the server's clock (its
//! `Date` header) when the response carries one, so a skewed local clock changes nothing.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;

use super::{header_str, header_u64};

/// The furthest a window's reset is believed: both APIs' windows are a minute, and a
/// reset said to be further away (up to the end of time) is read as an hour, so that
/// pacing never sleeps longer and no clock arithmetic overflows.
pub const MAX_RESET: Duration = Duration::from_secs(3600);

/// What a client knows about one server-side rate-limit window, for pacing.
///
/// A window's headers may count every client of the server (Okta's buckets are the
/// whole org's), so this client counts its own requests in the window and keeps them
/// within `share` of the limit; the server's `remaining` is only a floor: a request waits
/// while what is left for everyone is at or below [`RESERVE_PERCENT`] of the limit, so
/// the last slice stays for the others (and a busy neighbour can't push this client to
/// one request a window, nor can it take the neighbour's last ones).
#[derive(Debug, Clone, Default)]
pub struct RateWindow {
    /// False until a response carried rate-limit headers.
    known: bool,
    pub limit: u32,
    /// Left for every client in the window, as of the last response.
    pub remaining: u32,
    /// Server epoch seconds of the reset; a new value means a new window.
    pub reset_epoch: u64,
    reset_at: Option<Instant>,
    /// This client's requests in the current window (sent or in flight).
    own: u32,
    in_flight: u32,
}

/// The share of a window's limit left to other clients: no request is sent while the
/// window's remaining requests are this low.
pub const RESERVE_PERCENT: u32 = 5;

impl RateWindow {
    /// Reserves one request if it fits within `share` of the limit and above the floor
    /// left to others; otherwise returns how long to wait before asking again.
    pub fn try_reserve(&mut self, share: f64, now: Instant) -> Result<(), Duration> {
        if self.known {
            if let Some(reset_at) = self.reset_at
                && now >= reset_at
            {
                // The window we knew about is over; a new one starts.
                self.own = self.in_flight;
                self.remaining = self.limit;
                self.reset_at = None;
            }
            let budget = ((f64::from(self.limit) * share).floor() as u32).max(1);
            let reserve = (self.limit.saturating_mul(RESERVE_PERCENT)).div_ceil(100);
            let left = self.remaining.saturating_sub(self.in_flight);
            if self.own >= budget || (self.remaining < self.limit && left <= reserve) {
                return Err(match self.reset_at {
                    Some(reset_at) => reset_at.saturating_duration_since(now),
                    // Over budget in a window whose end we don't know yet: a response
                    // in flight will tell.
                    None => Duration::from_millis(50),
                });
            }
        }
        self.own += 1;
        self.in_flight += 1;
        Ok(())
    }

    /// A reserved request ended without rate-limit headers.
    pub fn release(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.known && self.reset_at.is_none() && self.in_flight == 0 {
            // A window whose end no response told: nothing of ours is known to count in
            // it, so waiting for a response to tell would wait for ever.
            self.own = 0;
        }
    }

    /// A reserved request ended with these rate-limit headers.
    pub fn observe(&mut self, seen: Observed) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.known && seen.reset_epoch != self.reset_epoch {
            // A new window: what is in flight, and this request, count in it.
            self.own = self.in_flight + 1;
        }
        self.known = true;
        self.limit = seen.limit;
        self.remaining = seen.remaining.min(seen.limit);
        self.reset_epoch = seen.reset_epoch;
        self.reset_at = Some(Instant::now() + seen.reset_in.min(MAX_RESET));
        // The server counts at least what this client sent.
        let used_by_all = seen.limit - self.remaining;
        if self.own > used_by_all.saturating_add(self.in_flight) {
            self.own = used_by_all.saturating_add(self.in_flight);
        }
    }

    pub fn is_known(&self) -> bool {
        self.known
    }

    /// Requests every client used in the window, as of the last response.
    pub fn used_by_all(&self) -> u32 {
        self.limit - self.remaining.min(self.limit)
    }
}

/// One response's rate-limit headers, read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observed {
    pub limit: u32,
    pub remaining: u32,
    pub reset_in: Duration,
    /// The reset as server epoch seconds.
    pub reset_epoch: u64,
}

/// What the reset header counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetClock {
    /// Epoch seconds on the server's clock (Okta's `X-Rate-Limit-Reset`).
    Epoch,
    /// Seconds from the response (kafkaman's `X-RateLimit-Reset`).
    Delta,
}

/// How long a 429 asks to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After429 {
    /// Until the window's reset, plus a second; a 429 without a window (Okta's
    /// concurrency limit, `Limit: 0`) waits `concurrency` to twice that, at random.
    UntilReset { concurrency: Duration },
    /// `Retry-After`, seconds or an HTTP date; 1 s when absent or unreadable.
    RetryAfter,
}

/// How one API states its rate limits.
#[derive(Debug, Clone, Copy)]
pub struct RateLimitScheme {
    pub limit_header: &'static str,
    pub remaining_header: &'static str,
    pub reset_header: &'static str,
    pub reset: ResetClock,
    pub after_429: After429,
}

impl RateLimitScheme {
    /// The window a response describes; None without the headers, or for a limit of 0
    /// (a concurrency 429, which says nothing about the window).
    pub fn read(&self, headers: &HeaderMap) -> Option<Observed> {
        let (reset_in, reset_epoch) = self.reset(headers)?;
        let limit = header_u64(headers, self.limit_header)?;
        let remaining = header_u64(headers, self.remaining_header)?;
        Some(Observed {
            limit: u32::try_from(limit).unwrap_or(u32::MAX),
            remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
            reset_in,
            reset_epoch,
        })
    }

    /// Time until the window resets (at most [`MAX_RESET`]) and the reset as server epoch
    /// seconds; None without a window (no headers, or a limit of 0).
    fn reset(&self, headers: &HeaderMap) -> Option<(Duration, u64)> {
        if header_u64(headers, self.limit_header)? == 0 {
            return None;
        }
        let reset = header_u64(headers, self.reset_header)?;
        let now = server_now(headers);
        let (reset_in, reset_epoch) = match self.reset {
            ResetClock::Epoch => (reset.saturating_sub(now), reset),
            ResetClock::Delta => (reset, now.saturating_add(reset)),
        };
        Some((Duration::from_secs(reset_in).min(MAX_RESET), reset_epoch))
    }

    /// How long to wait after a 429 with these headers.
    pub fn wait_after_429(&self, headers: &HeaderMap) -> Duration {
        match self.after_429 {
            After429::UntilReset { concurrency } => match self.reset(headers) {
                Some((reset_in, _)) => reset_in + Duration::from_secs(1),
                None => concurrency + concurrency.mul_f64(fastrand::f64()),
            },
            After429::RetryAfter => retry_after(headers),
        }
    }
}

/// `Retry-After` as seconds or an HTTP date (measured against the server's `Date`);
/// 1 s when absent or unreadable. Seconds beyond u64 are u64::MAX seconds: longer than
/// any wait the transport allows, not unreadable (which would retry after 1 s).
fn retry_after(headers: &HeaderMap) -> Duration {
    let fallback = Duration::from_secs(1);
    let Some(value) = header_str(headers, "retry-after") else {
        return fallback;
    };
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Duration::from_secs(value.parse::<u64>().unwrap_or(u64::MAX));
    }
    match httpdate::parse_http_date(value).map(epoch_of) {
        Ok(Some(at)) => Duration::from_secs(at.saturating_sub(server_now(headers))),
        _ => fallback,
    }
}

/// The server's clock from its `Date` header as Unix epoch seconds; ours without one.
pub fn server_now(headers: &HeaderMap) -> u64 {
    header_str(headers, "date")
        .and_then(|d| httpdate::parse_http_date(d).ok())
        .and_then(epoch_of)
        .or_else(|| epoch_of(SystemTime::now()))
        .unwrap_or(0)
}

fn epoch_of(t: SystemTime) -> Option<u64> {
    t.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    /// Okta's way: epoch reset, 429s wait for it.
    const EPOCH: RateLimitScheme = scheme(ResetClock::Epoch, UNTIL_RESET);
    /// kafkaman's way: reset in seconds, 429s say `Retry-After`.
    const DELTA: RateLimitScheme = scheme(ResetClock::Delta, After429::RetryAfter);
    const UNTIL_RESET: After429 = After429::UntilReset {
        concurrency: Duration::from_secs(2),
    };

    const fn scheme(reset: ResetClock, after_429: After429) -> RateLimitScheme {
        RateLimitScheme {
            limit_header: "x-limit",
            remaining_header: "x-remaining",
            reset_header: "x-reset",
            reset,
            after_429,
        }
    }

    fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        h
    }

    fn http_date(epoch: u64) -> String {
        httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(epoch))
    }

    /// A server whose clock is an hour behind ours.
    fn skewed_server_now() -> u64 {
        epoch_of(SystemTime::now()).unwrap() - 3600
    }

    fn seen(limit: u32, remaining: u32, reset_epoch: u64) -> Observed {
        Observed {
            limit,
            remaining,
            reset_in: Duration::from_secs(60),
            reset_epoch,
        }
    }

    /// Okta's headers count the whole org: a neighbour that used 60 of 100 leaves this
    /// client its own half of the bucket, not nothing.
    #[test]
    fn a_busy_neighbour_leaves_this_client_its_share() {
        let mut w = RateWindow::default();
        let now = Instant::now();
        w.try_reserve(0.5, now).unwrap();
        w.observe(seen(100, 39, 1000)); // 60 by others, 1 by us
        let mut sent = 1;
        while w.try_reserve(0.5, now).is_ok() {
            sent += 1;
            let remaining = 39 - (sent - 1);
            w.observe(seen(100, remaining, 1000));
        }
        assert_eq!(sent, 35, "until the last 5 of 100 are left to others");
        // With the bucket to itself, its share: 50 of 100.
        let mut w = RateWindow::default();
        w.try_reserve(0.5, now).unwrap();
        w.observe(seen(100, 99, 2000));
        let mut sent = 1;
        while w.try_reserve(0.5, now).is_ok() {
            sent += 1;
            w.observe(seen(100, 100 - sent, 2000));
        }
        assert_eq!(sent, 50);
        // A new window (another reset) starts the count again.
        w.observe(seen(100, 99, 2060));
        assert!(w.try_reserve(0.5, now).is_ok());
    }

    /// A window rolled over while requests were out, and none of them came back with
    /// headers (timeouts, a concurrency 429 without a window): the next request still
    /// goes, instead of waiting for a response that will never tell.
    #[test]
    fn a_window_whose_end_no_response_told_does_not_stall() {
        let mut w = RateWindow::default();
        let start = Instant::now();
        w.try_reserve(0.5, start).unwrap();
        w.observe(Observed {
            limit: 2,
            remaining: 1,
            reset_in: Duration::from_millis(1),
            reset_epoch: 1,
        });
        let later = start + Duration::from_secs(1);
        w.try_reserve(0.5, later).unwrap(); // a new window; the budget (1) is spent
        assert!(w.try_reserve(0.5, later).is_err());
        w.release(); // it ended without headers
        assert!(w.try_reserve(0.5, later).is_ok());
    }

    #[test]
    fn retry_after_date_is_measured_against_the_server_date() {
        let server = skewed_server_now();
        let h = headers(&[
            ("date", http_date(server)),
            ("retry-after", http_date(server + 7)),
        ]);
        // Against our clock the date is an hour in the past (no wait at all).
        assert_eq!(DELTA.wait_after_429(&h), Duration::from_secs(7));
    }

    #[test]
    fn retry_after_seconds_and_fallbacks() {
        let h = headers(&[("retry-after", "3".to_string())]);
        assert_eq!(DELTA.wait_after_429(&h), Duration::from_secs(3));
        let h = headers(&[("retry-after", "soon".to_string())]);
        assert_eq!(DELTA.wait_after_429(&h), Duration::from_secs(1));
        assert_eq!(
            DELTA.wait_after_429(&HeaderMap::new()),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn an_epoch_reset_is_measured_against_the_server_date() {
        let server = skewed_server_now();
        let h = headers(&[
            ("date", http_date(server)),
            ("x-limit", "600".to_string()),
            ("x-remaining", "0".to_string()),
            ("x-reset", (server + 10).to_string()),
        ]);
        assert_eq!(EPOCH.wait_after_429(&h), Duration::from_secs(11));
        let seen = EPOCH.read(&h).unwrap();
        assert_eq!(seen.reset_in, Duration::from_secs(10));
        assert_eq!(seen.reset_epoch, server + 10);
    }

    #[test]
    fn a_concurrency_429_backs_off_without_a_window() {
        let h = headers(&[
            ("x-limit", "0".to_string()),
            ("x-remaining", "0".to_string()),
            ("x-reset", "0".to_string()),
        ]);
        assert_eq!(EPOCH.read(&h), None);
        let wait = EPOCH.wait_after_429(&h);
        assert!(wait >= Duration::from_secs(2) && wait <= Duration::from_secs(4));
    }

    #[test]
    fn a_delta_reset_counts_seconds_from_the_response() {
        let h = headers(&[
            ("date", http_date(1_000)),
            ("x-limit", "8".to_string()),
            ("x-remaining", "3".to_string()),
            ("x-reset", "4".to_string()),
        ]);
        let seen = DELTA.read(&h).unwrap();
        assert_eq!((seen.limit, seen.remaining), (8, 3));
        assert_eq!(seen.reset_in, Duration::from_secs(4));
        assert_eq!(seen.reset_epoch, 1_004);
    }

    #[test]
    fn retry_after_beyond_u64_is_the_longest_wait_not_one_second() {
        let h = headers(&[("retry-after", format!("1{}", "0".repeat(30)))]);
        assert_eq!(DELTA.wait_after_429(&h), Duration::from_secs(u64::MAX));
    }

    /// Found by tests/parsers_prop.rs: a reset at u64::MAX (with the server's clock at
    /// 1970 for the epoch scheme) overflowed `Instant` and `Duration` additions.
    #[test]
    fn a_reset_at_the_end_of_time_is_read_as_an_hour() {
        for scheme in [EPOCH, DELTA] {
            let h = headers(&[
                ("date", http_date(0)),
                ("x-limit", "600".to_string()),
                ("x-remaining", "0".to_string()),
                ("x-reset", u64::MAX.to_string()),
            ]);
            let seen = scheme.read(&h).unwrap();
            assert_eq!(seen.reset_in, MAX_RESET);
            let mut w = RateWindow::default();
            w.observe(seen);
            let wait = w.try_reserve(0.5, Instant::now()).unwrap_err();
            assert!(wait <= MAX_RESET, "{wait:?}");
        }
        assert_eq!(
            EPOCH.wait_after_429(&headers(&[
                ("date", http_date(0)),
                ("x-limit", "600".to_string()),
                ("x-remaining", "0".to_string()),
                ("x-reset", u64::MAX.to_string()),
            ])),
            MAX_RESET + Duration::from_secs(1)
        );
    }

    /// Found by tests/parsers_prop.rs: a limit near u32::MAX with requests in flight
    /// overflowed the used count.
    #[test]
    fn a_huge_limit_with_requests_in_flight_does_not_overflow() {
        let mut w = RateWindow::default();
        let now = Instant::now();
        assert!(w.try_reserve(1.0, now).is_ok());
        assert!(w.try_reserve(1.0, now).is_ok());
        w.observe(Observed {
            limit: u32::MAX,
            remaining: 0,
            reset_in: Duration::from_secs(5),
            reset_epoch: 0,
        });
        assert!(w.try_reserve(1.0, now).is_err());
    }

    #[test]
    fn rate_window_paces_within_share() {
        let mut w = RateWindow::default();
        let now = Instant::now();
        assert!(w.try_reserve(0.5, now).is_ok());
        w.observe(Observed {
            limit: 10,
            remaining: 9,
            reset_in: Duration::from_secs(5),
            reset_epoch: 0,
        });
        for _ in 0..4 {
            assert!(w.try_reserve(0.5, now).is_ok());
        }
        let wait = w.try_reserve(0.5, now).unwrap_err();
        assert!(wait > Duration::from_secs(4), "{wait:?}");
        // After the reset the budget is available again.
        assert!(w.try_reserve(0.5, now + Duration::from_secs(6)).is_ok());
    }
}
