//! The rules that stand between a decision to deactivate and the deactivation: protected
//! users, the `sync.deactivate_users` switch, and the cap that holds every deactivation
//! of a cycle that wants too many.

use super::decisions::Deactivation;
use super::email::same_email;
use super::model::{Attention, AttentionKind, FeatureOff, Operation, Policy};

/// What the safety rules let through.
pub(super) struct Screened {
    /// Deactivations to apply now.
    pub allowed: Vec<Operation>,
    /// Deactivations the cap holds for a human.
    pub held: Vec<Operation>,
    /// Deactivations turned into attention (protected, or the switch is off).
    pub attention: Vec<Attention>,
    /// The cap that applied.
    pub cap: u32,
}

pub(super) fn is_protected(policy: &Policy, okta_id: Option<&str>, user_name: &str) -> bool {
    policy
        .protected
        .iter()
        .any(|p| same_email(p, user_name) || okta_id.is_some_and(|id| id == p))
}

/// Applies protection, the switch and the cap to the cycle's deactivations; `managed`
/// is the base of the percentage cap.
pub(super) fn screen(
    deactivations: Vec<Deactivation>,
    policy: &Policy,
    managed: usize,
) -> Screened {
    let mut attention = Vec::new();
    let mut allowed = Vec::new();
    for Deactivation { op, why } in deactivations {
        let kind = if is_protected(policy, op.okta_id(), op.user_name()) {
            AttentionKind::Protected(why)
        } else if !policy.deactivate_users {
            AttentionKind::FeatureOff(FeatureOff::DeactivateUsers(why))
        } else {
            allowed.push(op);
            continue;
        };
        attention.push(Attention {
            okta_id: op.okta_id().map(str::to_string),
            scim_id: op.scim_id().map(str::to_string),
            user_name: op.user_name().to_string(),
            kind,
        });
    }

    // The cap: past it, every deactivation of the cycle is held for a human, so that a
    // wrong source (a removed group, a bad mapping) costs nobody their access. Holds are
    // sticky: what an earlier cycle held stays held until released, even when the cap has
    // grown since (creates grow its base).
    let cap = deactivation_cap(policy, managed);
    let over_cap = allowed.len() as u32 > cap;
    let (allowed, held) = allowed.into_iter().partition(|d| {
        let id = d.scim_id();
        // Only what a human reviewed and released passes a hold.
        let released = id.is_some_and(|id| policy.released.contains(id));
        let sticky = id.is_some_and(|id| policy.previously_held.contains(id));
        released || !(over_cap || sticky)
    });
    Screened {
        allowed,
        held,
        attention,
        cap,
    }
}

/// cap = min(max_deactivations, max(min_deactivation_cap, ceil(percent × managed))).
pub(super) fn deactivation_cap(policy: &Policy, managed: usize) -> u32 {
    let pct = (managed as f64 * policy.max_deactivations_percent / 100.0).ceil();
    // `as` saturates: a huge percentage base stays within u32.
    let pct = pct as u32;
    policy
        .max_deactivations
        .min(policy.min_deactivation_cap.max(pct))
}
