//! The rules that stand between a decision to deactivate and the deactivation: protected
//! users, the `sync.deactivate_users` switch, and the cap that holds every deactivation
//! of a cycle that wants too many.

use super::decisions::Deactivation;
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
        .any(|p| p.eq_ignore_ascii_case(user_name) || okta_id.is_some_and(|id| id == p))
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
        let kind = if is_protected(policy, op.okta_id.as_deref(), &op.user_name) {
            AttentionKind::Protected(why)
        } else if !policy.deactivate_users {
            AttentionKind::FeatureOff(FeatureOff::DeactivateUsers(why))
        } else {
            allowed.push(op);
            continue;
        };
        attention.push(Attention {
            okta_id: op.okta_id,
            scim_id: op.scim_id,
            user_name: op.user_name,
            kind,
        });
    }

    // The cap: past it, every deactivation of the cycle is held for a human, so that a
    // wrong source (a removed group, a bad mapping) costs nobody their access.
    let pct_cap = (managed as f64 * policy.max_deactivations_percent / 100.0).ceil();
    let cap = policy.max_deactivations.min(pct_cap as u32);
    let (allowed, held) = if allowed.len() as u32 > cap {
        // Only what a human reviewed and released passes.
        allowed.into_iter().partition(|d| {
            d.scim_id
                .as_ref()
                .is_some_and(|id| policy.released.contains(id))
        })
    } else {
        (allowed, Vec::new())
    };
    Screened {
        allowed,
        held,
        attention,
        cap,
    }
}
