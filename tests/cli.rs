//! The binary as a user runs it: exit codes, dry-run output, config errors, the lock,
//! and `scim-sync sim` as a process.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::Env;
use scim_sync::store::StateLock;
use scim_sync_sim::generate::{self, builtin_ids as b};

const BIN: &str = env!("CARGO_BIN_EXE_scim-sync");

fn run(args: &[&str], config: &std::path::Path) -> std::process::Output {
    Command::new(BIN)
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("SCIM_SYNC_CONFIG")
        .output()
        .expect("binary runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_json_and_detailed_exit_code() {
    let env = Env::start(
        &generate::builtin(),
        &[("safety", "max_deactivations_percent = 100")],
    )
    .await;
    let out = run(
        &["--dry-run", "--detailed-exitcode", "--output", "json"],
        &env.config_path,
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let ops = plan["operations"].as_array().expect("operations");
    assert!(
        ops.iter()
            .any(|o| o["kind"] == "create" && o["user_name"] == b::GRACE_EMAIL)
    );
    assert!(env.world.kafkaman.log().writes().is_empty());

    // The real run, then a dry run with nothing pending exits 0.
    let out = run(&[], &env.config_path);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("success"), "{text}");
    let out = run(
        &["sync", "--dry-run", "--detailed-exitcode"],
        &env.config_path,
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("No changes"));
}

/// `--dry-run` before the subcommand is as much a dry run as after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_before_the_sync_subcommand_writes_nothing() {
    let env = Env::start(&generate::builtin(), &[]).await;
    for args in [
        &["--dry-run", "sync"][..],
        &["sync", "--dry-run"][..],
        &["--output", "json", "sync", "--dry-run"][..],
    ] {
        let out = run(args, &env.config_path);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(
            env.world.kafkaman.log().writes().is_empty(),
            "{args:?} wrote"
        );
    }
    let out = run(&["--output", "json", "sync", "--dry-run"], &env.config_path);
    serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("JSON plan");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_run_exits_6_and_tells_how_to_release() {
    let env = Env::start(&generate::builtin(), &[("safety", "max_deactivations = 1")]).await;
    let out = run(&[], &env.config_path);
    assert_eq!(out.status.code(), Some(6));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("scim-sync release-held"), "{text}");
    let out = run(&["--release-held"], &env.config_path);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// With `--detailed-exitcode` a CI job reads 2 as "changes pending" and nothing else: a
/// bad config exits 78 (EX_CONFIG), never 2.
#[test]
fn config_error_names_key_and_line_and_exits_78() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(
        &path,
        "[okta]\norg_url = \"http://okta.example.com\"\napp_id = \"0oa1\"\napi_token = { env = \"T\" }\n\n[kafkaman]\napi_key = { env = \"K\" }\n",
    )
    .unwrap();
    for args in [
        &["--dry-run"][..],
        &["--dry-run", "--detailed-exitcode"][..],
    ] {
        let out = run(args, &path);
        assert_eq!(out.status.code(), Some(78), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("okta.org_url") && err.contains("line 2"),
            "{err}"
        );
        assert!(err.contains("https"), "{err}");
    }
}

#[test]
fn missing_config_file_says_where_it_looked_and_what_to_do() {
    let out = run(
        &["--dry-run", "--detailed-exitcode"],
        std::path::Path::new("/nonexistent/scim-sync.toml"),
    );
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    for hint in [
        "/nonexistent/scim-sync.toml",
        "--config",
        "config.example.toml",
        "/usr/share/doc/scim-sync/config.example.toml",
        "scim-sync demo",
    ] {
        assert!(err.contains(hint), "{hint} in {err}");
    }
    // Without --config: the default path (or $SCIM_SYNC_CONFIG) is named.
    let out = Command::new(BIN)
        .arg("report")
        .env("SCIM_SYNC_CONFIG", "/nonexistent/from-env.toml")
        .output()
        .expect("binary runs");
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/from-env.toml"), "{err}");
    assert!(err.contains("SCIM_SYNC_CONFIG"), "{err}");
}

/// Command-line mistakes exit 64 (EX_USAGE), not clap's 2; help and version exit 0.
#[test]
fn usage_errors_exit_64_and_help_exits_0() {
    let config = std::path::Path::new("/nonexistent/scim-sync.toml");
    for args in [
        &["--no-such-flag"][..],
        &["no-such-command"][..],
        &["report", "--dry-run"][..],
        &["--dry-run", "report"][..],
        &["--output", "yaml"][..],
        &["sync", "--detailed-exitcode"][..],
    ] {
        let out = run(args, config);
        assert_eq!(
            out.status.code(),
            Some(64),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.stderr.is_empty(), "{args:?} says why");
    }
    for args in [&["--help"][..], &["--version"][..], &["sync", "--help"][..]] {
        let out = run(args, config);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(!out.stdout.is_empty(), "{args:?}");
    }
}

/// Held deactivations are changes pending: once everything else is applied, a dry run
/// with only held deactivations left exits 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_deactivations_alone_are_changes_pending() {
    let env = Env::start(&generate::builtin(), &[("safety", "max_deactivations = 1")]).await;
    assert_eq!(run(&["--quiet"], &env.config_path).status.code(), Some(6));
    let writes = env.world.kafkaman.log().writes().len();
    let out = run(
        &["--dry-run", "--detailed-exitcode", "--output", "json"],
        &env.config_path,
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON plan");
    assert!(
        plan["operations"].as_array().is_some_and(Vec::is_empty),
        "{plan}"
    );
    assert!(
        plan["held"].as_array().is_some_and(|h| !h.is_empty()),
        "{plan}"
    );
    assert_eq!(env.world.kafkaman.log().writes().len(), writes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_process_says_who_holds_the_state_and_exits_4() {
    let env = Env::start(&generate::builtin(), &[]).await;
    let _held = StateLock::acquire(&env.db).unwrap();
    let out = run(&[], &env.config_path);
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    assert!(env.world.kafkaman.log().writes().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_okta_read_exits_1() {
    let env = Env::start(&generate::builtin(), &[]).await;
    env.world.okta.faults().arm(scim_sync_sim::FaultSpec {
        route: "/api/v1/apps/*/users".into(),
        method: None,
        kind: scim_sync_sim::FaultKind::Status { status: 503 },
        count: 100,
        after: 0,
    });
    let out = run(&["--quiet"], &env.config_path);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing was changed"));
    assert!(env.world.kafkaman.log().writes().is_empty());
}

/// `scim-sync sim` prints one JSON line, writes a usable config, and stops on SIGTERM.
#[test]
fn sim_process_serves_a_config_that_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sim").join("config.toml");
    let mut sim = Command::new(BIN)
        .args(["sim", "--generate", "200", "--write-config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(sim.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let info: serde_json::Value = serde_json::from_str(&line).expect("one JSON line");
    for key in [
        "okta_url",
        "okta_token",
        "app_id",
        "kafkaman_url",
        "kafkaman_api_key",
        "config",
    ] {
        assert!(
            info.get(key).is_some_and(|v| !v.is_null()),
            "{key} in {line}"
        );
    }
    assert!(
        info["okta_url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    use std::os::unix::fs::PermissionsExt;
    let secret = dir.path().join("sim").join("kafkaman-api-key");
    assert_eq!(
        std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let out = run(&["--dry-run", "--output", "json"], &config);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!plan["operations"].as_array().unwrap().is_empty());

    // SAFETY: sending SIGTERM to our own child process.
    unsafe { libc::kill(sim.id() as i32, libc::SIGTERM) };
    let status = sim.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn sim_refuses_non_loopback_without_the_flag() {
    let out = Command::new(BIN)
        .args(["sim", "--okta-listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
}

/// SIGTERM while Okta is slow to answer: the run stops at once, changes nothing, and is
/// recorded as interrupted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_the_okta_read_stops_at_once() {
    let env = Env::start(&generate::builtin(), &[]).await;
    env.world.okta.faults().arm(scim_sync_sim::FaultSpec {
        route: "/api/v1/apps/*/users".into(),
        method: None,
        kind: scim_sync_sim::FaultKind::Latency { ms: 20_000 },
        count: 1,
        after: 0,
    });
    let child = Command::new(BIN)
        .arg("--config")
        .arg(&env.config_path)
        .arg("--quiet")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_run_start(&env).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    // SAFETY: sending SIGTERM to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(env.world.kafkaman.log().writes().is_empty());
    let run = &env.store.runs(1).unwrap()[0];
    assert_eq!(run.result.map(|r| r.as_str()), Some("interrupted"));
}

/// An Okta user whose email and names carry an OSC 52 clipboard write, a screen clear
/// and a newline followed by a forged line.
const HOSTILE_ID: &str = "00uhostile0000000001";
const HOSTILE_EMAIL: &str =
    "mallory\x1b]52;c;cHduZWQ=\x07\x1b[2J@example.com\nFORGED cycle finished result=\"success\"";

fn hostile_scenario() -> scim_sync_sim::Scenario {
    let mut scenario = generate::builtin();
    scenario
        .okta
        .users
        .push(scim_sync_sim::scenario::OktaUserSpec {
            id: Some(HOSTILE_ID.into()),
            login: HOSTILE_EMAIL.into(),
            email: Some(HOSTILE_EMAIL.into()),
            first_name: Some("Eve\x1b[2J\nFORGED".into()),
            last_name: Some("\u{202e}nosaM\x1b]52;c;aGk=\x07".into()),
            status: "ACTIVE".into(),
            profile: Default::default(),
            app_username: None,
            app_profile: Default::default(),
        });
    scenario.okta.assignments.users.push(HOSTILE_ID.into());
    // A bidi override in an address with no space, line break or control character in
    // it: an email address by its form, so it is created, and logged (escaped).
    scenario
        .okta
        .users
        .push(scim_sync_sim::scenario::OktaUserSpec {
            id: Some(HOSTILE_SENT_ID.into()),
            login: HOSTILE_SENT_EMAIL.into(),
            email: Some(HOSTILE_SENT_EMAIL.into()),
            first_name: Some("Eve\x1b[2J\nFORGED".into()),
            last_name: Some("Mason".into()),
            status: "ACTIVE".into(),
            profile: Default::default(),
            app_username: None,
            app_profile: Default::default(),
        });
    scenario.okta.assignments.users.push(HOSTILE_SENT_ID.into());
    scenario
}

const HOSTILE_SENT_ID: &str = "00uhostile0000000002";
const HOSTILE_SENT_EMAIL: &str = "mallory\u{202e}moc.live@example.com";

/// No raw control character reaches the output, and no line was forged.
fn assert_safe(what: &str, out: &[u8]) {
    let text = String::from_utf8_lossy(out);
    assert!(
        !text.contains(['\x1b', '\x07', '\u{202e}']),
        "{what}: raw control characters in {text:?}"
    );
    assert!(
        !text.lines().any(|l| l.trim_start().starts_with("FORGED")),
        "{what}: a forged line in\n{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_okta_values_are_escaped_in_every_output() {
    let env = Env::start(
        &hostile_scenario(),
        &[
            ("safety", "max_deactivations_percent = 100"),
            // The hostile values are in the profile; the email is the userName.
            ("sync", "user_name_source = \"profile\""),
        ],
    )
    .await;
    let out = run(&["--dry-run"], &env.config_path);
    assert_safe("dry run", &out.stdout);
    assert_safe("dry run log", &out.stderr);
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(plan.contains("mallory\\u{1b}]52;c;"), "{plan}");

    // A live read: the hostile user is drift (in Okta, not in the team).
    for format in ["text", "markdown"] {
        let out = run(
            &["report", "--refresh", "--format", format],
            &env.config_path,
        );
        assert_safe(format, &out.stdout);
        assert_safe(format, &out.stderr);
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(report.contains("mallory\\"), "{format}:\n{report}");
    }

    let out = run(&["--log-format", "text"], &env.config_path);
    assert_safe("sync", &out.stdout);
    assert_safe("text log", &out.stderr);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("mallory\\u{202e}"), "{log}");
    // An address with control characters is never sent.
    assert!(
        env.world
            .kafkaman
            .members()
            .iter()
            .all(|m| !m.user_name.chars().any(char::is_control)),
        "a userName with control characters was sent"
    );

    for args in [
        &["report"][..],
        &["report", "--format", "markdown"],
        &["explain", HOSTILE_ID],
        &["history"],
        &["history", "1"],
        &["history", "2"],
    ] {
        let out = run(args, &env.config_path);
        assert_safe(&args.join(" "), &out.stdout);
        assert_safe(&args.join(" "), &out.stderr);
    }
    let explain = String::from_utf8_lossy(&run(&["explain", HOSTILE_ID], &env.config_path).stdout)
        .into_owned();
    assert!(explain.contains("Eve\\u{1b}[2J\\nFORGED"), "{explain}");
    let history =
        String::from_utf8_lossy(&run(&["history", "2"], &env.config_path).stdout).into_owned();
    assert!(history.contains("mallory\\u{1b}"), "{history}");
}

/// `sim --write-config dir/config.toml` (relative) writes paths that the config resolves.
#[test]
fn sim_write_config_with_a_relative_path_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let mut sim = Command::new(BIN)
        .current_dir(dir.path())
        .args(["sim", "--write-config", "rel/config.toml"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(sim.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("config"), "{line}");
    let config = dir.path().join("rel").join("config.toml");
    let out = run(&[], &config);
    // SAFETY: sending SIGTERM to our own child process.
    unsafe { libc::kill(sim.id() as i32, libc::SIGTERM) };
    let _ = sim.wait();
    // The cycle runs (the builtin org's deactivations are held: exit "held").
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("cycle finished") && !log.contains("No such file"),
        "{log}"
    );
    assert!(dir.path().join("rel").join("scim-sync-state.db").exists());
    assert!(!dir.path().join("rel").join("rel").exists());
}

/// A secret pasted where its reference belongs (`env`, `credential`, `file`) is never
/// echoed: not on stderr, not in the run's recorded error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pasted_secret_is_never_echoed_or_stored() {
    let env = Env::start(&generate::builtin(), &[]).await;
    let key = env.world.kafkaman.api_key();
    let original = std::fs::read_to_string(&env.config_path).unwrap();
    let prefix = &key[..10];
    for kind in ["env", "credential", "file"] {
        let text: String = original
            .lines()
            .map(|l| {
                if l.starts_with("api_key") {
                    format!("api_key = {{ {kind} = \"{key}\" }}")
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(&env.config_path, text).unwrap();
        let out = Command::new(BIN)
            .arg("--config")
            .arg(&env.config_path)
            .env_remove("SCIM_SYNC_CONFIG")
            .env_remove("CREDENTIALS_DIRECTORY")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{kind}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("looks like a secret value") && !stderr.contains(prefix),
            "{kind}: {stderr}"
        );
        let history = run(&["history", "--output", "json"], &env.config_path);
        let history = String::from_utf8_lossy(&history.stdout);
        assert!(!history.contains(prefix), "{kind}: {history}");
    }
    let errors: Vec<String> = env
        .store
        .runs(100)
        .unwrap()
        .iter()
        .filter_map(|r| r.error.clone())
        .collect();
    assert!(!errors.is_empty(), "the failed runs are recorded");
    assert!(errors.iter().all(|e| !e.contains(prefix)), "{errors:?}");
}

/// A config like `env`'s whose state database is `db`.
fn config_with_db(env: &Env, db: &std::path::Path, name: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(&env.config_path).unwrap();
    let text = text.replace(
        &format!("state_db = \"{}\"", env.db.display()),
        &format!("state_db = \"{}\"", db.display()),
    );
    assert!(text.contains(&db.display().to_string()));
    let path = env.dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn okta_read_latency(env: &Env, ms: u64, count: u32) {
    env.world.okta.faults().arm(scim_sync_sim::FaultSpec {
        route: "/api/v1/apps/*/users".into(),
        method: None,
        kind: scim_sync_sim::FaultKind::Latency { ms },
        count,
        after: 0,
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_dry_run_is_closed_as_interrupted_by_the_next_run() {
    let env = Env::start(&generate::builtin(), &[]).await;
    okta_read_latency(&env, 20_000, 1);
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(&env.config_path)
        .args(["--quiet", "--dry-run"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_run_start(&env).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let killed = env.store.runs(1).unwrap()[0].clone();
    assert_eq!(killed.result, None);

    let out = run(&["--dry-run", "--quiet"], &env.config_path);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let closed = env.store.run(killed.id).unwrap().unwrap();
    assert_eq!(closed.result.map(|r| r.as_str()), Some("interrupted"));
    let history = run(&["history"], &env.config_path);
    let text = String::from_utf8_lossy(&history.stdout);
    assert!(text.contains("interrupted"), "{text}");
    assert!(!text.contains("running"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_syncs_on_a_new_database_the_second_exits_4() {
    let env = Env::start(
        &generate::builtin(),
        &[("safety", "max_deactivations_percent = 100")],
    )
    .await;
    for pair in 0..4 {
        let db = env.dir.path().join(format!("fresh-{pair}/state.db"));
        let config = config_with_db(&env, &db, &format!("fresh-{pair}.toml"));
        // The first keeps the lock long enough for the second to start.
        okta_read_latency(&env, 1_500, 1);
        let spawn = || {
            Command::new(BIN)
                .arg("--config")
                .arg(&config)
                .arg("--quiet")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn(), spawn());
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        let mut codes = [a.status.code(), b.status.code()];
        codes.sort();
        assert_eq!(
            codes,
            [Some(0), Some(4)],
            "pair {pair}: {}\n{}",
            String::from_utf8_lossy(&a.stderr),
            String::from_utf8_lossy(&b.stderr)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_database_file_is_refused_naming_it() {
    let env = Env::start(&generate::builtin(), &[]).await;
    let db = env.dir.path().join("empty.db");
    std::fs::write(&db, b"").unwrap();
    let config = config_with_db(&env, &db, "empty.toml");
    let out = run(&["--quiet"], &config);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&db.display().to_string()), "{err}");
    assert!(err.contains("empty"), "{err}");
    assert!(env.world.kafkaman.log().writes().is_empty());
    assert_eq!(std::fs::metadata(&db).unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_database_is_named_and_recovers_once_writable() {
    use std::os::unix::fs::PermissionsExt;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        eprintln!("skipped: root writes read-only files");
        return;
    }
    let env = Env::start(&generate::builtin(), &[]).await;
    let db = env.dir.path().join("ro.db");
    let config = config_with_db(&env, &db, "ro.toml");
    assert_eq!(run(&["--quiet"], &config).status.code(), Some(0));
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o444)).unwrap();
    let out = run(&["--quiet"], &config);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&db.display().to_string()), "{err}");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run(&["--quiet"], &config);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits (at most 10 s) until the process under test has recorded its run.
async fn wait_for_run_start(env: &Env) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while env.store.runs(1).unwrap().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the run never started"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
