//! scim-sync: keeps a kafkaman team in step with the users assigned to the kafkaman app
//! in Okta. Data flows one way, and so do imports: [`config`] → the clients ([`okta`],
//! [`kafkaman`], over the one transport in [`http`]) and the [`store`] → [`view`] (both
//! sides and the snapshot as the planner's model) → the planner (`scim_sync_plan`, its
//! own crate: the only decider) → [`apply`] → [`sync`] (one cycle, in stages) →
//! [`daemon`], [`report`], [`explain`], [`history`], [`check`] → [`cli`]. The simulators
//! are their own crate (`scim_sync_sim`), behind the `sim` feature. See ARCHITECTURE.md.

pub mod apply;
pub mod build_info;
pub mod check;
pub mod cli;
pub mod config;
pub mod config_check;
pub mod control;
pub mod daemon;
#[cfg(feature = "sim")]
pub mod demo;
pub mod digest;
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
pub mod out;
pub mod progress;
pub mod render;
pub mod report;
pub mod saved_plan;
pub mod store;
pub mod sync;
pub mod view;
