//! kafkaman's wire types: SCIM users, team invites, list pages and error bodies.

use serde::{Deserialize, Serialize};

use crate::http;

/// A SCIM user as kafkaman returns it (unknown attributes are ignored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScimUser {
    pub id: String,
    /// The member's email.
    pub user_name: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub external_id: Option<String>,
    pub active: bool,
    /// `active`, `invited` or `deactivated` (kafkaman extension).
    pub membership: Option<String>,
    pub role: Option<String>,
    /// `meta.lastModified` as kafkaman sent it (RFC 3339, milliseconds, kafkaman's
    /// clock): what a later [`KafkamanClient::users_modified_since`] starts from.
    ///
    /// [`KafkamanClient::users_modified_since`]: super::KafkamanClient::users_modified_since
    #[serde(default)]
    pub last_modified: Option<String>,
}

/// A user to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// The email; kafkaman keeps the primary email equal to it.
    pub user_name: String,
    pub given_name: String,
    pub family_name: String,
    /// The Okta user id.
    pub external_id: String,
    pub display_name: Option<String>,
}

/// A team invite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    pub id: String,
    pub email: String,
    /// `admin`, `link`, `request` or `scim`.
    pub source: String,
    pub status: InviteStatus,
    pub invited_by: Option<String>,
    pub created_at: String,
    pub expires_at: Option<String>,
}

/// Where a team invite stands (`status`). The API lists pending ones; any other value
/// (one kafkaman adds later among them) is kept as sent and is not pending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum InviteStatus {
    Pending,
    Other(String),
}

impl From<String> for InviteStatus {
    fn from(s: String) -> Self {
        if s == "pending" {
            InviteStatus::Pending
        } else {
            InviteStatus::Other(s)
        }
    }
}

impl From<InviteStatus> for String {
    fn from(s: InviteStatus) -> Self {
        match s {
            InviteStatus::Pending => "pending".to_string(),
            InviteStatus::Other(other) => other,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteDeletion {
    Deleted,
    /// 404: the invite was already deleted, accepted or revoked.
    AlreadyGone,
}

#[derive(Deserialize)]
pub(super) struct RawScimUser {
    pub(super) id: String,
    #[serde(rename = "userName")]
    user_name: String,
    #[serde(default)]
    name: Option<RawName>,
    #[serde(rename = "externalId", default)]
    external_id: Option<String>,
    active: bool,
    #[serde(
        rename = "urn:ietf:params:scim:schemas:extension:kafkaman:2.0:User",
        default
    )]
    extension: Option<RawExtension>,
    #[serde(default)]
    meta: Option<RawMeta>,
}

#[derive(Deserialize)]
pub(super) struct RawMeta {
    #[serde(rename = "lastModified", default)]
    last_modified: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct RawName {
    #[serde(rename = "givenName", default)]
    given_name: Option<String>,
    #[serde(rename = "familyName", default)]
    family_name: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct RawExtension {
    #[serde(default)]
    membership: Option<String>,
    #[serde(default)]
    role: Option<String>,
}

impl From<RawScimUser> for ScimUser {
    fn from(u: RawScimUser) -> Self {
        let (given_name, family_name) = u
            .name
            .map(|n| (n.given_name, n.family_name))
            .unwrap_or_default();
        let (membership, role) = u
            .extension
            .map(|e| (e.membership, e.role))
            .unwrap_or_default();
        ScimUser {
            id: u.id,
            user_name: u.user_name,
            given_name,
            family_name,
            external_id: u.external_id,
            active: u.active,
            membership,
            role,
            last_modified: u.meta.and_then(|m| m.last_modified),
        }
    }
}

#[derive(Deserialize)]
struct ListResponse {
    #[serde(rename = "totalResults")]
    total_results: usize,
    #[serde(rename = "Resources", default)]
    resources: Vec<RawScimUser>,
}

/// One page of a SCIM Users listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPage {
    /// `totalResults`: users in the whole listing.
    pub total_results: usize,
    /// `Resources`: the users on this page.
    pub users: Vec<ScimUser>,
}

/// A SCIM `ListResponse` of Users.
pub fn decode_user_page(body: &[u8]) -> Result<UserPage, String> {
    let page: ListResponse = http::decode_json(body)?;
    Ok(UserPage {
        total_results: page.total_results,
        users: page.resources.into_iter().map(ScimUser::from).collect(),
    })
}

/// A SCIM User resource.
pub fn decode_scim_user(body: &[u8]) -> Result<ScimUser, String> {
    http::decode_json::<RawScimUser>(body).map(ScimUser::from)
}

#[derive(Deserialize)]
pub(super) struct ScimErrorBody {
    #[serde(rename = "scimType", default)]
    scim_type: Option<String>,
    #[serde(default)]
    detail: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct TeamErrorBody {
    error: TeamError,
}

#[derive(Deserialize)]
pub(super) struct TeamError {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// An invites page. `meta.nextCursor` must be present (null on the last page): a page
/// without it is malformed, not the end of the list.
#[derive(Deserialize)]
struct RawInvitePage {
    data: Vec<RawInvite>,
    meta: InviteMeta,
}

#[derive(Deserialize)]
struct InviteMeta {
    // `deserialize_with` makes the field required while still accepting null.
    #[serde(rename = "nextCursor", deserialize_with = "Option::deserialize")]
    next_cursor: Option<String>,
}

/// One page of pending team invites.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitePage {
    pub invites: Vec<Invite>,
    /// The next page's cursor; None on the last page.
    pub next_cursor: Option<String>,
}

/// A team invites page (`{"data": [...], "meta": {"nextCursor": ...}}`).
pub fn decode_invite_page(body: &[u8]) -> Result<InvitePage, String> {
    let page: RawInvitePage = http::decode_json(body)?;
    Ok(InvitePage {
        invites: page.data.into_iter().map(Invite::from).collect(),
        next_cursor: page.meta.next_cursor,
    })
}

#[derive(Deserialize)]
struct RawInvite {
    id: String,
    email: String,
    source: String,
    status: String,
    #[serde(rename = "invitedBy", default)]
    invited_by: Option<String>,
    #[serde(rename = "createdAt")]
    created_at: String,
    #[serde(rename = "expiresAt", default)]
    expires_at: Option<String>,
}

impl From<RawInvite> for Invite {
    fn from(i: RawInvite) -> Self {
        Invite {
            id: i.id,
            email: i.email,
            source: i.source,
            status: i.status.into(),
            invited_by: i.invited_by,
            created_at: i.created_at,
            expires_at: i.expires_at,
        }
    }
}

/// A SCIM filter string literal: quotes and backslashes escaped (RFC 7644 §3.4.2.2 uses
/// JSON string syntax).
pub fn scim_string_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `(scimType, detail)` from a SCIM error body, or the message of a team API error.
pub fn error_details(body: &[u8]) -> (Option<String>, Option<String>) {
    if let Ok(team) = serde_json::from_slice::<TeamErrorBody>(body) {
        return (team.error.name, team.error.message);
    }
    match serde_json::from_slice::<ScimErrorBody>(body) {
        Ok(scim) => (scim.scim_type, scim.detail),
        Err(_) if body.is_empty() => (None, None),
        Err(_) => (None, Some(http::body_snippet(body, 120))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invites_page_without_its_cursor_is_malformed_not_the_end() {
        assert!(decode_invite_page(br#"{"data":[]}"#).is_err());
        assert!(decode_invite_page(br#"{"data":[],"meta":{}}"#).is_err());
        let last = decode_invite_page(br#"{"data":[],"meta":{"nextCursor":null}}"#).unwrap();
        assert!(last.next_cursor.is_none());
    }

    const EXTENSION_URN: &str = "urn:ietf:params:scim:schemas:extension:kafkaman:2.0:User";

    #[test]
    fn filter_literals_are_escaped() {
        assert_eq!(scim_string_literal("a@x.com"), "\"a@x.com\"");
        assert_eq!(scim_string_literal(r#"a"b\c"#), r#""a\"b\\c""#);
    }

    #[test]
    fn scim_user_tolerates_unknown_attributes() {
        let v = serde_json::json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", EXTENSION_URN],
            "id": "u1", "userName": "a@x.com", "active": false,
            "name": {"givenName": "A", "familyName": "B", "formatted": "A B"},
            "meta": {"resourceType": "User"}, "locale": "en",
            EXTENSION_URN: {"membership": "deactivated", "role": "developer"}
        });
        let u: ScimUser = serde_json::from_value::<RawScimUser>(v).unwrap().into();
        assert_eq!(u.given_name.as_deref(), Some("A"));
        assert_eq!(u.last_modified, None, "meta without lastModified");
        assert_eq!(u.membership.as_deref(), Some("deactivated"));
        assert!(!u.active);
    }
}
