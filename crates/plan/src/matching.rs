//! Who is who: an Okta user's member is found by the link an earlier cycle recorded,
//! then by `externalId`, then by `userName` (compared by [`email_key`]: trimmed, Unicode
//! lowercase, NFC) — and a `userName` match is only adopted when the member isn't
//! someone else's.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::email::email_key;
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
    /// Okta ids in this cycle's assignment list.
    assigned: HashSet<&'a str>,
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
    pub fn new(team: &'a TeamView, assigned: &'a [AssignedUser]) -> TeamIndex<'a> {
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
            .map(|m| (email_key(&m.user_name), m))
            .collect();
        let mut invites_by_email: BTreeMap<String, Vec<&PendingInvite>> = BTreeMap::new();
        for inv in &team.invites {
            invites_by_email
                .entry(email_key(&inv.email))
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
            assigned: assigned.iter().map(|u| u.okta_id.as_str()).collect(),
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
        let via_name = self.by_user_name.get(&email_key(user_name)).copied();
        // A userName match is adopted unless the member is someone else's: linked to
        // another Okta user who is still assigned (that user decides about it), or,
        // never linked, carrying another user's externalId. A member linked to someone
        // no longer assigned follows the user who has the address now (a rehire under a
        // new Okta account, or the remaining one of users sharing an email).
        let member = via_link.or(via_external).or_else(|| {
            via_name.filter(|m| {
                let foreign = match self.linked_okta(m) {
                    Some(owner) => owner != u.okta_id && self.assigned.contains(owner),
                    None => m.external_id.as_deref().is_some_and(|x| x != u.okta_id),
                };
                !foreign
            })
        });
        Match {
            via_link,
            via_name,
            member,
        }
    }

    /// Whether scim-sync itself deactivated this member (and has not seen it active
    /// since), as earlier cycles recorded.
    pub fn deactivated_by_us(&self, m: &Member) -> bool {
        self.team.deactivated_by_us.contains(&m.scim_id)
    }

    /// The Okta id an earlier cycle linked this member to.
    pub fn linked_okta(&self, m: &Member) -> Option<&'a str> {
        self.linked_okta_for_scim.get(m.scim_id.as_str()).copied()
    }

    /// Pending invites for this email not created by SCIM: they make a create fail.
    pub fn conflicting_invites(&self, email: &str) -> Vec<&'a PendingInvite> {
        self.invites_by_email
            .get(&email_key(email))
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

/// Assigned users whose emails (userName values) name one mailbox, two or more to a
/// group; groups and their users in Okta id order. Users without a userName are in none.
pub fn shared_email_groups(assigned: &[AssignedUser]) -> Vec<Vec<&AssignedUser>> {
    let mut by_key: BTreeMap<String, Vec<&AssignedUser>> = BTreeMap::new();
    for u in assigned {
        if let Some(name) = u.user_name.as_deref().filter(|n| !n.trim().is_empty()) {
            by_key.entry(email_key(name)).or_default().push(u);
        }
    }
    let mut groups: Vec<Vec<&AssignedUser>> = by_key
        .into_values()
        .filter(|g| g.len() > 1)
        .map(|mut g| {
            g.sort_by(|a, b| a.okta_id.cmp(&b.okta_id));
            g
        })
        .collect();
    groups.sort_by(|a, b| a[0].okta_id.cmp(&b[0].okta_id));
    groups
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
