//! The changes the SCIM API makes to the team: `POST /Users` (create) and PUT/PATCH
//! (apply changes to one member, all or nothing).

use super::*;

impl Team {
    /// `POST /Users`, with the outcomes of the contract in its order.
    pub fn create_user(&mut self, u: NewUser, now: DateTime<Utc>) -> Result<usize, ScimError> {
        if self.index_of_user_name(&u.user_name).is_some() {
            return Err(ScimError {
                status: StatusCode::CONFLICT,
                scim_type: Some("uniqueness"),
                detail: "User already exists in this team".to_string(),
            });
        }
        let mut scim_invite = None;
        for i in self.pending_invites_for(&u.user_name) {
            if self.invites[i].source != "scim" {
                return Err(ScimError {
                    status: StatusCode::CONFLICT,
                    scim_type: Some("uniqueness"),
                    detail: "A pending invite exists for this email".to_string(),
                });
            }
            scim_invite = Some(i);
        }
        if u.active && !self.seat_free() {
            return Err(ScimError::no_seats());
        }
        let outside = self.outside_accounts.contains(&u.user_name.to_lowercase());
        let membership = match (u.active, outside) {
            (false, _) => Membership::Deactivated,
            (true, true) => Membership::Invited,
            (true, false) => Membership::Active,
        };
        let idx = self.insert_member(Member {
            id: new_id(),
            user_name: u.user_name.clone(),
            given_name: u.given_name,
            family_name: u.family_name,
            external_id: u.external_id,
            display_name: u.display_name,
            locale: u.locale,
            membership,
            joined: !outside,
            role: "developer".to_string(),
            created: now,
            last_modified: now,
        });
        match (membership, scim_invite) {
            (Membership::Invited, None) => {
                self.push_invite(&u.user_name, "scim", None, now);
            }
            // A SCIM invite left from before is the one this member joins with; a member
            // created active has joined, so that invite is spent.
            (Membership::Active, Some(i)) => self.invites[i].status = InviteStatus::Accepted,
            _ => {}
        }
        Ok(idx)
    }

    /// Applies changes to one member atomically (PUT and PATCH): every change is checked
    /// before anything is written.
    pub fn apply_changes(
        &mut self,
        idx: usize,
        changes: &[Change],
        now: DateTime<Utc>,
    ) -> Result<(), ScimError> {
        let current = &self.members[idx];
        let mut next = current.clone();
        let mut want_active: Option<bool> = None;
        for c in changes {
            match c {
                Change::Active(a) => want_active = Some(*a),
                Change::Name { given, family } => {
                    next.given_name = given.clone();
                    next.family_name = family.clone();
                }
                Change::GivenName(g) => next.given_name = g.clone(),
                Change::FamilyName(f) => next.family_name = f.clone(),
                Change::UserName(u) => {
                    // userName is caseExact=false: a change of case is the same value.
                    if u.to_lowercase() != current.user_name.to_lowercase() {
                        return Err(ScimError::mutability("userName"));
                    }
                }
                Change::ExternalId(e) => match (&next.external_id, e) {
                    // RFC 7643 `immutable`: may be set while it has no value.
                    (None, Some(v)) => next.external_id = Some(v.clone()),
                    (_, None) => {}
                    (Some(old), Some(v)) if old == v => {}
                    _ => return Err(ScimError::mutability("externalId")),
                },
                Change::DisplayName(v) => {
                    if v.is_some() && *v != current.display_name {
                        return Err(ScimError::mutability("displayName"));
                    }
                }
                Change::Locale(v) => {
                    if v.is_some() && *v != current.locale {
                        return Err(ScimError::mutability("locale"));
                    }
                }
                Change::ReadOnly(attr) => {
                    return Err(ScimError::bad_request(
                        "mutability",
                        format!("Attribute '{attr}' is readOnly"),
                    ));
                }
            }
        }
        let reactivating =
            want_active == Some(true) && current.membership == Membership::Deactivated;
        if reactivating && !self.seat_free() {
            return Err(ScimError::no_seats());
        }
        let changed = next.given_name != current.given_name
            || next.family_name != current.family_name
            || next.external_id != current.external_id;
        if next.external_id != current.external_id
            && let Some(ext) = &next.external_id
        {
            self.by_external_id
                .entry(ext.clone())
                .or_default()
                .push(idx);
        }
        let m = &mut self.members[idx];
        m.given_name = next.given_name;
        m.family_name = next.family_name;
        m.external_id = next.external_id;
        if changed {
            self.touch(idx, now);
        }
        match want_active {
            Some(true) if reactivating => self.reactivate(idx, now),
            Some(false) if self.members[idx].membership != Membership::Deactivated => {
                self.deactivate(idx, now)
            }
            _ => {}
        }
        Ok(())
    }
}
