//! Simulated kafkaman team: SCIM 2.0 under `/scim/v2` and the team invites API under
//! `/api/v1/team`, as `/work/shared/reference/kafkaman-api.md` describes them (RFC 7644
//! where the contract is silent). Control routes live under `/__sim/`; the same
//! operations are methods of [`KafkamanSim`]. Behaviour: `docs/sim-kafkaman.md`.

mod control;
mod discovery;
mod http;
mod scim;
mod team;
pub use team::Compat;
mod team_api;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::post;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::common::{self, Faults, LoggedRequest, RequestLog, SimCommon, lock};
use super::scenario::{KafkamanScenario, MemberSpec};
use http::{Shared, method_not_allowed};

/// An error from an admin operation on the simulated team.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AdminError(pub String);

/// A team member as the simulator holds it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MemberView {
    pub id: String,
    pub user_name: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub external_id: Option<String>,
    pub active: bool,
    /// `active`, `invited` or `deactivated`.
    pub membership: String,
    pub role: String,
    /// `meta.lastModified` as rendered (RFC 3339, milliseconds, kafkaman's clock).
    pub last_modified: String,
}

/// What a team admin changes on a member by hand in kafkaman's UI
/// ([`KafkamanSim::update_member`], `POST /__sim/members/update`). `None` leaves a field
/// as it is.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MemberUpdate {
    #[serde(default)]
    pub given_name: Option<String>,
    #[serde(default)]
    pub family_name: Option<String>,
    /// `false` deactivates (removes from the team, frees the seat); `true` reactivates
    /// (needs a free seat).
    #[serde(default)]
    pub active: Option<bool>,
    #[serde(default)]
    pub role: Option<String>,
}

/// A team invite as the simulator holds it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InviteView {
    pub id: String,
    pub email: String,
    pub source: String,
    /// `pending`, `accepted`, `revoked`.
    pub status: String,
    pub invited_by: Option<String>,
}

/// A running simulated kafkaman team.
pub struct KafkamanSim {
    shared: Shared,
    url: String,
    log: RequestLog,
    faults: Faults,
    shutdown: CancellationToken,
}

/// The whole state as JSON (`GET /__sim/state`). Key tokens are not included.
fn state_json(s: &Shared) -> serde_json::Value {
    let team = lock(&s.team);
    let (used, total) = team.seats();
    json!({
        "scim_enabled": team.scim_enabled,
        "seats": {"used": used, "total": total},
        "keys": team.keys().iter().map(|k| json!({
            "name": k.name,
            "status": if k.active { "ACTIVE" } else { "REVOKED" },
        })).collect::<Vec<_>>(),
        "members": team.members().iter().map(|m| m.view()).collect::<Vec<_>>(),
        "invites": team.invites().iter().map(|i| i.view()).collect::<Vec<_>>(),
        "outside_accounts": team.outside_accounts().collect::<Vec<_>>(),
    })
}

/// A method router whose unsupported methods get a 405 in the path's API format.
fn only(allow: &'static str, detail: &'static str) -> axum::routing::MethodRouter<Shared> {
    axum::routing::MethodRouter::new().fallback(move |uri: axum::http::Uri| async move {
        method_not_allowed(uri.path(), allow, detail)
    })
}

fn discovery_only() -> axum::routing::MethodRouter<Shared> {
    only("GET", "Discovery endpoints are read-only")
}

fn api_routes(shared: Shared) -> Router {
    let unsupported = "Method not supported on this endpoint";
    Router::new()
        .route(
            "/scim/v2/ServiceProviderConfig",
            discovery_only().get(scim::service_provider_config),
        )
        .route(
            "/scim/v2/ResourceTypes",
            discovery_only().get(scim::resource_types),
        )
        .route(
            "/scim/v2/ResourceTypes/{id}",
            discovery_only().get(scim::resource_type),
        )
        .route("/scim/v2/Schemas", discovery_only().get(scim::schemas))
        .route("/scim/v2/Schemas/{id}", discovery_only().get(scim::schema))
        .route(
            "/scim/v2/Users",
            only("GET, POST", unsupported)
                .get(scim::list_users)
                .post(scim::create_user),
        )
        .route("/scim/v2/Users/.search", post(scim::search_not_supported))
        .route("/scim/v2/.search", post(scim::search_not_supported))
        .route(
            "/scim/v2/Users/{id}",
            only("GET, PUT, PATCH", unsupported)
                .get(scim::get_user)
                .put(scim::replace_user)
                .patch(scim::patch_user)
                .delete(scim::delete_user),
        )
        .route(
            "/api/v1/team/invites",
            only("GET", unsupported).get(team_api::list_invites),
        )
        .route(
            "/api/v1/team/invites/{id}",
            only("DELETE", unsupported).delete(team_api::delete_invite),
        )
        .fallback(scim::not_found)
        .layer(from_fn_with_state(shared.clone(), http::guard))
        .with_state(shared)
}

impl KafkamanSim {
    pub async fn start(
        scenario: &KafkamanScenario,
        addr: SocketAddr,
    ) -> std::io::Result<KafkamanSim> {
        let team = team::Team::from_scenario(scenario)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.0))?;
        let faults = Faults::default();
        faults.set_latency_ms(scenario.latency_ms);
        for f in &scenario.faults {
            faults.arm(f.clone());
        }
        let log = RequestLog::default();
        let limit = scenario.rate_limit.requests;
        let common = SimCommon {
            log: log.clone(),
            faults: faults.clone(),
            render_error: Arc::new(move |status, msg| http::render_injected(status, msg, limit)),
        };
        // The bound address is only known once serving; `meta.location` normally comes
        // from the Host header, this is the fallback.
        let shared = Shared {
            team: Arc::new(Mutex::new(team)),
            base_url: Arc::new(std::sync::OnceLock::new()),
        };
        let app = api_routes(shared.clone())
            .merge(common::control_routes(common.clone()))
            .merge(control::routes(shared.clone()))
            .layer(from_fn_with_state(common, common::sim_layer))
            .layer(from_fn(http::request_id));
        let shutdown = CancellationToken::new();
        let bound = common::serve(addr, app, shutdown.clone()).await?;
        let url = base_url(bound);
        // Set once, right here, before anyone knows the address: can't already be set.
        let _ = shared.base_url.set(url.clone());
        tracing::info!(url = %url, "simulated kafkaman listening");
        Ok(KafkamanSim {
            shared,
            url,
            log,
            faults,
            shutdown,
        })
    }
    /// Base URL, e.g. `http://127.0.0.1:41235` (no trailing slash); SCIM is under `/scim/v2`.
    pub fn url(&self) -> String {
        self.url.clone()
    }
    /// The first ACTIVE key's token.
    pub fn api_key(&self) -> String {
        lock(&self.shared.team)
            .keys()
            .iter()
            .find(|k| k.active)
            .map(|k| k.token.clone())
            .unwrap_or_default()
    }
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.log.all()
    }
    pub fn log(&self) -> &RequestLog {
        &self.log
    }
    pub fn faults(&self) -> &Faults {
        &self.faults
    }
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }
    pub fn state_json(&self) -> serde_json::Value {
        state_json(&self.shared)
    }
    pub fn members(&self) -> Vec<MemberView> {
        lock(&self.shared.team)
            .members()
            .iter()
            .map(|m| m.view())
            .collect()
    }
    /// Member by email, case-insensitive.
    pub fn member(&self, email: &str) -> Option<MemberView> {
        let team = lock(&self.shared.team);
        team.index_of_user_name(email)
            .map(|i| team.member_at(i).view())
    }
    pub fn invites(&self) -> Vec<InviteView> {
        lock(&self.shared.team)
            .invites()
            .iter()
            .map(|i| i.view())
            .collect()
    }
    pub fn add_member(&self, spec: MemberSpec) -> Result<String, AdminError> {
        let mut team = lock(&self.shared.team);
        let now = team.now();
        team.add_member(spec, now)
    }
    /// A team admin changes a member by hand (name, role, deactivate, reactivate); see
    /// [`MemberUpdate`].
    pub fn update_member(&self, email: &str, update: MemberUpdate) -> Result<(), AdminError> {
        let mut team = lock(&self.shared.team);
        let now = team.now();
        team.update_member(email, update, now)
    }
    pub fn add_outside_account(&self, email: &str) {
        lock(&self.shared.team).add_outside_account(email);
    }
    /// Adds a pending invite; returns its id.
    pub fn add_invite(&self, email: &str, source: &str) -> Result<String, AdminError> {
        let mut team = lock(&self.shared.team);
        let now = team.now();
        team.add_invite_at(email, source, None, now)
    }
    /// The invited person accepts their pending invite (an `invited` member turns `active`).
    pub fn accept_invite(&self, email: &str) -> Result<(), AdminError> {
        let mut team = lock(&self.shared.team);
        let now = team.now();
        team.accept_invite(email, now)
    }
    pub fn set_seats(&self, seats: u32) {
        lock(&self.shared.team).set_seats(seats);
    }
    /// (seats used, seats total)
    pub fn seats(&self) -> (u32, u32) {
        lock(&self.shared.team).seats()
    }
    /// Adds an ACTIVE key; returns its token.
    pub fn add_key(&self, name: &str) -> String {
        lock(&self.shared.team).add_key(name)
    }
    /// Revokes a key by name or token.
    pub fn revoke_key(&self, name_or_token: &str) -> Result<(), AdminError> {
        lock(&self.shared.team).revoke_key(name_or_token)
    }
    pub fn set_scim_enabled(&self, enabled: bool) {
        lock(&self.shared.team).scim_enabled = enabled;
    }
    /// Makes it answer like another RFC 7644 service provider (see [`Compat`]).
    pub fn set_compat(&self, compat: Compat) {
        lock(&self.shared.team).compat = compat;
    }
    /// Sets kafkaman's clock to the local one plus `offset` (negative: behind). It dates
    /// every change (`meta.created`, `meta.lastModified`, invites' `createdAt`) and the
    /// `Date` header of API responses.
    pub fn set_clock_offset(&self, offset: chrono::Duration) {
        lock(&self.shared.team).set_clock_offset(offset);
    }
    /// kafkaman's clock now (milliseconds).
    pub fn now(&self) -> chrono::DateTime<Utc> {
        lock(&self.shared.team).now()
    }
}

/// `http://ip:port`, with an unspecified listen address (0.0.0.0, ::) shown as loopback.
fn base_url(addr: SocketAddr) -> String {
    let ip = if addr.ip().is_unspecified() {
        match addr {
            SocketAddr::V4(_) => std::net::IpAddr::from([127, 0, 0, 1]),
            SocketAddr::V6(_) => std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        }
    } else {
        addr.ip()
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}
