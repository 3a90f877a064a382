//! `scim-sync report`: the reconciliation report for cron jobs, mail and audits.
//!
//! [`build`] gathers a [`Report`] either from the state database alone (no API call: it
//! works while Okta or kafkaman is down and says how old its snapshot is) or, with
//! `refresh`, from a live read-only read of both services. In both cases drift is what
//! the planner would do — the same rules as a real run. The renderers turn the one model
//! into text, Markdown, JSON (`docs/report-json.md`), CSV and HTML.

mod html;
mod markdown;
mod people_csv;
mod text;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};

use crate::config::{Config, ExitTrigger};
use crate::plan::{self, AssignedUser, Member, OktaLookup, OktaView, OpKind, PendingInvite, Plan};
use crate::plan::{TeamView, Unmanaged};
use crate::store::{RunRecord, Store, StoreError};
use crate::sync::{self, SyncError};

/// The JSON shape's name and version (`docs/report-json.md`). The version changes only
/// when a field is removed or changes meaning; new fields may appear within a version.
pub const SCHEMA: &str = "scim-sync/report";
pub const SCHEMA_VERSION: u32 = 1;

/// Exit statuses of `report` (and `explain` / `history`).
pub mod exit {
    /// Everything is in sync and nothing failed in the period.
    pub const OK: u8 = 0;
    /// Something a human should look at (drift, held, failures: `report.exit_1_on`).
    pub const ATTENTION: u8 = 1;
    /// The configuration is invalid.
    pub const CONFIG: u8 = 2;
    /// The report could not be produced (no state database, unreadable state, a
    /// `--refresh` read that failed, an output file that cannot be written).
    pub const UNAVAILABLE: u8 = 3;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Text,
    Markdown,
    Json,
    Csv,
    Html,
}

#[derive(Debug, Clone, Args, Default)]
pub struct ReportArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Start of the period for failures and runs: a duration back from now (`30m`,
    /// `24h`, `7d`, `2w`) or a date / time (`2025-03-01`, RFC 3339).
    #[arg(long, default_value = "24h")]
    pub since: String,
    /// Write the report to this file instead of standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Read Okta and kafkaman now (read-only) and report the live drift.
    #[arg(long)]
    pub refresh: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(
        "no state database at {path}: no cycle has run yet with this configuration \
         (run `scim-sync` once, or check sync.state_db)"
    )]
    NoDatabase { path: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "--refresh could not read the services ({0}); run the report without --refresh \
         to see the last snapshot"
    )]
    Refresh(Box<SyncError>),
    #[error(
        "--since {0:?} is neither a duration (30m, 24h, 7d, 2w) nor a date (2025-03-01 or RFC 3339)"
    )]
    Since(String),
    #[error("cannot write the report to {path}: {source}")]
    Output {
        path: String,
        source: std::io::Error,
    },
}

/// The whole report; this is the JSON shape (`docs/report-json.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    pub version: u32,
    pub generated_at: String,
    pub source: Source,
    pub period: Period,
    pub summary: Summary,
    pub drift: Drift,
    pub attention: Vec<PersonItem>,
    pub invites: Invites,
    pub unmanaged: Vec<UnmanagedItem>,
    pub held: Held,
    pub failures: Vec<Failure>,
    pub runs: Vec<RunRow>,
    pub people: Vec<PersonRow>,
    pub status: Status,
}

/// Where the data comes from and how old it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    /// `snapshot` (the state database only) or `live` (`--refresh`).
    pub mode: String,
    pub state_db: String,
    /// When Okta's assignments were last read completely.
    pub okta_read_at: Option<String>,
    /// When the team was last read.
    pub team_read_at: Option<String>,
    /// Age of the older of the two reads, in seconds (0 for a live read).
    pub age_seconds: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Period {
    pub since: String,
    pub until: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub assigned_in_okta: usize,
    pub members_active: usize,
    pub members_invited: usize,
    pub members_deactivated: usize,
    pub in_sync: usize,
    /// People in one of the drift lists.
    pub drift: usize,
    pub held: usize,
    pub attention: usize,
    pub unmanaged: usize,
    pub pending_invites: usize,
    pub failures: usize,
    pub runs: usize,
    pub last_success: Option<RunRef>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRef {
    pub id: i64,
    pub started_at: String,
    pub ended_at: Option<String>,
}

/// One person in a list, with what the planner would do and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonItem {
    pub user_name: String,
    pub okta_id: Option<String>,
    pub scim_id: Option<String>,
    /// The operation the planner would apply (`create`, `deactivate`, …), if any.
    pub action: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    /// Entitled in Okta, no active member (create or reactivate).
    pub missing_in_team: Vec<PersonItem>,
    /// Active member, no longer entitled (deactivate; held ones are under `held`).
    pub not_entitled: Vec<PersonItem>,
    pub name_mismatch: Vec<PersonItem>,
    /// Email changed in Okta; kafkaman's userName is immutable.
    pub renames: Vec<PersonItem>,
}

impl Drift {
    pub fn count(&self) -> usize {
        self.missing_in_team.len()
            + self.not_entitled.len()
            + self.name_mismatch.len()
            + self.renames.len()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Invites {
    pub stale_after_days: u32,
    /// Every pending invite, by email.
    pub pending: Vec<InviteItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InviteItem {
    pub id: String,
    pub email: String,
    /// `admin`, `link`, `request` or `scim`.
    pub source: String,
    pub invited_by: Option<String>,
    pub created_at: String,
    pub age_days: Option<i64>,
    /// A non-SCIM invite for someone the planner wants to create: it blocks the create.
    pub conflicting: bool,
    /// A SCIM invite: the member was provisioned and has not accepted yet.
    pub awaiting_acceptance: bool,
    pub stale: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnmanagedItem {
    pub user_name: String,
    pub scim_id: String,
    pub membership: String,
    pub external_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Held {
    pub cap: u32,
    pub items: Vec<PersonItem>,
    /// How to release them once a human agrees (empty when nothing is held).
    pub release: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub run_id: i64,
    pub at: String,
    /// The operation kind, or `run` when the whole run failed.
    pub kind: String,
    pub user_name: Option<String>,
    pub okta_id: Option<String>,
    /// Why the operation was planned.
    pub reason: Option<String>,
    pub error: String,
    pub http_status: Option<i64>,
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRow {
    pub id: i64,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub duration_ms: Option<u64>,
    pub trigger: String,
    /// `apply` or `dry_run`.
    pub mode: String,
    /// `success`, `partial`, `held`, `failed`, `interrupted`, `planned`, or none while running.
    pub result: Option<String>,
    pub assigned: Option<u64>,
    pub planned: u64,
    pub applied: u64,
    pub failed: u64,
    pub held: u64,
    pub error: Option<String>,
}

/// One row per person (assigned in Okta, or a team member, or both): the CSV.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonRow {
    pub email: String,
    pub okta_id: Option<String>,
    pub okta_status: Option<String>,
    pub app_status: Option<String>,
    /// `USER` (directly) or `GROUP`; none when not assigned.
    pub assignment: Option<String>,
    pub scim_id: Option<String>,
    /// `active`, `invited`, `deactivated`; none when not a member.
    pub membership: Option<String>,
    pub role: Option<String>,
    /// `in_sync`, `missing_in_team`, `not_entitled`, `name_mismatch`, `rename`, `held`,
    /// `attention`, `unmanaged`.
    pub status: String,
    pub action: Option<String>,
    pub reason: Option<String>,
    pub pending_invite: Option<String>,
}

/// Whether a human should look, and the exit status that follows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// What fired: any of `drift`, `held`, `failures`.
    pub needs_attention: Vec<String>,
    /// The triggers configured to make the exit status 1 (`report.exit_1_on`).
    pub exit_1_on: Vec<String>,
    pub exit_status: u8,
}

/// What [`build`] should do.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    pub since: DateTime<Utc>,
    pub refresh: bool,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Parses `--since`: a duration back from `now` or a date / time.
pub fn parse_since(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, ReportError> {
    let bad = || ReportError::Since(text.to_string());
    let t = text.trim();
    if let Some(at) = parse_time(t) {
        return Ok(at);
    }
    if let Ok(date) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return date
            .and_hms_opt(0, 0, 0)
            .map(|d| d.and_utc())
            .ok_or_else(bad);
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = t.split_at(split);
    let n: i64 = number.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    let back =
        chrono::Duration::try_seconds(n.checked_mul(secs).ok_or_else(bad)?).ok_or_else(bad)?;
    now.checked_sub_signed(back).ok_or_else(bad)
}

/// Opens the state database for reading; a missing one is its own error.
pub fn open_store(cfg: &Config) -> Result<Store, ReportError> {
    Store::open_existing(&cfg.sync.state_db)?.ok_or_else(|| ReportError::NoDatabase {
        path: cfg.sync.state_db.display().to_string(),
    })
}

/// Gathers the report. Without `refresh` it makes no API call; with it, only reads.
pub async fn build(
    cfg: &Config,
    store: &Store,
    opts: &ReportOptions,
    now: DateTime<Utc>,
) -> Result<Report, ReportError> {
    let links = store.links()?;
    let (okta, team, source) = if opts.refresh {
        let okta_client = sync::okta_client(cfg).map_err(|e| ReportError::Refresh(Box::new(e)))?;
        let kafkaman = sync::kafkaman_client(cfg).map_err(|e| ReportError::Refresh(Box::new(e)))?;
        let reads = sync::read_both(cfg, &okta_client, &kafkaman, links, None)
            .await
            .map_err(|e| ReportError::Refresh(Box::new(e)))?;
        let at = rfc3339(now);
        let source = Source {
            mode: "live".into(),
            state_db: store.path().display().to_string(),
            okta_read_at: Some(at.clone()),
            team_read_at: Some(at),
            age_seconds: Some(0),
        };
        (reads.okta, reads.team, source)
    } else {
        let assigned = store.okta_users()?;
        let team = TeamView {
            members: store.members()?,
            invites: store.invites()?,
            links,
        };
        let lookups = snapshot_lookups(store, &assigned, &team)?;
        let okta_read_at = store.okta_read_time()?;
        let team_read_at = store.snapshot_time()?;
        let oldest = [&okta_read_at, &team_read_at]
            .into_iter()
            .flatten()
            .filter_map(|t| parse_time(t))
            .min();
        let source = Source {
            mode: "snapshot".into(),
            state_db: store.path().display().to_string(),
            okta_read_at,
            team_read_at,
            age_seconds: oldest.map(|t| (now - t).num_seconds().max(0)),
        };
        (OktaView { assigned, lookups }, team, source)
    };
    let plan = plan::plan(&okta, &team, &sync::policy_from(cfg, Default::default()));
    let since = rfc3339(opts.since);
    let runs = store.runs_since(&since)?;
    let failures = failures(store, &since, &runs)?;
    Ok(assemble(
        cfg,
        Assembly {
            plan: &plan,
            okta: &okta,
            team: &team,
            source,
            period: Period {
                since,
                until: rfc3339(now),
            },
            runs: &runs,
            failures,
            last_success: store.last_success()?,
            now,
        },
    ))
}

/// The lookups a real cycle would have made, taken from what the latest recorded plan
/// concluded, so that the snapshot plan matches the last real one without an API call.
pub(crate) fn snapshot_lookups(
    store: &Store,
    assigned: &[AssignedUser],
    team: &TeamView,
) -> Result<HashMap<String, OktaLookup>, StoreError> {
    let ids = plan::ids_to_look_up(assigned, team);
    let mut out = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    // The facts the last real cycle had; an id it didn't look up proves nothing.
    let mut stored = store.okta_lookups()?;
    for id in ids {
        let lookup = stored.remove(&id).unwrap_or_else(|| OktaLookup::Failed {
            reason: "not looked up yet (the last cycle did not reach it)".into(),
        });
        out.insert(id, lookup);
    }
    Ok(out)
}

fn failures(store: &Store, since: &str, runs: &[RunRecord]) -> Result<Vec<Failure>, StoreError> {
    let mut out: Vec<Failure> = store
        .operations_since(since)?
        .into_iter()
        .filter(|o| o.state == "failed")
        .map(|o| Failure {
            run_id: o.run_id,
            at: o.finished_at.unwrap_or(o.started_at),
            kind: o.kind,
            user_name: Some(o.user_name),
            okta_id: o.okta_id,
            reason: Some(o.reason),
            error: o.error.unwrap_or_else(|| "unknown error".into()),
            http_status: o.http_status,
            request_id: o.request_id,
        })
        .collect();
    for r in runs {
        if let (Some("failed"), Some(error)) = (r.result.as_deref(), &r.error) {
            out.push(Failure {
                run_id: r.id,
                at: r.ended_at.clone().unwrap_or_else(|| r.started_at.clone()),
                kind: "run".into(),
                user_name: None,
                okta_id: None,
                reason: None,
                error: error.clone(),
                http_status: None,
                request_id: None,
            });
        }
    }
    // Operations of one run finish concurrently: order by what they are, not by when.
    out.sort_by(|a, b| (a.run_id, &a.kind, &a.user_name).cmp(&(b.run_id, &b.kind, &b.user_name)));
    Ok(out)
}

struct Assembly<'a> {
    plan: &'a Plan,
    okta: &'a OktaView,
    team: &'a TeamView,
    source: Source,
    period: Period,
    runs: &'a [RunRecord],
    failures: Vec<Failure>,
    last_success: Option<RunRecord>,
    now: DateTime<Utc>,
}

/// The planner's words for an email change (see `plan::plan`); such attention items are
/// listed as renames.
const RENAME_MARKER: &str = "email changed in Okta";

fn assemble(cfg: &Config, a: Assembly<'_>) -> Report {
    let plan = a.plan;
    let item = |o: &plan::Operation| PersonItem {
        user_name: o.user_name.clone(),
        okta_id: o.okta_id.clone(),
        scim_id: o.scim_id.clone(),
        action: Some(o.kind.as_str().to_string()),
        reason: o.reason.clone(),
    };
    let mut drift = Drift::default();
    for o in &plan.operations {
        match o.kind {
            OpKind::Create | OpKind::Reactivate => drift.missing_in_team.push(item(o)),
            OpKind::Deactivate => drift.not_entitled.push(item(o)),
            OpKind::UpdateName => drift.name_mismatch.push(item(o)),
            OpKind::ClearInvite => {}
        }
    }
    let mut attention = Vec::new();
    for at in &plan.attention {
        let p = PersonItem {
            user_name: at.user_name.clone(),
            okta_id: at.okta_id.clone(),
            scim_id: at.scim_id.clone(),
            action: None,
            reason: at.reason.clone(),
        };
        if at.reason.starts_with(RENAME_MARKER) {
            drift.renames.push(p);
        } else {
            attention.push(p);
        }
    }
    let held = Held {
        cap: plan.deactivation_cap,
        items: plan.held.iter().map(item).collect(),
        release: (!plan.held.is_empty()).then(|| {
            "read them (`scim-sync --dry-run`); if they are right, apply them once with \
             `scim-sync --release-held`, or raise safety.max_deactivations / \
             safety.max_deactivations_percent"
                .to_string()
        }),
    };

    // Invites: which block a planned create, which wait for a SCIM member, which are old.
    let creating: HashSet<String> = plan
        .operations
        .iter()
        .filter(|o| o.kind == OpKind::Create)
        .map(|o| o.user_name.to_lowercase())
        .chain(
            plan.attention
                .iter()
                .filter(|at| at.reason.contains("invite blocks the create"))
                .map(|at| at.user_name.to_lowercase()),
        )
        .collect();
    let clearing: HashSet<&str> = plan
        .operations
        .iter()
        .filter_map(|o| o.invite_id.as_deref())
        .collect();
    let stale_days = cfg.report.stale_invite_days;
    let mut invites: Vec<InviteItem> = a
        .team
        .invites
        .iter()
        .map(|i| invite_item(i, &creating, &clearing, stale_days, a.now))
        .collect();
    invites.sort_by(|x, y| (x.email.to_lowercase(), &x.id).cmp(&(y.email.to_lowercase(), &y.id)));

    let unmanaged: Vec<UnmanagedItem> = plan.unmanaged.iter().map(unmanaged_item).collect();
    let runs: Vec<RunRow> = a.runs.iter().map(run_row).collect();
    let people = people(a.okta, a.team, plan, &invites);

    let count = |state: &str| {
        a.team
            .members
            .iter()
            .filter(|m| m.membership == state)
            .count()
    };
    let summary = Summary {
        assigned_in_okta: a.okta.assigned.len(),
        members_active: count("active"),
        members_invited: count("invited"),
        members_deactivated: count("deactivated"),
        in_sync: plan.in_sync,
        drift: drift.count(),
        held: held.items.len(),
        attention: attention.len(),
        unmanaged: unmanaged.len(),
        pending_invites: invites.len(),
        failures: a.failures.len(),
        runs: runs.len(),
        last_success: a.last_success.map(|r| RunRef {
            id: r.id,
            started_at: r.started_at,
            ended_at: r.ended_at,
        }),
    };
    let mut fired = Vec::new();
    if summary.drift > 0 {
        fired.push(ExitTrigger::Drift);
    }
    if summary.held > 0 {
        fired.push(ExitTrigger::Held);
    }
    if summary.failures > 0 {
        fired.push(ExitTrigger::Failures);
    }
    let exit_status = if fired.iter().any(|t| cfg.report.exits_1_on(*t)) {
        exit::ATTENTION
    } else {
        exit::OK
    };
    Report {
        schema: SCHEMA.into(),
        version: SCHEMA_VERSION,
        generated_at: rfc3339(a.now),
        source: a.source,
        period: a.period,
        summary,
        drift,
        attention,
        invites: Invites {
            stale_after_days: stale_days,
            pending: invites,
        },
        unmanaged,
        held,
        failures: a.failures,
        runs,
        people,
        status: Status {
            needs_attention: fired.iter().map(|t| t.as_str().to_string()).collect(),
            exit_1_on: cfg
                .report
                .exit_1_on
                .iter()
                .map(|t| t.as_str().to_string())
                .collect(),
            exit_status,
        },
    }
}

fn invite_item(
    i: &PendingInvite,
    creating: &HashSet<String>,
    clearing: &HashSet<&str>,
    stale_days: u32,
    now: DateTime<Utc>,
) -> InviteItem {
    let age_days = parse_time(&i.created_at).map(|t| (now - t).num_days());
    InviteItem {
        id: i.id.clone(),
        email: i.email.clone(),
        source: i.source.clone(),
        invited_by: i.invited_by.clone(),
        created_at: i.created_at.clone(),
        age_days,
        conflicting: i.source != "scim"
            && (clearing.contains(i.id.as_str()) || creating.contains(&i.email.to_lowercase())),
        awaiting_acceptance: i.source == "scim",
        stale: age_days.is_some_and(|d| d >= i64::from(stale_days)),
    }
}

fn unmanaged_item(u: &Unmanaged) -> UnmanagedItem {
    UnmanagedItem {
        user_name: u.user_name.clone(),
        scim_id: u.scim_id.clone(),
        membership: u.membership.clone(),
        external_id: u.external_id.clone(),
    }
}

pub fn run_row(r: &RunRecord) -> RunRow {
    let num = |key: &str| {
        r.summary
            .as_ref()
            .and_then(|s| s.get(key))
            .and_then(serde_json::Value::as_u64)
    };
    let sum_map = |key: &str, keep: &dyn Fn(&str) -> bool| -> u64 {
        r.summary
            .as_ref()
            .and_then(|s| s.get(key))
            .and_then(serde_json::Value::as_object)
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| keep(k))
                    .filter_map(|(_, v)| v.as_u64())
                    .sum()
            })
            .unwrap_or(0)
    };
    let duration_ms = num("duration_ms").or_else(|| {
        let start = parse_time(&r.started_at)?;
        let end = parse_time(r.ended_at.as_deref()?)?;
        u64::try_from((end - start).num_milliseconds()).ok()
    });
    RunRow {
        id: r.id,
        started_at: r.started_at.clone(),
        ended_at: r.ended_at.clone(),
        duration_ms,
        trigger: r.trigger.clone(),
        mode: r.mode.clone(),
        result: r.result.clone(),
        assigned: num("assigned"),
        planned: sum_map("planned", &|_| true),
        applied: sum_map("outcomes", &|k| {
            k.ends_with(".done") || k.ends_with(".recovered")
        }),
        failed: num("failed").unwrap_or(0),
        held: num("held").unwrap_or(0),
        error: r.error.clone(),
    }
}

/// What the plan says about someone: (Okta id, SCIM id, status, action, reason).
type Verdict<'a> = (
    Option<&'a str>,
    Option<&'a str>,
    &'a str,
    Option<&'a str>,
    &'a str,
);

/// One row per person: every assigned user (with the member the planner matches, if
/// any) and every member nobody is assigned to.
fn people(okta: &OktaView, team: &TeamView, plan: &Plan, invites: &[InviteItem]) -> Vec<PersonRow> {
    let by_scim: HashMap<&str, &Member> = team
        .members
        .iter()
        .map(|m| (m.scim_id.as_str(), m))
        .collect();
    let mut link_of: HashMap<&str, &str> = team
        .links
        .iter()
        .map(|(o, s)| (o.as_str(), s.as_str()))
        .collect();
    for l in &plan.new_links {
        link_of.insert(l.okta_id.as_str(), l.scim_id.as_str());
    }
    let mut invite_of: BTreeMap<String, String> = BTreeMap::new();
    for i in invites {
        invite_of
            .entry(i.email.to_lowercase())
            .or_insert_with(|| i.source.clone());
    }
    // What the plan says, by Okta id and by SCIM id; the first entry wins, in the order
    // of the statuses' severity.
    let mut verdicts: Vec<Verdict<'_>> = Vec::new();
    for o in &plan.operations {
        let status = match o.kind {
            OpKind::Create | OpKind::Reactivate => "missing_in_team",
            OpKind::Deactivate => "not_entitled",
            OpKind::UpdateName => "name_mismatch",
            OpKind::ClearInvite => continue,
        };
        verdicts.push((
            o.okta_id.as_deref(),
            o.scim_id.as_deref(),
            status,
            Some(o.kind.as_str()),
            &o.reason,
        ));
    }
    for o in &plan.held {
        verdicts.push((
            o.okta_id.as_deref(),
            o.scim_id.as_deref(),
            "held",
            Some(o.kind.as_str()),
            &o.reason,
        ));
    }
    for at in &plan.attention {
        let status = if at.reason.starts_with(RENAME_MARKER) {
            "rename"
        } else {
            "attention"
        };
        verdicts.push((
            at.okta_id.as_deref(),
            at.scim_id.as_deref(),
            status,
            None,
            &at.reason,
        ));
    }
    let verdict = |okta_id: Option<&str>, scim_id: Option<&str>| {
        verdicts.iter().find(|v| {
            (okta_id.is_some() && v.0 == okta_id) || (scim_id.is_some() && v.1 == scim_id)
        })
    };

    let mut rows = Vec::new();
    let mut seen_scim: HashSet<&str> = HashSet::new();
    for u in &okta.assigned {
        let member = link_of
            .get(u.okta_id.as_str())
            .and_then(|s| by_scim.get(s))
            .copied()
            .or_else(|| {
                team.members
                    .iter()
                    .find(|m| m.external_id.as_deref() == Some(u.okta_id.as_str()))
            });
        if let Some(m) = member {
            seen_scim.insert(m.scim_id.as_str());
        }
        let email = member
            .map(|m| m.user_name.clone())
            .or_else(|| u.user_name.clone())
            .unwrap_or_default();
        let v = verdict(Some(&u.okta_id), member.map(|m| m.scim_id.as_str()));
        rows.push(PersonRow {
            pending_invite: invite_of.get(&email.to_lowercase()).cloned(),
            email,
            okta_id: Some(u.okta_id.clone()),
            okta_status: Some(u.okta_status.clone()),
            app_status: Some(u.app_status.clone()),
            assignment: Some(u.scope.clone()),
            scim_id: member.map(|m| m.scim_id.clone()),
            membership: member.map(|m| m.membership.clone()),
            role: member.and_then(|m| m.role.clone()),
            status: v.map_or("in_sync", |v| v.2).to_string(),
            action: v.and_then(|v| v.3).map(str::to_string),
            reason: v.map(|v| v.4.to_string()),
        });
    }
    let unmanaged: HashSet<&str> = plan.unmanaged.iter().map(|u| u.scim_id.as_str()).collect();
    let okta_of: HashMap<&str, &str> = link_of.iter().map(|(o, s)| (*s, *o)).collect();
    for m in &team.members {
        if seen_scim.contains(m.scim_id.as_str()) {
            continue;
        }
        let okta_id = okta_of
            .get(m.scim_id.as_str())
            .copied()
            .or(m.external_id.as_deref());
        let v = verdict(okta_id, Some(&m.scim_id));
        let (status, reason) = if unmanaged.contains(m.scim_id.as_str()) {
            (
                "unmanaged",
                Some("not managed by scim-sync: never touched".to_string()),
            )
        } else {
            (
                v.map_or("in_sync", |v| v.2),
                v.map(|v| v.4.to_string())
                    .or_else(|| (!m.active).then(|| "deactivated, not assigned".to_string())),
            )
        };
        rows.push(PersonRow {
            pending_invite: invite_of.get(&m.user_name.to_lowercase()).cloned(),
            email: m.user_name.clone(),
            okta_id: okta_id.map(str::to_string),
            okta_status: None,
            app_status: None,
            assignment: None,
            scim_id: Some(m.scim_id.clone()),
            membership: Some(m.membership.clone()),
            role: m.role.clone(),
            status: status.to_string(),
            action: v.and_then(|v| v.3).map(str::to_string),
            reason,
        });
    }
    rows.sort_by(|a, b| {
        (a.email.to_lowercase(), &a.okta_id).cmp(&(b.email.to_lowercase(), &b.okta_id))
    });
    rows
}

/// Renders the report. `color` adds terminal emphasis to the text format only.
pub fn render(report: &Report, format: Format, color: bool) -> String {
    match format {
        Format::Text => text::render(report, color),
        Format::Markdown => markdown::render(report),
        Format::Json => {
            // Serializing plain data (strings, numbers, vectors) cannot fail.
            let mut s = serde_json::to_string_pretty(report).unwrap_or_default();
            s.push('\n');
            s
        }
        Format::Csv => people_csv::render(report),
        Format::Html => html::render(report),
    }
}

/// `scim-sync report`: prints or writes the report; returns the exit status.
pub async fn run(cfg: &Config, args: &ReportArgs) -> u8 {
    match run_inner(cfg, args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("scim-sync: report: {e}");
            exit::UNAVAILABLE
        }
    }
}

async fn run_inner(cfg: &Config, args: &ReportArgs) -> Result<u8, ReportError> {
    let now = Utc::now();
    let since = parse_since(&args.since, now)?;
    let store = open_store(cfg)?;
    let report = build(
        cfg,
        &store,
        &ReportOptions {
            since,
            refresh: args.refresh,
        },
        now,
    )
    .await?;
    let color = args.format == Format::Text
        && args.output.is_none()
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none();
    let body = render(&report, args.format, color);
    match &args.output {
        Some(path) => write_file(path, &body)?,
        None => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            // A closed pipe (`| head`) is not a failed report.
            let _ = out.write_all(body.as_bytes());
            let _ = out.flush();
        }
    }
    Ok(report.status.exit_status)
}

/// Writes through a temporary file in the same directory, so a reader never sees half
/// a report.
fn write_file(path: &Path, body: &str) -> Result<(), ReportError> {
    let err = |source| ReportError::Output {
        path: path.display().to_string(),
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
    std::io::Write::write_all(&mut tmp, body.as_bytes()).map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

/// "3 h", "2 d": a coarse age for people.
pub fn human_age(seconds: i64) -> String {
    match seconds {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86_400),
    }
}

/// Milliseconds as "850 ms" or "12.3 s".
pub fn human_duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

/// An RFC 3339 time shortened for people: `2025-03-01 14:05 UTC`.
pub fn short_time(t: &str) -> String {
    parse_time(t)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_durations_and_dates() {
        let now = parse_time("2025-03-10T12:00:00Z").unwrap();
        assert_eq!(
            rfc3339(parse_since("24h", now).unwrap()),
            "2025-03-09T12:00:00.000Z"
        );
        assert_eq!(
            rfc3339(parse_since("7d", now).unwrap()),
            "2025-03-03T12:00:00.000Z"
        );
        assert_eq!(
            rfc3339(parse_since("30m", now).unwrap()),
            "2025-03-10T11:30:00.000Z"
        );
        assert_eq!(
            rfc3339(parse_since("2025-03-01", now).unwrap()),
            "2025-03-01T00:00:00.000Z"
        );
        assert_eq!(
            rfc3339(parse_since("2025-03-01T10:00:00+01:00", now).unwrap()),
            "2025-03-01T09:00:00.000Z"
        );
        for bad in ["", "h", "10y", "yesterday", "-5d"] {
            assert!(parse_since(bad, now).is_err(), "{bad}");
        }
    }
}
