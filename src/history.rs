//! `scim-sync history`: the last runs, or the operations of one run with their
//! outcomes, reasons and request ids. Reads only the state database.

use std::fmt::Write;

use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::config::Config;
use crate::escape::text as esc;
use crate::exit::Exit;
use crate::report::{self, RunRow, human_duration, short_time};
use crate::store::{
    CycleKind, OpRecord, PlanCategory, PlanItem, RunMode, RunResult, RunSummary, Store, StoreError,
};

/// The JSON shapes' names (version 1; see `docs/report-json.md`).
pub const SCHEMA_RUNS: &str = "scim-sync/history";
pub const SCHEMA_RUN: &str = "scim-sync/run";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum HistoryFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    /// Show the operations of this run.
    pub run_id: Option<i64>,
    /// How many runs to list, newest first.
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t = HistoryFormat::Text)]
    pub output: HistoryFormat,
}

#[derive(Debug, Serialize)]
pub struct RunList {
    pub schema: &'static str,
    pub version: u32,
    pub runs: Vec<RunRow>,
}

#[derive(Debug, Serialize)]
pub struct RunDetail {
    pub schema: &'static str,
    pub version: u32,
    pub run: RunRow,
    /// The run's stored summary, as recorded.
    pub summary: Option<RunSummary>,
    pub operations: Vec<OpRecord>,
    /// What the run's plan held back or left to a human.
    pub held: Vec<PlanItem>,
    pub attention: Vec<PlanItem>,
}

pub fn run_list(store: &Store, limit: u32) -> Result<RunList, StoreError> {
    Ok(RunList {
        schema: SCHEMA_RUNS,
        version: 1,
        runs: store.runs(limit)?.iter().map(report::run_row).collect(),
    })
}

pub fn run_detail(store: &Store, run_id: i64) -> Result<Option<RunDetail>, StoreError> {
    let Some(run) = store.run(run_id)? else {
        return Ok(None);
    };
    let items = store.plan_items(run_id)?;
    let pick = |cat: PlanCategory| -> Vec<PlanItem> {
        items
            .iter()
            .filter(|i| i.category == cat)
            .cloned()
            .collect()
    };
    Ok(Some(RunDetail {
        schema: SCHEMA_RUN,
        version: 1,
        run: report::run_row(&run),
        summary: run.summary.clone(),
        operations: store.operations_of_run(run_id)?,
        held: pick(PlanCategory::Held),
        attention: pick(PlanCategory::Attention),
    }))
}

pub fn list_text(list: &RunList) -> String {
    let mut out = String::new();
    if list.runs.is_empty() {
        out.push_str("No runs recorded yet.\n");
        return out;
    }
    let _ = writeln!(
        out,
        "{:>5}  {:<16}  {:<8}  {:<7}  {:<11}  {:>7}  {:>4}  {:>4}  {:>4}  {:>4}  Result",
        "Run", "Started (UTC)", "Trigger", "Mode", "Kind", "Took", "Plan", "Done", "Fail", "Held"
    );
    for r in &list.runs {
        let _ = writeln!(
            out,
            "{:>5}  {:<16}  {:<8}  {:<7}  {:<11}  {:>7}  {:>4}  {:>4}  {:>4}  {:>4}  {}",
            r.id,
            short_time(&r.started_at).trim_end_matches(" UTC"),
            r.trigger,
            if r.mode == RunMode::DryRun {
                "dry-run"
            } else {
                "apply"
            },
            r.kind.map_or("-", CycleKind::as_str),
            r.duration_ms
                .map(human_duration)
                .unwrap_or_else(|| "-".into()),
            r.planned,
            r.applied,
            r.failed,
            r.held,
            r.result.map_or("running", RunResult::as_str)
        );
        if let Some(e) = &r.error {
            let _ = writeln!(out, "       error: {}", esc(e));
        }
        if let Some(n) = r.missed_drift.filter(|n| *n > 0) {
            let _ = writeln!(
                out,
                "       the full cycle found {n} change(s) incremental cycles had missed"
            );
        }
    }
    out.push_str("\n`scim-sync history RUN` lists the operations of one run.\n");
    out
}

pub fn detail_text(d: &RunDetail) -> String {
    let r = &d.run;
    let mut out = format!(
        "Run {}: {} {}{} started {} ({}), took {}, result {}\n",
        r.id,
        r.trigger,
        r.kind
            .map(|k| format!("{} ", k.as_str()))
            .unwrap_or_default(),
        if r.mode == RunMode::DryRun {
            "dry run"
        } else {
            "cycle"
        },
        short_time(&r.started_at),
        r.started_at,
        r.duration_ms
            .map(human_duration)
            .unwrap_or_else(|| "-".into()),
        r.result.map_or("running", RunResult::as_str)
    );
    if let Some(e) = &r.error {
        let _ = writeln!(out, "Error: {}", esc(e));
    }
    let _ = writeln!(
        out,
        "Planned {}, applied {}, failed {}, held {}",
        r.planned, r.applied, r.failed, r.held
    );
    let _ = writeln!(out, "\nOperations ({})", d.operations.len());
    if d.operations.is_empty() {
        out.push_str("  none\n");
    }
    for o in &d.operations {
        let _ = writeln!(out, "  {}", op_line(o));
        let _ = writeln!(out, "      reason: {}", esc(&o.reason));
        if let Some(e) = &o.error {
            let _ = writeln!(out, "      error: {}", esc(e));
        }
    }
    for (title, items) in [("Held", &d.held), ("Needed attention", &d.attention)] {
        if !items.is_empty() {
            let _ = writeln!(out, "\n{title} ({})", items.len());
            for i in items {
                let who = if i.user_name.is_empty() {
                    i.okta_id.as_deref().unwrap_or("")
                } else {
                    &i.user_name
                };
                let _ = writeln!(out, "  {}: {}", esc(who), esc(&i.reason));
            }
        }
    }
    out
}

/// `#12 create grace@example.com: done (HTTP 201, request id …)`.
pub fn op_line(o: &OpRecord) -> String {
    let mut details = Vec::new();
    if let Some(s) = o.http_status {
        details.push(format!("HTTP {s}"));
    }
    if let Some(rid) = &o.request_id {
        details.push(format!("request id {}", esc(rid)));
    }
    let details = if details.is_empty() {
        String::new()
    } else {
        format!(" ({})", details.join(", "))
    };
    format!(
        "#{} {} {}: {}{details}",
        o.id,
        o.kind,
        esc(&o.user_name),
        o.state
    )
}

/// `scim-sync history [RUN]`; returns the exit status.
pub fn run(cfg: &Config, args: &HistoryArgs) -> Exit {
    let store = match report::open_store(cfg) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("scim-sync: history: {e}");
            return Exit::Unavailable;
        }
    };
    let json = args.output == HistoryFormat::Json;
    let result = match args.run_id {
        None => {
            run_list(&store, args.limit).map(|l| if json { to_json(&l) } else { list_text(&l) })
        }
        Some(id) => match run_detail(&store, id) {
            Ok(Some(d)) => Ok(if json { to_json(&d) } else { detail_text(&d) }),
            Ok(None) => {
                eprintln!(
                    "scim-sync: history: no run {id} in {} (`scim-sync history` lists them)",
                    store.path().display()
                );
                return Exit::Unavailable;
            }
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(text) => {
            crate::out_print!("{text}");
            Exit::Ok
        }
        Err(e) => {
            eprintln!("scim-sync: history: {e}");
            Exit::Unavailable
        }
    }
}

fn to_json<T: Serialize>(value: &T) -> String {
    // Plain data: serializing cannot fail.
    let mut s = serde_json::to_string_pretty(value).unwrap_or_default();
    s.push('\n');
    s
}
