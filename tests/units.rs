//! The systemd units in `systemd/` as an admin relies on them: `systemctl reload` runs
//! `config check` first (a bad config fails the reload), and the template units
//! (`scim-sync@TEAM.service`, …) are their plain units for one team: same settings and
//! hardening, the team's config, state directory and secrets. `systemd-analyze verify`
//! of them all is `daemon::unit_files_pass_systemd_analyze_verify`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_scim-sync");

fn unit(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("systemd")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The values of `key=` lines, in order.
fn values<'a>(unit: &'a str, key: &str) -> Vec<&'a str> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .collect()
}

/// The unit's settings: no comments, blank lines or Description= (which names the
/// instance).
fn settings(unit: &str) -> Vec<String> {
    unit.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with("Description="))
        .map(str::to_string)
        .collect()
}

#[test]
fn each_template_is_its_plain_unit_for_one_team() {
    for (plain, template) in [
        ("scim-sync.service", "scim-sync@.service"),
        ("scim-sync-once.service", "scim-sync-once@.service"),
        ("scim-sync-once.timer", "scim-sync-once@.timer"),
        ("scim-sync-report.service", "scim-sync-report@.service"),
        ("scim-sync-report.timer", "scim-sync-report@.timer"),
    ] {
        // What differs for one team, and only that.
        let expected: Vec<String> = settings(&unit(plain))
            .into_iter()
            .map(|l| {
                l.replace(
                    "--config /etc/scim-sync/config.toml",
                    "--config /etc/scim-sync/%i.toml",
                )
                .replace(
                    "scim-sync report --since",
                    "scim-sync report --config /etc/scim-sync/%i.toml --since",
                )
                .replace(
                    "/etc/scim-sync/credentials/",
                    "/etc/scim-sync/credentials/%i/",
                )
                .replace("StateDirectory=scim-sync", "StateDirectory=scim-sync/%i")
                .replace(".service", "@%i.service")
            })
            .collect();
        let actual = settings(&unit(template));
        assert_eq!(actual, expected, "{template} against {plain}");
        assert!(
            values(&unit(template), "Description")[0].ends_with(" (%i)"),
            "{template}"
        );
    }
    // Each team its own state directory: the default /var/lib/scim-sync/state.db is
    // read-only to an instance (ProtectSystem=strict), so its config must name one inside.
    let daemon = unit("scim-sync@.service");
    assert_eq!(values(&daemon, "StateDirectory"), ["scim-sync/%i"]);
    assert_eq!(values(&daemon, "ProtectSystem"), ["strict"]);
    assert!(daemon.contains(r#"state_db = "/var/lib/scim-sync/TEAM/state.db""#));
}

#[test]
fn the_oneshot_units_fail_on_held_but_not_on_partial() {
    for name in ["scim-sync-once.service", "scim-sync-once@.service"] {
        assert_eq!(values(&unit(name), "SuccessExitStatus"), ["3"], "{name}");
    }
}

/// A config `config check` passes, its secrets systemd credentials in `creds`.
fn write_config(dir: &Path, schedule: &str) -> std::path::PathBuf {
    let creds = dir.join("credentials");
    std::fs::create_dir_all(&creds).unwrap();
    for (name, value) in [
        ("okta-api-token", "00aOktaTokenValue0123456789abcdefXYZ"),
        ("kafkaman-api-key", "km_live_Secret0123456789abcdefABCDEF"),
    ] {
        let path = creds.join(name);
        std::fs::write(&path, value).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
    }
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[okta]\norg_url = \"https://acme.okta.com\"\napp_id = \"0oa1b2c3d4e5f6g7h8i9\"\n\
             api_token = {{ credential = \"okta-api-token\" }}\n\
             [kafkaman]\napi_key = {{ credential = \"kafkaman-api-key\" }}\n\
             [sync]\nstate_db = \"{}\"\n[daemon]\nschedule = \"{schedule}\"\n",
            dir.join("state.db").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o640)).unwrap();
    config
}

/// Runs the unit's ExecReload= lines in order as systemd does, the first that fails
/// stopping the rest; the exit code of the first that failed, or of the last. `kill` is
/// not run (there is no $MAINPID): the result says whether it would have been.
fn reload(unit: &str, config: &Path, creds: Option<&Path>) -> (Option<i32>, bool) {
    let lines = values(unit, "ExecReload");
    let (kill, checks) = lines.split_last().unwrap();
    assert_eq!(*kill, "/bin/kill -HUP $MAINPID", "{lines:?}");
    for line in checks {
        let mut words = line.split_whitespace();
        assert_eq!(words.next(), Some("/usr/bin/scim-sync"), "{line}");
        let args: Vec<String> = words
            .map(|w| {
                if w.starts_with("/etc/scim-sync/") {
                    config.display().to_string()
                } else {
                    w.to_string()
                }
            })
            .collect();
        let mut command = Command::new(BIN);
        command
            .args(&args)
            .env_remove("SCIM_SYNC_CONFIG")
            .env_remove("CREDENTIALS_DIRECTORY");
        if let Some(creds) = creds {
            command.env("CREDENTIALS_DIRECTORY", creds);
        }
        let out = command.output().unwrap();
        if !out.status.success() {
            return (out.status.code(), false);
        }
    }
    (Some(0), true)
}

#[test]
fn reload_fails_on_a_bad_config_before_signalling_the_daemon() {
    for name in ["scim-sync.service", "scim-sync@.service"] {
        let unit = unit(name);
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("credentials");
        let good = write_config(dir.path(), "*/15 * * * *");
        assert_eq!(
            reload(&unit, &good, Some(&creds)),
            (Some(0), true),
            "{name}"
        );
        // An invalid schedule: the reload fails (exit 78) and the daemon is not signalled.
        let bad = write_config(dir.path(), "0 25 * * *");
        assert_eq!(
            reload(&unit, &bad, Some(&creds)),
            (Some(78), false),
            "{name}"
        );
        // The secrets are checked with the unit's credentials: a missing one fails it too.
        let good = write_config(dir.path(), "*/15 * * * *");
        std::fs::remove_file(creds.join("kafkaman-api-key")).unwrap();
        assert_eq!(
            reload(&unit, &good, Some(&creds)),
            (Some(78), false),
            "{name}"
        );
    }
}
