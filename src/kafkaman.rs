//! kafkaman target client: SCIM 2.0 users (`/scim/v2`) and the team invites API.
//!
//! Reads are retried on transient failures. Writes are retried only when they provably
//! did not happen (the connection was refused, or a 429 said so): after a timeout or a
//! 5xx the caller decides, e.g. by looking the user up before creating again.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::http::{self, RateWindow, TransportFailure};

#[derive(Debug, Clone)]
pub struct KafkamanClientOptions {
    /// e.g. `https://api.kafkaman.co`; SCIM lives under `/scim/v2`, the team API under
    /// `/api/v1/team`.
    pub base_url: Url,
    pub api_key: SecretString,
    pub timeout: Duration,
    /// Retries of one request (reads after 5xx/timeouts/drops; any request after a 429
    /// or a refused connection).
    pub max_retries: u32,
}

impl KafkamanClientOptions {
    /// Options with the defaults: 30 s timeout, 3 retries.
    pub fn new(base_url: Url, api_key: SecretString) -> Self {
        KafkamanClientOptions {
            base_url,
            api_key,
            timeout: Duration::from_secs(30),
            max_retries: 3,
        }
    }
}

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
    pub status: String,
    pub invited_by: Option<String>,
    pub created_at: String,
    pub expires_at: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteDeletion {
    Deleted,
    /// 404: the invite was already deleted, accepted or revoked.
    AlreadyGone,
}

/// Why a create was refused with 409.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictReason {
    /// The userName belongs to a team member (active or deactivated): reactivate, don't
    /// create.
    AlreadyMember,
    /// A pending invite not created by SCIM blocks provisioning: delete it first.
    PendingInvite,
    Other,
}

#[derive(Debug, thiserror::Error)]
pub enum KafkamanError {
    #[error("invalid kafkaman settings: {0}")]
    Config(String),
    #[error(
        "kafkaman rejected the SCIM API key (HTTP 401{}): check that kafkaman.api_key is the team's current key and that it is ACTIVE, not revoked",
        rid_part(.request_id)
    )]
    Unauthorized { request_id: Option<String> },
    #[error(
        "SCIM provisioning is not enabled for this kafkaman team (HTTP 403{}): a team admin enables it under Team Settings → Authentication (SSO must be configured first)",
        rid_part(.request_id)
    )]
    ScimDisabled { request_id: Option<String> },
    #[error(
        "no free seat on the kafkaman team (HTTP 403{}): add seats or deactivate members",
        rid_part(.request_id)
    )]
    NoSeat { request_id: Option<String> },
    #[error("kafkaman refused: {detail} (HTTP 409{}{})", scim_part(.scim_type), rid_part(.request_id))]
    Conflict {
        detail: String,
        scim_type: Option<String>,
        request_id: Option<String>,
    },
    #[error(
        "kafkaman answered {method} {path} with HTTP {status}{}{}{}",
        scim_part(.scim_type),
        detail_part(.detail),
        rid_part(.request_id)
    )]
    Api {
        method: String,
        path: String,
        status: u16,
        scim_type: Option<String>,
        detail: Option<String>,
        request_id: Option<String>,
    },
    #[error(
        "kafkaman rate limit still exceeded for {method} {path} after {attempts} attempt(s){}",
        rid_part(.request_id)
    )]
    RateLimited {
        method: String,
        path: String,
        attempts: u32,
        retry_after: Option<Duration>,
        request_id: Option<String>,
    },
    #[error(
        "{method} {path}: {} after {attempts} attempt(s): check kafkaman.base_url and the network ({source})",
        .kind.describe()
    )]
    Transport {
        method: String,
        path: String,
        kind: TransportFailure,
        attempts: u32,
        #[source]
        source: reqwest::Error,
    },
    #[error(
        "kafkaman sent an unusable response to {method} {path} (HTTP {status}{}): {reason}",
        rid_part(.request_id)
    )]
    Malformed {
        method: String,
        path: String,
        status: u16,
        request_id: Option<String>,
        reason: String,
    },
}

fn rid_part(rid: &Option<String>) -> String {
    rid.as_deref()
        .map(|r| format!(", request id {r}"))
        .unwrap_or_default()
}
fn scim_part(t: &Option<String>) -> String {
    t.as_deref().map(|t| format!(", {t}")).unwrap_or_default()
}
fn detail_part(d: &Option<String>) -> String {
    d.as_deref().map(|d| format!(": {d}")).unwrap_or_default()
}

impl KafkamanError {
    /// kafkaman's `X-Request-Id` of the failed response.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            KafkamanError::Unauthorized { request_id }
            | KafkamanError::ScimDisabled { request_id }
            | KafkamanError::NoSeat { request_id }
            | KafkamanError::Conflict { request_id, .. }
            | KafkamanError::Api { request_id, .. }
            | KafkamanError::RateLimited { request_id, .. }
            | KafkamanError::Malformed { request_id, .. } => request_id.as_deref(),
            KafkamanError::Config(_) | KafkamanError::Transport { .. } => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            KafkamanError::Unauthorized { .. } => Some(401),
            KafkamanError::ScimDisabled { .. } | KafkamanError::NoSeat { .. } => Some(403),
            KafkamanError::Conflict { .. } => Some(409),
            KafkamanError::RateLimited { .. } => Some(429),
            KafkamanError::Api { status, .. } | KafkamanError::Malformed { status, .. } => {
                Some(*status)
            }
            KafkamanError::Config(_) | KafkamanError::Transport { .. } => None,
        }
    }

    /// True when a write may have reached the server and taken effect (timeouts, 5xx,
    /// a connection dropped after sending, a success answer that couldn't be read);
    /// false when it provably didn't (connection refused, 4xx, 429).
    pub fn write_may_have_happened(&self) -> bool {
        match self {
            KafkamanError::Transport { kind, .. } => kind.request_may_have_arrived(),
            KafkamanError::Api { status, .. } => *status >= 500,
            KafkamanError::Malformed { status, .. } => *status < 400 || *status >= 500,
            _ => false,
        }
    }

    /// For a 409: why the server refused.
    pub fn conflict_reason(&self) -> Option<ConflictReason> {
        let KafkamanError::Conflict { detail, .. } = self else {
            return None;
        };
        let d = detail.to_ascii_lowercase();
        Some(if d.contains("invite") {
            ConflictReason::PendingInvite
        } else if d.contains("already exists") {
            ConflictReason::AlreadyMember
        } else {
            ConflictReason::Other
        })
    }
}

const RETRY_BASE: Duration = Duration::from_millis(250);
const RETRY_CAP: Duration = Duration::from_secs(10);
/// A 429 asking for a longer wait than this fails the call instead.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);
/// SCIM's page size cap.
const PAGE_SIZE: usize = 100;
/// Guard against a server that never ends a listing.
const MAX_PAGES: usize = 100_000;
const SCIM_CONTENT_TYPE: &str = "application/scim+json";

/// Cheap to clone; clones share the rate-limit state and counters, so concurrent tasks
/// pace together.
#[derive(Clone)]
pub struct KafkamanClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base_url: Url,
    api_key: SecretString,
    max_retries: u32,
    window: Mutex<RateWindow>,
    requests: AtomicU64,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    request_id: Option<String>,
}

#[derive(Deserialize)]
struct RawScimUser {
    id: String,
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
}

#[derive(Deserialize)]
struct RawName {
    #[serde(rename = "givenName", default)]
    given_name: Option<String>,
    #[serde(rename = "familyName", default)]
    family_name: Option<String>,
}

#[derive(Deserialize)]
struct RawExtension {
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

#[derive(Deserialize)]
struct ScimErrorBody {
    #[serde(rename = "scimType", default)]
    scim_type: Option<String>,
    #[serde(default)]
    detail: Option<String>,
}

#[derive(Deserialize)]
struct TeamErrorBody {
    error: TeamError,
}

#[derive(Deserialize)]
struct TeamError {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// An invites page. `meta.nextCursor` must be present (null on the last page): a page
/// without it is malformed, not the end of the list.
#[derive(Deserialize)]
struct InvitePage {
    data: Vec<RawInvite>,
    meta: InviteMeta,
}

#[derive(Deserialize)]
struct InviteMeta {
    // `deserialize_with` makes the field required while still accepting null.
    #[serde(rename = "nextCursor", deserialize_with = "Option::deserialize")]
    next_cursor: Option<String>,
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
            status: i.status,
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

impl KafkamanClient {
    pub fn new(opts: KafkamanClientOptions) -> Result<Self, KafkamanError> {
        if !matches!(opts.base_url.scheme(), "https" | "http") || opts.base_url.host().is_none() {
            return Err(KafkamanError::Config(format!(
                "kafkaman.base_url must be an http(s) URL like https://api.kafkaman.co, got {}",
                opts.base_url
            )));
        }
        if opts.api_key.expose_secret().trim().is_empty() {
            return Err(KafkamanError::Config(
                "kafkaman.api_key is empty".to_string(),
            ));
        }
        let http = http::build_client(opts.timeout)
            .map_err(|e| KafkamanError::Config(format!("cannot build the HTTP client: {e}")))?;
        let mut base_url = opts.base_url;
        base_url.set_query(None);
        base_url.set_fragment(None);
        Ok(KafkamanClient {
            inner: Arc::new(Inner {
                http,
                base_url,
                api_key: opts.api_key,
                max_retries: opts.max_retries,
                window: Mutex::new(RateWindow::default()),
                requests: AtomicU64::new(0),
            }),
        })
    }

    pub async fn service_provider_config(&self) -> Result<serde_json::Value, KafkamanError> {
        let url = self.url(&["scim", "v2", "ServiceProviderConfig"]);
        let reply = self.execute(Method::GET, &url, None).await?;
        self.expect_success(&reply, &Method::GET, &url)?;
        self.parse(&reply, &Method::GET, &url)
    }

    /// Every SCIM user of the team, oldest first. Complete or an error.
    pub async fn list_users(
        &self,
        on_page: &(dyn Fn(usize) + Send + Sync),
    ) -> Result<Vec<ScimUser>, KafkamanError> {
        let mut users = Vec::new();
        let mut seen = HashSet::new();
        let mut start_index = 1usize;
        for _ in 0..MAX_PAGES {
            let mut url = self.url(&["scim", "v2", "Users"]);
            url.query_pairs_mut()
                .append_pair("startIndex", &start_index.to_string())
                .append_pair("count", &PAGE_SIZE.to_string());
            let page = self.get_list(&url).await?;
            let received = page.resources.len();
            for raw in page.resources {
                // Offsets don't shift (users are never deleted), but stay safe.
                if seen.insert(raw.id.clone()) {
                    users.push(ScimUser::from(raw));
                }
            }
            on_page(users.len());
            start_index += received;
            if start_index > page.total_results {
                return Ok(users);
            }
            if received == 0 {
                return Err(KafkamanError::Malformed {
                    method: "GET".to_string(),
                    path: http::log_path(&url),
                    status: 200,
                    request_id: None,
                    reason: format!(
                        "the listing ended after {} of {} users",
                        start_index - 1,
                        page.total_results
                    ),
                });
            }
        }
        Err(KafkamanError::Malformed {
            method: "GET".to_string(),
            path: "/scim/v2/Users".to_string(),
            status: 200,
            request_id: None,
            reason: format!("more than {MAX_PAGES} pages"),
        })
    }

    /// The user with this userName (compared case-insensitively), if any.
    pub async fn find_by_user_name(
        &self,
        user_name: &str,
    ) -> Result<Option<ScimUser>, KafkamanError> {
        let found = self
            .find_by(&format!("userName eq {}", scim_string_literal(user_name)))
            .await?;
        Ok(found
            .into_iter()
            .find(|u| u.user_name.eq_ignore_ascii_case(user_name)))
    }

    /// The user with this externalId (the Okta user id), if any.
    pub async fn find_by_external_id(
        &self,
        external_id: &str,
    ) -> Result<Option<ScimUser>, KafkamanError> {
        let found = self
            .find_by(&format!(
                "externalId eq {}",
                scim_string_literal(external_id)
            ))
            .await?;
        Ok(found
            .into_iter()
            .find(|u| u.external_id.as_deref() == Some(external_id)))
    }

    async fn find_by(&self, filter: &str) -> Result<Vec<ScimUser>, KafkamanError> {
        let mut url = self.url(&["scim", "v2", "Users"]);
        url.query_pairs_mut().append_pair("filter", filter);
        let page = self.get_list(&url).await?;
        Ok(page.resources.into_iter().map(ScimUser::from).collect())
    }

    pub async fn get_user(&self, id: &str) -> Result<Option<ScimUser>, KafkamanError> {
        let url = self.url(&["scim", "v2", "Users", id]);
        let reply = self.execute(Method::GET, &url, None).await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        self.expect_success(&reply, &Method::GET, &url)?;
        self.parse_user(&reply, &Method::GET, &url).map(Some)
    }

    /// Creates (or, for an account outside the team, invites) a user. Not retried after
    /// a timeout or 5xx: see [`KafkamanError::write_may_have_happened`].
    pub async fn create_user(&self, user: &NewUser) -> Result<ScimUser, KafkamanError> {
        let url = self.url(&["scim", "v2", "Users"]);
        let mut body = serde_json::json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": user.user_name,
            "name": {"givenName": user.given_name, "familyName": user.family_name},
            "externalId": user.external_id,
            "emails": [{"value": user.user_name, "type": "work", "primary": true}],
            "active": true,
        });
        if let (Some(display), Some(obj)) = (&user.display_name, body.as_object_mut()) {
            obj.insert("displayName".to_string(), display.clone().into());
        }
        let reply = self.execute(Method::POST, &url, Some(&body)).await?;
        self.expect_success(&reply, &Method::POST, &url)?;
        self.parse_user(&reply, &Method::POST, &url)
    }

    /// PATCH `active` (deactivate / reactivate).
    pub async fn set_active(&self, id: &str, active: bool) -> Result<ScimUser, KafkamanError> {
        self.patch(
            id,
            serde_json::json!([{"op": "replace", "path": "active", "value": active}]),
        )
        .await
    }

    /// PATCH `name.givenName` and `name.familyName`.
    pub async fn set_name(
        &self,
        id: &str,
        given: &str,
        family: &str,
    ) -> Result<ScimUser, KafkamanError> {
        self.patch(
            id,
            serde_json::json!([
                {"op": "replace", "path": "name.givenName", "value": given},
                {"op": "replace", "path": "name.familyName", "value": family},
            ]),
        )
        .await
    }

    async fn patch(
        &self,
        id: &str,
        operations: serde_json::Value,
    ) -> Result<ScimUser, KafkamanError> {
        let url = self.url(&["scim", "v2", "Users", id]);
        let body = serde_json::json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": operations,
        });
        let reply = self.execute(Method::PATCH, &url, Some(&body)).await?;
        self.expect_success(&reply, &Method::PATCH, &url)?;
        self.parse_user(&reply, &Method::PATCH, &url)
    }

    /// Every pending team invite (all pages).
    pub async fn list_pending_invites(&self) -> Result<Vec<Invite>, KafkamanError> {
        let mut invites = Vec::new();
        let mut cursors = HashSet::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut url = self.url(&["api", "v1", "team", "invites"]);
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("status", "pending")
                    .append_pair("limit", "100");
                if let Some(c) = &cursor {
                    q.append_pair("cursor", c);
                }
            }
            let reply = self.execute(Method::GET, &url, None).await?;
            self.expect_success(&reply, &Method::GET, &url)?;
            let page: InvitePage = self.parse(&reply, &Method::GET, &url)?;
            invites.extend(page.data.into_iter().map(Invite::from));
            match page.meta.next_cursor {
                None => return Ok(invites),
                Some(next) => {
                    if !cursors.insert(next.clone()) {
                        return Err(self.malformed(
                            &reply,
                            &Method::GET,
                            &url,
                            "nextCursor repeats an earlier page (pagination loop)".to_string(),
                        ));
                    }
                    cursor = Some(next);
                }
            }
        }
        Err(KafkamanError::Malformed {
            method: "GET".to_string(),
            path: "/api/v1/team/invites".to_string(),
            status: 200,
            request_id: None,
            reason: format!("more than {MAX_PAGES} pages"),
        })
    }

    /// Deletes a pending invite; 404 means it is already gone.
    pub async fn delete_invite(&self, id: &str) -> Result<InviteDeletion, KafkamanError> {
        let url = self.url(&["api", "v1", "team", "invites", id]);
        let reply = self.execute(Method::DELETE, &url, None).await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Ok(InviteDeletion::AlreadyGone);
        }
        self.expect_success(&reply, &Method::DELETE, &url)?;
        Ok(InviteDeletion::Deleted)
    }

    /// `(limit, remaining)` from the last response that carried rate-limit headers.
    pub fn rate_limit_status(&self) -> Option<(u32, u32)> {
        let w = http::lock(&self.inner.window);
        w.is_known().then_some((w.limit, w.remaining))
    }

    /// HTTP requests sent so far (retries included).
    pub fn requests_made(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    // ----- internals -----

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.inner.base_url.clone();
        // base_url was checked to be an http(s) URL with a host, which can be a base.
        if let Ok(mut segs) = url.path_segments_mut() {
            segs.pop_if_empty().extend(segments);
        }
        url
    }

    async fn get_list(&self, url: &Url) -> Result<ListResponse, KafkamanError> {
        let reply = self.execute(Method::GET, url, None).await?;
        self.expect_success(&reply, &Method::GET, url)?;
        self.parse(&reply, &Method::GET, url)
    }

    fn parse<T: serde::de::DeserializeOwned>(
        &self,
        reply: &Reply,
        method: &Method,
        url: &Url,
    ) -> Result<T, KafkamanError> {
        serde_json::from_slice(&reply.body).map_err(|e| {
            self.malformed(
                reply,
                method,
                url,
                format!(
                    "body is not the expected JSON ({e}); it starts with {:?}",
                    http::body_snippet(&reply.body, 80)
                ),
            )
        })
    }

    fn parse_user(
        &self,
        reply: &Reply,
        method: &Method,
        url: &Url,
    ) -> Result<ScimUser, KafkamanError> {
        self.parse::<RawScimUser>(reply, method, url)
            .map(ScimUser::from)
    }

    fn malformed(
        &self,
        reply: &Reply,
        method: &Method,
        url: &Url,
        reason: String,
    ) -> KafkamanError {
        let err = KafkamanError::Malformed {
            method: method.to_string(),
            path: http::log_path(url),
            status: reply.status.as_u16(),
            request_id: reply.request_id.clone(),
            reason,
        };
        log_failure(method, url, reply, &err);
        err
    }

    /// Ok for 2xx; otherwise the error that explains the status (and a log line).
    fn expect_success(
        &self,
        reply: &Reply,
        method: &Method,
        url: &Url,
    ) -> Result<(), KafkamanError> {
        if reply.status.is_success() {
            return Ok(());
        }
        let (scim_type, detail) = error_details(&reply.body);
        let request_id = reply.request_id.clone();
        let detail_lc = detail.as_deref().unwrap_or("").to_ascii_lowercase();
        let err = match reply.status.as_u16() {
            401 => KafkamanError::Unauthorized { request_id },
            403 if detail_lc.contains("scim provisioning is not enabled") => {
                KafkamanError::ScimDisabled { request_id }
            }
            403 if detail_lc.contains("no seats") => KafkamanError::NoSeat { request_id },
            409 => KafkamanError::Conflict {
                detail: detail.unwrap_or_else(|| "conflict".to_string()),
                scim_type,
                request_id,
            },
            429 => KafkamanError::RateLimited {
                method: method.to_string(),
                path: http::log_path(url),
                attempts: 1,
                retry_after: None,
                request_id,
            },
            status => KafkamanError::Api {
                method: method.to_string(),
                path: http::log_path(url),
                status,
                scim_type,
                detail,
                request_id,
            },
        };
        log_failure(method, url, reply, &err);
        Err(err)
    }

    /// Sends one request with pacing and the retries its method allows. Returns the
    /// final reply whatever its status.
    async fn execute(
        &self,
        method: Method,
        url: &Url,
        body: Option<&serde_json::Value>,
    ) -> Result<Reply, KafkamanError> {
        let is_read = matches!(method, Method::GET | Method::HEAD);
        let path = http::log_path(url);
        let max_retries = self.inner.max_retries;
        let mut attempts: u32 = 0;
        loop {
            attempts += 1;
            self.pace().await;
            let mut req = self
                .inner
                .http
                .request(method.clone(), url.clone())
                .header(reqwest::header::ACCEPT, SCIM_CONTENT_TYPE)
                .bearer_auth(self.inner.api_key.expose_secret());
            if let Some(body) = body {
                req = req
                    .header(reqwest::header::CONTENT_TYPE, SCIM_CONTENT_TYPE)
                    .body(body.to_string());
            }
            self.inner.requests.fetch_add(1, Ordering::Relaxed);
            let reply = match send_and_read(req).await {
                Ok(r) => r,
                Err(source) => {
                    http::lock(&self.inner.window).release();
                    let kind = TransportFailure::of(&source);
                    // A refused connection provably sent nothing; anything else may have
                    // reached the server, so only reads are repeated.
                    let retryable = is_read || !kind.request_may_have_arrived();
                    if retryable && attempts <= max_retries {
                        let delay = http::backoff(attempts, RETRY_BASE, RETRY_CAP);
                        tracing::info!(method = %method, path = %path, failure = kind.describe(), attempt = attempts, delay_ms = delay.as_millis() as u64, "kafkaman request failed; retrying");
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    tracing::warn!(method = %method, path = %path, failure = kind.describe(), attempts, error = %source, "kafkaman request failed");
                    return Err(KafkamanError::Transport {
                        method: method.to_string(),
                        path,
                        kind,
                        attempts,
                        source,
                    });
                }
            };
            self.observe(&reply.headers);
            if reply.status == StatusCode::TOO_MANY_REQUESTS {
                // A 429 was not processed: safe to repeat for any method.
                let retry_after = retry_after(&reply.headers);
                if attempts > max_retries || retry_after > MAX_RETRY_AFTER {
                    let err = KafkamanError::RateLimited {
                        method: method.to_string(),
                        path,
                        attempts,
                        retry_after: Some(retry_after),
                        request_id: reply.request_id.clone(),
                    };
                    log_failure(&method, url, &reply, &err);
                    return Err(err);
                }
                tracing::info!(method = %method, path = %path, request_id = reply.request_id.as_deref().unwrap_or(""), wait_ms = retry_after.as_millis() as u64, attempt = attempts, "kafkaman rate limit hit; waiting Retry-After");
                tokio::time::sleep(retry_after).await;
                continue;
            }
            if reply.status.is_server_error() && is_read && attempts <= max_retries {
                let delay = http::backoff(attempts, RETRY_BASE, RETRY_CAP);
                tracing::info!(method = %method, path = %path, status = reply.status.as_u16(), request_id = reply.request_id.as_deref().unwrap_or(""), attempt = attempts, delay_ms = delay.as_millis() as u64, "kafkaman server error; retrying");
                tokio::time::sleep(delay).await;
                continue;
            }
            return Ok(reply);
        }
    }

    /// Waits until the key's window has room, and reserves one request in it.
    async fn pace(&self) {
        loop {
            let reserved = http::lock(&self.inner.window).try_reserve(1.0, Instant::now());
            let Err(wait) = reserved else { return };
            tracing::debug!(
                wait_ms = wait.as_millis() as u64,
                "kafkaman rate-limit window spent; waiting for the reset"
            );
            tokio::time::sleep(wait + Duration::from_millis(20)).await;
        }
    }

    fn observe(&self, headers: &HeaderMap) {
        let mut w = http::lock(&self.inner.window);
        let limit = http::header_u64(headers, "x-ratelimit-limit");
        let remaining = http::header_u64(headers, "x-ratelimit-remaining");
        // kafkaman's Reset is seconds until the window resets.
        let reset_in = http::header_u64(headers, "x-ratelimit-reset");
        match (limit, remaining, reset_in) {
            (Some(limit), Some(remaining), Some(reset_in)) if limit > 0 => {
                crate::metrics::rate_limit_remaining("kafkaman", "key", remaining);
                w.observe(
                    u32::try_from(limit).unwrap_or(u32::MAX),
                    u32::try_from(remaining).unwrap_or(u32::MAX),
                    Duration::from_secs(reset_in),
                    0,
                )
            }
            _ => w.release(),
        }
    }
}

/// `Retry-After` as seconds or an HTTP date; 1 s when absent or unreadable.
fn retry_after(headers: &HeaderMap) -> Duration {
    let Some(value) = http::header_str(headers, "retry-after") else {
        return Duration::from_secs(1);
    };
    if let Ok(secs) = value.parse::<u64>() {
        return Duration::from_secs(secs);
    }
    httpdate::parse_http_date(value)
        .ok()
        .and_then(|t| t.duration_since(std::time::SystemTime::now()).ok())
        .unwrap_or(Duration::from_secs(1))
}

/// `(scimType, detail)` from a SCIM error body, or the message of a team API error.
fn error_details(body: &[u8]) -> (Option<String>, Option<String>) {
    if let Ok(team) = serde_json::from_slice::<TeamErrorBody>(body) {
        return (team.error.name, team.error.message);
    }
    match serde_json::from_slice::<ScimErrorBody>(body) {
        Ok(scim) => (scim.scim_type, scim.detail),
        Err(_) if body.is_empty() => (None, None),
        Err(_) => (None, Some(http::body_snippet(body, 120))),
    }
}

async fn send_and_read(req: reqwest::RequestBuilder) -> Result<Reply, reqwest::Error> {
    let resp = req.send().await.inspect_err(|_| {
        crate::metrics::api_request("kafkaman", None);
    })?;
    let status = resp.status();
    crate::metrics::api_request("kafkaman", Some(status.as_u16()));
    let headers = resp.headers().clone();
    let body = resp.bytes().await?;
    let request_id = http::header_str(&headers, "x-request-id").map(str::to_string);
    Ok(Reply {
        status,
        headers,
        body,
        request_id,
    })
}

fn log_failure(method: &Method, url: &Url, reply: &Reply, err: &KafkamanError) {
    tracing::warn!(
        method = %method,
        path = %http::log_path(url),
        status = reply.status.as_u16(),
        request_id = reply.request_id.as_deref().unwrap_or(""),
        error = %err,
        "kafkaman request failed"
    );
}

#[cfg(test)]
mod tests {

    #[test]
    fn an_invites_page_without_its_cursor_is_malformed_not_the_end() {
        assert!(serde_json::from_str::<InvitePage>(r#"{"data":[]}"#).is_err());
        assert!(serde_json::from_str::<InvitePage>(r#"{"data":[],"meta":{}}"#).is_err());
        let last: InvitePage =
            serde_json::from_str(r#"{"data":[],"meta":{"nextCursor":null}}"#).unwrap();
        assert!(last.meta.next_cursor.is_none());
    }

    use super::*;

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
        assert_eq!(u.membership.as_deref(), Some("deactivated"));
        assert!(!u.active);
    }

    #[test]
    fn conflict_reasons() {
        let c = |d: &str| KafkamanError::Conflict {
            detail: d.to_string(),
            scim_type: Some("uniqueness".into()),
            request_id: None,
        };
        assert_eq!(
            c("A pending invite exists for this email").conflict_reason(),
            Some(ConflictReason::PendingInvite)
        );
        assert_eq!(
            c("User already exists in this team").conflict_reason(),
            Some(ConflictReason::AlreadyMember)
        );
    }
}
