//! The planner's vocabulary: what it reads (Okta's assignments, the team snapshot, the
//! policy), what it decides (operations, attention, unmanaged members), and the fixed
//! values both sides exchange as enums. Values that leave the process (SQLite, JSON, the
//! dry run) keep the exact strings they always had: `as_str` / `FromStr` convert.
//!
//! The writes (`model/operation.rs`) and the attention and deactivation reasons
//! (`model/attention.rs`) have files of their own; every type is re-exported here.

mod attention;
mod operation;

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

pub use super::strings::UnknownValue;
use super::strings::open_string_enum;
pub use attention::{Attention, AttentionKind, DeactivationReason, FeatureOff, ReactivationReason};
pub use operation::{OpKind, Operation};

open_string_enum! {
    /// An Okta user's lifecycle status (`user.status`).
    pub enum OktaUserStatus {
        Staged => "STAGED",
        Provisioned => "PROVISIONED",
        Active => "ACTIVE",
        Recovery => "RECOVERY",
        PasswordExpired => "PASSWORD_EXPIRED",
        LockedOut => "LOCKED_OUT",
        Suspended => "SUSPENDED",
        Deprovisioned => "DEPROVISIONED",
    }
    unknown
    /// A status this version does not know: not entitled.
    Other
}

impl OktaUserStatus {
    /// Whether a user with this status should have access: the one definition of
    /// "entitled". LOCKED_OUT, PASSWORD_EXPIRED and RECOVERY are sub-states of an active
    /// account that keep their app assignments (Okta's own push provisioning does not
    /// deprovision them); SUSPENDED depends on the policy and is decided by the planner.
    pub fn entitles(&self) -> bool {
        matches!(
            self,
            OktaUserStatus::Active
                | OktaUserStatus::Provisioned
                | OktaUserStatus::PasswordExpired
                | OktaUserStatus::LockedOut
                | OktaUserStatus::Recovery
        )
    }
}

open_string_enum! {
    /// An app assignment's status (the AppUser's `status`).
    pub enum AppUserStatus {
        Active => "ACTIVE",
        Provisioned => "PROVISIONED",
        Staged => "STAGED",
        Pending => "PENDING",
        Implicit => "IMPLICIT",
        Inactive => "INACTIVE",
        Suspended => "SUSPENDED",
        Revoked => "REVOKED",
        Deprovisioned => "DEPROVISIONED",
        Unassigned => "UNASSIGNED",
    }
    unknown
    Other
}

impl AppUserStatus {
    /// The assignment is not (or no longer) in force.
    pub fn revoked(&self) -> bool {
        matches!(
            self,
            AppUserStatus::Inactive
                | AppUserStatus::Suspended
                | AppUserStatus::Revoked
                | AppUserStatus::Deprovisioned
                | AppUserStatus::Unassigned
        )
    }
}

open_string_enum! {
    /// How a user is assigned to the app (the AppUser's `scope`).
    pub enum AssignmentScope {
        User => "USER",
        Group => "GROUP",
    }
    unknown
    Other
}

open_string_enum! {
    /// A team member's membership in kafkaman.
    pub enum Membership {
        Active => "active",
        Invited => "invited",
        Deactivated => "deactivated",
    }
    unknown
    /// A value kafkaman added after this version.
    Other
}

open_string_enum! {
    /// Who created a pending team invite.
    pub enum InviteSource {
        Admin => "admin",
        Link => "link",
        Request => "request",
        /// Created by a SCIM create: the member exists and has not accepted yet.
        Scim => "scim",
    }
    unknown
    /// A source kafkaman added after this version (treated like a human's invite).
    Unknown
}

/// What Okta says about one person assigned to the app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssignedUser {
    pub okta_id: String,
    pub okta_status: OktaUserStatus,
    pub app_status: AppUserStatus,
    pub scope: AssignmentScope,
    /// The kafkaman `userName` derived from the profile (None when the attribute is missing).
    pub user_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
}

/// The result of looking up, by id, an Okta user that is no longer assigned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OktaLookup {
    /// The user exists in this org with this status.
    Found { status: OktaUserStatus },
    /// No such user in this org (deleted, or an id from elsewhere).
    NotFound,
    /// The lookup failed: nothing is concluded from it.
    Failed { reason: String },
}

/// Everything the planner knows about Okta.
#[derive(Debug, Clone, Default)]
pub struct OktaView {
    /// Every app assignment (complete read).
    pub assigned: Vec<AssignedUser>,
    /// Lookups of Okta ids that members refer to but that are not assigned.
    pub lookups: HashMap<String, OktaLookup>,
}

/// A kafkaman team member, as the snapshot holds it: the one member type on this side
/// (`kafkaman::ScimUser` is the wire shape it is made from).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub scim_id: String,
    pub user_name: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub external_id: Option<String>,
    pub active: bool,
    pub membership: Membership,
    pub role: Option<String>,
}

/// A pending team invite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingInvite {
    pub id: String,
    pub email: String,
    pub source: InviteSource,
    pub invited_by: Option<String>,
    pub created_at: String,
}

/// The team as the refreshed snapshot holds it, plus the links scim-sync made before.
#[derive(Debug, Clone, Default)]
pub struct TeamView {
    pub members: Vec<Member>,
    pub invites: Vec<PendingInvite>,
    /// Okta user id -> SCIM id, as recorded by earlier cycles.
    pub links: HashMap<String, String>,
    /// SCIM ids of members scim-sync itself deactivated and has not seen active since,
    /// as recorded by earlier cycles. A deactivated member not in it was deactivated by
    /// someone else (by hand in kafkaman, or before scim-sync managed the team): its
    /// Okta user being assigned is no rehire, and it is not reactivated unless
    /// [`Policy::restore_hand_deactivated`] says so.
    pub deactivated_by_us: HashSet<String>,
}

/// What an Okta SUSPENDED user means for kafkaman.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SuspendedPolicy {
    Deactivate,
    Keep,
}

/// The default floor of the deactivation cap: a small team's ordinary day (two or three
/// leavers) is not held by the percentage.
pub const DEFAULT_MIN_DEACTIVATION_CAP: u32 = 3;

/// The switches and limits the planner obeys (the caller converts its configuration).
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub create_users: bool,
    pub update_attributes: bool,
    pub deactivate_users: bool,
    pub reactivate_users: bool,
    /// Reactivate a member deactivated by someone else while its Okta user is still
    /// entitled (off: it needs attention, the lockout stands).
    pub restore_hand_deactivated: bool,
    pub clear_pending_invites: bool,
    pub suspended: SuspendedPolicy,
    /// Emails (any case) or Okta ids that are never deactivated.
    pub protected: Vec<String>,
    pub max_deactivations: u32,
    pub max_deactivations_percent: f64,
    /// The percentage never caps below this many deactivations (small teams):
    /// cap = min(max_deactivations, max(min_deactivation_cap, ceil(percent × managed))).
    pub min_deactivation_cap: u32,
    /// SCIM ids of held deactivations a human read and released (`--release-held`):
    /// only these pass the cap; a deactivation nobody reviewed stays held.
    pub released: HashSet<String>,
    /// SCIM ids of deactivations an earlier cycle held and nobody released yet. A hold
    /// is sticky: these stay held (whatever the cap says now) until released, and count
    /// against the cap with the cycle's other deactivations.
    pub previously_held: HashSet<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            create_users: true,
            update_attributes: true,
            deactivate_users: true,
            reactivate_users: true,
            restore_hand_deactivated: false,
            clear_pending_invites: true,
            suspended: SuspendedPolicy::Deactivate,
            protected: Vec::new(),
            max_deactivations: 10,
            max_deactivations_percent: 10.0,
            min_deactivation_cap: DEFAULT_MIN_DEACTIVATION_CAP,
            released: HashSet::new(),
            previously_held: HashSet::new(),
        }
    }
}

/// A member scim-sync does not manage: reported, never touched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unmanaged {
    pub scim_id: String,
    pub user_name: String,
    pub membership: Membership,
    pub external_id: Option<String>,
}

/// A link between an Okta user and a member that this plan establishes (matched by
/// externalId or userName) and that the snapshot should remember.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewLink {
    pub okta_id: String,
    pub scim_id: String,
}

/// The outcome of planning.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Plan {
    /// Writes, in application order.
    pub operations: Vec<Operation>,
    /// Deactivations the cap holds back.
    pub held: Vec<Operation>,
    pub attention: Vec<Attention>,
    pub unmanaged: Vec<Unmanaged>,
    pub new_links: Vec<NewLink>,
    /// Assigned users whose member already matches.
    pub in_sync: usize,
    /// Active members scim-sync manages (the base of the percentage cap).
    pub managed: usize,
    /// The cap that applied this cycle.
    pub deactivation_cap: u32,
    /// Assigned Okta users that share one email (one named conflict each).
    pub shared_emails: Vec<SharedEmail>,
}

/// Assigned Okta users whose emails name one mailbox (they differ only in case, spaces
/// or Unicode spelling). kafkaman has one account per email, so they share one member:
/// it follows whichever of them is entitled, and goes only when none is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SharedEmail {
    /// The member's userName, or the email a create uses.
    pub user_name: String,
    /// Every assigned Okta user with this email, in id order.
    pub okta_ids: Vec<String>,
    /// The Okta user the member follows this cycle (None when each keeps an account of
    /// their own from before, or the member belongs to someone else).
    pub owner: Option<String>,
    /// The shared member, when there is one.
    pub scim_id: Option<String>,
}

impl SharedEmail {
    /// What scim-sync does about it and what a person should do, in words.
    pub fn describe(&self) -> String {
        let ids = self.okta_ids.join(", ");
        match &self.owner {
            Some(owner) => format!(
                "Okta users {ids} share one kafkaman member, which follows {owner}; give \
                 each person their own email in Okta"
            ),
            None => format!(
                "Okta users {ids} share this email; each is decided on their own (accounts \
                 from before, or the member is someone else's); give each person their own \
                 email in Okta"
            ),
        }
    }
}

impl Plan {
    /// True when the plan asks for no write at all.
    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
    }

    /// Number of planned operations of one kind.
    pub fn count(&self, kind: OpKind) -> usize {
        self.operations.iter().filter(|o| o.kind() == kind).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entitled_statuses() {
        for s in [
            "ACTIVE",
            "PROVISIONED",
            "PASSWORD_EXPIRED",
            "LOCKED_OUT",
            "RECOVERY",
        ] {
            assert!(OktaUserStatus::from(s).entitles(), "{s}");
        }
        for s in ["STAGED", "SUSPENDED", "DEPROVISIONED", "SOMETHING_NEW"] {
            assert!(!OktaUserStatus::from(s).entitles(), "{s}");
        }
    }

    #[test]
    fn strings_round_trip_and_unknowns() {
        for k in OpKind::ALL {
            assert_eq!(k.as_str().parse::<OpKind>(), Ok(*k));
        }
        let err = "delete".parse::<OpKind>().unwrap_err().to_string();
        assert!(err.contains("unknown operation kind \"delete\""), "{err}");
        assert_eq!(
            InviteSource::from("sso"),
            InviteSource::Unknown("sso".into())
        );
        assert_eq!(InviteSource::from("scim"), InviteSource::Scim);
        assert_eq!(Membership::from("invited").as_str(), "invited");
    }
}
