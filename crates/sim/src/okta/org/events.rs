//! The System Log events the org emits on a change: the targets (user, app, group,
//! assignment) as Okta lists them, and the event itself, done by the simulator's admin.

use chrono::Duration;
use serde_json::{Value, json};

use super::{ADMIN_ID, LogEntry, Org, Ts, fmt_ts, random_base62};

const ADMIN_LOGIN: &str = "admin@sim.okta.example";

impl Org {
    pub(super) fn user_target(&self, uid: &str) -> Value {
        match self.users.get(uid) {
            Some(u) => json!({
                "id": u.id,
                "type": "User",
                "alternateId": u.login(),
                "displayName": u.display_name(),
            }),
            None => json!({"id": uid, "type": "User"}),
        }
    }

    /// An app membership event's targets, as Okta lists them: the assignment
    /// (`AppUser`, its own `0ua…` id), the app, then the user.
    pub(super) fn app_membership_targets(&self, uid: &str) -> Vec<Value> {
        let mut targets = Vec::with_capacity(3);
        if let Some(row) = self.app_users.get(uid) {
            let mut t = self.user_target(uid);
            t["id"] = Value::String(row.id.clone());
            t["type"] = Value::String("AppUser".into());
            targets.push(t);
        }
        targets.push(self.app_target());
        targets.push(self.user_target(uid));
        targets
    }

    pub(super) fn app_target(&self) -> Value {
        json!({
            "id": self.app_id,
            "type": "AppInstance",
            "alternateId": self.app_label,
            "displayName": self.app_label,
        })
    }

    pub(super) fn group_target(&self, gid: &str) -> Value {
        let name = self.groups.get(gid).map(|g| g.name.as_str()).unwrap_or("");
        json!({"id": gid, "type": "UserGroup", "alternateId": "unknown", "displayName": name})
    }

    /// Appends a System Log event done by the simulator's admin. It becomes visible to
    /// `/api/v1/logs` after `log_delay`, and its `published` is up to `log_jitter` before
    /// `at`, so that an event persisted later may have been published earlier.
    pub(super) fn emit(
        &mut self,
        at: Ts,
        event_type: &str,
        message: &str,
        legacy: &str,
        targets: Vec<Value>,
    ) {
        let seq = self.log.len() as u64 + 1;
        let jitter_ms = self.log_jitter.num_milliseconds().max(0);
        let published = if jitter_ms > 0 {
            at - Duration::milliseconds(fastrand::i64(0..=jitter_ms))
        } else {
            at
        };
        let event = json!({
            "uuid": uuid::Uuid::new_v4().to_string(),
            "published": fmt_ts(&published),
            "eventType": event_type,
            "legacyEventType": legacy,
            "version": "0",
            "severity": "INFO",
            "displayMessage": message,
            "actor": {
                "id": ADMIN_ID,
                "type": "User",
                "alternateId": ADMIN_LOGIN,
                "displayName": "Sim Admin",
            },
            "client": {
                "device": "Unknown",
                "ipAddress": "127.0.0.1",
                "userAgent": {"rawUserAgent": "scim-sync-sim", "os": "Unknown", "browser": "UNKNOWN"},
            },
            "authenticationContext": {"authenticationStep": 0, "externalSessionId": "trssimadmin"},
            "outcome": {"result": "SUCCESS"},
            "target": targets,
            "transaction": {"type": "WEB", "id": random_base62(27), "detail": {}},
            "debugContext": {"debugData": {}},
            "request": {"ipChain": [{"ip": "127.0.0.1", "version": "V4"}]},
        });
        self.log.push(LogEntry {
            seq,
            published,
            visible_at: at + self.log_delay,
            event,
        });
    }

    /// An event with targets as given (for targets Okta's spec allows but the admin
    /// operations here don't make).
    pub fn emit_raw(&mut self, at: Ts, event_type: &str, targets: Vec<Value>) {
        self.emit(at, event_type, event_type, event_type, targets);
    }

    pub(super) fn lifecycle_event(
        &mut self,
        uid: &str,
        at: Ts,
        event_type: &str,
        message: &str,
        legacy: &str,
    ) {
        let t = vec![self.user_target(uid)];
        self.emit(at, event_type, message, legacy, t);
    }
}
