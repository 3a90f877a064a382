//! The journal: runs (started, ended with a result), every operation (an intent before
//! its call, the outcome after it), and what each run's plan held or left to a human.

use std::str::FromStr;

use rusqlite::{OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use super::run::{CycleKind, OpState, RunMode, RunRecord, RunResult, RunSummary, Trigger};
use super::{Store, StoreError, now};
use scim_sync_plan::model::UnknownValue;
use scim_sync_plan::{OpKind, Operation, Plan, string_enum};

string_enum! {
    /// Which part of a plan a recorded item was in.
    pub enum PlanCategory ("plan item category") {
        Operation => "operation",
        Held => "held",
        Attention => "attention",
        Unmanaged => "unmanaged",
    }
}

/// A row of the operations table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpRecord {
    pub id: i64,
    pub run_id: i64,
    pub kind: OpKind,
    pub okta_id: Option<String>,
    pub scim_id: Option<String>,
    pub user_name: String,
    pub invite_id: Option<String>,
    pub reason: String,
    pub state: OpState,
    pub http_status: Option<i64>,
    pub error: Option<String>,
    pub request_id: Option<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
}

/// A plan item as recorded with its run (for `history`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanItem {
    pub category: PlanCategory,
    /// The operation kind (operations and held deactivations).
    pub kind: Option<OpKind>,
    pub okta_id: Option<String>,
    pub scim_id: Option<String>,
    pub user_name: String,
    pub reason: String,
}

/// Reads a column holding one of an enum's strings; an unknown value is an error that
/// names the column's meaning and the value.
fn parsed<T: FromStr<Err = UnknownValue>>(r: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let text: String = r.get(idx)?;
    text.parse().map_err(|e| conversion_error(idx, e))
}

/// Reads a nullable column of an enum's strings (see [`parsed`]).
fn parsed_opt<T: FromStr<Err = UnknownValue>>(
    r: &Row<'_>,
    idx: usize,
) -> rusqlite::Result<Option<T>> {
    let text: Option<String> = r.get(idx)?;
    text.map(|t| t.parse())
        .transpose()
        .map_err(|e| conversion_error(idx, e))
}

fn conversion_error(
    idx: usize,
    e: impl std::error::Error + Send + Sync + 'static,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
}

/// Reads a run's summary; one that doesn't parse is an error naming what is wrong.
fn summary_column(r: &Row<'_>, idx: usize) -> rusqlite::Result<Option<RunSummary>> {
    let text: Option<String> = r.get(idx)?;
    text.map(|t| serde_json::from_str(&t))
        .transpose()
        .map_err(|e| conversion_error(idx, e))
}

/// A summary as stored. Serializing plain counts and string-keyed maps can't fail; an
/// empty object would only lose the figures, never the run.
pub(super) fn summary_json(summary: &RunSummary) -> String {
    serde_json::to_string(summary).unwrap_or_else(|_| "{}".to_string())
}

impl Store {
    /// Starts a run; returns its id.
    ///
    /// Dry runs don't take the writer lock, so whether one is still alive is told by
    /// `<db>.dry.lock`: a dry run holds it shared from before its row exists until
    /// [`Store::finish_run`] (or its process's death). Every run starting first tries it
    /// exclusively; when no dry run is alive, the dry runs that never ended died, and are
    /// closed as interrupted.
    pub fn start_run(&self, trigger: Trigger, mode: RunMode) -> Result<i64, StoreError> {
        let dry_lock = super::lock::sibling(&self.path, "dry.lock");
        // A database in memory has no other process to tell about.
        if !self.in_memory
            && let Some(_alone) =
                super::lock::lock_file(&dry_lock, super::lock::Mode::TryExclusive)?
        {
            let closed = self.close_runs(None, RunMode::DryRun)?;
            if closed > 0 {
                tracing::warn!(
                    closed,
                    "closed dry runs whose process stopped before they ended"
                );
            }
        }
        if mode == RunMode::DryRun && !self.in_memory {
            let guard = super::lock::lock_file(&dry_lock, super::lock::Mode::Shared)?;
            *self.dry_run_guard.lock().unwrap_or_else(|p| p.into_inner()) = guard;
        }
        let conn = self.conn();
        conn.execute(
            "INSERT INTO runs (started_at, trigger, mode) VALUES (?1, ?2, ?3)",
            params![now(), trigger.as_str(), mode.as_str()],
        )
        .map_err(|e| self.sql(e))?;
        Ok(conn.last_insert_rowid())
    }

    /// Ends a run with its result, summary (None: it counted nothing) and error (if any).
    pub fn finish_run(
        &self,
        run_id: i64,
        result: RunResult,
        summary: Option<&RunSummary>,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE runs SET ended_at = ?2, result = ?3, summary = ?4, error = ?5 WHERE id = ?1",
            params![run_id, now(), result.as_str(), summary.map(summary_json), error],
        ).map_err(|e| self.sql(e))?;
        self.release_dry_run_guard();
        Ok(())
    }

    /// A dry run that ended lets go of `<db>.dry.lock`.
    pub(super) fn release_dry_run_guard(&self) {
        self.dry_run_guard
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
    }

    /// Ends, as interrupted, the runs that applied changes and never ended (their
    /// process died); `current` is the run now starting. Returns how many.
    /// Only the holder of the writer lock may call it. (Dry runs that died are closed by
    /// [`Store::start_run`].)
    pub fn close_abandoned_runs(&self, current: i64) -> Result<usize, StoreError> {
        self.close_runs(Some(current), RunMode::Apply)
    }

    fn close_runs(&self, current: Option<i64>, mode: RunMode) -> Result<usize, StoreError> {
        self.conn()
            .execute(
                "UPDATE runs SET ended_at = ?2, result = ?3,
             error = 'the process stopped before the run ended'
             WHERE ended_at IS NULL AND mode = ?4 AND (?1 IS NULL OR id <> ?1)",
                params![
                    current,
                    now(),
                    RunResult::Interrupted.as_str(),
                    mode.as_str()
                ],
            )
            .map_err(|e| self.sql(e))
    }

    /// Records what the plan of a run contained (operations, held, attention, unmanaged).
    pub fn record_plan(&self, run_id: i64, plan: &Plan) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.sql(e))?;
        {
            let mut ins = tx.prepare(
                "INSERT INTO plan_items (run_id, category, kind, okta_id, scim_id, user_name, reason)
                 VALUES (?1,?2,?3,?4,?5,?6,?7)",
            ).map_err(|e| self.sql(e))?;
            for (category, ops) in [
                (PlanCategory::Operation, &plan.operations),
                (PlanCategory::Held, &plan.held),
            ] {
                for o in ops {
                    ins.execute(params![
                        run_id,
                        category.as_str(),
                        o.kind().as_str(),
                        o.okta_id(),
                        o.scim_id(),
                        o.user_name(),
                        o.reason()
                    ])
                    .map_err(|e| self.sql(e))?;
                }
            }
            for a in &plan.attention {
                ins.execute(params![
                    run_id,
                    PlanCategory::Attention.as_str(),
                    Option::<String>::None,
                    a.okta_id,
                    a.scim_id,
                    a.user_name,
                    a.reason()
                ])
                .map_err(|e| self.sql(e))?;
            }
            for u in &plan.unmanaged {
                ins.execute(params![
                    run_id,
                    PlanCategory::Unmanaged.as_str(),
                    Option::<String>::None,
                    u.external_id,
                    u.scim_id,
                    u.user_name,
                    format!("not managed by scim-sync ({})", u.membership)
                ])
                .map_err(|e| self.sql(e))?;
            }
        }
        tx.commit().map_err(|e| self.sql(e))?;
        Ok(())
    }

    pub fn plan_items(&self, run_id: i64) -> Result<Vec<PlanItem>, StoreError> {
        let conn = self.conn();
        let mut st = conn
            .prepare(
                "SELECT category, kind, okta_id, scim_id, user_name, reason FROM plan_items
             WHERE run_id = ?1 ORDER BY rowid",
            )
            .map_err(|e| self.sql(e))?;
        let rows = st
            .query_map(params![run_id], |r| {
                let kind: Option<String> = r.get(1)?;
                Ok(PlanItem {
                    category: parsed(r, 0)?,
                    kind: match kind {
                        Some(_) => Some(parsed(r, 1)?),
                        None => None,
                    },
                    okta_id: r.get(2)?,
                    scim_id: r.get(3)?,
                    user_name: r.get(4)?,
                    reason: r.get(5)?,
                })
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }

    /// The deactivations the latest run that held any held (what a human reviewed before
    /// passing `--release-held`).
    pub fn last_held(&self) -> Result<Vec<PlanItem>, StoreError> {
        let run: Option<i64> = self
            .conn()
            .query_row(
                "SELECT max(run_id) FROM plan_items WHERE category = ?1",
                params![PlanCategory::Held.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql(e))?
            .flatten();
        match run {
            Some(run) => Ok(self
                .plan_items(run)?
                .into_iter()
                .filter(|i| i.category == PlanCategory::Held)
                .collect()),
            None => Ok(Vec::new()),
        }
    }

    /// Writes an operation's intent before its call; returns the operation's id.
    pub fn record_intent(&self, run_id: i64, op: &Operation) -> Result<i64, StoreError> {
        let conn = self.conn();
        let detail = serde_json::to_string(op).unwrap_or_default();
        conn.execute(
            "INSERT INTO operations (run_id, kind, okta_id, scim_id, user_name, invite_id, detail,
             reason, state, started_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
            params![
                run_id,
                op.kind().as_str(),
                op.okta_id(),
                op.scim_id(),
                op.user_name(),
                op.invite_id(),
                detail,
                op.reason(),
                OpState::Intent.as_str(),
                now()
            ],
        )
        .map_err(|e| self.sql(e))?;
        Ok(conn.last_insert_rowid())
    }

    /// Writes an operation's outcome after its call.
    #[allow(clippy::too_many_arguments)]
    pub fn record_outcome(
        &self,
        op_id: i64,
        state: OpState,
        scim_id: Option<&str>,
        http_status: Option<u16>,
        error: Option<&str>,
        request_id: Option<&str>,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE operations SET state = ?2, scim_id = COALESCE(?3, scim_id), http_status = ?4,
             error = ?5, request_id = ?6, finished_at = ?7 WHERE id = ?1",
            params![
                op_id,
                state.as_str(),
                scim_id,
                http_status,
                error,
                request_id,
                now()
            ],
        ).map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// Operations whose intent was written but whose outcome never was (a crash).
    pub fn unfinished_operations(&self) -> Result<Vec<OpRecord>, StoreError> {
        self.query_ops(
            "WHERE state = ?1 ORDER BY id",
            params![OpState::Intent.as_str()],
        )
    }

    pub fn operations_of_run(&self, run_id: i64) -> Result<Vec<OpRecord>, StoreError> {
        self.query_ops("WHERE run_id = ?1 ORDER BY id", params![run_id])
    }

    /// The latest operations on one person (by email or Okta id), newest first.
    pub fn operations_for(&self, who: &str, limit: u32) -> Result<Vec<OpRecord>, StoreError> {
        self.query_ops(
            "WHERE lower(user_name) = lower(?1) OR okta_id = ?1 ORDER BY id DESC LIMIT ?2",
            params![who, limit],
        )
    }

    /// Operations that started at or after `since` (RFC 3339), oldest first.
    pub fn operations_since(&self, since: &str) -> Result<Vec<OpRecord>, StoreError> {
        self.query_ops("WHERE started_at >= ?1 ORDER BY id", params![since])
    }

    fn query_ops(
        &self,
        clause: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<OpRecord>, StoreError> {
        let conn = self.conn();
        let sql = format!(
            "SELECT id, run_id, kind, okta_id, scim_id, user_name, invite_id, reason, state,
             http_status, error, request_id, started_at, finished_at FROM operations {clause}"
        );
        let mut st = conn.prepare(&sql).map_err(|e| self.sql(e))?;
        let rows = st
            .query_map(args, |r| {
                Ok(OpRecord {
                    id: r.get(0)?,
                    run_id: r.get(1)?,
                    kind: parsed(r, 2)?,
                    okta_id: r.get(3)?,
                    scim_id: r.get(4)?,
                    user_name: r.get(5)?,
                    invite_id: r.get(6)?,
                    reason: r.get(7)?,
                    state: parsed(r, 8)?,
                    http_status: r.get(9)?,
                    error: r.get(10)?,
                    request_id: r.get(11)?,
                    started_at: r.get(12)?,
                    finished_at: r.get(13)?,
                })
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }

    /// The last `limit` runs, newest first.
    pub fn runs(&self, limit: u32) -> Result<Vec<RunRecord>, StoreError> {
        self.query_runs("ORDER BY id DESC LIMIT ?1", params![limit])
    }

    pub fn run(&self, id: i64) -> Result<Option<RunRecord>, StoreError> {
        Ok(self
            .query_runs("WHERE id = ?1", params![id])?
            .into_iter()
            .next())
    }

    /// Runs that started at or after `since` (RFC 3339), oldest first.
    pub fn runs_since(&self, since: &str) -> Result<Vec<RunRecord>, StoreError> {
        self.query_runs("WHERE started_at >= ?1 ORDER BY id", params![since])
    }

    /// The last run that applied changes (not a dry run) and succeeded.
    pub fn last_success(&self) -> Result<Option<RunRecord>, StoreError> {
        Ok(self
            .query_runs(
                "WHERE mode = ?1 AND result = ?2 ORDER BY id DESC LIMIT 1",
                params![RunMode::Apply.as_str(), RunResult::Success.as_str()],
            )?
            .into_iter()
            .next())
    }

    /// The last finished run that applied changes (any result).
    pub fn last_apply_run(&self) -> Result<Option<RunRecord>, StoreError> {
        Ok(self
            .query_runs(
                "WHERE mode = ?1 AND ended_at IS NOT NULL ORDER BY id DESC LIMIT 1",
                params![RunMode::Apply.as_str()],
            )?
            .into_iter()
            .next())
    }

    /// The last finished full cycle that applied changes (any result).
    pub fn last_full_apply_run(&self) -> Result<Option<RunRecord>, StoreError> {
        Ok(self
            .query_runs(
                "WHERE mode = ?1 AND ended_at IS NOT NULL AND kind = ?2 \
                 ORDER BY id DESC LIMIT 1",
                params![RunMode::Apply.as_str(), CycleKind::Full.as_str()],
            )?
            .into_iter()
            .next())
    }

    fn query_runs(
        &self,
        clause: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<RunRecord>, StoreError> {
        let conn = self.conn();
        let sql = format!(
            "SELECT id, started_at, ended_at, trigger, mode, result, summary, error, kind FROM runs {clause}"
        );
        let mut st = conn.prepare(&sql).map_err(|e| self.sql(e))?;
        let rows = st
            .query_map(args, |r| {
                Ok(RunRecord {
                    id: r.get(0)?,
                    started_at: r.get(1)?,
                    ended_at: r.get(2)?,
                    trigger: parsed(r, 3)?,
                    mode: parsed(r, 4)?,
                    result: parsed_opt(r, 5)?,
                    summary: summary_column(r, 6)?,
                    error: r.get(7)?,
                    kind: parsed_opt(r, 8)?,
                })
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }

    /// Number of runs recorded (for tests: a read-only command must not add one).
    pub fn count_runs(&self) -> Result<i64, StoreError> {
        self.conn()
            .query_row("SELECT count(*) FROM runs", [], |r| r.get(0))
            .map_err(|e| self.sql(e))
    }

    /// Number of rows in the operations table with a given kind and state (for tests and metrics).
    pub fn count_operations(&self, kind: OpKind, state: OpState) -> Result<i64, StoreError> {
        self.conn()
            .query_row(
                "SELECT count(*) FROM operations WHERE kind = ?1 AND state = ?2",
                params![kind.as_str(), state.as_str()],
                |r| r.get(0),
            )
            .map_err(|e| self.sql(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intents_without_outcome_are_unfinished() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        let run = store.start_run(Trigger::Manual, RunMode::Apply).unwrap();
        let op = Operation::Create {
            okta_id: "00u1".into(),
            user_name: "a@x.com".into(),
            given_name: None,
            family_name: None,
            reason: "r".into(),
        };
        let a = store.record_intent(run, &op).unwrap();
        let b = store.record_intent(run, &op).unwrap();
        store
            .record_outcome(a, OpState::Done, Some("s1"), Some(201), None, Some("req"))
            .unwrap();
        let unfinished = store.unfinished_operations().unwrap();
        assert_eq!(unfinished.len(), 1);
        assert_eq!(unfinished[0].id, b);
        assert_eq!(unfinished[0].kind, OpKind::Create);
        assert_eq!(unfinished[0].state, OpState::Intent);
        // Reopening keeps everything (migrations are idempotent).
        drop(store);
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        assert_eq!(store.operations_of_run(run).unwrap().len(), 2);
    }

    #[test]
    fn unknown_stored_values_are_errors_that_name_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        let run = store.start_run(Trigger::Manual, RunMode::Apply).unwrap();
        store
            .conn()
            .execute(
                "INSERT INTO operations (run_id, kind, user_name, detail, reason, state, started_at)
                 VALUES (?1, 'teleport', 'a@x.com', '{}', 'r', 'done', 'now')",
                params![run],
            )
            .unwrap();
        let err = store.operations_of_run(run).unwrap_err().to_string();
        assert!(err.contains("unknown operation kind \"teleport\""), "{err}");
        store
            .conn()
            .execute(
                "UPDATE runs SET result = 'great' WHERE id = ?1",
                params![run],
            )
            .unwrap();
        // Read back, the unknown value is an error that names it (and the database).
        let err = store.runs(1).unwrap_err().to_string();
        assert!(err.contains("unknown run result \"great\""), "{err}");
    }

    #[test]
    fn dead_dry_runs_are_closed_by_the_next_run_live_ones_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.db");
        let store = Store::open(&db).unwrap();
        let other = Store::open(&db).unwrap();
        // A dry run alive in another process (the other Store holds the shared lock).
        let alive = other.start_run(Trigger::Manual, RunMode::DryRun).unwrap();
        // A dry run whose process died: its row, and no lock held.
        let dead = store.start_run(Trigger::Manual, RunMode::DryRun).unwrap();
        store.dry_run_guard.lock().unwrap().take();
        // While a dry run is alive, nothing is closed.
        let apply = store.start_run(Trigger::Manual, RunMode::Apply).unwrap();
        assert_eq!(store.run(dead).unwrap().unwrap().ended_at, None);
        assert_eq!(store.run(alive).unwrap().unwrap().ended_at, None);
        store
            .finish_run(apply, RunResult::Success, None, None)
            .unwrap();
        other
            .finish_run(alive, RunResult::Planned, None, None)
            .unwrap();
        // Once it has ended, the next run closes the dead one only.
        store.start_run(Trigger::Manual, RunMode::DryRun).unwrap();
        let closed = store.run(dead).unwrap().unwrap();
        assert_eq!(closed.result, Some(RunResult::Interrupted));
        let ended = store.run(alive).unwrap().unwrap();
        assert_eq!(ended.result, Some(RunResult::Planned));
    }
}
