//! kafkaman target client: SCIM 2.0 users (`/scim/v2`) and the team invites API, through
//! the shared HTTP transport.
//!
//! `client` holds the client and how responses become values or errors, `scim` and
//! `invites` the endpoints, `model` the wire types, `error` what callers match on.

mod client;
mod error;
mod invites;
mod model;
mod scim;

pub use client::{KafkamanClient, KafkamanClientOptions};
pub use error::{ConflictReason, KafkamanError};
pub use model::{Invite, InviteDeletion, NewUser, ScimUser, scim_string_literal};
