//! What the daemon does on a signal: SIGHUP reloads the configuration (keeping the one
//! in use when the new one is invalid); SIGTERM and SIGINT stop it, letting the
//! operations in flight finish and recording an abandoned cycle's run as interrupted.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::signal::unix::{Signal, SignalKind, signal};

use super::schedule::Schedule;
use super::{
    Daemon, DaemonError, incremental_interval, schedule_of, secrets, warn_about_permissions,
};
use crate::config::{self, Config};
use crate::http::lock;
use crate::metrics;

pub(super) struct Signals {
    pub(super) term: Signal,
    pub(super) int: Signal,
    pub(super) hup: Signal,
}

impl Signals {
    pub(super) fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }
}

impl Daemon {
    /// Re-reads the config file. Returns true when the new one is in effect.
    pub(super) fn reload(&mut self) -> bool {
        self.notifier.reloading();
        tracing::info!(config = %self.config_path.display(), "SIGHUP: reloading the configuration");
        let (new_cfg, new_schedule) = match load_checked(&self.config_path) {
            Ok(loaded) => loaded,
            Err(reason) => {
                tracing::error!(
                    config = %self.config_path.display(),
                    reason = %reason,
                    "the new configuration is invalid; keeping the one in use"
                );
                metrics::config_reload(false);
                return false;
            }
        };
        let old = &self.cfg;
        for (changed, key) in [
            (old.daemon.listen != new_cfg.daemon.listen, "daemon.listen"),
            (old.sync.state_db != new_cfg.sync.state_db, "sync.state_db"),
            (old.logging != new_cfg.logging, "[logging]"),
            (
                old.daemon.allow_root != new_cfg.daemon.allow_root,
                "daemon.allow_root",
            ),
        ] {
            if changed {
                tracing::warn!(key, "this change takes effect only after a restart");
            }
        }
        warn_about_permissions(&self.config_path, &new_cfg);
        for secret in secrets(&new_cfg) {
            if let Err(e) = secret.resolve() {
                tracing::warn!(error = %e, "a secret of the new configuration cannot be read; the next cycle will fail");
            }
        }
        {
            let mut status = lock(&self.status);
            status.schedule = new_schedule.clone();
            status.healthy_within_intervals = new_cfg.daemon.healthy_within_intervals;
            status.incremental_interval = incremental_interval(&new_cfg);
            status.random_delay = Duration::from_secs(new_cfg.daemon.random_delay_secs);
        }
        tracing::info!(
            schedule = new_schedule.expression(),
            time_zone = %new_schedule.zone().name(),
            config = %new_cfg.redacted_summary(),
            "configuration reloaded"
        );
        metrics::config_reload(true);
        self.schedule = new_schedule;
        self.cfg = Arc::new(new_cfg);
        true
    }

    /// Stops: no new operations, the ones in flight finish and are recorded, the run is
    /// recorded as interrupted; bounded by `shutdown_timeout_secs`.
    pub(super) async fn shutdown(
        mut self,
        signal: &str,
        signals: &mut Signals,
    ) -> Result<(), DaemonError> {
        let bound = Duration::from_secs(self.cfg.daemon.shutdown_timeout_secs);
        tracing::info!(
            signal,
            running = self.cycle.is_some(),
            timeout_secs = bound.as_secs(),
            "shutting down: starting no new operations, letting those in flight finish"
        );
        self.notifier
            .stopping("stopping: finishing the operations in flight");
        self.cancel.cancel();
        if let Some(mut handle) = self.cycle.take() {
            let finished = tokio::select! {
                joined = &mut handle => {
                    self.cycle_ended(joined.map(|_| ()));
                    true
                }
                _ = tokio::time::sleep(bound) => false,
                // A second signal: someone wants out now.
                _ = signals.term.recv() => false,
                _ = signals.int.recv() => false,
            };
            if !finished {
                handle.abort();
                let since = lock(&self.status).running_since;
                tracing::error!(
                    timeout_secs = bound.as_secs(),
                    "the cycle did not stop in time and was abandoned; the next start settles its unfinished operations"
                );
                self.mark_abandoned(since);
            }
        }
        tracing::info!("stopped");
        Ok(())
    }

    /// Records the run of an abandoned cycle as interrupted.
    fn mark_abandoned(&self, since: Option<DateTime<Utc>>) {
        let Some(since) = since else { return };
        let cutoff = since - chrono::Duration::seconds(1);
        let runs = match self.store.runs(5) {
            Ok(runs) => runs,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the run history");
                return;
            }
        };
        for r in runs.iter().filter(|r| r.ended_at.is_none()) {
            let started = DateTime::parse_from_rfc3339(&r.started_at)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or(cutoff);
            if started < cutoff {
                continue;
            }
            if let Err(e) = self.store.finish_run(
                r.id,
                crate::store::RunResult::Interrupted,
                None,
                Some("abandoned at shutdown: operations in flight did not finish in time"),
            ) {
                tracing::error!(run_id = r.id, error = %e, "cannot record the run as interrupted");
            }
        }
    }
}

/// Loads and validates a config for a reload: the file, the time zone, the schedule.
fn load_checked(path: &Path) -> Result<(Config, Schedule), String> {
    let cfg = config::load(path).map_err(|e| e.to_string())?;
    let schedule = schedule_of(&cfg).map_err(|e| e.to_string())?;
    Ok((cfg, schedule))
}
