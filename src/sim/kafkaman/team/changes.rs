//! What changes the team: members added, created, patched, deactivated and reactivated; invites sent, accepted and revoked; seats.

use super::*;

impl Team {
    /// Admin op (and scenario): adds a member. Refuses duplicates and going over the seats.
    pub fn add_member(
        &mut self,
        spec: MemberSpec,
        now: DateTime<Utc>,
    ) -> Result<String, AdminError> {
        if self.index_of_user_name(&spec.email).is_some() {
            return Err(AdminError(format!("{} is already a member", spec.email)));
        }
        let membership = match spec.membership.as_deref() {
            Some("active") => Membership::Active,
            Some("invited") => Membership::Invited,
            Some("deactivated") => Membership::Deactivated,
            Some(other) => {
                return Err(AdminError(format!(
                    "membership {other:?}: expected active, invited or deactivated"
                )));
            }
            None if spec.active => Membership::Active,
            None => Membership::Deactivated,
        };
        if membership.holds_seat() && !self.seat_free() {
            return Err(AdminError(format!(
                "no free seat ({} of {} used)",
                self.seats_used, self.seats_total
            )));
        }
        let id = new_id();
        let email = spec.email.clone();
        self.insert_member(Member {
            id: id.clone(),
            user_name: spec.email,
            given_name: spec.given_name,
            family_name: spec.family_name,
            external_id: spec.external_id,
            display_name: None,
            locale: None,
            membership,
            joined: membership != Membership::Invited,
            role: spec.role,
            created: now,
            last_modified: now,
        });
        if membership == Membership::Invited {
            self.add_outside_account(&email);
            self.push_invite(&email, "scim", None, now);
        }
        Ok(id)
    }

    pub fn add_outside_account(&mut self, email: &str) {
        self.outside_accounts.insert(email.to_lowercase());
    }

    fn push_invite(
        &mut self,
        email: &str,
        source: &str,
        invited_by: Option<String>,
        created: DateTime<Utc>,
    ) -> String {
        let idx = self.invites.len();
        let id = new_id();
        self.invites.push(Invite {
            id: id.clone(),
            email: email.to_string(),
            source: source.to_string(),
            status: InviteStatus::Pending,
            invited_by,
            created_at: created,
            expires_at: created + Duration::days(INVITE_VALIDITY_DAYS),
        });
        self.invite_by_id.insert(id.clone(), idx);
        self.invites_by_email
            .entry(email.to_lowercase())
            .or_default()
            .push(idx);
        id
    }

    /// Admin op: a pending invite for someone who isn't an active or invited member.
    pub fn add_invite_at(
        &mut self,
        email: &str,
        source: &str,
        invited_by: Option<String>,
        created: DateTime<Utc>,
    ) -> Result<String, AdminError> {
        if !INVITE_SOURCES.contains(&source) {
            return Err(AdminError(format!(
                "invite source {source:?}: expected one of {}",
                INVITE_SOURCES.join(", ")
            )));
        }
        if let Some(i) = self.index_of_user_name(email)
            && self.members[i].membership != Membership::Deactivated
        {
            return Err(AdminError(format!("{email} is already a member")));
        }
        if self.pending_invites_for(email).next().is_some() {
            return Err(AdminError(format!("{email} already has a pending invite")));
        }
        Ok(self.push_invite(email, source, invited_by, created))
    }

    /// Admin op: the invited person accepts. An invited member turns active; someone
    /// invited by an admin, link or request joins as a new active member.
    pub fn accept_invite(&mut self, email: &str, now: DateTime<Utc>) -> Result<(), AdminError> {
        let Some(inv) = self.pending_invites_for(email).next() else {
            return Err(AdminError(format!("{email} has no pending invite")));
        };
        match self.index_of_user_name(email) {
            Some(i) if self.members[i].membership == Membership::Invited => {
                let m = &mut self.members[i];
                m.membership = Membership::Active;
                m.joined = true;
                m.last_modified = now;
            }
            Some(i) if self.members[i].membership == Membership::Active => {}
            Some(i) => {
                if !self.seat_free() {
                    return Err(AdminError("no free seat".to_string()));
                }
                let m = &mut self.members[i];
                m.membership = Membership::Active;
                m.joined = true;
                m.last_modified = now;
                self.seats_used += 1;
            }
            None => {
                if !self.seat_free() {
                    return Err(AdminError("no free seat".to_string()));
                }
                self.insert_member(Member {
                    id: new_id(),
                    user_name: self.invites[inv].email.clone(),
                    given_name: None,
                    family_name: None,
                    external_id: None,
                    display_name: None,
                    locale: None,
                    membership: Membership::Active,
                    joined: true,
                    role: "developer".to_string(),
                    created: now,
                    last_modified: now,
                });
            }
        }
        self.invites[inv].status = InviteStatus::Accepted;
        Ok(())
    }

    pub fn set_seats(&mut self, seats: u32) {
        self.seats_total = seats;
    }

    /// Team API: revokes a pending invite. An invited member whose SCIM invite is revoked
    /// can no longer join, so it ends up deactivated (its seat is freed).
    pub fn revoke_invite(&mut self, id: &str, now: DateTime<Utc>) -> bool {
        let Some(&idx) = self.invite_by_id.get(id) else {
            return false;
        };
        if self.invites[idx].status != InviteStatus::Pending {
            return false;
        }
        self.invites[idx].status = InviteStatus::Revoked;
        if let Some(m) = self.index_of_user_name(&self.invites[idx].email.clone())
            && self.members[m].membership == Membership::Invited
        {
            self.members[m].membership = Membership::Deactivated;
            self.members[m].last_modified = now;
            self.seats_used -= 1;
        }
        true
    }

    // ---- SCIM operations ---------------------------------------------------------------

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
            m.last_modified = now;
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

    fn deactivate(&mut self, idx: usize, now: DateTime<Utc>) {
        let email = self.members[idx].user_name.to_lowercase();
        let pending: Vec<usize> = self.pending_invites_for(&email).collect();
        for i in pending {
            if self.invites[i].source == "scim" {
                self.invites[i].status = InviteStatus::Revoked;
            }
        }
        let m = &mut self.members[idx];
        m.membership = Membership::Deactivated;
        m.last_modified = now;
        self.seats_used -= 1;
    }

    fn reactivate(&mut self, idx: usize, now: DateTime<Utc>) {
        let m = &mut self.members[idx];
        m.last_modified = now;
        if m.joined {
            m.membership = Membership::Active;
        } else {
            // They never accepted: kafkaman invites them again.
            m.membership = Membership::Invited;
            let email = m.user_name.clone();
            if self.pending_invites_for(&email).next().is_none() {
                self.push_invite(&email, "scim", None, now);
            }
        }
        self.seats_used += 1;
    }

    /// Pending-or-not invites matching `status`, from position `from` on; returns the
    /// page and the position to continue from when more match.
    pub fn invite_page(
        &self,
        status: Option<InviteStatus>,
        from: usize,
        limit: usize,
    ) -> (Vec<usize>, Option<usize>) {
        let mut page = Vec::new();
        let matches = |i: &usize| status.is_none_or(|s| self.invites[*i].status == s);
        for i in (from..self.invites.len()).filter(matches) {
            page.push(i);
            if page.len() == limit {
                break;
            }
        }
        let next = match page.last() {
            Some(&last) if page.len() == limit => (last + 1..self.invites.len())
                .find(|i| matches(i))
                .map(|_| last + 1),
            _ => None,
        };
        (page, next)
    }
}
