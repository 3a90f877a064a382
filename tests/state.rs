//! The state on disk: created private (0600 files in a 0700 directory), never by a dry
//! run, never taken over by root from the service's user; `config check` says when the
//! state can't be written; one writer whatever the path to the database.

use crate::common;

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::Env;
use scim_sync_sim::{SimWorld, generate, process};

const BIN: &str = env!("CARGO_BIN_EXE_scim-sync");
const NOBODY: u32 = 65534;

fn run(config: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("SCIM_SYNC_CONFIG")
        .stdin(Stdio::null())
        .output()
        .expect("binary runs")
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// The simulators and a config whose state database is `state/sub/state.db` (neither
/// directory exists yet), without opening it.
async fn fresh() -> (
    SimWorld,
    tempfile::TempDir,
    std::path::PathBuf,
    std::path::PathBuf,
) {
    let world = SimWorld::start(&generate::builtin()).await.expect("sims");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let db = dir.path().join("state/sub/state.db");
    process::write_config(&world, &config, &db).unwrap();
    std::fs::write(
        &config,
        std::fs::read_to_string(&config).unwrap() + "\n[safety]\nmax_deactivations_percent = 100\n",
    )
    .unwrap();
    (world, dir, config, db)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_sync_creates_private_state_and_a_dry_run_creates_none() {
    let (world, dir, config, db) = fresh().await;
    let out = run(&config, &["--dry-run"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("create"),
        "it planned"
    );
    assert!(
        !dir.path().join("state").exists(),
        "a dry run created state"
    );
    assert!(world.kafkaman.log().writes().is_empty());

    let out = run(&config, &["sync"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&dir.path().join("state")), 0o700);
    assert_eq!(mode(&dir.path().join("state/sub")), 0o700);
    for suffix in ["", "-wal", "-shm", ".lock", ".open.lock"] {
        let file = format!("{}{suffix}", db.display());
        if suffix.is_empty() || Path::new(&file).exists() || suffix == ".lock" {
            assert_eq!(mode(Path::new(&file)), 0o600, "{file}");
        }
    }
}

/// Root running a command on the service user's state would leave root-owned files the
/// service can't write: refused with 77 and the command to run instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_refuses_to_create_or_take_over_another_users_state() {
    if !is_root() {
        eprintln!("skipped: not running as root");
        return;
    }
    let (_world, dir, config, db) = fresh().await;
    let state = db.parent().unwrap();
    std::fs::create_dir_all(state).unwrap();
    std::os::unix::fs::chown(dir.path().join("state"), Some(NOBODY), Some(NOBODY)).unwrap();
    std::os::unix::fs::chown(state, Some(NOBODY), Some(NOBODY)).unwrap();
    // Not created yet, in nobody's directory.
    let out = run(&config, &["sync"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(77), "{stderr}");
    assert!(stderr.contains("sudo -u nobody scim-sync"), "{stderr}");
    assert_eq!(
        std::fs::read_dir(state).unwrap().count(),
        0,
        "created files"
    );

    // Existing and nobody's: sync, dry run and daemon refuse; nothing root-owned appears.
    std::os::unix::fs::chown(state, Some(0), Some(0)).unwrap();
    drop(scim_sync::store::Store::open(&db).unwrap());
    std::os::unix::fs::chown(state, Some(NOBODY), Some(NOBODY)).unwrap();
    for entry in std::fs::read_dir(state).unwrap() {
        std::os::unix::fs::chown(entry.unwrap().path(), Some(NOBODY), Some(NOBODY)).unwrap();
    }
    std::fs::write(
        &config,
        std::fs::read_to_string(&config).unwrap() + "\n[daemon]\nallow_root = true\n",
    )
    .unwrap();
    for args in [&["sync"][..], &["--dry-run"][..], &["daemon"][..]] {
        let out = run(&config, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(77), "{args:?}: {stderr}");
        assert!(stderr.contains("is owned by nobody"), "{stderr}");
        assert!(stderr.contains("sudo -u nobody scim-sync"), "{stderr}");
    }
    for entry in std::fs::read_dir(state).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(std::fs::metadata(&path).unwrap().uid(), NOBODY, "{path:?}");
    }
}

/// `config check` run as a user who can't write the state says so (FAIL, exit 78).
#[test]
fn config_check_fails_on_a_state_path_the_user_cannot_write() {
    if !is_root() {
        eprintln!("skipped: not running as root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[okta]\norg_url = \"https://acme.okta.com\"\napp_id = \"0oaAPP\"\n\
             api_token = {{ env = \"OKTA_T\" }}\n\n[kafkaman]\napi_key = {{ env = \"KM_K\" }}\n\n\
             [sync]\nstate_db = \"{}\"\n",
            state.join("state.db").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let check = |as_nobody: bool| {
        let mut command = if as_nobody {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", BIN]);
            c
        } else {
            Command::new(BIN)
        };
        command
            .arg("--config")
            .arg(&config)
            .args(["config", "check"])
            .env("OKTA_T", "t")
            .env("KM_K", "k")
            .output()
            .unwrap()
    };
    let out = check(true);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(78), "{stdout}");
    let fail = stdout
        .lines()
        .find(|l| l.starts_with("FAIL state database"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(fail.contains("not writable by nobody"), "{fail}");
    assert!(fail.contains("sudo -u scim-sync"), "{fail}");
    // Root owns it: root may write it.
    let out = check(false);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// `env`'s config with `sync.state_db` pointing at `db` instead, written at `name`.
fn config_at(env: &Env, name: &str, db: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(&env.config_path).unwrap().replace(
        &format!("state_db = \"{}\"", env.db.display()),
        &format!("state_db = \"{}\"", db.display()),
    );
    assert!(text.contains(&db.display().to_string()));
    let path = env.dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// A symlink or a hard link to the database is the same database: a second writer
/// through either exits 4 (the first one here is this test process).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_writer_through_a_symlink_or_a_hard_link_exits_4() {
    let env = Env::start(&generate::builtin(), &[("daemon", "allow_root = true")]).await;
    let lock = scim_sync::store::StateLock::acquire(&env.db).unwrap();
    env.store.hold(lock).unwrap();
    let alias = env.dir.path().join("alias.db");
    std::os::unix::fs::symlink(&env.db, &alias).unwrap();
    let linked_dir = env.dir.path().join("elsewhere");
    std::fs::create_dir(&linked_dir).unwrap();
    let hard = linked_dir.join("hard.db");
    std::fs::hard_link(&env.db, &hard).unwrap();
    for (name, db) in [("symlink.toml", &alias), ("hard.toml", &hard)] {
        let config = config_at(&env, name, db);
        for args in [&["sync"][..], &["daemon"][..]] {
            let out = run(&config, args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(4), "{name} {args:?}: {stderr}");
            assert!(
                stderr.contains("another scim-sync process holds"),
                "{stderr}"
            );
        }
    }
    assert!(env.world.kafkaman.log().writes().is_empty());
}

/// A daemon whose database is deleted under it stops with the error, writing nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_whose_database_is_deleted_stops_without_writing() {
    let env = Env::start(
        &generate::builtin(),
        &[
            ("daemon", "allow_root = true"),
            ("daemon", "schedule = \"*/1 * * * * *\""),
            ("safety", "max_deactivations_percent = 100"),
        ],
    )
    .await;
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
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while env
        .store
        .runs(10)
        .unwrap()
        .iter()
        .all(|r| r.ended_at.is_none())
    {
        assert!(std::time::Instant::now() < deadline, "no run finished");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", env.db.display()));
    }
    let writes = env.world.kafkaman.log().writes().len();
    assert!(writes > 0, "the first cycle applied");
    // A cycle starts every second: the next one must stop the daemon instead.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the daemon kept running on a deleted database");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("was deleted while this process held"),
        "{stderr}"
    );
    assert_eq!(
        env.world.kafkaman.log().writes().len(),
        writes,
        "wrote after"
    );
}
