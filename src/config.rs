//! The scim-sync configuration file (TOML).
//!
//! [`load`] reads and validates the file; every error names the file, the dotted key and
//! the line, and says what to change. Secrets are never written in the file: secret keys
//! hold a [`SecretRef`] (a file, an environment variable or a systemd credential) that is
//! read again at every use. Relative paths are resolved against the config file's
//! directory. `config.example.toml` documents every key.

mod error;
mod raw;
mod secret;
#[cfg(test)]
mod tests;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use url::Url;

pub use error::{ConfigError, InvalidConfig};
pub use secret::{CREDENTIALS_DIRECTORY_ENV, SecretError, SecretRef, SecretSource};

use error::Locator;
use raw::{RawConfig, RawSecret, RawSecretTable};

/// Where the config is read from when neither `--config` nor `SCIM_SYNC_CONFIG` is given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/scim-sync/config.toml";
/// Environment variable naming the config file (the `--config` flag takes precedence).
pub const CONFIG_PATH_ENV: &str = "SCIM_SYNC_CONFIG";

pub const DEFAULT_OKTA_SCOPES: [&str; 3] =
    ["okta.users.read", "okta.apps.read", "okta.groups.read"];
pub const DEFAULT_KAFKAMAN_BASE_URL: &str = "https://api.kafkaman.co";
pub const DEFAULT_STATE_DB: &str = "/var/lib/scim-sync/state.db";
pub const DEFAULT_SCHEDULE: &str = "*/15 * * * *";
/// Okta's maximum page size for the users and app-users endpoints.
pub const MAX_OKTA_PAGE_SIZE: u32 = 500;
pub const MAX_KAFKAMAN_CONCURRENCY: u32 = 16;

/// The config file path: `$SCIM_SYNC_CONFIG` if set and non-empty, else
/// [`DEFAULT_CONFIG_PATH`]. The CLI's `--config` overrides both.
pub fn default_path() -> PathBuf {
    default_path_from(std::env::var_os(CONFIG_PATH_ENV))
}

fn default_path_from(env_value: Option<std::ffi::OsString>) -> PathBuf {
    match env_value {
        Some(value) if !value.is_empty() => PathBuf::from(value),
        _ => PathBuf::from(DEFAULT_CONFIG_PATH),
    }
}

/// Reads and validates the config file at `path`. Relative paths inside it are resolved
/// against the file's directory. Secrets are not read here (see [`SecretRef::resolve`]).
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    // Absolute, so relative entries keep meaning the same file if the daemon changes
    // its working directory.
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let base_dir = absolute.parent().map(Path::to_path_buf).unwrap_or_default();
    parse_with_base(&text, &path.display().to_string(), &base_dir)
}

/// Validates config `text`. `origin` names the text in errors; when it is a path, its
/// directory is the base for relative paths (an origin without a directory means the
/// working directory).
pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
    let base_dir = Path::new(origin)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    parse_with_base(text, origin, &base_dir)
}

fn parse_with_base(text: &str, origin: &str, base_dir: &Path) -> Result<Config, ConfigError> {
    // Editors on Windows may save a byte-order mark, which TOML does not allow.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let loc = Locator { origin, text };
    let raw: RawConfig = toml::from_str(text).map_err(|err| loc.toml_error(&err))?;
    Validator { loc, base_dir }.config(raw)
}

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
    pub clear_pending_invites: bool,
    pub suspended_users: SuspendedUsers,
    /// Okta profile attribute used as the kafkaman `userName`.
    pub user_name_attribute: String,
    pub given_name_attribute: String,
    pub family_name_attribute: String,
    /// Per-user failures above this percentage of planned operations make the run
    /// "failed" rather than "partial". In [0, 100].
    pub error_budget_percent: f64,
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
    /// Emails or Okta user ids that are never deactivated.
    pub protected_users: Vec<String>,
}

impl SafetyConfig {
    /// Whether a user is protected from deactivation. Emails (entries containing `@`)
    /// compare case-insensitively; Okta ids exactly.
    pub fn is_protected(&self, okta_user_id: &str, email: &str) -> bool {
        self.protected_users.iter().any(|entry| {
            if entry.contains('@') {
                entry.eq_ignore_ascii_case(email) || entry.to_lowercase() == email.to_lowercase()
            } else {
                entry == okta_user_id
            }
        })
    }
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
}

#[derive(Clone, Debug, PartialEq)]
pub struct ReportConfig {
    pub stale_invite_days: u32,
    /// Outcomes that make `scim-sync run`/`check` exit 1.
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
             reactivate_users={} clear_pending_invites={} suspended_users={} \
             user_name_attribute={} given_name_attribute={} family_name_attribute={} \
             error_budget_percent={}; \
             safety: max_deactivations={} max_deactivations_percent={} protected_users_count={}; \
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
            sync.clear_pending_invites,
            sync.suspended_users.as_str(),
            sync.user_name_attribute,
            sync.given_name_attribute,
            sync.family_name_attribute,
            sync.error_budget_percent,
            safety.max_deactivations,
            safety.max_deactivations_percent,
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

/// Turns the raw, spanned config into [`Config`], checking every value that serde's
/// types alone cannot.
struct Validator<'a> {
    loc: Locator<'a>,
    base_dir: &'a Path,
}

type Result<T, E = ConfigError> = std::result::Result<T, E>;

impl Validator<'_> {
    fn config(&self, raw: RawConfig) -> Result<Config> {
        Ok(Config {
            okta: self.okta(raw.okta)?,
            kafkaman: self.kafkaman(raw.kafkaman)?,
            sync: self.sync(raw.sync)?,
            safety: self.safety(raw.safety)?,
            daemon: self.daemon(raw.daemon)?,
            report: self.report(raw.report)?,
            logging: self.logging(raw.logging)?,
        })
    }

    fn okta(&self, raw: Spanned<raw::RawOkta>) -> Result<OktaConfig> {
        let section_span = raw.span();
        let raw = raw.into_inner();
        let org_url = self.url(&raw.org_url, "okta.org_url")?;
        if org_url.path() != "/" {
            return Err(self.loc.at(
                raw.org_url.span(),
                "okta.org_url",
                format!(
                    "\"{}\" must be the org's base URL without a path, e.g. \"https://{}\"",
                    raw.org_url.get_ref(),
                    org_url.host_str().unwrap_or("acme.okta.com")
                ),
            ));
        }
        if let Some(host) = org_url.host_str()
            && let Some((org, domain)) = host.split_once('.')
            && let Some(org_name) = org.strip_suffix("-admin")
        {
            return Err(self.loc.at(
                raw.org_url.span(),
                "okta.org_url",
                format!(
                    "\"{}\" is the Admin Console address; use the org URL \"https://{org_name}.{domain}\"",
                    raw.org_url.get_ref()
                ),
            ));
        }
        let app_id = self.identifier(
            &raw.app_id,
            "okta.app_id",
            "the app's id from its Okta Admin Console URL, e.g. \"0oa1b2c3d4e5f6g7h8i9\"",
        )?;

        let auth = match (raw.api_token, raw.oauth) {
            (Some(token), None) => OktaAuth::ApiToken(self.secret(token, "okta.api_token")?),
            (None, Some(oauth)) => OktaAuth::OAuth(self.oauth(oauth)?),
            (Some(_), Some(oauth)) => {
                return Err(self.loc.at(
                    oauth.span(),
                    "okta.oauth",
                    "both okta.api_token and [okta.oauth] are set; keep exactly one way to \
                     authenticate to Okta (OAuth is preferred: its scopes are read-only)",
                ));
            }
            (None, None) => {
                return Err(self.loc.at(
                    section_span,
                    "okta",
                    "no Okta credentials: set either `api_token = { file = \"...\" }` (an SSWS \
                     API token) or an [okta.oauth] table with client_id and private_key",
                ));
            }
        };

        let rate_limit_share = match raw.rate_limit_share {
            None => 0.5,
            Some(share) => {
                let value = *share.get_ref();
                if !(value > 0.0 && value <= 1.0) {
                    return Err(self.loc.at(
                        share.span(),
                        "okta.rate_limit_share",
                        format!(
                            "{value} is out of range: it is the share of each Okta rate limit \
                             scim-sync may use, greater than 0 and at most 1 (e.g. 0.5)"
                        ),
                    ));
                }
                value
            }
        };
        let page_size =
            self.int_in_range(raw.page_size, "okta.page_size", 500, 1, MAX_OKTA_PAGE_SIZE)?;
        let timeout_secs =
            self.int_in_range(raw.timeout_secs, "okta.timeout_secs", 30, 1, u64::MAX)?;

        Ok(OktaConfig {
            org_url,
            app_id,
            auth,
            rate_limit_share,
            page_size,
            timeout_secs,
            max_retries: raw.max_retries.unwrap_or(4),
            max_rate_limit_wait_secs: raw.max_rate_limit_wait_secs.unwrap_or(120),
        })
    }

    fn oauth(&self, raw: Spanned<raw::RawOAuth>) -> Result<OktaOAuth> {
        let raw = raw.into_inner();
        let client_id = self.non_empty(&raw.client_id, "okta.oauth.client_id")?;
        let key_id = match &raw.key_id {
            Some(key_id) => Some(self.non_empty(key_id, "okta.oauth.key_id")?),
            None => None,
        };
        let scopes = match raw.scopes {
            None => DEFAULT_OKTA_SCOPES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            Some(list) => {
                if list.get_ref().is_empty() {
                    return Err(self.loc.at(
                        list.span(),
                        "okta.oauth.scopes",
                        "the list is empty; scim-sync needs okta.users.read and okta.apps.read \
                         (remove the key to use the defaults)",
                    ));
                }
                let mut scopes = Vec::new();
                for scope in list.into_inner() {
                    let text = scope.get_ref().trim();
                    if text.is_empty() || text.contains(char::is_whitespace) {
                        return Err(self.loc.at(
                            scope.span(),
                            "okta.oauth.scopes",
                            format!(
                                "{:?} is not a scope name; write one scope per list entry",
                                scope.get_ref()
                            ),
                        ));
                    }
                    scopes.push(text.to_owned());
                }
                scopes
            }
        };
        Ok(OktaOAuth {
            client_id,
            private_key: self.secret(raw.private_key, "okta.oauth.private_key")?,
            key_id,
            scopes,
        })
    }

    fn kafkaman(&self, raw: Spanned<raw::RawKafkaman>) -> Result<KafkamanConfig> {
        let raw = raw.into_inner();
        let base_url = match &raw.base_url {
            Some(url) => self.url(url, "kafkaman.base_url")?,
            None => Url::parse(DEFAULT_KAFKAMAN_BASE_URL)
                .map_err(|e| self.loc.unplaced("kafkaman.base_url", e.to_string()))?,
        };
        Ok(KafkamanConfig {
            base_url,
            api_key: self.secret(raw.api_key, "kafkaman.api_key")?,
            concurrency: self.int_in_range(
                raw.concurrency,
                "kafkaman.concurrency",
                4,
                1,
                MAX_KAFKAMAN_CONCURRENCY,
            )?,
            timeout_secs: self.int_in_range(
                raw.timeout_secs,
                "kafkaman.timeout_secs",
                30,
                1,
                u64::MAX,
            )?,
            max_retries: raw.max_retries.unwrap_or(4),
        })
    }

    fn sync(&self, raw: raw::RawSync) -> Result<SyncConfig> {
        let state_db = match &raw.state_db {
            Some(path) => {
                let text = self.non_empty(path, "sync.state_db")?;
                self.base_dir.join(text)
            }
            None => PathBuf::from(DEFAULT_STATE_DB),
        };
        let attribute = |value: &Option<Spanned<String>>, key: &str, default: &str| match value {
            Some(value) => self.identifier(
                value,
                key,
                "an Okta profile attribute name such as \"email\" or \"login\"",
            ),
            None => Ok(default.to_owned()),
        };
        Ok(SyncConfig {
            state_db,
            create_users: raw.create_users.unwrap_or(true),
            update_attributes: raw.update_attributes.unwrap_or(true),
            deactivate_users: raw.deactivate_users.unwrap_or(true),
            reactivate_users: raw.reactivate_users.unwrap_or(true),
            clear_pending_invites: raw.clear_pending_invites.unwrap_or(true),
            suspended_users: raw.suspended_users.unwrap_or(SuspendedUsers::Deactivate),
            user_name_attribute: attribute(
                &raw.user_name_attribute,
                "sync.user_name_attribute",
                "email",
            )?,
            given_name_attribute: attribute(
                &raw.given_name_attribute,
                "sync.given_name_attribute",
                "firstName",
            )?,
            family_name_attribute: attribute(
                &raw.family_name_attribute,
                "sync.family_name_attribute",
                "lastName",
            )?,
            error_budget_percent: self.percent(
                raw.error_budget_percent,
                "sync.error_budget_percent",
                10.0,
            )?,
        })
    }

    fn safety(&self, raw: raw::RawSafety) -> Result<SafetyConfig> {
        let mut protected_users = Vec::new();
        for entry in raw.protected_users.unwrap_or_default() {
            protected_users.push(self.non_empty(&entry, "safety.protected_users")?);
        }
        Ok(SafetyConfig {
            max_deactivations: raw.max_deactivations.unwrap_or(10),
            max_deactivations_percent: self.percent(
                raw.max_deactivations_percent,
                "safety.max_deactivations_percent",
                10.0,
            )?,
            protected_users,
        })
    }

    fn daemon(&self, raw: raw::RawDaemon) -> Result<DaemonConfig> {
        let schedule = match &raw.schedule {
            Some(schedule) => self.non_empty(schedule, "daemon.schedule")?,
            None => DEFAULT_SCHEDULE.to_owned(),
        };
        let time_zone = match &raw.time_zone {
            Some(zone) => {
                let name = self.non_empty(zone, "daemon.time_zone")?;
                // Full validation needs the tz database (done by the scheduler); catch
                // the obvious mistakes here so they point at the line.
                if name.contains(char::is_whitespace) {
                    return Err(self.loc.at(
                        zone.span(),
                        "daemon.time_zone",
                        format!("{name:?} is not an IANA time zone name; use e.g. \"Europe/Berlin\" or \"UTC\""),
                    ));
                }
                Some(name)
            }
            None => None,
        };
        let listen = match &raw.listen {
            Some(addr) => Some(addr.get_ref().trim().parse::<SocketAddr>().map_err(|_| {
                self.loc.at(
                    addr.span(),
                    "daemon.listen",
                    format!(
                        "{:?} is not a socket address; write an IP and port such as \
                         \"127.0.0.1:9464\" or \"[::1]:9464\"",
                        addr.get_ref()
                    ),
                )
            })?),
            None => None,
        };
        Ok(DaemonConfig {
            schedule,
            time_zone,
            random_delay_secs: raw.random_delay_secs.unwrap_or(0),
            run_at_start: raw.run_at_start.unwrap_or(true),
            listen,
            shutdown_timeout_secs: raw.shutdown_timeout_secs.unwrap_or(30),
            healthy_within_intervals: self.int_in_range(
                raw.healthy_within_intervals,
                "daemon.healthy_within_intervals",
                3,
                1,
                u32::MAX,
            )?,
            allow_root: raw.allow_root.unwrap_or(false),
        })
    }

    fn report(&self, raw: raw::RawReport) -> Result<ReportConfig> {
        let mut exit_1_on = raw
            .exit_1_on
            .unwrap_or_else(|| vec![ExitTrigger::Drift, ExitTrigger::Held, ExitTrigger::Failures]);
        exit_1_on.sort();
        exit_1_on.dedup();
        Ok(ReportConfig {
            stale_invite_days: self.int_in_range(
                raw.stale_invite_days,
                "report.stale_invite_days",
                14,
                1,
                u32::MAX,
            )?,
            exit_1_on,
        })
    }

    fn logging(&self, raw: raw::RawLogging) -> Result<LoggingConfig> {
        let level = match &raw.level {
            Some(level) => {
                let text = self.non_empty(level, "logging.level")?;
                tracing_subscriber::EnvFilter::try_new(&text).map_err(|e| {
                    self.loc.at(
                        level.span(),
                        "logging.level",
                        format!(
                            "{text:?} is not a log filter ({e}); use a level such as \"info\" or \
                             \"debug\", or directives like \"scim_sync=debug,info\""
                        ),
                    )
                })?;
                text
            }
            None => "info".to_owned(),
        };
        Ok(LoggingConfig {
            format: raw.format.unwrap_or(LogFormat::Auto),
            level,
        })
    }

    // ---- value checks -------------------------------------------------------------

    fn url(&self, value: &Spanned<String>, key: &str) -> Result<Url> {
        let text = value.get_ref().trim();
        let url = Url::parse(text).map_err(|e| {
            self.loc.at(
                value.span(),
                key,
                format!(
                    "{:?} is not a URL ({e}); write it in full, e.g. \"https://acme.okta.com\"",
                    value.get_ref()
                ),
            )
        })?;
        let loopback = match url.host() {
            Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
            None => false,
        };
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => {
                return Err(self.loc.at(
                    value.span(),
                    key,
                    format!(
                        "{:?} must use https (plain http is allowed only for loopback addresses)",
                        value.get_ref()
                    ),
                ));
            }
            other => {
                return Err(self.loc.at(
                    value.span(),
                    key,
                    format!(
                        "{:?} has scheme {other:?}; use an https:// URL",
                        value.get_ref()
                    ),
                ));
            }
        }
        if url.host().is_none() {
            return Err(self.loc.at(
                value.span(),
                key,
                format!("{:?} has no host name", value.get_ref()),
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            // Never echo the value: it contains a credential.
            return Err(self.loc.at(
                value.span(),
                key,
                "the URL contains a user name or password; remove it (credentials are \
                 configured as secret references, never in URLs)",
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(self.loc.at(
                value.span(),
                key,
                format!(
                    "{:?} must not have a query string or fragment",
                    value.get_ref()
                ),
            ));
        }
        Ok(url)
    }

    fn non_empty(&self, value: &Spanned<String>, key: &str) -> Result<String> {
        let text = value.get_ref().trim();
        if text.is_empty() {
            return Err(self.loc.at(value.span(), key, "must not be empty"));
        }
        Ok(text.to_owned())
    }

    /// A value used verbatim in URLs or JSON paths: letters, digits, `_`, `-`, `.`.
    fn identifier(&self, value: &Spanned<String>, key: &str, hint: &str) -> Result<String> {
        let text = self.non_empty(value, key)?;
        if !text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            return Err(self.loc.at(
                value.span(),
                key,
                format!(
                    "{:?} contains characters that cannot appear here; expected {hint}",
                    value.get_ref()
                ),
            ));
        }
        Ok(text)
    }

    fn int_in_range<T>(
        &self,
        value: Option<Spanned<T>>,
        key: &str,
        default: T,
        min: T,
        max: T,
    ) -> Result<T>
    where
        T: Copy + PartialOrd + std::fmt::Display + Bounded,
    {
        let Some(value) = value else {
            return Ok(default);
        };
        let number = *value.get_ref();
        if number < min || number > max {
            let range = if max == T::MAX {
                format!("at least {min}")
            } else {
                format!("between {min} and {max}")
            };
            return Err(self.loc.at(
                value.span(),
                key,
                format!("{number} is out of range: must be {range}"),
            ));
        }
        Ok(number)
    }

    fn percent(&self, value: Option<Spanned<f64>>, key: &str, default: f64) -> Result<f64> {
        let Some(value) = value else {
            return Ok(default);
        };
        let number = *value.get_ref();
        if !(0.0..=100.0).contains(&number) {
            return Err(self.loc.at(
                value.span(),
                key,
                format!("{number} is out of range: it is a percentage, from 0 to 100"),
            ));
        }
        Ok(number)
    }

    fn secret(&self, value: Spanned<RawSecret>, key: &str) -> Result<SecretRef> {
        let span = value.span();
        let suggestion = || {
            let name = key.rsplit('.').next().unwrap_or(key).replace('_', "-");
            let section = key.split('.').next().unwrap_or(key);
            format!(
                "reference it instead: `{{ file = \"/etc/scim-sync/{section}-{name}\" }}`, \
                 `{{ env = \"{}\" }}` or `{{ credential = \"{section}-{name}\" }}` \
                 (systemd LoadCredential=)",
                format!("{section}_{name}").replace('-', "_").to_uppercase()
            )
        };
        let table: RawSecretTable = match value.into_inner() {
            RawSecret::Inline => {
                return Err(self.loc.at(
                    span,
                    key,
                    format!(
                        "secrets must not be written in the config file; {}",
                        suggestion()
                    ),
                ));
            }
            RawSecret::Ref(table) => table,
        };
        let source = match (table.file, table.env, table.credential) {
            (Some(file), None, None) => {
                if file.trim().is_empty() {
                    return Err(self.loc.at(span, key, "`file` must not be empty"));
                }
                SecretSource::File(self.base_dir.join(file))
            }
            (None, Some(env), None) => {
                if env.is_empty() || env.contains('=') || env.contains('\0') {
                    return Err(self.loc.at(
                        span,
                        key,
                        format!("`env = {env:?}` is not an environment variable name"),
                    ));
                }
                SecretSource::Env(env)
            }
            (None, None, Some(name)) => {
                // A credential is a file name inside $CREDENTIALS_DIRECTORY, never a path.
                if name.is_empty() || name.contains('/') || name == "." || name == ".." {
                    return Err(self.loc.at(
                        span,
                        key,
                        format!("`credential = {name:?}` must be a credential name (as in LoadCredential=NAME:...), not a path"),
                    ));
                }
                SecretSource::Credential(name)
            }
            _ => {
                return Err(self.loc.at(
                    span,
                    key,
                    format!(
                        "a secret reference needs exactly one of `file`, `env` or `credential`; {}",
                        suggestion()
                    ),
                ));
            }
        };
        Ok(SecretRef {
            key: key.to_owned(),
            source,
        })
    }
}

/// Upper bound of an integer type, to phrase "at least N" when there is no real maximum.
trait Bounded {
    const MAX: Self;
}
impl Bounded for u32 {
    const MAX: Self = u32::MAX;
}
impl Bounded for u64 {
    const MAX: Self = u64::MAX;
}
