//! The plan stage: the planner over what was read, with the policy of the configuration
//! and the store's holds. The planner decides; this stage only gathers its inputs (and,
//! for an incremental cycle, re-reads the invites of the people a create is planned for
//! and plans again when they changed).

use std::collections::HashSet;

use scim_sync_plan::{self as plan, OpKind, Plan};
use tokio_util::sync::CancellationToken;

use super::read::{CycleRead, ReadKind};
use super::{CycleOptions, Release, SyncError};
use crate::config::Config;
use crate::kafkaman::KafkamanClient;
use crate::store::Store;
use crate::view::{self, full, snapshot};

/// Plans the cycle.
pub async fn make(
    cfg: &Config,
    store: &Store,
    kafkaman: &KafkamanClient,
    opts: &CycleOptions,
    read: &mut CycleRead,
    cancel: &CancellationToken,
) -> Result<Plan, SyncError> {
    let released: HashSet<String> = match &opts.release {
        Release::Nothing => HashSet::new(),
        Release::LastHeld => {
            let held = store.last_held()?;
            if held.is_empty() {
                tracing::warn!("release-held: no earlier run held deactivations; nothing released");
            }
            held.into_iter().filter_map(|i| i.scim_id).collect()
        }
        Release::Only(scim_ids) => scim_ids.clone(),
    };
    let policy = view::policy(cfg, released, store.held_scim_ids()?);
    // A scoped cycle plans its scope with the counts of everyone else.
    let outside = read.scoped().map(|s| s.outside);
    let planned = |read: &CycleRead| match outside {
        Some(outside) => plan::plan_within(&read.okta, &read.team, &policy, outside),
        None => plan::plan(&read.okta, &read.team, &policy),
    };
    let mut plan = planned(read);
    if matches!(read.kind, ReadKind::Incremental { .. }) {
        // The snapshot's invites may be old: re-read them for the people a create is
        // planned for, and plan again (the same planner) if they changed.
        let refreshed = tokio::select! {
            r = refresh_invites_for_creates(cfg, kafkaman, &plan, read) => r?,
            _ = cancel.cancelled() => return Err(SyncError::Interrupted),
        };
        if refreshed {
            plan = planned(read);
        }
    }
    Ok(plan)
}

/// Re-reads pending invites for the emails a create is planned for (one request each,
/// or the whole list when that is fewer requests). Returns whether anything changed.
async fn refresh_invites_for_creates(
    cfg: &Config,
    kafkaman: &KafkamanClient,
    plan: &Plan,
    read: &mut CycleRead,
) -> Result<bool, SyncError> {
    let invites_total = read
        .scoped()
        .map(|s| s.invites_total)
        .unwrap_or(read.team.invites.len());
    let ReadKind::Incremental { changes, .. } = &mut read.kind else {
        return Ok(false);
    };
    let mut emails: Vec<String> = plan
        .operations
        .iter()
        .filter(|o| o.kind() == OpKind::Create)
        .map(|o| o.user_name().to_string())
        .collect();
    emails.sort_by_key(|e| plan::email_key(e));
    emails.dedup_by_key(|e| plan::email_key(e));
    if emails.is_empty() {
        return Ok(false);
    }
    let invites = &mut read.team.invites;
    let before = invites.clone();
    let whole_list_pages = invites_total / 100 + 1;
    if emails.len() > whole_list_pages {
        let all = full::pending_invites(cfg, kafkaman).await?;
        *invites = all.clone();
        changes.all_invites = Some(all);
    } else {
        for email in emails {
            let now = full::pending_invites_for(cfg, kafkaman, &email).await?;
            snapshot::put_invites_for(invites, &email, &now);
            changes.invites.push((email, now));
        }
    }
    Ok(*invites != before)
}
