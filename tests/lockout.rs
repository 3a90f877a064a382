//! A lockout by hand stands (issue 18, item 2): a member an admin deactivates in kafkaman
//! while the person is still assigned in Okta is not reactivated by later cycles (it
//! needs attention, with the true reason), unless `sync.restore_hand_deactivated` says
//! so; a real rehire (scim-sync deactivated the member, Okta assigns the user again) is
//! still reactivated. Cycles against the simulators.

use crate::common;

use std::time::Duration;

use common::Env;
use scim_sync::explain::{self, DecisionCategory};
use scim_sync::report::{self, Format, ReportOptions};
use scim_sync::store::{CycleKind, OpState, PlanCategory, RunResult};
use scim_sync::sync::{CycleOptions, CycleReport};
use scim_sync_plan::{AttentionKind, OpKind};
use scim_sync_sim::generate::{self, builtin_ids as b};
use scim_sync_sim::kafkaman::MemberUpdate;

const SOPHIE_EMAIL: &str = "sophie.wilson@example.com";
const LOCKOUT: &str = "deactivated in kafkaman, still assigned in Okta";
const REHIRE: &str = "assigned again in Okta (rehire): reactivating the same account";

/// The builtin org after its first (full) sync: Sophie (assigned directly) is a member.
async fn synced_builtin(settings: &[(&str, &str)]) -> Env {
    let env = Env::start(&generate::builtin(), settings).await;
    let first = env.sync().await;
    assert_eq!(first.summary.kind, Some(CycleKind::Full));
    assert!(env.member(SOPHIE_EMAIL).active);
    env
}

/// An admin deactivates the member by hand in kafkaman (an incident responder).
fn lock_out(env: &Env, email: &str) {
    env.world
        .kafkaman
        .update_member(
            email,
            MemberUpdate {
                active: Some(false),
                ..Default::default()
            },
        )
        .expect("the admin deactivates the member");
}

/// The System Log shows an Okta change after its delay.
async fn okta_change_visible() {
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// kafkaman writes to this member since `from` (an index into the write log).
fn writes_to(env: &Env, scim_id: &str, from: usize) -> Vec<String> {
    env.kafkaman_writes()[from..]
        .iter()
        .filter(|w| w.path.contains(scim_id))
        .map(|w| format!("{} {}", w.method, w.path))
        .collect()
}

/// The cycle's attention about `email`, if any.
fn attention_for<'a>(run: &'a CycleReport, email: &str) -> Vec<&'a scim_sync_plan::Attention> {
    run.plan
        .attention
        .iter()
        .filter(|a| a.user_name == email)
        .collect()
}

#[tokio::test]
async fn a_lockout_by_hand_survives_ten_cycles() {
    let env = synced_builtin(&[]).await;
    let scim_id = env.member(SOPHIE_EMAIL).id;
    lock_out(&env, SOPHIE_EMAIL);
    let writes = env.kafkaman_writes().len();

    for i in 0..10 {
        // Mostly incremental cycles (the default between full ones), two full ones.
        let full = i == 3 || i == 8;
        let run = env
            .cycle_with(CycleOptions {
                full,
                ..Default::default()
            })
            .await
            .expect("cycle runs");
        let kind = if full {
            CycleKind::Full
        } else {
            CycleKind::Incremental
        };
        assert_eq!(run.summary.kind, Some(kind), "cycle {i}");
        assert_eq!(
            run.result,
            RunResult::Success,
            "cycle {i}: {:?}",
            run.applied
        );
        assert!(
            !run.plan
                .operations
                .iter()
                .any(|o| o.scim_id() == Some(scim_id.as_str())),
            "cycle {i} plans a write to the locked-out member: {:#?}",
            run.plan.operations
        );
        if run.summary.quiet {
            // Nothing changed since the last plan, which said so: it stands.
            assert_eq!(run.summary.attention, 1, "cycle {i}: {:?}", run.summary);
            assert!(!env.member(SOPHIE_EMAIL).active, "cycle {i} re-enabled her");
            continue;
        }
        let about = attention_for(&run, SOPHIE_EMAIL);
        assert_eq!(about.len(), 1, "cycle {i}: {:#?}", run.plan.attention);
        assert_eq!(about[0].kind, AttentionKind::DeactivatedInKafkaman);
        assert_eq!(about[0].scim_id.as_deref(), Some(scim_id.as_str()));
        let reason = about[0].reason();
        assert!(reason.starts_with(LOCKOUT), "{reason}");
        assert!(!reason.contains("rehire"), "{reason}");
        assert!(!env.member(SOPHIE_EMAIL).active, "cycle {i} re-enabled her");
        // The run's record (history) says the same.
        let recorded = env.store.plan_items(run.run_id).unwrap();
        assert!(
            recorded
                .iter()
                .any(|p| p.category == PlanCategory::Attention
                    && p.user_name == SOPHIE_EMAIL
                    && p.reason.starts_with(LOCKOUT)),
            "{recorded:#?}"
        );
    }
    assert_eq!(writes_to(&env, &scim_id, writes), Vec::<String>::new());

    // The report and explain say why, and a dry run plans nothing for her.
    let now = chrono::Utc::now();
    let r = report::build(
        &env.config(),
        &env.store,
        &ReportOptions {
            since: report::parse_since("24h", now).unwrap(),
            refresh: false,
        },
        now,
    )
    .await
    .expect("report builds");
    assert!(
        r.attention
            .iter()
            .any(|p| p.user_name == SOPHIE_EMAIL && p.reason.starts_with(LOCKOUT)),
        "{:#?}",
        r.attention
    );
    let text = report::render(&r, Format::Text, false);
    assert!(text.contains(LOCKOUT), "{text}");
    let e = explain::explain(&env.config(), Some(&env.store), SOPHIE_EMAIL)
        .await
        .expect("explain");
    assert_eq!(e.decision.len(), 1, "{:#?}", e.decision);
    assert_eq!(e.decision[0].category, DecisionCategory::Attention);
    assert!(
        e.decision[0].reason.starts_with(LOCKOUT),
        "{:?}",
        e.decision
    );
    assert!(explain::text(&e).contains(LOCKOUT));
    assert!(env.dry_run().await.plan.operations.is_empty());
}

#[tokio::test]
async fn a_rehire_is_reactivated_with_the_rehire_reason() {
    let env = synced_builtin(&[]).await;
    let scim_id = env.member(SOPHIE_EMAIL).id;

    env.world.okta.unassign_user(b::SOPHIE).unwrap();
    okta_change_visible().await;
    let left = env.sync().await;
    assert_eq!(left.applied.count(OpKind::Deactivate, OpState::Done), 1);
    assert_eq!(
        left.plan.operations[0].reason(),
        "no longer assigned to the app in Okta"
    );
    assert!(!env.member(SOPHIE_EMAIL).active);
    // Deactivated by scim-sync: nothing to say while she is away.
    let away = env.sync().await;
    assert!(
        away.plan.operations.is_empty(),
        "{:?}",
        away.plan.operations
    );
    assert!(attention_for(&away, SOPHIE_EMAIL).is_empty());

    env.world.okta.assign_user(b::SOPHIE).unwrap();
    okta_change_visible().await;
    let back = env.sync().await;
    assert_eq!(back.summary.kind, Some(CycleKind::Incremental));
    let reactivations: Vec<_> = back
        .plan
        .operations
        .iter()
        .filter(|o| o.kind() == OpKind::Reactivate)
        .collect();
    assert_eq!(reactivations.len(), 1, "{:?}", back.plan.operations);
    assert_eq!(reactivations[0].scim_id(), Some(scim_id.as_str()));
    assert_eq!(reactivations[0].reason(), REHIRE);
    assert_eq!(back.applied.count(OpKind::Reactivate, OpState::Done), 1);
    assert!(env.member(SOPHIE_EMAIL).active);

    // Back and active: a later lockout by hand is hers to keep, not a second rehire.
    lock_out(&env, SOPHIE_EMAIL);
    let locked = env.sync().await;
    assert!(
        locked.plan.operations.is_empty(),
        "{:?}",
        locked.plan.operations
    );
    assert_eq!(
        attention_for(&locked, SOPHIE_EMAIL)[0].kind,
        AttentionKind::DeactivatedInKafkaman
    );
    assert!(!env.member(SOPHIE_EMAIL).active);
}

/// Suspended in Okta (still assigned) and unsuspended there: a rehire too, and the
/// same from a full read.
#[tokio::test]
async fn a_user_suspended_and_unsuspended_in_okta_is_a_rehire_in_full_cycles_too() {
    let env = synced_builtin(&[]).await;
    env.world.okta.suspend_user(b::SOPHIE).unwrap();
    okta_change_visible().await;
    let suspended = env.sync().await;
    assert_eq!(
        suspended.applied.count(OpKind::Deactivate, OpState::Done),
        1
    );
    assert!(!env.member(SOPHIE_EMAIL).active);
    env.world.okta.unsuspend_user(b::SOPHIE).unwrap();
    okta_change_visible().await;
    let full = env
        .cycle_with(CycleOptions {
            full: true,
            ..Default::default()
        })
        .await
        .expect("full cycle");
    assert_eq!(full.summary.kind, Some(CycleKind::Full));
    assert_eq!(full.applied.count(OpKind::Reactivate, OpState::Done), 1);
    let reactivate = full
        .plan
        .operations
        .iter()
        .find(|o| o.kind() == OpKind::Reactivate)
        .expect("a reactivation");
    assert_eq!(reactivate.reason(), REHIRE);
    assert!(env.member(SOPHIE_EMAIL).active);
}

/// Okta removes a user whose member is locked out: nothing to write. Assigned again, the
/// lockout still stands: scim-sync never deactivated that member, so it is no rehire.
#[tokio::test]
async fn an_okta_removal_of_a_locked_out_member_writes_nothing_and_the_lockout_stands() {
    let env = synced_builtin(&[]).await;
    let scim_id = env.member(SOPHIE_EMAIL).id;
    lock_out(&env, SOPHIE_EMAIL);
    let writes = env.kafkaman_writes().len();
    env.world.okta.unassign_user(b::SOPHIE).unwrap();
    okta_change_visible().await;
    let removed = env.sync().await;
    assert!(
        removed.plan.operations.is_empty(),
        "{:?}",
        removed.plan.operations
    );
    assert!(attention_for(&removed, SOPHIE_EMAIL).is_empty());

    env.world.okta.assign_user(b::SOPHIE).unwrap();
    okta_change_visible().await;
    let again = env.sync().await;
    assert!(
        again.plan.operations.is_empty(),
        "{:?}",
        again.plan.operations
    );
    assert_eq!(
        attention_for(&again, SOPHIE_EMAIL)[0].kind,
        AttentionKind::DeactivatedInKafkaman
    );
    assert!(!env.member(SOPHIE_EMAIL).active);
    assert_eq!(writes_to(&env, &scim_id, writes), Vec::<String>::new());
}

#[tokio::test]
async fn with_restore_hand_deactivated_a_lockout_is_undone_and_says_why() {
    let env = synced_builtin(&[("sync", "restore_hand_deactivated = true")]).await;
    lock_out(&env, SOPHIE_EMAIL);
    let run = env.sync().await;
    assert_eq!(run.summary.kind, Some(CycleKind::Incremental));
    assert_eq!(run.applied.count(OpKind::Reactivate, OpState::Done), 1);
    let reason = run.plan.operations[0].reason();
    assert!(
        reason.starts_with("deactivated in kafkaman by someone else"),
        "{reason}"
    );
    assert!(
        reason.ends_with("restored because sync.restore_hand_deactivated = true"),
        "{reason}"
    );
    assert!(!reason.contains("rehire"), "{reason}");
    assert!(env.member(SOPHIE_EMAIL).active);
}
