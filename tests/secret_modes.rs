//! One secret-permission rule (`config::check_file_mode`) in `config check`, `sync` and
//! `daemon`: a group- or world-writable secret file is refused, naming the key, the
//! path, the mode and the fix; a world-readable one is a warning.

use crate::common;

use std::os::unix::fs::PermissionsExt as _;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::Env;
use scim_sync_sim::generate;

const BIN: &str = env!("CARGO_BIN_EXE_scim-sync");

fn run(env: &Env, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--config")
        .arg(&env.config_path)
        .args(args)
        .env_remove("SCIM_SYNC_CONFIG")
        .env("SCIM_SYNC_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("binary runs")
}

fn chmod_token(env: &Env, mode: u32) -> std::path::PathBuf {
    let token = env.dir.path().join("okta-api-token");
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(mode)).unwrap();
    token
}

/// The daemon (the config allows root: tests run as root);
/// its exit status within `timeout`, or None when it is still running (then killed).
fn daemon_exit(env: &Env, timeout: Duration) -> (Option<i32>, String) {
    let mut child = Command::new(BIN)
        .args(["daemon", "--config"])
        .arg(&env.config_path)
        .args(["--log-format", "json"])
        .env("SCIM_SYNC_LOG", "info")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("daemon starts");
    let deadline = Instant::now() + timeout;
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
    }
    (code, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writable_secret_file_is_refused_by_config_check_sync_and_daemon() {
    let env = Env::start(&generate::builtin(), &[("daemon", "allow_root = true")]).await;
    for (mode, who) in [(0o666, "every user of the host"), (0o620, "its group")] {
        let token = chmod_token(&env, mode);
        let expected = [
            "okta.api_token".to_owned(),
            token.display().to_string(),
            format!("mode {mode:04o}"),
            format!("can be changed by {who}"),
            format!("chmod 600 {}", token.display()),
        ];

        let check = run(&env, &["config", "check"]);
        let stdout = String::from_utf8_lossy(&check.stdout);
        assert_eq!(check.status.code(), Some(78), "{stdout}");
        let fail = stdout
            .lines()
            .find(|l| l.starts_with("FAIL okta.api_token"))
            .unwrap_or_else(|| panic!("{stdout}"));
        for part in &expected {
            assert!(fail.contains(part.as_str()), "{part:?} not in {fail}");
        }

        let sync = run(&env, &["sync"]);
        let stderr = String::from_utf8_lossy(&sync.stderr);
        assert_eq!(sync.status.code(), Some(78), "{stderr}");
        for part in &expected {
            assert!(stderr.contains(part.as_str()), "{part:?} not in {stderr}");
        }
        assert!(env.world.kafkaman.log().writes().is_empty());
        assert!(env.world.okta.log().all().is_empty(), "no request sent");

        let (code, stderr) = daemon_exit(&env, Duration::from_secs(10));
        assert_eq!(code, Some(78), "the daemon refuses to start: {stderr}");
        for part in &expected {
            assert!(stderr.contains(part.as_str()), "{part:?} not in {stderr}");
        }
        assert!(env.world.kafkaman.log().writes().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_world_readable_secret_file_is_a_warning_once() {
    let env = Env::start(
        &generate::builtin(),
        &[("safety", "max_deactivations_percent = 100")],
    )
    .await;
    let token = chmod_token(&env, 0o644);
    let check = run(&env, &["config", "check"]);
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(0), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("WARN okta.api_token") && l.contains("chmod o-r")),
        "{stdout}"
    );
    let sync = run(&env, &["sync"]);
    let stderr = String::from_utf8_lossy(&sync.stderr);
    assert_eq!(sync.status.code(), Some(0), "{stderr}");
    let warnings = stderr
        .lines()
        .filter(|l| l.contains("can be read by every user") && l.contains("WARN"))
        .count();
    assert_eq!(warnings, 1, "one WARN for {}: {stderr}", token.display());
}
