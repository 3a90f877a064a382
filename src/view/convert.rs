//! One row of either side into the planner's model: what every reader (full, snapshot,
//! re-read, explain) converts through.

use scim_sync_plan::{AssignedUser, Member, Membership, OktaLookup, PendingInvite};

use crate::config::{Config, UserNameSource};
use crate::kafkaman::{Invite, InviteStatus, ScimUser};
use crate::okta::{AppUser, OktaUser};

/// An Okta app user as the planner sees it: by default what Okta's own provisioning
/// would send (the app username as `userName`; names from the app user's profile, else
/// the Okta user's), or the Okta user's profile attribute the configuration names.
/// Whether the userName is an email address at all is the planner's call.
pub fn assigned_user(cfg: &Config, u: &AppUser) -> AssignedUser {
    let attr = |name: &str| u.attribute(name).map(str::to_string);
    let profile_user_name = || {
        u.user
            .profile_str(&cfg.sync.user_name_attribute)
            .map(str::to_string)
    };
    let user_name = match cfg.sync.user_name_source {
        // An app that keeps no credentials has no app username (`"credentials": null`):
        // then the profile attribute, as with `profile`.
        UserNameSource::AppUsername => u.user_name.clone().or_else(profile_user_name),
        UserNameSource::Profile => profile_user_name(),
    };
    AssignedUser {
        okta_id: u.id.clone(),
        okta_status: u.user.status.as_str().into(),
        app_status: u.status.as_str().into(),
        scope: u.scope.as_str().into(),
        user_name,
        given_name: attr(&cfg.sync.given_name_attribute),
        family_name: attr(&cfg.sync.family_name_attribute),
    }
}

/// What looking up an Okta user by id found (`None`: not in this org).
pub fn okta_lookup(found: Option<&OktaUser>) -> OktaLookup {
    match found {
        Some(u) => OktaLookup::Found {
            status: u.status.as_str().into(),
        },
        None => OktaLookup::NotFound,
    }
}

/// A member from kafkaman's SCIM resource. A target without the membership extension
/// tells only `active`.
pub fn member(u: &ScimUser) -> Member {
    Member {
        scim_id: u.id.clone(),
        user_name: u.user_name.clone(),
        given_name: u.given_name.clone(),
        family_name: u.family_name.clone(),
        external_id: u.external_id.clone(),
        active: u.active,
        membership: match &u.membership {
            Some(m) => m.as_str().into(),
            None if u.active => Membership::Active,
            None => Membership::Deactivated,
        },
        role: u.role.clone(),
    }
}

/// The pending ones of these team invites (the snapshot keeps only those).
pub fn pending_invites(invites: Vec<Invite>) -> Vec<PendingInvite> {
    invites
        .into_iter()
        .filter(|i| i.status == InviteStatus::Pending)
        .map(|i| PendingInvite {
            id: i.id,
            email: i.email,
            source: i.source.into(),
            invited_by: i.invited_by,
            created_at: i.created_at,
        })
        .collect()
}
