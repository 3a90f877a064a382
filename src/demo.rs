//! `scim-sync demo`: a real sync you can watch. Starts both simulators in-process with
//! a realistic org, writes a config and a state database in a temporary folder, and runs
//! the same code a production run uses: a dry run, the first sync, an admin's changes in
//! "Okta", and a second sync that shows only the difference.

use std::io::IsTerminal;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::config;
use crate::exit::Exit;
use crate::render;
use crate::store::Trigger;
use crate::store::{StateLock, Store};
use crate::sync::{self, CycleOptions};
use scim_sync_sim::generate::{self, demo_ids};
use scim_sync_sim::scenario::OktaUserSpec;
use scim_sync_sim::{SimWorld, process};

fn heading(text: &str) {
    if std::io::stdout().is_terminal() {
        crate::out_println!("\n\x1b[1m== {text}\x1b[0m");
    } else {
        crate::out_println!("\n== {text}");
    }
}

pub async fn run(quiet: bool) -> anyhow::Result<Exit> {
    let scenario = generate::demo();
    let world = SimWorld::start(&scenario)
        .await
        .context("starting the simulators")?;
    let dir = tempfile::Builder::new()
        .prefix("scim-sync-demo-")
        .tempdir()
        .context("creating a temporary folder")?;
    let config_path = dir.path().join("config.toml");
    let db = dir.path().join("state.db");
    process::write_config(&world, &config_path, &db).context("writing the demo config")?;
    // The demo protects its admin, as a production config would.
    let mut text = std::fs::read_to_string(&config_path)?;
    text.push_str(&format!(
        "\n[safety]\nprotected_users = [\"{}\"]\nmax_deactivations = 25\nmax_deactivations_percent = 20\n",
        demo_ids::PROTECTED_ADMIN_EMAIL
    ));
    std::fs::write(&config_path, text)?;
    let cfg = config::load(&config_path)?;
    let _lock = StateLock::acquire(&db)?;
    let store = Store::open(&db)?;
    let cancel = CancellationToken::new();

    let (used, seats) = world.kafkaman.seats();
    heading("The world");
    crate::out_println!(
        "Simulated Okta at {} with {} users, {} groups; app {} assigned to {} users and {} groups.",
        world.okta.url(),
        scenario.okta.users.len(),
        scenario.okta.groups.len(),
        world.okta.app_id(),
        scenario.okta.assignments.users.len(),
        scenario.okta.assignments.groups.len()
    );
    crate::out_println!(
        "Simulated kafkaman at {} with {} members, {} pending invites, {used} of {seats} seats used.",
        world.kafkaman.url(),
        world.kafkaman.members().len(),
        world
            .kafkaman
            .invites()
            .iter()
            .filter(|i| i.status == "pending")
            .count(),
    );
    crate::out_println!("Config: {}  State: {}", config_path.display(), db.display());

    let progress = crate::logging::progress_reporter(quiet);
    heading("1. Dry run: the plan, nothing written");
    crate::out_println!("scim-sync reads every Okta assignment and every team member, and plans:");
    let writes_before = world.kafkaman.log().writes().len();
    let dry = sync::run_cycle(
        &cfg,
        &store,
        &CycleOptions {
            dry_run: true,
            trigger: Trigger::Demo,
            progress: progress.clone(),
            ..Default::default()
        },
        &cancel,
    )
    .await?;
    crate::logging::clear_progress();
    crate::out_print!("{}", render::plan_text_limited(&dry.plan, false, 8));
    crate::out_println!(
        "Writes to kafkaman during the dry run: {}.",
        world.kafkaman.log().writes().len() - writes_before
    );

    heading("2. First sync");
    crate::out_println!(
        "The same plan, applied: deactivations first (they free seats), then the rest."
    );
    let first = sync::run_cycle(
        &cfg,
        &store,
        &CycleOptions {
            trigger: Trigger::Demo,
            progress: progress.clone(),
            ..Default::default()
        },
        &cancel,
    )
    .await?;
    crate::logging::clear_progress();
    crate::out_print!("{}", render::cycle_text(&first));

    heading("3. An admin changes Okta");
    let links = store.links()?;
    let linked_direct: Vec<String> = scenario
        .okta
        .assignments
        .users
        .iter()
        .filter_map(|r| world.okta.user_id(r))
        .filter(|id| links.contains_key(id))
        .collect();
    let mut changes = Vec::new();
    if let Some(id) = linked_direct.first() {
        world.okta.unassign_user(id)?;
        changes.push(format!("unassigned {id} from the app"));
    }
    if let Some(id) = linked_direct.get(1) {
        world.okta.deactivate_user(id)?;
        changes.push(format!("deactivated {id} (left the company)"));
    }
    if let Some(id) = linked_direct.get(2) {
        world.okta.suspend_user(id)?;
        changes.push(format!("suspended {id}"));
    }
    if let Some(id) = linked_direct.get(3) {
        let mut p = serde_json::Map::new();
        p.insert("lastName".into(), "Married-Name".into());
        world.okta.update_profile(id, p)?;
        changes.push(format!("changed the last name of {id}"));
    }
    let hire = world.okta.create_user(OktaUserSpec {
        id: None,
        login: "new.hire@example.com".into(),
        email: Some("new.hire@example.com".into()),
        first_name: Some("Nova".into()),
        last_name: Some("Hire".into()),
        status: "ACTIVE".into(),
        profile: Default::default(),
        app_username: None,
        app_profile: Default::default(),
    })?;
    world.okta.assign_user(&hire)?;
    changes.push("hired new.hire@example.com and assigned the app".to_string());
    crate::out_println!("Meanwhile an Okta admin:");
    for c in &changes {
        crate::out_println!("  - {c}");
    }

    heading("4. Second sync: only the difference");
    crate::out_println!(
        "An incremental cycle reads Okta's System Log since the last sync, not every user. \
         Its plan, printed before the first write:"
    );
    let writes_before = world.kafkaman.log().writes().len();
    let show_plan: sync::OnPlan = std::sync::Arc::new(|plan: &scim_sync_plan::Plan| {
        crate::logging::clear_progress();
        crate::out_print!("{}", render::plan_text_limited(plan, false, 8));
    });
    let second = sync::run_cycle(
        &cfg,
        &store,
        &CycleOptions {
            trigger: Trigger::Demo,
            progress: progress.clone(),
            on_plan: Some(show_plan),
            ..Default::default()
        },
        &cancel,
    )
    .await?;
    crate::logging::clear_progress();
    crate::out_println!("Then the result:");
    crate::out_print!("{}", render::cycle_text(&second));
    let second_writes = world.kafkaman.log().writes().len() - writes_before;

    heading("5. Third sync, nothing changed in Okta");
    let writes_before = world.kafkaman.log().writes().len();
    let third = sync::run_cycle(
        &cfg,
        &store,
        &CycleOptions {
            trigger: Trigger::Demo,
            progress: progress.clone(),
            ..Default::default()
        },
        &cancel,
    )
    .await?;
    crate::logging::clear_progress();
    if third.applied.outcomes.is_empty() {
        crate::out_print!("{}", render::in_sync_text(&third));
    } else {
        crate::out_print!("{}", render::cycle_text(&third));
    }
    let third_writes = world.kafkaman.log().writes().len() - writes_before;

    heading("Summary");
    let (used, seats) = world.kafkaman.seats();
    crate::out_println!(
        "First sync: {} operations ({}); second: {} writes to kafkaman; third: {} writes.",
        first.applied.outcomes.len(),
        first.result.as_str(),
        second_writes,
        third_writes
    );
    crate::out_println!(
        "Team now: {} members, {used} of {seats} seats used, {} Okta and {} kafkaman requests served.",
        world.kafkaman.members().len(),
        world.okta.log().all().len(),
        world.kafkaman.log().all().len()
    );
    world.shutdown();
    Ok(Exit::Ok)
}
