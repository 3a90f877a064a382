//! What the planner leaves to a human ([`Attention`], [`AttentionKind`]), why a member
//! loses access ([`DeactivationReason`]) and why one gets it back
//! ([`ReactivationReason`]).

use std::fmt;

use serde::Serialize;

use super::{AppUserStatus, InviteSource, OktaUserStatus};

/// Why a member loses access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeactivationReason {
    /// The app assignment is not in force (its status says so).
    AssignmentRevoked(AppUserStatus),
    /// Suspended in Okta, and the policy deactivates suspended users.
    Suspended,
    DeactivatedInOkta,
    DeletedFromOkta,
    NoLongerAssigned,
}

impl fmt::Display for DeactivationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeactivationReason::AssignmentRevoked(status) => {
                write!(f, "app assignment is {status} in Okta")
            }
            DeactivationReason::Suspended => {
                f.write_str("suspended in Okta (sync.suspended_users = \"deactivate\")")
            }
            DeactivationReason::DeactivatedInOkta => f.write_str("deactivated in Okta"),
            DeactivationReason::DeletedFromOkta => f.write_str("deleted from Okta"),
            DeactivationReason::NoLongerAssigned => {
                f.write_str("no longer assigned to the app in Okta")
            }
        }
    }
}

/// Why a deactivated member is reactivated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReactivationReason {
    /// scim-sync deactivated it (its Okta user was unassigned, deactivated or
    /// suspended), and the Okta user is entitled again.
    Rehire,
    /// Deactivated by someone else while its Okta user stayed entitled, and
    /// `sync.restore_hand_deactivated` is on.
    RestoreHandDeactivated,
}

impl fmt::Display for ReactivationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReactivationReason::Rehire => {
                f.write_str("assigned again in Okta (rehire): reactivating the same account")
            }
            ReactivationReason::RestoreHandDeactivated => f.write_str(
                "deactivated in kafkaman by someone else (scim-sync has no record of \
                 deactivating it) while still assigned in Okta; restored because \
                 sync.restore_hand_deactivated = true",
            ),
        }
    }
}

/// A `sync.*` switch that is off and so turns an action into attention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeatureOff {
    CreateUsers,
    ReactivateUsers,
    UpdateAttributes,
    /// `sync.deactivate_users`, with why the member would have been deactivated.
    DeactivateUsers(DeactivationReason),
}

/// Why the planner leaves someone to a human.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttentionKind {
    /// Okta has no userName for the user (no app username, or no value for the profile
    /// attribute the configuration names).
    MissingUserName,
    /// The userName Okta would send is not an email address (an app username format
    /// like `jdoe`): kafkaman's userName is the member's email, so it is never sent.
    UserNameNotEmail {
        user_name: String,
    },
    /// The member with this email belongs to another Okta identity.
    Conflict {
        member_user_name: String,
        /// The member's externalId (None when only the snapshot's link says so).
        other_okta_id: Option<String>,
    },
    FeatureOff(FeatureOff),
    /// A pending invite not created by SCIM would make the create fail, and
    /// `sync.clear_pending_invites` is off.
    InviteBlocksCreate {
        source: InviteSource,
    },
    /// Assigned, but the Okta user is not active yet.
    AwaitingActivation {
        okta_status: OktaUserStatus,
    },
    /// The userName Okta gives (the app username, or the configured profile attribute)
    /// changed; kafkaman's userName is immutable.
    EmailChanged {
        okta_user_name: String,
        member_user_name: String,
    },
    /// Not assigned, and looking up the member's Okta user failed.
    LookupFailed {
        error: String,
    },
    /// Would be deactivated, but is protected (`safety.protected_users`).
    Protected(DeactivationReason),
    /// Deactivated in kafkaman by someone other than scim-sync (an admin's lockout, or
    /// before scim-sync managed the team) while its Okta user is still entitled: left
    /// deactivated (`sync.restore_hand_deactivated` is off).
    DeactivatedInKafkaman,
}

impl fmt::Display for AttentionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttentionKind::MissingUserName => f.write_str(
                "Okta has no userName for this user (its app username, or with \
                 sync.user_name_source = \"profile\" the sync.user_name_attribute of its \
                 profile): fix the user or the mapping",
            ),
            AttentionKind::UserNameNotEmail { user_name } => write!(
                f,
                "the userName Okta would send, {user_name:?}, is not an email address and \
                 kafkaman's userName is the member's email: set the app's username format \
                 to an email in Okta (Applications → kafkaman → Sign On → Credentials \
                 Details), or set sync.user_name_source = \"profile\""
            ),
            AttentionKind::Conflict {
                member_user_name,
                other_okta_id,
            } => write!(
                f,
                "member {member_user_name} is linked to another Okta user ({}): resolve the \
                 duplicate identity in Okta",
                other_okta_id.as_deref().unwrap_or("via the snapshot")
            ),
            AttentionKind::FeatureOff(FeatureOff::CreateUsers) => {
                f.write_str("assigned in Okta but not a member; sync.create_users is off")
            }
            AttentionKind::FeatureOff(FeatureOff::ReactivateUsers) => f.write_str(
                "assigned again but deactivated in kafkaman; sync.reactivate_users is off",
            ),
            AttentionKind::FeatureOff(FeatureOff::UpdateAttributes) => {
                f.write_str("name differs from Okta; sync.update_attributes is off")
            }
            AttentionKind::FeatureOff(FeatureOff::DeactivateUsers(why)) => {
                write!(f, "{why}; sync.deactivate_users is off")
            }
            AttentionKind::InviteBlocksCreate { source } => write!(
                f,
                "a pending {source} invite blocks the create; \
                 sync.clear_pending_invites is off: remove it in kafkaman"
            ),
            AttentionKind::AwaitingActivation { okta_status } => write!(
                f,
                "Okta user is {okta_status}: provisioned once it is activated"
            ),
            AttentionKind::EmailChanged {
                okta_user_name,
                member_user_name,
            } => write!(
                f,
                "userName changed in Okta to {okta_user_name}; kafkaman's userName is \
                 immutable, so the member keeps {member_user_name} (names are still updated)"
            ),
            AttentionKind::LookupFailed { error } => write!(
                f,
                "not assigned in Okta, but looking up its Okta user failed \
                 ({error}): left alone this cycle"
            ),
            AttentionKind::Protected(why) => write!(
                f,
                "{why}, but protected (safety.protected_users): not deactivated"
            ),
            AttentionKind::DeactivatedInKafkaman => f.write_str(
                "deactivated in kafkaman, still assigned in Okta: scim-sync has no record \
                 of deactivating it (someone deactivated it by hand, or before scim-sync \
                 managed the team), so it stays deactivated; to give access back, \
                 reactivate it in kafkaman (or set sync.restore_hand_deactivated = true); \
                 to end it, unassign the user in Okta",
            ),
        }
    }
}

/// Something the planner will not do on its own. Serialized (dry run, JSON) with the
/// human reason derived from its kind.
#[derive(Debug, Clone, PartialEq)]
pub struct Attention {
    pub okta_id: Option<String>,
    pub scim_id: Option<String>,
    pub user_name: String,
    pub kind: AttentionKind,
}

impl Attention {
    /// Why, in words for a human (display only).
    pub fn reason(&self) -> String {
        self.kind.to_string()
    }
}

impl Serialize for Attention {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Attention", 4)?;
        st.serialize_field("okta_id", &self.okta_id)?;
        st.serialize_field("scim_id", &self.scim_id)?;
        st.serialize_field("user_name", &self.user_name)?;
        st.serialize_field("reason", &self.reason())?;
        st.end()
    }
}
