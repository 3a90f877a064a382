//! Validation: the raw, spanned TOML (`raw.rs`) becomes a [`Config`]. One function per
//! section and per value kind; every error names the key and points at its line.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use toml::Spanned;
use url::Url;

use super::error::{ConfigError, Locator, quoted};
use super::model::*;
use super::raw::{self, RawConfig, RawSecret, RawSecretTable};
use super::secret::looks_like_token;
use super::{SecretRef, SecretSource};

/// Turns the raw, spanned config into [`Config`], checking every value that serde's
/// types alone cannot.
pub(super) struct Validator<'a> {
    pub(super) loc: Locator<'a>,
    pub(super) base_dir: &'a Path,
}

type Result<T, E = ConfigError> = std::result::Result<T, E>;

impl Validator<'_> {
    pub(super) fn config(&self, raw: RawConfig) -> Result<Config> {
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
        let org_url = self.okta_org_url(&raw.org_url)?;
        let app_id = self.identifier(
            &raw.app_id,
            "okta.app_id",
            "the app's id from its Okta Admin Console URL, e.g. \"0oa1b2c3d4e5f6g7h8i9\"",
        )?;
        let auth = self.okta_auth(raw.api_token, raw.oauth, section_span)?;
        let rate_limit_share = self.rate_limit_share(raw.rate_limit_share)?;
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

    /// `okta.rate_limit_share`: in (0, 1], default one half.
    fn rate_limit_share(&self, value: Option<Spanned<f64>>) -> Result<f64> {
        Ok(match value {
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

    fn daemon(&self, raw: raw::RawDaemon) -> Result<DaemonConfig> {
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
                None => 60,
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

    // ---- value checks -------------------------------------------------------------

    fn url(&self, value: &Spanned<String>, key: &str) -> Result<Url> {
        let text = value.get_ref().trim();
        let url = Url::parse(text).map_err(|e| {
            self.loc.at(
                value.span(),
                key,
                format!(
                    "{} is not a URL ({e}); write it in full, e.g. \"https://acme.okta.com\"",
                    quoted(value.get_ref())
                ),
            )
        })?;
        if !url.username().is_empty() || url.password().is_some() {
            // Never echo the value: it contains a credential.
            return Err(self.loc.at(
                value.span(),
                key,
                "the URL contains a user name or password; remove it (credentials are \
                 configured as secret references, never in URLs)",
            ));
        }
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
                        "{} must use https (plain http is allowed only for loopback addresses)",
                        quoted(value.get_ref())
                    ),
                ));
            }
            other => {
                return Err(self.loc.at(
                    value.span(),
                    key,
                    format!(
                        "{} has scheme {other:?}; use an https:// URL",
                        quoted(value.get_ref())
                    ),
                ));
            }
        }
        if url.host().is_none() {
            return Err(self.loc.at(
                value.span(),
                key,
                format!("{} has no host name", quoted(value.get_ref())),
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(self.loc.at(
                value.span(),
                key,
                format!(
                    "{} must not have a query string or fragment",
                    quoted(value.get_ref())
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
                    "{} contains characters that cannot appear here; expected {hint}",
                    quoted(value.get_ref())
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
        Ok(SecretRef {
            key: key.to_owned(),
            source: self.secret_source(table, span, key, suggestion)?,
        })
    }

    /// Exactly one of `file` (relative to the config), `env` or `credential` (a name).
    fn secret_source(
        &self,
        table: RawSecretTable,
        span: std::ops::Range<usize>,
        key: &str,
        suggestion: impl Fn() -> String,
    ) -> Result<SecretSource> {
        Ok(match (table.file, table.env, table.credential) {
            (Some(file), None, None) => {
                if file.trim().is_empty() {
                    return Err(self.loc.at(span, key, "`file` must not be empty"));
                }
                let path = self.base_dir.join(&file);
                if !file.starts_with(['/', '.', '~'])
                    && looks_like_token(&file.replace('/', ""))
                    && !path.exists()
                {
                    return Err(self.loc.at(span, key, pasted_secret("file")));
                }
                SecretSource::File(path)
            }
            (None, Some(env), None) => {
                if env.is_empty() {
                    return Err(self.loc.at(span, key, "`env` must not be empty"));
                }
                if !is_env_name(&env) {
                    // Never echo it: a value that is no variable name is most likely the
                    // secret itself.
                    return Err(self.loc.at(
                        span,
                        key,
                        format!(
                            "`env` is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*); {}",
                            pasted_secret("env")
                        ),
                    ));
                }
                SecretSource::Env(env)
            }
            (None, None, Some(name)) => {
                // A credential is a file name inside $CREDENTIALS_DIRECTORY, never a path.
                if name.is_empty() {
                    return Err(self.loc.at(span, key, "`credential` must not be empty"));
                }
                let allowed = |c: char| c.is_ascii_alphanumeric() || "_.:@+-".contains(c);
                if looks_like_token(&name.replace('/', ""))
                    || name.len() > 255
                    || !name.chars().all(|c| allowed(c) || c == '/')
                {
                    return Err(self.loc.at(
                        span,
                        key,
                        format!(
                            "`credential` is not a credential name (as in LoadCredential=NAME:...); {}",
                            pasted_secret("credential")
                        ),
                    ));
                }
                if name.contains('/') || name == "." || name == ".." {
                    return Err(self.loc.at(
                        span,
                        key,
                        format!(
                            "`credential = {}` must be a credential name (as in LoadCredential=NAME:...), not a path",
                            quoted(&name)
                        ),
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
        })
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*`: what a shell and systemd's `Environment=` accept.
fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The message for a reference that is probably the secret itself; shows none of it.
fn pasted_secret(kind: &str) -> String {
    format!(
        "this looks like a secret value, not a reference (not shown); put the secret in a \
         file (mode 0600), an environment variable or a systemd credential, and write \
         `{kind} = ...` naming it"
    )
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
