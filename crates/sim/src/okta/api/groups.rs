//! `/api/v1/groups` and a user's groups.

use super::*;

/// `GET /api/v1/groups`.
pub async fn list_groups(State(s): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let p = Params::new(raw);
    let run = || -> Result<Response, OktaError> {
        if p.has_value("filter") && p.has_value("search") {
            return Err(OktaError::search_and_filter());
        }
        let expr = match p
            .get("filter")
            .or(p.get("search"))
            .filter(|f| !f.is_empty())
        {
            Some(f) => {
                let e = filter::parse(f).map_err(|_| OktaError::invalid_search())?;
                check_dates(&e)?;
                Some(e)
            }
            None => None,
        };
        let q = p.get("q").filter(|q| !q.is_empty()).map(str::to_lowercase);
        let limit = p.limit(10000, 1, 10000)?;
        let cursor = decode_cursor(&p)?;
        let base = s.base();
        let org = lock(&s.org);
        let attr = |g: &Group, a: &str| -> Vec<AttrValue> {
            match a {
                "id" => vec![AttrValue::Str(g.id.clone())],
                "type" => vec![AttrValue::Str("OKTA_GROUP".into())],
                "lastUpdated" => ts_attr(Some(&g.last_updated)),
                "lastMembershipUpdated" => ts_attr(Some(&g.last_membership_updated)),
                "created" => ts_attr(Some(&g.created)),
                "profile.name" => vec![AttrValue::Str(g.name.clone())],
                "profile.description" => {
                    vec![
                        g.description
                            .clone()
                            .map(AttrValue::Str)
                            .unwrap_or(AttrValue::Null),
                    ]
                }
                _ => Vec::new(),
            }
        };
        let mut hits: Vec<_> = org
            .groups
            .range(after_bound(&cursor))
            .map(|(_, g)| g)
            .filter(|g| {
                q.as_ref()
                    .is_none_or(|q| g.name.to_lowercase().starts_with(q.as_str()))
            })
            .filter(|g| expr.as_ref().is_none_or(|e| e.eval(&|a| attr(g, a))))
            .take(limit + 1)
            .collect();
        let more = hits.len() > limit;
        hits.truncate(limit);
        let next = match hits.last() {
            Some(g) if more => Some(next_link(
                base,
                "/api/v1/groups",
                &p,
                &[],
                &encode_cursor(&g.id),
            )),
            _ => None,
        };
        let stats = p.expand("stats");
        let items = hits
            .iter()
            .map(|g| {
                let apps = usize::from(org.group_assignments.contains_key(&g.id));
                render::group(g, base, stats, apps)
            })
            .collect::<Vec<Value>>();
        Ok(page(&items, self_link(base, "/api/v1/groups", &p), next))
    };
    run().unwrap_or_else(IntoResponse::into_response)
}

/// `GET /api/v1/groups/{groupId}`.
pub async fn get_group(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let org = lock(&s.org);
    match org.groups.get(&id) {
        Some(g) => {
            let apps = usize::from(org.group_assignments.contains_key(&g.id));
            axum::Json(render::group(g, s.base(), false, apps)).into_response()
        }
        None => OktaError::not_found(&id, "UserGroup").into_response(),
    }
}

/// `GET /api/v1/users/{id}/groups` (listUserGroups): the groups a user is a member of,
/// in group id order. Okta does not paginate this list.
pub async fn list_user_groups(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let org = lock(&s.org);
    let Some(uid) = org.resolve_user(&id) else {
        return OktaError::not_found(&id, "User").into_response();
    };
    let base = s.base();
    let items: Vec<Value> = org
        .groups
        .values()
        .filter(|g| g.members.contains(&uid))
        .map(|g| {
            let apps = usize::from(org.group_assignments.contains_key(&g.id));
            render::group(g, base, false, apps)
        })
        .collect();
    axum::Json(items).into_response()
}

/// `GET /api/v1/groups/{groupId}/users` (DEPROVISIONED members included: deactivation
/// keeps group memberships).
pub async fn list_group_users(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let p = Params::new(raw);
    let run = || -> Result<Response, OktaError> {
        let limit = p.limit(1000, 1, 10000)?;
        let cursor = decode_cursor(&p)?;
        let base = s.base();
        let org = lock(&s.org);
        let g = org
            .groups
            .get(&id)
            .ok_or_else(|| OktaError::not_found(&id, "UserGroup"))?;
        let mut hits: Vec<&User> = g
            .members
            .range(after_bound(&cursor))
            .filter_map(|uid| org.users.get(uid))
            .take(limit + 1)
            .collect();
        let more = hits.len() > limit;
        hits.truncate(limit);
        let path = format!("/api/v1/groups/{id}/users");
        let next = match hits.last() {
            Some(u) if more => Some(next_link(base, &path, &p, &[], &encode_cursor(&u.id))),
            _ => None,
        };
        let items: Vec<_> = hits
            .iter()
            .map(|u| render::user_out(u, base, false))
            .collect();
        Ok(page(&items, self_link(base, &path, &p), next))
    };
    run().unwrap_or_else(IntoResponse::into_response)
}
