//! Scenario files: the world the simulators start with (TOML or JSON).
//!
//! The format is documented in `docs/scenarios.md` with a commented example in
//! `docs/scenario.example.toml`. Unknown fields are refused so that a typo can't silently
//! give a different world; errors name the field and the line.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::common::FaultSpec;

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("scenario file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("scenario file {path}: {message}")]
    Invalid { path: String, message: String },
}

/// The whole simulated world.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(default)]
    pub okta: OktaScenario,
    #[serde(default)]
    pub kafkaman: KafkamanScenario,
}

/// The simulated Okta org.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OktaScenario {
    /// The kafkaman app's id in this org.
    #[serde(default = "default_app_id")]
    pub app_id: String,
    #[serde(default = "default_app_label")]
    pub app_label: String,
    /// SSWS API tokens accepted by the org.
    #[serde(default = "default_okta_tokens")]
    pub api_tokens: Vec<String>,
    /// OAuth 2.0 service apps allowed to get tokens with `private_key_jwt`.
    #[serde(default)]
    pub service_apps: Vec<ServiceAppSpec>,
    #[serde(default)]
    pub users: Vec<OktaUserSpec>,
    #[serde(default)]
    pub groups: Vec<OktaGroupSpec>,
    /// Assignments to the kafkaman app.
    #[serde(default)]
    pub assignments: AssignmentSpec,
    /// The app's username format (`credentials.userNameTemplate`): what each app
    /// username is made from, unless a user has an override.
    #[serde(default)]
    pub app_username_format: AppUsernameFormat,
    #[serde(default)]
    pub rate_limits: OktaRateLimits,
    /// Latency added to every response, in milliseconds.
    #[serde(default)]
    pub latency_ms: u64,
    #[serde(default)]
    pub faults: Vec<FaultSpec>,
    /// System Log eventual consistency: milliseconds between a change and its events
    /// becoming visible to `/api/v1/logs` (at most a day).
    #[serde(default)]
    pub log_delay_ms: u64,
    /// Events' `published` is the change's time less a random 0..=this many
    /// milliseconds, so it need not follow the polling (persistence) order.
    #[serde(default)]
    pub log_jitter_ms: u64,
}

impl Default for OktaScenario {
    fn default() -> Self {
        OktaScenario {
            app_id: default_app_id(),
            app_label: default_app_label(),
            api_tokens: default_okta_tokens(),
            service_apps: Vec::new(),
            users: Vec::new(),
            groups: Vec::new(),
            assignments: AssignmentSpec::default(),
            rate_limits: OktaRateLimits::default(),
            latency_ms: 0,
            faults: Vec::new(),
            log_delay_ms: 0,
            log_jitter_ms: 0,
            app_username_format: Default::default(),
        }
    }
}

fn default_app_id() -> String {
    "0oakafkaman0000000001".to_string()
}
fn default_app_label() -> String {
    "kafkaman".to_string()
}
fn default_okta_tokens() -> Vec<String> {
    vec!["00sim-okta-ssws-token-0000000000000000000000".to_string()]
}

/// An OAuth 2.0 service app (client credentials with a signed JWT assertion).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceAppSpec {
    pub client_id: String,
    /// The app's registered public key (PEM, RSA) the assertion is verified with.
    pub public_key_pem: String,
    #[serde(default)]
    pub kid: Option<String>,
    /// Scopes granted to the app.
    #[serde(default = "all_read_scopes")]
    pub scopes: Vec<String>,
    /// "Require Demonstrating Proof of Possession (DPoP) header in token requests": on
    /// by default, as Okta's Admin Console makes API Services apps since February 2024.
    #[serde(default = "require_dpop_default")]
    pub require_dpop: bool,
}

fn require_dpop_default() -> bool {
    true
}

pub fn all_read_scopes() -> Vec<String> {
    [
        "okta.users.read",
        "okta.apps.read",
        "okta.groups.read",
        "okta.logs.read",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// An Okta user. `status` is one of Okta's UserStatus values.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OktaUserSpec {
    /// Okta user id (`00u…`); generated when absent.
    #[serde(default)]
    pub id: Option<String>,
    pub login: String,
    /// Defaults to `login`.
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default = "active")]
    pub status: String,
    /// Extra profile attributes (department, employeeNumber, …).
    #[serde(default)]
    pub profile: serde_json::Map<String, serde_json::Value>,
    /// This user's app username, set by hand in Okta's assignment dialog instead of the
    /// app's username format.
    #[serde(default)]
    pub app_username: Option<String>,
    /// App user profile values that differ from the user's (the Profile Editor's
    /// mappings): e.g. `{ firstName = "Bob" }` where the user is "Robert".
    #[serde(default)]
    pub app_profile: serde_json::Map<String, serde_json::Value>,
}

fn active() -> String {
    "ACTIVE".to_string()
}

/// An Okta group with its members (by login or user id).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OktaGroupSpec {
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub members: Vec<String>,
}

/// Who is assigned to the kafkaman app: users directly (login or id) and groups (name or id).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AssignmentSpec {
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
}

/// Per-minute request limits of Okta's buckets (Workforce defaults).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OktaRateLimits {
    /// `/api/v1/apps` and everything below it but one app.
    #[serde(default = "d100")]
    pub apps: u32,
    /// `/api/v1/apps/{id}`.
    #[serde(default = "d500")]
    pub app: u32,
    /// `GET|POST /api/v1/users` (the list).
    #[serde(default = "d600")]
    pub users_list: u32,
    /// `GET /api/v1/users/{idOrLogin}`.
    #[serde(default = "d2000")]
    pub user: u32,
    /// `/api/v1/groups` and everything below it but one group.
    #[serde(default = "d500")]
    pub groups: u32,
    /// `/api/v1/groups/{id}`.
    #[serde(default = "d1000")]
    pub group: u32,
    /// `/api/v1/logs`.
    #[serde(default = "d120")]
    pub logs: u32,
    /// `/oauth2/v1/token` (Okta's authentication category).
    #[serde(default = "d2000")]
    pub token: u32,
    /// Every other endpoint.
    #[serde(default = "d1200")]
    pub other: u32,
    /// Requests in flight at once before a concurrency 429.
    #[serde(default = "d75")]
    pub concurrency: u32,
    /// Window length in seconds (Okta: 60).
    #[serde(default = "d60")]
    pub window_secs: u64,
}

impl Default for OktaRateLimits {
    fn default() -> Self {
        OktaRateLimits {
            apps: 100,
            app: 500,
            users_list: 600,
            user: 2000,
            groups: 500,
            group: 1000,
            logs: 120,
            token: 2000,
            other: 1200,
            concurrency: 75,
            window_secs: 60,
        }
    }
}

fn d60() -> u64 {
    60
}
fn d75() -> u32 {
    75
}
fn d100() -> u32 {
    100
}
fn d120() -> u32 {
    120
}
fn d500() -> u32 {
    500
}
fn d1000() -> u32 {
    1000
}
fn d2000() -> u32 {
    2000
}
fn d600() -> u32 {
    600
}
fn d1200() -> u32 {
    1200
}
fn d300() -> u32 {
    300
}

/// The simulated kafkaman team.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkamanScenario {
    /// Paid seats; active and invited members use one each.
    #[serde(default = "d100")]
    pub seats: u32,
    #[serde(default = "yes")]
    pub scim_enabled: bool,
    /// SCIM API keys.
    #[serde(default = "default_keys")]
    pub keys: Vec<KeySpec>,
    #[serde(default)]
    pub members: Vec<MemberSpec>,
    /// kafkaman accounts that exist outside the team (a create invites them).
    #[serde(default)]
    pub outside_accounts: Vec<String>,
    #[serde(default)]
    pub invites: Vec<InviteSpec>,
    #[serde(default)]
    pub rate_limit: KafkamanRateLimit,
    #[serde(default)]
    pub latency_ms: u64,
    #[serde(default)]
    pub faults: Vec<FaultSpec>,
}

impl Default for KafkamanScenario {
    fn default() -> Self {
        KafkamanScenario {
            seats: 100,
            scim_enabled: true,
            keys: default_keys(),
            members: Vec::new(),
            outside_accounts: Vec::new(),
            invites: Vec::new(),
            rate_limit: KafkamanRateLimit::default(),
            latency_ms: 0,
            faults: Vec::new(),
        }
    }
}

fn yes() -> bool {
    true
}

fn default_keys() -> Vec<KeySpec> {
    vec![KeySpec {
        name: "okta".to_string(),
        token: "kmsim_0000000000000000000000000000".to_string(),
        status: "ACTIVE".to_string(),
    }]
}

/// A named SCIM API key, `ACTIVE` or `REVOKED`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KeySpec {
    pub name: String,
    pub token: String,
    #[serde(default = "active")]
    pub status: String,
}

/// A member of the team.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MemberSpec {
    pub email: String,
    #[serde(default)]
    pub given_name: Option<String>,
    #[serde(default)]
    pub family_name: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
    /// `active`, `invited` or `deactivated`; derived from `active` when absent.
    #[serde(default)]
    pub membership: Option<String>,
    #[serde(default = "developer")]
    pub role: String,
}

fn developer() -> String {
    "developer".to_string()
}

/// A pending team invite. `source` is `admin`, `link`, `request` or `scim`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InviteSpec {
    pub email: String,
    #[serde(default = "admin")]
    pub source: String,
    #[serde(default)]
    pub invited_by: Option<String>,
    /// Age of the invite in days (for stale-invite reports).
    #[serde(default)]
    pub age_days: u32,
}

fn admin() -> String {
    "admin".to_string()
}

/// kafkaman's per-key rate limit.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KafkamanRateLimit {
    #[serde(default = "d300")]
    pub requests: u32,
    #[serde(default = "d60")]
    pub window_secs: u64,
}

impl Default for KafkamanRateLimit {
    fn default() -> Self {
        KafkamanRateLimit {
            requests: 300,
            window_secs: 60,
        }
    }
}

const USER_STATUSES: &[&str] = &[
    "ACTIVE",
    "DEPROVISIONED",
    "LOCKED_OUT",
    "PASSWORD_EXPIRED",
    "PROVISIONED",
    "RECOVERY",
    "STAGED",
    "SUSPENDED",
];
const INVITE_SOURCES: &[&str] = &["admin", "link", "request", "scim"];

impl Scenario {
    /// Reads a scenario file; `.json` is JSON, anything else TOML.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let is_json = path.extension().is_some_and(|e| e == "json");
        Self::parse(&text, is_json, &path.display().to_string())
    }

    /// Parses scenario text. Errors carry the line (and the field where serde names it).
    pub fn parse(text: &str, is_json: bool, origin: &str) -> Result<Scenario, ScenarioError> {
        let scenario: Scenario = if is_json {
            serde_json::from_str(text).map_err(|e| ScenarioError::Parse {
                path: origin.to_string(),
                message: format!("line {}, column {}: {}", e.line(), e.column(), e),
            })?
        } else {
            toml::from_str(text).map_err(|e| {
                let line = e
                    .span()
                    .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
                ScenarioError::Parse {
                    path: origin.to_string(),
                    message: match line {
                        Some(l) => format!("line {l}: {}", e.message()),
                        None => e.message().to_string(),
                    },
                }
            })?
        };
        scenario.validate(text, origin)?;
        Ok(scenario)
    }

    /// Checks values serde can't (enumerations, references between sections) and
    /// points at the line of the offending value.
    fn validate(&self, text: &str, origin: &str) -> Result<(), ScenarioError> {
        self.validate_refs().map_err(|message| {
            // Messages start with `field = "value"`: the value locates the line.
            let line = message
                .split_once(" = ")
                .and_then(|(_, rest)| rest.strip_prefix('"'))
                .and_then(|rest| rest.split_once('"'))
                .and_then(|(value, _)| line_of(text, value));
            ScenarioError::Invalid {
                path: origin.to_string(),
                message: match line {
                    Some(l) => format!("line {l}: {message}"),
                    None => message,
                },
            }
        })
    }

    /// Checks the same enumerations and references as loading does, in linear time and
    /// without the source text (so errors carry no line): for scenarios built in code,
    /// e.g. by `generate`. Also refuses duplicate user ids and logins.
    pub fn validate_refs(&self) -> Result<(), String> {
        use std::collections::HashSet;
        let mut logins: HashSet<String> = HashSet::with_capacity(self.okta.users.len());
        let mut ids: HashSet<&str> = HashSet::with_capacity(self.okta.users.len());
        for u in &self.okta.users {
            if !USER_STATUSES.contains(&u.status.as_str()) {
                return Err(format!(
                    "okta.users.status = {:?}: not a user status",
                    u.status
                ));
            }
            if !logins.insert(u.login.to_lowercase()) {
                return Err(format!("okta.users.login = {:?}: duplicate login", u.login));
            }
            if let Some(id) = &u.id
                && !ids.insert(id)
            {
                return Err(format!("okta.users.id = {id:?}: duplicate id"));
            }
        }
        // Logins match case-insensitively, ids exactly (as when loading).
        let known_user = |r: &str| ids.contains(r) || logins.contains(&r.to_lowercase());
        for g in &self.okta.groups {
            if let Some(m) = g.members.iter().find(|m| !known_user(m)) {
                return Err(format!(
                    "okta.groups.members = {m:?}: group {:?} names a user that is not in okta.users",
                    g.name
                ));
            }
        }
        if let Some(r) = self.okta.assignments.users.iter().find(|r| !known_user(r)) {
            return Err(format!(
                "okta.assignments.users = {r:?}: no such user in okta.users"
            ));
        }
        let groups: HashSet<&str> = self
            .okta
            .groups
            .iter()
            .flat_map(|g| std::iter::once(g.name.as_str()).chain(g.id.as_deref()))
            .collect();
        if let Some(r) = self
            .okta
            .assignments
            .groups
            .iter()
            .find(|r| !groups.contains(r.as_str()))
        {
            return Err(format!(
                "okta.assignments.groups = {r:?}: no such group in okta.groups"
            ));
        }
        if let Some(inv) = self
            .kafkaman
            .invites
            .iter()
            .find(|i| !INVITE_SOURCES.contains(&i.source.as_str()))
        {
            return Err(format!(
                "kafkaman.invites.source = {:?}: not a source",
                inv.source
            ));
        }
        if let Some(ms) = self.kafkaman.members.iter().find_map(|m| {
            m.membership
                .as_deref()
                .filter(|ms| !["active", "invited", "deactivated"].contains(ms))
        }) {
            return Err(format!(
                "kafkaman.members.membership = {ms:?}: not a membership"
            ));
        }
        if let Some(k) = self
            .kafkaman
            .keys
            .iter()
            .find(|k| k.status != "ACTIVE" && k.status != "REVOKED")
        {
            return Err(format!(
                "kafkaman.keys.status = {:?}: expected ACTIVE or REVOKED",
                k.status
            ));
        }
        Ok(())
    }
}

/// The 1-based line where a quoted value first appears, to point at a bad value.
fn line_of(text: &str, value: &str) -> Option<usize> {
    let quoted = format!("\"{value}\"");
    text.lines()
        .position(|l| l.contains(&quoted))
        .map(|i| i + 1)
}

mod app_username;
#[cfg(test)]
mod tests;

pub use app_username::AppUsernameFormat;
