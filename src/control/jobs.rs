//! The one implementation of every control request, run by the daemon for a caller of
//! its socket and by the command itself when no daemon runs. It renders the answer as
//! the command prints it.

use std::collections::HashSet;

use tokio_util::sync::CancellationToken;

use super::{OutputStyle, Request, Response};
use crate::config::Config;
use crate::escape::text;
use crate::exit::Exit;
use crate::progress::Progress;
use crate::render;
use crate::saved_plan::execute::ApplyPlanError;
use crate::saved_plan::{self, SavedPlan};
use crate::store::{HeldDeactivation, RunRecord, RunResult, Store, Trigger};
use crate::sync::{self, CycleOptions, CycleReport, Release, SyncError};
use crate::view::ViewError;

/// Runs a request that needs a cycle or the store (`Status` is the caller's: the
/// daemon knows more than the store).
pub async fn run(
    cfg: &Config,
    store: &Store,
    request: &Request,
    style: OutputStyle,
    trigger: Trigger,
    progress: Option<Progress>,
    cancel: &CancellationToken,
) -> Response {
    match request {
        Request::Status => status_from_store(cfg, store, style),
        Request::SyncNow { full } => {
            let opts = CycleOptions {
                trigger,
                full: *full,
                progress,
                ..CycleOptions::default()
            };
            cycle(cfg, store, &opts, style, cancel).await
        }
        Request::ReleaseHeld { users } => {
            release_held(cfg, store, users, style, trigger, progress, cancel).await
        }
        Request::Plan { full } => plan(cfg, store, *full, style, trigger, progress, cancel).await,
        Request::ApplyPlan { plan } => apply_plan(cfg, store, plan, style, progress, cancel).await,
    }
}

/// A cycle, answered with its result as `scim-sync sync` prints it.
async fn cycle(
    cfg: &Config,
    store: &Store,
    opts: &CycleOptions,
    style: OutputStyle,
    cancel: &CancellationToken,
) -> Response {
    match sync::run_cycle(cfg, store, opts, cancel).await {
        Ok(report) => {
            let exit = Exit::for_run(report.result);
            Response::new(exit).with_stdout(cycle_output(&report, style))
        }
        Err(e) => sync_error(&e),
    }
}

/// A cycle's error as the command says it, with its exit.
pub fn sync_error(e: &SyncError) -> Response {
    match e {
        SyncError::Read(ViewError::Secret(msg)) => Response::error(Exit::Config, msg),
        SyncError::Interrupted => Response::error(
            Exit::Interrupted,
            "interrupted while reading; nothing was changed",
        ),
        // May quote an error body of Okta or kafkaman: never shown raw.
        e => Response::error(Exit::Failed, text(&e.to_string())),
    }
}

/// A real cycle's result for a person or a machine (the plan first when it has work).
pub fn cycle_output(report: &CycleReport, style: OutputStyle) -> String {
    if style.json {
        return format!("{}\n", render::cycle_json(report));
    }
    let nothing_changed = report.result == RunResult::Success && report.applied.outcomes.is_empty();
    if nothing_changed && style.quiet {
        return String::new();
    }
    if nothing_changed && !render::plan_needs_reading(&report.plan) {
        return render::in_sync_text(report);
    }
    let mut out = String::new();
    if render::plan_needs_reading(&report.plan) && !style.quiet {
        out.push_str(&render::plan_text(&report.plan, style.plain));
    }
    out.push_str(&render::cycle_text(report));
    if style.quiet {
        out.push_str(&render::held_hint(report));
    }
    out
}

/// `release-held [USER…]`: a cycle that applies the held deactivations named (all
/// those held now when none is).
async fn release_held(
    cfg: &Config,
    store: &Store,
    users: &[String],
    style: OutputStyle,
    trigger: Trigger,
    progress: Option<Progress>,
    cancel: &CancellationToken,
) -> Response {
    let held = match store.held_deactivations() {
        Ok(held) => held,
        Err(e) => return Response::error(Exit::Failed, e),
    };
    if held.is_empty() {
        return Response::new(Exit::Ok)
            .with_stdout("Nothing is held: no deactivation waits for a person.\n");
    }
    let mut released = HashSet::new();
    let mut unknown = Vec::new();
    for name in users {
        let key = scim_sync_plan::email_key(name);
        let found: Vec<_> = held
            .iter()
            .filter(|h| {
                h.scim_id == *name
                    || h.okta_id.as_deref() == Some(name.as_str())
                    || scim_sync_plan::email_key(&h.user_name) == key
            })
            .collect();
        if found.is_empty() {
            unknown.push(text(name).into_owned());
        }
        released.extend(found.into_iter().map(|h| h.scim_id.clone()));
    }
    if !unknown.is_empty() {
        let now: Vec<String> = held
            .iter()
            .map(|h| text(&h.user_name).into_owned())
            .collect();
        return Response::error(
            Exit::Usage,
            format!(
                "not held: {}; held now: {} (give an email, Okta id or SCIM id of these, or \
                 no name to release them all)",
                unknown.join(", "),
                now.join(", ")
            ),
        );
    }
    if users.is_empty() {
        released = held.iter().map(|h| h.scim_id.clone()).collect();
    }
    let opts = CycleOptions {
        trigger,
        release: Release::Only(released),
        progress,
        ..CycleOptions::default()
    };
    cycle(cfg, store, &opts, style, cancel).await
}

/// `plan --out FILE`: a dry run answered as a saved plan document (the caller writes
/// it) and the plan as text.
async fn plan(
    cfg: &Config,
    store: &Store,
    full: bool,
    style: OutputStyle,
    trigger: Trigger,
    progress: Option<Progress>,
    cancel: &CancellationToken,
) -> Response {
    match saved_plan::make::compute(cfg, store, full, trigger, progress, cancel).await {
        Ok((saved, report)) => {
            let stdout = if style.json || style.quiet {
                String::new()
            } else {
                render::plan_text(&report.plan, style.plain)
            };
            match serde_json::to_value(&saved) {
                Ok(doc) => {
                    let mut r = Response::new(Exit::Ok).with_stdout(stdout);
                    r.plan = Some(doc);
                    r
                }
                Err(e) => Response::error(Exit::Failed, format!("cannot encode the plan: {e}")),
            }
        }
        Err(e) => sync_error(&e),
    }
}

/// `apply PLAN`: the saved plan's operations, refused when someone in it changed.
async fn apply_plan(
    cfg: &Config,
    store: &Store,
    doc: &serde_json::Value,
    style: OutputStyle,
    progress: Option<Progress>,
    cancel: &CancellationToken,
) -> Response {
    let saved = match SavedPlan::parse(doc.to_string().as_bytes(), "the plan", cfg) {
        Ok(saved) => saved,
        Err(e) => return Response::error(e.exit(), e),
    };
    match saved_plan::execute::apply(cfg, store, &saved, progress, cancel).await {
        Ok(report) => Response::new(Exit::for_run(report.result)).with_stdout(cycle_output(
            &report,
            OutputStyle {
                quiet: false,
                ..style
            },
        )),
        Err(ApplyPlanError::Drifted(drifted)) => {
            let mut r =
                Response::error(Exit::PlanDrifted, ApplyPlanError::Drifted(drifted.clone()));
            if style.json {
                r.stdout = format!("{}\n", serde_json::json!({ "drifted": drifted }));
            } else {
                for d in &drifted {
                    r.stderr
                        .push_str(&format!("  {}: {}\n", d.who, d.changes.join("; ")));
                }
            }
            r
        }
        Err(e @ ApplyPlanError::Refused(_)) => Response::error(Exit::PlanDrifted, e),
        Err(ApplyPlanError::Sync(e)) => sync_error(&e),
    }
}

/// `status` when no daemon runs: what the store knows.
pub fn status_from_store(cfg: &Config, store: &Store, style: OutputStyle) -> Response {
    let gather = || -> Result<_, crate::store::StoreError> {
        let last: Option<RunRecord> = store.runs(1)?.into_iter().next();
        Ok((last, store.last_success()?, store.held_deactivations()?))
    };
    let (last, success, held) = match gather() {
        Ok(v) => v,
        Err(e) => return Response::error(Exit::Unavailable, e),
    };
    let socket = cfg.daemon.control_socket.display().to_string();
    if style.json {
        let doc = serde_json::json!({
            "daemon": "not running",
            "control_socket": socket,
            "last_run": last.as_ref().map(run_json),
            "last_success": success.as_ref().map(run_json),
            "held": held.len(),
            "held_since": held.iter().map(|h| h.held_since.clone()).min(),
        });
        return Response::new(Exit::Ok).with_stdout(format!("{doc}\n"));
    }
    let mut out = format!("Daemon: not running (no daemon answers at {socket})\n");
    out.push_str(&run_line("Last run", last.as_ref()));
    out.push_str(&run_line("Last success", success.as_ref()));
    out.push_str(&held_line(&held));
    Response::new(Exit::Ok).with_stdout(out)
}

fn run_json(r: &RunRecord) -> serde_json::Value {
    serde_json::json!({
        "id": r.id,
        "trigger": r.trigger.as_str(),
        "result": r.result.map(|x| x.as_str()),
        "started_at": r.started_at,
        "ended_at": r.ended_at,
    })
}

fn run_line(label: &str, r: Option<&RunRecord>) -> String {
    match r {
        Some(r) => format!(
            "{label}: #{} {} ({}), {}\n",
            r.id,
            r.result.map(|x| x.as_str()).unwrap_or("running"),
            r.trigger.as_str(),
            r.ended_at.as_deref().unwrap_or(&r.started_at)
        ),
        None => format!("{label}: none yet\n"),
    }
}

/// The held deactivations and the command that releases them.
pub fn held_line(held: &[HeldDeactivation]) -> String {
    if held.is_empty() {
        return "Held: nothing\n".to_string();
    }
    let since = held
        .iter()
        .map(|h| h.held_since.as_str())
        .min()
        .unwrap_or("");
    let mut out = format!(
        "Held: {} deactivation(s) since {since}, waiting for a person: review them \
         (`scim-sync report`) and run `scim-sync release-held` (or name who)\n",
        held.len()
    );
    for h in held {
        out.push_str(&format!("  {} — {}\n", text(&h.user_name), text(&h.reason)));
    }
    out
}
