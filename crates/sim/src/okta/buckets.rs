//! The org's rate-limit buckets: which bucket a request counts against, and each
//! bucket's fixed window.

use axum::http::Method;

use crate::common::FixedWindow;

/// Okta's rate-limit buckets for the endpoints the simulator serves, with the Workforce
/// defaults of Okta's rate-limit reference (`rl-global-mgmt`, `rl-global-enduser`): the
/// longest match wins, so one app and one group have buckets of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Bucket {
    Apps,
    App,
    UsersList,
    User,
    Groups,
    Group,
    Logs,
    Token,
    Other,
}

pub(super) fn bucket_for(method: &Method, path: &str) -> Bucket {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["api", "v1", "apps", _] => Bucket::App,
        ["api", "v1", "apps", ..] => Bucket::Apps,
        ["api", "v1", "users"] if method == Method::GET || method == Method::POST => {
            Bucket::UsersList
        }
        ["api", "v1", "users", _] if method == Method::GET => Bucket::User,
        ["api", "v1", "groups", _] => Bucket::Group,
        ["api", "v1", "groups", ..] => Bucket::Groups,
        ["api", "v1", "logs", ..] => Bucket::Logs,
        ["oauth2", "v1", "token"] => Bucket::Token,
        _ => Bucket::Other,
    }
}

pub(super) struct Windows {
    pub(super) apps: FixedWindow,
    pub(super) app: FixedWindow,
    pub(super) users_list: FixedWindow,
    pub(super) user: FixedWindow,
    pub(super) groups: FixedWindow,
    pub(super) group: FixedWindow,
    pub(super) logs: FixedWindow,
    pub(super) token: FixedWindow,
    pub(super) other: FixedWindow,
}

impl Windows {
    pub(super) fn get(&mut self, b: Bucket) -> &mut FixedWindow {
        match b {
            Bucket::Apps => &mut self.apps,
            Bucket::App => &mut self.app,
            Bucket::UsersList => &mut self.users_list,
            Bucket::User => &mut self.user,
            Bucket::Groups => &mut self.groups,
            Bucket::Group => &mut self.group,
            Bucket::Logs => &mut self.logs,
            Bucket::Token => &mut self.token,
            Bucket::Other => &mut self.other,
        }
    }
}
