//! The command line: arguments, logging set-up, and dispatch to the commands. Exit codes
//! are documented in the README.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config};
use crate::render;
use crate::store::{StateLock, Store, StoreError};
use crate::sync::{self, CycleOptions, RunResult, SyncError, Trigger};

/// Exit codes (README "Exit codes").
pub mod exit {
    /// Success, or no changes needed.
    pub const OK: u8 = 0;
    /// The run failed (sources unreadable, failures past the error budget).
    pub const FAILED: u8 = 1;
    /// The configuration is invalid (or, with `--dry-run --detailed-exitcode`, changes
    /// are pending).
    pub const CONFIG: u8 = 2;
    pub const CHANGES_PENDING: u8 = 2;
    /// Some operations failed within the budget, or deactivations were held.
    pub const PARTIAL_OR_HELD: u8 = 3;
    /// Another process holds the state database.
    pub const LOCKED: u8 = 4;
    /// Interrupted by a shutdown signal before every operation started.
    pub const INTERRUPTED: u8 = 5;
}

#[derive(Debug, Parser)]
#[command(
    name = "scim-sync",
    version,
    about = "Keeps a kafkaman team in step with the users assigned to the kafkaman app in Okta"
)]
pub struct Cli {
    /// Configuration file.
    #[arg(long, global = true, env = "SCIM_SYNC_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log format: auto (text on a terminal, journald fields under systemd), text, json.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Auto)]
    pub log_format: LogFormat,
    /// No progress output, only warnings and errors in the log.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(flatten)]
    pub sync: SyncArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Auto,
    Text,
    Json,
    /// Straight to the systemd journal, with fields.
    Journald,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Args, Default)]
pub struct SyncArgs {
    /// Run the cycle up to the first write and print the plan; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: exit 2 when changes are pending, 0 when none.
    #[arg(long, requires = "dry_run")]
    pub detailed_exitcode: bool,
    /// Apply the deactivations the last run held (those you read in its plan or report);
    /// any that appeared since stay held.
    #[arg(long)]
    pub release_held: bool,
    /// Output format of the plan / result.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

impl SyncArgs {
    /// These flags with those of `other` (given at the other position) added.
    pub fn merged_with(&self, other: &SyncArgs) -> SyncArgs {
        SyncArgs {
            dry_run: self.dry_run || other.dry_run,
            detailed_exitcode: self.detailed_exitcode || other.detailed_exitcode,
            release_held: self.release_held || other.release_held,
            output: if self.output == OutputFormat::Text {
                other.output
            } else {
                self.output
            },
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// One reconciliation cycle (the default command).
    Sync(SyncArgs),
    /// Test the API credentials of both sides, as Okta's "Test API Credentials" does.
    Check,
    /// Run a real sync against built-in simulators of Okta and kafkaman.
    Demo,
    /// Run cycles on the configured schedule until stopped (the systemd service).
    Daemon,
    /// Print the schedule and its next run times (the configured one, or EXPRESSION).
    Schedule(crate::daemon::schedule_cli::ScheduleArgs),
    /// Reconciliation report: drift, invites, held, failures and runs (for cron and mail).
    Report(crate::report::ReportArgs),
    /// Everything about one person and what scim-sync would do about them now.
    Explain(crate::explain::ExplainArgs),
    /// The last runs, or the operations of one run.
    History(crate::history::HistoryArgs),
    /// Run the simulated Okta and kafkaman servers.
    #[cfg(feature = "sim")]
    Sim(crate::sim::process::SimArgs),
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("scim-sync: cannot start the async runtime: {e}");
            return ExitCode::from(exit::FAILED);
        }
    };
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> ExitCode {
    let top_level_sync_flags = cli.sync.dry_run
        || cli.sync.release_held
        || cli.sync.detailed_exitcode
        || cli.sync.output != OutputFormat::Text;
    if top_level_sync_flags && !matches!(cli.command, None | Some(Command::Sync(_))) {
        eprintln!(
            "scim-sync: --dry-run, --release-held, --detailed-exitcode and --output belong to \
             the sync command: put them after the subcommand or leave the subcommand out"
        );
        return ExitCode::from(exit::CONFIG);
    }
    match cli.command {
        #[cfg(feature = "sim")]
        Some(Command::Sim(ref args)) => {
            init_logging(cli.log_format, true);
            return code(crate::sim::process::run(args.clone()).await);
        }
        Some(Command::Demo) => {
            init_logging(cli.log_format, cli.quiet);
            return code(crate::demo::run(cli.quiet).await);
        }
        Some(Command::Schedule(ref args)) => {
            return ExitCode::from(crate::daemon::schedule_cli::run(
                args,
                cli.config.as_deref(),
            ));
        }
        Some(Command::Daemon) => {
            return crate::daemon::cli_main(cli.config.clone(), cli.log_format).await;
        }
        _ => {}
    }
    init_logging(cli.log_format, cli.quiet);
    let config_path = cli.config.clone().unwrap_or_else(config::default_path);
    let cfg = match config::load(&config_path) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("scim-sync: {e}");
            return ExitCode::from(exit::CONFIG);
        }
    };
    match cli.command {
        Some(Command::Check) => code(crate::check::run(&cfg).await),
        // Flags given before `sync` count as much as those after it: a `--dry-run` is
        // never lost to its position.
        Some(Command::Sync(ref args)) => {
            sync_command(&cfg, &args.merged_with(&cli.sync), cli.quiet).await
        }
        None => sync_command(&cfg, &cli.sync, cli.quiet).await,
        Some(Command::Demo | Command::Daemon | Command::Schedule(_)) => ExitCode::from(exit::OK),
        Some(Command::Report(ref args)) => ExitCode::from(crate::report::run(&cfg, args).await),
        Some(Command::Explain(ref args)) => ExitCode::from(crate::explain::run(&cfg, args).await),
        Some(Command::History(ref args)) => ExitCode::from(crate::history::run(&cfg, args)),
        #[cfg(feature = "sim")]
        Some(Command::Sim(_)) => ExitCode::from(exit::OK),
    }
}

fn code(result: anyhow::Result<u8>) -> ExitCode {
    match result {
        Ok(c) => ExitCode::from(c),
        Err(e) => {
            eprintln!("scim-sync: {e:#}");
            ExitCode::from(exit::FAILED)
        }
    }
}

/// Logging goes to stderr so that plans and reports on stdout stay clean.
pub fn init_logging(format: LogFormat, quiet: bool) {
    init_logging_at(format, if quiet { "warn" } else { "info" });
}

/// As [`init_logging`], with `default_level` (a filter) unless `SCIM_SYNC_LOG` is set.
/// Under systemd (`JOURNAL_STREAM`) `auto` and `journald` log straight to the journal,
/// with each field a journal field.
pub fn init_logging_at(format: LogFormat, default_level: &str) {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_env("SCIM_SYNC_LOG")
            .or_else(|_| tracing_subscriber::EnvFilter::try_new(default_level))
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
    };
    let under_systemd = std::env::var_os("JOURNAL_STREAM").is_some();
    if matches!(format, LogFormat::Journald) || (format == LogFormat::Auto && under_systemd) {
        match tracing_journald::layer() {
            Ok(journald) => {
                let _ = tracing_subscriber::registry()
                    .with(filter())
                    .with(journald.with_syslog_identifier("scim-sync".into()))
                    .try_init();
                return;
            }
            // No journal socket (a container, or journald down): JSON lines on stderr
            // still reach the journal through its stream, fields intact.
            Err(e) => {
                eprintln!("scim-sync: cannot log to the journal ({e}); logging JSON to stderr")
            }
        }
    }
    let filter = filter();
    let json = match format {
        LogFormat::Json | LogFormat::Journald => true,
        LogFormat::Text => false,
        LogFormat::Auto => under_systemd,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init()
    };
    // A second init (tests, demo inside a process) keeps the first subscriber.
    let _ = result;
}

/// Resolves on SIGINT or SIGTERM (a one-shot run under a systemd timer gets SIGTERM).
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Exit code of a finished cycle.
pub fn exit_code_for(result: RunResult) -> u8 {
    match result {
        RunResult::Success | RunResult::Planned => exit::OK,
        RunResult::Partial | RunResult::Held => exit::PARTIAL_OR_HELD,
        RunResult::Failed => exit::FAILED,
        RunResult::Interrupted => exit::INTERRUPTED,
    }
}

/// A progress line on a terminal for long reads; nothing under systemd or --quiet.
pub fn progress_reporter(quiet: bool) -> Option<sync::Progress> {
    if quiet || !std::io::stderr().is_terminal() || std::env::var_os("JOURNAL_STREAM").is_some() {
        return None;
    }
    Some(std::sync::Arc::new(|phase: &str, n: usize| {
        let what = if phase == "okta" {
            "Okta app users"
        } else {
            "kafkaman members"
        };
        eprint!("\r\x1b[2Kreading {what}: {n}");
        if n == usize::MAX {
            eprintln!();
        }
    }))
}

async fn sync_command(cfg: &Config, args: &SyncArgs, quiet: bool) -> ExitCode {
    let store = match Store::open(&cfg.sync.state_db) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("scim-sync: {e}");
            return ExitCode::from(exit::FAILED);
        }
    };
    // A dry run writes no snapshot, so it doesn't need the lock a real run holds.
    let _lock = if args.dry_run {
        None
    } else {
        match StateLock::acquire(&cfg.sync.state_db) {
            Ok(l) => Some(l),
            Err(e @ StoreError::Locked { .. }) => {
                eprintln!("scim-sync: {e}");
                return ExitCode::from(exit::LOCKED);
            }
            Err(e) => {
                eprintln!("scim-sync: {e}");
                return ExitCode::from(exit::FAILED);
            }
        }
    };
    let cancel = CancellationToken::new();
    let signal_cancel = cancel.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::warn!(
            "interrupt: finishing the operations in flight, starting no new ones \
             (again to stop at once; unfinished operations are settled by the next run)"
        );
        signal_cancel.cancel();
        shutdown_signal().await;
        std::process::exit(130);
    });
    let opts = CycleOptions {
        dry_run: args.dry_run,
        release_held: args.release_held,
        trigger: Trigger::Manual,
        progress: progress_reporter(quiet),
    };
    let report = match sync::run_cycle(cfg, &store, &opts, &cancel).await {
        Ok(r) => r,
        Err(SyncError::Config(msg)) => {
            eprintln!("scim-sync: {msg}");
            return ExitCode::from(exit::CONFIG);
        }
        Err(SyncError::Interrupted) => {
            eprintln!("scim-sync: interrupted while reading; nothing was changed");
            return ExitCode::from(exit::INTERRUPTED);
        }
        Err(e) => {
            eprintln!("scim-sync: {e}");
            return ExitCode::from(exit::FAILED);
        }
    };
    if opts.progress.is_some() {
        eprintln!();
    }
    let plain = !std::io::stdout().is_terminal();
    match (args.output, args.dry_run) {
        (OutputFormat::Json, true) => println!("{}", render::plan_json(&report.plan)),
        (OutputFormat::Json, false) => println!("{}", render::cycle_json(&report)),
        (OutputFormat::Text, true) => print!("{}", render::plan_text(&report.plan, plain)),
        (OutputFormat::Text, false) => {
            if !quiet {
                print!("{}", render::plan_text(&report.plan, plain));
            }
            print!("{}", render::cycle_text(&report));
        }
    }
    if args.dry_run && args.detailed_exitcode {
        let pending = !report.plan.operations.is_empty() || !report.plan.held.is_empty();
        return ExitCode::from(if pending {
            exit::CHANGES_PENDING
        } else {
            exit::OK
        });
    }
    ExitCode::from(exit_code_for(report.result))
}
