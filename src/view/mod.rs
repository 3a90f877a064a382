//! One view of the two sides: the only place that turns Okta's and kafkaman's wire types,
//! the configuration and the snapshot into the planner's model.
//!
//! - [`clients`]: the two clients from the configuration (secrets read now, so a rotated
//!   one is picked up every cycle) and the planner's [`Policy`](scim_sync_plan::Policy);
//! - [`convert`]: one Okta app user, SCIM user or team invite into the planner's types;
//! - [`full`]: a complete read of both sides ([`FullRead`]), used by full cycles and
//!   `report --refresh`;
//! - [`snapshot`]: the state database's picture of both sides ([`Snapshot`]), and that
//!   picture with re-read rows put in place, used by incremental cycles, `report` and
//!   `explain`;
//! - [`clock`]: the services' clocks, as the reads saw them.
//!
//! `sync`, `apply`, `report` and `explain` all read through here, so that a member, an
//! assignment or an invite means the same everywhere. A read is complete or an error,
//! and a store error is an error: nothing here turns a failure into empty data.

pub mod clients;
pub mod clock;
pub mod convert;
pub mod full;
pub mod snapshot;

pub use clients::{kafkaman_client, okta_client, policy};
pub use full::{FullRead, read_full};
pub use snapshot::Snapshot;

use crate::config::SecretError;
use crate::kafkaman::KafkamanError;
use crate::okta::OktaError;

/// Why the view could not be built. Nothing was written when it couldn't.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// A secret the configuration names can't be read (a configuration problem).
    #[error("{0}")]
    Secret(#[from] SecretError),
    #[error("reading Okta failed, nothing was changed: {0}")]
    Okta(Box<OktaError>),
    #[error("reading the kafkaman team failed, nothing was changed: {0}")]
    Kafkaman(Box<KafkamanError>),
}

impl From<OktaError> for ViewError {
    fn from(e: OktaError) -> Self {
        ViewError::Okta(Box::new(e))
    }
}

impl From<KafkamanError> for ViewError {
    fn from(e: KafkamanError) -> Self {
        ViewError::Kafkaman(Box::new(e))
    }
}
