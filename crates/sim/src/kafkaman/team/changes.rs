//! What changes the team: members added, deactivated and reactivated; invites sent,
//! accepted and revoked; seats. Members created and patched through SCIM: `scim_changes.rs`.

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

    pub(super) fn push_invite(
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
                self.touch(i, now);
            }
            Some(i) if self.members[i].membership == Membership::Active => {}
            Some(i) => {
                if !self.seat_free() {
                    return Err(AdminError("no free seat".to_string()));
                }
                let m = &mut self.members[i];
                m.membership = Membership::Active;
                m.joined = true;
                self.touch(i, now);
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

    /// Admin op: what a team admin changes by hand in kafkaman's UI: the name, the role,
    /// deactivating (the seat is freed, a pending SCIM invite revoked) or reactivating
    /// (needs a free seat; someone who never joined is invited again). All or nothing;
    /// `meta.lastModified` moves only when something changed.
    pub fn update_member(
        &mut self,
        email: &str,
        update: MemberUpdate,
        now: DateTime<Utc>,
    ) -> Result<(), AdminError> {
        let Some(idx) = self.index_of_user_name(email) else {
            return Err(AdminError(format!("{email} is not a member")));
        };
        if update.role.as_deref().is_some_and(|r| r.trim().is_empty()) {
            return Err(AdminError("role must not be empty".to_string()));
        }
        let membership = self.members[idx].membership;
        let reactivating = update.active == Some(true) && membership == Membership::Deactivated;
        if reactivating && !self.seat_free() {
            return Err(AdminError(format!(
                "no free seat ({} of {} used)",
                self.seats_used, self.seats_total
            )));
        }
        let m = &mut self.members[idx];
        let mut changed = false;
        for (field, value) in [
            (&mut m.given_name, update.given_name),
            (&mut m.family_name, update.family_name),
        ] {
            if let Some(v) = value
                && field.as_deref() != Some(v.as_str())
            {
                *field = Some(v);
                changed = true;
            }
        }
        if let Some(role) = update.role
            && m.role != role
        {
            m.role = role;
            changed = true;
        }
        if changed {
            self.touch(idx, now);
        }
        match update.active {
            Some(true) if reactivating => self.reactivate(idx, now),
            Some(false) if membership != Membership::Deactivated => self.deactivate(idx, now),
            _ => {}
        }
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
            self.touch(m, now);
            self.seats_used -= 1;
        }
        true
    }

    // Deactivating and reactivating: shared by `update_member` (an admin) and SCIM's
    // `apply_changes` (`scim_changes.rs`).
    pub(super) fn deactivate(&mut self, idx: usize, now: DateTime<Utc>) {
        let email = self.members[idx].user_name.to_lowercase();
        let pending: Vec<usize> = self.pending_invites_for(&email).collect();
        for i in pending {
            if self.invites[i].source == "scim" {
                self.invites[i].status = InviteStatus::Revoked;
            }
        }
        self.members[idx].membership = Membership::Deactivated;
        self.touch(idx, now);
        self.seats_used -= 1;
    }

    pub(super) fn reactivate(&mut self, idx: usize, now: DateTime<Utc>) {
        self.touch(idx, now);
        let m = &mut self.members[idx];
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

    /// Invites matching `status` (any when `None`) and, when given, `email` (compared
    /// case-insensitively), from position `from` on; returns the page and the position
    /// to continue from when more match.
    pub fn invite_page(
        &self,
        status: Option<InviteStatus>,
        email: Option<&str>,
        from: usize,
        limit: usize,
    ) -> (Vec<usize>, Option<usize>) {
        let matches = |i: &usize| status.is_none_or(|s| self.invites[*i].status == s);
        // Positions in the invite list, ascending: one address's invites, or all.
        let candidates: Box<dyn Iterator<Item = usize> + '_> = match email {
            Some(e) => Box::new(
                self.invites_by_email
                    .get(&e.to_lowercase())
                    .into_iter()
                    .flatten()
                    .copied()
                    .filter(move |&i| i >= from),
            ),
            None => Box::new(from..self.invites.len()),
        };
        let mut hits = candidates.filter(matches);
        let page: Vec<usize> = hits.by_ref().take(limit).collect();
        let next = match page.last() {
            Some(&last) if page.len() == limit => hits.next().map(|_| last + 1),
            _ => None,
        };
        (page, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn team(members: usize) -> Team {
        let mut s = KafkamanScenario::default();
        for i in 0..members {
            s.members.push(MemberSpec {
                email: format!("m{i}@x.com"),
                given_name: Some("G".into()),
                family_name: Some("F".into()),
                external_id: None,
                active: true,
                membership: None,
                role: "developer".into(),
            });
        }
        Team::from_scenario(&s).unwrap()
    }

    /// Times after the team was made (its members were last changed then).
    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(4_000_000_000_000 + ms).unwrap()
    }

    fn names(team: &Team, since: DateTime<Utc>, inclusive: bool) -> Vec<String> {
        team.modified_since(since, inclusive)
            .map(|i| team.member_at(i).user_name.clone())
            .collect()
    }

    fn rename(team: &mut Team, idx: usize, given: &str, now: DateTime<Utc>) {
        team.apply_changes(idx, &[Change::GivenName(Some(given.into()))], now)
            .unwrap();
    }

    #[test]
    fn last_modified_is_whole_milliseconds_and_ordered_by_change() {
        let mut t = team(4);
        let t0 = at(0);
        // Two changes in one millisecond (sub-millisecond parts differ), one later.
        rename(&mut t, 2, "a", t0 + Duration::microseconds(900));
        rename(&mut t, 0, "b", t0 + Duration::microseconds(100));
        rename(&mut t, 3, "c", at(1));
        assert_eq!(t.member_at(2).last_modified, t0, "cut to the millisecond");
        // `ge` the millisecond has both, in creation order; `gt` it has neither.
        assert_eq!(names(&t, t0, true), ["m0@x.com", "m2@x.com", "m3@x.com"]);
        assert_eq!(names(&t, t0, false), ["m3@x.com"]);
        // A `since` inside the millisecond: the stamp t0 is before it.
        assert_eq!(
            names(&t, t0 + Duration::microseconds(500), true),
            ["m3@x.com"]
        );
        // A member changed again moves to the end, once.
        rename(&mut t, 0, "d", at(2));
        assert_eq!(names(&t, t0, true), ["m2@x.com", "m3@x.com", "m0@x.com"]);
        assert_eq!(t.by_modified.len(), 4, "one index entry per member");
    }

    #[test]
    fn every_kind_of_change_moves_last_modified_and_no_change_does_not() {
        let mut t = team(2);
        t.add_outside_account("out@x.com");
        let mut step = 0;
        let mut next = || {
            step += 1;
            at(step * 10)
        };
        // Same values again: not a change.
        let same = [Change::Name {
            given: Some("G".into()),
            family: Some("F".into()),
        }];
        let before = t.member_at(0).last_modified;
        t.apply_changes(0, &same, next()).unwrap();
        t.apply_changes(0, &[Change::Active(true)], next()).unwrap();
        assert_eq!(t.member_at(0).last_modified, before);

        let expect_touched = |t: &Team, idx: usize, now: DateTime<Utc>, what: &str| {
            assert_eq!(t.member_at(idx).last_modified, now, "{what}");
        };
        let now = next();
        t.apply_changes(0, &[Change::FamilyName(Some("X".into()))], now)
            .unwrap();
        expect_touched(&t, 0, now, "SCIM rename");
        let now = next();
        t.apply_changes(0, &[Change::Active(false)], now).unwrap();
        expect_touched(&t, 0, now, "SCIM deactivate");
        let now = next();
        t.apply_changes(0, &[Change::Active(true)], now).unwrap();
        expect_touched(&t, 0, now, "SCIM reactivate");
        let now = next();
        let update = |active, role: Option<&str>| MemberUpdate {
            active,
            role: role.map(str::to_string),
            ..MemberUpdate::default()
        };
        t.update_member("m1@x.com", update(Some(false), None), now)
            .unwrap();
        expect_touched(&t, 1, now, "admin deactivate");
        let now = next();
        t.update_member("M1@x.com", update(Some(true), None), now)
            .unwrap();
        expect_touched(&t, 1, now, "admin reactivate");
        let now = next();
        t.update_member("m1@x.com", update(None, Some("admin")), now)
            .unwrap();
        expect_touched(&t, 1, now, "admin role change");
        let unchanged = t.member_at(1).last_modified;
        t.update_member("m1@x.com", update(Some(true), Some("admin")), next())
            .unwrap();
        assert_eq!(t.member_at(1).last_modified, unchanged, "admin no-op");

        // invited → active on acceptance; a revoked SCIM invite deactivates.
        let now = next();
        let invited = t
            .create_user(
                NewUser {
                    user_name: "out@x.com".into(),
                    given_name: None,
                    family_name: None,
                    external_id: None,
                    display_name: None,
                    locale: None,
                    active: true,
                },
                now,
            )
            .unwrap();
        expect_touched(&t, invited, now, "create");
        let now = next();
        t.accept_invite("out@x.com", now).unwrap();
        expect_touched(&t, invited, now, "invite accepted");
        t.apply_changes(invited, &[Change::Active(false)], next())
            .unwrap();
        let now = next();
        t.apply_changes(invited, &[Change::Active(true)], now)
            .unwrap();
        expect_touched(&t, invited, now, "reactivated");
        assert_eq!(t.member_at(invited).membership, Membership::Active);

        t.add_outside_account("late@x.com");
        let late = t
            .create_user(
                NewUser {
                    user_name: "late@x.com".into(),
                    given_name: None,
                    family_name: None,
                    external_id: None,
                    display_name: None,
                    locale: None,
                    active: true,
                },
                next(),
            )
            .unwrap();
        let invite = t
            .invites()
            .iter()
            .find(|i| i.email == "late@x.com")
            .unwrap()
            .id
            .clone();
        let now = next();
        assert!(t.revoke_invite(&invite, now));
        expect_touched(&t, late, now, "SCIM invite revoked");
        assert_eq!(t.member_at(late).membership, Membership::Deactivated);

        // The index follows every change.
        let order: Vec<usize> = t.modified_since(at(0), true).collect();
        let mut by_time: Vec<usize> = (0..t.member_count()).collect();
        by_time.sort_by_key(|&i| (t.member_at(i).last_modified, i));
        assert_eq!(order, by_time);
        assert_eq!(t.by_modified.len(), t.member_count());
    }

    #[test]
    fn admin_updates_are_all_or_nothing() {
        let mut t = team(2);
        t.set_seats(2);
        t.update_member(
            "m0@x.com",
            MemberUpdate {
                active: Some(false),
                ..Default::default()
            },
            at(1),
        )
        .unwrap();
        t.add_member(
            MemberSpec {
                email: "m2@x.com".into(),
                given_name: None,
                family_name: None,
                external_id: None,
                active: true,
                membership: None,
                role: "developer".into(),
            },
            at(2),
        )
        .unwrap();
        let before = t.member_at(0).clone();
        let err = t
            .update_member(
                "m0@x.com",
                MemberUpdate {
                    given_name: Some("New".into()),
                    active: Some(true),
                    ..Default::default()
                },
                at(3),
            )
            .unwrap_err();
        assert!(err.0.contains("no free seat"), "{err}");
        assert_eq!(t.member_at(0).given_name, before.given_name);
        assert_eq!(t.member_at(0).last_modified, before.last_modified);
        assert!(
            t.update_member("nobody@x.com", MemberUpdate::default(), at(4))
                .is_err()
        );
        assert!(
            t.update_member(
                "m1@x.com",
                MemberUpdate {
                    role: Some(" ".into()),
                    ..Default::default()
                },
                at(4)
            )
            .is_err()
        );
    }

    #[test]
    fn invites_narrow_to_one_address_with_cursor_positions() {
        let mut t = team(0);
        for i in 0..5 {
            t.add_invite_at(&format!("o{i}@x.com"), "admin", None, at(0))
                .unwrap();
            t.add_invite_at(&format!("P+{i}@X.com"), "link", None, at(0))
                .unwrap();
        }
        // Only one pending invite per address: revoke and re-invite for a second one.
        let first = t.invites()[1].id.clone();
        assert!(t.revoke_invite(&first, at(1)));
        t.add_invite_at("p+0@x.com", "admin", None, at(1)).unwrap();
        let (page, next) = t.invite_page(None, Some("p+0@x.COM"), 0, 1);
        assert_eq!(page, [1]);
        let (page2, next2) = t.invite_page(None, Some("p+0@x.COM"), next.unwrap(), 1);
        assert_eq!(page2, [10]);
        assert_eq!(next2, None);
        let (pending, _) = t.invite_page(Some(InviteStatus::Pending), Some("P+0@x.com"), 0, 10);
        assert_eq!(pending, [10]);
        assert_eq!(t.invite_page(None, Some(""), 0, 10), (vec![], None));
        assert_eq!(t.invite_page(None, Some("p@x.com"), 0, 10), (vec![], None));
    }
}
