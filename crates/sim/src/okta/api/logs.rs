//! `/api/v1/logs`: the System Log, for polling and bounded queries.

use super::*;

/// A System Log cursor: polling resumes after `seq` (persistence order); bounded
/// queries after (`published_ms`, `seq`) in `published` order, and carry their `since`
/// (the next link can't: `after` and `since` don't go together).
#[derive(Debug, Clone, Copy)]
struct LogCursor {
    published_ms: i64,
    seq: u64,
    since_ms: Option<i64>,
}

impl LogCursor {
    fn encode(&self) -> String {
        let raw = match self.since_ms {
            Some(since) => format!("{}_{}_{since}", self.published_ms, self.seq),
            None => format!("{}_{}", self.published_ms, self.seq),
        };
        URL_SAFE_NO_PAD.encode(raw)
    }

    fn decode(c: &str) -> Option<LogCursor> {
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(c.as_bytes()).ok()?).ok()?;
        let mut parts = raw.split('_');
        let published_ms = parts.next()?.parse().ok()?;
        let seq = parts.next()?.parse().ok()?;
        let since_ms = match parts.next() {
            Some(v) => Some(v.parse().ok()?),
            None => None,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(LogCursor {
            published_ms,
            seq,
            since_ms,
        })
    }

    fn key(&self) -> (i64, u64) {
        (self.published_ms, self.seq)
    }
}

fn invalid_log_filter() -> OktaError {
    OktaError::new(
        axum::http::StatusCode::BAD_REQUEST,
        "E0000053",
        "Invalid syntax.",
    )
}

/// A LogEvent's attribute by dotted path; arrays (e.g. `target`) yield every element's.
fn event_attr(ev: &Value, path: &str) -> Vec<AttrValue> {
    let mut cur = vec![ev];
    for seg in path.split('.') {
        let mut next = Vec::new();
        for v in cur {
            match v {
                Value::Array(a) => next.extend(a.iter().filter_map(|x| x.get(seg))),
                other => next.extend(other.get(seg)),
            }
        }
        cur = next;
    }
    cur.into_iter().flat_map(json_attr).collect()
}

/// `GET /api/v1/logs`: polling (ASCENDING without `until`: `next` always present, pages
/// may be empty) and bounded queries.
pub async fn list_logs(State(s): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let p = Params::new(raw);
    let run = || -> Result<Response, OktaError> {
        let limit = p.limit(100, 0, 1000)?;
        let descending = match p.get("sortOrder") {
            None | Some("") | Some("ASCENDING") => false,
            Some("DESCENDING") => true,
            Some(other) => {
                return Err(OktaError::validation(format!(
                    "sortOrder: '{other}' is not ASCENDING or DESCENDING"
                )));
            }
        };
        let cursor = match p.get("after").filter(|a| !a.is_empty()) {
            Some(c) => Some(
                LogCursor::decode(c)
                    .ok_or_else(|| OktaError::validation("after: invalid cursor"))?,
            ),
            None => None,
        };
        if cursor.is_some() && p.has_value("since") {
            return Err(OktaError::validation(
                "after and since can't be used together",
            ));
        }
        let parse_opt = |k: &str| -> Result<Option<Ts>, OktaError> {
            match p.get(k).filter(|v| !v.is_empty()) {
                Some(v) => filter::parse_time(v)
                    .map(Some)
                    .ok_or_else(OktaError::invalid_date),
                None => Ok(None),
            }
        };
        let until = parse_opt("until")?;
        let now_ts = lock(&s.org).now();
        let since = parse_opt("since")?.unwrap_or(until.unwrap_or(now_ts) - Duration::days(7));
        if since < now_ts - Duration::days(180) {
            return Err(invalid_log_filter());
        }
        let expr = match p.get("filter").filter(|f| !f.is_empty()) {
            Some(f) => {
                let e = filter::parse(f).map_err(|_| invalid_log_filter())?;
                if e.leaves().iter().any(|(a, _, _)| *a == "published") {
                    return Err(invalid_log_filter());
                }
                Some(e)
            }
            None => None,
        };
        let keywords: Vec<String> = p
            .get("q")
            .map(|q| q.split_whitespace().map(str::to_lowercase).collect())
            .unwrap_or_default();
        let base = s.base();
        let org = lock(&s.org);
        // A first page and bounded pages are bounded by `since`; a polling cursor is not
        // (it resumes in persistence order, whatever the events' `published`).
        let since_ms = match cursor {
            None => Some(since.timestamp_millis()),
            Some(c) => c.since_ms,
        };
        // A polling request (no `until`, ASCENDING) compares `since` with when each event
        // was persisted, not its `published`: "time filtered by their internal
        // 'persistence time' to avoid skipping records due to system delays" (Okta's
        // System Log query guide). A bounded one compares `published`.
        let polling_request = until.is_none() && !descending;
        let matches = |e: &LogEntry| -> bool {
            let at = if polling_request {
                e.visible_at
            } else {
                e.published
            };
            if since_ms.is_some_and(|s| at.timestamp_millis() < s) {
                return false;
            }
            if until.is_some_and(|u| e.published >= u) {
                return false;
            }
            if let Some(x) = &expr
                && !x.eval(&|a| event_attr(&e.event, a))
            {
                return false;
            }
            if !keywords.is_empty() {
                let text = e.event.to_string().to_lowercase();
                return keywords.iter().all(|k| text.contains(k.as_str()));
            }
            true
        };
        let polling = until.is_none() && !descending;
        let visible = |e: &LogEntry| e.visible_at <= now_ts;
        let mut hits: Vec<&LogEntry> = Vec::new();
        let mut more = false;
        let next = if polling {
            // Persistence order, from the cursor. The walk stops at the first event not
            // visible yet, so the cursor never passes it: it is served by a later poll,
            // even when its `published` is earlier than events already served.
            let start = cursor.map(|c| c.seq).unwrap_or(0);
            let mut last_scanned = start;
            for e in org
                .log
                .iter()
                .skip(usize::try_from(start).unwrap_or(usize::MAX))
            {
                if !visible(e) {
                    break;
                }
                if matches(e) {
                    if hits.len() == limit {
                        more = true;
                        break;
                    }
                    hits.push(e);
                }
                last_scanned = e.seq;
            }
            // Resume after the last event returned, or after everything scanned when the
            // page wasn't full (nothing before that point can match any more).
            let seq = match hits.last() {
                Some(e) if more => e.seq,
                _ => last_scanned,
            };
            let ms = org
                .log
                .get(seq.saturating_sub(1) as usize)
                .map(|e| e.published.timestamp_millis())
                .unwrap_or(0);
            let c = LogCursor {
                published_ms: ms,
                seq,
                since_ms: None,
            };
            Some(next_link(base, "/api/v1/logs", &p, &["since"], &c.encode()))
        } else {
            // Bounded (or DESCENDING): `published` order, ties by persistence; events
            // not visible yet are simply not there.
            let key = |e: &LogEntry| (e.published.timestamp_millis(), e.seq);
            let mut found: Vec<&LogEntry> = org
                .log
                .iter()
                .filter(|e| visible(e) && matches(e))
                .filter(|e| match cursor {
                    Some(c) if descending => key(e) < c.key(),
                    Some(c) => key(e) > c.key(),
                    None => true,
                })
                .collect();
            found.sort_by_key(|e| key(e));
            if descending {
                found.reverse();
            }
            more = found.len() > limit;
            found.truncate(limit);
            hits = found;
            match hits.last() {
                Some(e) if more => {
                    let c = LogCursor {
                        published_ms: e.published.timestamp_millis(),
                        seq: e.seq,
                        since_ms,
                    };
                    Some(next_link(base, "/api/v1/logs", &p, &["since"], &c.encode()))
                }
                _ => None,
            }
        };
        let items: Vec<&Value> = hits.iter().map(|e| &e.event).collect();
        tracing::trace!(returned = hits.len(), polling, since = %fmt_ts(&since), "okta sim: logs page");
        Ok(page(&items, self_link(base, "/api/v1/logs", &p), next))
    };
    run().unwrap_or_else(IntoResponse::into_response)
}
