//! `scim-sync config check` as an admin runs it before (re)starting the service: the
//! binary, a config in a temp folder, secret files with chosen modes. No network.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_scim-sync");

const OKTA_TOKEN: &str = "00aOktaTokenValue0123456789abcdefXYZ";
const KAFKAMAN_KEY: &str = "km_live_Secret0123456789abcdefABCDEF";

/// A config whose Okta token is the file `okta-token` (mode `mode`) and whose kafkaman
/// key is the environment variable `KM_KEY`; `extra` is added to `[okta]`.
fn setup(dir: &Path, okta_extra: &str, mode: u32) -> PathBuf {
    let token = dir.join("okta-token");
    std::fs::write(&token, format!("{OKTA_TOKEN}\n")).unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(mode)).unwrap();
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[okta]\n\
             org_url = \"https://acme.okta.com\"\n\
             app_id = \"0oa1b2c3d4e5f6g7h8i9\"\n\
             api_token = {{ file = \"okta-token\" }}\n\
             {okta_extra}\n\
             [kafkaman]\n\
             api_key = {{ env = \"KM_KEY\" }}\n\
             \n\
             [sync]\n\
             state_db = \"state.db\"\n\
             \n\
             [daemon]\n\
             schedule = \"30 6 * * MON-FRI\"\n\
             time_zone = \"Europe/Berlin\"\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o640)).unwrap();
    config
}

fn config_check(config: &Path) -> Output {
    Command::new(BIN)
        .args(["config", "check", "--config"])
        .arg(config)
        .env_remove("SCIM_SYNC_CONFIG")
        .env_remove("CREDENTIALS_DIRECTORY")
        .env("KM_KEY", KAFKAMAN_KEY)
        .output()
        .expect("binary runs")
}

/// stdout and stderr together, after asserting that no secret is in either.
fn shown(out: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for secret in [OKTA_TOKEN, KAFKAMAN_KEY] {
        assert!(!text.contains(secret), "a secret was printed:\n{text}");
        assert!(
            !text.contains(&secret[..12]),
            "part of a secret was printed:\n{text}"
        );
    }
    text
}

#[test]
fn a_good_config_passes_and_shows_the_next_runs() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path(), "", 0o600);
    let out = config_check(&config);
    let text = shown(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    for expected in [
        "OK   config syntax and values",
        "OK   okta.org_url = https://acme.okta.com/",
        "OK   okta.app_id = 0oa1b2c3d4e5f6g7h8i9",
        "OK   okta.api_token: file ",
        "(mode 0600) can be read and is not empty",
        "OK   kafkaman.api_key: environment variable KM_KEY can be read",
        "OK   daemon.schedule = \"30 6 * * MON-FRI\" in time zone Europe/Berlin",
        "next runs:",
        "config check: no problems found",
    ] {
        assert!(text.contains(expected), "{expected:?} in:\n{text}");
    }
    assert!(!text.contains("FAIL") && !text.contains("WARN"), "{text}");
    // Three run times, on weekdays at 06:30 Berlin time.
    let runs: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.contains("next runs:"))
        .skip(1)
        .take_while(|l| l.starts_with("       "))
        .collect();
    assert_eq!(runs.len(), 3, "{text}");
    for run in runs {
        assert!(run.contains(" 06:30:00 +0"), "{run}");
    }
}

#[test]
fn a_typo_exits_78_with_the_suggestion_and_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path(), "", 0o600);
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("app_id = ", "app_ld = ");
    std::fs::write(&config, text).unwrap();
    let out = config_check(&config);
    let text = shown(&out);
    assert_eq!(out.status.code(), Some(78), "{text}");
    assert!(
        text.contains(&format!(
            "FAIL {} line 3, column 1: unknown key `okta.app_ld`: did you mean `okta.app_id`?",
            config.display()
        )),
        "{text}"
    );
}

#[test]
fn a_secret_file_others_can_change_fails_and_one_all_can_read_warns() {
    let dir = tempfile::tempdir().unwrap();
    for (mode, who) in [(0o666, "every user of the host"), (0o620, "its group")] {
        let config = setup(dir.path(), "", mode);
        let out = config_check(&config);
        let text = shown(&out);
        assert_eq!(out.status.code(), Some(78), "{mode:o}: {text}");
        let fail = text
            .lines()
            .find(|l| l.starts_with("FAIL okta.api_token: secret file"))
            .unwrap_or_else(|| panic!("no FAIL line for mode {mode:o}:\n{text}"));
        assert!(fail.contains(&format!("can be changed by {who}")), "{fail}");
        assert!(fail.contains("chmod 600"), "{fail}");
    }

    let config = setup(dir.path(), "", 0o644);
    let out = config_check(&config);
    let text = shown(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("WARN okta.api_token:")
            && l.contains("can be read by every user")
            && l.contains("chmod o-r")),
        "{text}"
    );
}

#[test]
fn unreadable_secrets_fail_and_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path(), "", 0o600);
    std::fs::remove_file(dir.path().join("okta-token")).unwrap();
    let out = config_check(&config);
    let text = shown(&out);
    assert_eq!(out.status.code(), Some(78), "{text}");
    assert!(
        text.lines().any(
            |l| l.starts_with("FAIL okta.api_token: cannot read secret file")
                && l.contains("create it")
        ),
        "{text}"
    );

    // An OAuth key that is not a PEM key fails; the test key passes.
    let key = dir.path().join("okta.pem");
    std::fs::write(&key, format!("{OKTA_TOKEN}\n")).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let config = setup(dir.path(), "", 0o600);
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "api_token = { file = \"okta-token\" }\n",
        "oauth = { client_id = \"0oaCLIENT\", private_key = { file = \"okta.pem\" } }\n",
    );
    std::fs::write(&config, text).unwrap();
    let out = config_check(&config);
    let text = shown(&out);
    assert_eq!(out.status.code(), Some(78), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("FAIL okta.oauth.private_key:") && l.contains("PEM")),
        "{text}"
    );
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/oauth-test-key.pem"
        ),
        &key,
    )
    .unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = config_check(&config);
    let text = shown(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("OK   okta.oauth.private_key: file "),
        "{text}"
    );
}

/// A systemd credential is skipped outside the service, and checked like a file when
/// $CREDENTIALS_DIRECTORY points at the files the unit loads.
#[test]
fn credentials_are_checked_where_credentials_directory_points() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path(), "", 0o600);
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "api_token = { file = \"okta-token\" }",
        "api_token = { credential = \"okta-token\" }",
    );
    std::fs::write(&config, text).unwrap();
    let out = config_check(&config);
    let text = shown(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("SKIP okta.api_token: systemd credential")
                && l.contains("LoadCredential=okta-token:")),
        "{text}"
    );

    let with_dir = |mode: u32| {
        std::fs::set_permissions(
            dir.path().join("okta-token"),
            std::fs::Permissions::from_mode(mode),
        )
        .unwrap();
        Command::new(BIN)
            .args(["config", "check", "--config"])
            .arg(&config)
            .env("CREDENTIALS_DIRECTORY", dir.path())
            .env("KM_KEY", KAFKAMAN_KEY)
            .output()
            .unwrap()
    };
    let out = with_dir(0o600);
    let text = shown(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("OK   okta.api_token: systemd credential `okta-token` (mode 0600)"),
        "{text}"
    );
    let out = with_dir(0o666);
    let text = shown(&out);
    assert_eq!(out.status.code(), Some(78), "{text}");
    assert!(text.contains("FAIL okta.api_token:"), "{text}");
}

#[test]
fn a_bad_schedule_fails_with_its_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path(), "", 0o600);
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("30 6 * * MON-FRI", "30 6 * * MON-FRU");
    std::fs::write(&config, text).unwrap();
    let out = config_check(&config);
    let text = shown(&out);
    assert_eq!(out.status.code(), Some(78), "{text}");
    assert!(
        text.contains("line 13: daemon.schedule: invalid schedule") && text.contains("column 10"),
        "{text}"
    );
}

#[test]
fn a_missing_config_says_where_it_looked_and_exits_78() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere.toml");
    let out = config_check(&missing);
    let text = shown(&out);
    assert_eq!(out.status.code(), Some(78), "{text}");
    assert!(
        text.contains(&format!("FAIL no config file at {}", missing.display())),
        "{text}"
    );
    assert!(text.contains("scim-sync demo"), "{text}");
}

#[test]
fn config_without_a_subcommand_is_a_usage_error() {
    let out = Command::new(BIN).arg("config").output().unwrap();
    assert_eq!(out.status.code(), Some(64));
}
