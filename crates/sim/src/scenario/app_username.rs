//! The app's username format, and each user's app username and app profile: what
//! Okta's own provisioning would send for them.

use serde::{Deserialize, Serialize};

use super::OktaUserSpec;

/// The app usernames Okta makes, as the built-in username formats of an app's Sign On
/// tab (`credentials.userNameTemplate.template`).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AppUsernameFormat {
    /// `${source.login}`, Okta's default.
    #[default]
    Login,
    /// `${source.email}`.
    Email,
    /// `${fn:substringBefore(source.login, "@")}`: the login's part before `@`.
    LoginPrefix,
}

impl AppUsernameFormat {
    /// The app username this format makes of a user's login and email.
    pub fn apply(self, login: &str, email: Option<&str>) -> String {
        match self {
            AppUsernameFormat::Login => login.to_string(),
            AppUsernameFormat::Email => email.unwrap_or(login).to_string(),
            AppUsernameFormat::LoginPrefix => login
                .split_once('@')
                .map_or(login, |(prefix, _)| prefix)
                .to_string(),
        }
    }

    /// The template as Okta shows it.
    pub fn template(self) -> &'static str {
        match self {
            AppUsernameFormat::Login => "${source.login}",
            AppUsernameFormat::Email => "${source.email}",
            AppUsernameFormat::LoginPrefix => "${fn:substringBefore(source.login, \"@\")}",
        }
    }
}

impl OktaUserSpec {
    /// The user's app username under `format`: their override, else the format's.
    pub fn app_username_under(&self, format: AppUsernameFormat) -> String {
        match &self.app_username {
            Some(name) => name.clone(),
            None => format.apply(&self.login, self.email.as_deref()),
        }
    }

    /// An app profile attribute (the app's value, else the user's name fields).
    pub fn app_profile_str(&self, attr: &str) -> Option<String> {
        if let Some(v) = self.app_profile.get(attr).and_then(|v| v.as_str()) {
            return Some(v.to_string());
        }
        match attr {
            "firstName" => self.first_name.clone(),
            "lastName" => self.last_name.clone(),
            _ => None,
        }
    }
}
