//! The writes a plan asks for: [`OpKind`], the kinds in the order they are applied, and
//! [`Operation`], one write with what its kind needs.

use serde::Serialize;

use crate::string_enum;

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
