//! scim-sync's integration tests: one test binary (one link, not one per file), each
//! file a module. Every test that needs a server starts its simulators itself
//! (`common::Env`); tests of the binary run `CARGO_BIN_EXE_scim-sync`.
//!
//! One file's tests: `cargo test --test integration <module>::`, e.g.
//! `cargo test --test integration differential:: -- --nocapture`.

mod common;

mod check;
mod cli;
mod completions;
mod config_check;
mod control;
mod daemon;
mod differential;
mod holds;
mod identity;
mod incremental;
mod kafkaman_client;
mod lockout;
mod metrics_export;
mod okta_client;
mod okta_push;
mod okta_schemas;
mod packaging;
mod parsers_prop;
mod pipes;
mod plan_golden;
mod report;
mod report_browser;
mod saved_plan;
mod schedule;
mod secret_modes;
mod sim_expectations;
mod sim_kafkaman;
mod sim_okta;
mod state;
mod sync_e2e;
mod terminal;
mod units;
