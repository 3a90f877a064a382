//! The people a saved plan writes to, as the planner saw them, and the same people read
//! again at apply time. Both sides go through the view's conversions (an app user, a
//! SCIM user, an invite → the planner's types), so "unchanged" means the planner would
//! see exactly what it saw.

use std::collections::{BTreeMap, HashMap};

use scim_sync_plan::{self as plan, AssignedUser, Member, Operation, PendingInvite};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::kafkaman::KafkamanClient;
use crate::okta::OktaClient;
use crate::sync::PlanInputs;
use crate::view::{ViewError, convert, full};

/// What was seen of one side of a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Seen<T> {
    Present(T),
    /// Okta: not assigned to the app (Okta's own answer). kafkaman: no such member.
    Absent,
}

/// For a create: who else has the email in kafkaman, and its pending invites.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SameEmail {
    pub members: Vec<Member>,
    pub invites: Vec<PendingInvite>,
}

/// One person an operation of the plan writes to (or creates).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Person {
    pub user_name: String,
    pub okta_id: Option<String>,
    pub scim_id: Option<String>,
    /// Their Okta assignment (when the plan names an Okta user).
    pub okta: Option<Seen<AssignedUser>>,
    /// Their kafkaman member (when the plan writes to one).
    pub member: Option<Seen<Member>>,
    /// For a create or an invite clearing: the email's members and invites.
    pub same_email: Option<SameEmail>,
}

impl Person {
    /// Who, in words (escaped: Okta and kafkaman values).
    pub fn who(&self) -> String {
        let id = self
            .okta_id
            .as_deref()
            .or(self.scim_id.as_deref())
            .unwrap_or("");
        crate::escape::text(&format!("{} ({id})", self.user_name)).into_owned()
    }
}

/// The people of these operations, one entry each (a create and the invite clearing
/// before it are one person), without what was seen of them yet.
pub fn people_of<'a>(ops: impl Iterator<Item = &'a Operation>) -> Vec<Person> {
    let mut people: Vec<Person> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for op in ops {
        let key = match (op.okta_id(), op.scim_id()) {
            (Some(okta), _) => format!("okta:{okta}"),
            (None, Some(scim)) => format!("scim:{scim}"),
            (None, None) => format!("email:{}", plan::email_key(op.user_name())),
        };
        let at = *index.entry(key).or_insert_with(|| {
            people.push(Person {
                user_name: op.user_name().to_string(),
                okta_id: op.okta_id().map(str::to_string),
                scim_id: None,
                okta: None,
                member: None,
                same_email: None,
            });
            people.len() - 1
        });
        let person = &mut people[at];
        if let Some(scim) = op.scim_id() {
            person.scim_id = Some(scim.to_string());
        }
        if matches!(op.kind(), plan::OpKind::Create | plan::OpKind::ClearInvite) {
            person.same_email = Some(SameEmail {
                members: Vec::new(),
                invites: Vec::new(),
            });
        }
    }
    people
}

/// The people of the plan's operations as the planner saw them.
pub fn as_planned<'a>(
    ops: impl Iterator<Item = &'a Operation>,
    inputs: &PlanInputs,
) -> Vec<Person> {
    let assigned: HashMap<&str, &AssignedUser> = inputs
        .okta
        .assigned
        .iter()
        .map(|u| (u.okta_id.as_str(), u))
        .collect();
    let members: HashMap<&str, &Member> = inputs
        .team
        .members
        .iter()
        .map(|m| (m.scim_id.as_str(), m))
        .collect();
    let mut people = people_of(ops);
    for p in &mut people {
        if let Some(id) = &p.okta_id {
            p.okta = Some(match assigned.get(id.as_str()) {
                Some(u) => Seen::Present((*u).clone()),
                None => Seen::Absent,
            });
        }
        if let Some(id) = &p.scim_id {
            p.member = Some(match members.get(id.as_str()) {
                Some(m) => Seen::Present((*m).clone()),
                None => Seen::Absent,
            });
        }
        if p.same_email.is_some() {
            let members = inputs
                .team
                .members
                .iter()
                .filter(|m| plan::same_email(&m.user_name, &p.user_name))
                .cloned()
                .collect();
            let invites = inputs
                .team
                .invites
                .iter()
                .filter(|i| plan::same_email(&i.email, &p.user_name))
                .cloned()
                .collect();
            p.same_email = Some(sorted(SameEmail { members, invites }));
        }
    }
    people
}

fn sorted(mut s: SameEmail) -> SameEmail {
    s.members.sort_by(|a, b| a.scim_id.cmp(&b.scim_id));
    s.invites.sort_by(|a, b| a.id.cmp(&b.id));
    s
}

/// The same people read again now, one request per side and person (two for a create).
/// A read that fails fails the apply: nothing is concluded from it.
pub async fn now(
    cfg: &Config,
    okta: &OktaClient,
    kafkaman: &KafkamanClient,
    planned: &[Person],
) -> Result<Vec<Person>, ViewError> {
    let mut people = Vec::with_capacity(planned.len());
    for p in planned {
        let mut seen = p.clone();
        if let (Some(id), Some(_)) = (&p.okta_id, &p.okta) {
            let found = okta.get_app_user(&cfg.okta.app_id, id).await?;
            seen.okta = Some(match found {
                Some(au) => Seen::Present(convert::assigned_user(cfg, &au)),
                None => Seen::Absent,
            });
        }
        if let (Some(id), Some(_)) = (&p.scim_id, &p.member) {
            seen.member = Some(match kafkaman.get_user(id).await? {
                Some(u) => Seen::Present(convert::member(&u)),
                None => Seen::Absent,
            });
        }
        if p.same_email.is_some() {
            let members = kafkaman
                .users_named(&p.user_name)
                .await?
                .iter()
                .filter(|u| plan::same_email(&u.user_name, &p.user_name))
                .map(convert::member)
                .collect();
            let invites = full::pending_invites_for(cfg, kafkaman, &p.user_name).await?;
            seen.same_email = Some(sorted(SameEmail { members, invites }));
        }
        people.push(seen);
    }
    Ok(people)
}

/// One person who changed since the plan, and what changed, in words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Drift {
    pub who: String,
    pub changes: Vec<String>,
}

/// Who changed between the plan and now, and how.
pub fn drift(planned: &[Person], now: &[Person]) -> Vec<Drift> {
    let mut drifted = Vec::new();
    for (was, is) in planned.iter().zip(now) {
        let mut changes = Vec::new();
        compare("Okta", &was.okta, &is.okta, &mut changes);
        compare("kafkaman", &was.member, &is.member, &mut changes);
        if let (Some(was), Some(is)) = (&was.same_email, &is.same_email) {
            if was.members != is.members {
                changes.push(format!(
                    "kafkaman: members with this email {} → {}",
                    was.members.len(),
                    is.members.len()
                ));
            }
            if was.invites != is.invites {
                let ids = |v: &[PendingInvite]| {
                    v.iter()
                        .map(|i| i.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                changes.push(format!(
                    "kafkaman: pending invites [{}] → [{}]",
                    ids(&was.invites),
                    ids(&is.invites)
                ));
            }
        }
        if changes.is_empty() && was != is {
            changes.push("changed".to_string());
        }
        if !changes.is_empty() {
            drifted.push(Drift {
                who: was.who(),
                changes: changes
                    .iter()
                    .map(|c| crate::escape::text(c).into_owned())
                    .collect(),
            });
        }
    }
    drifted
}

/// The fields of one side that differ, as `side: field old → new`.
fn compare<T: Serialize + PartialEq>(
    side: &str,
    was: &Option<Seen<T>>,
    is: &Option<Seen<T>>,
    out: &mut Vec<String>,
) {
    let absent = if side == "Okta" {
        "not assigned"
    } else {
        "no such member"
    };
    match (was, is) {
        (Some(Seen::Present(a)), Some(Seen::Present(b))) if a != b => {
            let fields = |v: &T| -> BTreeMap<String, serde_json::Value> {
                match serde_json::to_value(v) {
                    Ok(serde_json::Value::Object(m)) => m.into_iter().collect(),
                    _ => BTreeMap::new(),
                }
            };
            let (a, b) = (fields(a), fields(b));
            for (key, old) in &a {
                let new = b.get(key).unwrap_or(&serde_json::Value::Null);
                if old != new {
                    out.push(format!("{side}: {key} {old} → {new}"));
                }
            }
        }
        (Some(Seen::Present(_)), Some(Seen::Absent)) => {
            out.push(format!("{side}: now {absent}"));
        }
        (Some(Seen::Absent), Some(Seen::Present(_))) => {
            out.push(format!("{side}: was {absent}, now present"));
        }
        _ => {}
    }
}
