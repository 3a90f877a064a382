//! Okta source client: reads the users assigned to the kafkaman app (and what `check` and
//! `explain` need) from Okta's management API, through the shared HTTP transport.
//!
//! `client` holds the endpoints (the System Log polling in `client/log_poll.rs`), `log`
//! the System Log polling types, `model` the wire types, `oauth` the credentials (SSWS,
//! or OAuth `private_key_jwt` with the token exchange), `dpop` the proof of possession
//! OAuth service apps send (RFC 9449), `error` what callers match on.

mod client;
mod dpop;
mod error;
mod log;
mod model;
mod oauth;

pub use client::{API, OktaClient, OktaClientOptions};
pub use error::OktaError;
pub use log::{ENTITLEMENT_EVENT_TYPES, LOG_PAGE_LIMIT, LogEvent, LogRead, LogStart, LogTarget};
pub use model::{AppUser, Bucket, BucketStatus, OktaUser};
pub use oauth::OktaAuth;

/// How the client reads what Okta sends: each function is the one the client calls on a
/// response, public so that the property tests (`tests/parsers_prop.rs`) run the same code.
pub mod parse {
    pub use super::client::RATE_LIMIT;
    pub use super::log::parse_event;
    pub use super::model::{
        OktaErrorBody, decode_page, error_id, parse_app_user, parse_error_body, parse_user,
    };
    pub use super::oauth::{TokenGrant, decode_token_error, decode_token_response};
}
