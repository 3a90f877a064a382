//! Simulated Okta and kafkaman: the world every test, the demo and the benchmarks run
//! against. Each follows its vendor's contract (`okta.rs`: Okta's management API as in
//! the OpenAPI spec; `kafkaman.rs`: the kafkaman SCIM + team API), not what is convenient
//! for our client.
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
