//! Config errors that point at the file, line and key to fix.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::CONFIG_PATH_ENV;

/// How the missing-config message offers the demo, which needs no config.
#[cfg(feature = "sim")]
const DEMO_HINT: &str = "scim-sync demo (built-in simulators of Okta and kafkaman)";
#[cfg(not(feature = "sim"))]
const DEMO_HINT: &str = "scim-sync demo, in a build with the simulators (the default \
     `cargo build`; this one has none)";

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// There is no file at the path: says where the path came from and what to do.
    #[error(
        "no config file at {} ({chosen_by})\n  \
         to fix: pass --config PATH (or set {CONFIG_PATH_ENV}) to your config file, or create \
         this one from the example (config.example.toml in the source tree; \
         /usr/share/doc/scim-sync/config.example.toml once installed from the package)\n  \
         to try scim-sync without a config: {DEMO_HINT}",
        path.display()
    )]
    NotFound {
        path: PathBuf,
        /// How the path was chosen (`--config`, `$SCIM_SYNC_CONFIG`, the default).
        chosen_by: &'static str,
    },
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(Box<InvalidConfig>),
}

impl ConfigError {
    /// The dotted key the error is about (`okta.org_url`), when there is one.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Read { .. } | ConfigError::NotFound { .. } => None,
            ConfigError::Invalid(invalid) => invalid.key.as_deref(),
        }
    }

    /// The 1-based line of the config file the error is about, when known.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Read { .. } | ConfigError::NotFound { .. } => None,
            ConfigError::Invalid(invalid) => invalid.line,
        }
    }
}

/// A config file that was read but is not valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidConfig {
    /// The file name as given (or the origin passed to `parse`).
    pub origin: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column (in characters), when known.
    pub column: Option<usize>,
    /// Dotted key path, e.g. `okta.org_url`.
    pub key: Option<String>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for InvalidConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.origin)?;
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, " line {line}, column {column}")?,
            (Some(line), None) => write!(f, " line {line}")?,
            _ => {}
        }
        write!(f, ": ")?;
        // Messages about a specific key that already quote it (unknown/missing key)
        // do not repeat it as a prefix.
        if let Some(key) = &self.key
            && !self.message.contains(&format!("`{key}`"))
            && !self.message.contains(&format!("`[{key}]`"))
        {
            write!(f, "{key}: ")?;
        }
        write!(f, "{}", self.message)
    }
}

/// Builds located errors for one config text.
pub(crate) struct Locator<'a> {
    pub origin: &'a str,
    pub text: &'a str,
}

impl Locator<'_> {
    /// An error about `key` whose value sits at `span` in the text.
    pub fn at(&self, span: Range<usize>, key: &str, message: impl Into<String>) -> ConfigError {
        let (line, column) = line_column(self.text, span.start);
        self.error(
            Some(line),
            Some(column),
            Some(key.to_owned()),
            message.into(),
        )
    }

    /// An error about `key` without a known position (e.g. a missing key).
    pub fn unplaced(&self, key: &str, message: impl Into<String>) -> ConfigError {
        self.error(None, None, Some(key.to_owned()), message.into())
    }

    fn error(
        &self,
        line: Option<usize>,
        column: Option<usize>,
        key: Option<String>,
        message: String,
    ) -> ConfigError {
        ConfigError::Invalid(Box::new(InvalidConfig {
            origin: self.origin.to_owned(),
            line,
            column,
            key,
            message,
        }))
    }

    /// Turns a TOML syntax or serde error into a located error naming the dotted key.
    pub fn toml_error(&self, err: &toml::de::Error) -> ConfigError {
        let span = err.span();
        // The key path is recovered from the position: toml's own key list is private.
        let parsed = DeTable::parse(self.text);
        let path = match (&span, &parsed) {
            (Some(span), Ok(root)) => key_path_at(root, span.start),
            _ => Vec::new(),
        };
        let (line, column) = match &span {
            Some(span) => {
                let (line, column) = line_column(self.text, span.start);
                (Some(line), Some(column))
            }
            _ => (None, None),
        };
        let raw = err.message().trim().to_owned();
        let dotted = |extra: &str| {
            let mut parts = path.clone();
            // The path found by position ends at the unknown key itself when the span
            // is the key; make sure it is there exactly once.
            if parts.last().map(String::as_str) != Some(extra) {
                parts.push(extra.to_owned());
            }
            parts.join(".")
        };

        if let Some(rest) = raw.strip_prefix("unknown field `")
            && let Some((name, expected)) = rest.split_once('`')
        {
            let key = dotted(name);
            let known = expected_list(expected);
            let parent = key.rsplit_once('.').map(|(parent, _)| parent);
            let is_table = match &parsed {
                Ok(root) => is_table_at(root, &key),
                Err(_) => false,
            };
            let message = match (nearest(name, &known), is_table) {
                (Some(near), true) => {
                    let near = parent.map_or_else(|| near.to_owned(), |p| format!("{p}.{near}"));
                    format!(
                        "unknown table `[{key}]`: did you mean `[{near}]`? (rename the table; \
                         see config.example.toml)"
                    )
                }
                (Some(near), false) => {
                    let near = parent.map_or_else(|| near.to_owned(), |p| format!("{p}.{near}"));
                    format!(
                        "unknown key `{key}`: did you mean `{near}`? (rename the key; \
                         see config.example.toml)"
                    )
                }
                (None, _) if known.is_empty() => {
                    format!("unknown key `{key}`: this table takes no keys")
                }
                (None, _) => format!(
                    "unknown {} `{key}`, expected one of {} (check the spelling; see \
                     config.example.toml)",
                    if is_table { "table" } else { "key" },
                    backquoted(&known)
                ),
            };
            return self.error(line, column, Some(key), message);
        }
        if let Some(rest) = raw.strip_prefix("unknown variant `")
            && let Some((value, expected)) = rest.split_once('`')
        {
            let key = (!path.is_empty()).then(|| path.join("."));
            let known = expected_list(expected);
            let suggestion = nearest(value, &known)
                .map(|near| format!(": did you mean \"{near}\"?"))
                .unwrap_or_default();
            let message = format!(
                "{} is not a valid value, expected one of {}{suggestion}",
                quoted(value),
                backquoted(&known)
            );
            return self.error(line, column, key, message);
        }
        if let Some(rest) = raw.strip_prefix("missing field `")
            && let Some((name, _)) = rest.split_once('`')
        {
            // For a missing key the span is the enclosing table: find the table by its
            // exact span (containment would also match the first key inside it).
            let table_path = match (&span, &parsed) {
                (Some(span), Ok(root)) => table_path_with_span(root, span),
                _ => None,
            };
            let mut parts = table_path.unwrap_or_else(|| path.clone());
            parts.push(name.to_owned());
            let key = parts.join(".");
            if parts.len() == 1 {
                // Missing from the document itself: there is no useful line to show.
                let message = format!("missing required section `{key}`: add the [{key}] section");
                return self.error(None, None, Some(key), message);
            }
            let message = format!("missing required key `{key}`");
            return self.error(line, column, Some(key), message);
        }
        if parsed.is_err() {
            return self.error(line, column, None, format!("TOML syntax error: {raw}"));
        }
        let key = (!path.is_empty()).then(|| path.join("."));
        self.error(line, column, key, humanize(&raw))
    }
}

/// serde lists expected names as "`a`", "`a` or `b`" or "one of `a`, `b`, `c`";
/// returns the names.
fn expected_list(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// The names as "`a`, `b`, `c`".
fn backquoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The known name `unknown` is most likely a typo of, if one is close enough: at most
/// two edits (a swap of neighbours is one) and fewer edits than it has characters, or
/// the same start and most letters (Jaro-Winkler of at least 0.9, which catches a
/// shortened or lengthened name like `max_deactivations_pct`). Case and `-` for `_` are
/// ignored. `None` when nothing is close, or when two names are equally close.
pub(crate) fn nearest<'a>(unknown: &str, known: &[&'a str]) -> Option<&'a str> {
    let normal = |name: &str| name.to_lowercase().replace('-', "_");
    let unknown = normal(unknown);
    let length = unknown.chars().count();
    let mut scored: Vec<(usize, f64, &'a str)> = known
        .iter()
        .map(|&name| {
            let candidate = normal(name);
            (
                strsim::damerau_levenshtein(&unknown, &candidate),
                strsim::jaro_winkler(&unknown, &candidate),
                name,
            )
        })
        .filter(|&(edits, similarity, _)| (edits <= 2 && edits < length) || similarity >= 0.9)
        .collect();
    scored.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
    match scored.as_slice() {
        [] => None,
        [(_, _, only)] => Some(only),
        [
            (edits, similarity, best),
            (next_edits, next_similarity, _),
            ..,
        ] => (edits != next_edits || similarity != next_similarity).then_some(*best),
    }
}

/// Whether the dotted `key` names a table (`[okat]`, or `okta.oath = { … }`).
fn is_table_at(root: &Spanned<DeTable<'_>>, key: &str) -> bool {
    let mut table = root.get_ref();
    let mut parts = key.split('.').peekable();
    while let Some(part) = parts.next() {
        let Some((_, value)) = table.iter().find(|(name, _)| name.get_ref() == part) else {
            return false;
        };
        match value.get_ref() {
            DeValue::Table(inner) if parts.peek().is_some() => table = inner,
            DeValue::Table(_) => return true,
            _ => return false,
        }
    }
    false
}

/// The dotted path of the table whose span is exactly `span` (`Some(vec![])` for the
/// document itself).
fn table_path_with_span(root: &Spanned<DeTable<'_>>, span: &Range<usize>) -> Option<Vec<String>> {
    fn search(table: &DeTable<'_>, span: &Range<usize>, path: &mut Vec<String>) -> bool {
        for (key, value) in table.iter() {
            if let DeValue::Table(inner) = value.get_ref() {
                path.push(key.get_ref().to_string());
                if value.span() == *span || search(inner, span, path) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    if root.span() == *span {
        return Some(Vec::new());
    }
    let mut path = Vec::new();
    search(root.get_ref(), span, &mut path).then_some(path)
}

/// Rewrites serde's Rust-flavoured type names into words a config author knows.
fn humanize(message: &str) -> String {
    let mut text = message.to_owned();
    for (rust, words) in [
        ("expected u8", "expected a whole number (0 or more)"),
        ("expected u16", "expected a whole number (0 or more)"),
        ("expected u32", "expected a whole number (0 or more)"),
        ("expected u64", "expected a whole number (0 or more)"),
        ("expected usize", "expected a whole number (0 or more)"),
        ("expected f64", "expected a number"),
        ("expected a sequence", "expected a list like [\"a\", \"b\"]"),
        ("expected a string", "expected a quoted string"),
    ] {
        if let Some(stripped) = text.strip_suffix(rust) {
            text = format!("{stripped}{words}");
        }
    }
    text
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_start..offset].chars().count() + 1;
    (line, column)
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// The 1-based line of the value of the dotted `key` in config `text`, when it is
/// written there (for errors found after loading, such as a schedule that does not parse).
pub(crate) fn line_of_key(text: &str, key: &str) -> Option<usize> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let root = DeTable::parse(text).ok()?;
    let mut table = root.get_ref();
    let mut parts = key.split('.').peekable();
    while let Some(part) = parts.next() {
        let (_, value) = table.iter().find(|(name, _)| name.get_ref() == part)?;
        if parts.peek().is_none() {
            return Some(line_column(text, value.span().start).0);
        }
        match value.get_ref() {
            DeValue::Table(inner) => table = inner,
            _ => return None,
        }
    }
    None
}

/// The dotted path of the deepest key whose key or value contains byte `pos`.
fn key_path_at(root: &Spanned<DeTable<'_>>, pos: usize) -> Vec<String> {
    let mut path = Vec::new();
    search_table(root.get_ref(), pos, &mut path);
    path
}

fn contains(span: &Range<usize>, pos: usize) -> bool {
    span.start <= pos && (pos < span.end || span.start == span.end)
}

fn search_table(table: &DeTable<'_>, pos: usize, path: &mut Vec<String>) -> bool {
    for (key, value) in table.iter() {
        path.push(key.get_ref().to_string());
        // Header tables (`[okta]`) may span only their header, so look inside every
        // table rather than only those whose span contains the position.
        if search_value(value, pos, path) || contains(&key.span(), pos) {
            return true;
        }
        if contains(&value.span(), pos) {
            return true;
        }
        path.pop();
    }
    false
}

fn search_value(value: &Spanned<DeValue<'_>>, pos: usize, path: &mut Vec<String>) -> bool {
    match value.get_ref() {
        DeValue::Table(table) => search_table(table, pos, path),
        DeValue::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                let depth = path.len();
                if search_value(item, pos, path) {
                    return true;
                }
                if contains(&item.span(), pos) {
                    if let Some(last) = path.last_mut() {
                        last.push_str(&format!("[{index}]"));
                    }
                    return true;
                }
                path.truncate(depth);
            }
            false
        }
        _ => false,
    }
}

/// How an error message shows a config value: at most 40 characters (then `…`), with
/// control characters escaped, in double quotes. Never used for secret references.
pub(crate) fn quoted(value: &str) -> String {
    const MAX: usize = 40;
    let short: String = value.chars().take(MAX).collect();
    let more = if value.chars().count() > MAX {
        "…"
    } else {
        ""
    };
    let debug = format!("{short:?}");
    match debug.strip_suffix('"') {
        Some(open) => format!("{open}{more}\""),
        None => debug,
    }
}
