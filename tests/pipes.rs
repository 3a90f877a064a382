//! A closed pipe (`scim-sync … | head -1`) ends a command quietly: no panic, no exit
//! 101, the command's own exit code, and a real sync still records its run as it was.

use crate::common;

use std::process::{Command, Output, Stdio};

use common::Env;
use scim_sync::store::RunResult;
use scim_sync_sim::generate::{self, builtin_ids as b};

const BIN: &str = env!("CARGO_BIN_EXE_scim-sync");

/// Runs the binary with stdout a pipe whose read end is already closed: its first write
/// to stdout fails with EPIPE (SIGPIPE being ignored, as Rust starts every program).
fn into_closed_pipe(config: &std::path::Path, args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let child = Command::new(BIN)
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("SCIM_SYNC_CONFIG")
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    child.wait_with_output().expect("binary ends")
}

fn assert_quiet(out: &Output, args: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(101), "{args:?}: {stderr}");
    assert!(out.status.code().is_some(), "{args:?} died of a signal");
    for bad in ["panicked", "failed printing", "Broken pipe", "cannot write"] {
        assert!(!stderr.contains(bad), "{args:?} said {bad:?}: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_ends_quietly_into_a_closed_pipe_with_its_own_code() {
    let env = Env::start(
        &generate::builtin(),
        &[("safety", "max_deactivations_percent = 100")],
    )
    .await;
    let cases: &[(&[&str], i32)] = &[
        (&["--dry-run"], 0),
        (&["--dry-run", "--detailed-exitcode"], 2),
        (&["--dry-run", "--output", "json"], 0),
        (&["check"], 0),
        (&["config", "check"], 0),
        (&["schedule"], 0),
        (&["schedule", "0 7 * * MON-FRI"], 0),
        (&["explain", b::ADA_EMAIL], 0),
        (&["history"], 0),
        (&["man"], 0),
    ];
    for (args, code) in cases {
        let out = into_closed_pipe(&env.config_path, args);
        assert_quiet(&out, args);
        assert_eq!(
            out.status.code(),
            Some(*code),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(env.world.kafkaman.log().writes().is_empty());
}

/// The plan is printed before the first write and the result after the run's end is
/// recorded: neither print can cut the run short nor leave it "running".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_into_a_closed_pipe_applies_and_records_its_run() {
    let env = Env::start(
        &generate::builtin(),
        &[("safety", "max_deactivations_percent = 100")],
    )
    .await;
    let out = into_closed_pipe(&env.config_path, &["sync"]);
    assert_quiet(&out, &["sync"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(!env.world.kafkaman.log().writes().is_empty(), "applied");
    let runs = env.store.runs(10).unwrap();
    let last = runs.first().expect("a run");
    assert!(last.ended_at.is_some(), "{last:?}");
    assert_eq!(last.result, Some(RunResult::Success), "{last:?}");

    // And `history --output json` into a closed pipe too.
    let out = into_closed_pipe(&env.config_path, &["history", "--output", "json"]);
    assert_quiet(&out, &["history"]);
    assert_eq!(out.status.code(), Some(0));
}
