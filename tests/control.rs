//! A person in the loop while the daemon runs: `release-held`, `sync --now` and
//! `status` reach a daemon of another user through its control socket, and act directly
//! when no daemon runs.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Env, scim_sync, shown as text};
use scim_sync_sim::generate;
use serde_json::Value;

/// The unprivileged user the daemon runs as in these tests (tests run as root).
const SERVICE_USER: &str = "nobody";
const SERVICE_GROUP: &str = "nogroup";
/// Another unprivileged user, neither root nor the daemon's.
const OTHER_USER: &str = "daemon";

/// `user` (whose primary group is `group`) runs scim-sync.
fn as_user(user: &str, group: &str, config: &Path, args: &[&str]) -> Output {
    Command::new("setpriv")
        .args([
            &format!("--reuid={user}"),
            &format!("--regid={group}"),
            "--init-groups",
        ])
        .arg(env!("CARGO_BIN_EXE_scim-sync"))
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("setpriv runs")
}

/// The config's state database moved into `svc/`, a directory of the service user's
/// own that root never opened (as /var/lib/scim-sync is), and every file of the test
/// dir given to that user.
fn service_owned(env: &Env) -> PathBuf {
    let svc = env.dir.path().join("svc");
    std::fs::create_dir(&svc).unwrap();
    std::fs::set_permissions(&svc, std::fs::Permissions::from_mode(0o700)).unwrap();
    let config = std::fs::read_to_string(&env.config_path).unwrap();
    let db = svc.join("state.db");
    let config = config
        .lines()
        .map(|l| {
            if l.starts_with("state_db = ") {
                format!("state_db = \"{}\"", db.display())
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&env.config_path, config).unwrap();
    let owner = format!("{SERVICE_USER}:{SERVICE_GROUP}");
    let status = Command::new("chown")
        .args(["-R", &owner])
        .arg(env.dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    db
}

struct Daemon(Child);

impl Daemon {
    fn spawn_as(user: &str, config: &Path) -> Daemon {
        let child = Command::new("setpriv")
            .args([
                &format!("--reuid={user}"),
                &format!("--regid={SERVICE_GROUP}"),
                "--clear-groups",
            ])
            .arg(env!("CARGO_BIN_EXE_scim-sync"))
            .args(["daemon", "--config"])
            .arg(config)
            .args(["--log-format", "json"])
            .env("SCIM_SYNC_LOG", "info")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("JOURNAL_STREAM")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("daemon starts");
        Daemon(child)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: kill with our own child's pid.
        unsafe { libc::kill(self.0.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `status --output json` until the daemon answers and its first cycle ended.
fn wait_first_run(config: &Path) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = scim_sync(config, &["status", "--output", "json"]);
        if out.status.code() == Some(0) {
            let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
            if v["daemon"] == "running" && v["health"]["last_run"].is_object() {
                return v;
            }
        }
        assert!(Instant::now() < deadline, "no first run: {}", text(&out));
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A daemon running as the service user holds the database; root releases its held
/// deactivations and asks for a cycle through the socket, with no secret of its own.
/// Another user is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_and_sync_now_reach_a_daemon_of_another_user() {
    let env = Env::start(
        &generate::builtin(),
        &[
            ("safety", "max_deactivations = 1"),
            ("daemon", "schedule = \"0 0 1 1 *\""),
            ("daemon", "incremental_interval_secs = 0"),
        ],
    )
    .await;
    let db = service_owned(&env);
    let config = env.config_path.clone();
    let _daemon = Daemon::spawn_as(SERVICE_USER, &config);

    let status = wait_first_run(&config);
    assert_eq!(status["health"]["last_run"]["result"], "held", "{status:#}");
    let held = status["held_deactivations"].as_array().unwrap().len();
    assert!(held >= 2, "{status:#}");

    // The callers' config names secrets they don't have: the daemon does the work. An
    // operator who can read it (not the daemon's user, not root) can't reach the daemon.
    let other = tempfile::tempdir().unwrap();
    std::fs::set_permissions(other.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let secretless = other.path().join("config.toml");
    let text_of_config = std::fs::read_to_string(&config)
        .unwrap()
        .replace(env.dir.path().to_str().unwrap(), "/nonexistent")
        .replace(
            "state_db = \"/nonexistent/",
            &format!("state_db = \"{}/", env.dir.path().display()),
        );
    std::fs::write(&secretless, text_of_config).unwrap();
    std::fs::set_permissions(&secretless, std::fs::Permissions::from_mode(0o644)).unwrap();
    let config = secretless;
    let refused = as_user(OTHER_USER, OTHER_USER, &config, &["release-held"]);
    assert_eq!(refused.status.code(), Some(77), "{}", text(&refused));

    let out = scim_sync(&config, &["status"]);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("Daemon: running"), "{}", text(&out));
    assert!(shown.contains("scim-sync release-held"), "{}", text(&out));

    let writes = env.world.kafkaman.log().writes().len();
    let out = scim_sync(&config, &["release-held"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(" success: "),
        "{}",
        text(&out)
    );
    let deactivations = env.world.kafkaman.log().writes()[writes..]
        .iter()
        .filter(|w| w.method == "PATCH")
        .count();
    assert_eq!(deactivations, held, "every held member deactivated");

    let out = scim_sync(&config, &["sync", "--now"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("In sync: "),
        "{}",
        text(&out)
    );

    // A saved plan, computed and applied through the daemon: Okta unassigns someone.
    let leaver = scim_sync_sim::generate::builtin_ids::SOPHIE;
    env.world.okta.unassign_user(leaver).unwrap();
    let plan_file = other.path().join("plan.json");
    let out = scim_sync(&config, &["plan", "--out", plan_file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&plan_file).unwrap()).unwrap();
    assert_eq!(saved["operations"][0]["kind"], "deactivate", "{saved:#}");
    let out = scim_sync(&config, &["apply", plan_file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let email = saved["operations"][0]["user_name"].as_str().unwrap();
    assert!(!env.member(email).active, "{email} deactivated");

    // The daemon's database holds the runs, as the daemon's user made them (root is
    // refused another user's state, so the service user reads it).
    assert!(db.exists());
    let out = as_user(
        SERVICE_USER,
        SERVICE_GROUP,
        &config,
        &["history", "--output", "json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let history: Value = serde_json::from_slice(&out.stdout).unwrap();
    let triggers: Vec<&str> = history
        .as_array()
        .or_else(|| history["runs"].as_array())
        .expect("runs")
        .iter()
        .filter_map(|r| r["trigger"].as_str())
        .collect();
    assert_eq!(
        triggers,
        [
            "saved_plan",
            "requested",
            "requested",
            "requested",
            "startup"
        ],
        "{triggers:?}"
    );
}

/// No daemon: the same commands act directly (with the lock and the config's secrets),
/// and a name that is not held is a usage error that lists who is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_daemon_the_commands_act_directly() {
    let env = Env::start(&generate::builtin(), &[("safety", "max_deactivations = 1")]).await;
    let config = env.config_path.clone();
    let out = scim_sync(&config, &["sync", "--now"]);
    assert_eq!(out.status.code(), Some(6), "held: {}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("scim-sync release-held"),
        "{}",
        text(&out)
    );

    let out = scim_sync(&config, &["release-held", "nobody@example.com"]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not held: nobody@example.com; held now: "),
        "{err}"
    );

    let held = env.store.held_deactivations().unwrap();
    let first = held[0].user_name.to_uppercase();
    let out = scim_sync(&config, &["release-held", &first]);
    assert_eq!(
        out.status.code(),
        Some(6),
        "one released, the rest still held: {}",
        text(&out)
    );
    let now = env.store.held_deactivations().unwrap();
    assert_eq!(now.len(), held.len() - 1, "{now:?}");
    assert!(!env.member(&held[0].user_name).active);

    let out = scim_sync(&config, &["status"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.starts_with("Daemon: not running"), "{shown}");
    assert!(
        shown.contains(&format!("Held: {} deactivation(s)", now.len())),
        "{shown}"
    );
}
