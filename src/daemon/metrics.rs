//! Metric names and the one-line recording helpers the clients and the cycle call.
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
pub const KAFKAMAN_RATE_LIMIT_REMAINING: &str = "scim_sync_kafkaman_rate_limit_remaining";
pub const LAST_SUCCESS: &str = "scim_sync_last_success_timestamp_seconds";
pub const LAST_CYCLE: &str = "scim_sync_last_cycle_timestamp_seconds";
pub const NEXT_RUN: &str = "scim_sync_next_run_timestamp_seconds";
pub const CYCLE_DURATION: &str = "scim_sync_cycle_duration_seconds";
pub const HELD: &str = "scim_sync_held_actions";
pub const MEMBERS: &str = "scim_sync_members";
pub const TICKS_SKIPPED: &str = "scim_sync_ticks_skipped_total";
pub const RELOADS: &str = "scim_sync_config_reloads_total";

/// Cycle results that mean "the sync ran": the last such run is the "last success" of
/// `/healthz` and of [`LAST_SUCCESS`]. Per-user failures within the error budget
/// (`partial`) and deactivations held for a human (`held`) still mean the sync works;
/// `failed` and `interrupted` don't.
pub const SUCCESSFUL_RESULTS: [&str; 3] = ["success", "partial", "held"];

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
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
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
        "Unix time at which the last successful (success, partial or held) cycle ended."
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
        MEMBERS,
        "kafkaman members in the last cycle: managed (created or linked by scim-sync) or unmanaged."
    );
    describe_counter!(
        TICKS_SKIPPED,
        "Scheduled times skipped because the previous cycle was still running."
    );
    describe_counter!(RELOADS, "Configuration reloads (SIGHUP), by outcome.");
}

/// One HTTP exchange with `api` ("okta" or "kafkaman"); `status` is `None` when no
/// response came (connection refused, timeout, dropped).
pub fn api_request(api: &'static str, status: Option<u16>) {
    let status = status.map_or_else(|| "transport".to_string(), |s| s.to_string());
    metrics::counter!(API_REQUESTS, "api" => api, "status" => status).increment(1);
}

/// The remaining requests in an Okta rate-limit bucket.
pub fn okta_rate_limit_remaining(bucket: &'static str, remaining: u64) {
    metrics::gauge!(OKTA_RATE_LIMIT_REMAINING, "bucket" => bucket).set(remaining as f64);
}

/// The remaining requests in kafkaman's rate-limit window.
pub fn kafkaman_rate_limit_remaining(remaining: u64) {
    metrics::gauge!(KAFKAMAN_RATE_LIMIT_REMAINING).set(remaining as f64);
}

/// A cycle that ran (any mode). `summary` and `applied` are absent when the cycle failed
/// before planning.
pub fn cycle_finished(
    result: &str,
    duration: Duration,
    summary: Option<&crate::sync::RunSummary>,
    applied: Option<&crate::apply::ApplyReport>,
) {
    let now = epoch_seconds();
    metrics::counter!(CYCLES, "result" => result.to_string()).increment(1);
    metrics::histogram!(CYCLE_DURATION).record(duration.as_secs_f64());
    metrics::gauge!(LAST_CYCLE).set(now);
    if SUCCESSFUL_RESULTS.contains(&result) {
        metrics::gauge!(LAST_SUCCESS).set(now);
    }
    if let Some(summary) = summary {
        metrics::gauge!(HELD).set(summary.held as f64);
        metrics::gauge!(MEMBERS, "state" => "managed").set(summary.managed as f64);
        metrics::gauge!(MEMBERS, "state" => "unmanaged").set(summary.unmanaged as f64);
    }
    for o in applied.map(|a| a.outcomes.as_slice()).unwrap_or_default() {
        metrics::counter!(
            OPERATIONS,
            "kind" => o.kind.as_str(),
            "outcome" => o.state.as_str()
        )
        .increment(1);
    }
}

pub(crate) fn epoch_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
