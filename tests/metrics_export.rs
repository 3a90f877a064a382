//! What an operator alerts on: `/metrics` of the daemon started against the simulators,
//! from its first scrape (every counter at 0) through its cycles (the last result, the
//! people needing attention, seats, Okta's buckets), README's metric table (every
//! exported metric, and only those) and the shipped alert rules (only exported metrics).

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Env;
use scim_sync::okta::Bucket;
use scim_sync::store::{CycleKind, OpState, RunMode, RunRecord, RunResult};
use scim_sync_plan::OpKind;
use scim_sync_sim::generate;
use serde_json::Value;

const EVERY_SECOND: &str = "*/1 * * * * *";
const YEARLY: &str = "0 0 0 1 1 *";
const RULES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/packaging/prometheus/scim-sync-alerts.yml"
);

/// `scim-sync daemon` on `env`'s config, its JSON log lines collected.
struct Daemon {
    child: Child,
    logs: Arc<Mutex<Vec<Value>>>,
}

impl Daemon {
    fn spawn(env: &Env) -> Daemon {
        let mut child = Command::new(env!("CARGO_BIN_EXE_scim-sync"))
            .arg("daemon")
            .arg("--config")
            .arg(&env.config_path)
            .args(["--log-format", "json"])
            .env("SCIM_SYNC_LOG", "info")
            .env_remove("JOURNAL_STREAM")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("daemon starts");
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

    /// `/metrics`' URL, once the daemon listens.
    async fn metrics_url(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let listen = self.logs.lock().unwrap().iter().find_map(|l| {
                let serving = l["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("serving /healthz and /metrics"));
                serving.then(|| l["listen"].as_str().map(str::to_string))?
            });
            if let Some(listen) = listen {
                return format!("http://{listen}/metrics");
            }
            assert!(
                Instant::now() < deadline,
                "the daemon does not listen: {:#?}",
                self.logs.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// SIGTERM, and a clean exit.
    async fn stop(mut self) {
        // SAFETY: kill with the pid of our own child and a valid signal number.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        assert_eq!(rc, 0);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                assert!(status.success(), "{status}");
                return;
            }
            assert!(Instant::now() < deadline, "the daemon did not stop");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
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

/// The daemon's config: a listener on an ephemeral port, `schedule`, and whether a
/// cycle runs at start.
fn configure(env: &Env, schedule: &str, run_at_start: bool) {
    let text = std::fs::read_to_string(&env.config_path).unwrap();
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("schedule = ") && !l.starts_with("run_at_start = "))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&env.config_path, text).unwrap();
    env.set("daemon", &format!("schedule = \"{schedule}\""));
    env.set("daemon", &format!("run_at_start = {run_at_start}"));
}

async fn start_env() -> Env {
    Env::start(
        &generate::builtin(),
        &[
            ("safety", "max_deactivations = 50"),
            ("safety", "max_deactivations_percent = 100"),
            ("daemon", "listen = \"127.0.0.1:0\""),
            ("daemon", "allow_root = true"),
            // Barbara Liskov's rename needs a person: one attention item.
            ("sync", "update_attributes = false"),
        ],
    )
    .await
}

type Series = BTreeMap<(String, BTreeMap<String, String>), f64>;

/// `/metrics` as (series → value), and the metric families its `# TYPE` lines name.
async fn scrape(url: &str) -> (Series, BTreeSet<String>, String) {
    let resp = reqwest::get(url).await.expect("scrape");
    assert_eq!(resp.status().as_u16(), 200);
    let text = resp.text().await.expect("body");
    let mut series = Series::new();
    let mut families = BTreeSet::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            families.insert(rest.split(' ').next().unwrap().to_string());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (name_labels, value) = line.rsplit_once(' ').expect("series and value");
        let (name, labels) = match name_labels.split_once('{') {
            Some((name, rest)) => {
                let labels = rest
                    .strip_suffix('}')
                    .unwrap()
                    .split(',')
                    .filter(|p| !p.is_empty())
                    .map(|p| {
                        let (k, v) = p.split_once('=').unwrap();
                        (k.to_string(), v.trim_matches('"').to_string())
                    })
                    .collect();
                (name, labels)
            }
            None => (name_labels, BTreeMap::new()),
        };
        series.insert((name.to_string(), labels), value.parse().unwrap());
    }
    (series, families, text)
}

fn value(series: &Series, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let labels: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    series.get(&(name.to_string(), labels)).copied()
}

/// Every counter, at 0 for each value its labels can take (the enums').
fn assert_counters_at_zero(series: &Series, text: &str) {
    for result in RunResult::ALL {
        let v = value(
            series,
            "scim_sync_cycles_total",
            &[("result", result.as_str())],
        );
        assert_eq!(v, Some(0.0), "cycles_total{{result={result}}} in {text}");
    }
    for kind in OpKind::ALL {
        for state in OpState::ALL.iter().filter(|s| **s != OpState::Intent) {
            let labels = [("kind", kind.as_str()), ("outcome", state.as_str())];
            let v = value(series, "scim_sync_operations_total", &labels);
            assert_eq!(v, Some(0.0), "operations_total{labels:?} in {text}");
        }
    }
    for kind in CycleKind::ALL {
        for mode in RunMode::ALL {
            let labels = [("kind", kind.as_str()), ("mode", mode.as_str())];
            let v = value(series, "scim_sync_cycles_by_kind_total", &labels);
            assert_eq!(v, Some(0.0), "cycles_by_kind_total{labels:?} in {text}");
        }
    }
    for api in ["okta", "kafkaman"] {
        for status in ["transport", "429", "503"] {
            let labels = [("api", api), ("status", status)];
            let v = value(series, "scim_sync_api_requests_total", &labels);
            assert_eq!(v, Some(0.0), "api_requests_total{labels:?} in {text}");
        }
    }
    for outcome in ["applied", "rejected"] {
        let v = value(
            series,
            "scim_sync_config_reloads_total",
            &[("outcome", outcome)],
        );
        assert_eq!(v, Some(0.0), "config_reloads_total{{{outcome}}} in {text}");
    }
    assert_eq!(
        value(series, "scim_sync_ticks_skipped_total", &[]),
        Some(0.0),
        "{text}"
    );
}

/// The last run result's one-hot gauge: `current` 1, every other result 0.
fn assert_last_result(series: &Series, current: Option<RunResult>, text: &str) {
    for result in RunResult::ALL {
        let expected = if Some(*result) == current { 1.0 } else { 0.0 };
        let v = value(
            series,
            "scim_sync_last_run_result",
            &[("result", result.as_str())],
        );
        assert_eq!(v, Some(expected), "last_run_result{{{result}}} in {text}");
    }
}

async fn wait_runs(env: &Env, n: usize) -> Vec<RunRecord> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut runs: Vec<RunRecord> = env
            .store
            .runs(100)
            .unwrap()
            .into_iter()
            .filter(|r| r.ended_at.is_some())
            .collect();
        if runs.len() >= n {
            runs.reverse();
            return runs;
        }
        assert!(Instant::now() < deadline, "only {} runs", runs.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The metric names in README's table of `/metrics`.
fn readme_metrics() -> BTreeSet<String> {
    let readme = include_str!("../README.md");
    let table = readme
        .split_once("| metric | type | labels | what it says |")
        .expect("README's metric table")
        .1;
    let mut names = BTreeSet::new();
    for line in table.lines().skip(1) {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if !line.starts_with('|') {
            break;
        }
        let first = line.split('|').nth(1).unwrap_or_default();
        names.extend(
            first
                .split('`')
                .filter(|t| t.starts_with("scim_sync_"))
                .map(str::to_string),
        );
    }
    names
}

/// Every metric name the alert rules' expressions use (recording rules, `scim_sync:…`,
/// are the file's own).
fn rules_metrics() -> BTreeSet<String> {
    let rules = std::fs::read_to_string(RULES).expect("the alert rules");
    let mut names = BTreeSet::new();
    for line in rules.lines() {
        let Some(expr) = line.trim().strip_prefix("expr:") else {
            continue;
        };
        let tokens = expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'));
        names.extend(
            tokens
                .filter(|t| t.starts_with("scim_sync_"))
                .map(str::to_string),
        );
    }
    assert!(names.len() >= 6, "{names:?}");
    names
}

#[tokio::test]
async fn counters_start_at_zero_and_the_last_result_survives_a_restart() {
    let env = start_env().await;
    // No cycle: what the first scrape of a fresh daemon says.
    configure(&env, YEARLY, false);
    let daemon = Daemon::spawn(&env);
    let (series, _, text) = scrape(&daemon.metrics_url().await).await;
    assert_counters_at_zero(&series, &text);
    assert_last_result(&series, None, &text);
    daemon.stop().await;

    // One cycle fails (kafkaman refuses the key): the counter moves from 0 to 1.
    let key_file = env.dir.path().join("kafkaman-api-key");
    let key = std::fs::read_to_string(&key_file).unwrap();
    std::fs::write(&key_file, "refused-key").unwrap();
    configure(&env, YEARLY, true);
    let daemon = Daemon::spawn(&env);
    let url = daemon.metrics_url().await;
    let runs = wait_runs(&env, 1).await;
    assert_eq!(runs[0].result, Some(RunResult::Failed), "{runs:?}");
    let (series, _, text) = scrape(&url).await;
    assert_eq!(
        value(&series, "scim_sync_cycles_total", &[("result", "failed")]),
        Some(1.0),
        "{text}"
    );
    assert_last_result(&series, Some(RunResult::Failed), &text);
    daemon.stop().await;

    // Restarted without a cycle: counters at 0 again (a new process), the last result
    // as the state database recorded it.
    std::fs::write(&key_file, key).unwrap();
    configure(&env, YEARLY, false);
    let daemon = Daemon::spawn(&env);
    let (series, _, text) = scrape(&daemon.metrics_url().await).await;
    assert_counters_at_zero(&series, &text);
    assert_last_result(&series, Some(RunResult::Failed), &text);
    daemon.stop().await;
}

#[tokio::test]
async fn cycles_export_what_to_alert_on_and_readme_and_the_rules_name_exactly_that() {
    let env = start_env().await;
    // The first cycle is full; the second, scheduled, counts the drift it missed.
    configure(&env, EVERY_SECOND, true);
    let daemon = Daemon::spawn(&env);
    let url = daemon.metrics_url().await;
    wait_runs(&env, 2).await;
    // The figures of the cycles whose end the scrape has seen.
    let (series, families, text) = scrape(&url).await;
    daemon.stop().await;
    let runs = wait_runs(&env, 2).await;
    let cycles: f64 = RunResult::ALL
        .iter()
        .filter_map(|r| value(&series, "scim_sync_cycles_total", &[("result", r.as_str())]))
        .sum();
    let last = &runs[cycles as usize - 1];
    let summary = last.summary.as_ref().expect("summary");

    assert_last_result(&series, last.result, &text);
    assert_eq!(
        value(&series, "scim_sync_needs_attention", &[]),
        Some(summary.attention as f64),
        "{text}"
    );
    assert_eq!(summary.attention, 1, "{summary:?}");
    let (seats_used, _total) = env.world.kafkaman.seats();
    assert_eq!(
        value(&series, "scim_sync_kafkaman_seats_used", &[]),
        Some(f64::from(seats_used)),
        "{text}"
    );
    // Each Okta bucket seen: its limit, what is left and what the org used.
    let buckets: Vec<&str> = Bucket::ALL.iter().map(|b| b.name()).collect();
    let mut seen = 0;
    for ((name, labels), remaining) in &series {
        if name != "scim_sync_okta_rate_limit_remaining" {
            continue;
        }
        let bucket = labels["bucket"].as_str();
        assert!(buckets.contains(&bucket), "{bucket}");
        let limit = value(
            &series,
            "scim_sync_okta_rate_limit_limit",
            &[("bucket", bucket)],
        )
        .unwrap_or_else(|| panic!("no limit for {bucket}: {text}"));
        let used = value(
            &series,
            "scim_sync_okta_rate_limit_used",
            &[("bucket", bucket)],
        );
        assert!(limit > 0.0 && *remaining <= limit, "{bucket}: {text}");
        assert_eq!(used, Some(limit - remaining), "{bucket}: {text}");
        seen += 1;
    }
    assert!(seen > 0, "{text}");
    assert!(!families.contains("scim_sync_held_actions"), "{text}");

    // README's table lists every exported metric, and only those.
    let readme = readme_metrics();
    let exported: BTreeSet<String> = families.into_iter().collect();
    let undocumented: Vec<_> = exported.difference(&readme).collect();
    assert!(
        undocumented.is_empty(),
        "not in README's table: {undocumented:?}"
    );
    let unexported: Vec<_> = readme.difference(&exported).collect();
    assert!(
        unexported.is_empty(),
        "in README's table, not exported: {unexported:?}"
    );
    let recorded: BTreeSet<String> = scim_sync::metrics::ALL
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(recorded, exported, "metrics::ALL and /metrics differ");

    // The alert rules name only metrics the daemon exports.
    let unknown: Vec<_> = rules_metrics()
        .into_iter()
        .filter(|n| !exported.contains(n))
        .collect();
    assert!(
        unknown.is_empty(),
        "the alert rules use unexported metrics: {unknown:?}"
    );
}
