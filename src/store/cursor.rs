//! Where the next incremental cycle resumes: the Okta System Log cursor, kafkaman's change
//! clock, when the last full cycle ran, and whether the next cycle must be full. Saved in
//! the same transaction that ends the run (and with the snapshot it describes), so a
//! crash can only make the next cycle read the same changes again, never skip one.

use rusqlite::{OptionalExtension, params};

use super::run::{CycleKind, RunResult, RunSummary};
use super::snapshot::{
    forget_our_deactivation_if_active, insert_invite_row, upsert_member_row, upsert_okta_user_row,
};
use super::{Store, StoreError, now};
use scim_sync_plan::{AssignedUser, Member, PendingInvite, email_key};

/// The resume points of incremental cycles (all None on a new database).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncCursor {
    /// The System Log's `next` URL to resume polling from (Okta's opaque cursor).
    pub okta_log_next: Option<String>,
    /// Where polling starts when there is no `next` yet (Okta's clock, RFC 3339).
    pub okta_log_since: Option<String>,
    /// kafkaman's clock: the newest `meta.lastModified` seen in a team read.
    pub team_modified: Option<String>,
    /// When the last full cycle that applied ended (RFC 3339, this host's clock: used
    /// only to tell when the next one is due).
    pub last_full_at: Option<String>,
    /// An incremental read failed or found too much: the next cycle is full.
    pub needs_full: bool,
    /// Okta refused the System Log (403: the service app lacks `okta.logs.read` or the
    /// admin role to read it): cycles are full, without trying the log, until this time
    /// (RFC 3339, this host's clock).
    pub log_unavailable_until: Option<String>,
    /// What the stored Okta rows were converted with (where the userName and names
    /// come from): a cycle under another mapping is full.
    pub mapping: Option<String>,
    /// Set by an applying cycle whose plan wrote nothing and held nothing: the policy it
    /// was planned under. A later cycle that finds nothing changed on either side under
    /// the same policy would plan the same nothing, so it skips the snapshot.
    pub quiet_under: Option<String>,
}

const KEYS: [&str; 8] = [
    "okta_log_next",
    "okta_log_since",
    "team_modified",
    "last_full_at",
    "needs_full",
    "log_unavailable_until",
    "mapping",
    "quiet_under",
];

/// Changes an incremental cycle read, applied to the snapshot with the run's end.
#[derive(Debug, Clone, Default)]
pub struct SnapshotChanges {
    /// Assigned users re-read from Okta (replace their rows).
    pub okta_upserts: Vec<AssignedUser>,
    /// Okta ids re-read and found not assigned (their rows go).
    pub okta_removals: Vec<String>,
    /// Members kafkaman changed since the last read.
    pub members: Vec<Member>,
    /// Pending invites re-read for these emails: (email, the invites it has now).
    pub invites: Vec<(String, Vec<PendingInvite>)>,
    /// The whole pending list, re-read (replaces every stored invite).
    pub all_invites: Option<Vec<PendingInvite>>,
}

impl Store {
    pub fn sync_cursor(&self) -> Result<SyncCursor, StoreError> {
        let conn = self.conn();
        let get = |key: &str| -> Result<Option<String>, StoreError> {
            conn.query_row(
                "SELECT value FROM sync_cursor WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql(e))
        };
        Ok(SyncCursor {
            okta_log_next: get("okta_log_next")?,
            okta_log_since: get("okta_log_since")?,
            team_modified: get("team_modified")?,
            last_full_at: get("last_full_at")?,
            needs_full: get("needs_full")?.as_deref() == Some("1"),
            log_unavailable_until: get("log_unavailable_until")?,
            mapping: get("mapping")?,
            quiet_under: get("quiet_under")?,
        })
    }

    /// Records which kind of cycle a run is, as soon as it is chosen (a run that fails
    /// afterwards still says what it was).
    pub fn set_run_kind(&self, run_id: i64, kind: CycleKind) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "UPDATE runs SET kind = ?2 WHERE id = ?1",
                params![run_id, kind.as_str()],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// Forgets that the last cycle planned nothing: a real run about to write (or die
    /// half way) must not leave it for the next cycle to trust. The run's end saves it
    /// again when that run plans nothing.
    pub fn forget_quiet(&self) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM sync_cursor WHERE key = 'quiet_under'", [])
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// Forgets the plan basis: the snapshot is about to change otherwise than the last
    /// cycle left it (a real run's writes). The run's end leaves a new one.
    pub fn forget_plan_basis(&self) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM plan_basis", [])
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// Marks the next cycle as full (an incremental read failed), keeping the rest.
    pub fn require_full_cycle(&self) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO sync_cursor (key, value) VALUES ('needs_full', '1')
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// Ends a run like [`Store::finish_run`], and in the same transaction records its
    /// kind, applies what an incremental read changed to the snapshot, and saves where
    /// the next cycle resumes.
    pub fn finish_run_with_cursor(
        &self,
        run_id: i64,
        result: RunResult,
        summary: &RunSummary,
        kind: CycleKind,
        changes: Option<&SnapshotChanges>,
        cursor: Option<&SyncCursor>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.sql(e))?;
        let at = now();
        if let Some(c) = changes {
            self.write_changes(&tx, c, &at)?;
        }
        if let Some(c) = cursor {
            let values = [
                c.okta_log_next.clone(),
                c.okta_log_since.clone(),
                c.team_modified.clone(),
                c.last_full_at.clone(),
                c.needs_full.then(|| "1".to_string()),
                c.log_unavailable_until.clone(),
                c.mapping.clone(),
                c.quiet_under.clone(),
            ];
            for (key, value) in KEYS.iter().zip(values) {
                match value {
                    Some(v) => tx.execute(
                        "INSERT INTO sync_cursor (key, value) VALUES (?1, ?2)
                         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        params![key, v],
                    ),
                    None => tx.execute("DELETE FROM sync_cursor WHERE key = ?1", params![key]),
                }
                .map_err(|e| self.sql(e))?;
            }
        }
        tx.execute(
            "UPDATE runs SET ended_at = ?2, result = ?3, summary = ?4, error = NULL, kind = ?5
             WHERE id = ?1",
            params![
                run_id,
                at,
                result.as_str(),
                super::journal::summary_json(summary),
                kind.as_str()
            ],
        )
        .map_err(|e| self.sql(e))?;
        tx.commit().map_err(|e| self.sql(e))?;
        self.release_dry_run_guard();
        Ok(())
    }

    /// Applies what an incremental read found changed (before the plan is applied, so
    /// that the apply's own results, written as it goes, come after it).
    pub fn apply_snapshot_changes(&self, changes: &SnapshotChanges) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.sql(e))?;
        self.write_changes(&tx, changes, &now())?;
        tx.commit().map_err(|e| self.sql(e))
    }

    fn write_changes(
        &self,
        tx: &rusqlite::Transaction<'_>,
        c: &SnapshotChanges,
        at: &str,
    ) -> Result<(), StoreError> {
        for u in &c.okta_upserts {
            upsert_okta_user_row(tx, u, at).map_err(|e| self.sql(e))?;
        }
        for id in &c.okta_removals {
            tx.execute("DELETE FROM okta_users WHERE okta_id = ?1", params![id])
                .map_err(|e| self.sql(e))?;
        }
        for m in &c.members {
            upsert_member_row(tx, m, at).map_err(|e| self.sql(e))?;
            forget_our_deactivation_if_active(tx, m).map_err(|e| self.sql(e))?;
        }
        if let Some(all) = &c.all_invites {
            tx.execute("DELETE FROM invites", [])
                .map_err(|e| self.sql(e))?;
            for i in all {
                insert_invite_row(tx, i, at).map_err(|e| self.sql(e))?;
            }
        }
        if !c.invites.is_empty() {
            // Emails compare as one mailbox (plan::email_key), which SQL can't do.
            let stored: Vec<(String, String)> = {
                let mut st = tx
                    .prepare("SELECT id, email FROM invites")
                    .map_err(|e| self.sql(e))?;
                let rows = st
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(|e| self.sql(e))?;
                rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))?
            };
            for (email, invites) in &c.invites {
                let key = email_key(email);
                for (id, stored_email) in &stored {
                    if email_key(stored_email) == key {
                        tx.execute("DELETE FROM invites WHERE id = ?1", params![id])
                            .map_err(|e| self.sql(e))?;
                    }
                }
                for i in invites {
                    insert_invite_row(tx, i, at).map_err(|e| self.sql(e))?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{RunMode, Trigger};

    #[test]
    fn the_cursor_is_saved_with_the_run_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state.db");
        let store = Store::open(&db).unwrap();
        assert_eq!(store.sync_cursor().unwrap(), SyncCursor::default());
        let run = store.start_run(Trigger::Manual, RunMode::Apply).unwrap();
        let cursor = SyncCursor {
            okta_log_next: Some("https://x.okta.com/api/v1/logs?after=abc".into()),
            team_modified: Some("2026-12-02T15:00:00.123Z".into()),
            last_full_at: Some("2026-12-02T15:00:01Z".into()),
            ..Default::default()
        };
        store
            .finish_run_with_cursor(
                run,
                RunResult::Success,
                &RunSummary::default(),
                CycleKind::Full,
                None,
                Some(&cursor),
            )
            .unwrap();
        drop(store);
        let store = Store::open(&db).unwrap();
        assert_eq!(store.sync_cursor().unwrap(), cursor);
        let runs = store.runs(1).unwrap();
        assert_eq!(runs[0].kind, Some(CycleKind::Full));
        store.require_full_cycle().unwrap();
        assert!(store.sync_cursor().unwrap().needs_full);
    }
}
