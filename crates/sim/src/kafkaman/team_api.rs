//! The team invites API under `/api/v1/team` (plain JSON, cursor pagination).

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::SecondsFormat;
use serde_json::{Value, json};

use crate::common::lock;

use super::http::{Shared, no_content, team_error};
use super::team::{Invite, InviteStatus};

const MAX_LIMIT: usize = 100;
/// Page size when `limit` is absent.
const DEFAULT_LIMIT: usize = 20;
const CURSOR_PREFIX: &str = "inv:";

fn invalid(message: &str) -> Response {
    team_error(StatusCode::BAD_REQUEST, "invalidParamError", message)
}

/// Cursors are opaque to clients: a position in the invite list, base64url-encoded.
fn encode_cursor(pos: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{pos}"))
}

fn decode_cursor(c: &str) -> Option<usize> {
    let bytes = URL_SAFE_NO_PAD.decode(c).ok()?;
    let s = String::from_utf8(bytes).ok()?;
    s.strip_prefix(CURSOR_PREFIX)?.parse().ok()
}

fn render_invite(i: &Invite) -> Value {
    json!({
        "id": i.id,
        "email": i.email,
        "roles": ["developer"],
        "source": i.source,
        "status": i.status.as_str(),
        "invitedBy": i.invited_by,
        "createdAt": i.created_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        "expiresAt": i.expires_at.to_rfc3339_opts(SecondsFormat::Secs, true),
    })
}

pub(super) async fn list_invites(State(s): State<Shared>, RawQuery(raw): RawQuery) -> Response {
    let mut status = None;
    let mut email = None;
    let mut limit = DEFAULT_LIMIT;
    let mut from = 0;
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "status" => match InviteStatus::parse(&v) {
                Some(st) => status = Some(st),
                None => {
                    return invalid(&format!(
                        "status {v:?}: expected pending, accepted or revoked"
                    ));
                }
            },
            "limit" => match v.parse::<usize>() {
                Ok(n) if n >= 1 => limit = n.min(MAX_LIMIT),
                _ => return invalid(&format!("limit {v:?}: expected an integer from 1 to 100")),
            },
            // Compared case-insensitively; an empty address matches no invite.
            "email" => email = Some(v.into_owned()),
            "cursor" => match decode_cursor(&v) {
                Some(p) => from = p,
                None => return invalid("cursor is not valid"),
            },
            _ => {}
        }
    }
    let team = lock(&s.team);
    let (page, next) = team.invite_page(status, email.as_deref(), from, limit);
    let data: Vec<Value> = page
        .iter()
        .map(|&i| render_invite(team.invite_at(i)))
        .collect();
    Json(json!({
        "data": data,
        "meta": {"nextCursor": next.map(encode_cursor)},
    }))
    .into_response()
}

pub(super) async fn delete_invite(State(s): State<Shared>, Path(id): Path<String>) -> Response {
    let revoked = {
        let mut team = lock(&s.team);
        let now = team.now();
        team.revoke_invite(&id, now)
    };
    if revoked {
        no_content()
    } else {
        team_error(
            StatusCode::NOT_FOUND,
            "notFound",
            &format!("No pending invite with id {id}"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip() {
        assert_eq!(decode_cursor(&encode_cursor(42)), Some(42));
        assert_eq!(decode_cursor("garbage!"), None);
    }
}
