//! The report as JSON: the model serialized as is (`docs/report-json.md`).

use super::model::Report;

pub(super) fn render(report: &Report) -> String {
    // Serializing plain data (strings, numbers, vectors) cannot fail.
    let mut s = serde_json::to_string_pretty(report).unwrap_or_default();
    s.push('\n');
    s
}
