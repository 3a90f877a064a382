//! What goes to stderr: the log (text, JSON or the systemd journal) and the progress
//! line of long reads. Every command sets it up through here, so that plans and reports
//! on stdout stay clean.

use std::io::IsTerminal;

use clap::ValueEnum;

use crate::escape;
use crate::sync;

/// The `--log-format` of the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Auto,
    Text,
    Json,
    /// Straight to the systemd journal, with fields.
    Journald,
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
