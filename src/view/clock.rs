//! The services' clocks as the reads saw them: kafkaman's change clock (where the next
//! read of changed members starts) and the times both sides stamp.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::kafkaman::{KafkamanClient, ScimUser};

/// Where the next read of kafkaman's changes starts: kafkaman's own clock when this read
/// began (its `Date`, read back by an overlap next time), so that a team whose members
/// all changed long ago isn't read again and again; without a `Date`, the newest
/// `meta.lastModified` seen (`newest_read`, see [`newest_modified`]). Never earlier than
/// the stored clock.
pub fn team_clock(
    kafkaman: &KafkamanClient,
    read_started: std::time::Instant,
    stored: Option<&str>,
    newest_read: Option<DateTime<Utc>>,
) -> Option<String> {
    let stored = stored.and_then(parse_time);
    let at_start = kafkaman
        .server_time()
        .and_then(|now| now.checked_sub(read_started.elapsed()))
        .map(DateTime::<Utc>::from);
    match at_start {
        Some(t) => Some(format_time(stored.map_or(t, |s| s.max(t)))),
        None => stored.max(newest_read).map(format_time),
    }
}

/// The newest `meta.lastModified` of these users.
pub fn newest_modified(users: &[ScimUser]) -> Option<DateTime<Utc>> {
    users
        .iter()
        .filter_map(|u| u.last_modified.as_deref().and_then(parse_time))
        .max()
}

pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// RFC 3339 with milliseconds and `Z`, the form both services take.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}
