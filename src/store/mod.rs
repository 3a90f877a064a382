//! The local SQLite state: the snapshot of both sides ([`snapshot`]: team members,
//! Okta id ↔ SCIM id links, pending invites, the last Okta read and its lookups), the
//! journal ([`journal`]: runs, every operation applied as intent then outcome, plan
//! items), the deactivations held until a human releases them ([`held`]), the schema
//! ([`migrations`]) and the one-writer lock ([`lock`]).
//!
//! Enumerated values (operation kinds and states, run results, memberships, …) are
//! stored as the same strings they always were; an unknown one read back is an error.

mod held;
mod journal;
mod lock;
mod migrations;
mod snapshot;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::Connection;

use crate::plan::model::UnknownValue;
pub use held::HeldDeactivation;
pub use journal::{OpRecord, OpState, PlanCategory, PlanItem, RunMode, RunRecord, RunResult};
pub use lock::StateLock;
use migrations::MIGRATIONS;

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
    #[error("state database: {0}")]
    Unknown(#[from] UnknownValue),
    #[error("cannot lock the state database {path}: {source}")]
    Lock {
        path: String,
        source: std::io::Error,
    },
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
}
