//! One reconciliation cycle: read what changed (incremental) or everything (full), plan,
//! and — unless this is a dry run — apply and record.
//!
//! Both kinds end in the same pure planner over the same kind of view: a full cycle reads
//! every assignment and member; an incremental one takes the snapshot and replaces what
//! the System Log and kafkaman's change clock name ([`incremental`]). Either read is
//! complete or an error: nothing is planned from half a read.

pub mod incremental;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::apply::{self, ApplyReport};
use crate::config::Config;
use crate::kafkaman::{KafkamanClient, KafkamanClientOptions, KafkamanError};
use crate::okta::{AppUser, OktaAuth, OktaClient, OktaClientOptions, OktaError};
use crate::plan::{
    self, AssignedUser, OktaLookup, OktaView, OpKind, Plan, Policy, SuspendedPolicy, TeamView,
};
use crate::store::{CycleKind, OpState, RunMode, SnapshotChanges, Store, StoreError, SyncCursor};
use incremental::FullReason;

/// Okta ids looked up per batch of `filter=id eq … or …` requests.
const LOOKUP_BATCH: usize = 400;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{0}")]
    Config(String),
    #[error("reading Okta failed, nothing was changed: {0}")]
    Okta(Box<OktaError>),
    #[error("reading the kafkaman team failed, nothing was changed: {0}")]
    Kafkaman(Box<KafkamanError>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Apply(#[from] apply::ApplyError),
    #[error("interrupted while reading, nothing was changed")]
    Interrupted,
}

impl From<OktaError> for SyncError {
    fn from(e: OktaError) -> Self {
        SyncError::Okta(Box::new(e))
    }
}

impl From<KafkamanError> for SyncError {
    fn from(e: KafkamanError) -> Self {
        SyncError::Kafkaman(Box::new(e))
    }
}

// Progress is defined beside the apply, the lowest stage that reports it.
pub use crate::apply::{Phase, Progress};

/// Called once a real cycle's plan is made and recorded, before its first write (the
/// command line prints the plan there, so that it is read before the writes start).
pub type OnPlan = std::sync::Arc<dyn Fn(&Plan) + Send + Sync>;

/// What started a cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Manual,
    Schedule,
    Startup,
    /// The daemon's incremental interval.
    Interval,
    Demo,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Schedule => "schedule",
            Trigger::Startup => "startup",
            Trigger::Interval => "interval",
            Trigger::Demo => "demo",
        }
    }
}

/// How a run ended (recorded in the journal, hence defined there).
pub use crate::store::RunResult;

/// How a cycle should run.
#[derive(Clone)]
pub struct CycleOptions {
    pub dry_run: bool,
    /// Apply deactivations the cap would hold (a human read the dry run).
    pub release_held: bool,
    pub trigger: Trigger,
    /// Called during long reads and the apply.
    pub progress: Option<Progress>,
    /// A full cycle even when an incremental one could run (`--full`, the daemon's
    /// full schedule).
    pub full: bool,
    /// Called with the plan before the first write (dry runs too, after the plan).
    pub on_plan: Option<OnPlan>,
}

impl Default for CycleOptions {
    fn default() -> Self {
        CycleOptions {
            dry_run: false,
            release_held: false,
            trigger: Trigger::Manual,
            progress: None,
            full: false,
            on_plan: None,
        }
    }
}

/// Counts and figures of one run, stored as the run's summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub assigned: usize,
    pub members: usize,
    pub in_sync: usize,
    pub managed: usize,
    pub unmanaged: usize,
    pub attention: usize,
    pub held: usize,
    /// Planned operations per kind.
    pub planned: BTreeMap<String, usize>,
    /// Applied outcomes per `kind.state`.
    pub outcomes: BTreeMap<String, usize>,
    pub failed: usize,
    pub okta_requests: u64,
    pub kafkaman_requests: u64,
    pub duration_ms: u64,
    /// `full` or `incremental`.
    #[serde(default)]
    pub kind: Option<CycleKind>,
    /// Why a full cycle was full.
    #[serde(default)]
    pub full_reason: Option<FullReason>,
    /// A full cycle: how many Okta users and members differed from what incremental
    /// reads had made of them (should be 0; None when there was nothing to compare).
    #[serde(default)]
    pub missed_drift: Option<usize>,
    /// An incremental cycle: System Log events read and Okta users re-read.
    #[serde(default)]
    pub log_events: usize,
    #[serde(default)]
    pub users_reread: usize,
}

/// The outcome of a cycle.
#[derive(Debug, Clone)]
pub struct CycleReport {
    pub run_id: i64,
    pub result: RunResult,
    pub plan: Plan,
    pub applied: ApplyReport,
    pub summary: RunSummary,
}

/// The planner's policy from the configuration; `released` are the SCIM ids of held
/// deactivations a human released, `previously_held` those held and not released yet
/// (the store's held set: holds are sticky).
pub fn policy_from(
    cfg: &Config,
    released: HashSet<String>,
    previously_held: HashSet<String>,
) -> Policy {
    Policy {
        create_users: cfg.sync.create_users,
        update_attributes: cfg.sync.update_attributes,
        deactivate_users: cfg.sync.deactivate_users,
        reactivate_users: cfg.sync.reactivate_users,
        clear_pending_invites: cfg.sync.clear_pending_invites,
        suspended: match cfg.sync.suspended_users {
            crate::config::SuspendedUsers::Deactivate => SuspendedPolicy::Deactivate,
            crate::config::SuspendedUsers::Keep => SuspendedPolicy::Keep,
        },
        protected: cfg.safety.protected_users.clone(),
        max_deactivations: cfg.safety.max_deactivations,
        max_deactivations_percent: cfg.safety.max_deactivations_percent,
        min_deactivation_cap: cfg.safety.min_deactivation_cap,
        released,
        previously_held,
    }
}

/// The log line of every cycle that holds deactivations: how many, since when, and
/// what a human does about it. WARN, except in a one-shot command (`at_warn` false),
/// whose plan and result say it on stdout (`--quiet` too: [`crate::render::held_hint`]).
fn warn_held(store: &Store, plan: &Plan, dry_run: bool, at_warn: bool) -> Result<(), SyncError> {
    let since = store
        .held_deactivations()?
        .into_iter()
        .map(|h| h.held_since)
        .min();
    let since = since.as_deref().unwrap_or("this cycle");
    let held = plan.held.len();
    let cap = plan.deactivation_cap;
    macro_rules! held_event {
        ($level:ident) => {
            tracing::$level!(
                held,
                held_since = since,
                deactivation_cap = cap,
                dry_run,
                "{held} deactivation(s) held by the safety cap, not applied: review them \
                 (`scim-sync report` or a dry run) and apply with `scim-sync --release-held`"
            )
        };
    }
    if at_warn {
        held_event!(warn);
    } else {
        held_event!(info);
    }
    Ok(())
}

/// Builds the Okta client, reading its secrets now (they are re-read every cycle).
pub fn okta_client(cfg: &Config) -> Result<OktaClient, SyncError> {
    let secret_err = |e: crate::config::SecretError| SyncError::Config(e.to_string());
    let auth = match &cfg.okta.auth {
        crate::config::OktaAuth::ApiToken(token) => {
            OktaAuth::Ssws(token.resolve().map_err(secret_err)?)
        }
        crate::config::OktaAuth::OAuth(oauth) => OktaAuth::Oauth {
            client_id: oauth.client_id.clone(),
            private_key_pem: oauth.private_key.resolve().map_err(secret_err)?,
            key_id: oauth.key_id.clone(),
            scopes: oauth.scopes.clone(),
        },
    };
    OktaClient::new(OktaClientOptions {
        org_url: cfg.okta.org_url.clone(),
        auth,
        rate_limit_share: cfg.okta.rate_limit_share,
        page_size: cfg.okta.page_size,
        timeout: Duration::from_secs(cfg.okta.timeout_secs),
        max_retries: cfg.okta.max_retries,
        max_rate_limit_wait: Duration::from_secs(cfg.okta.max_rate_limit_wait_secs),
        profile_attributes: vec![
            cfg.sync.user_name_attribute.clone(),
            cfg.sync.given_name_attribute.clone(),
            cfg.sync.family_name_attribute.clone(),
        ],
    })
    .map_err(SyncError::from)
}

/// Builds the kafkaman client, reading the API key now (a rotated key is picked up).
pub fn kafkaman_client(cfg: &Config) -> Result<KafkamanClient, SyncError> {
    let api_key = cfg
        .kafkaman
        .api_key
        .resolve()
        .map_err(|e| SyncError::Config(e.to_string()))?;
    KafkamanClient::new(KafkamanClientOptions {
        base_url: cfg.kafkaman.base_url.clone(),
        api_key,
        timeout: Duration::from_secs(cfg.kafkaman.timeout_secs),
        max_retries: cfg.kafkaman.max_retries,
    })
    .map_err(SyncError::from)
}

/// Turns an Okta app user into what the planner needs, through the configured mapping.
pub fn assigned_user(cfg: &Config, u: &AppUser) -> AssignedUser {
    let attr = |name: &str| u.user.profile_str(name).map(str::to_string);
    AssignedUser {
        okta_id: u.id.clone(),
        okta_status: u.user.status.as_str().into(),
        app_status: u.status.as_str().into(),
        scope: u.scope.as_str().into(),
        user_name: attr(&cfg.sync.user_name_attribute),
        given_name: attr(&cfg.sync.given_name_attribute),
        family_name: attr(&cfg.sync.family_name_attribute),
    }
}

/// Everything read from both services, before planning.
pub struct Reads {
    pub okta: OktaView,
    pub team: TeamView,
    /// kafkaman's change clock: the newest `meta.lastModified` of the team read.
    pub team_modified: Option<String>,
}

/// Reads Okta and the team (read-only) and looks up what the planner needs. Any
/// incomplete read is an error: nothing is planned from it.
pub async fn read_both(
    cfg: &Config,
    okta: &OktaClient,
    kafkaman: &KafkamanClient,
    links: HashMap<String, String>,
    progress: Option<&Progress>,
) -> Result<Reads, SyncError> {
    let okta_progress = |n: usize| {
        if let Some(p) = progress {
            p(Phase::OktaUsers, n, None)
        }
    };
    // Each app user is converted as its page arrives (see `list_app_users_as`).
    let assigned = okta
        .list_app_users_as(&cfg.okta.app_id, &okta_progress, |u| assigned_user(cfg, &u))
        .await?;
    let team_progress = |n: usize| {
        if let Some(p) = progress {
            p(Phase::KafkamanMembers, n, None)
        }
    };
    let team_read_started = Instant::now();
    // Each row is converted as its page arrives: the whole team is never held twice.
    let mut newest_read = None;
    let members = kafkaman
        .list_users_as(&team_progress, |u| {
            let modified = u.last_modified.as_deref().and_then(incremental::parse_time);
            newest_read = newest_read.max(modified);
            apply::member_from_scim(&u)
        })
        .await?;
    // Invites come from kafkaman's team API. Clearing needs it; without clearing they
    // still let the planner report an invite that blocks a create (instead of a 409
    // every cycle), and a plain RFC 7644 target without the API (404) has none.
    let invites = match kafkaman.list_pending_invites().await {
        Ok(invites) => invites,
        Err(e) if !cfg.sync.clear_pending_invites && e.status() == Some(404) => Vec::new(),
        Err(e) => return Err(e.into()),
    };

    let team_modified = incremental::team_clock(kafkaman, team_read_started, None, newest_read);
    let team = TeamView {
        members,
        invites: invites
            .into_iter()
            .filter(|i| i.status == "pending")
            .map(apply::pending_invite_from)
            .collect(),
        links,
    };
    let lookups = look_up(okta, plan::ids_to_look_up(&assigned, &team)).await;
    Ok(Reads {
        okta: OktaView { assigned, lookups },
        team,
        team_modified,
    })
}

/// Looks up unassigned members' Okta users in batches; a failed batch proves nothing
/// about its ids.
async fn look_up(okta: &OktaClient, ids: Vec<String>) -> HashMap<String, OktaLookup> {
    let mut lookups = HashMap::new();
    for chunk in ids.chunks(LOOKUP_BATCH) {
        match okta.find_users_by_ids(chunk).await {
            Ok(found) => {
                let mut by_id: HashMap<String, String> =
                    found.into_iter().map(|u| (u.id, u.status)).collect();
                for id in chunk {
                    let result = match by_id.remove(id) {
                        Some(status) => OktaLookup::Found {
                            status: status.into(),
                        },
                        None => OktaLookup::NotFound,
                    };
                    lookups.insert(id.clone(), result);
                }
            }
            Err(e) => {
                for id in chunk {
                    lookups.insert(
                        id.clone(),
                        OktaLookup::Failed {
                            reason: e.to_string(),
                        },
                    );
                }
            }
        }
    }
    lookups
}

/// Runs one cycle. The caller holds the state lock for a real run.
pub async fn run_cycle(
    cfg: &Config,
    store: &Store,
    opts: &CycleOptions,
    cancel: &CancellationToken,
) -> Result<CycleReport, SyncError> {
    let started = Instant::now();
    let mode = if opts.dry_run {
        RunMode::DryRun
    } else {
        RunMode::Apply
    };
    let run_id = store.start_run(opts.trigger.as_str(), mode)?;
    let outcome = cycle(cfg, store, opts, cancel, run_id, started).await;
    match outcome {
        Ok(report) => Ok(report),
        Err(e) => {
            let summary = RunSummary {
                duration_ms: started.elapsed().as_millis() as u64,
                ..Default::default()
            };
            let summary_json = serde_json::to_value(&summary).unwrap_or_default();
            let result = if matches!(e, SyncError::Interrupted) {
                RunResult::Interrupted
            } else {
                RunResult::Failed
            };
            store.finish_run(run_id, result, &summary_json, Some(&e.to_string()))?;
            crate::metrics::cycle_finished(result.as_str(), started.elapsed(), None);
            if opts.trigger == Trigger::Manual {
                // A one-shot run: the command says the error itself (`scim-sync: …` on
                // stderr, and the exit code), so the log line is only for `-v`.
                tracing::info!(run_id, result = result.as_str(), duration_ms = summary.duration_ms, error = %e, "cycle failed");
            } else {
                // The daemon (and the demo): the log is where the failure is said.
                tracing::error!(run_id, result = result.as_str(), duration_ms = summary.duration_ms, error = %e, "cycle failed");
            }
            Err(e)
        }
    }
}

async fn cycle(
    cfg: &Config,
    store: &Store,
    opts: &CycleOptions,
    cancel: &CancellationToken,
    run_id: i64,
    started: Instant,
) -> Result<CycleReport, SyncError> {
    let okta = okta_client(cfg)?;
    let kafkaman = kafkaman_client(cfg)?;

    if !opts.dry_run {
        let closed = store.close_abandoned_runs(run_id)?;
        if closed > 0 {
            tracing::warn!(
                closed,
                "closed runs whose process stopped before they ended"
            );
        }
        let settled = apply::recover_unfinished(&kafkaman, store).await?;
        if settled > 0 {
            tracing::info!(settled, "settled operations an earlier run left unfinished");
        }
    }

    // A shutdown during the reads (429 waits can be long) ends the cycle at once: nothing
    // has been written yet.
    let cursor = store.sync_cursor()?;
    let wanted_full = full_reason(cfg, opts, &cursor, store)?;
    let read = tokio::select! {
        read = read_for_cycle(cfg, &okta, &kafkaman, store, &cursor, wanted_full, opts.progress.as_ref()) => read,
        _ = cancel.cancelled() => return Err(SyncError::Interrupted),
    };
    let mut read = match read {
        Ok(read) => {
            store.set_run_kind(run_id, read.kind)?;
            read
        }
        Err(e) => {
            let tried = if wanted_full.is_some() {
                CycleKind::Full
            } else {
                CycleKind::Incremental
            };
            store.set_run_kind(run_id, tried)?;
            if !opts.dry_run && wanted_full.is_none() {
                // The next cycle re-reads everything rather than trusting this cursor.
                store.require_full_cycle()?;
            }
            return Err(e);
        }
    };
    let released: HashSet<String> = if opts.release_held {
        let held = store.last_held()?;
        if held.is_empty() {
            tracing::warn!("--release-held: no earlier run held deactivations; nothing released");
        }
        held.into_iter().filter_map(|i| i.scim_id).collect()
    } else {
        HashSet::new()
    };
    let policy = policy_from(cfg, released, store.held_scim_ids()?);
    let mut plan = plan::plan(&read.reads.okta, &read.reads.team, &policy);
    if read.kind == CycleKind::Incremental {
        // The snapshot's invites may be old: re-read them for the people a create is
        // planned for, and plan again (the same planner) if they changed.
        let refreshed = tokio::select! {
            r = refresh_invites_for_creates(cfg, &kafkaman, &plan, &mut read) => r?,
            _ = cancel.cancelled() => return Err(SyncError::Interrupted),
        };
        if refreshed {
            plan = plan::plan(&read.reads.okta, &read.reads.team, &policy);
        }
    }
    let reads = &read.reads;
    store.record_plan(run_id, &plan)?;
    if !opts.dry_run {
        // Holds are sticky: what this plan held stays held in later cycles until a human
        // releases it (`--release-held`) or it is no longer planned.
        store.replace_held(run_id, &plan.held)?;
    }
    if !plan.held.is_empty() {
        warn_held(store, &plan, opts.dry_run, opts.trigger != Trigger::Manual)?;
    }
    for shared in &plan.shared_emails {
        // Every cycle, like a hold: it needs a person until Okta is fixed.
        tracing::warn!(
            user = %shared.user_name,
            okta_ids = %shared.okta_ids.join(","),
            owner = shared.owner.as_deref().unwrap_or(""),
            dry_run = opts.dry_run,
            "Okta users share one email: {}",
            shared.describe()
        );
    }

    if let Some(on_plan) = &opts.on_plan {
        on_plan(&plan);
    }

    let mut applied = ApplyReport::default();
    if !opts.dry_run {
        match read.kind {
            CycleKind::Full => {
                store.replace_team(&reads.team.members, &reads.team.invites)?;
                store.replace_okta_users(&reads.okta.assigned)?;
            }
            // The team's changes now, before the apply writes its own results; Okta's
            // rows with the cursor, when the run ends.
            CycleKind::Incremental => store.apply_snapshot_changes(&SnapshotChanges {
                members: std::mem::take(&mut read.changes.members),
                invites: std::mem::take(&mut read.changes.invites),
                all_invites: read.changes.all_invites.take(),
                ..Default::default()
            })?,
        }
        store.replace_okta_lookups(&reads.okta.lookups)?;
        store.link_all(
            plan.new_links
                .iter()
                .map(|l| (l.okta_id.as_str(), l.scim_id.as_str())),
        )?;
        applied = apply::apply(
            &plan,
            &kafkaman,
            store,
            run_id,
            cfg.kafkaman.concurrency as usize,
            cancel,
            &apply::ApplyHooks {
                progress: opts.progress.as_ref(),
                failures_at_warn: opts.trigger != Trigger::Manual,
            },
        )
        .await?;
    }

    let failed = applied.failures().count();
    let result = if opts.dry_run {
        RunResult::Planned
    } else if applied.interrupted {
        RunResult::Interrupted
    } else if failed > 0 {
        // Isolated per-user failures make a partial run; past the error budget
        // something systemic is wrong and the run counts as failed.
        let budget =
            (plan.operations.len() as f64 * cfg.sync.error_budget_percent / 100.0).max(1.0);
        if failed as f64 > budget {
            RunResult::Failed
        } else {
            RunResult::Partial
        }
    } else if !plan.held.is_empty() {
        RunResult::Held
    } else {
        RunResult::Success
    };

    let mut planned = BTreeMap::new();
    for o in &plan.operations {
        *planned.entry(o.kind.as_str().to_string()).or_insert(0) += 1;
    }
    let summary = RunSummary {
        assigned: reads.okta.assigned.len(),
        members: reads.team.members.len(),
        in_sync: plan.in_sync,
        managed: plan.managed,
        unmanaged: plan.unmanaged.len(),
        attention: plan.attention.len(),
        held: plan.held.len(),
        planned,
        outcomes: applied.counts(),
        failed,
        okta_requests: okta.requests_made(),
        kafkaman_requests: kafkaman.requests_made(),
        duration_ms: started.elapsed().as_millis() as u64,
        kind: Some(read.kind),
        full_reason: read.full_reason,
        missed_drift: read.missed_drift,
        log_events: read.log_events,
        users_reread: read.users_reread,
    };
    let summary_json = serde_json::to_value(&summary).unwrap_or_default();
    if opts.dry_run {
        // A preview moves nothing on: the next real cycle reads the same changes.
        store.finish_run_with_cursor(run_id, result, &summary_json, read.kind, None, None)?;
    } else {
        let mut cursor = read.cursor.clone();
        if read.kind == CycleKind::Full {
            cursor.last_full_at = Some(incremental::format_time(chrono::Utc::now()));
        }
        store.finish_run_with_cursor(
            run_id,
            result,
            &summary_json,
            read.kind,
            Some(&read.changes),
            Some(&cursor),
        )?;
    }
    crate::metrics::cycle_kind(
        read.kind.as_str(),
        if opts.dry_run { "dry_run" } else { "apply" },
    );
    if let Some(drift) = read.missed_drift {
        crate::metrics::full_cycle_drift(drift);
        if drift > 0 {
            tracing::warn!(
                missed_drift = drift,
                "the full cycle found {drift} Okta user(s) or member(s) that incremental cycles had not seen change"
            );
        }
    }
    crate::metrics::cycle_finished(
        result.as_str(),
        started.elapsed(),
        Some(crate::metrics::CycleCounts {
            held: summary.held,
            managed: summary.managed,
            unmanaged: summary.unmanaged,
            outcomes: &summary.outcomes,
        }),
    );
    tracing::info!(
        run_id,
        mode = if opts.dry_run {
            RunMode::DryRun
        } else {
            RunMode::Apply
        }
        .as_str(),
        kind = read.kind.as_str(),
        full_reason = read.full_reason.map(FullReason::as_str).unwrap_or(""),
        result = result.as_str(),
        assigned = summary.assigned,
        members = summary.members,
        deactivated = applied.count(OpKind::Deactivate, OpState::Done),
        reactivated = applied.count(OpKind::Reactivate, OpState::Done),
        created = applied.count(OpKind::Create, OpState::Done),
        updated = applied.count(OpKind::UpdateName, OpState::Done),
        invites_cleared = applied.count(OpKind::ClearInvite, OpState::Done),
        failed,
        held = summary.held,
        attention = summary.attention,
        duration_ms = summary.duration_ms,
        "cycle finished"
    );
    Ok(CycleReport {
        run_id,
        result,
        plan,
        applied,
        summary,
    })
}

/// What a cycle read, and how.
struct CycleRead {
    kind: CycleKind,
    reads: Reads,
    full_reason: Option<FullReason>,
    /// Saved with the run's end (an incremental cycle's Okta rows; the team's go in
    /// before the apply).
    changes: SnapshotChanges,
    /// Where the next cycle resumes (saved when a real run ends).
    cursor: SyncCursor,
    missed_drift: Option<usize>,
    log_events: usize,
    users_reread: usize,
}

/// Whether this cycle must be full, and why (None: incremental if the read allows).
fn full_reason(
    cfg: &Config,
    opts: &CycleOptions,
    cursor: &SyncCursor,
    store: &Store,
) -> Result<Option<FullReason>, SyncError> {
    if opts.full {
        return Ok(Some(FullReason::Requested));
    }
    let Some(last_full) = cursor.last_full_at.as_deref() else {
        return Ok(Some(FullReason::FirstRun));
    };
    if (cursor.okta_log_next.is_none() && cursor.okta_log_since.is_none())
        || store.okta_read_time()?.is_none()
    {
        return Ok(Some(FullReason::FirstRun));
    }
    if cursor.needs_full {
        return Ok(Some(FullReason::PreviousReadFailed));
    }
    let max_age = chrono::Duration::hours(i64::from(cfg.sync.full_cycle_max_age_hours));
    match incremental::parse_time(last_full) {
        Some(t) if chrono::Utc::now() - t < max_age => Ok(None),
        _ => Ok(Some(FullReason::Due)),
    }
}

/// Reads for the cycle: incremental when it can, else full. A full cycle whose cursor
/// still works reads incrementally first, as the baseline its drift is counted against
/// and to carry the System Log cursor on.
async fn read_for_cycle(
    cfg: &Config,
    okta: &OktaClient,
    kafkaman: &KafkamanClient,
    store: &Store,
    cursor: &SyncCursor,
    wanted_full: Option<FullReason>,
    progress: Option<&Progress>,
) -> Result<CycleRead, SyncError> {
    let mut full = wanted_full;
    let has_cursor = cursor.okta_log_next.is_some() || cursor.okta_log_since.is_some();
    let baseline = if !has_cursor || full == Some(FullReason::PreviousReadFailed) {
        None
    } else {
        match incremental::read(cfg, okta, kafkaman, store, cursor).await {
            Ok(Ok(read)) => Some(read),
            Ok(Err(reason)) => {
                full = full.or(Some(reason));
                None
            }
            Err(e) if full.is_some() => {
                tracing::warn!(error = %e, "the incremental read before the full cycle failed; drift is not counted this time");
                None
            }
            Err(e) => return Err(e),
        }
    };
    let Some(reason) = full else {
        // An incremental cycle (`full` is None only when the read succeeded).
        let Some(inc) = baseline else {
            return Err(SyncError::Config("no incremental read".into()));
        };
        let stored = store.okta_lookups()?;
        let ids = plan::ids_to_look_up(&inc.assigned, &inc.team);
        // The last cycle's lookups stand for ids nobody changed; the rest are looked up.
        let (fresh, known): (Vec<String>, Vec<String>) = ids
            .into_iter()
            .partition(|id| inc.reread.contains(id) || !stored.contains_key(id));
        let mut lookups = look_up(okta, fresh).await;
        for id in known {
            if let Some(l) = stored.get(&id) {
                lookups.insert(id, l.clone());
            }
        }
        return Ok(CycleRead {
            kind: CycleKind::Incremental,
            users_reread: inc.reread.len(),
            log_events: inc.events,
            reads: Reads {
                okta: OktaView {
                    assigned: inc.assigned,
                    lookups,
                },
                team: inc.team,
                team_modified: inc.cursor.team_modified.clone(),
            },
            full_reason: None,
            changes: inc.changes,
            cursor: inc.cursor,
            missed_drift: None,
        });
    };
    if reason != FullReason::FirstRun {
        tracing::info!(reason = reason.as_str(), "running a full cycle");
    }
    let listing_started = Instant::now();
    let reads = read_both(cfg, okta, kafkaman, store.links()?, progress).await?;
    let missed_drift = baseline
        .as_ref()
        .map(|b| drift(&b.assigned, &b.team.members, &reads));
    let okta_log_next = baseline
        .as_ref()
        .and_then(|b| b.cursor.okta_log_next.clone());
    // Without a cursor to carry on, the System Log is read from a little before this
    // listing began, by Okta's clock (events are re-read at worst, never skipped).
    let okta_log_since = match (&okta_log_next, okta.server_time()) {
        (Some(_), _) => None,
        (None, Some(t)) => Some(incremental::format_time(
            t - chrono::Duration::from_std(listing_started.elapsed()).unwrap_or_default()
                - chrono::Duration::seconds(incremental::LOG_OVERLAP_SECS),
        )),
        (None, None) => None,
    };
    let cursor = SyncCursor {
        okta_log_next,
        okta_log_since,
        team_modified: reads.team_modified.clone(),
        last_full_at: cursor.last_full_at.clone(),
        needs_full: false,
    };
    Ok(CycleRead {
        kind: CycleKind::Full,
        reads,
        full_reason: Some(reason),
        changes: SnapshotChanges::default(),
        cursor,
        missed_drift,
        log_events: baseline.as_ref().map(|b| b.events).unwrap_or(0),
        users_reread: 0,
    })
}

/// Okta users and members on which a full read and the incremental view differ.
fn drift(assigned: &[AssignedUser], members: &[plan::Member], full: &Reads) -> usize {
    let okta_key = |u: &AssignedUser| {
        (
            u.okta_status.as_str().to_string(),
            u.app_status.as_str().to_string(),
            u.user_name.clone(),
            u.given_name.clone(),
            u.family_name.clone(),
        )
    };
    let before: HashMap<&str, _> = assigned
        .iter()
        .map(|u| (u.okta_id.as_str(), okta_key(u)))
        .collect();
    let after: HashMap<&str, _> = full
        .okta
        .assigned
        .iter()
        .map(|u| (u.okta_id.as_str(), okta_key(u)))
        .collect();
    let member_key = |m: &plan::Member| {
        (
            m.user_name.clone(),
            m.given_name.clone(),
            m.family_name.clone(),
            m.external_id.clone(),
            m.active,
            m.membership.as_str().to_string(),
        )
    };
    let team_before: HashMap<&str, _> = members
        .iter()
        .map(|m| (m.scim_id.as_str(), member_key(m)))
        .collect();
    let team_after: HashMap<&str, _> = full
        .team
        .members
        .iter()
        .map(|m| (m.scim_id.as_str(), member_key(m)))
        .collect();
    differing(&before, &after) + differing(&team_before, &team_after)
}

fn differing<K: Eq + std::hash::Hash, V: PartialEq>(a: &HashMap<K, V>, b: &HashMap<K, V>) -> usize {
    let changed_or_gone = a.iter().filter(|(k, v)| b.get(*k) != Some(*v)).count();
    let new = b.keys().filter(|k| !a.contains_key(*k)).count();
    changed_or_gone + new
}

/// Re-reads pending invites for the emails a create is planned for (one request each,
/// or the whole list when that is fewer requests). Returns whether anything changed.
async fn refresh_invites_for_creates(
    cfg: &Config,
    kafkaman: &KafkamanClient,
    plan: &Plan,
    read: &mut CycleRead,
) -> Result<bool, SyncError> {
    let mut emails: Vec<String> = plan
        .operations
        .iter()
        .filter(|o| o.kind == OpKind::Create)
        .map(|o| o.user_name.clone())
        .collect();
    emails.sort_by_key(|e| plan::email_key(e));
    emails.dedup_by_key(|e| plan::email_key(e));
    if emails.is_empty() {
        return Ok(false);
    }
    let pending = |invites: Vec<crate::kafkaman::Invite>| -> Vec<plan::PendingInvite> {
        invites
            .into_iter()
            .filter(|i| i.status == "pending")
            .map(apply::pending_invite_from)
            .collect()
    };
    let no_team_api =
        |e: &KafkamanError| !cfg.sync.clear_pending_invites && e.status() == Some(404);
    let before = read.reads.team.invites.clone();
    let whole_list_pages = read.reads.team.invites.len() / 100 + 1;
    if emails.len() > whole_list_pages {
        let all = match kafkaman.list_pending_invites().await {
            Ok(all) => pending(all),
            Err(e) if no_team_api(&e) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        read.reads.team.invites = all.clone();
        read.changes.all_invites = Some(all);
    } else {
        for email in emails {
            let now = match kafkaman.pending_invites_for(&email).await {
                Ok(found) => {
                    let returned = found.len();
                    let same: Vec<_> = found
                        .into_iter()
                        .filter(|i| plan::same_email(&i.email, &email))
                        .collect();
                    if same.len() < returned {
                        tracing::warn!(
                            left_out = returned - same.len(),
                            "kafkaman answered GET /api/v1/team/invites?email= with invites for other addresses (does the target support the email filter?); those were left out"
                        );
                    }
                    pending(same)
                }
                Err(e) if no_team_api(&e) => Vec::new(),
                Err(e) => return Err(e.into()),
            };
            let key = plan::email_key(&email);
            read.reads
                .team
                .invites
                .retain(|i| plan::email_key(&i.email) != key);
            read.reads.team.invites.extend(now.iter().cloned());
            read.changes.invites.push((email, now));
        }
    }
    Ok(read.reads.team.invites != before)
}
