//! Holds are sticky, and the deactivation cap fits small teams (issue 9): cycles against
//! the simulators.

use crate::common;

use common::Env;
use scim_sync::store::OpState;
use scim_sync::store::RunResult;
use scim_sync::sync::CycleOptions;
use scim_sync_plan::OpKind;
use scim_sync_sim::generate::{self, builtin_ids as b};

/// The old rule (no floor): the builtin org's first run holds its 2 deactivations
/// (cap ceil(10 % × 7) = 1), and its creates grow the base so that the second run's cap
/// would be 2.
const NO_FLOOR: &[(&str, &str)] = &[("safety", "min_deactivation_cap = 0")];

#[tokio::test]
async fn a_hold_holds_until_released() {
    let env = Env::start(&generate::builtin(), NO_FLOOR).await;
    let first = env.sync().await;
    assert_eq!(first.result, RunResult::Held);
    assert_eq!(first.plan.held.len(), 2, "{:?}", first.plan.held);

    // Nothing changed in Okta; the cap grew with run 1's creates, the hold stays.
    let second = env.sync().await;
    assert!(
        second.plan.deactivation_cap >= 2,
        "{}",
        second.plan.deactivation_cap
    );
    assert_eq!(second.result, RunResult::Held);
    assert_eq!(second.plan.held.len(), 2);
    assert_eq!(second.applied.count(OpKind::Deactivate, OpState::Done), 0);
    assert!(env.member(b::SUSPENDED_EMAIL).active);
    assert_eq!(env.store.held_deactivations().unwrap().len(), 2);
    // The dry run says the same.
    assert_eq!(env.dry_run().await.plan.held.len(), 2);

    // Only a human's release applies them.
    let released = env
        .cycle_with(CycleOptions {
            release: scim_sync::sync::Release::LastHeld,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(released.result, RunResult::Success);
    assert_eq!(released.applied.count(OpKind::Deactivate, OpState::Done), 2);
    assert!(!env.member(b::SUSPENDED_EMAIL).active);
    assert!(env.store.held_deactivations().unwrap().is_empty());
}

#[tokio::test]
async fn a_held_deactivation_that_is_no_longer_planned_leaves_the_held_set() {
    let env = Env::start(&generate::builtin(), NO_FLOOR).await;
    assert_eq!(env.sync().await.plan.held.len(), 2);
    let since = env.store.held_deactivations().unwrap();

    // John is unsuspended in Okta: entitled again, so no longer a deactivation.
    env.world.okta.unsuspend_user(b::SUSPENDED).unwrap();
    let next = env.sync().await;
    let held: Vec<&str> = next.plan.held.iter().map(|o| o.user_name()).collect();
    assert_eq!(held, vec![b::DEPROVISIONED_EMAIL]);
    let stored = env.store.held_deactivations().unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].user_name, b::DEPROVISIONED_EMAIL);
    // Still held since the first run that held it.
    let first = since
        .iter()
        .find(|h| h.user_name == b::DEPROVISIONED_EMAIL)
        .unwrap();
    assert_eq!(stored[0].held_since, first.held_since);
    assert!(env.member(b::DEPROVISIONED_EMAIL).active);
}

#[tokio::test]
async fn the_builtin_orgs_first_run_is_not_held_with_defaults() {
    let env = Env::start(&generate::builtin(), &[]).await;
    let first = env.sync().await;
    assert_eq!(first.result, RunResult::Success, "{:?}", first.plan.held);
    assert_eq!(first.plan.deactivation_cap, 3);
    assert_eq!(first.applied.count(OpKind::Deactivate, OpState::Done), 2);
}

#[tokio::test]
async fn three_leavers_on_a_small_team_are_not_held_with_defaults() {
    let env = Env::start(&generate::builtin(), &[]).await;
    env.sync().await;
    // Four direct assignments end on the same day; one of them keeps a group: three leavers.
    for user in [b::SOPHIE, b::GUIDO, b::OUTSIDE, b::ADMIN_INVITED] {
        env.world.okta.unassign_user(user).unwrap();
    }
    let day = env.sync().await;
    // ceil(10 % of the managed members) is 2 for this team: the floor of 3 applies.
    assert!(day.plan.managed <= 20, "{}", day.plan.managed);
    assert_eq!(day.plan.deactivation_cap, 3);
    assert_eq!(day.result, RunResult::Success, "{:?}", day.plan.held);
    assert_eq!(day.applied.count(OpKind::Deactivate, OpState::Done), 3);
}
