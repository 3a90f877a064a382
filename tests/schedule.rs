//! The daemon's schedule: crontab lines as people paste them, next-run computation in a
//! time zone (across DST), and errors that point at the mistake.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use scim_sync::daemon::schedule::{Schedule, Zone};

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn zone(name: &str) -> Zone {
    Zone::parse(Some(name)).expect("known zone")
}

fn parse(expr: &str, z: &str) -> Schedule {
    Schedule::parse(expr, zone(z)).unwrap_or_else(|e| panic!("{expr}: {e}"))
}

/// The next `n` runs after `after`, as local wall-clock strings.
fn next_local(s: &Schedule, after: &str, n: usize) -> Vec<String> {
    s.upcoming(utc(after), n)
        .into_iter()
        .map(|t| s.local_time(t).format("%Y-%m-%d %H:%M:%S %:z").to_string())
        .collect()
}

#[test]
fn five_fields_every_fifteen_minutes() {
    let s = parse("*/15 * * * *", "UTC");
    assert_eq!(
        next_local(&s, "2026-01-01T10:07:30Z", 3),
        [
            "2026-01-01 10:15:00 +00:00",
            "2026-01-01 10:30:00 +00:00",
            "2026-01-01 10:45:00 +00:00"
        ]
    );
}

#[test]
fn six_fields_have_seconds_first() {
    let s = parse("*/20 * * * * *", "UTC");
    assert_eq!(
        next_local(&s, "2026-01-01T10:00:05.250Z", 3),
        [
            "2026-01-01 10:00:20 +00:00",
            "2026-01-01 10:00:40 +00:00",
            "2026-01-01 10:01:00 +00:00"
        ]
    );
}

#[test]
fn weekday_names_and_ranges() {
    // 2026-01-02 is a Friday: the next weekday runs are Fri, Mon, Tue.
    let s = parse("0 7 * * MON-FRI", "Europe/Berlin");
    assert_eq!(
        next_local(&s, "2026-01-02T05:00:00Z", 3),
        [
            "2026-01-02 07:00:00 +01:00",
            "2026-01-05 07:00:00 +01:00",
            "2026-01-06 07:00:00 +01:00"
        ]
    );
    // Lower case, month names, lists.
    let s = parse("30 6 1 jan,jul *", "UTC");
    assert_eq!(
        next_local(&s, "2026-02-01T00:00:00Z", 2),
        ["2026-07-01 06:30:00 +00:00", "2027-01-01 06:30:00 +00:00"]
    );
}

#[test]
fn sunday_is_0_and_7() {
    let zero = parse("0 12 * * 0", "UTC");
    let seven = parse("0 12 * * 7", "UTC");
    let sun = parse("0 12 * * SUN", "UTC");
    let after = utc("2026-01-01T00:00:00Z");
    // 2026-01-04 is a Sunday.
    assert_eq!(zero.next_after(after), Some(utc("2026-01-04T12:00:00Z")));
    assert_eq!(seven.next_after(after), zero.next_after(after));
    assert_eq!(sun.next_after(after), zero.next_after(after));
}

#[test]
fn day_of_month_or_day_of_week_as_vixie_cron() {
    // Both restricted: either matches (the 13th, or any Friday).
    let s = parse("0 0 13 * FRI", "UTC");
    assert_eq!(
        next_local(&s, "2026-02-01T00:00:00Z", 3),
        [
            "2026-02-06 00:00:00 +00:00",
            "2026-02-13 00:00:00 +00:00",
            "2026-02-20 00:00:00 +00:00"
        ]
    );
}

#[test]
fn nicknames() {
    let after = utc("2026-05-05T10:20:00Z");
    assert_eq!(
        parse("@hourly", "UTC").next_after(after),
        Some(utc("2026-05-05T11:00:00Z"))
    );
    assert_eq!(
        parse("@daily", "UTC").next_after(after),
        Some(utc("2026-05-06T00:00:00Z"))
    );
    assert_eq!(
        parse("@DAILY", "UTC").next_after(after),
        Some(utc("2026-05-06T00:00:00Z"))
    );
    assert_eq!(
        parse("@weekly", "UTC").next_after(after),
        Some(utc("2026-05-10T00:00:00Z"))
    );
    assert_eq!(
        parse("@monthly", "UTC").next_after(after),
        Some(utc("2026-06-01T00:00:00Z"))
    );
    assert_eq!(
        parse("@yearly", "UTC").next_after(after),
        Some(utc("2027-01-01T00:00:00Z"))
    );
    assert_eq!(parse("@daily", "UTC").pattern(), "0 0 * * *");
}

#[test]
fn runs_in_the_configured_zone() {
    let s = parse("0 9 * * *", "America/New_York");
    // 09:00 EST is 14:00 UTC in winter, 09:00 EDT is 13:00 UTC in summer.
    assert_eq!(
        s.next_after(utc("2026-01-10T00:00:00Z")),
        Some(utc("2026-01-10T14:00:00Z"))
    );
    assert_eq!(
        s.next_after(utc("2026-07-10T00:00:00Z")),
        Some(utc("2026-07-10T13:00:00Z"))
    );
}

/// Runs whose local date is `date`.
fn runs_on(s: &Schedule, tz: Tz, date: NaiveDate) -> Vec<DateTime<Utc>> {
    let start = tz
        .from_local_datetime(&date.pred_opt().unwrap().and_hms_opt(12, 0, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc);
    s.upcoming(start, 6)
        .into_iter()
        .filter(|t| t.with_timezone(&tz).date_naive() == date)
        .collect()
}

#[test]
fn a_0230_job_runs_once_on_spring_forward_day() {
    // Europe/Berlin, 2026-03-29: 02:00 CET jumps to 03:00 CEST; 02:30 doesn't exist.
    let tz: Tz = "Europe/Berlin".parse().unwrap();
    let s = parse("30 2 * * *", "Europe/Berlin");
    let runs = runs_on(&s, tz, NaiveDate::from_ymd_opt(2026, 3, 29).unwrap());
    assert_eq!(runs.len(), 1, "{runs:?}");
    // Vixie cron runs the skipped job at the jump: 03:00 CEST = 01:00 UTC.
    assert_eq!(runs[0], utc("2026-03-29T01:00:00Z"));
    // The day before and after, at 02:30 local.
    let before = runs_on(&s, tz, NaiveDate::from_ymd_opt(2026, 3, 28).unwrap());
    assert_eq!(before, [utc("2026-03-28T01:30:00Z")]);
    let after = runs_on(&s, tz, NaiveDate::from_ymd_opt(2026, 3, 30).unwrap());
    assert_eq!(after, [utc("2026-03-30T00:30:00Z")]);
}

#[test]
fn a_0230_job_runs_once_on_fall_back_day() {
    // Europe/Berlin, 2026-10-25: 03:00 CEST goes back to 02:00 CET; 02:30 happens twice.
    let tz: Tz = "Europe/Berlin".parse().unwrap();
    let s = parse("30 2 * * *", "Europe/Berlin");
    let runs = runs_on(&s, tz, NaiveDate::from_ymd_opt(2026, 10, 25).unwrap());
    assert_eq!(runs.len(), 1, "{runs:?}");
    // The first 02:30 (CEST, +02:00).
    assert_eq!(runs[0], utc("2026-10-25T00:30:00Z"));
}

#[test]
fn a_0130_job_in_new_york_runs_once_on_both_dst_days() {
    let tz: Tz = "America/New_York".parse().unwrap();
    let s = parse("30 1 * * *", "America/New_York");
    // 2026-11-01: 02:00 EDT goes back to 01:00 EST; 01:30 happens twice.
    let fall = runs_on(&s, tz, NaiveDate::from_ymd_opt(2026, 11, 1).unwrap());
    assert_eq!(fall, [utc("2026-11-01T05:30:00Z")]);
    // 2026-03-08: 02:00 EST jumps to 03:00 EDT; 01:30 is unaffected.
    let spring = runs_on(&s, tz, NaiveDate::from_ymd_opt(2026, 3, 8).unwrap());
    assert_eq!(spring, [utc("2026-03-08T06:30:00Z")]);
}

#[test]
fn an_interval_job_keeps_its_pace_across_fall_back() {
    // Every 30 minutes through Berlin's repeated hour: strictly increasing instants, no
    // gap longer than the interval.
    let s = parse("*/30 * * * *", "Europe/Berlin");
    let runs = s.upcoming(utc("2026-10-24T23:00:00Z"), 8);
    for pair in runs.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap > chrono::Duration::zero() && gap <= chrono::Duration::minutes(30),
            "{runs:?}"
        );
    }
}

#[test]
fn invalid_expressions_point_at_the_error() {
    let cases: &[(&str, usize, &str)] = &[
        ("0 25 * * *", 3, "hour"),
        ("61 * * * *", 1, "minute"),
        ("0 7 * * MON-FRU", 9, "day-of-week"),
        ("*/5 * 32 * *", 7, "day-of-month"),
        ("0 0 1 13 *", 7, "month"),
        ("70 0 0 1 1 *", 1, "second"),
        ("0 7 * *", 8, "expected 5 fields"),
        ("0 7 * * * * *", 13, "found 7"),
        ("@reboot", 1, "run_at_start"),
        ("@fortnightly", 1, "unknown nickname"),
        ("", 1, "empty"),
        ("@daily 5", 8, "nothing may follow"),
    ];
    for (expr, column, words) in cases {
        let err = Schedule::parse(expr, Zone::Local)
            .err()
            .unwrap_or_else(|| panic!("{expr:?} was accepted"));
        assert_eq!(err.column, *column, "{expr:?}: {err}");
        let text = err.to_string();
        assert!(text.contains(words), "{expr:?}: {text}");
        // The caret line points under the column.
        let caret_line = text.lines().last().unwrap();
        assert_eq!(
            caret_line.find('^'),
            Some(4 + column - 1),
            "{expr:?}:\n{text}"
        );
    }
}

#[test]
fn unknown_time_zone_is_refused() {
    let err = Zone::parse(Some("Mars/Olympus_Mons")).unwrap_err();
    assert!(err.to_string().contains("Mars/Olympus_Mons"));
    assert!(Zone::parse(Some("UTC")).is_ok());
    assert_eq!(Zone::parse(None).unwrap(), Zone::Local);
}

#[test]
fn schedule_command_prints_the_next_five_runs() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scim-sync"))
        .args([
            "schedule",
            "0 7 * * MON-FRI",
            "--time-zone",
            "Europe/Berlin",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("0 7 * * MON-FRI"), "{text}");
    assert!(text.contains("Europe/Berlin"), "{text}");
    let runs: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("  ") && l.contains(" 07:00:00 +0"))
        .collect();
    assert_eq!(runs.len(), 5, "{text}");
}

#[test]
fn schedule_command_reads_the_config_and_refuses_an_invalid_one() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let base = r#"
[okta]
org_url = "https://acme.okta.com"
app_id = "0oa1"
api_token = { env = "OKTA_TOKEN" }
[kafkaman]
api_key = { env = "KM_KEY" }
"#;
    std::fs::write(
        &config,
        format!("{base}[daemon]\nschedule = \"*/10 * * * *\"\ntime_zone = \"Asia/Tokyo\"\n"),
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_scim-sync");
    let out = std::process::Command::new(bin)
        .arg("schedule")
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("*/10 * * * *") && text.contains("Asia/Tokyo"),
        "{text}"
    );
    assert_eq!(text.matches("+09:00").count(), 5, "{text}");

    std::fs::write(
        &config,
        format!("{base}[daemon]\nschedule = \"0 24 * * *\"\n"),
    )
    .unwrap();
    let out = std::process::Command::new(bin)
        .arg("schedule")
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "{out:?}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("column 3") && err.contains("hour"), "{err}");
}
