//! The HTML report: one self-contained file (inline styles, no script, no external
//! resource) that mail clients display; well-formed XHTML syntax so that it also parses
//! as XML. It fits a phone: tables scroll sideways in their own box, long words (emails,
//! ids) break, and the charts (`chart.rs`, inline SVG) scale to the width.

use std::fmt::Write;

use super::chart;

use super::sections::{drift_groups, invite_groups, run_result, source_lines, summary_rows};
use super::{PersonItem, Report, code_spans, human_duration, short_time};

use crate::escape::html as esc;

const BODY: &str = "font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;\
font-size:14px;color:#1f2328;max-width:960px;margin:0 auto;padding:16px;\
overflow-wrap:anywhere";
const H2: &str =
    "font-size:17px;border-bottom:1px solid #d0d7de;padding-bottom:4px;margin-top:24px";
const H3: &str = "font-size:15px;margin:12px 0 4px";
/// Around every table: a wide one scrolls in its box instead of widening the page.
const SCROLL: &str = "overflow-x:auto;max-width:100%";
const TABLE: &str = "border-collapse:collapse;width:100%;font-size:13px";
const TH: &str = "text-align:left;background:#f6f8fa;border:1px solid #d0d7de;padding:4px 8px;\
white-space:nowrap";
const TD: &str = "border:1px solid #d0d7de;padding:4px 8px;vertical-align:top";
const CODE: &str = "font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;\
font-size:12px;background:#f6f8fa;padding:1px 4px;border-radius:4px";
const MUTED: &str = "color:#656d76";
const OK: &str = "background:#dafbe1;color:#116329;padding:8px 12px;border-radius:6px";
const WARN: &str = "background:#fff8c5;color:#7d4e00;padding:8px 12px;border-radius:6px";

/// How a column's cells wrap on a narrow screen.
#[derive(Clone, Copy)]
enum Col {
    /// Emails, ids, reasons, errors: break anywhere, even inside a long address.
    Text,
    /// Short words and figures (actions, times, counts): one line; the table's box
    /// scrolls when they don't fit.
    Short,
}

impl Col {
    fn style(self) -> &'static str {
        match self {
            Col::Text => "overflow-wrap:anywhere",
            Col::Short => "white-space:nowrap",
        }
    }
}

use Col::{Short, Text};

fn table(out: &mut String, columns: &[(&str, Col)], rows: &[Vec<String>]) {
    let _ = write!(
        out,
        "<div style=\"{SCROLL}\"><table style=\"{TABLE}\"><thead><tr>"
    );
    for (h, _) in columns {
        let _ = write!(out, "<th style=\"{TH}\">{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>\n");
    for row in rows {
        out.push_str("<tr>");
        for (cell, (_, col)) in row.iter().zip(columns) {
            let _ = write!(out, "<td style=\"{TD};{}\">{}</td>", col.style(), esc(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
}

/// A two-column table of labels and values: the labels are row headers, there is no
/// header row.
fn key_values(out: &mut String, rows: &[(&str, String)]) {
    let _ = writeln!(
        out,
        "<div style=\"{SCROLL}\"><table style=\"{TABLE}\"><tbody>"
    );
    for (label, value) in rows {
        let _ = writeln!(
            out,
            "<tr><th scope=\"row\" style=\"{TH};white-space:normal;width:40%\">{}</th>\
             <td style=\"{TD}\">{}</td></tr>",
            esc(label),
            esc(value)
        );
    }
    out.push_str("</tbody></table></div>\n");
}

/// Our own prose that marks commands with backticks: the commands become `<code>`.
fn prose(text: &str) -> String {
    code_spans(text)
        .iter()
        .map(|(is_code, part)| {
            if *is_code {
                format!("<code style=\"{CODE}\">{}</code>", esc(part))
            } else {
                esc(part)
            }
        })
        .collect()
}

fn none(out: &mut String, text: &str) {
    let _ = writeln!(out, "<p style=\"{MUTED}\">{}</p>", esc(text));
}

fn people(out: &mut String, items: &[PersonItem]) {
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|p| {
            vec![
                p.user_name.clone(),
                p.okta_id.clone().unwrap_or_default(),
                p.action.map(|a| a.as_str().to_string()).unwrap_or_default(),
                p.reason.clone(),
            ]
        })
        .collect();
    table(
        out,
        &[
            ("User", Text),
            ("Okta id", Text),
            ("Action", Short),
            ("Reason", Text),
        ],
        &rows,
    );
}

pub(super) fn render(r: &Report) -> String {
    let mut out = String::new();
    let title = format!("scim-sync report, {}", short_time(&r.generated_at));
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n\
         <meta charset=\"utf-8\" />\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\" />\n\
         <title>{}</title>\n</head>\n<body style=\"{BODY}\">\n<h1 style=\"font-size:20px\">{}</h1>\n",
        esc(&title),
        esc(&title)
    );
    let _ = write!(out, "<p style=\"{MUTED}\">");
    for (n, line) in source_lines(r).iter().enumerate() {
        if n > 0 {
            out.push_str("<br />");
        }
        out.push_str(&esc(line.trim()));
    }
    out.push_str("</p>\n");
    let style = if r.status.needs_attention.is_empty() {
        OK
    } else {
        WARN
    };
    let _ = writeln!(
        out,
        "<p style=\"{style}\"><strong>{}</strong></p>",
        esc(&super::sections::status_line(r))
    );

    let _ = writeln!(out, "<h2 style=\"{H2}\">Summary</h2>");
    key_values(&mut out, &summary_rows(r));

    let _ = writeln!(
        out,
        "<h2 style=\"{H2}\">Runs at a glance since {}</h2>",
        esc(&short_time(&r.period.since))
    );
    out.push_str(&chart::charts(r));

    let _ = writeln!(out, "<h2 style=\"{H2}\">Drift ({})</h2>", r.drift.count());
    if r.drift.count() == 0 {
        none(&mut out, "None: kafkaman matches Okta.");
    }
    for (title, items) in drift_groups(r) {
        if !items.is_empty() {
            let _ = writeln!(
                out,
                "<h3 style=\"{H3}\">{} ({})</h3>",
                esc(title),
                items.len()
            );
            people(&mut out, items);
        }
    }

    if !r.attention.is_empty() {
        let _ = writeln!(
            out,
            "<h2 style=\"{H2}\">Needs attention ({})</h2>",
            r.attention.len()
        );
        people(&mut out, &r.attention);
    }

    let _ = writeln!(
        out,
        "<h2 style=\"{H2}\">Held deactivations ({})</h2>",
        r.held.items.len()
    );
    if r.held.items.is_empty() {
        none(&mut out, "None.");
    } else {
        let _ = writeln!(
            out,
            "<p>More deactivations than this cycle&#39;s cap of {} allows: none is applied.</p>",
            r.held.cap
        );
        people(&mut out, &r.held.items);
        if let Some(how) = &r.held.release {
            let _ = writeln!(out, "<p><strong>To release:</strong> {}.</p>", prose(how));
        }
    }

    let _ = writeln!(
        out,
        "<h2 style=\"{H2}\">Pending invites ({})</h2>",
        r.invites.pending.len()
    );
    if r.invites.pending.is_empty() {
        none(&mut out, "None.");
    }
    for (title, items) in invite_groups(r) {
        if !items.is_empty() {
            let _ = writeln!(
                out,
                "<h3 style=\"{H3}\">{} ({})</h3>",
                esc(&title),
                items.len()
            );
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|i| {
                    vec![
                        i.email.clone(),
                        i.source.to_string(),
                        i.invited_by.clone().unwrap_or_default(),
                        short_time(&i.created_at),
                        i.age_days.map(|d| format!("{d} d")).unwrap_or_default(),
                    ]
                })
                .collect();
            table(
                &mut out,
                &[
                    ("Email", Text),
                    ("Source", Short),
                    ("Invited by", Text),
                    ("Created", Short),
                    ("Age", Short),
                ],
                &rows,
            );
        }
    }

    let _ = writeln!(
        out,
        "<h2 style=\"{H2}\">Not managed by scim-sync ({})</h2>",
        r.unmanaged.len()
    );
    if r.unmanaged.is_empty() {
        none(&mut out, "None.");
    } else {
        let rows: Vec<Vec<String>> = r
            .unmanaged
            .iter()
            .map(|u| {
                vec![
                    u.user_name.clone(),
                    u.membership.to_string(),
                    u.external_id.clone().unwrap_or_default(),
                ]
            })
            .collect();
        table(
            &mut out,
            &[("User", Text), ("Membership", Short), ("externalId", Text)],
            &rows,
        );
    }

    let _ = writeln!(
        out,
        "<h2 style=\"{H2}\">Okta users sharing an email ({})</h2>",
        r.shared_emails.len()
    );
    if r.shared_emails.is_empty() {
        none(&mut out, "None.");
    } else {
        let rows: Vec<Vec<String>> = r
            .shared_emails
            .iter()
            .map(|s| vec![s.user_name.clone(), s.describe()])
            .collect();
        table(&mut out, &[("Email", Text), ("Okta users", Text)], &rows);
    }

    let _ = writeln!(
        out,
        "<h2 style=\"{H2}\">Failures since {} ({})</h2>",
        esc(&short_time(&r.period.since)),
        r.failures.len()
    );
    if r.failures.is_empty() {
        none(&mut out, "None.");
    } else {
        let rows: Vec<Vec<String>> = r
            .failures
            .iter()
            .map(|f| {
                vec![
                    f.run_id.to_string(),
                    f.kind.clone(),
                    f.user_name.clone().unwrap_or_default(),
                    f.http_status.map(|s| s.to_string()).unwrap_or_default(),
                    f.error.clone(),
                    f.request_id.clone().unwrap_or_default(),
                ]
            })
            .collect();
        table(
            &mut out,
            &[
                ("Run", Short),
                ("Operation", Short),
                ("User", Text),
                ("HTTP", Short),
                ("Error", Text),
                ("Request id", Text),
            ],
            &rows,
        );
    }

    let _ = writeln!(
        out,
        "<h2 style=\"{H2}\">Runs since {} ({})</h2>",
        esc(&short_time(&r.period.since)),
        r.runs.len()
    );
    if r.runs.is_empty() {
        none(&mut out, "None: is the timer or daemon running?");
    } else {
        let rows: Vec<Vec<String>> = r
            .runs
            .iter()
            .map(|run| {
                vec![
                    run.id.to_string(),
                    short_time(&run.started_at),
                    run.trigger.to_string(),
                    run.kind
                        .map_or("-", crate::store::CycleKind::as_str)
                        .to_string(),
                    run.duration_ms
                        .map(human_duration)
                        .unwrap_or_else(|| "-".into()),
                    run.planned.to_string(),
                    run.applied.to_string(),
                    run.failed.to_string(),
                    run.held.to_string(),
                    run_result(run),
                ]
            })
            .collect();
        table(
            &mut out,
            &[
                ("Run", Short),
                ("Started", Short),
                ("Trigger", Short),
                ("Kind", Short),
                ("Took", Short),
                ("Planned", Short),
                ("Applied", Short),
                ("Failed", Short),
                ("Held", Short),
                ("Result", Short),
            ],
            &rows,
        );
    }
    out.push_str("</body>\n</html>\n");
    out
}
