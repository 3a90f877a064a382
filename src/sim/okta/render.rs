//! JSON shapes of Okta's User, AppUser, Group, ApplicationGroupAssignment and Application
//! objects (spec `components.schemas`), rendered from the org state.

use serde_json::{Map, Value, json};

use super::org::{AppUserRow, Group, GroupAssignment, Org, User, UserStatus, fmt_ts};

/// The org's default user type id (every user has it).
const USER_TYPE_ID: &str = "otysimdefault00000001";

fn href(url: String) -> Value {
    json!({ "href": url })
}

fn post_link(url: String) -> Value {
    json!({ "href": url, "method": "POST" })
}

fn opt_ts(t: &Option<super::org::Ts>) -> Value {
    t.as_ref()
        .map(|t| Value::String(fmt_ts(t)))
        .unwrap_or(Value::Null)
}

/// A User. In collections Okta gives only the `self` link; a single user gets the
/// lifecycle links its status allows.
pub fn user(u: &User, base: &str, full_links: bool) -> Value {
    let self_url = format!("{base}/api/v1/users/{}", u.id);
    let mut links = Map::new();
    links.insert("self".into(), href(self_url.clone()));
    if full_links {
        let lc = |op: &str| post_link(format!("{self_url}/lifecycle/{op}"));
        match u.status {
            UserStatus::Active => {
                links.insert("suspend".into(), lc("suspend"));
                links.insert("deactivate".into(), lc("deactivate"));
                links.insert("resetPassword".into(), lc("reset_password"));
                links.insert("expirePassword".into(), lc("expire_password"));
            }
            UserStatus::Suspended => {
                links.insert("unsuspend".into(), lc("unsuspend"));
                links.insert("deactivate".into(), lc("deactivate"));
            }
            UserStatus::Deprovisioned | UserStatus::Staged => {
                links.insert("activate".into(), lc("activate"));
            }
            UserStatus::Provisioned | UserStatus::Recovery => {
                links.insert("reactivate".into(), lc("reactivate"));
                links.insert("deactivate".into(), lc("deactivate"));
            }
            UserStatus::LockedOut | UserStatus::PasswordExpired => {
                links.insert("deactivate".into(), lc("deactivate"));
            }
        }
        links.insert(
            "type".into(),
            href(format!("{base}/api/v1/meta/types/user/{USER_TYPE_ID}")),
        );
        links.insert(
            "schema".into(),
            href(format!(
                "{base}/api/v1/meta/schemas/user/oscsimdefault0000001"
            )),
        );
    }
    let mut credentials = json!({ "provider": { "type": "OKTA", "name": "OKTA" } });
    if u.password_changed.is_some() {
        credentials["password"] = json!({});
    }
    json!({
        "id": u.id,
        "status": u.status.as_str(),
        "created": fmt_ts(&u.created),
        "activated": opt_ts(&u.activated),
        "statusChanged": opt_ts(&u.status_changed),
        "lastLogin": Value::Null,
        "lastUpdated": fmt_ts(&u.last_updated),
        "passwordChanged": opt_ts(&u.password_changed),
        "type": { "id": USER_TYPE_ID },
        "profile": u.profile,
        "credentials": credentials,
        "_links": links,
    })
}

/// An AppUser row. `id` is the Okta user id; `scope` USER wins over GROUP.
pub fn app_user(org: &Org, u: &User, row: &AppUserRow, base: &str, expand_user: bool) -> Value {
    let app_url = format!("{base}/api/v1/apps/{}", org.app_id);
    let direct = org.direct.contains(&u.id);
    let mut links = json!({
        "app": href(app_url.clone()),
        "user": href(format!("{base}/api/v1/users/{}", u.id)),
    });
    if !direct && let Some(gid) = org.source_group(&u.id) {
        links["group"] = href(format!("{base}/api/v1/groups/{gid}"));
    }
    let status = if row.external_id.is_some() {
        "PROVISIONED"
    } else {
        "ACTIVE"
    };
    let p = |k: &str| u.profile.get(k).cloned().unwrap_or(Value::Null);
    let mut out = json!({
        "id": u.id,
        "created": fmt_ts(&row.created),
        "lastUpdated": fmt_ts(&row.last_updated),
        "scope": if direct { "USER" } else { "GROUP" },
        "status": status,
        "statusChanged": fmt_ts(&row.status_changed),
        "passwordChanged": Value::Null,
        "syncState": "DISABLED",
        "credentials": { "userName": u.login() },
        "profile": {
            "email": p("email"),
            "firstName": p("firstName"),
            "lastName": p("lastName"),
        },
        "_links": links,
    });
    if let Some(ext) = &row.external_id {
        out["externalId"] = Value::String(ext.clone());
    }
    if expand_user {
        out["_embedded"] = json!({ "user": user(u, base, true) });
    }
    out
}

pub fn group(g: &Group, base: &str, stats: bool, apps_count: usize) -> Value {
    let url = format!("{base}/api/v1/groups/{}", g.id);
    let mut profile = json!({ "name": g.name });
    if let Some(d) = &g.description {
        profile["description"] = Value::String(d.clone());
    }
    let mut out = json!({
        "id": g.id,
        "created": fmt_ts(&g.created),
        "lastUpdated": fmt_ts(&g.last_updated),
        "lastMembershipUpdated": fmt_ts(&g.last_membership_updated),
        "objectClass": ["okta:user_group"],
        "type": "OKTA_GROUP",
        "profile": profile,
        "_links": {
            "self": href(url.clone()),
            "users": href(format!("{url}/users")),
            "apps": href(format!("{url}/apps")),
        },
    });
    if stats {
        out["_embedded"] = json!({ "stats": {
            "usersCount": g.members.len(),
            "appsCount": apps_count,
            "groupPushMappingsCount": 0,
            "hasAdminPrivlege": false,
        }});
    }
    out
}

pub fn app_group(
    org: &Org,
    g: &Group,
    a: &GroupAssignment,
    base: &str,
    expand_group: bool,
) -> Value {
    let app_url = format!("{base}/api/v1/apps/{}", org.app_id);
    let mut out = json!({
        "id": g.id,
        "lastUpdated": fmt_ts(&a.last_updated),
        "priority": a.priority,
        "profile": {},
        "_links": {
            "self": href(format!("{app_url}/groups/{}", g.id)),
            "app": href(app_url),
            "group": href(format!("{base}/api/v1/groups/{}", g.id)),
        },
    });
    if expand_group {
        let apps = usize::from(org.group_assignments.contains_key(&g.id));
        out["_embedded"] = json!({ "group": group(g, base, false, apps) });
    }
    out
}

/// The kafkaman app: a SAML 2.0 app with no Okta-side provisioning.
pub fn application(org: &Org, base: &str) -> Value {
    let url = format!("{base}/api/v1/apps/{}", org.app_id);
    json!({
        "id": org.app_id,
        "orn": format!("orn:okta:idp:simorg:apps:kafkaman:{}", org.app_id),
        "name": "kafkaman",
        "label": org.app_label,
        "status": "ACTIVE",
        "created": fmt_ts(&org.app_created),
        "lastUpdated": fmt_ts(&org.app_created),
        "signOnMode": "SAML_2_0",
        "features": [],
        "accessibility": { "selfService": false },
        "visibility": {
            "autoSubmitToolbar": false,
            "hide": { "iOS": false, "web": false },
            "appLinks": { "kafkaman_link": true },
        },
        "credentials": {
            "userNameTemplate": { "template": "${source.login}", "type": "BUILT_IN" },
            "signing": { "kid": "simkafkamansigningkey0" },
        },
        "settings": {
            "notes": {},
            "signOn": {
                "allowMultipleAcsEndpoints": false,
                "assertionSigned": true,
                "honorForceAuthn": true,
                "requestCompressed": false,
                "responseSigned": true,
                "ssoAcsUrl": "https://kafkaman.example/saml/acs",
                "audience": "https://kafkaman.example/saml/metadata",
                "recipient": "https://kafkaman.example/saml/acs",
                "destination": "https://kafkaman.example/saml/acs",
                "subjectNameIdTemplate": "${user.userName}",
                "subjectNameIdFormat": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
                "signatureAlgorithm": "RSA_SHA256",
                "digestAlgorithm": "SHA256",
                "authnContextClassRef": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
            },
        },
        "_links": {
            "self": href(url.clone()),
            "users": href(format!("{url}/users")),
            "groups": href(format!("{url}/groups")),
            "deactivate": href(format!("{url}/lifecycle/deactivate")),
            "metadata": href(format!("{url}/sso/saml/metadata")),
        },
    })
}
