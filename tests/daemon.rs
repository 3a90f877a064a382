//! `scim-sync daemon` as a service runs it: the real binary against the simulators, with
//! a seconds schedule, signals, `/healthz` and `/metrics`.

use crate::common;

use std::collections::BTreeMap;
use std::io::BufRead;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Env;
use scim_sync::store::{CycleKind, OpState, RunRecord};
use scim_sync_plan::OpKind;
use scim_sync_sim::generate::{self, builtin_ids as b};
use scim_sync_sim::{FaultKind, FaultSpec};
use serde_json::Value;

/// A cap that lets the builtin org's expected deactivations through.
const ROOMY: &[(&str, &str)] = &[
    ("safety", "max_deactivations = 50"),
    ("safety", "max_deactivations_percent = 100"),
];

const EVERY_SECOND: &str = "*/1 * * * * *";
/// Once a year: with `run_at_start`, exactly one cycle during a test.
const YEARLY: &str = "0 0 0 1 1 *";

/// Starts the simulators and writes a daemon config: `schedule`, a health listener on an
/// ephemeral port, and root allowed (tests may run as root in containers).
async fn env_with(schedule: &str, extra: &[(&str, &str)]) -> Env {
    let mut settings: Vec<(&str, &str)> = ROOMY.to_vec();
    let schedule_line = format!("schedule = \"{schedule}\"");
    settings.push(("daemon", "listen = \"127.0.0.1:0\""));
    settings.push(("daemon", "allow_root = true"));
    settings.extend_from_slice(extra);
    let env = Env::start(&generate::builtin(), &settings).await;
    env.set("daemon", &schedule_line);
    env
}

/// The daemon process, its JSON log lines collected as they come.
struct Daemon {
    child: Child,
    logs: Arc<Mutex<Vec<Value>>>,
}

impl Daemon {
    fn spawn(env: &Env) -> Daemon {
        Self::spawn_with(env, &[])
    }

    fn spawn_with(env: &Env, vars: &[(&str, &str)]) -> Daemon {
        Self::spawn_command(Self::command(env, vars))
    }

    /// `scim-sync daemon` on `env`'s config with JSON logs, plus `vars`.
    fn command(env: &Env, vars: &[(&str, &str)]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_scim-sync"));
        command
            .arg("daemon")
            .arg("--config")
            .arg(&env.config_path)
            .args(["--log-format", "json"])
            .env("SCIM_SYNC_LOG", "info")
            .env_remove("JOURNAL_STREAM")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .envs(vars.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        command
    }

    fn spawn_command(mut command: Command) -> Daemon {
        let mut child = command.spawn().expect("daemon starts");
        let stderr = child.stderr.take().expect("stderr piped");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let value = serde_json::from_str(&line).unwrap_or(Value::String(line));
                sink.lock().unwrap().push(value);
            }
        });
        Daemon { child, logs }
    }

    fn logs(&self) -> Vec<Value> {
        self.logs.lock().unwrap().clone()
    }

    fn messages(&self, text: &str) -> Vec<Value> {
        self.logs()
            .into_iter()
            .filter(|l| l["message"].as_str().is_some_and(|m| m.contains(text)))
            .collect()
    }

    /// Waits for at least `n` log lines whose message contains `text` (a run is in the
    /// database a moment before its summary line is logged).
    async fn wait_logs(&self, text: &str, n: usize, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let found = self.messages(text);
            if found.len() >= n || Instant::now() >= deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits for a log line whose message contains `text`.
    async fn wait_log(&self, text: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = self.messages(text).pop() {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "no log line {text:?} within {timeout:?}; logs: {:#?}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The base URL of `/healthz` and `/metrics`.
    async fn base_url(&self) -> String {
        let line = self
            .wait_log("serving /healthz and /metrics", Duration::from_secs(10))
            .await;
        format!("http://{}", line["listen"].as_str().expect("listen field"))
    }

    fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill with a valid pid of our own child and a valid signal number.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, sig) };
        assert_eq!(rc, 0, "kill failed");
    }

    async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the daemon did not exit within {timeout:?}; logs: {:#?}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// SIGTERM, and the exit status.
    async fn stop(&mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        self.wait_exit(Duration::from_secs(15)).await
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Finished apply runs, oldest first.
fn finished_runs(env: &Env) -> Vec<RunRecord> {
    let mut runs: Vec<RunRecord> = env
        .store
        .runs(1000)
        .unwrap()
        .into_iter()
        .filter(|r| r.ended_at.is_some())
        .collect();
    runs.reverse();
    runs
}

async fn wait_runs(env: &Env, daemon: &Daemon, n: usize, timeout: Duration) -> Vec<RunRecord> {
    let deadline = Instant::now() + timeout;
    loop {
        let runs = finished_runs(env);
        if runs.len() >= n {
            return runs;
        }
        assert!(
            Instant::now() < deadline,
            "only {} runs finished within {timeout:?}: {runs:#?}\nlogs: {:#?}",
            runs.len(),
            daemon.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn get(url: &str) -> (u16, String) {
    let resp = reqwest::get(url).await.expect("request");
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

async fn healthz(base: &str) -> (u16, Value) {
    let (status, body) = get(&format!("{base}/healthz")).await;
    (status, serde_json::from_str(&body).expect("healthz JSON"))
}

fn set_schedule(env: &Env, schedule: &str) {
    let text = std::fs::read_to_string(&env.config_path).unwrap();
    let text: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with("schedule = ") {
                format!("schedule = \"{schedule}\"")
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(&env.config_path, text.join("\n") + "\n").unwrap();
}

#[tokio::test]
async fn runs_cycles_on_schedule_and_skips_a_tick_during_a_cycle() {
    let env = env_with(EVERY_SECOND, &[]).await;
    // The first listing of the team is slow: the cycle started at launch outlasts the
    // next scheduled seconds. The first of them waits for it (a full cycle due during
    // another starts right after it); the later ones are skipped.
    env.world.kafkaman.faults().arm(FaultSpec {
        route: "/scim/v2/Users".into(),
        method: Some("GET".into()),
        kind: FaultKind::Latency { ms: 3500 },
        count: 1,
        after: 0,
    });
    // A config everyone may read earns a warning.
    std::fs::set_permissions(
        &env.config_path,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let mut daemon = Daemon::spawn(&env);
    let runs = wait_runs(&env, &daemon, 4, Duration::from_secs(20)).await;
    daemon
        .wait_log(
            "the full cycle starts when the running cycle ends",
            Duration::from_secs(1),
        )
        .await;

    let warning = daemon
        .wait_log("accessible to every user", Duration::from_secs(1))
        .await;
    assert_eq!(
        warning["file"].as_str(),
        Some(env.config_path.to_str().unwrap())
    );
    let skipped = daemon
        .wait_log("skipping the scheduled run", Duration::from_secs(1))
        .await;
    assert_eq!(skipped["level"], "WARN");

    assert_eq!(runs[0].trigger.as_str(), "startup");
    assert!(
        runs[1..].iter().all(|r| r.trigger.as_str() == "schedule"),
        "{runs:#?}"
    );
    // A scheduled full cycle says so (not "requested", which is a person's --full).
    assert!(
        runs[1..].iter().all(|r| r
            .summary
            .as_ref()
            .and_then(|s| s.full_reason)
            .map(|f| f.as_str())
            == Some("scheduled")),
        "{runs:#?}"
    );
    assert!(
        runs.iter()
            .all(|r| r.result.map(|r| r.as_str()) == Some("success")),
        "{runs:#?}"
    );
    // Never two cycles at once.
    for pair in runs.windows(2) {
        let ended = pair[0].ended_at.as_deref().unwrap();
        assert!(
            ended <= pair[1].started_at.as_str(),
            "runs overlap: {pair:#?}"
        );
    }
    // Each cycle ends with one summary line: counts, result, duration.
    let summaries = daemon
        .wait_logs("cycle finished", 4, Duration::from_secs(5))
        .await;
    assert!(summaries.len() >= 4, "{summaries:#?}");
    for s in &summaries {
        assert_eq!(s["result"], "success");
        assert!(s["duration_ms"].is_u64() && s["created"].is_u64(), "{s}");
    }

    let status = daemon.stop().await;
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn sighup_reloads_the_config_and_keeps_it_when_the_new_one_is_invalid() {
    let env = env_with(YEARLY, &[]).await;
    let mut daemon = Daemon::spawn(&env);
    let base = daemon.base_url().await;
    wait_runs(&env, &daemon, 1, Duration::from_secs(10)).await;
    let (_, health) = healthz(&base).await;
    assert_eq!(health["schedule"], YEARLY);

    // A new schedule takes effect on SIGHUP: cycles now come every second.
    set_schedule(&env, EVERY_SECOND);
    daemon.signal(libc::SIGHUP);
    let reloaded = daemon
        .wait_log("configuration reloaded", Duration::from_secs(5))
        .await;
    assert_eq!(reloaded["schedule"], EVERY_SECOND);
    wait_runs(&env, &daemon, 3, Duration::from_secs(6)).await;
    let (_, health) = healthz(&base).await;
    assert_eq!(health["schedule"], EVERY_SECOND);

    // An invalid file is refused with the reason; the running config stays.
    std::fs::write(
        &env.config_path,
        std::fs::read_to_string(&env.config_path)
            .unwrap()
            .replace(EVERY_SECOND, "0 61 * * *"),
    )
    .unwrap();
    daemon.signal(libc::SIGHUP);
    let refused = daemon
        .wait_log("keeping the one in use", Duration::from_secs(5))
        .await;
    let reason = refused["reason"].as_str().unwrap();
    assert!(
        reason.contains("hour") && reason.contains("column 3"),
        "{reason}"
    );
    let before = finished_runs(&env).len();
    wait_runs(&env, &daemon, before + 2, Duration::from_secs(6)).await;
    let (_, health) = healthz(&base).await;
    assert_eq!(health["schedule"], EVERY_SECOND);

    // Broken TOML too.
    std::fs::write(&env.config_path, "[okta\norg_url = ").unwrap();
    let count = daemon.messages("keeping the one in use").len();
    daemon.signal(libc::SIGHUP);
    let deadline = Instant::now() + Duration::from_secs(5);
    while daemon.messages("keeping the one in use").len() == count {
        assert!(Instant::now() < deadline, "{:#?}", daemon.logs());
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let before = finished_runs(&env).len();
    wait_runs(&env, &daemon, before + 1, Duration::from_secs(6)).await;

    assert!(daemon.stop().await.success());
}

#[tokio::test]
async fn sigterm_mid_cycle_exits_0_with_every_started_operation_recorded() {
    let env = env_with(YEARLY, &[]).await;
    // Each create takes 800 ms: the cycle is mid-flight for seconds.
    env.world.kafkaman.faults().arm(FaultSpec {
        route: "/scim/v2/Users".into(),
        method: Some("POST".into()),
        kind: FaultKind::Latency { ms: 800 },
        count: 1000,
        after: 0,
    });
    let mut daemon = Daemon::spawn(&env);
    // Wait until creates are in flight.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !env
        .store
        .unfinished_operations()
        .unwrap()
        .iter()
        .any(|o| o.kind == OpKind::Create)
    {
        assert!(Instant::now() < deadline, "{:#?}", daemon.logs());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let signalled = Instant::now();
    let status = daemon.stop().await;
    let took = signalled.elapsed();
    assert_eq!(status.code(), Some(0), "{:#?}", daemon.logs());
    // In-flight creates needed up to 800 ms more; far below the 30 s bound.
    assert!(took < Duration::from_secs(5), "{took:?}");

    let runs = finished_runs(&env);
    let last = runs.last().expect("a run");
    assert_eq!(
        last.result.map(|r| r.as_str()),
        Some("interrupted"),
        "{last:#?}"
    );
    assert!(env.store.unfinished_operations().unwrap().is_empty());
    // Every create kafkaman received is recorded as done; none is lost, and the
    // shutdown left some of the plan unstarted.
    let received = env
        .world
        .kafkaman
        .log()
        .all()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/scim/v2/Users" && r.status == 201)
        .count();
    let done = env
        .store
        .count_operations(OpKind::Create, OpState::Done)
        .unwrap() as usize;
    assert!(received > 0);
    assert_eq!(received, done);
    let planned_creates = env
        .store
        .plan_items(last.id)
        .unwrap()
        .into_iter()
        .filter(|i| i.kind == Some(OpKind::Create))
        .count();
    assert!(done < planned_creates, "{done} of {planned_creates}");
    assert!(!daemon.messages("shutting down").is_empty());
}

#[tokio::test]
async fn healthz_turns_503_while_okta_is_unreachable_and_200_after() {
    let env = env_with(
        EVERY_SECOND,
        &[
            ("daemon", "healthy_within_intervals = 2"),
            ("okta", "max_retries = 0"),
        ],
    )
    .await;
    let mut daemon = Daemon::spawn(&env);
    let base = daemon.base_url().await;
    wait_runs(&env, &daemon, 1, Duration::from_secs(10)).await;
    let (code, body) = healthz(&base).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"], "ok");
    assert!(body["next_run"].is_string() && body["last_success"]["id"].is_i64());

    // Okta answers nothing but 503s.
    env.world.okta.faults().arm(FaultSpec {
        route: "/**".into(),
        method: None,
        kind: FaultKind::Status { status: 503 },
        count: 100_000,
        after: 0,
    });
    let outage = Instant::now();
    let mut saw_degraded = false;
    let body = loop {
        let (code, body) = healthz(&base).await;
        if code == 503 {
            break body;
        }
        saw_degraded |= body["status"] == "degraded";
        assert!(outage.elapsed() < Duration::from_secs(10), "{body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // One failed cycle is tolerated; the allowed two intervals are not exceeded.
    assert!(saw_degraded, "went straight to 503");
    // Measured from the last success (not from the outage, which a slow machine may
    // start late): 503 comes no sooner than the two allowed intervals after it.
    let last_success: chrono::DateTime<chrono::Utc> = body["last_success"]["started_at"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("last_success.started_at");
    assert!(
        chrono::Utc::now() - last_success >= chrono::Duration::seconds(2),
        "503 within two intervals of the last success: {body}"
    );
    assert_eq!(body["healthy"], false);
    assert_eq!(body["status"], "unhealthy");
    assert_eq!(body["last_run"]["result"], "failed");
    assert!(body["last_success"]["id"].is_i64());

    // Okta is back: the next cycle succeeds and health with it.
    env.world.okta.faults().clear();
    let back = Instant::now();
    loop {
        let (code, body) = healthz(&base).await;
        if code == 200 {
            assert_eq!(body["status"], "ok");
            break;
        }
        assert!(back.elapsed() < Duration::from_secs(6), "{body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(daemon.stop().await.success());
}

/// The daemon's descriptor limit in the starvation test: far below the idle connections
/// opened against it, as systemd's default 1,024 was below the 1,100 of the report.
const LOW_NOFILE: libc::rlim_t = 256;
/// Idle connections opened against the listener: many more than [`LOW_NOFILE`].
const IDLE_CONNECTIONS: usize = 400;

/// Reads until the server closes the connection: the bytes it sent, or the error.
async fn read_until_closed(stream: &mut tokio::net::TcpStream) -> std::io::Result<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut received = Vec::new();
    stream.read_to_end(&mut received).await?;
    Ok(received)
}

#[tokio::test]
async fn idle_connections_past_the_descriptor_limit_starve_neither_cycles_nor_healthz() {
    use std::os::unix::process::CommandExt;

    let env = env_with(EVERY_SECOND, &[]).await;
    let mut command = Daemon::command(&env, &[]);
    // SAFETY: runs in the forked child before exec; setrlimit is async-signal-safe and
    // the closure allocates nothing.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: LOW_NOFILE,
                rlim_max: LOW_NOFILE,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    let mut daemon = Daemon::spawn_command(command);
    let base = daemon.base_url().await;
    wait_runs(&env, &daemon, 1, Duration::from_secs(10)).await;

    // Connections that never send a byte, kept open on this side for the whole test.
    // A listener that stops accepting leaves connects hanging once its backlog (128) is
    // full: stop there, the cycles are what this test is about (counted at the end).
    let addr = base.trim_start_matches("http://").to_string();
    let mut idle = Vec::with_capacity(IDLE_CONNECTIONS);
    while idle.len() < IDLE_CONNECTIONS {
        let connect = tokio::net::TcpStream::connect(&addr);
        match tokio::time::timeout(Duration::from_secs(10), connect).await {
            Ok(stream) => idle.push(stream.expect("connect")),
            Err(_) => break,
        }
    }

    // (a) The cycles after the flood still succeed (the one running during it too).
    let before = finished_runs(&env).len();
    let runs = wait_runs(&env, &daemon, before + 3, Duration::from_secs(20)).await;
    let since_flood = &runs[before..];
    assert!(
        since_flood
            .iter()
            .all(|r| r.result.map(|r| r.as_str()) == Some("success")),
        "cycles failed while idle connections were open: {since_flood:#?}"
    );

    // (b) A fresh client gets its answer. While the cap is taken by idle connections a
    // new one is closed at once, so it retries; slots free within the header timeout.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let asked = Instant::now();
    loop {
        match client.get(format!("{base}/healthz")).send().await {
            Ok(resp) => {
                assert_eq!(resp.status().as_u16(), 200, "{:?}", resp.text().await);
                break;
            }
            Err(e) => {
                assert!(
                    asked.elapsed() < Duration::from_secs(15),
                    "no /healthz answer within 15 s: {e}; logs: {:#?}",
                    daemon.logs()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    // The cap was what turned the flood away, and the server closed every idle
    // connection: past the cap at once, within the cap after the header timeout.
    let capped = daemon
        .wait_log("at its connection cap", Duration::from_secs(1))
        .await;
    assert_eq!(capped["level"], "WARN", "{capped}");
    assert_eq!(
        idle.len(),
        IDLE_CONNECTIONS,
        "the listener stopped accepting"
    );
    tokio::time::timeout(Duration::from_secs(15), async {
        for stream in &mut idle {
            if let Ok(bytes) = read_until_closed(stream).await {
                assert!(bytes.is_empty(), "{}", String::from_utf8_lossy(&bytes));
            }
        }
    })
    .await
    .expect("the server closes idle connections");

    assert!(daemon.stop().await.success());
}

#[tokio::test]
async fn the_listener_closes_connections_without_a_request_after_the_header_timeout() {
    use tokio::io::AsyncWriteExt;

    let env = env_with(YEARLY, &[]).await;
    let mut daemon = Daemon::spawn(&env);
    let base = daemon.base_url().await;
    let addr = base.trim_start_matches("http://").to_string();

    // Each connection's bytes before the server closes it, and how long that took.
    let closed_after = |sent: &'static str| {
        let addr = addr.clone();
        async move {
            let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
            let opened = Instant::now();
            stream.write_all(sent.as_bytes()).await.unwrap();
            let received =
                tokio::time::timeout(Duration::from_secs(15), read_until_closed(&mut stream))
                    .await
                    .unwrap_or_else(|_| panic!("{sent:?}: not closed within 15 s"))
                    .unwrap_or_else(|e| panic!("{sent:?}: {e}"));
            (
                String::from_utf8_lossy(&received).into_owned(),
                opened.elapsed(),
            )
        }
    };
    let (silent, partial, kept_alive) = tokio::join!(
        // Nothing at all.
        closed_after(""),
        // Headers begun, never finished.
        closed_after("GET /healthz HTTP/1.1\r\nHost: scim-sync\r\n"),
        // One request answered, then nothing on the kept-alive connection: the header
        // timeout is the idle timeout too.
        closed_after("GET /healthz HTTP/1.1\r\nHost: scim-sync\r\n\r\n"),
    );
    assert_eq!(silent.0, "", "closed without an answer");
    assert_eq!(partial.0, "", "closed without an answer");
    assert!(kept_alive.0.starts_with("HTTP/1.1 "), "{}", kept_alive.0);
    assert!(
        !kept_alive
            .0
            .to_ascii_lowercase()
            .contains("connection: close"),
        "{}",
        kept_alive.0
    );
    // Closed by the 5 s timeout (a timer never fires early), not refused at accept.
    for (what, elapsed) in [
        ("silent", silent.1),
        ("partial", partial.1),
        ("kept alive", kept_alive.1),
    ] {
        assert!(elapsed >= Duration::from_secs(4), "{what}: {elapsed:?}");
    }
    assert!(daemon.stop().await.success());
}

/// Prometheus text format, checked line by line: `(name, labels) -> value`.
fn parse_prometheus(text: &str) -> BTreeMap<(String, BTreeMap<String, String>), f64> {
    let mut out = BTreeMap::new();
    let mut typed = BTreeMap::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let kind = parts.next().unwrap();
            let name = parts.next().expect("metric name in comment");
            assert!(valid_name(name), "{line}");
            if kind == "TYPE" {
                let t = parts.next().expect("type");
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&t),
                    "{line}"
                );
                typed.insert(name.to_string(), t.to_string());
            } else {
                assert_eq!(kind, "HELP", "{line}");
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("series and value");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("value in {line:?}"));
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').expect("closing brace");
                let mut labels = BTreeMap::new();
                for pair in body.split(',').filter(|p| !p.is_empty()) {
                    let (k, v) = pair.split_once('=').expect("label=value");
                    assert!(valid_name(k), "{line}");
                    let v = v
                        .strip_prefix('"')
                        .and_then(|v| v.strip_suffix('"'))
                        .expect("quoted label value");
                    labels.insert(k.to_string(), v.to_string());
                }
                (name, labels)
            }
            None => (series, BTreeMap::new()),
        };
        assert!(valid_name(name), "{line}");
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .filter(|f| typed.contains_key(*f))
            .unwrap_or(name);
        assert!(typed.contains_key(family), "no TYPE before {line:?}");
        out.insert((name.to_string(), labels), value);
    }
    out
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn sum(
    metrics: &BTreeMap<(String, BTreeMap<String, String>), f64>,
    name: &str,
    filter: &[(&str, &str)],
) -> f64 {
    metrics
        .iter()
        .filter(|((n, labels), _)| {
            n == name
                && filter
                    .iter()
                    .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, v)| *v)
        .sum()
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_and_match_the_simulators() {
    let env = env_with(YEARLY, &[]).await;
    let mut daemon = Daemon::spawn(&env);
    let base = daemon.base_url().await;
    let runs = wait_runs(&env, &daemon, 1, Duration::from_secs(10)).await;
    assert_eq!(runs[0].result.map(|r| r.as_str()), Some("success"));

    let (code, text) = get(&format!("{base}/metrics")).await;
    assert_eq!(code, 200);
    let m = parse_prometheus(&text);

    // Which build runs: one series, 1, labelled as `--version` says.
    let build: Vec<_> = m
        .iter()
        .filter(|((n, _), _)| n == "scim_sync_build_info")
        .collect();
    assert_eq!(build.len(), 1, "{text}");
    let ((_, labels), value) = build[0];
    assert_eq!(*value, 1.0);
    assert_eq!(labels["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        format!(
            "scim-sync {} (commit {}, built {})",
            labels["version"], labels["commit"], labels["build_date"]
        ),
        version_line(),
        "{text}"
    );

    // Requests by API match what each simulator served, and by status too.
    let okta_log = env.world.okta.log().all();
    let km_log = env.world.kafkaman.log().all();
    assert_eq!(
        sum(&m, "scim_sync_api_requests_total", &[("api", "okta")]),
        okta_log.len() as f64,
        "{text}"
    );
    assert_eq!(
        sum(&m, "scim_sync_api_requests_total", &[("api", "kafkaman")]),
        km_log.len() as f64,
        "{text}"
    );
    let km_201 = km_log.iter().filter(|r| r.status == 201).count();
    assert_eq!(
        sum(
            &m,
            "scim_sync_api_requests_total",
            &[("api", "kafkaman"), ("status", "201")]
        ),
        km_201 as f64
    );

    // Operations by kind and outcome match the history and kafkaman's writes.
    let creates = env
        .store
        .count_operations(OpKind::Create, OpState::Done)
        .unwrap();
    assert!(creates > 0);
    assert_eq!(
        sum(
            &m,
            "scim_sync_operations_total",
            &[("kind", "create"), ("outcome", "done")]
        ),
        creates as f64
    );
    let posts = km_log
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/scim/v2/Users")
        .count();
    assert_eq!(creates as usize, posts);
    let deactivations = env
        .store
        .count_operations(OpKind::Deactivate, OpState::Done)
        .unwrap();
    assert_eq!(
        sum(
            &m,
            "scim_sync_operations_total",
            &[("kind", "deactivate"), ("outcome", "done")]
        ),
        deactivations as f64
    );

    assert_eq!(
        sum(&m, "scim_sync_cycles_total", &[("result", "success")]),
        1.0
    );
    assert_eq!(sum(&m, "scim_sync_cycle_duration_seconds_count", &[]), 1.0);
    let summary = runs[0].summary.as_ref().unwrap();
    assert_eq!(
        sum(&m, "scim_sync_members", &[("state", "managed")]),
        summary.managed as f64
    );
    assert_eq!(
        sum(&m, "scim_sync_members", &[("state", "unmanaged")]),
        summary.unmanaged as f64
    );
    assert_eq!(
        sum(&m, "scim_sync_held_deactivations", &[]),
        summary.held as f64
    );
    let now = chrono::Utc::now().timestamp() as f64;
    let last_success = sum(&m, "scim_sync_last_success_timestamp_seconds", &[]);
    assert!((now - last_success).abs() < 30.0, "{last_success}");
    // Rate-limit gauges from the servers' headers.
    assert!(
        m.keys()
            .any(|(n, l)| n == "scim_sync_okta_rate_limit_remaining" && l.contains_key("bucket")),
        "{text}"
    );
    assert!(
        m.keys()
            .any(|(n, _)| n == "scim_sync_kafkaman_rate_limit_remaining"),
        "{text}"
    );
    assert!(daemon.stop().await.success());
}

/// What `scim-sync --version` prints.
fn version_line() -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_scim-sync"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .trim_end()
        .to_string()
}

#[tokio::test]
async fn the_index_page_names_the_version_and_the_endpoints() {
    let env = env_with(YEARLY, &[]).await;
    let mut daemon = Daemon::spawn(&env);
    let base = daemon.base_url().await;

    let resp = reqwest::get(format!("{base}/")).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let body = resp.text().await.unwrap();
    assert_eq!(body.lines().next(), Some(version_line().as_str()), "{body}");
    for endpoint in ["GET /healthz", "GET /metrics"] {
        assert!(body.contains(endpoint), "no {endpoint} in:\n{body}");
    }
    // The endpoints it names answer; anything else is still not found.
    assert_eq!(get(&format!("{base}/healthz")).await.0, 200);
    assert_eq!(get(&format!("{base}/metrics")).await.0, 200);
    assert_eq!(get(&format!("{base}/index.html")).await.0, 404);
    assert!(daemon.stop().await.success());
}

#[tokio::test]
async fn refuses_an_invalid_schedule_at_start_with_its_position() {
    let env = env_with("0 7 * * MON-FRU", &[]).await;
    let mut daemon = Daemon::spawn(&env);
    let status = daemon.wait_exit(Duration::from_secs(10)).await;
    assert_eq!(status.code(), Some(78));
    let line = daemon
        .wait_log("the daemon cannot run", Duration::from_secs(2))
        .await;
    let error = line["error"].as_str().unwrap();
    assert!(
        error.contains("column 9") && error.contains("day-of-week"),
        "{error}"
    );
    assert!(finished_runs(&env).is_empty());
}

#[tokio::test]
async fn refuses_to_run_as_root_unless_allowed() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: not running as root");
        return;
    }
    let env = env_with(YEARLY, &[]).await;
    let text = std::fs::read_to_string(&env.config_path)
        .unwrap()
        .replace("allow_root = true", "allow_root = false");
    std::fs::write(&env.config_path, text).unwrap();
    let mut daemon = Daemon::spawn(&env);
    let status = daemon.wait_exit(Duration::from_secs(10)).await;
    assert_eq!(status.code(), Some(78));
    let line = daemon
        .wait_log("the daemon cannot run", Duration::from_secs(2))
        .await;
    assert!(
        line["error"]
            .as_str()
            .unwrap()
            .contains("refusing to run as root")
    );
    assert!(finished_runs(&env).is_empty());
}

// Multi-threaded: the socket reads block a thread while the simulators keep serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tells_systemd_ready_status_watchdog_and_stopping() {
    let env = env_with(YEARLY, &[]).await;
    let socket_path = env.dir.path().join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut daemon = Daemon::spawn_with(
        &env,
        &[
            ("NOTIFY_SOCKET", socket_path.to_str().unwrap()),
            // WatchdogSec=0.4: pings every 200 ms.
            ("WATCHDOG_USEC", "400000"),
        ],
    );
    let mut messages: Vec<String> = Vec::new();
    let receive_until = |messages: &mut Vec<String>, want: &str, timeout: Duration| {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 4096];
        while !messages
            .iter()
            .any(|m| m.lines().any(|l| l.starts_with(want)))
        {
            assert!(Instant::now() < deadline, "no {want}: {messages:#?}");
            if let Ok(n) = socket.recv(&mut buf) {
                messages.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
    };
    receive_until(&mut messages, "READY=1", Duration::from_secs(10));
    wait_runs(&env, &daemon, 1, Duration::from_secs(10)).await;
    receive_until(&mut messages, "STATUS=last run #", Duration::from_secs(5));
    let watchdogs_before = messages.iter().filter(|m| m.contains("WATCHDOG=1")).count();
    receive_until(&mut messages, "WATCHDOG=1", Duration::from_secs(2));
    std::thread::sleep(Duration::from_millis(500));
    receive_until(&mut messages, "STATUS=", Duration::from_secs(1));
    let mut buf = [0u8; 4096];
    while let Ok(n) = socket.recv(&mut buf) {
        messages.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    let watchdogs = messages.iter().filter(|m| m.contains("WATCHDOG=1")).count();
    assert!(watchdogs >= watchdogs_before + 2, "{messages:#?}");
    let status = messages
        .iter()
        .rev()
        .find(|m| m.contains("STATUS=last run"))
        .unwrap();
    assert!(
        status.contains("success") && status.contains("next run"),
        "{status}"
    );

    daemon.signal(libc::SIGTERM);
    receive_until(&mut messages, "STOPPING=1", Duration::from_secs(5));
    assert!(daemon.wait_exit(Duration::from_secs(10)).await.success());
}

#[test]
fn unit_files_pass_systemd_analyze_verify() {
    // Not skipped when missing: a check that passes without running proves nothing.
    // `scripts/test` installs it (Debian's `systemd` package).
    let analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect(
            "systemd-analyze is not installed: install the `systemd` package (scripts/test does)",
        );
    let units = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd");
    let dir = tempfile::tempdir().unwrap();
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&units).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if !(name.ends_with(".service") || name.ends_with(".timer")) {
            continue;
        }
        // verify checks that ExecStart= exists: point it at the binary just built.
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("/usr/bin/scim-sync", env!("CARGO_BIN_EXE_scim-sync"));
        std::fs::write(dir.path().join(&name), text).unwrap();
        // A template is verified as an instance of it (its file is loaded for that).
        names.push(dir.path().join(name.replace("@.", "@acme.")));
    }
    names.sort();
    let file_names: Vec<_> = names.iter().map(|p| p.file_name().unwrap()).collect();
    assert_eq!(
        file_names,
        [
            "scim-sync-once.service",
            "scim-sync-once.timer",
            "scim-sync-once@acme.service",
            "scim-sync-once@acme.timer",
            "scim-sync-report.service",
            "scim-sync-report.timer",
            "scim-sync-report@acme.service",
            "scim-sync-report@acme.timer",
            "scim-sync.service",
            "scim-sync@acme.service",
        ]
    );
    // verify also runs `man` on each `Documentation=man:` page: give it the page the
    // binary prints (the package installs it; scripts/check-deb checks that one). Without
    // `man` on this host it would fail on every page, so that check is left to check-deb.
    let man_dir = dir.path().join("man");
    std::fs::create_dir_all(man_dir.join("man1")).unwrap();
    let page = Command::new(env!("CARGO_BIN_EXE_scim-sync"))
        .arg("man")
        .output()
        .unwrap();
    assert!(page.status.success());
    std::fs::write(man_dir.join("man1/scim-sync.1"), page.stdout).unwrap();
    let has_man = ["/usr/bin/man", "/bin/man"]
        .iter()
        .any(|p| std::path::Path::new(p).exists());
    let out = Command::new(analyze)
        .arg("verify")
        .args((!has_man).then_some("--man=no"))
        .args(&names)
        .env("MANPATH", &man_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn held_deactivations_are_degraded_warned_and_counted_every_cycle() {
    // A cap of 1: the builtin org's 2 deactivations are held, cycle after cycle.
    let env = Env::start(
        &generate::builtin(),
        &[
            ("safety", "max_deactivations = 1"),
            ("daemon", "listen = \"127.0.0.1:0\""),
            ("daemon", "allow_root = true"),
        ],
    )
    .await;
    env.set("daemon", &format!("schedule = \"{EVERY_SECOND}\""));
    let mut daemon = Daemon::spawn(&env);
    let base = daemon.base_url().await;
    wait_runs(&env, &daemon, 2, Duration::from_secs(15)).await;

    let (code, body) = healthz(&base).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["last_result"], "held", "{body}");
    assert_eq!(body["last_run"]["result"], "held", "{body}");
    assert_eq!(body["held"]["count"], 2, "{body}");
    assert!(body["held"]["since"].is_string(), "{body}");
    let reason = body["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("2 deactivation(s) held since"), "{reason}");
    assert!(!reason.contains("succeeded"), "{reason}");

    // A WARN line in every cycle, with the count.
    let warns = daemon.messages("deactivation(s) held by the safety cap");
    assert!(warns.len() >= 2, "{warns:?}");
    for w in &warns {
        let line = w.to_string();
        assert!(line.contains("WARN"), "{line}");
        assert!(line.contains("\"held\":2"), "{line}");
    }

    let (_, metrics) = get(&format!("{base}/metrics")).await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("scim_sync_held_deactivations ") && l.ends_with(" 2")),
        "{metrics}"
    );
    daemon.stop().await;
}

#[tokio::test]
async fn incremental_cycles_run_on_their_interval_beside_the_full_schedule() {
    // Full cycles daily (not during the test); incremental ones every 10 s.
    let env = Env::start(
        &generate::builtin(),
        &[
            ("daemon", "allow_root = true"),
            ("daemon", "incremental_interval_secs = 10"),
            ("daemon", "listen = \"127.0.0.1:0\""),
        ],
    )
    .await;
    env.set("daemon", "schedule = \"0 3 * * *\"");
    let mut daemon = Daemon::spawn(&env);
    let base = daemon.base_url().await;
    let first = wait_runs(&env, &daemon, 1, Duration::from_secs(20)).await;
    assert_eq!(first[0].kind, Some(CycleKind::Full));
    assert_eq!(first[0].trigger.as_str(), "startup");

    // An Okta change reaches kafkaman through the next incremental cycle.
    env.world.okta.suspend_user(b::ADA).unwrap();
    let runs = wait_runs(&env, &daemon, 2, Duration::from_secs(25)).await;
    let second = &runs[runs.len() - 1];
    assert_eq!(second.trigger.as_str(), "interval");
    assert_eq!(second.kind, Some(CycleKind::Incremental));
    assert!(!env.member(b::ADA_EMAIL).active);

    let (_, metrics) = get(&format!("{base}/metrics")).await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("scim_sync_cycles_by_kind_total")
                && l.contains("kind=\"incremental\"")),
        "{metrics}"
    );
    let (code, body) = healthz(&base).await;
    assert_eq!(code, 200, "{body}");
    daemon.stop().await;
}
