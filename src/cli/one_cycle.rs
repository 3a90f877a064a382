//! `scim-sync` / `scim-sync sync` without `--now`: one cycle in this process, with the
//! lock, the plan printed before the first write and the result after the last.

use std::io::IsTerminal;

use tokio_util::sync::CancellationToken;

use super::{OutputFormat, SyncArgs};
use crate::config::Config;
use crate::control;
use crate::exit::Exit;
use crate::logging::{clear_progress, progress_reporter};
use crate::render;
use crate::store::{StateLock, Store, StoreError, Trigger};
use crate::sync::{self, CycleOptions, SyncError};
use crate::view::ViewError;

pub(super) async fn command(cfg: &Config, args: &SyncArgs, quiet: bool) -> Exit {
    // A dry run writes no snapshot, so it doesn't need the lock a real run holds. A real
    // run takes it before opening the database, so that of two runs on a database that
    // doesn't exist yet the second is told who holds it (and doesn't race the schema).
    let lock = if args.dry_run {
        None
    } else {
        match StateLock::acquire(&cfg.sync.state_db) {
            Ok(l) => Some(l),
            Err(e @ StoreError::Locked { .. }) => {
                eprintln!("scim-sync: {e}");
                return Exit::Locked;
            }
            Err(e @ StoreError::NotOwner { .. }) => {
                eprintln!("scim-sync: {e}");
                return Exit::NoPermission;
            }
            Err(e) => {
                eprintln!("scim-sync: {e}");
                return Exit::Failed;
            }
        }
    };
    // A dry run creates no state: with no database yet it plans against an empty one in
    // memory.
    let store = if args.dry_run && !cfg.sync.state_db.exists() {
        Store::open_in_memory(&cfg.sync.state_db)
    } else {
        Store::open(&cfg.sync.state_db)
    };
    let store = match store {
        Ok(s) => s,
        Err(e @ StoreError::NotOwner { .. }) => {
            eprintln!("scim-sync: {e}");
            return Exit::NoPermission;
        }
        Err(e) => {
            eprintln!("scim-sync: {e}");
            return Exit::Failed;
        }
    };
    if let Some(lock) = lock
        && let Err(e) = store.hold(lock)
    {
        eprintln!("scim-sync: {e}");
        return if matches!(e, StoreError::Locked { .. }) {
            Exit::Locked
        } else {
            Exit::Failed
        };
    }
    let cancel = CancellationToken::new();
    let signal_cancel = cancel.clone();
    tokio::spawn(async move {
        control::commands::shutdown_signal().await;
        tracing::warn!(
            "interrupt: finishing the operations in flight, starting no new ones \
             (again to stop at once; unfinished operations are settled by the next run)"
        );
        signal_cancel.cancel();
        control::commands::shutdown_signal().await;
        std::process::exit(Exit::Aborted.code().into());
    });
    let plain = !std::io::stdout().is_terminal();
    let text = args.output == OutputFormat::Text;
    // A real run's plan is printed before its first write, the result after it.
    let on_plan: Option<sync::OnPlan> = if !args.dry_run && text && !quiet {
        Some(std::sync::Arc::new(move |plan: &scim_sync_plan::Plan| {
            clear_progress();
            if render::plan_needs_reading(plan) {
                crate::out_print!("{}", render::plan_text(plan, plain));
            }
        }))
    } else {
        None
    };
    let opts = CycleOptions {
        dry_run: args.dry_run,
        release: if args.release_held {
            sync::Release::LastHeld
        } else {
            sync::Release::Nothing
        },
        trigger: Trigger::Manual,
        progress: progress_reporter(quiet),
        full: args.full,
        on_plan,
        keep_inputs: false,
    };
    let outcome = sync::run_cycle(cfg, &store, &opts, &cancel).await;
    clear_progress();
    let report = match outcome {
        Ok(r) => r,
        Err(SyncError::Read(ViewError::Secret(msg))) => {
            eprintln!("scim-sync: {msg}");
            return Exit::Config;
        }
        Err(SyncError::Interrupted) => {
            eprintln!("scim-sync: interrupted while reading; nothing was changed");
            return Exit::Interrupted;
        }
        Err(e) => {
            // May quote an error body of Okta or kafkaman: never shown raw.
            eprintln!("scim-sync: {}", crate::escape::text(&e.to_string()));
            return Exit::Failed;
        }
    };
    let nothing_changed =
        report.result == crate::store::RunResult::Success && report.applied.outcomes.is_empty();
    match (args.output, args.dry_run) {
        (OutputFormat::Json, true) => crate::out_println!("{}", render::plan_json(&report.plan)),
        (OutputFormat::Json, false) => crate::out_println!("{}", render::cycle_json(&report)),
        (OutputFormat::Text, true) => {
            crate::out_print!("{}", render::plan_text(&report.plan, plain))
        }
        // Cron mails only what is worth reading: nothing when nothing changed.
        (OutputFormat::Text, false) if quiet && nothing_changed => {}
        (OutputFormat::Text, false)
            if nothing_changed && !render::plan_needs_reading(&report.plan) =>
        {
            crate::out_print!("{}", render::in_sync_text(&report))
        }
        (OutputFormat::Text, false) => {
            crate::out_print!("{}", render::cycle_text(&report));
            if quiet {
                // The plan that says it was not printed.
                crate::out_print!("{}", render::held_hint(&report));
            }
        }
    }
    if args.dry_run && args.detailed_exitcode {
        let pending = !report.plan.operations.is_empty() || !report.plan.held.is_empty();
        return if pending {
            Exit::ChangesPending
        } else {
            Exit::Ok
        };
    }
    Exit::for_run(report.result)
}
