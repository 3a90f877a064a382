//! `scim-sync plan --out FILE`: a dry run whose plan, inputs and people are saved.

use tokio_util::sync::CancellationToken;

use super::people;
use super::{ComputedFrom, FORMAT, SavedAttention, SavedOperation, SavedPlan, Target, VERSION};
use crate::config::Config;
use crate::progress::Progress;
use crate::store::{Store, Trigger};
use crate::sync::{self, CycleOptions, CycleReport, PlanInputs, SyncError};

/// Computes the plan (a dry run, recorded in the history as one) and the saved form.
pub async fn compute(
    cfg: &Config,
    store: &Store,
    full: bool,
    trigger: Trigger,
    progress: Option<Progress>,
    cancel: &CancellationToken,
) -> Result<(SavedPlan, CycleReport), SyncError> {
    let opts = CycleOptions {
        dry_run: true,
        trigger,
        progress,
        full,
        keep_inputs: true,
        ..CycleOptions::default()
    };
    let mut report = sync::run_cycle(cfg, store, &opts, cancel).await?;
    // Can't fail: keep_inputs is set above, and a cycle that returns Ok keeps them (a
    // dry run never takes the quiet path, the one Ok without inputs).
    let inputs = report
        .inputs
        .take()
        .expect("a dry run with keep_inputs keeps them");
    let saved = saved_plan(cfg, &report, &inputs);
    Ok((saved, report))
}

fn saved_plan(cfg: &Config, report: &CycleReport, inputs: &PlanInputs) -> SavedPlan {
    let plan = &report.plan;
    SavedPlan {
        format: FORMAT.to_string(),
        version: VERSION,
        created_at: crate::view::clock::format_time(chrono::Utc::now()),
        scim_sync_version: crate::build_info::VERSION.to_string(),
        target: Target::of(cfg),
        computed_from: ComputedFrom {
            cycle_kind: inputs.kind.as_str().to_string(),
            run_id: report.run_id,
            okta_log_next: inputs.cursor.okta_log_next.clone(),
            okta_log_since: inputs.cursor.okta_log_since.clone(),
            kafkaman_clock: inputs.cursor.team_modified.clone(),
            snapshot_digest: snapshot_digest(inputs),
            assigned: inputs.okta.assigned.len(),
            members: inputs.team.members.len(),
        },
        operations: plan.operations.iter().map(SavedOperation::of).collect(),
        held: plan.held.iter().map(SavedOperation::of).collect(),
        attention: plan.attention.iter().map(SavedAttention::of).collect(),
        people: people::as_planned(plan.operations.iter().chain(&plan.held), inputs),
        digest: String::new(),
    }
    .seal()
}

/// A digest of the rows the plan was made from: Okta's assignments, the members, the
/// invites and the links, each in a stable order.
fn snapshot_digest(inputs: &PlanInputs) -> String {
    let mut assigned: Vec<_> = inputs.okta.assigned.iter().collect();
    assigned.sort_by(|a, b| a.okta_id.cmp(&b.okta_id));
    let mut members: Vec<_> = inputs.team.members.iter().collect();
    members.sort_by(|a, b| a.scim_id.cmp(&b.scim_id));
    let mut invites: Vec<_> = inputs.team.invites.iter().collect();
    invites.sort_by(|a, b| a.id.cmp(&b.id));
    let links: std::collections::BTreeMap<_, _> = inputs.team.links.iter().collect();
    let doc = serde_json::json!({
        "assigned": assigned,
        "members": members,
        "invites": invites,
        "links": links,
    });
    super::sha256(doc.to_string().as_bytes())
}
