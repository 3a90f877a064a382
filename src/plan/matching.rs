//! Who is who: an Okta user's member is found by the link an earlier cycle recorded,
//! then by `externalId`, then by `userName` (case-insensitive) — and a `userName` match
//! is only adopted when the member isn't someone else's.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::model::{AssignedUser, InviteSource, Member, PendingInvite, TeamView};

/// The team, indexed for matching.
pub(super) struct TeamIndex<'a> {
    team: &'a TeamView,
    by_scim: HashMap<&'a str, &'a Member>,
    by_external: HashMap<&'a str, &'a Member>,
    by_user_name: HashMap<String, &'a Member>,
    /// SCIM id -> the Okta id an earlier cycle linked it to.
    linked_okta_for_scim: HashMap<&'a str, &'a str>,
    invites_by_email: BTreeMap<String, Vec<&'a PendingInvite>>,
}

/// How an assigned user's member was found.
pub(super) struct Match<'a> {
    /// The member the stored link points at.
    pub via_link: Option<&'a Member>,
    /// The member with the same userName, whoever it belongs to.
    pub via_name: Option<&'a Member>,
    /// The member that is this user's (link, then externalId, then an unclaimed userName).
    pub member: Option<&'a Member>,
}

impl<'a> TeamIndex<'a> {
    pub fn new(team: &'a TeamView) -> TeamIndex<'a> {
        let by_scim = team
            .members
            .iter()
            .map(|m| (m.scim_id.as_str(), m))
            .collect();
        let mut by_external: HashMap<&str, &Member> = HashMap::new();
        for m in &team.members {
            if let Some(x) = m.external_id.as_deref() {
                by_external.entry(x).or_insert(m);
            }
        }
        let by_user_name = team
            .members
            .iter()
            .map(|m| (m.user_name.to_lowercase(), m))
            .collect();
        let mut invites_by_email: BTreeMap<String, Vec<&PendingInvite>> = BTreeMap::new();
        for inv in &team.invites {
            invites_by_email
                .entry(inv.email.to_lowercase())
                .or_default()
                .push(inv);
        }
        TeamIndex {
            team,
            by_scim,
            by_external,
            by_user_name,
            linked_okta_for_scim: linked_okta_for_scim(team),
            invites_by_email,
        }
    }

    /// The member the stored link or the externalId names (no userName match): what an
    /// assigned user without a userName value still owns.
    pub fn known_member(&self, u: &AssignedUser) -> Option<&'a Member> {
        self.via_link(u).or_else(|| self.via_external(u))
    }

    fn via_link(&self, u: &AssignedUser) -> Option<&'a Member> {
        self.team
            .links
            .get(&u.okta_id)
            .and_then(|scim| self.by_scim.get(scim.as_str()).copied())
    }

    fn via_external(&self, u: &AssignedUser) -> Option<&'a Member> {
        self.by_external.get(u.okta_id.as_str()).copied()
    }

    /// Matches an assigned user whose userName is `user_name`.
    pub fn find(&self, u: &AssignedUser, user_name: &str) -> Match<'a> {
        let via_link = self.via_link(u);
        let via_external = self.via_external(u);
        let via_name = self.by_user_name.get(&user_name.to_lowercase()).copied();
        let member = via_link.or(via_external).or_else(|| {
            via_name.filter(|m| {
                let owner = self.linked_okta(m);
                let foreign_link = owner.is_some_and(|o| o != u.okta_id);
                let foreign_ext = m.external_id.as_deref().is_some_and(|x| x != u.okta_id);
                !(foreign_link || foreign_ext)
            })
        });
        Match {
            via_link,
            via_name,
            member,
        }
    }

    /// The Okta id an earlier cycle linked this member to.
    pub fn linked_okta(&self, m: &Member) -> Option<&'a str> {
        self.linked_okta_for_scim.get(m.scim_id.as_str()).copied()
    }

    /// Pending invites for this email not created by SCIM: they make a create fail.
    pub fn conflicting_invites(&self, email: &str) -> Vec<&'a PendingInvite> {
        self.invites_by_email
            .get(&email.to_lowercase())
            .map(|v| {
                v.iter()
                    .filter(|i| i.source != InviteSource::Scim)
                    .copied()
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn linked_okta_for_scim(team: &TeamView) -> HashMap<&str, &str> {
    team.links
        .iter()
        .map(|(okta, scim)| (scim.as_str(), okta.as_str()))
        .collect()
}

/// The Okta ids the caller must look up before planning: active members that refer to
/// an Okta user (by link or externalId) who is not in the assignment list. For a member
/// with only an externalId the lookup decides whether it is ours at all (a user of this
/// org); for a linked one it only tells why it goes (deactivated, deleted, unassigned).
/// In a steady state no member qualifies, so a quiet cycle makes no lookup.
pub fn ids_to_look_up(assigned: &[AssignedUser], team: &TeamView) -> Vec<String> {
    let assigned_ids: HashSet<&str> = assigned.iter().map(|u| u.okta_id.as_str()).collect();
    let linked_okta_for_scim = linked_okta_for_scim(team);
    let mut ids: Vec<String> = team
        .members
        .iter()
        .filter(|m| m.active)
        .filter_map(|m| {
            linked_okta_for_scim
                .get(m.scim_id.as_str())
                .copied()
                .or(m.external_id.as_deref())
        })
        .filter(|id| !assigned_ids.contains(id))
        .map(str::to_string)
        .collect();
    ids.sort();
    ids.dedup();
    ids
}
