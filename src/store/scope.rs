//! The part of the snapshot that a cycle with few changes plans: the people its changes
//! name, closed over everything the planner relates people by (links, `externalId`,
//! one mailbox's key, pending invites for it), found by indexed reads, never by loading
//! the snapshot. And the basis such a cycle starts from: the counts and the people with
//! something planned that the last real cycle left behind.

use std::collections::{BTreeSet, HashMap, HashSet};

use rusqlite::{OptionalExtension, params};

use super::snapshot::{
    MEMBER_COLUMNS, OKTA_USER_COLUMNS, lookup_row, member_row, okta_user_row, user_name_key,
};
use super::{Store, StoreError};
use scim_sync_plan::{self as plan, AssignedUser, Counts, Member, OktaLookup, PendingInvite};

/// Stored rows of the people in a scope, and the ids and keys that make it up.
#[derive(Debug, Default)]
pub struct ScopeRows {
    /// Okta ids: assigned users, and the ids members refer to (link or externalId).
    pub okta_ids: BTreeSet<String>,
    pub scim_ids: BTreeSet<String>,
    /// Mailbox keys (`plan::email_key`) of everyone in it.
    pub keys: BTreeSet<String>,
    /// The stored Okta users among `okta_ids`, in Okta id order.
    pub okta_users: Vec<AssignedUser>,
    /// The stored members among `scim_ids`, in SCIM id order.
    pub members: Vec<Member>,
    /// The stored pending invites for `keys`.
    pub invites: Vec<PendingInvite>,
    /// Okta id -> SCIM id, every stored link with a side in the scope.
    pub links: HashMap<String, String>,
    /// Those of `scim_ids` scim-sync deactivated and has not seen active since.
    pub deactivated_by_us: HashSet<String>,
}

/// Rows a cycle read that the store doesn't hold yet (or holds otherwise): the closure
/// follows their keys and ids too, so that it is closed both before and after them.
#[derive(Clone, Copy, Default)]
pub struct Overlay<'a> {
    pub okta_users: &'a [AssignedUser],
    pub members: &'a [Member],
}

/// What the last real cycle's plan leaves the next cycle to start from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanBasis {
    /// The run whose plan (with its apply) this describes.
    pub run_id: i64,
    /// The plan's counts over the stored rows as that run left them.
    pub counts: Counts,
    /// The policy's fingerprint the plan was made under (`sync::fingerprint::quiet_fingerprint`).
    pub fingerprint: String,
}

/// The keys one userName or email is compared by: as given, and as sent (trimmed and
/// composed), should the two ever differ.
fn keys_of(value: Option<&str>) -> impl Iterator<Item = String> {
    let raw = user_name_key(value);
    let sent = value
        .map(plan::clean_user_name)
        .and_then(|v| user_name_key(Some(&v)))
        .filter(|k| Some(k) != raw.as_ref());
    raw.into_iter().chain(sent)
}

enum Node {
    Okta(String),
    Scim(String),
    Key(String),
}

impl Store {
    /// The scope of these seeds: everyone related to them, transitively, in the stored
    /// rows or in `overlay`'s. None when it grows past `limit` people (planning the whole
    /// snapshot is then as cheap).
    pub fn scope(
        &self,
        okta_seeds: impl IntoIterator<Item = String>,
        scim_seeds: impl IntoIterator<Item = String>,
        overlay: Overlay<'_>,
        limit: usize,
    ) -> Result<Option<ScopeRows>, StoreError> {
        let conn = self.conn();
        let sql = |e| self.sql(e);
        let mut okta_row = conn
            .prepare_cached(&format!(
                "SELECT {OKTA_USER_COLUMNS} FROM okta_users WHERE okta_id = ?1"
            ))
            .map_err(sql)?;
        let mut okta_by_key = conn
            .prepare_cached("SELECT okta_id FROM okta_users WHERE user_name_key = ?1")
            .map_err(sql)?;
        let mut member_row_by_id = conn
            .prepare_cached(&format!(
                "SELECT {MEMBER_COLUMNS} FROM members WHERE scim_id = ?1"
            ))
            .map_err(sql)?;
        let mut members_by_key = conn
            .prepare_cached("SELECT scim_id FROM members WHERE user_name_key = ?1")
            .map_err(sql)?;
        let mut members_by_external = conn
            .prepare_cached("SELECT scim_id FROM members WHERE external_id = ?1")
            .map_err(sql)?;
        let mut link_of_okta = conn
            .prepare_cached("SELECT scim_id FROM links WHERE okta_id = ?1")
            .map_err(sql)?;
        let mut link_of_scim = conn
            .prepare_cached("SELECT okta_id FROM links WHERE scim_id = ?1")
            .map_err(sql)?;
        let mut invites_by_key = conn
            .prepare_cached(
                "SELECT id, email, source, invited_by, created_at FROM invites
                 WHERE email_key = ?1 ORDER BY id",
            )
            .map_err(sql)?;
        let mut ours = conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM our_deactivations WHERE scim_id = ?1)")
            .map_err(sql)?;

        let mut scope = ScopeRows::default();
        let mut queue: Vec<Node> = okta_seeds
            .into_iter()
            .map(Node::Okta)
            .chain(scim_seeds.into_iter().map(Node::Scim))
            .collect();
        while let Some(node) = queue.pop() {
            if scope.okta_ids.len() + scope.scim_ids.len() > limit {
                return Ok(None);
            }
            match node {
                Node::Okta(id) => {
                    if !scope.okta_ids.insert(id.clone()) {
                        continue;
                    }
                    let stored = okta_row
                        .query_row(params![id], okta_user_row)
                        .optional()
                        .map_err(sql)?;
                    let now = overlay.okta_users.iter().filter(|u| u.okta_id == id);
                    for u in stored.iter().chain(now) {
                        queue.extend(keys_of(u.user_name.as_deref()).map(Node::Key));
                    }
                    scope.okta_users.extend(stored);
                    let linked: Option<String> = link_of_okta
                        .query_row(params![id], |r| r.get(0))
                        .optional()
                        .map_err(sql)?;
                    if let Some(scim) = linked {
                        scope.links.insert(id.clone(), scim.clone());
                        queue.push(Node::Scim(scim));
                    }
                    let named = members_by_external
                        .query_map(params![id], |r| r.get::<_, String>(0))
                        .map_err(sql)?;
                    for scim in named {
                        queue.push(Node::Scim(scim.map_err(sql)?));
                    }
                    queue.extend(
                        overlay
                            .members
                            .iter()
                            .filter(|m| m.external_id.as_deref() == Some(id.as_str()))
                            .map(|m| Node::Scim(m.scim_id.clone())),
                    );
                }
                Node::Scim(id) => {
                    if !scope.scim_ids.insert(id.clone()) {
                        continue;
                    }
                    let stored = member_row_by_id
                        .query_row(params![id], member_row)
                        .optional()
                        .map_err(sql)?;
                    let now = overlay.members.iter().filter(|m| m.scim_id == id);
                    for m in stored.iter().chain(now) {
                        queue.extend(keys_of(Some(&m.user_name)).map(Node::Key));
                        queue.extend(m.external_id.clone().map(Node::Okta));
                    }
                    scope.members.extend(stored);
                    let linked: Option<String> = link_of_scim
                        .query_row(params![id], |r| r.get(0))
                        .optional()
                        .map_err(sql)?;
                    if let Some(okta) = linked {
                        scope.links.insert(okta.clone(), id.clone());
                        queue.push(Node::Okta(okta));
                    }
                    let is_ours: bool = ours.query_row(params![id], |r| r.get(0)).map_err(sql)?;
                    if is_ours {
                        scope.deactivated_by_us.insert(id);
                    }
                }
                Node::Key(key) => {
                    if !scope.keys.insert(key.clone()) {
                        continue;
                    }
                    let ids = okta_by_key
                        .query_map(params![key], |r| r.get::<_, String>(0))
                        .map_err(sql)?;
                    for id in ids {
                        queue.push(Node::Okta(id.map_err(sql)?));
                    }
                    let ids = members_by_key
                        .query_map(params![key], |r| r.get::<_, String>(0))
                        .map_err(sql)?;
                    for id in ids {
                        queue.push(Node::Scim(id.map_err(sql)?));
                    }
                    let invites = invites_by_key
                        .query_map(params![key], |r| {
                            Ok(PendingInvite {
                                id: r.get(0)?,
                                email: r.get(1)?,
                                source: r.get::<_, String>(2)?.into(),
                                invited_by: r.get(3)?,
                                created_at: r.get(4)?,
                            })
                        })
                        .map_err(sql)?;
                    for invite in invites {
                        scope.invites.push(invite.map_err(sql)?);
                    }
                    for u in overlay.okta_users {
                        if keys_of(u.user_name.as_deref()).any(|k| k == key) {
                            queue.push(Node::Okta(u.okta_id.clone()));
                        }
                    }
                    for m in overlay.members {
                        if keys_of(Some(&m.user_name)).any(|k| k == key) {
                            queue.push(Node::Scim(m.scim_id.clone()));
                        }
                    }
                }
            }
        }
        scope.okta_users.sort_by(|a, b| a.okta_id.cmp(&b.okta_id));
        scope.members.sort_by(|a, b| a.scim_id.cmp(&b.scim_id));
        Ok(Some(scope))
    }

    /// The stored lookups of these Okta ids (one indexed read each).
    pub fn lookups_of<'a>(
        &self,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<HashMap<String, OktaLookup>, StoreError> {
        let conn = self.conn();
        let mut st = conn
            .prepare_cached(
                "SELECT okta_id, outcome, status, reason FROM okta_lookups WHERE okta_id = ?1",
            )
            .map_err(|e| self.sql(e))?;
        let mut out = HashMap::new();
        for id in ids {
            if let Some((id, lookup)) = st
                .query_row(params![id], lookup_row)
                .optional()
                .map_err(|e| self.sql(e))?
            {
                out.insert(id, lookup);
            }
        }
        Ok(out)
    }

    /// Replaces the stored lookups of the Okta ids in a scope with a cycle's (a scoped
    /// cycle's lookups are its scope's; the others stand).
    pub fn replace_okta_lookups_of(
        &self,
        ids: &BTreeSet<String>,
        lookups: &HashMap<String, OktaLookup>,
    ) -> Result<(), StoreError> {
        {
            let mut conn = self.conn();
            let tx = conn.transaction().map_err(|e| self.sql(e))?;
            {
                let mut del = tx
                    .prepare_cached("DELETE FROM okta_lookups WHERE okta_id = ?1")
                    .map_err(|e| self.sql(e))?;
                for id in ids.iter().chain(lookups.keys()) {
                    del.execute(params![id]).map_err(|e| self.sql(e))?;
                }
            }
            tx.commit().map_err(|e| self.sql(e))?;
        }
        self.insert_okta_lookups(lookups)
    }

    /// Members in the snapshot.
    pub fn member_count(&self) -> Result<usize, StoreError> {
        let n: i64 = self
            .conn()
            .query_row("SELECT count(*) FROM members", [], |r| r.get(0))
            .map_err(|e| self.sql(e))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Members in the snapshot that hold a seat (active or invited).
    pub fn seat_count(&self) -> Result<usize, StoreError> {
        let n: i64 = self
            .conn()
            .query_row(
                "SELECT count(*) FROM members WHERE membership IN ('active', 'invited')",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.sql(e))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Pending invites in the snapshot.
    pub fn invite_count(&self) -> Result<usize, StoreError> {
        let n: i64 = self
            .conn()
            .query_row("SELECT count(*) FROM invites", [], |r| r.get(0))
            .map_err(|e| self.sql(e))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// What the last real cycle left to start from; None when none stands (a real cycle
    /// began since, or none ended).
    pub fn plan_basis(&self) -> Result<Option<PlanBasis>, StoreError> {
        self.conn()
            .query_row(
                "SELECT run_id, in_sync, managed, fingerprint FROM plan_basis WHERE id = 1",
                [],
                |r| {
                    Ok(PlanBasis {
                        run_id: r.get(0)?,
                        counts: Counts {
                            in_sync: usize::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                            managed: usize::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                        },
                        fingerprint: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.sql(e))
    }

    /// The people the basis's plan had something for (Okta ids, SCIM ids).
    pub fn basis_people(&self) -> Result<(Vec<String>, Vec<String>), StoreError> {
        let conn = self.conn();
        let mut st = conn
            .prepare("SELECT kind, id FROM plan_basis_people")
            .map_err(|e| self.sql(e))?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| self.sql(e))?;
        let (mut okta, mut scim) = (Vec::new(), Vec::new());
        for row in rows {
            let (kind, id) = row.map_err(|e| self.sql(e))?;
            if kind == "okta" { &mut okta } else { &mut scim }.push(id);
        }
        Ok((okta, scim))
    }

    /// Records the basis a real cycle leaves, with the people its plan had something for.
    pub fn set_plan_basis<'a>(
        &self,
        basis: &PlanBasis,
        okta_ids: impl IntoIterator<Item = &'a str>,
        scim_ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.sql(e))?;
        tx.execute("DELETE FROM plan_basis_people", [])
            .map_err(|e| self.sql(e))?;
        {
            let mut ins = tx
                .prepare("INSERT OR IGNORE INTO plan_basis_people (kind, id) VALUES (?1, ?2)")
                .map_err(|e| self.sql(e))?;
            for id in okta_ids {
                ins.execute(params!["okta", id]).map_err(|e| self.sql(e))?;
            }
            for id in scim_ids {
                ins.execute(params!["scim", id]).map_err(|e| self.sql(e))?;
            }
        }
        tx.execute(
            "INSERT INTO plan_basis (id, run_id, in_sync, managed, fingerprint)
             VALUES (1, ?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET run_id = excluded.run_id,
             in_sync = excluded.in_sync, managed = excluded.managed,
             fingerprint = excluded.fingerprint",
            params![
                basis.run_id,
                i64::try_from(basis.counts.in_sync).unwrap_or(i64::MAX),
                i64::try_from(basis.counts.managed).unwrap_or(i64::MAX),
                basis.fingerprint
            ],
        )
        .map_err(|e| self.sql(e))?;
        tx.commit().map_err(|e| self.sql(e))
    }

    /// Gives each row stored before the keys were its key (once, when a database from
    /// before is first opened for writing).
    pub(super) fn fill_missing_keys(&self) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.sql(e))?;
        for (table, id, value, key) in [
            ("members", "scim_id", "user_name", "user_name_key"),
            ("okta_users", "okta_id", "user_name", "user_name_key"),
            ("invites", "id", "email", "email_key"),
        ] {
            let rows: Vec<(String, String)> = {
                let mut st = tx
                    .prepare(&format!(
                        "SELECT {id}, {value} FROM {table}
                         WHERE {key} IS NULL AND trim(coalesce({value}, '')) <> ''"
                    ))
                    .map_err(|e| self.sql(e))?;
                let rows = st
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(|e| self.sql(e))?;
                rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))?
            };
            let mut set = tx
                .prepare(&format!("UPDATE {table} SET {key} = ?2 WHERE {id} = ?1"))
                .map_err(|e| self.sql(e))?;
            for (row_id, v) in rows {
                set.execute(params![row_id, user_name_key(Some(&v))])
                    .map_err(|e| self.sql(e))?;
            }
        }
        tx.commit().map_err(|e| self.sql(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scim_sync_plan::{InviteSource, Membership};

    fn member(scim_id: &str, user_name: &str, external_id: Option<&str>) -> Member {
        Member {
            scim_id: scim_id.into(),
            user_name: user_name.into(),
            given_name: None,
            family_name: None,
            external_id: external_id.map(str::to_string),
            active: true,
            membership: Membership::Active,
            role: None,
        }
    }

    /// A member reaches its mailbox's other member (Unicode case and spaces are one
    /// mailbox), the Okta user its externalId names, that user's linked member, and the
    /// invites for the mailbox; nobody else.
    #[test]
    fn a_scope_is_closed_over_mailboxes_external_ids_links_and_invites() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        let team = [
            member("a", "José@x.com", Some("00u1")),
            member("b", " JOSÉ@X.COM", None),
            member("c", "carla@x.com", None),
            member("d", "dora@x.com", None),
        ];
        let invite = PendingInvite {
            id: "i1".into(),
            email: "josé@x.com".into(),
            source: InviteSource::Admin,
            invited_by: None,
            created_at: "t".into(),
        };
        store.replace_team(&team, &[invite]).unwrap();
        store.link("00u1", "c").unwrap();
        let scope = store
            .scope(
                Vec::new(),
                vec!["b".to_string()],
                Overlay::default(),
                usize::MAX,
            )
            .unwrap()
            .unwrap();
        let scim: Vec<&str> = scope.scim_ids.iter().map(String::as_str).collect();
        assert_eq!(scim, ["a", "b", "c"]);
        assert_eq!(scope.okta_ids, BTreeSet::from(["00u1".to_string()]));
        assert_eq!(scope.invites.len(), 1);
        assert_eq!(scope.links.get("00u1").map(String::as_str), Some("c"));
        // Past the limit: None, the whole snapshot is planned instead.
        let none = store
            .scope(Vec::new(), vec!["b".to_string()], Overlay::default(), 1)
            .unwrap();
        assert!(none.is_none());
    }

    /// Rows stored before the keys had none: opening the database for writing gives
    /// them theirs.
    #[test]
    fn rows_from_before_the_keys_get_them_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        {
            let store = Store::open(&path).unwrap();
            store
                .replace_team(&[member("a", "Ann@X.com", None)], &[])
                .unwrap();
            store
                .conn()
                .execute("UPDATE members SET user_name_key = NULL", [])
                .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let key: Option<String> = store
            .conn()
            .query_row("SELECT user_name_key FROM members", [], |r| r.get(0))
            .unwrap();
        assert_eq!(key.as_deref(), Some("ann@x.com"));
    }
}
