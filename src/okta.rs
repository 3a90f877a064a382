//! Okta source client: reads the users assigned to the kafkaman app (and what `check` and
//! `explain` need) from Okta's management API.
//!
//! It stays inside a share of each Okta rate-limit bucket (the org's limits are shared
//! with every other integration), honours 429s by waiting for the server's reset time,
//! retries reads on transient failures, and returns complete listings or an error —
//! never a partial list, which a sync would mistake for removals.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::http::{self, RateWindow, TransportFailure};

/// How scim-sync authenticates to Okta.
#[derive(Clone)]
pub enum OktaAuth {
    /// `Authorization: SSWS <token>`.
    Ssws(SecretString),
    /// An OAuth 2.0 service app: client credentials with a `private_key_jwt` assertion.
    Oauth {
        client_id: String,
        private_key_pem: SecretString,
        key_id: Option<String>,
        scopes: Vec<String>,
    },
}

impl std::fmt::Debug for OktaAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OktaAuth::Ssws(_) => f.write_str("Ssws([redacted])"),
            OktaAuth::Oauth {
                client_id,
                key_id,
                scopes,
                ..
            } => f
                .debug_struct("Oauth")
                .field("client_id", client_id)
                .field("private_key_pem", &"[redacted]")
                .field("key_id", key_id)
                .field("scopes", scopes)
                .finish(),
        }
    }
}

/// Ids per `filter=id eq … or …` request: keeps the URL well under 2 KB.
const USERS_PER_ID_FILTER: usize = 40;

#[derive(Debug, Clone)]
pub struct OktaClientOptions {
    /// The org, e.g. `https://example.okta.com`.
    pub org_url: Url,
    pub auth: OktaAuth,
    /// Share of each rate-limit bucket this client may use per window (0 < share ≤ 1).
    pub rate_limit_share: f64,
    /// `limit` for app-user listings (Okta's maximum is 500).
    pub page_size: u32,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Retries of one request after 5xx, timeouts, dropped connections and 429s.
    pub max_retries: u32,
    /// The longest this client sleeps for one rate-limit reset; a 429 that needs longer
    /// is an error.
    pub max_rate_limit_wait: Duration,
}

impl OktaClientOptions {
    /// Options with the defaults: half of each bucket, pages of 500, 30 s timeout,
    /// 4 retries, rate-limit waits of up to 90 s.
    pub fn new(org_url: Url, auth: OktaAuth) -> Self {
        OktaClientOptions {
            org_url,
            auth,
            rate_limit_share: 0.5,
            page_size: 500,
            timeout: Duration::from_secs(30),
            max_retries: 4,
            max_rate_limit_wait: Duration::from_secs(90),
        }
    }
}

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
    pub user: OktaUser,
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

/// Okta's rate-limit buckets as this client keys them (by path prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    /// `/api/v1/apps` and everything below it.
    Apps,
    /// `GET /api/v1/users` (the list).
    UsersList,
    /// `/api/v1/logs`.
    Logs,
    /// Everything else.
    Other,
}

impl Bucket {
    pub fn of(method: &Method, path: &str) -> Bucket {
        let path = path.trim_end_matches('/');
        if path == "/api/v1/apps" || path.starts_with("/api/v1/apps/") {
            Bucket::Apps
        } else if path == "/api/v1/users" && *method == Method::GET {
            Bucket::UsersList
        } else if path == "/api/v1/logs" || path.starts_with("/api/v1/logs/") {
            Bucket::Logs
        } else {
            Bucket::Other
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Bucket::Apps => "apps",
            Bucket::UsersList => "users_list",
            Bucket::Logs => "logs",
            Bucket::Other => "other",
        }
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

/// A failed Okta call. Errors that come from a response carry Okta's request id
/// (`X-Okta-Request-Id`) so that Okta support and the System Log can find the request.
#[derive(Debug, thiserror::Error)]
pub enum OktaError {
    #[error("invalid Okta settings: {0}")]
    Config(String),
    #[error("{hint} (HTTP {status}{}{})", code_part(.error_code), rid_part(.request_id))]
    Unauthorized {
        status: u16,
        error_code: Option<String>,
        request_id: Option<String>,
        hint: String,
    },
    #[error(
        "Okta refused {method} {path}: {hint} (HTTP 403{}{})",
        code_part(.error_code),
        rid_part(.request_id)
    )]
    Forbidden {
        method: String,
        path: String,
        error_code: Option<String>,
        request_id: Option<String>,
        hint: String,
    },
    #[error(
        "app id {app_id:?} not found in the Okta org (HTTP 404{}{}): check okta.app_id",
        code_part(.error_code),
        rid_part(.request_id)
    )]
    AppNotFound {
        app_id: String,
        error_code: Option<String>,
        request_id: Option<String>,
    },
    #[error(
        "Okta answered {method} {path} with HTTP {status}{}{}{}",
        code_part(.error_code),
        summary_part(.summary),
        rid_part(.request_id)
    )]
    Api {
        method: String,
        path: String,
        status: u16,
        error_code: Option<String>,
        summary: Option<String>,
        request_id: Option<String>,
    },
    #[error(
        "Okta rate limit for {path} still exceeded after {attempts} attempt(s){}{}: another integration may be using the org's budget; lower the sync frequency or raise this app's share in Okta's rate-limit settings",
        wait_part(.wait_needed),
        rid_part(.request_id)
    )]
    RateLimited {
        path: String,
        attempts: u32,
        /// The wait the server asked for when it exceeded `max_rate_limit_wait`.
        wait_needed: Option<Duration>,
        request_id: Option<String>,
    },
    #[error(
        "{method} {path}: {} after {attempts} attempt(s): check okta.org_url and the network ({source})",
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
    #[error("Okta sent an unusable response to {path}{}: {reason}", rid_part(.request_id))]
    Malformed {
        path: String,
        status: u16,
        request_id: Option<String>,
        reason: String,
    },
    #[error(
        "Okta refused the OAuth token request (HTTP {status}, {error}{}){}: check okta.client_id, that the service app's registered public key matches the private key (and key id), and that the scopes are granted",
        summary_part(.description),
        rid_part(.request_id)
    )]
    Token {
        status: u16,
        error: String,
        description: Option<String>,
        request_id: Option<String>,
    },
}

fn code_part(code: &Option<String>) -> String {
    code.as_deref()
        .map(|c| format!(", {c}"))
        .unwrap_or_default()
}
fn rid_part(rid: &Option<String>) -> String {
    rid.as_deref()
        .map(|r| format!(", request id {r}"))
        .unwrap_or_default()
}
fn summary_part(s: &Option<String>) -> String {
    s.as_deref().map(|s| format!(": {s}")).unwrap_or_default()
}
fn wait_part(w: &Option<Duration>) -> String {
    w.map(|w| format!(" (the next window opens in {} s)", w.as_secs()))
        .unwrap_or_default()
}

impl OktaError {
    pub fn request_id(&self) -> Option<&str> {
        match self {
            OktaError::Unauthorized { request_id, .. }
            | OktaError::Forbidden { request_id, .. }
            | OktaError::AppNotFound { request_id, .. }
            | OktaError::Api { request_id, .. }
            | OktaError::RateLimited { request_id, .. }
            | OktaError::Malformed { request_id, .. }
            | OktaError::Token { request_id, .. } => request_id.as_deref(),
            OktaError::Config(_) | OktaError::Transport { .. } => None,
        }
    }

    pub fn error_code(&self) -> Option<&str> {
        match self {
            OktaError::Unauthorized { error_code, .. }
            | OktaError::Forbidden { error_code, .. }
            | OktaError::AppNotFound { error_code, .. }
            | OktaError::Api { error_code, .. } => error_code.as_deref(),
            OktaError::RateLimited { .. } => Some("E0000047"),
            OktaError::Token { error, .. } => Some(error),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            OktaError::Unauthorized { status, .. }
            | OktaError::Api { status, .. }
            | OktaError::Malformed { status, .. }
            | OktaError::Token { status, .. } => Some(*status),
            OktaError::Forbidden { .. } => Some(403),
            OktaError::AppNotFound { .. } => Some(404),
            OktaError::RateLimited { .. } => Some(429),
            OktaError::Config(_) | OktaError::Transport { .. } => None,
        }
    }
}

/// The first retry waits about this long; later ones double (with jitter).
const RETRY_BASE: Duration = Duration::from_millis(250);
const RETRY_CAP: Duration = Duration::from_secs(10);
/// Concurrency 429s (Limit = 0) carry only an estimated reset: back off this long.
const CONCURRENCY_BACKOFF: Duration = Duration::from_secs(2);
/// Listings stop with an error past this many pages (a server looping its cursor).
const MAX_PAGES: usize = 100_000;

/// Cheap to clone; clones share the token cache, rate-limit state and counters.
#[derive(Clone)]
pub struct OktaClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    org_url: Url,
    auth: AuthState,
    share: f64,
    page_size: u32,
    max_retries: u32,
    max_rate_limit_wait: Duration,
    buckets: Mutex<BTreeMap<Bucket, RateWindow>>,
    requests: AtomicU64,
}

enum AuthState {
    Ssws(SecretString),
    Oauth {
        client_id: String,
        key: jsonwebtoken::EncodingKey,
        key_id: Option<String>,
        scopes: Vec<String>,
        token: tokio::sync::Mutex<Option<CachedToken>>,
    },
}

struct CachedToken {
    access_token: SecretString,
    refresh_at: Instant,
}

/// A response read to the end.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    request_id: Option<String>,
}

#[derive(Deserialize)]
struct OktaErrorBody {
    #[serde(rename = "errorCode")]
    error_code: Option<String>,
    #[serde(rename = "errorSummary")]
    error_summary: Option<String>,
    #[serde(rename = "errorId")]
    error_id: Option<String>,
}

#[derive(Deserialize)]
struct RawAppUser {
    id: String,
    scope: String,
    status: String,
    #[serde(rename = "externalId", default)]
    external_id: Option<String>,
    #[serde(rename = "_embedded", default)]
    embedded: Option<RawEmbedded>,
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

#[derive(Serialize)]
struct AssertionClaims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    iat: u64,
    exp: u64,
    jti: String,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct TokenErrorBody {
    error: Option<String>,
    error_description: Option<String>,
}

fn epoch_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl OktaClient {
    pub fn new(opts: OktaClientOptions) -> Result<OktaClient, OktaError> {
        if !(opts.rate_limit_share > 0.0 && opts.rate_limit_share <= 1.0) {
            return Err(OktaError::Config(format!(
                "okta.rate_limit_share must be in (0, 1], got {}",
                opts.rate_limit_share
            )));
        }
        if !(1..=500).contains(&opts.page_size) {
            return Err(OktaError::Config(format!(
                "okta.page_size must be between 1 and 500 (Okta's maximum), got {}",
                opts.page_size
            )));
        }
        if !matches!(opts.org_url.scheme(), "https" | "http") || opts.org_url.host().is_none() {
            return Err(OktaError::Config(format!(
                "okta.org_url must be an http(s) URL like https://example.okta.com, got {}",
                opts.org_url
            )));
        }
        let auth = match opts.auth {
            OktaAuth::Ssws(token) => {
                if token.expose_secret().trim().is_empty() {
                    return Err(OktaError::Config("okta.api_token is empty".to_string()));
                }
                AuthState::Ssws(token)
            }
            OktaAuth::Oauth {
                client_id,
                private_key_pem,
                key_id,
                scopes,
            } => {
                let key = jsonwebtoken::EncodingKey::from_rsa_pem(
                    private_key_pem.expose_secret().as_bytes(),
                )
                .map_err(|e| {
                    OktaError::Config(format!(
                        "okta private key is not a usable RSA PEM key ({e}): check okta.private_key"
                    ))
                })?;
                if scopes.is_empty() {
                    return Err(OktaError::Config(
                        "okta.scopes is empty: the service app needs e.g. okta.apps.read okta.users.read okta.groups.read".to_string(),
                    ));
                }
                AuthState::Oauth {
                    client_id,
                    key,
                    key_id,
                    scopes,
                    token: tokio::sync::Mutex::new(None),
                }
            }
        };
        let http = http::build_client(opts.timeout)
            .map_err(|e| OktaError::Config(format!("cannot build the HTTP client: {e}")))?;
        // Paths are built from the org's origin; a path in org_url is ignored.
        let mut org_url = opts.org_url;
        org_url.set_path("");
        org_url.set_query(None);
        org_url.set_fragment(None);
        Ok(OktaClient {
            inner: Arc::new(Inner {
                http,
                org_url,
                auth,
                share: opts.rate_limit_share,
                page_size: opts.page_size,
                max_retries: opts.max_retries,
                max_rate_limit_wait: opts.max_rate_limit_wait,
                buckets: Mutex::new(BTreeMap::new()),
                requests: AtomicU64::new(0),
            }),
        })
    }

    /// Every user assigned to the app (directly or through a group), with the Okta user
    /// embedded. Complete or an error.
    pub async fn list_app_users(
        &self,
        app_id: &str,
        on_page: &(dyn Fn(usize) + Send + Sync),
    ) -> Result<Vec<AppUser>, OktaError> {
        let mut url = self.api_url(&["api", "v1", "apps", app_id, "users"]);
        url.query_pairs_mut()
            .append_pair("limit", &self.inner.page_size.to_string())
            .append_pair("expand", "user");
        let mut users: Vec<AppUser> = Vec::new();
        let mut seen_ids = HashSet::new();
        self.for_each_page(url, Some(app_id), |items, path, reply| {
            for item in items {
                let user = parse_app_user(item).map_err(|reason| OktaError::Malformed {
                    path: path.to_string(),
                    status: reply.status.as_u16(),
                    request_id: reply.request_id.clone(),
                    reason,
                })?;
                // Okta gives no snapshot across pages; a row seen twice is one user.
                if seen_ids.insert(user.id.clone()) {
                    users.push(user);
                }
            }
            on_page(users.len());
            Ok(())
        })
        .await?;
        Ok(users)
    }

    pub async fn get_app(&self, app_id: &str) -> Result<serde_json::Value, OktaError> {
        let url = self.api_url(&["api", "v1", "apps", app_id]);
        let reply = self.get(&url).await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Err(self.app_not_found(app_id, &reply, &url));
        }
        self.expect_success(&reply, &Method::GET, &url)?;
        self.parse_json(&reply, &url)
    }

    /// One user's assignment to the app, with the user embedded; None when not assigned.
    pub async fn get_app_user(
        &self,
        app_id: &str,
        user_id: &str,
    ) -> Result<Option<AppUser>, OktaError> {
        let mut url = self.api_url(&["api", "v1", "apps", app_id, "users", user_id]);
        url.query_pairs_mut().append_pair("expand", "user");
        let reply = self.get(&url).await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        self.expect_success(&reply, &Method::GET, &url)?;
        let value: serde_json::Value = self.parse_json(&reply, &url)?;
        parse_app_user(value)
            .map(Some)
            .map_err(|reason| self.malformed(&reply, &url, reason))
    }

    /// A user by id or login; None when there is no such user.
    pub async fn get_user(&self, id_or_login: &str) -> Result<Option<OktaUser>, OktaError> {
        let url = self.api_url(&["api", "v1", "users", id_or_login]);
        let reply = self.get(&url).await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        self.expect_success(&reply, &Method::GET, &url)?;
        let raw: RawUser = serde_json::from_slice(&reply.body)
            .map_err(|e| self.malformed(&reply, &url, format!("not a User object: {e}")))?;
        Ok(Some(raw.into()))
    }

    /// Users by id, many per request: `GET /api/v1/users?filter=id eq "…" or id eq "…"`
    /// (a filter includes DEPROVISIONED users, unlike the plain list). Ids not returned do
    /// not exist in this org. Complete or Err, like every listing.
    pub async fn find_users_by_ids(&self, ids: &[String]) -> Result<Vec<OktaUser>, OktaError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(USERS_PER_ID_FILTER) {
            let filter = chunk
                .iter()
                .map(|id| format!("id eq \"{}\"", id.replace(['"', '\\'], "")))
                .collect::<Vec<_>>()
                .join(" or ");
            let mut url = self.api_url(&["api", "v1", "users"]);
            url.query_pairs_mut()
                .append_pair("filter", &filter)
                .append_pair("limit", "200");
            self.for_each_page(url, None, |items, path, reply| {
                for item in items {
                    let raw: RawUser =
                        serde_json::from_value(item).map_err(|e| OktaError::Malformed {
                            path: path.to_string(),
                            status: reply.status.as_u16(),
                            request_id: reply.request_id.clone(),
                            reason: format!("not a User object: {e}"),
                        })?;
                    out.push(raw.into());
                }
                Ok(())
            })
            .await?;
        }
        Ok(out)
    }

    /// The app's group assignments (`ApplicationGroupAssignment` with the group embedded).
    pub async fn list_app_groups(&self, app_id: &str) -> Result<Vec<serde_json::Value>, OktaError> {
        let mut url = self.api_url(&["api", "v1", "apps", app_id, "groups"]);
        url.query_pairs_mut()
            .append_pair("limit", "200")
            .append_pair("expand", "group");
        let mut out = Vec::new();
        self.for_each_page(url, Some(app_id), |items, _, _| {
            out.extend(items);
            Ok(())
        })
        .await?;
        Ok(out)
    }

    /// The groups a user belongs to.
    pub async fn list_user_groups(
        &self,
        user_id: &str,
    ) -> Result<Vec<serde_json::Value>, OktaError> {
        let url = self.api_url(&["api", "v1", "users", user_id, "groups"]);
        let mut out = Vec::new();
        self.for_each_page(url, None, |items, _, _| {
            out.extend(items);
            Ok(())
        })
        .await?;
        Ok(out)
    }

    /// `GET <path>?limit=1`: succeeds when the credentials may read `path` (for `check`).
    pub async fn probe_scope(&self, path: &str) -> Result<(), OktaError> {
        let mut url = self.inner.org_url.join(path).map_err(|e| {
            OktaError::Config(format!("cannot build a URL from path {path:?}: {e}"))
        })?;
        if !self.same_origin(&url) {
            return Err(OktaError::Config(format!(
                "probe path {path:?} leaves the Okta org"
            )));
        }
        url.query_pairs_mut().append_pair("limit", "1");
        let reply = self.get(&url).await?;
        self.expect_success(&reply, &Method::GET, &url)
    }

    /// The rate-limit headers last seen, per bucket.
    pub fn rate_limit_status(&self) -> Vec<BucketStatus> {
        let buckets = http::lock(&self.inner.buckets);
        buckets
            .iter()
            .filter(|(_, s)| s.is_known())
            .map(|(bucket, s)| BucketStatus {
                bucket: *bucket,
                limit: s.limit,
                remaining: s.remaining,
                reset_epoch: s.reset_epoch,
            })
            .collect()
    }

    /// HTTP requests sent so far (retries and token requests included).
    pub fn requests_made(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    // ----- internals -----

    fn api_url(&self, segments: &[&str]) -> Url {
        let mut url = self.inner.org_url.clone();
        // org_url was checked to be an http(s) URL with a host, which can be a base.
        if let Ok(mut segs) = url.path_segments_mut() {
            segs.clear().extend(segments);
        }
        url
    }

    fn same_origin(&self, url: &Url) -> bool {
        url.origin() == self.inner.org_url.origin()
    }

    /// Fetches `first` and every page after it by following `rel="next"` verbatim.
    /// `app_id` turns a 404 on the first page into [`OktaError::AppNotFound`].
    async fn for_each_page(
        &self,
        first: Url,
        app_id: Option<&str>,
        mut on_items: impl FnMut(Vec<serde_json::Value>, &str, &Reply) -> Result<(), OktaError>,
    ) -> Result<(), OktaError> {
        let mut url = first;
        let mut visited = HashSet::new();
        for page in 0..MAX_PAGES {
            let reply = self.get(&url).await?;
            if page == 0
                && reply.status == StatusCode::NOT_FOUND
                && let Some(app_id) = app_id
            {
                return Err(self.app_not_found(app_id, &reply, &url));
            }
            self.expect_success(&reply, &Method::GET, &url)?;
            let value: serde_json::Value = self.parse_json(&reply, &url)?;
            let serde_json::Value::Array(items) = value else {
                return Err(self.malformed(&reply, &url, "expected a JSON array".to_string()));
            };
            let path = http::log_path(&url);
            on_items(items, &path, &reply)?;
            visited.insert(url.to_string());
            let Some(next) = http::next_link(&reply.headers) else {
                return Ok(());
            };
            let next = Url::parse(&next)
                .map_err(|e| self.malformed(&reply, &url, format!("unparsable next link: {e}")))?;
            if !self.same_origin(&next) {
                // Never send the credentials to another host.
                return Err(self.malformed(
                    &reply,
                    &url,
                    format!(
                        "next link points outside the org ({})",
                        next.origin().ascii_serialization()
                    ),
                ));
            }
            if visited.contains(next.as_str()) {
                return Err(self.malformed(
                    &reply,
                    &url,
                    "next link repeats an earlier page (pagination loop)".to_string(),
                ));
            }
            url = next;
        }
        Err(OktaError::Malformed {
            path: http::log_path(&url),
            status: 200,
            request_id: None,
            reason: format!("more than {MAX_PAGES} pages"),
        })
    }

    fn parse_json<T: serde::de::DeserializeOwned>(
        &self,
        reply: &Reply,
        url: &Url,
    ) -> Result<T, OktaError> {
        serde_json::from_slice(&reply.body).map_err(|e| {
            self.malformed(
                reply,
                url,
                format!(
                    "body is not the expected JSON ({e}); it starts with {:?}",
                    http::body_snippet(&reply.body, 80)
                ),
            )
        })
    }

    fn malformed(&self, reply: &Reply, url: &Url, reason: String) -> OktaError {
        let err = OktaError::Malformed {
            path: http::log_path(url),
            status: reply.status.as_u16(),
            request_id: reply.request_id.clone(),
            reason,
        };
        tracing::warn!(
            method = "GET",
            path = %http::log_path(url),
            status = reply.status.as_u16(),
            request_id = reply.request_id.as_deref().unwrap_or(""),
            error = %err,
            "Okta response unusable"
        );
        err
    }

    fn app_not_found(&self, app_id: &str, reply: &Reply, url: &Url) -> OktaError {
        let body = parse_error_body(&reply.body);
        let err = OktaError::AppNotFound {
            app_id: app_id.to_string(),
            error_code: body.as_ref().and_then(|b| b.error_code.clone()),
            request_id: reply.request_id.clone(),
        };
        log_failure(&Method::GET, url, reply, &err);
        err
    }

    /// Ok for 2xx; otherwise the error that explains the status (and a log line).
    fn expect_success(&self, reply: &Reply, method: &Method, url: &Url) -> Result<(), OktaError> {
        if reply.status.is_success() {
            return Ok(());
        }
        let body = parse_error_body(&reply.body);
        let error_code = body.as_ref().and_then(|b| b.error_code.clone());
        let summary = body.as_ref().and_then(|b| b.error_summary.clone());
        let request_id = reply.request_id.clone();
        let path = http::log_path(url);
        let err = match reply.status.as_u16() {
            401 => OktaError::Unauthorized {
                status: 401,
                hint: self.unauthorized_hint(error_code.as_deref()),
                error_code,
                request_id,
            },
            403 => OktaError::Forbidden {
                method: method.to_string(),
                hint: forbidden_hint(&path, &self.inner.auth),
                path,
                error_code,
                request_id,
            },
            429 => OktaError::RateLimited {
                path,
                attempts: 1,
                wait_needed: None,
                request_id,
            },
            status => OktaError::Api {
                method: method.to_string(),
                path,
                status,
                error_code,
                summary,
                request_id,
            },
        };
        log_failure(method, url, reply, &err);
        Err(err)
    }

    fn unauthorized_hint(&self, code: Option<&str>) -> String {
        let code = code.unwrap_or("no error code");
        match &self.inner.auth {
            AuthState::Ssws(_) => format!(
                "Okta rejected the API token ({code}): check okta.api_token (revoked, expired, or from another org?) and okta.org_url"
            ),
            AuthState::Oauth { .. } => format!(
                "Okta rejected the OAuth access token ({code}) even after fetching a new one: check okta.org_url and that the service app is active"
            ),
        }
    }

    async fn get(&self, url: &Url) -> Result<Reply, OktaError> {
        self.execute(Method::GET, url).await
    }

    /// Sends one API request with pacing, auth, and retries (429, 5xx, transport
    /// failures; one token refresh on 401). Returns the final reply whatever its status.
    async fn execute(&self, method: Method, url: &Url) -> Result<Reply, OktaError> {
        let bucket = Bucket::of(&method, url.path());
        let path = http::log_path(url);
        let max_retries = self.inner.max_retries;
        let mut attempts: u32 = 0;
        let mut retry_for: Option<String> = None;
        let mut refreshed_token = false;
        loop {
            attempts += 1;
            self.pace(bucket).await;
            let (auth_value, bearer) = match self.authorization().await {
                Ok(v) => v,
                Err(e) => {
                    self.release(bucket);
                    return Err(e);
                }
            };
            let mut req = self
                .inner
                .http
                .request(method.clone(), url.clone())
                .header(reqwest::header::ACCEPT, "application/json")
                .header(reqwest::header::AUTHORIZATION, auth_value.expose_secret());
            if let Some(rid) = &retry_for {
                req = req
                    .header("X-Okta-Retry-For", rid.as_str())
                    .header("X-Okta-Retry-Count", (attempts - 1).to_string());
            }
            self.inner.requests.fetch_add(1, Ordering::Relaxed);
            let reply = match send_and_read(req).await {
                Ok(r) => r,
                Err(source) => {
                    self.release(bucket);
                    let kind = TransportFailure::of(&source);
                    if attempts <= max_retries {
                        let delay = http::backoff(attempts, RETRY_BASE, RETRY_CAP);
                        tracing::info!(method = %method, path = %path, failure = kind.describe(), attempt = attempts, delay_ms = delay.as_millis() as u64, "Okta request failed; retrying");
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    tracing::warn!(method = %method, path = %path, failure = kind.describe(), attempts, error = %source, "Okta request failed");
                    return Err(OktaError::Transport {
                        method: method.to_string(),
                        path,
                        kind,
                        attempts,
                        source,
                    });
                }
            };
            self.observe(bucket, &reply.headers);
            let status = reply.status;
            if status == StatusCode::TOO_MANY_REQUESTS {
                let wait = self.rate_limit_wait(&reply.headers);
                let too_long = wait > self.inner.max_rate_limit_wait;
                if attempts > max_retries || too_long {
                    let err = OktaError::RateLimited {
                        path,
                        attempts,
                        wait_needed: too_long.then_some(wait),
                        request_id: reply.request_id.clone(),
                    };
                    log_failure(&method, url, &reply, &err);
                    return Err(err);
                }
                tracing::info!(method = %method, path = %path, request_id = reply.request_id.as_deref().unwrap_or(""), wait_ms = wait.as_millis() as u64, attempt = attempts, "Okta rate limit hit; waiting for the reset");
                retry_for = reply.request_id.clone().or(retry_for);
                tokio::time::sleep(wait).await;
                continue;
            }
            if status == StatusCode::UNAUTHORIZED
                && !refreshed_token
                && let Some(bearer) = bearer
            {
                // The cached token may have been revoked or expired early: fetch a new
                // one once.
                refreshed_token = true;
                self.invalidate_token(&bearer).await;
                tracing::info!(path = %path, request_id = reply.request_id.as_deref().unwrap_or(""), "Okta rejected the access token; fetching a new one");
                continue;
            }
            if status.is_server_error() && attempts <= max_retries {
                let delay = http::backoff(attempts, RETRY_BASE, RETRY_CAP);
                tracing::info!(method = %method, path = %path, status = status.as_u16(), request_id = reply.request_id.as_deref().unwrap_or(""), attempt = attempts, delay_ms = delay.as_millis() as u64, "Okta server error; retrying");
                tokio::time::sleep(delay).await;
                continue;
            }
            return Ok(reply);
        }
    }

    /// How long to wait after a 429: until the server's reset (`Reset − Date + 1 s`),
    /// or a short backoff for concurrency 429s whose reset is only an estimate.
    fn rate_limit_wait(&self, headers: &HeaderMap) -> Duration {
        let limit = http::header_u64(headers, "x-rate-limit-limit");
        let reset = http::header_u64(headers, "x-rate-limit-reset");
        match (limit, reset) {
            (Some(l), Some(reset)) if l > 0 => {
                let now = http::server_date_epoch(headers).unwrap_or_else(epoch_now);
                Duration::from_secs(reset.saturating_sub(now) + 1)
            }
            _ => CONCURRENCY_BACKOFF + CONCURRENCY_BACKOFF.mul_f64(fastrand::f64()),
        }
    }

    /// Waits until this client may send one more request in `bucket`, and reserves it.
    async fn pace(&self, bucket: Bucket) {
        loop {
            let reserved = http::lock(&self.inner.buckets)
                .entry(bucket)
                .or_default()
                .try_reserve(self.inner.share, Instant::now());
            let Err(wait) = reserved else { return };
            tracing::debug!(
                bucket = bucket.name(),
                wait_ms = wait.as_millis() as u64,
                "pacing Okta requests to stay within the rate-limit share"
            );
            // A little past the reset, so the server's window has surely turned over.
            tokio::time::sleep(wait + Duration::from_millis(20)).await;
        }
    }

    /// A reserved request ended without a response.
    fn release(&self, bucket: Bucket) {
        http::lock(&self.inner.buckets)
            .entry(bucket)
            .or_default()
            .release();
    }

    /// Records a response's rate-limit headers for its bucket.
    fn observe(&self, bucket: Bucket, headers: &HeaderMap) {
        let mut buckets = http::lock(&self.inner.buckets);
        let window = buckets.entry(bucket).or_default();
        let limit = http::header_u64(headers, "x-rate-limit-limit");
        let remaining = http::header_u64(headers, "x-rate-limit-remaining");
        let reset = http::header_u64(headers, "x-rate-limit-reset");
        match (limit, remaining, reset) {
            // Limit 0 is a concurrency 429: it says nothing about the bucket's window.
            (Some(limit), Some(remaining), Some(reset)) if limit > 0 => {
                // Measured against the server's clock (Date), not ours.
                let server_now = http::server_date_epoch(headers).unwrap_or_else(epoch_now);
                crate::metrics::rate_limit_remaining("okta", bucket.name(), remaining);
                window.observe(
                    u32::try_from(limit).unwrap_or(u32::MAX),
                    u32::try_from(remaining).unwrap_or(u32::MAX),
                    Duration::from_secs(reset.saturating_sub(server_now)),
                    reset,
                );
            }
            _ => window.release(),
        }
    }

    /// The `Authorization` header value, and the bearer token when OAuth is used.
    async fn authorization(&self) -> Result<(SecretString, Option<SecretString>), OktaError> {
        match &self.inner.auth {
            AuthState::Ssws(token) => Ok((
                SecretString::from(format!("SSWS {}", token.expose_secret())),
                None,
            )),
            AuthState::Oauth { token, .. } => {
                let mut cached = token.lock().await;
                if let Some(t) = cached.as_ref()
                    && Instant::now() < t.refresh_at
                {
                    let bearer = t.access_token.clone();
                    return Ok((
                        SecretString::from(format!("Bearer {}", bearer.expose_secret())),
                        Some(bearer),
                    ));
                }
                let fresh = self.fetch_token().await?;
                let bearer = fresh.access_token.clone();
                *cached = Some(fresh);
                Ok((
                    SecretString::from(format!("Bearer {}", bearer.expose_secret())),
                    Some(bearer),
                ))
            }
        }
    }

    /// Drops the cached token if it is the one that was rejected (another task may
    /// already have replaced it).
    async fn invalidate_token(&self, rejected: &SecretString) {
        if let AuthState::Oauth { token, .. } = &self.inner.auth {
            let mut cached = token.lock().await;
            if cached
                .as_ref()
                .is_some_and(|t| t.access_token.expose_secret() == rejected.expose_secret())
            {
                *cached = None;
            }
        }
    }

    /// Client credentials grant with a `private_key_jwt` assertion (a fresh one per
    /// attempt: Okta accepts each `jti` once).
    async fn fetch_token(&self) -> Result<CachedToken, OktaError> {
        let AuthState::Oauth {
            client_id,
            key,
            key_id,
            scopes,
            ..
        } = &self.inner.auth
        else {
            return Err(OktaError::Config("no OAuth settings".to_string()));
        };
        let token_url = self.api_url(&["oauth2", "v1", "token"]);
        let path = http::log_path(&token_url);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let now = epoch_now();
            let claims = AssertionClaims {
                aud: token_url.as_str(),
                iss: client_id,
                sub: client_id,
                iat: now,
                exp: now + 300,
                jti: uuid::Uuid::new_v4().to_string(),
            };
            let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
            header.kid = key_id.clone();
            let assertion = jsonwebtoken::encode(&header, &claims, key).map_err(|e| {
                OktaError::Config(format!("cannot sign the OAuth client assertion: {e}"))
            })?;
            let form = [
                ("grant_type", "client_credentials"),
                ("scope", &scopes.join(" ")),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", &assertion),
            ];
            let req = self
                .inner
                .http
                .post(token_url.clone())
                .header(reqwest::header::ACCEPT, "application/json")
                .form(&form);
            self.inner.requests.fetch_add(1, Ordering::Relaxed);
            let started = Instant::now();
            let reply = match send_and_read(req).await {
                Ok(r) => r,
                Err(source) => {
                    let kind = TransportFailure::of(&source);
                    if attempts <= self.inner.max_retries {
                        tokio::time::sleep(http::backoff(attempts, RETRY_BASE, RETRY_CAP)).await;
                        continue;
                    }
                    tracing::warn!(method = "POST", path = %path, failure = kind.describe(), attempts, "Okta token request failed");
                    return Err(OktaError::Transport {
                        method: "POST".to_string(),
                        path,
                        kind,
                        attempts,
                        source,
                    });
                }
            };
            let status = reply.status;
            if (status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS)
                && attempts <= self.inner.max_retries
            {
                let delay = if status == StatusCode::TOO_MANY_REQUESTS {
                    self.rate_limit_wait(&reply.headers)
                        .min(self.inner.max_rate_limit_wait)
                } else {
                    http::backoff(attempts, RETRY_BASE, RETRY_CAP)
                };
                tokio::time::sleep(delay).await;
                continue;
            }
            if !status.is_success() {
                let body: Option<TokenErrorBody> = serde_json::from_slice(&reply.body).ok();
                let err = OktaError::Token {
                    status: status.as_u16(),
                    error: body
                        .as_ref()
                        .and_then(|b| b.error.clone())
                        .unwrap_or_else(|| "no error code".to_string()),
                    description: body.and_then(|b| b.error_description),
                    request_id: reply.request_id.clone(),
                };
                log_failure(&Method::POST, &token_url, &reply, &err);
                return Err(err);
            }
            let parsed: TokenResponse =
                serde_json::from_slice(&reply.body).map_err(|e| OktaError::Malformed {
                    path: path.clone(),
                    status: status.as_u16(),
                    request_id: reply.request_id.clone(),
                    reason: format!("token response is not the expected JSON: {e}"),
                })?;
            let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(3600));
            // Refresh a few minutes early so a token never expires mid-listing.
            let margin = (lifetime / 4).min(Duration::from_secs(300));
            tracing::debug!(
                lifetime_s = lifetime.as_secs(),
                "obtained an Okta OAuth access token"
            );
            return Ok(CachedToken {
                access_token: SecretString::from(parsed.access_token),
                refresh_at: started + lifetime - margin,
            });
        }
    }
}

/// Sends a request and reads the whole body; a body that breaks off is a transport
/// failure like a refused connection.
async fn send_and_read(req: reqwest::RequestBuilder) -> Result<Reply, reqwest::Error> {
    let resp = req.send().await.inspect_err(|_| {
        crate::metrics::api_request("okta", None);
    })?;
    let status = resp.status();
    crate::metrics::api_request("okta", Some(status.as_u16()));
    let headers = resp.headers().clone();
    let body = resp.bytes().await?;
    let request_id = http::header_str(&headers, "x-okta-request-id")
        .map(str::to_string)
        .or_else(|| parse_error_body(&body).and_then(|b| b.error_id));
    Ok(Reply {
        status,
        headers,
        body,
        request_id,
    })
}

fn parse_error_body(body: &[u8]) -> Option<OktaErrorBody> {
    serde_json::from_slice(body).ok()
}

fn log_failure(method: &Method, url: &Url, reply: &Reply, err: &OktaError) {
    tracing::warn!(
        method = %method,
        path = %http::log_path(url),
        status = reply.status.as_u16(),
        error_code = err.error_code().unwrap_or(""),
        request_id = reply.request_id.as_deref().unwrap_or(""),
        error = %err,
        "Okta request failed"
    );
}

/// What a 403 on `path` most likely lacks.
fn forbidden_hint(path: &str, auth: &AuthState) -> String {
    let scope = if path.starts_with("/api/v1/apps") {
        "okta.apps.read"
    } else if path.starts_with("/api/v1/groups") || path.ends_with("/groups") {
        "okta.groups.read"
    } else if path.starts_with("/api/v1/logs") {
        "okta.logs.read"
    } else {
        "okta.users.read"
    };
    match auth {
        AuthState::Ssws(_) => format!(
            "the API token's admin lacks permission (E0000006 means a missing admin role; a read-only admin role covering this app is enough; scope equivalent {scope})"
        ),
        AuthState::Oauth { .. } => format!(
            "the service app lacks scope {scope} (grant it on the app's Okta API Scopes tab and list it in okta.scopes) or an admin role"
        ),
    }
}

fn parse_app_user(value: serde_json::Value) -> Result<AppUser, String> {
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
        assert_eq!(
            Bucket::of(&Method::GET, "/api/v1/users/00u1"),
            Bucket::Other
        );
        assert_eq!(Bucket::of(&Method::GET, "/api/v1/logs"), Bucket::Logs);
        assert_eq!(
            Bucket::of(&Method::GET, "/api/v1/applications"),
            Bucket::Other
        );
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
