//! The commands a person runs while scim-sync runs (`release-held`, `sync --now`,
//! `status`, `plan`, `apply`): through the daemon's control socket when a daemon
//! answers there, directly otherwise. Either way the same [`jobs`](super::jobs) do the
//! work, so the answer and the exit code are the same.

use std::io::Write;
use std::path::Path;

use tokio_util::sync::CancellationToken;

use super::client::{self, Reach};
use super::{Envelope, OutputStyle, Request, Response, jobs};
use crate::config::Config;
use crate::exit::Exit;
use crate::progress::Progress;
use crate::saved_plan::SavedPlan;
use crate::store::{StateLock, Store, StoreError, Trigger};

/// Runs `request`: the daemon's answer when one runs, the command's own otherwise.
/// `out` is where `plan` writes the saved plan.
pub async fn run(
    cfg: &Config,
    request: Request,
    style: OutputStyle,
    progress: Option<Progress>,
    out: Option<&Path>,
) -> Exit {
    let envelope = Envelope {
        request: request.clone(),
        style,
    };
    let response = match client::ask(&cfg.daemon.control_socket, &envelope).await {
        Ok(Reach::Daemon(response)) => response,
        Ok(Reach::NoDaemon) => directly(cfg, &request, style, progress).await,
        Err(e @ client::ControlError::Refused { .. }) => Response::error(Exit::NoPermission, e),
        Err(e) => Response::error(Exit::Failed, e),
    };
    finish(response, out)
}

/// Prints the answer (and writes a plan's file); the exit is the answer's.
fn finish(mut response: Response, out: Option<&Path>) -> Exit {
    if let (Some(doc), Some(path)) = (response.plan.take(), out) {
        match serde_json::from_value::<SavedPlan>(doc) {
            Ok(saved) => match saved.write(path) {
                Ok(()) => response.stdout.push_str(&format!(
                    "Saved plan: {} ({} operation(s), {} held released by applying it). \
                     Apply exactly it with `scim-sync apply {}`.\n",
                    path.display(),
                    saved.operations.len(),
                    saved.held.len(),
                    path.display()
                )),
                Err(e) => {
                    response.stderr.push_str(&format!("scim-sync: {e}\n"));
                    response.exit = Exit::Failed;
                }
            },
            Err(e) => {
                response.stderr.push_str(&format!(
                    "scim-sync: the plan could not be read back: {e}\n"
                ));
                response.exit = Exit::Failed;
            }
        }
    }
    // A closed stdout doesn't change what happened: the exit code says it.
    crate::out::write(response.stdout.as_bytes());
    let _ = std::io::stderr().write_all(response.stderr.as_bytes());
    response.exit
}

/// No daemon answers: the command does the work itself (with the lock a real run
/// takes, and the secrets the config names).
async fn directly(
    cfg: &Config,
    request: &Request,
    style: OutputStyle,
    progress: Option<Progress>,
) -> Response {
    let db = &cfg.sync.state_db;
    match request {
        Request::Status => match Store::open_existing(db) {
            Ok(Some(store)) => jobs::status_from_store(cfg, &store, style),
            Ok(None) => Response::error(
                Exit::Unavailable,
                format!(
                    "no data yet: no state database at {} (no cycle has run) and no daemon \
                     answers at {}",
                    db.display(),
                    cfg.daemon.control_socket.display()
                ),
            ),
            Err(e) => Response::error(Exit::Unavailable, e),
        },
        // A dry run: no lock, as `--dry-run`.
        Request::Plan { .. } => with_store(cfg, request, style, progress).await,
        _ => {
            let _lock = match StateLock::acquire(db) {
                Ok(lock) => lock,
                Err(e @ StoreError::Locked { .. }) => {
                    return Response::error(
                        Exit::Locked,
                        format!(
                            "{e}; no daemon answers at {} (a one-shot sync is running?)",
                            cfg.daemon.control_socket.display()
                        ),
                    );
                }
                Err(e) => return Response::error(Exit::Failed, e),
            };
            with_store(cfg, request, style, progress).await
        }
    }
}

/// The job on the state database, in this process.
async fn with_store(
    cfg: &Config,
    request: &Request,
    style: OutputStyle,
    progress: Option<Progress>,
) -> Response {
    match Store::open(&cfg.sync.state_db) {
        Ok(store) => {
            let cancel = cancel_on_signal();
            jobs::run(
                cfg,
                &store,
                request,
                style,
                Trigger::Manual,
                progress,
                &cancel,
            )
            .await
        }
        Err(e) => Response::error(Exit::Failed, e),
    }
}

/// A token cancelled by SIGINT or SIGTERM: the cycle finishes the operations in flight
/// and starts no new ones.
fn cancel_on_signal() -> CancellationToken {
    let cancel = CancellationToken::new();
    let token = cancel.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        token.cancel();
    });
    cancel
}

/// Resolves on SIGINT or SIGTERM (a one-shot run under a systemd timer gets SIGTERM).
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
