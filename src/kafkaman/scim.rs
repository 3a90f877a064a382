//! SCIM 2.0 Users on kafkaman (`/scim/v2`): list, find, get, create, PATCH.

use std::collections::HashSet;

use reqwest::Method;
use url::Url;

use super::client::MAX_PAGES;
use super::model::{NewUser, ScimUser, UserPage, decode_user_page, scim_string_literal};
use super::{KafkamanClient, KafkamanError};
use crate::http::{self, Request};

/// SCIM's page size cap.
const PAGE_SIZE: usize = 100;

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
        let mut users = Vec::new();
        let mut seen = HashSet::new();
        let mut start_index = 1usize;
        for _ in 0..MAX_PAGES {
            let mut url = self.url(&["scim", "v2", "Users"]);
            url.query_pairs_mut()
                .append_pair("startIndex", &start_index.to_string())
                .append_pair("count", &PAGE_SIZE.to_string());
            let page = self.get_list(&url).await?;
            let received = page.users.len();
            for user in page.users {
                // Offsets don't shift (users are never deleted), but stay safe.
                if seen.insert(user.id.clone()) {
                    users.push(user);
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
