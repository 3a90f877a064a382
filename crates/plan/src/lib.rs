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
    let index = TeamIndex::new(team, &okta.assigned);
    let mut d = Decisions::default();
    d.assigned_users(okta, &index, policy);
    d.unmatched_members(okta, team, &index);
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
