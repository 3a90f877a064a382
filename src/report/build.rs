//! Building the report: the snapshot (or a live read), the planner's verdict on it, and
//! the journal's runs and failures, assembled into one [`Report`].

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::model::*;
use super::{ReportError, parse_time, rfc3339};
use crate::config::{Config, ExitTrigger};
use crate::exit::Exit;
use crate::store::{OpState, RunRecord, RunResult, RunSummary, Store, StoreError};
use crate::view::{self, Snapshot};
use scim_sync_plan::{
    self as plan, AttentionKind, InviteSource, Member, Membership, OktaView, OpKind, PendingInvite,
    Plan, TeamView, Unmanaged,
};

/// What [`build`] should do.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    pub since: DateTime<Utc>,
    pub refresh: bool,
}

/// Gathers the report. Without `refresh` it makes no API call; with it, only reads.
pub async fn build(
    cfg: &Config,
    store: &Store,
    opts: &ReportOptions,
    now: DateTime<Utc>,
) -> Result<Report, ReportError> {
    let (okta, team, source) = if opts.refresh {
        let refresh = |e| ReportError::Refresh(Box::new(e));
        let okta_client = view::okta_client(cfg).map_err(refresh)?;
        let kafkaman = view::kafkaman_client(cfg).map_err(refresh)?;
        let (links, ours) = (store.links()?, store.our_deactivations()?);
        let read = view::read_full(cfg, &okta_client, &kafkaman, links, ours, None)
            .await
            .map_err(refresh)?;
        let at = rfc3339(now);
        let source = Source {
            mode: SourceMode::Live,
            state_db: store.path().display().to_string(),
            okta_read_at: Some(at.clone()),
            team_read_at: Some(at),
            age_seconds: Some(0),
        };
        (read.okta, read.team, source)
    } else {
        let snapshot = Snapshot::load(store)?;
        let lookups = snapshot.stored_lookups(store)?;
        let okta_read_at = store.okta_read_time()?;
        let team_read_at = store.snapshot_time()?;
        if okta_read_at.is_none() || team_read_at.is_none() {
            // Nothing was read yet: an empty snapshot is no data, never "in sync".
            return Err(ReportError::NoSnapshot {
                path: store.path().display().to_string(),
            });
        }
        let oldest = [&okta_read_at, &team_read_at]
            .into_iter()
            .flatten()
            .filter_map(|t| parse_time(t))
            .min();
        let source = Source {
            mode: SourceMode::Snapshot,
            state_db: store.path().display().to_string(),
            okta_read_at,
            team_read_at,
            age_seconds: oldest.map(|t| (now - t).num_seconds().max(0)),
        };
        let (okta, team) = snapshot.into_views(lookups);
        (okta, team, source)
    };
    let policy = view::policy(cfg, Default::default(), store.held_scim_ids()?);
    let plan = plan::plan(&okta, &team, &policy);
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
            runs: runs.iter().map(run_row).collect(),
            failures,
            last_success: store.last_success()?,
            last_run: store.last_apply_run()?,
            now,
        },
    ))
}

fn failures(store: &Store, since: &str, runs: &[RunRecord]) -> Result<Vec<Failure>, StoreError> {
    let mut out: Vec<Failure> = store
        .operations_since(since)?
        .into_iter()
        .filter(|o| o.state == OpState::Failed)
        .map(|o| Failure {
            run_id: o.run_id,
            at: o.finished_at.unwrap_or(o.started_at),
            kind: o.kind.as_str().to_string(),
            user_name: Some(o.user_name),
            okta_id: o.okta_id,
            reason: Some(o.reason),
            error: o.error.unwrap_or_else(|| "unknown error".into()),
            http_status: o.http_status,
            request_id: o.request_id,
        })
        .collect();
    for r in runs {
        if let (Some(RunResult::Failed), Some(error)) = (r.result, &r.error) {
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
    runs: Vec<RunRow>,
    failures: Vec<Failure>,
    last_success: Option<RunRecord>,
    last_run: Option<RunRecord>,
    now: DateTime<Utc>,
}

fn assemble(cfg: &Config, a: Assembly<'_>) -> Report {
    let plan = a.plan;
    let item = |o: &plan::Operation| PersonItem {
        user_name: o.user_name().to_string(),
        okta_id: o.okta_id().map(str::to_string),
        scim_id: o.scim_id().map(str::to_string),
        action: Some(o.kind()),
        reason: o.reason().to_string(),
    };
    let mut drift = Drift::default();
    for o in &plan.operations {
        match o.kind() {
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
            reason: at.reason(),
        };
        if matches!(at.kind, AttentionKind::EmailChanged { .. }) {
            drift.renames.push(p);
        } else {
            attention.push(p);
        }
    }
    let held = Held {
        cap: plan.deactivation_cap,
        items: plan.held.iter().map(item).collect(),
        release: (!plan.held.is_empty()).then(|| {
            "read them (`scim-sync --dry-run`); if they are right, apply them with \
             `scim-sync release-held` (all) or `scim-sync release-held EMAIL…` (some). A \
             hold stays until it is released: raising safety.max_deactivations does not \
             release it"
                .to_string()
        }),
    };

    // Invites: which block a planned create, which wait for a SCIM member, which are old.
    let creating: HashSet<String> = plan
        .operations
        .iter()
        .filter(|o| o.kind() == OpKind::Create)
        .map(|o| plan::email_key(o.user_name()))
        .chain(
            plan.attention
                .iter()
                .filter(|at| matches!(at.kind, AttentionKind::InviteBlocksCreate { .. }))
                .map(|at| plan::email_key(&at.user_name)),
        )
        .collect();
    let clearing: HashSet<&str> = plan
        .operations
        .iter()
        .filter_map(|o| o.invite_id())
        .collect();
    let stale_days = cfg.report.stale_invite_days;
    let mut invites: Vec<InviteItem> = a
        .team
        .invites
        .iter()
        .map(|i| invite_item(i, &creating, &clearing, stale_days, a.now))
        .collect();
    invites.sort_by(|x, y| {
        (plan::email_key(&x.email), &x.id).cmp(&(plan::email_key(&y.email), &y.id))
    });

    let unmanaged: Vec<UnmanagedItem> = plan.unmanaged.iter().map(unmanaged_item).collect();
    let people = people(a.okta, a.team, plan, &invites);

    let count = |state: Membership| {
        a.team
            .members
            .iter()
            .filter(|m| m.membership == state)
            .count()
    };
    let summary = Summary {
        assigned_in_okta: a.okta.assigned.len(),
        members_active: count(Membership::Active),
        members_invited: count(Membership::Invited),
        members_deactivated: count(Membership::Deactivated),
        in_sync: plan.in_sync,
        drift: drift.count(),
        held: held.items.len(),
        attention: attention.len(),
        unmanaged: unmanaged.len(),
        shared_emails: plan.shared_emails.len(),
        pending_invites: invites.len(),
        failures: a.failures.len(),
        runs: a.runs.len(),
        last_success: a.last_success.map(run_ref),
        last_run: a.last_run.map(run_ref),
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
        Exit::Attention
    } else {
        Exit::Ok
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
        shared_emails: plan.shared_emails.clone(),
        held,
        failures: a.failures,
        runs: a.runs,
        people,
        status: Status {
            needs_attention: fired.iter().map(|t| t.as_str().to_string()).collect(),
            exit_1_on: cfg
                .report
                .exit_1_on
                .iter()
                .map(|t| t.as_str().to_string())
                .collect(),
            exit_status: exit_status.code(),
        },
    }
}

fn run_ref(r: RunRecord) -> RunRef {
    RunRef {
        result: r.result,
        id: r.id,
        started_at: r.started_at,
        ended_at: r.ended_at,
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
        conflicting: i.source != InviteSource::Scim
            && (clearing.contains(i.id.as_str()) || creating.contains(&plan::email_key(&i.email))),
        awaiting_acceptance: i.source == InviteSource::Scim,
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

/// A run for people: its figures from the stored summary (None where the run stored
/// none: it is still running, or failed before counting).
pub fn run_row(r: &RunRecord) -> RunRow {
    let summary = r.summary.as_ref();
    let count = |f: fn(&RunSummary) -> usize| summary.map(|s| f(s) as u64);
    let duration_ms = summary.map(|s| s.duration_ms).or_else(|| {
        let start = parse_time(&r.started_at)?;
        let end = parse_time(r.ended_at.as_deref()?)?;
        u64::try_from((end - start).num_milliseconds()).ok()
    });
    RunRow {
        id: r.id,
        started_at: r.started_at.clone(),
        ended_at: r.ended_at.clone(),
        duration_ms,
        trigger: r.trigger,
        mode: r.mode,
        result: r.result,
        assigned: count(|s| s.assigned),
        members: count(|s| s.members),
        in_sync: count(|s| s.in_sync),
        planned: count(RunSummary::planned_total).unwrap_or(0),
        applied: count(RunSummary::applied_total).unwrap_or(0),
        failed: count(|s| s.failed).unwrap_or(0),
        held: count(|s| s.held).unwrap_or(0),
        error: r.error.clone(),
        kind: r.kind,
        missed_drift: summary.and_then(|s| s.missed_drift).map(|d| d as u64),
    }
}

/// What the plan says about someone.
struct Verdict<'a> {
    okta_id: Option<&'a str>,
    scim_id: Option<&'a str>,
    status: PersonStatus,
    action: Option<OpKind>,
    reason: String,
}

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
    let mut invite_of: BTreeMap<String, InviteSource> = BTreeMap::new();
    for i in invites {
        invite_of
            .entry(plan::email_key(&i.email))
            .or_insert_with(|| i.source.clone());
    }
    // What the plan says, by Okta id and by SCIM id; the first entry wins, in the order
    // of the statuses' severity.
    let mut verdicts: Vec<Verdict<'_>> = Vec::new();
    for o in &plan.operations {
        let status = match o.kind() {
            OpKind::Create | OpKind::Reactivate => PersonStatus::MissingInTeam,
            OpKind::Deactivate => PersonStatus::NotEntitled,
            OpKind::UpdateName => PersonStatus::NameMismatch,
            OpKind::ClearInvite => continue,
        };
        verdicts.push(Verdict {
            okta_id: o.okta_id(),
            scim_id: o.scim_id(),
            status,
            action: Some(o.kind()),
            reason: o.reason().to_string(),
        });
    }
    for o in &plan.held {
        verdicts.push(Verdict {
            okta_id: o.okta_id(),
            scim_id: o.scim_id(),
            status: PersonStatus::Held,
            action: Some(o.kind()),
            reason: o.reason().to_string(),
        });
    }
    for at in &plan.attention {
        let status = if matches!(at.kind, AttentionKind::EmailChanged { .. }) {
            PersonStatus::Rename
        } else {
            PersonStatus::Attention
        };
        verdicts.push(Verdict {
            okta_id: at.okta_id.as_deref(),
            scim_id: at.scim_id.as_deref(),
            status,
            action: None,
            reason: at.reason(),
        });
    }
    let verdict = |okta_id: Option<&str>, scim_id: Option<&str>| {
        verdicts.iter().find(|v| {
            (okta_id.is_some() && v.okta_id == okta_id)
                || (scim_id.is_some() && v.scim_id == scim_id)
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
            pending_invite: invite_of.get(&plan::email_key(&email)).cloned(),
            email,
            okta_id: Some(u.okta_id.clone()),
            okta_status: Some(u.okta_status.clone()),
            app_status: Some(u.app_status.clone()),
            assignment: Some(u.scope.clone()),
            scim_id: member.map(|m| m.scim_id.clone()),
            membership: member.map(|m| m.membership.clone()),
            role: member.and_then(|m| m.role.clone()),
            status: v.map_or(PersonStatus::InSync, |v| v.status),
            action: v.and_then(|v| v.action),
            reason: v.map(|v| v.reason.clone()),
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
                PersonStatus::Unmanaged,
                Some("not managed by scim-sync: never touched".to_string()),
            )
        } else {
            (
                v.map_or(PersonStatus::InSync, |v| v.status),
                v.map(|v| v.reason.clone())
                    .or_else(|| (!m.active).then(|| "deactivated, not assigned".to_string())),
            )
        };
        rows.push(PersonRow {
            pending_invite: invite_of.get(&plan::email_key(&m.user_name)).cloned(),
            email: m.user_name.clone(),
            okta_id: okta_id.map(str::to_string),
            okta_status: None,
            app_status: None,
            assignment: None,
            scim_id: Some(m.scim_id.clone()),
            membership: Some(m.membership.clone()),
            role: m.role.clone(),
            status,
            action: v.and_then(|v| v.action),
            reason,
        });
    }
    rows.sort_by(|a, b| {
        (plan::email_key(&a.email), &a.okta_id).cmp(&(plan::email_key(&b.email), &b.okta_id))
    });
    rows
}
