//! `/api/v1/apps/{appId}`: the app, its users and its groups.

use super::*;

fn check_app(s: &Shared, app_id: &str) -> Result<(), OktaError> {
    if lock(&s.org).app_id == app_id {
        Ok(())
    } else {
        Err(OktaError::not_found(app_id, "AppInstance"))
    }
}

/// `GET /api/v1/apps/{appId}`.
pub async fn get_app(State(s): State<Arc<Shared>>, Path(app_id): Path<String>) -> Response {
    if let Err(e) = check_app(&s, &app_id) {
        return e.into_response();
    }
    let org = lock(&s.org);
    axum::Json(render::application(&org, s.base())).into_response()
}

/// `GET /api/v1/apps/{appId}/users`.
pub async fn list_app_users(
    State(s): State<Arc<Shared>>,
    Path(app_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    match list_app_users_inner(&s, &app_id, Params::new(raw)) {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

fn list_app_users_inner(s: &Shared, app_id: &str, p: Params) -> Result<Response, OktaError> {
    check_app(s, app_id)?;
    let limit = p.limit(50, 1, 500)?;
    let cursor = decode_cursor(&p)?;
    let expand_user = p.expand("user");
    let q = p.get("q").filter(|q| !q.is_empty()).map(str::to_lowercase);
    let base = s.base();
    let org = lock(&s.org);
    let mut hits = Vec::with_capacity(limit + 1);
    for (uid, row) in org.app_users.range(after_bound(&cursor)) {
        let Some(u) = org.users.get(uid) else {
            continue;
        };
        if let Some(q) = &q {
            let matches = u.login().to_lowercase().starts_with(q.as_str())
                || ["firstName", "lastName", "email"]
                    .iter()
                    .any(|k| starts_with_ci(u.profile.get(*k), q));
            if !matches {
                continue;
            }
        }
        hits.push((u, row));
        if hits.len() > limit {
            break;
        }
    }
    let more = hits.len() > limit;
    hits.truncate(limit);
    let path = format!("/api/v1/apps/{app_id}/users");
    let next = match hits.last() {
        Some((u, _)) if more => Some(next_link(base, &path, &p, &[], &encode_cursor(&u.id))),
        _ => None,
    };
    let items: Vec<_> = hits
        .iter()
        .map(|(u, row)| render::app_user_out(&org, u, row, base, expand_user))
        .collect();
    Ok(page(&items, self_link(base, &path, &p), next))
}

/// `GET /api/v1/apps/{appId}/users/{userId}`.
pub async fn get_app_user(
    State(s): State<Arc<Shared>>,
    Path((app_id, user_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Err(e) = check_app(&s, &app_id) {
        return e.into_response();
    }
    let p = Params::new(raw);
    let org = lock(&s.org);
    match (org.app_users.get(&user_id), org.users.get(&user_id)) {
        (Some(row), Some(u)) => axum::Json(render::app_user_out(
            &org,
            u,
            row,
            s.base(),
            p.expand("user"),
        ))
        .into_response(),
        _ => OktaError::not_found(&user_id, "AppUser").into_response(),
    }
}

/// `GET /api/v1/apps/{appId}/groups`.
pub async fn list_app_groups(
    State(s): State<Arc<Shared>>,
    Path(app_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let p = Params::new(raw);
    let run = || -> Result<Response, OktaError> {
        check_app(&s, &app_id)?;
        let limit = p.limit(20, 20, 200)?;
        let cursor = decode_cursor(&p)?;
        let q = p.get("q").filter(|q| !q.is_empty()).map(str::to_lowercase);
        let base = s.base();
        let org = lock(&s.org);
        let mut hits: Vec<_> = org
            .group_assignments
            .range(after_bound(&cursor))
            .filter_map(|(gid, a)| org.groups.get(gid).map(|g| (g, a)))
            .filter(|(g, _)| {
                q.as_ref()
                    .is_none_or(|q| g.name.to_lowercase().starts_with(q.as_str()))
            })
            .take(limit + 1)
            .collect();
        let more = hits.len() > limit;
        hits.truncate(limit);
        let path = format!("/api/v1/apps/{app_id}/groups");
        let next = match hits.last() {
            Some((g, _)) if more => Some(next_link(base, &path, &p, &[], &encode_cursor(&g.id))),
            _ => None,
        };
        let items = hits
            .iter()
            .map(|(g, a)| render::app_group(&org, g, a, base, p.expand("group")))
            .collect::<Vec<Value>>();
        Ok(page(&items, self_link(base, &path, &p), next))
    };
    run().unwrap_or_else(IntoResponse::into_response)
}
