//! `scim-sync config check`: the config file checked offline, line by line.
//!
//! Everything [`crate::config::load`] checks (syntax, known keys, values), then what only shows
//! at run time: that each secret can be read and is not empty, that secret files cannot
//! be changed by others (group- or world-writable: FAIL) nor read by every user
//! (world-readable: WARN), that the schedule and time zone parse, and when the next runs
//! are. No network (`scim-sync check` tests the credentials against the services). A
//! secret value is never printed: secrets are read only to see that they can be, and
//! every message names where a secret comes from, never what it is.

use std::ffi::OsString;
use std::fmt;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use chrono::{DateTime, Utc};

use crate::config::{
    self, CREDENTIALS_DIRECTORY_ENV, Config, ConfigError, OktaAuth, SecretError, SecretRef,
    SecretSource,
};
use crate::daemon::schedule::{Schedule, Zone};
use crate::daemon::schedule_cli::next_runs;
use crate::escape;
use crate::exit::Exit;

/// How many next run times are listed.
const NEXT_RUNS: usize = 3;

/// The verdict of one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// Works, but a person should look (the check still passes).
    Warn,
    /// Must be fixed: the check exits 78.
    Fail,
    /// Cannot be checked here (a systemd credential outside the service).
    Skip,
    /// A continuation of the line above (the next run times).
    Info,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
            Status::Info => "",
        }
    }
}

/// One line of the check: a verdict and what it is about (with what to fix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckLine {
    pub status: Status,
    pub text: String,
}

impl fmt::Display for CheckLine {
    /// `OK   text`; the lines of a multi-line text are indented under the first.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut lines = self.text.lines();
        write!(
            f,
            "{:<4} {}",
            self.status.label(),
            lines.next().unwrap_or("")
        )?;
        for more in lines {
            write!(f, "\n     {more}")?;
        }
        Ok(())
    }
}

fn line(status: Status, text: impl Into<String>) -> CheckLine {
    CheckLine {
        status,
        text: text.into(),
    }
}

/// Checks the config file at `path` and prints one line per check; [`Exit::Ok`] when no
/// line failed (warnings allowed), [`Exit::Config`] otherwise.
pub fn run(path: &Path) -> Exit {
    let lines = check(path, Utc::now(), &|name| std::env::var_os(name));
    for l in &lines {
        crate::out_println!("{l}");
    }
    let failed = lines.iter().filter(|l| l.status == Status::Fail).count();
    let warnings = lines.iter().filter(|l| l.status == Status::Warn).count();
    match (failed, warnings) {
        (0, 0) => crate::out_println!(
            "config check: no problems found (offline; `scim-sync check` tests the \
             credentials against Okta and kafkaman)"
        ),
        (0, _) => crate::out_println!(
            "config check: no errors; {warnings} warning(s) above are worth fixing \
             (offline; `scim-sync check` tests the credentials against Okta and kafkaman)"
        ),
        _ => crate::out_println!("config check: {failed} problem(s) to fix, see FAIL above"),
    }
    if failed == 0 { Exit::Ok } else { Exit::Config }
}

/// The lines of the check of the config at `path`, with next run times after `now` and
/// `env` as the process environment.
pub fn check(
    path: &Path,
    now: DateTime<Utc>,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Vec<CheckLine> {
    let shown = escape::text(&path.display().to_string()).into_owned();
    let mut lines = Vec::new();
    let text = match config::read_config_text(path) {
        Ok(text) => text,
        Err(e) => {
            lines.push(line(Status::Fail, e.to_string()));
            return lines;
        }
    };
    lines.push(config_file_line(path, &shown));
    let cfg = match config::parse_file_text(path, &text) {
        Ok(cfg) => cfg,
        Err(e) => {
            lines.push(line(Status::Fail, syntax_failure(&e)));
            return lines;
        }
    };
    lines.push(line(
        Status::Ok,
        "config syntax and values (every key known, every value valid)",
    ));
    values(&cfg, &shown, &text, now, env, &mut lines);
    lines
}

fn syntax_failure(e: &ConfigError) -> String {
    format!("{e}")
}

fn mode_text(mode: u32) -> String {
    format!("mode {:04o}", mode & 0o7777)
}

/// The config file itself: anyone who can change it can point the secrets elsewhere.
fn config_file_line(path: &Path, shown: &str) -> CheckLine {
    let Ok(meta) = std::fs::metadata(path) else {
        return line(Status::Ok, format!("config file {shown}"));
    };
    let mode = meta.permissions().mode();
    let what = format!("config file {shown} ({})", mode_text(mode));
    if mode & 0o002 != 0 {
        line(
            Status::Fail,
            format!(
                "{what} can be changed by every user of the host, who could point the \
                 secrets and URLs elsewhere: `chmod o-w {shown}` (the README installs it \
                 root:scim-sync 0640)"
            ),
        )
    } else if mode & 0o020 != 0 {
        line(
            Status::Warn,
            format!(
                "{what} can be changed by its group: `chmod g-w {shown}` unless the group \
                 is meant to edit it"
            ),
        )
    } else {
        line(Status::Ok, what)
    }
}

fn values(
    cfg: &Config,
    config_shown: &str,
    text: &str,
    now: DateTime<Utc>,
    env: &dyn Fn(&str) -> Option<OsString>,
    lines: &mut Vec<CheckLine>,
) {
    let okta = &cfg.okta;
    lines.push(line(Status::Ok, format!("okta.org_url = {}", okta.org_url)));
    lines.push(line(
        Status::Ok,
        format!("okta.app_id = {}", escape::text(&okta.app_id)),
    ));
    match &okta.auth {
        OktaAuth::ApiToken(secret) => lines.push(secret_line(secret, env, |_| Ok(()))),
        OktaAuth::OAuth(oauth) => {
            lines.push(line(
                Status::Ok,
                format!("okta.oauth.client_id = {}", escape::text(&oauth.client_id)),
            ));
            lines.push(secret_line(&oauth.private_key, env, |pem| {
                jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes())
                    .map(|_| ())
                    .map_err(|e| {
                        format!(
                            "is not an RSA private key in PEM format ({e}): it must start \
                             with -----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----"
                        )
                    })
            }));
        }
    }
    lines.push(line(
        Status::Ok,
        format!("kafkaman.base_url = {}", cfg.kafkaman.base_url),
    ));
    lines.push(secret_line(&cfg.kafkaman.api_key, env, |_| Ok(())));

    lines.push(state_line(&cfg.sync.state_db));

    schedule_lines(cfg, config_shown, text, now, lines);
    lines.push(line(
        Status::Ok,
        match cfg.daemon.listen {
            Some(addr) => format!("daemon.listen = {addr} (/healthz and /metrics)"),
            None => "daemon.listen: off (no /healthz or /metrics)".to_owned(),
        },
    ));
}

/// `sync.state_db`: writable by the user the check runs as (the database and its
/// directory, or the directory it would be created in); as root, not another user's.
fn state_line(db: &Path) -> CheckLine {
    let db_shown = escape::text(&db.display().to_string()).into_owned();
    if let Err(e) = crate::store::files::check_access(db) {
        return line(Status::Fail, escape::text(&e.to_string()).into_owned());
    }
    line(
        Status::Ok,
        if db.exists() {
            format!("sync.state_db = {db_shown} (exists, writable)")
        } else {
            format!(
                "sync.state_db = {db_shown} (not created yet: the first sync creates it, \
                 its directory is writable)"
            )
        },
    )
}

/// `daemon.time_zone` and `daemon.schedule` as the daemon reads them at start, and the
/// next run times.
fn schedule_lines(
    cfg: &Config,
    config_shown: &str,
    text: &str,
    now: DateTime<Utc>,
    lines: &mut Vec<CheckLine>,
) {
    let at = |key: &str| match config::line_of_key(text, key) {
        Some(n) => format!("{config_shown} line {n}: {key}"),
        None => format!("{config_shown}: {key}"),
    };
    let zone = match Zone::parse(cfg.daemon.time_zone.as_deref()) {
        Ok(zone) => zone,
        Err(e) => {
            lines.push(line(
                Status::Fail,
                format!("{}: {e}", at("daemon.time_zone")),
            ));
            return;
        }
    };
    let schedule = match Schedule::parse(&cfg.daemon.schedule, zone) {
        Ok(schedule) => schedule,
        Err(e) => {
            lines.push(line(
                Status::Fail,
                format!("{}: {e}", at("daemon.schedule")),
            ));
            return;
        }
    };
    lines.push(line(
        Status::Ok,
        format!(
            "daemon.schedule = {:?} in time zone {}: {}",
            schedule.expression(),
            zone.name(),
            schedule.describe()
        ),
    ));
    let upcoming = next_runs(&schedule, now, NEXT_RUNS);
    if upcoming.is_empty() {
        lines.push(line(
            Status::Fail,
            format!(
                "{}: {:?} matches no future time, so the daemon would never run a full \
                 cycle: check the day and month fields",
                at("daemon.schedule"),
                schedule.expression()
            ),
        ));
    } else {
        lines.push(line(
            Status::Info,
            format!("next runs:\n  {}", upcoming.join("\n  ")),
        ));
    }
}

/// Reads the secret (to see that it can be read and is not empty, then forgets it),
/// checks a secret file's mode, and runs `content_check` on the value (e.g. that a
/// private key parses). No line holds any part of the value.
fn secret_line(
    secret: &SecretRef,
    env: &dyn Fn(&str) -> Option<OsString>,
    content_check: impl Fn(&str) -> Result<(), String>,
) -> CheckLine {
    use secrecy::ExposeSecret as _;
    let key = &secret.key;
    let mut mode_warning = None;
    // A credential's file when $CREDENTIALS_DIRECTORY is set (under systemd, or pointed
    // at the files the unit loads): as much a file as `{ file = … }`.
    let file = match &secret.source {
        SecretSource::File(path) => Some(path.clone()),
        SecretSource::Credential(name) => env(CREDENTIALS_DIRECTORY_ENV)
            .filter(|dir| !dir.is_empty())
            .map(|dir| Path::new(&dir).join(name)),
        SecretSource::Env(_) => None,
    };
    // The one permission rule (config::check_file_mode), as sync and the daemon apply it.
    if let Some(path) = &file
        && let Ok(meta) = std::fs::metadata(path)
    {
        match config::check_file_mode(key, path, meta.permissions().mode()) {
            Ok(warning) => mode_warning = warning,
            Err(e) => return line(Status::Fail, escape::text(&e.to_string()).into_owned()),
        }
    }
    let value = match secret.resolve_with_env(env) {
        Ok(value) => value,
        Err(e) => return secret_failure(secret, e),
    };
    if let Err(problem) = content_check(value.expose_secret()) {
        return line(
            Status::Fail,
            format!("{key}: the secret from {} {problem}", secret.source),
        );
    }
    drop(value);
    if let Some(warning) = mode_warning {
        return line(Status::Warn, warning);
    }
    let mode = file
        .and_then(|path| std::fs::metadata(path).ok())
        .map(|meta| format!(" ({})", mode_text(meta.permissions().mode())))
        .unwrap_or_default();
    line(
        Status::Ok,
        format!(
            "{key}: {}{mode} can be read and is not empty",
            escape::text(&secret.source.to_string())
        ),
    )
}

/// The line for a secret that could not be read: a systemd credential outside the
/// service is skipped, an environment variable unset here is a warning (the service may
/// set it), anything else fails with what to fix.
fn secret_failure(secret: &SecretRef, e: SecretError) -> CheckLine {
    let key = &secret.key;
    match e {
        SecretError::NoCredentialsDirectory { name, .. } => line(
            Status::Skip,
            format!(
                "{key}: systemd credential `{name}` is read only by the service \
                 (${CREDENTIALS_DIRECTORY_ENV} is not set here): the unit needs \
                 `LoadCredential={name}:/path/to/secret`; to check that file, run with \
                 {CREDENTIALS_DIRECTORY_ENV}=its directory (e.g. /etc/scim-sync/credentials)",
                name = escape::text(&name)
            ),
        ),
        SecretError::EnvMissing { name, .. } => line(
            Status::Warn,
            format!(
                "{key}: environment variable {} is not set here; the service must get it \
                 (Environment= or EnvironmentFile= in the unit)",
                escape::text(&name)
            ),
        ),
        SecretError::File { source, path, .. } => {
            let shown = escape::text(&path.display().to_string()).into_owned();
            let fix = match source.kind() {
                std::io::ErrorKind::NotFound => {
                    "create it holding the secret (mode 600), or correct the path".to_owned()
                }
                std::io::ErrorKind::PermissionDenied => format!(
                    "run the check as the user scim-sync runs as (`sudo -u scim-sync \
                     scim-sync config check`), and give that user read access to {shown}"
                ),
                _ => "check the file".to_owned(),
            };
            line(
                Status::Fail,
                format!("{key}: cannot read secret file {shown}: {source}; {fix}"),
            )
        }
        other => line(Status::Fail, escape::text(&other.to_string()).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_with(dir: &Path, okta_secret: &str, daemon: &str) -> std::path::PathBuf {
        let path = dir.join("config.toml");
        std::fs::write(
            &path,
            format!(
                "[okta]\norg_url = \"https://acme.okta.com\"\napp_id = \"0oaAPP\"\n\
                 api_token = {okta_secret}\n\n[kafkaman]\napi_key = {{ env = \"KM_KEY\" }}\n\n\
                 [sync]\nstate_db = \"state.db\"\n\n[daemon]\n{daemon}\n"
            ),
        )
        .expect("write config");
        path
    }

    fn env_with_key(name: &str) -> Option<OsString> {
        (name == "KM_KEY").then(|| OsString::from("km-secret-value"))
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z")
            .expect("a time")
            .with_timezone(&Utc)
    }

    fn status_of<'a>(lines: &'a [CheckLine], prefix: &str) -> &'a CheckLine {
        lines
            .iter()
            .find(|l| l.text.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line {prefix} in {lines:#?}"))
    }

    #[test]
    fn env_secret_unset_here_is_a_warning_and_a_credential_is_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = config_with(
            dir.path(),
            "{ credential = \"okta-api-token\" }",
            "schedule = \"0 7 * * *\"\ntime_zone = \"UTC\"",
        );
        let lines = check(&path, now(), &|_| None);
        assert_eq!(status_of(&lines, "okta.api_token").status, Status::Skip);
        assert_eq!(status_of(&lines, "kafkaman.api_key").status, Status::Warn);
        assert!(lines.iter().all(|l| l.status != Status::Fail), "{lines:#?}");
        let runs = status_of(&lines, "next runs");
        assert_eq!(
            runs.text,
            "next runs:\n  2030-01-01 07:00:00 +00:00 (UTC)\n  2030-01-02 07:00:00 +00:00 (UTC)\n  \
             2030-01-03 07:00:00 +00:00 (UTC)"
        );
    }

    #[test]
    fn a_bad_time_zone_or_a_schedule_without_future_runs_fails_with_its_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = config_with(
            dir.path(),
            "{ env = \"KM_KEY\" }",
            "schedule = \"0 7 * * *\"\ntime_zone = \"Europe/Berln\"",
        );
        let lines = check(&path, now(), &env_with_key);
        let fail = lines
            .iter()
            .find(|l| l.status == Status::Fail)
            .expect("a failure");
        assert!(
            fail.text.contains("line 14: daemon.time_zone") && fail.text.contains("Europe/Berln"),
            "{fail}"
        );

        let path = config_with(
            dir.path(),
            "{ env = \"KM_KEY\" }",
            "schedule = \"0 7 30 2 *\"",
        );
        let lines = check(&path, now(), &env_with_key);
        let fail = lines
            .iter()
            .find(|l| l.status == Status::Fail)
            .expect("a failure");
        assert!(
            fail.text.contains("line 13: daemon.schedule") && fail.text.contains("no future"),
            "{fail}"
        );
    }

    #[test]
    fn an_oauth_key_that_is_not_pem_fails_without_showing_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = dir.path().join("okta.pem");
        std::fs::write(&key, "not-a-key-but-secret-material\n").expect("write key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "[okta]\norg_url = \"https://acme.okta.com\"\napp_id = \"0oaAPP\"\n\n\
             [okta.oauth]\nclient_id = \"0oaCLIENT\"\nprivate_key = { file = \"okta.pem\" }\n\n\
             [kafkaman]\napi_key = { env = \"KM_KEY\" }\n",
        )
        .expect("write config");
        let lines = check(&path, now(), &env_with_key);
        let key_line = status_of(&lines, "okta.oauth.private_key");
        assert_eq!(key_line.status, Status::Fail, "{key_line}");
        assert!(key_line.text.contains("PEM"), "{key_line}");
        let all: String = lines.iter().map(|l| format!("{l}\n")).collect();
        assert!(!all.contains("secret-material"), "{all}");
        assert!(!all.contains("km-secret-value"), "{all}");
    }
}
