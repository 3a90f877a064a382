//! Validation: the raw, spanned TOML (`raw.rs`) becomes a [`Config`]. One function per
//! section and per value kind; every error names the key and points at its line. The
//! sections are here, the value checks they share in `values`.

mod values;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use toml::Spanned;
use url::Url;

use super::error::{ConfigError, Locator, quoted};
use super::model::*;
use super::raw::{self, RawConfig, RawSecret};

/// The default share of kafkaman's window: the window is the API key's own
/// (kafkaman-api.md), so this is a margin, not room for others: scim-sync's count and
/// kafkaman's window start at different moments, and a window used to the last request
/// meets 429s at its edges.
const DEFAULT_KAFKAMAN_RATE_LIMIT_SHARE: f64 = 0.9;

/// The default of `sync.log_overlap_secs`. Okta's polling compares `since` with each
/// event's persistence time, so this only has to cover what scim-sync can't see: the
/// second-precision `Date` it reads Okta's clock from and the time between the listing's
/// first page and the changes it reflects. Okta documents no figure for late events (its
/// query guide: "Some events may be delayed. Such delays are rare but possible."); two
/// minutes covers both with room, and an overlap only re-reads events (harmless: events
/// never decide).
pub const DEFAULT_LOG_OVERLAP_SECS: u32 = 120;
/// Seconds between the daemon's incremental cycles. A quiet cycle makes one request to
/// each side and costs milliseconds: every 10 s is 6 of Okta's `logs` bucket a minute
/// (5 % of 120) and 6 kafkaman requests (2 % of 300), for an Okta change written
/// in log delay + up to 10 s + the cycle (README "Scale").
const DEFAULT_INCREMENTAL_INTERVAL_SECS: u64 = 10;

/// Turns the raw, spanned config into [`Config`], checking every value that serde's
/// types alone cannot.
pub(super) struct Validator<'a> {
    pub(super) loc: Locator<'a>,
    pub(super) base_dir: &'a Path,
}

type Result<T, E = ConfigError> = std::result::Result<T, E>;

impl Validator<'_> {
    pub(super) fn config(&self, raw: RawConfig) -> Result<Config> {
        let sync = self.sync(raw.sync)?;
        Ok(Config {
            okta: self.okta(raw.okta)?,
            kafkaman: self.kafkaman(raw.kafkaman)?,
            safety: self.safety(raw.safety)?,
            daemon: self.daemon(raw.daemon, &sync.state_db)?,
            sync,
            report: self.report(raw.report)?,
            logging: self.logging(raw.logging)?,
        })
    }

    fn okta(&self, raw: Spanned<raw::RawOkta>) -> Result<OktaConfig> {
        let section_span = raw.span();
        let raw = raw.into_inner();
        let org_url = self.okta_org_url(&raw.org_url)?;
        let app_id = self.identifier(
            &raw.app_id,
            "okta.app_id",
            "the app's id from its Okta Admin Console URL, e.g. \"0oa1b2c3d4e5f6g7h8i9\"",
        )?;
        let auth = self.okta_auth(raw.api_token, raw.oauth, section_span)?;
        let rate_limit_share = self.share(
            raw.rate_limit_share,
            "okta.rate_limit_share",
            "each Okta rate limit",
            0.5,
        )?;
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

    /// The org's base URL: no path, not the Admin Console's `-admin` host.
    fn okta_org_url(&self, value: &Spanned<String>) -> Result<Url> {
        let org_url = self.url(value, "okta.org_url")?;
        if org_url.path() != "/" {
            return Err(self.loc.at(
                value.span(),
                "okta.org_url",
                format!(
                    "\"{}\" must be the org's base URL without a path, e.g. \"https://{}\"",
                    value.get_ref(),
                    org_url.host_str().unwrap_or("acme.okta.com")
                ),
            ));
        }
        if let Some(host) = org_url.host_str()
            && let Some((org, domain)) = host.split_once('.')
            && let Some(org_name) = org.strip_suffix("-admin")
        {
            return Err(self.loc.at(
                value.span(),
                "okta.org_url",
                format!(
                    "\"{}\" is the Admin Console address; use the org URL \"https://{org_name}.{domain}\"",
                    quoted(value.get_ref())
                ),
            ));
        }
        Ok(org_url)
    }

    /// Exactly one of `okta.api_token` and `[okta.oauth]`.
    fn okta_auth(
        &self,
        api_token: Option<Spanned<RawSecret>>,
        oauth: Option<Spanned<raw::RawOAuth>>,
        section_span: std::ops::Range<usize>,
    ) -> Result<OktaAuth> {
        Ok(match (api_token, oauth) {
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
        })
    }

    /// A rate-limit share (`okta.rate_limit_share`, `kafkaman.rate_limit_share`): in
    /// (0, 1].
    fn share(
        &self,
        value: Option<Spanned<f64>>,
        key: &str,
        of_what: &str,
        default: f64,
    ) -> Result<f64> {
        Ok(match value {
            None => default,
            Some(share) => {
                let value = *share.get_ref();
                if !(value > 0.0 && value <= 1.0) {
                    return Err(self.loc.at(
                        share.span(),
                        key,
                        format!(
                            "{value} is out of range: it is the share of {of_what} \
                             scim-sync may use, greater than 0 and at most 1 (e.g. {default})"
                        ),
                    ));
                }
                value
            }
        })
    }

    fn oauth(&self, raw: Spanned<raw::RawOAuth>) -> Result<OktaOAuth> {
        let raw = raw.into_inner();
        let client_id = self.non_empty(&raw.client_id, "okta.oauth.client_id")?;
        let key_id = match &raw.key_id {
            Some(key_id) => Some(self.non_empty(key_id, "okta.oauth.key_id")?),
            None => None,
        };
        let scopes = self.oauth_scopes(raw.scopes)?;
        Ok(OktaOAuth {
            client_id,
            private_key: self.secret(raw.private_key, "okta.oauth.private_key")?,
            key_id,
            scopes,
        })
    }

    /// `okta.oauth.scopes`: one scope name per entry, not empty; default read-only.
    fn oauth_scopes(&self, value: Option<Spanned<Vec<Spanned<String>>>>) -> Result<Vec<String>> {
        Ok(match value {
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
                                "{} is not a scope name; write one scope per list entry",
                                quoted(scope.get_ref())
                            ),
                        ));
                    }
                    scopes.push(text.to_owned());
                }
                scopes
            }
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
            rate_limit_share: self.share(
                raw.rate_limit_share,
                "kafkaman.rate_limit_share",
                "the API key's rate limit",
                DEFAULT_KAFKAMAN_RATE_LIMIT_SHARE,
            )?,
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
        let reactivate_users = raw.reactivate_users.unwrap_or(true);
        let restore_hand_deactivated = match &raw.restore_hand_deactivated {
            Some(v) if *v.get_ref() && !reactivate_users => {
                return Err(self.loc.at(
                    v.span(),
                    "sync.restore_hand_deactivated",
                    "restoring a member deactivated by hand is a reactivation, and \
                     sync.reactivate_users = false: set one of them differently"
                        .to_string(),
                ));
            }
            Some(v) => *v.get_ref(),
            None => false,
        };
        Ok(SyncConfig {
            state_db,
            create_users: raw.create_users.unwrap_or(true),
            update_attributes: raw.update_attributes.unwrap_or(true),
            deactivate_users: raw.deactivate_users.unwrap_or(true),
            reactivate_users,
            restore_hand_deactivated,
            clear_pending_invites: raw.clear_pending_invites.unwrap_or(true),
            suspended_users: raw.suspended_users.unwrap_or(SuspendedUsers::Deactivate),
            user_name_source: raw.user_name_source.unwrap_or(UserNameSource::AppUsername),
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
            full_cycle_max_age_hours: match &raw.full_cycle_max_age_hours {
                Some(h) if !(1..=8760).contains(h.get_ref()) => {
                    return Err(self.loc.at(
                        h.span(),
                        "sync.full_cycle_max_age_hours",
                        format!(
                            "{} is out of range: give the hours between full cycles, 1 to 8760 \
                             (a year)",
                            h.get_ref()
                        ),
                    ));
                }
                Some(h) => *h.get_ref(),
                None => 24,
            },
            log_overlap_secs: match &raw.log_overlap_secs {
                Some(s) if *s.get_ref() > 3600 => {
                    return Err(self.loc.at(
                        s.span(),
                        "sync.log_overlap_secs",
                        format!(
                            "{} is out of range: give seconds, 0 to 3600 (an hour)",
                            s.get_ref()
                        ),
                    ));
                }
                Some(s) => *s.get_ref(),
                None => DEFAULT_LOG_OVERLAP_SECS,
            },
        })
    }

    fn safety(&self, raw: raw::RawSafety) -> Result<SafetyConfig> {
        let mut protected_users = Vec::new();
        for entry in raw.protected_users.unwrap_or_default() {
            protected_users.push(self.non_empty(&entry, "safety.protected_users")?);
        }
        let max_deactivations = raw.max_deactivations.unwrap_or(10);
        let min_deactivation_cap = match raw.min_deactivation_cap {
            None => 3,
            Some(floor) if *floor.get_ref() > max_deactivations => {
                return Err(self.loc.at(
                    floor.span(),
                    "safety.min_deactivation_cap",
                    format!(
                        "{} is more than safety.max_deactivations ({max_deactivations}), \
                         which bounds the cap: lower it or raise max_deactivations",
                        floor.get_ref()
                    ),
                ));
            }
            Some(floor) => floor.into_inner(),
        };
        Ok(SafetyConfig {
            max_deactivations,
            min_deactivation_cap,
            max_deactivations_percent: self.percent(
                raw.max_deactivations_percent,
                "safety.max_deactivations_percent",
                10.0,
            )?,
            protected_users,
        })
    }

    fn daemon(&self, raw: raw::RawDaemon, state_db: &std::path::Path) -> Result<DaemonConfig> {
        let schedule = match &raw.schedule {
            Some(schedule) => self.non_empty(schedule, "daemon.schedule")?,
            None => DEFAULT_SCHEDULE.to_owned(),
        };
        Ok(DaemonConfig {
            schedule,
            time_zone: self.time_zone(raw.time_zone.as_ref())?,
            // A day at most: the delay is added to the scheduled time, and a delay of
            // millions of years overflowed the date arithmetic (a panic at the first tick).
            random_delay_secs: self.int_in_range(
                raw.random_delay_secs,
                "daemon.random_delay_secs",
                0,
                0,
                MAX_RANDOM_DELAY_SECS,
            )?,
            run_at_start: raw.run_at_start.unwrap_or(true),
            incremental_interval_secs: match &raw.incremental_interval_secs {
                Some(s) if *s.get_ref() != 0 && !(10..=86_400).contains(s.get_ref()) => {
                    return Err(self.loc.at(
                        s.span(),
                        "daemon.incremental_interval_secs",
                        format!(
                            "{} is out of range: give 10 to 86400 seconds between incremental \
                             cycles, or 0 to run only the full schedule",
                            s.get_ref()
                        ),
                    ));
                }
                Some(s) => *s.get_ref(),
                None => DEFAULT_INCREMENTAL_INTERVAL_SECS,
            },
            listen: self.listen(raw.listen.as_ref())?,
            shutdown_timeout_secs: raw.shutdown_timeout_secs.unwrap_or(30),
            healthy_within_intervals: self.int_in_range(
                raw.healthy_within_intervals,
                "daemon.healthy_within_intervals",
                3,
                1,
                u32::MAX,
            )?,
            allow_root: raw.allow_root.unwrap_or(false),
            control_socket: match &raw.control_socket {
                Some(path) => self
                    .base_dir
                    .join(self.non_empty(path, "daemon.control_socket")?),
                None => state_db
                    .parent()
                    .map(|dir| dir.join("control.sock"))
                    .unwrap_or_else(|| PathBuf::from("control.sock")),
            },
            control_group: match &raw.control_group {
                Some(group) => Some(self.identifier(
                    group,
                    "daemon.control_group",
                    "a group name such as \"scim-sync-operators\"",
                )?),
                None => None,
            },
        })
    }

    /// `daemon.time_zone`: the obvious mistakes; the scheduler checks the name itself.
    fn time_zone(&self, value: Option<&Spanned<String>>) -> Result<Option<String>> {
        Ok(match value {
            Some(zone) => {
                let name = self.non_empty(zone, "daemon.time_zone")?;
                // Full validation needs the tz database (done by the scheduler); catch
                // the obvious mistakes here so they point at the line.
                if name.contains(char::is_whitespace) {
                    return Err(self.loc.at(
                        zone.span(),
                        "daemon.time_zone",
                        format!("{} is not an IANA time zone name; use e.g. \"Europe/Berlin\" or \"UTC\"", quoted(&name)),
                    ));
                }
                Some(name)
            }
            None => None,
        })
    }

    /// `daemon.listen`: an IP and port for `/healthz` and `/metrics`.
    fn listen(&self, value: Option<&Spanned<String>>) -> Result<Option<SocketAddr>> {
        Ok(match value {
            Some(addr) => Some(addr.get_ref().trim().parse::<SocketAddr>().map_err(|_| {
                self.loc.at(
                    addr.span(),
                    "daemon.listen",
                    format!(
                        "{} is not a socket address; write an IP and port such as \
                         \"127.0.0.1:9464\" or \"[::1]:9464\"",
                        quoted(addr.get_ref())
                    ),
                )
            })?),
            None => None,
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
                            "{} is not a log filter ({e}); use a level such as \"info\" or \
                             \"debug\", or directives like \"scim_sync=debug,info\"",
                            quoted(&text)
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
}
