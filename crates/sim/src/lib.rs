//! Simulated Okta and kafkaman: the world every test, the demo and the benchmarks run
//! against. Each follows its vendor's contract (`okta/`: Okta's management API as in its
//! OpenAPI spec and documentation, sources in `docs/sim-okta.md`; `kafkaman/`: the
//! kafkaman SCIM + team API, `docs/sim-kafkaman.md`), not what is convenient for our
//! client.
//!
//! - [`okta`]: `org/` (the org's data and the admin operations that change it), `api/`
//!   (users, apps, groups, System Log handlers), `oauth.rs`, `filter.rs`;
//! - [`kafkaman`]: `team/` (state and changes), `scim/` (handlers, rendering, bodies),
//!   `team_api.rs`;
//! - [`common`]: request logs, injected faults, rate windows; [`scenario`]: scenario
//!   files; [`generate`]: ready-made orgs; [`process`]: `scim-sync sim`.
//!
//! This crate knows nothing of the product (it depends on the planner's crate only, for
//! the one definition of an entitled Okta status); the product's `sim` feature pulls it in.
//!
//! In-process: [`SimWorld::start`] binds both on ephemeral loopback ports and hands back
//! their URLs, credentials, state and request logs. As a process: `scim-sync sim`.

pub mod common;
pub mod generate;
pub mod kafkaman;
pub mod okta;
pub mod process;
pub mod scenario;

use std::net::SocketAddr;

pub use common::{FaultKind, FaultSpec, LoggedRequest};
pub use kafkaman::KafkamanSim;
pub use okta::OktaSim;
pub use scenario::Scenario;

/// Both simulators, running.
pub struct SimWorld {
    pub okta: OktaSim,
    pub kafkaman: KafkamanSim,
}

impl SimWorld {
    /// Starts both simulators on ephemeral loopback ports.
    pub async fn start(scenario: &Scenario) -> std::io::Result<SimWorld> {
        let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
        Self::start_on(scenario, loopback, loopback).await
    }

    /// Starts both simulators on the given addresses.
    pub async fn start_on(
        scenario: &Scenario,
        okta_addr: SocketAddr,
        kafkaman_addr: SocketAddr,
    ) -> std::io::Result<SimWorld> {
        let okta = OktaSim::start(&scenario.okta, okta_addr).await?;
        let kafkaman = KafkamanSim::start(&scenario.kafkaman, kafkaman_addr).await?;
        Ok(SimWorld { okta, kafkaman })
    }

    /// Stops both servers.
    pub fn shutdown(&self) {
        self.okta.shutdown();
        self.kafkaman.shutdown();
    }
}
