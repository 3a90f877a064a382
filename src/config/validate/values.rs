//! The value checks of [`Validator`] that the sections share: URLs, identifiers,
//! bounded numbers and percentages, and secret references (never the secret itself).

use std::net::IpAddr;

use toml::Spanned;
use url::Url;

use super::{Result, Validator};
use crate::config::error::quoted;
use crate::config::raw::{RawSecret, RawSecretTable};
use crate::config::secret::looks_like_token;
use crate::config::{SecretRef, SecretSource};

impl Validator<'_> {
    pub(super) fn url(&self, value: &Spanned<String>, key: &str) -> Result<Url> {
        let text = value.get_ref().trim();
        let url = Url::parse(text).map_err(|e| {
            self.loc.at(
                value.span(),
                key,
                format!(
                    "{} is not a URL ({e}); write it in full, e.g. \"https://acme.okta.com\"",
                    quoted(value.get_ref())
                ),
            )
        })?;
        if !url.username().is_empty() || url.password().is_some() {
            // Never echo the value: it contains a credential.
            return Err(self.loc.at(
                value.span(),
                key,
                "the URL contains a user name or password; remove it (credentials are \
                 configured as secret references, never in URLs)",
            ));
        }
        let loopback = match url.host() {
            Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
            None => false,
        };
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => {
                return Err(self.loc.at(
                    value.span(),
                    key,
                    format!(
                        "{} must use https (plain http is allowed only for loopback addresses)",
                        quoted(value.get_ref())
                    ),
                ));
            }
            other => {
                return Err(self.loc.at(
                    value.span(),
                    key,
                    format!(
                        "{} has scheme {other:?}; use an https:// URL",
                        quoted(value.get_ref())
                    ),
                ));
            }
        }
        if url.host().is_none() {
            return Err(self.loc.at(
                value.span(),
                key,
                format!("{} has no host name", quoted(value.get_ref())),
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(self.loc.at(
                value.span(),
                key,
                format!(
                    "{} must not have a query string or fragment",
                    quoted(value.get_ref())
                ),
            ));
        }
        Ok(url)
    }

    pub(super) fn non_empty(&self, value: &Spanned<String>, key: &str) -> Result<String> {
        let text = value.get_ref().trim();
        if text.is_empty() {
            return Err(self.loc.at(value.span(), key, "must not be empty"));
        }
        Ok(text.to_owned())
    }

    /// A value used verbatim in URLs or JSON paths: letters, digits, `_`, `-`, `.`.
    pub(super) fn identifier(
        &self,
        value: &Spanned<String>,
        key: &str,
        hint: &str,
    ) -> Result<String> {
        let text = self.non_empty(value, key)?;
        if !text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            return Err(self.loc.at(
                value.span(),
                key,
                format!(
                    "{} contains characters that cannot appear here; expected {hint}",
                    quoted(value.get_ref())
                ),
            ));
        }
        Ok(text)
    }

    pub(super) fn int_in_range<T>(
        &self,
        value: Option<Spanned<T>>,
        key: &str,
        default: T,
        min: T,
        max: T,
    ) -> Result<T>
    where
        T: Copy + PartialOrd + std::fmt::Display + Bounded,
    {
        let Some(value) = value else {
            return Ok(default);
        };
        let number = *value.get_ref();
        if number < min || number > max {
            let range = if max == T::MAX {
                format!("at least {min}")
            } else {
                format!("between {min} and {max}")
            };
            return Err(self.loc.at(
                value.span(),
                key,
                format!("{number} is out of range: must be {range}"),
            ));
        }
        Ok(number)
    }

    pub(super) fn percent(
        &self,
        value: Option<Spanned<f64>>,
        key: &str,
        default: f64,
    ) -> Result<f64> {
        let Some(value) = value else {
            return Ok(default);
        };
        let number = *value.get_ref();
        if !(0.0..=100.0).contains(&number) {
            return Err(self.loc.at(
                value.span(),
                key,
                format!("{number} is out of range: it is a percentage, from 0 to 100"),
            ));
        }
        Ok(number)
    }

    pub(super) fn secret(&self, value: Spanned<RawSecret>, key: &str) -> Result<SecretRef> {
        let span = value.span();
        let suggestion = || {
            let name = key.rsplit('.').next().unwrap_or(key).replace('_', "-");
            let section = key.split('.').next().unwrap_or(key);
            format!(
                "reference it instead: `{{ file = \"/etc/scim-sync/{section}-{name}\" }}`, \
                 `{{ env = \"{}\" }}` or `{{ credential = \"{section}-{name}\" }}` \
                 (systemd LoadCredential=)",
                format!("{section}_{name}").replace('-', "_").to_uppercase()
            )
        };
        let table: RawSecretTable = match value.into_inner() {
            RawSecret::Inline => {
                return Err(self.loc.at(
                    span,
                    key,
                    format!(
                        "secrets must not be written in the config file; {}",
                        suggestion()
                    ),
                ));
            }
            RawSecret::Ref(table) => table,
        };
        Ok(SecretRef {
            key: key.to_owned(),
            source: self.secret_source(table, span, key, suggestion)?,
        })
    }

    /// Exactly one of `file` (relative to the config), `env` or `credential` (a name).
    pub(super) fn secret_source(
        &self,
        table: RawSecretTable,
        span: std::ops::Range<usize>,
        key: &str,
        suggestion: impl Fn() -> String,
    ) -> Result<SecretSource> {
        Ok(match (table.file, table.env, table.credential) {
            (Some(file), None, None) => {
                if file.trim().is_empty() {
                    return Err(self.loc.at(span, key, "`file` must not be empty"));
                }
                let path = self.base_dir.join(&file);
                if !file.starts_with(['/', '.', '~'])
                    && looks_like_token(&file.replace('/', ""))
                    && !path.exists()
                {
                    return Err(self.loc.at(span, key, pasted_secret("file")));
                }
                SecretSource::File(path)
            }
            (None, Some(env), None) => {
                if env.is_empty() {
                    return Err(self.loc.at(span, key, "`env` must not be empty"));
                }
                if !is_env_name(&env) {
                    // Never echo it: a value that is no variable name is most likely the
                    // secret itself.
                    return Err(self.loc.at(
                        span,
                        key,
                        format!(
                            "`env` is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*); {}",
                            pasted_secret("env")
                        ),
                    ));
                }
                SecretSource::Env(env)
            }
            (None, None, Some(name)) => {
                // A credential is a file name inside $CREDENTIALS_DIRECTORY, never a path.
                if name.is_empty() {
                    return Err(self.loc.at(span, key, "`credential` must not be empty"));
                }
                let allowed = |c: char| c.is_ascii_alphanumeric() || "_.:@+-".contains(c);
                if looks_like_token(&name.replace('/', ""))
                    || name.len() > 255
                    || !name.chars().all(|c| allowed(c) || c == '/')
                {
                    return Err(self.loc.at(
                        span,
                        key,
                        format!(
                            "`credential` is not a credential name (as in LoadCredential=NAME:...); {}",
                            pasted_secret("credential")
                        ),
                    ));
                }
                if name.contains('/') || name == "." || name == ".." {
                    return Err(self.loc.at(
                        span,
                        key,
                        format!(
                            "`credential = {}` must be a credential name (as in LoadCredential=NAME:...), not a path",
                            quoted(&name)
                        ),
                    ));
                }
                SecretSource::Credential(name)
            }
            _ => {
                return Err(self.loc.at(
                    span,
                    key,
                    format!(
                        "a secret reference needs exactly one of `file`, `env` or `credential`; {}",
                        suggestion()
                    ),
                ));
            }
        })
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*`: what a shell and systemd's `Environment=` accept.
fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The message for a reference that is probably the secret itself; shows none of it.
fn pasted_secret(kind: &str) -> String {
    format!(
        "this looks like a secret value, not a reference (not shown); put the secret in a \
         file (mode 0600), an environment variable or a systemd credential, and write \
         `{kind} = ...` naming it"
    )
}

/// Upper bound of an integer type, to phrase "at least N" when there is no real maximum.
pub(super) trait Bounded {
    const MAX: Self;
}
impl Bounded for u32 {
    const MAX: Self = u32::MAX;
}
impl Bounded for u64 {
    const MAX: Self = u64::MAX;
}
