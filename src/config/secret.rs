//! References to secrets (API tokens, private keys) held outside the config file.
//!
//! The config never contains a secret value, only where to read it from. The value is
//! read again on every [`SecretRef::resolve`] so that a rotated token is picked up at the
//! next sync cycle without a restart.

use std::ffi::OsString;
use std::fmt;
use std::io::Read as _;
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use secrecy::zeroize::Zeroize;

/// The environment variable systemd sets to the directory holding `LoadCredential=` files.
pub const CREDENTIALS_DIRECTORY_ENV: &str = "CREDENTIALS_DIRECTORY";

/// The largest secret file read (a token or a PEM key is a few KiB at most).
pub const MAX_SECRET_BYTES: u64 = 64 * 1024;

/// Where a secret is read from. Holds no secret material, so `Debug` is safe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretRef {
    /// Dotted config key this secret belongs to (`okta.api_token`), used in error messages.
    pub key: String,
    pub source: SecretSource,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    /// A file; relative paths were already resolved against the config file's directory.
    File(PathBuf),
    /// An environment variable of the scim-sync process.
    Env(String),
    /// A systemd credential: the file `$CREDENTIALS_DIRECTORY/<name>`.
    Credential(String),
}

impl fmt::Display for SecretSource {
    /// Describes where the secret comes from (never the value), for logs and errors.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::File(path) => write!(f, "file {}", path.display()),
            SecretSource::Env(name) => write!(f, "environment variable {name}"),
            SecretSource::Credential(name) => write!(f, "systemd credential `{name}`"),
        }
    }
}

/// Why a secret could not be read. Names the config key and the source, never the value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{key}: cannot read secret file {}: {source}", path.display())]
    File {
        key: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{key}: environment variable {name} is not set (or is not valid UTF-8)")]
    EnvMissing { key: String, name: String },
    #[error(
        "{key}: systemd credential `{name}` requested but ${CREDENTIALS_DIRECTORY_ENV} is not set; \
         add `LoadCredential={name}:/path/to/secret` to the service unit, or reference the secret \
         with `file = ...` instead"
    )]
    NoCredentialsDirectory { key: String, name: String },
    #[error("{key}: cannot read systemd credential `{name}` at {}: {source}", path.display())]
    Credential {
        key: String,
        name: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{key}: secret from {source_description} is not valid UTF-8")]
    NotUtf8 {
        key: String,
        source_description: String,
    },
    #[error("{key}: secret from {source_description} is empty")]
    Empty {
        key: String,
        source_description: String,
    },
    #[error(
        "{key}: secret file {} is {kind}, not a regular file; point the reference at a file \
         holding the secret",
        path.display()
    )]
    NotRegularFile {
        key: String,
        path: PathBuf,
        kind: &'static str,
    },
    #[error(
        "{key}: secret file {} is larger than {MAX_SECRET_BYTES} bytes; a secret file holds \
         one token or key",
        path.display()
    )]
    TooLarge { key: String, path: PathBuf },
    /// The one permission rule ([`check_file_mode`]): a secret file others can change is
    /// refused before it is read.
    #[error(
        "{key}: secret file {} (mode {mode:04o}) can be changed by {who}, who could swap \
         the credential; refused: `chmod 600 {}` (or 640, owned by root and the service's \
         group)",
        path.display(),
        path.display()
    )]
    Writable {
        key: String,
        path: PathBuf,
        mode: u32,
        who: &'static str,
    },
    /// The reference itself (`file`, `env` or `credential`) looks like a pasted secret
    /// and does not resolve: no part of it is shown.
    #[error(
        "{key}: the `{kind}` reference does not resolve, and this looks like a secret value, \
         not a reference; put the secret in a file (mode 0600), an environment variable or a \
         systemd credential, and reference that"
    )]
    LooksLikeSecret { key: String, kind: &'static str },
}

impl SecretRef {
    /// Reads the secret now, from its source. Called once per use (per sync cycle) so a
    /// rotated secret takes effect without a restart. Surrounding whitespace (a trailing
    /// newline or CR LF left by `echo` or an editor) is removed; an empty secret is refused.
    /// Files must be regular files of at most [`MAX_SECRET_BYTES`].
    pub fn resolve(&self) -> Result<SecretString, SecretError> {
        self.resolve_with_env(&|name| std::env::var_os(name))
    }

    /// As [`resolve`](Self::resolve), with the process environment replaced by `env`
    /// (tests cannot safely mutate the real environment of a multi-threaded process).
    pub(crate) fn resolve_with_env(
        &self,
        env: &dyn Fn(&str) -> Option<OsString>,
    ) -> Result<SecretString, SecretError> {
        let key = &self.key;
        let pasted = |kind: &'static str| SecretError::LooksLikeSecret {
            key: key.clone(),
            kind,
        };
        let mut raw: String = match &self.source {
            SecretSource::File(path) => {
                let (text, mode) = read_secret_file(path).map_err(|e| match e {
                    ReadError::Io(source)
                        if source.kind() == std::io::ErrorKind::NotFound
                            && path
                                .file_name()
                                .and_then(|n| n.to_str())
                                .is_some_and(looks_like_token) =>
                    {
                        pasted("file")
                    }
                    other => self.read_error(other, path, None),
                })?;
                self.warn_about_mode(path, mode);
                text
            }
            SecretSource::Env(name) => match env(name) {
                Some(value) => value.into_string().map_err(|_| self.not_utf8())?,
                None if looks_like_token(name) => return Err(pasted("env")),
                None => {
                    return Err(SecretError::EnvMissing {
                        key: key.clone(),
                        name: name.clone(),
                    });
                }
            },
            SecretSource::Credential(name) => {
                let dir = match env(CREDENTIALS_DIRECTORY_ENV).filter(|dir| !dir.is_empty()) {
                    Some(dir) => dir,
                    None if looks_like_token(name) => return Err(pasted("credential")),
                    None => {
                        return Err(SecretError::NoCredentialsDirectory {
                            key: key.clone(),
                            name: name.clone(),
                        });
                    }
                };
                let path = Path::new(&dir).join(name);
                let (text, mode) = read_secret_file(&path).map_err(|e| match e {
                    ReadError::Io(source)
                        if source.kind() == std::io::ErrorKind::NotFound
                            && looks_like_token(name) =>
                    {
                        pasted("credential")
                    }
                    other => self.read_error(other, &path, Some(name)),
                })?;
                self.warn_about_mode(&path, mode);
                text
            }
        };
        trim_in_place(&mut raw);
        if raw.is_empty() {
            raw.zeroize();
            return Err(SecretError::Empty {
                key: key.clone(),
                source_description: self.source.to_string(),
            });
        }
        Ok(SecretString::from(raw))
    }

    /// The file the secret is read from, if it is a plain file reference (for warnings
    /// about file permissions). Credentials are managed by systemd and return `None`.
    pub fn file_path(&self) -> Option<PathBuf> {
        match &self.source {
            SecretSource::File(path) => Some(path.clone()),
            SecretSource::Env(_) | SecretSource::Credential(_) => None,
        }
    }

    /// A world-readable secret file works: WARN once per file ([`check_file_mode`]).
    fn warn_about_mode(&self, path: &Path, mode: u32) {
        if let Ok(Some(warning)) = check_file_mode(&self.key, path, mode) {
            warn_once(&warning, path);
        }
    }

    fn read_error(&self, e: ReadError, path: &Path, credential: Option<&String>) -> SecretError {
        let key = self.key.clone();
        let path = path.to_path_buf();
        match (e, credential) {
            (ReadError::Io(source), None) => SecretError::File { key, path, source },
            (ReadError::Io(source), Some(name)) => SecretError::Credential {
                key,
                name: name.clone(),
                path,
                source,
            },
            (ReadError::NotRegular(kind), _) => SecretError::NotRegularFile { key, path, kind },
            (ReadError::TooLarge, _) => SecretError::TooLarge { key, path },
            // Writable(mode) is only built for a mode check_file_mode refuses.
            (ReadError::Writable(mode), _) => {
                check_file_mode(&key, &path, mode)
                    .err()
                    .unwrap_or(SecretError::Writable {
                        key,
                        path,
                        mode,
                        who: "others",
                    })
            }
            (ReadError::NotUtf8, _) => self.not_utf8(),
        }
    }

    fn not_utf8(&self) -> SecretError {
        SecretError::NotUtf8 {
            key: self.key.clone(),
            source_description: self.source.to_string(),
        }
    }
}

enum ReadError {
    Io(std::io::Error),
    NotRegular(&'static str),
    TooLarge,
    NotUtf8,
    /// Group- or world-writable (the mode): refused by [`check_file_mode`].
    Writable(u32),
}

/// The one permission rule for secret files, for `config check`, every sync cycle and
/// the daemon's start: a file its group or every user can write is refused (anyone who
/// can change it can swap the credential); one every user can read works but deserves
/// a warning, returned as its text. A systemd credential (`LoadCredential=`, a 0400
/// file in a directory only the service can read) passes.
pub fn check_file_mode(key: &str, path: &Path, mode: u32) -> Result<Option<String>, SecretError> {
    let mode = mode & 0o7777;
    if mode & 0o022 != 0 {
        let who = if mode & 0o002 != 0 {
            "every user of the host"
        } else {
            "its group"
        };
        return Err(SecretError::Writable {
            key: key.to_owned(),
            path: path.to_path_buf(),
            mode,
            who,
        });
    }
    if mode & 0o004 != 0 {
        return Ok(Some(format!(
            "{key}: secret file {} (mode {mode:04o}) can be read by every user of the host: \
             `chmod o-r {}` (600, or 640 with the service's group)",
            path.display(),
            path.display()
        )));
    }
    Ok(None)
}

/// The secret files (and systemd credentials, when `$CREDENTIALS_DIRECTORY` is set) of
/// `secrets` checked by [`check_file_mode`] now, without reading them: the daemon
/// refuses to start on the first that fails. A file that can't be looked at is left to
/// the cycle, which says why it can't be read.
pub fn refuse_unsafe_files<'a>(
    secrets: impl IntoIterator<Item = &'a SecretRef>,
) -> Result<(), SecretError> {
    for secret in secrets {
        let path = match &secret.source {
            SecretSource::File(path) => path.clone(),
            SecretSource::Credential(name) => {
                match std::env::var_os(CREDENTIALS_DIRECTORY_ENV).filter(|d| !d.is_empty()) {
                    Some(dir) => Path::new(&dir).join(name),
                    None => continue,
                }
            }
            SecretSource::Env(_) => continue,
        };
        if let Ok(meta) = std::fs::metadata(&path) {
            check_file_mode(&secret.key, &path, meta.permissions().mode())?;
        }
    }
    Ok(())
}

/// Logs [`check_file_mode`]'s warning at WARN once per file for the process (a daemon
/// reads its secrets every cycle; one line a cycle would drown the log).
fn warn_once(warning: &str, path: &Path) {
    static WARNED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let mut warned = WARNED.lock().unwrap_or_else(|p| p.into_inner());
    if !warned.iter().any(|p| p == path) {
        warned.push(path.to_path_buf());
        tracing::warn!("{warning}");
    }
}

fn file_kind(ft: std::fs::FileType) -> Option<&'static str> {
    if ft.is_file() {
        None
    } else if ft.is_dir() {
        Some("a directory")
    } else if ft.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if ft.is_char_device() {
        Some("a character device")
    } else if ft.is_block_device() {
        Some("a block device")
    } else if ft.is_socket() {
        Some("a socket")
    } else {
        Some("not a regular file")
    }
}

/// Reads a regular file of at most [`MAX_SECRET_BYTES`]. The type is checked before
/// opening (a FIFO would block the open) and again on the open handle (the path may have
/// been replaced); the open is non-blocking so that even a swapped-in FIFO cannot hang.
fn read_secret_file(path: &Path) -> Result<(String, u32), ReadError> {
    let meta = std::fs::metadata(path).map_err(ReadError::Io)?;
    if let Some(kind) = file_kind(meta.file_type()) {
        return Err(ReadError::NotRegular(kind));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(ReadError::Io)?;
    let meta = file.metadata().map_err(ReadError::Io)?;
    if let Some(kind) = file_kind(meta.file_type()) {
        return Err(ReadError::NotRegular(kind));
    }
    let mode = meta.permissions().mode();
    if mode & 0o022 != 0 {
        return Err(ReadError::Writable(mode));
    }
    if meta.len() > MAX_SECRET_BYTES {
        return Err(ReadError::TooLarge);
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    let read = file
        .take(MAX_SECRET_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io);
    if let Err(e) = read {
        bytes.zeroize();
        return Err(e);
    }
    if bytes.len() as u64 > MAX_SECRET_BYTES {
        bytes.zeroize();
        return Err(ReadError::TooLarge);
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok((text, mode)),
        Err(err) => {
            bytes = err.into_bytes();
            bytes.zeroize();
            Err(ReadError::NotUtf8)
        }
    }
}

/// Removes surrounding whitespace (a trailing `\n` or `\r\n` left by an editor or a
/// Windows copy, stray spaces) without leaving a copy of the secret behind.
fn trim_in_place(text: &mut String) {
    let end = text.trim_end().len();
    text.truncate(end);
    let start = text.len() - text.trim_start().len();
    if start > 0 {
        text.drain(..start);
    }
}

/// Whether a reference value (an env var name, a credential name, a file name) looks
/// like a pasted token: long, no spaces or `/`, letters and digits, with mixed case or
/// many digits and not a repetitive word, or mostly digits. Such a value is never shown in an error.
pub fn looks_like_token(value: &str) -> bool {
    let n = value.chars().count();
    if n < 20 || value.contains('/') || value.chars().any(char::is_whitespace) {
        return false;
    }
    let digits = value.chars().filter(char::is_ascii_digit).count();
    let lower = value.chars().any(|c| c.is_ascii_lowercase());
    let upper = value.chars().any(|c| c.is_ascii_uppercase());
    if digits == 0 || !(lower || upper) {
        return false;
    }
    let mut counts = std::collections::HashMap::new();
    for c in value.chars() {
        *counts.entry(c).or_insert(0usize) += 1;
    }
    let entropy: f64 = counts
        .values()
        .map(|&k| {
            let p = k as f64 / n as f64;
            -p * p.log2()
        })
        .sum();
    let digit_ratio = digits as f64 / n as f64;
    (lower && upper && entropy >= 3.0)
        || (digit_ratio >= 0.2 && entropy >= 2.0)
        || digit_ratio >= 0.5
}
