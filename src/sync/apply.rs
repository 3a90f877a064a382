//! The apply stage: settle what earlier runs left unfinished, execute the plan (through
//! [`crate::apply`], which only executes and records), and say how the run ended.

use scim_sync_plan::Plan;
use tokio_util::sync::CancellationToken;

use super::{CycleOptions, SyncError};
use crate::apply::{self, ApplyReport};
use crate::config::Config;
use crate::kafkaman::KafkamanClient;
use crate::store::{RunResult, Store, Trigger};

/// Before a real run reads anything: runs whose process died are closed as interrupted,
/// and operations an earlier run left as intents are settled against kafkaman.
pub async fn settle_earlier_runs(
    kafkaman: &KafkamanClient,
    store: &Store,
    run_id: i64,
) -> Result<(), SyncError> {
    let closed = store.close_abandoned_runs(run_id)?;
    if closed > 0 {
        tracing::warn!(
            closed,
            "closed runs whose process stopped before they ended"
        );
    }
    let settled = apply::recover_unfinished(kafkaman, store).await?;
    if settled > 0 {
        tracing::info!(settled, "settled operations an earlier run left unfinished");
    }
    Ok(())
}

/// Executes the plan's operations.
pub async fn execute(
    cfg: &Config,
    kafkaman: &KafkamanClient,
    store: &Store,
    run_id: i64,
    plan: &Plan,
    opts: &CycleOptions,
    cancel: &CancellationToken,
) -> Result<ApplyReport, SyncError> {
    Ok(apply::apply(
        plan,
        kafkaman,
        store,
        run_id,
        cfg.kafkaman.concurrency as usize,
        cancel,
        &apply::ApplyHooks {
            progress: opts.progress.as_ref(),
            failures_at_warn: opts.trigger != Trigger::Manual,
        },
    )
    .await?)
}

/// How the run ended, from what was planned and what applying it did.
pub fn result(cfg: &Config, plan: &Plan, applied: &ApplyReport, dry_run: bool) -> RunResult {
    let failed = applied.failures().count();
    if dry_run {
        RunResult::Planned
    } else if applied.interrupted {
        RunResult::Interrupted
    } else if failed as f64 > error_budget(cfg, plan) {
        // Past the error budget something systemic is wrong: the run failed.
        RunResult::Failed
    } else if !plan.held.is_empty() {
        // Held before partial: held work waits for a person, and its exit fails the
        // oneshot unit where a partial one (3) doesn't.
        RunResult::Held
    } else if failed > 0 {
        // Isolated per-user failures within the budget make a partial run.
        RunResult::Partial
    } else {
        RunResult::Success
    }
}

/// How many per-user failures a run tolerates before it counts as failed.
fn error_budget(cfg: &Config, plan: &Plan) -> f64 {
    (plan.operations.len() as f64 * cfg.sync.error_budget_percent / 100.0).max(1.0)
}
