//! What to check when Okta refuses a call: the hints of 401 and 403 errors.

pub(super) fn unauthorized_hint(code: Option<&str>, oauth: bool) -> String {
    let code = code.unwrap_or("no error code");
    if oauth {
        format!(
            "Okta rejected the OAuth access token ({code}) even after fetching a new one: check okta.org_url and that the service app is active"
        )
    } else {
        format!(
            "Okta rejected the API token ({code}): check okta.api_token (revoked, expired, or from another org?) and okta.org_url"
        )
    }
}

/// What a 403 on `path` most likely lacks.
pub(super) fn forbidden_hint(path: &str, oauth: bool) -> String {
    let scope = if path.starts_with("/api/v1/apps") {
        "okta.apps.read"
    } else if path.starts_with("/api/v1/groups") || path.ends_with("/groups") {
        "okta.groups.read"
    } else if path.starts_with("/api/v1/logs") {
        "okta.logs.read"
    } else {
        "okta.users.read"
    };
    if oauth {
        format!(
            "the service app lacks scope {scope} (grant it on the app's Okta API Scopes tab and list it in okta.oauth.scopes) or an admin role"
        )
    } else {
        format!(
            "the API token's admin lacks permission (E0000006 means a missing admin role; a read-only admin role covering this app is enough; scope equivalent {scope})"
        )
    }
}
