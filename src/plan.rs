//! The planner: a pure function from (what Okta says, what the team looks like, policy)
//! to a plan. Every provisioning decision is made here and nowhere else, so a dry run and
//! a real run are the same computation up to the first write.
//!
//! Inputs are plain data (no clients, no clock): [`OktaView`] is a *complete* read of the
//! app's assignments (the caller guarantees completeness; an incomplete read never gets
//! here), [`TeamView`] the refreshed snapshot of the kafkaman team.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

/// What Okta says about one person assigned to the app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssignedUser {
    pub okta_id: String,
    /// The Okta user's status (ACTIVE, SUSPENDED, …).
    pub okta_status: String,
    /// The AppUser's status (ACTIVE, PROVISIONED, …).
    pub app_status: String,
    /// `USER` (direct) or `GROUP`.
    pub scope: String,
    /// The kafkaman `userName` derived from the profile (None when the attribute is missing).
    pub user_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
}

/// The result of looking up, by id, an Okta user that is no longer assigned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OktaLookup {
    /// The user exists in this org with this status.
    Found { status: String },
    /// No such user in this org (deleted, or an id from elsewhere).
    NotFound,
    /// The lookup failed: nothing is concluded from it.
    Failed { reason: String },
}

/// Everything the planner knows about Okta.
#[derive(Debug, Clone, Default)]
pub struct OktaView {
    /// Every app assignment (complete read).
    pub assigned: Vec<AssignedUser>,
    /// Lookups of Okta ids that members refer to but that are not assigned.
    pub lookups: HashMap<String, OktaLookup>,
}

/// A kafkaman team member as the snapshot holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub scim_id: String,
    pub user_name: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub external_id: Option<String>,
    pub active: bool,
    /// `active`, `invited` or `deactivated`.
    pub membership: String,
    pub role: Option<String>,
}

/// A pending team invite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingInvite {
    pub id: String,
    pub email: String,
    pub source: String,
    pub invited_by: Option<String>,
    pub created_at: String,
}

/// The team as the refreshed snapshot holds it, plus the links scim-sync made before.
#[derive(Debug, Clone, Default)]
pub struct TeamView {
    pub members: Vec<Member>,
    pub invites: Vec<PendingInvite>,
    /// Okta user id -> SCIM id, as recorded by earlier cycles.
    pub links: HashMap<String, String>,
}

/// What an Okta SUSPENDED user means for kafkaman.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SuspendedPolicy {
    Deactivate,
    Keep,
}

/// The switches and limits the planner obeys.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub create_users: bool,
    pub update_attributes: bool,
    pub deactivate_users: bool,
    pub reactivate_users: bool,
    pub clear_pending_invites: bool,
    pub suspended: SuspendedPolicy,
    /// Emails (any case) or Okta ids that are never deactivated.
    pub protected: Vec<String>,
    pub max_deactivations: u32,
    pub max_deactivations_percent: f64,
    /// SCIM ids of held deactivations a human read and released (`--release-held`):
    /// only these pass the cap; a deactivation nobody reviewed stays held.
    pub released: HashSet<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            create_users: true,
            update_attributes: true,
            deactivate_users: true,
            reactivate_users: true,
            clear_pending_invites: true,
            suspended: SuspendedPolicy::Deactivate,
            protected: Vec::new(),
            max_deactivations: 10,
            max_deactivations_percent: 10.0,
            released: HashSet::new(),
        }
    }
}

/// The kinds of write, in the order they are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// Deactivations go first: they free seats for the creates.
    Deactivate,
    Reactivate,
    /// Removing a conflicting invite; always directly before the create it unblocks.
    ClearInvite,
    Create,
    UpdateName,
}

impl OpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Deactivate => "deactivate",
            OpKind::Reactivate => "reactivate",
            OpKind::ClearInvite => "clear_invite",
            OpKind::Create => "create",
            OpKind::UpdateName => "update_name",
        }
    }

    pub fn parse(s: &str) -> Option<OpKind> {
        [
            OpKind::Deactivate,
            OpKind::Reactivate,
            OpKind::ClearInvite,
            OpKind::Create,
            OpKind::UpdateName,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// One write the plan asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    pub kind: OpKind,
    /// The Okta user this is about (None for a member known only by its SCIM id).
    pub okta_id: Option<String>,
    /// The member's SCIM id (None for a create).
    pub scim_id: Option<String>,
    /// The member's email / userName.
    pub user_name: String,
    /// New name for creates and updates.
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// The invite to remove (ClearInvite).
    pub invite_id: Option<String>,
    /// Why, in words a human reads in the dry run.
    pub reason: String,
}

/// Something the planner will not do on its own, with the reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attention {
    pub okta_id: Option<String>,
    pub scim_id: Option<String>,
    pub user_name: String,
    pub reason: String,
}

/// A member scim-sync does not manage: reported, never touched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unmanaged {
    pub scim_id: String,
    pub user_name: String,
    pub membership: String,
    pub external_id: Option<String>,
}

/// A link between an Okta user and a member that this plan establishes (matched by
/// externalId or userName) and that the snapshot should remember.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewLink {
    pub okta_id: String,
    pub scim_id: String,
}

/// The outcome of planning.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Writes, in application order.
    pub operations: Vec<Operation>,
    /// Deactivations the cap holds back.
    pub held: Vec<Operation>,
    pub attention: Vec<Attention>,
    pub unmanaged: Vec<Unmanaged>,
    pub new_links: Vec<NewLink>,
    /// Assigned users whose member already matches.
    pub in_sync: usize,
    /// Active members scim-sync manages (the base of the percentage cap).
    pub managed: usize,
    /// The cap that applied this cycle.
    pub deactivation_cap: u32,
}

impl Plan {
    /// True when the plan asks for no write at all.
    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
    }

    /// Number of planned operations of one kind.
    pub fn count(&self, kind: OpKind) -> usize {
        self.operations.iter().filter(|o| o.kind == kind).count()
    }
}

/// Okta user statuses of a person who should have access.
fn user_is_entitled(status: &str) -> bool {
    matches!(
        status,
        "ACTIVE" | "PROVISIONED" | "PASSWORD_EXPIRED" | "LOCKED_OUT" | "RECOVERY"
    )
}

/// AppUser statuses that mean the assignment is not (or no longer) in force.
fn app_user_revoked(status: &str) -> bool {
    matches!(
        status,
        "INACTIVE" | "SUSPENDED" | "REVOKED" | "DEPROVISIONED" | "UNASSIGNED"
    )
}

/// What the planner makes of one assigned user's statuses.
enum Entitlement {
    Entitled,
    /// Assigned but not entitled: deactivate a member for this reason.
    Revoked(String),
    /// Assigned, not yet active in Okta: neither create nor deactivate.
    Waiting(String),
}

fn entitlement(u: &AssignedUser, policy: &Policy) -> Entitlement {
    if app_user_revoked(&u.app_status) {
        return Entitlement::Revoked(format!("app assignment is {} in Okta", u.app_status));
    }
    match u.okta_status.as_str() {
        s if user_is_entitled(s) => Entitlement::Entitled,
        "SUSPENDED" => match policy.suspended {
            SuspendedPolicy::Deactivate => Entitlement::Revoked(
                "suspended in Okta (sync.suspended_users = \"deactivate\")".into(),
            ),
            SuspendedPolicy::Keep => Entitlement::Entitled,
        },
        "DEPROVISIONED" => Entitlement::Revoked("deactivated in Okta".into()),
        other => Entitlement::Waiting(format!(
            "Okta user is {other}: provisioned once it is activated"
        )),
    }
}

fn is_protected(policy: &Policy, okta_id: Option<&str>, user_name: &str) -> bool {
    policy
        .protected
        .iter()
        .any(|p| p.eq_ignore_ascii_case(user_name) || okta_id.is_some_and(|id| id == p))
}

fn names_differ(member: &Member, given: &Option<String>, family: &Option<String>) -> bool {
    let norm = |s: &Option<String>| s.as_deref().unwrap_or("").to_string();
    norm(&member.given_name) != norm(given) || norm(&member.family_name) != norm(family)
}

/// Computes the plan. Pure: same inputs, same plan.
pub fn plan(okta: &OktaView, team: &TeamView, policy: &Policy) -> Plan {
    let mut out = Plan::default();

    let by_scim: HashMap<&str, &Member> = team
        .members
        .iter()
        .map(|m| (m.scim_id.as_str(), m))
        .collect();
    let mut by_external: HashMap<&str, &Member> = HashMap::new();
    for m in &team.members {
        if let Some(x) = m.external_id.as_deref() {
            by_external.entry(x).or_insert(m);
        }
    }
    let by_user_name: HashMap<String, &Member> = team
        .members
        .iter()
        .map(|m| (m.user_name.to_lowercase(), m))
        .collect();
    let linked_okta_for_scim: HashMap<&str, &str> = team
        .links
        .iter()
        .map(|(okta, scim)| (scim.as_str(), okta.as_str()))
        .collect();
    let mut invites_by_email: BTreeMap<String, Vec<&PendingInvite>> = BTreeMap::new();
    for inv in &team.invites {
        invites_by_email
            .entry(inv.email.to_lowercase())
            .or_default()
            .push(inv);
    }

    let mut matched_scim: HashSet<&str> = HashSet::new();
    let mut deactivations: Vec<Operation> = Vec::new();
    let mut reactivations = Vec::new();
    let mut creates = Vec::new();
    let mut updates = Vec::new();

    let mut assigned: Vec<&AssignedUser> = okta.assigned.iter().collect();
    assigned.sort_by(|a, b| a.okta_id.cmp(&b.okta_id));

    for u in assigned {
        // Match: stored link, then externalId, then userName (case-insensitive).
        let via_link = team
            .links
            .get(&u.okta_id)
            .and_then(|scim| by_scim.get(scim.as_str()).copied());
        let via_external = by_external.get(u.okta_id.as_str()).copied();
        let Some(user_name) = u.user_name.clone().filter(|s| !s.trim().is_empty()) else {
            // Still assigned: a member this user already has is theirs and stays as it is.
            let known = via_link.or(via_external);
            if let Some(m) = known {
                matched_scim.insert(m.scim_id.as_str());
            }
            out.attention.push(Attention {
                okta_id: Some(u.okta_id.clone()),
                scim_id: known.map(|m| m.scim_id.clone()),
                user_name: known.map(|m| m.user_name.clone()).unwrap_or_default(),
                reason: "the Okta profile has no value for the userName attribute \
                         (sync.user_name_attribute): fix the profile or the mapping"
                    .into(),
            });
            continue;
        };
        let ent = entitlement(u, policy);

        let via_name = by_user_name.get(&user_name.to_lowercase()).copied();
        let member = via_link.or(via_external).or_else(|| {
            // A userName match is only adopted when it isn't someone else's member.
            via_name.filter(|m| {
                let owner = linked_okta_for_scim.get(m.scim_id.as_str()).copied();
                let foreign_link = owner.is_some_and(|o| o != u.okta_id);
                let foreign_ext = m.external_id.as_deref().is_some_and(|x| x != u.okta_id);
                !(foreign_link || foreign_ext)
            })
        });

        let Some(member) = member else {
            if let Some(m) = via_name {
                // Same email, but the member belongs to another Okta identity.
                matched_scim.insert(m.scim_id.as_str());
                out.attention.push(Attention {
                    okta_id: Some(u.okta_id.clone()),
                    scim_id: Some(m.scim_id.clone()),
                    user_name: user_name.clone(),
                    reason: format!(
                        "member {} is linked to another Okta user ({}): resolve the \
                         duplicate identity in Okta",
                        m.user_name,
                        m.external_id.as_deref().unwrap_or("via the snapshot")
                    ),
                });
                continue;
            }
            match ent {
                Entitlement::Entitled => {
                    if !policy.create_users {
                        out.attention.push(Attention {
                            okta_id: Some(u.okta_id.clone()),
                            scim_id: None,
                            user_name,
                            reason: "assigned in Okta but not a member; sync.create_users is off"
                                .into(),
                        });
                        continue;
                    }
                    let conflicting: Vec<&PendingInvite> = invites_by_email
                        .get(&user_name.to_lowercase())
                        .map(|v| v.iter().filter(|i| i.source != "scim").copied().collect())
                        .unwrap_or_default();
                    if !conflicting.is_empty() && !policy.clear_pending_invites {
                        out.attention.push(Attention {
                            okta_id: Some(u.okta_id.clone()),
                            scim_id: None,
                            user_name,
                            reason: format!(
                                "a pending {} invite blocks the create; \
                                 sync.clear_pending_invites is off: remove it in kafkaman",
                                conflicting[0].source
                            ),
                        });
                        continue;
                    }
                    for inv in conflicting {
                        creates.push(Operation {
                            kind: OpKind::ClearInvite,
                            okta_id: Some(u.okta_id.clone()),
                            scim_id: None,
                            user_name: user_name.clone(),
                            given_name: None,
                            family_name: None,
                            invite_id: Some(inv.id.clone()),
                            reason: format!(
                                "pending {} invite{} would block the create",
                                inv.source,
                                inv.invited_by
                                    .as_deref()
                                    .map(|b| format!(" from {b}"))
                                    .unwrap_or_default()
                            ),
                        });
                    }
                    creates.push(Operation {
                        kind: OpKind::Create,
                        okta_id: Some(u.okta_id.clone()),
                        scim_id: None,
                        user_name,
                        given_name: u.given_name.clone(),
                        family_name: u.family_name.clone(),
                        invite_id: None,
                        reason: format!(
                            "assigned to the app in Okta ({})",
                            if u.scope == "GROUP" {
                                "through a group"
                            } else {
                                "directly"
                            }
                        ),
                    });
                }
                Entitlement::Waiting(reason) => out.attention.push(Attention {
                    okta_id: Some(u.okta_id.clone()),
                    scim_id: None,
                    user_name,
                    reason,
                }),
                Entitlement::Revoked(_) => {}
            }
            continue;
        };

        matched_scim.insert(member.scim_id.as_str());
        if via_link.is_none() {
            out.new_links.push(NewLink {
                okta_id: u.okta_id.clone(),
                scim_id: member.scim_id.clone(),
            });
        }
        let renamed = !member.user_name.eq_ignore_ascii_case(&user_name);

        match ent {
            Entitlement::Entitled if !member.active => {
                if policy.reactivate_users {
                    reactivations.push(Operation {
                        kind: OpKind::Reactivate,
                        okta_id: Some(u.okta_id.clone()),
                        scim_id: Some(member.scim_id.clone()),
                        user_name: member.user_name.clone(),
                        given_name: None,
                        family_name: None,
                        invite_id: None,
                        reason: "assigned again in Okta (rehire): reactivating the same account"
                            .into(),
                    });
                } else {
                    out.attention.push(Attention {
                        okta_id: Some(u.okta_id.clone()),
                        scim_id: Some(member.scim_id.clone()),
                        user_name: member.user_name.clone(),
                        reason: "assigned again but deactivated in kafkaman; \
                                 sync.reactivate_users is off"
                            .into(),
                    });
                }
            }
            Entitlement::Entitled => {
                if renamed {
                    out.attention.push(Attention {
                        okta_id: Some(u.okta_id.clone()),
                        scim_id: Some(member.scim_id.clone()),
                        user_name: member.user_name.clone(),
                        reason: format!(
                            "email changed in Okta to {user_name}; kafkaman's userName is \
                             immutable, so the member keeps {} (names are still updated)",
                            member.user_name
                        ),
                    });
                }
                if names_differ(member, &u.given_name, &u.family_name) {
                    if policy.update_attributes {
                        updates.push(Operation {
                            kind: OpKind::UpdateName,
                            okta_id: Some(u.okta_id.clone()),
                            scim_id: Some(member.scim_id.clone()),
                            user_name: member.user_name.clone(),
                            given_name: u.given_name.clone(),
                            family_name: u.family_name.clone(),
                            invite_id: None,
                            reason: format!(
                                "name in Okta is \"{} {}\", in kafkaman \"{} {}\"",
                                u.given_name.as_deref().unwrap_or(""),
                                u.family_name.as_deref().unwrap_or(""),
                                member.given_name.as_deref().unwrap_or(""),
                                member.family_name.as_deref().unwrap_or("")
                            ),
                        });
                    } else {
                        out.attention.push(Attention {
                            okta_id: Some(u.okta_id.clone()),
                            scim_id: Some(member.scim_id.clone()),
                            user_name: member.user_name.clone(),
                            reason: "name differs from Okta; sync.update_attributes is off".into(),
                        });
                    }
                } else if !renamed {
                    out.in_sync += 1;
                }
            }
            Entitlement::Revoked(reason) if member.active => {
                deactivations.push(deactivation(member, Some(&u.okta_id), reason));
            }
            Entitlement::Revoked(_) => out.in_sync += 1,
            Entitlement::Waiting(reason) => out.attention.push(Attention {
                okta_id: Some(u.okta_id.clone()),
                scim_id: Some(member.scim_id.clone()),
                user_name: member.user_name.clone(),
                reason,
            }),
        }
    }

    // Members no assignment matched: ours are deactivated, the rest reported.
    let mut members: Vec<&Member> = team.members.iter().collect();
    members.sort_by_key(|m| m.user_name.to_lowercase());
    for m in &members {
        let linked_okta = linked_okta_for_scim.get(m.scim_id.as_str()).copied();
        let okta_id = linked_okta.or(m.external_id.as_deref());
        let lookup = okta_id.and_then(|id| okta.lookups.get(id));
        // Managed: linked by an earlier cycle, or carrying an externalId that is a user
        // of this org (the lookup says so). A failed lookup proves nothing.
        let managed = linked_okta.is_some()
            || matches!(lookup, Some(OktaLookup::Found { .. }))
            || matched_scim.contains(m.scim_id.as_str());
        // The percentage cap's base: members scim-sync manages that still have access
        // (past leavers would otherwise loosen it).
        if managed && m.active {
            out.managed += 1;
        }
        if matched_scim.contains(m.scim_id.as_str()) {
            continue;
        }
        if !managed {
            if let (Some(id), Some(OktaLookup::Failed { reason })) = (okta_id, lookup) {
                out.attention.push(Attention {
                    okta_id: Some(id.to_string()),
                    scim_id: Some(m.scim_id.clone()),
                    user_name: m.user_name.clone(),
                    reason: format!(
                        "not assigned in Okta, but looking up its Okta user failed \
                         ({reason}): left alone this cycle"
                    ),
                });
            } else {
                out.unmanaged.push(Unmanaged {
                    scim_id: m.scim_id.clone(),
                    user_name: m.user_name.clone(),
                    membership: m.membership.clone(),
                    external_id: m.external_id.clone(),
                });
            }
            continue;
        }
        if !m.active {
            continue;
        }
        let reason = match lookup {
            Some(OktaLookup::Found { status }) if status == "DEPROVISIONED" => {
                "deactivated in Okta".to_string()
            }
            Some(OktaLookup::NotFound) => "deleted from Okta".to_string(),
            _ => "no longer assigned to the app in Okta".to_string(),
        };
        deactivations.push(deactivation(m, okta_id, reason));
    }

    // Protected users and the deactivate switch.
    let mut allowed = Vec::new();
    for d in deactivations {
        if is_protected(policy, d.okta_id.as_deref(), &d.user_name) {
            out.attention.push(Attention {
                okta_id: d.okta_id.clone(),
                scim_id: d.scim_id.clone(),
                user_name: d.user_name.clone(),
                reason: format!(
                    "{}, but protected (safety.protected_users): not deactivated",
                    d.reason
                ),
            });
        } else if !policy.deactivate_users {
            out.attention.push(Attention {
                okta_id: d.okta_id.clone(),
                scim_id: d.scim_id.clone(),
                user_name: d.user_name.clone(),
                reason: format!("{}; sync.deactivate_users is off", d.reason),
            });
        } else {
            allowed.push(d);
        }
    }

    // The cap: past it, every deactivation of the cycle is held for a human, so that a
    // wrong source (a removed group, a bad mapping) costs nobody their access.
    let pct_cap = (out.managed as f64 * policy.max_deactivations_percent / 100.0).ceil();
    out.deactivation_cap = policy.max_deactivations.min(pct_cap as u32);
    if allowed.len() as u32 > out.deactivation_cap {
        let (released, held): (Vec<Operation>, Vec<Operation>) =
            allowed.into_iter().partition(|d| {
                d.scim_id
                    .as_ref()
                    .is_some_and(|id| policy.released.contains(id))
            });
        out.held = held;
        out.operations.extend(released);
    } else {
        out.operations.extend(allowed);
    }
    out.operations.extend(reactivations);
    out.operations.extend(creates);
    out.operations.extend(updates);
    out
}

/// The Okta ids the caller must look up before planning: active members that refer to
/// an Okta user (by link or externalId) who is not in the assignment list. For a member
/// with only an externalId the lookup decides whether it is ours at all (a user of this
/// org); for a linked one it only tells why it goes (deactivated, deleted, unassigned).
/// In a steady state no member qualifies, so a quiet cycle makes no lookup.
pub fn ids_to_look_up(assigned: &[AssignedUser], team: &TeamView) -> Vec<String> {
    let assigned_ids: HashSet<&str> = assigned.iter().map(|u| u.okta_id.as_str()).collect();
    let linked_okta_for_scim: HashMap<&str, &str> = team
        .links
        .iter()
        .map(|(okta, scim)| (scim.as_str(), okta.as_str()))
        .collect();
    let mut ids: Vec<String> = team
        .members
        .iter()
        .filter(|m| m.active)
        .filter_map(|m| {
            linked_okta_for_scim
                .get(m.scim_id.as_str())
                .copied()
                .or(m.external_id.as_deref())
        })
        .filter(|id| !assigned_ids.contains(id))
        .map(str::to_string)
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

fn deactivation(m: &Member, okta_id: Option<&str>, reason: String) -> Operation {
    Operation {
        kind: OpKind::Deactivate,
        okta_id: okta_id.map(str::to_string),
        scim_id: Some(m.scim_id.clone()),
        user_name: m.user_name.clone(),
        given_name: None,
        family_name: None,
        invite_id: None,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assigned(id: &str, email: &str, status: &str) -> AssignedUser {
        AssignedUser {
            okta_id: id.into(),
            okta_status: status.into(),
            app_status: "ACTIVE".into(),
            scope: "USER".into(),
            user_name: Some(email.into()),
            given_name: Some("Ada".into()),
            family_name: Some("Lovelace".into()),
        }
    }

    fn member(scim: &str, email: &str, ext: Option<&str>, active: bool) -> Member {
        Member {
            scim_id: scim.into(),
            user_name: email.into(),
            given_name: Some("Ada".into()),
            family_name: Some("Lovelace".into()),
            external_id: ext.map(str::to_string),
            active,
            membership: if active { "active" } else { "deactivated" }.into(),
            role: Some("developer".into()),
        }
    }

    fn kinds(p: &Plan) -> Vec<OpKind> {
        p.operations.iter().map(|o| o.kind).collect()
    }

    #[test]
    fn creates_assigned_non_members_and_clears_only_non_scim_invites() {
        let okta = OktaView {
            assigned: vec![assigned("00u1", "a@x.com", "ACTIVE")],
            ..Default::default()
        };
        let team = TeamView {
            invites: vec![
                PendingInvite {
                    id: "i1".into(),
                    email: "A@x.com".into(),
                    source: "admin".into(),
                    invited_by: None,
                    created_at: String::new(),
                },
                PendingInvite {
                    id: "i2".into(),
                    email: "a@x.com".into(),
                    source: "scim".into(),
                    invited_by: None,
                    created_at: String::new(),
                },
                PendingInvite {
                    id: "i3".into(),
                    email: "b@x.com".into(),
                    source: "link".into(),
                    invited_by: None,
                    created_at: String::new(),
                },
            ],
            ..Default::default()
        };
        let p = plan(&okta, &team, &Policy::default());
        assert_eq!(kinds(&p), vec![OpKind::ClearInvite, OpKind::Create]);
        assert_eq!(p.operations[0].invite_id.as_deref(), Some("i1"));
    }

    #[test]
    fn case_only_email_difference_is_the_same_person() {
        let okta = OktaView {
            assigned: vec![assigned("00u1", "Ada@X.com", "ACTIVE")],
            ..Default::default()
        };
        let team = TeamView {
            members: vec![member("s1", "ada@x.com", None, true)],
            ..Default::default()
        };
        let p = plan(&okta, &team, &Policy::default());
        assert!(p.operations.is_empty(), "{p:?}");
        assert!(p.attention.is_empty(), "{p:?}");
        assert_eq!(p.in_sync, 1);
        assert_eq!(
            p.new_links,
            vec![NewLink {
                okta_id: "00u1".into(),
                scim_id: "s1".into()
            }]
        );
    }

    #[test]
    fn rename_is_attention_not_action() {
        let okta = OktaView {
            assigned: vec![assigned("00u1", "ada.new@x.com", "ACTIVE")],
            ..Default::default()
        };
        let team = TeamView {
            members: vec![member("s1", "ada@x.com", Some("00u1"), true)],
            ..Default::default()
        };
        let p = plan(&okta, &team, &Policy::default());
        assert!(p.operations.is_empty());
        assert_eq!(p.attention.len(), 1);
        assert!(p.attention[0].reason.contains("immutable"));
    }

    #[test]
    fn unassigned_managed_member_is_deactivated_unmanaged_is_not() {
        let okta = OktaView {
            assigned: vec![],
            lookups: HashMap::from([
                (
                    "00u1".to_string(),
                    OktaLookup::Found {
                        status: "DEPROVISIONED".into(),
                    },
                ),
                ("other-idp-7".to_string(), OktaLookup::NotFound),
            ]),
        };
        let team = TeamView {
            members: vec![
                member("s1", "ada@x.com", Some("00u1"), true),
                member("s2", "bob@x.com", None, true),
                member("s3", "carl@x.com", Some("other-idp-7"), true),
            ],
            ..Default::default()
        };
        let p = plan(
            &okta,
            &team,
            &Policy {
                max_deactivations: 5,
                max_deactivations_percent: 100.0,
                ..Default::default()
            },
        );
        assert_eq!(kinds(&p), vec![OpKind::Deactivate]);
        assert_eq!(p.operations[0].reason, "deactivated in Okta");
        assert_eq!(p.unmanaged.len(), 2);
    }

    #[test]
    fn failed_lookup_never_deactivates() {
        let okta = OktaView {
            assigned: vec![],
            lookups: HashMap::from([(
                "00u1".to_string(),
                OktaLookup::Failed {
                    reason: "503".into(),
                },
            )]),
        };
        let team = TeamView {
            members: vec![member("s1", "ada@x.com", Some("00u1"), true)],
            ..Default::default()
        };
        let p = plan(&okta, &team, &Policy::default());
        assert!(p.operations.is_empty() && p.held.is_empty());
        assert_eq!(p.attention.len(), 1);
    }

    #[test]
    fn suspended_follows_policy_and_protected_is_kept() {
        let okta = OktaView {
            assigned: vec![
                assigned("00u1", "a@x.com", "SUSPENDED"),
                assigned("00u2", "boss@x.com", "SUSPENDED"),
            ],
            ..Default::default()
        };
        let team = TeamView {
            members: vec![
                member("s1", "a@x.com", Some("00u1"), true),
                member("s2", "boss@x.com", Some("00u2"), true),
            ],
            ..Default::default()
        };
        let policy = Policy {
            protected: vec!["BOSS@x.com".into()],
            max_deactivations_percent: 100.0,
            ..Default::default()
        };
        let p = plan(&okta, &team, &policy);
        assert_eq!(kinds(&p), vec![OpKind::Deactivate]);
        assert_eq!(p.operations[0].user_name, "a@x.com");
        assert!(p.attention.iter().any(|a| a.user_name == "boss@x.com"));
        let keep = plan(
            &okta,
            &team,
            &Policy {
                suspended: SuspendedPolicy::Keep,
                ..policy
            },
        );
        assert!(keep.operations.is_empty());
    }

    #[test]
    fn assigned_user_without_user_name_keeps_their_member() {
        let okta = OktaView {
            assigned: vec![AssignedUser {
                user_name: Some("  ".into()),
                ..assigned("00u1", "", "ACTIVE")
            }],
            ..Default::default()
        };
        let team = TeamView {
            members: vec![member("s1", "a@x.com", Some("00u1"), true)],
            links: HashMap::from([("00u1".to_string(), "s1".to_string())]),
            ..Default::default()
        };
        let p = plan(
            &okta,
            &team,
            &Policy {
                max_deactivations_percent: 100.0,
                ..Default::default()
            },
        );
        assert!(p.operations.is_empty() && p.held.is_empty(), "{p:?}");
        assert_eq!(p.attention.len(), 1);
        assert_eq!(p.attention[0].user_name, "a@x.com");
        assert!(p.unmanaged.is_empty());
    }

    #[test]
    fn rehire_reactivates_never_creates() {
        let okta = OktaView {
            assigned: vec![assigned("00u1", "a@x.com", "ACTIVE")],
            ..Default::default()
        };
        let team = TeamView {
            members: vec![member("s1", "a@x.com", Some("00u1"), false)],
            ..Default::default()
        };
        let p = plan(&okta, &team, &Policy::default());
        assert_eq!(kinds(&p), vec![OpKind::Reactivate]);
    }

    #[test]
    fn cap_holds_all_deactivations_until_released() {
        let members: Vec<Member> = (0..20)
            .map(|i| {
                member(
                    &format!("s{i}"),
                    &format!("u{i}@x.com"),
                    Some(&format!("00u{i}")),
                    true,
                )
            })
            .collect();
        let links = members
            .iter()
            .map(|m| (m.external_id.clone().unwrap_or_default(), m.scim_id.clone()))
            .collect();
        let team = TeamView {
            members,
            invites: vec![],
            links,
        };
        let okta = OktaView::default();
        let p = plan(
            &okta,
            &team,
            &Policy {
                max_deactivations: 3,
                ..Default::default()
            },
        );
        assert!(p.operations.is_empty());
        assert_eq!(p.held.len(), 20);
        assert_eq!(p.deactivation_cap, 2); // 10% of 20 managed
        // Releasing what was reviewed applies exactly that; anything new stays held.
        let reviewed: HashSet<String> = p
            .held
            .iter()
            .take(19)
            .filter_map(|o| o.scim_id.clone())
            .collect();
        let released = plan(
            &okta,
            &team,
            &Policy {
                max_deactivations: 3,
                released: reviewed,
                ..Default::default()
            },
        );
        assert_eq!(released.count(OpKind::Deactivate), 19);
        assert_eq!(released.held.len(), 1);
    }

    #[test]
    fn order_is_deactivate_reactivate_create_update() {
        let okta = OktaView {
            assigned: vec![
                assigned("00u1", "new@x.com", "ACTIVE"),
                assigned("00u2", "back@x.com", "ACTIVE"),
                AssignedUser {
                    given_name: Some("Grace".into()),
                    ..assigned("00u3", "ren@x.com", "ACTIVE")
                },
            ],
            lookups: HashMap::from([(
                "00u4".to_string(),
                OktaLookup::Found {
                    status: "ACTIVE".into(),
                },
            )]),
        };
        let team = TeamView {
            members: vec![
                member("s2", "back@x.com", Some("00u2"), false),
                member("s3", "ren@x.com", Some("00u3"), true),
                member("s4", "gone@x.com", Some("00u4"), true),
            ],
            ..Default::default()
        };
        let p = plan(
            &okta,
            &team,
            &Policy {
                max_deactivations_percent: 100.0,
                ..Default::default()
            },
        );
        assert_eq!(
            kinds(&p),
            vec![
                OpKind::Deactivate,
                OpKind::Reactivate,
                OpKind::Create,
                OpKind::UpdateName
            ]
        );
    }

    #[test]
    fn switches_turn_actions_into_attention() {
        let okta = OktaView {
            assigned: vec![assigned("00u1", "new@x.com", "ACTIVE")],
            ..Default::default()
        };
        let p = plan(
            &okta,
            &TeamView::default(),
            &Policy {
                create_users: false,
                ..Default::default()
            },
        );
        assert!(p.operations.is_empty());
        assert!(p.attention[0].reason.contains("create_users"));
    }

    #[test]
    fn foreign_member_with_same_email_is_not_adopted() {
        let okta = OktaView {
            assigned: vec![assigned("00u1", "a@x.com", "ACTIVE")],
            ..Default::default()
        };
        let team = TeamView {
            members: vec![member("s1", "a@x.com", Some("00u9"), true)],
            ..Default::default()
        };
        let p = plan(&okta, &team, &Policy::default());
        assert!(p.operations.is_empty(), "{p:?}");
        assert_eq!(p.attention.len(), 1);
    }
}
