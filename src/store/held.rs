//! The deactivations held until a human releases them. A hold is sticky: every applying
//! cycle replaces the set with what its plan held (the planner keeps earlier holds held
//! unless released), so an entry leaves only when released and applied, or when the
//! deactivation is no longer planned. `held_since` survives from the first cycle that
//! held the member.

use std::collections::HashSet;

use rusqlite::params;
use serde::Serialize;

use super::{Store, StoreError, now};
use scim_sync_plan::Operation;

/// One held deactivation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeldDeactivation {
    pub scim_id: String,
    pub okta_id: Option<String>,
    pub user_name: String,
    pub reason: String,
    /// The run that first held it.
    pub run_id: i64,
    /// When it was first held (RFC 3339).
    pub held_since: String,
}

impl Store {
    /// Replaces the held set with what an applying run's plan held; members held before
    /// keep their `held_since`.
    pub fn replace_held(&self, run_id: i64, held: &[Operation]) -> Result<(), StoreError> {
        self.replace_held_sql(run_id, held).map_err(|e| self.sql(e))
    }

    fn replace_held_sql(&self, run_id: i64, held: &[Operation]) -> rusqlite::Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let keep: HashSet<&str> = held.iter().filter_map(|o| o.scim_id()).collect();
        let existing: Vec<String> = {
            let mut st = tx.prepare("SELECT scim_id FROM held_deactivations")?;
            st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?
        };
        for id in existing.iter().filter(|id| !keep.contains(id.as_str())) {
            tx.execute(
                "DELETE FROM held_deactivations WHERE scim_id = ?1",
                params![id],
            )?;
        }
        {
            let mut ins = tx.prepare(
                "INSERT INTO held_deactivations
                 (scim_id, okta_id, user_name, reason, run_id, held_since)
                 VALUES (?1,?2,?3,?4,?5,?6)
                 ON CONFLICT (scim_id) DO UPDATE SET okta_id = excluded.okta_id,
                 user_name = excluded.user_name, reason = excluded.reason",
            )?;
            let at = now();
            for o in held {
                let Some(scim_id) = &o.scim_id() else {
                    continue;
                };
                ins.execute(params![
                    scim_id,
                    o.okta_id(),
                    o.user_name(),
                    o.reason(),
                    run_id,
                    at
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The deactivations held now, oldest hold first.
    pub fn held_deactivations(&self) -> Result<Vec<HeldDeactivation>, StoreError> {
        self.held_deactivations_sql().map_err(|e| self.sql(e))
    }

    fn held_deactivations_sql(&self) -> rusqlite::Result<Vec<HeldDeactivation>> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT scim_id, okta_id, user_name, reason, run_id, held_since
             FROM held_deactivations ORDER BY held_since, user_name",
        )?;
        let rows = st.query_map([], |r| {
            Ok(HeldDeactivation {
                scim_id: r.get(0)?,
                okta_id: r.get(1)?,
                user_name: r.get(2)?,
                reason: r.get(3)?,
                run_id: r.get(4)?,
                held_since: r.get(5)?,
            })
        })?;
        rows.collect::<Result<_, _>>()
    }

    /// The SCIM ids of the deactivations held now (the planner's `previously_held`).
    pub fn held_scim_ids(&self) -> Result<HashSet<String>, StoreError> {
        self.held_scim_ids_sql().map_err(|e| self.sql(e))
    }

    fn held_scim_ids_sql(&self) -> rusqlite::Result<HashSet<String>> {
        Ok(self
            .held_deactivations_sql()?
            .into_iter()
            .map(|h| h.scim_id)
            .collect())
    }

    /// Drops these members' holds: a person released them and the deactivation was
    /// carried out (`apply PLAN`).
    pub fn drop_held(&self, scim_ids: &[String]) -> Result<(), StoreError> {
        let conn = self.conn();
        for id in scim_ids {
            conn.execute(
                "DELETE FROM held_deactivations WHERE scim_id = ?1",
                params![id],
            )
            .map_err(|e| self.sql(e))?;
        }
        Ok(())
    }
}
