//! The validated configuration: its types, defaults and limits. Values get here only
//! through [`super::validate`], so every field holds a checked value.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use super::SecretRef;

/// Where the config is read from when neither `--config` nor `SCIM_SYNC_CONFIG` is given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/scim-sync/config.toml";
/// Environment variable naming the config file (the `--config` flag takes precedence).
pub const CONFIG_PATH_ENV: &str = "SCIM_SYNC_CONFIG";

/// The scopes requested when `okta.oauth.scopes` is not set (`okta.logs.read`: the
/// System Log that incremental cycles poll).
pub const DEFAULT_OKTA_SCOPES: [&str; 4] = [
    "okta.users.read",
    "okta.apps.read",
    "okta.groups.read",
    "okta.logs.read",
];
pub const DEFAULT_KAFKAMAN_BASE_URL: &str = "https://api.kafkaman.co";
pub const DEFAULT_STATE_DB: &str = "/var/lib/scim-sync/state.db";
/// Full cycles: daily. Incremental cycles run in between (`incremental_interval_secs`).
pub const DEFAULT_SCHEDULE: &str = "0 3 * * *";
/// Okta's maximum page size for the users and app-users endpoints.
pub const MAX_OKTA_PAGE_SIZE: u32 = 500;
pub const MAX_KAFKAMAN_CONCURRENCY: u32 = 16;
/// The longest random delay before a scheduled run (`daemon.random_delay_secs`): a day.
pub const MAX_RANDOM_DELAY_SECS: u64 = 86_400;

/// The validated configuration. Holds no secret values, only references to them.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub okta: OktaConfig,
    pub kafkaman: KafkamanConfig,
    pub sync: SyncConfig,
    pub safety: SafetyConfig,
    pub daemon: DaemonConfig,
    pub report: ReportConfig,
    pub logging: LoggingConfig,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OktaConfig {
    /// The org's base URL, e.g. `https://acme.okta.com` (no path).
    pub org_url: Url,
    /// The id of the kafkaman app in Okta, whose assigned users are synced.
    pub app_id: String,
    pub auth: OktaAuth,
    /// Share of each Okta rate-limit bucket scim-sync may use, in (0, 1].
    pub rate_limit_share: f64,
    /// Page size for list calls, 1..=500.
    pub page_size: u32,
    pub timeout_secs: u64,
    pub max_retries: u32,
    /// Longest wait for a rate-limit reset before the cycle gives up on Okta.
    pub max_rate_limit_wait_secs: u64,
}

impl OktaConfig {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }

    pub fn max_rate_limit_wait(&self) -> Duration {
        Duration::from_secs(self.max_rate_limit_wait_secs)
    }
}

/// How scim-sync authenticates to Okta.
#[derive(Clone, Debug, PartialEq)]
pub enum OktaAuth {
    /// `Authorization: SSWS <token>`.
    ApiToken(SecretRef),
    /// OAuth 2.0 client credentials with a private-key JWT (`private_key_jwt`).
    OAuth(OktaOAuth),
}

#[derive(Clone, Debug, PartialEq)]
pub struct OktaOAuth {
    pub client_id: String,
    /// PEM-encoded private key whose public half is registered on the service app.
    pub private_key: SecretRef,
    /// `kid` header of the client assertion, if the app has several keys.
    pub key_id: Option<String>,
    pub scopes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct KafkamanConfig {
    pub base_url: Url,
    pub api_key: SecretRef,
    /// Concurrent SCIM requests, 1..=16.
    pub concurrency: u32,
    pub timeout_secs: u64,
    pub max_retries: u32,
    /// Share of the API key's rate-limit window scim-sync may use, in (0, 1].
    pub rate_limit_share: f64,
}

impl KafkamanConfig {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct SyncConfig {
    pub state_db: PathBuf,
    pub create_users: bool,
    pub update_attributes: bool,
    pub deactivate_users: bool,
    pub reactivate_users: bool,
    /// Reactivate a member someone else deactivated in kafkaman while its Okta user is
    /// still assigned (default false: it needs attention; a lockout by hand stands).
    pub restore_hand_deactivated: bool,
    pub clear_pending_invites: bool,
    pub suspended_users: SuspendedUsers,
    /// Where the kafkaman `userName` comes from: the app username (what Okta push sends)
    /// or an attribute of the Okta user's profile.
    pub user_name_source: UserNameSource,
    /// Okta profile attribute used as the kafkaman `userName` with
    /// `user_name_source = "profile"`.
    pub user_name_attribute: String,
    pub given_name_attribute: String,
    pub family_name_attribute: String,
    /// Per-user failures above this percentage of planned operations make the run
    /// "failed" rather than "partial". In [0, 100].
    pub error_budget_percent: f64,
    /// A cycle is full (every assignment and member read) when the last full one ended
    /// longer ago than this; in between cycles are incremental. In [1, 8760].
    pub full_cycle_max_age_hours: u32,
    /// How far before its own listing began a full cycle without a System Log cursor to
    /// carry on (a first run, a rejected cursor) starts polling, by Okta's clock. In
    /// [0, 3600].
    pub log_overlap_secs: u32,
}

/// Where the kafkaman `userName` comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserNameSource {
    /// The app username (`AppUser.credentials.userName`), as Okta's own provisioning
    /// sends it: the app's username format, or a per-user override.
    AppUsername,
    /// The Okta user's profile attribute `sync.user_name_attribute` (e.g. `email`).
    Profile,
}

impl UserNameSource {
    /// The spelling used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            UserNameSource::AppUsername => "app_username",
            UserNameSource::Profile => "profile",
        }
    }
}

/// What to do with kafkaman members whose Okta user is SUSPENDED.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SuspendedUsers {
    Deactivate,
    Keep,
}

impl SuspendedUsers {
    /// The spelling used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            SuspendedUsers::Deactivate => "deactivate",
            SuspendedUsers::Keep => "keep",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct SafetyConfig {
    /// Most deactivations per cycle; the rest are held for a human.
    pub max_deactivations: u32,
    /// Most deactivations per cycle as a percentage of managed members, in [0, 100].
    pub max_deactivations_percent: f64,
    /// The percentage never caps below this many deactivations (small teams); at most
    /// `max_deactivations`. cap = min(max, max(floor, ceil(percent × managed))).
    pub min_deactivation_cap: u32,
    /// Emails or Okta user ids that are never deactivated.
    pub protected_users: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DaemonConfig {
    /// Crontab line (5 or 6 fields, or `@hourly` etc.); parsed by the scheduler.
    pub schedule: String,
    /// IANA time zone for the schedule; `None` means the system's local time zone.
    pub time_zone: Option<String>,
    pub random_delay_secs: u64,
    pub run_at_start: bool,
    /// Address for `/healthz` and `/metrics`; `None` disables the listener.
    pub listen: Option<SocketAddr>,
    pub shutdown_timeout_secs: u64,
    /// `/healthz` fails when the last successful run is older than this many intervals.
    pub healthy_within_intervals: u32,
    pub allow_root: bool,
    /// Seconds between incremental cycles (beside the full `schedule`); 0 turns them off.
    pub incremental_interval_secs: u64,
    /// The running daemon's control socket (`release-held`, `sync --now`, `status`,
    /// `plan`, `apply`): `control.sock` beside the state database unless set.
    pub control_socket: PathBuf,
    /// A group whose members may use the control socket, besides root and the user the
    /// daemon runs as.
    pub control_group: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ReportConfig {
    pub stale_invite_days: u32,
    /// What makes `scim-sync report` exit 1 (something a human should look at).
    pub exit_1_on: Vec<ExitTrigger>,
}

impl ReportConfig {
    pub fn exits_1_on(&self, trigger: ExitTrigger) -> bool {
        self.exit_1_on.contains(&trigger)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExitTrigger {
    /// Okta and kafkaman differ (after the run, or planned changes in a dry run).
    Drift,
    /// Deactivations were held back by the safety limits.
    Held,
    /// Some per-user operations failed.
    Failures,
}

impl ExitTrigger {
    /// The spelling used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            ExitTrigger::Drift => "drift",
            ExitTrigger::Held => "held",
            ExitTrigger::Failures => "failures",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct LoggingConfig {
    pub format: LogFormat,
    /// A `tracing_subscriber::EnvFilter` directive, e.g. `info` or `scim_sync=debug,info`.
    pub level: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// journald when running under systemd with a journal, text on a terminal, else json.
    Auto,
    Text,
    Json,
    Journald,
}

impl LogFormat {
    /// The spelling used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Auto => "auto",
            LogFormat::Text => "text",
            LogFormat::Json => "json",
            LogFormat::Journald => "journald",
        }
    }
}

impl Config {
    /// A one-line description of the effective settings for logs. Secrets appear only
    /// as their source (file path, variable or credential name).
    pub fn redacted_summary(&self) -> String {
        let okta = &self.okta;
        let auth = match &okta.auth {
            OktaAuth::ApiToken(secret) => format!("api_token from {}", secret.source),
            OktaAuth::OAuth(oauth) => format!(
                "oauth client_id={} private_key from {} key_id={} scopes={}",
                oauth.client_id,
                oauth.private_key.source,
                oauth.key_id.as_deref().unwrap_or("-"),
                oauth.scopes.join(",")
            ),
        };
        let sync = &self.sync;
        let safety = &self.safety;
        let daemon = &self.daemon;
        format!(
            "okta: org_url={} app_id={} auth=[{auth}] rate_limit_share={} page_size={} \
             timeout_secs={} max_retries={} max_rate_limit_wait_secs={}; \
             kafkaman: base_url={} api_key from {} concurrency={} timeout_secs={} max_retries={}; \
             sync: state_db={} create_users={} update_attributes={} deactivate_users={} \
             reactivate_users={} restore_hand_deactivated={} clear_pending_invites={} \
             suspended_users={} \
             user_name_source={} user_name_attribute={} given_name_attribute={} \
             family_name_attribute={} \
             error_budget_percent={}; \
             safety: max_deactivations={} max_deactivations_percent={} min_deactivation_cap={} \
             protected_users_count={}; \
             daemon: schedule=\"{}\" time_zone={} random_delay_secs={} run_at_start={} listen={} \
             shutdown_timeout_secs={} healthy_within_intervals={} allow_root={}; \
             report: stale_invite_days={} exit_1_on=[{}]; logging: format={} level={}",
            okta.org_url,
            okta.app_id,
            okta.rate_limit_share,
            okta.page_size,
            okta.timeout_secs,
            okta.max_retries,
            okta.max_rate_limit_wait_secs,
            self.kafkaman.base_url,
            self.kafkaman.api_key.source,
            self.kafkaman.concurrency,
            self.kafkaman.timeout_secs,
            self.kafkaman.max_retries,
            sync.state_db.display(),
            sync.create_users,
            sync.update_attributes,
            sync.deactivate_users,
            sync.reactivate_users,
            sync.restore_hand_deactivated,
            sync.clear_pending_invites,
            sync.suspended_users.as_str(),
            sync.user_name_source.as_str(),
            sync.user_name_attribute,
            sync.given_name_attribute,
            sync.family_name_attribute,
            sync.error_budget_percent,
            safety.max_deactivations,
            safety.max_deactivations_percent,
            safety.min_deactivation_cap,
            safety.protected_users.len(),
            daemon.schedule,
            daemon.time_zone.as_deref().unwrap_or("local"),
            daemon.random_delay_secs,
            daemon.run_at_start,
            daemon
                .listen
                .map_or_else(|| "off".to_owned(), |a| a.to_string()),
            daemon.shutdown_timeout_secs,
            daemon.healthy_within_intervals,
            daemon.allow_root,
            self.report.stale_invite_days,
            self.report
                .exit_1_on
                .iter()
                .map(|trigger| trigger.as_str())
                .collect::<Vec<_>>()
                .join(","),
            self.logging.format.as_str(),
            self.logging.level,
        )
    }
}
