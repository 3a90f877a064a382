//! The incremental read: what changed since the last cycle, over the snapshot.
//!
//! Okta: the System Log, polled as Okta documents (ASCENDING, no `until`, resumed from
//! the persisted `next`), names users and groups; **events never decide**: each named
//! user is re-read (`GET /apps/{app}/users/{user}`; Okta's E0000007 = not assigned) and the re-read
//! replaces the snapshot's row. kafkaman: the members changed since kafkaman's own clock
//! last moved (`meta.lastModified gt`, with an overlap). Anything incomplete fails the
//! read: nothing is planned from it and the next cycle is full.

use std::collections::{BTreeSet, HashSet};

use chrono::Duration as ChronoDuration;

use super::SyncError;
use crate::config::Config;
use crate::kafkaman::{KafkamanClient, ScimUser};
use crate::okta::{LogEvent, LogStart, OktaClient, OktaError};
use crate::store::{FullReason, SnapshotChanges, Store, StoreError, SyncCursor};
use crate::view::{Snapshot, ViewError, clock, convert};

/// Most System Log pages one incremental read follows (1,000 events each); more means
/// a full cycle is cheaper.
pub const MAX_LOG_PAGES: usize = 20;
/// kafkaman's change clock is read back this far, so a change stamped a little before
/// the newest one we saw (another server's clock, the same millisecond) isn't missed.
pub const TEAM_OVERLAP_SECS: i64 = 30;

/// What an incremental read found: what changed, not the snapshot it changes (a full
/// cycle's baseline compares it with the stored rows as they stream).
pub struct IncrementalRead {
    /// The re-read Okta users (assigned or not) and the changed members. Saved with the
    /// run's end (Okta rows) and before the apply (team rows).
    pub changes: SnapshotChanges,
    /// kafkaman's whole team was read: its members replace the snapshot's.
    pub whole_team: bool,
    /// Okta ids the log named and that were re-read (their lookups are redone).
    pub reread: HashSet<String>,
    /// Where the next cycle resumes.
    pub cursor: SyncCursor,
    pub events: usize,
}

impl IncrementalRead {
    /// The snapshot with the re-read Okta users and the changed members in place.
    pub fn snapshot(&self, store: &Store) -> Result<Snapshot, StoreError> {
        let mut snapshot = Snapshot::load(store)?;
        for u in &self.changes.okta_upserts {
            snapshot.put_okta_user(&u.okta_id, Some(u.clone()));
        }
        for id in &self.changes.okta_removals {
            snapshot.put_okta_user(id, None);
        }
        if self.whole_team {
            snapshot.team.members.clear();
        }
        snapshot.put_members(&self.changes.members);
        snapshot
            .team
            .members
            .sort_by(|a, b| a.scim_id.cmp(&b.scim_id));
        Ok(snapshot)
    }
}

/// A full read is needed now instead of an incremental one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeedsFull {
    pub reason: FullReason,
    /// The System Log position this read reached when every event before it happened
    /// before the full listing (too many changes, the whole log read): polling resumes
    /// there.
    pub seen_to: Option<String>,
}

impl From<FullReason> for NeedsFull {
    fn from(reason: FullReason) -> Self {
        NeedsFull {
            reason,
            seen_to: None,
        }
    }
}

/// What an incremental read found.
pub enum Found {
    /// Changes, put in place in the snapshot.
    Changes(Box<IncrementalRead>),
    /// Nothing on either side (no System Log event; every member kafkaman's clock names
    /// is as stored), under the policy of a last cycle that planned nothing: the plan
    /// would be that nothing again, so the snapshot is not loaded.
    Quiet {
        /// Where the next cycle resumes.
        cursor: SyncCursor,
    },
}

/// Reads what changed. `Ok(Err(needs))`: a full read is needed now instead. `quiet_under`
/// is the policy's fingerprint when a quiet cycle may skip the snapshot (a real,
/// incremental cycle releasing nothing).
pub async fn read(
    cfg: &Config,
    okta: &OktaClient,
    kafkaman: &KafkamanClient,
    store: &Store,
    cursor: &SyncCursor,
    quiet_under: Option<&str>,
) -> Result<Result<Found, NeedsFull>, SyncError> {
    let start = match (&cursor.okta_log_next, &cursor.okta_log_since) {
        (Some(next), _) => LogStart::Next(next.clone()),
        (None, Some(since)) => LogStart::Since(since.clone()),
        (None, None) => return Ok(Err(FullReason::FirstRun.into())),
    };
    let log = match okta.poll_log(&start, MAX_LOG_PAGES).await {
        Ok(log) => log,
        // An expired or foreign cursor: Okta says 400 (E0000053 and friends).
        // (A token refused on the way — the client's first call of the cycle — is not
        // the log's answer.)
        Err(e) if e.status() == Some(400) && !matches!(e, OktaError::Token { .. }) => {
            tracing::warn!(error = %e, request_id = e.request_id().unwrap_or(""), "Okta refused the System Log cursor; running a full cycle");
            return Ok(Err(FullReason::CursorRejected.into()));
        }
        // No `okta.logs.read` (or no role to read the log): the same answer every time,
        // so cycles are full for a while instead of failing every other one.
        Err(e) if matches!(e, OktaError::Forbidden { .. }) => {
            tracing::info!(error = %e, "Okta refuses the System Log; running a full cycle");
            return Ok(Err(FullReason::LogUnavailable.into()));
        }
        Err(e) => return Err(ViewError::from(e).into()),
    };
    if log.truncated {
        return Ok(Err(FullReason::TooManyChanges.into()));
    }
    // No event: kafkaman's changes decide whether the snapshot is needed at all.
    let mut team_read = None;
    // `quiet_under` is stored as "<run id> <fingerprint>" (the run whose counts stand).
    let stored_fingerprint = cursor
        .quiet_under
        .as_deref()
        .and_then(|v| v.split_once(' '))
        .map(|(_, fingerprint)| fingerprint);
    if log.events.is_empty() && quiet_under.is_some() && stored_fingerprint == quiet_under {
        let read = read_changed(kafkaman, cursor.team_modified.as_deref()).await?;
        if !read.whole && unchanged(store, &read.users)? {
            return Ok(Ok(Found::Quiet {
                cursor: SyncCursor {
                    okta_log_next: Some(log.next),
                    okta_log_since: None,
                    team_modified: read.clock,
                    needs_full: false,
                    log_unavailable_until: None,
                    ..cursor.clone()
                },
            }));
        }
        team_read = Some(read);
    }
    let named = users_named(cfg, &log.events);
    // A lifecycle or profile event matters only for someone the snapshot knows: a user
    // not assigned (nor linked, nor a member's externalId) who becomes assigned gets an
    // assignment or group event of their own.
    let known = store.known_okta_ids(named.if_known.iter().map(String::as_str))?;

    // Groups whose app assignment changed: every member is re-read.
    let mut users: BTreeSet<String> = named.users;
    users.extend(known);
    for group in &named.groups {
        let ids = okta
            .list_group_member_ids(group)
            .await
            .map_err(ViewError::from)?;
        users.extend(ids);
    }
    // Past this many, one full listing costs fewer Okta requests than a re-read each
    // (Okta requests with Okta requests: the listing's kafkaman pages are read at the
    // same time, against kafkaman's own limit). At least 50: a few pages are not worth
    // a full cycle's kafkaman read.
    let page = (cfg.okta.page_size as usize).max(1);
    let okta_listing = store.okta_user_count()?.div_ceil(page) + 1;
    if users.len() > okta_listing.max(50) {
        // Every event this poll read happened before the listing that follows begins:
        // polling resumes past them, and the burst is paid for once.
        return Ok(Err(NeedsFull {
            reason: FullReason::TooManyChanges,
            seen_to: Some(log.next),
        }));
    }
    let mut changes = SnapshotChanges::default();
    for id in &users {
        let app_user = okta
            .get_app_user(&cfg.okta.app_id, id)
            .await
            .map_err(ViewError::from)?;
        match app_user {
            Some(au) => changes.okta_upserts.push(convert::assigned_user(cfg, &au)),
            None if store.has_okta_user(id)? => changes.okta_removals.push(id.clone()),
            None => {}
        }
    }

    let team_read = match team_read {
        Some(read) => read,
        None => read_changed(kafkaman, cursor.team_modified.as_deref()).await?,
    };
    let team_modified = team_read.clock.clone();
    let whole_team = team_read.whole;
    changes
        .members
        .extend(team_read.users.iter().map(convert::member));
    Ok(Ok(Found::Changes(Box::new(IncrementalRead {
        changes,
        whole_team,
        reread: users.into_iter().collect(),
        cursor: SyncCursor {
            okta_log_next: Some(log.next),
            okta_log_since: None,
            team_modified,
            last_full_at: cursor.last_full_at.clone(),
            needs_full: false,
            log_unavailable_until: None,
            mapping: cursor.mapping.clone(),
            quiet_under: None,
        },
        events: log.events.len(),
    }))))
}

/// Whether every member kafkaman named is exactly as the snapshot holds it (one indexed
/// read each: the overlap of kafkaman's clock names a few again every cycle).
fn unchanged(store: &Store, users: &[ScimUser]) -> Result<bool, SyncError> {
    for u in users {
        if store.member(&u.id)? != Some(convert::member(u)) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Users and groups the events name, deduplicated by event `uuid`.
struct Named {
    users: BTreeSet<String>,
    groups: BTreeSet<String>,
    /// Named by lifecycle or profile events: re-read when the snapshot knows them.
    if_known: BTreeSet<String>,
}

fn users_named(cfg: &Config, events: &[LogEvent]) -> Named {
    let mut seen = HashSet::new();
    let mut named = Named {
        users: BTreeSet::new(),
        groups: BTreeSet::new(),
        if_known: BTreeSet::new(),
    };
    for e in events {
        if !seen.insert(e.uuid.as_str()) {
            continue;
        }
        let t = e.event_type.as_str();
        let other_app = e
            .targets
            .iter()
            .any(|x| x.kind == "AppInstance" && x.id != cfg.okta.app_id);
        let ours = e
            .targets
            .iter()
            .any(|x| x.kind == "AppInstance" && x.id == cfg.okta.app_id);
        let users = e.targets.iter().filter(|x| x.kind == "User");
        if t.starts_with("group.application_assignment.") {
            if ours || !other_app {
                named.groups.extend(
                    e.targets
                        .iter()
                        .filter(|x| x.kind == "UserGroup")
                        .map(|x| x.id.clone()),
                );
            }
        } else if t.starts_with("application.") {
            if !other_app {
                named.users.extend(users.map(|x| x.id.clone()));
            }
        } else if t.starts_with("group.user_membership.") {
            named.users.extend(users.map(|x| x.id.clone()));
        } else {
            named.if_known.extend(users.map(|x| x.id.clone()));
        }
    }
    named
}

/// The members kafkaman changed since its clock last moved, and its new clock.
struct TeamChanges {
    users: Vec<ScimUser>,
    /// The whole team was read (no clock yet, a target without the filter, or a clock
    /// set back).
    whole: bool,
    clock: Option<String>,
}

/// Reads the members kafkaman changed since its clock last moved. Without a clock yet,
/// or on a target without the filter, the whole team is read.
async fn read_changed(
    kafkaman: &KafkamanClient,
    team_modified: Option<&str>,
) -> Result<TeamChanges, SyncError> {
    let read_started = std::time::Instant::now();
    let since = team_modified
        .and_then(clock::parse_time)
        .map(|t| clock::format_time(t - ChronoDuration::seconds(TEAM_OVERLAP_SECS)));
    let changed = match since {
        Some(since) => match kafkaman.users_modified_since(&since).await {
            Ok(changed) => Some(changed),
            Err(e) if e.is_unsupported_filter() => {
                tracing::info!("kafkaman has no meta.lastModified filter; reading the whole team");
                None
            }
            Err(e) => return Err(ViewError::from(e).into()),
        },
        None => None,
    };
    // kafkaman's clock now behind the stored change clock (it was corrected backwards):
    // members changed since are stamped before the clock we read from, so the whole team
    // is read once rather than skipping them.
    let stepped_back = match (
        kafkaman
            .server_time()
            .map(chrono::DateTime::<chrono::Utc>::from),
        team_modified.and_then(clock::parse_time),
    ) {
        (Some(now), Some(stored)) => now + ChronoDuration::seconds(TEAM_OVERLAP_SECS) < stored,
        _ => false,
    };
    if stepped_back {
        tracing::info!(
            "kafkaman's clock is behind the change clock stored by the last cycle (it was set back?); reading the whole team once"
        );
    }
    let changed = changed.filter(|_| !stepped_back);
    let (changed, whole) = match changed {
        Some(changed) => (changed, false),
        None => (
            kafkaman
                .list_users(&|_| {})
                .await
                .map_err(ViewError::from)?,
            true,
        ),
    };
    let clock = clock::team_clock(
        kafkaman,
        read_started,
        // A clock set back starts over from where it is now.
        team_modified.filter(|_| !stepped_back),
        clock::newest_modified(&changed),
    );
    Ok(TeamChanges {
        users: changed,
        whole,
        clock,
    })
}
