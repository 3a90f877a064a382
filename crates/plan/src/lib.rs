//! The planner: a pure function from (what Okta says, what the team looks like, policy)
//! to a plan. Every provisioning decision is made here and nowhere else, so a dry run and
//! a real run are the same computation up to the first write.
//!
//! Inputs are plain data (no clients, no clock): [`OktaView`] is a *complete* read of the
//! app's assignments (the caller guarantees completeness; an incomplete read never gets
//! here), [`TeamView`] the refreshed snapshot of the kafkaman team. The planner knows only
//! its own [`model`]; callers convert their types to it.
//!
//! - [`matching`]: who is who (link, then externalId, then userName),
//! - [`decisions`]: what to do about each person,
//! - [`safety`]: protected users, the deactivate switch, the cap.

mod decisions;
mod email;
mod matching;
pub mod model;
mod safety;
mod strings;
#[cfg(test)]
mod tests;

pub use email::{clean_user_name, email_key, is_email_address, same_email};
pub use matching::{ids_to_look_up, shared_email_groups};
pub use model::*;

use decisions::Decisions;
use matching::TeamIndex;

/// Computes the plan. Pure: same inputs, same plan.
pub fn plan(okta: &OktaView, team: &TeamView, policy: &Policy) -> Plan {
    plan_within(okta, team, policy, Counts::default())
}

/// What the people of a view add to a plan's counts: the decisions alone, before the
/// safety rules (which count nothing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Assigned users whose member already matches ([`Plan::in_sync`]).
    pub in_sync: usize,
    /// Active members scim-sync manages ([`Plan::managed`], the cap's base).
    pub managed: usize,
}

/// The counts these people add to any plan they are part of.
pub fn counts(okta: &OktaView, team: &TeamView, policy: &Policy) -> Counts {
    let index = TeamIndex::new(team, &okta.assigned);
    let mut d = Decisions::default();
    d.assigned_users(okta, &index, policy);
    d.unmatched_members(okta, team, &index);
    Counts {
        in_sync: d.in_sync,
        managed: d.managed,
    }
}

/// Plans part of the org: `okta` and `team` hold every person of some groups that
/// decide only about each other (nobody outside shares an email, a link, an externalId
/// or an invite with them), and `outside` is what everyone else adds to the counts.
/// Where nobody outside has anything planned, this is [`plan`] of the whole org: the
/// decisions are each person's, and the cap counts the org's managed members.
pub fn plan_within(okta: &OktaView, team: &TeamView, policy: &Policy, outside: Counts) -> Plan {
    let index = TeamIndex::new(team, &okta.assigned);
    let mut d = Decisions::default();
    d.assigned_users(okta, &index, policy);
    d.unmatched_members(okta, team, &index);
    d.in_sync += outside.in_sync;
    d.managed += outside.managed;
    let screened = safety::screen(d.deactivations, policy, d.managed);

    let mut attention = d.attention;
    attention.extend(screened.attention);
    // Application order: deactivations free seats before creates need them.
    let mut operations = screened.allowed;
    operations.extend(d.reactivations);
    operations.extend(d.creates);
    operations.extend(d.updates);
    Plan {
        operations,
        held: screened.held,
        attention,
        unmanaged: d.unmanaged,
        new_links: d.new_links,
        in_sync: d.in_sync,
        managed: d.managed,
        deactivation_cap: screened.cap,
        shared_emails: d.shared_emails,
    }
}
