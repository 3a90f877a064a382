//! The daemon's schedule: a crontab line, as people paste it, read in a time zone.
//!
//! Parsing and next-run computation are croner's (Vixie-cron semantics: 5 fields, or 6
//! with seconds first; names; weekdays 0 and 7 are Sunday; a day-of-month and a
//! day-of-week restriction are OR-ed; across DST a 02:30 job runs once at 03:00 on the
//! spring-forward day and once on the fall-back day). This module adds what croner
//! doesn't: errors that point at the offending field, the nicknames, and time zones.

use std::fmt;

use chrono::{DateTime, FixedOffset, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// The time zone a schedule is read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// The host's local time zone (the `TZ` variable or /etc/localtime).
    Local,
    /// An IANA time zone from the tz database compiled into the binary.
    Named(chrono_tz::Tz),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{name:?} is not a time zone of the tz database; use an IANA name such as \"Europe/Berlin\", \
     \"America/New_York\" or \"UTC\""
)]
pub struct ZoneError {
    pub name: String,
}

impl Zone {
    /// `None` is the host's zone.
    pub fn parse(name: Option<&str>) -> Result<Zone, ZoneError> {
        match name.map(str::trim) {
            None => Ok(Zone::Local),
            Some(name) => name
                .parse::<chrono_tz::Tz>()
                .map(Zone::Named)
                .map_err(|_| ZoneError {
                    name: name.to_string(),
                }),
        }
    }

    /// The zone's name for people: the IANA name, or the host's (`local` when unknown).
    pub fn name(&self) -> String {
        match self {
            Zone::Named(tz) => tz.name().to_string(),
            Zone::Local => host_zone_name().unwrap_or_else(|| "local".to_string()),
        }
    }
}

/// The host's IANA zone name, when it can be told: `TZ`, else the /etc/localtime link.
fn host_zone_name() -> Option<String> {
    if let Ok(tz) = std::env::var("TZ") {
        let tz = tz.trim_start_matches(':').trim();
        if !tz.is_empty() {
            return Some(format!("{tz} (host)"));
        }
    }
    let target = std::fs::read_link("/etc/localtime").ok()?;
    let text = target.to_string_lossy();
    let (_, name) = text.split_once("zoneinfo/")?;
    Some(format!("{name} (host)"))
}

/// Why a schedule expression was refused, with the 1-based column of the error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ScheduleError {
    /// The expression as written.
    pub expression: String,
    /// 1-based character column the error points at.
    pub column: usize,
    /// How many characters the error spans (at least 1).
    pub width: usize,
    pub message: String,
}

impl fmt::Display for ScheduleError {
    /// `invalid schedule "…" at column N: message`, then the expression with a caret
    /// under the error.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "invalid schedule {:?} at column {}: {}",
            self.expression, self.column, self.message
        )?;
        writeln!(f, "    {}", self.expression)?;
        write!(
            f,
            "    {}{}",
            " ".repeat(self.column.saturating_sub(1)),
            "^".repeat(self.width.max(1))
        )
    }
}

/// A parsed schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    expression: String,
    /// The crontab line croner reads (nicknames expanded).
    pattern: String,
    cron: Cron,
    zone: Zone,
}

const FIELDS_5: [(&str, &str); 5] = [
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day-of-month", "1-31"),
    ("month", "1-12 or JAN-DEC"),
    ("day-of-week", "0-7 or SUN-SAT; 0 and 7 are Sunday"),
];
const SECONDS_FIELD: (&str, &str) = ("second", "0-59");

fn parser() -> CronParser {
    // A year field is not crontab syntax; refusing it keeps a 7th field a visible error.
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
}

impl Schedule {
    /// Parses a crontab line: 5 fields (minute hour day-of-month month day-of-week), 6
    /// with seconds first, or `@yearly`/`@annually`, `@monthly`, `@weekly`, `@daily`/
    /// `@midnight`, `@hourly`.
    pub fn parse(expression: &str, zone: Zone) -> Result<Schedule, ScheduleError> {
        let err = |column: usize, width: usize, message: String| ScheduleError {
            expression: expression.to_string(),
            column,
            width,
            message,
        };
        let fields = fields_with_columns(expression);
        let Some(&(first_col, first)) = fields.first() else {
            return Err(err(
                1,
                1,
                "the schedule is empty; write a crontab line such as \"*/15 * * * *\"".into(),
            ));
        };
        let pattern = if first.starts_with('@') {
            if fields.len() > 1 {
                let (col, text) = fields[1];
                return Err(err(
                    col,
                    text.chars().count(),
                    format!("nothing may follow {first}"),
                ));
            }
            let expanded = match first.to_ascii_lowercase().as_str() {
                "@yearly" | "@annually" => "0 0 1 1 *",
                "@monthly" => "0 0 1 * *",
                "@weekly" => "0 0 * * 0",
                "@daily" | "@midnight" => "0 0 * * *",
                "@hourly" => "0 * * * *",
                "@reboot" => {
                    return Err(err(
                        first_col,
                        first.chars().count(),
                        "@reboot is not a schedule here; set `run_at_start = true` in [daemon]"
                            .into(),
                    ));
                }
                _ => {
                    return Err(err(
                        first_col,
                        first.chars().count(),
                        format!(
                            "unknown nickname {first}; use @hourly, @daily, @weekly, @monthly or \
                             @yearly"
                        ),
                    ));
                }
            };
            expanded.to_string()
        } else {
            match fields.len() {
                5 | 6 => {}
                n if n < 5 => {
                    let end = expression.trim_end().chars().count() + 1;
                    return Err(err(
                        end,
                        1,
                        format!(
                            "expected 5 fields (minute hour day-of-month month day-of-week) or 6 \
                             (second first), found {n}"
                        ),
                    ));
                }
                n => {
                    let (col, text) = fields[6];
                    return Err(err(
                        col,
                        text.chars().count(),
                        format!(
                            "expected 5 fields (minute hour day-of-month month day-of-week) or 6 \
                             (second first), found {n}"
                        ),
                    ));
                }
            }
            // Each field alone, the others `*`: the first one croner refuses is the one
            // the error points at.
            let with_seconds = fields.len() == 6;
            for (i, &(col, text)) in fields.iter().enumerate() {
                let slot = if with_seconds { i } else { i + 1 };
                let mut probe = ["*"; 6];
                probe[slot] = text;
                if let Err(e) = parser().parse(&probe.join(" ")) {
                    let (name, allowed) = if slot == 0 {
                        SECONDS_FIELD
                    } else {
                        FIELDS_5[slot - 1]
                    };
                    return Err(err(
                        col,
                        text.chars().count(),
                        format!(
                            "the {name} field {text:?} is not valid (allowed: {allowed}; with \
                             * , - /): {}",
                            croner_reason(&e)
                        ),
                    ));
                }
            }
            fields.iter().map(|(_, t)| *t).collect::<Vec<_>>().join(" ")
        };
        let cron = parser().parse(&pattern).map_err(|e| {
            err(
                first_col,
                expression.trim().chars().count(),
                croner_reason(&e),
            )
        })?;
        Ok(Schedule {
            expression: expression.trim().to_string(),
            pattern,
            cron,
            zone,
        })
    }

    /// The expression as written (trimmed).
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The crontab fields the expression stands for (a nickname expanded).
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    pub fn zone(&self) -> Zone {
        self.zone
    }

    /// A plain-English reading of the expression.
    pub fn describe(&self) -> String {
        self.cron.describe()
    }

    /// The first scheduled time strictly after `after`; `None` if there is none (a
    /// pattern such as February 30th).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self.zone {
            Zone::Named(tz) => self
                .cron
                .find_next_occurrence(&after.with_timezone(&tz), false)
                .ok()
                .map(|t| t.with_timezone(&Utc)),
            Zone::Local => self
                .cron
                .find_next_occurrence(&after.with_timezone(&chrono::Local), false)
                .ok()
                .map(|t| t.with_timezone(&Utc)),
        }
    }

    /// The next `count` scheduled times after `after`.
    pub fn upcoming(&self, after: DateTime<Utc>, count: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::with_capacity(count);
        let mut cursor = after;
        while out.len() < count {
            let Some(next) = self.next_after(cursor) else {
                break;
            };
            out.push(next);
            cursor = next;
        }
        out
    }

    /// The `n`-th scheduled time after `after` (n ≥ 1).
    pub fn nth_after(&self, after: DateTime<Utc>, n: u32) -> Option<DateTime<Utc>> {
        self.upcoming(after, n.max(1) as usize)
            .get(n.max(1) as usize - 1)
            .copied()
    }

    /// `t` on the schedule's wall clock.
    pub fn local_time(&self, t: DateTime<Utc>) -> DateTime<FixedOffset> {
        match self.zone {
            Zone::Named(tz) => t.with_timezone(&tz).fixed_offset(),
            Zone::Local => t.with_timezone(&chrono::Local).fixed_offset(),
        }
    }

    /// `t` on the schedule's wall clock, for people: `2026-03-29 03:00:00 +02:00 (CEST)`.
    pub fn format_time(&self, t: DateTime<Utc>) -> String {
        match self.zone {
            Zone::Named(tz) => t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S %:z (%Z)"),
            Zone::Local => t
                .with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M:%S %:z"),
        }
        .to_string()
    }
}

/// Whitespace-separated fields with their 1-based character columns.
fn fields_with_columns(expression: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start: Option<(usize, usize)> = None; // (byte, column)
    for (column, (byte, c)) in expression.char_indices().enumerate() {
        match (c.is_whitespace(), start) {
            (true, Some((b, col))) => {
                out.push((col, &expression[b..byte]));
                start = None;
            }
            (false, None) => start = Some((byte, column + 1)),
            _ => {}
        }
    }
    if let Some((b, col)) = start {
        out.push((col, &expression[b..]));
    }
    out
}

/// croner's message without its type prefix.
fn croner_reason(e: &croner::errors::CronError) -> String {
    let text = e.to_string();
    for prefix in [
        "Component error: ",
        "Invalid pattern: ",
        "Pattern contains illegal characters: ",
    ] {
        if let Some(rest) = text.strip_prefix(prefix) {
            return rest.to_string();
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_of_fields() {
        assert_eq!(
            fields_with_columns("  */5  1 * * MON"),
            vec![(3, "*/5"), (8, "1"), (10, "*"), (12, "*"), (14, "MON")]
        );
        assert!(fields_with_columns("   ").is_empty());
    }
}
