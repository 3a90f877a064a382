//! kafkaman's team invites API (`/api/v1/team/invites`): pending invites and deleting one.

use std::collections::HashSet;

use reqwest::Method;

use super::client::MAX_PAGES;
use super::model::{Invite, InviteDeletion, decode_invite_page};
use super::{KafkamanClient, KafkamanError};
use crate::http::Request;

impl KafkamanClient {
    /// Every pending team invite (all pages).
    pub async fn list_pending_invites(&self) -> Result<Vec<Invite>, KafkamanError> {
        self.pending_invites(None).await
    }

    /// The pending invites kafkaman returns for one address (`GET /api/v1/team/invites?
    /// status=pending&email=<address>`, form-encoded; kafkaman compares
    /// case-insensitively), all pages. Which of them are the same mailbox is the caller's
    /// call (`plan::same_email`), as for `users_named`: a target that ignores `email=`
    /// must not hand the sync other people's invites to delete.
    pub async fn pending_invites_for(&self, email: &str) -> Result<Vec<Invite>, KafkamanError> {
        self.pending_invites(Some(email)).await
    }

    async fn pending_invites(&self, email: Option<&str>) -> Result<Vec<Invite>, KafkamanError> {
        let mut invites = Vec::new();
        let mut cursors = HashSet::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut url = self.url(&["api", "v1", "team", "invites"]);
            {
                // Form-encoded: `+`, `&`, spaces and non-ASCII in an address are escaped.
                let mut q = url.query_pairs_mut();
                q.append_pair("status", "pending");
                if let Some(e) = email {
                    q.append_pair("email", e);
                }
                q.append_pair("limit", "100");
                if let Some(c) = &cursor {
                    q.append_pair("cursor", c);
                }
            }
            let reply = self.get(&url).await?;
            self.expect_success(&reply)?;
            let page =
                decode_invite_page(&reply.body).map_err(|reason| self.malformed(&reply, reason))?;
            invites.extend(page.invites);
            match page.next_cursor {
                None => return Ok(invites),
                Some(next) => {
                    if !cursors.insert(next.clone()) {
                        return Err(self.malformed(
                            &reply,
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
        let Some(reply) = self
            .execute(Request::new(&Method::DELETE, &url))
            .await?
            .found()
        else {
            return Ok(InviteDeletion::AlreadyGone);
        };
        self.expect_success(&reply)?;
        Ok(InviteDeletion::Deleted)
    }
}
