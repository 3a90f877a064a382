//! The simulators' expectations of a first sync (`scim_sync_sim::generate`'s
//! `seats_after_first_sync`, `in_sync`) held against a real cycle of the product: the
//! simulators' crate can't run the product itself, so these live here.

use scim_sync::store::RunResult;
use scim_sync::sync::{CycleOptions, CycleReport, run_cycle};
use scim_sync_sim::generate::{
    assigned_ids, builtin, demo, demo_ids, generate, in_sync, seats_after_first_sync,
};
use scim_sync_sim::{Scenario, SimWorld};

/// A real first cycle of the product on `s` through the in-process simulators, with
/// `extra_config` appended to the config the simulators write. Returns the running
/// simulators and the cycle's report.
async fn first_sync(s: &Scenario, extra_config: &str) -> (SimWorld, CycleReport) {
    let world = SimWorld::start(s).await.expect("simulators start");
    let dir = tempfile::tempdir().expect("temp dir");
    let (config_path, db) = (dir.path().join("config.toml"), dir.path().join("state.db"));
    scim_sync_sim::process::write_config(&world, &config_path, &db).expect("config written");
    let mut text = std::fs::read_to_string(&config_path).expect("config reads");
    text.push_str(extra_config);
    std::fs::write(&config_path, text).expect("config writes");
    let cfg = scim_sync::config::load(&config_path).expect("config loads");
    let store = scim_sync::store::Store::open(&db).expect("store opens");
    let cancel = tokio_util::sync::CancellationToken::new();
    let report = run_cycle(&cfg, &store, &CycleOptions::default(), &cancel)
        .await
        .expect("the sync runs");
    (world, report)
}

/// Seats in use after a real first sync of `s` (with `protected` protected and no
/// deactivation cap): what [`seats_after_first_sync`] must predict.
async fn seats_used_after_a_real_sync(s: &Scenario, protected: &[&str]) -> u32 {
    let extra = format!(
        "\n[safety]\nprotected_users = {protected:?}\nmax_deactivations = 1000000\n\
         max_deactivations_percent = 100\n"
    );
    let (world, report) = first_sync(s, &extra).await;
    assert_eq!(report.result, RunResult::Success, "every operation applied");
    let (used, _) = world.kafkaman.seats();
    world.shutdown();
    used
}

#[tokio::test]
async fn seats_after_first_sync_matches_a_real_sync() {
    let demo = demo();
    let used = seats_used_after_a_real_sync(&demo, &[demo_ids::PROTECTED_ADMIN_EMAIL]).await;
    assert_eq!(seats_after_first_sync(&demo), used, "demo");
    assert_eq!(
        demo.kafkaman.seats,
        used + demo_ids::SEAT_MARGIN,
        "demo margin"
    );

    let builtin = builtin();
    let used = seats_used_after_a_real_sync(&builtin, &[]).await;
    assert_eq!(seats_after_first_sync(&builtin), used, "builtin");

    // A generated org with assigned LOCKED_OUT / PASSWORD_EXPIRED users (entitled) and
    // a linked member of an assigned STAGED user (kept while the planner waits).
    let generated = generate(500, 1);
    let assigned = assigned_ids(&generated);
    for status in ["LOCKED_OUT", "PASSWORD_EXPIRED", "STAGED"] {
        assert!(
            generated
                .okta
                .users
                .iter()
                .any(|u| u.status == status && assigned.contains(u.id.as_deref().unwrap_or(""))),
            "an assigned {status} user"
        );
    }
    let used = seats_used_after_a_real_sync(&generated, &[]).await;
    assert_eq!(seats_after_first_sync(&generated), used, "generate(500, 1)");
}

/// [`in_sync`]: a first real cycle on the generated org plans nothing and writes nothing.
#[tokio::test]
async fn in_sync_team_needs_no_change() {
    let mut s = generate(2_000, 3);
    in_sync(&mut s);
    s.validate_refs().expect("valid");
    assert!(s.kafkaman.invites.is_empty());
    let (world, report) = first_sync(&s, "").await;
    assert_eq!(report.result, RunResult::Success);
    assert!(
        report.plan.operations.is_empty(),
        "{:?}",
        &report.plan.operations[..report.plan.operations.len().min(5)]
    );
    assert!(world.kafkaman.log().writes().is_empty());
    world.shutdown();
}
