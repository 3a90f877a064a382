//! One writer per state database, whatever the path to it.
//!
//! Two locks, both `flock(2)` (`File::try_lock`), both held for the writer's life:
//!
//! - `<canonical db>.lock`, whose contents name the holder so that a second process can
//!   say who has it. The path is canonical (symlinks resolved), so a symlink to the
//!   database, or to its directory, finds the same lock file. It exists before the
//!   database does, so of two first runs the second is told.
//! - the database file itself, through a descriptor of its own. A hard link is another
//!   name for the same inode, and no name-derived lock file can see it; a lock on the
//!   inode can. `flock` locks are the inode's, independent of SQLite's POSIX record locks
//!   on the same file (Linux keeps the two apart; WAL mode needs a local file system
//!   anyway, where that holds). One rule keeps SQLite's locks safe: closing any
//!   descriptor of the database drops every POSIX lock the process holds on it, so this
//!   descriptor is closed only after the connection ([`crate::store::Store`] drops its
//!   connection before the lock it holds).
//!
//! [`StateLock::verify`], before each cycle, checks that both paths still name the files
//! that were locked (device and inode): a writer whose database was deleted or replaced
//! under it stops rather than write to a file nobody will read.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use super::{StoreError, now};

/// An exclusive lock on a state database, held for the life of the process's cycle(s).
/// The operating system releases it when the file is closed (drop, or the process dies).
pub struct StateLock {
    file: File,
    path: PathBuf,
    /// The database as given, and its own locked descriptor once it exists.
    db_path: PathBuf,
    db: Option<File>,
}

/// A file's identity: device and inode.
fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
    (meta.dev(), meta.ino())
}

/// The database's path with every symlink resolved (its directory's, when the file
/// doesn't exist yet).
fn canonical(db_path: &Path) -> PathBuf {
    if let Ok(path) = std::fs::canonicalize(db_path) {
        return path;
    }
    match (db_path.parent(), db_path.file_name()) {
        (Some(dir), Some(name)) => {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            std::fs::canonicalize(dir)
                .map(|d| d.join(name))
                .unwrap_or_else(|_| db_path.to_path_buf())
        }
        _ => db_path.to_path_buf(),
    }
}

impl StateLock {
    /// Takes the lock or says who holds it.
    pub fn acquire(db_path: &Path) -> Result<StateLock, StoreError> {
        super::files::refuse_root_takeover(db_path)?;
        if let Some(dir) = db_path.parent().filter(|d| !d.as_os_str().is_empty()) {
            super::files::create_dir(dir)?;
        }
        let path = PathBuf::from(format!("{}.lock", canonical(db_path).display()));
        let lock_err = |source| StoreError::Lock {
            path: path.display().to_string(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(super::files::FILE_MODE)
            .open(&path)
            .map_err(lock_err)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
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
            Err(TryLockError::Error(e)) => return Err(lock_err(e)),
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
        let mut lock = StateLock {
            file,
            path,
            db_path: db_path.to_path_buf(),
            db: None,
        };
        lock.lock_database()?;
        Ok(lock)
    }

    /// Locks the database file itself (its inode, whatever its name) once it exists:
    /// at [`acquire`](Self::acquire), or after the first open created it.
    pub fn lock_database(&mut self) -> Result<(), StoreError> {
        if self.db.is_some() {
            return Ok(());
        }
        let db = match File::open(&self.db_path) {
            Ok(db) => db,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(StoreError::Lock {
                    path: self.db_path.display().to_string(),
                    source,
                });
            }
        };
        match db.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(StoreError::Locked {
                    path: self.db_path.display().to_string(),
                    holder: "a process that opened it by another name (a hard link)".into(),
                });
            }
            Err(TryLockError::Error(source)) => {
                return Err(StoreError::Lock {
                    path: self.db_path.display().to_string(),
                    source,
                });
            }
        }
        self.db = Some(db);
        Ok(())
    }

    /// Whether the lock file and the database are still, by their paths, the files that
    /// were locked (device and inode); an error names the one deleted or replaced.
    pub fn verify(&self) -> Result<(), StoreError> {
        let mut held = vec![(&self.path, &self.file)];
        if let Some(db) = &self.db {
            held.push((&self.db_path, db));
        }
        for (path, file) in held {
            let ours = file.metadata().map(|m| identity(&m)).ok();
            let now = std::fs::metadata(path).map(|m| identity(&m));
            let what = match now {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => "deleted",
                Ok(id) if Some(id) == ours => continue,
                _ => "replaced by another file",
            };
            return Err(StoreError::Replaced {
                path: path.display().to_string(),
                what,
            });
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `<db><suffix>` next to the database: `sibling(db, "lock")` is `<db>.lock`.
pub(super) fn sibling(db_path: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{}.{suffix}", db_path.display()))
}

/// How [`lock_file`] locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// Waits for an exclusive lock.
    Exclusive,
    /// Waits for a shared lock.
    Shared,
    /// An exclusive lock if no one holds any; None otherwise.
    TryExclusive,
}

/// Opens (creating) a helper lock file and locks it; the lock lasts as long as the file
/// is open. None only for [`Mode::TryExclusive`] when the file is locked by someone.
pub(super) fn lock_file(path: &Path, mode: Mode) -> Result<Option<File>, StoreError> {
    let lock_err = |source| StoreError::Lock {
        path: path.display().to_string(),
        source,
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(super::files::FILE_MODE)
        .open(path)
        .map_err(lock_err)?;
    match mode {
        Mode::Exclusive => file.lock().map_err(lock_err)?,
        Mode::Shared => file.lock_shared().map_err(lock_err)?,
        Mode::TryExclusive => match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Ok(None),
            Err(TryLockError::Error(e)) => return Err(lock_err(e)),
        },
    }
    Ok(Some(file))
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
}
