//! The planner's vocabulary: what it reads (Okta's assignments, the team snapshot, the
//! policy), what it decides (operations, attention, unmanaged members), and the fixed
//! values both sides exchange as enums. Values that leave the process (SQLite, JSON, the
//! dry run) keep the exact strings they always had: `as_str` / `FromStr` convert.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize};

pub use super::strings::UnknownValue;
use super::strings::open_string_enum;
use crate::string_enum;

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

string_enum! {
    /// The kinds of write, in the order they are applied.
    pub enum OpKind ("operation kind") {
        /// Deactivations go first: they free seats for the creates.
        Deactivate => "deactivate",
        Reactivate => "reactivate",
        /// Removing a conflicting invite; always directly before the create it unblocks.
        ClearInvite => "clear_invite",
        Create => "create",
        UpdateName => "update_name",
    }
}

impl OpKind {
    pub fn parse(s: &str) -> Option<OpKind> {
        s.parse().ok()
    }
}

/// One write the plan asks for. Each kind carries what it needs and nothing it doesn't:
/// a create has no SCIM id yet, a deactivation may concern a member known only by its
/// SCIM id, an invite clearing names the invite. Serialized (dry run, JSON) as one flat
/// object whose absent fields are `null`, as it always was.
#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    /// Deactivations go first: they free seats for the creates.
    Deactivate {
        scim_id: String,
        /// The Okta user the member was linked to or carries (None: known only by its
        /// SCIM id).
        okta_id: Option<String>,
        user_name: String,
        reason: String,
    },
    /// A deactivated member whose Okta user is entitled again.
    Reactivate {
        scim_id: String,
        okta_id: String,
        user_name: String,
        reason: String,
    },
    /// Removing a pending invite that would make the create of `user_name` fail; always
    /// directly before that create.
    ClearInvite {
        invite_id: String,
        /// The Okta user whose create it unblocks.
        okta_id: String,
        user_name: String,
        reason: String,
    },
    Create {
        okta_id: String,
        user_name: String,
        given_name: Option<String>,
        family_name: Option<String>,
        reason: String,
    },
    UpdateName {
        scim_id: String,
        okta_id: String,
        user_name: String,
        given_name: Option<String>,
        family_name: Option<String>,
        reason: String,
    },
}

impl Operation {
    pub fn kind(&self) -> OpKind {
        match self {
            Operation::Deactivate { .. } => OpKind::Deactivate,
            Operation::Reactivate { .. } => OpKind::Reactivate,
            Operation::ClearInvite { .. } => OpKind::ClearInvite,
            Operation::Create { .. } => OpKind::Create,
            Operation::UpdateName { .. } => OpKind::UpdateName,
        }
    }

    /// The Okta user this is about (None for a member known only by its SCIM id).
    pub fn okta_id(&self) -> Option<&str> {
        match self {
            Operation::Deactivate { okta_id, .. } => okta_id.as_deref(),
            Operation::Reactivate { okta_id, .. }
            | Operation::ClearInvite { okta_id, .. }
            | Operation::Create { okta_id, .. }
            | Operation::UpdateName { okta_id, .. } => Some(okta_id),
        }
    }

    /// The member written to (None for a create and an invite clearing).
    pub fn scim_id(&self) -> Option<&str> {
        match self {
            Operation::Deactivate { scim_id, .. }
            | Operation::Reactivate { scim_id, .. }
            | Operation::UpdateName { scim_id, .. } => Some(scim_id),
            Operation::ClearInvite { .. } | Operation::Create { .. } => None,
        }
    }

    /// The member's email / userName (for an invite clearing, the create's).
    pub fn user_name(&self) -> &str {
        match self {
            Operation::Deactivate { user_name, .. }
            | Operation::Reactivate { user_name, .. }
            | Operation::ClearInvite { user_name, .. }
            | Operation::Create { user_name, .. }
            | Operation::UpdateName { user_name, .. } => user_name,
        }
    }

    /// Why, in words a human reads in the dry run (display only: decisions use the kind).
    pub fn reason(&self) -> &str {
        match self {
            Operation::Deactivate { reason, .. }
            | Operation::Reactivate { reason, .. }
            | Operation::ClearInvite { reason, .. }
            | Operation::Create { reason, .. }
            | Operation::UpdateName { reason, .. } => reason,
        }
    }

    /// The invite an invite clearing removes.
    pub fn invite_id(&self) -> Option<&str> {
        match self {
            Operation::ClearInvite { invite_id, .. } => Some(invite_id),
            _ => None,
        }
    }

    /// The new name of a create or an update: (given, family).
    pub fn name(&self) -> (Option<&str>, Option<&str>) {
        match self {
            Operation::Create {
                given_name,
                family_name,
                ..
            }
            | Operation::UpdateName {
                given_name,
                family_name,
                ..
            } => (given_name.as_deref(), family_name.as_deref()),
            _ => (None, None),
        }
    }
}

impl Serialize for Operation {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let (given_name, family_name) = self.name();
        let mut st = s.serialize_struct("Operation", 8)?;
        st.serialize_field("kind", &self.kind())?;
        st.serialize_field("okta_id", &self.okta_id())?;
        st.serialize_field("scim_id", &self.scim_id())?;
        st.serialize_field("user_name", self.user_name())?;
        st.serialize_field("given_name", &given_name)?;
        st.serialize_field("family_name", &family_name)?;
        st.serialize_field("invite_id", &self.invite_id())?;
        st.serialize_field("reason", self.reason())?;
        st.end()
    }
}

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
    /// The Okta profile has no value for the userName attribute.
    MissingUserName,
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
    /// The email changed in Okta; kafkaman's userName is immutable.
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
}

impl fmt::Display for AttentionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttentionKind::MissingUserName => f.write_str(
                "the Okta profile has no value for the userName attribute \
                 (sync.user_name_attribute): fix the profile or the mapping",
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
                "email changed in Okta to {okta_user_name}; kafkaman's userName is \
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
