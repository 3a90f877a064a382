//! Scale benchmark: a generated org of N users (default 100,000) in the simulators, then
//! (1) simulator start-up, (2) a full `expand=user` Okta listing through the client,
//! (3) a full kafkaman member listing, (4) a whole dry-run cycle and a first real sync,
//! (5) a second cycle with no change — with wall time and peak memory (VmHWM).
//!
//! Run: `cargo bench --bench scale` (or `SCALE_USERS=20000 cargo bench --bench scale`).
//! The simulators' rate limits are raised so that the figures measure scim-sync and the
//! simulators, not Okta's per-minute budget; the README states what the real budget costs.

use std::time::Instant;

use scim_sync::store::Store;
use scim_sync::sync::{self, CycleOptions};
use scim_sync_sim::{SimWorld, generate, process};
use tokio_util::sync::CancellationToken;

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn main() {
    // `cargo bench` passes --bench; other arguments are ignored.
    let users: usize = std::env::var("SCALE_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let t = Instant::now();
        let mut scenario = generate::generate(users, 1);
        println!("generate({users}): {:.2} s", t.elapsed().as_secs_f64());
        let rl = &mut scenario.okta.rate_limits;
        rl.apps = 1_000_000;
        rl.users_list = 1_000_000;
        rl.other = 1_000_000;
        scenario.kafkaman.rate_limit.requests = 1_000_000;

        let t = Instant::now();
        let world = SimWorld::start(&scenario).await.expect("simulators start");
        println!(
            "simulators ready: {:.2} s ({} Okta users, {} members)",
            t.elapsed().as_secs_f64(),
            scenario.okta.users.len(),
            scenario.kafkaman.members.len()
        );

        let dir = tempfile::tempdir().expect("tempdir");
        let config_path = dir.path().join("config.toml");
        let db = dir.path().join("state.db");
        process::write_config(&world, &config_path, &db).expect("config");
        let mut text = std::fs::read_to_string(&config_path).expect("read");
        text = text.replace("[okta]\n", "[okta]\nrate_limit_share = 1.0\n");
        text.push_str(
            "\n[safety]\nmax_deactivations = 1000000\nmax_deactivations_percent = 100\n",
        );
        std::fs::write(&config_path, text).expect("write");
        let cfg = scim_sync::config::load(&config_path).expect("config loads");

        let okta = scim_sync::view::okta_client(&cfg).expect("okta client");
        let t = Instant::now();
        let app_users = okta
            .list_app_users(&cfg.okta.app_id, &|_| {})
            .await
            .expect("listing");
        let secs = t.elapsed().as_secs_f64();
        println!(
            "Okta listing: {} app users (expand=user, 500/page) in {secs:.2} s = {:.0} users/s, {} requests",
            app_users.len(),
            app_users.len() as f64 / secs,
            okta.requests_made()
        );

        let km = scim_sync::view::kafkaman_client(&cfg).expect("kafkaman client");
        let t = Instant::now();
        let members = km.list_users(&|_| {}).await.expect("members");
        let secs = t.elapsed().as_secs_f64();
        println!(
            "kafkaman listing: {} members (100/page) in {secs:.2} s = {:.0} members/s",
            members.len(),
            members.len() as f64 / secs
        );

        let store = Store::open(&db).expect("store");
        let cancel = CancellationToken::new();
        let t = Instant::now();
        let dry = sync::run_cycle(
            &cfg,
            &store,
            &CycleOptions {
                dry_run: true,
                ..Default::default()
            },
            &cancel,
        )
        .await
        .expect("dry run");
        println!(
            "dry-run cycle: {:.2} s, {} operations planned",
            t.elapsed().as_secs_f64(),
            dry.plan.operations.len()
        );
        let t = Instant::now();
        let first = sync::run_cycle(&cfg, &store, &CycleOptions::default(), &cancel)
            .await
            .expect("first sync");
        println!(
            "first sync: {:.2} s, {} operations applied ({})",
            t.elapsed().as_secs_f64(),
            first.applied.outcomes.len(),
            first.result.as_str()
        );
        let writes_before = world.kafkaman.log().writes().len();
        let t = Instant::now();
        let second = sync::run_cycle(&cfg, &store, &CycleOptions::default(), &cancel)
            .await
            .expect("second sync");
        println!(
            "second sync (no change): {:.2} s, {} operations, {} kafkaman writes",
            t.elapsed().as_secs_f64(),
            second.plan.operations.len(),
            world.kafkaman.log().writes().len() - writes_before
        );
        println!("peak memory (VmHWM, simulators + scim-sync in one process): {:.0} MiB", peak_rss_mib());
        world.shutdown();
    });
}
