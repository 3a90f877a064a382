//! The command line: arguments and dispatch to the commands (a cycle's own command,
//! `scim-sync sync`, in [`one_cycle`]). Logging is set up by
//! [`crate::logging`]; exit codes come from [`crate::exit`].

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

mod one_cycle;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::config::{self, Config};
use crate::control;
use crate::exit::Exit;
use crate::logging::{LogFormat, init_logging_verbose, progress_reporter};

#[derive(Debug, Parser)]
#[command(
    name = "scim-sync",
    version = crate::build_info::LONG_VERSION,
    about = "Keeps a kafkaman team in step with the users assigned to the kafkaman app in Okta"
)]
pub struct Cli {
    /// Configuration file.
    #[arg(long, global = true, env = "SCIM_SYNC_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log format: auto (text on a terminal, journald fields under systemd), text, json.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Auto)]
    pub log_format: LogFormat,
    /// No progress bar, only warnings and errors in the log; a sync that changed nothing
    /// prints nothing, one that did prints its result only (for cron).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// The INFO log lines too (on a terminal the default is warnings and errors only;
    /// `SCIM_SYNC_LOG` overrides both).
    #[arg(long, short, global = true, conflicts_with = "quiet")]
    pub verbose: bool,
    #[command(flatten)]
    pub sync: SyncArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
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
    /// With --dry-run: exit 2 when changes are pending (held deactivations count), 0 when
    /// none, 1 on an error (README "Exit codes").
    #[arg(long, requires = "dry_run")]
    pub detailed_exitcode: bool,
    /// The same as `scim-sync release-held` (kept for scripts): apply the deactivations
    /// held now; any that appear since stay held.
    #[arg(long)]
    pub release_held: bool,
    /// A cycle now: through the running daemon when one holds the state database (it
    /// runs it between its own cycles), directly otherwise; prints its result and exits
    /// with its code.
    #[arg(long, conflicts_with = "dry_run")]
    pub now: bool,
    /// A full cycle: read every assignment and every member, and count what incremental
    /// cycles missed (otherwise a cycle is incremental once a full one has run).
    #[arg(long)]
    pub full: bool,
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
            now: self.now || other.now,
            full: self.full || other.full,
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
    /// Apply held deactivations: all held now, or only the people named (email, Okta id
    /// or SCIM id). Through the running daemon when there is one, directly otherwise.
    ReleaseHeld(ReleaseHeldArgs),
    /// The daemon's state (last runs, next cycle, held deactivations), or what the state
    /// database knows when no daemon runs.
    Status(OutputArgs),
    /// Compute the plan (a dry run) and save it to review, then `apply` exactly it.
    Plan(PlanArgs),
    /// Execute a saved plan exactly; refused (exit 7) if anyone in it changed since.
    Apply(ApplyArgs),
    /// Run a real sync against built-in simulators of Okta and kafkaman.
    #[cfg(feature = "sim")]
    Demo,
    /// Run cycles on the configured schedule until stopped (the systemd service).
    Daemon,
    /// Print the schedule and its next run times (the configured one, or EXPRESSION).
    Schedule(crate::daemon::schedule_cli::ScheduleArgs),
    /// The configuration file: `config check` validates it offline.
    Config(ConfigArgs),
    /// Reconciliation report: drift, invites, held, failures and runs (for cron and mail).
    Report(crate::report::ReportArgs),
    /// Everything about one person and what scim-sync would do about them now.
    Explain(crate::explain::ExplainArgs),
    /// The last runs, or the operations of one run.
    History(crate::history::HistoryArgs),
    /// Run the simulated Okta and kafkaman servers.
    #[cfg(feature = "sim")]
    Sim(scim_sync_sim::process::SimArgs),
    /// Print the shell completion script for SHELL to stdout.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout: `scim-sync man | man -l -`.
    Man,
    /// Not in this build: it has no simulators.
    #[cfg(not(feature = "sim"))]
    #[command(hide = true)]
    Demo(NotInThisBuild),
    /// Not in this build: it has no simulators.
    #[cfg(not(feature = "sim"))]
    #[command(hide = true)]
    Sim(NotInThisBuild),
}

#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

#[derive(Debug, Clone, Args)]
pub struct ReleaseHeldArgs {
    /// Who to release (email, Okta user id or SCIM id); none: everyone held now.
    pub users: Vec<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    /// Where to write the plan (JSON, mode 0600; docs/saved-plan.md is its schema).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Plan from a full read (every assignment and member) rather than an incremental one.
    #[arg(long)]
    pub full: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ApplyArgs {
    /// The plan file `scim-sync plan --out` wrote.
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check the config offline: syntax and values, secrets readable and not writable by
    /// others, the schedule and its next runs. Exit 0 when fine, 78 when not; no network.
    Check,
}

/// The arguments of a command this build leaves out (whatever they are), so that it can
/// say so rather than call the command unknown.
#[cfg(not(feature = "sim"))]
#[derive(Debug, Clone, Args)]
pub struct NotInThisBuild {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub args: Vec<String>,
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("scim-sync: cannot start the async runtime: {e}");
            return ExitCode::from(Exit::Failed);
        }
    };
    let code = runtime.block_on(run(cli));
    // Output cut short by an error other than a closed pipe (crate::out) fails a
    // command that would have succeeded.
    if crate::out::failed() && code == ExitCode::from(Exit::Ok) {
        return ExitCode::from(Exit::Failed);
    }
    code
}

/// The one dispatch: every command is one function of its own.
async fn run(cli: Cli) -> ExitCode {
    let top_level_sync_flags = cli.sync.dry_run
        || cli.sync.release_held
        || cli.sync.now
        || cli.sync.full
        || cli.sync.detailed_exitcode
        || cli.sync.output != OutputFormat::Text;
    if top_level_sync_flags && !matches!(cli.command, None | Some(Command::Sync(_))) {
        eprintln!(
            "scim-sync: --dry-run, --release-held, --detailed-exitcode and --output belong to \
             the sync command: put them after the subcommand or leave the subcommand out"
        );
        return ExitCode::from(Exit::Usage);
    }
    let config_path = cli.config.clone();
    let global = Global {
        log_format: cli.log_format,
        quiet: cli.quiet,
        verbose: cli.verbose,
    };
    match cli.command {
        // Flags given before `sync` count as much as those after it: a `--dry-run` is
        // never lost to its position.
        Some(Command::Sync(args)) => {
            sync_main(config_path, &global, &args.merged_with(&cli.sync)).await
        }
        None => sync_main(config_path, &global, &cli.sync).await,
        Some(Command::Check) => check_main(config_path, &global).await,
        Some(Command::ReleaseHeld(args)) => {
            let request = control::Request::ReleaseHeld { users: args.users };
            control_main(config_path, &global, request, args.output.output, None).await
        }
        Some(Command::Status(args)) => {
            control_main(
                config_path,
                &global,
                control::Request::Status,
                args.output,
                None,
            )
            .await
        }
        Some(Command::Plan(args)) => {
            let request = control::Request::Plan { full: args.full };
            control_main(
                config_path,
                &global,
                request,
                args.output.output,
                Some(args.out),
            )
            .await
        }
        Some(Command::Apply(args)) => apply_main(config_path, &global, args).await,
        Some(Command::Daemon) => crate::daemon::cli_main(config_path, global.log_format).await,
        Some(Command::Schedule(args)) => ExitCode::from(crate::daemon::schedule_cli::run(
            &args,
            config_path.as_deref(),
        )),
        // Loads the config itself, to report on it line by line.
        Some(Command::Config(ConfigArgs {
            command: ConfigCommand::Check,
        })) => {
            let path = config_path.unwrap_or_else(config::default_path);
            ExitCode::from(crate::config_check::run(&path))
        }
        Some(Command::Report(args)) => {
            with_config(config_path, &global, async |cfg| {
                crate::report::run(&cfg, &args).await
            })
            .await
        }
        Some(Command::Explain(args)) => {
            with_config(config_path, &global, async |cfg| {
                crate::explain::run(&cfg, &args).await
            })
            .await
        }
        Some(Command::History(args)) => {
            with_config(config_path, &global, async |cfg| {
                crate::history::run(&cfg, &args)
            })
            .await
        }
        Some(Command::Completions { shell }) => crate::manual::completions(&Cli::command(), shell),
        Some(Command::Man) => crate::manual::man(Cli::command()),
        #[cfg(feature = "sim")]
        Some(Command::Sim(args)) => {
            crate::logging::init_logging(global.log_format, true);
            code(scim_sync_sim::process::run(args).await.map(|()| Exit::Ok))
        }
        #[cfg(feature = "sim")]
        Some(Command::Demo) => {
            // The demo tells its story on stdout: its log is warnings only, wherever
            // it runs (and not the simulators' notes on their scenario), unless -v.
            let level = if global.verbose {
                "info"
            } else {
                "warn,scim_sync_sim=error"
            };
            crate::logging::init_logging_at(global.log_format, level);
            code(crate::demo::run(global.quiet).await)
        }
        #[cfg(not(feature = "sim"))]
        Some(Command::Demo(_)) => not_in_this_build("demo"),
        #[cfg(not(feature = "sim"))]
        Some(Command::Sim(_)) => not_in_this_build("sim"),
    }
}

/// The options every command shares.
struct Global {
    log_format: LogFormat,
    quiet: bool,
    verbose: bool,
}

/// Sets up the log, loads the configuration and runs `command` with it; a configuration
/// that doesn't load exits [`Exit::Config`].
async fn with_config(
    config_path: Option<PathBuf>,
    global: &Global,
    command: impl AsyncFnOnce(Config) -> Exit,
) -> ExitCode {
    init_logging_verbose(global.log_format, global.quiet, global.verbose);
    let path = config_path.unwrap_or_else(config::default_path);
    match config::load(&path) {
        Ok(cfg) => ExitCode::from(command(cfg).await),
        Err(e) => {
            eprintln!("scim-sync: {e}");
            ExitCode::from(Exit::Config)
        }
    }
}

/// `scim-sync check`.
async fn check_main(config_path: Option<PathBuf>, global: &Global) -> ExitCode {
    with_config(config_path, global, async |cfg| {
        match crate::check::run(&cfg).await {
            Ok(exit) => exit,
            Err(e) => {
                eprintln!("scim-sync: {e:#}");
                Exit::Failed
            }
        }
    })
    .await
}

/// A command that goes through the running daemon when there is one
/// ([`control::commands`]).
async fn control_main(
    config_path: Option<PathBuf>,
    global: &Global,
    request: control::Request,
    output: OutputFormat,
    out: Option<PathBuf>,
) -> ExitCode {
    let quiet = global.quiet;
    with_config(config_path, global, async |cfg| {
        let style = control::OutputStyle {
            json: output == OutputFormat::Json,
            plain: !std::io::stdout().is_terminal(),
            quiet,
        };
        control::commands::run(
            &cfg,
            request,
            style,
            progress_reporter(quiet),
            out.as_deref(),
        )
        .await
    })
    .await
}

/// `scim-sync apply PLAN`: the file is read and checked here (so that a bad file is
/// said without bothering the daemon), then executed where the state is held.
async fn apply_main(config_path: Option<PathBuf>, global: &Global, args: ApplyArgs) -> ExitCode {
    let quiet = global.quiet;
    with_config(config_path, global, async |cfg| {
        let saved = match crate::saved_plan::SavedPlan::read(&args.plan, &cfg) {
            Ok(saved) => saved,
            Err(e) => {
                eprintln!("scim-sync: {e}");
                return e.exit();
            }
        };
        let plan = match serde_json::to_value(&saved) {
            Ok(doc) => doc,
            Err(e) => {
                eprintln!("scim-sync: cannot encode the plan: {e}");
                return Exit::Failed;
            }
        };
        let style = control::OutputStyle {
            json: args.output.output == OutputFormat::Json,
            plain: !std::io::stdout().is_terminal(),
            quiet,
        };
        let request = control::Request::ApplyPlan { plan };
        control::commands::run(&cfg, request, style, progress_reporter(quiet), None).await
    })
    .await
}

/// `scim-sync` / `scim-sync sync`: one cycle.
async fn sync_main(config_path: Option<PathBuf>, global: &Global, args: &SyncArgs) -> ExitCode {
    let quiet = global.quiet;
    if args.now || args.release_held {
        let request = if args.release_held {
            control::Request::ReleaseHeld { users: Vec::new() }
        } else {
            control::Request::SyncNow { full: args.full }
        };
        return control_main(config_path, global, request, args.output, None).await;
    }
    with_config(config_path, global, async |cfg| {
        one_cycle::command(&cfg, args, quiet).await
    })
    .await
}

/// A command this build leaves out says so (a usage error), rather than being unknown.
#[cfg(not(feature = "sim"))]
fn not_in_this_build(name: &str) -> ExitCode {
    eprintln!(
        "scim-sync: `{name}` is not in this build: it was built without the simulators \
         (cargo feature `sim`); the default build has them"
    );
    ExitCode::from(Exit::Usage)
}

/// Prints clap's message: `--help` and `--version` exit 0, a usage error exits
/// [`Exit::Usage`] (not clap's 2, which `--detailed-exitcode` keeps for "changes pending").
fn usage_error(e: &clap::Error) -> ExitCode {
    // Nothing to do when stdout or stderr is closed: the exit code still tells.
    let _ = e.print();
    if e.use_stderr() {
        ExitCode::from(Exit::Usage)
    } else {
        ExitCode::from(Exit::Ok)
    }
}

/// The exit of a command that ends in an `anyhow` error (the simulators and the demo).
#[cfg(feature = "sim")]
fn code(result: anyhow::Result<Exit>) -> ExitCode {
    match result {
        Ok(exit) => ExitCode::from(exit),
        Err(e) => {
            eprintln!("scim-sync: {e:#}");
            ExitCode::from(Exit::Failed)
        }
    }
}
