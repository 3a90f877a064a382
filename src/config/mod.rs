//! The scim-sync configuration file (TOML).
//!
//! [`load`] reads and validates the file; every error names the file, the dotted key and
//! the line, and says what to change. Secrets are never written in the file: secret keys
//! hold a [`SecretRef`] (a file, an environment variable or a systemd credential) that is
//! read again at every use. Relative paths are resolved against the config file's
//! directory. `config.example.toml` documents every key.
//!
//! `raw.rs` is the file as serde reads it (with spans), `validate.rs` turns it into the
//! types of `model.rs` (one function per section, and per value kind in
//! `validate/values.rs`), `error.rs` places errors at key and line (with "did you mean"
//! for a misspelt key), `secret.rs` resolves secret references, `scim-sync config check`
//! is `crate::config_check`.

mod error;
pub(crate) use error::line_of_key;
mod model;
mod raw;
mod secret;
#[cfg(test)]
mod tests;
mod validate;

use std::path::{Path, PathBuf};

pub use error::{ConfigError, InvalidConfig};
pub use model::*;
pub use secret::{
    CREDENTIALS_DIRECTORY_ENV, SecretError, SecretRef, SecretSource, check_file_mode,
    refuse_unsafe_files,
};

use error::Locator;
use raw::RawConfig;
use validate::Validator;

/// The config file path: `$SCIM_SYNC_CONFIG` if set and non-empty, else
/// [`DEFAULT_CONFIG_PATH`]. The CLI's `--config` overrides both.
pub fn default_path() -> PathBuf {
    default_path_from(std::env::var_os(CONFIG_PATH_ENV))
}

fn default_path_from(env_value: Option<std::ffi::OsString>) -> PathBuf {
    match env_value {
        Some(value) if !value.is_empty() => PathBuf::from(value),
        _ => PathBuf::from(DEFAULT_CONFIG_PATH),
    }
}

/// Reads and validates the config file at `path`. Relative paths inside it are resolved
/// against the file's directory. Secrets are not read here (see [`SecretRef::resolve`]).
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = read_config_text(path)?;
    parse_file_text(path, &text)
}

/// Validates `text`, read from the file at `path`.
pub(crate) fn parse_file_text(path: &Path, text: &str) -> Result<Config, ConfigError> {
    // Absolute, so relative entries keep meaning the same file if the daemon changes
    // its working directory.
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let base_dir = absolute.parent().map(Path::to_path_buf).unwrap_or_default();
    parse_with_base(text, &path.display().to_string(), &base_dir)
}

/// The text of the config file at `path`; a missing file is [`ConfigError::NotFound`].
pub(crate) fn read_config_text(path: &Path) -> Result<String, ConfigError> {
    read_capped(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            ConfigError::NotFound {
                path: path.to_path_buf(),
                chosen_by: chosen_by(path, std::env::var_os(CONFIG_PATH_ENV)),
            }
        } else {
            ConfigError::Read {
                path: path.to_path_buf(),
                source,
            }
        }
    })
}

/// How `path` was chosen, for the missing-file message (the CLI reads `--config` and
/// `$SCIM_SYNC_CONFIG` into one value, so the two are told apart by comparing).
fn chosen_by(path: &Path, env_value: Option<std::ffi::OsString>) -> &'static str {
    match env_value {
        Some(value) if !value.is_empty() && Path::new(&value) == path => "set by $SCIM_SYNC_CONFIG",
        _ if path == Path::new(DEFAULT_CONFIG_PATH) => {
            "the default path; --config or $SCIM_SYNC_CONFIG name another"
        }
        _ => "given with --config",
    }
}

/// The largest config file read: the example with every key and its comments is under
/// 10 KiB.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// The file's text, read to at most [`MAX_CONFIG_BYTES`] (a FIFO such as `<(…)` works; a
/// huge file or a device such as /dev/zero is refused without reading it in).
fn read_capped(path: &Path) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("the file is larger than {MAX_CONFIG_BYTES} bytes; a config file is a few KiB"),
        ));
    }
    String::from_utf8(bytes).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })
}

/// Validates config `text`. `origin` names the text in errors; when it is a path, its
/// directory is the base for relative paths (an origin without a directory means the
/// working directory).
pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
    let base_dir = Path::new(origin)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    parse_with_base(text, origin, &base_dir)
}

fn parse_with_base(text: &str, origin: &str, base_dir: &Path) -> Result<Config, ConfigError> {
    // Editors on Windows may save a byte-order mark, which TOML does not allow.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let loc = Locator { origin, text };
    let raw: RawConfig = toml::from_str(text).map_err(|err| loc.toml_error(&err))?;
    Validator { loc, base_dir }.config(raw)
}
