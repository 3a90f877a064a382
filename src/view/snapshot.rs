//! The state database's picture of both sides, as the planner takes it, and that picture
//! with rows re-read since put in their place (an incremental cycle's re-reads, or the
//! live records of the one person `explain` is about).

use std::collections::{HashMap, HashSet};

use scim_sync_plan::{
    self as plan, AssignedUser, Member, OktaLookup, OktaView, PendingInvite, TeamView,
};

use crate::store::{Store, StoreError};

/// The snapshot: Okta's assignments as last read (in Okta id order) and the team
/// (members, pending invites, links), in the store's order.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub assigned: Vec<AssignedUser>,
    pub team: TeamView,
}

impl Snapshot {
    /// Loads the snapshot. Every store error is an error.
    pub fn load(store: &Store) -> Result<Snapshot, StoreError> {
        Ok(Snapshot {
            // The store returns them in Okta id order ([`Snapshot::put_okta_user`]).
            assigned: store.okta_users()?,
            team: TeamView {
                members: store.members()?,
                invites: store.invites()?,
                links: store.links()?,
                deactivated_by_us: store.our_deactivations()?,
            },
        })
    }

    /// Puts Okta's answer for one user in place: `Some` (assigned, as re-read) replaces
    /// or adds the row, `None` (not assigned) removes it. Returns whether a row was
    /// removed.
    pub fn put_okta_user(&mut self, okta_id: &str, now: Option<AssignedUser>) -> bool {
        let at = self
            .assigned
            .binary_search_by(|u| u.okta_id.as_str().cmp(okta_id));
        match (at, now) {
            (Ok(i), Some(u)) => {
                self.assigned[i] = u;
                false
            }
            (Err(i), Some(u)) => {
                self.assigned.insert(i, u);
                false
            }
            (Ok(i), None) => {
                self.assigned.remove(i);
                true
            }
            (Err(_), None) => false,
        }
    }

    /// Puts re-read members in place of the snapshot's rows of the same SCIM id (each
    /// comes once); new ones are added.
    pub fn put_members(&mut self, changed: &[Member]) {
        if changed.is_empty() {
            // A quiet cycle changes nothing and rebuilds nothing.
            return;
        }
        let replaced: HashSet<&str> = changed.iter().map(|m| m.scim_id.as_str()).collect();
        self.team
            .members
            .retain(|m| !replaced.contains(m.scim_id.as_str()));
        self.team.members.extend(changed.iter().cloned());
    }

    /// Puts the re-read pending invites of one email in place of the snapshot's.
    pub fn put_invites_for(&mut self, email: &str, now: &[PendingInvite]) {
        put_invites_for(&mut self.team.invites, email, now);
    }

    /// The lookups the planner needs, as the last real cycle concluded them (so that a
    /// plan from the snapshot matches the last real one without an API call); an id it
    /// didn't look up proves nothing.
    pub fn stored_lookups(&self, store: &Store) -> Result<HashMap<String, OktaLookup>, StoreError> {
        stored_lookups(store, &self.assigned, &self.team)
    }

    /// The planner's two inputs, with these lookups.
    pub fn into_views(self, lookups: HashMap<String, OktaLookup>) -> (OktaView, TeamView) {
        (
            OktaView {
                assigned: self.assigned,
                lookups,
            },
            self.team,
        )
    }
}

/// The lookups a plan of these people needs, as stored: an id the last real cycle didn't
/// look up is a failed lookup (it proves nothing). One indexed read per id.
pub fn stored_lookups(
    store: &Store,
    assigned: &[AssignedUser],
    team: &TeamView,
) -> Result<HashMap<String, OktaLookup>, StoreError> {
    let ids = plan::ids_to_look_up(assigned, team);
    let mut stored = store.lookups_of(ids.iter().map(String::as_str))?;
    Ok(ids
        .into_iter()
        .map(|id| {
            let lookup = stored.remove(&id).unwrap_or_else(|| OktaLookup::Failed {
                reason: "not looked up yet (the last cycle did not reach it)".into(),
            });
            (id, lookup)
        })
        .collect())
}

/// Puts the re-read pending invites of one email in place of those `invites` had for it
/// (the same mailbox: `plan::email_key`).
pub fn put_invites_for(invites: &mut Vec<PendingInvite>, email: &str, now: &[PendingInvite]) {
    let key = plan::email_key(email);
    invites.retain(|i| plan::email_key(&i.email) != key);
    invites.extend(now.iter().cloned());
}
