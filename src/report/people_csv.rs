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

pub(super) fn render(r: &Report) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    // Writing records into a Vec cannot fail (no I/O); errors are ignored.
    let _ = w.write_record(HEADER);
    for p in &r.people {
        let _ = w.write_record([
            p.email.clone(),
            opt(&p.okta_id),
            opt(&p.okta_status),
            opt(&p.app_status),
            opt(&p.assignment),
            opt(&p.scim_id),
            opt(&p.membership),
            opt(&p.role),
            p.status.clone(),
            opt(&p.action),
            opt(&p.reason),
            opt(&p.pending_invite),
        ]);
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}
