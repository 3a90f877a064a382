//! What the daemon knows about its runs, and the health verdict `/healthz` serves.
//!
//! Healthy means the sync keeps working: the last run that ran through (success, partial
//! or held) is no older than `healthy_within_intervals` scheduled runs. One failed cycle
//! (an Okta blip) leaves it healthy ("degraded" in the body); Okta unreachable for
//! longer, or a daemon whose cycles stopped, turns it unhealthy. Held deactivations
//! waiting for a human are "degraded" too (HTTP 200, with their count and since when):
//! the sync runs, but it is not doing everything Okta asks.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::schedule::Schedule;
use crate::store::{FullReason, RunMode, RunRecord, RunResult, Store, StoreError, Trigger};

/// What `/healthz` says while Okta refuses the System Log.
pub const LOG_UNAVAILABLE: &str = "System Log unavailable: full cycles only";

/// One finished run, as `/healthz` reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunInfo {
    pub id: i64,
    pub trigger: Trigger,
    pub result: RunResult,
    /// Why the run was a full cycle, when it was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_reason: Option<FullReason>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl RunInfo {
    fn from_record(r: &RunRecord) -> Option<RunInfo> {
        Some(RunInfo {
            id: r.id,
            trigger: r.trigger,
            result: r.result?,
            full_reason: r.summary.as_ref().and_then(|s| s.full_reason),
            started_at: parse_time(&r.started_at)?,
            ended_at: r.ended_at.as_deref().and_then(parse_time),
            duration_ms: r.summary.as_ref().map(|s| s.duration_ms),
            error: r.error.clone(),
        })
    }
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Time for a full cycle to finish when none has yet (a first sync, or a database that
/// lost its history): README "Scale" puts one at about 2 minutes per 100,000 users at
/// Okta's default rate limits.
const FIRST_FULL_GRACE: chrono::Duration = chrono::Duration::minutes(15);

/// Twice a run's duration (zero when unknown).
fn twice(run: Option<&RunInfo>) -> chrono::Duration {
    run.and_then(|r| r.duration_ms)
        .map(|ms| chrono::Duration::milliseconds(ms.saturating_mul(2) as i64))
        .unwrap_or_default()
}

/// The daemon's view of its runs, shared with the HTTP server.
#[derive(Debug, Clone)]
pub struct Status {
    pub schedule: Schedule,
    pub healthy_within_intervals: u32,
    /// Incremental cycles' interval (None when off): then the interval health counts in.
    pub incremental_interval: Option<Duration>,
    pub random_delay: Duration,
    pub started_at: DateTime<Utc>,
    pub last_run: Option<RunInfo>,
    pub last_success: Option<RunInfo>,
    /// The last finished full cycle: how long the next one may take, when one comes due
    /// between incremental cycles seconds apart.
    pub last_full: Option<RunInfo>,
    pub next_run: Option<DateTime<Utc>>,
    /// When the cycle now running started.
    pub running_since: Option<DateTime<Utc>>,
    pub skipped_ticks: u64,
    /// Deactivations held until a human releases them (None when nothing is held).
    pub held: Option<HeldInfo>,
}

/// The deactivations held now, as `/healthz` reports them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeldInfo {
    pub count: usize,
    /// When the oldest of them was first held.
    pub since: DateTime<Utc>,
}

impl HeldInfo {
    /// From the store's held set (None when it is empty).
    pub fn from_store(store: &Store) -> Result<Option<HeldInfo>, StoreError> {
        let held = store.held_deactivations()?;
        let since = held.iter().filter_map(|h| parse_time(&h.held_since)).min();
        Ok(since.map(|since| HeldInfo {
            count: held.len(),
            since,
        }))
    }
}

impl Status {
    /// Refreshes the last run and the last success from the state database (which
    /// outlives restarts, so a restarted daemon knows how fresh its data is).
    pub fn refresh_runs(&mut self, store: &Store) -> Result<(), StoreError> {
        let finished_apply = |r: &&RunRecord| r.mode == RunMode::Apply && r.ended_at.is_some();
        let recent = store.runs(100)?;
        self.last_run = recent
            .iter()
            .find(finished_apply)
            .and_then(RunInfo::from_record);
        let success = recent
            .iter()
            .filter(finished_apply)
            .find(|r| r.result.is_some_and(RunResult::ran_through))
            .cloned();
        let success = match success {
            Some(r) => Some(r),
            None => store.last_success()?,
        };
        self.last_success = success.as_ref().and_then(RunInfo::from_record);
        self.last_full = match recent
            .iter()
            .filter(finished_apply)
            .find(|r| r.summary.as_ref().is_some_and(|s| s.full_reason.is_some()))
        {
            Some(r) => RunInfo::from_record(r),
            None => store
                .last_full_apply_run()?
                .as_ref()
                .and_then(RunInfo::from_record),
        };
        self.held = HeldInfo::from_store(store)?;
        Ok(())
    }

    /// When the daemon turns unhealthy without a new success: `healthy_within_intervals`
    /// incremental intervals or scheduled runs (whichever comes first) after the last
    /// success (or after start, when there was none), plus time for a run to finish.
    /// Counted in scheduled runs: the random delay and twice the last run's duration, at
    /// least a minute, at most one interval. Counted in incremental intervals: at least a
    /// minute, twice the last run's and twice the last full cycle's duration (before any
    /// full cycle ended, [`FIRST_FULL_GRACE`]): a full cycle of minutes between
    /// incremental cycles seconds apart is the sync working, not stopped.
    pub fn deadline(&self) -> Option<DateTime<Utc>> {
        let since = self
            .last_success
            .as_ref()
            .map(|r| r.started_at)
            .unwrap_or(self.started_at);
        let n = self.healthy_within_intervals.max(1);
        // Incremental cycles run every interval: health counts in those, or in scheduled
        // runs when they come more often.
        let incremental = self.incremental_interval.map(|interval| {
            let interval = chrono::Duration::from_std(interval).unwrap_or_default();
            let full = match &self.last_full {
                Some(run) => twice(Some(run)),
                None => FIRST_FULL_GRACE,
            };
            let grace = self
                .twice_last_duration()
                .max(full)
                .max(chrono::Duration::seconds(60));
            since + interval * n as i32 + grace
        });
        let scheduled = self.scheduled_deadline(since, n);
        match (incremental, scheduled) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The deadline counted in scheduled runs.
    fn scheduled_deadline(&self, since: DateTime<Utc>, n: u32) -> Option<DateTime<Utc>> {
        let due = self.schedule.nth_after(since, n)?;
        let after = self.schedule.next_after(due).unwrap_or(due);
        let grace = self
            .twice_last_duration()
            .max(chrono::Duration::seconds(60))
            .min(after - due);
        let delay = chrono::Duration::from_std(self.random_delay).unwrap_or_default();
        Some(due + grace + delay)
    }

    /// What the deadline counts in, as `/healthz` says it.
    fn counted_in(&self) -> &'static str {
        let since = self
            .last_success
            .as_ref()
            .map(|r| r.started_at)
            .unwrap_or(self.started_at);
        let n = self.healthy_within_intervals.max(1);
        match (self.incremental_interval, self.scheduled_deadline(since, n)) {
            (Some(interval), Some(scheduled)) => {
                let interval = chrono::Duration::from_std(interval).unwrap_or_default();
                if since + interval * n as i32 <= scheduled {
                    "incremental intervals"
                } else {
                    "scheduled runs"
                }
            }
            (Some(_), None) => "incremental intervals",
            _ => "scheduled runs",
        }
    }

    fn twice_last_duration(&self) -> chrono::Duration {
        twice(self.last_run.as_ref())
    }

    /// The verdict at `now`.
    pub fn health(&self, now: DateTime<Utc>) -> Health {
        let deadline = self.deadline();
        let fresh = deadline.is_none_or(|d| now <= d);
        let last_failed = self
            .last_run
            .as_ref()
            .is_some_and(|r| !r.result.ran_through());
        let last_result = self.last_run.as_ref().map(|r| r.result);
        let (healthy, status, reason) = match (fresh, &self.last_success, last_failed) {
            (false, Some(s), _) => (
                false,
                "unhealthy",
                format!(
                    "no successful sync since {} ({} {} allowed)",
                    s.started_at.to_rfc3339(),
                    self.healthy_within_intervals,
                    self.counted_in()
                ),
            ),
            (false, None, _) => (
                false,
                "unhealthy",
                format!(
                    "no successful sync since the daemon started at {}",
                    self.started_at.to_rfc3339()
                ),
            ),
            (true, None, _) => (true, "starting", "no successful sync yet".to_string()),
            (true, Some(_), true) => (
                true,
                "degraded",
                format!(
                    "the last cycle's result: {}; the last run through is still recent",
                    last_result.unwrap_or(RunResult::Failed)
                ),
            ),
            (true, Some(_), false) => match (&self.held, last_result) {
                (Some(held), _) => (
                    true,
                    "degraded",
                    format!(
                        "the last cycle's result: {}; {} deactivation(s) held since {}, \
                         waiting for a human: review them and run `scim-sync release-held`",
                        last_result.unwrap_or(RunResult::Held),
                        held.count,
                        held.since.to_rfc3339()
                    ),
                ),
                (None, Some(RunResult::Held)) => (
                    true,
                    "degraded",
                    "the last cycle's result: held; deactivations wait for a human: review \
                     them and run `scim-sync release-held`"
                        .to_string(),
                ),
                (None, Some(RunResult::Partial)) => (
                    true,
                    "ok",
                    "the last cycle's result: partial (some users failed within the error \
                     budget)"
                        .to_string(),
                ),
                (None, result) => (
                    true,
                    "ok",
                    format!(
                        "the last cycle's result: {}",
                        result.unwrap_or(RunResult::Success)
                    ),
                ),
            },
        };
        // Okta refusing the System Log: the sync works, at the cost of full cycles.
        let log_unavailable = self
            .last_run
            .as_ref()
            .is_some_and(|r| r.full_reason == Some(FullReason::LogUnavailable));
        let (status, reason) = if log_unavailable && status == "ok" {
            (
                "degraded",
                format!("{LOG_UNAVAILABLE} (grant okta.logs.read); {reason}"),
            )
        } else if log_unavailable {
            (status, format!("{reason}; {LOG_UNAVAILABLE}"))
        } else {
            (status, reason)
        };
        Health {
            healthy,
            status,
            reason,
            system_log: if log_unavailable {
                LOG_UNAVAILABLE
            } else {
                "available"
            },
            last_result,
            last_run: self.last_run.clone(),
            last_success: self.last_success.clone(),
            next_run: self.next_run,
            unhealthy_after: deadline,
            running_since: self.running_since,
            schedule: self.schedule.expression().to_string(),
            time_zone: self.schedule.zone().name(),
            skipped_ticks: self.skipped_ticks,
            held: self.held.clone(),
        }
    }
}

/// The body of `/healthz`.
#[derive(Debug, Clone, Serialize)]
pub struct Health {
    pub healthy: bool,
    /// "ok", "degraded" (last cycle failed while the last run through is recent, or
    /// deactivations are held for a human), "starting" or "unhealthy".
    pub status: &'static str,
    pub reason: String,
    /// "available", or [`LOG_UNAVAILABLE`] while Okta refuses the System Log.
    pub system_log: &'static str,
    /// The last finished real run's result, in the words of history and report
    /// (success, partial, held, failed, interrupted).
    pub last_result: Option<RunResult>,
    pub last_run: Option<RunInfo>,
    pub last_success: Option<RunInfo>,
    pub next_run: Option<DateTime<Utc>>,
    /// When the daemon turns unhealthy if no cycle succeeds before.
    pub unhealthy_after: Option<DateTime<Utc>>,
    pub running_since: Option<DateTime<Utc>>,
    pub schedule: String,
    pub time_zone: String,
    pub skipped_ticks: u64,
    /// Deactivations held until a human releases them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held: Option<HeldInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::schedule::Zone;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn run(result: &str, started: &str) -> RunInfo {
        RunInfo {
            id: 1,
            trigger: Trigger::Schedule,
            result: result.parse().unwrap(),
            full_reason: None,
            started_at: at(started),
            ended_at: Some(at(started)),
            duration_ms: Some(10),
            error: None,
        }
    }

    fn status() -> Status {
        Status {
            schedule: Schedule::parse("*/15 * * * *", Zone::Named(chrono_tz::UTC)).unwrap(),
            healthy_within_intervals: 3,
            incremental_interval: None,
            random_delay: Duration::ZERO,
            started_at: at("2026-01-01T10:00:00Z"),
            last_run: None,
            last_success: None,
            last_full: None,
            next_run: None,
            running_since: None,
            skipped_ticks: 0,
            held: None,
        }
    }

    #[test]
    fn held_deactivations_are_degraded_not_ok() {
        let mut s = status();
        s.last_success = Some(run("held", "2026-01-01T10:00:00Z"));
        s.last_run = Some(run("held", "2026-01-01T10:00:00Z"));
        s.held = Some(HeldInfo {
            count: 2,
            since: at("2026-01-01T09:45:00Z"),
        });
        let h = s.health(at("2026-01-01T10:05:00Z"));
        assert!(h.healthy);
        assert_eq!(h.status, "degraded");
        assert!(
            h.reason
                .contains("2 deactivation(s) held since 2026-01-01T09:45:00")
        );
        assert!(!h.reason.contains("succeeded"), "{}", h.reason);
    }

    #[test]
    fn a_held_run_says_held_even_without_the_held_set() {
        let mut s = status();
        s.last_success = Some(run("held", "2026-01-01T10:00:00Z"));
        s.last_run = Some(run("held", "2026-01-01T10:00:00Z"));
        let h = s.health(at("2026-01-01T10:05:00Z"));
        assert_eq!(h.status, "degraded");
        assert_eq!(h.last_result.map(RunResult::as_str), Some("held"));
        assert!(h.reason.contains("result: held"), "{}", h.reason);
        s.last_run = Some(run("success", "2026-01-01T10:15:00Z"));
        let h = s.health(at("2026-01-01T10:16:00Z"));
        assert_eq!(
            (h.status, h.last_result.map(RunResult::as_str)),
            ("ok", Some("success"))
        );
    }

    #[test]
    fn incremental_cycles_make_health_count_in_their_interval() {
        let mut s = status();
        s.schedule = Schedule::parse("0 3 * * *", Zone::Named(chrono_tz::UTC)).unwrap();
        s.incremental_interval = Some(Duration::from_secs(60));
        s.last_success = Some(run("success", "2026-01-01T10:00:00Z"));
        s.last_run = Some(run("failed", "2026-01-01T10:01:00Z"));
        // No full cycle has ended yet: a first one may take minutes.
        assert_eq!(s.deadline(), Some(at("2026-01-01T10:18:00Z")));
        s.last_full = Some(run("success", "2026-01-01T09:00:00Z"));
        // Three one-minute intervals plus a minute, not three days of the full schedule.
        assert_eq!(s.deadline(), Some(at("2026-01-01T10:04:00Z")));
        let late = s.health(at("2026-01-01T10:04:01Z"));
        assert!(!late.healthy);
        assert!(
            late.reason.contains("(3 incremental intervals allowed)"),
            "{}",
            late.reason
        );
        // A daily full cycle of 5 minutes, between incremental cycles 10 s apart: the
        // next one has twice that to finish before the daemon is called stopped.
        s.incremental_interval = Some(Duration::from_secs(10));
        let mut full = run("success", "2026-01-01T03:00:00Z");
        full.duration_ms = Some(5 * 60 * 1000);
        s.last_full = Some(full);
        assert_eq!(s.deadline(), Some(at("2026-01-01T10:10:30Z")));
        assert!(s.health(at("2026-01-01T10:10:00Z")).healthy);
        s.incremental_interval = Some(Duration::from_secs(60));
        s.last_full = None;
        // A schedule more frequent than the interval still counts.
        s.schedule = Schedule::parse("* * * * * *", Zone::Named(chrono_tz::UTC)).unwrap();
        assert!(s.deadline() < Some(at("2026-01-01T10:04:00Z")));
    }

    #[test]
    fn stale_success_is_unhealthy_one_failure_is_not() {
        let mut s = status();
        s.last_success = Some(run("success", "2026-01-01T10:00:00Z"));
        s.last_run = Some(run("failed", "2026-01-01T10:15:00Z"));
        // Three runs after 10:00 is 10:45, plus a minute to finish.
        assert_eq!(s.deadline(), Some(at("2026-01-01T10:46:00Z")));
        let h = s.health(at("2026-01-01T10:20:00Z"));
        assert!(h.healthy);
        assert_eq!(h.status, "degraded");
        let h = s.health(at("2026-01-01T10:46:01Z"));
        assert!(!h.healthy);
        assert_eq!(h.status, "unhealthy");
    }

    #[test]
    fn a_long_last_cycle_gets_more_time_to_finish() {
        let mut s = status();
        s.last_success = Some(run("success", "2026-01-01T10:00:00Z"));
        let mut slow = run("failed", "2026-01-01T10:15:00Z");
        slow.duration_ms = Some(4 * 60 * 1000);
        s.last_run = Some(slow);
        assert_eq!(s.deadline(), Some(at("2026-01-01T10:53:00Z")));
        slow = run("failed", "2026-01-01T10:15:00Z");
        slow.duration_ms = Some(60 * 60 * 1000);
        s.last_run = Some(slow);
        assert_eq!(s.deadline(), Some(at("2026-01-01T11:00:00Z")));
    }

    #[test]
    fn starting_daemon_gets_the_same_grace() {
        let s = status();
        assert!(s.health(at("2026-01-01T10:30:00Z")).healthy);
        assert!(!s.health(at("2026-01-01T11:30:00Z")).healthy);
    }
}
