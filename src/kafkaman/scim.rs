//! SCIM 2.0 Users on kafkaman (`/scim/v2`): list, find, get, create, PATCH.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, FixedOffset};
use reqwest::Method;
use url::Url;

use super::client::MAX_PAGES;
use super::model::{
    NewUser, ScimUser, UserPage, decode_user_page, error_details, scim_string_literal,
};
use super::{KafkamanClient, KafkamanError};
use crate::http::{Reply, Request};

/// SCIM's page size cap.
const PAGE_SIZE: usize = 100;
/// Reads of one `meta.lastModified` listing before giving up on it settling.
const MAX_PASSES: usize = 5;
/// The most rows a listing reserves room for from `totalResults` before reading them.
const MAX_RESERVED_USERS: usize = 200_000;

/// One read of a `meta.lastModified` listing: each member once (as last read) with its
/// parsed time, and, when a member showed up twice (it changed during the read, so the
/// members after it shifted), the earliest `lastModified` such a member first had.
struct ModifiedPass {
    users: Vec<(DateTime<FixedOffset>, ScimUser)>,
    moved_from: Option<String>,
}

impl KafkamanClient {
    pub async fn service_provider_config(&self) -> Result<serde_json::Value, KafkamanError> {
        let url = self.url(&["scim", "v2", "ServiceProviderConfig"]);
        let reply = self.get(&url).await?;
        self.expect_success(&reply)?;
        self.parse(&reply)
    }

    /// Every SCIM user of the team, oldest first. Complete or an error.
    pub async fn list_users(
        &self,
        on_page: &(dyn Fn(usize) + Send + Sync),
    ) -> Result<Vec<ScimUser>, KafkamanError> {
        self.list_users_as(on_page, |u| u).await
    }

    /// [`list_users`](Self::list_users), each user turned into what the caller keeps as
    /// its page arrives: a large team is never held twice.
    pub async fn list_users_as<T>(
        &self,
        on_page: &(dyn Fn(usize) + Send + Sync),
        mut convert: impl FnMut(ScimUser) -> T,
    ) -> Result<Vec<T>, KafkamanError> {
        let mut users: Vec<T> = Vec::new();
        let mut seen = HashSet::new();
        self.read_pages(None, |_, page, start_index| {
            if start_index == 1 {
                // `totalResults` is the server's word, so it only sizes the first
                // reservation up to a bound; the Vec still grows past it if it must.
                users.reserve(page.total_results.min(MAX_RESERVED_USERS));
            }
            for user in page.users {
                // Offsets don't shift (users are never deleted), but stay safe.
                if seen.insert(user.id.clone()) {
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

    /// Reads a Users listing (`filter` when given) by `startIndex` pages to its end,
    /// handing `on_page` each page with its reply and its `startIndex`. Complete or an
    /// error: a failed or malformed page, a listing that ends before `totalResults`, or
    /// more than [`MAX_PAGES`] pages. A target that refuses the filter answers 400
    /// `invalidFilter` ([`KafkamanError::is_unsupported_filter`], logged at debug: the
    /// caller reads the whole listing instead).
    async fn read_pages(
        &self,
        filter: Option<&str>,
        mut on_page: impl FnMut(&Reply, UserPage, usize) -> Result<(), KafkamanError>,
    ) -> Result<(), KafkamanError> {
        let mut start_index = 1usize;
        for _ in 0..MAX_PAGES {
            let mut url = self.url(&["scim", "v2", "Users"]);
            {
                let mut q = url.query_pairs_mut();
                if let Some(filter) = filter {
                    q.append_pair("filter", filter);
                }
                q.append_pair("startIndex", &start_index.to_string())
                    .append_pair("count", &PAGE_SIZE.to_string());
            }
            let reply = self.get(&url).await?;
            if filter.is_some() && reply.status == reqwest::StatusCode::BAD_REQUEST {
                let (scim_type, detail) = error_details(&reply.body);
                let refused = KafkamanError::Api(Box::new(reply.refused(scim_type, detail)));
                if refused.is_unsupported_filter() {
                    tracing::debug!(
                        request_id = reply.request_id.as_deref().unwrap_or(""),
                        "kafkaman: the filter is not supported"
                    );
                    return Err(refused);
                }
            }
            self.expect_success(&reply)?;
            let page =
                decode_user_page(&reply.body).map_err(|reason| self.malformed(&reply, reason))?;
            let (received, total) = (page.users.len(), page.total_results);
            on_page(&reply, page, start_index)?;
            start_index += received;
            if start_index > total {
                return Ok(());
            }
            if received == 0 {
                return Err(self.malformed(
                    &reply,
                    format!(
                        "the listing ended after {} of {total} users",
                        start_index - 1
                    ),
                ));
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

    /// Members whose `meta.lastModified` is after `since` (a time on kafkaman's clock,
    /// e.g. a `last_modified` it sent), oldest change first, every page
    /// (`filter=meta.lastModified gt "<since>"`, startIndex paging). Complete or an
    /// error; each member once, as last read, with `last_modified` set.
    ///
    /// This ordering moves under a reader: a member changed while the pages are read
    /// jumps to the end and shifts the members after it back by one, so one of them
    /// can fall between two pages. That member shows up twice, and then the listing
    /// is read again from the time it first showed (`ge`), which holds every member
    /// that could have been skipped; [`KafkamanError::Unsettled`] when that doesn't
    /// settle in a few passes.
    ///
    /// A target without the filter answers 400 `invalidFilter`:
    /// [`KafkamanError::is_unsupported_filter`] (logged at debug, not as a failure).
    /// `since` must be an RFC 3339 time ([`KafkamanError::InvalidRequest`] otherwise,
    /// never sent, so a typo can't pass for an unsupported filter).
    pub async fn users_modified_since(&self, since: &str) -> Result<Vec<ScimUser>, KafkamanError> {
        if DateTime::parse_from_rfc3339(since).is_err() {
            return Err(KafkamanError::InvalidRequest(format!(
                "users_modified_since needs an RFC 3339 time (a meta.lastModified kafkaman sent), got {since:?}"
            )));
        }
        let mut users: Vec<(DateTime<FixedOffset>, ScimUser)> = Vec::new();
        let mut position: HashMap<String, usize> = HashMap::new();
        let mut filter = format!("meta.lastModified gt {}", scim_string_literal(since));
        for pass in 1..=MAX_PASSES {
            let read = self.modified_pass(&filter).await?;
            for (at, user) in read.users {
                match position.get(&user.id) {
                    // Read again later: at least as new.
                    Some(&i) => users[i] = (at, user),
                    None => {
                        position.insert(user.id.clone(), users.len());
                        users.push((at, user));
                    }
                }
            }
            let Some(moved_from) = read.moved_from else {
                // Stable: members changed in one millisecond keep the order read.
                users.sort_by_key(|(at, _)| *at);
                return Ok(users.into_iter().map(|(_, u)| u).collect());
            };
            tracing::debug!(
                pass,
                from = %moved_from,
                "kafkaman: members changed while the meta.lastModified listing was read; reading again from the earliest of them"
            );
            filter = format!("meta.lastModified ge {}", scim_string_literal(&moved_from));
        }
        Err(KafkamanError::Unsettled {
            path: "/scim/v2/Users".to_string(),
            passes: MAX_PASSES,
        })
    }

    /// One read of a `meta.lastModified` listing to its end.
    async fn modified_pass(&self, filter: &str) -> Result<ModifiedPass, KafkamanError> {
        let mut users: Vec<(DateTime<FixedOffset>, ScimUser)> = Vec::new();
        // id → (position in `users`, the lastModified it first showed with)
        let mut seen: HashMap<String, (usize, DateTime<FixedOffset>, String)> = HashMap::new();
        let mut moved_from: Option<(DateTime<FixedOffset>, String)> = None;
        self.read_pages(Some(filter), |reply, page, _| {
            for user in page.users {
                let Some(text) = user.last_modified.clone() else {
                    return Err(
                        self.malformed(reply, format!("user {} has no meta.lastModified", user.id))
                    );
                };
                let Ok(at) = DateTime::parse_from_rfc3339(&text) else {
                    return Err(self.malformed(
                        reply,
                        format!(
                            "user {} has meta.lastModified {text:?}, not an RFC 3339 time",
                            user.id
                        ),
                    ));
                };
                match seen.get(&user.id) {
                    Some(&(i, first_at, ref first_text)) => {
                        if moved_from.as_ref().is_none_or(|(t, _)| first_at < *t) {
                            moved_from = Some((first_at, first_text.clone()));
                        }
                        users[i] = (at, user);
                    }
                    None => {
                        seen.insert(user.id.clone(), (users.len(), at, text));
                        users.push((at, user));
                    }
                }
            }
            Ok(())
        })
        .await?;
        Ok(ModifiedPass {
            users,
            moved_from: moved_from.map(|(_, text)| text),
        })
    }

    /// The users kafkaman's `userName eq` filter returns for this name (it compares
    /// case-insensitively). Which of them is the same email is the caller's call, by
    /// `plan::same_email` (Unicode case, spaces, NFC), not this client's.
    pub async fn users_named(&self, user_name: &str) -> Result<Vec<ScimUser>, KafkamanError> {
        self.find_by(&format!("userName eq {}", scim_string_literal(user_name)))
            .await
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
        Ok(page.users)
    }

    pub async fn get_user(&self, id: &str) -> Result<Option<ScimUser>, KafkamanError> {
        let url = self.url(&["scim", "v2", "Users", id]);
        let Some(reply) = self.get(&url).await?.found() else {
            return Ok(None);
        };
        self.expect_success(&reply)?;
        self.parse_user(&reply).map(Some)
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
        let reply = self
            .execute(Request::new(&Method::POST, &url).json(&body))
            .await?;
        self.expect_success(&reply)?;
        self.parse_user(&reply)
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
        let reply = self
            .execute(Request::new(&Method::PATCH, &url).json(&body))
            .await?;
        self.expect_success(&reply)?;
        // RFC 7644 §3.5.2: 200 with the resource, or 204 without a body; then the
        // resource is read back.
        if reply.status == reqwest::StatusCode::NO_CONTENT || reply.body.is_empty() {
            return match self.get_user(id).await? {
                Some(user) => Ok(user),
                None => Err(self.malformed(
                    &reply,
                    "the user was not found when read back after the PATCH".into(),
                )),
            };
        }
        self.parse_user(&reply)
    }

    async fn get_list(&self, url: &Url) -> Result<UserPage, KafkamanError> {
        let reply = self.get(url).await?;
        self.expect_success(&reply)?;
        decode_user_page(&reply.body).map_err(|reason| self.malformed(&reply, reason))
    }
}
