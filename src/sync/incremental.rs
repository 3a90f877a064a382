//! The incremental read: what changed since the last cycle, over the snapshot.
//!
//! Okta: the System Log, polled as Okta documents (ASCENDING, no `until`, resumed from
//! the persisted `next`), names users and groups; **events never decide**: each named
//! user is re-read (`GET /apps/{app}/users/{user}`; 404 = not assigned) and the re-read
//! replaces the snapshot's row. kafkaman: the members changed since kafkaman's own clock
//! last moved (`meta.lastModified gt`, with an overlap). Anything incomplete fails the
//! read: nothing is planned from it and the next cycle is full.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration as ChronoDuration, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::{SyncError, assigned_user};
use crate::apply;
use crate::config::Config;
use crate::kafkaman::{KafkamanClient, ScimUser};
use crate::okta::{LogEvent, LogStart, OktaClient};
use crate::plan::{AssignedUser, Member, TeamView};
use crate::store::{SnapshotChanges, Store, SyncCursor};

/// Most System Log pages one incremental read follows (1,000 events each); more means
/// a full cycle is cheaper.
pub const MAX_LOG_PAGES: usize = 20;
/// kafkaman's change clock is read back this far, so a change stamped a little before
/// the newest one we saw (another server's clock, the same millisecond) isn't missed.
pub const TEAM_OVERLAP_SECS: i64 = 30;
/// A full cycle starts the System Log this far before its own listing began.
pub const LOG_OVERLAP_SECS: i64 = 120;

/// Why a cycle is full rather than incremental.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FullReason {
    /// No full cycle has run yet (or the database predates incremental cycles).
    FirstRun,
    /// `--full`, or the daemon's full schedule.
    Requested,
    /// The last full cycle is older than `sync.full_cycle_max_age_hours`.
    Due,
    /// The previous incremental read failed.
    PreviousReadFailed,
    /// Okta refused the stored System Log cursor.
    CursorRejected,
    /// More changed than re-reading them one by one is worth.
    TooManyChanges,
}

impl FullReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FullReason::FirstRun => "first_run",
            FullReason::Requested => "requested",
            FullReason::Due => "due",
            FullReason::PreviousReadFailed => "previous_read_failed",
            FullReason::CursorRejected => "cursor_rejected",
            FullReason::TooManyChanges => "too_many_changes",
        }
    }
}

/// What an incremental read found.
pub struct IncrementalRead {
    /// The snapshot's assigned users with the re-read ones replaced.
    pub assigned: Vec<AssignedUser>,
    /// The snapshot's team with the changed members replaced.
    pub team: TeamView,
    /// Okta ids the log named and that were re-read (their lookups are redone).
    pub reread: HashSet<String>,
    /// Saved with the run's end (Okta rows) and before the apply (team rows).
    pub changes: SnapshotChanges,
    /// Where the next cycle resumes.
    pub cursor: SyncCursor,
    pub events: usize,
}

/// Reads what changed. `Ok(Err(reason))`: a full read is needed now instead.
pub async fn read(
    cfg: &Config,
    okta: &OktaClient,
    kafkaman: &KafkamanClient,
    store: &Store,
    cursor: &SyncCursor,
) -> Result<Result<IncrementalRead, FullReason>, SyncError> {
    let start = match (&cursor.okta_log_next, &cursor.okta_log_since) {
        (Some(next), _) => LogStart::Next(next.clone()),
        (None, Some(since)) => LogStart::Since(since.clone()),
        (None, None) => return Ok(Err(FullReason::FirstRun)),
    };
    let log = match okta.poll_log(&start, MAX_LOG_PAGES).await {
        Ok(log) => log,
        // An expired or foreign cursor: Okta says 400 (E0000053 and friends).
        Err(e) if e.status() == Some(400) => {
            tracing::warn!(error = %e, request_id = e.request_id().unwrap_or(""), "Okta refused the System Log cursor; running a full cycle");
            return Ok(Err(FullReason::CursorRejected));
        }
        Err(e) => return Err(e.into()),
    };
    if log.truncated {
        return Ok(Err(FullReason::TooManyChanges));
    }
    let snapshot_users = store.okta_users()?;
    let members = store.members()?;
    let links = store.links()?;
    let named = users_named(cfg, &log.events, &snapshot_users, &members, &links);

    // Groups whose app assignment changed: every member is re-read.
    let mut users: BTreeSet<String> = named.users;
    for group in &named.groups {
        users.extend(okta.list_group_member_ids(group).await?);
    }
    // Past this many, one full listing costs less than a re-read each.
    let full_cost = snapshot_users.len().div_ceil(500) + members.len().div_ceil(100) + 2;
    if users.len() > full_cost.max(50) {
        return Ok(Err(FullReason::TooManyChanges));
    }
    let mut by_id: HashMap<String, AssignedUser> = snapshot_users
        .into_iter()
        .map(|u| (u.okta_id.clone(), u))
        .collect();
    let mut changes = SnapshotChanges::default();
    for id in &users {
        match okta.get_app_user(&cfg.okta.app_id, id).await? {
            Some(app_user) => {
                let u = assigned_user(cfg, &app_user);
                by_id.insert(u.okta_id.clone(), u.clone());
                changes.okta_upserts.push(u);
            }
            None => {
                if by_id.remove(id).is_some() {
                    changes.okta_removals.push(id.clone());
                }
            }
        }
    }
    let mut assigned: Vec<AssignedUser> = by_id.into_values().collect();
    assigned.sort_by(|a, b| a.okta_id.cmp(&b.okta_id));

    let (team_members, team_modified) = changed_members(
        kafkaman,
        members,
        cursor.team_modified.as_deref(),
        &mut changes,
    )
    .await?;
    let invites = store.invites()?;
    Ok(Ok(IncrementalRead {
        assigned,
        team: TeamView {
            members: team_members,
            invites,
            links,
        },
        reread: users.into_iter().collect(),
        changes,
        cursor: SyncCursor {
            okta_log_next: Some(log.next),
            okta_log_since: None,
            team_modified,
            last_full_at: cursor.last_full_at.clone(),
            needs_full: false,
        },
        events: log.events.len(),
    }))
}

/// Users and groups the events name, deduplicated by event `uuid`.
struct Named {
    users: BTreeSet<String>,
    groups: BTreeSet<String>,
}

fn users_named(
    cfg: &Config,
    events: &[LogEvent],
    snapshot: &[AssignedUser],
    members: &[Member],
    links: &HashMap<String, String>,
) -> Named {
    // A lifecycle or profile event matters only for someone we already know: a user not
    // assigned (nor linked, nor a member's externalId) who becomes assigned gets an
    // assignment or group event of their own.
    let mut known: HashSet<&str> = snapshot.iter().map(|u| u.okta_id.as_str()).collect();
    known.extend(links.keys().map(String::as_str));
    known.extend(members.iter().filter_map(|m| m.external_id.as_deref()));
    let mut seen = HashSet::new();
    let mut named = Named {
        users: BTreeSet::new(),
        groups: BTreeSet::new(),
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
            named.users.extend(
                users
                    .filter(|x| known.contains(x.id.as_str()))
                    .map(|x| x.id.clone()),
            );
        }
    }
    named
}

/// The team with the members kafkaman changed since its clock last moved, and the new
/// clock. Without a clock yet, or on a target without the filter, the whole team.
async fn changed_members(
    kafkaman: &KafkamanClient,
    snapshot: Vec<Member>,
    team_modified: Option<&str>,
    changes: &mut SnapshotChanges,
) -> Result<(Vec<Member>, Option<String>), SyncError> {
    let read_started = std::time::Instant::now();
    let since = team_modified
        .and_then(parse_time)
        .map(|t| format_time(t - ChronoDuration::seconds(TEAM_OVERLAP_SECS)));
    let changed = match since {
        Some(since) => match kafkaman.users_modified_since(&since).await {
            Ok(changed) => Some(changed),
            Err(e) if e.is_unsupported_filter() => {
                tracing::info!("kafkaman has no meta.lastModified filter; reading the whole team");
                None
            }
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let (changed, whole) = match changed {
        Some(changed) => (changed, false),
        None => (kafkaman.list_users(&|_| {}).await?, true),
    };
    let clock = team_clock(
        kafkaman,
        read_started,
        team_modified,
        newest_modified(&changed),
    );
    // The snapshot with the changed members replaced (each comes once from either read);
    // a quiet cycle changes nothing and rebuilds nothing.
    let changed: Vec<Member> = changed.iter().map(apply::member_from_scim).collect();
    let mut members = if whole { Vec::new() } else { snapshot };
    if !changed.is_empty() {
        let replaced: HashSet<&str> = changed.iter().map(|m| m.scim_id.as_str()).collect();
        members.retain(|m| !replaced.contains(m.scim_id.as_str()));
        members.extend(changed.iter().cloned());
    }
    changes.members.extend(changed);
    members.sort_by(|a, b| a.scim_id.cmp(&b.scim_id));
    Ok((members, clock))
}

/// Where the next read of kafkaman's changes starts: kafkaman's own clock when this read
/// began (its `Date`, read back by the overlap next time), so that a team whose members
/// all changed long ago isn't read again and again; without a `Date`, the newest
/// `meta.lastModified` seen (`newest_read`, see [`newest_modified`]). Never earlier than
/// the stored clock.
pub fn team_clock(
    kafkaman: &KafkamanClient,
    read_started: std::time::Instant,
    stored: Option<&str>,
    newest_read: Option<DateTime<Utc>>,
) -> Option<String> {
    let stored = stored.and_then(parse_time);
    let at_start = kafkaman
        .server_time()
        .and_then(|now| now.checked_sub(read_started.elapsed()))
        .map(DateTime::<Utc>::from);
    match at_start {
        Some(t) => Some(format_time(stored.map_or(t, |s| s.max(t)))),
        None => stored.max(newest_read).map(format_time),
    }
}

/// The newest `meta.lastModified` of these users.
pub fn newest_modified(users: &[ScimUser]) -> Option<DateTime<Utc>> {
    users
        .iter()
        .filter_map(|u| u.last_modified.as_deref().and_then(parse_time))
        .max()
}

pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// RFC 3339 with milliseconds and `Z`, the form both services take.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}
