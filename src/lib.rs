//! scim-sync: keeps a kafkaman team in step with the users assigned to the kafkaman app in Okta.
pub mod config;
#[cfg(feature = "sim")]
pub mod sim;
