//! JSON shapes of Okta's User, AppUser, Group, ApplicationGroupAssignment and Application
//! objects (spec `components.schemas`), rendered from the org state.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::org::{AppUserRow, Group, GroupAssignment, Org, User, UserStatus, fmt_ts};

/// The org's default user type id (every user has it).
const USER_TYPE_ID: &str = "otysimdefault00000001";

fn href(url: String) -> Value {
    json!({ "href": url })
}

/// A HAL link; lifecycle links carry `method`.
#[derive(Serialize)]
pub struct Link {
    href: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<&'static str>,
}

fn link(href: String) -> Link {
    Link { href, method: None }
}

fn post_link(href: String) -> Link {
    Link {
        href,
        method: Some("POST"),
    }
}

#[derive(Serialize)]
struct TypeRef {
    id: &'static str,
}

#[derive(Serialize)]
struct Provider {
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'static str,
}

#[derive(Serialize)]
struct Credentials {
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<Map<String, Value>>,
    provider: Provider,
}

/// Okta's User object, borrowing from the org (listings serialize it straight to bytes).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserOut<'a> {
    id: &'a str,
    status: &'static str,
    created: String,
    activated: Option<String>,
    status_changed: Option<String>,
    last_login: Option<String>,
    last_updated: String,
    password_changed: Option<String>,
    #[serde(rename = "type")]
    user_type: TypeRef,
    profile: &'a Map<String, Value>,
    credentials: Credentials,
    #[serde(rename = "_links")]
    links: BTreeMap<&'static str, Link>,
}

/// A User. In collections Okta gives only the `self` link; a single user gets the
/// lifecycle links its status allows.
pub fn user_out<'a>(u: &'a User, base: &str, full_links: bool) -> UserOut<'a> {
    let self_url = format!("{base}/api/v1/users/{}", u.id);
    let mut links = BTreeMap::new();
    if full_links {
        let lc = |op: &str| post_link(format!("{self_url}/lifecycle/{op}"));
        match u.status {
            UserStatus::Active => {
                links.insert("suspend", lc("suspend"));
                links.insert("deactivate", lc("deactivate"));
                links.insert("resetPassword", lc("reset_password"));
                links.insert("expirePassword", lc("expire_password"));
            }
            UserStatus::Suspended => {
                links.insert("unsuspend", lc("unsuspend"));
                links.insert("deactivate", lc("deactivate"));
            }
            UserStatus::Deprovisioned | UserStatus::Staged => {
                links.insert("activate", lc("activate"));
            }
            UserStatus::Provisioned | UserStatus::Recovery => {
                links.insert("reactivate", lc("reactivate"));
                links.insert("deactivate", lc("deactivate"));
            }
            UserStatus::LockedOut | UserStatus::PasswordExpired => {
                links.insert("deactivate", lc("deactivate"));
            }
        }
        links.insert(
            "type",
            link(format!("{base}/api/v1/meta/types/user/{USER_TYPE_ID}")),
        );
        links.insert(
            "schema",
            link(format!(
                "{base}/api/v1/meta/schemas/user/oscsimdefault0000001"
            )),
        );
    }
    links.insert("self", link(self_url));
    UserOut {
        id: &u.id,
        status: u.status.as_str(),
        created: fmt_ts(&u.created),
        activated: u.activated.as_ref().map(fmt_ts),
        status_changed: u.status_changed.as_ref().map(fmt_ts),
        last_login: None,
        last_updated: fmt_ts(&u.last_updated),
        password_changed: u.password_changed.as_ref().map(fmt_ts),
        user_type: TypeRef { id: USER_TYPE_ID },
        profile: &u.profile,
        credentials: Credentials {
            password: u.password_changed.map(|_| Map::new()),
            provider: Provider {
                kind: "OKTA",
                name: "OKTA",
            },
        },
        links,
    }
}

pub fn user(u: &User, base: &str, full_links: bool) -> Value {
    serde_json::to_value(user_out(u, base, full_links)).unwrap_or(Value::Null)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AppUserProfile<'a> {
    email: Option<&'a Value>,
    first_name: Option<&'a Value>,
    last_name: Option<&'a Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AppUserCredentials {
    user_name: String,
}

#[derive(Serialize)]
struct Embedded<'a> {
    user: UserOut<'a>,
}

/// Okta's AppUser object, borrowing from the org.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppUserOut<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_id: Option<&'a str>,
    created: String,
    last_updated: String,
    scope: &'static str,
    status: &'static str,
    status_changed: String,
    password_changed: Option<String>,
    sync_state: &'static str,
    credentials: AppUserCredentials,
    profile: AppUserProfile<'a>,
    #[serde(rename = "_links")]
    links: BTreeMap<&'static str, Link>,
    #[serde(rename = "_embedded", skip_serializing_if = "Option::is_none")]
    embedded: Option<Embedded<'a>>,
}

/// An AppUser row. `id` is the Okta user id; `scope` USER wins over GROUP. The app has
/// no Okta-side provisioning: ACTIVE, or PROVISIONED once an `externalId` is known.
pub fn app_user_out<'a>(
    org: &Org,
    u: &'a User,
    row: &'a AppUserRow,
    base: &str,
    expand_user: bool,
) -> AppUserOut<'a> {
    let direct = org.direct.contains(&u.id);
    let mut links = BTreeMap::new();
    links.insert("app", link(format!("{base}/api/v1/apps/{}", org.app_id)));
    links.insert("user", link(format!("{base}/api/v1/users/{}", u.id)));
    if !direct && let Some(gid) = org.source_group(&u.id) {
        links.insert("group", link(format!("{base}/api/v1/groups/{gid}")));
    }
    const NULL: Value = Value::Null;
    // The app profile: the user's values, with the app's own where they differ.
    let p = |k: &str| Some(u.app_profile.get(k).or(u.profile.get(k)).unwrap_or(&NULL));
    AppUserOut {
        id: &u.id,
        external_id: row.external_id.as_deref(),
        created: fmt_ts(&row.created),
        last_updated: fmt_ts(&row.last_updated),
        scope: if direct { "USER" } else { "GROUP" },
        status: if row.external_id.is_some() {
            "PROVISIONED"
        } else {
            "ACTIVE"
        },
        status_changed: fmt_ts(&row.status_changed),
        password_changed: None,
        sync_state: "DISABLED",
        credentials: AppUserCredentials {
            user_name: org.app_username(u),
        },
        profile: AppUserProfile {
            email: p("email"),
            first_name: p("firstName"),
            last_name: p("lastName"),
        },
        links,
        embedded: expand_user.then(|| Embedded {
            user: user_out(u, base, true),
        }),
    }
}

pub fn app_user(org: &Org, u: &User, row: &AppUserRow, base: &str, expand_user: bool) -> Value {
    serde_json::to_value(app_user_out(org, u, row, base, expand_user)).unwrap_or(Value::Null)
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
            "userNameTemplate": { "template": org.app_username_format.template(), "type": "BUILT_IN" },
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
