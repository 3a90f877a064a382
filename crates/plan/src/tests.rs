//! The planner's rules, one scenario each. Most scenarios are rows of a table ([`Case`]):
//! the inputs, and what the plan must hold (its operations, held deactivations and
//! attention, exactly), checked by [`check`]. The deactivation cap and its holds are in
//! `cap`.

mod cap;

use super::*;

// ---- Inputs ----

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

fn invite(id: &str, email: &str, source: &str) -> PendingInvite {
    PendingInvite {
        id: id.into(),
        email: email.into(),
        source: source.into(),
        invited_by: None,
        created_at: String::new(),
    }
}

/// Okta's assignments, and the lookups of unassigned ids members refer to.
fn okta(assigned: Vec<AssignedUser>, lookups: Vec<(&str, OktaLookup)>) -> OktaView {
    OktaView {
        assigned,
        lookups: lookups
            .into_iter()
            .map(|(id, l)| (id.to_string(), l))
            .collect(),
    }
}

fn found(status: &str) -> OktaLookup {
    OktaLookup::Found {
        status: status.into(),
    }
}

/// A team no earlier cycle has linked.
fn team(members: Vec<Member>) -> TeamView {
    TeamView {
        members,
        ..Default::default()
    }
}

/// A team whose members an earlier cycle linked to the Okta users in their externalIds.
fn linked(members: Vec<Member>) -> TeamView {
    let links = members
        .iter()
        .map(|m| (m.external_id.clone().unwrap_or_default(), m.scim_id.clone()))
        .collect();
    TeamView {
        members,
        links,
        ..Default::default()
    }
}

/// `team`, where scim-sync itself deactivated the members `scim_ids` (the store's record).
fn deactivated_by_us(team: TeamView, scim_ids: &[&str]) -> TeamView {
    TeamView {
        deactivated_by_us: scim_ids.iter().map(|s| s.to_string()).collect(),
        ..team
    }
}

fn invited(invites: Vec<PendingInvite>) -> TeamView {
    TeamView {
        invites,
        ..Default::default()
    }
}

/// The default policy, with a percentage that never caps.
fn no_percentage_cap() -> Policy {
    Policy {
        max_deactivations_percent: 100.0,
        ..Default::default()
    }
}

// ---- The table ----

/// One scenario: inputs, and the plan's operations, held deactivations and attention,
/// each compared exactly (a list left out expects none); `also` checks the rest.
struct Case {
    name: &'static str,
    okta: OktaView,
    team: TeamView,
    policy: Policy,
    /// Planned writes in application order: (kind, userName).
    ops: &'static [(OpKind, &'static str)],
    /// Deactivations the cap holds: (kind, userName).
    held: &'static [(OpKind, &'static str)],
    /// Left to a human, in order: (userName, why).
    attention: Vec<(&'static str, AttentionKind)>,
    /// The case's own further checks.
    also: fn(&Plan),
}

impl Default for Case {
    fn default() -> Self {
        Case {
            name: "",
            okta: OktaView::default(),
            team: TeamView::default(),
            policy: Policy::default(),
            ops: &[],
            held: &[],
            attention: vec![],
            also: |_| {},
        }
    }
}

fn summary(ops: &[Operation]) -> Vec<(OpKind, &str)> {
    ops.iter().map(|o| (o.kind(), o.user_name())).collect()
}

/// Plans the case's inputs and compares the plan with what the case expects.
fn check(case: &Case) {
    let p = plan(&case.okta, &case.team, &case.policy);
    let name = case.name;
    assert_eq!(
        summary(&p.operations),
        case.ops,
        "{name}: operations\n{p:#?}"
    );
    assert_eq!(summary(&p.held), case.held, "{name}: held\n{p:#?}");
    let attention: Vec<(&str, &AttentionKind)> = p
        .attention
        .iter()
        .map(|a| (a.user_name.as_str(), &a.kind))
        .collect();
    let expected: Vec<(&str, &AttentionKind)> =
        case.attention.iter().map(|(u, k)| (*u, k)).collect();
    assert_eq!(attention, expected, "{name}: attention\n{p:#?}");
    (case.also)(&p);
}

fn check_all(cases: Vec<Case>) {
    for case in &cases {
        check(case);
    }
}

#[test]
fn who_is_who() {
    use AttentionKind::*;
    check_all(vec![
        Case {
            name: "case_only_email_difference_is_the_same_person",
            okta: okta(vec![assigned("00u1", "Ada@X.com", "ACTIVE")], vec![]),
            team: team(vec![member("s1", "ada@x.com", None, true)]),
            also: |p| {
                assert_eq!(p.in_sync, 1);
                assert_eq!(
                    p.new_links,
                    vec![NewLink {
                        okta_id: "00u1".into(),
                        scim_id: "s1".into()
                    }]
                );
            },
            ..Default::default()
        },
        Case {
            name: "unicode_case_nfd_and_spaces_are_the_same_person",
            okta: okta(
                vec![
                    assigned("00u1", " \u{c9}LODIE@x.com ", "ACTIVE"),
                    assigned("00u2", "jose\u{301}@x.com", "ACTIVE"),
                ],
                vec![],
            ),
            team: team(vec![
                member("s1", "\u{e9}lodie@x.com", Some("00u1"), true),
                member("s2", "jos\u{e9}@x.com", Some("00u2"), true),
            ]),
            also: |p| assert_eq!(p.in_sync, 2),
            ..Default::default()
        },
        Case {
            name: "rename_is_attention_not_action",
            okta: okta(vec![assigned("00u1", "ada.new@x.com", "ACTIVE")], vec![]),
            team: team(vec![member("s1", "ada@x.com", Some("00u1"), true)]),
            attention: vec![(
                "ada@x.com",
                EmailChanged {
                    okta_user_name: "ada.new@x.com".into(),
                    member_user_name: "ada@x.com".into(),
                },
            )],
            also: |p| assert!(p.attention[0].reason().contains("immutable")),
            ..Default::default()
        },
        Case {
            name: "foreign_member_with_same_email_is_not_adopted",
            okta: okta(vec![assigned("00u1", "a@x.com", "ACTIVE")], vec![]),
            team: team(vec![member("s1", "a@x.com", Some("00u9"), true)]),
            attention: vec![(
                "a@x.com",
                Conflict {
                    member_user_name: "a@x.com".into(),
                    other_okta_id: Some("00u9".into()),
                },
            )],
            ..Default::default()
        },
        Case {
            name: "assigned_user_without_user_name_keeps_their_member",
            okta: okta(
                vec![AssignedUser {
                    user_name: Some("  ".into()),
                    ..assigned("00u1", "", "ACTIVE")
                }],
                vec![],
            ),
            team: linked(vec![member("s1", "a@x.com", Some("00u1"), true)]),
            policy: no_percentage_cap(),
            attention: vec![("a@x.com", MissingUserName)],
            also: |p| assert!(p.unmanaged.is_empty()),
            ..Default::default()
        },
        Case {
            // An app username format like `jdoe`: never sent, never created; a member
            // the user already has stays theirs.
            name: "a_user_name_that_is_not_an_email_is_never_sent",
            okta: okta(
                vec![
                    AssignedUser {
                        user_name: Some("jdoe".into()),
                        ..assigned("00u1", "", "ACTIVE")
                    },
                    AssignedUser {
                        user_name: Some("asmith".into()),
                        ..assigned("00u2", "", "ACTIVE")
                    },
                ],
                vec![],
            ),
            team: linked(vec![member("s1", "a@x.com", Some("00u1"), true)]),
            policy: no_percentage_cap(),
            attention: vec![
                (
                    "a@x.com",
                    UserNameNotEmail {
                        user_name: "jdoe".into(),
                    },
                ),
                (
                    "",
                    UserNameNotEmail {
                        user_name: "asmith".into(),
                    },
                ),
            ],
            also: |p| assert!(p.unmanaged.is_empty() && p.operations.is_empty()),
            ..Default::default()
        },
    ]);
}

#[test]
fn access_follows_okta() {
    use AttentionKind::*;
    use OpKind::*;
    let suspended = okta(
        vec![
            assigned("00u1", "a@x.com", "SUSPENDED"),
            assigned("00u2", "boss@x.com", "SUSPENDED"),
        ],
        vec![],
    );
    let suspended_team = team(vec![
        member("s1", "a@x.com", Some("00u1"), true),
        member("s2", "boss@x.com", Some("00u2"), true),
    ]);
    let protect_boss = Policy {
        protected: vec!["BOSS@x.com".into()],
        ..no_percentage_cap()
    };
    check_all(vec![
        Case {
            name: "creates_assigned_non_members_and_clears_only_non_scim_invites",
            okta: okta(vec![assigned("00u1", "a@x.com", "ACTIVE")], vec![]),
            team: invited(vec![
                invite("i1", "A@x.com", "admin"),
                invite("i2", "a@x.com", "scim"),
                invite("i3", "b@x.com", "link"),
            ]),
            ops: &[(ClearInvite, "a@x.com"), (Create, "a@x.com")],
            also: |p| assert_eq!(p.operations[0].invite_id(), Some("i1")),
            ..Default::default()
        },
        Case {
            name: "locked_out_and_password_expired_users_keep_access",
            okta: okta(
                vec![
                    assigned("00u1", "a@x.com", "LOCKED_OUT"),
                    assigned("00u2", "b@x.com", "PASSWORD_EXPIRED"),
                    assigned("00u3", "c@x.com", "RECOVERY"),
                ],
                vec![],
            ),
            team: team(vec![member("s1", "a@x.com", Some("00u1"), true)]),
            ops: &[(Create, "b@x.com"), (Create, "c@x.com")],
            also: |p| assert_eq!(p.in_sync, 1),
            ..Default::default()
        },
        Case {
            name: "rehire_reactivates_never_creates",
            okta: okta(vec![assigned("00u1", "a@x.com", "ACTIVE")], vec![]),
            team: deactivated_by_us(
                team(vec![member("s1", "a@x.com", Some("00u1"), false)]),
                &["s1"],
            ),
            ops: &[(Reactivate, "a@x.com")],
            also: |p| {
                assert_eq!(
                    p.operations[0].reason(),
                    "assigned again in Okta (rehire): reactivating the same account"
                )
            },
            ..Default::default()
        },
        Case {
            name: "a_rehire_whose_name_changed_is_reactivated_and_renamed_in_one_cycle",
            okta: okta(
                vec![AssignedUser {
                    family_name: Some("King".into()),
                    ..assigned("00u1", "ada@x.com", "ACTIVE")
                }],
                vec![],
            ),
            team: deactivated_by_us(
                linked(vec![member("s1", "ada@x.com", Some("00u1"), false)]),
                &["s1"],
            ),
            ops: &[(Reactivate, "ada@x.com"), (UpdateName, "ada@x.com")],
            also: |p| assert_eq!(p.operations[1].name().1, Some("King")),
            ..Default::default()
        },
        Case {
            name: "unassigned_managed_member_is_deactivated_unmanaged_is_not",
            okta: okta(
                vec![],
                vec![
                    ("00u1", found("DEPROVISIONED")),
                    ("other-idp-7", OktaLookup::NotFound),
                ],
            ),
            team: team(vec![
                member("s1", "ada@x.com", Some("00u1"), true),
                member("s2", "bob@x.com", None, true),
                member("s3", "carl@x.com", Some("other-idp-7"), true),
            ]),
            policy: Policy {
                max_deactivations: 5,
                ..no_percentage_cap()
            },
            ops: &[(Deactivate, "ada@x.com")],
            also: |p| {
                assert_eq!(p.operations[0].reason(), "deactivated in Okta");
                assert_eq!(p.unmanaged.len(), 2);
            },
            ..Default::default()
        },
        Case {
            name: "failed_lookup_never_deactivates",
            okta: okta(
                vec![],
                vec![(
                    "00u1",
                    OktaLookup::Failed {
                        reason: "503".into(),
                    },
                )],
            ),
            team: team(vec![member("s1", "ada@x.com", Some("00u1"), true)]),
            attention: vec![(
                "ada@x.com",
                LookupFailed {
                    error: "503".into(),
                },
            )],
            ..Default::default()
        },
        Case {
            name: "suspended_follows_policy_and_protected_is_kept (deactivate)",
            okta: suspended.clone(),
            team: suspended_team.clone(),
            policy: protect_boss.clone(),
            ops: &[(Deactivate, "a@x.com")],
            attention: vec![("boss@x.com", Protected(DeactivationReason::Suspended))],
            ..Default::default()
        },
        Case {
            name: "suspended_follows_policy_and_protected_is_kept (keep)",
            okta: suspended,
            team: suspended_team,
            policy: Policy {
                suspended: SuspendedPolicy::Keep,
                ..protect_boss
            },
            ..Default::default()
        },
        Case {
            name: "protected_emails_compare_as_one_mailbox",
            okta: okta(
                vec![assigned("00u1", "ADMIN@x.com", "DEPROVISIONED")],
                vec![],
            ),
            team: team(vec![member("s1", "admin@x.com", Some("00u1"), true)]),
            policy: Policy {
                protected: vec![" Admin@X.com".into()],
                ..Default::default()
            },
            attention: vec![(
                "admin@x.com",
                Protected(DeactivationReason::DeactivatedInOkta),
            )],
            ..Default::default()
        },
        Case {
            name: "order_is_deactivate_reactivate_create_update",
            okta: okta(
                vec![
                    assigned("00u1", "new@x.com", "ACTIVE"),
                    assigned("00u2", "back@x.com", "ACTIVE"),
                    AssignedUser {
                        given_name: Some("Grace".into()),
                        ..assigned("00u3", "ren@x.com", "ACTIVE")
                    },
                ],
                vec![("00u4", found("ACTIVE"))],
            ),
            team: deactivated_by_us(
                team(vec![
                    member("s2", "back@x.com", Some("00u2"), false),
                    member("s3", "ren@x.com", Some("00u3"), true),
                    member("s4", "gone@x.com", Some("00u4"), true),
                ]),
                &["s2"],
            ),
            policy: no_percentage_cap(),
            ops: &[
                (Deactivate, "gone@x.com"),
                (Reactivate, "back@x.com"),
                (Create, "new@x.com"),
                (UpdateName, "ren@x.com"),
            ],
            ..Default::default()
        },
    ]);
}

/// A member deactivated by someone other than scim-sync (an admin's lockout in
/// kafkaman, or before scim-sync managed the team) while its Okta user stays entitled:
/// no rehire, so it stays deactivated unless `sync.restore_hand_deactivated` is on.
#[test]
fn a_lockout_by_hand_stands() {
    use AttentionKind::*;
    use OpKind::*;
    let ada = || okta(vec![assigned("00u1", "ada@x.com", "ACTIVE")], vec![]);
    let locked_out = || linked(vec![member("s1", "ada@x.com", Some("00u1"), false)]);
    let restore = || Policy {
        restore_hand_deactivated: true,
        ..Default::default()
    };
    check_all(vec![
        Case {
            name: "a_member_deactivated_by_hand_needs_attention_by_default",
            okta: ada(),
            team: locked_out(),
            attention: vec![("ada@x.com", DeactivatedInKafkaman)],
            also: |p| {
                let why = p.attention[0].reason();
                assert!(
                    why.starts_with("deactivated in kafkaman, still assigned in Okta"),
                    "{why}"
                );
                assert!(!why.contains("rehire"), "{why}");
                assert_eq!(p.in_sync, 0);
            },
            ..Default::default()
        },
        Case {
            // The first sync (adoption): an inactive member of an assigned user, and no
            // record of scim-sync deactivating it.
            name: "an_inactive_member_at_the_first_sync_needs_attention",
            okta: ada(),
            team: team(vec![member("s1", "ada@x.com", Some("00u1"), false)]),
            attention: vec![("ada@x.com", DeactivatedInKafkaman)],
            also: |p| assert_eq!(p.new_links.len(), 1),
            ..Default::default()
        },
        Case {
            name: "a_member_deactivated_by_hand_is_restored_when_the_setting_says_so",
            okta: okta(
                vec![AssignedUser {
                    family_name: Some("King".into()),
                    ..assigned("00u1", "ada@x.com", "ACTIVE")
                }],
                vec![],
            ),
            team: locked_out(),
            policy: restore(),
            ops: &[(Reactivate, "ada@x.com"), (UpdateName, "ada@x.com")],
            also: |p| {
                let why = p.operations[0].reason();
                assert!(
                    why.starts_with("deactivated in kafkaman by someone else"),
                    "{why}"
                );
                assert!(
                    why.ends_with("restored because sync.restore_hand_deactivated = true"),
                    "{why}"
                );
                assert!(!why.contains("rehire"), "{why}");
            },
            ..Default::default()
        },
        Case {
            // The switch of rehires is not the one of lockouts: neither reason is false.
            name: "with_reactivations_off_a_lockout_by_hand_is_still_a_lockout",
            okta: okta(
                vec![
                    assigned("00u1", "ada@x.com", "ACTIVE"),
                    assigned("00u2", "bob@x.com", "ACTIVE"),
                ],
                vec![],
            ),
            team: deactivated_by_us(
                linked(vec![
                    member("s1", "ada@x.com", Some("00u1"), false),
                    member("s2", "bob@x.com", Some("00u2"), false),
                ]),
                &["s2"],
            ),
            policy: Policy {
                reactivate_users: false,
                ..Default::default()
            },
            attention: vec![
                ("ada@x.com", DeactivatedInKafkaman),
                ("bob@x.com", FeatureOff(super::FeatureOff::ReactivateUsers)),
            ],
            ..Default::default()
        },
        Case {
            // A rehire and a lockout in one team: only the rehire comes back.
            name: "a_rehire_is_reactivated_next_to_a_lockout_that_is_not",
            okta: okta(
                vec![
                    assigned("00u1", "ada@x.com", "ACTIVE"),
                    assigned("00u2", "bob@x.com", "ACTIVE"),
                ],
                vec![],
            ),
            team: deactivated_by_us(
                linked(vec![
                    member("s1", "ada@x.com", Some("00u1"), false),
                    member("s2", "bob@x.com", Some("00u2"), false),
                ]),
                &["s2"],
            ),
            ops: &[(Reactivate, "bob@x.com")],
            attention: vec![("ada@x.com", DeactivatedInKafkaman)],
            ..Default::default()
        },
        Case {
            // Okta removes a user whose member is already locked out: nothing to write,
            // nothing to say.
            name: "a_locked_out_member_whose_user_is_unassigned_needs_nothing",
            okta: okta(vec![], vec![]),
            team: locked_out(),
            also: |p| assert!(p.unmanaged.is_empty() && p.new_links.is_empty()),
            ..Default::default()
        },
        Case {
            name: "a_locked_out_member_whose_user_is_suspended_needs_nothing",
            okta: okta(vec![assigned("00u1", "ada@x.com", "SUSPENDED")], vec![]),
            team: locked_out(),
            also: |p| assert_eq!(p.in_sync, 1),
            ..Default::default()
        },
    ]);
}

#[test]
fn switches_turn_actions_into_attention() {
    check_all(vec![
        Case {
            name: "switches_turn_actions_into_attention (create_users)",
            okta: okta(vec![assigned("00u1", "new@x.com", "ACTIVE")], vec![]),
            policy: Policy {
                create_users: false,
                ..Default::default()
            },
            attention: vec![(
                "new@x.com",
                AttentionKind::FeatureOff(FeatureOff::CreateUsers),
            )],
            also: |p| assert!(p.attention[0].reason().contains("create_users")),
            ..Default::default()
        },
        Case {
            // A source kafkaman added later blocks a create like any non-SCIM invite.
            name: "invite_blocks_the_create_when_clearing_is_off",
            okta: okta(vec![assigned("00u1", "a@x.com", "ACTIVE")], vec![]),
            team: invited(vec![invite("i1", "a@x.com", "sso-request")]),
            policy: Policy {
                clear_pending_invites: false,
                ..Default::default()
            },
            attention: vec![(
                "a@x.com",
                AttentionKind::InviteBlocksCreate {
                    source: InviteSource::Unknown("sso-request".into()),
                },
            )],
            also: |p| {
                assert_eq!(
                    p.attention[0].reason(),
                    "a pending sso-request invite blocks the create; \
                     sync.clear_pending_invites is off: remove it in kafkaman"
                )
            },
            ..Default::default()
        },
    ]);
}

#[test]
fn users_sharing_an_email() {
    check_all(vec![
        Case {
            name: "users_sharing_an_email_get_one_create",
            okta: okta(
                vec![
                    assigned("00u2", "Dup@x.com", "ACTIVE"),
                    assigned("00u1", "dup@x.com", "STAGED"),
                ],
                vec![],
            ),
            ops: &[(OpKind::Create, "Dup@x.com")],
            also: |p| {
                // The entitled one owns it, though the other comes first in id order.
                assert_eq!(p.operations[0].okta_id(), Some("00u2"));
                assert_eq!(p.shared_emails.len(), 1);
                assert_eq!(p.shared_emails[0].okta_ids, ["00u1", "00u2"]);
                assert_eq!(p.shared_emails[0].owner.as_deref(), Some("00u2"));
            },
            ..Default::default()
        },
        Case {
            name: "a_shared_member_is_kept_while_one_owner_awaits_activation",
            okta: okta(
                vec![
                    assigned("00u1", "dup@x.com", "SUSPENDED"),
                    assigned("00u2", "Dup@x.com", "STAGED"),
                ],
                vec![],
            ),
            team: linked(vec![member("s1", "dup@x.com", Some("00u1"), true)]),
            attention: vec![(
                "dup@x.com",
                AttentionKind::AwaitingActivation {
                    okta_status: OktaUserStatus::Staged,
                },
            )],
            also: |p| assert_eq!(p.shared_emails[0].owner.as_deref(), Some("00u2")),
            ..Default::default()
        },
        Case {
            // Two accounts from before (NFC and NFD spellings created twice): neither is
            // deactivated; the collision is named.
            name: "users_with_accounts_of_their_own_keep_them_when_their_emails_collide",
            okta: okta(
                vec![
                    assigned("00u1", "jos\u{e9}@x.com", "ACTIVE"),
                    assigned("00u2", "jose\u{301}@x.com", "ACTIVE"),
                ],
                vec![],
            ),
            team: linked(vec![
                member("s1", "jos\u{e9}@x.com", Some("00u1"), true),
                member("s2", "jose\u{301}@x.com", Some("00u2"), true),
            ]),
            also: |p| {
                assert_eq!(p.shared_emails.len(), 1);
                assert_eq!(p.shared_emails[0].owner, None);
            },
            ..Default::default()
        },
    ]);
}
