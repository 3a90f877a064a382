//! Differential test of incremental cycles (issue 10): for many random seeds, a run of
//! random admin changes in Okta (and by hand in kafkaman), with the System Log's delay
//! and `published` up to 300 s out of order, and now and then a failed System Log read
//! (the next cycle is full, and polling goes on from there); before every real cycle, the
//! incremental dry run's plan (of only the people the changes reach, from the last real
//! cycle's plan basis) must be the full dry run's, item for item and count for count;
//! after every incremental cycle, a full dry run must plan nothing — the incremental
//! cycle saw everything a full read sees.
//!
//! `DIFF_SEEDS` (default 6, as in CI) sets how many seeds; `DIFF_CHANGES` (default 20)
//! the changes per seed. The long run: `DIFF_SEEDS=100 cargo test --release --test
//! differential`.

use crate::common;

use std::time::Duration;

use common::Env;
use scim_sync::store::CycleKind;
use scim_sync::sync::CycleOptions;
use scim_sync_sim::generate;
use scim_sync_sim::kafkaman::MemberUpdate;
use scim_sync_sim::scenario::OktaUserSpec;
use scim_sync_sim::{FaultKind, FaultSpec};

const LOG_DELAY: Duration = Duration::from_millis(60);
/// Events persisted up to five minutes after their `published` time.
const LOG_JITTER: Duration = Duration::from_secs(300);
/// Every this many changes, the System Log read of the next cycle fails.
const FAILED_READ_EVERY: usize = 5;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One random admin change; Err when the simulator refuses it (e.g. suspending a
/// deactivated user): the caller picks another.
fn random_change(
    env: &Env,
    rng: &mut fastrand::Rng,
    users: &mut Vec<String>,
    groups: &[String],
    hires: &mut u32,
) -> Result<String, String> {
    let okta = &env.world.okta;
    let user = users[rng.usize(0..users.len())].clone();
    let group = groups[rng.usize(0..groups.len())].clone();
    let e = |r: Result<(), scim_sync_sim::okta::AdminError>| r.map_err(|e| e.to_string());
    match rng.u32(0..14) {
        0 => e(okta.assign_user(&user)).map(|_| format!("assign {user}")),
        1 => e(okta.unassign_user(&user)).map(|_| format!("unassign {user}")),
        2 => e(okta.add_group_member(&group, &user)).map(|_| format!("add {user} to {group}")),
        3 => e(okta.remove_group_member(&group, &user))
            .map(|_| format!("remove {user} from {group}")),
        4 => e(okta.assign_group(&group)).map(|_| format!("assign group {group}")),
        5 => e(okta.unassign_group(&group)).map(|_| format!("unassign group {group}")),
        6 => e(okta.deactivate_user(&user)).map(|_| format!("deactivate {user}")),
        7 => e(okta.suspend_user(&user)).map(|_| format!("suspend {user}")),
        8 => e(okta.unsuspend_user(&user)).map(|_| format!("unsuspend {user}")),
        9 => e(okta.reactivate_user(&user)).map(|_| format!("reactivate {user}")),
        10 => {
            let mut profile = serde_json::Map::new();
            profile.insert(
                "firstName".into(),
                format!("Renamed{}", rng.u32(0..1000)).into(),
            );
            e(okta.update_profile(&user, profile)).map(|_| format!("rename {user}"))
        }
        11 => {
            *hires += 1;
            let login = format!("hire{}.{}@example.com", *hires, rng.u32(0..100_000));
            let id = okta
                .create_user(OktaUserSpec {
                    id: None,
                    login: login.clone(),
                    email: None,
                    first_name: Some("New".into()),
                    last_name: Some(format!("Hire{hires}")),
                    status: "ACTIVE".into(),
                    profile: Default::default(),
                    app_username: None,
                    app_profile: Default::default(),
                })
                .map_err(|e| e.to_string())?;
            e(okta.assign_user(&id))?;
            users.push(id.clone());
            Ok(format!("hire {id}"))
        }
        12 => {
            // Rehire: a deactivated user comes back and is assigned again.
            e(okta.reactivate_user(&user))?;
            let _ = okta.assign_user(&user);
            Ok(format!("rehire {user}"))
        }
        _ => {
            let members = env.world.kafkaman.members();
            let active: Vec<_> = members.iter().filter(|m| m.active).collect();
            if active.is_empty() {
                return Err("no active member".into());
            }
            let m = active[rng.usize(0..active.len())];
            env.world
                .kafkaman
                .update_member(
                    &m.user_name,
                    MemberUpdate {
                        active: Some(false),
                        ..Default::default()
                    },
                )
                .map_err(|e| e.to_string())?;
            Ok(format!("deactivate member {} by hand", m.user_name))
        }
    }
}

async fn one_seed(seed: u64, changes: u64) {
    let mut scenario = generate::generate(60, seed);
    scenario.kafkaman.seats = 100_000;
    // Correctness, not budgets: two System Log polls a step would wait on Okta's
    // 120/min logs bucket (the rate-limit tests cover that).
    scenario.okta.rate_limits.logs = 1_000_000;
    scenario.okta.rate_limits.apps = 1_000_000;
    scenario.kafkaman.rate_limit.requests = 1_000_000;
    let env = Env::start(
        &scenario,
        &[
            ("safety", "max_deactivations = 100000"),
            ("safety", "max_deactivations_percent = 100"),
        ],
    )
    .await;
    env.world.okta.set_log_delay(LOG_DELAY);
    env.world.okta.set_log_jitter(LOG_JITTER);
    let mut users: Vec<String> = scenario
        .okta
        .users
        .iter()
        .filter_map(|u| env.world.okta.user_id(&u.login))
        .collect();
    let groups: Vec<String> = scenario
        .okta
        .groups
        .iter()
        .filter_map(|g| env.world.okta.group_id(&g.name))
        .collect();
    let first = env.sync().await;
    assert_eq!(first.summary.kind, Some(CycleKind::Full), "seed {seed}");

    let mut rng = fastrand::Rng::with_seed(seed);
    let mut hires = 0;
    let mut done = Vec::new();
    let mut attempts = 0;
    // Incremental cycles that planned only the people the changes reach.
    let mut scoped = 0;
    while (done.len() as u64) < changes {
        attempts += 1;
        assert!(
            attempts < changes * 50,
            "seed {seed}: the simulator refuses every change"
        );
        let Ok(what) = random_change(&env, &mut rng, &mut users, &groups, &mut hires) else {
            continue;
        };
        done.push(what);
        // The event becomes visible after the log's delay.
        tokio::time::sleep(LOG_DELAY + Duration::from_millis(40)).await;
        if done.len() % FAILED_READ_EVERY == 0 {
            // A failed System Log read: nothing is written, the next cycle is full.
            env.world.okta.faults().arm(FaultSpec {
                route: "/api/v1/logs".into(),
                method: Some("GET".into()),
                kind: FaultKind::Status { status: 500 },
                count: 10,
                after: 0,
            });
            env.cycle_with(CycleOptions::default())
                .await
                .expect_err("the System Log read fails");
            env.world.okta.faults().clear();
        }
        // The incremental plan (of only the people the changes reach, when the last
        // real cycle left a basis) is the full read's plan, item for item and count for
        // count.
        let incremental = env.dry_run().await;
        if incremental.summary.kind == Some(CycleKind::Incremental) {
            let full = env.full_dry_run().await;
            assert_eq!(
                incremental.plan, full.plan,
                "seed {seed}: after {done:?} the incremental plan (people planned: {:?}) differs from the full one",
                incremental.summary.people_planned
            );
            for (what, inc, full) in [
                (
                    "assigned",
                    incremental.summary.assigned,
                    full.summary.assigned,
                ),
                ("members", incremental.summary.members, full.summary.members),
            ] {
                assert_eq!(inc, full, "seed {seed}: after {done:?}: {what}");
            }
            if incremental.summary.people_planned.is_some() {
                scoped += 1;
            }
        }
        let run = env.sync().await;
        let full = env.full_dry_run().await;
        assert!(
            full.plan.operations.is_empty(),
            "seed {seed}: after {:?} the incremental cycle ({:?}, {:?}) left {:#?}",
            done,
            run.summary.kind,
            run.result,
            full.plan.operations
        );
        assert_eq!(
            full.summary.missed_drift,
            Some(0),
            "seed {seed}: after {done:?}"
        );
        if done.len() % QUIET_EVERY == 0 {
            // Quiet cycles in between (nothing changed: the next change must still be
            // seen after them, which the next step's full read checks).
            let settled = env.sync().await;
            assert!(
                settled.plan.operations.is_empty(),
                "seed {seed}: {:#?}",
                settled.plan.operations
            );
            let quiet = env.sync().await;
            assert!(
                quiet.summary.quiet && quiet.plan.operations.is_empty(),
                "seed {seed}: after {done:?} a cycle with nothing changed: {:?}",
                quiet.summary
            );
        }
    }
    // Most steps plan a scope: all but those after a failed read (full) and the first.
    assert!(
        scoped as u64 >= changes / 2,
        "seed {seed}: only {scoped} of {changes} incremental plans were scoped"
    );
}

/// Every this many changes, two cycles with nothing changed (the second quiet).
const QUIET_EVERY: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_every_incremental_cycle_a_full_read_plans_nothing() {
    let seeds = env_number("DIFF_SEEDS", 6);
    let changes = env_number("DIFF_CHANGES", 20);
    let started = std::time::Instant::now();
    for seed in 0..seeds {
        one_seed(1000 + seed, changes).await;
    }
    eprintln!(
        "differential: {seeds} seeds x {changes} changes in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
