//! `scim-sync check` against every failure mode the simulators can produce.

use crate::common;

use common::Env;
use scim_sync::check::{CheckLine, checks};
use scim_sync_sim::generate;

fn failed<'a>(lines: &'a [CheckLine], what: &str) -> &'a CheckLine {
    lines
        .iter()
        .find(|l| !l.ok && l.what.contains(what))
        .unwrap_or_else(|| panic!("no failed line about {what:?}: {lines:#?}"))
}

#[tokio::test]
async fn all_checks_pass_on_a_good_setup() {
    let env = Env::start(&generate::builtin(), &[]).await;
    let lines = checks(&env.config()).await;
    assert!(lines.iter().all(|l| l.ok), "{lines:#?}");
    assert!(lines.len() >= 7);
    assert!(env.world.kafkaman.log().writes().is_empty());
}

#[tokio::test]
async fn okta_failures_say_what_to_check() {
    let env = Env::start(&generate::builtin(), &[]).await;
    // A wrong token.
    let token_file = env.dir.path().join("okta-api-token");
    let good = std::fs::read_to_string(&token_file).unwrap();
    std::fs::write(&token_file, "00not-a-valid-token").unwrap();
    let lines = checks(&env.config()).await;
    let l = failed(&lines, "token valid");
    assert!(l.detail.contains("api_token"), "{l:?}");
    assert!(l.detail.contains("request id"), "{l:?}");
    assert!(!l.detail.contains("00not-a-valid-token"));
    std::fs::write(&token_file, good).unwrap();

    // A wrong app id.
    let text = std::fs::read_to_string(&env.config_path).unwrap();
    let app = env.world.okta.app_id();
    std::fs::write(&env.config_path, text.replace(&app, "0oanosuchapp00000000")).unwrap();
    let lines = checks(&env.config()).await;
    let l = failed(&lines, "app exists");
    assert!(l.detail.contains("okta.app_id"), "{l:?}");
    std::fs::write(&env.config_path, text.clone()).unwrap();

    // Okta unreachable.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    std::fs::write(
        &env.config_path,
        text.replace(&env.world.okta.url(), &format!("http://127.0.0.1:{port}")),
    )
    .unwrap();
    let lines = checks(&env.config()).await;
    let l = failed(&lines, "reach the org");
    assert!(l.detail.contains("okta.org_url"), "{l:?}");
}

#[tokio::test]
async fn missing_oauth_scope_is_named() {
    let mut scenario = generate::builtin();
    common::with_service_app(
        &mut scenario,
        "0oacheck000000000001",
        &["okta.users.read", "okta.apps.read", "okta.logs.read"],
    );
    let env = Env::start(&scenario, &[]).await;
    env.use_oauth(
        "0oacheck000000000001",
        Some(&["okta.users.read", "okta.apps.read", "okta.logs.read"]),
    );
    let lines = checks(&env.config()).await;
    let l = failed(&lines, "okta.groups.read");
    assert!(l.detail.contains("okta.groups.read"), "{l:?}");
    assert!(
        lines.iter().filter(|l| l.side == "okta" && !l.ok).count() == 1,
        "{lines:#?}"
    );
}

#[tokio::test]
async fn a_service_app_without_the_logs_scope_fails_the_system_log_line() {
    let scopes = ["okta.users.read", "okta.apps.read", "okta.groups.read"];
    let mut scenario = generate::builtin();
    common::with_service_app(&mut scenario, "0oacheck000000000002", &scopes);
    let env = Env::start(&scenario, &[]).await;
    env.use_oauth("0oacheck000000000002", Some(&scopes));
    let lines = checks(&env.config()).await;
    let l = failed(&lines, "read the System Log");
    assert!(l.what.contains("okta.logs.read"), "{l:?}");
    assert!(l.detail.contains("okta.logs.read"), "{l:?}");
    assert_eq!(
        lines.iter().filter(|l| l.side == "okta" && !l.ok).count(),
        1,
        "{lines:#?}"
    );
    // With the scope granted and requested (the default scopes include it): all pass.
    let mut scenario = generate::builtin();
    common::with_service_app(
        &mut scenario,
        "0oacheck000000000003",
        &scim_sync::config::DEFAULT_OKTA_SCOPES,
    );
    let env = Env::start(&scenario, &[]).await;
    env.use_oauth("0oacheck000000000003", None);
    let lines = checks(&env.config()).await;
    assert!(lines.iter().all(|l| l.ok), "{lines:#?}");
}

#[tokio::test]
async fn kafkaman_failures_say_what_to_check() {
    let env = Env::start(&generate::builtin(), &[]).await;
    // A revoked key.
    let key = env.world.kafkaman.api_key();
    env.world.kafkaman.revoke_key(&key).unwrap();
    let lines = checks(&env.config()).await;
    let l = failed(&lines, "key valid");
    assert!(l.detail.contains("ACTIVE"), "{l:?}");
    assert!(!l.detail.contains(&key));
    // A rotated key written to the secret file is picked up without a restart.
    let new_key = env.world.kafkaman.add_key("rotated");
    std::fs::write(env.dir.path().join("kafkaman-api-key"), &new_key).unwrap();
    let lines = checks(&env.config()).await;
    assert!(lines.iter().all(|l| l.ok), "{lines:#?}");
    // SCIM disabled for the team.
    env.world.kafkaman.set_scim_enabled(false);
    let lines = checks(&env.config()).await;
    let l = failed(&lines, "SCIM enabled");
    assert!(l.detail.contains("SCIM is enabled"), "{l:?}");
    // Unreachable.
    env.world.kafkaman.shutdown();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let lines = checks(&env.config()).await;
    let l = failed(&lines, "reach the SCIM API");
    assert!(l.detail.contains("kafkaman.base_url"), "{l:?}");
}

#[tokio::test]
async fn a_target_without_the_team_api_reports_invite_clearing_unavailable() {
    let env = Env::start(&generate::builtin(), &[]).await;
    env.world
        .kafkaman
        .set_compat(scim_sync_sim::kafkaman::Compat {
            patch_no_content: true,
            team_api: false,
            ..Default::default()
        });
    // Clearing on: the one failure names the feature and the way out.
    let lines = checks(&env.config()).await;
    let l = failed(&lines, "invite clearing");
    assert!(l.detail.contains("unavailable"), "{l:?}");
    assert!(l.detail.contains("clear_pending_invites = false"), "{l:?}");
    assert_eq!(lines.iter().filter(|l| !l.ok).count(), 1, "{lines:#?}");
    // Clearing off: every check passes, and invite clearing is said to be unavailable.
    env.set("sync", "clear_pending_invites = false");
    let lines = checks(&env.config()).await;
    assert!(lines.iter().all(|l| l.ok), "{lines:#?}");
    let l = lines
        .iter()
        .find(|l| l.what.contains("invite clearing"))
        .unwrap();
    assert!(l.detail.contains("unavailable"), "{l:?}");
}
