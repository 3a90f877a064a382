//! Simulated Okta org (management API subset scim-sync and Okta's SDKs use).
//! STUB: the interface is fixed; the implementation is being written.

use std::net::SocketAddr;

use super::common::{Faults, LoggedRequest, RequestLog};
use super::scenario::{OktaScenario, OktaUserSpec};

/// An error from an admin operation on the simulated org (unknown user, bad transition).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AdminError(pub String);

/// A running simulated Okta org.
pub struct OktaSim {
    _private: (),
}

#[allow(unused_variables)]
impl OktaSim {
    pub async fn start(scenario: &OktaScenario, addr: SocketAddr) -> std::io::Result<OktaSim> {
        todo!()
    }
    /// Base URL, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn url(&self) -> String {
        todo!()
    }
    /// The first SSWS API token of the scenario.
    pub fn api_token(&self) -> String {
        todo!()
    }
    pub fn app_id(&self) -> String {
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
    /// Whole state as JSON (same as `GET /__sim/state`).
    pub fn state_json(&self) -> serde_json::Value {
        todo!()
    }
    /// Id of a user by login (case-insensitive) or id.
    pub fn user_id(&self, login_or_id: &str) -> Option<String> {
        todo!()
    }
    pub fn group_id(&self, name_or_id: &str) -> Option<String> {
        todo!()
    }
    // Admin operations: `user`/`group` accept an id, a login / a group name. Each emits
    // the System Log events the real org emits and bumps timestamps the same way.
    pub fn create_user(&self, spec: OktaUserSpec) -> Result<String, AdminError> {
        todo!()
    }
    pub fn update_profile(
        &self,
        user: &str,
        changes: serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), AdminError> {
        todo!()
    }
    pub fn deactivate_user(&self, user: &str) -> Result<(), AdminError> {
        todo!()
    }
    pub fn activate_user(&self, user: &str) -> Result<(), AdminError> {
        todo!()
    }
    pub fn reactivate_user(&self, user: &str) -> Result<(), AdminError> {
        todo!()
    }
    pub fn suspend_user(&self, user: &str) -> Result<(), AdminError> {
        todo!()
    }
    pub fn unsuspend_user(&self, user: &str) -> Result<(), AdminError> {
        todo!()
    }
    pub fn assign_user(&self, user: &str) -> Result<(), AdminError> {
        todo!()
    }
    pub fn unassign_user(&self, user: &str) -> Result<(), AdminError> {
        todo!()
    }
    pub fn assign_group(&self, group: &str) -> Result<(), AdminError> {
        todo!()
    }
    pub fn unassign_group(&self, group: &str) -> Result<(), AdminError> {
        todo!()
    }
    pub fn add_group_member(&self, group: &str, user: &str) -> Result<(), AdminError> {
        todo!()
    }
    pub fn remove_group_member(&self, group: &str, user: &str) -> Result<(), AdminError> {
        todo!()
    }
}
