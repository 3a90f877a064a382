//! One reconciliation cycle, in stages: [`read`] (full or incremental, through the
//! [`view`](crate::view)), [`plan`] (the planner, the only decider), [`record`] (journal,
//! snapshot, metrics, log) and [`apply`] (execute and record every outcome). A dry run is
//! the same code up to the first write.
//!
//! Both kinds of read end in the same pure planner over the same kind of view: a full
//! cycle reads every assignment and member; an incremental one takes the snapshot and
//! puts in place what the System Log and kafkaman's change clock name ([`incremental`]).
//! Either read is complete or an error: nothing is planned from half a read.

pub mod apply;
pub mod fingerprint;
pub mod incremental;
pub mod plan;
pub mod read;
pub mod record;
pub mod scoped;

use std::time::Instant;

use scim_sync_plan::Plan;
use tokio_util::sync::CancellationToken;

use crate::apply::{ApplyError, ApplyReport};
use crate::config::Config;
use crate::progress::Progress;
use crate::store::{CycleKind, RunMode, RunResult, RunSummary, Store, StoreError, Trigger};
use crate::view::{self, ViewError};

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// A read of Okta or kafkaman failed, or a secret can't be read (the configuration
    /// is wrong): nothing was changed.
    #[error(transparent)]
    Read(#[from] ViewError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Apply(#[from] ApplyError),
    #[error("interrupted while reading, nothing was changed")]
    Interrupted,
}

/// Called once a real cycle's plan is made and recorded, before its first write (the
/// command line prints the plan there, so that it is read before the writes start).
pub type OnPlan = std::sync::Arc<dyn Fn(&Plan) + Send + Sync>;

/// The held deactivations a person releases for one cycle (they read them in a plan,
/// report or `/healthz`). Any held after that person looked stay held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Release {
    #[default]
    Nothing,
    /// Everything the last applying run held (`release-held` with no names).
    LastHeld,
    /// Only these held members, by SCIM id (`release-held USER…`, resolved by the
    /// caller against what is held now).
    Only(std::collections::HashSet<String>),
}

/// What a cycle planned from, kept when [`CycleOptions::keep_inputs`] asks (a saved
/// plan records it, to tell at apply time whether anyone changed since).
#[derive(Debug, Clone)]
pub struct PlanInputs {
    pub okta: scim_sync_plan::OktaView,
    pub team: scim_sync_plan::TeamView,
    pub cursor: crate::store::SyncCursor,
    pub kind: CycleKind,
}

/// How a cycle should run.
#[derive(Clone)]
pub struct CycleOptions {
    pub dry_run: bool,
    /// Which held deactivations a person released for this cycle.
    pub release: Release,
    pub trigger: Trigger,
    /// Called during long reads and the apply.
    pub progress: Option<Progress>,
    /// A full cycle even when an incremental one could run (`--full`, the daemon's
    /// full schedule).
    pub full: bool,
    /// Called with the plan before the first write (dry runs too, after the plan).
    pub on_plan: Option<OnPlan>,
    /// Keep what the plan was made from in the report (`plan --out`).
    pub keep_inputs: bool,
}

impl Default for CycleOptions {
    fn default() -> Self {
        CycleOptions {
            dry_run: false,
            release: Release::Nothing,
            trigger: Trigger::Manual,
            progress: None,
            full: false,
            on_plan: None,
            keep_inputs: false,
        }
    }
}

/// The outcome of a cycle.
#[derive(Debug, Clone)]
pub struct CycleReport {
    pub run_id: i64,
    pub result: RunResult,
    pub plan: Plan,
    pub applied: ApplyReport,
    pub summary: RunSummary,
    /// What the plan was made from, when [`CycleOptions::keep_inputs`] asked.
    pub inputs: Option<PlanInputs>,
}

/// Runs one cycle. The caller holds the state lock for a real run.
pub async fn run_cycle(
    cfg: &Config,
    store: &Store,
    opts: &CycleOptions,
    cancel: &CancellationToken,
) -> Result<CycleReport, SyncError> {
    let started = Instant::now();
    let mode = if opts.dry_run {
        RunMode::DryRun
    } else {
        RunMode::Apply
    };
    // A writer whose database was deleted or replaced stops before writing anything.
    store.verify_writer()?;
    let run_id = store.start_run(opts.trigger, mode)?;
    match cycle(cfg, store, opts, cancel, run_id, started).await {
        Ok(report) => Ok(report),
        Err(e) => {
            record::failed(store, run_id, opts, &e, started)?;
            Err(e)
        }
    }
}

/// The cycle, stage by stage.
async fn cycle(
    cfg: &Config,
    store: &Store,
    opts: &CycleOptions,
    cancel: &CancellationToken,
    run_id: i64,
    started: Instant,
) -> Result<CycleReport, SyncError> {
    // The clients, their secrets read now.
    let okta = view::okta_client(cfg)?;
    let kafkaman = view::kafkaman_client(cfg)?;
    if !opts.dry_run {
        apply::settle_earlier_runs(&kafkaman, store, run_id).await?;
    }

    // Read: full or incremental. A shutdown during the reads (429 waits can be long)
    // ends the cycle at once: nothing has been written yet.
    let cursor = store.sync_cursor()?;
    if !opts.dry_run {
        // This cycle decides from `cursor`; a crash from here on leaves no promise of
        // quiet behind (the snapshot may change before the run's end is saved).
        store.forget_quiet()?;
    }
    let wanted_full = read::full_reason(cfg, opts, &cursor, store)?;
    let read = tokio::select! {
        read = read::read(cfg, &okta, &kafkaman, store, &cursor, wanted_full, opts) => read,
        _ = cancel.cancelled() => return Err(SyncError::Interrupted),
    };
    let mut read = match read {
        Ok(read) => read,
        Err(e) => {
            let tried = if wanted_full.is_some() {
                CycleKind::Full
            } else {
                CycleKind::Incremental
            };
            store.set_run_kind(run_id, tried)?;
            if !opts.dry_run && wanted_full.is_none() {
                // The next cycle re-reads everything rather than trusting this cursor.
                store.require_full_cycle()?;
            }
            return Err(e);
        }
    };
    store.set_run_kind(run_id, read.cycle_kind())?;
    if matches!(read.kind, read::ReadKind::Quiet) {
        // Nothing changed since a cycle that planned nothing, under the same policy.
        return record::quiet(
            store,
            run_id,
            read,
            okta.requests_made(),
            kafkaman.requests_made(),
            started,
        );
    }

    // Plan, and record it before any write.
    let plan = plan::make(cfg, store, &kafkaman, opts, &mut read, cancel).await?;
    record::plan(store, run_id, &plan, opts)?;
    if let Some(on_plan) = &opts.on_plan {
        on_plan(&plan);
    }
    let inputs = opts.keep_inputs.then(|| PlanInputs {
        okta: read.okta.clone(),
        team: read.team.clone(),
        cursor: read.cursor.clone(),
        kind: read.cycle_kind(),
    });

    // Apply (a real run): the snapshot as read first, then the writes.
    let mut applied = ApplyReport::default();
    if !opts.dry_run {
        store.verify_writer()?;
        // The snapshot changes now: the last cycle's basis no longer describes it.
        store.forget_plan_basis()?;
        record::snapshot_before_apply(store, &mut read, &plan)?;
        applied = apply::execute(cfg, &kafkaman, store, run_id, &plan, opts, cancel).await?;
    }

    // Record how it ended.
    let result = apply::result(cfg, &plan, &applied, opts.dry_run);
    if !opts.dry_run
        && result == RunResult::Success
        && plan.operations.is_empty()
        && plan.held.is_empty()
        && plan.shared_emails.is_empty()
        && opts.release == Release::Nothing
        // A failed lookup is retried by planning again, not kept by quiet cycles.
        && !plan
            .attention
            .iter()
            .any(|a| matches!(a.kind, scim_sync_plan::AttentionKind::LookupFailed { .. }))
    {
        // Planned nothing (and nothing to warn of every cycle): while both sides stay as
        // they are under this policy, the next cycles would too.
        let fingerprint = fingerprint::quiet_fingerprint(cfg, store)?;
        read.cursor.quiet_under = Some(format!("{run_id} {fingerprint}"));
    }
    let summary = record::summary(
        &read,
        &plan,
        &applied,
        okta.requests_made(),
        kafkaman.requests_made(),
        started,
    );
    // What this run leaves the next cycle to plan from (only who changes then).
    let basis = if opts.dry_run {
        None
    } else {
        scoped::basis_to_leave(cfg, store, read.planned(), &plan)?
    };
    let mut report = record::finish(
        store, run_id, opts, read, plan, applied, summary, result, started,
    )?;
    if let Some(basis) = basis {
        scoped::leave_basis(cfg, store, run_id, basis)?;
    }
    report.inputs = inputs;
    Ok(report)
}
