//! The planner's rules, one scenario each.

use std::collections::{HashMap, HashSet};

use super::*;

fn assigned(id: &str, email: &str, status: &str) -> AssignedUser {
    AssignedUser {
        okta_id: id.into(),
        okta_status: status.into(),
        app_status: "ACTIVE".into(),
        scope: "USER".into(),
        user_name: Some(email.into()),
        given_name: Some("Ada".into()),
        family_name: Some("Lovelace".into()),
    }
}

fn member(scim: &str, email: &str, ext: Option<&str>, active: bool) -> Member {
    Member {
        scim_id: scim.into(),
        user_name: email.into(),
        given_name: Some("Ada".into()),
        family_name: Some("Lovelace".into()),
        external_id: ext.map(str::to_string),
        active,
        membership: if active { "active" } else { "deactivated" }.into(),
        role: Some("developer".into()),
    }
}

fn kinds(p: &Plan) -> Vec<OpKind> {
    p.operations.iter().map(|o| o.kind()).collect()
}

#[test]
fn creates_assigned_non_members_and_clears_only_non_scim_invites() {
    let okta = OktaView {
        assigned: vec![assigned("00u1", "a@x.com", "ACTIVE")],
        ..Default::default()
    };
    let team = TeamView {
        invites: vec![
            PendingInvite {
                id: "i1".into(),
                email: "A@x.com".into(),
                source: "admin".into(),
                invited_by: None,
                created_at: String::new(),
            },
            PendingInvite {
                id: "i2".into(),
                email: "a@x.com".into(),
                source: "scim".into(),
                invited_by: None,
                created_at: String::new(),
            },
            PendingInvite {
                id: "i3".into(),
                email: "b@x.com".into(),
                source: "link".into(),
                invited_by: None,
                created_at: String::new(),
            },
        ],
        ..Default::default()
    };
    let p = plan(&okta, &team, &Policy::default());
    assert_eq!(kinds(&p), vec![OpKind::ClearInvite, OpKind::Create]);
    assert_eq!(p.operations[0].invite_id(), Some("i1"));
}

#[test]
fn case_only_email_difference_is_the_same_person() {
    let okta = OktaView {
        assigned: vec![assigned("00u1", "Ada@X.com", "ACTIVE")],
        ..Default::default()
    };
    let team = TeamView {
        members: vec![member("s1", "ada@x.com", None, true)],
        ..Default::default()
    };
    let p = plan(&okta, &team, &Policy::default());
    assert!(p.operations.is_empty(), "{p:?}");
    assert!(p.attention.is_empty(), "{p:?}");
    assert_eq!(p.in_sync, 1);
    assert_eq!(
        p.new_links,
        vec![NewLink {
            okta_id: "00u1".into(),
            scim_id: "s1".into()
        }]
    );
}

#[test]
fn rename_is_attention_not_action() {
    let okta = OktaView {
        assigned: vec![assigned("00u1", "ada.new@x.com", "ACTIVE")],
        ..Default::default()
    };
    let team = TeamView {
        members: vec![member("s1", "ada@x.com", Some("00u1"), true)],
        ..Default::default()
    };
    let p = plan(&okta, &team, &Policy::default());
    assert!(p.operations.is_empty());
    assert_eq!(p.attention.len(), 1);
    assert!(p.attention[0].reason().contains("immutable"));
    assert_eq!(
        p.attention[0].kind,
        AttentionKind::EmailChanged {
            okta_user_name: "ada.new@x.com".into(),
            member_user_name: "ada@x.com".into(),
        }
    );
}

#[test]
fn unassigned_managed_member_is_deactivated_unmanaged_is_not() {
    let okta = OktaView {
        assigned: vec![],
        lookups: HashMap::from([
            (
                "00u1".to_string(),
                OktaLookup::Found {
                    status: "DEPROVISIONED".into(),
                },
            ),
            ("other-idp-7".to_string(), OktaLookup::NotFound),
        ]),
    };
    let team = TeamView {
        members: vec![
            member("s1", "ada@x.com", Some("00u1"), true),
            member("s2", "bob@x.com", None, true),
            member("s3", "carl@x.com", Some("other-idp-7"), true),
        ],
        ..Default::default()
    };
    let p = plan(
        &okta,
        &team,
        &Policy {
            max_deactivations: 5,
            max_deactivations_percent: 100.0,
            ..Default::default()
        },
    );
    assert_eq!(kinds(&p), vec![OpKind::Deactivate]);
    assert_eq!(p.operations[0].reason(), "deactivated in Okta");
    assert_eq!(p.unmanaged.len(), 2);
}

#[test]
fn failed_lookup_never_deactivates() {
    let okta = OktaView {
        assigned: vec![],
        lookups: HashMap::from([(
            "00u1".to_string(),
            OktaLookup::Failed {
                reason: "503".into(),
            },
        )]),
    };
    let team = TeamView {
        members: vec![member("s1", "ada@x.com", Some("00u1"), true)],
        ..Default::default()
    };
    let p = plan(&okta, &team, &Policy::default());
    assert!(p.operations.is_empty() && p.held.is_empty());
    assert_eq!(p.attention.len(), 1);
}

#[test]
fn suspended_follows_policy_and_protected_is_kept() {
    let okta = OktaView {
        assigned: vec![
            assigned("00u1", "a@x.com", "SUSPENDED"),
            assigned("00u2", "boss@x.com", "SUSPENDED"),
        ],
        ..Default::default()
    };
    let team = TeamView {
        members: vec![
            member("s1", "a@x.com", Some("00u1"), true),
            member("s2", "boss@x.com", Some("00u2"), true),
        ],
        ..Default::default()
    };
    let policy = Policy {
        protected: vec!["BOSS@x.com".into()],
        max_deactivations_percent: 100.0,
        ..Default::default()
    };
    let p = plan(&okta, &team, &policy);
    assert_eq!(kinds(&p), vec![OpKind::Deactivate]);
    assert_eq!(p.operations[0].user_name(), "a@x.com");
    assert!(p.attention.iter().any(|a| a.user_name == "boss@x.com"));
    let keep = plan(
        &okta,
        &team,
        &Policy {
            suspended: SuspendedPolicy::Keep,
            ..policy
        },
    );
    assert!(keep.operations.is_empty());
}

#[test]
fn assigned_user_without_user_name_keeps_their_member() {
    let okta = OktaView {
        assigned: vec![AssignedUser {
            user_name: Some("  ".into()),
            ..assigned("00u1", "", "ACTIVE")
        }],
        ..Default::default()
    };
    let team = TeamView {
        members: vec![member("s1", "a@x.com", Some("00u1"), true)],
        links: HashMap::from([("00u1".to_string(), "s1".to_string())]),
        ..Default::default()
    };
    let p = plan(
        &okta,
        &team,
        &Policy {
            max_deactivations_percent: 100.0,
            ..Default::default()
        },
    );
    assert!(p.operations.is_empty() && p.held.is_empty(), "{p:?}");
    assert_eq!(p.attention.len(), 1);
    assert_eq!(p.attention[0].user_name, "a@x.com");
    assert!(p.unmanaged.is_empty());
}

#[test]
fn rehire_reactivates_never_creates() {
    let okta = OktaView {
        assigned: vec![assigned("00u1", "a@x.com", "ACTIVE")],
        ..Default::default()
    };
    let team = TeamView {
        members: vec![member("s1", "a@x.com", Some("00u1"), false)],
        ..Default::default()
    };
    let p = plan(&okta, &team, &Policy::default());
    assert_eq!(kinds(&p), vec![OpKind::Reactivate]);
}

#[test]
fn cap_holds_all_deactivations_until_released() {
    let members: Vec<Member> = (0..20)
        .map(|i| {
            member(
                &format!("s{i}"),
                &format!("u{i}@x.com"),
                Some(&format!("00u{i}")),
                true,
            )
        })
        .collect();
    let links = members
        .iter()
        .map(|m| (m.external_id.clone().unwrap_or_default(), m.scim_id.clone()))
        .collect();
    let team = TeamView {
        members,
        invites: vec![],
        links,
    };
    let okta = OktaView::default();
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
    let reviewed: HashSet<String> = p
        .held
        .iter()
        .take(19)
        .filter_map(|o| o.scim_id().map(str::to_string))
        .collect();
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
fn order_is_deactivate_reactivate_create_update() {
    let okta = OktaView {
        assigned: vec![
            assigned("00u1", "new@x.com", "ACTIVE"),
            assigned("00u2", "back@x.com", "ACTIVE"),
            AssignedUser {
                given_name: Some("Grace".into()),
                ..assigned("00u3", "ren@x.com", "ACTIVE")
            },
        ],
        lookups: HashMap::from([(
            "00u4".to_string(),
            OktaLookup::Found {
                status: "ACTIVE".into(),
            },
        )]),
    };
    let team = TeamView {
        members: vec![
            member("s2", "back@x.com", Some("00u2"), false),
            member("s3", "ren@x.com", Some("00u3"), true),
            member("s4", "gone@x.com", Some("00u4"), true),
        ],
        ..Default::default()
    };
    let p = plan(
        &okta,
        &team,
        &Policy {
            max_deactivations_percent: 100.0,
            ..Default::default()
        },
    );
    assert_eq!(
        kinds(&p),
        vec![
            OpKind::Deactivate,
            OpKind::Reactivate,
            OpKind::Create,
            OpKind::UpdateName
        ]
    );
}

#[test]
fn switches_turn_actions_into_attention() {
    let okta = OktaView {
        assigned: vec![assigned("00u1", "new@x.com", "ACTIVE")],
        ..Default::default()
    };
    let p = plan(
        &okta,
        &TeamView::default(),
        &Policy {
            create_users: false,
            ..Default::default()
        },
    );
    assert!(p.operations.is_empty());
    assert!(p.attention[0].reason().contains("create_users"));
}

#[test]
fn foreign_member_with_same_email_is_not_adopted() {
    let okta = OktaView {
        assigned: vec![assigned("00u1", "a@x.com", "ACTIVE")],
        ..Default::default()
    };
    let team = TeamView {
        members: vec![member("s1", "a@x.com", Some("00u9"), true)],
        ..Default::default()
    };
    let p = plan(&okta, &team, &Policy::default());
    assert!(p.operations.is_empty(), "{p:?}");
    assert_eq!(p.attention.len(), 1);
}

#[test]
fn invite_blocks_the_create_when_clearing_is_off() {
    let okta = OktaView {
        assigned: vec![assigned("00u1", "a@x.com", "ACTIVE")],
        ..Default::default()
    };
    let team = TeamView {
        invites: vec![PendingInvite {
            id: "i1".into(),
            email: "a@x.com".into(),
            source: "sso-request".into(),
            invited_by: None,
            created_at: String::new(),
        }],
        ..Default::default()
    };
    let p = plan(
        &okta,
        &team,
        &Policy {
            clear_pending_invites: false,
            ..Default::default()
        },
    );
    assert!(p.operations.is_empty(), "{p:?}");
    // A source kafkaman added later blocks a create like any non-SCIM invite.
    assert_eq!(
        p.attention[0].kind,
        AttentionKind::InviteBlocksCreate {
            source: InviteSource::Unknown("sso-request".into())
        }
    );
    assert_eq!(
        p.attention[0].reason(),
        "a pending sso-request invite blocks the create; sync.clear_pending_invites is off: \
         remove it in kafkaman"
    );
}

#[test]
fn locked_out_and_password_expired_users_keep_access() {
    let okta = OktaView {
        assigned: vec![
            assigned("00u1", "a@x.com", "LOCKED_OUT"),
            assigned("00u2", "b@x.com", "PASSWORD_EXPIRED"),
            assigned("00u3", "c@x.com", "RECOVERY"),
        ],
        ..Default::default()
    };
    let team = TeamView {
        members: vec![member("s1", "a@x.com", Some("00u1"), true)],
        ..Default::default()
    };
    let p = plan(&okta, &team, &Policy::default());
    assert_eq!(kinds(&p), vec![OpKind::Create, OpKind::Create], "{p:?}");
    assert_eq!(p.in_sync, 1);
}

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
    let links = members
        .iter()
        .map(|m| (m.external_id.clone().unwrap_or_default(), m.scim_id.clone()))
        .collect();
    let okta = OktaView {
        assigned: (leavers..n)
            .map(|i| assigned(&format!("00u{i}"), &format!("u{i}@x.com"), "ACTIVE"))
            .collect(),
        ..Default::default()
    };
    (
        okta,
        TeamView {
            members,
            invites: vec![],
            links,
        },
    )
}

#[test]
fn cap_floor_lets_a_small_teams_ordinary_day_through() {
    // 15 members, 10 %: ceil(1.5) = 2, but the floor of 3 applies.
    for leavers in [2, 3] {
        let (okta, team) = team_with_leavers(15, leavers);
        let p = plan(&okta, &team, &Policy::default());
        assert_eq!(p.deactivation_cap, 3);
        assert!(p.held.is_empty(), "{leavers} leavers: {p:?}");
        assert_eq!(p.count(OpKind::Deactivate), leavers);
    }
    // Four is past the floor: all held.
    let (okta, team) = team_with_leavers(15, 4);
    let p = plan(&okta, &team, &Policy::default());
    assert_eq!((p.held.len(), p.count(OpKind::Deactivate)), (4, 0));
}

#[test]
fn cap_rule_is_min_of_max_and_floor_or_percentage() {
    let cap = |max, pct, floor, managed| {
        let (okta, team) = team_with_leavers(managed, 0);
        let p = plan(
            &okta,
            &team,
            &Policy {
                max_deactivations: max,
                max_deactivations_percent: pct,
                min_deactivation_cap: floor,
                ..Default::default()
            },
        );
        p.deactivation_cap
    };
    assert_eq!(cap(10, 10.0, 3, 15), 3); // floor beats ceil(1.5) = 2
    assert_eq!(cap(10, 10.0, 3, 45), 5); // ceil(4.5) beats the floor
    assert_eq!(cap(10, 10.0, 3, 500), 10); // max_deactivations bounds both
    assert_eq!(cap(2, 10.0, 3, 15), 2); // ...including the floor
    assert_eq!(cap(10, 10.0, 0, 15), 2); // floor 0: the percentage alone
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
    let held: HashSet<String> = first
        .held
        .iter()
        .filter_map(|o| o.scim_id().map(str::to_string))
        .collect();

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

#[test]
fn unicode_case_nfd_and_spaces_are_the_same_person() {
    let okta = OktaView {
        assigned: vec![
            assigned("00u1", " \u{c9}LODIE@x.com ", "ACTIVE"),
            assigned("00u2", "jose\u{301}@x.com", "ACTIVE"),
        ],
        ..Default::default()
    };
    let team = TeamView {
        members: vec![
            member("s1", "\u{e9}lodie@x.com", Some("00u1"), true),
            member("s2", "jos\u{e9}@x.com", Some("00u2"), true),
        ],
        ..Default::default()
    };
    let p = plan(&okta, &team, &Policy::default());
    assert!(p.operations.is_empty(), "{p:?}");
    assert!(p.attention.is_empty(), "{p:?}");
    assert_eq!(p.in_sync, 2);
}

#[test]
fn protected_emails_compare_as_one_mailbox() {
    let okta = OktaView {
        assigned: vec![assigned("00u1", "ADMIN@x.com", "DEPROVISIONED")],
        ..Default::default()
    };
    let team = TeamView {
        members: vec![member("s1", "admin@x.com", Some("00u1"), true)],
        ..Default::default()
    };
    let policy = Policy {
        protected: vec![" Admin@X.com".into()],
        ..Default::default()
    };
    let p = plan(&okta, &team, &policy);
    assert!(p.operations.is_empty(), "{p:?}");
    assert!(
        matches!(p.attention[0].kind, AttentionKind::Protected(_)),
        "{p:?}"
    );
}

#[test]
fn users_sharing_an_email_get_one_create() {
    let okta = OktaView {
        assigned: vec![
            assigned("00u2", "Dup@x.com", "ACTIVE"),
            assigned("00u1", "dup@x.com", "STAGED"),
        ],
        ..Default::default()
    };
    let p = plan(&okta, &TeamView::default(), &Policy::default());
    assert_eq!(kinds(&p), vec![OpKind::Create]);
    // The entitled one owns it, though the other comes first in id order.
    assert_eq!(p.operations[0].okta_id(), Some("00u2"));
    assert_eq!(p.shared_emails.len(), 1);
    assert_eq!(p.shared_emails[0].okta_ids, ["00u1", "00u2"]);
    assert_eq!(p.shared_emails[0].owner.as_deref(), Some("00u2"));
}

#[test]
fn a_shared_member_is_kept_while_one_owner_awaits_activation() {
    let okta = OktaView {
        assigned: vec![
            assigned("00u1", "dup@x.com", "SUSPENDED"),
            assigned("00u2", "Dup@x.com", "STAGED"),
        ],
        ..Default::default()
    };
    let team = TeamView {
        members: vec![member("s1", "dup@x.com", Some("00u1"), true)],
        links: HashMap::from([("00u1".to_string(), "s1".to_string())]),
        ..Default::default()
    };
    let p = plan(&okta, &team, &Policy::default());
    assert!(p.operations.is_empty(), "{p:?}");
    assert!(p.held.is_empty());
    assert!(
        matches!(
            p.attention[0].kind,
            AttentionKind::AwaitingActivation { .. }
        ),
        "{p:?}"
    );
    assert_eq!(p.shared_emails[0].owner.as_deref(), Some("00u2"));
}

#[test]
fn users_with_accounts_of_their_own_keep_them_when_their_emails_collide() {
    // Two accounts from before (NFC and NFD spellings created twice): neither is
    // deactivated; the collision is named.
    let okta = OktaView {
        assigned: vec![
            assigned("00u1", "jos\u{e9}@x.com", "ACTIVE"),
            assigned("00u2", "jose\u{301}@x.com", "ACTIVE"),
        ],
        ..Default::default()
    };
    let team = TeamView {
        members: vec![
            member("s1", "jos\u{e9}@x.com", Some("00u1"), true),
            member("s2", "jose\u{301}@x.com", Some("00u2"), true),
        ],
        links: HashMap::from([
            ("00u1".to_string(), "s1".to_string()),
            ("00u2".to_string(), "s2".to_string()),
        ]),
        ..Default::default()
    };
    let p = plan(&okta, &team, &Policy::default());
    assert!(p.operations.is_empty(), "{p:?}");
    assert_eq!(p.shared_emails.len(), 1);
    assert_eq!(p.shared_emails[0].owner, None);
}

#[test]
fn a_rehire_whose_name_changed_is_reactivated_and_renamed_in_one_cycle() {
    let mut rehired = assigned("00u1", "ada@x.com", "ACTIVE");
    rehired.family_name = Some("King".into());
    let okta = OktaView {
        assigned: vec![rehired],
        ..Default::default()
    };
    let team = TeamView {
        members: vec![member("s1", "ada@x.com", Some("00u1"), false)],
        links: HashMap::from([("00u1".to_string(), "s1".to_string())]),
        ..Default::default()
    };
    let p = plan(&okta, &team, &Policy::default());
    assert_eq!(kinds(&p), vec![OpKind::Reactivate, OpKind::UpdateName]);
    assert_eq!(p.operations[1].name().1, Some("King"));
}
