//! One writer per state database: an exclusive lock on `<db>.lock`, whose contents name
//! the holder so that a second process can say who has it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use super::{StoreError, now};

/// An exclusive lock on a state database, held for the life of the process's cycle(s).
/// The operating system releases it when the file is closed (drop, or the process dies).
pub struct StateLock {
    _file: File,
    path: PathBuf,
}

impl StateLock {
    /// Takes the lock or says who holds it.
    pub fn acquire(db_path: &Path) -> Result<StateLock, StoreError> {
        super::files::refuse_root_takeover(db_path)?;
        let path = PathBuf::from(format!("{}.lock", db_path.display()));
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            super::files::create_dir(dir)?;
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
        Ok(StateLock { _file: file, path })
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
