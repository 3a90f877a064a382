//! The Markdown report: headings and bullet lists that read well as a raw mail body and
//! render on a code host or chat; the runs are a table (short columns only). The
//! sections are [`super::sections::write`]'s; this file says how they look in Markdown.

use std::fmt::Write;

use scim_sync_plan::SharedEmail;

use super::sections::{self, failure_title, invite_line, run_result, who};
use super::{
    Failure, InviteItem, PersonItem, Report, RunRow, UnmanagedItem, human_duration, short_time,
};
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
    let mut w = MarkdownWriter { out: String::new() };
    sections::write(r, &mut w);
    w.out
}

struct MarkdownWriter {
    out: String,
}

impl sections::Writer for MarkdownWriter {
    fn title(&mut self, r: &Report) {
        let _ = writeln!(
            self.out,
            "# scim-sync report, {}\n",
            short_time(&r.generated_at)
        );
        for line in sections::source_lines(r) {
            let _ = writeln!(self.out, "{}  ", md(line.trim()));
        }
    }

    fn heading(&mut self, title: &str) {
        let _ = writeln!(self.out, "\n## {title}\n");
    }

    fn summary(&mut self, rows: Vec<(&'static str, String)>) {
        for (label, value) in rows {
            let _ = writeln!(self.out, "- **{label}:** {}", md(&value));
        }
    }

    fn none(&mut self, meaning: Option<&str>) {
        match meaning {
            // A sentence: it ends with a full stop unless it asks.
            Some(m) if m.ends_with('?') => {
                let _ = writeln!(self.out, "None: {m}");
            }
            Some(m) => {
                let _ = writeln!(self.out, "None: {m}.");
            }
            None => self.out.push_str("None.\n"),
        }
    }

    fn group(&mut self, title: &str, count: usize) {
        let _ = writeln!(self.out, "### {} ({count})\n", md(title));
    }

    fn people(&mut self, items: &[PersonItem]) {
        for p in items {
            let (who, id) = who(p);
            let id = id.map(|id| format!(" ({})", code(id))).unwrap_or_default();
            let action = p.action.map(|a| format!(" → {a}")).unwrap_or_default();
            let _ = writeln!(
                self.out,
                "- **{}**{id}{action}: {}",
                md(&who),
                md(&p.reason)
            );
        }
        self.out.push('\n');
    }

    fn held(&mut self, cap: u32) {
        let _ = writeln!(
            self.out,
            "More deactivations than this cycle's cap of {cap} allows: none is applied.\n"
        );
    }

    fn release(&mut self, how: &str) {
        let how: String = super::code_spans(how)
            .iter()
            .map(|(is_code, part)| if *is_code { code(part) } else { md(part) })
            .collect();
        let _ = writeln!(self.out, "\n**To release:** {how}.");
    }

    fn invites(&mut self, items: &[&InviteItem]) {
        for i in items {
            let _ = writeln!(self.out, "- {}", md(&invite_line(i)));
        }
        self.out.push('\n');
    }

    fn unmanaged(&mut self, u: &UnmanagedItem) {
        let _ = writeln!(
            self.out,
            "- {} ({}; never touched)",
            md(&u.user_name),
            md(u.membership.as_str())
        );
    }

    fn shared_email(&mut self, s: &SharedEmail) {
        let _ = writeln!(self.out, "- {}: {}", md(&s.user_name), md(&s.describe()));
    }

    fn failure(&mut self, f: &Failure) {
        let _ = writeln!(self.out, "- **{}**", md(&failure_title(f)));
        if let Some(rid) = &f.request_id {
            let _ = writeln!(self.out, "  - request id: {}", code(rid));
        }
        if let Some(reason) = &f.reason {
            let _ = writeln!(self.out, "  - planned because: {}", md(reason));
        }
        let _ = writeln!(self.out, "  - error: {}", md(&f.error));
    }

    fn runs(&mut self, runs: &[RunRow]) {
        self.out.push_str(
            "| Run | Started (UTC) | Trigger | Kind | Took | Plan | Done | Fail | Held | Result |\n",
        );
        self.out
            .push_str("|---:|---|---|---|---:|---:|---:|---:|---:|---|\n");
        for run in runs {
            let _ = writeln!(
                self.out,
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
}
