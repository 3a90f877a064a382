//! The simulated org's data and the indexes kept over it (admin operations: `admin.rs`,
//! the System Log events they emit: `events.rs`).
//!
//! Users live in a `BTreeMap` by id, which is also the order of every listing and what
//! cursors point into. The app's assigned users (`app_users`) are an index kept up to
//! date on every change by re-deciding eligibility for the users a change touches, so a
//! page of app users is a range read, not a scan of the org.

mod admin;
mod events;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

use crate::scenario::{AppUsernameFormat, OktaScenario, OktaUserSpec};

pub type Ts = DateTime<Utc>;

/// Now, truncated to milliseconds (Okta's timestamps carry milliseconds only).
pub fn now() -> Ts {
    let t = Utc::now();
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

impl Org {
    /// A user's app username: their override, else the app's username format applied.
    pub fn app_username(&self, u: &User) -> String {
        if let Some(name) = &u.app_username {
            return name.clone();
        }
        let email = u.profile.get("email").and_then(Value::as_str);
        self.app_username_format.apply(u.login(), email)
    }

    /// Now by this org's clock.
    pub fn now(&self) -> Ts {
        now() + self.clock_offset
    }
}

/// Okta's timestamp format: `2014-06-24T15:28:14.000Z`.
pub fn fmt_ts(t: &Ts) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A random id in Okta's shape: a 3-character type prefix and 17 base62 characters.
pub fn new_okta_id(prefix: &str) -> String {
    let mut s = String::with_capacity(20);
    s.push_str(prefix);
    for _ in 0..17 {
        s.push(BASE62[fastrand::usize(..BASE62.len())] as char);
    }
    s
}

/// A random base62 string of `n` characters (request ids, error ids, tokens).
pub fn random_base62(n: usize) -> String {
    (0..n)
        .map(|_| BASE62[fastrand::usize(..BASE62.len())] as char)
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserStatus {
    Active,
    Deprovisioned,
    LockedOut,
    PasswordExpired,
    Provisioned,
    Recovery,
    Staged,
    Suspended,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "ACTIVE",
            UserStatus::Deprovisioned => "DEPROVISIONED",
            UserStatus::LockedOut => "LOCKED_OUT",
            UserStatus::PasswordExpired => "PASSWORD_EXPIRED",
            UserStatus::Provisioned => "PROVISIONED",
            UserStatus::Recovery => "RECOVERY",
            UserStatus::Staged => "STAGED",
            UserStatus::Suspended => "SUSPENDED",
        }
    }

    pub fn parse(s: &str) -> Option<UserStatus> {
        Some(match s {
            "ACTIVE" => UserStatus::Active,
            "DEPROVISIONED" => UserStatus::Deprovisioned,
            "LOCKED_OUT" => UserStatus::LockedOut,
            "PASSWORD_EXPIRED" => UserStatus::PasswordExpired,
            "PROVISIONED" => UserStatus::Provisioned,
            "RECOVERY" => UserStatus::Recovery,
            "STAGED" => UserStatus::Staged,
            "SUSPENDED" => UserStatus::Suspended,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub status: UserStatus,
    pub created: Ts,
    pub activated: Option<Ts>,
    pub status_changed: Option<Ts>,
    pub last_updated: Ts,
    pub password_changed: Option<Ts>,
    /// `login`, `email`, `firstName`, `lastName` and any extra attributes.
    pub profile: Map<String, Value>,
    /// Ids of the groups the user is a member of.
    pub groups: BTreeSet<String>,
    /// An app username set for this user instead of the app's format.
    pub app_username: Option<String>,
    /// App user profile values that differ from the user's.
    pub app_profile: Map<String, Value>,
}

impl User {
    pub fn login(&self) -> &str {
        self.profile
            .get("login")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    pub fn display_name(&self) -> String {
        let part = |k: &str| {
            self.profile
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let name = format!("{} {}", part("firstName"), part("lastName"));
        let name = name.trim();
        if name.is_empty() {
            self.login().to_string()
        } else {
            name.to_string()
        }
    }
}

#[derive(Debug, Clone)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub created: Ts,
    pub last_updated: Ts,
    pub last_membership_updated: Ts,
    pub members: BTreeSet<String>,
}

/// The app's assignment of one group.
#[derive(Debug, Clone)]
pub struct GroupAssignment {
    pub priority: u32,
    pub last_updated: Ts,
}

/// One AppUser row (the user is assigned, directly or through a group).
#[derive(Debug, Clone)]
pub struct AppUserRow {
    /// The assignment's own id (`0ua…`): only System Log events show it, as the `AppUser`
    /// target (the API's `AppUser.id` is the user's id).
    pub id: String,
    pub created: Ts,
    pub last_updated: Ts,
    pub status_changed: Ts,
    pub external_id: Option<String>,
}

/// One System Log event; `seq` is its persistence order (what polling cursors point at).
#[derive(Debug, Clone)]
pub struct LogEntry {
    pub seq: u64,
    /// When the change happened, less up to `log_jitter` (Okta's `published` need not
    /// follow persistence order).
    pub published: Ts,
    /// When `/api/v1/logs` starts serving it: the change plus `log_delay` at the time.
    pub visible_at: Ts,
    pub event: Value,
}

/// Why an admin operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrgError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
}

/// The admin who makes the changes done through the simulator's control API.
pub const ADMIN_ID: &str = "00usimadmin0000000001";

#[derive(Debug)]
pub struct Org {
    pub app_id: String,
    pub app_label: String,
    pub app_username_format: AppUsernameFormat,
    pub app_created: Ts,
    pub users: BTreeMap<String, User>,
    /// Lowercased login -> user id.
    pub logins: HashMap<String, String>,
    pub groups: BTreeMap<String, Group>,
    /// Users assigned to the app directly (scope USER).
    pub direct: BTreeSet<String>,
    /// Groups assigned to the app.
    pub group_assignments: BTreeMap<String, GroupAssignment>,
    /// The app's users: direct assignments plus non-deprovisioned members of assigned groups.
    pub app_users: BTreeMap<String, AppUserRow>,
    pub log: Vec<LogEntry>,
    /// How long after a change its events become visible to `/api/v1/logs`.
    pub log_delay: Duration,
    /// Events' `published` is the change's time less a random part of this.
    pub log_jitter: Duration,
    /// How far this org's clock is from the host's (a test's "Okta is ahead").
    pub clock_offset: Duration,
}

/// The longest System Log delay or jitter the simulator takes (a day); longer is capped.
pub const MAX_LOG_TIMING_MS: u64 = 86_400_000;

/// A scenario's milliseconds as chrono's, capped at [`MAX_LOG_TIMING_MS`].
pub fn ms_i64(ms: u64) -> i64 {
    // At most 86_400_000: always fits.
    ms.min(MAX_LOG_TIMING_MS) as i64
}

/// A user to create; `login` is required, everything else has Okta's defaults.
fn profile_from_spec(spec: &OktaUserSpec) -> Map<String, Value> {
    let mut p = Map::new();
    p.insert("login".into(), Value::String(spec.login.clone()));
    p.insert(
        "email".into(),
        Value::String(spec.email.clone().unwrap_or_else(|| spec.login.clone())),
    );
    p.insert(
        "firstName".into(),
        spec.first_name
            .clone()
            .map(Value::String)
            .unwrap_or(Value::Null),
    );
    p.insert(
        "lastName".into(),
        spec.last_name
            .clone()
            .map(Value::String)
            .unwrap_or(Value::Null),
    );
    for (k, v) in &spec.profile {
        p.insert(k.clone(), v.clone());
    }
    p
}

impl Org {
    /// Builds the org a scenario describes, as it would be after its history (no events).
    pub fn from_scenario(sc: &OktaScenario) -> Result<Org, OrgError> {
        let start = now() - Duration::days(1);
        let mut org = Org {
            app_id: sc.app_id.clone(),
            app_label: sc.app_label.clone(),
            app_username_format: sc.app_username_format,
            app_created: start - Duration::days(30),
            users: BTreeMap::new(),
            logins: HashMap::new(),
            groups: BTreeMap::new(),
            direct: BTreeSet::new(),
            group_assignments: BTreeMap::new(),
            app_users: BTreeMap::new(),
            log: Vec::new(),
            log_delay: Duration::milliseconds(ms_i64(sc.log_delay_ms)),
            log_jitter: Duration::milliseconds(ms_i64(sc.log_jitter_ms)),
            clock_offset: Duration::zero(),
        };
        for spec in &sc.users {
            org.insert_user(spec, start)?;
        }
        for g in &sc.groups {
            let id = g.id.clone().unwrap_or_else(|| org.fresh_id("00g"));
            let mut members = BTreeSet::new();
            for m in &g.members {
                let uid = org
                    .resolve_user(m)
                    .ok_or_else(|| OrgError::NotFound(format!("group {}: no user {m}", g.name)))?;
                members.insert(uid.clone());
                if let Some(u) = org.users.get_mut(&uid) {
                    u.groups.insert(id.clone());
                }
            }
            org.groups.insert(
                id.clone(),
                Group {
                    id,
                    name: g.name.clone(),
                    description: g.description.clone(),
                    created: start,
                    last_updated: start,
                    last_membership_updated: start,
                    members,
                },
            );
        }
        for (i, r) in sc.assignments.groups.iter().enumerate() {
            let gid = org
                .resolve_group(r)
                .ok_or_else(|| OrgError::NotFound(format!("no group {r}")))?;
            org.group_assignments.insert(
                gid,
                GroupAssignment {
                    priority: i as u32,
                    last_updated: start,
                },
            );
        }
        for r in &sc.assignments.users {
            let uid = org
                .resolve_user(r)
                .ok_or_else(|| OrgError::NotFound(format!("no user {r}")))?;
            // Okta removes a deactivated user's assignments; a scenario can't have one.
            if org.users.get(&uid).map(|u| u.status) == Some(UserStatus::Deprovisioned) {
                tracing::warn!(user = %r, "scenario assigns a DEPROVISIONED user; ignored as Okta would");
                continue;
            }
            org.direct.insert(uid);
        }
        let ids: Vec<String> = org.users.keys().cloned().collect();
        for uid in ids {
            if org.should_be_app_user(&uid) {
                org.app_users.insert(
                    uid,
                    AppUserRow {
                        id: new_okta_id("0ua"),
                        created: start,
                        last_updated: start,
                        status_changed: start,
                        external_id: None,
                    },
                );
            }
        }
        Ok(org)
    }

    fn fresh_id(&self, prefix: &str) -> String {
        loop {
            let id = new_okta_id(prefix);
            if !self.users.contains_key(&id) && !self.groups.contains_key(&id) {
                return id;
            }
        }
    }

    fn insert_user(&mut self, spec: &OktaUserSpec, at: Ts) -> Result<String, OrgError> {
        let status = UserStatus::parse(&spec.status)
            .ok_or_else(|| OrgError::Conflict(format!("unknown user status {}", spec.status)))?;
        let key = spec.login.to_lowercase();
        if self.logins.contains_key(&key) {
            return Err(OrgError::Conflict(format!(
                "login: An object with this field already exists in the current organization ({})",
                spec.login
            )));
        }
        let id = match &spec.id {
            Some(id) if self.users.contains_key(id) => {
                return Err(OrgError::Conflict(format!("user id {id} already exists")));
            }
            Some(id) => id.clone(),
            None => self.fresh_id("00u"),
        };
        let activated = match status {
            UserStatus::Staged | UserStatus::Provisioned => None,
            _ => Some(at),
        };
        let user = User {
            id: id.clone(),
            status,
            created: at,
            activated,
            status_changed: activated,
            last_updated: at,
            password_changed: activated,
            profile: profile_from_spec(spec),
            groups: BTreeSet::new(),
            app_username: spec.app_username.clone(),
            app_profile: spec.app_profile.clone(),
        };
        self.logins.insert(key, id.clone());
        self.users.insert(id.clone(), user);
        Ok(id)
    }

    /// A user id by id or login (case-insensitive).
    pub fn resolve_user(&self, r: &str) -> Option<String> {
        if self.users.contains_key(r) {
            return Some(r.to_string());
        }
        self.logins.get(&r.to_lowercase()).cloned()
    }

    /// A group id by id or name (exact, then case-insensitive).
    pub fn resolve_group(&self, r: &str) -> Option<String> {
        if self.groups.contains_key(r) {
            return Some(r.to_string());
        }
        self.groups
            .values()
            .find(|g| g.name == r)
            .or_else(|| {
                self.groups
                    .values()
                    .find(|g| g.name.eq_ignore_ascii_case(r))
            })
            .map(|g| g.id.clone())
    }

    fn user_ref(&self, r: &str) -> Result<String, OrgError> {
        self.resolve_user(r)
            .ok_or_else(|| OrgError::NotFound(format!("no Okta user {r}")))
    }

    fn group_ref(&self, r: &str) -> Result<String, OrgError> {
        self.resolve_group(r)
            .ok_or_else(|| OrgError::NotFound(format!("no Okta group {r}")))
    }

    /// The assigned group through which a user gets the app (highest priority first).
    pub fn source_group(&self, uid: &str) -> Option<&str> {
        let u = self.users.get(uid)?;
        u.groups
            .iter()
            .filter_map(|g| self.group_assignments.get(g).map(|a| (a.priority, g)))
            .min()
            .map(|(_, g)| g.as_str())
    }

    fn should_be_app_user(&self, uid: &str) -> bool {
        if self.direct.contains(uid) {
            return true;
        }
        match self.users.get(uid) {
            Some(u) if u.status != UserStatus::Deprovisioned => self.source_group(uid).is_some(),
            _ => false,
        }
    }

    /// Re-decides whether a user is an app user after a change, adding or removing the
    /// AppUser row and logging it the way Okta does.
    fn resync(&mut self, uid: &str, at: Ts) {
        self.resync_as(uid, at, "application.user_membership.add");
    }

    /// [`Org::resync`], logging a gained assignment as `added` (`…add`, or `…restore`
    /// when an activation brings back what the deactivation took).
    pub(super) fn resync_as(&mut self, uid: &str, at: Ts, added: &str) {
        let should = self.should_be_app_user(uid);
        let is = self.app_users.contains_key(uid);
        if should && !is {
            self.app_users.insert(
                uid.to_string(),
                AppUserRow {
                    id: new_okta_id("0ua"),
                    created: at,
                    last_updated: at,
                    status_changed: at,
                    external_id: None,
                },
            );
            let targets = self.app_membership_targets(uid);
            self.emit(
                at,
                added,
                "Add user to application membership",
                "app.generic.provision.assign_user_to_app",
                targets,
            );
        } else if !should && is {
            let targets = self.app_membership_targets(uid);
            self.app_users.remove(uid);
            self.emit(
                at,
                "application.user_membership.remove",
                "Remove user from application membership",
                "app.generic.unprovision.user",
                targets,
            );
        }
    }

    fn set_status(&mut self, uid: &str, status: UserStatus, at: Ts) {
        if let Some(u) = self.users.get_mut(uid) {
            u.status = status;
            u.status_changed = Some(at);
            u.last_updated = at;
            if status == UserStatus::Active && u.activated.is_none() {
                u.activated = Some(at);
            }
        }
    }

    fn status_of(&self, uid: &str) -> Option<UserStatus> {
        self.users.get(uid).map(|u| u.status)
    }
}

#[cfg(test)]
mod tests;
