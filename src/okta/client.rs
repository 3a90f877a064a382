//! Okta's endpoints: the users assigned to the kafkaman app (and what `check` and
//! `explain` need). The transport (`crate::http`) paces within a share of each Okta
//! rate-limit bucket, waits out 429s until the server's reset, and retries reads;
//! listings here are complete or an error — never a partial list, which a sync would
//! mistake for removals. The System Log polling is in `log_poll`.

mod hints;
mod log_poll;

use hints::{forbidden_hint, unauthorized_hint};

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use url::Url;

use super::OktaError;
use super::model::{
    AppUser, Bucket, BucketStatus, OktaUser, decode_page, error_id, parse_app_user,
    parse_error_body, parse_user,
};
use super::oauth::{AuthState, OktaAuth};
use crate::http::{
    self, After429, Profile, RateLimitScheme, Reply, Request, ResetClock, Transport,
};

/// Page size for group members (Okta's recommendation; its default is 1000).
const GROUP_MEMBERS_PAGE: &str = "200";

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
    /// The profile attributes app-user reads keep (empty: all of them). An org's profiles
    /// can carry dozens of attributes; a 100k listing that keeps only the few that are
    /// mapped holds a fraction of the memory.
    pub profile_attributes: Vec<String>,
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
            profile_attributes: Vec::new(),
        }
    }
}

/// The API's name in logs and metrics (`api` label).
pub const API: &str = "okta";

/// Okta's `X-Rate-Limit-*` headers; the reset is epoch seconds on Okta's clock.
pub const RATE_LIMIT: RateLimitScheme = RateLimitScheme {
    limit_header: "x-rate-limit-limit",
    remaining_header: "x-rate-limit-remaining",
    reset_header: "x-rate-limit-reset",
    reset: ResetClock::Epoch,
    // Concurrency 429s (Limit = 0) carry only an estimated reset: back off instead.
    after_429: After429::UntilReset {
        concurrency: Duration::from_secs(2),
    },
};
/// Listings stop with an error past this many pages (a server looping its cursor).
const MAX_PAGES: usize = 100_000;

/// Cheap to clone; clones share the token cache, rate-limit state and counters.
#[derive(Clone)]
pub struct OktaClient {
    inner: Arc<Inner>,
}

/// Okta's error code for a resource that doesn't exist (`ErrorResourceNotFound404` in
/// Okta's management API spec; e.g. "Not found: Resource not found: {id} (AppUser)").
const NOT_FOUND_CODE: &str = "E0000007";

struct Inner {
    transport: Arc<Transport>,
    org_url: Url,
    auth: AuthState,
    page_size: u32,
    profile_attributes: Vec<String>,
    /// The app answered `GET /api/v1/apps/{id}` during this client's life: Okta's
    /// E0000007 for one of its users then means "not assigned", not "no such app".
    app_confirmed: std::sync::atomic::AtomicBool,
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
        // Paths are built from the org's origin; a path in org_url is ignored.
        let mut org_url = opts.org_url;
        org_url.set_path("");
        org_url.set_query(None);
        org_url.set_fragment(None);
        let profile = Profile {
            api: API,
            request_id_header: "x-okta-request-id",
            request_id_in_body: Some(error_id),
            media_type: "application/json",
            rate_limit: RATE_LIMIT,
            window_of: |method, path| Bucket::of(method, path).name(),
            share: opts.rate_limit_share,
            max_retries: opts.max_retries,
            max_rate_limit_wait: opts.max_rate_limit_wait,
            retry_for_headers: Some(("X-Okta-Retry-For", "X-Okta-Retry-Count")),
        };
        let transport = Arc::new(
            Transport::new(profile, opts.timeout)
                .map_err(|e| OktaError::Config(format!("cannot build the HTTP client: {e}")))?,
        );
        let auth = AuthState::new(opts.auth, &org_url, Arc::clone(&transport))?;
        Ok(OktaClient {
            inner: Arc::new(Inner {
                transport,
                org_url,
                auth,
                page_size: opts.page_size,
                profile_attributes: opts.profile_attributes,
                app_confirmed: std::sync::atomic::AtomicBool::new(false),
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
        self.list_app_users_as(app_id, on_page, |u| u).await
    }

    /// [`list_app_users`](Self::list_app_users), each app user turned into what the
    /// caller keeps as its page arrives: a 100k listing is never held as full app users.
    pub async fn list_app_users_as<T>(
        &self,
        app_id: &str,
        on_page: &(dyn Fn(usize) + Send + Sync),
        mut convert: impl FnMut(AppUser) -> T,
    ) -> Result<Vec<T>, OktaError> {
        let mut url = self.api_url(&["api", "v1", "apps", app_id, "users"]);
        url.query_pairs_mut()
            .append_pair("limit", &self.inner.page_size.to_string())
            .append_pair("expand", "user");
        let mut users: Vec<T> = Vec::new();
        let mut seen_ids = HashSet::new();
        self.for_each_page(url, Some(app_id), |items, path, reply| {
            for item in items {
                let mut user = parse_app_user(item).map_err(|reason| OktaError::Malformed {
                    path: path.to_string(),
                    status: reply.status.as_u16(),
                    request_id: reply.request_id.clone(),
                    reason,
                })?;
                self.keep_profile_attributes(&mut user);
                // Okta gives no snapshot across pages; a row seen twice is one user.
                if seen_ids.insert(user.id.clone()) {
                    users.push(convert(user));
                }
            }
            on_page(users.len());
            Ok(())
        })
        .await?;
        users.shrink_to_fit();
        Ok(users)
    }

    pub async fn get_app(&self, app_id: &str) -> Result<serde_json::Value, OktaError> {
        let url = self.api_url(&["api", "v1", "apps", app_id]);
        let reply = self.get(&url).await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Err(self.app_not_found(app_id, &reply));
        }
        self.expect_success(&reply)?;
        self.parse_json(&reply)
    }

    /// One user's assignment to the app, with the user embedded. None only on Okta's
    /// own answer that the user is not assigned: a 404 whose error object is `E0000007`
    /// while the app itself reads fine. Any other 404 (a proxy's page, E0000008 for a path
    /// Okta doesn't serve, an app that vanished) is an error: it proves nothing about the
    /// user, and only Okta's answer may lead to a deactivation.
    pub async fn get_app_user(
        &self,
        app_id: &str,
        user_id: &str,
    ) -> Result<Option<AppUser>, OktaError> {
        let mut url = self.api_url(&["api", "v1", "apps", app_id, "users", user_id]);
        url.query_pairs_mut().append_pair("expand", "user");
        let reply = self.get(&url).await?;
        if reply.status == StatusCode::NOT_FOUND {
            self.okta_not_found(&reply)?;
            // E0000007 is also what a deleted app answers for its users.
            self.confirm_app(app_id).await?;
            return Ok(None);
        }
        self.expect_success(&reply)?;
        let value: serde_json::Value = self.parse_json(&reply)?;
        let mut user = parse_app_user(value).map_err(|reason| self.malformed(&reply, reason))?;
        self.keep_profile_attributes(&mut user);
        Ok(Some(user))
    }

    /// Drops the profile attributes nobody reads ([`OktaClientOptions::profile_attributes`]),
    /// of the Okta user and of the app user.
    fn keep_profile_attributes(&self, user: &mut AppUser) {
        let keep = &self.inner.profile_attributes;
        if !keep.is_empty() {
            user.user.profile.retain(|name, _| keep.contains(name));
            user.profile.retain(|name, _| keep.contains(name));
        }
    }

    /// A user by id or login; None when Okta answers that there is no such user (a 404
    /// with `E0000007`; any other 404 is an error).
    pub async fn get_user(&self, id_or_login: &str) -> Result<Option<OktaUser>, OktaError> {
        let url = self.api_url(&["api", "v1", "users", id_or_login]);
        let reply = self.get(&url).await?;
        if reply.status == StatusCode::NOT_FOUND {
            self.okta_not_found(&reply)?;
            return Ok(None);
        }
        self.expect_success(&reply)?;
        let value: serde_json::Value = self.parse_json(&reply)?;
        parse_user(value)
            .map(Some)
            .map_err(|reason| self.malformed(&reply, reason))
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
                    let user = parse_user(item).map_err(|reason| OktaError::Malformed {
                        path: path.to_string(),
                        status: reply.status.as_u16(),
                        request_id: reply.request_id.clone(),
                        reason,
                    })?;
                    out.push(user);
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

    /// Members of a group (all pages), as Okta user ids, in Okta's order and of any
    /// status (deactivation keeps memberships: DEPROVISIONED members are included). An
    /// unknown group is an error with status 404.
    pub async fn list_group_member_ids(&self, group_id: &str) -> Result<Vec<String>, OktaError> {
        let mut url = self.api_url(&["api", "v1", "groups", group_id, "users"]);
        url.query_pairs_mut()
            .append_pair("limit", GROUP_MEMBERS_PAGE);
        let mut ids = Vec::new();
        let mut seen = HashSet::new();
        self.for_each_page(url, None, |items, path, reply| {
            for item in items {
                let id = item
                    .get("id")
                    .and_then(serde_json::Value::as_str)
                    .filter(|id| !id.is_empty())
                    .ok_or_else(|| {
                        reply.failed(OktaError::Malformed {
                            path: path.to_string(),
                            status: reply.status.as_u16(),
                            request_id: reply.request_id.clone(),
                            reason: "a group member without an id".to_string(),
                        })
                    })?;
                if seen.insert(id.to_string()) {
                    ids.push(id.to_string());
                }
            }
            Ok(())
        })
        .await?;
        Ok(ids)
    }

    /// The Okta server's current time: the last response `Date` header plus the time
    /// since it arrived (monotonic), so never ahead of the server's clock by more than
    /// the transit of that response; None before any response. `Date` has second
    /// precision.
    pub fn server_time(&self) -> Option<DateTime<Utc>> {
        self.inner
            .transport
            .server_time()
            .map(DateTime::<Utc>::from)
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
        self.expect_success(&reply)
    }

    /// The rate-limit headers last seen, per bucket.
    pub fn rate_limit_status(&self) -> Vec<BucketStatus> {
        let mut status: Vec<BucketStatus> = self
            .inner
            .transport
            .windows()
            .into_iter()
            .filter_map(|(name, w)| {
                Some(BucketStatus {
                    bucket: Bucket::named(name)?,
                    limit: w.limit,
                    remaining: w.remaining,
                    reset_epoch: w.reset_epoch,
                })
            })
            .collect();
        status.sort_by_key(|s| s.bucket);
        status
    }

    /// HTTP requests sent so far (retries and token requests included).
    pub fn requests_made(&self) -> u64 {
        self.inner.transport.requests_made()
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

    async fn get(&self, url: &Url) -> Result<Reply, OktaError> {
        let inner = &self.inner;
        let reply = inner
            .transport
            .execute(&inner.auth, Request::get(url))
            .await?;
        Ok(reply)
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
                return Err(self.app_not_found(app_id, &reply));
            }
            self.expect_success(&reply)?;
            let items =
                decode_page(&reply.body).map_err(|reason| self.malformed(&reply, reason))?;
            let path = http::log_path(&url);
            on_items(items, &path, &reply)?;
            visited.insert(url.to_string());
            let Some(next) = http::next_link(&reply.headers) else {
                return Ok(());
            };
            let next = Url::parse(&next)
                .map_err(|e| self.malformed(&reply, format!("unparsable next link: {e}")))?;
            if !self.same_origin(&next) {
                // Never send the credentials to another host.
                return Err(self.malformed(
                    &reply,
                    format!(
                        "next link points outside the org ({})",
                        next.origin().ascii_serialization()
                    ),
                ));
            }
            if visited.contains(next.as_str()) {
                return Err(self.malformed(
                    &reply,
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

    fn parse_json<T: serde::de::DeserializeOwned>(&self, reply: &Reply) -> Result<T, OktaError> {
        reply.json().map_err(|reason| self.malformed(reply, reason))
    }

    fn malformed(&self, reply: &Reply, reason: String) -> OktaError {
        reply.failed(OktaError::Malformed {
            path: reply.path().to_string(),
            status: reply.status.as_u16(),
            request_id: reply.request_id.clone(),
            reason,
        })
    }

    /// Ok when this 404 is Okta's own "not found" (`E0000007` in Okta's error object);
    /// otherwise the error that says it proves nothing.
    fn okta_not_found(&self, reply: &Reply) -> Result<(), OktaError> {
        let code = parse_error_body(&reply.body).and_then(|b| b.error_code);
        if code.as_deref() == Some(NOT_FOUND_CODE) {
            return Ok(());
        }
        Err(reply.failed(OktaError::UnprovenNotFound {
            path: reply.path().to_string(),
            error_code: code,
            request_id: reply.request_id.clone(),
        }))
    }

    /// Reads the app once per client: its users' E0000007 means "not assigned" only
    /// while the app exists.
    async fn confirm_app(&self, app_id: &str) -> Result<(), OktaError> {
        use std::sync::atomic::Ordering;
        if self.inner.app_confirmed.load(Ordering::Relaxed) {
            return Ok(());
        }
        self.get_app(app_id).await?;
        self.inner.app_confirmed.store(true, Ordering::Relaxed);
        Ok(())
    }

    fn app_not_found(&self, app_id: &str, reply: &Reply) -> OktaError {
        let body = parse_error_body(&reply.body);
        reply.failed(OktaError::AppNotFound {
            app_id: app_id.to_string(),
            error_code: body.and_then(|b| b.error_code),
            request_id: reply.request_id.clone(),
        })
    }

    /// Ok for 2xx; otherwise the error that explains the status (and a log line).
    fn expect_success(&self, reply: &Reply) -> Result<(), OktaError> {
        if reply.status.is_success() {
            return Ok(());
        }
        let body = parse_error_body(&reply.body);
        let error_code = body.as_ref().and_then(|b| b.error_code.clone());
        let summary = body.and_then(|b| b.error_summary);
        let request_id = reply.request_id.clone();
        let path = reply.path().to_string();
        let oauth = self.inner.auth.is_oauth();
        Err(reply.failed(match reply.status.as_u16() {
            401 => OktaError::Unauthorized {
                status: 401,
                hint: unauthorized_hint(error_code.as_deref(), oauth),
                error_code,
                request_id,
            },
            403 => OktaError::Forbidden {
                method: reply.method().to_string(),
                hint: forbidden_hint(&path, oauth),
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
            _ => OktaError::Api(Box::new(reply.refused(error_code, summary))),
        }))
    }
}
