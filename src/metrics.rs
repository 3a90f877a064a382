//! Metric names and the one-line recording helpers the HTTP transport, the cycle and the
//! daemon call. They take plain numbers and strings, so this module depends on nothing
//! else in the crate.
//!
//! Recording goes through the `metrics` facade: without an installed recorder (every
//! command but `daemon`) each call is a no-op. The daemon installs a Prometheus recorder
//! ([`install`]) and serves its rendering on `/metrics`.

use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const CYCLES: &str = "scim_sync_cycles_total";
pub const OPERATIONS: &str = "scim_sync_operations_total";
pub const API_REQUESTS: &str = "scim_sync_api_requests_total";
pub const OKTA_RATE_LIMIT_REMAINING: &str = "scim_sync_okta_rate_limit_remaining";
/// Requests every client of the org used in a bucket's window (Okta's headers are
/// org-wide), as of the last response.
pub const OKTA_RATE_LIMIT_USED: &str = "scim_sync_okta_rate_limit_used";
pub const KAFKAMAN_RATE_LIMIT_REMAINING: &str = "scim_sync_kafkaman_rate_limit_remaining";
pub const LAST_SUCCESS: &str = "scim_sync_last_success_timestamp_seconds";
pub const LAST_CYCLE: &str = "scim_sync_last_cycle_timestamp_seconds";
pub const NEXT_RUN: &str = "scim_sync_next_run_timestamp_seconds";
pub const CYCLE_DURATION: &str = "scim_sync_cycle_duration_seconds";
pub const HELD: &str = "scim_sync_held_actions";
pub const HELD_DEACTIVATIONS: &str = "scim_sync_held_deactivations";
pub const MEMBERS: &str = "scim_sync_members";
pub const TICKS_SKIPPED: &str = "scim_sync_ticks_skipped_total";
pub const RELOADS: &str = "scim_sync_config_reloads_total";
pub const CYCLES_BY_KIND: &str = "scim_sync_cycles_by_kind_total";
pub const FULL_CYCLE_DRIFT: &str = "scim_sync_full_cycle_missed_drift";
pub const BUILD_INFO: &str = "scim_sync_build_info";
/// 1 while Okta lets scim-sync read the System Log; 0 while it refuses (full cycles only).
pub const SYSTEM_LOG_AVAILABLE: &str = "scim_sync_system_log_available";

/// Installs the global Prometheus recorder and describes the metrics. Fails when a
/// recorder is already installed.
pub fn install() -> Result<PrometheusHandle, metrics_exporter_prometheus::BuildError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(CYCLE_DURATION.to_string()),
            &[0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0],
        )?
        .install_recorder()?;
    describe();
    Ok(handle)
}

fn describe() {
    use ::metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(CYCLES, "Sync cycles by result.");
    describe_counter!(
        OPERATIONS,
        "kafkaman operations applied, by kind and outcome."
    );
    describe_counter!(
        API_REQUESTS,
        "HTTP requests sent, by API (okta, kafkaman) and response status (\"transport\" when no response came)."
    );
    describe_gauge!(
        OKTA_RATE_LIMIT_USED,
        "Requests every client of the Okta org used in the bucket's current window (the org-wide use), as of the last response."
    );
    describe_gauge!(
        SYSTEM_LOG_AVAILABLE,
        "1 while Okta lets scim-sync read the System Log (incremental cycles); 0 while it refuses (full cycles only)."
    );
    describe_gauge!(
        OKTA_RATE_LIMIT_REMAINING,
        "Requests left in the current Okta rate-limit window, per bucket, as of the last response."
    );
    describe_gauge!(
        KAFKAMAN_RATE_LIMIT_REMAINING,
        "Requests left in the current kafkaman rate-limit window, as of the last response."
    );
    describe_gauge!(
        LAST_SUCCESS,
        Unit::Seconds,
        "Unix time at which the last cycle that ran through (success, partial or held) ended; \
         held deactivations are counted by scim_sync_held_deactivations."
    );
    describe_gauge!(
        LAST_CYCLE,
        Unit::Seconds,
        "Unix time at which the last cycle ended."
    );
    describe_gauge!(
        NEXT_RUN,
        Unit::Seconds,
        "Unix time of the next scheduled cycle."
    );
    describe_histogram!(CYCLE_DURATION, Unit::Seconds, "Duration of sync cycles.");
    describe_gauge!(
        HELD,
        "Deactivations held back by the safety limits in the last cycle."
    );
    describe_gauge!(
        HELD_DEACTIVATIONS,
        "Deactivations held until a human releases them (--release-held); holds are sticky, \
         so this stays above 0 across cycles until they are released or no longer planned."
    );
    describe_gauge!(
        MEMBERS,
        "kafkaman members in the last cycle: managed (created or linked by scim-sync) or unmanaged."
    );
    describe_counter!(
        TICKS_SKIPPED,
        "Scheduled times skipped because the previous cycle was still running."
    );
    describe_counter!(RELOADS, "Configuration reloads (SIGHUP), by outcome.");
    describe_counter!(
        CYCLES_BY_KIND,
        "Cycles that planned, by kind (full, incremental) and mode (apply, dry_run)."
    );
    describe_gauge!(
        BUILD_INFO,
        "Always 1; the labels say which scim-sync runs: version, git commit, build date."
    );
    describe_gauge!(
        FULL_CYCLE_DRIFT,
        "Okta users and members the last full cycle found changed that incremental cycles had not seen (should be 0)."
    );
}

/// Sets [`BUILD_INFO`] (once, at the start of the daemon): which version, `commit` and
/// `build_date` this process runs, as labels of a gauge that is always 1.
pub fn build_info(version: &str, commit: &str, build_date: &str) {
    ::metrics::gauge!(
        BUILD_INFO,
        "version" => version.to_string(),
        "commit" => commit.to_string(),
        "build_date" => build_date.to_string()
    )
    .set(1.0);
}

/// One HTTP exchange with `api` ("okta" or "kafkaman"); `status` is `None` when no
/// response came (connection refused, timeout, dropped).
pub fn api_request(api: &str, status: Option<u16>) {
    let status = status.map_or_else(|| "transport".to_string(), |s| s.to_string());
    ::metrics::counter!(API_REQUESTS, "api" => api.to_string(), "status" => status).increment(1);
}

/// The remaining requests in one rate-limit window of `api` (of `limit`): Okta has one
/// per bucket, counting every client of the org (also exported as the org-wide use),
/// kafkaman one per API key (its gauge has no label).
pub fn rate_limit_remaining(api: &str, window: &str, remaining: u64, limit: u64) {
    match api {
        "okta" => {
            ::metrics::gauge!(OKTA_RATE_LIMIT_REMAINING, "bucket" => window.to_string())
                .set(remaining as f64);
            ::metrics::gauge!(OKTA_RATE_LIMIT_USED, "bucket" => window.to_string())
                .set(limit.saturating_sub(remaining) as f64);
        }
        "kafkaman" => ::metrics::gauge!(KAFKAMAN_RATE_LIMIT_REMAINING).set(remaining as f64),
        // No gauge is described for another API.
        _ => {}
    }
}

/// What a cycle that got as far as planning counted.
#[derive(Debug, Clone, Copy)]
pub struct CycleCounts<'a> {
    /// Deactivations held by the safety limits.
    pub held: usize,
    /// kafkaman members scim-sync manages, and those it doesn't.
    pub managed: usize,
    pub unmanaged: usize,
    /// Applied operations as (kind, outcome, count) (the run summary's `outcomes`).
    pub outcomes: &'a [(&'static str, &'static str, usize)],
}

/// A cycle of this kind (`full`, `incremental`) planned, in this mode.
pub fn cycle_kind(kind: &str, mode: &str) {
    ::metrics::counter!(CYCLES_BY_KIND, "kind" => kind.to_string(), "mode" => mode.to_string())
        .increment(1);
}

/// Whether the System Log can be read (incremental cycles) or not (full cycles only).
pub fn system_log_available(available: bool) {
    ::metrics::gauge!(SYSTEM_LOG_AVAILABLE).set(if available { 1.0 } else { 0.0 });
}

/// What the last full cycle found that incremental cycles had missed.
pub fn full_cycle_drift(missed: usize) {
    ::metrics::gauge!(FULL_CYCLE_DRIFT).set(missed as f64);
}

/// A cycle that ran (any mode); `ran_through` when its result says the sync worked
/// (`RunResult::ran_through`). `counts` is absent when the cycle failed before planning.
pub fn cycle_finished(
    result: &str,
    ran_through: bool,
    duration: Duration,
    counts: Option<CycleCounts<'_>>,
) {
    let now = epoch_seconds();
    ::metrics::counter!(CYCLES, "result" => result.to_string()).increment(1);
    ::metrics::histogram!(CYCLE_DURATION).record(duration.as_secs_f64());
    ::metrics::gauge!(LAST_CYCLE).set(now);
    if ran_through {
        ::metrics::gauge!(LAST_SUCCESS).set(now);
    }
    let Some(counts) = counts else { return };
    ::metrics::gauge!(HELD).set(counts.held as f64);
    ::metrics::gauge!(HELD_DEACTIVATIONS).set(counts.held as f64);
    ::metrics::gauge!(MEMBERS, "state" => "managed").set(counts.managed as f64);
    ::metrics::gauge!(MEMBERS, "state" => "unmanaged").set(counts.unmanaged as f64);
    for &(kind, outcome, n) in counts.outcomes {
        ::metrics::counter!(
            OPERATIONS,
            "kind" => kind.to_string(),
            "outcome" => outcome.to_string()
        )
        .increment(n as u64);
    }
}

pub(crate) fn epoch_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
