//! Incremental cycles (issue 10): a cycle costs what changed, not the size of the org.
//! Against the simulators: the System Log names users, re-reads decide; kafkaman's
//! change clock names members; anything incomplete writes nothing and the next cycle is
//! full.

mod common;

use common::Env;
use scim_sync::plan::OpKind;
use scim_sync::sim::generate::{self, builtin_ids as b};
use scim_sync::sim::{FaultKind, FaultSpec};
use scim_sync::store::{CycleKind, OpState};
use scim_sync::sync::incremental::FullReason;
use scim_sync::sync::{CycleOptions, RunResult};

/// The builtin org after its first (full) sync.
async fn synced_builtin() -> Env {
    let env = Env::start(&generate::builtin(), &[]).await;
    let first = env.sync().await;
    assert_eq!(first.summary.kind, Some(CycleKind::Full));
    assert_eq!(first.summary.full_reason, Some(FullReason::FirstRun));
    env
}

async fn full_dry_run_is_empty(env: &Env) {
    let full = env
        .cycle_with(CycleOptions {
            dry_run: true,
            full: true,
            ..Default::default()
        })
        .await
        .expect("full dry run");
    assert!(
        full.plan.operations.is_empty(),
        "a full read still plans: {:#?}",
        full.plan.operations
    );
    assert_eq!(full.summary.missed_drift, Some(0), "{:?}", full.summary);
}

#[tokio::test]
async fn a_quiet_incremental_cycle_makes_one_request_to_each_side() {
    let env = synced_builtin().await;
    let quiet = env.sync().await;
    assert_eq!(quiet.summary.kind, Some(CycleKind::Incremental));
    assert_eq!(quiet.result, RunResult::Success);
    assert!(quiet.plan.operations.is_empty(), "{:?}", quiet.plan.operations);
    assert!(
        quiet.summary.okta_requests <= 2 && quiet.summary.kafkaman_requests <= 2,
        "{:?}",
        quiet.summary
    );
    full_dry_run_is_empty(&env).await;
}

#[tokio::test]
async fn okta_changes_reach_kafkaman_in_the_next_incremental_cycle() {
    let env = synced_builtin().await;
    env.world.okta.suspend_user(b::ADA).unwrap();
    env.world
        .okta
        .remove_group_member(b::GROUP_ENGINEERING, b::ALAN)
        .unwrap();
    let run = env.sync().await;
    assert_eq!(run.summary.kind, Some(CycleKind::Incremental));
    assert_eq!(run.applied.count(OpKind::Deactivate, OpState::Done), 2, "{:?}", run.plan);
    assert!(run.summary.users_reread >= 2);
    assert!(!env.member(b::ADA_EMAIL).active);
    full_dry_run_is_empty(&env).await;

    env.world.okta.unsuspend_user(b::ADA).unwrap();
    let run = env.sync().await;
    assert_eq!(run.summary.kind, Some(CycleKind::Incremental));
    assert_eq!(run.applied.count(OpKind::Reactivate, OpState::Done), 1);
    assert!(env.member(b::ADA_EMAIL).active);
    full_dry_run_is_empty(&env).await;
}

#[tokio::test]
async fn a_failed_log_read_writes_nothing_and_the_next_cycle_is_full() {
    let env = synced_builtin().await;
    env.world.okta.suspend_user(b::ADA).unwrap();
    env.world.okta.faults().arm(FaultSpec {
        route: "/api/v1/logs".into(),
        method: None,
        kind: FaultKind::Status { status: 500 },
        count: 100,
        after: 0,
    });
    let writes = env.kafkaman_writes().len();
    env.cycle_with(CycleOptions::default())
        .await
        .expect_err("the System Log is down");
    assert_eq!(env.kafkaman_writes().len(), writes, "nothing written");
    env.world.okta.faults().clear();

    let next = env.sync().await;
    assert_eq!(next.summary.kind, Some(CycleKind::Full));
    assert_eq!(next.summary.full_reason, Some(FullReason::PreviousReadFailed));
    assert!(!env.member(b::ADA_EMAIL).active);
}

#[tokio::test]
async fn full_cycles_come_when_asked_and_count_what_incremental_ones_missed() {
    let env = synced_builtin().await;
    let full = env
        .cycle_with(CycleOptions {
            full: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(full.summary.kind, Some(CycleKind::Full));
    assert_eq!(full.summary.full_reason, Some(FullReason::Requested));
    assert_eq!(full.summary.missed_drift, Some(0));
    // History says which kind ran.
    let runs = env.store.runs(3).unwrap();
    assert_eq!(runs[0].cycle_kind().unwrap(), Some(CycleKind::Full));
}
