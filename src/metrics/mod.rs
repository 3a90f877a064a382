//! Metric names and the one-line recording helpers the HTTP transport, the cycle and the
//! daemon call. They take plain numbers and strings, so this module depends on nothing
//! else in the crate: the label values a counter can take are handed in by its callers
//! ([`KnownLabels`], from the crate's enums), never looked up here.
//!
//! Recording goes through the `metrics` facade: without an installed recorder (every
//! command but `daemon`) each call is a no-op. The daemon installs a Prometheus recorder
//! ([`install`]), exports every counter at 0 ([`export_zeros`]) and serves the rendering
//! on `/metrics`.

mod describe;

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const CYCLES: &str = "scim_sync_cycles_total";
/// One-hot by `result`: 1 for the last cycle's result, 0 for the others.
pub const LAST_RUN_RESULT: &str = "scim_sync_last_run_result";
pub const OPERATIONS: &str = "scim_sync_operations_total";
pub const API_REQUESTS: &str = "scim_sync_api_requests_total";
pub const OKTA_RATE_LIMIT_REMAINING: &str = "scim_sync_okta_rate_limit_remaining";
/// A bucket's limit (`X-Rate-Limit-Limit`), as of the last response.
pub const OKTA_RATE_LIMIT_LIMIT: &str = "scim_sync_okta_rate_limit_limit";
/// Requests every client of the org used in a bucket's window (Okta's headers are
/// org-wide), as of the last response.
pub const OKTA_RATE_LIMIT_USED: &str = "scim_sync_okta_rate_limit_used";
pub const KAFKAMAN_RATE_LIMIT_REMAINING: &str = "scim_sync_kafkaman_rate_limit_remaining";
pub const LAST_SUCCESS: &str = "scim_sync_last_success_timestamp_seconds";
pub const LAST_CYCLE: &str = "scim_sync_last_cycle_timestamp_seconds";
pub const NEXT_RUN: &str = "scim_sync_next_run_timestamp_seconds";
pub const CYCLE_DURATION: &str = "scim_sync_cycle_duration_seconds";
/// The one held metric (`scim_sync_held_actions`, its duplicate, is gone).
pub const HELD_DEACTIVATIONS: &str = "scim_sync_held_deactivations";
/// People the last plan leaves to a human.
pub const NEEDS_ATTENTION: &str = "scim_sync_needs_attention";
pub const MEMBERS: &str = "scim_sync_members";
/// Members holding a seat (active or invited) after the last cycle.
pub const KAFKAMAN_SEATS_USED: &str = "scim_sync_kafkaman_seats_used";
pub const TICKS_SKIPPED: &str = "scim_sync_ticks_skipped_total";
pub const RELOADS: &str = "scim_sync_config_reloads_total";
pub const CYCLES_BY_KIND: &str = "scim_sync_cycles_by_kind_total";
pub const FULL_CYCLE_DRIFT: &str = "scim_sync_full_cycle_missed_drift";
pub const BUILD_INFO: &str = "scim_sync_build_info";
/// 1 while Okta lets scim-sync read the System Log; 0 while it refuses (full cycles only).
pub const SYSTEM_LOG_AVAILABLE: &str = "scim_sync_system_log_available";

/// Every metric this module records (README's table lists each; a test checks both ways).
pub const ALL: &[&str] = &[
    CYCLES,
    LAST_RUN_RESULT,
    OPERATIONS,
    API_REQUESTS,
    OKTA_RATE_LIMIT_REMAINING,
    OKTA_RATE_LIMIT_LIMIT,
    OKTA_RATE_LIMIT_USED,
    KAFKAMAN_RATE_LIMIT_REMAINING,
    LAST_SUCCESS,
    LAST_CYCLE,
    NEXT_RUN,
    CYCLE_DURATION,
    HELD_DEACTIVATIONS,
    NEEDS_ATTENTION,
    MEMBERS,
    KAFKAMAN_SEATS_USED,
    TICKS_SKIPPED,
    RELOADS,
    CYCLES_BY_KIND,
    FULL_CYCLE_DRIFT,
    BUILD_INFO,
    SYSTEM_LOG_AVAILABLE,
];

/// The `outcome` of a configuration reload ([`RELOADS`]).
pub const RELOAD_APPLIED: &str = "applied";
pub const RELOAD_REJECTED: &str = "rejected";

/// Installs the global Prometheus recorder and describes the metrics. Fails when a
/// recorder is already installed.
pub fn install() -> Result<PrometheusHandle, metrics_exporter_prometheus::BuildError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(CYCLE_DURATION.to_string()),
            &[0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0],
        )?
        .install_recorder()?;
    describe::describe();
    Ok(handle)
}

/// The values each label of a counter can take, from the enums that define them (the
/// caller's: this module imports none).
#[derive(Debug, Clone, Copy)]
pub struct KnownLabels<'a> {
    /// A run's results (`RunResult`): [`CYCLES`] and [`LAST_RUN_RESULT`].
    pub results: &'a [&'a str],
    /// Operation kinds (`OpKind`) and the outcomes an applied one ends in (`OpState`).
    pub op_kinds: &'a [&'a str],
    pub op_outcomes: &'a [&'a str],
    /// The APIs (okta, kafkaman), and the statuses exported from the start: the ones an
    /// operator alerts on (no response, 429, 5xx). Other statuses appear when they come.
    pub apis: &'a [&'a str],
    pub api_statuses: &'a [&'a str],
    /// Cycle kinds (`CycleKind`) and modes (`RunMode`).
    pub cycle_kinds: &'a [&'a str],
    pub modes: &'a [&'a str],
}

/// The results [`LAST_RUN_RESULT`] is one-hot over, as [`export_zeros`] was told.
static RESULTS: OnceLock<Vec<String>> = OnceLock::new();

/// Exports every counter at 0 for each of its known label values (once, at the start of
/// the daemon), so that `increase()` sees the first event after a restart.
pub fn export_zeros(labels: &KnownLabels<'_>) {
    let _ = RESULTS.set(labels.results.iter().map(|r| r.to_string()).collect());
    for &result in labels.results {
        ::metrics::counter!(CYCLES, "result" => result.to_string()).increment(0);
    }
    for &kind in labels.op_kinds {
        for &outcome in labels.op_outcomes {
            ::metrics::counter!(
                OPERATIONS,
                "kind" => kind.to_string(),
                "outcome" => outcome.to_string()
            )
            .increment(0);
        }
    }
    for &api in labels.apis {
        for &status in labels.api_statuses {
            ::metrics::counter!(API_REQUESTS, "api" => api.to_string(), "status" => status.to_string())
                .increment(0);
        }
    }
    for &kind in labels.cycle_kinds {
        for &mode in labels.modes {
            ::metrics::counter!(CYCLES_BY_KIND, "kind" => kind.to_string(), "mode" => mode.to_string())
                .increment(0);
        }
    }
    for outcome in [RELOAD_APPLIED, RELOAD_REJECTED] {
        ::metrics::counter!(RELOADS, "outcome" => outcome).increment(0);
    }
    ::metrics::counter!(TICKS_SKIPPED).increment(0);
    // The histogram's buckets and count, at 0 until the first cycle ends.
    let _ = ::metrics::histogram!(CYCLE_DURATION);
}

/// Sets [`LAST_RUN_RESULT`]: 1 for `current`, 0 for every other known result (all 0
/// when there was no run yet).
pub fn last_run_result(current: Option<&str>) {
    let known = RESULTS.get().map(Vec::as_slice).unwrap_or_default();
    for result in known {
        let on = current == Some(result.as_str());
        ::metrics::gauge!(LAST_RUN_RESULT, "result" => result.clone()).set(f64::from(u8::from(on)));
    }
    if let Some(current) = current.filter(|c| !known.iter().any(|k| k == c)) {
        ::metrics::gauge!(LAST_RUN_RESULT, "result" => current.to_string()).set(1.0);
    }
}

/// A configuration reload, applied or rejected.
pub fn config_reload(applied: bool) {
    let outcome = if applied {
        RELOAD_APPLIED
    } else {
        RELOAD_REJECTED
    };
    ::metrics::counter!(RELOADS, "outcome" => outcome).increment(1);
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
/// per bucket, counting every client of the org (also exported as its limit and the
/// org-wide use), kafkaman one per API key (its gauge has no label).
pub fn rate_limit_remaining(api: &str, window: &str, remaining: u64, limit: u64) {
    match api {
        "okta" => {
            ::metrics::gauge!(OKTA_RATE_LIMIT_REMAINING, "bucket" => window.to_string())
                .set(remaining as f64);
            ::metrics::gauge!(OKTA_RATE_LIMIT_LIMIT, "bucket" => window.to_string())
                .set(limit as f64);
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
    /// People the plan leaves to a human.
    pub attention: usize,
    /// kafkaman members scim-sync manages, and those it doesn't.
    pub managed: usize,
    pub unmanaged: usize,
    /// Members holding a seat (active or invited) after the cycle: as read, plus the
    /// creates and reactivations applied, minus the deactivations.
    pub seats_used: usize,
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
    last_run_result(Some(result));
    ::metrics::histogram!(CYCLE_DURATION).record(duration.as_secs_f64());
    ::metrics::gauge!(LAST_CYCLE).set(now);
    if ran_through {
        ::metrics::gauge!(LAST_SUCCESS).set(now);
    }
    let Some(counts) = counts else { return };
    ::metrics::gauge!(HELD_DEACTIVATIONS).set(counts.held as f64);
    ::metrics::gauge!(NEEDS_ATTENTION).set(counts.attention as f64);
    ::metrics::gauge!(MEMBERS, "state" => "managed").set(counts.managed as f64);
    ::metrics::gauge!(MEMBERS, "state" => "unmanaged").set(counts.unmanaged as f64);
    ::metrics::gauge!(KAFKAMAN_SEATS_USED).set(counts.seats_used as f64);
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

#[cfg(test)]
mod tests;
