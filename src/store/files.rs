//! The state's files on disk: who may create or take them over, and with which modes.
//!
//! The database is created 0600 (SQLite gives its `-wal` and `-shm` files the
//! database's mode), the lock files 0600, and a directory scim-sync creates 0700: the
//! state names every member and the links between both sides.
//!
//! A command run as root must not leave root-owned state behind where the service (an
//! unprivileged user) keeps it: a root-owned `-wal`, `-shm` or lock file next to the
//! service's database locks the service out. So as root, the state must be root's own:
//! the database, when it exists, and otherwise the directory it would be created in
//! (the nearest existing one), must be owned by root. That is also the escape hatch: a
//! deliberately root-run setup keeps its state in a root-owned directory (with
//! `daemon.allow_root` for the daemon); anything else is refused with the command to
//! run as the owner instead.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use super::StoreError;

/// The mode of every state file scim-sync creates.
pub(super) const FILE_MODE: u32 = 0o600;

/// Creates the state directory (and missing parents) 0700.
pub(super) fn create_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| StoreError::Dir {
            path: dir.display().to_string(),
            source,
        })
}

/// Creates an empty database file 0600 when none exists (SQLite would create it with
/// the umask's mode), so that its `-wal` and `-shm` files are 0600 too.
pub(super) fn create_db_file(path: &Path) -> Result<(), StoreError> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(StoreError::Access {
            path: path.display().to_string(),
            source,
        }),
    }
}

/// The database, or the nearest existing directory it would be created in, and whether
/// the database exists.
fn existing_owner_of(db: &Path) -> Option<(PathBuf, std::fs::Metadata, bool)> {
    if let Ok(meta) = std::fs::metadata(db) {
        return Some((db.to_path_buf(), meta, true));
    }
    let mut dir = std::path::absolute(db).ok()?.parent()?.to_path_buf();
    loop {
        if let Ok(meta) = std::fs::metadata(&dir) {
            return Some((dir, meta, false));
        }
        dir = dir.parent()?.to_path_buf();
    }
}

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// A user's name, or `#uid` (which `sudo -u` takes too) when it has none.
pub(crate) fn user_name(uid: u32) -> String {
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call; buf outlives the read of pw_name.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut found) };
    if rc == 0 && !found.is_null() && !pwd.pw_name.is_null() {
        // SAFETY: getpwuid_r succeeded: pw_name is a NUL-terminated string inside buf.
        let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
        return name.to_string_lossy().into_owned();
    }
    format!("#{uid}")
}

/// As root, refuses state that root would create in, or take over from, another user's
/// directory or database (see the module's documentation); anyone else passes.
pub fn refuse_root_takeover(db: &Path) -> Result<(), StoreError> {
    if euid() != 0 {
        return Ok(());
    }
    let Some((path, meta, exists)) = existing_owner_of(db) else {
        return Ok(());
    };
    if meta.uid() == 0 {
        return Ok(());
    }
    Err(StoreError::NotOwner {
        db: db.display().to_string(),
        owner_path: path.display().to_string(),
        owner: user_name(meta.uid()),
        exists,
    })
}

/// Whether the user this runs as can write the state: the database and its directory
/// (for `-wal` / `-shm`) when it exists, else the nearest existing directory it would be
/// created in; as root, also [`refuse_root_takeover`]. For `config check`.
pub fn check_access(db: &Path) -> Result<(), StoreError> {
    refuse_root_takeover(db)?;
    let Some((path, _, exists)) = existing_owner_of(db) else {
        return Ok(());
    };
    let mut wanted = vec![(path.clone(), libc::W_OK)];
    if exists
        && let Some(dir) = std::path::absolute(db)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
    {
        wanted.push((dir, libc::W_OK | libc::X_OK));
    } else if !exists {
        wanted[0].1 |= libc::X_OK;
    }
    for (path, mode) in wanted {
        let Ok(c_path) = CString::new(path.as_os_str().as_bytes()) else {
            continue;
        };
        // SAFETY: a valid NUL-terminated path; AT_EACCESS checks the effective ids.
        let rc =
            unsafe { libc::faccessat(libc::AT_FDCWD, c_path.as_ptr(), mode, libc::AT_EACCESS) };
        if rc != 0 {
            return Err(StoreError::NotWritable {
                db: db.display().to_string(),
                path: path.display().to_string(),
                user: user_name(euid()),
                source: std::io::Error::last_os_error(),
            });
        }
    }
    Ok(())
}
