//! The simulated team's state and the rules the contract puts on it: members, seats,
//! invites, SCIM keys. HTTP shapes live in `scim.rs` and `team_api.rs`; this module only
//! says what is allowed and what changes.

mod changes;
mod scim_changes;

use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;

use axum::http::StatusCode;
use chrono::{DateTime, Duration, Timelike, Utc};

use crate::common::FixedWindow;
use crate::scenario::{KafkamanRateLimit, KafkamanScenario, MemberSpec};

use super::{AdminError, InviteView, MemberUpdate, MemberView};

/// How long an invite stays valid (reported as `expiresAt`; the simulator never expires
/// invites on its own).
const INVITE_VALIDITY_DAYS: i64 = 30;
pub(super) const INVITE_SOURCES: &[&str] = &["admin", "link", "request", "scim"];

/// A SCIM error as RFC 7644 §3.12 describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ScimError {
    pub status: StatusCode,
    /// Only the values RFC 7644 defines (`uniqueness`, `mutability`, `invalidFilter`, …).
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        ScimError {
            status,
            scim_type: None,
            detail: detail.into(),
        }
    }
    pub fn bad_request(scim_type: &'static str, detail: impl Into<String>) -> Self {
        ScimError {
            status: StatusCode::BAD_REQUEST,
            scim_type: Some(scim_type),
            detail: detail.into(),
        }
    }
    pub fn not_found(id: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("Resource {id} not found"))
    }
    pub fn no_seats() -> Self {
        Self::new(StatusCode::FORBIDDEN, "No seats available on this team")
    }
    pub fn mutability(attr: &str) -> Self {
        Self::bad_request(
            "mutability",
            format!("Attribute '{attr}' can't be changed once the user exists"),
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Membership {
    Active,
    Invited,
    Deactivated,
}

impl Membership {
    pub fn as_str(self) -> &'static str {
        match self {
            Membership::Active => "active",
            Membership::Invited => "invited",
            Membership::Deactivated => "deactivated",
        }
    }
    /// Active and invited members hold a seat.
    fn holds_seat(self) -> bool {
        !matches!(self, Membership::Deactivated)
    }
}

#[derive(Debug, Clone)]
pub(super) struct Member {
    pub id: String,
    pub user_name: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub locale: Option<String>,
    pub membership: Membership,
    /// Whether the person ever joined the team. Reactivating someone who never accepted
    /// their invite invites them again instead of making them active.
    pub joined: bool,
    pub role: String,
    pub created: DateTime<Utc>,
    /// Whole milliseconds (as rendered), changed only through [`Team::touch`], which
    /// keeps the `meta.lastModified` index in step.
    pub last_modified: DateTime<Utc>,
}

impl Member {
    pub fn view(&self) -> MemberView {
        MemberView {
            id: self.id.clone(),
            user_name: self.user_name.clone(),
            given_name: self.given_name.clone(),
            family_name: self.family_name.clone(),
            external_id: self.external_id.clone(),
            active: self.membership != Membership::Deactivated,
            membership: self.membership.as_str().to_string(),
            role: self.role.clone(),
            last_modified: self
                .last_modified
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum InviteStatus {
    Pending,
    Accepted,
    Revoked,
}

impl InviteStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InviteStatus::Pending => "pending",
            InviteStatus::Accepted => "accepted",
            InviteStatus::Revoked => "revoked",
        }
    }
    pub fn parse(s: &str) -> Option<InviteStatus> {
        match s {
            "pending" => Some(InviteStatus::Pending),
            "accepted" => Some(InviteStatus::Accepted),
            "revoked" => Some(InviteStatus::Revoked),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Invite {
    pub id: String,
    pub email: String,
    pub source: String,
    pub status: InviteStatus,
    pub invited_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl Invite {
    pub fn view(&self) -> InviteView {
        InviteView {
            id: self.id.clone(),
            email: self.email.clone(),
            source: self.source.clone(),
            status: self.status.as_str().to_string(),
            invited_by: self.invited_by.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct ApiKey {
    pub name: String,
    pub token: String,
    pub active: bool,
}

/// What a request's bearer token turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KeyCheck {
    Missing,
    Unknown,
    Revoked,
    Active,
}

/// The attributes a SCIM create carries (already parsed and type-checked).
#[derive(Debug, Clone, Default)]
pub(super) struct NewUser {
    pub user_name: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub locale: Option<String>,
    pub active: bool,
}

/// One change asked for by a PATCH `replace` operation (or implied by a PUT).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Change {
    Active(bool),
    /// Replaces the whole `name`.
    Name {
        given: Option<String>,
        family: Option<String>,
    },
    GivenName(Option<String>),
    FamilyName(Option<String>),
    UserName(String),
    ExternalId(Option<String>),
    DisplayName(Option<String>),
    Locale(Option<String>),
    /// An attribute the server owns (`id`, `meta`, `emails`, the extension).
    ReadOnly(String),
}

/// The whole team.
pub(super) struct Team {
    members: Vec<Member>,
    by_id: HashMap<String, usize>,
    by_user_name: HashMap<String, usize>,
    by_external_id: HashMap<String, Vec<usize>>,
    outside_accounts: BTreeSet<String>,
    invites: Vec<Invite>,
    invite_by_id: HashMap<String, usize>,
    invites_by_email: HashMap<String, Vec<usize>>,
    seats_total: u32,
    seats_used: u32,
    keys: Vec<ApiKey>,
    /// `(meta.lastModified, index)` of every member: the order of the
    /// `meta.lastModified` filter.
    by_modified: BTreeSet<(DateTime<Utc>, usize)>,
    /// kafkaman's clock minus the local one (`/__sim/clock`).
    clock_offset: Duration,
    pub scim_enabled: bool,
    /// How closely it is only an RFC 7644 service provider (`/__sim/compat`).
    pub compat: Compat,
    pub rate_limit: KafkamanRateLimit,
    windows: HashMap<String, FixedWindow>,
}

/// Switches that make the simulator answer like another RFC 7644 service provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Compat {
    /// PATCH /Users/{id} answers 204 No Content (RFC 7644 §3.5.2) instead of 200 with
    /// the resource.
    pub patch_no_content: bool,
    /// The team API (`/api/v1/team/...`) exists; false answers it 404.
    pub team_api: bool,
    /// `GET /Users` supports `filter=meta.lastModified gt|ge "..."`; false answers it
    /// 400 `invalidFilter`, like a target that only knows `userName eq` / `externalId eq`.
    pub last_modified_filter: bool,
}

impl Default for Compat {
    fn default() -> Self {
        Compat {
            patch_no_content: false,
            team_api: true,
            last_modified_filter: true,
        }
    }
}

/// `t` cut to whole milliseconds: `meta.lastModified` is rendered, compared and ordered
/// at millisecond precision.
pub(super) fn whole_ms(t: DateTime<Utc>) -> DateTime<Utc> {
    // Fewer nanoseconds than `t` has is always valid (leap seconds included).
    t.with_nanosecond(t.nanosecond() / 1_000_000 * 1_000_000)
        .unwrap_or(t)
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl Team {
    pub fn from_scenario(s: &KafkamanScenario) -> Result<Team, AdminError> {
        let mut team = Team {
            members: Vec::with_capacity(s.members.len()),
            by_id: HashMap::with_capacity(s.members.len()),
            by_user_name: HashMap::with_capacity(s.members.len()),
            by_external_id: HashMap::new(),
            outside_accounts: BTreeSet::new(),
            invites: Vec::new(),
            invite_by_id: HashMap::new(),
            invites_by_email: HashMap::new(),
            seats_total: s.seats,
            seats_used: 0,
            keys: s
                .keys
                .iter()
                .map(|k| ApiKey {
                    name: k.name.clone(),
                    token: k.token.clone(),
                    active: k.status == "ACTIVE",
                })
                .collect(),
            by_modified: BTreeSet::new(),
            clock_offset: Duration::zero(),
            scim_enabled: s.scim_enabled,
            compat: Compat::default(),
            rate_limit: s.rate_limit.clone(),
            windows: HashMap::new(),
        };
        let now = team.now();
        for m in &s.members {
            team.add_member(m.clone(), now)
                .map_err(|e| AdminError(format!("kafkaman.members {}: {}", m.email, e.0)))?;
        }
        for a in &s.outside_accounts {
            team.add_outside_account(a);
        }
        for inv in &s.invites {
            let created = now - Duration::days(i64::from(inv.age_days));
            // An `invited` member already has its `scim` invite (made with the member):
            // the scenario's entry describes that invite rather than a second one.
            let own_scim_invite = (inv.source == "scim")
                .then(|| {
                    team.pending_invites_for(&inv.email)
                        .find(|&i| team.invites[i].source == "scim")
                })
                .flatten();
            if let Some(i) = own_scim_invite {
                let invite = &mut team.invites[i];
                invite.created_at = created;
                invite.expires_at = created + Duration::days(INVITE_VALIDITY_DAYS);
                invite.invited_by = inv.invited_by.clone();
                continue;
            }
            team.add_invite_at(&inv.email, &inv.source, inv.invited_by.clone(), created)
                .map_err(|e| AdminError(format!("kafkaman.invites {}: {}", inv.email, e.0)))?;
        }
        Ok(team)
    }

    // ---- lookups -------------------------------------------------------------------

    pub fn member_count(&self) -> usize {
        self.members.len()
    }
    pub fn member_at(&self, idx: usize) -> &Member {
        &self.members[idx]
    }
    pub fn index_of_id(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }
    pub fn index_of_user_name(&self, user_name: &str) -> Option<usize> {
        self.by_user_name.get(&user_name.to_lowercase()).copied()
    }
    pub fn indexes_of_external_id(&self, external_id: &str) -> Vec<usize> {
        self.by_external_id
            .get(external_id)
            .cloned()
            .unwrap_or_default()
    }
    pub fn members(&self) -> &[Member] {
        &self.members
    }
    pub fn invites(&self) -> &[Invite] {
        &self.invites
    }
    pub fn invite_at(&self, idx: usize) -> &Invite {
        &self.invites[idx]
    }
    pub fn outside_accounts(&self) -> impl Iterator<Item = &String> {
        self.outside_accounts.iter()
    }
    pub fn keys(&self) -> &[ApiKey] {
        &self.keys
    }
    /// (seats used, seats total)
    pub fn seats(&self) -> (u32, u32) {
        (self.seats_used, self.seats_total)
    }
    fn seat_free(&self) -> bool {
        self.seats_used < self.seats_total
    }

    /// kafkaman's clock: the local one moved by the offset `/__sim/clock` sets, in whole
    /// milliseconds. Every change takes its time from here.
    pub fn now(&self) -> DateTime<Utc> {
        let local = Utc::now();
        whole_ms(local.checked_add_signed(self.clock_offset).unwrap_or(local))
    }

    pub fn set_clock_offset(&mut self, offset: Duration) {
        self.clock_offset = offset;
    }

    /// Members whose `meta.lastModified` is after `since` (or at it, when `inclusive`),
    /// oldest change first; members changed in the same millisecond in creation order.
    pub fn modified_since(
        &self,
        since: DateTime<Utc>,
        inclusive: bool,
    ) -> impl Iterator<Item = usize> + '_ {
        // Stamps are whole milliseconds, `since` may not be: comparing the full value is
        // exactly "after since" / "at or after since".
        let from = if inclusive {
            Bound::Included((since, 0))
        } else {
            Bound::Excluded((since, usize::MAX))
        };
        self.by_modified
            .range((from, Bound::Unbounded))
            .map(|&(_, idx)| idx)
    }

    fn pending_invites_for(&self, email: &str) -> impl Iterator<Item = usize> + '_ {
        self.invites_by_email
            .get(&email.to_lowercase())
            .into_iter()
            .flatten()
            .copied()
            .filter(|&i| self.invites[i].status == InviteStatus::Pending)
    }

    // ---- keys and rate limits -----------------------------------------------------------

    pub fn check_key(&self, token: Option<&str>) -> KeyCheck {
        let Some(token) = token else {
            return KeyCheck::Missing;
        };
        match self.keys.iter().find(|k| k.token == token) {
            None => KeyCheck::Unknown,
            Some(k) if k.active => KeyCheck::Active,
            Some(_) => KeyCheck::Revoked,
        }
    }

    /// Counts one request in the window of `bucket` (a key's token, or a shared bucket
    /// for requests without a valid key).
    pub fn acquire(&mut self, bucket: &str, now: u64) -> crate::common::WindowVerdict {
        let (limit, secs) = (self.rate_limit.requests, self.rate_limit.window_secs);
        self.windows
            .entry(bucket.to_string())
            .or_insert_with(|| FixedWindow::new(limit, secs))
            .acquire(now)
    }

    pub fn add_key(&mut self, name: &str) -> String {
        let token = format!("kmsim_{}", new_id());
        self.keys.push(ApiKey {
            name: name.to_string(),
            token: token.clone(),
            active: true,
        });
        token
    }

    pub fn revoke_key(&mut self, name_or_token: &str) -> Result<(), AdminError> {
        let mut found = false;
        for k in self
            .keys
            .iter_mut()
            .filter(|k| k.name == name_or_token || k.token == name_or_token)
        {
            k.active = false;
            found = true;
        }
        if found {
            Ok(())
        } else {
            Err(AdminError("no such SCIM API key".to_string()))
        }
    }

    // ---- members ------------------------------------------------------------------------

    fn insert_member(&mut self, mut m: Member) -> usize {
        let idx = self.members.len();
        m.created = whole_ms(m.created);
        m.last_modified = whole_ms(m.last_modified);
        self.by_modified.insert((m.last_modified, idx));
        self.by_id.insert(m.id.clone(), idx);
        self.by_user_name.insert(m.user_name.to_lowercase(), idx);
        if let Some(ext) = &m.external_id {
            self.by_external_id
                .entry(ext.clone())
                .or_default()
                .push(idx);
        }
        if m.membership.holds_seat() {
            self.seats_used += 1;
        }
        self.members.push(m);
        idx
    }

    /// Records a change to a member at `now`: every change to a member goes through
    /// here, so `meta.lastModified` and its index never miss one.
    fn touch(&mut self, idx: usize, now: DateTime<Utc>) {
        let now = whole_ms(now);
        let m = &mut self.members[idx];
        self.by_modified.remove(&(m.last_modified, idx));
        m.last_modified = now;
        self.by_modified.insert((now, idx));
    }
}
