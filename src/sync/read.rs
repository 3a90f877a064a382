//! The read stage: which kind of cycle this is, and its read. Either read is complete or
//! an error; [`CycleRead`] carries what its kind needs, and only that.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use scim_sync_plan::{self as plan, AssignedUser, Member, OktaView, TeamView};

use super::fingerprint::{mapping, quiet_fingerprint};
use super::incremental::{self, IncrementalRead};
use super::scoped::{self, Planned, Scoped, Totals};
use super::{CycleOptions, SyncError};
use crate::config::Config;
use crate::kafkaman::KafkamanClient;
use crate::okta::OktaClient;
use crate::store::{CycleKind, FullReason, SnapshotChanges, Store, SyncCursor, Trigger};
use crate::view::{self, FullRead, clock};

/// What a cycle read: the planner's two inputs, where the next cycle resumes, and what
/// its kind adds.
pub struct CycleRead {
    pub okta: OktaView,
    pub team: TeamView,
    /// Where the next cycle resumes (saved when a real run ends).
    pub cursor: SyncCursor,
    /// System Log events read (a full cycle reads them for its baseline).
    pub log_events: usize,
    pub kind: ReadKind,
}

/// The kind of read, with what only that kind has.
pub enum ReadKind {
    /// Every assignment and every member read.
    Full {
        reason: FullReason,
        /// How many Okta users and members differed from what incremental reads had
        /// made of them (None when there was no baseline to compare).
        missed_drift: Option<usize>,
    },
    /// The snapshot with what changed put in place.
    Incremental {
        /// Saved with the run: the team's rows before the apply, Okta's with the end.
        changes: SnapshotChanges,
        users_reread: usize,
        /// The views hold only the people the changes reach ([`scoped`]); None: the
        /// whole snapshot.
        scoped: Option<Box<Scoped>>,
        /// kafkaman's whole team was read (its members replace the snapshot's in the view).
        whole_team: bool,
    },
    /// Nothing changed on either side since a cycle that planned nothing, under the
    /// same policy ([`incremental::Found::Quiet`]): no snapshot was loaded, and the
    /// views are empty. The cycle records it without planning.
    Quiet,
}

impl CycleRead {
    /// The scoped part of an incremental cycle, when it planned only who changed.
    pub fn scoped(&self) -> Option<&Scoped> {
        match &self.kind {
            ReadKind::Incremental {
                scoped: Some(s), ..
            } => Some(s),
            _ => None,
        }
    }

    pub fn totals(&self) -> Totals {
        match self.scoped() {
            Some(s) => s.totals,
            None => Totals {
                assigned: self.okta.assigned.len(),
                members: self.team.members.len(),
                seats: scoped::seats(&self.team.members),
            },
        }
    }

    /// What the plan basis a real run leaves is made from.
    pub fn planned(&self) -> Planned<'_> {
        let (okta_upserts, scoped, whole_team) = match &self.kind {
            ReadKind::Incremental {
                changes,
                scoped,
                whole_team,
                ..
            } => (&changes.okta_upserts[..], scoped.as_deref(), *whole_team),
            ReadKind::Full { .. } | ReadKind::Quiet => (&[][..], None, false),
        };
        Planned {
            okta: &self.okta,
            team: &self.team,
            okta_upserts,
            scoped,
            whole_team,
        }
    }

    pub fn cycle_kind(&self) -> CycleKind {
        match self.kind {
            ReadKind::Full { .. } => CycleKind::Full,
            ReadKind::Incremental { .. } | ReadKind::Quiet => CycleKind::Incremental,
        }
    }

    pub fn full_reason(&self) -> Option<FullReason> {
        match self.kind {
            ReadKind::Full { reason, .. } => Some(reason),
            ReadKind::Incremental { .. } | ReadKind::Quiet => None,
        }
    }
}

/// Whether this cycle must be full, and why (None: incremental if the read allows).
pub fn full_reason(
    cfg: &Config,
    opts: &CycleOptions,
    cursor: &SyncCursor,
    store: &Store,
) -> Result<Option<FullReason>, SyncError> {
    if opts.full {
        return Ok(Some(if opts.trigger == Trigger::Schedule {
            FullReason::Scheduled
        } else {
            FullReason::Requested
        }));
    }
    let Some(last_full) = cursor.last_full_at.as_deref() else {
        return Ok(Some(FullReason::FirstRun));
    };
    if (cursor.okta_log_next.is_none() && cursor.okta_log_since.is_none())
        || store.okta_read_time()?.is_none()
    {
        return Ok(Some(FullReason::FirstRun));
    }
    if cursor.mapping.as_deref() != Some(mapping(cfg).as_str()) {
        // The stored Okta rows were converted otherwise: every one is read again.
        return Ok(Some(FullReason::MappingChanged));
    }
    if log_pause_running(cursor) {
        return Ok(Some(FullReason::LogUnavailable));
    }
    if cursor.needs_full {
        return Ok(Some(FullReason::PreviousReadFailed));
    }
    let max_age = chrono::Duration::hours(i64::from(cfg.sync.full_cycle_max_age_hours));
    match clock::parse_time(last_full) {
        Some(t) if chrono::Utc::now() - t < max_age => Ok(None),
        _ => Ok(Some(FullReason::Due)),
    }
}

/// Reads for the cycle: incremental when it can, else full. A full cycle whose cursor
/// still works reads incrementally first, as the baseline its drift is counted against
/// and to carry the System Log cursor on.
pub async fn read(
    cfg: &Config,
    okta: &OktaClient,
    kafkaman: &KafkamanClient,
    store: &Store,
    cursor: &SyncCursor,
    wanted_full: Option<FullReason>,
    opts: &CycleOptions,
) -> Result<CycleRead, SyncError> {
    let has_cursor = cursor.okta_log_next.is_some() || cursor.okta_log_since.is_some();
    let paused = log_pause_running(cursor);
    // No baseline to read: no cursor yet (a first run), a cursor not to be trusted, or a
    // System Log Okta refuses (paused, whatever made this cycle full).
    let no_baseline = paused || wanted_full == Some(FullReason::PreviousReadFailed);
    let (reason, baseline, log) = if !has_cursor || no_baseline {
        // Without a cursor nothing has been read incrementally yet: a first run.
        let log = if paused { Log::Paused } else { Log::Unread };
        (wanted_full.unwrap_or(FullReason::FirstRun), None, log)
    } else {
        // A quiet cycle may skip the snapshot only when it would plan what the last one
        // did: a real cycle, releasing nothing, not asked to be full.
        let quiet_under =
            (wanted_full.is_none() && !opts.dry_run && opts.release == super::Release::Nothing)
                .then(|| quiet_fingerprint(cfg, store))
                .transpose()?;
        match (
            incremental::read(cfg, okta, kafkaman, store, cursor, quiet_under.as_deref()).await,
            wanted_full,
        ) {
            (Ok(Ok(incremental::Found::Quiet { cursor })), _) => {
                crate::metrics::system_log_available(true);
                return Ok(CycleRead {
                    okta: OktaView::default(),
                    team: TeamView::default(),
                    cursor,
                    log_events: 0,
                    kind: ReadKind::Quiet,
                });
            }
            (Ok(Ok(incremental::Found::Changes(inc))), None) => {
                return incremental_read(cfg, okta, store, *inc, opts).await;
            }
            (Ok(Ok(incremental::Found::Changes(inc))), Some(reason)) => {
                (reason, Some(*inc), Log::Read)
            }
            // What the log said decides where polling goes on and whether it pauses,
            // whatever made the cycle full.
            (Ok(Err(found)), wanted) => {
                let log = match (found.reason, found.seen_to) {
                    (FullReason::LogUnavailable, _) => Log::Refused,
                    (FullReason::TooManyChanges, Some(next)) => Log::ReadTo(next),
                    (FullReason::CursorRejected | FullReason::TooManyChanges, _) => Log::Restart,
                    _ => Log::Unread,
                };
                (wanted.unwrap_or(found.reason), None, log)
            }
            (Err(e), Some(reason)) => {
                tracing::warn!(error = %e, "the incremental read before the full cycle failed; drift is not counted this time");
                (reason, None, Log::Unread)
            }
            (Err(e), None) => return Err(e),
        }
    };
    full_read(
        cfg, okta, kafkaman, store, cursor, reason, baseline, log, opts,
    )
    .await
}

/// What a full cycle learnt of the System Log.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Log {
    /// Read (the baseline): polling goes on from its `next`.
    Read,
    /// Not read, or its read failed: polling goes on from the stored `next`.
    Unread,
    /// Okta refused the stored cursor, or too much changed: polling starts again from
    /// the listing's time.
    Restart,
    /// Too much changed, and the whole log was read before the listing: polling goes on
    /// past what was read (the listing reflects it).
    ReadTo(String),
    /// Okta refused the System Log (403) now: a pause starts.
    Refused,
    /// A pause is running: the log was left alone.
    Paused,
}

/// An incremental cycle: the scope of its changes when it can plan only that, else the
/// whole snapshot. The stored lookups stand for ids nobody changed; the rest are looked
/// up.
async fn incremental_read(
    cfg: &Config,
    okta: &OktaClient,
    store: &Store,
    inc: incremental::IncrementalRead,
    opts: &CycleOptions,
) -> Result<CycleRead, SyncError> {
    let (snapshot, scoped) = match scoped::view(cfg, store, &inc, opts)? {
        Some((snapshot, scoped)) => (snapshot, Some(Box::new(scoped))),
        None => (inc.snapshot(store)?, None),
    };
    let ids = plan::ids_to_look_up(&snapshot.assigned, &snapshot.team);
    let stored = store.lookups_of(ids.iter().map(String::as_str))?;
    let (fresh, known): (Vec<String>, Vec<String>) = ids
        .into_iter()
        .partition(|id| inc.reread.contains(id) || !stored.contains_key(id));
    let mut lookups = view::full::look_up(okta, fresh).await;
    for id in known {
        if let Some(l) = stored.get(&id) {
            lookups.insert(id, l.clone());
        }
    }
    let (okta_view, team) = snapshot.into_views(lookups);
    crate::metrics::system_log_available(true);
    Ok(CycleRead {
        okta: okta_view,
        team,
        cursor: inc.cursor,
        log_events: inc.events,
        kind: ReadKind::Incremental {
            changes: inc.changes,
            users_reread: inc.reread.len(),
            scoped,
            whole_team: inc.whole_team,
        },
    })
}

/// A full cycle; `baseline` is the incremental read made before it, when there was one,
/// and `log` what that read learnt of the System Log.
#[allow(clippy::too_many_arguments)]
async fn full_read(
    cfg: &Config,
    okta: &OktaClient,
    kafkaman: &KafkamanClient,
    store: &Store,
    cursor: &SyncCursor,
    reason: FullReason,
    baseline: Option<incremental::IncrementalRead>,
    log: Log,
    opts: &CycleOptions,
) -> Result<CycleRead, SyncError> {
    if reason != FullReason::FirstRun {
        tracing::info!(reason = reason.as_str(), "running a full cycle");
    }
    let listing_started = Instant::now();
    let full = view::read_full(
        cfg,
        okta,
        kafkaman,
        store.links()?,
        store.our_deactivations()?,
        opts.progress.as_ref(),
    )
    .await?;
    let missed_drift = baseline
        .as_ref()
        .map(|b| drift(store, b, &full))
        .transpose()?;
    // Where the System Log resumes: the baseline's `next`; without a baseline because
    // its read failed (or the log is refused), the stored `next`, which Okta still
    // accepts and which loses nothing (events are re-read at worst). A first run has none,
    // a rejected one is no use, and after too many changes the listing has seen them.
    let keep_stored = reason != FullReason::FirstRun && !matches!(log, Log::Restart);
    let okta_log_next = match (&baseline, &log) {
        (Some(b), _) => b.cursor.okta_log_next.clone(),
        (None, Log::ReadTo(next)) => Some(next.clone()),
        (None, _) if keep_stored => cursor.okta_log_next.clone(),
        (None, _) => None,
    };
    // Without a cursor to carry on, the System Log is read from a little before this
    // listing began, by Okta's clock (events are re-read at worst, never skipped).
    let okta_log_since = match (&okta_log_next, okta.server_time()) {
        (Some(_), _) => None,
        (None, Some(t)) => Some(clock::format_time(
            t - chrono::Duration::from_std(listing_started.elapsed()).unwrap_or_default()
                - chrono::Duration::seconds(i64::from(cfg.sync.log_overlap_secs)),
        )),
        (None, None) => None,
    };
    let log_unavailable_until = match &log {
        // Refused now: paused from now on, said once per pause.
        Log::Refused => {
            tracing::warn!(
                pause_minutes = LOG_PAUSE.num_minutes(),
                "System Log unavailable: full cycles only. Okta refuses GET /api/v1/logs \
                 (403): grant the service app the okta.logs.read scope (and a read-only \
                 admin role); incremental cycles resume once it reads"
            );
            Some(clock::format_time(chrono::Utc::now() + LOG_PAUSE))
        }
        Log::Paused => cursor.log_unavailable_until.clone(),
        Log::Read | Log::Unread | Log::Restart | Log::ReadTo(_) => None,
    };
    crate::metrics::system_log_available(log_unavailable_until.is_none());
    let cursor = SyncCursor {
        okta_log_next,
        okta_log_since,
        team_modified: full.team_modified.clone(),
        last_full_at: cursor.last_full_at.clone(),
        needs_full: false,
        log_unavailable_until,
        mapping: Some(mapping(cfg)),
        quiet_under: None,
    };
    Ok(CycleRead {
        okta: full.okta,
        team: full.team,
        cursor,
        log_events: baseline.as_ref().map(|b| b.events).unwrap_or(0),
        kind: ReadKind::Full {
            reason,
            missed_drift,
        },
    })
}

/// How long cycles leave the System Log alone after Okta refused it: one WARN an hour,
/// and one try an hour to see whether the scope was granted since.
const LOG_PAUSE: chrono::Duration = chrono::Duration::hours(1);

/// A pause of the System Log is in force.
fn log_pause_running(cursor: &SyncCursor) -> bool {
    cursor
        .log_unavailable_until
        .as_deref()
        .and_then(clock::parse_time)
        .is_some_and(|until| chrono::Utc::now() < until)
}

/// Okta users and members on which a full read and the incremental view (the stored
/// rows with `baseline`'s changes in place) differ. The stored rows stream past the
/// listing, indexed by id: the snapshot is not held beside it.
fn drift(store: &Store, baseline: &IncrementalRead, full: &FullRead) -> Result<usize, SyncError> {
    let changes = &baseline.changes;
    let listed: HashMap<&str, &AssignedUser> = full
        .okta
        .assigned
        .iter()
        .map(|u| (u.okta_id.as_str(), u))
        .collect();
    let mut okta = Drift::default();
    let reread: HashSet<&str> = changes
        .okta_upserts
        .iter()
        .map(|u| u.okta_id.as_str())
        .chain(changes.okta_removals.iter().map(String::as_str))
        .collect();
    store.for_each_okta_user(|u| {
        if !reread.contains(u.okta_id.as_str()) {
            okta.compare(listed.get(u.okta_id.as_str()).copied(), &u, same_okta_user);
        }
    })?;
    for u in &changes.okta_upserts {
        okta.compare(listed.get(u.okta_id.as_str()).copied(), u, same_okta_user);
    }

    let read: HashMap<&str, &Member> = full
        .team
        .members
        .iter()
        .map(|m| (m.scim_id.as_str(), m))
        .collect();
    let mut team = Drift::default();
    let changed: HashSet<&str> = changes.members.iter().map(|m| m.scim_id.as_str()).collect();
    if !baseline.whole_team {
        store.for_each_member(|m| {
            if !changed.contains(m.scim_id.as_str()) {
                team.compare(read.get(m.scim_id.as_str()).copied(), &m, same_member);
            }
        })?;
    }
    for m in &changes.members {
        team.compare(read.get(m.scim_id.as_str()).copied(), m, same_member);
    }
    Ok(okta.count(listed.len()) + team.count(read.len()))
}

/// Counts rows of a "before" side against an "after" side indexed by id.
#[derive(Default)]
struct Drift {
    /// Rows before that are gone or different after.
    changed_or_gone: usize,
    /// Rows before that are there after (the rest of the after side is new).
    still_there: usize,
}

impl Drift {
    fn compare<T>(&mut self, after: Option<&T>, before: &T, same: fn(&T, &T) -> bool) {
        match after {
            Some(a) => {
                self.still_there += 1;
                if !same(a, before) {
                    self.changed_or_gone += 1;
                }
            }
            None => self.changed_or_gone += 1,
        }
    }

    fn count(&self, after_len: usize) -> usize {
        self.changed_or_gone + after_len.saturating_sub(self.still_there)
    }
}

fn same_okta_user(a: &AssignedUser, b: &AssignedUser) -> bool {
    a.okta_status == b.okta_status
        && a.app_status == b.app_status
        && a.user_name == b.user_name
        && a.given_name == b.given_name
        && a.family_name == b.family_name
}

fn same_member(a: &Member, b: &Member) -> bool {
    a.user_name == b.user_name
        && a.given_name == b.given_name
        && a.family_name == b.family_name
        && a.external_id == b.external_id
        && a.active == b.active
        && a.membership == b.membership
}
