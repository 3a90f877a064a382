//! One reconciliation cycle: read Okta (completely, or not at all), refresh the team
//! snapshot, plan, and — unless this is a dry run — apply and record.

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
use crate::store::{OpState, RunMode, Store, StoreError};

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

/// Called with (phase, items so far) during long reads, for a progress line.
pub type Progress = std::sync::Arc<dyn Fn(&str, usize) + Send + Sync>;

/// What started a cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Manual,
    Schedule,
    Startup,
    Demo,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Schedule => "schedule",
            Trigger::Startup => "startup",
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
    /// Called with (phase, items so far) during long reads.
    pub progress: Option<Progress>,
}

impl Default for CycleOptions {
    fn default() -> Self {
        CycleOptions {
            dry_run: false,
            release_held: false,
            trigger: Trigger::Manual,
            progress: None,
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

/// The WARN line of every cycle that holds deactivations: how many, since when, and
/// what a human does about it.
fn warn_held(store: &Store, plan: &Plan, dry_run: bool) -> Result<(), SyncError> {
    let since = store
        .held_deactivations()?
        .into_iter()
        .map(|h| h.held_since)
        .min();
    tracing::warn!(
        held = plan.held.len(),
        held_since = since.as_deref().unwrap_or("this cycle"),
        deactivation_cap = plan.deactivation_cap,
        dry_run,
        "{} deactivation(s) held by the safety cap, not applied: review them \
         (`scim-sync report` or a dry run) and apply with `scim-sync --release-held`",
        plan.held.len()
    );
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
            p("okta", n)
        }
    };
    let app_users = okta
        .list_app_users(&cfg.okta.app_id, &okta_progress)
        .await?;
    let team_progress = |n: usize| {
        if let Some(p) = progress {
            p("kafkaman", n)
        }
    };
    let users = kafkaman.list_users(&team_progress).await?;
    // Invites come from kafkaman's team API. Clearing needs it; without clearing they
    // still let the planner report an invite that blocks a create (instead of a 409
    // every cycle), and a plain RFC 7644 target without the API (404) has none.
    let invites = match kafkaman.list_pending_invites().await {
        Ok(invites) => invites,
        Err(e) if !cfg.sync.clear_pending_invites && e.status() == Some(404) => Vec::new(),
        Err(e) => return Err(e.into()),
    };

    let assigned: Vec<AssignedUser> = app_users.iter().map(|u| assigned_user(cfg, u)).collect();
    let team = TeamView {
        members: users.iter().map(apply::member_from_scim).collect(),
        invites: invites
            .into_iter()
            .filter(|i| i.status == "pending")
            .map(apply::pending_invite_from)
            .collect(),
        links,
    };
    // Batched lookups (40 ids a request); a failed batch proves nothing about its ids.
    let mut lookups = HashMap::new();
    let ids = plan::ids_to_look_up(&assigned, &team);
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
    Ok(Reads {
        okta: OktaView { assigned, lookups },
        team,
    })
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
            crate::metrics::cycle_finished("failed", started.elapsed(), None);
            tracing::error!(run_id, result = "failed", duration_ms = summary.duration_ms, error = %e, "cycle failed");
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
    let links = store.links()?;
    let reads = tokio::select! {
        reads = read_both(cfg, &okta, &kafkaman, links, opts.progress.as_ref()) => reads?,
        _ = cancel.cancelled() => return Err(SyncError::Interrupted),
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
    let plan = plan::plan(&reads.okta, &reads.team, &policy);
    store.record_plan(run_id, &plan)?;
    if !opts.dry_run {
        // Holds are sticky: what this plan held stays held in later cycles until a human
        // releases it (`--release-held`) or it is no longer planned.
        store.replace_held(run_id, &plan.held)?;
    }
    if !plan.held.is_empty() {
        warn_held(store, &plan, opts.dry_run)?;
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

    let mut applied = ApplyReport::default();
    if !opts.dry_run {
        store.replace_team(&reads.team.members, &reads.team.invites)?;
        store.replace_okta_users(&reads.okta.assigned)?;
        store.replace_okta_lookups(&reads.okta.lookups)?;
        for l in &plan.new_links {
            store.link(&l.okta_id, &l.scim_id)?;
        }
        applied = apply::apply(
            &plan,
            &kafkaman,
            store,
            run_id,
            cfg.kafkaman.concurrency as usize,
            cancel,
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
    };
    let summary_json = serde_json::to_value(&summary).unwrap_or_default();
    store.finish_run(run_id, result, &summary_json, None)?;
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
