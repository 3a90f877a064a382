//! Reads of the snapshot that don't load it: counts, one id's rows by index, and rows
//! streamed one at a time (a full cycle compares the stored rows with its listing
//! without holding both).

use std::collections::HashSet;

use rusqlite::params;

use super::snapshot::{MEMBER_COLUMNS, OKTA_USER_COLUMNS, member_row, okta_user_row};
use super::{Store, StoreError};
use scim_sync_plan::{AssignedUser, Member};

impl Store {
    /// How many Okta users the last complete read (with re-reads since) holds.
    pub fn okta_user_count(&self) -> Result<usize, StoreError> {
        let n: i64 = self
            .conn()
            .query_row("SELECT count(*) FROM okta_users", [], |r| r.get(0))
            .map_err(|e| self.sql(e))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Whether the snapshot holds this Okta user as assigned.
    pub fn has_okta_user(&self, okta_id: &str) -> Result<bool, StoreError> {
        self.conn()
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM okta_users WHERE okta_id = ?1)",
                params![okta_id],
                |r| r.get(0),
            )
            .map_err(|e| self.sql(e))
    }

    /// Those of `ids` the snapshot knows: assigned, linked, or a member's externalId
    /// (three indexed lookups each).
    pub fn known_okta_ids<'a>(
        &self,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<HashSet<String>, StoreError> {
        let conn = self.conn();
        let mut st = conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM okta_users WHERE okta_id = ?1)
                     OR EXISTS (SELECT 1 FROM links WHERE okta_id = ?1)
                     OR EXISTS (SELECT 1 FROM members WHERE external_id = ?1)",
            )
            .map_err(|e| self.sql(e))?;
        let mut known = HashSet::new();
        for id in ids {
            let found: bool = st
                .query_row(params![id], |r| r.get(0))
                .map_err(|e| self.sql(e))?;
            if found {
                known.insert(id.to_string());
            }
        }
        Ok(known)
    }

    /// Every stored Okta user, one at a time, in Okta id order.
    pub fn for_each_okta_user(&self, mut f: impl FnMut(AssignedUser)) -> Result<(), StoreError> {
        let conn = self.conn();
        let mut st = conn
            .prepare(&format!(
                "SELECT {OKTA_USER_COLUMNS} FROM okta_users ORDER BY okta_id"
            ))
            .map_err(|e| self.sql(e))?;
        let rows = st.query_map([], okta_user_row).map_err(|e| self.sql(e))?;
        for row in rows {
            f(row.map_err(|e| self.sql(e))?);
        }
        Ok(())
    }

    /// Every stored member, one at a time.
    pub fn for_each_member(&self, mut f: impl FnMut(Member)) -> Result<(), StoreError> {
        let conn = self.conn();
        let mut st = conn
            .prepare(&format!("SELECT {MEMBER_COLUMNS} FROM members"))
            .map_err(|e| self.sql(e))?;
        let rows = st.query_map([], member_row).map_err(|e| self.sql(e))?;
        for row in rows {
            f(row.map_err(|e| self.sql(e))?);
        }
        Ok(())
    }
}
