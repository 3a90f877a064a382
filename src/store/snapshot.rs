//! The snapshot: the team (members, pending invites), the links Okta id ↔ SCIM id, and
//! the last complete Okta read with its lookups, so that reports and `explain` plan
//! from the same facts the last cycle had.

use std::collections::{HashMap, HashSet};

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError, now};
use scim_sync_plan::{AssignedUser, Member, OktaLookup, PendingInvite};

impl Store {
    /// Replaces the team snapshot (members and pending invites) with a fresh read.
    pub fn replace_team(
        &self,
        members: &[Member],
        invites: &[PendingInvite],
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.sql(e))?;
        let at = now();
        tx.execute("DELETE FROM members", [])
            .map_err(|e| self.sql(e))?;
        tx.execute("DELETE FROM invites", [])
            .map_err(|e| self.sql(e))?;
        for m in members {
            upsert_member_row(&tx, m, &at).map_err(|e| self.sql(e))?;
        }
        for i in invites {
            insert_invite_row(&tx, i, &at).map_err(|e| self.sql(e))?;
        }
        // Links to members that no longer exist in kafkaman are dropped.
        tx.execute(
            "DELETE FROM links WHERE scim_id NOT IN (SELECT scim_id FROM members)",
            [],
        )
        .map_err(|e| self.sql(e))?;
        // Our deactivations of members now active (reactivated by someone) or gone.
        tx.execute(
            "DELETE FROM our_deactivations
             WHERE scim_id NOT IN (SELECT scim_id FROM members WHERE active = 0)",
            [],
        )
        .map_err(|e| self.sql(e))?;
        tx.commit().map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// Records the last complete Okta read.
    pub fn replace_okta_users(&self, users: &[AssignedUser]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.sql(e))?;
        let at = now();
        tx.execute("DELETE FROM okta_users", [])
            .map_err(|e| self.sql(e))?;
        for u in users {
            upsert_okta_user_row(&tx, u, &at).map_err(|e| self.sql(e))?;
        }
        tx.commit().map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// Records the lookups of the last complete Okta read.
    pub fn replace_okta_lookups(
        &self,
        lookups: &HashMap<String, OktaLookup>,
    ) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM okta_lookups", [])
            .map_err(|e| self.sql(e))?;
        self.insert_okta_lookups(lookups)
    }

    /// Adds lookups (replacing those of the same ids).
    pub(super) fn insert_okta_lookups(
        &self,
        lookups: &HashMap<String, OktaLookup>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.sql(e))?;
        let at = now();
        {
            let mut ins = tx
                .prepare(
                    "INSERT OR REPLACE INTO okta_lookups (okta_id, outcome, status, reason, read_at)
                 VALUES (?1,?2,?3,?4,?5)",
                )
                .map_err(|e| self.sql(e))?;
            for (id, l) in lookups {
                let (outcome, status, reason) = match l {
                    OktaLookup::Found { status } => ("found", Some(status.as_str()), None),
                    OktaLookup::NotFound => ("not_found", None, None),
                    OktaLookup::Failed { reason } => ("failed", None, Some(reason.as_str())),
                };
                ins.execute(params![id, outcome, status, reason, at])
                    .map_err(|e| self.sql(e))?;
            }
        }
        tx.commit().map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// The lookups of the last complete Okta read.
    pub fn okta_lookups(&self) -> Result<HashMap<String, OktaLookup>, StoreError> {
        let conn = self.conn();
        let mut st = conn
            .prepare("SELECT okta_id, outcome, status, reason FROM okta_lookups")
            .map_err(|e| self.sql(e))?;
        let rows = st.query_map([], lookup_row).map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }

    pub fn members(&self) -> Result<Vec<Member>, StoreError> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT scim_id, user_name, given_name, family_name, external_id, active, membership, role
             FROM members ORDER BY lower(user_name)",
        ).map_err(|e| self.sql(e))?;
        let rows = st.query_map([], member_row).map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }

    /// One member's row, by SCIM id (an indexed read: a quiet cycle compares what
    /// kafkaman returned with it rather than loading the team).
    pub fn member(&self, scim_id: &str) -> Result<Option<Member>, StoreError> {
        let conn = self.conn();
        conn.query_row(
            "SELECT scim_id, user_name, given_name, family_name, external_id, active, membership, role
             FROM members WHERE scim_id = ?1",
            rusqlite::params![scim_id],
            member_row,
        )
        .optional()
        .map_err(|e| self.sql(e))
    }

    pub fn invites(&self) -> Result<Vec<PendingInvite>, StoreError> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT id, email, source, invited_by, created_at FROM invites ORDER BY lower(email), id",
        ).map_err(|e| self.sql(e))?;
        let rows = st
            .query_map([], |r| {
                Ok(PendingInvite {
                    id: r.get(0)?,
                    email: r.get(1)?,
                    source: r.get::<_, String>(2)?.into(),
                    invited_by: r.get(3)?,
                    created_at: r.get(4)?,
                })
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }

    pub fn okta_users(&self) -> Result<Vec<AssignedUser>, StoreError> {
        let conn = self.conn();
        let mut st = conn
            .prepare(
                "SELECT okta_id, okta_status, app_status, scope, user_name, given_name, family_name
             FROM okta_users ORDER BY okta_id",
            )
            .map_err(|e| self.sql(e))?;
        let rows = st.query_map([], okta_user_row).map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }

    /// Okta id -> SCIM id.
    pub fn links(&self) -> Result<HashMap<String, String>, StoreError> {
        let conn = self.conn();
        let mut st = conn
            .prepare("SELECT okta_id, scim_id FROM links")
            .map_err(|e| self.sql(e))?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }

    /// Records many links in one transaction: a first run links the whole team, and one
    /// commit each took seconds at 70k members.
    pub fn link_all<'a>(
        &self,
        links: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.sql(e))?;
        {
            let mut unlink = tx
                .prepare("DELETE FROM links WHERE scim_id = ?1 AND okta_id <> ?2")
                .map_err(|e| self.sql(e))?;
            let mut ins = tx
                .prepare(
                    "INSERT INTO links (okta_id, scim_id, linked_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (okta_id) DO UPDATE SET scim_id = excluded.scim_id",
                )
                .map_err(|e| self.sql(e))?;
            let at = now();
            for (okta_id, scim_id) in links {
                unlink
                    .execute(params![scim_id, okta_id])
                    .map_err(|e| self.sql(e))?;
                ins.execute(params![okta_id, scim_id, at])
                    .map_err(|e| self.sql(e))?;
            }
        }
        tx.commit().map_err(|e| self.sql(e))
    }

    /// Records that an Okta user and a member are the same person.
    pub fn link(&self, okta_id: &str, scim_id: &str) -> Result<(), StoreError> {
        self.link_all([(okta_id, scim_id)])
    }

    /// Updates one member of the snapshot after a successful write.
    pub fn upsert_member(&self, m: &Member) -> Result<(), StoreError> {
        let conn = self.conn();
        upsert_member_row(&conn, m, &now()).map_err(|e| self.sql(e))?;
        forget_our_deactivation_if_active(&conn, m).map_err(|e| self.sql(e))
    }

    /// Records that scim-sync deactivated this member (a deactivation it applied, or
    /// one a crash interrupted: a member found active is forgotten by the next read).
    pub fn record_our_deactivation(
        &self,
        scim_id: &str,
        okta_id: Option<&str>,
    ) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO our_deactivations (scim_id, okta_id, deactivated_at)
                 VALUES (?1, ?2, ?3)
                 ON CONFLICT (scim_id) DO UPDATE SET okta_id = excluded.okta_id,
                 deactivated_at = excluded.deactivated_at",
                params![scim_id, okta_id, now()],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// SCIM ids of the members scim-sync deactivated and has not seen active since.
    pub fn our_deactivations(&self) -> Result<HashSet<String>, StoreError> {
        let conn = self.conn();
        let mut st = conn
            .prepare("SELECT scim_id FROM our_deactivations")
            .map_err(|e| self.sql(e))?;
        let rows = st.query_map([], |r| r.get(0)).map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }

    pub fn remove_invite(&self, id: &str) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM invites WHERE id = ?1", params![id])
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// When the team snapshot was last refreshed.
    pub fn snapshot_time(&self) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT max(refreshed_at) FROM members", [], |r| r.get(0))
            .optional()
            .map_err(|e| self.sql(e))?
            .flatten())
    }

    /// When Okta's assignments were last read completely (the `okta_users` snapshot).
    pub fn okta_read_time(&self) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT max(read_at) FROM okta_users", [], |r| r.get(0))
            .optional()
            .map_err(|e| self.sql(e))?
            .flatten())
    }
}

/// Inserts or updates one member row (a team read, our own write, or an incremental
/// read). Cached: a whole team's rows reuse one statement.
pub(super) fn upsert_member_row(
    conn: &rusqlite::Connection,
    m: &Member,
    at: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO members (scim_id, user_name, given_name, family_name, external_id, active,
         membership, role, refreshed_at, user_name_key) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)
         ON CONFLICT (scim_id) DO UPDATE SET user_name = excluded.user_name,
         user_name_key = excluded.user_name_key,
         given_name = excluded.given_name, family_name = excluded.family_name,
         external_id = excluded.external_id, active = excluded.active,
         membership = excluded.membership, role = excluded.role,
         refreshed_at = excluded.refreshed_at",
    )?
    .execute(params![
        m.scim_id,
        m.user_name,
        m.given_name,
        m.family_name,
        m.external_id,
        m.active,
        m.membership.as_str(),
        m.role,
        at,
        user_name_key(Some(&m.user_name))
    ])?;
    Ok(())
}

/// A member seen active is no longer one scim-sync deactivated: whoever deactivates it
/// next, it is not ours unless scim-sync does it.
pub(super) fn forget_our_deactivation_if_active(
    conn: &rusqlite::Connection,
    m: &Member,
) -> rusqlite::Result<()> {
    if m.active {
        conn.prepare_cached("DELETE FROM our_deactivations WHERE scim_id = ?1")?
            .execute(params![m.scim_id])?;
    }
    Ok(())
}

/// Inserts (or replaces) one pending invite row.
pub(super) fn insert_invite_row(
    conn: &rusqlite::Connection,
    i: &PendingInvite,
    at: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO invites (id, email, source, invited_by, created_at, refreshed_at,
         email_key) VALUES (?1,?2,?3,?4,?5,?6,?7)",
    )?
    .execute(params![
        i.id,
        i.email,
        i.source.as_str(),
        i.invited_by,
        i.created_at,
        at,
        user_name_key(Some(&i.email))
    ])?;
    Ok(())
}

/// Inserts (or replaces) one row of the last Okta read (a full read, or a re-read).
pub(super) fn upsert_okta_user_row(
    conn: &rusqlite::Connection,
    u: &AssignedUser,
    at: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO okta_users (okta_id, okta_status, app_status, scope, user_name,
         given_name, family_name, read_at, user_name_key) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
    )?
    .execute(params![
        u.okta_id,
        u.okta_status.as_str(),
        u.app_status.as_str(),
        u.scope.as_str(),
        u.user_name,
        u.given_name,
        u.family_name,
        at,
        user_name_key(u.user_name.as_deref())
    ])?;
    Ok(())
}

/// An `okta_lookups` row selected as `okta_id, outcome, status, reason`.
pub(super) fn lookup_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, OktaLookup)> {
    let outcome: String = r.get(1)?;
    let status: Option<String> = r.get(2)?;
    let reason: Option<String> = r.get(3)?;
    let lookup = match outcome.as_str() {
        "found" => OktaLookup::Found {
            status: status.unwrap_or_default().into(),
        },
        "not_found" => OktaLookup::NotFound,
        _ => OktaLookup::Failed {
            reason: reason.unwrap_or_default(),
        },
    };
    Ok((r.get::<_, String>(0)?, lookup))
}

/// The stored comparison key of a userName or email (`plan::email_key`); None for none
/// or a blank one, which matches nobody.
pub(super) fn user_name_key(value: Option<&str>) -> Option<String> {
    value
        .filter(|v| !v.trim().is_empty())
        .map(scim_sync_plan::email_key)
}

/// A `members` row selected as `scim_id, user_name, given_name, family_name,
/// external_id, active, membership, role`.
/// The columns of `okta_users` read, in this order.
pub(super) const OKTA_USER_COLUMNS: &str =
    "okta_id, okta_status, app_status, scope, user_name, given_name, family_name";

pub(super) fn okta_user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AssignedUser> {
    Ok(AssignedUser {
        okta_id: r.get(0)?,
        okta_status: r.get::<_, String>(1)?.into(),
        app_status: r.get::<_, String>(2)?.into(),
        scope: r.get::<_, String>(3)?.into(),
        user_name: r.get(4)?,
        given_name: r.get(5)?,
        family_name: r.get(6)?,
    })
}

/// The columns of `members` read, in this order.
pub(super) const MEMBER_COLUMNS: &str =
    "scim_id, user_name, given_name, family_name, external_id, active, membership, role";

pub(super) fn member_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Member> {
    Ok(Member {
        scim_id: r.get(0)?,
        user_name: r.get(1)?,
        given_name: r.get(2)?,
        family_name: r.get(3)?,
        external_id: r.get(4)?,
        active: r.get(5)?,
        membership: r.get::<_, String>(6)?.into(),
        role: r.get(7)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use scim_sync_plan::Membership;

    fn member(scim_id: &str, active: bool) -> Member {
        Member {
            scim_id: scim_id.into(),
            user_name: format!("{scim_id}@x.com"),
            given_name: None,
            family_name: None,
            external_id: None,
            active,
            membership: if active {
                Membership::Active
            } else {
                Membership::Deactivated
            },
            role: None,
        }
    }

    /// Ours until the member is seen active (reactivated by us or anyone) or is gone.
    #[test]
    fn our_deactivations_last_until_the_member_is_seen_active_or_gone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        let team = [member("a", false), member("b", false), member("c", false)];
        store.replace_team(&team, &[]).unwrap();
        for id in ["a", "b", "c"] {
            store.record_our_deactivation(id, Some("00u")).unwrap();
        }
        // A write that leaves it deactivated keeps it; a reactivation forgets it.
        store.upsert_member(&member("a", false)).unwrap();
        store.upsert_member(&member("b", true)).unwrap();
        let ours = store.our_deactivations().unwrap();
        assert_eq!(ours, HashSet::from(["a".to_string(), "c".to_string()]));
        // A team read: "a" active again (by hand), "c" gone.
        store
            .replace_team(&[member("a", true), member("b", true)], &[])
            .unwrap();
        assert!(store.our_deactivations().unwrap().is_empty());
    }
}
