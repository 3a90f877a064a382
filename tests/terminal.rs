//! The binary on a terminal and under cron: which log lines show, the order of plan and
//! result, the progress bar, `--quiet`, one message per failure, and tables on a
//! pseudo-terminal nobody sized.

use crate::common;

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};

use common::Env;
use scim_sync_sim::generate::{self, builtin_ids as b};

const BIN: &str = env!("CARGO_BIN_EXE_scim-sync");

fn command(args: &[&str], config: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("--config")
        .arg(config)
        .args(args)
        .env_remove("SCIM_SYNC_CONFIG")
        .env_remove("SCIM_SYNC_LOG")
        .env_remove("RUST_LOG")
        .env_remove("JOURNAL_STREAM")
        .env_remove("COLUMNS");
    cmd
}

/// Runs the binary with stdin, stdout and stderr on a new pseudo-terminal, `size`
/// (rows, columns) or left unsized (0x0). Returns the exit code and all it wrote.
fn run_in_pty(args: &[&str], config: &Path, size: Option<(u16, u16)>) -> (Option<i32>, String) {
    let mut master = -1;
    let mut slave = -1;
    // SAFETY: openpty writes two descriptors into the two ints; the null name, termios
    // and size pointers are allowed (defaults, and a 0x0 terminal).
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just opened by openpty and are owned here alone.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    if let Some((rows, cols)) = size {
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        use std::os::fd::AsRawFd;
        // SAFETY: TIOCSWINSZ reads one winsize from a live local.
        let rc = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
        assert_eq!(rc, 0);
    }
    let mut cmd = command(args, config);
    cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave));
    let mut child = cmd.spawn().expect("binary runs");
    drop(cmd);
    let reader = std::thread::spawn(move || {
        let mut file = std::fs::File::from(master);
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                // EIO: every slave descriptor is closed (the child is gone).
                Err(_) => break,
            }
        }
        out
    });
    let status = child.wait().expect("wait");
    let out = reader.join().expect("reader");
    (status.code(), String::from_utf8_lossy(&out).into_owned())
}

fn run_piped(args: &[&str], config: &Path) -> std::process::Output {
    command(args, config)
        .stdin(Stdio::null())
        .output()
        .expect("binary runs")
}

/// The text a person reads at the end: carriage returns and the erase-line sequences
/// applied line by line, the other escape sequences dropped.
fn screen(raw: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => lines.push(std::mem::take(&mut line)),
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    line.clear();
                }
            }
            '\x1b' => {
                let mut seq = String::new();
                if chars.peek() == Some(&'[') {
                    chars.next();
                    while let Some(&n) = chars.peek() {
                        chars.next();
                        seq.push(n);
                        if n.is_ascii_alphabetic() {
                            break;
                        }
                    }
                }
                // Erase the line; moving the cursor up (indicatif's clear of its
                // line) means the line being cleared is the one before.
                if seq.ends_with('K') {
                    line.clear();
                } else if seq.ends_with('A') {
                    lines.pop();
                }
            }
            c => line.push(c),
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_terminal_the_plan_comes_before_the_result_without_info_lines() {
    let env = Env::start(
        &generate::builtin(),
        &[("safety", "max_deactivations_percent = 100")],
    )
    .await;
    let (code, raw) = run_in_pty(&[], &env.config_path, Some((40, 120)));
    assert_eq!(code, Some(0), "{raw}");
    assert!(!raw.contains("INFO"), "INFO lines on a terminal:\n{raw}");
    assert!(!raw.contains("WARN"), "WARN lines on a terminal:\n{raw}");
    assert!(!raw.contains("Database migrated"), "{raw}");
    let planned = raw.find("Planned:").expect("the plan is printed");
    let result = raw.find("assigned in Okta").expect("the result is printed");
    assert!(planned < result, "the result came before the plan:\n{raw}");
    assert!(raw.contains(b::GRACE_EMAIL), "{raw}");
    // The progress bar, if it was drawn, is gone from the screen.
    let screen = screen(&raw);
    for line in &screen {
        assert!(
            !line.contains("Reading Okta")
                && !line.contains("Reading kafkaman")
                && !line.contains("Applying"),
            "a progress bar was left on the screen: {line:?}\n{screen:#?}"
        );
    }

    // -v brings the INFO lines back.
    let (code, raw) = run_in_pty(&["-v"], &env.config_path, Some((40, 120)));
    assert_eq!(code, Some(0), "{raw}");
    assert!(raw.contains("INFO"), "{raw}");
    assert!(raw.contains("cycle finished"), "{raw}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_run_that_changes_nothing_prints_nothing() {
    let env = Env::start(
        &generate::builtin(),
        &[("safety", "max_deactivations_percent = 100")],
    )
    .await;
    // The first run changes things: --quiet prints its result, and only that.
    let out = run_piped(&["--quiet"], &env.config_path);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("success"), "{stdout}");
    assert!(!stdout.contains("Planned:"), "{stdout}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Nothing to do: not a byte for cron to mail.
    let out = run_piped(&["--quiet"], &env.config_path);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Without --quiet, a run with nothing to do is one short line.
    let out = run_piped(&[], &env.config_path);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.starts_with("In sync: "), "{stdout}");
    assert!(stdout.contains("nothing to change"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_is_said_once() {
    let env = Env::start(&generate::builtin(), &[]).await;
    let token = env.dir.path().join("okta-api-token");
    std::fs::write(&token, "not-the-token").unwrap();

    let (code, raw) = run_in_pty(&[], &env.config_path, Some((40, 120)));
    assert_eq!(code, Some(1), "{raw}");
    // What a person reads: the progress bar (kafkaman is read beside Okta) is cleared
    // before the one line that says the failure.
    let screen = screen(&raw);
    let said: Vec<&str> = screen
        .iter()
        .map(String::as_str)
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(said.len(), 1, "more than one line for one failure:\n{raw}");
    assert!(said[0].starts_with("scim-sync: "), "{raw}");
    assert!(said[0].contains("Okta"), "{raw}");

    // Under cron (pipes) the message is there once too, however many log lines.
    let out = run_piped(&["--quiet"], &env.config_path);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("scim-sync: ").count(), 1, "{stderr}");
    assert!(!stderr.contains("cycle failed"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_on_an_unsized_terminal_keep_readable_columns() {
    let env = Env::start(&generate::builtin(), &[]).await;
    let (code, raw) = run_in_pty(&["--dry-run"], &env.config_path, None);
    assert_eq!(code, Some(0), "{raw}");
    assert!(raw.contains("│"), "not a table:\n{raw}");
    assert!(
        raw.lines().any(|l| l.contains(b::GRACE_EMAIL)),
        "the email is broken across lines:\n{raw}"
    );
    assert!(raw.contains("Reason"), "{raw}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_tells_its_story_without_log_lines() {
    let out = Command::new(BIN)
        .arg("demo")
        .env_remove("SCIM_SYNC_LOG")
        .env_remove("JOURNAL_STREAM")
        .stdin(Stdio::null())
        .output()
        .expect("demo runs");
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("== 1. Dry run"), "{stdout}");
    assert!(stdout.contains("== 5. Third sync"), "{stdout}");
    assert!(stdout.contains("In sync: "), "{stdout}");
    assert!(stderr.is_empty(), "log lines in the demo:\n{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_run_says_so_once_on_a_terminal_and_under_quiet() {
    let env = Env::start(&generate::builtin(), &[("safety", "max_deactivations = 1")]).await;
    let (code, raw) = run_in_pty(&[], &env.config_path, Some((40, 120)));
    assert_eq!(code, Some(6), "{raw}");
    assert!(!raw.contains("WARN"), "{raw}");
    assert_eq!(raw.matches("scim-sync release-held").count(), 1, "{raw}");
    assert!(raw.contains(" held: "), "the result says held:\n{raw}");

    // Cron: the result and what to do, nothing on stderr.
    let out = run_piped(&["--quiet"], &env.config_path);
    assert_eq!(out.status.code(), Some(6));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("Run "), "{stdout}");
    assert!(stdout.contains(" held: "), "{stdout}");
    assert!(stdout.contains("scim-sync release-held"), "{stdout}");
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
