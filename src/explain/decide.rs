//! The decision part of `explain`: the planner run over the last snapshot with this
//! person's live records put in place, and what it would do about them, each step with
//! the rule (and the settings) behind it.

use scim_sync_plan::{self as plan, Member, OpKind, PendingInvite, Plan};

use super::{Decision, DecisionCategory};
use crate::config::Config;
use crate::okta::{AppUser, OktaUser};
use crate::store::{Store, StoreError};
use crate::view::{self, Snapshot, convert};

/// Runs the planner over the snapshot (when there is one: `store` with what it holds)
/// with this person's live records put in place, and keeps what concerns them.
#[allow(clippy::too_many_arguments)]
pub(super) fn decide(
    cfg: &Config,
    store: Option<(&Store, Snapshot)>,
    app_user: Option<&AppUser>,
    okta_user: Option<&OktaUser>,
    okta_id: Option<&str>,
    member: Option<&Member>,
    email: Option<&str>,
    invites: &[PendingInvite],
) -> Result<Vec<Decision>, StoreError> {
    let same_email = |e: &str| email.is_some_and(|x| plan::same_email(x, e));
    let (store, mut snapshot) = match store {
        Some((store, snapshot)) => (Some(store), snapshot),
        None => (None, Snapshot::default()),
    };
    if let Some(id) = okta_id {
        snapshot.put_okta_user(id, app_user.map(|au| convert::assigned_user(cfg, au)));
    }
    let scim_id = member.map(|m| m.scim_id.clone());
    if let Some(m) = member {
        snapshot.put_members(std::slice::from_ref(m));
    }
    if let Some(email) = email {
        snapshot.put_invites_for(email, invites);
    }
    let mut lookups = match store {
        Some(s) => snapshot.stored_lookups(s)?,
        None => Default::default(),
    };
    if let Some(id) = okta_id {
        // This person's lookup is live.
        lookups.insert(id.to_string(), convert::okta_lookup(okta_user));
    }
    let held = match store {
        Some(s) => s.held_scim_ids()?,
        None => Default::default(),
    };
    let (okta, team) = snapshot.into_views(lookups);
    let plan = plan::plan(&okta, &team, &view::policy(cfg, Default::default(), held));
    let concerns = |o: Option<&str>, s: Option<&str>, name: &str| {
        (okta_id.is_some() && o == okta_id)
            || (scim_id.is_some() && s == scim_id.as_deref())
            || (!name.is_empty() && same_email(name))
    };
    Ok(decisions(cfg, &plan, concerns, app_user.is_some(), member))
}

fn decisions(
    cfg: &Config,
    plan: &Plan,
    concerns: impl Fn(Option<&str>, Option<&str>, &str) -> bool,
    assigned: bool,
    member: Option<&Member>,
) -> Vec<Decision> {
    let s = &cfg.sync;
    let mut out = Vec::new();
    for o in &plan.operations {
        if !concerns(o.okta_id(), o.scim_id(), o.user_name()) {
            continue;
        }
        let rule = match o.kind() {
            OpKind::Create => format!(
                "an entitled Okta user (user ACTIVE/PROVISIONED/…, assignment in force) with no \
                 team member is created (sync.create_users = {})",
                s.create_users
            ),
            OpKind::ClearInvite => format!(
                "a pending invite not created by SCIM makes the create fail, so it is removed \
                 first (sync.clear_pending_invites = {})",
                s.clear_pending_invites
            ),
            OpKind::Deactivate => format!(
                "an active member whose Okta user is no longer entitled is deactivated \
                 (sync.deactivate_users = {}), at most {} per cycle",
                s.deactivate_users, plan.deactivation_cap
            ),
            OpKind::Reactivate => format!(
                "an entitled Okta user whose member scim-sync deactivated gets the same \
                 account back (sync.reactivate_users = {}); one deactivated by someone else \
                 only with sync.restore_hand_deactivated = {}",
                s.reactivate_users, s.restore_hand_deactivated
            ),
            OpKind::UpdateName => format!(
                "names follow Okta's profile (sync.update_attributes = {})",
                s.update_attributes
            ),
        };
        out.push(Decision {
            category: DecisionCategory::Operation,
            action: Some(o.kind()),
            reason: o.reason().to_string(),
            rule,
        });
    }
    for o in &plan.held {
        if concerns(o.okta_id(), o.scim_id(), o.user_name()) {
            out.push(Decision {
                category: DecisionCategory::Held,
                action: Some(o.kind()),
                reason: o.reason().to_string(),
                rule: format!(
                    "more deactivations in one cycle than the cap ({} this cycle: \
                     safety.max_deactivations = {}, safety.max_deactivations_percent = {}) \
                     are held, and a hold stays until a person releases it: \
                     `scim-sync release-held EMAIL`",
                    plan.deactivation_cap,
                    cfg.safety.max_deactivations,
                    cfg.safety.max_deactivations_percent
                ),
            });
        }
    }
    for a in &plan.attention {
        if concerns(a.okta_id.as_deref(), a.scim_id.as_deref(), &a.user_name) {
            out.push(Decision {
                category: DecisionCategory::Attention,
                action: None,
                reason: a.reason(),
                rule: "the planner does not act on its own here: a human decides".into(),
            });
        }
    }
    for u in &plan.unmanaged {
        if concerns(u.external_id.as_deref(), Some(&u.scim_id), &u.user_name) {
            out.push(Decision {
                category: DecisionCategory::Unmanaged,
                action: None,
                reason: format!("not managed by scim-sync ({})", u.membership),
                rule: "a member with neither a link nor an externalId of a user of this Okta \
                       org is not scim-sync's: it is reported and never touched"
                    .into(),
            });
        }
    }
    if out.is_empty() {
        let (reason, rule) = match (assigned, member) {
            (true, Some(m)) if m.active => (
                "the member matches Okta",
                "an entitled user whose member is active with the same name needs nothing",
            ),
            (_, Some(m)) if !m.active => (
                "the member is already deactivated",
                "a member of someone not entitled stays deactivated",
            ),
            (true, None) => (
                "assigned but not entitled (see the Okta status), and not a member",
                "only entitled users are created",
            ),
            (false, None) => (
                "not assigned to the app and not a member",
                "scim-sync only acts on the app's assignments and its own members",
            ),
            _ => ("nothing to do", "no rule applies"),
        };
        out.push(Decision {
            category: DecisionCategory::None,
            action: None,
            reason: reason.into(),
            rule: rule.into(),
        });
    }
    out
}
