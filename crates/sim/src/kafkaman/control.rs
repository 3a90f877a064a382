//! kafkaman's own control routes under `/__sim/` (the shared ones come from
//! `common::control_routes`): state, and the admin operations of [`super::KafkamanSim`].

use super::{Compat, MemberUpdate};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::common::lock;
use crate::scenario::MemberSpec;

use super::AdminError;
use super::http::{Shared, no_content};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmailBody {
    email: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InviteBody {
    email: String,
    #[serde(default = "admin")]
    source: String,
    #[serde(default)]
    invited_by: Option<String>,
}

fn admin() -> String {
    "admin".to_string()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeatsBody {
    seats: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyBody {
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    /// A key's name or token.
    key: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScimBody {
    enabled: bool,
}

/// `POST /__sim/members/update`: the member's email and a [`MemberUpdate`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    email: String,
    #[serde(default)]
    given_name: Option<String>,
    #[serde(default)]
    family_name: Option<String>,
    #[serde(default)]
    active: Option<bool>,
    #[serde(default)]
    role: Option<String>,
}

/// How far kafkaman's clock may be moved from the local one.
const MAX_CLOCK_OFFSET_DAYS: i64 = 3650;

/// `POST /__sim/clock`: kafkaman's clock minus the local one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockBody {
    offset_ms: i64,
}

fn admin_error(e: AdminError) -> Response {
    (StatusCode::CONFLICT, Json(json!({"error": e.0}))).into_response()
}

pub(super) fn routes(shared: Shared) -> Router {
    Router::new()
        .route(
            "/__sim/state",
            get(|State(s): State<Shared>| async move { Json(super::state_json(&s)) }),
        )
        .route(
            "/__sim/members",
            post(
                |State(s): State<Shared>, Json(spec): Json<MemberSpec>| async move {
                    let mut team = lock(&s.team);
                    let now = team.now();
                    match team.add_member(spec, now) {
                        Ok(id) => (StatusCode::CREATED, Json(json!({"id": id}))).into_response(),
                        Err(e) => admin_error(e),
                    }
                },
            ),
        )
        .route(
            "/__sim/members/update",
            post(
                |State(s): State<Shared>, Json(b): Json<UpdateBody>| async move {
                    let update = MemberUpdate {
                        given_name: b.given_name,
                        family_name: b.family_name,
                        active: b.active,
                        role: b.role,
                    };
                    let mut team = lock(&s.team);
                    let now = team.now();
                    match team.update_member(&b.email, update, now) {
                        Ok(()) => no_content(),
                        Err(e) => admin_error(e),
                    }
                },
            ),
        )
        .route(
            "/__sim/outside_accounts",
            post(
                |State(s): State<Shared>, Json(b): Json<EmailBody>| async move {
                    lock(&s.team).add_outside_account(&b.email);
                    no_content()
                },
            ),
        )
        .route(
            "/__sim/invites",
            post(
                |State(s): State<Shared>, Json(b): Json<InviteBody>| async move {
                    let mut team = lock(&s.team);
                    let now = team.now();
                    let added = team.add_invite_at(&b.email, &b.source, b.invited_by, now);
                    match added {
                        Ok(id) => (StatusCode::CREATED, Json(json!({"id": id}))).into_response(),
                        Err(e) => admin_error(e),
                    }
                },
            ),
        )
        .route(
            "/__sim/invites/accept",
            post(
                |State(s): State<Shared>, Json(b): Json<EmailBody>| async move {
                    let mut team = lock(&s.team);
                    let now = team.now();
                    match team.accept_invite(&b.email, now) {
                        Ok(()) => no_content(),
                        Err(e) => admin_error(e),
                    }
                },
            ),
        )
        .route(
            "/__sim/seats",
            post(
                |State(s): State<Shared>, Json(b): Json<SeatsBody>| async move {
                    lock(&s.team).set_seats(b.seats);
                    no_content()
                },
            ),
        )
        .route(
            "/__sim/keys",
            post(
                |State(s): State<Shared>, Json(b): Json<KeyBody>| async move {
                    let token = lock(&s.team).add_key(&b.name);
                    (StatusCode::CREATED, Json(json!({"token": token}))).into_response()
                },
            ),
        )
        .route(
            "/__sim/keys/revoke",
            post(
                |State(s): State<Shared>, Json(b): Json<RevokeBody>| async move {
                    match lock(&s.team).revoke_key(&b.key) {
                        Ok(()) => no_content(),
                        Err(e) => admin_error(e),
                    }
                },
            ),
        )
        .route(
            "/__sim/compat",
            post(
                |State(s): State<Shared>, Json(b): Json<Compat>| async move {
                    lock(&s.team).compat = b;
                    no_content()
                },
            ),
        )
        .route(
            "/__sim/clock",
            post(
                |State(s): State<Shared>, Json(b): Json<ClockBody>| async move {
                    match chrono::Duration::try_milliseconds(b.offset_ms)
                        .filter(|d| d.num_days().abs() <= MAX_CLOCK_OFFSET_DAYS)
                    {
                        Some(offset) => {
                            lock(&s.team).set_clock_offset(offset);
                            no_content()
                        }
                        None => (
                            StatusCode::BAD_REQUEST,
                            Json(json!({"error": format!(
                                "offset_ms must be within {MAX_CLOCK_OFFSET_DAYS} days"
                            )})),
                        )
                            .into_response(),
                    }
                },
            ),
        )
        .route(
            "/__sim/scim",
            post(
                |State(s): State<Shared>, Json(b): Json<ScimBody>| async move {
                    lock(&s.team).scim_enabled = b.enabled;
                    no_content()
                },
            ),
        )
        .with_state(shared)
}
