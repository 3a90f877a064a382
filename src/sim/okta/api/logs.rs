//! `/api/v1/logs`: the System Log, for polling and bounded queries.

use super::*;

fn log_cursor(seq: u64, published_ms: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{published_ms}_{seq}"))
}

fn decode_log_cursor(c: &str) -> Option<u64> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(c.as_bytes()).ok()?).ok()?;
    raw.rsplit('_').next()?.parse().ok()
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
                decode_log_cursor(c)
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
        let now_ts = now();
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
        let matches = |e: &LogEntry| -> bool {
            if cursor.is_none() && e.published < since {
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
        let mut hits = Vec::new();
        let mut last_scanned = cursor.unwrap_or(0);
        let mut more = false;
        if descending {
            let end = cursor
                .map(|c| (c.saturating_sub(1)) as usize)
                .unwrap_or(org.log.len());
            for e in org.log[..end.min(org.log.len())].iter().rev() {
                if matches(e) {
                    if hits.len() == limit {
                        more = true;
                        break;
                    }
                    hits.push(e);
                }
            }
        } else {
            let start = cursor.unwrap_or(0) as usize;
            for e in org.log.iter().skip(start) {
                if until.is_some_and(|u| e.published >= u) {
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
        }
        let next = if polling {
            // Resume after the last event returned, or after everything scanned when the
            // page wasn't full (nothing before that point can match any more).
            let seq = if more {
                hits.last().map(|e| e.seq).unwrap_or(last_scanned)
            } else {
                last_scanned
            };
            let ms = org
                .log
                .get(seq.saturating_sub(1) as usize)
                .map(|e| e.published.timestamp_millis())
                .unwrap_or(0);
            Some(next_link(
                base,
                "/api/v1/logs",
                &p,
                &["since"],
                &log_cursor(seq, ms),
            ))
        } else if more {
            hits.last().map(|e| {
                let c = log_cursor(e.seq, e.published.timestamp_millis());
                next_link(base, "/api/v1/logs", &p, &["since"], &c)
            })
        } else {
            None
        };
        let items: Vec<&Value> = hits.iter().map(|e| &e.event).collect();
        tracing::trace!(returned = hits.len(), polling, since = %fmt_ts(&since), "okta sim: logs page");
        Ok(page(&items, self_link(base, "/api/v1/logs", &p), next))
    };
    run().unwrap_or_else(IntoResponse::into_response)
}
