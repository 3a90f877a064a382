//! Okta's System Log as an incremental cycle reads it: polling (`sortOrder=ASCENDING`,
//! no `until`), started once from a time and then resumed from the `next` link of the
//! last read, filtered on the event types that can change who is entitled or what is
//! sent. Events only name users or groups to re-read; they are never trusted for state.

use serde::{Deserialize, Serialize};

/// The event types that can change who is entitled or what is sent: app membership
/// (added, removed, restored, app username changed), user lifecycle, profile (incl.
/// login) changes, group membership and group app assignment. The list against Okta's
/// event-type catalog, with what is deliberately not polled and why, is in
/// `docs/sim-okta.md` ("System Log").
pub const ENTITLEMENT_EVENT_TYPES: &[&str] = &[
    "application.user_membership.add",
    "application.user_membership.remove",
    // An assignment suspended with its user (apps that keep a credential) comes back
    // when the user is reactivated (Okta support: "Why Event Type
    // application.user_membership.restore is Triggered").
    "application.user_membership.restore",
    "application.user_membership.change_username",
    "user.lifecycle.create",
    "user.lifecycle.activate",
    "user.lifecycle.deactivate",
    "user.lifecycle.suspend",
    "user.lifecycle.unsuspend",
    "user.lifecycle.reactivate",
    "user.lifecycle.delete.completed",
    "user.account.update_profile",
    "group.user_membership.add",
    "group.user_membership.remove",
    "group.application_assignment.add",
    "group.application_assignment.remove",
];

/// Events per System Log page (Okta's maximum).
pub const LOG_PAGE_LIMIT: u32 = 1000;

/// One System Log event, reduced to what names the users and groups it touched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEvent {
    pub uuid: String,
    /// As Okta sent it, e.g. `2026-12-02T15:00:00.123Z` (checked to be RFC 3339).
    pub published: String,
    pub event_type: String,
    pub targets: Vec<LogTarget>,
}

impl LogEvent {
    /// Ids of the targets of this `type` (`User`, `UserGroup`, `AppInstance`, …).
    pub fn target_ids<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.targets
            .iter()
            .filter(move |t| t.kind == kind)
            .map(|t| t.id.as_str())
    }

    /// The Okta users this event names (targets of type `User`; an `AppUser` target's
    /// id is the assignment's, not a user id).
    pub fn user_ids(&self) -> impl Iterator<Item = &str> {
        self.target_ids("User")
    }

    /// The groups this event names (targets of type `UserGroup`).
    pub fn group_ids(&self) -> impl Iterator<Item = &str> {
        self.target_ids("UserGroup")
    }
}

/// One entry of an event's `target[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogTarget {
    pub id: String,
    /// Okta's target `type`: `User`, `AppUser`, `AppInstance`, `UserGroup`, …
    pub kind: String,
    /// For users, the login.
    pub alternate_id: Option<String>,
}

/// Where a System Log read starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogStart {
    /// The first read: events published at or after this time (RFC 3339 with
    /// milliseconds, e.g. `2026-12-02T15:00:00.000Z`).
    Since(String),
    /// A `next` URL an earlier read returned. It must be on the configured org.
    Next(String),
}

/// What one [`poll_log`](super::OktaClient::poll_log) read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRead {
    /// Every event, in the order received (persistence order, not `published` order);
    /// an event repeated within this read is kept once.
    pub events: Vec<LogEvent>,
    /// The URL to persist and resume from (`LogStart::Next`).
    pub next: String,
    /// Pages requested.
    pub pages: usize,
    /// The read stopped at `max_pages` with more events to read.
    pub truncated: bool,
}

/// The `filter` selecting `types`: `eventType eq "…" or eventType eq "…"`.
pub(super) fn event_type_filter(types: &[&str]) -> String {
    types
        .iter()
        .map(|t| format!("eventType eq \"{t}\""))
        .collect::<Vec<_>>()
        .join(" or ")
}

#[derive(Deserialize)]
struct RawEvent {
    uuid: String,
    published: String,
    #[serde(rename = "eventType")]
    event_type: String,
    #[serde(default)]
    target: Option<Vec<RawTarget>>,
}

/// Every field of Okta's `LogTarget` is optional in its spec.
#[derive(Deserialize)]
struct RawTarget {
    #[serde(default)]
    id: Option<String>,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(rename = "alternateId", default)]
    alternate_id: Option<String>,
}

/// One LogEvent of a page, or why it isn't one.
pub fn parse_event(value: serde_json::Value) -> Result<LogEvent, String> {
    let raw: RawEvent =
        serde_json::from_value(value).map_err(|e| format!("not a LogEvent object: {e}"))?;
    // Events are deduplicated by uuid: an empty one would merge distinct events and lose
    // a change, so such a page is malformed.
    if raw.uuid.trim().is_empty() || raw.event_type.trim().is_empty() {
        return Err("an event without a uuid or eventType".into());
    }
    if chrono::DateTime::parse_from_rfc3339(&raw.published).is_err() {
        return Err(format!(
            "event {} has an unreadable published time {:?}",
            raw.uuid, raw.published
        ));
    }
    Ok(LogEvent {
        uuid: raw.uuid,
        published: raw.published,
        event_type: raw.event_type,
        // A target without an id or a type names nobody to re-read: it is left out, not
        // the whole page (the spec makes every LogTarget field optional).
        targets: raw
            .target
            .unwrap_or_default()
            .into_iter()
            .filter_map(|t| {
                Some(LogTarget {
                    id: t.id.filter(|id| !id.is_empty())?,
                    kind: t.kind.filter(|k| !k.is_empty())?,
                    alternate_id: t.alternate_id,
                })
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_event_without_a_uuid_is_refused() {
        let e = parse_event(json!({
            "uuid": "", "published": "2026-12-02T15:00:00.123Z",
            "eventType": "user.lifecycle.suspend", "target": []
        }));
        assert!(e.is_err(), "{e:?}");
    }

    #[test]
    fn an_event_names_its_users_and_groups() {
        let e = parse_event(json!({
            "uuid": "u1", "published": "2026-12-02T15:00:00.123Z",
            "eventType": "group.user_membership.add",
            "target": [
                {"id": "00u1", "type": "User", "alternateId": "a@x.com"},
                {"id": "00g1", "type": "UserGroup", "alternateId": null},
                {"id": "0ua1", "type": "AppUser"}
            ]
        }))
        .unwrap();
        assert_eq!(e.user_ids().collect::<Vec<_>>(), ["00u1"]);
        assert_eq!(e.group_ids().collect::<Vec<_>>(), ["00g1"]);
        assert_eq!(e.targets[0].alternate_id.as_deref(), Some("a@x.com"));
        assert_eq!(e.targets[1].alternate_id, None);
    }

    #[test]
    fn events_without_targets_or_with_bad_fields() {
        let ok = parse_event(json!({"uuid": "u", "published": "2026-12-02T15:00:00.000Z",
            "eventType": "user.lifecycle.create", "target": null}))
        .unwrap();
        assert!(ok.targets.is_empty());
        assert!(
            parse_event(json!({"uuid": "u", "published": "yesterday", "eventType": "x"}))
                .unwrap_err()
                .contains("published")
        );
        assert!(parse_event(json!({"uuid": "u", "eventType": "x"})).is_err());
        // Targets without an id or a type (the spec allows them) are left out.
        let e = parse_event(json!({"uuid": "u", "published": "2026-12-02T15:00:00.000Z",
            "eventType": "x", "target": [{"type": "User"}, {"id": "00u1"},
            {"id": "00u2", "type": "User"}]}))
        .unwrap();
        assert_eq!(e.user_ids().collect::<Vec<_>>(), ["00u2"]);
    }

    #[test]
    fn the_filter_ors_every_type() {
        let f = event_type_filter(&["a.b", "c.d"]);
        assert_eq!(f, r#"eventType eq "a.b" or eventType eq "c.d""#);
    }
}
