//! Okta's wire types: app users with the user embedded, users, error bodies, and the
//! rate-limit buckets this client keys by path.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::http;

/// One user's assignment to the app (`AppUser` with the Okta user embedded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppUser {
    /// The Okta user id (`AppUser.id` is the user's id; there is no assignment id).
    pub id: String,
    /// `USER` (direct) or `GROUP` (through a group).
    pub scope: String,
    /// The assignment's status (ACTIVE, PROVISIONED, STAGED, …).
    pub status: String,
    pub external_id: Option<String>,
    /// The app username (`credentials.userName`): what Okta's own provisioning sends as
    /// the SCIM `userName`, made by the app's username format or set per user. Apps that
    /// keep no credentials send none (`"credentials": null`).
    pub user_name: Option<String>,
    /// The app user's profile (the Profile Editor's mappings: what Okta's provisioning
    /// sends besides the userName), reduced to the attributes read.
    pub profile: serde_json::Map<String, serde_json::Value>,
    pub user: OktaUser,
}

impl AppUser {
    /// An app profile attribute as a non-empty string, else the Okta user's: what Okta
    /// push would send for it.
    pub fn attribute(&self, attr: &str) -> Option<&str> {
        let app = self
            .profile
            .get(attr)
            .and_then(|v| v.as_str())
            .filter(|v| !v.trim().is_empty());
        app.or_else(|| self.user.profile_str(attr))
    }
}

/// An Okta user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OktaUser {
    pub id: String,
    /// UserStatus: ACTIVE, SUSPENDED, DEPROVISIONED, …
    pub status: String,
    pub profile: serde_json::Map<String, serde_json::Value>,
    pub last_updated: Option<String>,
}

impl OktaUser {
    /// A profile attribute as a string (None when absent, null or not a string).
    pub fn profile_str(&self, attr: &str) -> Option<&str> {
        self.profile.get(attr).and_then(|v| v.as_str())
    }
}

/// Okta's rate-limit buckets, as Okta's rate-limit reference documents them for the
/// endpoints scim-sync calls (the longest match wins: `/api/v1/apps/{id}` has a bucket
/// of its own beside `/api/v1/apps*`). Each has its own window and headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    /// `/api/v1/apps` and everything below it but one app (app users among them).
    Apps,
    /// `/api/v1/apps/{id}`: one app.
    App,
    /// `GET /api/v1/users` (the list and searches).
    UsersList,
    /// `GET /api/v1/users/{idOrLogin}`: one user.
    User,
    /// `/api/v1/groups` and everything below it but one group (members among them).
    Groups,
    /// `/api/v1/groups/{id}`: one group.
    Group,
    /// `/api/v1/logs`.
    Logs,
    /// `/oauth2/v1/token`, in Okta's authentication category.
    Token,
    /// Every other `/api/v1` endpoint.
    Other,
}

impl Bucket {
    pub const ALL: [Bucket; 9] = [
        Bucket::Apps,
        Bucket::App,
        Bucket::UsersList,
        Bucket::User,
        Bucket::Groups,
        Bucket::Group,
        Bucket::Logs,
        Bucket::Token,
        Bucket::Other,
    ];

    pub fn of(method: &Method, path: &str) -> Bucket {
        let path = path.trim_end_matches('/');
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        match segments.as_slice() {
            ["api", "v1", "apps", _] => Bucket::App,
            ["api", "v1", "apps", ..] => Bucket::Apps,
            ["api", "v1", "users"] if *method == Method::GET => Bucket::UsersList,
            ["api", "v1", "users", _] if *method == Method::GET => Bucket::User,
            ["api", "v1", "groups", _] => Bucket::Group,
            ["api", "v1", "groups", ..] => Bucket::Groups,
            ["api", "v1", "logs", ..] => Bucket::Logs,
            ["oauth2", "v1", "token"] => Bucket::Token,
            _ => Bucket::Other,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Bucket::Apps => "apps",
            Bucket::App => "app",
            Bucket::UsersList => "users_list",
            Bucket::User => "user",
            Bucket::Groups => "groups",
            Bucket::Group => "group",
            Bucket::Logs => "logs",
            Bucket::Token => "token",
            Bucket::Other => "other",
        }
    }

    /// The bucket [`Bucket::name`] names.
    pub fn named(name: &str) -> Option<Bucket> {
        Bucket::ALL.into_iter().find(|b| b.name() == name)
    }
}

/// The rate-limit headers last seen for one bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BucketStatus {
    pub bucket: Bucket,
    pub limit: u32,
    pub remaining: u32,
    /// Epoch seconds (server clock) when the window resets.
    pub reset_epoch: u64,
}

/// Okta's error object, as far as this client reads it.
#[derive(Debug, Deserialize)]
pub struct OktaErrorBody {
    #[serde(rename = "errorCode")]
    pub error_code: Option<String>,
    #[serde(rename = "errorSummary")]
    pub error_summary: Option<String>,
    #[serde(rename = "errorId")]
    pub error_id: Option<String>,
}

#[derive(Deserialize)]
struct RawAppUser {
    id: String,
    scope: String,
    status: String,
    #[serde(rename = "externalId", default)]
    external_id: Option<String>,
    #[serde(default)]
    credentials: Option<RawCredentials>,
    // `"profile": {}` or null on apps without profile mappings.
    #[serde(default)]
    profile: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(rename = "_embedded", default)]
    embedded: Option<RawEmbedded>,
}

#[derive(Deserialize)]
struct RawCredentials {
    #[serde(rename = "userName", default)]
    user_name: Option<String>,
}

#[derive(Deserialize)]
struct RawEmbedded {
    #[serde(default)]
    user: Option<RawUser>,
}

#[derive(Deserialize)]
struct RawUser {
    id: String,
    status: String,
    profile: serde_json::Map<String, serde_json::Value>,
    #[serde(rename = "lastUpdated", default)]
    last_updated: Option<String>,
}

impl From<RawUser> for OktaUser {
    fn from(u: RawUser) -> Self {
        OktaUser {
            id: u.id,
            status: u.status,
            profile: u.profile,
            last_updated: u.last_updated,
        }
    }
}

/// An error response's body; None when it is not Okta's error object.
pub fn parse_error_body(body: &[u8]) -> Option<OktaErrorBody> {
    serde_json::from_slice(body).ok()
}

/// Okta's request id from an error body (`errorId`), for responses without the header.
pub fn error_id(body: &[u8]) -> Option<String> {
    parse_error_body(body).and_then(|b| b.error_id)
}

/// One page of a listing: the JSON array's items, not yet read as any type.
pub fn decode_page(body: &[u8]) -> Result<Vec<serde_json::Value>, String> {
    match http::decode_json(body)? {
        serde_json::Value::Array(items) => Ok(items),
        _ => Err("expected a JSON array".to_string()),
    }
}

/// An Okta User object.
pub fn parse_user(value: serde_json::Value) -> Result<OktaUser, String> {
    serde_json::from_value::<RawUser>(value)
        .map(OktaUser::from)
        .map_err(|e| format!("not a User object: {e}"))
}

/// An AppUser with its user embedded (`expand=user`), whose ids must agree.
pub fn parse_app_user(value: serde_json::Value) -> Result<AppUser, String> {
    let raw: RawAppUser =
        serde_json::from_value(value).map_err(|e| format!("not an AppUser object: {e}"))?;
    let user = raw
        .embedded
        .and_then(|e| e.user)
        .ok_or_else(|| format!("app user {} has no _embedded.user", raw.id))?;
    if user.id != raw.id {
        return Err(format!(
            "app user {} embeds a different user ({})",
            raw.id, user.id
        ));
    }
    Ok(AppUser {
        id: raw.id,
        scope: raw.scope,
        status: raw.status,
        external_id: raw.external_id,
        user_name: raw
            .credentials
            .and_then(|c| c.user_name)
            .filter(|n| !n.trim().is_empty()),
        profile: raw.profile.unwrap_or_default(),
        user: user.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_by_path() {
        assert_eq!(
            Bucket::of(&Method::GET, "/api/v1/apps/0oa1/users"),
            Bucket::Apps
        );
        assert_eq!(Bucket::of(&Method::GET, "/api/v1/apps"), Bucket::Apps);
        assert_eq!(Bucket::of(&Method::GET, "/api/v1/users"), Bucket::UsersList);
        // Okta's buckets by the longest match: one user, one app, one group, the
        // group's members, the token endpoint.
        assert_eq!(Bucket::of(&Method::GET, "/api/v1/users/00u1"), Bucket::User);
        assert_eq!(
            Bucket::of(&Method::GET, "/api/v1/users/00u1/groups"),
            Bucket::Other
        );
        assert_eq!(Bucket::of(&Method::GET, "/api/v1/apps/0oa1"), Bucket::App);
        assert_eq!(
            Bucket::of(&Method::GET, "/api/v1/groups/00g1"),
            Bucket::Group
        );
        assert_eq!(
            Bucket::of(&Method::GET, "/api/v1/groups/00g1/users"),
            Bucket::Groups
        );
        assert_eq!(Bucket::of(&Method::POST, "/oauth2/v1/token"), Bucket::Token);
        assert_eq!(Bucket::of(&Method::GET, "/api/v1/logs"), Bucket::Logs);
        assert_eq!(
            Bucket::of(&Method::GET, "/api/v1/applications"),
            Bucket::Other
        );
        for b in Bucket::ALL {
            assert_eq!(Bucket::named(b.name()), Some(b));
        }
    }

    #[test]
    fn app_user_without_embedded_user_is_malformed() {
        let v = serde_json::json!({"id": "00u1", "scope": "USER", "status": "ACTIVE"});
        assert!(parse_app_user(v).unwrap_err().contains("_embedded.user"));
    }

    #[test]
    fn app_user_parses() {
        let v = serde_json::json!({
            "id": "00u1", "scope": "GROUP", "status": "PROVISIONED", "externalId": "k1",
            "_embedded": {"user": {"id": "00u1", "status": "ACTIVE",
                "profile": {"login": "a@x.com", "firstName": null}, "lastUpdated": "2024-01-01T00:00:00.000Z"}}
        });
        let u = parse_app_user(v).unwrap();
        assert_eq!(u.user.profile_str("login"), Some("a@x.com"));
        assert_eq!(u.user.profile_str("firstName"), None);
        assert_eq!(u.external_id.as_deref(), Some("k1"));
    }
}
