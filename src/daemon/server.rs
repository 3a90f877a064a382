//! The optional HTTP listener: `/healthz` (JSON, 200 or 503), `/metrics` (Prometheus
//! text format), and at `/` a plain-text page naming the version and these endpoints.
//!
//! The listener must never starve the cycles of file descriptors (reading a secret or
//! opening a connection to Okta needs one), so every connection is bounded: at most
//! [`MAX_CONNECTIONS`] at once (more are closed as soon as they are accepted), the
//! request headers must arrive within [`HEADER_READ_TIMEOUT`], and no connection lives
//! longer than [`CONNECTION_LIFETIME`]. axum's own `serve` offers neither a cap nor a
//! header timeout, hence the accept loop here.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use super::health::Status;

#[derive(Clone)]
struct AppState {
    status: Arc<Mutex<Status>>,
    metrics: Option<PrometheusHandle>,
}

/// Most connections served at once: a monitoring agent needs one or two, and 32 is far
/// below any descriptor limit (systemd's default soft limit is 1,024).
pub const MAX_CONNECTIONS: u32 = 32;
/// Time a client has to send its request headers, counted from the start of the
/// connection and, on a kept-alive connection, from the end of the previous response:
/// hyper (1.x, `proto/h1/conn.rs`) re-arms this timer whenever it waits for a request
/// head, so it is the idle (keep-alive) timeout too.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a connection is kept, whatever it does (a slow reader of `/metrics`).
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(30);
/// Pause after a failed accept: out of descriptors, retrying at once would spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// At most one warning per this period about refused connections or failed accepts: a
/// flood must not flood the journal too.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// Serves until `shutdown` fires, then lets the responses in flight finish (idle
/// connections are closed); the caller bounds that wait.
pub async fn serve(
    listener: TcpListener,
    status: Arc<Mutex<Status>>,
    metrics: Option<PrometheusHandle>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/", get(index))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .with_state(AppState { status, metrics });
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS as usize));
    let mut refused = Throttled::default();
    let mut failed = Throttled::default();
    loop {
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // EMFILE and the like: the connection stays in the backlog; keep
                    // serving the others once descriptors are back.
                    if let Some(count) = failed.tick() {
                        tracing::warn!(
                            error = %e,
                            count,
                            "the /healthz listener cannot accept connections"
                        );
                    }
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        // Past the cap the connection is closed at once (dropped), so its descriptor is
        // back before a cycle needs one.
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            if let Some(count) = refused.tick() {
                tracing::warn!(
                    %peer,
                    count,
                    max_connections = MAX_CONNECTIONS,
                    "the /healthz listener is at its connection cap; closing new connections"
                );
            }
            drop(stream);
            continue;
        };
        tokio::spawn(serve_connection(
            stream,
            peer,
            app.clone(),
            slot,
            shutdown.clone(),
        ));
    }
    drop(listener);
    // Every slot back means every connection is done. The semaphore is never closed, so
    // this cannot fail; the daemon bounds the wait.
    let _all = slots.acquire_many(MAX_CONNECTIONS).await;
    Ok(())
}

/// One connection, holding its `slot` until it ends.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    _slot: OwnedSemaphorePermit,
    shutdown: CancellationToken,
) {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let connection = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
    let mut connection = std::pin::pin!(connection);
    let served = tokio::time::timeout(CONNECTION_LIFETIME, async {
        tokio::select! {
            done = connection.as_mut() => done,
            () = shutdown.cancelled() => {
                // Finish the response in flight, if any; an idle connection closes.
                connection.as_mut().graceful_shutdown();
                connection.as_mut().await
            }
        }
    })
    .await;
    match served {
        Ok(Ok(())) => {}
        // Header timeouts, resets: the client's business, not an operator's.
        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "a /healthz connection failed"),
        Err(_) => tracing::debug!(
            %peer,
            lifetime_secs = CONNECTION_LIFETIME.as_secs(),
            "a /healthz connection outlived its lifetime and was closed"
        ),
    }
}

/// Counts events and says when to log them: the first at once, then at most one per
/// [`WARN_EVERY`], with the count since the previous one.
#[derive(Default)]
struct Throttled {
    count: u64,
    last: Option<Instant>,
}

impl Throttled {
    fn tick(&mut self) -> Option<u64> {
        self.count += 1;
        let now = Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < WARN_EVERY)
        {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.count))
    }
}

/// What a person who opens the listener's address in a browser or with curl reads.
fn index_text() -> String {
    format!(
        "scim-sync {}\n\
         Keeps a kafkaman team in step with the users assigned to the kafkaman app in Okta.\n\
         \n\
         GET /healthz   health as JSON: 200 while the sync works, 503 when it has stopped working\n\
         GET /metrics   Prometheus metrics (text format)\n",
        crate::build_info::LONG_VERSION
    )
}

async fn index() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        index_text(),
    )
        .into_response()
}

async fn healthz(State(state): State<AppState>) -> Response {
    let health = crate::http::lock(&state.status).health(chrono::Utc::now());
    let code = if health.healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(health)).into_response()
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    match &state.metrics {
        Some(handle) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            handle.render(),
        )
            .into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics are unavailable: another metrics recorder was installed first\n",
        )
            .into_response(),
    }
}
