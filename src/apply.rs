//! Executes a plan against kafkaman and records every outcome.
//!
//! Each operation is written to the store as an intent before its call and updated with
//! its outcome after it, so a crash can neither lose nor double one. Phases run in the
//! plan's order (deactivations free seats before creates need them); within a phase a
//! bounded number of operations run at once. A per-user failure is recorded with its
//! reason and request id and the run goes on.

use std::collections::BTreeMap;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::kafkaman::{InviteDeletion, KafkamanClient, KafkamanError, NewUser, ScimUser};
use crate::progress::{Phase, Progress};
use crate::store::{OpState, OutcomeKey, Store, StoreError};
use crate::view::convert;
use scim_sync_plan::{OpKind, Operation, Plan, same_email};

/// One operation's outcome, as reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpOutcome {
    pub kind: OpKind,
    pub user_name: String,
    pub okta_id: Option<String>,
    pub state: OpState,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    pub request_id: Option<String>,
}

/// What applying a plan did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApplyReport {
    pub outcomes: Vec<OpOutcome>,
    /// True when a shutdown stopped the run before every operation started.
    pub interrupted: bool,
}

impl ApplyReport {
    pub fn count(&self, kind: OpKind, state: OpState) -> usize {
        self.outcomes
            .iter()
            .filter(|o| o.kind == kind && o.state == state)
            .count()
    }

    pub fn failures(&self) -> impl Iterator<Item = &OpOutcome> {
        self.outcomes.iter().filter(|o| o.state == OpState::Failed)
    }

    /// Counts per `kind.state`, for run summaries.
    pub fn counts(&self) -> BTreeMap<OutcomeKey, usize> {
        let mut out = BTreeMap::new();
        for o in &self.outcomes {
            let key = OutcomeKey {
                kind: o.kind,
                state: o.state,
            };
            *out.entry(key).or_insert(0) += 1;
        }
        out
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The store could not record an intent: nothing more is attempted, since an
    /// unrecorded write could be doubled after a crash.
    #[error("recording an operation failed, stopping the run: {0}")]
    Store(#[from] StoreError),
}

/// A unit of work: operations that must run one after the other (the invite clearings
/// of one user, then that user's create).
type Unit = Vec<Operation>;

/// What the caller of [`apply`] wants besides the writes.
#[derive(Clone, Copy, Default)]
pub struct ApplyHooks<'a> {
    /// Told the operations done so far, of the plan's total.
    pub progress: Option<&'a Progress>,
    /// Log each failed operation at WARN (the daemon). A one-shot command lists the
    /// failures in its result itself, so there they are INFO: said once, not twice.
    pub failures_at_warn: bool,
}

/// Applies the plan's operations. Stops starting new units once `cancel` fires; units in
/// flight finish and are recorded.
pub async fn apply(
    plan: &Plan,
    client: &KafkamanClient,
    store: &Store,
    run_id: i64,
    concurrency: usize,
    cancel: &CancellationToken,
    hooks: &ApplyHooks<'_>,
) -> Result<ApplyReport, ApplyError> {
    let progress = hooks.progress;
    let failures_at_warn = hooks.failures_at_warn;
    let mut report = ApplyReport::default();
    let total = plan.operations.len();
    let mut done = 0;
    if let Some(p) = progress.filter(|_| total > 0) {
        p(Phase::Apply, done, Some(total));
    }
    let phases = phases(&plan.operations);
    let phase_count = phases.len();
    for (index, phase) in phases.into_iter().enumerate() {
        let mut results = futures_util::stream::iter(phase.into_iter().map(|unit| async move {
            if cancel.is_cancelled() {
                return Ok((Vec::new(), true));
            }
            run_unit(unit, client, store, run_id, failures_at_warn)
                .await
                .map(|outcomes| (outcomes, false))
        }))
        .buffer_unordered(concurrency.max(1));
        while let Some(result) = results.next().await {
            let (outcomes, skipped) = result?;
            report.interrupted |= skipped;
            done += outcomes.len();
            report.outcomes.extend(outcomes);
            if let Some(p) = progress {
                p(Phase::Apply, done, Some(total));
            }
        }
        if cancel.is_cancelled() {
            // Only a phase that never started makes the run interrupted.
            report.interrupted |= index + 1 < phase_count;
            break;
        }
    }
    Ok(report)
}

/// Splits operations into phases by kind (plan order), grouping each user's invite
/// clearings with their create.
fn phases(ops: &[Operation]) -> Vec<Vec<Unit>> {
    let mut phases: Vec<Vec<Unit>> = Vec::new();
    let mut current_kind: Option<OpKind> = None;
    let mut pending_clears: Vec<Operation> = Vec::new();
    for op in ops {
        let phase_kind = if op.kind() == OpKind::ClearInvite {
            OpKind::Create
        } else {
            op.kind()
        };
        if current_kind != Some(phase_kind) {
            phases.push(Vec::new());
            current_kind = Some(phase_kind);
        }
        let Some(phase) = phases.last_mut() else {
            continue;
        };
        match op.kind() {
            OpKind::ClearInvite => pending_clears.push(op.clone()),
            OpKind::Create => {
                let mut unit = std::mem::take(&mut pending_clears);
                unit.push(op.clone());
                phase.push(unit);
            }
            _ => phase.push(vec![op.clone()]),
        }
    }
    if !pending_clears.is_empty() {
        phases.push(pending_clears.into_iter().map(|o| vec![o]).collect());
    }
    phases
}

async fn run_unit(
    unit: Unit,
    client: &KafkamanClient,
    store: &Store,
    run_id: i64,
    failures_at_warn: bool,
) -> Result<Vec<OpOutcome>, ApplyError> {
    let mut outcomes = Vec::new();
    let mut blocked: Option<String> = None;
    for op in unit {
        let op_id = store.record_intent(run_id, &op)?;
        let outcome = if let Some(why) = &blocked {
            Outcome::skipped(why.clone())
        } else {
            execute(&op, client, store).await?
        };
        if op.kind() == OpKind::ClearInvite && outcome.state == OpState::Failed {
            blocked = Some(format!(
                "not attempted: the conflicting invite could not be removed ({})",
                outcome.error.as_deref().unwrap_or("unknown error")
            ));
        }
        store.record_outcome(
            op_id,
            outcome.state,
            outcome.scim_id.as_deref(),
            outcome.http_status,
            outcome.error.as_deref(),
            outcome.request_id.as_deref(),
        )?;
        log_outcome(&op, &outcome, failures_at_warn);
        outcomes.push(OpOutcome {
            kind: op.kind(),
            user_name: op.user_name().to_string(),
            okta_id: op.okta_id().map(str::to_string),
            state: outcome.state,
            http_status: outcome.http_status,
            error: outcome.error,
            request_id: outcome.request_id,
        });
    }
    Ok(outcomes)
}

fn log_outcome(op: &Operation, o: &Outcome, failures_at_warn: bool) {
    match o.state {
        OpState::Failed if failures_at_warn => tracing::warn!(
            kind = op.kind().as_str(),
            user = %op.user_name(),
            okta_id = op.okta_id().unwrap_or(""),
            status = o.http_status.unwrap_or(0),
            request_id = o.request_id.as_deref().unwrap_or(""),
            error = o.error.as_deref().unwrap_or(""),
            "operation failed"
        ),
        OpState::Failed => tracing::info!(
            kind = op.kind().as_str(),
            user = %op.user_name(),
            okta_id = op.okta_id().unwrap_or(""),
            status = o.http_status.unwrap_or(0),
            request_id = o.request_id.as_deref().unwrap_or(""),
            error = o.error.as_deref().unwrap_or(""),
            "operation failed"
        ),
        _ => tracing::info!(
            kind = op.kind().as_str(),
            user = %op.user_name(),
            state = o.state.as_str(),
            "operation applied"
        ),
    }
}

/// The result of one call, before it is recorded.
struct Outcome {
    state: OpState,
    scim_id: Option<String>,
    http_status: Option<u16>,
    error: Option<String>,
    request_id: Option<String>,
}

impl Outcome {
    fn done(scim_id: Option<String>, http_status: u16) -> Outcome {
        Outcome {
            state: OpState::Done,
            scim_id,
            http_status: Some(http_status),
            error: None,
            request_id: None,
        }
    }

    fn failed(e: &KafkamanError) -> Outcome {
        Outcome {
            state: OpState::Failed,
            scim_id: None,
            http_status: e.status(),
            error: Some(e.to_string()),
            request_id: e.request_id().map(str::to_string),
        }
    }

    fn skipped(why: String) -> Outcome {
        Outcome {
            state: OpState::Skipped,
            scim_id: None,
            http_status: None,
            error: Some(why),
            request_id: None,
        }
    }
}

/// Keeps the snapshot in step with a successful write; a deactivation is recorded as
/// scim-sync's (only those come back as rehires), a reactivation forgets it (the member
/// is active again).
fn remember(store: &Store, op: &Operation, user: &ScimUser) -> Result<(), StoreError> {
    store.upsert_member(&convert::member(user))?;
    if let Some(okta_id) = op.okta_id() {
        store.link(okta_id, &user.id)?;
    }
    if op.kind() == OpKind::Deactivate {
        store.record_our_deactivation(&user.id, op.okta_id())?;
    }
    Ok(())
}

async fn execute(
    op: &Operation,
    client: &KafkamanClient,
    store: &Store,
) -> Result<Outcome, StoreError> {
    let written = match op {
        Operation::ClearInvite { invite_id, .. } => {
            return Ok(match client.delete_invite(invite_id).await {
                Ok(InviteDeletion::Deleted) | Ok(InviteDeletion::AlreadyGone) => {
                    store.remove_invite(invite_id)?;
                    Outcome::done(None, 204)
                }
                Err(e) => Outcome::failed(&e),
            });
        }
        Operation::Create {
            okta_id,
            user_name,
            given_name,
            family_name,
            ..
        } => {
            let new_user = NewUser {
                user_name: user_name.clone(),
                given_name: given_name.clone().unwrap_or_default(),
                family_name: family_name.clone().unwrap_or_default(),
                // scim-sync sends the Okta user id: later cycles match the member by it.
                external_id: okta_id.clone(),
                display_name: display_name(op),
            };
            return create(op, &new_user, client, store).await;
        }
        Operation::Deactivate { scim_id, .. } => {
            idempotent(|| client.set_active(scim_id, false)).await
        }
        Operation::Reactivate { scim_id, .. } => {
            idempotent(|| client.set_active(scim_id, true)).await
        }
        Operation::UpdateName {
            scim_id,
            given_name,
            family_name,
            ..
        } => {
            let given = given_name.as_deref().unwrap_or("");
            let family = family_name.as_deref().unwrap_or("");
            idempotent(|| client.set_name(scim_id, given, family)).await
        }
    };
    Ok(match written {
        Ok(user) => {
            remember(store, op, &user)?;
            Outcome::done(Some(user.id), 200)
        }
        Err(e) => Outcome::failed(&e),
    })
}

/// Attempts of a PATCH whose outcome is unknown (timeout, 5xx, dropped connection).
const IDEMPOTENT_ATTEMPTS: u32 = 3;

/// Runs an idempotent write (PATCH `active`, PATCH `name`: the contract says repeating
/// them is safe) again when its outcome is unknown, with a short backoff. A definite
/// answer (4xx, including no seat) is final.
async fn idempotent<F, Fut>(mut call: F) -> Result<ScimUser, KafkamanError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<ScimUser, KafkamanError>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Err(e) if e.write_may_have_happened() && attempt < IDEMPOTENT_ATTEMPTS => {
                tracing::warn!(
                    attempt,
                    request_id = e.request_id().unwrap_or(""),
                    error = %e,
                    "idempotent write's outcome unknown; repeating it"
                );
                tokio::time::sleep(std::time::Duration::from_millis(200 * u64::from(attempt)))
                    .await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// A create, checked with a userName lookup when its outcome is unknown. A lookup that
/// finds nothing doesn't prove the create won't still land (kafkaman may be processing
/// it), so it is not repeated in this cycle: the next cycle's complete refresh settles it
/// (the member appears with our externalId, or the create is planned again).
async fn create(
    op: &Operation,
    new_user: &NewUser,
    client: &KafkamanClient,
    store: &Store,
) -> Result<Outcome, StoreError> {
    let user_name = &new_user.user_name;
    match client.create_user(new_user).await {
        Ok(user) => {
            remember(store, op, &user)?;
            Ok(Outcome::done(Some(user.id), 201))
        }
        Err(e) if e.write_may_have_happened() => {
            tracing::warn!(
                user = %user_name,
                request_id = e.request_id().unwrap_or(""),
                error = %e,
                "create outcome unknown; checking with a userName lookup"
            );
            let mut o = Outcome::failed(&e);
            match member_named(client, user_name).await {
                Ok(Some(user)) => {
                    remember(store, op, &user)?;
                    o.state = OpState::Recovered;
                    o.scim_id = Some(user.id);
                    o.error = Some(format!(
                        "the create's answer was lost ({e}); the lookup found the member"
                    ));
                }
                Ok(None) => {
                    o.error = Some(format!(
                        "{e}; outcome unknown and the member isn't there yet: not repeated \
                         now, the next cycle settles it"
                    ));
                }
                Err(lookup) => {
                    o.error = Some(format!(
                        "{e}; outcome unknown and the userName lookup failed ({lookup}): \
                         the next cycle settles it"
                    ));
                }
            }
            Ok(o)
        }
        Err(e) => Ok(Outcome::failed(&e)),
    }
}

/// The member whose userName is this email (by `plan::same_email`), if any.
async fn member_named(
    client: &KafkamanClient,
    user_name: &str,
) -> Result<Option<ScimUser>, KafkamanError> {
    Ok(client
        .users_named(user_name)
        .await?
        .into_iter()
        .find(|u| same_email(&u.user_name, user_name)))
}

fn display_name(op: &Operation) -> Option<String> {
    let (given, family) = op.name();
    let parts: Vec<&str> = [given, family]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// Settles operations a crash left without an outcome, before a new cycle plans. A
/// create is looked up by userName: found means it happened (the member is linked);
/// not found means it didn't, and the new plan creates it. Other kinds are idempotent
/// and simply re-planned from the refreshed snapshot.
pub async fn recover_unfinished(
    client: &KafkamanClient,
    store: &Store,
) -> Result<usize, StoreError> {
    let unfinished = store.unfinished_operations()?;
    for op in &unfinished {
        let (state, scim_id, note) = if op.kind == OpKind::Create {
            match member_named(client, &op.user_name).await {
                Ok(Some(user)) => {
                    if let Some(okta_id) = &op.okta_id {
                        store.link(okta_id, &user.id)?;
                    }
                    (
                        OpState::Recovered,
                        Some(user.id),
                        "interrupted; the member exists, so the create happened".to_string(),
                    )
                }
                Ok(None) => (
                    OpState::Recovered,
                    None,
                    "interrupted before kafkaman created the member; re-planned".to_string(),
                ),
                Err(e) => {
                    tracing::warn!(error = %e, user = %op.user_name, "could not settle an interrupted create yet");
                    continue;
                }
            }
        } else {
            // An interrupted deactivation may have landed: when kafkaman says the member
            // is deactivated now, it counts as scim-sync's (a rehire may reactivate it).
            // Unknown (a failed read) counts as someone else's: the safe side.
            if op.kind == OpKind::Deactivate
                && let Some(scim_id) = &op.scim_id
                && let Ok(Some(user)) = client.get_user(scim_id).await
                && !user.active
            {
                store.upsert_member(&convert::member(&user))?;
                store.record_our_deactivation(scim_id, op.okta_id.as_deref())?;
            }
            (
                OpState::Recovered,
                None,
                "interrupted; re-planned from the refreshed snapshot".to_string(),
            )
        };
        tracing::info!(op_id = op.id, kind = %op.kind, user = %op.user_name, %note, "settled interrupted operation");
        store.record_outcome(op.id, state, scim_id.as_deref(), None, Some(&note), None)?;
    }
    Ok(unfinished.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(kind: OpKind, user: &str) -> Operation {
        let (id, user_name, reason) = (String::new(), user.to_string(), String::new());
        match kind {
            OpKind::Deactivate => Operation::Deactivate {
                scim_id: id,
                okta_id: None,
                user_name,
                reason,
            },
            OpKind::Reactivate => Operation::Reactivate {
                scim_id: id.clone(),
                okta_id: id,
                user_name,
                reason,
            },
            OpKind::ClearInvite => Operation::ClearInvite {
                invite_id: id.clone(),
                okta_id: id,
                user_name,
                reason,
            },
            OpKind::Create => Operation::Create {
                okta_id: id,
                user_name,
                given_name: None,
                family_name: None,
                reason,
            },
            OpKind::UpdateName => Operation::UpdateName {
                scim_id: id.clone(),
                okta_id: id,
                user_name,
                given_name: None,
                family_name: None,
                reason,
            },
        }
    }

    #[test]
    fn phases_keep_plan_order_and_group_clears_with_their_create() {
        let ops = vec![
            op(OpKind::Deactivate, "a"),
            op(OpKind::Deactivate, "b"),
            op(OpKind::Reactivate, "c"),
            op(OpKind::ClearInvite, "d"),
            op(OpKind::ClearInvite, "d"),
            op(OpKind::Create, "d"),
            op(OpKind::Create, "e"),
            op(OpKind::UpdateName, "f"),
        ];
        let p = phases(&ops);
        let shape: Vec<Vec<usize>> = p
            .iter()
            .map(|ph| ph.iter().map(Vec::len).collect())
            .collect();
        assert_eq!(shape, vec![vec![1, 1], vec![1], vec![3, 1], vec![1]]);
        assert_eq!(p[2][0][2].kind(), OpKind::Create);
    }
}
