//! End-to-end cycles against the simulators: what an Okta admin would notice.

use crate::common;

use common::Env;
use scim_sync::store::RunResult;
use scim_sync::store::{CycleKind, OpState, RunMode};
use scim_sync::sync::{CycleOptions, SyncError};
use scim_sync_plan::OpKind;
use scim_sync_sim::generate::{self, builtin_ids as b};
use scim_sync_sim::scenario::OktaUserSpec;
use scim_sync_sim::{FaultKind, FaultSpec};

/// A cap that lets the builtin org's expected deactivations through.
const ROOMY: &[(&str, &str)] = &[
    ("safety", "max_deactivations = 50"),
    ("safety", "max_deactivations_percent = 100"),
];

fn new_user(login: &str, first: &str, last: &str) -> OktaUserSpec {
    OktaUserSpec {
        id: None,
        login: login.into(),
        email: Some(login.into()),
        first_name: Some(first.into()),
        last_name: Some(last.into()),
        status: "ACTIVE".into(),
        profile: Default::default(),
        app_username: None,
        app_profile: Default::default(),
    }
}

#[tokio::test]
async fn first_provisioning_of_a_team() {
    let env = Env::start(&generate::builtin(), ROOMY).await;
    let report = env.sync().await;
    assert_eq!(report.result, RunResult::Success, "{:?}", report.applied);

    // Every entitled assigned user is a member, linked by externalId = Okta id.
    let grace = env.member(b::GRACE_EMAIL);
    assert!(grace.active);
    assert_eq!(grace.external_id.as_deref(), Some(b::GRACE));
    assert_eq!(grace.given_name.as_deref(), Some("Grace"));
    // The outside account was invited (kafkaman's answer to a create for it).
    assert_eq!(env.member(b::OUTSIDE_EMAIL).membership, "invited");
    // Not assigned: not provisioned.
    assert!(
        env.world
            .kafkaman
            .member("whitfield.diffie@example.com")
            .is_none()
    );
    // Suspended and deactivated Okta users lost their seat.
    assert!(!env.member(b::SUSPENDED_EMAIL).active);
    assert!(!env.member(b::DEPROVISIONED_EMAIL).active);
    // The linked admin kept the role kafkaman gave.
    assert_eq!(env.member(b::ADA_EMAIL).role, "admin");
    // Each create is in the history as done.
    assert!(
        env.store
            .count_operations(OpKind::Create, OpState::Done)
            .unwrap()
            >= 10
    );
}

#[tokio::test]
async fn invite_clearing_leaves_scim_and_unrelated_invites_alone() {
    let env = Env::start(&generate::builtin(), ROOMY).await;
    let unrelated = env
        .world
        .kafkaman
        .add_invite("contractor@example.com", "link")
        .unwrap();
    env.sync().await;
    let invites = env.world.kafkaman.invites();
    let pending = |email: &str| {
        invites
            .iter()
            .any(|i| i.email.eq_ignore_ascii_case(email) && i.status == "pending")
    };
    // The admin invite blocked the create: it was cleared and the create went through.
    assert!(!pending(b::ADMIN_INVITED_EMAIL));
    assert!(env.member(b::ADMIN_INVITED_EMAIL).active);
    // A SCIM invite is kafkaman's own, for an invited member: left alone.
    assert!(pending(b::SCIM_INVITED_EMAIL));
    // An invite for someone who isn't assigned: left alone.
    assert!(
        invites
            .iter()
            .any(|i| i.id == unrelated && i.status == "pending")
    );
    let deletes: Vec<_> = env
        .kafkaman_writes()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .collect();
    assert_eq!(deletes.len(), 1, "{deletes:?}");
}

#[tokio::test]
async fn name_update_and_case_only_email_difference() {
    let env = Env::start(&generate::builtin(), ROOMY).await;
    env.sync().await;
    // Barbara's family name was out of date in kafkaman: fixed by the first sync.
    assert_eq!(
        env.member(b::BARBARA_EMAIL).family_name.as_deref(),
        Some("Liskov")
    );
    // A new last name in Okta is one PATCH.
    let mut p = serde_json::Map::new();
    p.insert("lastName".into(), "Hopper-Murray".into());
    env.world.okta.update_profile(b::GRACE, p).unwrap();
    // Only the case of Alan's email changes: the same person, nothing to do.
    let mut p = serde_json::Map::new();
    p.insert("email".into(), "Alan.Turing@Example.com".into());
    env.world.okta.update_profile(b::ALAN, p).unwrap();
    let before = env.kafkaman_writes().len();
    let report = env.sync().await;
    let writes = &env.kafkaman_writes()[before..];
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(writes[0].method, "PATCH");
    assert_eq!(
        env.member(b::GRACE_EMAIL).family_name.as_deref(),
        Some("Hopper-Murray")
    );
    assert!(
        report
            .plan
            .attention
            .iter()
            .all(|a| !a.user_name.eq_ignore_ascii_case("alan.turing@example.com"))
    );
}

#[tokio::test]
async fn deactivation_on_unassignment_okta_deactivation_and_suspension() {
    let env = Env::start(&generate::builtin(), ROOMY).await;
    env.sync().await;
    env.world.okta.unassign_user(b::SOPHIE).unwrap(); // Sales isn't assigned: she loses access
    env.world.okta.deactivate_user(b::DENNIS).unwrap();
    env.world.okta.suspend_user(b::ALAN).unwrap();
    let report = env.sync().await;
    assert_eq!(report.result, RunResult::Success);
    assert!(!env.member("sophie.wilson@example.com").active);
    assert!(!env.member("dennis.ritchie@example.com").active);
    assert!(!env.member("alan.turing@example.com").active);
    let reasons: Vec<&str> = report.plan.operations.iter().map(|o| o.reason()).collect();
    assert!(
        reasons.iter().any(|r| r.contains("suspended")),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn suspended_users_are_kept_when_configured() {
    let env = Env::start(&generate::builtin(), ROOMY).await;
    env.set("sync", "suspended_users = \"keep\"");
    env.sync().await;
    assert!(env.member(b::SUSPENDED_EMAIL).active);
    assert!(!env.member(b::DEPROVISIONED_EMAIL).active);
}

#[tokio::test]
async fn rehire_reactivates_the_same_account() {
    let env = Env::start(&generate::builtin(), ROOMY).await;
    env.sync().await;
    let id_before = env.member("dennis.ritchie@example.com").id;
    env.world.okta.deactivate_user(b::DENNIS).unwrap();
    env.sync().await;
    assert!(!env.member("dennis.ritchie@example.com").active);
    env.world.okta.activate_user(b::DENNIS).unwrap();
    // Deactivation removed his direct assignments, but he stayed in Platform, which is
    // assigned: once active again, the group brings him back.
    let before = env.kafkaman_writes().len();
    env.sync().await;
    let dennis = env.member("dennis.ritchie@example.com");
    assert!(dennis.active);
    assert_eq!(dennis.id, id_before);
    let writes = &env.kafkaman_writes()[before..];
    assert!(writes.iter().all(|w| w.method != "POST"), "{writes:?}");
}

#[tokio::test]
async fn unmanaged_and_protected_members_are_never_touched() {
    let env = Env::start(&generate::builtin(), ROOMY).await;
    env.set(
        "safety",
        &format!("protected_users = [\"{}\"]", b::ADA_EMAIL.to_uppercase()),
    );
    env.world.okta.unassign_group(b::GROUP_ENGINEERING).unwrap();
    let report = env.sync().await;
    let unmanaged = env.member(b::UNMANAGED_EMAIL);
    assert!(unmanaged.active);
    assert!(
        report
            .plan
            .unmanaged
            .iter()
            .any(|u| u.user_name == b::UNMANAGED_EMAIL)
    );
    // Ada lost her group assignment but is protected.
    assert!(env.member(b::ADA_EMAIL).active);
    assert!(
        report
            .plan
            .attention
            .iter()
            .any(|a| a.user_name == b::ADA_EMAIL && a.reason().contains("protected"))
    );
    let unmanaged_path = format!("/scim/v2/Users/{}", unmanaged.id);
    assert!(
        env.kafkaman_writes()
            .iter()
            .all(|w| w.path != unmanaged_path)
    );
}

#[tokio::test]
async fn rename_is_reported_not_acted_on() {
    let env = Env::start(&generate::builtin(), ROOMY).await;
    env.sync().await;
    let mut p = serde_json::Map::new();
    p.insert("email".into(), "alan.m.turing@example.com".into());
    p.insert("login".into(), "alan.m.turing@example.com".into());
    env.world.okta.update_profile(b::ALAN, p).unwrap();
    let before = env.kafkaman_writes().len();
    let report = env.sync().await;
    assert_eq!(env.kafkaman_writes().len(), before);
    assert!(
        env.world
            .kafkaman
            .member("alan.m.turing@example.com")
            .is_none()
    );
    let attention = report
        .plan
        .attention
        .iter()
        .find(|a| a.okta_id.as_deref() == Some(b::ALAN))
        .expect("rename reported");
    assert!(attention.reason().contains("alan.m.turing@example.com"));
}

#[tokio::test]
async fn no_free_seat_fails_that_user_only() {
    let env = Env::start(&generate::builtin(), ROOMY).await;
    env.sync().await;
    let (used, _) = env.world.kafkaman.seats();
    env.world.kafkaman.set_seats(used + 1);
    for (login, first) in [("n1@example.com", "One"), ("n2@example.com", "Two")] {
        let id = env
            .world
            .okta
            .create_user(new_user(login, first, "New"))
            .unwrap();
        env.world.okta.assign_user(&id).unwrap();
    }
    let report = env.sync().await;
    assert_eq!(report.result, RunResult::Partial);
    assert_eq!(report.applied.count(OpKind::Create, OpState::Done), 1);
    let failure = report.applied.failures().next().expect("one failure");
    assert_eq!(failure.http_status, Some(403));
    assert!(
        failure
            .error
            .as_deref()
            .unwrap_or("")
            .to_lowercase()
            .contains("seat")
    );
    assert!(failure.request_id.is_some());
}

#[tokio::test]
async fn cap_holds_deactivations_and_release_applies_them() {
    let env = Env::start(
        &generate::builtin(),
        &[
            ("safety", "max_deactivations = 2"),
            ("safety", "max_deactivations_percent = 100"),
        ],
    )
    .await;
    // The first sync has exactly 2 deactivations (suspended, deprovisioned): within the cap.
    env.sync().await;
    env.world.okta.unassign_group(b::GROUP_ENGINEERING).unwrap();
    env.world.okta.unassign_group(b::GROUP_PLATFORM).unwrap();
    let before = env.kafkaman_writes().len();
    let held = env.sync().await;
    assert_eq!(held.result, RunResult::Held);
    assert!(held.plan.held.len() > 2);
    assert_eq!(
        env.kafkaman_writes().len(),
        before,
        "held means nothing written"
    );
    let released = env
        .cycle_with(CycleOptions {
            release: scim_sync::sync::Release::LastHeld,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        released.applied.count(OpKind::Deactivate, OpState::Done),
        held.plan.held.len()
    );
}

#[tokio::test]
async fn release_applies_only_the_deactivations_that_were_reviewed() {
    let env = Env::start(
        &generate::builtin(),
        &[
            ("safety", "max_deactivations = 2"),
            ("safety", "max_deactivations_percent = 100"),
        ],
    )
    .await;
    env.sync().await;
    env.world.okta.unassign_group(b::GROUP_PLATFORM).unwrap();
    let held = env.dry_run().await.plan.held;
    assert!(held.len() > 2, "{held:?}");
    // Between the review and the release, someone else loses access too.
    env.world.okta.deactivate_user(b::ALAN).unwrap();
    let released = env
        .cycle_with(CycleOptions {
            release: scim_sync::sync::Release::LastHeld,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        released.applied.count(OpKind::Deactivate, OpState::Done),
        held.len()
    );
    assert!(
        env.member("alan.turing@example.com").active,
        "not reviewed: still held"
    );
    assert!(
        released
            .plan
            .held
            .iter()
            .any(|o| o.user_name() == "alan.turing@example.com")
    );
}

#[tokio::test]
async fn a_deactivation_whose_answer_is_lost_is_repeated_and_done() {
    let env = Env::start(&generate::builtin(), ROOMY).await;
    env.sync().await;
    env.world.okta.deactivate_user(b::DENNIS).unwrap();
    // The PATCH gets a 503 once (outcome unknown): PATCH active is idempotent.
    env.world.kafkaman.faults().arm(FaultSpec {
        route: "/scim/v2/Users/*".into(),
        method: Some("PATCH".into()),
        kind: FaultKind::Status { status: 503 },
        count: 1,
        after: 0,
    });
    let report = env.sync().await;
    assert_eq!(report.result, RunResult::Success, "{:?}", report.applied);
    assert!(!env.member("dennis.ritchie@example.com").active);
    let patches: Vec<u16> = env
        .kafkaman_writes()
        .iter()
        .filter(|w| w.method == "PATCH")
        .map(|w| w.status)
        .collect();
    assert!(patches.ends_with(&[503, 200]), "{patches:?}");
}

#[tokio::test]
async fn second_cycle_without_okta_changes_writes_nothing() {
    let env = Env::start(&generate::builtin(), ROOMY).await;
    env.sync().await;
    let before = env.kafkaman_writes().len();
    let report = env.sync().await;
    assert!(
        report.plan.operations.is_empty(),
        "{:?}",
        report.plan.operations
    );
    assert_eq!(env.kafkaman_writes().len(), before);
}

#[tokio::test]
async fn dry_run_writes_nothing_and_plans_what_the_run_does() {
    let env = Env::start(&generate::builtin(), ROOMY).await;
    let dry = env.dry_run().await;
    assert!(env.kafkaman_writes().is_empty());
    assert!(env.world.okta.log().writes().is_empty());
    assert!(dry.plan.count(OpKind::Create) > 0);
    let real = env.sync().await;
    assert_eq!(dry.plan.operations, real.plan.operations);
}

/// An org where the next cycle would deactivate people (Engineering unassigned), read
/// in pages of 5 so that a fault can hit the middle of the listing.
async fn env_about_to_deactivate() -> Env {
    let mut settings = ROOMY.to_vec();
    settings.push(("okta", "page_size = 5"));
    let env = Env::start(&generate::builtin(), &settings).await;
    assert_eq!(env.sync().await.result, RunResult::Success);
    env.world.okta.unassign_group(b::GROUP_ENGINEERING).unwrap();
    let would = env.dry_run().await.plan.count(OpKind::Deactivate);
    assert!(would >= 3, "the unassignment would deactivate {would}");
    env
}

/// A full cycle: the kind that lists every assignment (tests/incremental.rs has the
/// same guarantees for the System Log and re-reads).
const FULL: CycleOptions = CycleOptions {
    dry_run: false,
    release: scim_sync::sync::Release::Nothing,
    trigger: scim_sync::store::Trigger::Manual,
    progress: None,
    full: true,
    on_plan: None,
    keep_inputs: false,
};

fn fail_listing(env: &Env, kind: FaultKind, count: u32) {
    env.world.okta.faults().arm(FaultSpec {
        route: format!("/api/v1/apps/{}/users", env.world.okta.app_id()),
        method: None,
        kind,
        count,
        after: 2,
    });
}

async fn failing_listing_leads_to_no_deactivation(kind: FaultKind) {
    let env = env_about_to_deactivate().await;
    let before = env.kafkaman_writes().len();
    fail_listing(&env, kind, 20);
    let err = env
        .cycle_with(FULL)
        .await
        .expect_err("an incomplete read fails the cycle");
    assert!(
        matches!(err, SyncError::Read(scim_sync::view::ViewError::Okta(_))),
        "{err}"
    );
    assert_eq!(env.kafkaman_writes().len(), before, "nothing written");
    let runs = env.store.runs(1).unwrap();
    assert_eq!(runs[0].result.map(|r| r.as_str()), Some("failed"));
}

#[tokio::test]
async fn okta_500_mid_listing_means_zero_deactivations() {
    failing_listing_leads_to_no_deactivation(FaultKind::Status { status: 500 }).await;
}

#[tokio::test]
async fn malformed_page_mid_listing_means_zero_deactivations() {
    failing_listing_leads_to_no_deactivation(FaultKind::Malformed).await;
}

#[tokio::test]
async fn truncated_page_mid_listing_means_zero_deactivations() {
    failing_listing_leads_to_no_deactivation(FaultKind::Truncate).await;
}

#[tokio::test]
async fn one_okta_500_mid_listing_is_retried_and_the_cycle_completes() {
    let env = env_about_to_deactivate().await;
    fail_listing(&env, FaultKind::Status { status: 500 }, 1);
    let report = env.cycle_with(FULL).await.expect("the cycle completes");
    assert_eq!(report.result, RunResult::Success);
    assert!(report.applied.count(OpKind::Deactivate, OpState::Done) >= 3);
    assert!(
        env.world.okta.log().all().iter().any(|r| r.status == 500),
        "the fault was hit"
    );
}

/// A provisioned team, a new hire assigned in Okta, and a run that recorded the intent to
/// create them but no outcome (the process died). Returns the planned create.
async fn crashed_before_a_create_outcome() -> (Env, scim_sync_plan::Operation) {
    let env = Env::start(&generate::builtin(), ROOMY).await;
    env.sync().await;
    let id = env
        .world
        .okta
        .create_user(new_user("late.joiner@example.com", "Late", "Joiner"))
        .unwrap();
    env.world.okta.assign_user(&id).unwrap();
    let run = env
        .store
        .start_run(scim_sync::store::Trigger::Manual, RunMode::Apply)
        .unwrap();
    let create = env
        .dry_run()
        .await
        .plan
        .operations
        .into_iter()
        .find(|o| o.kind() == OpKind::Create)
        .expect("create planned");
    env.store.record_intent(run, &create).unwrap();
    (env, create)
}

#[tokio::test]
async fn interrupted_create_that_happened_is_not_repeated() {
    // The crash: the intent was recorded and the create reached kafkaman, but the
    // process died before writing the outcome.
    let (env, create) = crashed_before_a_create_outcome().await;
    let client = scim_sync::view::kafkaman_client(&env.config()).unwrap();
    let (given, family) = create.name();
    client
        .create_user(&scim_sync::kafkaman::NewUser {
            user_name: create.user_name().to_string(),
            given_name: given.unwrap_or_default().to_string(),
            family_name: family.unwrap_or_default().to_string(),
            external_id: create.okta_id().map(str::to_string).unwrap_or_default(),
            display_name: None,
        })
        .await
        .unwrap();
    let posts_before = env
        .kafkaman_writes()
        .iter()
        .filter(|w| w.method == "POST")
        .count();
    let report = env.sync().await;
    assert_eq!(report.result, RunResult::Success);
    let posts_after = env
        .kafkaman_writes()
        .iter()
        .filter(|w| w.method == "POST")
        .count();
    assert_eq!(posts_after, posts_before, "no second create");
    assert!(env.store.unfinished_operations().unwrap().is_empty());
    assert_eq!(
        env.store
            .count_operations(OpKind::Create, OpState::Recovered)
            .unwrap(),
        1
    );
    assert!(env.member("late.joiner@example.com").active);
}

#[tokio::test]
async fn interrupted_create_that_never_happened_is_created_once() {
    // The crash came before the create left the process.
    let (env, _) = crashed_before_a_create_outcome().await;
    let before = env.kafkaman_writes().len();
    env.sync().await;
    let posts: Vec<_> = env.kafkaman_writes()[before..]
        .iter()
        .filter(|w| w.method == "POST")
        .cloned()
        .collect();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].status, 201);
    assert!(env.member("late.joiner@example.com").active);
}

/// The real thing: the process is SIGKILLed while creates are in flight, then run again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_process_restarted_finishes_without_duplicate_create() {
    let env = Env::start(&generate::builtin(), ROOMY).await;
    // kafkaman creates the member at once but answers late: killed meanwhile, the
    // process can't know the create happened.
    env.world.kafkaman.faults().arm(FaultSpec {
        route: "/scim/v2/Users".into(),
        method: Some("POST".into()),
        kind: FaultKind::SlowResponse { ms: 3000 },
        count: 1000,
        after: 0,
    });
    let bin = env!("CARGO_BIN_EXE_scim-sync");
    let mut child = std::process::Command::new(bin)
        .arg("--config")
        .arg(&env.config_path)
        .arg("--quiet")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let unfinished = env.store.unfinished_operations().unwrap();
        let created = env
            .world
            .kafkaman
            .log()
            .all()
            .iter()
            .any(|r| r.method == "POST" && r.status == 201);
        if created && unfinished.iter().any(|o| o.kind == OpKind::Create) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no create intent seen"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!env.store.unfinished_operations().unwrap().is_empty());
    env.world.kafkaman.faults().clear();

    let status = std::process::Command::new(bin)
        .arg("--config")
        .arg(&env.config_path)
        .arg("--quiet")
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(env.store.unfinished_operations().unwrap().is_empty());
    let runs = env.store.runs(2).unwrap();
    assert_eq!(
        runs[1].result.map(|r| r.as_str()),
        Some("interrupted"),
        "the killed run"
    );
    assert_eq!(runs[0].result.map(|r| r.as_str()), Some("success"));
    let conflicts: Vec<_> = env
        .world
        .kafkaman
        .log()
        .all()
        .into_iter()
        .filter(|r| r.method == "POST" && r.status == 409)
        .collect();
    assert!(conflicts.is_empty(), "a create was repeated: {conflicts:?}");
    // The creates that happened before the kill were found, not repeated.
    assert!(
        env.store
            .count_operations(OpKind::Create, OpState::Recovered)
            .unwrap()
            >= 1
    );
    assert!(env.member(b::GRACE_EMAIL).active);
    let report = env.sync().await;
    assert!(
        report.plan.operations.is_empty(),
        "{:?}",
        report.plan.operations
    );
}

#[tokio::test]
async fn wrong_okta_token_fails_the_run_and_writes_nothing() {
    let env = Env::start(&generate::builtin(), ROOMY).await;
    std::fs::write(env.dir.path().join("okta-api-token"), "00wrong-token").unwrap();
    let err = env
        .cycle_with(CycleOptions::default())
        .await
        .expect_err("401");
    let text = err.to_string();
    assert!(text.contains("E0000011") || text.contains("401"), "{text}");
    assert!(!text.contains("00wrong-token"), "secret in error: {text}");
    assert!(env.kafkaman_writes().is_empty());
}

/// The builtin org with an OAuth service app `client_id` granted every read scope.
fn builtin_with_service_app(client_id: &str) -> scim_sync_sim::Scenario {
    let mut scenario = generate::builtin();
    let scopes = scim_sync_sim::scenario::all_read_scopes();
    let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
    common::with_service_app(&mut scenario, client_id, &scopes);
    scenario
}

/// The statuses of every token request the simulated Okta saw, in order.
fn token_statuses(env: &Env) -> Vec<u16> {
    env.world
        .okta
        .log()
        .all()
        .into_iter()
        .filter(|r| r.path == "/oauth2/v1/token")
        .map(|r| r.status)
        .collect()
}

/// A service app as Okta's Admin Console makes one today (DPoP required): a full, then
/// an incremental cycle converge, every token request carries a proof (none is left as
/// a failed grant in the org's System Log), and the second cycle's token needs no second
/// round trip for Okta's nonce.
#[tokio::test]
async fn a_dpop_service_app_converges_without_a_proofless_token_request() {
    let scenario = builtin_with_service_app("0oaservicesync000001");
    assert!(scenario.okta.service_apps[0].require_dpop);
    let env = Env::start(&scenario, ROOMY).await;
    env.use_oauth("0oaservicesync000001", None);
    let first = env.sync().await;
    assert_eq!(first.result, RunResult::Success);
    assert_eq!(first.summary.kind, Some(CycleKind::Full));
    assert!(env.member(b::GRACE_EMAIL).active);
    env.world.okta.unassign_user(b::SOPHIE).unwrap();
    let second = env.sync().await;
    assert_eq!(second.result, RunResult::Success);
    assert_eq!(second.summary.kind, Some(CycleKind::Incremental));
    assert!(!env.member("sophie.wilson@example.com").active);
    let token_statuses = token_statuses(&env);
    // The first token: Okta's nonce challenge, then the token; the second: one request.
    assert_eq!(token_statuses, [400, 200, 200]);
    assert_eq!(env.world.okta.proofless_token_requests(), 0);
}

/// An app that doesn't require DPoP (one made through Okta's API) ignores the proof and
/// hands out a Bearer token: it keeps working.
#[tokio::test]
async fn a_service_app_without_dpop_keeps_working_with_bearer_tokens() {
    let mut scenario = builtin_with_service_app("0oaservicesync000002");
    scenario.okta.service_apps[0].require_dpop = false;
    let env = Env::start(&scenario, ROOMY).await;
    env.use_oauth("0oaservicesync000002", None);
    let report = env.sync().await;
    assert_eq!(report.result, RunResult::Success);
    assert!(env.member(b::GRACE_EMAIL).active);
    let token_statuses = token_statuses(&env);
    assert_eq!(token_statuses, [200], "no nonce challenge without DPoP");
}

#[tokio::test]
async fn syncs_a_plain_rfc_7644_target_patch_204_and_no_team_api() {
    let env = Env::start(
        &generate::builtin(),
        &[
            ("safety", "max_deactivations_percent = 100"),
            ("safety", "max_deactivations = 100"),
            ("sync", "clear_pending_invites = false"),
        ],
    )
    .await;
    env.world
        .kafkaman
        .set_compat(scim_sync_sim::kafkaman::Compat {
            patch_no_content: true,
            team_api: false,
            ..Default::default()
        });
    let first = env.sync().await;
    // Every PATCH (deactivations, name updates) succeeded; the only failures are
    // creates of people with a pending invite, which clearing (off) would have handled.
    for o in &first.applied.outcomes {
        match o.kind {
            OpKind::Deactivate | OpKind::UpdateName => assert_eq!(o.state, OpState::Done, "{o:?}"),
            _ if o.state == OpState::Failed => {
                assert!(
                    o.error.as_deref().unwrap_or("").contains("pending invite"),
                    "{o:?}"
                )
            }
            _ => {}
        }
    }
    assert!(first.applied.count(OpKind::Deactivate, OpState::Done) > 0);
    let log = env.world.kafkaman.log().all();
    assert!(
        log.iter().any(|r| r.method == "PATCH" && r.status == 204),
        "{log:#?}"
    );
    // The team API is only asked for invites; its 404 means "none", and nothing is
    // written through it.
    assert!(
        log.iter()
            .filter(|r| r.path.starts_with("/api/"))
            .all(|r| r.method == "GET" && r.status == 404),
        "{log:#?}"
    );
    // The PATCHes took: nothing of theirs is planned again.
    let second = env.sync().await;
    assert!(
        second
            .plan
            .operations
            .iter()
            .all(|o| o.kind() == OpKind::Create),
        "{:?}",
        second.plan
    );
}

/// A host whose clock is five minutes behind Okta's: its first client assertion has
/// expired by Okta's clock. The refusal's `Date` tells Okta's clock, and the assertion
/// and the DPoP proof are dated by it from then on: cycles converge, not fail each time.
#[tokio::test]
async fn a_host_clock_behind_oktas_still_gets_tokens() {
    let scenario = builtin_with_service_app("0oaservicesync000003");
    let env = Env::start(&scenario, ROOMY).await;
    env.world
        .okta
        .set_clock_offset(chrono::Duration::minutes(5));
    env.use_oauth("0oaservicesync000003", None);
    let first = env.sync().await;
    assert_eq!(first.result, RunResult::Success);
    assert!(env.member(b::GRACE_EMAIL).active);
    env.world.okta.unassign_user(b::SOPHIE).unwrap();
    let second = env.sync().await;
    assert_eq!(second.result, RunResult::Success);
    assert_eq!(second.applied.count(OpKind::Deactivate, OpState::Done), 1);
}
