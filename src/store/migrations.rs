//! The schema, as an append-only list of migrations (never edit one that shipped).

use rusqlite_migration::{M, Migrations};

const MIGRATIONS_SLICE: &[M<'static>] = &[
    M::up(
        r#"
CREATE TABLE members (
    scim_id      TEXT PRIMARY KEY,
    user_name    TEXT NOT NULL,
    given_name   TEXT,
    family_name  TEXT,
    external_id  TEXT,
    active       INTEGER NOT NULL,
    membership   TEXT NOT NULL,
    role         TEXT,
    refreshed_at TEXT NOT NULL
);
CREATE INDEX members_user_name ON members (lower(user_name));
CREATE INDEX members_external_id ON members (external_id);

CREATE TABLE links (
    okta_id   TEXT PRIMARY KEY,
    scim_id   TEXT NOT NULL UNIQUE,
    linked_at TEXT NOT NULL
);

CREATE TABLE invites (
    id           TEXT PRIMARY KEY,
    email        TEXT NOT NULL,
    source       TEXT NOT NULL,
    invited_by   TEXT,
    created_at   TEXT NOT NULL,
    refreshed_at TEXT NOT NULL
);
CREATE INDEX invites_email ON invites (lower(email));

CREATE TABLE okta_users (
    okta_id     TEXT PRIMARY KEY,
    okta_status TEXT NOT NULL,
    app_status  TEXT NOT NULL,
    scope       TEXT NOT NULL,
    user_name   TEXT,
    given_name  TEXT,
    family_name TEXT,
    read_at     TEXT NOT NULL
);

CREATE TABLE runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at  TEXT NOT NULL,
    ended_at    TEXT,
    trigger     TEXT NOT NULL,
    mode        TEXT NOT NULL,
    result      TEXT,
    summary     TEXT,
    error       TEXT
);

CREATE TABLE operations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      INTEGER NOT NULL REFERENCES runs (id),
    kind        TEXT NOT NULL,
    okta_id     TEXT,
    scim_id     TEXT,
    user_name   TEXT NOT NULL,
    invite_id   TEXT,
    detail      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    state       TEXT NOT NULL,
    http_status INTEGER,
    error       TEXT,
    request_id  TEXT,
    started_at  TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX operations_run ON operations (run_id);
CREATE INDEX operations_state ON operations (state);
CREATE INDEX operations_user ON operations (lower(user_name));

CREATE TABLE plan_items (
    run_id    INTEGER NOT NULL REFERENCES runs (id),
    category  TEXT NOT NULL,
    kind      TEXT,
    okta_id   TEXT,
    scim_id   TEXT,
    user_name TEXT NOT NULL,
    reason    TEXT NOT NULL
);
CREATE INDEX plan_items_run ON plan_items (run_id);
"#,
    ),
    // The last cycle's lookups of unassigned members' Okta users, so that reports plan
    // from the snapshot with the same facts the cycle had.
    M::up(
        r#"
CREATE TABLE okta_lookups (
    okta_id     TEXT PRIMARY KEY,
    outcome     TEXT NOT NULL,
    status      TEXT,
    reason      TEXT,
    read_at     TEXT NOT NULL
);
"#,
    ),
    // Held deactivations stay held until a human releases them (or they are no longer
    // planned): the set, and since when each is held.
    M::up(
        r#"
CREATE TABLE held_deactivations (
    scim_id     TEXT PRIMARY KEY,
    okta_id     TEXT,
    user_name   TEXT NOT NULL,
    reason      TEXT NOT NULL,
    run_id      INTEGER NOT NULL,
    held_since  TEXT NOT NULL
);
"#,
    ),
    // Incremental cycles: where the next one resumes (the System Log cursor, kafkaman's
    // change clock, whether the next cycle must be full), and which kind each run was.
    M::up(
        r#"
CREATE TABLE sync_cursor (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
ALTER TABLE runs ADD COLUMN kind TEXT;
"#,
    ),
    // The members scim-sync itself deactivated and has not seen active since: only
    // those come back as rehires; one someone else deactivated (a lockout by hand) stays
    // deactivated. A database from before counts as ours every deactivated member whose
    // latest applied activation change in the journal is scim-sync's deactivation.
    M::up(
        r#"
CREATE TABLE our_deactivations (
    scim_id        TEXT PRIMARY KEY,
    okta_id        TEXT,
    deactivated_at TEXT NOT NULL
);
INSERT INTO our_deactivations (scim_id, okta_id, deactivated_at)
SELECT o.scim_id, o.okta_id, COALESCE(o.finished_at, o.started_at)
FROM operations o JOIN members m ON m.scim_id = o.scim_id AND m.active = 0
WHERE o.kind = 'deactivate' AND o.state = 'done'
  AND o.id = (SELECT max(p.id) FROM operations p
              WHERE p.scim_id = o.scim_id AND p.kind IN ('deactivate', 'reactivate')
                AND p.state IN ('done', 'recovered'));
"#,
    ),
    // Cycles that plan only the people who changed: each row's comparison key
    // (`plan::email_key`, which SQL's ASCII-only lower() can't compute) is stored with it
    // and indexed, rows from before get theirs when the database is next opened for
    // writing; and what the last real cycle's plan leaves the next one to start from.
    M::up(
        r#"
ALTER TABLE members ADD COLUMN user_name_key TEXT;
ALTER TABLE okta_users ADD COLUMN user_name_key TEXT;
ALTER TABLE invites ADD COLUMN email_key TEXT;
CREATE INDEX members_user_name_key ON members (user_name_key);
CREATE INDEX okta_users_user_name_key ON okta_users (user_name_key);
CREATE INDEX invites_email_key ON invites (email_key);
CREATE INDEX members_membership ON members (membership);

CREATE TABLE plan_basis (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    run_id      INTEGER NOT NULL,
    in_sync     INTEGER NOT NULL,
    managed     INTEGER NOT NULL,
    fingerprint TEXT NOT NULL
);
CREATE TABLE plan_basis_people (
    kind TEXT NOT NULL,
    id   TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
"#,
    ),
];

pub(super) const MIGRATIONS: Migrations<'static> = Migrations::from_slice(MIGRATIONS_SLICE);

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    /// A database from before `our_deactivations`: its deactivated members whose latest
    /// applied activation change is scim-sync's deactivation count as ours; a member
    /// reactivated since, deactivated by someone else, or active now does not.
    #[test]
    fn an_existing_database_counts_its_journal_deactivations_as_ours() {
        let mut conn = Connection::open_in_memory().unwrap();
        MIGRATIONS.to_version(&mut conn, 4).unwrap();
        conn.execute_batch(
            "INSERT INTO runs (id, started_at, trigger, mode) VALUES (1, 't', 'manual', 'apply');
             INSERT INTO members (scim_id, user_name, active, membership, refreshed_at) VALUES
               ('ours', 'a@x.com', 0, 'deactivated', 't'),
               ('back-then-hand', 'b@x.com', 0, 'deactivated', 't'),
               ('hand', 'c@x.com', 0, 'deactivated', 't'),
               ('failed', 'd@x.com', 0, 'deactivated', 't'),
               ('active-now', 'e@x.com', 1, 'active', 't');
             INSERT INTO operations (run_id, kind, okta_id, scim_id, user_name, detail, reason,
               state, started_at, finished_at) VALUES
               (1, 'deactivate', '00u1', 'ours', 'a@x.com', '{}', 'r', 'done', 't', 't1'),
               (1, 'deactivate', '00u2', 'back-then-hand', 'b@x.com', '{}', 'r', 'done', 't', 't'),
               (1, 'reactivate', '00u2', 'back-then-hand', 'b@x.com', '{}', 'r', 'done', 't', 't'),
               (1, 'deactivate', '00u4', 'failed', 'd@x.com', '{}', 'r', 'failed', 't', 't'),
               (1, 'deactivate', '00u5', 'active-now', 'e@x.com', '{}', 'r', 'done', 't', 't');",
        )
        .unwrap();
        MIGRATIONS.to_latest(&mut conn).unwrap();
        let ours: Vec<(String, Option<String>, String)> = conn
            .prepare("SELECT scim_id, okta_id, deactivated_at FROM our_deactivations")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            ours,
            vec![("ours".into(), Some("00u1".into()), "t1".into())]
        );
    }
}
