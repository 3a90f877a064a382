//! How a plan and a cycle's outcome are shown: grouped by action, one line per user
//! with the reason; a table for people, JSON for machines.

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use serde_json::json;

use crate::escape::text;
use crate::sync::CycleReport;
use scim_sync_plan::{OpKind, Plan};

/// The plan's groups in the order they are applied, then what is not applied.
fn groups(plan: &Plan) -> Vec<(&'static str, Vec<(String, String)>)> {
    let mut out = Vec::new();
    for (title, kind) in [
        ("Deactivate", OpKind::Deactivate),
        ("Reactivate", OpKind::Reactivate),
        ("Clear pending invite", OpKind::ClearInvite),
        ("Create", OpKind::Create),
        ("Update name", OpKind::UpdateName),
    ] {
        let rows: Vec<(String, String)> = plan
            .operations
            .iter()
            .filter(|o| o.kind() == kind)
            .map(|o| (o.user_name().to_string(), o.reason().to_string()))
            .collect();
        if !rows.is_empty() {
            out.push((title, rows));
        }
    }
    if !plan.held.is_empty() {
        let rows = plan
            .held
            .iter()
            .map(|o| (o.user_name().to_string(), o.reason().to_string()))
            .collect();
        out.push(("Held (deactivation cap)", rows));
    }
    if !plan.attention.is_empty() {
        let rows = plan
            .attention
            .iter()
            .map(|a| {
                let who = if a.user_name.is_empty() {
                    a.okta_id.clone().unwrap_or_default()
                } else {
                    a.user_name.clone()
                };
                (who, a.reason())
            })
            .collect();
        out.push(("Needs attention", rows));
    }
    if !plan.shared_emails.is_empty() {
        let rows = plan
            .shared_emails
            .iter()
            .map(|s| (s.user_name.clone(), s.describe()))
            .collect();
        out.push(("Okta users sharing an email", rows));
    }
    if !plan.unmanaged.is_empty() {
        let rows = plan
            .unmanaged
            .iter()
            .map(|u| {
                (
                    u.user_name.clone(),
                    format!("not managed by scim-sync ({}): left alone", u.membership),
                )
            })
            .collect();
        out.push(("Not managed (never touched)", rows));
    }
    out
}

/// The width tables are fitted to: the terminal's, else `COLUMNS`, else 100. A
/// pseudo-terminal nobody sized (`TIOCGWINSZ` says 0 columns: `script`, some CI and
/// container consoles) would otherwise squeeze every column to one character.
pub fn table_width() -> u16 {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` into `size`, which lives through the call;
    // on any error it writes nothing and the zero columns fall through below.
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    if ok && size.ws_col > 0 {
        return size.ws_col;
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<u16>().ok())
        .filter(|&c| c > 0)
        .unwrap_or(100)
}

/// The plan as a table for a terminal (or plain text when `plain`), every row.
pub fn plan_text(plan: &Plan, plain: bool) -> String {
    plan_text_limited(plan, plain, usize::MAX)
}

/// The plan with at most `max_rows` rows per group (the demo's screens).
pub fn plan_text_limited(plan: &Plan, plain: bool, max_rows: usize) -> String {
    let mut out = String::new();
    // Names and reasons come from Okta and kafkaman: never shown raw.
    let groups = groups(plan).into_iter().map(|(title, rows)| {
        let rows: Vec<(String, String)> = rows
            .into_iter()
            .map(|(who, why)| (text(&who).into_owned(), text(&why).into_owned()))
            .collect();
        (title, rows)
    });
    if plan.operations.is_empty() {
        out.push_str("No changes: kafkaman matches Okta.\n");
    }
    for (title, mut rows) in groups {
        out.push_str(&format!("\n{title} ({})\n", rows.len()));
        rows.sort_by_key(|r| r.0.to_lowercase());
        let hidden = rows.len().saturating_sub(max_rows);
        rows.truncate(max_rows);
        if hidden > 0 {
            rows.push((format!("… and {hidden} more"), String::new()));
        }
        if plain {
            for (who, why) in rows {
                out.push_str(&format!("  {who:<40} {why}\n"));
            }
        } else {
            let mut t = Table::new();
            t.load_preset(UTF8_FULL_CONDENSED)
                .set_content_arrangement(ContentArrangement::Dynamic)
                .set_width(table_width())
                .set_header(vec!["User", "Reason"]);
            for (who, why) in rows {
                t.add_row(vec![who, why]);
            }
            out.push_str(&format!("{t}\n"));
        }
    }
    if !plan.held.is_empty() {
        out.push_str(&format!(
            "\n{} deactivations are held (this cycle's cap is {}; a hold stays until released, \
             whatever later cycles' caps say). Read them above; if they are right, release \
             them with `scim-sync release-held`.\n",
            plan.held.len(),
            plan.deactivation_cap
        ));
    }
    out.push_str(&format!(
        "\nPlanned: {} deactivate, {} reactivate, {} clear invite, {} create, {} update; \
         {} held, {} need attention, {} in sync, {} not managed.\n",
        plan.count(OpKind::Deactivate),
        plan.count(OpKind::Reactivate),
        plan.count(OpKind::ClearInvite),
        plan.count(OpKind::Create),
        plan.count(OpKind::UpdateName),
        plan.held.len(),
        plan.attention.len(),
        plan.in_sync,
        plan.unmanaged.len()
    ));
    out
}

/// The plan as JSON (`--output json`).
pub fn plan_json(plan: &Plan) -> serde_json::Value {
    json!({
        "operations": plan.operations,
        "held": plan.held,
        "attention": plan.attention,
        "unmanaged": plan.unmanaged,
        "shared_emails": plan.shared_emails,
        "in_sync": plan.in_sync,
        "managed": plan.managed,
        "deactivation_cap": plan.deactivation_cap,
    })
}

/// Whether a real run's plan is worth printing before its writes: it has operations or
/// holds. (Who needs attention, with nothing to change, is a line of [`in_sync_text`]
/// and the report's business: not a table every cycle.)
pub fn plan_needs_reading(plan: &Plan) -> bool {
    !plan.operations.is_empty() || !plan.held.is_empty()
}

/// A real cycle that found nothing to do, in a line.
pub fn in_sync_text(report: &CycleReport) -> String {
    let s = &report.summary;
    let kind = s
        .kind
        .map(|k| format!("{} cycle, ", k.as_str()))
        .unwrap_or_default();
    let mut out = format!(
        "In sync: {} assigned, {} members, nothing to change (run {} {}, {kind}{:.1} s).\n",
        s.assigned,
        s.members,
        report.run_id,
        report.result.as_str(),
        s.duration_ms as f64 / 1000.0
    );
    if s.attention > 0 {
        out.push_str(&format!(
            "{} need attention: see `scim-sync report` or `scim-sync --dry-run`.\n",
            s.attention
        ));
    }
    out
}

/// What a held run asks of a person, in a line (for `--quiet`, which prints no plan).
pub fn held_hint(report: &CycleReport) -> String {
    if report.plan.held.is_empty() {
        return String::new();
    }
    format!(
        "{} deactivation(s) held by the safety cap: review them (`scim-sync report` or \
         `scim-sync --dry-run`) and apply them with `scim-sync release-held`.\n",
        report.plan.held.len()
    )
}

/// The outcome of a real cycle, for a person.
pub fn cycle_text(report: &CycleReport) -> String {
    let s = &report.summary;
    let mut out = format!(
        "Run {} {}: {} assigned in Okta, {} team members; ",
        report.run_id,
        report.result.as_str(),
        s.assigned,
        s.members
    );
    if report.applied.outcomes.is_empty() {
        out.push_str("no changes applied");
    } else {
        let parts: Vec<String> = s.outcomes.iter().map(|(k, v)| format!("{k} {v}")).collect();
        out.push_str(&parts.join(", "));
    }
    out.push_str(&format!(
        "; {} held, {} need attention, {} not managed ({} ms, {} Okta and {} kafkaman requests)\n",
        s.held, s.attention, s.unmanaged, s.duration_ms, s.okta_requests, s.kafkaman_requests
    ));
    for f in report.applied.failures() {
        out.push_str(&format!(
            "  FAILED {} {}: {}{}\n",
            f.kind.as_str(),
            text(&f.user_name),
            text(f.error.as_deref().unwrap_or("unknown error")),
            f.request_id
                .as_deref()
                .map(|r| format!(" (request id {})", text(r)))
                .unwrap_or_default()
        ));
    }
    out
}

/// The outcome of a real cycle, for machines.
pub fn cycle_json(report: &CycleReport) -> serde_json::Value {
    json!({
        "run_id": report.run_id,
        "result": report.result.as_str(),
        "summary": report.summary,
        "outcomes": report.applied.outcomes,
        "interrupted": report.applied.interrupted,
        "plan": plan_json(&report.plan),
    })
}
