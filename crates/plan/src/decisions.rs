//! What to do about each person: every assigned user (create, clear invite, reactivate,
//! update the name, deactivate, or leave to a human), then every member no assignment
//! matched (deactivate ours, report the rest). Safety rules come after, in `safety`.

use std::collections::{HashMap, HashSet};

use super::email::{clean_user_name, email_key, is_email_address, same_email};
use super::matching::{Match, TeamIndex, shared_email_groups};
use super::model::{
    AssignedUser, AssignmentScope, Attention, AttentionKind, DeactivationReason, FeatureOff,
    Member, NewLink, OktaLookup, OktaUserStatus, OktaView, Operation, Policy, ReactivationReason,
    SharedEmail, SuspendedPolicy, TeamView, Unmanaged,
};

/// The userName an assigned user's member has or gets: the profile value, trimmed and
/// composed (NFC); None when missing or blank.
fn sent_user_name(u: &AssignedUser) -> Option<String> {
    u.user_name
        .as_deref()
        .map(clean_user_name)
        .filter(|s| !s.is_empty())
}

/// What the planner makes of one assigned user's statuses.
enum Entitlement {
    Entitled,
    /// Assigned but not entitled: a member of theirs is deactivated.
    Revoked(DeactivationReason),
    /// Assigned, not yet active in Okta: neither create nor deactivate.
    Waiting,
}

fn entitlement(u: &AssignedUser, policy: &Policy) -> Entitlement {
    if u.app_status.revoked() {
        return Entitlement::Revoked(DeactivationReason::AssignmentRevoked(u.app_status.clone()));
    }
    match &u.okta_status {
        s if s.entitles() => Entitlement::Entitled,
        OktaUserStatus::Suspended => match policy.suspended {
            SuspendedPolicy::Deactivate => Entitlement::Revoked(DeactivationReason::Suspended),
            SuspendedPolicy::Keep => Entitlement::Entitled,
        },
        OktaUserStatus::Deprovisioned => {
            Entitlement::Revoked(DeactivationReason::DeactivatedInOkta)
        }
        _ => Entitlement::Waiting,
    }
}

/// A deactivation the decisions call for, before the safety rules see it.
pub(super) struct Deactivation {
    pub op: Operation,
    pub why: DeactivationReason,
}

/// The decisions so far, by kind of write (they are applied in a fixed order).
#[derive(Default)]
pub(super) struct Decisions<'a> {
    pub attention: Vec<Attention>,
    pub new_links: Vec<NewLink>,
    pub unmanaged: Vec<Unmanaged>,
    pub in_sync: usize,
    /// Active members scim-sync manages (the base of the percentage cap).
    pub managed: usize,
    pub deactivations: Vec<Deactivation>,
    pub reactivations: Vec<Operation>,
    /// Creates, each preceded by the invite clearings it needs.
    pub creates: Vec<Operation>,
    pub updates: Vec<Operation>,
    pub shared_emails: Vec<SharedEmail>,
    /// Members an assigned user accounts for (theirs, or claimed by a conflict).
    matched: HashSet<&'a str>,
}

impl<'a> Decisions<'a> {
    /// Decides for every assigned user, in Okta id order. Users that share an email
    /// are decided together, where the first of them comes.
    pub fn assigned_users(&mut self, okta: &'a OktaView, index: &TeamIndex<'a>, policy: &Policy) {
        let mut assigned: Vec<&AssignedUser> = okta.assigned.iter().collect();
        assigned.sort_by(|a, b| a.okta_id.cmp(&b.okta_id));
        let mut sharing: HashMap<String, Vec<&AssignedUser>> = HashMap::new();
        for group in shared_email_groups(&okta.assigned) {
            if let Some(first) = group.first() {
                sharing.insert(first.okta_id.clone(), group);
            }
        }
        let in_a_group: HashSet<&str> = sharing
            .values()
            .flatten()
            .map(|u| u.okta_id.as_str())
            .collect();
        for u in assigned {
            if let Some(group) = sharing.remove(&u.okta_id) {
                self.shared_email(&group, index, policy);
            } else if !in_a_group.contains(u.okta_id.as_str()) {
                self.assigned_user(u, index, policy);
            }
        }
    }

    fn assigned_user(&mut self, u: &AssignedUser, index: &TeamIndex<'a>, policy: &Policy) {
        let Some(user_name) = sent_user_name(u) else {
            self.missing_user_name(u, index, AttentionKind::MissingUserName);
            return;
        };
        if !is_email_address(&user_name) {
            self.missing_user_name(u, index, AttentionKind::UserNameNotEmail { user_name });
            return;
        }
        let ent = entitlement(u, policy);
        let found = index.find(u, &user_name);
        match found.member {
            Some(member) => {
                self.matched.insert(member.scim_id.as_str());
                if found.via_link.is_none() {
                    self.new_links.push(NewLink {
                        okta_id: u.okta_id.clone(),
                        scim_id: member.scim_id.clone(),
                    });
                }
                self.member_of(u, &user_name, member, ent, index, policy);
            }
            None => match found.via_name {
                Some(other) => self.conflict(u, user_name, other),
                None => self.not_a_member(u, user_name, ent, index, policy),
            },
        }
    }

    /// Okta users sharing one email (in id order): kafkaman has one account for the
    /// address, so they share one member, decided once for all of them. It follows an
    /// entitled owner (the one it is linked to first), is kept while one is still
    /// waiting for activation, and goes only when every one of them is revoked. Only one
    /// create is ever planned, so the others' creates can't fail with 409 every cycle.
    fn shared_email(&mut self, group: &[&AssignedUser], index: &TeamIndex<'a>, policy: &Policy) {
        for u in group {
            if let Some(name) = sent_user_name(u).filter(|n| !is_email_address(n)) {
                self.missing_user_name(
                    u,
                    index,
                    AttentionKind::UserNameNotEmail { user_name: name },
                );
            }
        }
        let found: Vec<(&AssignedUser, String, Match<'a>)> = group
            .iter()
            .filter_map(|u| {
                let name = sent_user_name(u).filter(|n| is_email_address(n))?;
                let m = index.find(u, &name);
                Some((*u, name, m))
            })
            .collect();
        let mut members: Vec<&Member> = found.iter().filter_map(|(_, _, m)| m.member).collect();
        members.sort_by(|a, b| a.scim_id.cmp(&b.scim_id));
        members.dedup_by(|a, b| a.scim_id == b.scim_id);
        let okta_ids: Vec<String> = group.iter().map(|u| u.okta_id.clone()).collect();
        let user_name = found.first().map(|(_, n, _)| n.clone()).unwrap_or_default();
        let foreign = found
            .iter()
            .any(|(_, _, m)| m.member.is_none() && m.via_name.is_some());
        if members.len() > 1 || (members.is_empty() && foreign) {
            // Each already has an account of their own (from before), or the address
            // belongs to someone else's member: decided one by one, as ever.
            for (u, _, _) in &found {
                self.assigned_user(u, index, policy);
            }
            self.shared_emails.push(SharedEmail {
                user_name,
                okta_ids,
                owner: None,
                scim_id: None,
            });
            return;
        }
        let member = members.first().copied();
        let linked_to = |u: &AssignedUser| {
            member.is_some_and(|m| {
                index.linked_okta(m) == Some(u.okta_id.as_str())
                    || (index.linked_okta(m).is_none()
                        && m.external_id.as_deref() == Some(u.okta_id.as_str()))
            })
        };
        let decided: Vec<(&AssignedUser, &String, Entitlement)> = found
            .iter()
            .map(|(u, n, _)| (*u, n, entitlement(u, policy)))
            .collect();
        // The owner: entitled first, then waiting, then anyone; the current owner
        // (linked) before the others, then Okta id order.
        let rank = |e: &Entitlement| match e {
            Entitlement::Entitled => 0,
            Entitlement::Waiting => 1,
            Entitlement::Revoked(_) => 2,
        };
        let Some(owner_at) = (0..decided.len()).min_by_key(|&i| {
            let (u, _, e) = &decided[i];
            (rank(e), !linked_to(u), i)
        }) else {
            return;
        };
        let (owner, owner_name, _) = &decided[owner_at];
        let (owner, owner_name) = (*owner, (*owner_name).clone());
        let ent = entitlement(owner, policy);
        match member {
            Some(m) => {
                self.matched.insert(m.scim_id.as_str());
                if index.linked_okta(m) != Some(owner.okta_id.as_str()) {
                    self.new_links.push(NewLink {
                        okta_id: owner.okta_id.clone(),
                        scim_id: m.scim_id.clone(),
                    });
                }
                self.member_of(owner, &owner_name, m, ent, index, policy);
            }
            None => self.not_a_member(owner, owner_name.clone(), ent, index, policy),
        }
        self.shared_emails.push(SharedEmail {
            user_name: member.map(|m| m.user_name.clone()).unwrap_or(owner_name),
            okta_ids,
            owner: Some(owner.okta_id.clone()),
            scim_id: member.map(|m| m.scim_id.clone()),
        });
    }

    /// No userName to send (`why`): still assigned, so a member this user already has is
    /// theirs and stays as it is.
    fn missing_user_name(&mut self, u: &AssignedUser, index: &TeamIndex<'a>, why: AttentionKind) {
        let known = index.known_member(u);
        if let Some(m) = known {
            self.matched.insert(m.scim_id.as_str());
        }
        self.attention.push(Attention {
            okta_id: Some(u.okta_id.clone()),
            scim_id: known.map(|m| m.scim_id.clone()),
            user_name: known.map(|m| m.user_name.clone()).unwrap_or_default(),
            kind: why,
        });
    }

    /// Same email, but the member belongs to another Okta identity.
    fn conflict(&mut self, u: &AssignedUser, user_name: String, other: &'a Member) {
        self.matched.insert(other.scim_id.as_str());
        self.attention.push(Attention {
            okta_id: Some(u.okta_id.clone()),
            scim_id: Some(other.scim_id.clone()),
            user_name,
            kind: AttentionKind::Conflict {
                member_user_name: other.user_name.clone(),
                other_okta_id: other.external_id.clone(),
            },
        });
    }

    /// An assigned user with no member: created when entitled.
    fn not_a_member(
        &mut self,
        u: &AssignedUser,
        user_name: String,
        ent: Entitlement,
        index: &TeamIndex<'a>,
        policy: &Policy,
    ) {
        match ent {
            Entitlement::Entitled => self.create(u, user_name, index, policy),
            Entitlement::Waiting => self.attention.push(Attention {
                okta_id: Some(u.okta_id.clone()),
                scim_id: None,
                user_name,
                kind: AttentionKind::AwaitingActivation {
                    okta_status: u.okta_status.clone(),
                },
            }),
            Entitlement::Revoked(_) => {}
        }
    }

    /// A create, after clearing the invites that would make it fail.
    fn create(
        &mut self,
        u: &AssignedUser,
        user_name: String,
        index: &TeamIndex<'a>,
        policy: &Policy,
    ) {
        let attention = |kind| Attention {
            okta_id: Some(u.okta_id.clone()),
            scim_id: None,
            user_name: user_name.clone(),
            kind,
        };
        if !policy.create_users {
            self.attention.push(attention(AttentionKind::FeatureOff(
                FeatureOff::CreateUsers,
            )));
            return;
        }
        let conflicting = index.conflicting_invites(&user_name);
        if let Some(first) = conflicting.first()
            && !policy.clear_pending_invites
        {
            self.attention
                .push(attention(AttentionKind::InviteBlocksCreate {
                    source: first.source.clone(),
                }));
            return;
        }
        for inv in conflicting {
            self.creates.push(Operation::ClearInvite {
                invite_id: inv.id.clone(),
                okta_id: u.okta_id.clone(),
                user_name: user_name.clone(),
                reason: format!(
                    "pending {} invite{} would block the create",
                    inv.source,
                    inv.invited_by
                        .as_deref()
                        .map(|b| format!(" from {b}"))
                        .unwrap_or_default()
                ),
            });
        }
        self.creates.push(Operation::Create {
            okta_id: u.okta_id.clone(),
            user_name,
            given_name: u.given_name.clone(),
            family_name: u.family_name.clone(),
            reason: format!(
                "assigned to the app in Okta ({})",
                if u.scope == AssignmentScope::Group {
                    "through a group"
                } else {
                    "directly"
                }
            ),
        });
    }

    /// An assigned user with their member: reactivate, rename, update, deactivate, wait.
    fn member_of(
        &mut self,
        u: &AssignedUser,
        user_name: &str,
        member: &Member,
        ent: Entitlement,
        index: &TeamIndex<'a>,
        policy: &Policy,
    ) {
        let attention = |kind| Attention {
            okta_id: Some(u.okta_id.clone()),
            scim_id: Some(member.scim_id.clone()),
            user_name: member.user_name.clone(),
            kind,
        };
        match ent {
            Entitlement::Entitled if !member.active => {
                // A rehire only when scim-sync took the access away itself; a member
                // someone else deactivated (a lockout by hand, or before scim-sync
                // managed the team) stays so unless the policy restores it.
                let why = if index.deactivated_by_us(member) {
                    if !policy.reactivate_users {
                        self.attention.push(attention(AttentionKind::FeatureOff(
                            FeatureOff::ReactivateUsers,
                        )));
                        return;
                    }
                    ReactivationReason::Rehire
                } else if policy.restore_hand_deactivated {
                    ReactivationReason::RestoreHandDeactivated
                } else {
                    self.attention
                        .push(attention(AttentionKind::DeactivatedInKafkaman));
                    return;
                };
                self.reactivations.push(Operation::Reactivate {
                    scim_id: member.scim_id.clone(),
                    okta_id: u.okta_id.clone(),
                    user_name: member.user_name.clone(),
                    reason: why.to_string(),
                });
                // The name may have changed meanwhile: brought up to date in the same
                // cycle (updates are applied after reactivations).
                if names_differ(member, &u.given_name, &u.family_name) {
                    self.update_name(u, member, policy);
                }
            }
            Entitlement::Entitled => {
                let renamed = !same_email(&member.user_name, user_name);
                if renamed {
                    self.attention.push(attention(AttentionKind::EmailChanged {
                        okta_user_name: user_name.to_string(),
                        member_user_name: member.user_name.clone(),
                    }));
                }
                if !names_differ(member, &u.given_name, &u.family_name) {
                    if !renamed {
                        self.in_sync += 1;
                    }
                } else {
                    self.update_name(u, member, policy);
                }
            }
            Entitlement::Revoked(why) if member.active => {
                self.deactivations
                    .push(deactivation(member, Some(&u.okta_id), why));
            }
            Entitlement::Revoked(_) => self.in_sync += 1,
            Entitlement::Waiting => {
                self.attention
                    .push(attention(AttentionKind::AwaitingActivation {
                        okta_status: u.okta_status.clone(),
                    }))
            }
        }
    }

    /// The member's name made Okta's (or, with `sync.update_attributes` off, a person told).
    fn update_name(&mut self, u: &AssignedUser, member: &Member, policy: &Policy) {
        if !policy.update_attributes {
            self.attention.push(Attention {
                okta_id: Some(u.okta_id.clone()),
                scim_id: Some(member.scim_id.clone()),
                user_name: member.user_name.clone(),
                kind: AttentionKind::FeatureOff(FeatureOff::UpdateAttributes),
            });
            return;
        }
        self.updates.push(Operation::UpdateName {
            scim_id: member.scim_id.clone(),
            okta_id: u.okta_id.clone(),
            user_name: member.user_name.clone(),
            given_name: u.given_name.clone(),
            family_name: u.family_name.clone(),
            reason: format!(
                "name in Okta is \"{} {}\", in kafkaman \"{} {}\"",
                u.given_name.as_deref().unwrap_or(""),
                u.family_name.as_deref().unwrap_or(""),
                member.given_name.as_deref().unwrap_or(""),
                member.family_name.as_deref().unwrap_or("")
            ),
        });
    }

    /// Members no assignment matched: ours are deactivated, the rest reported. Also
    /// counts the managed members (every member, matched or not).
    pub fn unmatched_members(
        &mut self,
        okta: &OktaView,
        team: &'a TeamView,
        index: &TeamIndex<'a>,
    ) {
        let mut members: Vec<&Member> = team.members.iter().collect();
        // Cached: one key per member, not one per comparison.
        members.sort_by_cached_key(|m| email_key(&m.user_name));
        for m in members {
            let linked_okta = index.linked_okta(m);
            let okta_id = linked_okta.or(m.external_id.as_deref());
            let lookup = okta_id.and_then(|id| okta.lookups.get(id));
            let matched = self.matched.contains(m.scim_id.as_str());
            // Managed: linked by an earlier cycle, or carrying an externalId that is a
            // user of this org (the lookup says so). A failed lookup proves nothing.
            let managed = linked_okta.is_some()
                || matches!(lookup, Some(OktaLookup::Found { .. }))
                || matched;
            // The percentage cap's base: members scim-sync manages that still have
            // access (past leavers would otherwise loosen it).
            if managed && m.active {
                self.managed += 1;
            }
            if matched {
                continue;
            }
            if !managed {
                self.not_managed(m, okta_id, lookup);
                continue;
            }
            if !m.active {
                continue;
            }
            let why = match lookup {
                Some(OktaLookup::Found {
                    status: OktaUserStatus::Deprovisioned,
                }) => DeactivationReason::DeactivatedInOkta,
                Some(OktaLookup::NotFound) => DeactivationReason::DeletedFromOkta,
                _ => DeactivationReason::NoLongerAssigned,
            };
            self.deactivations.push(deactivation(m, okta_id, why));
        }
    }

    /// A member that isn't ours is reported, unless its lookup failed: then it is left
    /// alone this cycle and a human is told why.
    fn not_managed(&mut self, m: &Member, okta_id: Option<&str>, lookup: Option<&OktaLookup>) {
        if let (Some(id), Some(OktaLookup::Failed { reason })) = (okta_id, lookup) {
            self.attention.push(Attention {
                okta_id: Some(id.to_string()),
                scim_id: Some(m.scim_id.clone()),
                user_name: m.user_name.clone(),
                kind: AttentionKind::LookupFailed {
                    error: reason.clone(),
                },
            });
        } else {
            self.unmanaged.push(Unmanaged {
                scim_id: m.scim_id.clone(),
                user_name: m.user_name.clone(),
                membership: m.membership.clone(),
                external_id: m.external_id.clone(),
            });
        }
    }
}

fn names_differ(member: &Member, given: &Option<String>, family: &Option<String>) -> bool {
    let norm = |s: &Option<String>| s.as_deref().unwrap_or("").to_string();
    norm(&member.given_name) != norm(given) || norm(&member.family_name) != norm(family)
}

fn deactivation(m: &Member, okta_id: Option<&str>, why: DeactivationReason) -> Deactivation {
    Deactivation {
        op: Operation::Deactivate {
            scim_id: m.scim_id.clone(),
            okta_id: okta_id.map(str::to_string),
            user_name: m.user_name.clone(),
            reason: why.to_string(),
        },
        why,
    }
}
