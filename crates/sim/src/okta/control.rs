//! Control API under `/__sim/`: the whole state, and the admin actions a person would do
//! in Okta's Admin Console (each logs System Log events like the real org).

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::Shared;
use chrono::Duration;

use super::org::{OrgError, fmt_ts, ms_i64};
use super::render;
use crate::common::lock;
use crate::scenario::OktaUserSpec;

pub fn state_json(s: &Shared) -> Value {
    let org = lock(&s.org);
    let base = s.base();
    let users: Vec<Value> = org
        .users
        .values()
        .map(|u| render::user(u, base, false))
        .collect();
    let groups: Vec<Value> = org
        .groups
        .values()
        .map(|g| {
            let apps = usize::from(org.group_assignments.contains_key(&g.id));
            let mut v = render::group(g, base, false, apps);
            v["members"] = json!(g.members);
            v
        })
        .collect();
    let app_users: Vec<Value> = org
        .app_users
        .iter()
        .filter_map(|(uid, row)| {
            org.users
                .get(uid)
                .map(|u| render::app_user(&org, u, row, base, false))
        })
        .collect();
    let group_assignments: Vec<Value> = org
        .group_assignments
        .iter()
        .map(|(gid, a)| json!({"id": gid, "priority": a.priority, "lastUpdated": fmt_ts(&a.last_updated)}))
        .collect();
    json!({
        "app": render::application(&org, base),
        "users": users,
        "groups": groups,
        "assignments": {
            "users": org.direct,
            "groups": group_assignments,
        },
        "app_users": app_users,
        "system_log": org.log.iter().map(|e| e.event.clone()).collect::<Vec<_>>(),
        "log_delay_ms": org.log_delay.num_milliseconds(),
        "log_jitter_ms": org.log_jitter.num_milliseconds(),
        "proofless_token_requests": s
            .proofless_token_requests
            .load(std::sync::atomic::Ordering::Relaxed),
    })
}

fn result(r: Result<(), OrgError>) -> Response {
    match r {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => error(e),
    }
}

fn error(e: OrgError) -> Response {
    let status = match e {
        OrgError::NotFound(_) => StatusCode::NOT_FOUND,
        OrgError::Conflict(_) => StatusCode::CONFLICT,
    };
    (status, Json(json!({ "error": e.to_string() }))).into_response()
}

/// `{"ms": n}` for the System Log timing routes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MsBody {
    ms: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExternalIdBody {
    #[serde(rename = "externalId")]
    external_id: Option<String>,
}

pub fn routes(shared: Arc<Shared>) -> Router {
    type S = State<Arc<Shared>>;
    Router::new()
        .route(
            "/__sim/state",
            get(|State(s): S| async move { Json(state_json(&s)) }),
        )
        .route(
            "/__sim/users",
            post(|State(s): S, Json(spec): Json<OktaUserSpec>| async move {
                match lock(&s.org).create_user(&spec) {
                    Ok(id) => (StatusCode::CREATED, Json(json!({ "id": id }))).into_response(),
                    Err(e) => error(e),
                }
            }),
        )
        .route(
            "/__sim/users/{user}/profile",
            post(
                |State(s): S, Path(user): Path<String>, Json(changes): Json<Map<String, Value>>| async move {
                    result(lock(&s.org).update_profile(&user, &changes))
                },
            ),
        )
        .route(
            "/__sim/users/{user}/lifecycle/{op}",
            post(|State(s): S, Path((user, op)): Path<(String, String)>| async move {
                let mut org = lock(&s.org);
                let r = match op.as_str() {
                    "activate" => org.activate_user(&user),
                    "deactivate" => org.deactivate_user(&user),
                    "suspend" => org.suspend_user(&user),
                    "unsuspend" => org.unsuspend_user(&user),
                    "reactivate" => org.reactivate_user(&user),
                    "delete" => org.delete_user(&user),
                    other => Err(OrgError::NotFound(format!("no lifecycle operation {other}"))),
                };
                result(r)
            }),
        )
        .route(
            "/__sim/app/users/{user}",
            post(|State(s): S, Path(user): Path<String>| async move {
                result(lock(&s.org).assign_user(&user))
            })
            .delete(|State(s): S, Path(user): Path<String>| async move {
                result(lock(&s.org).unassign_user(&user))
            }),
        )
        .route(
            "/__sim/app/users/{user}/external_id",
            put(
                |State(s): S, Path(user): Path<String>, Json(b): Json<ExternalIdBody>| async move {
                    result(lock(&s.org).set_external_id(&user, b.external_id))
                },
            ),
        )
        .route(
            "/__sim/app/groups/{group}",
            post(|State(s): S, Path(group): Path<String>| async move {
                result(lock(&s.org).assign_group(&group))
            })
            .delete(|State(s): S, Path(group): Path<String>| async move {
                result(lock(&s.org).unassign_group(&group))
            }),
        )
        .route(
            "/__sim/groups/{group}/members/{user}",
            post(|State(s): S, Path((group, user)): Path<(String, String)>| async move {
                result(lock(&s.org).add_group_member(&group, &user))
            })
            .delete(|State(s): S, Path((group, user)): Path<(String, String)>| async move {
                result(lock(&s.org).remove_group_member(&group, &user))
            }),
        )
        .route(
            "/__sim/log_delay",
            post(|State(s): S, Json(b): Json<MsBody>| async move {
                lock(&s.org).log_delay = Duration::milliseconds(ms_i64(b.ms));
                StatusCode::NO_CONTENT
            }),
        )
        .route(
            "/__sim/log_jitter",
            post(|State(s): S, Json(b): Json<MsBody>| async move {
                lock(&s.org).log_jitter = Duration::milliseconds(ms_i64(b.ms));
                StatusCode::NO_CONTENT
            }),
        )
        .with_state(shared)
}
