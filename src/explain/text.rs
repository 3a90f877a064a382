//! `scim-sync explain` for a person at a terminal.

use std::fmt::Write;

use super::{DecisionCategory, Explanation};
use crate::escape::text as esc;
use crate::report::short_time;
use scim_sync_plan::AssignmentScope;

/// The explanation as text: Okta, kafkaman, the last operations, what would happen now.
pub fn text(e: &Explanation) -> String {
    let mut out = format!("Explain {}\n", esc(&e.query));
    let row = |out: &mut String, k: &str, v: &str| {
        // Every value may quote Okta or kafkaman data: never shown raw.
        let _ = writeln!(out, "  {k:<14}{}", esc(v));
    };
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());

    out.push_str("\nOkta\n");
    if let Some(err) = &e.okta.error {
        row(&mut out, "Error", err);
    }
    if !e.okta.found {
        if e.okta.error.is_none() {
            row(&mut out, "User", "no such user in the Okta org");
        }
    } else {
        row(
            &mut out,
            "User",
            &format!(
                "{} ({})",
                opt(&e.okta.id),
                e.okta.status.as_ref().map_or("-", |s| s.as_str())
            ),
        );
        row(&mut out, "Login", &opt(&e.okta.login));
        row(
            &mut out,
            "Name",
            &format!("{} {}", opt(&e.okta.first_name), opt(&e.okta.last_name)),
        );
        row(&mut out, "userName", &opt(&e.okta.user_name));
        if let Some(app) = &e.okta.app_username {
            let differs = e
                .okta
                .email
                .as_deref()
                .is_some_and(|email| !scim_sync_plan::same_email(app, email));
            let note = if differs {
                format!("{} (not the email {})", esc(app), opt(&e.okta.email))
            } else {
                esc(app).to_string()
            };
            row(&mut out, "App username", &note);
        }
        match &e.okta.assignment {
            None => row(&mut out, "Assignment", "not assigned to the app"),
            Some(a) => {
                let how = if a.scope == AssignmentScope::Group {
                    "through a group"
                } else {
                    "directly"
                };
                row(&mut out, "Assignment", &format!("{} ({how})", a.status));
                let groups = if let Some(err) = &a.groups_error {
                    format!("unknown: {err}")
                } else if a.groups.is_empty() {
                    "none of the app's groups".into()
                } else {
                    a.groups
                        .iter()
                        .map(|g| format!("{} ({})", g.name, g.id))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                row(&mut out, "App groups", &groups);
            }
        }
    }

    out.push_str("\nkafkaman\n");
    if let Some(err) = &e.member_error {
        row(&mut out, "Error", err);
    }
    match &e.member {
        None => {
            if e.member_error.is_none() {
                row(&mut out, "Member", "not a member of the team");
            }
        }
        Some(m) => {
            row(
                &mut out,
                "Member",
                &format!(
                    "{} ({}, {})",
                    m.user_name,
                    m.membership,
                    if m.active { "active" } else { "inactive" }
                ),
            );
            row(&mut out, "SCIM id", &m.scim_id);
            row(
                &mut out,
                "Name",
                &format!("{} {}", opt(&m.given_name), opt(&m.family_name)),
            );
            row(&mut out, "Role", &opt(&m.role));
            row(&mut out, "externalId", &opt(&m.external_id));
        }
    }
    match &e.link {
        Some(l) => row(
            &mut out,
            "Link",
            &format!("Okta {} = member {} (recorded)", l.okta_id, l.scim_id),
        ),
        None => row(&mut out, "Link", "none recorded"),
    }
    if e.invites.is_empty() {
        row(&mut out, "Invites", "none pending");
    }
    for i in &e.invites {
        row(
            &mut out,
            "Invite",
            &format!(
                "{} ({} invite{}, {})",
                i.id,
                i.source,
                i.invited_by
                    .as_deref()
                    .map(|b| format!(" from {b}"))
                    .unwrap_or_default(),
                short_time(&i.created_at)
            ),
        );
    }

    let _ = writeln!(out, "\nLast operations ({})", e.operations.len());
    if e.operations.is_empty() {
        out.push_str("  none recorded\n");
    }
    for o in &e.operations {
        let _ = writeln!(
            out,
            "  {} (run {}, {})",
            crate::history::op_line(o),
            o.run_id,
            short_time(&o.started_at)
        );
        let _ = writeln!(out, "      reason: {}", esc(&o.reason));
        if let Some(err) = &o.error {
            let _ = writeln!(out, "      error: {}", esc(err));
        }
    }

    let _ = writeln!(out, "\nWhat scim-sync would do now ({})", e.decision_basis);
    for d in &e.decision {
        let what = match (d.category, d.action) {
            (DecisionCategory::Operation, Some(a)) => a.to_string(),
            (DecisionCategory::Held, Some(a)) => format!("{a}, held"),
            (DecisionCategory::None, _) => "nothing".into(),
            (c, _) => c.to_string(),
        };
        let _ = writeln!(out, "  {what}: {}", esc(&d.reason));
        let _ = writeln!(out, "      rule: {}", esc(&d.rule));
    }
    out
}
