//! The local SQLite state: the snapshot of both sides ([`snapshot`]: team members,
//! Okta id ↔ SCIM id links, pending invites, the last Okta read and its lookups), the
//! journal ([`journal`]: runs, every operation applied as intent then outcome, plan
//! items), the deactivations held until a human releases them ([`held`]), the schema
//! ([`migrations`]) and the one-writer lock ([`lock`]).
//!
//! Enumerated values (operation kinds and states, run results, memberships, …) are
//! stored as the same strings they always were; an unknown one read back is an error.

mod cursor;
pub mod files;
mod held;
mod indexed;
mod journal;
mod lock;
mod migrations;
mod retention;
mod run;
mod scope;
mod snapshot;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::Connection;

pub use cursor::{SnapshotChanges, SyncCursor};
pub use held::HeldDeactivation;
pub use journal::{OpRecord, PlanCategory, PlanItem};
pub use lock::StateLock;
use migrations::MIGRATIONS;
pub use run::{
    CycleKind, FullReason, OpState, OutcomeKey, RunMode, RunRecord, RunResult, RunSummary, Trigger,
};
use scim_sync_plan::model::UnknownValue;
pub use scope::{Overlay, PlanBasis, ScopeRows};

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
    #[error("state database {path}: {source}")]
    Sql {
        path: String,
        source: rusqlite::Error,
    },
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
    #[error(
        "state database {path} is an empty file that scim-sync did not create; \
         remove it (or point `sync.state_db` elsewhere) to start from a new database"
    )]
    Empty { path: String },
    #[error(
        "state database {path} is not writable ({source}); scim-sync needs to write it \
         (and the `-wal` / `-shm` files next to it)"
    )]
    ReadOnly {
        path: String,
        source: std::io::Error,
    },
    /// As root, on state another user owns (`files::refuse_root_takeover`).
    #[error(
        "{} is owned by {owner} and this command runs as root: {}; run it as the service \
         user (`sudo -u {owner} scim-sync …`), or, if root is meant to own the state, \
         `chown -R root: {owner_path}`",
        if *exists { format!("state database {db}") } else { format!("the directory of the state database {db} ({owner_path})") },
        if *exists { "files root makes next to it (`-wal`, `-shm`, the lock) would lock the service out" } else { "the database root would create there could not be written by the service" }
    )]
    NotOwner {
        db: String,
        owner_path: String,
        owner: String,
        exists: bool,
    },
    /// `config check`: the user it runs as can't write the state (`files::check_access`).
    #[error(
        "state database {db}: {path} is not writable by {user} ({source}); run the check \
         as the user scim-sync runs as (`sudo -u scim-sync scim-sync config check`), or \
         give that user the state directory (`chown -R scim-sync: <dir>; chmod 700 <dir>`)"
    )]
    NotWritable {
        db: String,
        path: String,
        user: String,
        source: std::io::Error,
    },
    /// A writer's database or lock file is no longer the file it locked.
    #[error(
        "{path} was {what} while this process held the state database; it stops rather \
         than write to a file no one reads: restore the file (or start scim-sync again to \
         use the new one)"
    )]
    Replaced { path: String, what: &'static str },
    #[error("state database {path}: {source}")]
    Access {
        path: String,
        source: std::io::Error,
    },
}

/// The state database.
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
    /// While a dry run is in progress: its shared lock on `<db>.dry.lock` (see
    /// [`Store::start_run`]).
    dry_run_guard: Mutex<Option<std::fs::File>>,
    /// A dry run's database held in memory (none existed): it leaves no file.
    in_memory: bool,
    /// The writer's lock, when this process is the writer ([`Store::hold`]); declared
    /// after `conn` so that the connection closes first (see `lock`).
    writer: Mutex<Option<StateLock>>,
}

/// Refuses an existing database that is empty or not writable, and gives read-only
/// `-wal` / `-shm` files the database's permissions (SQLite creates them with the
/// database's mode, so a database once read-only leaves them read-only for good).
fn check_existing(path: &Path) -> Result<(), StoreError> {
    let access = |p: &Path| {
        let p = p.display().to_string();
        move |source| StoreError::Access { path: p, source }
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(access(path)(e)),
    };
    if meta.len() == 0 {
        return Err(StoreError::Empty {
            path: path.display().to_string(),
        });
    }
    writable(path)?;
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", path.display()));
        let Ok(side_meta) = std::fs::metadata(&side) else {
            continue;
        };
        if side_meta.permissions().readonly() {
            std::fs::set_permissions(&side, meta.permissions()).map_err(access(&side))?;
        }
        writable(&side)?;
    }
    Ok(())
}

/// Opens a file for writing (without changing it) to learn whether it can be written.
fn writable(path: &Path) -> Result<(), StoreError> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map(drop)
        .map_err(|source| StoreError::ReadOnly {
            path: path.display().to_string(),
            source,
        })
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Store {
    /// Opens (creating if needed) and migrates the state database.
    ///
    /// Opening and migrating happen under `<db>.open.lock`, so that two processes on a
    /// database that doesn't exist yet don't both create the schema. An existing empty
    /// file is refused (it is not a database scim-sync made), and so is a database that
    /// can't be written; `-wal` / `-shm` files left read-only by an earlier read-only
    /// open get the database's permissions back.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        files::refuse_root_takeover(path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            files::create_dir(dir)?;
        }
        let _opening = lock::lock_file(&lock::sibling(path, "open.lock"), lock::Mode::Exclusive)?;
        check_existing(path)?;
        files::create_db_file(path)?;
        let open_err = |source| StoreError::Open {
            path: path.display().to_string(),
            source,
        };
        let conn = Connection::open(path).map_err(open_err)?;
        Self::set_up(conn, path, false)
    }

    /// A fresh database in memory, through the same migrations, named `path` in
    /// messages: a dry run where no database exists plans against an empty snapshot and
    /// leaves no file behind (nor a directory, nor a lock file).
    pub fn open_in_memory(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Open {
            path: path.display().to_string(),
            source,
        })?;
        Self::set_up(conn, path, true)
    }

    fn set_up(mut conn: Connection, path: &Path, in_memory: bool) -> Result<Store, StoreError> {
        let open_err = |source| StoreError::Open {
            path: path.display().to_string(),
            source,
        };
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
        let store = Store {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
            dry_run_guard: Mutex::new(None),
            in_memory,
            writer: Mutex::new(None),
        };
        store.fill_missing_keys()?;
        Ok(store)
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

    /// Makes this store the writer holding `lock` (taken before [`Store::open`]): locks
    /// the database file too, now that it exists, and keeps the lock until the store is
    /// dropped.
    pub fn hold(&self, mut lock: StateLock) -> Result<(), StoreError> {
        lock.lock_database()?;
        *self.writer.lock().unwrap_or_else(|p| p.into_inner()) = Some(lock);
        Ok(())
    }

    /// For a writer, before a cycle and before it applies: its lock file and database
    /// are still the files it locked ([`StateLock::verify`]).
    pub fn verify_writer(&self) -> Result<(), StoreError> {
        match &*self.writer.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(lock) => lock.verify(),
            None => Ok(()),
        }
    }

    /// An SQLite error, naming this database.
    fn sql(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sql {
            path: self.path.display().to_string(),
            source,
        }
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn an_empty_file_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state.db");
        std::fs::write(&db, b"").unwrap();
        let err = Store::open(&db).err().unwrap();
        assert!(matches!(err, StoreError::Empty { .. }), "{err}");
        assert!(err.to_string().contains(&db.display().to_string()), "{err}");
        // A database that doesn't exist is created, and reopened.
        let fresh = dir.path().join("fresh.db");
        drop(Store::open(&fresh).unwrap());
        Store::open(&fresh).unwrap();
    }

    #[test]
    fn read_only_side_files_get_the_database_permissions_back() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state.db");
        drop(Store::open(&db).unwrap());
        let shm = dir.path().join("state.db-shm");
        std::fs::write(&shm, b"").unwrap();
        std::fs::set_permissions(&shm, std::fs::Permissions::from_mode(0o444)).unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o640)).unwrap();
        let store = Store::open(&db).unwrap();
        let mode = std::fs::metadata(&shm).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        store.start_run(Trigger::Manual, RunMode::Apply).unwrap();
    }

    #[test]
    fn sql_errors_name_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state.db");
        let store = Store::open(&db).unwrap();
        store.conn().execute_batch("DROP TABLE runs").unwrap();
        let err = store
            .start_run(Trigger::Manual, RunMode::Apply)
            .unwrap_err();
        assert!(err.to_string().contains(&db.display().to_string()), "{err}");
    }
}
