//! Simulated Okta org: the management API subset scim-sync and Okta's SDKs use (users,
//! the kafkaman app's users and groups, groups, the System Log), SSWS and OAuth 2.0
//! service-app auth, Okta's rate-limit buckets and headers, and its error bodies.
//!
//! Layers, outermost first: `edge` (concurrency and rate-limit buckets, `X-Rate-Limit-*`,
//! `Date`, `X-Okta-Request-Id` on every response), the shared `sim_layer` (request log,
//! injected faults), `auth` (SSWS / Bearer and scopes), then the routes. The control API
//! under `/__sim/` bypasses all three.

mod api;
mod buckets;

mod control;
mod dpop;
mod error;
pub mod filter;
mod oauth;
mod org;
mod render;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio_util::sync::CancellationToken;

use super::common::{
    ErrorRenderer, Faults, FixedWindow, LoggedRequest, RequestLog, SimCommon, control_routes,
    epoch_secs, lock, serve, sim_layer,
};
use super::scenario::{OktaRateLimits, OktaScenario, OktaUserSpec, ServiceAppSpec};
use buckets::{Bucket, Windows, bucket_for};
use error::OktaError;
use org::{Org, OrgError};

/// An error from an admin operation on the simulated org (unknown user, bad transition).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AdminError(pub String);

impl From<OrgError> for AdminError {
    fn from(e: OrgError) -> Self {
        AdminError(e.to_string())
    }
}

/// An access token issued by `/oauth2/v1/token`.
#[derive(Debug, Clone)]
struct BearerGrant {
    scopes: Vec<String>,
    expires_at: u64,
    /// DPoP-bound (`token_type: DPoP`): the thumbprint of the proof key (`cnf.jkt`).
    jkt: Option<String>,
}

/// Everything the handlers share.
struct Shared {
    org: Mutex<Org>,
    base_url: OnceLock<String>,
    ssws_tokens: Vec<String>,
    service_apps: Vec<ServiceAppSpec>,
    bearer: Mutex<HashMap<String, BearerGrant>>,
    /// `jti` values of accepted client assertions, with their `exp` (for pruning).
    used_jtis: Mutex<HashMap<String, u64>>,
    /// The token endpoint's current `DPoP-Nonce`.
    dpop_nonce: String,
    /// `jti` values of accepted DPoP proofs, with when they may be forgotten.
    used_proof_jtis: Mutex<HashMap<String, u64>>,
    /// Token requests that came without a DPoP proof (each is a failed grant in a real
    /// org's System Log when the app requires DPoP).
    proofless_token_requests: AtomicU32,
    /// This org's clock minus the host's, in milliseconds (also in `Org`).
    clock_offset_ms: Arc<std::sync::atomic::AtomicI64>,
    limits: OktaRateLimits,
    windows: Mutex<Windows>,
    in_flight: Arc<AtomicU32>,
    common: SimCommon,
    shutdown: CancellationToken,
}

impl Shared {
    /// Epoch seconds by this org's clock.
    fn now_secs(&self) -> u64 {
        let offset = self.clock_offset_ms.load(Ordering::Relaxed) / 1000;
        epoch_secs().saturating_add_signed(offset)
    }

    fn now_system(&self) -> std::time::SystemTime {
        let offset = self.clock_offset_ms.load(Ordering::Relaxed);
        let now = std::time::SystemTime::now();
        let by = std::time::Duration::from_millis(offset.unsigned_abs());
        if offset >= 0 { now + by } else { now - by }
    }

    fn base(&self) -> &str {
        self.base_url
            .get()
            .map(String::as_str)
            .unwrap_or("http://127.0.0.1")
    }
}

/// A running simulated Okta org.
pub struct OktaSim {
    shared: Arc<Shared>,
    url: String,
}

fn rate_headers(resp: &mut Response, limit: u32, remaining: u32, reset: u64) {
    let h = resp.headers_mut();
    for (name, value) in [
        ("x-rate-limit-limit", limit.to_string()),
        ("x-rate-limit-remaining", remaining.to_string()),
        ("x-rate-limit-reset", reset.to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
}

/// Decrements the in-flight counter when the request is done.
struct InFlight(Arc<AtomicU32>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Concurrency limit, rate-limit buckets and the headers every Okta response carries.
async fn edge(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if path.starts_with("/__sim") {
        return next.run(req).await;
    }
    let method = req.method().clone();
    let query = req.uri().query().unwrap_or("").to_string();
    let in_flight = s.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    let _guard = InFlight(s.in_flight.clone());
    let now = s.now_secs();
    let mut resp = if in_flight > s.limits.concurrency {
        tracing::debug!(%path, in_flight, "okta sim: concurrency limit exceeded");
        let mut r = OktaError::rate_limited().into_response();
        // A concurrency 429 says Limit 0 / Remaining 0; its Reset is only an estimate.
        rate_headers(&mut r, 0, 0, now + 1);
        s.common.log.record(method.as_str(), &path, &query, 429);
        r
    } else {
        let bucket = bucket_for(&method, &path);
        let verdict = lock(&s.windows).get(bucket).acquire(now);
        if verdict.allowed {
            let mut r = next.run(req).await;
            // An injected 429 looks like the bucket ran dry.
            let remaining = if r.status() == StatusCode::TOO_MANY_REQUESTS {
                0
            } else {
                verdict.remaining
            };
            rate_headers(&mut r, verdict.limit, remaining, verdict.reset_epoch);
            r
        } else {
            tracing::debug!(%path, ?bucket, "okta sim: rate limit exceeded");
            let mut r = OktaError::rate_limited().into_response();
            rate_headers(&mut r, verdict.limit, 0, verdict.reset_epoch);
            s.common.log.record(method.as_str(), &path, &query, 429);
            r
        }
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(s.now_system())) {
        h.insert(header::DATE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&org::random_base62(27)) {
        h.insert("x-okta-request-id", v);
    }
    resp
}

/// The scope an OAuth token needs for a path (read scopes for reads, manage otherwise).
fn required_scope(method: &Method, path: &str) -> Option<String> {
    let area = ["users", "apps", "groups", "logs"].into_iter().find(|a| {
        let p = format!("/api/v1/{a}");
        path == p || path.starts_with(&format!("{p}/"))
    })?;
    let action = if method == Method::GET || method == Method::HEAD {
        "read"
    } else {
        "manage"
    };
    Some(format!("okta.{area}.{action}"))
}

/// SSWS or Bearer authentication, and scope checks for Bearer tokens.
async fn auth(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path == "/oauth2/v1/token" {
        return next.run(req).await;
    }
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim()
        .to_string();
    let base = s.base().to_string();
    // Okta's Python SDK sends `SSWS<token>` without the space; Okta accepts both.
    if let Some(token) = given.strip_prefix("SSWS") {
        if !s.ssws_tokens.iter().any(|t| t == token.trim()) {
            return OktaError::invalid_token().into_response();
        }
    } else if let Some((scheme, token)) = given
        .strip_prefix("Bearer ")
        .map(|t| ("Bearer", t))
        .or_else(|| given.strip_prefix("DPoP ").map(|t| ("DPoP", t)))
    {
        let token = token.trim();
        let grant = lock(&s.bearer).get(token).cloned();
        let grant = match grant {
            Some(g) if g.expires_at > s.now_secs() => g,
            _ => {
                let mut e = OktaError::invalid_token();
                e.www_authenticate = Some(format!(
                    "{scheme} authorization_uri=\"{base}/oauth2/v1/authorize\", realm=\"{base}\", error=\"invalid_token\", error_description=\"The access token is invalid.\""
                ));
                return e.into_response();
            }
        };
        let scope = required_scope(req.method(), path);
        let dpop_refused = |why: &str| {
            let mut e = OktaError::dpop_refused();
            e.www_authenticate = Some(format!(
                "DPoP algs=\"{}\", authorization_uri=\"{base}/oauth2/v1/authorize\", realm=\"{base}\", scope=\"{}\", error=\"invalid_dpop_proof\", error_description=\"{why}\", resource=\"{path}\"",
                dpop::ALGS,
                scope.as_deref().unwrap_or("")
            ));
            e.into_response()
        };
        match (&grant.jkt, scheme) {
            // A DPoP-bound token used as a Bearer token.
            (Some(_), "Bearer") => return dpop_refused("The DPoP proof JWT header is missing."),
            (None, "DPoP") => {
                let mut e = OktaError::invalid_token();
                e.www_authenticate = Some(format!(
                    "Bearer authorization_uri=\"{base}/oauth2/v1/authorize\", realm=\"{base}\", error=\"invalid_token\", error_description=\"The access token is not a DPoP token.\""
                ));
                return e.into_response();
            }
            (Some(jkt), _) => {
                let Some(proof) = req.headers().get("dpop").and_then(|v| v.to_str().ok()) else {
                    return dpop_refused("The DPoP proof JWT header is missing.");
                };
                // Okta compares `htu` with the percent-decoded path (okta-sdk-python#541).
                let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
                let htu = format!("{base}{decoded}");
                let expect = dpop::Expect {
                    htm: req.method().as_str(),
                    htu: &htu,
                    access_token: Some(token),
                    now: s.now_secs(),
                };
                match dpop::verify(proof, &expect, &mut lock(&s.used_proof_jtis)) {
                    Ok(p) if &p.jkt != jkt => {
                        return dpop_refused(
                            "The DPoP proof JWT key doesn't match the access token.",
                        );
                    }
                    Ok(_) => {}
                    Err(why) => return dpop_refused(why),
                }
            }
            (None, _) => {}
        }
        if let Some(scope) = scope
            && !grant.scopes.contains(&scope)
        {
            let mut e = OktaError::forbidden();
            e.www_authenticate = Some(format!(
                "{scheme} authorization_uri=\"{base}/oauth2/v1/authorize\", realm=\"{base}\", scope=\"{scope}\", error=\"insufficient_scope\", error_description=\"The access token provided does not contain the required scopes.\""
            ));
            return e.into_response();
        }
    } else {
        return OktaError::invalid_token().into_response();
    }
    next.run(req).await
}

fn build_router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/api/v1/users", get(api::list_users))
        .route("/api/v1/users/{id}", get(api::get_user))
        .route("/api/v1/users/{id}/groups", get(api::list_user_groups))
        .route("/api/v1/apps/{app_id}", get(api::get_app))
        .route("/api/v1/apps/{app_id}/users", get(api::list_app_users))
        .route(
            "/api/v1/apps/{app_id}/users/{user_id}",
            get(api::get_app_user),
        )
        .route("/api/v1/apps/{app_id}/groups", get(api::list_app_groups))
        .route("/api/v1/groups", get(api::list_groups))
        .route("/api/v1/groups/{id}", get(api::get_group))
        .route("/api/v1/groups/{id}/users", get(api::list_group_users))
        .route("/api/v1/logs", get(api::list_logs))
        .route("/oauth2/v1/token", post(oauth::token))
        .fallback(|| async { OktaError::path_not_found() })
        .method_not_allowed_fallback(|| async { OktaError::method_not_allowed() })
        .with_state(shared.clone())
        .layer(from_fn_with_state(shared.clone(), auth))
        .layer(from_fn_with_state(shared.common.clone(), sim_layer))
        .layer(from_fn_with_state(shared.clone(), edge));
    control_routes(shared.common.clone())
        .merge(control::routes(shared))
        .merge(api)
}

impl OktaSim {
    pub async fn start(scenario: &OktaScenario, addr: SocketAddr) -> std::io::Result<OktaSim> {
        let org = Org::from_scenario(scenario)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
        let faults = Faults::default();
        for f in &scenario.faults {
            faults.arm(f.clone());
        }
        faults.set_latency_ms(scenario.latency_ms);
        let limits = scenario.rate_limits.clone();
        let (other_limit, window) = (limits.other, limits.window_secs.max(1));
        let clock_offset_ms = Arc::new(std::sync::atomic::AtomicI64::new(0));
        let offset = clock_offset_ms.clone();
        let render_error: ErrorRenderer = Arc::new(move |status: StatusCode, _msg: &str| {
            let mut r = OktaError::for_status(status).into_response();
            if status == StatusCode::TOO_MANY_REQUESTS {
                let now = epoch_secs().saturating_add_signed(offset.load(Ordering::Relaxed) / 1000);
                rate_headers(&mut r, other_limit, 0, now + window);
            }
            r
        });
        let common = SimCommon {
            log: RequestLog::default(),
            faults,
            render_error,
        };
        let w = |n: u32| FixedWindow::new(n, limits.window_secs);
        let shared = Arc::new(Shared {
            org: Mutex::new(org),
            base_url: OnceLock::new(),
            ssws_tokens: scenario.api_tokens.clone(),
            service_apps: scenario.service_apps.clone(),
            bearer: Mutex::new(HashMap::new()),
            used_jtis: Mutex::new(HashMap::new()),
            dpop_nonce: org::random_base62(32),
            used_proof_jtis: Mutex::new(HashMap::new()),
            proofless_token_requests: AtomicU32::new(0),
            clock_offset_ms: clock_offset_ms.clone(),
            windows: Mutex::new(Windows {
                apps: w(limits.apps),
                app: w(limits.app),
                users_list: w(limits.users_list),
                user: w(limits.user),
                groups: w(limits.groups),
                group: w(limits.group),
                logs: w(limits.logs),
                token: w(limits.token),
                other: w(limits.other),
            }),
            limits,
            in_flight: Arc::new(AtomicU32::new(0)),
            common,
            shutdown: CancellationToken::new(),
        });
        let app = build_router(shared.clone());
        let local = serve(addr, app, shared.shutdown.clone()).await?;
        let host = if local.ip().is_unspecified() {
            SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), local.port())
        } else {
            local
        };
        let url = format!("http://{host}");
        // Set once, right after bind and before anyone knows the port.
        let _ = shared.base_url.set(url.clone());
        tracing::info!(%url, app_id = %scenario.app_id, users = scenario.users.len(), "okta sim started");
        Ok(OktaSim { shared, url })
    }

    /// Base URL, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn url(&self) -> String {
        self.url.clone()
    }
    /// The first SSWS API token of the scenario.
    pub fn api_token(&self) -> String {
        self.shared.ssws_tokens.first().cloned().unwrap_or_default()
    }
    pub fn app_id(&self) -> String {
        lock(&self.shared.org).app_id.clone()
    }
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.common.log.all()
    }
    pub fn log(&self) -> &RequestLog {
        &self.shared.common.log
    }
    pub fn faults(&self) -> &Faults {
        &self.shared.common.faults
    }
    pub fn shutdown(&self) {
        self.shared.shutdown.cancel();
    }
    /// Appends a System Log event of `event_type` with these targets, as Okta's spec
    /// allows them (no `LogTarget` field is required: a target may lack `id` or `type`).
    pub fn emit_event(&self, event_type: &str, targets: Vec<serde_json::Value>) {
        let mut org = lock(&self.shared.org);
        let at = org.now();
        org.emit_raw(at, event_type, targets);
    }

    /// Sets this org's clock this far from the host's (positive: Okta is ahead): its
    /// `Date`, token and proof checks, rate windows and System Log times follow it.
    pub fn set_clock_offset(&self, offset: chrono::Duration) {
        lock(&self.shared.org).clock_offset = offset;
        self.shared
            .clock_offset_ms
            .store(offset.num_milliseconds(), Ordering::Relaxed);
    }

    /// Another client of the org (a SIEM, another integration) spends `n` requests of
    /// the app users' bucket (`/api/v1/apps*`) in its current window: Okta's headers
    /// count the whole org, so they show it.
    pub fn spend_apps_bucket(&self, n: u32) {
        let now = self.shared.now_secs();
        let mut windows = lock(&self.shared.windows);
        for _ in 0..n {
            windows.get(Bucket::Apps).acquire(now);
        }
    }

    /// How many token requests came without a DPoP proof.
    pub fn proofless_token_requests(&self) -> u32 {
        self.shared
            .proofless_token_requests
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The token endpoint a service app's assertion must name as `aud`.
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/v1/token", self.url)
    }
    /// Whole state as JSON (same as `GET /__sim/state`).
    pub fn state_json(&self) -> serde_json::Value {
        control::state_json(&self.shared)
    }
    /// Id of a user by login (case-insensitive) or id.
    pub fn user_id(&self, login_or_id: &str) -> Option<String> {
        lock(&self.shared.org).resolve_user(login_or_id)
    }
    pub fn group_id(&self, name_or_id: &str) -> Option<String> {
        lock(&self.shared.org).resolve_group(name_or_id)
    }
    /// Every System Log event persisted so far, in persistence order (the polling
    /// order), as `GET /api/v1/logs` renders them: also those not visible yet.
    pub fn log_events(&self) -> Vec<serde_json::Value> {
        lock(&self.shared.org)
            .log
            .iter()
            .map(|e| e.event.clone())
            .collect()
    }
    /// System Log eventual consistency: events of changes made from now on become
    /// visible to `/api/v1/logs` this long after the change (capped at a day). Polling
    /// stops at the first event not visible yet, so later events wait behind it.
    pub fn set_log_delay(&self, delay: std::time::Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        lock(&self.shared.org).log_delay = chrono::Duration::milliseconds(org::ms_i64(ms));
    }
    /// Events of changes made from now on get a `published` up to this much before the
    /// change (at random), so `published` need not follow the polling order.
    pub fn set_log_jitter(&self, jitter: std::time::Duration) {
        let ms = u64::try_from(jitter.as_millis()).unwrap_or(u64::MAX);
        lock(&self.shared.org).log_jitter = chrono::Duration::milliseconds(org::ms_i64(ms));
    }
    // Admin operations: `user`/`group` accept an id, a login / a group name. Each emits
    // the System Log events the real org emits and bumps timestamps the same way.
    pub fn create_user(&self, spec: OktaUserSpec) -> Result<String, AdminError> {
        Ok(lock(&self.shared.org).create_user(&spec)?)
    }
    pub fn update_profile(
        &self,
        user: &str,
        changes: serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), AdminError> {
        Ok(lock(&self.shared.org).update_profile(user, &changes)?)
    }
    pub fn deactivate_user(&self, user: &str) -> Result<(), AdminError> {
        Ok(lock(&self.shared.org).deactivate_user(user)?)
    }
    /// Deletes a DEPROVISIONED user for good (`user.lifecycle.delete.initiated` and
    /// `.completed`); deactivate first, as in Okta.
    pub fn delete_user(&self, user: &str) -> Result<(), AdminError> {
        Ok(lock(&self.shared.org).delete_user(user)?)
    }
    /// STAGED or DEPROVISIONED -> ACTIVE (Okta's `activate`; this is how a deactivated
    /// user comes back).
    pub fn activate_user(&self, user: &str) -> Result<(), AdminError> {
        Ok(lock(&self.shared.org).activate_user(user)?)
    }
    /// PROVISIONED or RECOVERY -> ACTIVE (Okta's `reactivate`).
    pub fn reactivate_user(&self, user: &str) -> Result<(), AdminError> {
        Ok(lock(&self.shared.org).reactivate_user(user)?)
    }
    pub fn suspend_user(&self, user: &str) -> Result<(), AdminError> {
        Ok(lock(&self.shared.org).suspend_user(user)?)
    }
    pub fn unsuspend_user(&self, user: &str) -> Result<(), AdminError> {
        Ok(lock(&self.shared.org).unsuspend_user(user)?)
    }
    pub fn assign_user(&self, user: &str) -> Result<(), AdminError> {
        Ok(lock(&self.shared.org).assign_user(user)?)
    }
    pub fn unassign_user(&self, user: &str) -> Result<(), AdminError> {
        Ok(lock(&self.shared.org).unassign_user(user)?)
    }
    pub fn assign_group(&self, group: &str) -> Result<(), AdminError> {
        Ok(lock(&self.shared.org).assign_group(group)?)
    }
    pub fn unassign_group(&self, group: &str) -> Result<(), AdminError> {
        Ok(lock(&self.shared.org).unassign_group(group)?)
    }
    pub fn add_group_member(&self, group: &str, user: &str) -> Result<(), AdminError> {
        Ok(lock(&self.shared.org).add_group_member(group, user)?)
    }
    pub fn remove_group_member(&self, group: &str, user: &str) -> Result<(), AdminError> {
        Ok(lock(&self.shared.org).remove_group_member(group, user)?)
    }
    /// Sets (or clears) the AppUser's `externalId`: its status turns PROVISIONED (ACTIVE
    /// when cleared). The app has no Okta-side provisioning, so only this sets it.
    pub fn set_external_id(&self, user: &str, external_id: Option<&str>) -> Result<(), AdminError> {
        Ok(lock(&self.shared.org).set_external_id(user, external_id.map(str::to_string))?)
    }
}
