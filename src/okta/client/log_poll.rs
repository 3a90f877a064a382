//! The System Log polling of [`OktaClient`]: [`poll_log`](OktaClient::poll_log) and
//! [`poll_log_with_limit`](OktaClient::poll_log_with_limit), and the checks that keep a
//! stored or received `next` link on this org's System Log.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use url::Url;

use super::{MAX_PAGES, OktaClient};
use crate::http;
use crate::okta::OktaError;
use crate::okta::log::{
    ENTITLEMENT_EVENT_TYPES, LOG_PAGE_LIMIT, LogRead, LogStart, event_type_filter, parse_event,
};

/// The System Log's path: a `next` link elsewhere is refused.
const LOGS_PATH: &str = "/api/v1/logs";
/// Okta's System Log page size when a URL names none.
const LOG_DEFAULT_LIMIT: usize = 100;

impl OktaClient {
    /// Polls the System Log from `start` the way Okta documents polling: ASCENDING, no
    /// `until`, `limit=1000`, `filter` = [`ENTITLEMENT_EVENT_TYPES`] joined with `or`;
    /// `since` on the first read only, then `rel="next"` verbatim. Follows `next` until
    /// a page comes back with fewer events than the limit (an empty page included), or
    /// `max_pages` pages were read (then `truncated`). Returns every event in the order
    /// received and the `next` URL to persist and resume from. Any failed, malformed or
    /// non-JSON page fails the whole call (no partial result); so does a `Next` URL that
    /// is not the System Log of the configured org (scheme, host and port of
    /// `org_url`): the credentials never go anywhere else.
    pub async fn poll_log(&self, start: &LogStart, max_pages: usize) -> Result<LogRead, OktaError> {
        self.poll_log_with_limit(start, max_pages, LOG_PAGE_LIMIT)
            .await
    }

    /// [`poll_log`](Self::poll_log) with pages of `limit` events (1 to 1000) from a
    /// `Since` start. A `Next` URL keeps the `limit` it was issued with: a page is full
    /// when it holds as many events as the `limit` of the URL that asked for it.
    pub async fn poll_log_with_limit(
        &self,
        start: &LogStart,
        max_pages: usize,
        limit: u32,
    ) -> Result<LogRead, OktaError> {
        if max_pages == 0 {
            return Err(OktaError::Config(
                "a System Log read needs max_pages of at least 1".to_string(),
            ));
        }
        if !(1..=LOG_PAGE_LIMIT).contains(&limit) {
            return Err(OktaError::Config(format!(
                "System Log pages hold 1 to {LOG_PAGE_LIMIT} events, not {limit}"
            )));
        }
        let max_pages = max_pages.min(MAX_PAGES);
        let mut url = match start {
            LogStart::Since(since) => {
                let since = DateTime::parse_from_rfc3339(since).map_err(|e| {
                    OktaError::Config(format!(
                        "System Log start {since:?} is not an RFC 3339 time ({e})"
                    ))
                })?;
                let since = since
                    .with_timezone(&Utc)
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                let mut url = self.api_url(&["api", "v1", "logs"]);
                url.query_pairs_mut()
                    .append_pair("since", &since)
                    .append_pair("sortOrder", "ASCENDING")
                    .append_pair("limit", &limit.to_string())
                    .append_pair("filter", &event_type_filter(ENTITLEMENT_EVENT_TYPES));
                url
            }
            LogStart::Next(next) => self.log_url(next).map_err(|reason| {
                tracing::warn!(reason = %reason, "okta: refusing a stored System Log cursor");
                OktaError::Config(format!(
                    "the stored System Log position can't be used: {reason} (was okta.org_url \
                     changed, or the state database edited? start again from a time)"
                ))
            })?,
        };
        let mut events = Vec::new();
        let mut seen = HashSet::new();
        let mut pages = 0;
        loop {
            // Checked by `log_url` for every URL requested.
            let page_limit = log_page_limit(&url).unwrap_or(LOG_DEFAULT_LIMIT);
            let reply = self.get(&url).await?;
            self.expect_success(&reply)?;
            let value: serde_json::Value = self.parse_json(&reply)?;
            let serde_json::Value::Array(items) = value else {
                return Err(self.malformed(&reply, "expected a JSON array".to_string()));
            };
            let received = items.len();
            for item in items {
                let event = parse_event(item).map_err(|reason| self.malformed(&reply, reason))?;
                // Okta may repeat an event; it is one change.
                if seen.insert(event.uuid.clone()) {
                    events.push(event);
                }
            }
            pages += 1;
            // A polling page always has a next link, even when empty.
            let next = http::next_link(&reply.headers).ok_or_else(|| {
                self.malformed(
                    &reply,
                    "a System Log polling page without a next link".to_string(),
                )
            })?;
            let next = self
                .log_url(&next)
                .map_err(|reason| self.malformed(&reply, format!("next link: {reason}")))?;
            let full = received >= page_limit;
            if !full || pages >= max_pages {
                let truncated = full;
                tracing::debug!(
                    pages,
                    events = events.len(),
                    truncated,
                    "okta: System Log read"
                );
                return Ok(LogRead {
                    events,
                    next: next.to_string(),
                    pages,
                    truncated,
                });
            }
            if next == url {
                return Err(self.malformed(
                    &reply,
                    "a full System Log page links to itself as next (pagination loop)".to_string(),
                ));
            }
            url = next;
        }
    }

    /// `s` as a System Log URL of this org, or why it isn't one.
    fn log_url(&self, s: &str) -> Result<Url, String> {
        let url = Url::parse(s).map_err(|e| format!("not a URL ({e})"))?;
        if !self.same_origin(&url) {
            return Err(format!(
                "it points outside the Okta org ({}, not {})",
                url.origin().ascii_serialization(),
                self.inner.org_url.origin().ascii_serialization()
            ));
        }
        if url.path() != LOGS_PATH {
            return Err(format!("it is not the System Log ({})", url.path()));
        }
        log_page_limit(&url)?;
        Ok(url)
    }
}

/// The `limit` a System Log URL asks for (Okta's default of 100 when absent), or why
/// it is unusable (a page size outside 1..=1000 would make "a short page" meaningless).
fn log_page_limit(url: &Url) -> Result<usize, String> {
    match url.query_pairs().find(|(k, _)| k == "limit") {
        None => Ok(LOG_DEFAULT_LIMIT),
        Some((_, v)) => match v.parse::<u32>() {
            Ok(n) if (1..=LOG_PAGE_LIMIT).contains(&n) => Ok(n as usize),
            _ => Err(format!(
                "its page size {v:?} is not between 1 and {LOG_PAGE_LIMIT}"
            )),
        },
    }
}
