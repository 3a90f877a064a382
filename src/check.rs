//! `scim-sync check`: Okta's "Test API Credentials", for both sides. Read-only.

use serde::Serialize;

use crate::config::Config;
use crate::escape;
use crate::exit::Exit;
use crate::kafkaman::KafkamanError;
use crate::okta::OktaError;
use crate::store::Store;
use crate::view::{self, ViewError};
use scim_sync_plan as plan;

/// One line of the check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckLine {
    pub side: &'static str,
    pub what: String,
    pub ok: bool,
    /// Passed, but something in the data needs a person (printed `WARN`).
    pub warning: bool,
    /// What to check when it failed.
    pub detail: String,
}

fn line(side: &'static str, what: &str, result: Result<String, String>) -> CheckLine {
    match result {
        Ok(detail) => CheckLine {
            side,
            what: what.into(),
            ok: true,
            warning: false,
            detail,
        },
        Err(detail) => CheckLine {
            side,
            what: what.into(),
            ok: false,
            warning: false,
            detail,
        },
    }
}

fn okta_hint(e: &OktaError, scope: &str) -> String {
    let rid = e
        .request_id()
        .map(|r| format!(" (request id {r})"))
        .unwrap_or_default();
    match (e.status(), e.error_code()) {
        (Some(401), _) => format!(
            "Okta rejected the credentials{rid}: check that okta.api_token is a current API \
             token of this org, or that the service app's client_id, key and key id are right"
        ),
        (Some(403), _) => format!(
            "Okta refused{rid}: grant the scope {scope} to the service app (Okta API Scopes tab) \
             and give it a read-only admin role, or use a token of an admin who can read it"
        ),
        (Some(404), _) => format!(
            "not found{rid}: check okta.app_id (Applications → kafkaman → the id in the URL)"
        ),
        _ => format!("{e}"),
    }
}

fn kafkaman_hint(e: &KafkamanError) -> String {
    let rid = e
        .request_id()
        .map(|r| format!(" (request id {r})"))
        .unwrap_or_default();
    match e.status() {
        Some(401) => format!(
            "kafkaman rejected the SCIM API key{rid}: check that it is the right key and that \
             its status is ACTIVE in the team's authentication settings"
        ),
        Some(403) => format!(
            "kafkaman refused{rid}: confirm that SCIM is enabled for the team (Team Settings → \
             Authentication); {e}"
        ),
        _ => format!("{e}"),
    }
}

/// Runs every check and returns the lines.
pub async fn checks(cfg: &Config) -> Vec<CheckLine> {
    let mut out = Vec::new();

    match view::okta_client(cfg) {
        Err(e) => out.push(line("okta", "credentials", Err(config_hint(e)))),
        Ok(okta) => {
            let app = okta.get_app(&cfg.okta.app_id).await;
            let reached = match &app {
                Err(e) if e.status().is_none() => Err(format!(
                    "cannot reach {}: {e} (check okta.org_url and the network)",
                    cfg.okta.org_url
                )),
                _ => Ok(format!("{} answers", cfg.okta.org_url)),
            };
            let reachable = reached.is_ok();
            out.push(line("okta", "reach the org", reached));
            if reachable {
                // What the app makes each app username from, and whether it is sent.
                let template = app
                    .as_ref()
                    .ok()
                    .and_then(|a| a.pointer("/credentials/userNameTemplate/template"))
                    .and_then(|t| t.as_str())
                    .map(str::to_string);
                if let Some(template) = template {
                    let sent = match cfg.sync.user_name_source {
                        crate::config::UserNameSource::AppUsername => {
                            "sent as the userName (sync.user_name_source = app_username), as \
                             Okta's own provisioning would"
                                .to_string()
                        }
                        crate::config::UserNameSource::Profile => format!(
                            "not sent: the userName is the profile's {} (sync.user_name_source \
                             = profile)",
                            cfg.sync.user_name_attribute
                        ),
                    };
                    out.push(line(
                        "okta",
                        "app username format",
                        Ok(format!("{} ({sent})", crate::escape::text(&template))),
                    ));
                }
                out.push(line(
                    "okta",
                    "token valid, app exists (okta.apps.read)",
                    app.map(|a| {
                        format!(
                            "app {} ({})",
                            cfg.okta.app_id,
                            a.get("label").and_then(|l| l.as_str()).unwrap_or("?")
                        )
                    })
                    .map_err(|e| okta_hint(&e, "okta.apps.read")),
                ));
                let probes = [
                    (
                        format!("/api/v1/apps/{}/users", cfg.okta.app_id),
                        "okta.apps.read",
                        "read app assignments",
                    ),
                    ("/api/v1/users".to_string(), "okta.users.read", "read users"),
                    (
                        "/api/v1/groups".to_string(),
                        "okta.groups.read",
                        "read groups",
                    ),
                    (
                        "/api/v1/logs".to_string(),
                        "okta.logs.read",
                        "read the System Log",
                    ),
                ];
                for (path, scope, what) in probes {
                    let r = okta.probe_scope(&path).await;
                    out.push(line(
                        "okta",
                        &format!("{what} ({scope})"),
                        r.map(|_| "allowed".to_string())
                            .map_err(|e| okta_hint(&e, scope)),
                    ));
                }
            }
        }
    }

    match view::kafkaman_client(cfg) {
        Err(e) => out.push(line("kafkaman", "credentials", Err(config_hint(e)))),
        Ok(km) => {
            let spc = km.service_provider_config().await;
            let reachable = !matches!(&spc, Err(e) if e.status().is_none());
            out.push(line(
                "kafkaman",
                "reach the SCIM API",
                spc.map(|_| format!("{}scim/v2 answers", cfg.kafkaman.base_url))
                    .map_err(|e| {
                        format!(
                            "cannot reach {}: {e} (check kafkaman.base_url and the network)",
                            cfg.kafkaman.base_url
                        )
                    }),
            ));
            if reachable {
                out.push(line(
                    "kafkaman",
                    "key valid and ACTIVE, SCIM enabled",
                    km.users_named("scim-sync-check@invalid.example")
                        .await
                        .map(|_| "the SCIM API accepts the key".to_string())
                        .map_err(|e| kafkaman_hint(&e)),
                ));
                out.push(invites_line(
                    km.list_pending_invites().await,
                    cfg.sync.clear_pending_invites,
                ));
            }
        }
    }
    out.extend(shared_emails_line(cfg));
    out
}

/// Okta users that share one email, from the last complete Okta read in the state
/// database (none yet: no line). Reading every assignment here would cost a check what
/// a full cycle costs; the snapshot is as fresh as the last cycle.
fn shared_emails_line(cfg: &Config) -> Option<CheckLine> {
    const WHAT: &str = "Okta users with an email of their own";
    let store = match Store::open_existing(&cfg.sync.state_db) {
        Ok(Some(store)) => store,
        Ok(None) => return None,
        Err(e) => {
            return Some(line(
                "okta",
                WHAT,
                Err(format!("cannot read the snapshot: {e}")),
            ));
        }
    };
    let read_at = store.okta_read_time().ok().flatten()?;
    let users = match store.okta_users() {
        Ok(users) => users,
        Err(e) => {
            return Some(line(
                "okta",
                WHAT,
                Err(format!("cannot read the snapshot: {e}")),
            ));
        }
    };
    let groups = plan::shared_email_groups(&users);
    if groups.is_empty() {
        return Some(line(
            "okta",
            WHAT,
            Ok(format!("yes (last Okta read {read_at})")),
        ));
    }
    let named: Vec<String> = groups
        .iter()
        .map(|g| {
            let ids: Vec<&str> = g.iter().map(|u| u.okta_id.as_str()).collect();
            format!(
                "{} ({})",
                escape::text(g[0].user_name.as_deref().unwrap_or("")),
                escape::text(&ids.join(", "))
            )
        })
        .collect();
    Some(CheckLine {
        side: "okta",
        what: WHAT.into(),
        ok: true,
        warning: true,
        detail: format!(
            "{} email(s) shared by several Okta users, one kafkaman member each (last Okta \
             read {read_at}): {}; give each person their own email in Okta",
            groups.len(),
            named.join("; ")
        ),
    })
}

/// Invite clearing is the one feature that needs kafkaman's team API (beyond RFC 7644):
/// without it the check fails only when `clear_pending_invites` is on, and otherwise
/// says the feature is unavailable.
fn invites_line<T>(invites: Result<Vec<T>, KafkamanError>, clearing: bool) -> CheckLine {
    const WHAT: &str = "invite clearing (team invites API)";
    let absent = |e: &KafkamanError| matches!(e.status(), Some(404 | 405 | 501));
    match invites {
        Ok(v) => line(
            "kafkaman",
            WHAT,
            Ok(format!(
                "available: {} pending invites{}",
                v.len(),
                if clearing {
                    ""
                } else {
                    " (off: clear_pending_invites = false)"
                }
            )),
        ),
        Err(e) if !clearing => line(
            "kafkaman",
            WHAT,
            Ok(format!(
                "unavailable ({}); not needed with clear_pending_invites = false",
                if absent(&e) {
                    "the target has no team API".to_string()
                } else {
                    kafkaman_hint(&e)
                }
            )),
        ),
        Err(e) if absent(&e) => line(
            "kafkaman",
            WHAT,
            Err(format!(
                "unavailable: the target has no team API ({e}); set \
                 `sync.clear_pending_invites = false` to sync without it"
            )),
        ),
        Err(e) => line("kafkaman", WHAT, Err(kafkaman_hint(&e))),
    }
}

fn config_hint(e: ViewError) -> String {
    format!("{e}")
}

/// Prints the check and returns the exit ([`Exit::Ok`] when every line passed).
pub async fn run(cfg: &Config) -> anyhow::Result<Exit> {
    let lines = checks(cfg).await;
    for l in &lines {
        crate::out_println!(
            "{} {:<9} {:<42} {}",
            match (l.ok, l.warning) {
                (false, _) => "FAIL",
                (true, true) => "WARN",
                (true, false) => "ok  ",
            },
            l.side,
            l.what,
            l.detail
        );
    }
    let failed = lines.iter().filter(|l| !l.ok).count();
    let warnings = lines.iter().filter(|l| l.warning).count();
    if failed == 0 && warnings > 0 {
        crate::out_println!("All checks passed; {warnings} warning(s) above need a person.");
        Ok(Exit::Ok)
    } else if failed == 0 {
        crate::out_println!("All checks passed.");
        Ok(Exit::Ok)
    } else {
        crate::out_println!("{failed} check(s) failed.");
        Ok(Exit::Failed)
    }
}
