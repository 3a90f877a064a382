//! Incremental-cycle benchmark: scim-sync alone, as a child process, against the
//! simulators (run in this process) with their default — realistic — rate limits.
//!
//! A generated org of N users (`BENCH_USERS`, default 10,000) whose kafkaman team is
//! already in sync ([`generate::in_sync`]), then, each cycle a run of the release binary
//! (`target/release/scim-sync --config … [--full]`; `cargo build --release` first):
//!
//! 1. a full cycle (`--full`, the first run on a fresh state database): no writes, then
//!    a second one (`--full`, on the snapshot the first one saved: the daily one);
//! 2. an incremental cycle with nothing changed;
//! 3. incremental cycles after 1, 10 and 100 user-level changes made in Okta through the
//!    simulator's admin API (one in ten a suspension, the others a new firstName);
//! 4. the daemon, once per interval in `BENCH_LAG_INTERVALS` (default `default,60`:
//!    the product's default, then 60 s; the full schedule a year away): ~20 changes
//!    spread over a few minutes, each timed from the change to its kafkaman write.
//!
//! Requests per side are counted in the simulators' request logs (what scim-sync sent)
//! and also read from the run's summary; CPU is the child's own user + system time
//! (`wait4`'s rusage, which counts the child alone); peak RSS is the child's own `VmHWM`, polled
//! from `/proc/<pid>/status` every 2 ms until it exits. (Not `wait4`'s `ru_maxrss`: a
//! child started with `posix_spawn` shares this process's memory until it execs, so its
//! `ru_maxrss` is at least this process's RSS, simulators and all.)
//!
//! Run: `cargo build --release && cargo bench --bench incremental`
//! (`BENCH_USERS=100000`; `BENCH_SAME_MODIFIED=1` to leave every member with one lastModified; `BENCH_BIN=path` for another scim-sync binary; `BENCH_UNLIMITED=1` lifts the rate limits, for memory profiling only; `BENCH_PARTS=full,quiet,changes,lag` to run only some parts;
//! `BENCH_LAG_SAMPLES=20`, `BENCH_LAG_SPREAD_SECS=240`, `BENCH_LAG_INTERVALS=default,60`, `BENCH_LOG_DELAY_MS=3000` (the System Log's delay) for the daemon lag).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use scim_sync_sim::{LoggedRequest, SimWorld, generate, process};

/// What one child run cost.
struct Run {
    label: String,
    exit: i32,
    okta_reads: usize,
    okta_other: usize,
    km_reads: usize,
    km_writes: usize,
    throttled: usize,
    wall: Duration,
    rss_mib: f64,
    /// User + system CPU of the scim-sync process.
    cpu: Duration,
    summary: Option<serde_json::Value>,
}

fn binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("BENCH_BIN") {
        return PathBuf::from(bin);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let bin = target.join("release").join("scim-sync");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --release` first",
        bin.display()
    );
    bin
}

/// Polls the peak RSS (`VmHWM`, KiB) of `pid` until it has exited (a zombie's status
/// has no `Vm` lines), and returns the last value read, in MiB. `VmHWM` only grows, so
/// the last read is the peak but for what the process touched in its last 2 ms.
fn watch_peak_rss(pid: u32) -> std::thread::JoinHandle<f64> {
    std::thread::spawn(move || {
        let path = format!("/proc/{pid}/status");
        let mut peak_kib = 0u64;
        while let Ok(status) = std::fs::read_to_string(&path) {
            let Some(hwm) = status.lines().find_map(|l| l.strip_prefix("VmHWM:")) else {
                break;
            };
            let kib: u64 = hwm
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .unwrap_or(0);
            peak_kib = peak_kib.max(kib);
            std::thread::sleep(Duration::from_millis(2));
        }
        peak_kib as f64 / 1024.0
    })
}

/// Waits for `pid` and returns its exit code.
/// Waits for the child; its exit code and its own CPU time (user + system, from
/// `wait4`'s rusage: scim-sync's alone, not the simulators').
fn wait_child(pid: u32) -> (i32, Duration) {
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `status` and `usage` are valid and writable; `pid` is our own child.
    let r = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(
        r,
        pid as libc::pid_t,
        "wait4: {}",
        std::io::Error::last_os_error()
    );
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    let cpu = tv(usage.ru_utime) + tv(usage.ru_stime);
    let exit = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -libc::WTERMSIG(status)
    };
    (exit, cpu)
}

fn last_run_summary(db: &Path) -> Option<serde_json::Value> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .ok()?;
    let s: Option<String> = conn
        .query_row(
            "SELECT summary FROM runs WHERE ended_at IS NOT NULL ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .ok()?;
    s.and_then(|s| serde_json::from_str(&s).ok())
}

fn ended_runs(db: &Path) -> i64 {
    rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .ok()
        .and_then(|c| {
            c.query_row(
                "SELECT count(*) FROM runs WHERE ended_at IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .ok()
        })
        .unwrap_or(0)
}

fn is_read(r: &LoggedRequest) -> bool {
    !r.is_write()
}

/// Runs one cycle of the release binary as a child and measures it.
fn cycle(world: &SimWorld, config: &Path, db: &Path, label: &str, full: bool) -> Run {
    let (okta_seq, km_seq) = (world.okta.log().last_seq(), world.kafkaman.log().last_seq());
    let log = std::fs::File::create(config.with_file_name(format!("{label}.log"))).expect("log");
    let mut cmd = Command::new(binary());
    cmd.arg("--config").arg(config);
    if full {
        cmd.arg("--full");
    }
    let started = Instant::now();
    // Reaped by `wait_child` (wait4); its peak RSS is watched in /proc meanwhile.
    #[allow(clippy::zombie_processes)]
    let child = cmd
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("scim-sync starts");
    let peak = watch_peak_rss(child.id());
    let (exit, cpu) = wait_child(child.id());
    let rss_mib = peak.join().expect("the RSS watcher");
    let wall = started.elapsed();
    let okta = world.okta.log().since(okta_seq);
    let km = world.kafkaman.log().since(km_seq);
    Run {
        label: label.to_string(),
        exit,
        okta_reads: okta.iter().filter(|r| is_read(r)).count(),
        okta_other: okta.iter().filter(|r| !is_read(r)).count(),
        km_reads: km.iter().filter(|r| is_read(r)).count(),
        km_writes: km.iter().filter(|r| r.is_write()).count(),
        throttled: okta.iter().chain(&km).filter(|r| r.status == 429).count(),
        wall,
        rss_mib,
        cpu,
        summary: last_run_summary(db),
    }
}

fn print_table(users: usize, runs: &[Run]) {
    println!();
    let limits = if std::env::var("BENCH_UNLIMITED").is_ok() {
        "rate limits lifted (BENCH_UNLIMITED)"
    } else {
        "default simulator rate limits"
    };
    println!("## {users} users (scim-sync as a child process; {limits})");
    println!(
        "| cycle | kind | people planned | exit | Okta requests | kafkaman reads | kafkaman writes | 429s | \
         summary okta/km | wall | CPU (user+sys) | run duration | peak RSS |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in runs {
        let s = r.summary.as_ref();
        let get = |k: &str| s.and_then(|s| s.get(k)).cloned();
        let kind = get("kind")
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "?".into());
        // An incremental cycle planned only the people its changes reach, or all.
        let planned = match (get("people_planned"), get("quiet")) {
            (Some(n), _) => n.to_string(),
            (None, Some(_)) => "none (quiet)".into(),
            (None, None) => "all".into(),
        };
        println!(
            "| {} | {} | {} | {} | {}{} | {} | {} | {} | {}/{} | {:.2} s | {:.0} ms | {} ms | {:.1} MiB |",
            r.label,
            kind,
            planned,
            r.exit,
            r.okta_reads,
            if r.okta_other > 0 {
                format!(" (+{} non-GET)", r.okta_other)
            } else {
                String::new()
            },
            r.km_reads,
            r.km_writes,
            r.throttled,
            get("okta_requests").unwrap_or_default(),
            get("kafkaman_requests").unwrap_or_default(),
            r.wall.as_secs_f64(),
            r.cpu.as_secs_f64() * 1000.0,
            get("duration_ms").unwrap_or_default(),
            r.rss_mib,
        );
    }
}

/// One admin change in Okta and how to recognise its kafkaman write.
struct Change {
    email: String,
    scim_id: String,
    at: Instant,
}

/// Users whose member can be changed: entitled, assigned, member of the team. In a
/// fixed order so that each change set takes users no earlier one touched.
fn candidates(world: &SimWorld) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = world
        .kafkaman
        .members()
        .into_iter()
        .filter(|m| m.external_id.is_some() && m.active)
        .map(|m| (m.external_id.unwrap_or_default(), m.user_name))
        .collect();
    out.sort();
    out
}

/// Change number `n` of the whole bench on `user`: one in ten a suspension (at most
/// one per ten changes, so a cycle stays under the default deactivation cap of 10),
/// the others a new firstName.
fn make_change(world: &SimWorld, n: usize, okta_id: &str) {
    // Only ACTIVE users can be suspended (PASSWORD_EXPIRED and LOCKED_OUT are entitled
    // too): those get a new name instead.
    if !(n.is_multiple_of(10) && world.okta.suspend_user(okta_id).is_ok()) {
        let mut p = serde_json::Map::new();
        p.insert("firstName".into(), format!("Renamed{n}").into());
        world.okta.update_profile(okta_id, p).expect("rename");
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn main() {
    let users: usize = std::env::var("BENCH_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let parts = std::env::var("BENCH_PARTS").unwrap_or_else(|_| "full,quiet,changes,lag".into());
    let part = |p: &str| parts.split(',').any(|x| x.trim() == p);
    let lag_samples: usize = std::env::var("BENCH_LAG_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let lag_spread: u64 = std::env::var("BENCH_LAG_SPREAD_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(240);
    let bin = binary();
    println!("binary: {}", bin.display());

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let t = Instant::now();
    let mut scenario = generate::generate(users, 1);
    generate::in_sync(&mut scenario);
    if std::env::var("BENCH_UNLIMITED").is_ok() {
        // For profiling memory only (heaptrack, `BENCH_BIN`): no figure in the README
        // comes from an unlimited run.
        scenario.okta.rate_limits.apps = 1_000_000;
        scenario.okta.rate_limits.users_list = 1_000_000;
        scenario.okta.rate_limits.logs = 1_000_000;
        scenario.okta.rate_limits.other = 1_000_000;
        scenario.kafkaman.rate_limit.requests = 1_000_000;
    }
    let world = rt
        .block_on(SimWorld::start(&scenario))
        .expect("simulators start");
    println!(
        "generate({users}) + in_sync + simulators ready: {:.2} s; {} Okta users, {} members, \
         default rate limits (Okta apps {}/min, kafkaman {}/min)",
        t.elapsed().as_secs_f64(),
        scenario.okta.users.len(),
        scenario.kafkaman.members.len(),
        scenario.okta.rate_limits.apps,
        scenario.kafkaman.rate_limit.requests,
    );
    drop(scenario);
    if std::env::var("BENCH_SAME_MODIFIED").is_err() {
        // Every member of the generated team was created at start-up with one
        // `meta.lastModified`, so "changed since kafkaman's newest time, minus 30 s" is
        // the whole team until something changes later. A real team's members were
        // changed over months: make one (unmanaged) member the newest, two minutes
        // after the others (kafkaman's clock stays two minutes ahead of Okta's).
        world
            .kafkaman
            .set_clock_offset(chrono::Duration::seconds(120));
        world
            .kafkaman
            .update_member(
                "unmanaged1@example.com",
                scim_sync_sim::kafkaman::MemberUpdate {
                    given_name: Some("Service (edited)".into()),
                    ..Default::default()
                },
            )
            .expect("an unmanaged member to touch");
        println!("one unmanaged member touched 2 min after the others (BENCH_SAME_MODIFIED unset)");
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.toml");
    let db = dir.path().join("state.db");
    process::write_config(&world, &config, &db).expect("config");
    // The simulated servers run on this process's runtime threads; the children are
    // waited for on this (main) thread.
    let mut runs = Vec::new();
    if part("full") || part("quiet") || part("changes") || part("lag") {
        runs.push(cycle(&world, &config, &db, "full (--full)", true));
        println!(
            "{} done in {:.1} s",
            runs[0].label,
            runs[0].wall.as_secs_f64()
        );
    }
    if part("full") {
        // The daily full cycle: on an existing snapshot, after incremental cycles.
        runs.push(cycle(
            &world,
            &config,
            &db,
            "full again (--full, on the snapshot)",
            true,
        ));
    }
    if part("quiet") {
        for label in ["no change (1st incremental)", "no change (2nd incremental)"] {
            runs.push(cycle(&world, &config, &db, label, false));
        }
    }
    let pool = candidates(&world);
    let mut next = 0usize;
    let mut changes_made = 0usize;
    if part("changes") {
        // The first cycle with a change after a first sync plans the whole snapshot
        // (that sync linked everyone: too many touched to leave a plan basis); the
        // next ones plan only the people their changes reach.
        for k in [1usize, 1, 10, 100] {
            for _ in 0..k {
                let (id, _) = &pool[next];
                make_change(&world, changes_made, id);
                next += 1;
                changes_made += 1;
            }
            runs.push(cycle(
                &world,
                &config,
                &db,
                &format!("{k} change(s)"),
                false,
            ));
        }
    }
    print_table(users, &runs);

    if part("lag") {
        // Okta's System Log is eventually consistent: events of a change are served a
        // few seconds after it (the simulator's default is none).
        let log_delay_ms: u64 = std::env::var("BENCH_LOG_DELAY_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3000);
        world
            .okta
            .set_log_delay(Duration::from_millis(log_delay_ms));
        println!("\nSystem Log delay for the lag: {log_delay_ms} ms");
        // Each interval's daemon gets changes of its own (fresh people from the pool).
        let intervals =
            std::env::var("BENCH_LAG_INTERVALS").unwrap_or_else(|_| "default,60".into());
        for interval in intervals.split(',').map(str::trim) {
            let interval = (interval != "default").then(|| {
                interval
                    .parse::<u64>()
                    .expect("BENCH_LAG_INTERVALS: seconds or \"default\"")
            });
            daemon_lag(
                &world,
                &config,
                &db,
                &pool[next..next + lag_samples],
                changes_made,
                lag_samples,
                lag_spread,
                interval,
            );
            next += lag_samples;
            changes_made += lag_samples;
        }
    }
    world.shutdown();
}

#[allow(clippy::too_many_arguments)]
fn daemon_lag(
    world: &SimWorld,
    config: &Path,
    db: &Path,
    pool: &[(String, String)],
    first_change: usize,
    samples: usize,
    spread_secs: u64,
    interval_secs: Option<u64>,
) {
    let mut text = std::fs::read_to_string(config).expect("config");
    text.push_str("\n[daemon]\nschedule = \"0 0 1 1 *\"\nrun_at_start = true\nallow_root = true\n");
    // None: the product's default interval.
    if let Some(secs) = interval_secs {
        text.push_str(&format!("incremental_interval_secs = {secs}\n"));
    }
    let interval = interval_secs.map_or("default".to_string(), |s| format!("{s} s"));
    let daemon_config = config.with_file_name("daemon.toml");
    std::fs::write(&daemon_config, text).expect("daemon config");
    let log = std::fs::File::create(config.with_file_name("daemon.log")).expect("log");
    let runs_before = ended_runs(db);
    // Reaped by `wait_child` (wait4) after SIGTERM; its peak RSS is watched in /proc.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(binary())
        .arg("--config")
        .arg(&daemon_config)
        .arg("daemon")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("daemon starts");
    let pid = child.id();
    let peak = watch_peak_rss(pid);
    let started = Instant::now();
    while ended_runs(db) == runs_before {
        assert!(
            started.elapsed() < Duration::from_secs(1800),
            "the daemon's first cycle did not end"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    println!(
        "\ndaemon (incremental interval: {interval}): first cycle ended after {:.1} s; {samples} changes, one every {:.1} s",
        started.elapsed().as_secs_f64(),
        spread_secs as f64 / samples as f64
    );
    let gap = Duration::from_secs_f64(spread_secs as f64 / samples as f64);
    let mut pending: Vec<Change> = Vec::new();
    let mut lags: Vec<f64> = Vec::new();
    let mut seq = world.kafkaman.log().last_seq();
    let mut writes_by_id: HashMap<String, Instant> = HashMap::new();
    let mut made = 0usize;
    let mut next_change = Instant::now();
    let deadline_after_last = Duration::from_secs(300);
    let mut last_change_at = Instant::now();
    loop {
        if made < samples && Instant::now() >= next_change {
            let (id, email) = &pool[made];
            let scim_id = world
                .kafkaman
                .member(email)
                .map(|m| m.id)
                .expect("member exists");
            make_change(world, first_change + made, id);
            let at = Instant::now();
            pending.push(Change {
                email: email.clone(),
                scim_id,
                at,
            });
            last_change_at = at;
            made += 1;
            next_change += gap;
        }
        for r in world.kafkaman.log().since(seq) {
            seq = r.seq;
            if r.is_write() {
                let id = r.path.rsplit('/').next().unwrap_or_default().to_string();
                writes_by_id.entry(id).or_insert_with(Instant::now);
            }
        }
        pending.retain(|c| match writes_by_id.get(&c.scim_id) {
            Some(w) => {
                lags.push(w.duration_since(c.at).as_secs_f64());
                false
            }
            None => true,
        });
        if made == samples && pending.is_empty() {
            break;
        }
        if made == samples && last_change_at.elapsed() > deadline_after_last {
            println!(
                "{} change(s) not written {} s after the last change: {:?}",
                pending.len(),
                deadline_after_last.as_secs(),
                pending.iter().map(|c| &c.email).collect::<Vec<_>>()
            );
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // SAFETY: `pid` is our running child; SIGTERM asks the daemon to stop.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    let (exit, cpu) = wait_child(pid);
    let rss = peak.join().expect("the RSS watcher");
    let mut sorted = lags.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "daemon lag (interval {interval}; admin change in Okta -> kafkaman write), {} samples: p50 {:.1} s, \
         p95 {:.1} s, max {:.1} s (daemon exit {exit}, peak RSS {rss:.1} MiB, CPU {:.2} s, {} runs)",
        sorted.len(),
        percentile(&sorted, 50.0),
        percentile(&sorted, 95.0),
        sorted.last().copied().unwrap_or(f64::NAN),
        cpu.as_secs_f64(),
        ended_runs(db) - runs_before,
    );
    println!(
        "lags: {}",
        lags.iter()
            .map(|l| format!("{l:.1}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
}
