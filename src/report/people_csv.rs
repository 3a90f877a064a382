//! The CSV report: one row per person with a stable header (`HEADER`), for
//! spreadsheets and scripts. Columns are only ever added at the end.

use super::Report;

/// The header, in column order.
pub const HEADER: [&str; 12] = [
    "email",
    "okta_id",
    "okta_status",
    "app_status",
    "assignment",
    "scim_id",
    "membership",
    "role",
    "status",
    "action",
    "reason",
    "pending_invite",
];

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR) gets a
/// leading `'`: Okta profile values are user-controlled (OWASP "CSV injection").
fn cell(value: String) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value
    }
}

pub(super) fn render(r: &Report) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let opt = |v: Option<&str>| cell(v.unwrap_or_default().to_string());
    // Writing records into a Vec cannot fail (no I/O); errors are ignored.
    let _ = w.write_record(HEADER);
    for p in &r.people {
        let _ = w.write_record([
            cell(p.email.clone()),
            opt(p.okta_id.as_deref()),
            opt(p.okta_status.as_ref().map(|s| s.as_str())),
            opt(p.app_status.as_ref().map(|s| s.as_str())),
            opt(p.assignment.as_ref().map(|s| s.as_str())),
            opt(p.scim_id.as_deref()),
            opt(p.membership.as_ref().map(|m| m.as_str())),
            opt(p.role.as_deref()),
            cell(p.status.as_str().to_string()),
            opt(p.action.map(|a| a.as_str())),
            opt(p.reason.as_deref()),
            opt(p.pending_invite.as_ref().map(|s| s.as_str())),
        ]);
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn formula_like_cells_are_defused() {
        assert_eq!(cell("=HYPERLINK(\"x\")".into()), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("@SUM(A1)".into()), "'@SUM(A1)");
        assert_eq!(cell("-1+1".into()), "'-1+1");
        assert_eq!(cell("ada@example.com".into()), "ada@example.com");
    }
}
