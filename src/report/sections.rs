//! What the plain-text and the Markdown report have in common: one walk over the
//! report's sections, in order ([`write`]), and the lines both (and the HTML report)
//! build from the report. Each format says only how its pieces look ([`Writer`]).

use std::fmt::Write;

use scim_sync_plan::SharedEmail;

use super::{
    Failure, InviteItem, PersonItem, Report, RunRef, RunRow, SourceMode, UnmanagedItem, human_age,
    short_time,
};
use crate::escape::text;
use crate::store::{RunMode, RunResult};

/// How one format writes the pieces of a report.
pub(super) trait Writer {
    /// The report's first lines: its title and [`source_lines`].
    fn title(&mut self, r: &Report);
    fn heading(&mut self, title: &str);
    fn summary(&mut self, rows: Vec<(&'static str, String)>);
    /// An empty section, with what that means when it means something.
    fn none(&mut self, meaning: Option<&str>);
    /// A titled group inside a section.
    fn group(&mut self, title: &str, count: usize);
    fn people(&mut self, items: &[PersonItem]);
    fn held(&mut self, cap: u32);
    fn release(&mut self, how: &str);
    fn invites(&mut self, items: &[&InviteItem]);
    fn unmanaged(&mut self, u: &UnmanagedItem);
    fn shared_email(&mut self, s: &SharedEmail);
    fn failure(&mut self, f: &Failure);
    fn runs(&mut self, runs: &[RunRow]);
}

/// Writes the report's sections, in order.
pub(super) fn write(r: &Report, w: &mut impl Writer) {
    w.title(r);
    w.heading("Summary");
    w.summary(summary_rows(r));

    w.heading(&format!("Drift ({})", r.drift.count()));
    if r.drift.count() == 0 {
        w.none(Some("kafkaman matches Okta"));
    }
    for (title, items) in drift_groups(r) {
        if !items.is_empty() {
            w.group(title, items.len());
            w.people(items);
        }
    }

    if !r.attention.is_empty() {
        w.heading(&format!("Needs attention ({})", r.attention.len()));
        w.people(&r.attention);
    }

    w.heading(&format!("Held deactivations ({})", r.held.items.len()));
    if r.held.items.is_empty() {
        w.none(None);
    } else {
        w.held(r.held.cap);
        w.people(&r.held.items);
        if let Some(how) = &r.held.release {
            w.release(how);
        }
    }

    w.heading(&format!("Pending invites ({})", r.invites.pending.len()));
    if r.invites.pending.is_empty() {
        w.none(None);
    }
    for (title, items) in invite_groups(r) {
        if !items.is_empty() {
            w.group(&title, items.len());
            w.invites(&items);
        }
    }

    w.heading(&format!("Not managed by scim-sync ({})", r.unmanaged.len()));
    if r.unmanaged.is_empty() {
        w.none(None);
    }
    for u in &r.unmanaged {
        w.unmanaged(u);
    }

    w.heading(&format!(
        "Okta users sharing an email ({})",
        r.shared_emails.len()
    ));
    if r.shared_emails.is_empty() {
        w.none(None);
    }
    for s in &r.shared_emails {
        w.shared_email(s);
    }

    w.heading(&format!(
        "Failures since {} ({})",
        short_time(&r.period.since),
        r.failures.len()
    ));
    if r.failures.is_empty() {
        w.none(None);
    }
    for f in &r.failures {
        w.failure(f);
    }

    w.heading(&format!(
        "Runs since {} ({})",
        short_time(&r.period.since),
        r.runs.len()
    ));
    if r.runs.is_empty() {
        w.none(Some("is the timer or daemon running?"));
    } else {
        w.runs(&r.runs);
    }
}

/// Who a person item is, in words: the email, or the Okta id when there is none; and
/// the Okta id beside it when it says more.
pub(super) fn who(p: &PersonItem) -> (String, Option<&str>) {
    let who = if p.user_name.is_empty() {
        p.okta_id.clone().unwrap_or_default()
    } else {
        p.user_name.clone()
    };
    let id = p.okta_id.as_deref().filter(|id| *id != who);
    (who, id)
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
