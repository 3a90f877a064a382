//! How long the run history keeps what: a quiet cycle (it planned and wrote nothing; one
//! every 10 s by default) is kept [`QUIET_RUNS_KEPT_DAYS`]; every other run, with its
//! plan and operations, is kept for good.

use rusqlite::params;

use super::{Store, StoreError};

/// Days of quiet runs kept (8,640 a day at the default interval).
pub const QUIET_RUNS_KEPT_DAYS: i64 = 7;

impl Store {
    /// Forgets quiet runs that started more than [`QUIET_RUNS_KEPT_DAYS`] before `now`
    /// (none with an operation or a plan item, whatever its summary says). Returns how
    /// many went.
    pub fn forget_old_quiet_runs(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<usize, StoreError> {
        let before = (now - chrono::Duration::days(QUIET_RUNS_KEPT_DAYS))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        self.conn()
            .execute(
                "DELETE FROM runs
                 WHERE started_at < ?1 AND ended_at IS NOT NULL
                   AND json_extract(summary, '$.quiet') = 1
                   AND NOT EXISTS (SELECT 1 FROM operations o WHERE o.run_id = runs.id)
                   AND NOT EXISTS (SELECT 1 FROM plan_items p WHERE p.run_id = runs.id)",
                params![before],
            )
            .map_err(|e| self.sql(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{CycleKind, RunMode, RunResult, RunSummary, Trigger};

    #[test]
    fn quiet_runs_go_after_a_week_and_every_other_run_stays() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        let finish = |quiet: bool| {
            let id = store.start_run(Trigger::Schedule, RunMode::Apply).unwrap();
            let summary = RunSummary {
                quiet,
                ..RunSummary::default()
            };
            store
                .finish_run_with_cursor(
                    id,
                    RunResult::Success,
                    &summary,
                    CycleKind::Incremental,
                    None,
                    None,
                )
                .unwrap();
            id
        };
        let planning = finish(false);
        let quiet = finish(true);
        let now = chrono::Utc::now();
        // Within the week: both stay.
        assert_eq!(store.forget_old_quiet_runs(now).unwrap(), 0);
        // Eight days on: the quiet one goes, the one that planned stays.
        let later = now + chrono::Duration::days(8);
        assert_eq!(store.forget_old_quiet_runs(later).unwrap(), 1);
        assert!(store.run(quiet).unwrap().is_none());
        assert!(store.run(planning).unwrap().is_some());
    }
}
