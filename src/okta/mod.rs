//! Okta source client: reads the users assigned to the kafkaman app (and what `check` and
//! `explain` need) from Okta's management API, through the shared HTTP transport.
//!
//! `client` holds the endpoints, `log` the System Log polling types, `model` the wire types, `oauth` the credentials (SSWS,
//! or OAuth `private_key_jwt` with the token exchange), `error` what callers match on.

mod client;
mod error;
mod log;
mod model;
mod oauth;

pub use client::{OktaClient, OktaClientOptions};
pub use error::OktaError;
pub use log::{ENTITLEMENT_EVENT_TYPES, LOG_PAGE_LIMIT, LogEvent, LogRead, LogStart, LogTarget};
pub use model::{AppUser, Bucket, BucketStatus, OktaUser};
pub use oauth::OktaAuth;
