//! Incremental cycles (issue 10): a cycle costs what changed, not the size of the org.
//! Against the simulators: the System Log names users, re-reads decide; kafkaman's
//! change clock names members; anything incomplete writes nothing and the next cycle is
//! full.

use crate::common;

use std::time::Duration;

use common::Env;
use scim_sync::store::FullReason;
use scim_sync::store::RunResult;
use scim_sync::store::{CycleKind, OpState};
use scim_sync::sync::CycleOptions;
use scim_sync_plan::OpKind;
use scim_sync_sim::generate::{self, builtin_ids as b};
use scim_sync_sim::{FaultKind, FaultSpec};

/// A fault on every GET of `route` (at most 100 of them).
fn get_fault(route: &str, kind: FaultKind) -> FaultSpec {
    FaultSpec {
        route: route.into(),
        method: Some("GET".into()),
        kind,
        count: 100,
        after: 0,
    }
}

/// The builtin org after its first (full) sync.
async fn synced_builtin() -> Env {
    let env = Env::start(&generate::builtin(), &[]).await;
    let first = env.sync().await;
    assert_eq!(first.summary.kind, Some(CycleKind::Full));
    assert_eq!(first.summary.full_reason, Some(FullReason::FirstRun));
    env
}

async fn full_dry_run_is_empty(env: &Env) {
    let full = env.full_dry_run().await;
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
    assert!(
        quiet.plan.operations.is_empty(),
        "{:?}",
        quiet.plan.operations
    );
    assert!(
        quiet.summary.okta_requests <= 2 && quiet.summary.kafkaman_requests <= 2,
        "{:?}",
        quiet.summary
    );
    full_dry_run_is_empty(&env).await;
}

#[tokio::test]
async fn a_full_cycle_counts_what_the_incremental_view_missed() {
    let env = synced_builtin().await;
    // A kafkaman edit the incremental baseline sees (its change clock names it), and an
    // Okta suspension whose event has not reached the System Log yet: the full listing
    // shows one Okta user the incremental view doesn't.
    env.world.okta.set_log_delay(Duration::from_secs(3600));
    env.world.okta.suspend_user(b::ADA).unwrap();
    env.world
        .kafkaman
        .update_member(
            b::GRACE_EMAIL,
            scim_sync_sim::kafkaman::MemberUpdate {
                given_name: Some("Amazing Grace".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let full = env.full_dry_run().await;
    assert_eq!(full.summary.missed_drift, Some(1), "{:?}", full.summary);
    assert_eq!(
        full.plan
            .operations
            .iter()
            .filter(|o| o.kind() == OpKind::Deactivate)
            .count(),
        1,
        "{:#?}",
        full.plan.operations
    );
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
    assert_eq!(
        run.applied.count(OpKind::Deactivate, OpState::Done),
        2,
        "{:?}",
        run.plan
    );
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
    assert_eq!(
        next.summary.full_reason,
        Some(FullReason::PreviousReadFailed)
    );
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
    assert_eq!(runs[0].kind, Some(CycleKind::Full));
}

#[tokio::test]
async fn a_member_deactivated_by_hand_in_kafkaman_is_noticed_by_the_next_incremental_cycle() {
    let env = synced_builtin().await;
    env.world
        .kafkaman
        .update_member(
            b::ADA_EMAIL,
            scim_sync_sim::kafkaman::MemberUpdate {
                active: Some(false),
                ..Default::default()
            },
        )
        .unwrap();
    let run = env.sync().await;
    assert_eq!(run.summary.kind, Some(CycleKind::Incremental));
    // Still assigned in Okta, but a lockout by hand stands: it needs attention, and
    // nothing is written.
    assert!(run.plan.operations.is_empty(), "{:?}", run.plan);
    assert!(
        run.plan
            .attention
            .iter()
            .any(|a| a.user_name == b::ADA_EMAIL
                && a.kind == scim_sync_plan::AttentionKind::DeactivatedInKafkaman),
        "{:?}",
        run.plan.attention
    );
    assert!(!env.member(b::ADA_EMAIL).active);
    full_dry_run_is_empty(&env).await;
}

#[tokio::test]
async fn a_target_without_the_last_modified_filter_gets_a_whole_team_listing() {
    let env = synced_builtin().await;
    // The hand change is acted on (restored), so the listing is seen to have found it.
    env.set("sync", "restore_hand_deactivated = true");
    env.world
        .kafkaman
        .set_compat(scim_sync_sim::kafkaman::Compat {
            last_modified_filter: false,
            team_api: true,
            ..Default::default()
        });
    env.world
        .kafkaman
        .update_member(
            b::ADA_EMAIL,
            scim_sync_sim::kafkaman::MemberUpdate {
                active: Some(false),
                ..Default::default()
            },
        )
        .unwrap();
    let run = env.sync().await;
    assert_eq!(run.summary.kind, Some(CycleKind::Incremental));
    assert_eq!(run.result, RunResult::Success);
    assert_eq!(run.applied.count(OpKind::Reactivate, OpState::Done), 1);
    full_dry_run_is_empty(&env).await;
}

#[tokio::test]
async fn a_new_hire_with_a_pending_admin_invite_is_created_after_clearing_it() {
    let env = synced_builtin().await;
    // An admin invited the person by hand after the last full read: only the by-email
    // invite read can know.
    env.world
        .kafkaman
        .add_invite("new.hire@example.com", "admin")
        .unwrap();
    let id = env
        .world
        .okta
        .create_user(scim_sync_sim::scenario::OktaUserSpec {
            id: None,
            login: "new.hire@example.com".into(),
            email: None,
            first_name: Some("New".into()),
            last_name: Some("Hire".into()),
            status: "ACTIVE".into(),
            profile: Default::default(),
            app_username: None,
            app_profile: Default::default(),
        })
        .unwrap();
    env.world.okta.assign_user(&id).unwrap();
    let run = env.sync().await;
    assert_eq!(run.summary.kind, Some(CycleKind::Incremental));
    assert_eq!(run.result, RunResult::Success, "{:?}", run.applied);
    assert_eq!(run.applied.count(OpKind::ClearInvite, OpState::Done), 1);
    assert_eq!(run.applied.count(OpKind::Create, OpState::Done), 1);
    assert!(env.member("new.hire@example.com").active);
    full_dry_run_is_empty(&env).await;
}

#[tokio::test]
async fn events_seen_late_are_not_lost() {
    let env = synced_builtin().await;
    env.world
        .okta
        .set_log_delay(std::time::Duration::from_millis(400));
    env.world.okta.suspend_user(b::ADA).unwrap();
    // Too early: the event isn't visible yet, nothing happens, and nothing is skipped.
    let early = env.sync().await;
    assert_eq!(early.summary.kind, Some(CycleKind::Incremental));
    assert!(env.member(b::ADA_EMAIL).active);
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let late = env.sync().await;
    assert_eq!(late.applied.count(OpKind::Deactivate, OpState::Done), 1);
    assert!(!env.member(b::ADA_EMAIL).active);
}

/// A fault on one read of an incremental cycle: the cycle fails, nothing is written to
/// kafkaman, and the next cycle is full and applies the change.
async fn a_failed_read_writes_nothing(api: &str, route: &str, kind: FaultKind) {
    let env = synced_builtin().await;
    env.world.okta.suspend_user(b::ADA).unwrap();
    env.world
        .kafkaman
        .update_member(
            b::BARBARA_EMAIL,
            scim_sync_sim::kafkaman::MemberUpdate {
                given_name: Some("Changed".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let fault = get_fault(route, kind);
    match api {
        "okta" => env.world.okta.faults().arm(fault),
        _ => env.world.kafkaman.faults().arm(fault),
    }
    let writes = env.kafkaman_writes().len();
    let err = env
        .cycle_with(CycleOptions::default())
        .await
        .expect_err("a read failed");
    assert!(err.to_string().contains("nothing was changed"), "{err}");
    assert_eq!(
        env.kafkaman_writes().len(),
        writes,
        "{route}: nothing written"
    );
    env.world.okta.faults().clear();
    env.world.kafkaman.faults().clear();
    let next = env.sync().await;
    assert_eq!(
        next.summary.full_reason,
        Some(FullReason::PreviousReadFailed)
    );
    assert!(!env.member(b::ADA_EMAIL).active);
    full_dry_run_is_empty(&env).await;
}

#[tokio::test]
async fn a_malformed_log_page_writes_nothing() {
    a_failed_read_writes_nothing("okta", "/api/v1/logs", FaultKind::Malformed).await;
}

#[tokio::test]
async fn a_failed_user_re_read_writes_nothing() {
    a_failed_read_writes_nothing(
        "okta",
        "/api/v1/apps/*/users/*",
        FaultKind::Status { status: 500 },
    )
    .await;
}

#[tokio::test]
async fn a_failed_last_modified_read_writes_nothing() {
    a_failed_read_writes_nothing("kafkaman", "/scim/v2/Users", FaultKind::Truncate).await;
}

#[tokio::test]
async fn a_quiet_cycle_on_a_large_team_changed_earlier_reads_one_kafkaman_page() {
    // Over 100 members, most written by the first sync in the same few seconds.
    let mut scenario = generate::generate(400, 7);
    scenario.kafkaman.seats = 100_000;
    let env = Env::start(
        &scenario,
        &[
            ("safety", "max_deactivations = 100000"),
            ("safety", "max_deactivations_percent = 100"),
        ],
    )
    .await;
    let first = env.sync().await;
    assert!(
        first.plan.operations.len() > 100,
        "{}",
        first.plan.operations.len()
    );
    assert!(env.world.kafkaman.members().len() > 200);
    // Time passes on kafkaman's clock (a minute between cycles, as in the daemon).
    env.world
        .kafkaman
        .set_clock_offset(chrono::Duration::seconds(60));
    let second = env.sync().await;
    assert_eq!(second.summary.kind, Some(CycleKind::Incremental));
    env.world
        .kafkaman
        .set_clock_offset(chrono::Duration::seconds(120));
    let quiet = env.sync().await;
    assert_eq!(quiet.summary.kind, Some(CycleKind::Incremental));
    assert!(
        quiet.plan.operations.is_empty(),
        "{:?}",
        quiet.plan.operations
    );
    assert!(
        quiet.summary.kafkaman_requests <= 2 && quiet.summary.okta_requests <= 2,
        "{:?}",
        quiet.summary
    );
}

/// An admin changes an assigned, active user's name in Okta: the System Log names them
/// and the incremental cycle re-reads their assignment. Returns the env, ready.
async fn renamed_active_user() -> Env {
    let env = synced_builtin().await;
    assert!(env.member(b::BARBARA_EMAIL).active);
    let mut changes = serde_json::Map::new();
    changes.insert("firstName".into(), serde_json::json!("Barbara J."));
    env.world.okta.update_profile(b::BARBARA, changes).unwrap();
    env
}

/// Only Okta's own "not assigned" answer may lead to a deactivation: a 404 from a proxy
/// on the re-read of an assigned, active user fails the cycle, writes nothing, and the
/// next cycle (full) keeps the member.
#[tokio::test]
async fn a_proxy_404_on_a_re_read_deactivates_nobody() {
    let env = renamed_active_user().await;
    env.world.okta.faults().arm(get_fault(
        "/api/v1/apps/*/users/*",
        FaultKind::Proxy { status: 404 },
    ));
    let writes = env.kafkaman_writes().len();
    let err = env
        .cycle_with(CycleOptions::default())
        .await
        .expect_err("a 404 that is not Okta's proves nothing");
    let text = err.to_string();
    assert!(
        text.contains("without Okta's not-found answer") && text.contains("nothing was changed"),
        "{text}"
    );
    assert_eq!(env.kafkaman_writes().len(), writes, "nothing written");
    assert!(env.member(b::BARBARA_EMAIL).active);
    env.world.okta.faults().clear();
    let next = env.sync().await;
    assert_eq!(
        next.summary.full_reason,
        Some(FullReason::PreviousReadFailed)
    );
    assert_eq!(next.applied.count(OpKind::Deactivate, OpState::Done), 0);
    assert!(env.member(b::BARBARA_EMAIL).active);
    full_dry_run_is_empty(&env).await;
}

/// Okta's E0000007 for the app's users is also what an app that was deleted answers:
/// the client reads the app before believing it, and a vanished app deactivates nobody.
#[tokio::test]
async fn e0000007_from_an_app_that_vanished_deactivates_nobody() {
    let env = renamed_active_user().await;
    for route in ["/api/v1/apps/*/users/*", "/api/v1/apps/*"] {
        // The simulated Okta's own 404: an E0000007 error object.
        env.world
            .okta
            .faults()
            .arm(get_fault(route, FaultKind::Status { status: 404 }));
    }
    let writes = env.kafkaman_writes().len();
    let err = env
        .cycle_with(CycleOptions::default())
        .await
        .expect_err("the app is gone");
    assert!(err.to_string().contains("check okta.app_id"), "{err}");
    assert_eq!(env.kafkaman_writes().len(), writes, "nothing written");
    assert!(env.member(b::BARBARA_EMAIL).active);
}

/// Okta's own answer, with the app in place, still means "not assigned".
#[tokio::test]
async fn e0000007_for_an_unassigned_user_still_deactivates() {
    let env = synced_builtin().await;
    env.world.okta.unassign_user(b::SOPHIE).unwrap();
    let next = env.sync().await;
    assert_eq!(next.summary.kind, Some(CycleKind::Incremental));
    assert_eq!(next.applied.count(OpKind::Deactivate, OpState::Done), 1);
    let app_reads = env
        .world
        .okta
        .requests()
        .iter()
        .filter(|r| {
            r.method == "GET" && r.path == format!("/api/v1/apps/{}", env.world.okta.app_id())
        })
        .count();
    assert_eq!(
        app_reads, 1,
        "the app was read once to confirm the E0000007"
    );
}

/// A service app not granted `okta.logs.read`: Okta hands out a token without it and
/// refuses the System Log (403). Cycles don't fail every other time: the refused read
/// turns the cycle full, and the cycles after it are full without trying the log, for an
/// hour.
#[tokio::test]
async fn a_refused_system_log_makes_cycles_full_instead_of_failing() {
    let scopes = ["okta.users.read", "okta.apps.read", "okta.groups.read"];
    let mut scenario = generate::builtin();
    common::with_service_app(&mut scenario, "0oanologs00000000001", &scopes);
    let env = Env::start(&scenario, &[]).await;
    // The default scopes, okta.logs.read among them.
    env.use_oauth("0oanologs00000000001", None);
    let first = env.sync().await;
    assert_eq!(first.summary.kind, Some(CycleKind::Full));
    env.world.okta.unassign_user(b::SOPHIE).unwrap();
    let second = env.sync().await;
    assert_eq!(second.result, RunResult::Success);
    assert_eq!(second.summary.kind, Some(CycleKind::Full));
    assert_eq!(second.summary.full_reason, Some(FullReason::LogUnavailable));
    assert_eq!(second.applied.count(OpKind::Deactivate, OpState::Done), 1);
    let log_reads = |env: &Env| {
        env.world
            .okta
            .requests()
            .iter()
            .filter(|r| r.path == "/api/v1/logs")
            .count()
    };
    let tried = log_reads(&env);
    assert_eq!(tried, 1, "the log was tried once");
    for _ in 0..2 {
        let next = env.sync().await;
        assert_eq!(next.result, RunResult::Success);
        assert_eq!(next.summary.full_reason, Some(FullReason::LogUnavailable));
    }
    assert_eq!(log_reads(&env), tried, "not tried again during the pause");
    let runs = env.store.runs(10).unwrap();
    assert!(
        runs.iter().all(|r| r.result == Some(RunResult::Success)),
        "{runs:#?}"
    );
}

/// Okta's `LogTarget` has no required field: an event with a target without `id` or
/// `type` is read (that target names nobody), not taken for a malformed page.
#[tokio::test]
async fn a_log_target_without_an_id_or_type_does_not_fail_the_page() {
    let env = renamed_active_user().await;
    env.world.okta.emit_event(
        "user.account.update_profile",
        vec![
            serde_json::json!({"displayName": "Profile policy", "detailEntry": {"rule": "r1"}}),
            serde_json::json!({"id": "00ux"}),
        ],
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    let next = env.sync().await;
    assert_eq!(next.result, RunResult::Success);
    assert_eq!(next.summary.kind, Some(CycleKind::Incremental));
    assert_eq!(next.applied.count(OpKind::UpdateName, OpState::Done), 1);
    assert_eq!(
        env.member(b::BARBARA_EMAIL).given_name.as_deref(),
        Some("Barbara J.")
    );
}

/// The System Log is polled for restored app assignments too.
#[tokio::test]
async fn the_log_is_polled_for_restored_assignments() {
    let env = synced_builtin().await;
    env.sync().await;
    let polled: Vec<String> = env
        .world
        .okta
        .requests()
        .iter()
        .filter(|r| r.path == "/api/v1/logs")
        .map(|r| r.query.clone())
        .collect();
    assert!(!polled.is_empty());
    assert!(
        polled
            .iter()
            .all(|q| q.contains("application.user_membership.restore")),
        "{polled:?}"
    );
}

/// Events can be persisted minutes after their `published` time (the simulator: up to
/// 300 s). After a failed incremental read the full cycle resumes the System Log from the
/// stored `next`, and polling compares `since` with persistence time (as Okta does): no
/// change made around that full cycle is missed.
#[tokio::test]
async fn events_published_out_of_order_around_a_failed_read_are_not_missed() {
    let env = synced_builtin().await;
    env.world.okta.set_log_jitter(Duration::from_secs(300));
    env.world
        .okta
        .faults()
        .arm(get_fault("/api/v1/logs", FaultKind::Status { status: 500 }));
    env.world.okta.suspend_user(b::ADA).unwrap();
    env.cycle_with(CycleOptions::default())
        .await
        .expect_err("the System Log read fails");
    env.world.okta.faults().clear();
    let full = env.sync().await;
    assert_eq!(
        full.summary.full_reason,
        Some(FullReason::PreviousReadFailed)
    );
    // Changes after the full cycle, each published up to 300 s before it happened
    // (two leavers, three renames).
    env.world.okta.deactivate_user(b::SOPHIE).unwrap();
    env.world.okta.deactivate_user(b::GUIDO).unwrap();
    for id in [b::BARBARA, b::DENNIS, b::ALAN] {
        let mut changes = serde_json::Map::new();
        changes.insert("lastName".into(), serde_json::json!("Renamed"));
        env.world.okta.update_profile(id, changes).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let next = env.sync().await;
    assert_eq!(next.summary.kind, Some(CycleKind::Incremental));
    full_dry_run_is_empty(&env).await;
}

/// kafkaman's clock corrected backwards (by ten minutes) after a cycle: a member
/// re-enabled by hand afterwards is stamped before the stored change clock. The next
/// cycle sees kafkaman's `Date` behind that clock, reads the whole team once, and finds
/// the change: nothing is skipped until the next full cycle.
#[tokio::test]
async fn a_kafkaman_clock_set_back_misses_no_hand_change() {
    let env = synced_builtin().await;
    // A leaver, deactivated by scim-sync.
    env.world.okta.deactivate_user(b::SOPHIE).unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    env.sync().await;
    assert!(!env.member("sophie.wilson@example.com").active);
    env.world
        .kafkaman
        .set_clock_offset(chrono::Duration::minutes(-10));
    env.world
        .kafkaman
        .update_member(
            "sophie.wilson@example.com",
            scim_sync_sim::kafkaman::MemberUpdate {
                active: Some(true),
                ..Default::default()
            },
        )
        .unwrap();
    let next = env.sync().await;
    assert_eq!(next.summary.kind, Some(CycleKind::Incremental));
    assert_eq!(next.applied.count(OpKind::Deactivate, OpState::Done), 1);
    assert!(!env.member("sophie.wilson@example.com").active);
    full_dry_run_is_empty(&env).await;
}

/// Another userName source (or an upgrade to one) converts Okta's users otherwise than
/// the stored rows were: the next cycle is full, so no stored row of the old mapping is
/// planned with the new one.
#[tokio::test]
async fn a_changed_mapping_makes_the_next_cycle_full() {
    let env = synced_builtin().await;
    let quiet = env.sync().await;
    assert_eq!(quiet.summary.kind, Some(CycleKind::Incremental));
    env.set("sync", "user_name_source = \"profile\"");
    let next = env.sync().await;
    assert_eq!(next.summary.full_reason, Some(FullReason::MappingChanged));
    let after = env.sync().await;
    assert_eq!(after.summary.kind, Some(CycleKind::Incremental));
}

/// A burst of changes is paid for once: the cycle that goes full for it reflects every
/// change, and the next cycle re-reads nobody for those events (before, it polled them
/// again from the listing's start and went full a second time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_changes_costs_one_full_cycle_not_two() {
    let mut scenario = generate::generate(300, 11);
    generate::in_sync(&mut scenario);
    let env = Env::start(&scenario, &[]).await;
    env.world.okta.set_log_delay(Duration::ZERO);
    let first = env.sync().await;
    assert_eq!(first.summary.kind, Some(CycleKind::Full));
    let mut linked: Vec<String> = env.store.links().unwrap().into_keys().collect();
    linked.sort();
    assert!(linked.len() > 80, "{}", linked.len());
    for id in &linked[..80] {
        let mut changes = serde_json::Map::new();
        changes.insert("firstName".into(), serde_json::json!("Burst"));
        env.world.okta.update_profile(id, changes).unwrap();
    }
    let burst = env.sync().await;
    assert_eq!(burst.summary.full_reason, Some(FullReason::TooManyChanges));
    assert_eq!(burst.applied.count(OpKind::UpdateName, OpState::Done), 80);

    let after = env.sync().await;
    assert_eq!(
        after.summary.kind,
        Some(CycleKind::Incremental),
        "{:?}",
        after.summary
    );
    assert_eq!(after.summary.users_reread, 0, "{:?}", after.summary);
    assert!(after.plan.operations.is_empty());

    // A change after the burst is still seen.
    let mut changes = serde_json::Map::new();
    changes.insert("lastName".into(), serde_json::json!("Later"));
    env.world.okta.update_profile(&linked[0], changes).unwrap();
    let later = env.sync().await;
    assert_eq!(later.summary.kind, Some(CycleKind::Incremental));
    assert_eq!(later.applied.count(OpKind::UpdateName, OpState::Done), 1);
}

/// A quiet cycle costs what changed: once a cycle planned nothing, a cycle that finds no
/// System Log event and only members exactly as stored plans nothing without loading the
/// snapshot (one request to each side). Any change on either side, or in the policy,
/// plans again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_cycle_skips_the_snapshot_until_something_changes() {
    let env = synced_builtin().await;
    let settled = env.sync().await;
    assert!(
        settled.plan.operations.is_empty(),
        "{:?}",
        settled.plan.operations
    );
    assert!(
        !settled.summary.quiet,
        "the first cycle that plans nothing plans"
    );
    let quiet = env.sync().await;
    assert!(quiet.summary.quiet, "{:?}", quiet.summary);
    assert_eq!(
        (quiet.summary.okta_requests, quiet.summary.kafkaman_requests),
        (1, 1)
    );
    assert_eq!(quiet.summary.in_sync, settled.summary.in_sync);
    assert_eq!(quiet.summary.attention, settled.summary.attention);

    // A hand change in kafkaman: planned again (the name is Okta's).
    env.world
        .kafkaman
        .update_member(
            b::ADA_EMAIL,
            scim_sync_sim::kafkaman::MemberUpdate {
                family_name: Some("Byron".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let fixed = env.sync().await;
    assert!(!fixed.summary.quiet);
    assert_eq!(fixed.applied.count(OpKind::UpdateName, OpState::Done), 1);
    // The cycle after a write plans (and finds nothing to do); the next is quiet.
    let confirmed = env.sync().await;
    assert!(!confirmed.summary.quiet && confirmed.plan.operations.is_empty());
    assert!(env.sync().await.summary.quiet);

    // Another policy: planned again.
    env.set("safety", "protected_users = [\"ada.lovelace@example.com\"]");
    assert!(!env.sync().await.summary.quiet);
    assert!(env.sync().await.summary.quiet);

    // A change in Okta: planned again.
    env.world.okta.suspend_user(b::ALAN).unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let suspended = env.sync().await;
    assert!(!suspended.summary.quiet);
    assert_eq!(
        suspended.applied.count(OpKind::Deactivate, OpState::Done),
        1
    );
    full_dry_run_is_empty(&env).await;
}
