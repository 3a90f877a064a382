//! What Okta's own provisioning (push) would send is what scim-sync sends: the app
//! username as `userName` and the app user's profile for names (issue 17 case 2).

use crate::common;

use common::Env;
use scim_sync::store::RunResult;
use scim_sync_plan::{AttentionKind, OpKind};
use scim_sync_sim::generate::{self, builtin_ids as b};
use scim_sync_sim::scenario::{AppUsernameFormat, OktaUserSpec};

/// A team Okta push provisioned (userName = the app username, names from the app
/// profile, externalId = the Okta id), in an org whose logins (and so app usernames) are
/// not the users' emails: the first cycle adopts it as it is, with no write and nothing
/// for a person to look at.
#[tokio::test]
async fn a_team_okta_push_provisioned_is_adopted_with_zero_writes() {
    let mut scenario = generate::generate(200, 5);
    for u in &mut scenario.okta.users {
        let local = u.login.split('@').next().unwrap_or_default().to_string();
        u.email = Some(format!("{local}@mail.example.com"));
        u.login = format!("{local}@corp.example.com");
    }
    // Assignments and group members name users by id or login: keep them by id.
    let ids: std::collections::HashMap<String, String> = scenario
        .okta
        .users
        .iter()
        .filter_map(|u| Some((u.login.split('@').next()?.to_string(), u.id.clone()?)))
        .collect();
    let by_id = |r: &String| {
        let local = r.split('@').next().unwrap_or_default();
        ids.get(local).cloned().unwrap_or_else(|| r.clone())
    };
    scenario.okta.assignments.users = scenario.okta.assignments.users.iter().map(by_id).collect();
    for g in &mut scenario.okta.groups {
        g.members = g.members.iter().map(by_id).collect();
    }
    generate::in_sync(&mut scenario);
    let env = Env::start(&scenario, &[]).await;
    let first = env.sync().await;
    assert_eq!(first.result, RunResult::Success);
    assert!(
        first.plan.operations.is_empty(),
        "{:?}",
        &first.plan.operations[..first.plan.operations.len().min(3)]
    );
    assert!(
        first.plan.attention.is_empty(),
        "{:?}",
        &first.plan.attention[..first.plan.attention.len().min(3)]
    );
    assert!(env.kafkaman_writes().is_empty());
    assert!(first.plan.in_sync > 100, "{}", first.plan.in_sync);
}

/// An app username set by hand for one user, and an app profile name that differs from
/// the user's: the member is created with both.
#[tokio::test]
async fn the_app_username_and_the_app_profile_are_what_is_sent() {
    let mut scenario = generate::builtin();
    let mut app_profile = serde_json::Map::new();
    app_profile.insert("firstName".into(), serde_json::json!("Kate"));
    scenario.okta.users.push(OktaUserSpec {
        id: Some("00ubuiltin0000000099".into()),
        login: "kjones@corp.example.com".into(),
        email: Some("katherine.jones@example.com".into()),
        first_name: Some("Katherine".into()),
        last_name: Some("Jones".into()),
        status: "ACTIVE".into(),
        profile: Default::default(),
        app_username: Some("k.jones@example.com".into()),
        app_profile,
    });
    scenario
        .okta
        .assignments
        .users
        .push("00ubuiltin0000000099".into());
    let env = Env::start(&scenario, &[("safety", "max_deactivations_percent = 100")]).await;
    let first = env.sync().await;
    assert_eq!(first.result, RunResult::Success);
    let member = env.member("k.jones@example.com");
    assert!(member.active);
    assert_eq!(member.given_name.as_deref(), Some("Kate"));
    assert_eq!(member.family_name.as_deref(), Some("Jones"));
    assert_eq!(member.external_id.as_deref(), Some("00ubuiltin0000000099"));
    assert!(
        env.world
            .kafkaman
            .members()
            .iter()
            .all(|m| m.user_name != "katherine.jones@example.com")
    );
    // `explain` shows the app username beside the email; `check` the app's format.
    let e = scim_sync::explain::explain(&env.config(), Some(&env.store), "00ubuiltin0000000099")
        .await
        .expect("the state database reads");
    assert_eq!(e.okta.app_username.as_deref(), Some("k.jones@example.com"));
    assert_eq!(e.okta.user_name.as_deref(), Some("k.jones@example.com"));
    let text = scim_sync::explain::text(&e);
    assert!(
        text.contains("k.jones@example.com (not the email katherine.jones@example.com)"),
        "{text}"
    );
    let lines = scim_sync::check::checks(&env.config()).await;
    let format = lines
        .iter()
        .find(|l| l.what == "app username format")
        .expect("a line for the app username format");
    assert!(
        format.ok && format.detail.contains("${source.login}") && format.detail.contains("sent"),
        "{format:?}"
    );
}

/// An app username format that makes no email addresses (`jdoe`-style): nothing of it
/// is ever sent; each such person needs attention, with the reason, in the plan and the
/// report.
#[tokio::test]
async fn an_app_username_that_is_not_an_email_is_never_sent() {
    let mut scenario = generate::builtin();
    scenario.okta.app_username_format = AppUsernameFormat::LoginPrefix;
    let env = Env::start(&scenario, &[("safety", "max_deactivations_percent = 100")]).await;
    let first = env.sync().await;
    assert_eq!(first.plan.count(OpKind::Create), 0);
    assert!(
        env.world
            .kafkaman
            .members()
            .iter()
            .all(|m| m.user_name.contains('@')),
        "a userName without @ was sent"
    );
    let not_email: Vec<&str> = first
        .plan
        .attention
        .iter()
        .filter_map(|a| match &a.kind {
            AttentionKind::UserNameNotEmail { user_name } => Some(user_name.as_str()),
            _ => None,
        })
        .collect();
    assert!(not_email.contains(&"grace.hopper"), "{not_email:?}");
    let reason = first
        .plan
        .attention
        .iter()
        .find(|a| matches!(a.kind, AttentionKind::UserNameNotEmail { .. }))
        .map(|a| a.reason())
        .unwrap_or_default();
    assert!(reason.contains("is not an email address"), "{reason}");
    // A member the person already has stays theirs.
    assert!(env.member(b::ADA_EMAIL).active);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scim-sync"))
        .arg("--config")
        .arg(&env.config_path)
        .arg("report")
        .env_remove("SCIM_SYNC_CONFIG")
        .output()
        .expect("report runs");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("\"grace.hopper\", is not an email address"),
        "{report}"
    );
}
