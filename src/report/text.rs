//! The plain-text report: fits a mail body (lines of at most 78 columns, reasons
//! wrapped under their person), bold headings only on a terminal. The sections are
//! [`super::sections::write`]'s; this file says how they look as text.

use std::fmt::Write;

use scim_sync_plan::SharedEmail;

use super::sections::{self, failure_title, invite_line, run_result, who};
use super::{
    Failure, InviteItem, PersonItem, Report, RunRow, UnmanagedItem, human_duration, short_time,
};
use crate::escape::text;
use crate::store::CycleKind;

/// Longest line the text report writes (where words allow).
pub(super) const WIDTH: usize = 78;

pub(super) fn render(r: &Report, color: bool) -> String {
    let mut w = TextWriter {
        out: String::new(),
        color,
    };
    sections::write(r, &mut w);
    w.out
}

struct TextWriter {
    out: String,
    /// Bold headings (a terminal).
    color: bool,
}

impl TextWriter {
    /// `text` wrapped to `width`, each line indented by `indent`.
    fn wrapped(&mut self, text: &str, indent: usize, width: usize) {
        for line in wrap(text, width) {
            let _ = writeln!(self.out, "{:indent$}{line}", "");
        }
    }
}

impl sections::Writer for TextWriter {
    fn title(&mut self, r: &Report) {
        let _ = writeln!(
            self.out,
            "scim-sync report, {}",
            short_time(&r.generated_at)
        );
        for line in sections::source_lines(r) {
            let _ = writeln!(self.out, "{line}");
        }
    }

    fn heading(&mut self, title: &str) {
        if self.color {
            let _ = writeln!(self.out, "\n\x1b[1m{title}\x1b[0m");
        } else {
            let _ = writeln!(self.out, "\n{title}");
        }
    }

    fn summary(&mut self, rows: Vec<(&'static str, String)>) {
        for (label, value) in rows {
            let dots = ".".repeat(24usize.saturating_sub(label.len()));
            let _ = writeln!(self.out, "  {label} {dots} {value}");
        }
    }

    fn none(&mut self, meaning: Option<&str>) {
        match meaning {
            Some(m) => {
                let _ = writeln!(self.out, "  none: {m}");
            }
            None => self.out.push_str("  none\n"),
        }
    }

    fn group(&mut self, title: &str, count: usize) {
        let _ = writeln!(self.out, "  {title} ({count}):");
    }

    fn people(&mut self, items: &[PersonItem]) {
        for p in items {
            let (who, id) = who(p);
            let id = id.map(|id| format!(" ({})", text(id))).unwrap_or_default();
            let action = p.action.map(|a| format!(" [{a}]")).unwrap_or_default();
            let _ = writeln!(self.out, "    {}{id}{action}", text(&who));
            self.wrapped(&text(&p.reason), 8, WIDTH - 8);
        }
    }

    fn held(&mut self, cap: u32) {
        let _ = writeln!(
            self.out,
            "  More deactivations than this cycle's cap of {cap} allows: none is applied."
        );
    }

    fn release(&mut self, how: &str) {
        self.wrapped(&format!("To release: {how}."), 2, WIDTH - 2);
    }

    fn invites(&mut self, items: &[&InviteItem]) {
        for i in items {
            let mut lines = wrap(&invite_line(i), WIDTH - 4).into_iter();
            if let Some(first) = lines.next() {
                let _ = writeln!(self.out, "    {first}");
            }
            for line in lines {
                let _ = writeln!(self.out, "        {line}");
            }
        }
    }

    fn unmanaged(&mut self, u: &UnmanagedItem) {
        let _ = writeln!(
            self.out,
            "    {} ({}; never touched)",
            text(&u.user_name),
            u.membership
        );
    }

    fn shared_email(&mut self, s: &SharedEmail) {
        let _ = writeln!(
            self.out,
            "    {}: {}",
            text(&s.user_name),
            text(&s.describe())
        );
    }

    fn failure(&mut self, f: &Failure) {
        let _ = writeln!(self.out, "    {}", failure_title(f));
        if let Some(rid) = &f.request_id {
            let _ = writeln!(self.out, "        request id {}", text(rid));
        }
        if let Some(reason) = &f.reason {
            self.wrapped(&format!("planned because: {}", text(reason)), 8, WIDTH - 8);
        }
        self.wrapped(&format!("error: {}", text(&f.error)), 8, WIDTH - 8);
    }

    fn runs(&mut self, runs: &[RunRow]) {
        let _ = writeln!(
            self.out,
            "  {:>5}  {:<16}  {:<11}  {:>7} {:>4} {:>4} {:>4} {:>4}  Result",
            "Run", "Started (UTC)", "Kind", "Took", "Plan", "Done", "Fail", "Held"
        );
        for run in runs {
            let _ = writeln!(self.out, "  {}", run_line(run));
        }
    }
}

fn run_line(run: &RunRow) -> String {
    format!(
        "{:>5}  {:<16}  {:<11}  {:>7} {:>4} {:>4} {:>4} {:>4}  {}",
        run.id,
        short_time(&run.started_at).trim_end_matches(" UTC"),
        run.kind.map_or("-", CycleKind::as_str),
        run.duration_ms
            .map(human_duration)
            .unwrap_or_else(|| "-".into()),
        run.planned,
        run.applied,
        run.failed,
        run.held,
        run_result(run)
    )
}

/// Greedy word wrap; a word longer than `width` gets a line of its own.
pub(super) fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wrap_keeps_words_and_width() {
        let lines = wrap("aaa bbb ccc dddd", 8);
        assert_eq!(lines, ["aaa bbb", "ccc dddd"]);
        assert_eq!(
            wrap("averyveryverylongword x", 5),
            ["averyveryverylongword", "x"]
        );
        assert!(wrap("", 10).is_empty());
    }
}
