//! The deactivation cap: its rule as a table, and the holds that carry one plan into
//! the next.

use std::collections::HashSet;

use super::{assigned, linked, member, okta};
use crate::*;

/// `n` linked active members; the first `leavers` are no longer assigned in Okta.
fn team_with_leavers(n: usize, leavers: usize) -> (OktaView, TeamView) {
    let members: Vec<Member> = (0..n)
        .map(|i| {
            member(
                &format!("s{i}"),
                &format!("u{i}@x.com"),
                Some(&format!("00u{i}")),
                true,
            )
        })
        .collect();
    let okta = okta(
        (leavers..n)
            .map(|i| assigned(&format!("00u{i}"), &format!("u{i}@x.com"), "ACTIVE"))
            .collect(),
        vec![],
    );
    (okta, linked(members))
}

fn scim_ids(ops: &[Operation]) -> HashSet<String> {
    ops.iter()
        .filter_map(|o| o.scim_id().map(str::to_string))
        .collect()
}

/// `managed` linked members, the first `leavers` no longer assigned, under a policy of
/// (max_deactivations, max_deactivations_percent, min_deactivation_cap): the cap that
/// applies, and how many deactivations are applied and held.
#[test]
fn cap_rule_is_min_of_max_and_floor_or_percentage() {
    // The default policy: (10, 10 %, 3).
    let default = (10, 10.0, DEFAULT_MIN_DEACTIVATION_CAP);
    // (why, managed, leavers, policy, (cap, applied, held))
    for (why, managed, leavers, (max, percent, floor), expected) in [
        ("floor beats ceil(1.5) = 2", 15, 0, (10, 10.0, 3), (3, 0, 0)),
        ("ceil(4.5) beats the floor", 45, 0, (10, 10.0, 3), (5, 0, 0)),
        (
            "max_deactivations bounds both",
            500,
            0,
            (10, 10.0, 3),
            (10, 0, 0),
        ),
        ("...including the floor", 15, 0, (2, 10.0, 3), (2, 0, 0)),
        (
            "floor 0: the percentage alone",
            15,
            0,
            (10, 10.0, 0),
            (2, 0, 0),
        ),
        // cap_floor_lets_a_small_teams_ordinary_day_through: 15 members, 10 %:
        // ceil(1.5) = 2, but the floor of 3 applies.
        ("a small team's 2 leavers pass", 15, 2, default, (3, 2, 0)),
        ("a small team's 3 leavers pass", 15, 3, default, (3, 3, 0)),
        (
            "four is past the floor: all held",
            15,
            4,
            default,
            (3, 0, 4),
        ),
    ] {
        let (okta, team) = team_with_leavers(managed, leavers);
        let p = plan(
            &okta,
            &team,
            &Policy {
                max_deactivations: max,
                max_deactivations_percent: percent,
                min_deactivation_cap: floor,
                ..Default::default()
            },
        );
        let got = (
            p.deactivation_cap,
            p.count(OpKind::Deactivate),
            p.held.len(),
        );
        assert_eq!(got, expected, "{why}: {p:?}");
    }
}

#[test]
fn cap_holds_all_deactivations_until_released() {
    let (okta, team) = team_with_leavers(20, 20);
    let p = plan(
        &okta,
        &team,
        &Policy {
            max_deactivations: 3,
            ..Default::default()
        },
    );
    assert!(p.operations.is_empty());
    assert_eq!(p.held.len(), 20);
    // 10 % of 20 managed is 2, below the floor of 3; max_deactivations is 3.
    assert_eq!(p.deactivation_cap, 3);
    // Releasing what was reviewed applies exactly that; anything new stays held.
    let reviewed = scim_ids(&p.held[..19]);
    let released = plan(
        &okta,
        &team,
        &Policy {
            max_deactivations: 3,
            released: reviewed,
            ..Default::default()
        },
    );
    assert_eq!(released.count(OpKind::Deactivate), 19);
    assert_eq!(released.held.len(), 1);
}

#[test]
fn holds_are_sticky_until_released_or_no_longer_planned() {
    let (okta, team) = team_with_leavers(15, 2);
    let strict = Policy {
        max_deactivations: 1,
        ..Default::default()
    };
    let first = plan(&okta, &team, &strict);
    assert_eq!(first.held.len(), 2);
    let held = scim_ids(&first.held);

    // The cap grew since (here: the default floor); the hold stays.
    let sticky = Policy {
        previously_held: held.clone(),
        ..Default::default()
    };
    let second = plan(&okta, &team, &sticky);
    assert_eq!(second.deactivation_cap, 3);
    assert_eq!(second.held, first.held);
    assert_eq!(second.count(OpKind::Deactivate), 0);

    // A new leaver under the cap is applied; the old holds stay held.
    let (okta3, team3) = team_with_leavers(15, 3);
    let third = plan(&okta3, &team3, &sticky);
    assert_eq!(third.held.len(), 2);
    assert_eq!(third.count(OpKind::Deactivate), 1);

    // Released: applied.
    let released = plan(
        &okta,
        &team,
        &Policy {
            released: held.clone(),
            ..sticky.clone()
        },
    );
    assert!(released.held.is_empty());
    assert_eq!(released.count(OpKind::Deactivate), 2);

    // Re-assigned: no longer planned, so no longer held.
    let (okta_back, _) = team_with_leavers(15, 0);
    let back = plan(&okta_back, &team, &sticky);
    assert!(
        back.held.is_empty() && back.operations.is_empty(),
        "{back:?}"
    );
}
