//! Incremental cycles that plan only the people who changed.
//!
//! The planner's decisions are each person's, given everyone they share a link, an
//! `externalId`, a mailbox or an invite with; only the cap counts the whole org. So an
//! incremental cycle plans the *scope* — who its reads named, and everyone the last real
//! cycle's plan had something for (holds, attention, unmanaged members, the writes it
//! applied), closed over those relations by indexed reads ([`Store::scope`]) — with the
//! counts of everyone else ([`plan::plan_within`]). Those counts come from the *plan
//! basis* the last real cycle left: its plan's counts, corrected by what its own writes
//! changed, less what the scope contributed before this cycle's changes. Nobody outside
//! the scope has anything planned, so the plan is the whole snapshot's.
//!
//! Whenever that can't be trusted (no basis, another policy, a release, a scope as big
//! as the org, a read of the whole team) the cycle plans the whole snapshot instead.

use std::collections::{BTreeSet, HashSet};

use scim_sync_plan::{
    self as plan, AssignedUser, Counts, Membership, OktaView, Plan, Policy, TeamView,
};

use super::fingerprint::quiet_fingerprint;
use super::incremental::IncrementalRead;
use super::{CycleOptions, Release, SyncError};
use crate::config::Config;
use crate::store::{Overlay, PlanBasis, ScopeRows, Store};
use crate::view::{self, Snapshot, snapshot};

/// What a scoped cycle planned beside its scope.
#[derive(Debug, Clone)]
pub struct Scoped {
    /// What everyone outside the scope adds to the plan's counts.
    pub outside: Counts,
    /// The scope's Okta ids (their stored lookups are replaced with the cycle's).
    pub okta_ids: BTreeSet<String>,
    pub scim_ids: BTreeSet<String>,
    pub keys: BTreeSet<String>,
    /// The whole snapshot's, with the cycle's changes in place.
    pub totals: Totals,
    /// Pending invites in the snapshot (whether re-reading all of them is cheaper).
    pub invites_total: usize,
}

impl Scoped {
    /// People planned (Okta users and members).
    pub fn people(&self) -> usize {
        self.okta_ids.len() + self.scim_ids.len()
    }
}

/// How big the two sides are, whatever part of them the views hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Assigned Okta users.
    pub assigned: usize,
    pub members: usize,
    /// Members that hold a seat (active or invited).
    pub seats: usize,
}

/// What a cycle planned from, as the plan basis it leaves needs it.
pub struct Planned<'a> {
    pub okta: &'a OktaView,
    pub team: &'a TeamView,
    /// Okta rows re-read this cycle (stored only with the run's end).
    pub okta_upserts: &'a [AssignedUser],
    pub scoped: Option<&'a Scoped>,
    /// kafkaman's whole team was read.
    pub whole_team: bool,
}

/// Past this many people a scope is planned as the whole snapshot: a quarter of the
/// org, and never fewer than this.
const MIN_SCOPE_LIMIT: usize = 1_000;

fn scope_limit(store: &Store) -> Result<usize, SyncError> {
    Ok(((store.okta_user_count()? + store.member_count()?) / 4).max(MIN_SCOPE_LIMIT))
}

/// The counts policy: what decides who is in sync and who is managed (no holds or
/// releases, which only the cap's screen reads).
fn counts_policy(cfg: &Config) -> Policy {
    view::policy(cfg, HashSet::new(), HashSet::new())
}

/// The scope's planner inputs (its rows with the changes in place) and what goes with
/// them; None when this cycle plans the whole snapshot.
pub fn view(
    cfg: &Config,
    store: &Store,
    inc: &IncrementalRead,
    opts: &CycleOptions,
) -> Result<Option<(Snapshot, Scoped)>, SyncError> {
    // A release screens holds by what a person saw; a saved plan keeps every input.
    if opts.release != Release::Nothing || opts.keep_inputs || inc.whole_team {
        return Ok(None);
    }
    let Some(basis) = store.plan_basis()? else {
        return Ok(None);
    };
    if basis.fingerprint != quiet_fingerprint(cfg, store)? {
        return Ok(None);
    }
    let changes = &inc.changes;
    let (mut okta_seeds, mut scim_seeds) = store.basis_people()?;
    okta_seeds.extend(inc.reread.iter().cloned());
    okta_seeds.extend(changes.okta_upserts.iter().map(|u| u.okta_id.clone()));
    okta_seeds.extend(changes.okta_removals.iter().cloned());
    // kafkaman's change clock is read with an overlap, so it names members again that
    // are as stored: only those that differ change anything.
    let mut changed_members = Vec::new();
    for m in &changes.members {
        if store.member(&m.scim_id)?.as_ref() != Some(m) {
            changed_members.push(m.clone());
        }
    }
    scim_seeds.extend(changed_members.iter().map(|m| m.scim_id.clone()));
    let overlay = Overlay {
        okta_users: &changes.okta_upserts,
        members: &changed_members,
    };
    let Some(rows) = store.scope(okta_seeds, scim_seeds, overlay, scope_limit(store)?)? else {
        tracing::debug!("the changes reach too many people: planning the whole snapshot");
        return Ok(None);
    };

    // What the scope added to the basis's counts before this cycle's changes.
    let policy = counts_policy(cfg);
    let before = rows_view(&rows);
    let before_lookups = snapshot::stored_lookups(store, &before.assigned, &before.team)?;
    let (okta_before, team_before) = before.clone().into_views(before_lookups);
    let contributed = plan::counts(&okta_before, &team_before, &policy);
    let (Some(in_sync), Some(managed)) = (
        basis.counts.in_sync.checked_sub(contributed.in_sync),
        basis.counts.managed.checked_sub(contributed.managed),
    ) else {
        tracing::warn!(
            "the stored plan basis doesn't add up (counts below the scope's own); planning the whole snapshot"
        );
        return Ok(None);
    };

    let mut now = before;
    for u in &changes.okta_upserts {
        now.put_okta_user(&u.okta_id, Some(u.clone()));
    }
    for id in &changes.okta_removals {
        now.put_okta_user(id, None);
    }
    now.put_members(&changed_members);
    now.team.members.sort_by(|a, b| a.scim_id.cmp(&b.scim_id));

    let stored_okta: HashSet<&str> = rows.okta_users.iter().map(|u| u.okta_id.as_str()).collect();
    let stored_members: HashSet<&str> = rows.members.iter().map(|m| m.scim_id.as_str()).collect();
    let removed = changes
        .okta_removals
        .iter()
        .filter(|id| stored_okta.contains(id.as_str()))
        .count();
    let added = changes
        .okta_upserts
        .iter()
        .filter(|u| !stored_okta.contains(u.okta_id.as_str()))
        .count();
    let new_members = changed_members
        .iter()
        .filter(|m| !stored_members.contains(m.scim_id.as_str()))
        .count();
    let totals = Totals {
        assigned: (store.okta_user_count()? + added).saturating_sub(removed),
        members: store.member_count()? + new_members,
        seats: (store.seat_count()? + seats(&now.team.members))
            .saturating_sub(seats(&rows.members)),
    };
    let scoped = Scoped {
        outside: Counts { in_sync, managed },
        okta_ids: rows.okta_ids,
        scim_ids: rows.scim_ids,
        keys: rows.keys,
        totals,
        invites_total: store.invite_count()?,
    };
    Ok(Some((now, scoped)))
}

/// Members that hold a seat (active or invited: kafkaman's contract).
pub fn seats(members: &[plan::Member]) -> usize {
    members
        .iter()
        .filter(|m| matches!(m.membership, Membership::Active | Membership::Invited))
        .count()
}

/// The scope's stored rows as a snapshot.
fn rows_view(rows: &ScopeRows) -> Snapshot {
    Snapshot {
        assigned: rows.okta_users.clone(),
        team: TeamView {
            members: rows.members.clone(),
            invites: rows.invites.clone(),
            links: rows.links.clone(),
            deactivated_by_us: rows.deactivated_by_us.clone(),
        },
    }
}

/// What a real cycle's end needs to leave a plan basis: the people its writes touched
/// (closed as a scope), and what they added to the plan's counts as planned.
pub struct BasisToLeave {
    touched: ScopeRows,
    /// The plan's counts less what the touched people added to them.
    untouched: Counts,
    /// The people the plan has something for.
    okta_ids: BTreeSet<String>,
    scim_ids: BTreeSet<String>,
}

/// Before the run's end: the people the plan's writes and links touched, and their
/// share of its counts in the view it was planned from. None when no basis can be left
/// (too many touched, or a scoped cycle's writes reaching past its scope).
pub fn basis_to_leave(
    cfg: &Config,
    store: &Store,
    read: Planned<'_>,
    plan: &Plan,
) -> Result<Option<BasisToLeave>, SyncError> {
    // A whole-team read planned without members the store still holds (kafkaman
    // never drops one, the store only upserts): its counts are not the stored rows'.
    if read.whole_team {
        return Ok(None);
    }
    // A first sync links or creates most of the org: no basis, and nothing gathered
    // for one while the full read is still held.
    let limit = scope_limit(store)?;
    if 2 * (plan.operations.len() + plan.new_links.len()) > limit {
        tracing::debug!("the writes touch too many people to leave a plan basis");
        return Ok(None);
    }
    let (mut okta_ids, mut scim_ids) = (BTreeSet::new(), BTreeSet::new());
    let mut touched_okta = Vec::new();
    let mut touched_scim = Vec::new();
    for o in &plan.operations {
        touched_okta.extend(o.okta_id().map(str::to_string));
        touched_scim.extend(o.scim_id().map(str::to_string));
    }
    for l in &plan.new_links {
        touched_okta.push(l.okta_id.clone());
        touched_scim.push(l.scim_id.clone());
    }
    for o in plan.operations.iter().chain(&plan.held) {
        okta_ids.extend(o.okta_id().map(str::to_string));
        scim_ids.extend(o.scim_id().map(str::to_string));
    }
    for a in &plan.attention {
        okta_ids.extend(a.okta_id.clone());
        scim_ids.extend(a.scim_id.clone());
    }
    for u in &plan.unmanaged {
        okta_ids.extend(u.external_id.clone());
        scim_ids.insert(u.scim_id.clone());
    }
    for s in &plan.shared_emails {
        okta_ids.extend(s.okta_ids.iter().cloned());
        okta_ids.extend(s.owner.clone());
        scim_ids.extend(s.scim_id.clone());
    }
    // A write can take a link away (linking an Okta id moves it off another member):
    // whoever the touched people were linked to as planned is touched too.
    let touched_okta_set: HashSet<&str> = touched_okta.iter().map(String::as_str).collect();
    let touched_scim_set: HashSet<&str> = touched_scim.iter().map(String::as_str).collect();
    let mut linked_before = Vec::new();
    for (okta, scim) in &read.team.links {
        if touched_okta_set.contains(okta.as_str()) || touched_scim_set.contains(scim.as_str()) {
            linked_before.push((okta.clone(), scim.clone()));
        }
    }
    for (okta, scim) in linked_before {
        touched_okta.push(okta);
        touched_scim.push(scim);
    }
    okta_ids.extend(touched_okta.iter().cloned());
    scim_ids.extend(touched_scim.iter().cloned());

    // The stored Okta rows get this cycle's re-reads only with the run's end: they are
    // followed too, so that the touched people are closed after it as well.
    let overlay = Overlay {
        okta_users: read.okta_upserts,
        members: &[],
    };
    let Some(touched) = store.scope(touched_okta, touched_scim, overlay, limit)? else {
        return Ok(None);
    };
    if let Some(scoped) = read.scoped {
        // A scoped cycle's view holds only its scope: people its writes reach beyond it
        // (they can't, but if they did) had no share counted here.
        if !touched.okta_ids.is_subset(&scoped.okta_ids) || !touched.keys.is_subset(&scoped.keys) {
            tracing::debug!("the writes reach past the scope: no plan basis left");
            return Ok(None);
        }
    }
    let (okta, team) = restrict(read.okta, read.team, &touched);
    let share = plan::counts(&okta, &team, &counts_policy(cfg));
    let (Some(in_sync), Some(managed)) = (
        plan.in_sync.checked_sub(share.in_sync),
        plan.managed.checked_sub(share.managed),
    ) else {
        return Ok(None);
    };
    Ok(Some(BasisToLeave {
        touched,
        untouched: Counts { in_sync, managed },
        okta_ids,
        scim_ids,
    }))
}

/// After the run's end (the snapshot as the writes and the re-reads left it): the
/// touched people's share of the counts now, and the basis recorded.
pub fn leave_basis(
    cfg: &Config,
    store: &Store,
    run_id: i64,
    to_leave: BasisToLeave,
) -> Result<(), SyncError> {
    let BasisToLeave {
        touched,
        untouched,
        okta_ids,
        scim_ids,
    } = to_leave;
    let after = store.scope(
        touched.okta_ids.iter().cloned(),
        touched.scim_ids.iter().cloned(),
        Overlay::default(),
        usize::MAX,
    )?;
    let Some(after) = after
        .filter(|a| a.okta_ids.is_subset(&touched.okta_ids) && a.keys.is_subset(&touched.keys))
    else {
        tracing::debug!("the touched people reach further after the writes: no plan basis left");
        return Ok(());
    };
    let now = rows_view(&after);
    let lookups = snapshot::stored_lookups(store, &now.assigned, &now.team)?;
    let (okta, team) = now.into_views(lookups);
    let share = plan::counts(&okta, &team, &counts_policy(cfg));
    let basis = PlanBasis {
        run_id,
        counts: Counts {
            in_sync: untouched.in_sync + share.in_sync,
            managed: untouched.managed + share.managed,
        },
        fingerprint: quiet_fingerprint(cfg, store)?,
    };
    store.set_plan_basis(
        &basis,
        okta_ids.iter().map(String::as_str),
        scim_ids.iter().map(String::as_str),
    )?;
    Ok(())
}

/// The part of a view about these people.
fn restrict(okta: &OktaView, team: &TeamView, rows: &ScopeRows) -> (OktaView, TeamView) {
    let in_okta = |id: &str| rows.okta_ids.contains(id);
    let in_scim = |id: &str| rows.scim_ids.contains(id);
    // In the view's own order: the plan met them in it.
    let members = team
        .members
        .iter()
        .filter(|m| in_scim(&m.scim_id))
        .cloned()
        .collect();
    (
        OktaView {
            assigned: okta
                .assigned
                .iter()
                .filter(|u| in_okta(&u.okta_id))
                .cloned()
                .collect(),
            lookups: okta
                .lookups
                .iter()
                .filter(|(id, _)| in_okta(id))
                .map(|(id, l)| (id.clone(), l.clone()))
                .collect(),
        },
        TeamView {
            members,
            invites: team
                .invites
                .iter()
                .filter(|i| rows.keys.contains(&plan::email_key(&i.email)))
                .cloned()
                .collect(),
            links: team
                .links
                .iter()
                .filter(|(o, s)| in_okta(o) || in_scim(s))
                .map(|(o, s)| (o.clone(), s.clone()))
                .collect(),
            deactivated_by_us: team
                .deactivated_by_us
                .iter()
                .filter(|s| in_scim(s))
                .cloned()
                .collect(),
        },
    )
}
