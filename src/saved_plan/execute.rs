//! `scim-sync apply FILE`: the saved plan's operations, exactly, once nobody in it
//! changed since it was computed.

use std::collections::BTreeMap;
use std::time::Instant;

use scim_sync_plan::{OpKind, Plan};
use tokio_util::sync::CancellationToken;

use super::SavedPlan;
use super::people::{self, Drift};
use crate::config::Config;
use crate::progress::Progress;
use crate::store::{OpState, RunMode, RunSummary, Store, Trigger};
use crate::sync::{self, CycleOptions, CycleReport, SyncError};
use crate::view;

/// Why a saved plan was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyPlanError {
    #[error("the plan is refused, nothing was written: {0}")]
    Refused(String),
    #[error("{} of the plan's people changed since it was computed: nothing was written; compute the plan again and review it", .0.len())]
    Drifted(Vec<Drift>),
    #[error(transparent)]
    Sync(#[from] SyncError),
}

impl From<view::ViewError> for ApplyPlanError {
    fn from(e: view::ViewError) -> Self {
        ApplyPlanError::Sync(SyncError::Read(e))
    }
}

/// Re-reads the plan's people, refuses on any change, then executes its operations (a
/// held deactivation in it is released: the plan's reviewer saw it) and records the run.
pub async fn apply(
    cfg: &Config,
    store: &Store,
    saved: &SavedPlan,
    progress: Option<Progress>,
    cancel: &CancellationToken,
) -> Result<CycleReport, ApplyPlanError> {
    let started = Instant::now();
    allowed_now(cfg, saved)?;
    let okta = view::okta_client(cfg)?;
    let kafkaman = view::kafkaman_client(cfg)?;
    let now = tokio::select! {
        now = people::now(cfg, &okta, &kafkaman, &saved.people) => now?,
        _ = cancel.cancelled() => return Err(SyncError::Interrupted.into()),
    };
    let drifted = people::drift(&saved.people, &now);
    if !drifted.is_empty() {
        tracing::warn!(
            drifted = drifted.len(),
            "the saved plan was refused: people in it changed since it was computed"
        );
        return Err(ApplyPlanError::Drifted(drifted));
    }

    let plan = Plan {
        operations: saved.operations_to_apply(),
        ..Plan::default()
    };
    let opts = CycleOptions {
        trigger: Trigger::SavedPlan,
        progress,
        ..CycleOptions::default()
    };
    // The database is still the one this process locked (not deleted or replaced).
    store.verify_writer().map_err(SyncError::from)?;
    // It writes: no quiet cycle may trust the last plan's nothing afterwards.
    store.forget_quiet().map_err(SyncError::from)?;
    store.forget_plan_basis().map_err(SyncError::from)?;
    let run_id = store
        .start_run(Trigger::SavedPlan, RunMode::Apply)
        .map_err(SyncError::from)?;
    let outcome = async {
        sync::apply::settle_earlier_runs(&kafkaman, store, run_id).await?;
        store.record_plan(run_id, &plan)?;
        let applied =
            sync::apply::execute(cfg, &kafkaman, store, run_id, &plan, &opts, cancel).await?;
        Ok::<_, SyncError>(applied)
    }
    .await;
    let applied = match outcome {
        Ok(applied) => applied,
        Err(e) => {
            sync::record::failed(store, run_id, &opts, &e, started)?;
            return Err(e.into());
        }
    };
    // The held deactivations it carried out are no longer held.
    let released: Vec<String> = saved
        .held
        .iter()
        .filter(|h| {
            applied.outcomes.iter().any(|o| {
                o.kind == OpKind::Deactivate
                    && o.state == OpState::Done
                    && o.okta_id == h.okta_id
                    && o.user_name == h.user_name
            })
        })
        .filter_map(|h| h.scim_id.clone())
        .collect();
    store.drop_held(&released).map_err(SyncError::from)?;

    let result = sync::apply::result(cfg, &plan, &applied, false);
    let mut planned = BTreeMap::new();
    for o in &plan.operations {
        *planned.entry(o.kind()).or_insert(0) += 1;
    }
    let summary = RunSummary {
        planned,
        outcomes: applied.counts(),
        failed: applied.failures().count(),
        okta_requests: okta.requests_made(),
        kafkaman_requests: kafkaman.requests_made(),
        duration_ms: started.elapsed().as_millis() as u64,
        ..RunSummary::default()
    };
    store
        .finish_run(run_id, result, Some(&summary), None)
        .map_err(SyncError::from)?;
    tracing::info!(
        run_id,
        result = result.as_str(),
        operations = plan.operations.len(),
        failed = summary.failed,
        "saved plan applied"
    );
    Ok(CycleReport {
        run_id,
        result,
        plan,
        applied,
        summary,
        inputs: None,
    })
}

/// What the configuration allows now, and that the plan's people are its operations'
/// people: a plan (or an edited one: the digest can be recomputed) never writes past a
/// switch turned off or to a protected user since, nor to anyone whose state it did not
/// record.
fn allowed_now(cfg: &Config, saved: &SavedPlan) -> Result<(), ApplyPlanError> {
    let ops = saved.operations_to_apply();
    let key = |p: &people::Person| (p.okta_id.clone(), p.scim_id.clone());
    let mut expected: Vec<_> = people::people_of(ops.iter()).iter().map(key).collect();
    let mut recorded: Vec<_> = saved.people.iter().map(key).collect();
    expected.sort();
    recorded.sort();
    if expected != recorded {
        return Err(ApplyPlanError::Refused(
            "its people are not the people its operations write to (was it edited?)".into(),
        ));
    }
    let protected: Vec<String> = cfg
        .safety
        .protected_users
        .iter()
        .map(|p| scim_sync_plan::email_key(p))
        .collect();
    for op in &ops {
        let off = match op.kind() {
            OpKind::Create => !cfg.sync.create_users,
            OpKind::UpdateName => !cfg.sync.update_attributes,
            OpKind::Deactivate => !cfg.sync.deactivate_users,
            OpKind::Reactivate => !cfg.sync.reactivate_users,
            OpKind::ClearInvite => !cfg.sync.clear_pending_invites,
        };
        if off {
            return Err(ApplyPlanError::Refused(format!(
                "it has a {} and the configuration now turns that off",
                op.kind().as_str()
            )));
        }
        let is_protected = protected.contains(&scim_sync_plan::email_key(op.user_name()))
            || op
                .okta_id()
                .is_some_and(|id| cfg.safety.protected_users.iter().any(|p| p == id));
        if op.kind() == OpKind::Deactivate && is_protected {
            return Err(ApplyPlanError::Refused(format!(
                "it deactivates {}, protected now (safety.protected_users)",
                crate::escape::text(op.user_name())
            )));
        }
    }
    Ok(())
}
