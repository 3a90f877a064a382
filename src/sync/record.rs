//! The record stage: what the journal, the snapshot, the metrics and the log keep of a
//! cycle. The plan is recorded before any write, the snapshot brought up to date before
//! the apply, and the run ended — with where the next cycle resumes — in one transaction.

use std::collections::BTreeMap;
use std::time::Instant;

use scim_sync_plan::{OpKind, Plan};

use super::read::{CycleRead, ReadKind};
use super::{CycleOptions, CycleReport, SyncError};
use crate::apply::ApplyReport;
use crate::store::{
    CycleKind, OpState, RunMode, RunResult, RunSummary, SnapshotChanges, Store, Trigger,
};
use crate::view::clock;

/// Records the plan (and, for a real run, its holds), and says what needs a person.
pub fn plan(store: &Store, run_id: i64, plan: &Plan, opts: &CycleOptions) -> Result<(), SyncError> {
    store.record_plan(run_id, plan)?;
    if !opts.dry_run {
        // Holds are sticky: what this plan held stays held in later cycles until a human
        // releases it (`release-held`) or it is no longer planned.
        store.replace_held(run_id, &plan.held)?;
    }
    if !plan.held.is_empty() {
        warn_held(store, plan, opts.dry_run, opts.trigger != Trigger::Manual)?;
    }
    for shared in &plan.shared_emails {
        // Every cycle, like a hold: it needs a person until Okta is fixed.
        tracing::warn!(
            user = %shared.user_name,
            okta_ids = %shared.okta_ids.join(","),
            owner = shared.owner.as_deref().unwrap_or(""),
            dry_run = opts.dry_run,
            "Okta users share one email: {}",
            shared.describe()
        );
    }
    Ok(())
}

/// The log line of every cycle that holds deactivations: how many, since when, and
/// what a human does about it. WARN, except in a one-shot command (`at_warn` false),
/// whose plan and result say it on stdout (`--quiet` too: [`crate::render::held_hint`]).
fn warn_held(store: &Store, plan: &Plan, dry_run: bool, at_warn: bool) -> Result<(), SyncError> {
    let since = store
        .held_deactivations()?
        .into_iter()
        .map(|h| h.held_since)
        .min();
    let since = since.as_deref().unwrap_or("this cycle");
    let held = plan.held.len();
    let cap = plan.deactivation_cap;
    macro_rules! held_event {
        ($level:ident) => {
            tracing::$level!(
                held,
                held_since = since,
                deactivation_cap = cap,
                dry_run,
                "{held} deactivation(s) held by the safety cap, not applied: review them \
                 (`scim-sync report` or a dry run) and apply with `scim-sync release-held`"
            )
        };
    }
    if at_warn {
        held_event!(warn);
    } else {
        held_event!(info);
    }
    Ok(())
}

/// Before a real run's first write: the snapshot as read (a full cycle replaces it; an
/// incremental one writes the team's changes now and Okta's with the run's end), the
/// lookups, and the links the plan establishes.
pub fn snapshot_before_apply(
    store: &Store,
    read: &mut CycleRead,
    plan: &Plan,
) -> Result<(), SyncError> {
    match &mut read.kind {
        ReadKind::Full { .. } => {
            store.replace_team(&read.team.members, &read.team.invites)?;
            store.replace_okta_users(&read.okta.assigned)?;
        }
        ReadKind::Quiet => {}
        ReadKind::Incremental { changes, .. } => {
            store.apply_snapshot_changes(&SnapshotChanges {
                members: std::mem::take(&mut changes.members),
                invites: std::mem::take(&mut changes.invites),
                all_invites: changes.all_invites.take(),
                ..Default::default()
            })?
        }
    }
    match read.scoped() {
        // The others' lookups stand.
        Some(scoped) => store.replace_okta_lookups_of(&scoped.okta_ids, &read.okta.lookups)?,
        None => store.replace_okta_lookups(&read.okta.lookups)?,
    }
    store.link_all(
        plan.new_links
            .iter()
            .map(|l| (l.okta_id.as_str(), l.scim_id.as_str())),
    )?;
    Ok(())
}

/// What a cycle counted, for the run's summary.
pub fn summary(
    read: &CycleRead,
    plan: &Plan,
    applied: &ApplyReport,
    okta_requests: u64,
    kafkaman_requests: u64,
    started: Instant,
) -> RunSummary {
    let mut planned = BTreeMap::new();
    for o in &plan.operations {
        *planned.entry(o.kind()).or_insert(0) += 1;
    }
    let (missed_drift, users_reread) = match &read.kind {
        ReadKind::Full { missed_drift, .. } => (*missed_drift, 0),
        ReadKind::Incremental { users_reread, .. } => (None, *users_reread),
        ReadKind::Quiet => (None, 0),
    };
    let totals = read.totals();
    RunSummary {
        assigned: totals.assigned,
        members: totals.members,
        in_sync: plan.in_sync,
        managed: plan.managed,
        unmanaged: plan.unmanaged.len(),
        attention: plan.attention.len(),
        held: plan.held.len(),
        planned,
        outcomes: applied.counts(),
        failed: applied.failures().count(),
        okta_requests,
        kafkaman_requests,
        duration_ms: started.elapsed().as_millis() as u64,
        kind: Some(read.cycle_kind()),
        full_reason: read.full_reason(),
        missed_drift,
        log_events: read.log_events,
        users_reread,
        people_planned: read.scoped().map(|s| s.people()),
        quiet: false,
    }
}

/// Ends the run: the journal (a real run also saves Okta's re-read rows and where the
/// next cycle resumes, in the same transaction), the metrics and the cycle's log line.
// Each argument is one of the cycle's results, handed over once at its end.
#[allow(clippy::too_many_arguments)]
pub fn finish(
    store: &Store,
    run_id: i64,
    opts: &CycleOptions,
    read: CycleRead,
    plan: Plan,
    applied: ApplyReport,
    summary: RunSummary,
    result: RunResult,
    started: Instant,
) -> Result<CycleReport, SyncError> {
    let kind = read.cycle_kind();
    if opts.dry_run {
        // A preview moves nothing on: the next real cycle reads the same changes.
        store.finish_run_with_cursor(run_id, result, &summary, kind, None, None)?;
    } else {
        let mut cursor = read.cursor.clone();
        if kind == CycleKind::Full {
            cursor.last_full_at = Some(clock::format_time(chrono::Utc::now()));
            // Once a full cycle (daily by default): the quiet runs of over a week ago.
            // Housekeeping: a failure is said and the cycle's own record goes on.
            match store.forget_old_quiet_runs(chrono::Utc::now()) {
                Ok(0) => {}
                Ok(forgotten) => {
                    tracing::info!(forgotten, "quiet runs of over a week ago left the history")
                }
                Err(e) => tracing::warn!(error = %e, "could not forget old quiet runs"),
            }
        }
        let changes = match &read.kind {
            ReadKind::Incremental { changes, .. } => Some(changes),
            ReadKind::Full { .. } | ReadKind::Quiet => None,
        };
        store.finish_run_with_cursor(run_id, result, &summary, kind, changes, Some(&cursor))?;
    }
    let mode = if opts.dry_run {
        RunMode::DryRun
    } else {
        RunMode::Apply
    };
    crate::metrics::cycle_kind(kind.as_str(), mode.as_str());
    if let Some(drift) = summary.missed_drift {
        crate::metrics::full_cycle_drift(drift);
        if drift > 0 {
            tracing::warn!(
                missed_drift = drift,
                "the full cycle found {drift} Okta user(s) or member(s) that incremental cycles had not seen change"
            );
        }
    }
    // Active and invited members hold a seat (kafkaman's contract; its API says nothing
    // of how many seats the team has): those read, then what the apply changed (a
    // create or reactivation takes one, a deactivation frees one).
    let seats_read = read.totals().seats;
    let seats_used = (seats_read
        + applied.count(OpKind::Create, OpState::Done)
        + applied.count(OpKind::Reactivate, OpState::Done))
    .saturating_sub(applied.count(OpKind::Deactivate, OpState::Done));
    let outcomes: Vec<_> = summary
        .outcomes
        .iter()
        .map(|(k, n)| (k.kind.as_str(), k.state.as_str(), *n))
        .collect();
    crate::metrics::cycle_finished(
        result.as_str(),
        result.ran_through(),
        started.elapsed(),
        Some(crate::metrics::CycleCounts {
            held: summary.held,
            attention: summary.attention,
            managed: summary.managed,
            unmanaged: summary.unmanaged,
            seats_used,
            outcomes: &outcomes,
        }),
    );
    tracing::info!(
        run_id,
        mode = mode.as_str(),
        kind = kind.as_str(),
        full_reason = summary.full_reason.map(|r| r.as_str()).unwrap_or(""),
        result = result.as_str(),
        assigned = summary.assigned,
        members = summary.members,
        deactivated = applied.count(OpKind::Deactivate, OpState::Done),
        reactivated = applied.count(OpKind::Reactivate, OpState::Done),
        created = applied.count(OpKind::Create, OpState::Done),
        updated = applied.count(OpKind::UpdateName, OpState::Done),
        invites_cleared = applied.count(OpKind::ClearInvite, OpState::Done),
        failed = summary.failed,
        held = summary.held,
        attention = summary.attention,
        duration_ms = summary.duration_ms,
        "cycle finished"
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

/// Ends a run that failed before it could finish, and says so where it is read.
pub fn failed(
    store: &Store,
    run_id: i64,
    opts: &CycleOptions,
    error: &SyncError,
    started: Instant,
) -> Result<(), SyncError> {
    let summary = RunSummary {
        duration_ms: started.elapsed().as_millis() as u64,
        ..Default::default()
    };
    let result = if matches!(error, SyncError::Interrupted) {
        RunResult::Interrupted
    } else {
        RunResult::Failed
    };
    store.finish_run(run_id, result, Some(&summary), Some(&error.to_string()))?;
    crate::metrics::cycle_finished(
        result.as_str(),
        result.ran_through(),
        started.elapsed(),
        None,
    );
    if opts.trigger == Trigger::Manual {
        // A one-shot run: the command says the error itself (`scim-sync: …` on stderr,
        // and the exit code), so the log line is only for `-v`.
        tracing::info!(run_id, result = result.as_str(), duration_ms = summary.duration_ms, error = %error, "cycle failed");
    } else {
        // The daemon (and the demo): the log is where the failure is said.
        tracing::error!(run_id, result = result.as_str(), duration_ms = summary.duration_ms, error = %error, "cycle failed");
    }
    Ok(())
}

/// Ends a quiet run (`ReadKind::Quiet`): nothing changed since the last applying cycle,
/// which planned nothing, so its counts stand; the cursor moves on, in the same
/// transaction.
pub fn quiet(
    store: &Store,
    run_id: i64,
    read: CycleRead,
    okta_requests: u64,
    kafkaman_requests: u64,
    started: Instant,
) -> Result<CycleReport, SyncError> {
    // The counts of the run that planned nothing (its id leads `quiet_under`).
    let planned_by = read
        .cursor
        .quiet_under
        .as_deref()
        .and_then(|v| v.split_once(' '))
        .and_then(|(id, _)| id.parse::<i64>().ok());
    let base = match planned_by {
        Some(id) => store.run(id)?.and_then(|r| r.summary).unwrap_or_default(),
        None => RunSummary::default(),
    };
    let summary = RunSummary {
        assigned: base.assigned,
        members: base.members,
        in_sync: base.in_sync,
        managed: base.managed,
        unmanaged: base.unmanaged,
        attention: base.attention,
        okta_requests,
        kafkaman_requests,
        duration_ms: started.elapsed().as_millis() as u64,
        kind: Some(CycleKind::Incremental),
        quiet: true,
        ..RunSummary::default()
    };
    let result = RunResult::Success;
    store.finish_run_with_cursor(
        run_id,
        result,
        &summary,
        CycleKind::Incremental,
        None,
        Some(&read.cursor),
    )?;
    crate::metrics::cycle_kind(CycleKind::Incremental.as_str(), RunMode::Apply.as_str());
    // The counts' gauges keep the last cycle's values: nothing changed.
    crate::metrics::cycle_finished(result.as_str(), true, started.elapsed(), None);
    tracing::info!(
        run_id,
        mode = RunMode::Apply.as_str(),
        kind = CycleKind::Incremental.as_str(),
        result = result.as_str(),
        quiet = true,
        assigned = summary.assigned,
        members = summary.members,
        attention = summary.attention,
        duration_ms = summary.duration_ms,
        "cycle finished"
    );
    Ok(CycleReport {
        run_id,
        result,
        plan: Plan {
            in_sync: summary.in_sync,
            managed: summary.managed,
            ..Plan::default()
        },
        applied: ApplyReport::default(),
        summary,
        inputs: None,
    })
}
