//! What the daemon's `/metrics` says from its first scrape: every counter at 0 for each
//! value its labels can take, from the enums that define them (`metrics` imports none
//! of them), and the last run's result as the state database recorded it.

use scim_sync_plan::OpKind;

use super::health::Status;
use crate::metrics::{self, KnownLabels};
use crate::store::{CycleKind, OpState, RunMode, RunResult};

/// The response statuses of `scim_sync_api_requests_total` exported from the start: no
/// response, rate-limited, and the server errors (any other status appears when it comes).
const ALERTED_STATUSES: &[&str] = &["transport", "429", "500", "502", "503", "504"];

/// Exports every counter at 0 (once, at the daemon's start), and the last run's result.
pub fn export_at_start(status: &Status) {
    let results: Vec<&str> = RunResult::ALL.iter().map(|r| r.as_str()).collect();
    let op_kinds: Vec<&str> = OpKind::ALL.iter().map(|k| k.as_str()).collect();
    // An applied operation ends in one of these; an intent is where it starts.
    let op_outcomes: Vec<&str> = OpState::ALL
        .iter()
        .filter(|s| **s != OpState::Intent)
        .map(|s| s.as_str())
        .collect();
    let cycle_kinds: Vec<&str> = CycleKind::ALL.iter().map(|k| k.as_str()).collect();
    let modes: Vec<&str> = RunMode::ALL.iter().map(|m| m.as_str()).collect();
    metrics::export_zeros(&KnownLabels {
        results: &results,
        op_kinds: &op_kinds,
        op_outcomes: &op_outcomes,
        apis: &[crate::okta::API, crate::kafkaman::API],
        api_statuses: ALERTED_STATUSES,
        cycle_kinds: &cycle_kinds,
        modes: &modes,
    });
    metrics::last_run_result(status.last_run.as_ref().map(|r| r.result.as_str()));
}
