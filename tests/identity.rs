//! One email, one member (issue 9, cases 3 and 4): emails compared after trimming, full
//! Unicode lowercasing and NFC; Okta users that share an email are one named conflict.
//! Cycles against the simulators, the worlds written as scenario files.

use crate::common;

use common::Env;
use scim_sync::store::OpState;
use scim_sync::store::RunResult;
use scim_sync_plan::{AttentionKind, OpKind};
use scim_sync_sim::Scenario;

fn scenario(text: &str) -> Scenario {
    Scenario::parse(text, false, "identity.toml").unwrap_or_else(|e| panic!("{e}"))
}

/// Two Okta users whose emails differ only in case, both assigned.
const SHARED: &str = r#"
[[okta.users]]
id = "00udup1"
login = "dup1@acme.com"
email = "dup.person@acme.com"
first_name = "Dup"
last_name = "Person"

[[okta.users]]
id = "00udup2"
login = "dup2@acme.com"
email = "Dup.Person@acme.com"
first_name = "Dup"
last_name = "Person"

[okta.assignments]
users = ["00udup1", "00udup2"]
"#;

/// These orgs' logins differ from their emails on purpose: the userName is the email
/// (`sync.user_name_source = "profile"`, `sync.user_name_attribute = "email"`), whose
/// spellings and sharing are what is tested.
const EMAIL_IS_USER_NAME: (&str, &str) = ("sync", "user_name_source = \"profile\"");

fn email_changes(report: &scim_sync::sync::CycleReport) -> Vec<String> {
    report
        .plan
        .attention
        .iter()
        .filter(|a| matches!(a.kind, AttentionKind::EmailChanged { .. }))
        .map(|a| a.user_name.clone())
        .collect()
}

#[tokio::test]
async fn users_sharing_an_email_share_one_member_that_follows_an_entitled_owner() {
    let env = Env::start(&scenario(SHARED), &[EMAIL_IS_USER_NAME]).await;

    let first = env.sync().await;
    assert_eq!(first.result, RunResult::Success, "{:?}", first.applied);
    assert_eq!(first.plan.count(OpKind::Create), 1, "{:?}", first.plan);
    assert_eq!(first.plan.shared_emails.len(), 1);
    let conflict = &first.plan.shared_emails[0];
    assert_eq!(conflict.okta_ids, ["00udup1", "00udup2"]);
    assert_eq!(conflict.owner.as_deref(), Some("00udup1"));
    let member = env.member("dup.person@acme.com");
    assert!(member.active);

    // Nothing changed: no write, no 409, and the conflict is still named.
    let writes = env.kafkaman_writes().len();
    let second = env.sync().await;
    assert_eq!(second.result, RunResult::Success);
    assert!(second.plan.is_empty(), "{:?}", second.plan.operations);
    assert_eq!(env.kafkaman_writes().len(), writes);
    assert_eq!(second.plan.shared_emails.len(), 1);

    // The owner leaves; the other still has the address: the member stays and follows.
    env.world.okta.unassign_user("00udup1").unwrap();
    let third = env.sync().await;
    assert_eq!(third.result, RunResult::Success);
    assert_eq!(third.plan.count(OpKind::Deactivate), 0);
    assert!(env.member("dup.person@acme.com").active);
    assert_eq!(
        env.store.links().unwrap().get("00udup2"),
        Some(&member.id),
        "the link moved to the remaining owner"
    );

    // The last one leaves: the member goes.
    env.world.okta.unassign_user("00udup2").unwrap();
    let fourth = env.sync().await;
    assert_eq!(fourth.result, RunResult::Success);
    assert_eq!(fourth.applied.count(OpKind::Deactivate, OpState::Done), 1);
    assert!(!env.member("dup.person@acme.com").active);
}

#[tokio::test]
async fn a_shared_member_stays_while_one_owner_is_entitled_and_goes_when_none_is() {
    let env = Env::start(&scenario(SHARED), &[EMAIL_IS_USER_NAME]).await;
    env.sync().await;
    let member = env.member("dup.person@acme.com");

    // The owner is suspended (sync.suspended_users = "deactivate"), the other is active:
    // the member follows the other.
    env.world.okta.suspend_user("00udup1").unwrap();
    let run = env.sync().await;
    assert_eq!(run.result, RunResult::Success, "{:?}", run.plan);
    assert_eq!(run.plan.count(OpKind::Deactivate), 0);
    assert_eq!(run.plan.shared_emails[0].owner.as_deref(), Some("00udup2"));
    assert!(env.member("dup.person@acme.com").active);
    assert_eq!(env.store.links().unwrap().get("00udup2"), Some(&member.id));

    // Both suspended: nobody with the address is entitled, the member goes.
    env.world.okta.suspend_user("00udup2").unwrap();
    let run = env.sync().await;
    assert_eq!(run.result, RunResult::Success, "{:?}", run.plan);
    assert_eq!(run.applied.count(OpKind::Deactivate, OpState::Done), 1);
    assert!(!env.member("dup.person@acme.com").active);

    // One comes back: the same account is reactivated.
    env.world.okta.unsuspend_user("00udup1").unwrap();
    let run = env.sync().await;
    assert_eq!(run.applied.count(OpKind::Reactivate, OpState::Done), 1);
    assert!(env.member("dup.person@acme.com").active);
}

#[tokio::test]
async fn the_remaining_user_of_an_address_who_is_not_entitled_loses_the_member() {
    let env = Env::start(&scenario(SHARED), &[EMAIL_IS_USER_NAME]).await;
    env.sync().await;
    // The owner is unassigned and the other, still assigned, is suspended: the member
    // is no longer anyone's to keep.
    env.world.okta.suspend_user("00udup2").unwrap();
    env.world.okta.unassign_user("00udup1").unwrap();
    let run = env.sync().await;
    assert_eq!(run.result, RunResult::Success, "{:?}", run.plan);
    assert_eq!(run.applied.count(OpKind::Deactivate, OpState::Done), 1);
    assert!(!env.member("dup.person@acme.com").active);
}

/// Unicode case, decomposed spellings and surrounding spaces.
const SPELLINGS: &str = r#"
[[okta.users]]
id = "00uelodie"
login = "elodie@acme.com"
email = "ÉLODIE.MÜLLER@acme.com"
first_name = "Élodie"
last_name = "Müller"

[[okta.users]]
id = "00ujose"
login = "jose@acme.com"
email = "jose\u0301@acme.com"
first_name = "José"
last_name = "Núñez"

[[okta.users]]
id = "00uspaced"
login = "spaced@acme.com"
email = "  spaced@acme.com "
first_name = "Spa"
last_name = "Ced"

[okta.assignments]
users = ["00uelodie", "00ujose", "00uspaced"]

[[kafkaman.members]]
email = "élodie.müller@acme.com"
given_name = "Élodie"
family_name = "Müller"

[[kafkaman.members]]
email = "josé@acme.com"
given_name = "José"
family_name = "Núñez"
"#;

#[tokio::test]
async fn unicode_case_nfd_and_spaces_name_the_same_mailbox() {
    let env = Env::start(&scenario(SPELLINGS), &[EMAIL_IS_USER_NAME]).await;

    let first = env.sync().await;
    assert_eq!(first.result, RunResult::Success, "{:?}", first.applied);
    // Élodie and José are adopted (linked), not created a second time; only the new
    // hire is created, with the trimmed address.
    let creates: Vec<&str> = first
        .plan
        .operations
        .iter()
        .filter(|o| o.kind() == OpKind::Create)
        .map(|o| o.user_name())
        .collect();
    assert_eq!(creates, ["spaced@acme.com"]);
    assert_eq!(email_changes(&first), Vec::<String>::new());
    let links = env.store.links().unwrap();
    assert_eq!(
        links.get("00uelodie"),
        Some(&env.member("élodie.müller@acme.com").id)
    );
    assert_eq!(links.get("00ujose"), Some(&env.member("josé@acme.com").id));
    assert_eq!(env.world.kafkaman.members().len(), 3);

    // And nothing is "changed" on the next cycle.
    let second = env.sync().await;
    assert_eq!(second.result, RunResult::Success);
    assert!(second.plan.is_empty(), "{:?}", second.plan.operations);
    assert_eq!(email_changes(&second), Vec::<String>::new());
    assert_eq!(second.plan.in_sync, 3);
}

#[tokio::test]
async fn a_shared_email_is_named_in_check_the_report_and_a_warn_line() {
    let env = Env::start(&scenario(SHARED), &[EMAIL_IS_USER_NAME]).await;

    // The binary, as cron or the daemon runs it: one WARN naming both Okta users.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_scim-sync"))
        .arg("--config")
        .arg(&env.config_path)
        .env("NO_COLOR", "1")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let warn = stderr
        .lines()
        .find(|l| l.contains("WARN") && l.contains("share one email"))
        .unwrap_or_else(|| panic!("no WARN line:\n{stderr}"));
    assert!(
        warn.contains("00udup1") && warn.contains("00udup2"),
        "{warn}"
    );

    // `check`: a WARN line from the last Okta read, and still exit 0.
    let lines = scim_sync::check::checks(&env.config()).await;
    let shared = lines
        .iter()
        .find(|l| l.warning)
        .unwrap_or_else(|| panic!("{lines:#?}"));
    assert!(shared.ok);
    assert!(
        shared.detail.contains("dup.person@acme.com") && shared.detail.contains("00udup1, 00udup2"),
        "{shared:?}"
    );

    // The report: its own section, in every format.
    let now = chrono::Utc::now();
    let report = scim_sync::report::build(
        &env.config(),
        &env.store,
        &scim_sync::report::ReportOptions {
            since: scim_sync::report::parse_since("24h", now).unwrap(),
            refresh: false,
        },
        now,
    )
    .await
    .unwrap();
    assert_eq!(report.summary.shared_emails, 1);
    use scim_sync::report::{Format, render};
    let text = render(&report, Format::Text, false);
    assert!(
        text.contains("Okta users sharing an email (1)") && text.contains("00udup1, 00udup2"),
        "{text}"
    );
    let markdown = render(&report, Format::Markdown, false);
    assert!(
        markdown.contains("## Okta users sharing an email (1)"),
        "{markdown}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&render(&report, Format::Json, false)).unwrap();
    assert_eq!(
        json["shared_emails"][0]["okta_ids"],
        serde_json::json!(["00udup1", "00udup2"])
    );
    assert!(render(&report, Format::Html, false).contains("Okta users sharing an email (1)"));
}

#[tokio::test]
async fn check_has_no_warning_when_every_email_is_its_own() {
    let env = Env::start(&scenario(SPELLINGS), &[EMAIL_IS_USER_NAME]).await;
    env.sync().await;
    let lines = scim_sync::check::checks(&env.config()).await;
    assert!(lines.iter().all(|l| l.ok && !l.warning), "{lines:#?}");
    assert!(
        lines.iter().any(|l| l.what.contains("email of their own")),
        "{lines:#?}"
    );
}
