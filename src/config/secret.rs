//! References to secrets (API tokens, private keys) held outside the config file.
//!
//! The config never contains a secret value, only where to read it from. The value is
//! read again on every [`SecretRef::resolve`] so that a rotated token is picked up at the
//! next sync cycle without a restart.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use secrecy::zeroize::Zeroize;

/// The environment variable systemd sets to the directory holding `LoadCredential=` files.
pub const CREDENTIALS_DIRECTORY_ENV: &str = "CREDENTIALS_DIRECTORY";

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
}

impl SecretRef {
    /// Reads the secret now, from its source. Called once per use (per sync cycle) so a
    /// rotated secret takes effect without a restart. One trailing newline (as left by
    /// `echo` or an editor) is removed; an empty secret is refused.
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
        let mut raw: String = match &self.source {
            SecretSource::File(path) => read_secret_file(path).map_err(|e| match e {
                ReadError::Io(source) => SecretError::File {
                    key: key.clone(),
                    path: path.clone(),
                    source,
                },
                ReadError::NotUtf8 => self.not_utf8(),
            })?,
            SecretSource::Env(name) => env(name)
                .and_then(|value| value.into_string().ok())
                .ok_or_else(|| SecretError::EnvMissing {
                    key: key.clone(),
                    name: name.clone(),
                })?,
            SecretSource::Credential(name) => {
                let dir = env(CREDENTIALS_DIRECTORY_ENV)
                    .filter(|dir| !dir.is_empty())
                    .ok_or_else(|| SecretError::NoCredentialsDirectory {
                        key: key.clone(),
                        name: name.clone(),
                    })?;
                let path = Path::new(&dir).join(name);
                read_secret_file(&path).map_err(|e| match e {
                    ReadError::Io(source) => SecretError::Credential {
                        key: key.clone(),
                        name: name.clone(),
                        path: path.clone(),
                        source,
                    },
                    ReadError::NotUtf8 => self.not_utf8(),
                })?
            }
        };
        strip_one_trailing_newline(&mut raw);
        if raw.trim().is_empty() {
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

    fn not_utf8(&self) -> SecretError {
        SecretError::NotUtf8 {
            key: self.key.clone(),
            source_description: self.source.to_string(),
        }
    }
}

enum ReadError {
    Io(std::io::Error),
    NotUtf8,
}

fn read_secret_file(path: &Path) -> Result<String, ReadError> {
    let mut bytes = std::fs::read(path).map_err(ReadError::Io)?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(err) => {
            bytes = err.into_bytes();
            bytes.zeroize();
            Err(ReadError::NotUtf8)
        }
    }
}

fn strip_one_trailing_newline(text: &mut String) {
    if text.ends_with("\r\n") {
        text.truncate(text.len() - 2);
    } else if text.ends_with('\n') {
        text.truncate(text.len() - 1);
    }
}
