//! References to secrets (API tokens, private keys) held outside the config file.
//!
//! The config never contains a secret value, only where to read it from. The value is
//! read again on every [`SecretRef::resolve`] so that a rotated token is picked up at the
//! next sync cycle without a restart.

use std::ffi::OsString;
use std::fmt;
use std::io::Read as _;
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
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
            SecretSource::File(path) => read_secret_file(path).map_err(|e| match e {
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
            })?,
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
                read_secret_file(&path).map_err(|e| match e {
                    ReadError::Io(source)
                        if source.kind() == std::io::ErrorKind::NotFound
                            && looks_like_token(name) =>
                    {
                        pasted("credential")
                    }
                    other => self.read_error(other, &path, Some(name)),
                })?
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
fn read_secret_file(path: &Path) -> Result<String, ReadError> {
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
        Ok(text) => Ok(text),
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
