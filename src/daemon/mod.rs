//! `scim-sync daemon`: runs the sync cycle on a cron schedule until stopped.
//!
//! The daemon adds no decision of its own: every cycle is [`sync::run_cycle`]. Around
//! it, the daemon keeps cycles from overlapping (a tick during a cycle is skipped and
//! logged), reloads its configuration on SIGHUP (keeping the old one when the new one is
//! invalid), stops on SIGTERM/SIGINT by letting the operations in flight finish and
//! recording the run as interrupted, talks to systemd (`Type=notify`), and serves
//! `/healthz` and `/metrics` when `[daemon] listen` is set.

pub mod control;
pub mod health;
mod metric_labels;
pub mod notify;
pub mod schedule;
pub mod schedule_cli;
pub mod server;
mod signals;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config, OktaAuth, SecretRef};
use crate::exit::Exit;
use crate::http::lock;
use crate::logging::LogFormat;
use crate::metrics;
use crate::store::Trigger;
use crate::store::{StateLock, Store, StoreError};
use crate::sync::{self, CycleOptions, SyncError};
use health::Status;
use notify::Notifier;
use schedule::{Schedule, ScheduleError, Zone, ZoneError};
use signals::Signals;

/// Longest single sleep of the scheduler loop: the wall clock is checked again at least
/// this often, so a clock change or a suspend doesn't leave it sleeping past a tick.
const MAX_SLEEP: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(
        "refusing to run as root: run the daemon as an unprivileged user (the systemd unit \
         does), or set `allow_root = true` in [daemon] if you must"
    )]
    Root,
    #[error("daemon.schedule: {0}")]
    Schedule(#[from] ScheduleError),
    #[error("daemon.time_zone: {0}")]
    Zone(#[from] ZoneError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secret(#[from] config::SecretError),
    #[error("cannot listen on {addr} for /healthz and /metrics: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot install signal handlers: {0}")]
    Signals(#[source] std::io::Error),
    #[error(transparent)]
    Control(#[from] control::ControlSocketError),
}

impl DaemonError {
    /// The process exit (README "Exit codes").
    pub fn exit_code(&self) -> Exit {
        match self {
            DaemonError::Root
            | DaemonError::Schedule(_)
            | DaemonError::Zone(_)
            | DaemonError::Control(_)
            | DaemonError::Secret(_) => Exit::Config,
            DaemonError::Store(StoreError::Locked { .. }) => Exit::Locked,
            DaemonError::Store(StoreError::NotOwner { .. }) => Exit::NoPermission,
            _ => Exit::Failed,
        }
    }
}

/// `scim-sync daemon`: loads the config, sets up logging from it (unless the command
/// line chose a format), runs until stopped. Exit 0 on a clean stop.
pub async fn cli_main(
    config_path: Option<PathBuf>,
    log_format: LogFormat,
) -> std::process::ExitCode {
    use std::process::ExitCode;
    let path = config_path.unwrap_or_else(config::default_path);
    let cfg = match config::load(&path) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("scim-sync: {e}");
            return ExitCode::from(Exit::Config);
        }
    };
    let format = match (log_format, cfg.logging.format) {
        (LogFormat::Auto, config::LogFormat::Text) => LogFormat::Text,
        (LogFormat::Auto, config::LogFormat::Json) => LogFormat::Json,
        (LogFormat::Auto, config::LogFormat::Journald) => LogFormat::Journald,
        (chosen, _) => chosen,
    };
    crate::logging::init_logging_at(format, &cfg.logging.level);
    match run(path, cfg).await {
        Ok(()) => ExitCode::from(Exit::Ok),
        Err(e) => {
            tracing::error!(error = %e, "the daemon cannot run");
            eprintln!("scim-sync: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// The schedule a config asks for.
pub fn schedule_of(cfg: &Config) -> Result<Schedule, DaemonError> {
    let zone = Zone::parse(cfg.daemon.time_zone.as_deref())?;
    Ok(Schedule::parse(&cfg.daemon.schedule, zone)?)
}

/// Runs the daemon until SIGTERM or SIGINT; `Ok` is a clean stop (exit 0).
pub async fn run(config_path: PathBuf, cfg: Config) -> Result<(), DaemonError> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid == 0 {
        if !cfg.daemon.allow_root {
            return Err(DaemonError::Root);
        }
        tracing::warn!(
            "running as root because `allow_root = true`; an unprivileged user is safer"
        );
    }
    let schedule = schedule_of(&cfg)?;
    warn_about_permissions(&config_path, &cfg);
    config::refuse_unsafe_files(secrets(&cfg))?;
    let state_lock = StateLock::acquire(&cfg.sync.state_db)?;
    let store = Store::open(&cfg.sync.state_db)?;
    store.hold(state_lock)?;
    let store = Arc::new(store);

    let prometheus = match metrics::install() {
        Ok(handle) => Some(handle),
        Err(e) => {
            tracing::warn!(error = %e, "metrics are unavailable");
            None
        }
    };
    metrics::build_info(
        crate::build_info::VERSION,
        crate::build_info::COMMIT,
        crate::build_info::BUILD_DATE,
    );
    let stop_tasks = CancellationToken::new();
    if let Some(handle) = prometheus.clone() {
        let stop = stop_tasks.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(10));
            loop {
                tokio::select! {
                    _ = every.tick() => handle.run_upkeep(),
                    _ = stop.cancelled() => return,
                }
            }
        });
    }

    let status = Arc::new(Mutex::new(Status {
        schedule: schedule.clone(),
        healthy_within_intervals: cfg.daemon.healthy_within_intervals,
        incremental_interval: incremental_interval(&cfg),
        random_delay: Duration::from_secs(cfg.daemon.random_delay_secs),
        started_at: Utc::now(),
        last_run: None,
        last_success: None,
        last_full: None,
        next_run: None,
        running_since: None,
        skipped_ticks: 0,
        held: None,
    }));
    {
        let mut st = lock(&status);
        st.refresh_runs(&store)?;
        if let Some(t) = st.last_success.as_ref().and_then(|r| r.ended_at) {
            ::metrics::gauge!(metrics::LAST_SUCCESS).set(t.timestamp() as f64);
        }
        let held = st.held.as_ref().map_or(0, |h| h.count);
        ::metrics::gauge!(metrics::HELD_DEACTIVATIONS).set(held as f64);
        metric_labels::export_at_start(&st);
    }

    let server = match cfg.daemon.listen {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| DaemonError::Listen { addr, source })?;
            let bound = listener
                .local_addr()
                .map_err(|source| DaemonError::Listen { addr, source })?;
            tracing::info!(listen = %bound, "serving /healthz and /metrics");
            let (status, stop) = (status.clone(), stop_tasks.clone());
            Some(tokio::spawn(async move {
                if let Err(e) = server::serve(listener, status, prometheus, stop).await {
                    tracing::error!(error = %e, "the /healthz and /metrics server stopped");
                }
            }))
        }
        None => None,
    };

    // The control socket: bound once the state lock is ours (a socket left by a daemon
    // that stopped is replaced; no other daemon serves this database).
    let allowed = control::Allowed::new(cfg.daemon.control_group.as_deref())?;
    let control_listener = control::bind(&cfg.daemon.control_socket, &allowed)?;
    let (job_sender, jobs) = tokio::sync::mpsc::channel(32);
    {
        let (status, store, stop) = (status.clone(), store.clone(), stop_tasks.clone());
        tokio::spawn(control::serve(
            control_listener,
            allowed,
            status,
            store,
            job_sender,
            stop,
        ));
    }
    let control_socket = cfg.daemon.control_socket.clone();

    let signals = Signals::install().map_err(DaemonError::Signals)?;
    tracing::info!(
        schedule = schedule.expression(),
        time_zone = %schedule.zone().name(),
        run_at_start = cfg.daemon.run_at_start,
        random_delay_secs = cfg.daemon.random_delay_secs,
        config = %cfg.redacted_summary(),
        "daemon started"
    );
    let daemon = Daemon {
        config_path,
        cfg: Arc::new(cfg),
        schedule,
        store,
        status,
        notifier: Notifier::from_env(),
        cancel: CancellationToken::new(),
        cycle: None,
        full_pending: false,
        jobs,
        queued: std::collections::VecDeque::new(),
    };
    let result = daemon.run(signals).await;
    stop_tasks.cancel();
    control::remove(&control_socket);
    if let Some(server) = server {
        let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
    }
    result
}

/// A cycle (scheduled, or a person's request) running; it logs and records its own
/// result. It ends with the error that stops the daemon, if any: the state database
/// was deleted or replaced under it.
type CycleTask = JoinHandle<Option<StoreError>>;

struct Daemon {
    config_path: PathBuf,
    cfg: Arc<Config>,
    schedule: Schedule,
    store: Arc<Store>,
    status: Arc<Mutex<Status>>,
    notifier: Notifier,
    /// Fired at shutdown: the running cycle starts no new operations.
    cancel: CancellationToken,
    cycle: Option<CycleTask>,
    /// A full cycle fell due while another cycle ran: it starts when that one ends.
    full_pending: bool,
    /// Requests from the control socket (`sync --now`, `release-held`, `plan`, `apply`).
    jobs: tokio::sync::mpsc::Receiver<control::ControlJob>,
    /// Requests waiting for the running cycle to end, in arrival order.
    queued: std::collections::VecDeque<control::ControlJob>,
}

/// The incremental cycles' interval, when they are on.
fn incremental_interval(cfg: &Config) -> Option<Duration> {
    let secs = cfg.daemon.incremental_interval_secs;
    (secs > 0).then(|| Duration::from_secs(secs))
}

/// Sleeps until `at` (forever when None).
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Waits for the running cycle, if any (never resolves when none runs).
async fn join(cycle: &mut Option<CycleTask>) -> Result<Option<StoreError>, tokio::task::JoinError> {
    match cycle {
        Some(handle) => handle.await,
        None => std::future::pending().await,
    }
}

/// A scheduled time and when it fires (with its random delay).
#[derive(Debug, Clone, Copy)]
struct Tick {
    scheduled: DateTime<Utc>,
    fire_at: DateTime<Utc>,
}

impl Daemon {
    async fn run(mut self, mut signals: Signals) -> Result<(), DaemonError> {
        let mut tick = self.next_tick(Utc::now());
        if self.cfg.daemon.run_at_start {
            self.start_cycle(Trigger::Startup, false);
        }
        let mut next_incremental = self.next_incremental();
        self.publish_next(tick);
        self.notifier.ready(&self.status_line());
        let mut watchdog =
            tokio::time::interval(self.notifier.watchdog_interval.unwrap_or(MAX_SLEEP));
        watchdog.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let sleep = match tick {
                Some(t) => (t.fire_at - Utc::now())
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .min(MAX_SLEEP),
                None => MAX_SLEEP,
            };
            tokio::select! {
                // Incremental cycles between the scheduled full ones; never two at once.
                _ = sleep_until(next_incremental) => {
                    if self.cycle.is_none() {
                        self.start_cycle(Trigger::Interval, false);
                    }
                    next_incremental = self.next_incremental();
                }
                _ = tokio::time::sleep(sleep) => {
                    let Some(t) = tick else { continue };
                    if Utc::now() < t.fire_at {
                        continue;
                    }
                    self.on_tick(t);
                    tick = self.next_tick(Utc::now().max(t.scheduled));
                    self.publish_next(tick);
                }
                joined = join(&mut self.cycle) => {
                    self.cycle = None;
                    // Its database deleted or replaced: the daemon stops, writing nothing.
                    let joined = match joined {
                        Ok(Some(e)) => return Err(DaemonError::Store(e)),
                        Ok(None) => Ok(()),
                        Err(e) => Err(e),
                    };
                    self.cycle_ended(joined);
                    // A person waiting goes first; the scheduled full cycle after.
                    if let Some(job) = self.queued.pop_front() {
                        self.start_job(job);
                    } else if std::mem::take(&mut self.full_pending) {
                        self.start_cycle(Trigger::Schedule, true);
                    }
                    self.publish_next(tick);
                }
                Some(job) = self.jobs.recv() => {
                    if self.cycle.is_none() {
                        self.start_job(job);
                    } else {
                        self.queued.push_back(job);
                    }
                    self.publish_next(tick);
                }
                _ = signals.hup.recv() => {
                    if self.reload() {
                        tick = self.next_tick(Utc::now());
                    }
                    self.publish_next(tick);
                    self.notifier.ready(&self.status_line());
                }
                _ = signals.term.recv() => return self.shutdown("SIGTERM", &mut signals).await,
                _ = signals.int.recv() => return self.shutdown("SIGINT", &mut signals).await,
                _ = watchdog.tick(), if self.notifier.watchdog_interval.is_some() => {
                    self.notifier.watchdog();
                }
            }
        }
    }

    /// The first scheduled time after `after`, with a fresh random delay.
    fn next_tick(&self, after: DateTime<Utc>) -> Option<Tick> {
        let scheduled = self.schedule.next_after(after)?;
        let max_delay = self.cfg.daemon.random_delay_secs;
        let delay_ms = if max_delay == 0 {
            0
        } else {
            fastrand::u64(0..=max_delay.saturating_mul(1000))
        };
        Some(Tick {
            scheduled,
            fire_at: scheduled + chrono::Duration::milliseconds(delay_ms as i64),
        })
    }

    /// When the next incremental cycle is due (None when they are off).
    fn next_incremental(&self) -> Option<tokio::time::Instant> {
        let secs = self.cfg.daemon.incremental_interval_secs;
        (secs > 0).then(|| tokio::time::Instant::now() + Duration::from_secs(secs))
    }

    fn on_tick(&mut self, tick: Tick) {
        if self.cycle.as_ref().is_some() && !self.full_pending {
            // An incremental cycle is short: the full one waits for it, not a day.
            let running_since = lock(&self.status).running_since;
            tracing::info!(
                scheduled = %tick.scheduled.to_rfc3339(),
                running_since = running_since.map(|t| t.to_rfc3339()).unwrap_or_default(),
                "the full cycle starts when the running cycle ends"
            );
            self.full_pending = true;
            return;
        }
        if self.cycle.is_some() {
            let running_since = lock(&self.status).running_since;
            tracing::warn!(
                scheduled = %tick.scheduled.to_rfc3339(),
                running_since = running_since.map(|t| t.to_rfc3339()).unwrap_or_default(),
                "skipping the scheduled run: the previous cycle is still running"
            );
            ::metrics::counter!(metrics::TICKS_SKIPPED).increment(1);
            lock(&self.status).skipped_ticks += 1;
            return;
        }
        self.start_cycle(Trigger::Schedule, true);
    }

    fn start_cycle(&mut self, trigger: Trigger, full: bool) {
        let (cfg, store, cancel) = (self.cfg.clone(), self.store.clone(), self.cancel.clone());
        lock(&self.status).running_since = Some(Utc::now());
        tracing::debug!(trigger = trigger.as_str(), "starting a cycle");
        self.cycle = Some(tokio::spawn(async move {
            let opts = CycleOptions {
                dry_run: false,
                release: sync::Release::Nothing,
                trigger,
                progress: None,
                full,
                on_plan: None,
                keep_inputs: false,
            };
            // The cycle records and logs its own result.
            match sync::run_cycle(&cfg, &store, &opts, &cancel).await {
                Err(SyncError::Store(e @ StoreError::Replaced { .. })) => Some(e),
                _ => None,
            }
        }));
    }

    /// Runs a person's request from the control socket as the daemon's cycle, and
    /// answers them when it ends.
    fn start_job(&mut self, job: control::ControlJob) {
        let (cfg, store, cancel) = (self.cfg.clone(), self.store.clone(), self.cancel.clone());
        lock(&self.status).running_since = Some(Utc::now());
        self.cycle = Some(tokio::spawn(async move {
            let control::ControlJob { envelope, reply } = job;
            let response = crate::control::jobs::run(
                &cfg,
                &store,
                &envelope.request,
                envelope.style,
                Trigger::Requested,
                None,
                &cancel,
            )
            .await;
            // The caller may have gone (Ctrl-C): the work is recorded all the same.
            let _ = reply.send(response);
            store
                .verify_writer()
                .err()
                .filter(|e| matches!(e, StoreError::Replaced { .. }))
        }));
    }

    /// Records a finished cycle (its summary line was logged by the cycle itself).
    fn cycle_ended(&mut self, joined: Result<(), tokio::task::JoinError>) {
        if let Err(e) = joined {
            tracing::error!(error = %e, "the cycle task ended abnormally");
        }
        let mut status = lock(&self.status);
        status.running_since = None;
        if let Err(e) = status.refresh_runs(&self.store) {
            tracing::error!(error = %e, "cannot read the run history");
        }
    }

    fn publish_next(&self, tick: Option<Tick>) {
        let next = tick.map(|t| t.fire_at);
        lock(&self.status).next_run = next;
        if let Some(t) = next {
            ::metrics::gauge!(metrics::NEXT_RUN).set(t.timestamp() as f64);
        }
        self.notifier.status(&self.status_line());
    }

    /// systemd's one-line status: the last run and the next one.
    fn status_line(&self) -> String {
        let status = lock(&self.status);
        let last = match (&status.running_since, &status.last_run) {
            (Some(since), _) => {
                format!("cycle running since {}", self.schedule.format_time(*since))
            }
            (None, Some(r)) => format!(
                "last run #{} {} at {}",
                r.id,
                r.result,
                self.schedule
                    .format_time(r.ended_at.unwrap_or(r.started_at))
            ),
            (None, None) => "no run yet".to_string(),
        };
        let next = status
            .next_run
            .map(|t| self.schedule.format_time(t))
            .unwrap_or_else(|| "none".to_string());
        format!("{last}; next run {next}")
    }
}

/// The secret references of a config.
fn secrets(cfg: &Config) -> Vec<&SecretRef> {
    let okta = match &cfg.okta.auth {
        OktaAuth::ApiToken(s) => s,
        OktaAuth::OAuth(o) => &o.private_key,
    };
    vec![okta, &cfg.kafkaman.api_key]
}

/// Warns when the config file can be read by any user of the host (secret files follow
/// the one rule of `config::check_file_mode`, applied at start and every cycle).
pub fn warn_about_permissions(config_path: &Path, _cfg: &Config) {
    for (what, path) in [("config", config_path.to_path_buf())] {
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        let mode = meta.permissions().mode();
        if mode & 0o007 != 0 {
            tracing::warn!(
                file = %path.display(),
                mode = format!("{:04o}", mode & 0o7777),
                kind = what,
                "this file is accessible to every user of the host; restrict it with `chmod o-rwx`"
            );
        }
    }
}
