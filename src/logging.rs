//! What goes to stderr: the log (text, JSON or the systemd journal) and the progress
//! line of long reads. Every command sets it up through here, so that plans and reports
//! on stdout stay clean.

use std::io::IsTerminal;

use clap::ValueEnum;

use crate::escape;
use crate::progress::{Phase, Progress};

/// The `--log-format` of the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Auto,
    Text,
    Json,
    /// Straight to the systemd journal, with fields.
    Journald,
}

/// Logging goes to stderr so that plans and reports on stdout stay clean. The default
/// level of a one-shot command: WARN with `quiet`, and on a terminal (its output is the
/// plan and the result; `verbose` brings the INFO lines back); INFO off a terminal
/// (cron, a pipe, a file), where the log is the record. Other crates' lines are WARN
/// and above unless `SCIM_SYNC_LOG` says otherwise.
pub fn init_logging(format: LogFormat, quiet: bool) {
    init_logging_verbose(format, quiet, false);
}

/// As [`init_logging`], with `-v`/`--verbose`.
pub fn init_logging_verbose(format: LogFormat, quiet: bool, verbose: bool) {
    let on_terminal = std::io::stderr().is_terminal() && !under_systemd();
    init_logging_at(format, one_shot_level(quiet, verbose, on_terminal));
}

/// The default filter of a one-shot command (see [`init_logging`]).
pub fn one_shot_level(quiet: bool, verbose: bool, on_terminal: bool) -> &'static str {
    if verbose {
        "info"
    } else if quiet || on_terminal {
        "warn"
    } else {
        "info"
    }
}

/// `level` for scim-sync's own lines, WARN for other crates' (a dependency's INFO line,
/// such as rusqlite_migration's "Database migrated", is noise to the reader). A filter
/// with directives of its own (`info,hyper=debug`) is taken as written.
pub fn with_quiet_dependencies(level: &str) -> String {
    let bare = level.trim();
    match bare.to_ascii_lowercase().as_str() {
        "info" | "debug" | "trace" => format!("warn,scim_sync={bare}"),
        _ => bare.to_string(),
    }
}

fn under_systemd() -> bool {
    std::env::var_os("JOURNAL_STREAM").is_some()
}

/// As [`init_logging`], with `default_level` (a filter) unless `SCIM_SYNC_LOG` is set.
/// Under systemd (`JOURNAL_STREAM`) `auto` and `journald` log straight to the journal,
/// with each field a journal field.
pub fn init_logging_at(format: LogFormat, default_level: &str) {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let default_filter = with_quiet_dependencies(default_level);
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_env("SCIM_SYNC_LOG")
            .or_else(|_| tracing_subscriber::EnvFilter::try_new(&default_filter))
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,scim_sync=info"))
    };
    let under_systemd = under_systemd();
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
        .with_writer(BarAwareStderr);
    let result = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder
            .with_ansi(std::io::stderr().is_terminal())
            .fmt_fields(escaped_fields())
            .try_init()
    };
    // A second init (tests, demo inside a process) keeps the first subscriber.
    let _ = result;
}

/// The text log's fields, each value escaped ([`escape::text`]): a newline or an escape
/// sequence in a value (a name from Okta, an error body) cannot forge a log line or
/// drive the terminal. Messages are shown bare, other fields as `name=value`.
pub fn escaped_fields() -> impl for<'w> tracing_subscriber::fmt::FormatFields<'w> + 'static {
    use tracing_subscriber::field::MakeExt as _;
    tracing_subscriber::fmt::format::debug_fn(|writer, field, value| {
        let shown = format!("{value:?}");
        let shown = escape::text(&shown);
        if field.name() == "message" {
            write!(writer, "{shown}")
        } else {
            write!(writer, "{}={shown}", field.name())
        }
    })
    .delimited(" ")
}

/// The progress bar shown now (at most one), shared with the log writer so that a log
/// line is written above the bar rather than through it.
static BAR: std::sync::Mutex<Option<(Phase, indicatif::ProgressBar)>> = std::sync::Mutex::new(None);

fn bar_slot() -> std::sync::MutexGuard<'static, Option<(Phase, indicatif::ProgressBar)>> {
    // A panic while the lock was held leaves a bar at worst: still usable.
    BAR.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A progress bar on stderr for the reads and the apply, when stderr is a terminal and
/// not under systemd or `--quiet`. Clear it ([`clear_progress`]) before printing.
pub fn progress_reporter(quiet: bool) -> Option<Progress> {
    if quiet || !std::io::stderr().is_terminal() || under_systemd() {
        return None;
    }
    Some(std::sync::Arc::new(
        |phase: Phase, done: usize, total: Option<usize>| {
            let mut slot = bar_slot();
            if slot.as_ref().is_none_or(|(shown, _)| *shown != phase) {
                if let Some((_, old)) = slot.take() {
                    old.finish_and_clear();
                }
                *slot = Some((phase, new_bar(phase, total)));
            }
            if let Some((_, bar)) = slot.as_ref() {
                if let Some(total) = total {
                    bar.set_length(total as u64);
                }
                bar.set_position(done as u64);
            }
        },
    ))
}

fn new_bar(phase: Phase, total: Option<usize>) -> indicatif::ProgressBar {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    let (message, template) = match phase {
        Phase::OktaUsers => ("Reading Okta app users", "{spinner} {msg}: {pos}"),
        Phase::KafkamanMembers => ("Reading kafkaman members", "{spinner} {msg}: {pos}"),
        Phase::Apply => ("Applying", "{msg} [{bar:30}] {pos}/{len} operations"),
    };
    let bar = ProgressBar::with_draw_target(total.map(|t| t as u64), ProgressDrawTarget::stderr());
    // The templates are constants above; a bad one would keep the default style.
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message);
    bar
}

/// Clears the progress bar, if one is shown: call before printing anything else.
pub fn clear_progress() {
    if let Some((_, bar)) = bar_slot().take() {
        bar.finish_and_clear();
    }
}

/// The log's writer: stderr, with the progress bar (if any) lifted for each line.
struct BarAwareStderr;

/// One log line, written when dropped.
pub struct LogLine(Vec<u8>);

impl std::io::Write for LogLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogLine {
    fn drop(&mut self) {
        use std::io::Write as _;
        let line = std::mem::take(&mut self.0);
        let write = move || {
            let _ = std::io::stderr().write_all(&line);
        };
        match bar_slot().as_ref() {
            Some((_, bar)) => bar.suspend(write),
            None => write(),
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BarAwareStderr {
    type Writer = LogLine;

    fn make_writer(&'a self) -> Self::Writer {
        LogLine(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_levels_keep_dependencies_at_warn() {
        assert_eq!(with_quiet_dependencies("info"), "warn,scim_sync=info");
        assert_eq!(with_quiet_dependencies("DEBUG"), "warn,scim_sync=DEBUG");
        assert_eq!(with_quiet_dependencies("warn"), "warn");
        assert_eq!(
            with_quiet_dependencies("info,hyper=debug"),
            "info,hyper=debug"
        );
        // One-shot commands: WARN on a terminal or with --quiet, INFO off one or with -v.
        assert_eq!(one_shot_level(false, false, true), "warn");
        assert_eq!(one_shot_level(false, true, true), "info");
        assert_eq!(one_shot_level(true, false, false), "warn");
        assert_eq!(one_shot_level(false, false, false), "info");
    }
}
