//! `scim-sync report`: the reconciliation report for cron jobs, mail and audits.
//!
//! [`build`] gathers a [`Report`] either from the state database alone (no API call: it
//! works while Okta or kafkaman is down and says how old its snapshot is) or, with
//! `refresh`, from a live read-only read of both services. In both cases drift is what
//! the planner would do — the same rules as a real run. The renderers turn the one model
//! into text, Markdown, JSON (`docs/report-json.md`), CSV and HTML.
//!
//! - [`model`]: the report's data (the JSON shape),
//! - [`build`](mod@build): gathering it from the store and the planner,
//! - one module per format: `text`, `markdown`, `json`, `people_csv`, `html` (with its
//!   SVG charts in `chart`).

mod build;
mod chart;
mod html;
mod json;
mod markdown;
pub mod model;
mod people_csv;
mod sections;
mod text;

use crate::exit::Exit;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use clap::{Args, ValueEnum};

use crate::config::Config;
use crate::store::{Store, StoreError};
use crate::view::ViewError;

pub use build::{ReportOptions, build, run_row};
pub use model::*;

/// Exit statuses of `report` (and `explain` / `history`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Text,
    Markdown,
    Json,
    Csv,
    Html,
}

#[derive(Debug, Clone, Args, Default)]
pub struct ReportArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Start of the period for failures and runs: a duration back from now (`30m`,
    /// `24h`, `7d`, `2w`) or a date / time (`2025-03-01`, RFC 3339).
    #[arg(long, default_value = "24h")]
    pub since: String,
    /// Write the report to this file instead of standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Read Okta and kafkaman now (read-only) and report the live drift.
    #[arg(long)]
    pub refresh: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(
        "no state database at {path}: no cycle has run yet with this configuration \
         (run `scim-sync` once, or check sync.state_db)"
    )]
    NoDatabase { path: String },
    #[error(
        "no data yet: the state database {path} holds no snapshot (no real cycle has read \
         Okta and kafkaman with it): run `scim-sync` once, or `scim-sync report --refresh` \
         to read both sides now"
    )]
    NoSnapshot { path: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "--refresh could not read the services ({0}); run the report without --refresh \
         to see the last snapshot"
    )]
    Refresh(Box<ViewError>),
    #[error(
        "--since {0:?} is neither a duration (30m, 24h, 7d, 2w) nor a date (2025-03-01 or RFC 3339)"
    )]
    Since(String),
    #[error("cannot write the report to {path}: {source}")]
    Output {
        path: String,
        source: std::io::Error,
    },
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Parses `--since`: a duration back from `now` or a date / time.
pub fn parse_since(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, ReportError> {
    let bad = || ReportError::Since(text.to_string());
    let t = text.trim();
    if let Some(at) = parse_time(t) {
        return Ok(at);
    }
    if let Ok(date) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return date
            .and_hms_opt(0, 0, 0)
            .map(|d| d.and_utc())
            .ok_or_else(bad);
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = t.split_at(split);
    let n: i64 = number.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    let back =
        chrono::Duration::try_seconds(n.checked_mul(secs).ok_or_else(bad)?).ok_or_else(bad)?;
    now.checked_sub_signed(back).ok_or_else(bad)
}

/// Opens the state database for reading; a missing one is its own error.
pub fn open_store(cfg: &Config) -> Result<Store, ReportError> {
    Store::open_existing(&cfg.sync.state_db)?.ok_or_else(|| ReportError::NoDatabase {
        path: cfg.sync.state_db.display().to_string(),
    })
}

/// Renders the report. `color` adds terminal emphasis to the text format only.
pub fn render(report: &Report, format: Format, color: bool) -> String {
    match format {
        Format::Text => text::render(report, color),
        Format::Markdown => markdown::render(report),
        Format::Json => json::render(report),
        Format::Csv => people_csv::render(report),
        Format::Html => html::render(report),
    }
}

/// `scim-sync report`: prints or writes the report; returns the exit status.
pub async fn run(cfg: &Config, args: &ReportArgs) -> Exit {
    match run_inner(cfg, args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("scim-sync: report: {}", crate::escape::text(&e.to_string()));
            match e {
                // The command line is wrong, not the state.
                ReportError::Since(_) => Exit::Usage,
                _ => Exit::Unavailable,
            }
        }
    }
}

async fn run_inner(cfg: &Config, args: &ReportArgs) -> Result<Exit, ReportError> {
    let now = Utc::now();
    let since = parse_since(&args.since, now)?;
    let store = open_store(cfg)?;
    let report = build(
        cfg,
        &store,
        &ReportOptions {
            since,
            refresh: args.refresh,
        },
        now,
    )
    .await?;
    let color = args.format == Format::Text
        && args.output.is_none()
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none();
    let body = render(&report, args.format, color);
    match &args.output {
        Some(path) => write_file(path, &body)?,
        // A closed pipe (`| head`) is not a failed report (crate::out).
        None => crate::out::write(body.as_bytes()),
    }
    Ok(report.status.exit())
}

/// Writes through a temporary file in the same directory, so a reader never sees half
/// a report.
fn write_file(path: &Path, body: &str) -> Result<(), ReportError> {
    let err = |source| ReportError::Output {
        path: path.display().to_string(),
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
    std::io::Write::write_all(&mut tmp, body.as_bytes()).map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

/// Splits prose that marks commands Markdown-style (`` `scim-sync --dry-run` ``) into
/// its parts: `(true, command)` for a code span, `(false, text)` for the rest. A lone
/// backtick stays in the text.
pub(crate) fn code_spans(prose: &str) -> Vec<(bool, String)> {
    let mut parts: Vec<(bool, String)> = prose
        .split('`')
        .enumerate()
        .map(|(n, part)| (n % 2 == 1, part.to_string()))
        .collect();
    // An odd number of backticks: the last one opened no span.
    if parts.len().is_multiple_of(2)
        && let Some((_, tail)) = parts.pop()
        && let Some(last) = parts.last_mut()
    {
        last.1 = format!("{}`{tail}", last.1);
    }
    parts.retain(|(_, part)| !part.is_empty());
    parts
}

/// "3 h", "2 d": a coarse age for people.
pub fn human_age(seconds: i64) -> String {
    match seconds {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86_400),
    }
}

/// Milliseconds as "850 ms" or "12.3 s".
pub fn human_duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

/// An RFC 3339 time shortened for people: `2025-03-01 14:05 UTC`.
pub fn short_time(t: &str) -> String {
    parse_time(t)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_durations_and_dates() {
        let now = parse_time("2025-03-10T12:00:00Z").unwrap();
        assert_eq!(
            rfc3339(parse_since("24h", now).unwrap()),
            "2025-03-09T12:00:00.000Z"
        );
        assert_eq!(
            rfc3339(parse_since("7d", now).unwrap()),
            "2025-03-03T12:00:00.000Z"
        );
        assert_eq!(
            rfc3339(parse_since("30m", now).unwrap()),
            "2025-03-10T11:30:00.000Z"
        );
        assert_eq!(
            rfc3339(parse_since("2025-03-01", now).unwrap()),
            "2025-03-01T00:00:00.000Z"
        );
        assert_eq!(
            rfc3339(parse_since("2025-03-01T10:00:00+01:00", now).unwrap()),
            "2025-03-01T09:00:00.000Z"
        );
        for bad in ["", "h", "10y", "yesterday", "-5d"] {
            assert!(parse_since(bad, now).is_err(), "{bad}");
        }
    }

    #[test]
    fn code_spans_split_commands_from_prose() {
        let spans = |s: &str| -> Vec<(bool, String)> { code_spans(s) };
        assert_eq!(
            spans("read them (`scim-sync --dry-run`) now"),
            [
                (false, "read them (".to_string()),
                (true, "scim-sync --dry-run".to_string()),
                (false, ") now".to_string())
            ]
        );
        assert_eq!(spans("no code"), [(false, "no code".to_string())]);
        assert_eq!(
            spans("a `b` c `d"),
            [
                (false, "a ".to_string()),
                (true, "b".to_string()),
                (false, " c `d".to_string())
            ]
        );
    }
}
