//! What a sync is expected to make of a scenario, for tests and for sizing teams.

use std::collections::{HashMap, HashSet};

use super::{MemberSpec, Scenario};
use scim_sync_plan::OktaUserStatus;

/// An entitled user's status, by the planner's one definition
/// ([`OktaUserStatus::entitles`]).
pub fn is_entitled_status(status: &str) -> bool {
    OktaUserStatus::from(status).entitles()
}

/// Okta user statuses the planner waits on: an assigned user in one of them (e.g.
/// `STAGED`) is neither created nor deactivated. Everything that is neither entitled nor
/// `SUSPENDED` / `DEPROVISIONED` (which revoke).
fn is_waiting_status(status: &str) -> bool {
    let status = OktaUserStatus::from(status);
    !status.entitles()
        && !matches!(
            status,
            OktaUserStatus::Suspended | OktaUserStatus::Deprovisioned
        )
}

/// Okta users by id, login and lower-cased login, as the scenario refers to them.
struct UserIndex<'a> {
    by_ref: HashMap<&'a str, usize>,
    by_email: HashMap<String, usize>,
}

impl<'a> UserIndex<'a> {
    fn new(scenario: &'a Scenario) -> Self {
        let users = &scenario.okta.users;
        let mut by_ref: HashMap<&str, usize> = HashMap::with_capacity(users.len() * 2);
        let mut by_email: HashMap<String, usize> = HashMap::with_capacity(users.len());
        for (i, u) in users.iter().enumerate() {
            by_ref.insert(u.login.as_str(), i);
            if let Some(id) = &u.id {
                by_ref.insert(id.as_str(), i);
            }
            by_email.insert(u.login.to_lowercase(), i);
        }
        UserIndex { by_ref, by_email }
    }

    /// A user by id, login or login in another case.
    fn find(&self, r: &str) -> Option<usize> {
        self.by_ref
            .get(r)
            .copied()
            .or_else(|| self.by_email.get(&r.to_lowercase()).copied())
    }

    /// Per user (index into `okta.users`): assigned to the app directly or through an
    /// assigned group (by name or id).
    fn assigned(&self, scenario: &Scenario) -> Vec<bool> {
        let okta = &scenario.okta;
        let mut assigned = vec![false; okta.users.len()];
        for r in &okta.assignments.users {
            if let Some(i) = self.find(r) {
                assigned[i] = true;
            }
        }
        let assigned_groups: HashSet<&str> =
            okta.assignments.groups.iter().map(String::as_str).collect();
        for g in &okta.groups {
            let is_assigned = assigned_groups.contains(g.name.as_str())
                || g.id
                    .as_deref()
                    .is_some_and(|id| assigned_groups.contains(id));
            if is_assigned {
                for m in &g.members {
                    if let Some(i) = self.find(m) {
                        assigned[i] = true;
                    }
                }
            }
        }
        assigned
    }
}

/// Makes the kafkaman team what a sync of `scenario` would leave it with, so that a
/// cycle plans nothing, which is also what Okta's own provisioning (push) leaves: one
/// active member per entitled assigned user (userName = the app username, the app
/// profile's names, externalId = the Okta id), the unmanaged members without an externalId
/// kept, no other members, no pending invites, no accounts outside the team, and seats to
/// spare (twice the members). For benchmarks of large orgs, whose first sync would take
/// hours against kafkaman's rate limit.
pub fn in_sync(scenario: &mut Scenario) {
    let index = UserIndex::new(scenario);
    let assigned = index.assigned(scenario);
    // Unmanaged members: no externalId and no Okta user with their email.
    let unmanaged: Vec<MemberSpec> = scenario
        .kafkaman
        .members
        .iter()
        .filter(|m| {
            m.external_id.is_none() && !index.by_email.contains_key(&m.email.to_lowercase())
        })
        .cloned()
        .collect();
    let mut members: Vec<MemberSpec> = scenario
        .okta
        .users
        .iter()
        .zip(&assigned)
        .filter(|(u, a)| **a && is_entitled_status(&u.status))
        .map(|(u, _)| MemberSpec {
            email: u.app_username_under(scenario.okta.app_username_format),
            given_name: u.app_profile_str("firstName"),
            family_name: u.app_profile_str("lastName"),
            external_id: u.id.clone(),
            active: true,
            membership: None,
            role: "developer".to_string(),
        })
        .collect();
    members.extend(unmanaged);
    let kafkaman = &mut scenario.kafkaman;
    kafkaman.members = members;
    kafkaman.invites.clear();
    kafkaman.outside_accounts.clear();
    kafkaman.seats = u32::try_from(kafkaman.members.len())
        .unwrap_or(u32::MAX / 2)
        .saturating_mul(2)
        .saturating_add(100);
}

/// Seats in use once a sync has run against `scenario`: one per entitled user (kept,
/// reactivated or created) plus the seat holders the sync keeps without an entitled
/// user: unlinked members (no externalId; not ours), admins (protected) and members of
/// assigned users the planner waits on ([`is_waiting_status`]). Other members linked to
/// users who are not entitled are deactivated and free their seat.
pub fn seats_after_first_sync(scenario: &Scenario) -> u32 {
    let okta = &scenario.okta;
    let index = UserIndex::new(scenario);
    let find = |r: &str| index.find(r);
    let by_email = &index.by_email;
    let assigned = index.assigned(scenario);
    let entitled: Vec<bool> = okta
        .users
        .iter()
        .zip(&assigned)
        .map(|(u, a)| *a && is_entitled_status(&u.status))
        .collect();
    let waiting: Vec<bool> = okta
        .users
        .iter()
        .zip(&assigned)
        .map(|(u, a)| *a && is_waiting_status(&u.status))
        .collect();
    let mut seats = entitled.iter().filter(|e| **e).count() as u32;
    for m in &scenario.kafkaman.members {
        let holds_seat = match m.membership.as_deref() {
            Some(ms) => ms != "deactivated",
            None => m.active,
        };
        let matched = m
            .external_id
            .as_deref()
            .and_then(find)
            .or_else(|| by_email.get(&m.email.to_lowercase()).copied());
        let entitled_match = matched.is_some_and(|i| entitled[i]);
        let kept_while_waiting = matched.is_some_and(|i| waiting[i]);
        if holds_seat
            && !entitled_match
            && (m.external_id.is_none() || m.role == "admin" || kept_while_waiting)
        {
            seats += 1;
        }
    }
    seats
}

/// Ids of the scenario's users assigned to the app directly or through an assigned group
/// (users and groups may be named by id or login).
pub fn assigned_ids(s: &Scenario) -> HashSet<String> {
    let mut ids: HashMap<String, String> = HashMap::new();
    for u in &s.okta.users {
        if let Some(id) = &u.id {
            ids.insert(u.login.to_lowercase(), id.clone());
            ids.insert(id.clone(), id.clone());
        }
    }
    let id_of = |r: &String| {
        ids.get(r.as_str())
            .or_else(|| ids.get(&r.to_lowercase()))
            .cloned()
    };
    let mut out: HashSet<String> = s.okta.assignments.users.iter().filter_map(id_of).collect();
    for g in &s.okta.groups {
        if s.okta.assignments.groups.contains(&g.name) {
            out.extend(g.members.iter().filter_map(id_of));
        }
    }
    out
}
