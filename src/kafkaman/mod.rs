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

pub use client::{API, KafkamanClient, KafkamanClientOptions};
pub use error::{ConflictReason, KafkamanError};
pub use model::{Invite, InviteDeletion, InviteStatus, NewUser, ScimUser, scim_string_literal};

/// How the client reads what kafkaman sends: each function is the one the client calls on
/// a response, public so that the property tests (`tests/parsers_prop.rs`) run the same
/// code.
pub mod parse {
    pub use super::client::RATE_LIMIT;
    pub use super::model::{
        InvitePage, UserPage, decode_invite_page, decode_scim_user, decode_user_page, error_details,
    };
}
