//! `scim-sync explain <email | Okta user id>`: everything about one person, and what the
//! planner would do about them now and under which rule. Read-only: it reads Okta, the
//! team and the state database and writes nothing anywhere.

use std::collections::BTreeMap;

use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::config::Config;
use crate::exit::Exit;
use crate::kafkaman::{KafkamanClient, ScimUser};
use crate::okta::{AppUser, OktaClient, OktaUser};
use crate::store::{OpRecord, Store, StoreError};
use crate::view::{self, Snapshot, convert};
use scim_sync_plan::string_enum;
use scim_sync_plan::{
    self as plan, AppUserStatus, AssignmentScope, Member, OktaUserStatus, OpKind, PendingInvite,
};

mod decide;
mod text;

use decide::decide;
pub use text::text;

pub const SCHEMA: &str = "scim-sync/explain";
/// How many of the person's latest operations are shown.
pub const OPERATIONS_SHOWN: u32 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ExplainFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct ExplainArgs {
    /// The person: an email (kafkaman userName / Okta login) or an Okta user id.
    pub who: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ExplainFormat::Text)]
    pub output: ExplainFormat,
}

#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub schema: &'static str,
    pub version: u32,
    pub query: String,
    pub okta: OktaPart,
    pub member: Option<Member>,
    /// Why the team could not be read (the rest is still shown).
    pub member_error: Option<String>,
    pub link: Option<LinkPart>,
    pub invites: Vec<PendingInvite>,
    /// The latest operations on this person, newest first.
    pub operations: Vec<OpRecord>,
    /// What the planner would do now: one step per planned write (or one "none").
    pub decision: Vec<Decision>,
    /// Whether the decision was computed against a stored snapshot of everyone else.
    pub decision_basis: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct OktaPart {
    pub found: bool,
    pub error: Option<String>,
    pub id: Option<String>,
    pub status: Option<OktaUserStatus>,
    pub login: Option<String>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// The kafkaman userName scim-sync sends (`sync.user_name_source`: the app
    /// username by default, else `sync.user_name_attribute`).
    pub user_name: Option<String>,
    /// The app username (`credentials.userName` of the assignment), what Okta's own
    /// provisioning would send.
    pub app_username: Option<String>,
    pub assignment: Option<Assignment>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Assignment {
    /// The AppUser status.
    pub status: AppUserStatus,
    /// `USER` (directly) or `GROUP`.
    pub scope: AssignmentScope,
    /// Groups the user is in that are assigned to the app.
    pub groups: Vec<GroupRef>,
    /// Why the groups could not be listed (the scope is still known).
    pub groups_error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct LinkPart {
    pub okta_id: String,
    pub scim_id: String,
}

string_enum! {
    /// Which part of the plan a decision comes from.
    pub enum DecisionCategory ("decision category") {
        Operation => "operation",
        Held => "held",
        Attention => "attention",
        Unmanaged => "unmanaged",
        /// The plan has nothing about this person.
        None => "none",
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub category: DecisionCategory,
    pub action: Option<OpKind>,
    pub reason: String,
    /// The planner rule that decides, and the settings it depends on.
    pub rule: String,
}

/// Gathers the explanation. `store` is None when no cycle has run yet. A failed read of
/// Okta or kafkaman is part of the explanation; a store error is an error.
pub async fn explain(
    cfg: &Config,
    store: Option<&Store>,
    who: &str,
) -> Result<Explanation, StoreError> {
    let who = who.trim();
    let looks_like_email = who.contains('@');
    let snapshot = store.map(Snapshot::load).transpose()?;
    let links = snapshot
        .as_ref()
        .map(|s| s.team.links.clone())
        .unwrap_or_default();

    // Okta: the user, then their assignment and groups.
    let mut okta = OktaPart::default();
    let okta_client = view::okta_client(cfg).map_err(|e| e.to_string());
    let mut app_user: Option<AppUser> = None;
    let mut okta_user: Option<OktaUser> = None;
    match &okta_client {
        Err(e) => okta.error = Some(e.clone()),
        Ok(client) => {
            let mut id = who.to_string();
            if looks_like_email {
                // The login may differ from the email: the last Okta read knows the id.
                let known = snapshot.iter().flat_map(|s| &s.assigned).find(|u| {
                    u.user_name
                        .as_deref()
                        .is_some_and(|n| plan::same_email(n, who))
                });
                if let Some(u) = known {
                    id = u.okta_id.clone();
                }
            }
            match client.get_user(&id).await {
                Ok(u) => okta_user = u,
                Err(e) => okta.error = Some(e.to_string()),
            }
        }
    }

    // kafkaman: the member by link, externalId or userName, and pending invites.
    let kafkaman = view::kafkaman_client(cfg).map_err(|e| e.to_string());
    let mut member_error = None;
    let mut member: Option<Member> = None;
    let mut invites = Vec::new();
    let okta_id_hint = okta_user
        .as_ref()
        .map(|u| u.id.clone())
        .or_else(|| (!looks_like_email).then(|| who.to_string()));
    let email_hint = okta_user
        .as_ref()
        .and_then(|u| u.profile_str(&cfg.sync.user_name_attribute))
        .map(str::to_string)
        .or_else(|| looks_like_email.then(|| who.to_string()));
    match &kafkaman {
        Err(e) => member_error = Some(e.clone()),
        Ok(k) => match find_member(k, &links, okta_id_hint.as_deref(), email_hint.as_deref()).await
        {
            Ok(m) => member = m.as_ref().map(convert::member),
            Err(e) => member_error = Some(e),
        },
    }
    // An email unknown to Okta's login may still name a member that points at Okta.
    if okta_user.is_none()
        && okta.error.is_none()
        && let (Ok(client), Some(ext)) = (
            &okta_client,
            member.as_ref().and_then(|m| m.external_id.clone()),
        )
    {
        match client.get_user(&ext).await {
            Ok(u) => okta_user = u,
            Err(e) => okta.error = Some(e.to_string()),
        }
    }
    let email = okta_user
        .as_ref()
        .and_then(|u| u.profile_str(&cfg.sync.user_name_attribute))
        .map(str::to_string)
        .or_else(|| member.as_ref().map(|m| m.user_name.clone()))
        .or_else(|| looks_like_email.then(|| who.to_string()));
    if let (Ok(k), Some(email)) = (&kafkaman, &email) {
        match k.list_pending_invites().await {
            Ok(all) => {
                invites = convert::pending_invites(all);
                invites.retain(|i| plan::same_email(&i.email, email));
            }
            Err(e) => member_error = Some(format!("listing invites failed: {e}")),
        }
    }

    if let (Some(u), Ok(client)) = (&okta_user, &okta_client) {
        okta.found = true;
        okta.id = Some(u.id.clone());
        okta.status = Some(u.status.as_str().into());
        okta.login = u.profile_str("login").map(str::to_string);
        okta.email = u.profile_str("email").map(str::to_string);
        okta.first_name = u
            .profile_str(&cfg.sync.given_name_attribute)
            .map(str::to_string);
        okta.last_name = u
            .profile_str(&cfg.sync.family_name_attribute)
            .map(str::to_string);
        okta.user_name = u
            .profile_str(&cfg.sync.user_name_attribute)
            .map(str::to_string);
        match client.get_app_user(&cfg.okta.app_id, &u.id).await {
            Ok(Some(au)) => {
                let (groups, groups_error) = assigned_groups(client, cfg, &u.id).await;
                okta.assignment = Some(Assignment {
                    status: au.status.as_str().into(),
                    scope: au.scope.as_str().into(),
                    groups,
                    groups_error,
                });
                okta.app_username = au.user_name.clone();
                okta.user_name = convert::assigned_user(cfg, &au).user_name;
                app_user = Some(au);
            }
            Ok(None) => {}
            Err(e) => okta.error = Some(format!("reading the app assignment failed: {e}")),
        }
    }

    let okta_id = okta.id.clone().or(okta_id_hint);
    let link = okta_id
        .as_ref()
        .and_then(|id| links.get(id).map(|scim| (id.clone(), scim.clone())))
        .or_else(|| {
            let scim = &member.as_ref()?.scim_id;
            links
                .iter()
                .find(|(_, s)| *s == scim)
                .map(|(o, s)| (o.clone(), s.clone()))
        })
        .map(|(okta_id, scim_id)| LinkPart { okta_id, scim_id });

    let mut operations: BTreeMap<i64, OpRecord> = BTreeMap::new();
    if let Some(s) = store {
        for key in [email.as_deref(), okta_id.as_deref()].into_iter().flatten() {
            for o in s.operations_for(key, OPERATIONS_SHOWN)? {
                operations.insert(o.id, o);
            }
        }
    }
    let operations: Vec<OpRecord> = operations
        .into_values()
        .rev()
        .take(OPERATIONS_SHOWN as usize)
        .collect();

    let complete = okta.error.is_none() && member_error.is_none();
    let (decision, decision_basis) = if complete {
        let basis = if store.is_some() {
            "live data for this person, the last snapshot for everyone else".to_string()
        } else {
            "live data for this person only (no cycle has run: no snapshot)".to_string()
        };
        let d = decide(
            cfg,
            store.zip(snapshot),
            app_user.as_ref(),
            okta_user.as_ref(),
            okta_id.as_deref(),
            member.as_ref(),
            email.as_deref(),
            &invites,
        )?;
        (d, basis)
    } else {
        (
            Vec::new(),
            "not computed: a read failed (see the errors above)".to_string(),
        )
    };

    Ok(Explanation {
        schema: SCHEMA,
        version: 1,
        query: who.to_string(),
        okta,
        member,
        member_error,
        link,
        invites,
        operations,
        decision,
        decision_basis,
    })
}

async fn find_member(
    k: &KafkamanClient,
    links: &std::collections::HashMap<String, String>,
    okta_id: Option<&str>,
    email: Option<&str>,
) -> Result<Option<ScimUser>, String> {
    if let Some(scim) = okta_id.and_then(|id| links.get(id))
        && let Some(m) = k.get_user(scim).await.map_err(|e| e.to_string())?
    {
        return Ok(Some(m));
    }
    if let Some(id) = okta_id
        && let Some(m) = k.find_by_external_id(id).await.map_err(|e| e.to_string())?
    {
        return Ok(Some(m));
    }
    if let Some(email) = email {
        return k
            .users_named(email)
            .await
            .map(|found| {
                found
                    .into_iter()
                    .find(|u| plan::same_email(&u.user_name, email))
            })
            .map_err(|e| e.to_string());
    }
    Ok(None)
}

/// The user's groups that are assigned to the app. Okta orgs (and simulators) that do
/// not serve `/users/{id}/groups` leave the groups unknown, not the explanation.
async fn assigned_groups(
    client: &OktaClient,
    cfg: &Config,
    user_id: &str,
) -> (Vec<GroupRef>, Option<String>) {
    let user_groups = match client.list_user_groups(user_id).await {
        Ok(g) => g,
        Err(e) => {
            let why = if e.status() == Some(404) {
                "Okta did not list the user's groups (HTTP 404)".to_string()
            } else {
                format!("listing the user's groups failed: {e}")
            };
            return (Vec::new(), Some(why));
        }
    };
    let app_groups = match client.list_app_groups(&cfg.okta.app_id).await {
        Ok(g) => g,
        Err(e) => {
            return (
                Vec::new(),
                Some(format!("listing the app's groups failed: {e}")),
            );
        }
    };
    let assigned: std::collections::HashSet<&str> = app_groups
        .iter()
        .filter_map(|g| g.get("id").and_then(|v| v.as_str()))
        .collect();
    let mut out: Vec<GroupRef> = user_groups
        .iter()
        .filter_map(|g| {
            let id = g.get("id")?.as_str()?;
            assigned.contains(id).then(|| GroupRef {
                id: id.to_string(),
                name: g
                    .pointer("/profile/name")
                    .and_then(|v| v.as_str())
                    .unwrap_or(id)
                    .to_string(),
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    (out, None)
}

/// `scim-sync explain`; returns the exit status: 0 explained, 3 when a read failed or
/// nobody is known by that name.
pub async fn run(cfg: &Config, args: &ExplainArgs) -> Exit {
    let store = match Store::open_existing(&cfg.sync.state_db) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "scim-sync: explain: {}",
                crate::escape::text(&e.to_string())
            );
            return Exit::Unavailable;
        }
    };
    let e = match explain(cfg, store.as_ref(), &args.who).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!(
                "scim-sync: explain: {}",
                crate::escape::text(&e.to_string())
            );
            return Exit::Failed;
        }
    };
    match args.output {
        ExplainFormat::Json => {
            // Plain data: serializing cannot fail.
            crate::out_println!("{}", serde_json::to_string_pretty(&e).unwrap_or_default());
        }
        ExplainFormat::Text => crate::out_print!("{}", text(&e)),
    }
    let failed = e.okta.error.is_some() || e.member_error.is_some();
    let unknown = !e.okta.found && e.member.is_none() && e.operations.is_empty();
    if failed {
        Exit::Unavailable
    } else if unknown {
        eprintln!(
            "scim-sync: explain: nobody known as {:?} in Okta, the team or the state database",
            args.who
        );
        Exit::Unavailable
    } else {
        Exit::Ok
    }
}
