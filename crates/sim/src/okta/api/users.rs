//! `/api/v1/users`: listing with `filter` / `search`, and one user.

use super::*;

/// A user's attribute for `filter` / `search`.
fn user_attr(u: &User, attr: &str) -> Vec<AttrValue> {
    match attr {
        "id" => vec![AttrValue::Str(u.id.clone())],
        "status" => vec![AttrValue::Str(u.status.as_str().to_string())],
        "created" => ts_attr(Some(&u.created)),
        "activated" => ts_attr(u.activated.as_ref()),
        "statusChanged" => ts_attr(u.status_changed.as_ref()),
        "lastUpdated" => ts_attr(Some(&u.last_updated)),
        "passwordChanged" => ts_attr(u.password_changed.as_ref()),
        "lastLogin" => vec![AttrValue::Null],
        _ => match attr.strip_prefix("profile.") {
            Some(k) => u.profile.get(k).map(json_attr).unwrap_or_default(),
            None => Vec::new(),
        },
    }
}

/// Okta's `filter` on users: a few attributes, `eq` (and ordering on `lastUpdated`).
fn user_filter(s: &str) -> Result<Expr, OktaError> {
    let e = filter::parse(s).map_err(|_| OktaError::invalid_search())?;
    const ALLOWED: &[&str] = &[
        "status",
        "lastUpdated",
        "id",
        "profile.login",
        "profile.email",
        "profile.firstName",
        "profile.lastName",
    ];
    for (attr, op, _) in e.leaves() {
        let ok = ALLOWED.contains(&attr)
            && (op == Op::Eq || (attr == "lastUpdated" && op.is_ordering()));
        if !ok {
            return Err(OktaError::invalid_search());
        }
    }
    check_dates(&e)?;
    Ok(e)
}

/// Okta's `search` on users: any profile attribute and the top-level properties.
fn user_search(s: &str) -> Result<Expr, OktaError> {
    let e = filter::parse(s).map_err(|_| OktaError::invalid_search())?;
    const TOP: &[&str] = &[
        "id",
        "status",
        "created",
        "activated",
        "statusChanged",
        "lastUpdated",
        "passwordChanged",
        "lastLogin",
        "type.id",
    ];
    const CO_OK: &[&str] = &[
        "profile.firstName",
        "profile.lastName",
        "profile.email",
        "profile.login",
    ];
    for (attr, op, _) in e.leaves() {
        let known = TOP.contains(&attr) || attr.starts_with("profile.");
        let op_ok = match op {
            Op::Ne => false,
            Op::Co => CO_OK.contains(&attr),
            Op::Ew => false,
            _ => true,
        };
        if !known || !op_ok {
            return Err(OktaError::invalid_search());
        }
    }
    check_dates(&e)?;
    Ok(e)
}

/// `GET /api/v1/users`.
pub async fn list_users(State(s): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    match list_users_inner(&s, Params::new(raw)) {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

fn list_users_inner(s: &Shared, p: Params) -> Result<Response, OktaError> {
    if p.has_value("filter") && p.has_value("search") {
        return Err(OktaError::search_and_filter());
    }
    let q = p.get("q").filter(|q| !q.is_empty()).map(str::to_lowercase);
    let expr = if let Some(f) = p.get("filter").filter(|f| !f.is_empty()) {
        Some(user_filter(f)?)
    } else if let Some(f) = p.get("search").filter(|f| !f.is_empty()) {
        Some(user_search(f)?)
    } else {
        None
    };
    let limit = p.limit(if q.is_some() { 10 } else { 200 }, 1, 200)?;
    let cursor = decode_cursor(&p)?;
    let base = s.base();
    let org = lock(&s.org);
    let keep = |u: &User| -> bool {
        match (&expr, &q) {
            (Some(e), _) => e.eval(&|a| user_attr(u, a)),
            (None, Some(q)) => {
                u.status != UserStatus::Deprovisioned
                    && ["firstName", "lastName", "email"]
                        .iter()
                        .any(|k| starts_with_ci(u.profile.get(*k), q))
            }
            // Okta's default list leaves DEPROVISIONED users out.
            (None, None) => u.status != UserStatus::Deprovisioned,
        }
    };
    let ids = expr.as_ref().and_then(|e| e.id_disjunction());
    let mut hits: Vec<&User> = match &ids {
        // An id lookup filter: straight from the index, in the same id order.
        Some(ids) => ids
            .range::<String, _>(after_bound(&cursor))
            .filter_map(|id| org.users.get(id))
            .take(limit + 1)
            .collect(),
        None => org
            .users
            .range(after_bound(&cursor))
            .map(|(_, u)| u)
            .filter(|u| keep(u))
            .take(limit + 1)
            .collect(),
    };
    // `q` isn't paginated in Okta: one page, no next link.
    let more = hits.len() > limit && q.is_none();
    hits.truncate(limit);
    let next = match hits.last() {
        Some(last) if more => Some(next_link(
            base,
            "/api/v1/users",
            &p,
            &[],
            &encode_cursor(&last.id),
        )),
        _ => None,
    };
    let items: Vec<_> = hits
        .iter()
        .map(|u| render::user_out(u, base, false))
        .collect();
    Ok(page(&items, self_link(base, "/api/v1/users", &p), next))
}

/// `GET /api/v1/users/{id or login}`.
pub async fn get_user(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let org = lock(&s.org);
    match org.resolve_user(&id).and_then(|uid| org.users.get(&uid)) {
        Some(u) => axum::Json(render::user_out(u, s.base(), true)).into_response(),
        None => OktaError::not_found(&id, "User").into_response(),
    }
}
