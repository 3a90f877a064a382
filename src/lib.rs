//! scim-sync: keeps a kafkaman team in step with the users assigned to the kafkaman app
//! in Okta. Data flows one way: `config` → `okta` → `kafkaman` → `store` → `plan` →
//! `apply` → `sync`, driven by `cli` (one cycle, `check`, `demo`). See ARCHITECTURE.md.

pub mod apply;
pub mod build_info;
pub mod check;
pub mod cli;
pub mod config;
pub mod config_check;
pub mod daemon;
#[cfg(feature = "sim")]
pub mod demo;
pub mod escape;
pub mod exit;
pub mod explain;
pub mod history;
pub mod http;
pub mod kafkaman;
pub mod logging;
pub mod manual;
pub mod metrics;
pub mod okta;
pub mod progress;
pub mod render;
pub mod report;
pub mod store;
pub mod sync;
pub mod view;
