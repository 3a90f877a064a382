//! scim-sync: keeps a kafkaman team in step with the users assigned to the kafkaman app in Okta.
pub mod http;
pub mod kafkaman;
pub mod okta;
#[cfg(feature = "sim")]
pub mod sim;
