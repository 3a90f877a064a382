//! The admin operations that change the org (what an Okta admin does in the console),
//! each emitting the System Log events Okta would.

use super::*;

impl Org {
    pub fn create_user(&mut self, spec: &OktaUserSpec) -> Result<String, OrgError> {
        let at = self.now();
        let id = self.insert_user(spec, at)?;
        self.lifecycle_event(
            &id,
            at,
            "user.lifecycle.create",
            "Create Okta user",
            "core.user.config.user_creation.success",
        );
        if self.status_of(&id) == Some(UserStatus::Active) {
            self.lifecycle_event(
                &id,
                at,
                "user.lifecycle.activate",
                "Activate Okta user",
                "core.user.config.user_activated",
            );
        }
        Ok(id)
    }

    /// Partial profile update (Okta's POST semantics): given attributes replace, `null` clears.
    pub fn update_profile(
        &mut self,
        user: &str,
        changes: &Map<String, Value>,
    ) -> Result<(), OrgError> {
        let uid = self.user_ref(user)?;
        let at = self.now();
        let old_login = self
            .users
            .get(&uid)
            .map(|u| u.login().to_string())
            .unwrap_or_default();
        if let Some(Value::String(new_login)) = changes.get("login") {
            let key = new_login.to_lowercase();
            if let Some(other) = self.logins.get(&key)
                && *other != uid
            {
                return Err(OrgError::Conflict(format!(
                    "login: An object with this field already exists in the current organization ({new_login})"
                )));
            }
        }
        if matches!(changes.get("login"), Some(v) if !v.is_string())
            || matches!(changes.get("email"), Some(v) if !v.is_string())
        {
            return Err(OrgError::Conflict("login and email must be strings".into()));
        }
        let mut from = Map::new();
        let mut to = Map::new();
        if let Some(u) = self.users.get_mut(&uid) {
            for (k, v) in changes {
                let old = u.profile.get(k).cloned().unwrap_or(Value::Null);
                if old != *v {
                    from.insert(k.clone(), old);
                    to.insert(k.clone(), v.clone());
                }
                if v.is_null() && k != "firstName" && k != "lastName" {
                    u.profile.remove(k);
                } else {
                    u.profile.insert(k.clone(), v.clone());
                }
            }
            u.last_updated = at;
        }
        let new_login = self
            .users
            .get(&uid)
            .map(|u| u.login().to_string())
            .unwrap_or_default();
        if new_login != old_login {
            self.logins.remove(&old_login.to_lowercase());
            self.logins.insert(new_login.to_lowercase(), uid.clone());
        }
        if let Some(row) = self.app_users.get_mut(&uid) {
            row.last_updated = at;
        }
        let mut target = self.user_target(&uid);
        target["changeDetails"] = json!({"from": from, "to": to});
        self.emit(
            at,
            "user.account.update_profile",
            "Update user profile for Okta",
            "core.user.config.profile_update.success",
            vec![target],
        );
        if new_login != old_login && self.app_users.contains_key(&uid) {
            let t = self.app_membership_targets(&uid);
            self.emit(
                at,
                "application.user_membership.change_username",
                "Change user's username for application",
                "app.generic.provision.change_username",
                t,
            );
        }
        Ok(())
    }

    /// Deactivation: status DEPROVISIONED; every direct assignment is removed (group
    /// memberships stay, but give no app access while deprovisioned).
    pub fn deactivate_user(&mut self, user: &str) -> Result<(), OrgError> {
        let uid = self.user_ref(user)?;
        if self.status_of(&uid) == Some(UserStatus::Deprovisioned) {
            return Err(OrgError::Conflict(format!(
                "user {user} is already DEPROVISIONED"
            )));
        }
        let at = self.now();
        self.set_status(&uid, UserStatus::Deprovisioned, at);
        self.lifecycle_event(
            &uid,
            at,
            "user.lifecycle.deactivate",
            "Deactivate Okta user",
            "core.user.config.user_deactivated",
        );
        self.direct.remove(&uid);
        self.resync(&uid, at);
        Ok(())
    }

    /// Deletion: only of a DEPROVISIONED user (Okta deactivates first); the user, its
    /// login and its group memberships are gone, and lookups answer 404.
    pub fn delete_user(&mut self, user: &str) -> Result<(), OrgError> {
        let uid = self.user_ref(user)?;
        if self.status_of(&uid) != Some(UserStatus::Deprovisioned) {
            return Err(OrgError::Conflict(format!(
                "delete: user {user} is not DEPROVISIONED; Okta deletes only deactivated users"
            )));
        }
        let at = self.now();
        self.lifecycle_event(
            &uid,
            at,
            "user.lifecycle.delete.initiated",
            "Delete Okta user initiated",
            "core.user.config.user_deletion.initiated",
        );
        self.lifecycle_event(
            &uid,
            at,
            "user.lifecycle.delete.completed",
            "Delete Okta user completed",
            "core.user.config.user_deletion.success",
        );
        self.direct.remove(&uid);
        self.app_users.remove(&uid);
        if let Some(u) = self.users.remove(&uid) {
            self.logins.remove(&u.login().to_lowercase());
            for gid in &u.groups {
                if let Some(g) = self.groups.get_mut(gid) {
                    g.members.remove(&uid);
                    g.last_membership_updated = at;
                }
            }
        }
        Ok(())
    }

    /// Activation: only from STAGED or DEPROVISIONED (Okta's rule); the user turns ACTIVE
    /// and group-derived app assignments come back.
    pub fn activate_user(&mut self, user: &str) -> Result<(), OrgError> {
        let uid = self.user_ref(user)?;
        match self.status_of(&uid) {
            Some(UserStatus::Staged | UserStatus::Deprovisioned) => {}
            Some(s) => {
                return Err(OrgError::Conflict(format!(
                    "activate: user {user} is {}; Okta activates only STAGED or DEPROVISIONED users",
                    s.as_str()
                )));
            }
            None => return Err(OrgError::NotFound(format!("no Okta user {user}"))),
        }
        let at = self.now();
        self.set_status(&uid, UserStatus::Active, at);
        if let Some(u) = self.users.get_mut(&uid) {
            u.activated = Some(at);
        }
        self.lifecycle_event(
            &uid,
            at,
            "user.lifecycle.activate",
            "Activate Okta user",
            "core.user.config.user_activated",
        );
        // The assignment the deactivation took comes back: Okta logs a restore (Okta
        // support, "Why Event Type application.user_membership.restore is Triggered").
        self.resync_as(&uid, at, "application.user_membership.restore");
        Ok(())
    }

    /// Reactivation: only from PROVISIONED or RECOVERY (Okta's rule; a deactivated user is
    /// brought back with `activate`). The sim completes the flow at once: ACTIVE.
    pub fn reactivate_user(&mut self, user: &str) -> Result<(), OrgError> {
        let uid = self.user_ref(user)?;
        match self.status_of(&uid) {
            Some(UserStatus::Provisioned | UserStatus::Recovery) => {}
            Some(s) => {
                return Err(OrgError::Conflict(format!(
                    "reactivate: user {user} is {}; Okta reactivates only PROVISIONED or RECOVERY users (use activate for DEPROVISIONED ones)",
                    s.as_str()
                )));
            }
            None => return Err(OrgError::NotFound(format!("no Okta user {user}"))),
        }
        let at = self.now();
        self.set_status(&uid, UserStatus::Active, at);
        self.lifecycle_event(
            &uid,
            at,
            "user.lifecycle.reactivate",
            "Reactivate Okta user",
            "core.user.config.user_reactivated",
        );
        self.resync(&uid, at);
        Ok(())
    }

    /// Suspension: only from ACTIVE; assignments are kept.
    pub fn suspend_user(&mut self, user: &str) -> Result<(), OrgError> {
        let uid = self.user_ref(user)?;
        if self.status_of(&uid) != Some(UserStatus::Active) {
            return Err(OrgError::Conflict(format!(
                "suspend: user {user} is not ACTIVE"
            )));
        }
        let at = self.now();
        self.set_status(&uid, UserStatus::Suspended, at);
        self.lifecycle_event(
            &uid,
            at,
            "user.lifecycle.suspend",
            "Suspend Okta user",
            "core.user.config.user_suspended",
        );
        Ok(())
    }

    pub fn unsuspend_user(&mut self, user: &str) -> Result<(), OrgError> {
        let uid = self.user_ref(user)?;
        if self.status_of(&uid) != Some(UserStatus::Suspended) {
            return Err(OrgError::Conflict(format!(
                "unsuspend: user {user} is not SUSPENDED"
            )));
        }
        let at = self.now();
        self.set_status(&uid, UserStatus::Active, at);
        self.lifecycle_event(
            &uid,
            at,
            "user.lifecycle.unsuspend",
            "Unsuspend Okta user",
            "core.user.config.user_unsuspended",
        );
        Ok(())
    }

    pub fn assign_user(&mut self, user: &str) -> Result<(), OrgError> {
        let uid = self.user_ref(user)?;
        if self.status_of(&uid) == Some(UserStatus::Deprovisioned) {
            return Err(OrgError::Conflict(format!(
                "assign: user {user} is DEPROVISIONED; Okta doesn't assign apps to deactivated users"
            )));
        }
        if !self.direct.insert(uid.clone()) {
            return Err(OrgError::Conflict(format!(
                "user {user} is already assigned to the app"
            )));
        }
        let at = self.now();
        if let Some(row) = self.app_users.get_mut(&uid) {
            // Was in through a group; now a direct assignment (scope USER).
            row.last_updated = at;
        }
        self.resync(&uid, at);
        Ok(())
    }

    pub fn unassign_user(&mut self, user: &str) -> Result<(), OrgError> {
        let uid = self.user_ref(user)?;
        if !self.direct.remove(&uid) {
            return Err(OrgError::NotFound(format!(
                "user {user} is not directly assigned to the app"
            )));
        }
        let at = self.now();
        if let Some(row) = self.app_users.get_mut(&uid) {
            row.last_updated = at;
        }
        self.resync(&uid, at);
        Ok(())
    }

    pub fn assign_group(&mut self, group: &str) -> Result<(), OrgError> {
        let gid = self.group_ref(group)?;
        if self.group_assignments.contains_key(&gid) {
            return Err(OrgError::Conflict(format!(
                "group {group} is already assigned to the app"
            )));
        }
        let at = self.now();
        let priority = self
            .group_assignments
            .values()
            .map(|a| a.priority + 1)
            .max()
            .unwrap_or(0);
        self.group_assignments.insert(
            gid.clone(),
            GroupAssignment {
                priority,
                last_updated: at,
            },
        );
        let t = vec![self.app_target(), self.group_target(&gid)];
        self.emit(
            at,
            "group.application_assignment.add",
            "Add assigned application to group",
            "core.group.application_assignment.add",
            t,
        );
        let members: Vec<String> = self
            .groups
            .get(&gid)
            .map(|g| g.members.iter().cloned().collect())
            .unwrap_or_default();
        for uid in members {
            self.resync(&uid, at);
        }
        Ok(())
    }

    pub fn unassign_group(&mut self, group: &str) -> Result<(), OrgError> {
        let gid = self.group_ref(group)?;
        if self.group_assignments.remove(&gid).is_none() {
            return Err(OrgError::NotFound(format!(
                "group {group} is not assigned to the app"
            )));
        }
        let at = self.now();
        let t = vec![self.app_target(), self.group_target(&gid)];
        self.emit(
            at,
            "group.application_assignment.remove",
            "Remove assigned application from group",
            "core.group.application_assignment.remove",
            t,
        );
        let members: Vec<String> = self
            .groups
            .get(&gid)
            .map(|g| g.members.iter().cloned().collect())
            .unwrap_or_default();
        for uid in members {
            self.resync(&uid, at);
        }
        Ok(())
    }

    pub fn add_group_member(&mut self, group: &str, user: &str) -> Result<(), OrgError> {
        let gid = self.group_ref(group)?;
        let uid = self.user_ref(user)?;
        let at = self.now();
        let added = match self.groups.get_mut(&gid) {
            Some(g) => g.members.insert(uid.clone()),
            None => false,
        };
        if !added {
            return Err(OrgError::Conflict(format!(
                "user {user} is already a member of group {group}"
            )));
        }
        if let Some(g) = self.groups.get_mut(&gid) {
            g.last_membership_updated = at;
        }
        if let Some(u) = self.users.get_mut(&uid) {
            u.groups.insert(gid.clone());
        }
        let t = vec![self.user_target(&uid), self.group_target(&gid)];
        self.emit(
            at,
            "group.user_membership.add",
            "Add user to group membership",
            "core.user_group_member.user_add",
            t,
        );
        self.resync(&uid, at);
        Ok(())
    }

    pub fn remove_group_member(&mut self, group: &str, user: &str) -> Result<(), OrgError> {
        let gid = self.group_ref(group)?;
        let uid = self.user_ref(user)?;
        let at = self.now();
        let removed = match self.groups.get_mut(&gid) {
            Some(g) => g.members.remove(&uid),
            None => false,
        };
        if !removed {
            return Err(OrgError::NotFound(format!(
                "user {user} is not a member of group {group}"
            )));
        }
        if let Some(g) = self.groups.get_mut(&gid) {
            g.last_membership_updated = at;
        }
        if let Some(u) = self.users.get_mut(&uid) {
            u.groups.remove(&gid);
        }
        let t = vec![self.user_target(&uid), self.group_target(&gid)];
        self.emit(
            at,
            "group.user_membership.remove",
            "Remove user from group membership",
            "core.user_group_member.user_remove",
            t,
        );
        self.resync(&uid, at);
        Ok(())
    }

    /// Sets the AppUser's `externalId` (as an import confirm would); its status becomes
    /// PROVISIONED, or ACTIVE again when cleared.
    pub fn set_external_id(
        &mut self,
        user: &str,
        external_id: Option<String>,
    ) -> Result<(), OrgError> {
        let uid = self.user_ref(user)?;
        let at = self.now();
        let row = self
            .app_users
            .get_mut(&uid)
            .ok_or_else(|| OrgError::NotFound(format!("user {user} is not assigned to the app")))?;
        if row.external_id != external_id {
            row.external_id = external_id;
            row.last_updated = at;
            row.status_changed = at;
        }
        Ok(())
    }
}
