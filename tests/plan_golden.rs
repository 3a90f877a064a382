//! The dry-run plan (`--dry-run --output json`) of the builtin and demo orgs, byte for
//! byte, as a user's CI would read it. Recorded before the restructuring of the clients,
//! planner and store: a change here is a change of decisions and must be deliberate.

use crate::common;

use std::process::Command;

use common::Env;
use scim_sync_sim::{Scenario, generate};

const BIN: &str = env!("CARGO_BIN_EXE_scim-sync");

/// The plan the binary prints for `scenario`; SCIM and invite ids are random per
/// simulator start, so they are replaced by `[ID]`.
async fn dry_run_plan(scenario: &Scenario) -> String {
    let env = Env::start(scenario, &[]).await;
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&env.config_path)
        .args(["--dry-run", "--output", "json"])
        .env_remove("SCIM_SYNC_CONFIG")
        .output()
        .expect("binary runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        env.world.kafkaman.log().writes().is_empty(),
        "a dry run wrote"
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8 plan");
    redact_ids(text.trim_end())
}

/// Replaces every quoted 32-hex-digit id by `"[ID]"`.
fn redact_ids(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('"') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let is_id = after.len() > 32
            && after.as_bytes()[32] == b'"'
            && after[..32]
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        if is_id {
            out.push_str("\"[ID]\"");
            rest = &after[33..];
        } else {
            out.push('"');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builtin_org_plan_is_unchanged() {
    insta::assert_snapshot!("builtin_plan", dry_run_plan(&generate::builtin()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_org_plan_is_unchanged() {
    insta::assert_snapshot!("demo_plan", dry_run_plan(&generate::demo()).await);
}
