//! Simulated kafkaman team: SCIM 2.0 `/scim/v2` and the team invites API.
//! STUB: the interface is fixed; the implementation is being written.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::common::{Faults, LoggedRequest, RequestLog};
use super::scenario::{KafkamanScenario, MemberSpec};

/// An error from an admin operation on the simulated team.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AdminError(pub String);

/// A team member as the simulator holds it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MemberView {
    pub id: String,
    pub user_name: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub external_id: Option<String>,
    pub active: bool,
    /// `active`, `invited` or `deactivated`.
    pub membership: String,
    pub role: String,
}

/// A team invite as the simulator holds it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InviteView {
    pub id: String,
    pub email: String,
    pub source: String,
    /// `pending`, `accepted`, `revoked`.
    pub status: String,
    pub invited_by: Option<String>,
}

/// A running simulated kafkaman team.
pub struct KafkamanSim {
    _private: (),
}

#[allow(unused_variables)]
impl KafkamanSim {
    pub async fn start(
        scenario: &KafkamanScenario,
        addr: SocketAddr,
    ) -> std::io::Result<KafkamanSim> {
        todo!()
    }
    /// Base URL, e.g. `http://127.0.0.1:41235` (no trailing slash); SCIM is under `/scim/v2`.
    pub fn url(&self) -> String {
        todo!()
    }
    /// The first ACTIVE key's token.
    pub fn api_key(&self) -> String {
        todo!()
    }
    pub fn requests(&self) -> Vec<LoggedRequest> {
        todo!()
    }
    pub fn log(&self) -> &RequestLog {
        todo!()
    }
    pub fn faults(&self) -> &Faults {
        todo!()
    }
    pub fn shutdown(&self) {
        todo!()
    }
    pub fn state_json(&self) -> serde_json::Value {
        todo!()
    }
    pub fn members(&self) -> Vec<MemberView> {
        todo!()
    }
    /// Member by email, case-insensitive.
    pub fn member(&self, email: &str) -> Option<MemberView> {
        todo!()
    }
    pub fn invites(&self) -> Vec<InviteView> {
        todo!()
    }
    pub fn add_member(&self, spec: MemberSpec) -> Result<String, AdminError> {
        todo!()
    }
    pub fn add_outside_account(&self, email: &str) {
        todo!()
    }
    /// Adds a pending invite; returns its id.
    pub fn add_invite(&self, email: &str, source: &str) -> Result<String, AdminError> {
        todo!()
    }
    /// The invited person accepts their pending invite (an `invited` member turns `active`).
    pub fn accept_invite(&self, email: &str) -> Result<(), AdminError> {
        todo!()
    }
    pub fn set_seats(&self, seats: u32) {
        todo!()
    }
    /// (seats used, seats total)
    pub fn seats(&self) -> (u32, u32) {
        todo!()
    }
    /// Adds an ACTIVE key; returns its token.
    pub fn add_key(&self, name: &str) -> String {
        todo!()
    }
    /// Revokes a key by name or token.
    pub fn revoke_key(&self, name_or_token: &str) -> Result<(), AdminError> {
        todo!()
    }
    pub fn set_scim_enabled(&self, enabled: bool) {
        todo!()
    }
}
