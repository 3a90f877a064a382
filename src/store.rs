//! The local SQLite snapshot: team members, Okta id ↔ SCIM id links, pending invites,
//! the last Okta read, run history and every operation applied (intent, then outcome).
//!
//! One process at a time writes a state database: [`StateLock`] takes an exclusive
//! `flock` on `<db>.lock` and records who holds it.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use rusqlite_migration::{M, Migrations};
use serde::{Deserialize, Serialize};

use crate::plan::{AssignedUser, Member, OktaLookup, OpKind, Operation, PendingInvite, Plan};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state database {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("state database {path}: migrating the schema failed: {source}")]
    Migrate {
        path: String,
        source: rusqlite_migration::Error,
    },
    #[error("state database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("cannot create the state directory {path}: {source}")]
    Dir {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "another scim-sync process holds the state database {path} ({holder}); \
         only one cycle at a time may write it"
    )]
    Locked { path: String, holder: String },
    #[error("cannot lock the state database {path}: {source}")]
    Lock {
        path: String,
        source: std::io::Error,
    },
}

const MIGRATIONS_SLICE: &[M<'static>] = &[
    M::up(
        r#"
CREATE TABLE members (
    scim_id      TEXT PRIMARY KEY,
    user_name    TEXT NOT NULL,
    given_name   TEXT,
    family_name  TEXT,
    external_id  TEXT,
    active       INTEGER NOT NULL,
    membership   TEXT NOT NULL,
    role         TEXT,
    refreshed_at TEXT NOT NULL
);
CREATE INDEX members_user_name ON members (lower(user_name));
CREATE INDEX members_external_id ON members (external_id);

CREATE TABLE links (
    okta_id   TEXT PRIMARY KEY,
    scim_id   TEXT NOT NULL UNIQUE,
    linked_at TEXT NOT NULL
);

CREATE TABLE invites (
    id           TEXT PRIMARY KEY,
    email        TEXT NOT NULL,
    source       TEXT NOT NULL,
    invited_by   TEXT,
    created_at   TEXT NOT NULL,
    refreshed_at TEXT NOT NULL
);
CREATE INDEX invites_email ON invites (lower(email));

CREATE TABLE okta_users (
    okta_id     TEXT PRIMARY KEY,
    okta_status TEXT NOT NULL,
    app_status  TEXT NOT NULL,
    scope       TEXT NOT NULL,
    user_name   TEXT,
    given_name  TEXT,
    family_name TEXT,
    read_at     TEXT NOT NULL
);

CREATE TABLE runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at  TEXT NOT NULL,
    ended_at    TEXT,
    trigger     TEXT NOT NULL,
    mode        TEXT NOT NULL,
    result      TEXT,
    summary     TEXT,
    error       TEXT
);

CREATE TABLE operations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      INTEGER NOT NULL REFERENCES runs (id),
    kind        TEXT NOT NULL,
    okta_id     TEXT,
    scim_id     TEXT,
    user_name   TEXT NOT NULL,
    invite_id   TEXT,
    detail      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    state       TEXT NOT NULL,
    http_status INTEGER,
    error       TEXT,
    request_id  TEXT,
    started_at  TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX operations_run ON operations (run_id);
CREATE INDEX operations_state ON operations (state);
CREATE INDEX operations_user ON operations (lower(user_name));

CREATE TABLE plan_items (
    run_id    INTEGER NOT NULL REFERENCES runs (id),
    category  TEXT NOT NULL,
    kind      TEXT,
    okta_id   TEXT,
    scim_id   TEXT,
    user_name TEXT NOT NULL,
    reason    TEXT NOT NULL
);
CREATE INDEX plan_items_run ON plan_items (run_id);
"#,
    ),
    // The last cycle's lookups of unassigned members' Okta users, so that reports plan
    // from the snapshot with the same facts the cycle had.
    M::up(
        r#"
CREATE TABLE okta_lookups (
    okta_id     TEXT PRIMARY KEY,
    outcome     TEXT NOT NULL,
    status      TEXT,
    reason      TEXT,
    read_at     TEXT NOT NULL
);
"#,
    ),
];

const MIGRATIONS: Migrations<'static> = Migrations::from_slice(MIGRATIONS_SLICE);

/// Where an operation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpState {
    /// Written before the call; still there after a crash means the outcome is unknown.
    Intent,
    Done,
    Failed,
    /// Found unfinished after a crash and resolved by looking at kafkaman.
    Recovered,
    /// Not attempted (shutdown before its turn).
    Skipped,
}

impl OpState {
    pub fn as_str(self) -> &'static str {
        match self {
            OpState::Intent => "intent",
            OpState::Done => "done",
            OpState::Failed => "failed",
            OpState::Recovered => "recovered",
            OpState::Skipped => "skipped",
        }
    }
}

/// A row of the operations table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpRecord {
    pub id: i64,
    pub run_id: i64,
    pub kind: String,
    pub okta_id: Option<String>,
    pub scim_id: Option<String>,
    pub user_name: String,
    pub invite_id: Option<String>,
    pub reason: String,
    pub state: String,
    pub http_status: Option<i64>,
    pub error: Option<String>,
    pub request_id: Option<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
}

/// A row of the runs table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: i64,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub trigger: String,
    pub mode: String,
    pub result: Option<String>,
    /// Counts and figures as JSON (see `sync::RunSummary`).
    pub summary: Option<serde_json::Value>,
    pub error: Option<String>,
}

/// A plan item as recorded with its run (for reports and `explain`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanItem {
    pub category: String,
    pub kind: Option<String>,
    pub okta_id: Option<String>,
    pub scim_id: Option<String>,
    pub user_name: String,
    pub reason: String,
}

/// The state database.
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Store {
    /// Opens (creating if needed) and migrates the state database.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let open_err = |source| StoreError::Open {
            path: path.display().to_string(),
            source,
        };
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        MIGRATIONS
            .to_latest(&mut conn)
            .map_err(|source| StoreError::Migrate {
                path: path.display().to_string(),
                source,
            })?;
        Ok(Store {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        })
    }

    /// Opens an existing database read-only (reports); None when it doesn't exist.
    pub fn open_existing(path: &Path) -> Result<Option<Store>, StoreError> {
        if !path.exists() {
            return Ok(None);
        }
        Self::open(path).map(Some)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the team snapshot (members and pending invites) with a fresh read.
    pub fn replace_team(
        &self,
        members: &[Member],
        invites: &[PendingInvite],
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let at = now();
        tx.execute("DELETE FROM members", [])?;
        tx.execute("DELETE FROM invites", [])?;
        {
            let mut ins = tx.prepare(
                "INSERT INTO members (scim_id, user_name, given_name, family_name, external_id,
                 active, membership, role, refreshed_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
            )?;
            for m in members {
                ins.execute(params![
                    m.scim_id,
                    m.user_name,
                    m.given_name,
                    m.family_name,
                    m.external_id,
                    m.active,
                    m.membership,
                    m.role,
                    at
                ])?;
            }
            let mut ins = tx.prepare(
                "INSERT OR REPLACE INTO invites (id, email, source, invited_by, created_at, refreshed_at)
                 VALUES (?1,?2,?3,?4,?5,?6)",
            )?;
            for i in invites {
                ins.execute(params![
                    i.id,
                    i.email,
                    i.source,
                    i.invited_by,
                    i.created_at,
                    at
                ])?;
            }
        }
        // Links to members that no longer exist in kafkaman are dropped.
        tx.execute(
            "DELETE FROM links WHERE scim_id NOT IN (SELECT scim_id FROM members)",
            [],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Records the last complete Okta read.
    pub fn replace_okta_users(&self, users: &[AssignedUser]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let at = now();
        tx.execute("DELETE FROM okta_users", [])?;
        {
            let mut ins = tx.prepare(
                "INSERT OR REPLACE INTO okta_users (okta_id, okta_status, app_status, scope, user_name,
                 given_name, family_name, read_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
            )?;
            for u in users {
                ins.execute(params![
                    u.okta_id,
                    u.okta_status,
                    u.app_status,
                    u.scope,
                    u.user_name,
                    u.given_name,
                    u.family_name,
                    at
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Records the lookups of the last complete Okta read.
    pub fn replace_okta_lookups(
        &self,
        lookups: &std::collections::HashMap<String, OktaLookup>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let at = now();
        tx.execute("DELETE FROM okta_lookups", [])?;
        {
            let mut ins = tx.prepare(
                "INSERT INTO okta_lookups (okta_id, outcome, status, reason, read_at)
                 VALUES (?1,?2,?3,?4,?5)",
            )?;
            for (id, l) in lookups {
                let (outcome, status, reason) = match l {
                    OktaLookup::Found { status } => ("found", Some(status.as_str()), None),
                    OktaLookup::NotFound => ("not_found", None, None),
                    OktaLookup::Failed { reason } => ("failed", None, Some(reason.as_str())),
                };
                ins.execute(params![id, outcome, status, reason, at])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The lookups of the last complete Okta read.
    pub fn okta_lookups(&self) -> Result<HashMap<String, OktaLookup>, StoreError> {
        let conn = self.conn();
        let mut st = conn.prepare("SELECT okta_id, outcome, status, reason FROM okta_lookups")?;
        let rows = st.query_map([], |r| {
            let outcome: String = r.get(1)?;
            let status: Option<String> = r.get(2)?;
            let reason: Option<String> = r.get(3)?;
            let lookup = match outcome.as_str() {
                "found" => OktaLookup::Found {
                    status: status.unwrap_or_default(),
                },
                "not_found" => OktaLookup::NotFound,
                _ => OktaLookup::Failed {
                    reason: reason.unwrap_or_default(),
                },
            };
            Ok((r.get::<_, String>(0)?, lookup))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn members(&self) -> Result<Vec<Member>, StoreError> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT scim_id, user_name, given_name, family_name, external_id, active, membership, role
             FROM members ORDER BY lower(user_name)",
        )?;
        let rows = st.query_map([], |r| {
            Ok(Member {
                scim_id: r.get(0)?,
                user_name: r.get(1)?,
                given_name: r.get(2)?,
                family_name: r.get(3)?,
                external_id: r.get(4)?,
                active: r.get(5)?,
                membership: r.get(6)?,
                role: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn invites(&self) -> Result<Vec<PendingInvite>, StoreError> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT id, email, source, invited_by, created_at FROM invites ORDER BY lower(email), id",
        )?;
        let rows = st.query_map([], |r| {
            Ok(PendingInvite {
                id: r.get(0)?,
                email: r.get(1)?,
                source: r.get(2)?,
                invited_by: r.get(3)?,
                created_at: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn okta_users(&self) -> Result<Vec<AssignedUser>, StoreError> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT okta_id, okta_status, app_status, scope, user_name, given_name, family_name
             FROM okta_users ORDER BY okta_id",
        )?;
        let rows = st.query_map([], |r| {
            Ok(AssignedUser {
                okta_id: r.get(0)?,
                okta_status: r.get(1)?,
                app_status: r.get(2)?,
                scope: r.get(3)?,
                user_name: r.get(4)?,
                given_name: r.get(5)?,
                family_name: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Okta id -> SCIM id.
    pub fn links(&self) -> Result<HashMap<String, String>, StoreError> {
        let conn = self.conn();
        let mut st = conn.prepare("SELECT okta_id, scim_id FROM links")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records that an Okta user and a member are the same person.
    pub fn link(&self, okta_id: &str, scim_id: &str) -> Result<(), StoreError> {
        let conn = self.conn();
        conn.execute(
            "DELETE FROM links WHERE scim_id = ?1 AND okta_id <> ?2",
            params![scim_id, okta_id],
        )?;
        conn.execute(
            "INSERT INTO links (okta_id, scim_id, linked_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (okta_id) DO UPDATE SET scim_id = excluded.scim_id",
            params![okta_id, scim_id, now()],
        )?;
        Ok(())
    }

    /// Updates one member of the snapshot after a successful write.
    pub fn upsert_member(&self, m: &Member) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO members (scim_id, user_name, given_name, family_name, external_id, active,
             membership, role, refreshed_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)
             ON CONFLICT (scim_id) DO UPDATE SET user_name = excluded.user_name,
             given_name = excluded.given_name, family_name = excluded.family_name,
             external_id = excluded.external_id, active = excluded.active,
             membership = excluded.membership, role = excluded.role,
             refreshed_at = excluded.refreshed_at",
            params![
                m.scim_id,
                m.user_name,
                m.given_name,
                m.family_name,
                m.external_id,
                m.active,
                m.membership,
                m.role,
                now()
            ],
        )?;
        Ok(())
    }

    pub fn remove_invite(&self, id: &str) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM invites WHERE id = ?1", params![id])?;
        Ok(())
    }

    /// Starts a run; returns its id.
    pub fn start_run(&self, trigger: &str, mode: &str) -> Result<i64, StoreError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO runs (started_at, trigger, mode) VALUES (?1, ?2, ?3)",
            params![now(), trigger, mode],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// Ends a run with its result, summary and error (if any).
    pub fn finish_run(
        &self,
        run_id: i64,
        result: &str,
        summary: &serde_json::Value,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE runs SET ended_at = ?2, result = ?3, summary = ?4, error = ?5 WHERE id = ?1",
            params![run_id, now(), result, summary.to_string(), error],
        )?;
        Ok(())
    }

    /// Ends, as interrupted, the runs that applied changes and never ended (their
    /// process died); `current` is the run now starting. Returns how many.
    pub fn close_abandoned_runs(&self, current: i64) -> Result<usize, StoreError> {
        Ok(self.conn().execute(
            "UPDATE runs SET ended_at = ?2, result = 'interrupted',
             error = 'the process stopped before the run ended'
             WHERE ended_at IS NULL AND mode = 'apply' AND id <> ?1",
            params![current, now()],
        )?)
    }

    /// Records what the plan of a run contained (operations, held, attention, unmanaged).
    pub fn record_plan(&self, run_id: i64, plan: &Plan) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut ins = tx.prepare(
                "INSERT INTO plan_items (run_id, category, kind, okta_id, scim_id, user_name, reason)
                 VALUES (?1,?2,?3,?4,?5,?6,?7)",
            )?;
            for (cat, ops) in [("operation", &plan.operations), ("held", &plan.held)] {
                for o in ops {
                    ins.execute(params![
                        run_id,
                        cat,
                        o.kind.as_str(),
                        o.okta_id,
                        o.scim_id,
                        o.user_name,
                        o.reason
                    ])?;
                }
            }
            for a in &plan.attention {
                ins.execute(params![
                    run_id,
                    "attention",
                    Option::<String>::None,
                    a.okta_id,
                    a.scim_id,
                    a.user_name,
                    a.reason
                ])?;
            }
            for u in &plan.unmanaged {
                ins.execute(params![
                    run_id,
                    "unmanaged",
                    Option::<String>::None,
                    u.external_id,
                    u.scim_id,
                    u.user_name,
                    format!("not managed by scim-sync ({})", u.membership)
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub fn plan_items(&self, run_id: i64) -> Result<Vec<PlanItem>, StoreError> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT category, kind, okta_id, scim_id, user_name, reason FROM plan_items
             WHERE run_id = ?1 ORDER BY rowid",
        )?;
        let rows = st.query_map(params![run_id], |r| {
            Ok(PlanItem {
                category: r.get(0)?,
                kind: r.get(1)?,
                okta_id: r.get(2)?,
                scim_id: r.get(3)?,
                user_name: r.get(4)?,
                reason: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The deactivations the latest run that held any held (what a human reviewed before
    /// passing `--release-held`).
    pub fn last_held(&self) -> Result<Vec<PlanItem>, StoreError> {
        let run: Option<i64> = self
            .conn()
            .query_row(
                "SELECT max(run_id) FROM plan_items WHERE category = 'held'",
                [],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        match run {
            Some(run) => Ok(self
                .plan_items(run)?
                .into_iter()
                .filter(|i| i.category == "held")
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
             reason, state, started_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,'intent',?9)",
            params![
                run_id,
                op.kind.as_str(),
                op.okta_id,
                op.scim_id,
                op.user_name,
                op.invite_id,
                detail,
                op.reason,
                now()
            ],
        )?;
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
        )?;
        Ok(())
    }

    /// Operations whose intent was written but whose outcome never was (a crash).
    pub fn unfinished_operations(&self) -> Result<Vec<OpRecord>, StoreError> {
        self.query_ops("WHERE state = 'intent' ORDER BY id", params![])
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
        let mut st = conn.prepare(&sql)?;
        let rows = st.query_map(args, |r| {
            Ok(OpRecord {
                id: r.get(0)?,
                run_id: r.get(1)?,
                kind: r.get(2)?,
                okta_id: r.get(3)?,
                scim_id: r.get(4)?,
                user_name: r.get(5)?,
                invite_id: r.get(6)?,
                reason: r.get(7)?,
                state: r.get(8)?,
                http_status: r.get(9)?,
                error: r.get(10)?,
                request_id: r.get(11)?,
                started_at: r.get(12)?,
                finished_at: r.get(13)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
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
                "WHERE mode = 'apply' AND result = 'success' ORDER BY id DESC LIMIT 1",
                params![],
            )?
            .into_iter()
            .next())
    }

    /// The last finished run that applied changes (any result).
    pub fn last_apply_run(&self) -> Result<Option<RunRecord>, StoreError> {
        Ok(self
            .query_runs(
                "WHERE mode = 'apply' AND ended_at IS NOT NULL ORDER BY id DESC LIMIT 1",
                params![],
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
            "SELECT id, started_at, ended_at, trigger, mode, result, summary, error FROM runs {clause}"
        );
        let mut st = conn.prepare(&sql)?;
        let rows = st.query_map(args, |r| {
            let summary: Option<String> = r.get(6)?;
            Ok(RunRecord {
                id: r.get(0)?,
                started_at: r.get(1)?,
                ended_at: r.get(2)?,
                trigger: r.get(3)?,
                mode: r.get(4)?,
                result: r.get(5)?,
                summary: summary.and_then(|s| serde_json::from_str(&s).ok()),
                error: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// When the team snapshot was last refreshed.
    pub fn snapshot_time(&self) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT max(refreshed_at) FROM members", [], |r| r.get(0))
            .optional()?
            .flatten())
    }

    /// When Okta's assignments were last read completely (the `okta_users` snapshot).
    pub fn okta_read_time(&self) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT max(read_at) FROM okta_users", [], |r| r.get(0))
            .optional()?
            .flatten())
    }

    /// Number of runs recorded (for tests: a read-only command must not add one).
    pub fn count_runs(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT count(*) FROM runs", [], |r| r.get(0))?)
    }

    /// Number of rows in the operations table with a given kind and state (for tests and metrics).
    pub fn count_operations(&self, kind: OpKind, state: OpState) -> Result<i64, StoreError> {
        Ok(self.conn().query_row(
            "SELECT count(*) FROM operations WHERE kind = ?1 AND state = ?2",
            params![kind.as_str(), state.as_str()],
            |r| r.get(0),
        )?)
    }
}

/// An exclusive lock on a state database, held for the life of the process's cycle(s).
pub struct StateLock {
    _file: File,
    path: PathBuf,
}

impl StateLock {
    /// Takes the lock or says who holds it.
    pub fn acquire(db_path: &Path) -> Result<StateLock, StoreError> {
        let path = PathBuf::from(format!("{}.lock", db_path.display()));
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let lock_err = |source| StoreError::Lock {
            path: path.display().to_string(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(lock_err)?;
        // SAFETY: flock on a file descriptor we own; no memory is shared with the call.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            return Err(StoreError::Locked {
                path: db_path.display().to_string(),
                holder: if holder.is_empty() {
                    "unknown process".into()
                } else {
                    holder.to_string()
                },
            });
        }
        let me = format!(
            "pid {} on {} since {}",
            std::process::id(),
            hostname(),
            now()
        );
        file.set_len(0).map_err(lock_err)?;
        file.rewind().map_err(lock_err)?;
        file.write_all(me.as_bytes()).map_err(lock_err)?;
        Ok(StateLock { _file: file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "this host".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_is_exclusive_and_names_holder() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state.db");
        let first = StateLock::acquire(&db).unwrap();
        let err = StateLock::acquire(&db).err().unwrap().to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(first);
        assert!(StateLock::acquire(&db).is_ok());
    }

    #[test]
    fn intents_without_outcome_are_unfinished() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        let run = store.start_run("manual", "apply").unwrap();
        let op = Operation {
            kind: OpKind::Create,
            okta_id: Some("00u1".into()),
            scim_id: None,
            user_name: "a@x.com".into(),
            given_name: None,
            family_name: None,
            invite_id: None,
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
        // Reopening keeps everything (migrations are idempotent).
        drop(store);
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        assert_eq!(store.operations_of_run(run).unwrap().len(), 2);
    }
}
