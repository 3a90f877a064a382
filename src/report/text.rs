//! The plain-text report: fits a mail body (lines of at most 78 columns, reasons
//! wrapped under their person), bold headings only on a terminal.

use std::fmt::Write;

use crate::escape::text;
use crate::store::{CycleKind, RunMode, RunResult};

use super::{
    Failure, InviteItem, PersonItem, Report, RunRef, RunRow, SourceMode, human_age, human_duration,
    short_time,
};

/// Longest line the text report writes (where words allow).
pub(super) const WIDTH: usize = 78;

pub(super) fn render(r: &Report, color: bool) -> String {
    let mut out = String::new();
    let h = |out: &mut String, title: &str| {
        if color {
            let _ = writeln!(out, "\n\x1b[1m{title}\x1b[0m");
        } else {
            let _ = writeln!(out, "\n{title}");
        }
    };
    let _ = writeln!(out, "scim-sync report, {}", short_time(&r.generated_at));
    for line in source_lines(r) {
        let _ = writeln!(out, "{line}");
    }

    h(&mut out, "Summary");
    for (label, value) in summary_rows(r) {
        let dots = ".".repeat(24usize.saturating_sub(label.len()));
        let _ = writeln!(out, "  {label} {dots} {value}");
    }

    h(&mut out, &format!("Drift ({})", r.drift.count()));
    if r.drift.count() == 0 {
        out.push_str("  none: kafkaman matches Okta\n");
    }
    for (title, items) in drift_groups(r) {
        if !items.is_empty() {
            let _ = writeln!(out, "  {title} ({}):", items.len());
            people(&mut out, items);
        }
    }

    if !r.attention.is_empty() {
        h(
            &mut out,
            &format!("Needs attention ({})", r.attention.len()),
        );
        people(&mut out, &r.attention);
    }

    h(
        &mut out,
        &format!("Held deactivations ({})", r.held.items.len()),
    );
    if r.held.items.is_empty() {
        out.push_str("  none\n");
    } else {
        let _ = writeln!(
            out,
            "  More deactivations than this cycle's cap of {} allows: none is applied.",
            r.held.cap
        );
        people(&mut out, &r.held.items);
        if let Some(how) = &r.held.release {
            for line in wrap(&format!("To release: {how}."), WIDTH - 2) {
                let _ = writeln!(out, "  {line}");
            }
        }
    }

    h(
        &mut out,
        &format!("Pending invites ({})", r.invites.pending.len()),
    );
    if r.invites.pending.is_empty() {
        out.push_str("  none\n");
    }
    for (title, items) in invite_groups(r) {
        if !items.is_empty() {
            let _ = writeln!(out, "  {title} ({}):", items.len());
            for i in items {
                let mut lines = wrap(&invite_line(i), WIDTH - 4).into_iter();
                if let Some(first) = lines.next() {
                    let _ = writeln!(out, "    {first}");
                }
                for line in lines {
                    let _ = writeln!(out, "        {line}");
                }
            }
        }
    }

    h(
        &mut out,
        &format!("Not managed by scim-sync ({})", r.unmanaged.len()),
    );
    if r.unmanaged.is_empty() {
        out.push_str("  none\n");
    }
    for u in &r.unmanaged {
        let _ = writeln!(
            out,
            "    {} ({}; never touched)",
            text(&u.user_name),
            u.membership
        );
    }

    h(
        &mut out,
        &format!("Okta users sharing an email ({})", r.shared_emails.len()),
    );
    if r.shared_emails.is_empty() {
        out.push_str("  none\n");
    }
    for s in &r.shared_emails {
        let _ = writeln!(out, "    {}: {}", text(&s.user_name), text(&s.describe()));
    }

    h(
        &mut out,
        &format!(
            "Failures since {} ({})",
            short_time(&r.period.since),
            r.failures.len()
        ),
    );
    if r.failures.is_empty() {
        out.push_str("  none\n");
    }
    for f in &r.failures {
        let _ = writeln!(out, "    {}", failure_title(f));
        if let Some(rid) = &f.request_id {
            let _ = writeln!(out, "        request id {}", text(rid));
        }
        if let Some(reason) = &f.reason {
            for line in wrap(&format!("planned because: {}", text(reason)), WIDTH - 8) {
                let _ = writeln!(out, "        {line}");
            }
        }
        for line in wrap(&format!("error: {}", text(&f.error)), WIDTH - 8) {
            let _ = writeln!(out, "        {line}");
        }
    }

    h(
        &mut out,
        &format!(
            "Runs since {} ({})",
            short_time(&r.period.since),
            r.runs.len()
        ),
    );
    if r.runs.is_empty() {
        out.push_str("  none: is the timer or daemon running?\n");
    } else {
        let _ = writeln!(
            out,
            "  {:>5}  {:<16}  {:<11}  {:>7} {:>4} {:>4} {:>4} {:>4}  Result",
            "Run", "Started (UTC)", "Kind", "Took", "Plan", "Done", "Fail", "Held"
        );
        for run in &r.runs {
            let _ = writeln!(out, "  {}", run_line(run));
        }
    }
    out
}

pub(super) fn source_lines(r: &Report) -> Vec<String> {
    let mut lines = Vec::new();
    if r.source.mode == SourceMode::Live {
        lines.push("Source: live read of Okta and kafkaman (--refresh)".to_string());
    } else {
        let age = r
            .source
            .age_seconds
            .map(|s| format!(", {} old", human_age(s)))
            .unwrap_or_default();
        match (&r.source.okta_read_at, &r.source.team_read_at) {
            (None, None) => lines.push(
                "Source: state database; it holds no snapshot yet (no cycle has read both sides)"
                    .to_string(),
            ),
            (okta, team) => {
                lines.push(format!("Source: last snapshot in the state database{age}"));
                lines.push(format!(
                    "  Okta read {}, team read {}",
                    okta.as_deref()
                        .map(short_time)
                        .unwrap_or_else(|| "never".into()),
                    team.as_deref()
                        .map(short_time)
                        .unwrap_or_else(|| "never".into())
                ));
            }
        }
    }
    lines.push(format!("Period: since {}", short_time(&r.period.since)));
    lines
}

pub(super) fn summary_rows(r: &Report) -> Vec<(&'static str, String)> {
    let s = &r.summary;
    vec![
        ("Assigned in Okta", s.assigned_in_okta.to_string()),
        (
            "Team members",
            format!(
                "{} active, {} invited, {} deactivated",
                s.members_active, s.members_invited, s.members_deactivated
            ),
        ),
        ("In sync", s.in_sync.to_string()),
        ("Drift", s.drift.to_string()),
        ("Held deactivations", s.held.to_string()),
        ("Need attention", s.attention.to_string()),
        ("Not managed", s.unmanaged.to_string()),
        ("Pending invites", s.pending_invites.to_string()),
        ("Failures in period", s.failures.to_string()),
        ("Runs in period", s.runs.to_string()),
        (
            "Missed by incremental cycles",
            r.runs
                .iter()
                .rev()
                .find_map(|run| run.missed_drift.map(|n| (run.id, n)))
                .map(|(id, n)| format!("{n} (full run {id}; 0 expected)"))
                .unwrap_or_else(|| "not counted in this period".into()),
        ),
        ("Last cycle", last_cycle(r)),
        ("Last success", last_success(r)),
        ("Status", status_line(r)),
    ]
}

/// `run 12 at 2025-03-01 14:05 UTC`.
fn run_at(run: &RunRef) -> String {
    format!(
        "run {} at {}",
        run.id,
        short_time(run.ended_at.as_deref().unwrap_or(&run.started_at))
    )
}

/// The last applying run and its result, in the run-result words.
fn last_cycle(r: &Report) -> String {
    match &r.summary.last_run {
        Some(run) => format!(
            "{}: {}",
            run_at(run),
            run.result.map_or("running", RunResult::as_str)
        ),
        None => "none recorded".into(),
    }
}

/// The last run whose result is `success`. When there is none, says what the last
/// cycle's result was instead: a held or partial run is neither a success nor nothing.
fn last_success(r: &Report) -> String {
    match (&r.summary.last_success, &r.summary.last_run) {
        (Some(run), _) => run_at(run),
        (None, Some(last)) => format!(
            "none recorded (the last cycle, run {}, was {})",
            last.id,
            last.result.map_or("running", RunResult::as_str)
        ),
        (None, None) => "none recorded (no cycle has run)".into(),
    }
}

pub(super) fn status_line(r: &Report) -> String {
    if r.status.needs_attention.is_empty() {
        format!("OK (exit {})", r.status.exit_status)
    } else {
        format!(
            "NEEDS ATTENTION: {} (exit {})",
            r.status.needs_attention.join(", "),
            r.status.exit_status
        )
    }
}

pub(super) fn drift_groups(r: &Report) -> [(&'static str, &Vec<PersonItem>); 4] {
    [
        ("In Okta, not in the team", &r.drift.missing_in_team),
        ("In the team, no longer entitled", &r.drift.not_entitled),
        ("Name differs from Okta", &r.drift.name_mismatch),
        (
            "Email changed in Okta (rename needs a human)",
            &r.drift.renames,
        ),
    ]
}

pub(super) fn invite_groups(r: &Report) -> [(String, Vec<&InviteItem>); 3] {
    let pick =
        |f: &dyn Fn(&InviteItem) -> bool| r.invites.pending.iter().filter(|i| f(i)).collect();
    [
        (
            "Conflicting (block a create)".into(),
            pick(&|i| i.conflicting),
        ),
        (
            "SCIM invites awaiting acceptance".into(),
            pick(&|i| i.awaiting_acceptance),
        ),
        (
            format!("Stale (older than {} days)", r.invites.stale_after_days),
            pick(&|i| i.stale),
        ),
    ]
}

pub(super) fn invite_line(i: &InviteItem) -> String {
    format!(
        "{} ({} invite{}, {}{})",
        text(&i.email),
        i.source,
        i.invited_by
            .as_deref()
            .map(|b| format!(" from {}", text(b)))
            .unwrap_or_default(),
        short_time(&i.created_at),
        i.age_days
            .map(|d| format!(", {d} d old"))
            .unwrap_or_default()
    )
}

pub(super) fn failure_title(f: &Failure) -> String {
    let mut s = format!("run {}, {}", f.run_id, f.kind);
    if let Some(who) = &f.user_name {
        let _ = write!(s, " {}", text(who));
    }
    if let Some(status) = f.http_status {
        let _ = write!(s, ", HTTP {status}");
    }
    s
}

pub(super) fn run_result(run: &RunRow) -> String {
    let result = run.result.map_or("running", RunResult::as_str);
    if run.mode == RunMode::DryRun {
        format!("{result} (dry run)")
    } else {
        result.to_string()
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
            .map(|id| format!(" ({})", text(id)))
            .unwrap_or_default();
        let action = p.action.map(|a| format!(" [{a}]")).unwrap_or_default();
        let _ = writeln!(out, "    {}{id}{action}", text(&who));
        for line in wrap(&text(&p.reason), WIDTH - 8) {
            let _ = writeln!(out, "        {line}");
        }
    }
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
