//! What both simulators share: the request log, fault injection, fixed rate-limit windows
//! and the control routes under `/__sim/` that read the log and set faults.
//!
//! Faults and the log live in a middleware layer so that every route of a simulator is
//! covered the same way; the server only says how its own error bodies look.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Locks a mutex, recovering the data if a handler panicked while holding it: the
/// simulators' state stays usable for the remaining requests of a test.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Seconds since the Unix epoch.
pub fn epoch_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// One request as the simulator saw it (control routes under `/__sim/` are not logged).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LoggedRequest {
    pub seq: u64,
    pub method: String,
    pub path: String,
    pub query: String,
    pub status: u16,
}

impl LoggedRequest {
    /// True for methods that change state (everything but GET/HEAD/OPTIONS).
    pub fn is_write(&self) -> bool {
        !matches!(self.method.as_str(), "GET" | "HEAD" | "OPTIONS")
    }
}

/// Every request a simulator served, in order.
#[derive(Debug, Clone, Default)]
pub struct RequestLog(Arc<Mutex<Vec<LoggedRequest>>>);

impl RequestLog {
    pub fn record(&self, method: &str, path: &str, query: &str, status: u16) {
        let mut log = lock(&self.0);
        let seq = log.len() as u64 + 1;
        log.push(LoggedRequest {
            seq,
            method: method.to_string(),
            path: path.to_string(),
            query: query.to_string(),
            status,
        });
    }

    pub fn all(&self) -> Vec<LoggedRequest> {
        lock(&self.0).clone()
    }

    /// Requests that change state (POST, PUT, PATCH, DELETE).
    pub fn writes(&self) -> Vec<LoggedRequest> {
        lock(&self.0)
            .iter()
            .filter(|r| r.is_write())
            .cloned()
            .collect()
    }

    /// Requests received since the given sequence number (exclusive).
    pub fn since(&self, seq: u64) -> Vec<LoggedRequest> {
        lock(&self.0)
            .iter()
            .filter(|r| r.seq > seq)
            .cloned()
            .collect()
    }

    /// The sequence number of the last request so far (0 when none).
    pub fn last_seq(&self) -> u64 {
        lock(&self.0).len() as u64
    }

    pub fn clear(&self) {
        lock(&self.0).clear();
    }

    /// Counters per `METHOD path-template`, as served by `/__sim/counters`. Ids in paths are
    /// not folded: the counters are per concrete path, which is what tests compare.
    pub fn counters(&self) -> std::collections::BTreeMap<String, u64> {
        let mut out = std::collections::BTreeMap::new();
        for r in lock(&self.0).iter() {
            *out.entry(format!("{} {}", r.method, r.path)).or_insert(0) += 1;
        }
        out
    }
}

/// What an injected fault does to a matching request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultKind {
    /// Answer with this status and the server's error body for it, without running the
    /// handler. `status = 429` gives a rate-limit burst with the server's 429 headers.
    Status { status: u16 },
    /// Answer as an HTTP proxy in front of the server would (a gateway, a captive
    /// portal): this status with an HTML page, none of the server's headers or error
    /// body. A client must not take it for the server's own answer.
    Proxy { status: u16 },
    /// Delay the response by this many milliseconds.
    Latency { ms: u64 },
    /// Run the handler at once, then hold its answer back for this many milliseconds:
    /// the write happened, but a client that gives up (or dies) meanwhile can't know.
    SlowResponse { ms: u64 },
    /// Run the handler, send the headers and part of the body, then drop the connection.
    Drop,
    /// Run the handler and answer 200 with only the first half of its JSON body.
    Truncate,
    /// Run the handler and replace its body with something that isn't JSON.
    Malformed,
}

/// A fault armed for the next `count` requests whose path matches `route`.
///
/// `route` is a path pattern: `*` matches one path segment, a trailing `/**` matches
/// anything below. `method` (optional) restricts it to one HTTP method.
// Read through `RawFaultSpec`: serde's `deny_unknown_fields` refuses every flattened key
// (`kind`, `status`, …) when combined with `flatten`, and without it a typo next to a
// unit kind (`drop`, …) would be silently ignored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(try_from = "RawFaultSpec")]
pub struct FaultSpec {
    pub route: String,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(flatten)]
    pub kind: FaultKind,
    /// How many matching requests it affects; then it is spent.
    #[serde(default = "one")]
    pub count: u32,
    /// Skip this many matching requests before the fault starts (e.g. fail page 3).
    #[serde(default)]
    pub after: u32,
}

fn one() -> u32 {
    1
}

/// `FaultSpec` as written: one flat table, every key known.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFaultSpec {
    route: String,
    #[serde(default)]
    method: Option<String>,
    kind: String,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    ms: Option<u64>,
    #[serde(default = "one")]
    count: u32,
    #[serde(default)]
    after: u32,
}

impl TryFrom<RawFaultSpec> for FaultSpec {
    type Error = String;

    fn try_from(raw: RawFaultSpec) -> Result<Self, Self::Error> {
        let kind = match (raw.kind.as_str(), raw.status, raw.ms) {
            ("status", Some(status), None) => FaultKind::Status { status },
            ("status", None, _) => return Err("fault kind \"status\" needs `status`".into()),
            ("proxy", Some(status), None) => FaultKind::Proxy { status },
            ("proxy", None, _) => return Err("fault kind \"proxy\" needs `status`".into()),
            ("latency", None, Some(ms)) => FaultKind::Latency { ms },
            ("latency", _, None) => return Err("fault kind \"latency\" needs `ms`".into()),
            ("slow_response", None, Some(ms)) => FaultKind::SlowResponse { ms },
            ("slow_response", _, None) => {
                return Err("fault kind \"slow_response\" needs `ms`".into());
            }
            ("drop", None, None) => FaultKind::Drop,
            ("truncate", None, None) => FaultKind::Truncate,
            ("malformed", None, None) => FaultKind::Malformed,
            (
                k @ ("status" | "proxy" | "latency" | "slow_response" | "drop" | "truncate"
                | "malformed"),
                _,
                _,
            ) => {
                return Err(format!(
                    "fault kind {k:?} takes {}",
                    match k {
                        "status" | "proxy" => "`status`, not `ms`",
                        "latency" | "slow_response" => "`ms`, not `status`",
                        _ => "neither `status` nor `ms`",
                    }
                ));
            }
            (k, _, _) => {
                return Err(format!(
                    "unknown fault kind {k:?}, expected one of status, proxy, latency, slow_response, drop, truncate, malformed"
                ));
            }
        };
        Ok(FaultSpec {
            route: raw.route,
            method: raw.method,
            kind,
            count: raw.count,
            after: raw.after,
        })
    }
}

/// Matches a request path against a fault route pattern.
pub fn route_matches(pattern: &str, path: &str) -> bool {
    let pat: Vec<&str> = pattern.trim_end_matches('/').split('/').collect();
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    for (i, p) in pat.iter().enumerate() {
        if *p == "**" {
            return true;
        }
        match segs.get(i) {
            Some(s) if *p == "*" || p == s => {}
            _ => return false,
        }
    }
    pat.len() == segs.len()
}

/// The armed faults and the base latency of one simulator.
#[derive(Debug, Clone, Default)]
pub struct Faults(Arc<Mutex<FaultState>>);

#[derive(Debug, Default)]
struct FaultState {
    armed: Vec<FaultSpec>,
    latency_ms: u64,
}

impl Faults {
    pub fn arm(&self, spec: FaultSpec) {
        lock(&self.0).armed.push(spec);
    }

    pub fn clear(&self) {
        let mut st = lock(&self.0);
        st.armed.clear();
        st.latency_ms = 0;
    }

    /// Base latency added to every request.
    pub fn set_latency_ms(&self, ms: u64) {
        lock(&self.0).latency_ms = ms;
    }

    pub fn armed(&self) -> Vec<FaultSpec> {
        lock(&self.0).armed.clone()
    }

    /// Takes the faults that apply to this request (consuming one use of each) and the
    /// base latency.
    fn take(&self, method: &str, path: &str) -> (u64, Vec<FaultKind>) {
        let mut st = lock(&self.0);
        let mut hits = Vec::new();
        for f in st.armed.iter_mut() {
            let method_ok = f
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method));
            if !method_ok || !route_matches(&f.route, path) || f.count == 0 {
                continue;
            }
            if f.after > 0 {
                f.after -= 1;
                continue;
            }
            f.count -= 1;
            hits.push(f.kind.clone());
        }
        st.armed.retain(|f| f.count > 0);
        (st.latency_ms, hits)
    }
}

/// How a simulator renders an error status into its own error format (Okta's error
/// object, or SCIM's), with the headers that go with it (429s carry rate-limit headers).
pub type ErrorRenderer = Arc<dyn Fn(StatusCode, &str) -> Response + Send + Sync>;

/// What the shared middleware needs from a simulator.
#[derive(Clone)]
pub struct SimCommon {
    pub log: RequestLog,
    pub faults: Faults,
    pub render_error: ErrorRenderer,
}

/// Middleware: logs every non-control request, applies latency and armed faults.
pub async fn sim_layer(State(common): State<SimCommon>, req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    if path.starts_with("/__sim") {
        return next.run(req).await;
    }
    let (latency_ms, faults) = common.faults.take(&method, &path);
    let mut latency = latency_ms;
    for f in &faults {
        if let FaultKind::Latency { ms } = f {
            latency += ms;
        }
    }
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    if let Some(status) = faults.iter().find_map(|f| match f {
        FaultKind::Status { status } => Some(*status),
        _ => None,
    }) {
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let resp = (common.render_error)(code, "injected fault");
        common
            .log
            .record(&method, &path, &query, resp.status().as_u16());
        return resp;
    }
    if let Some(status) = faults.iter().find_map(|f| match f {
        FaultKind::Proxy { status } => Some(*status),
        _ => None,
    }) {
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
        let page = format!(
            "<html><head><title>{code}</title></head><body><center><h1>{code}</h1></center>\
             <hr><center>nginx</center></body></html>\n"
        );
        common.log.record(&method, &path, &query, code.as_u16());
        return (
            code,
            [(axum::http::header::CONTENT_TYPE, "text/html")],
            page,
        )
            .into_response();
    }
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    common.log.record(&method, &path, &query, status);
    let slow: u64 = faults
        .iter()
        .map(|f| match f {
            FaultKind::SlowResponse { ms } => *ms,
            _ => 0,
        })
        .sum();
    if slow > 0 {
        tokio::time::sleep(Duration::from_millis(slow)).await;
    }
    let body_fault = faults.iter().find(|f| {
        matches!(
            f,
            FaultKind::Drop | FaultKind::Truncate | FaultKind::Malformed
        )
    });
    match body_fault {
        None => resp,
        Some(kind) => damage_body(resp, kind).await,
    }
}

async fn damage_body(resp: Response, kind: &FaultKind) -> Response {
    let (mut parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    match kind {
        FaultKind::Truncate => {
            let half = bytes.slice(0..bytes.len() / 2);
            Response::from_parts(parts, Body::from(half))
        }
        FaultKind::Malformed => {
            let junk = Bytes::from_static(b"<html><body>502 Bad Gateway (upstream sent garbage)");
            Response::from_parts(parts, Body::from(junk))
        }
        _ => {
            // Announce the full length, send half, then fail the stream: hyper aborts the
            // connection, which the client sees as a body read error.
            if let Ok(v) = HeaderValue::from_str(&bytes.len().to_string()) {
                parts.headers.insert(axum::http::header::CONTENT_LENGTH, v);
            }
            let half = bytes.slice(0..bytes.len() / 2);
            let stream = futures_util::stream::iter(vec![
                Ok::<Bytes, std::io::Error>(half),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "injected connection drop",
                )),
            ]);
            Response::from_parts(parts, Body::from_stream(stream))
        }
    }
}

/// Body of `POST /__sim/latency`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LatencyBody {
    ms: u64,
}

/// The control routes both simulators share: the request log, counters, faults.
pub fn control_routes(common: SimCommon) -> Router {
    Router::new()
        .route(
            "/__sim/requests",
            get(|State(c): State<SimCommon>| async move { Json(c.log.all()) }).delete(
                |State(c): State<SimCommon>| async move {
                    c.log.clear();
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .route(
            "/__sim/counters",
            get(|State(c): State<SimCommon>| async move { Json(c.log.counters()) }),
        )
        .route(
            "/__sim/faults",
            get(|State(c): State<SimCommon>| async move { Json(c.faults.armed()) })
                .post(
                    |State(c): State<SimCommon>, Json(spec): Json<FaultSpec>| async move {
                        c.faults.arm(spec);
                        StatusCode::NO_CONTENT
                    },
                )
                .delete(|State(c): State<SimCommon>| async move {
                    c.faults.clear();
                    StatusCode::NO_CONTENT
                }),
        )
        .route(
            "/__sim/latency",
            axum::routing::post(
                |State(c): State<SimCommon>, Json(b): Json<LatencyBody>| async move {
                    c.faults.set_latency_ms(b.ms);
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .with_state(common)
}

/// A fixed rate-limit window: `limit` requests per `window`, reset when the window ends.
#[derive(Debug, Clone)]
pub struct FixedWindow {
    pub limit: u32,
    pub window_secs: u64,
    started_at: u64,
    used: u32,
}

/// The outcome of asking a window for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowVerdict {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Epoch seconds when the window resets.
    pub reset_epoch: u64,
}

impl FixedWindow {
    pub fn new(limit: u32, window_secs: u64) -> Self {
        FixedWindow {
            limit,
            window_secs: window_secs.max(1),
            started_at: 0,
            used: 0,
        }
    }

    /// Counts one request at `now` (epoch seconds) if the window has room.
    pub fn acquire(&mut self, now: u64) -> WindowVerdict {
        if now >= self.started_at + self.window_secs {
            self.started_at = now;
            self.used = 0;
        }
        let allowed = self.used < self.limit;
        if allowed {
            self.used += 1;
        }
        WindowVerdict {
            allowed,
            limit: self.limit,
            remaining: self.limit.saturating_sub(self.used),
            reset_epoch: self.started_at + self.window_secs,
        }
    }
}

/// Binds a listener and serves `app` on it until `shutdown` is cancelled. Returns the
/// bound address (an ephemeral port when asked for port 0).
pub async fn serve(
    addr: std::net::SocketAddr,
    app: Router,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::io::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "simulator server stopped with an error");
        }
    });
    Ok(local)
}

/// A JSON response with a given status.
pub fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    (status, Json(body)).into_response()
}

#[cfg(test)]
mod tests;
