//! Ready-made worlds for the simulators: [`builtin`] (a small org tests refer to by
//! fixed ids), [`demo`] (what `scim-sync demo` runs) and [`generate`] (a synthetic org of
//! any size with realistic churn, deterministic per seed).
//!
//! [`seats_after_first_sync`] says what a first sync should leave in the team; [`in_sync`]
//! makes a scenario's team what a sync would leave it (for benchmarks of large orgs).
//!
//! "Entitled" below means what the daemon is expected to provision: assigned to the app
//! (directly or through an assigned group) with an Okta status the planner counts as
//! entitled ([`is_entitled_status`]: `ACTIVE`, `PROVISIONED`, and the sub-states of an
//! active account `PASSWORD_EXPIRED`, `LOCKED_OUT`, `RECOVERY`). Anything else is not.

mod builtin;
mod demo;
mod expect;
mod names;
mod synthetic;
#[cfg(test)]
mod tests;

use crate::scenario::{
    InviteSpec, KafkamanScenario, MemberSpec, OktaGroupSpec, OktaScenario, OktaUserSpec, Scenario,
};

pub use builtin::{builtin, builtin_ids};
pub use demo::{demo, demo_ids};
pub use expect::{assigned_ids, in_sync, is_entitled_status, seats_after_first_sync};
pub use synthetic::generate;

fn make_groups<'a>(id_prefix: &str, names: impl Iterator<Item = &'a str>) -> Vec<OktaGroupSpec> {
    names
        .enumerate()
        .map(|(n, name)| OktaGroupSpec {
            // Okta ids are 20 characters: pad the number to fill what the prefix leaves.
            id: Some(format!(
                "{id_prefix}{:0width$}",
                n + 1,
                width = 20usize.saturating_sub(id_prefix.len())
            )),
            name: name.to_string(),
            description: Some(format!("{name} department")),
            members: Vec::new(),
        })
        .collect()
}

fn assigned_group_names<'a>(groups: impl Iterator<Item = (&'a str, bool)>) -> Vec<String> {
    groups.filter(|g| g.1).map(|g| g.0.to_string()).collect()
}

fn user_spec(
    id: String,
    email: String,
    first: &str,
    last: &str,
    status: &str,
    department: &str,
    index: usize,
) -> OktaUserSpec {
    let mut profile = serde_json::Map::new();
    profile.insert("department".into(), department.into());
    profile.insert("employeeNumber".into(), format!("E{:06}", index + 1).into());
    OktaUserSpec {
        id: Some(id),
        login: email.clone(),
        email: Some(email),
        first_name: Some(first.to_string()),
        last_name: Some(last.to_string()),
        status: status.to_string(),
        profile,
        app_username: None,
        app_profile: Default::default(),
    }
}

/// A member as an earlier run of the sync would have created it.
fn linked_member(user: &OktaUserSpec) -> MemberSpec {
    MemberSpec {
        email: user.login.clone(),
        given_name: user.first_name.clone(),
        family_name: user.last_name.clone(),
        external_id: user.id.clone(),
        active: true,
        membership: None,
        role: "developer".to_string(),
    }
}

/// Index into weights, drawn in proportion to them.
fn pick_weighted(rng: &mut fastrand::Rng, weights: impl Iterator<Item = u32> + Clone) -> usize {
    let total: u32 = weights.clone().sum();
    let mut roll = rng.u32(0..total.max(1));
    let mut last = 0;
    for (i, w) in weights.enumerate() {
        if roll < w {
            return i;
        }
        roll -= w;
        last = i;
    }
    last
}

/// Lower-case ASCII for email local parts: accents dropped, spaces removed.
fn slug(name: &str) -> String {
    name.chars()
        .filter_map(|c| match c {
            'a'..='z' | '0'..='9' | '-' => Some(c),
            'A'..='Z' => Some(c.to_ascii_lowercase()),
            'á' | 'à' | 'ä' | 'å' | 'ã' => Some('a'),
            'é' | 'è' | 'ë' => Some('e'),
            'í' | 'ï' => Some('i'),
            'ó' | 'ö' | 'ø' => Some('o'),
            'ú' | 'ü' => Some('u'),
            'ñ' => Some('n'),
            'ç' => Some('c'),
            _ => None,
        })
        .collect()
}
