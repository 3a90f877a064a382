//! The Markdown report: headings and bullet lists that read well as a raw mail body and
//! render on a code host or chat; the runs are a table (short columns only).

use std::fmt::Write;

use super::text::{
    drift_groups, failure_title, invite_groups, invite_line, run_result, source_lines, summary_rows,
};
use super::{PersonItem, Report, human_duration, short_time};

use crate::escape::{markdown as md, text};

/// An inline code span when `value` can be one, else escaped running text.
fn code(value: &str) -> String {
    if value.contains('`') || text(value) != value {
        md(value)
    } else {
        format!("`{value}`")
    }
}

pub(super) fn render(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# scim-sync report, {}\n", short_time(&r.generated_at));
    for line in source_lines(r) {
        let _ = writeln!(out, "{}  ", md(line.trim()));
    }

    out.push_str("\n## Summary\n\n");
    for (label, value) in summary_rows(r) {
        let _ = writeln!(out, "- **{label}:** {}", md(&value));
    }

    let _ = writeln!(out, "\n## Drift ({})\n", r.drift.count());
    if r.drift.count() == 0 {
        out.push_str("None: kafkaman matches Okta.\n");
    }
    for (title, items) in drift_groups(r) {
        if !items.is_empty() {
            let _ = writeln!(out, "### {} ({})\n", md(title), items.len());
            people(&mut out, items);
        }
    }

    if !r.attention.is_empty() {
        let _ = writeln!(out, "\n## Needs attention ({})\n", r.attention.len());
        people(&mut out, &r.attention);
    }

    let _ = writeln!(out, "\n## Held deactivations ({})\n", r.held.items.len());
    if r.held.items.is_empty() {
        out.push_str("None.\n");
    } else {
        let _ = writeln!(
            out,
            "More deactivations than this cycle's cap of {} allows: none is applied.\n",
            r.held.cap
        );
        people(&mut out, &r.held.items);
        if let Some(how) = &r.held.release {
            let how: String = super::code_spans(how)
                .iter()
                .map(|(is_code, part)| if *is_code { code(part) } else { md(part) })
                .collect();
            let _ = writeln!(out, "\n**To release:** {how}.");
        }
    }

    let _ = writeln!(out, "\n## Pending invites ({})\n", r.invites.pending.len());
    if r.invites.pending.is_empty() {
        out.push_str("None.\n");
    }
    for (title, items) in invite_groups(r) {
        if !items.is_empty() {
            let _ = writeln!(out, "### {} ({})\n", md(&title), items.len());
            for i in items {
                let _ = writeln!(out, "- {}", md(&invite_line(i)));
            }
            out.push('\n');
        }
    }

    let _ = writeln!(
        out,
        "\n## Not managed by scim-sync ({})\n",
        r.unmanaged.len()
    );
    if r.unmanaged.is_empty() {
        out.push_str("None.\n");
    }
    for u in &r.unmanaged {
        let _ = writeln!(
            out,
            "- {} ({}; never touched)",
            md(&u.user_name),
            md(u.membership.as_str())
        );
    }

    let _ = writeln!(
        out,
        "\n## Okta users sharing an email ({})\n",
        r.shared_emails.len()
    );
    if r.shared_emails.is_empty() {
        out.push_str("None.\n");
    }
    for s in &r.shared_emails {
        let _ = writeln!(out, "- {}: {}", md(&s.user_name), md(&s.describe()));
    }

    let _ = writeln!(
        out,
        "\n## Failures since {} ({})\n",
        short_time(&r.period.since),
        r.failures.len()
    );
    if r.failures.is_empty() {
        out.push_str("None.\n");
    }
    for f in &r.failures {
        let _ = writeln!(out, "- **{}**", md(&failure_title(f)));
        if let Some(rid) = &f.request_id {
            let _ = writeln!(out, "  - request id: {}", code(rid));
        }
        if let Some(reason) = &f.reason {
            let _ = writeln!(out, "  - planned because: {}", md(reason));
        }
        let _ = writeln!(out, "  - error: {}", md(&f.error));
    }

    let _ = writeln!(
        out,
        "\n## Runs since {} ({})\n",
        short_time(&r.period.since),
        r.runs.len()
    );
    if r.runs.is_empty() {
        out.push_str("None: is the timer or daemon running?\n");
    } else {
        out.push_str(
            "| Run | Started (UTC) | Trigger | Kind | Took | Plan | Done | Fail | Held | Result |\n",
        );
        out.push_str("|---:|---|---|---|---:|---:|---:|---:|---:|---|\n");
        for run in &r.runs {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                run.id,
                short_time(&run.started_at).trim_end_matches(" UTC"),
                md(run.trigger.as_str()),
                run.kind.map_or("-", crate::store::CycleKind::as_str),
                run.duration_ms
                    .map(human_duration)
                    .unwrap_or_else(|| "-".into()),
                run.planned,
                run.applied,
                run.failed,
                run.held,
                md(&run_result(run))
            );
        }
    }
    out
}

fn people(out: &mut String, items: &[PersonItem]) {
    for p in items {
        let who = if p.user_name.is_empty() {
            p.okta_id.clone().unwrap_or_default()
        } else {
            p.user_name.clone()
        };
        let id = p
            .okta_id
            .as_deref()
            .filter(|id| *id != who)
            .map(|id| format!(" ({})", code(id)))
            .unwrap_or_default();
        let action = p.action.map(|a| format!(" → {a}")).unwrap_or_default();
        let _ = writeln!(out, "- **{}**{id}{action}: {}", md(&who), md(&p.reason));
    }
    out.push('\n');
}
