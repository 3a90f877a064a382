use std::collections::{HashMap, HashSet};

use super::*;

fn user<'a>(s: &'a Scenario, id: &str) -> &'a OktaUserSpec {
    s.okta
        .users
        .iter()
        .find(|u| u.id.as_deref() == Some(id))
        .unwrap_or_else(|| panic!("no user {id}"))
}

fn member<'a>(s: &'a Scenario, email: &str) -> Option<&'a MemberSpec> {
    s.kafkaman
        .members
        .iter()
        .find(|m| m.email.eq_ignore_ascii_case(email))
}

/// Round trip through TOML and the loader: what a file written from it would give.
fn reload(s: &Scenario) -> Scenario {
    let text = toml::to_string(s).expect("serializes");
    Scenario::parse(&text, false, "generated.toml").expect("loads")
}

#[test]
fn builtin_has_every_situation() {
    use builtin_ids as b;
    let s = builtin();
    s.validate_refs().expect("valid");
    reload(&s);
    assert_eq!(s.okta.users.len(), 25);
    assert_eq!(s.okta.groups.len(), 3);
    let okta_id = |id: &str| {
        id.len() == 20 && id.starts_with("00u") && id.chars().all(|c| c.is_ascii_alphanumeric())
    };
    assert!(
        s.okta
            .users
            .iter()
            .all(|u| okta_id(u.id.as_deref().unwrap_or("")))
    );
    assert!(!s.okta.assignments.users.is_empty() && !s.okta.assignments.groups.is_empty());
    let assigned = assigned_ids(&s);
    for id in [
        b::GRACE,
        b::SUSPENDED,
        b::DEPROVISIONED,
        b::OUTSIDE,
        b::GUIDO,
        b::SOPHIE,
    ] {
        assert!(assigned.contains(id), "{id} assigned");
    }
    assert!(!assigned.contains(b::UNASSIGNED));
    assert!(!s.okta.assignments.groups.contains(&"Sales".to_string()));
    assert_eq!(user(&s, b::SUSPENDED).status, "SUSPENDED");
    assert_eq!(user(&s, b::DEPROVISIONED).status, "DEPROVISIONED");
    let statuses: Vec<&str> = s.okta.users.iter().map(|u| u.status.as_str()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == "SUSPENDED").count(), 1);
    assert_eq!(
        statuses.iter().filter(|s| **s == "DEPROVISIONED").count(),
        1
    );

    let linked = member(&s, b::ADA_EMAIL).expect("ada is a member");
    assert_eq!(linked.external_id.as_deref(), Some(b::ADA));
    assert_eq!(
        member(&s, b::BARBARA_EMAIL).and_then(|m| m.family_name.as_deref()),
        Some("Huberman")
    );
    let unmanaged = member(&s, b::UNMANAGED_EMAIL).expect("unmanaged member");
    assert!(unmanaged.external_id.is_none());
    assert!(!s.okta.users.iter().any(|u| u.login == b::UNMANAGED_EMAIL));
    assert_eq!(
        s.kafkaman.outside_accounts,
        vec![b::OUTSIDE_EMAIL.to_string()]
    );
    assert!(member(&s, b::OUTSIDE_EMAIL).is_none());
    let invite = |email: &str| s.kafkaman.invites.iter().find(|i| i.email == email);
    assert_eq!(
        invite(b::ADMIN_INVITED_EMAIL).map(|i| i.source.as_str()),
        Some("admin")
    );
    assert_eq!(
        invite(b::SCIM_INVITED_EMAIL).map(|i| i.source.as_str()),
        Some("scim")
    );
    assert!(member(&s, b::ADMIN_INVITED_EMAIL).is_none());
    let needed = seats_after_first_sync(&s);
    assert_eq!(s.kafkaman.seats, b::SEATS);
    assert!(needed < b::SEATS, "room left: {needed} of {}", b::SEATS);
}

#[test]
fn demo_has_every_situation_and_a_near_full_team() {
    let s = demo();
    s.validate_refs().expect("valid");
    reload(&s);
    assert_eq!(s.okta.users.len(), demo_ids::USERS);
    let assigned = assigned_ids(&s);
    let direct = s.okta.assignments.users.len();
    assert!(
        direct > 10 && assigned.len() > direct + 100,
        "{direct} / {}",
        assigned.len()
    );
    for status in ["SUSPENDED", "DEPROVISIONED"] {
        assert!(s.okta.users.iter().any(|u| u.status == status), "{status}");
    }
    let by_login = |email: &str| s.okta.users.iter().find(|u| u.login == email);
    let mut sources: Vec<&str> = Vec::new();
    for inv in &s.kafkaman.invites {
        if let Some(u) = by_login(&inv.email) {
            // A conflicting invite: an entitled user who isn't in the team yet.
            assert!(
                assigned.contains(u.id.as_deref().unwrap_or("")) && is_entitled_status(&u.status)
            );
            assert!(member(&s, &inv.email).is_none());
            sources.push(&inv.source);
        }
    }
    sources.sort();
    assert_eq!(sources, ["admin", "link", "request"]);
    let outside = by_login(&s.kafkaman.outside_accounts[0]).expect("outside user in okta");
    assert!(assigned.contains(outside.id.as_deref().unwrap_or("")));
    let provisioned = s
        .kafkaman
        .members
        .iter()
        .filter(|m| m.external_id.is_some())
        .count();
    assert!(provisioned > 50, "{provisioned}");
    let unmanaged = member(&s, demo_ids::UNMANAGED_EMAIL).expect("unmanaged");
    assert!(unmanaged.external_id.is_none() && by_login(demo_ids::UNMANAGED_EMAIL).is_none());
    let admin = member(&s, demo_ids::PROTECTED_ADMIN_EMAIL).expect("protected admin");
    assert_eq!(admin.role, "admin");
    let admin_user = by_login(demo_ids::PROTECTED_ADMIN_EMAIL).expect("admin in okta");
    assert_eq!(admin.external_id, admin_user.id);
    assert!(!assigned.contains(admin_user.id.as_deref().unwrap_or("")));

    // Even creating everyone before deactivating anyone fits.
    let entitled_members = s
        .kafkaman
        .members
        .iter()
        .filter(|m| m.external_id.is_some() && m.role != "admin")
        .filter(|m| {
            s.okta.users.iter().any(|u| {
                u.id == m.external_id
                    && is_entitled_status(&u.status)
                    && assigned.contains(u.id.as_deref().unwrap_or(""))
            })
        })
        .count() as u32;
    let entitled = s
        .okta
        .users
        .iter()
        .filter(|u| {
            is_entitled_status(&u.status) && assigned.contains(u.id.as_deref().unwrap_or(""))
        })
        .count() as u32;
    // After the first sync: every entitled user, the unmanaged member and the protected
    // admin (counted here, not by `seats_after_first_sync`, which a real sync checks in
    // `seats_after_first_sync_matches_a_real_sync`).
    let needed = seats_after_first_sync(&s);
    assert_eq!(
        needed,
        entitled + 2,
        "entitled users + unmanaged + protected admin"
    );
    assert_eq!(s.kafkaman.seats, entitled + 2 + demo_ids::SEAT_MARGIN);
    let stale: Vec<&str> = s
        .kafkaman
        .members
        .iter()
        .filter(|m| m.external_id.is_some() && m.role != "admin")
        .filter_map(|m| s.okta.users.iter().find(|u| u.id == m.external_id))
        .filter(|u| {
            !is_entitled_status(&u.status) || !assigned.contains(u.id.as_deref().unwrap_or(""))
        })
        .map(|u| u.status.as_str())
        .collect();
    assert_eq!(
        stale,
        ["SUSPENDED", "DEPROVISIONED"],
        "members to deactivate"
    );
    let peak = s.kafkaman.members.len() as u32 + (entitled - entitled_members);
    assert!(
        peak <= s.kafkaman.seats,
        "peak {peak} > {}",
        s.kafkaman.seats
    );
}

#[test]
fn demo_and_builtin_are_stable() {
    let a = toml::to_string(&demo()).expect("serializes");
    let b = toml::to_string(&demo()).expect("serializes");
    assert_eq!(a, b);
    assert_eq!(
        toml::to_string(&builtin()).expect("serializes"),
        toml::to_string(&builtin()).expect("serializes")
    );
}

#[test]
fn generate_is_deterministic_per_seed() {
    let a = serde_json::to_string(&generate(2_000, 42)).expect("serializes");
    let b = serde_json::to_string(&generate(2_000, 42)).expect("serializes");
    let c = serde_json::to_string(&generate(2_000, 43)).expect("serializes");
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn generated_references_resolve_and_load() {
    let s = generate(3_000, 7);
    s.validate_refs().expect("valid");
    let users: HashSet<&str> = s
        .okta
        .users
        .iter()
        .filter_map(|u| u.id.as_deref())
        .collect();
    assert_eq!(users.len(), 3_000, "ids are unique");
    for g in &s.okta.groups {
        assert!(
            g.members.iter().all(|m| users.contains(m.as_str())),
            "{}",
            g.name
        );
    }
    assert!(
        s.okta
            .assignments
            .users
            .iter()
            .all(|r| users.contains(r.as_str()))
    );
    for m in &s.kafkaman.members {
        if let Some(x) = &m.external_id {
            assert!(
                users.contains(x.as_str()),
                "member {} links to {x}",
                m.email
            );
        }
    }
    let logins: HashSet<String> = s
        .okta
        .users
        .iter()
        .map(|u| u.login.to_lowercase())
        .collect();
    assert_eq!(logins.len(), 3_000, "logins are unique");
    // A small one through the real loader too.
    let small = generate(300, 7);
    assert_eq!(reload(&small).okta.users, small.okta.users);
}

#[test]
fn generated_proportions_are_realistic() {
    let n = 20_000;
    let s = generate(n, 2024);
    let share = |count: usize| count as f64 / n as f64;
    let within = |what: &str, count: usize, lo: f64, hi: f64| {
        let p = share(count);
        assert!(p >= lo && p <= hi, "{what}: {p:.4} not in [{lo}, {hi}]");
    };
    let status = |st: &str| s.okta.users.iter().filter(|u| u.status == st).count();
    within("assigned", assigned_ids(&s).len(), 0.65, 0.75);
    within("suspended", status("SUSPENDED"), 0.02, 0.04);
    within("deprovisioned", status("DEPROVISIONED"), 0.013, 0.027);
    let odd = status("STAGED") + status("PASSWORD_EXPIRED") + status("LOCKED_OUT");
    within("staged/expired/locked", odd, 0.005, 0.015);
    assert!(status("STAGED") > 0 && status("PASSWORD_EXPIRED") > 0 && status("LOCKED_OUT") > 0);

    assert_eq!(s.okta.groups.len(), 5);
    let in_groups: usize = s.okta.groups.iter().map(|g| g.members.len()).sum();
    assert!(
        in_groups > n,
        "overlapping groups: {in_groups} memberships for {n} users"
    );
    let direct = s.okta.assignments.users.len();
    within("direct assignments", direct, 0.08, 0.25);

    let logins: HashMap<&str, &OktaUserSpec> =
        s.okta.users.iter().map(|u| (u.login.as_str(), u)).collect();
    let linked = s
        .kafkaman
        .members
        .iter()
        .filter(|m| m.external_id.is_some() && logins.contains_key(m.email.as_str()))
        .count();
    within("linked members", linked, 0.35, 0.45);
    let recased = s
        .kafkaman
        .members
        .iter()
        .filter(|m| !logins.contains_key(m.email.as_str()))
        .filter(|m| !m.email.starts_with("unmanaged"))
        .count();
    within("different-case members", recased, 0.005, 0.015);
    within("pending invites", s.kafkaman.invites.len(), 0.005, 0.015);
    let mut sources: Vec<&str> = s
        .kafkaman
        .invites
        .iter()
        .map(|i| i.source.as_str())
        .collect();
    sources.sort();
    sources.dedup();
    assert_eq!(sources, ["admin", "link", "request", "scim"]);
    within(
        "outside accounts",
        s.kafkaman.outside_accounts.len(),
        0.0025,
        0.0075,
    );
    let lower: HashSet<String> = s
        .okta
        .users
        .iter()
        .map(|u| u.login.to_lowercase())
        .collect();
    let unmanaged = s
        .kafkaman
        .members
        .iter()
        .filter(|m| m.external_id.is_none() && !lower.contains(&m.email.to_lowercase()))
        .count();
    assert_eq!(unmanaged, 5);
    let needed = seats_after_first_sync(&s);
    assert!(
        s.kafkaman.seats >= needed,
        "{} seats for {needed}",
        s.kafkaman.seats
    );
    let first = &s.okta.users[0];
    let local = first.login.split('@').next().unwrap_or("");
    assert!(local.contains('.') && local.ends_with('1') && first.login.ends_with("@example.com"));
}

#[test]
fn example_scenario_loads() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/scenario.example.toml");
    let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.okta.service_apps.len(), 1);
    assert_eq!(s.okta.users[0].profile["department"], "Engineering");
    assert_eq!(s.okta.faults.len(), 3);
    assert_eq!(
        s.okta.faults[0].kind,
        crate::FaultKind::Status { status: 503 }
    );
    assert_eq!(s.okta.faults[0].after, 1);
    assert_eq!(s.okta.rate_limits.window_secs, 60);
    assert!(s.kafkaman.keys.iter().any(|k| k.status == "REVOKED"));
    assert_eq!(s.kafkaman.faults[0].kind, crate::FaultKind::Drop);
    assert_eq!(s.kafkaman.faults[2].count, 2);
    assert_eq!(s.kafkaman.invites.len(), 2);
}

#[test]
fn fault_typo_in_a_file_names_the_field_and_line() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/scenario.example.toml");
    let text = std::fs::read_to_string(path).expect("reads");
    let line = text
        .lines()
        .position(|l| l.starts_with("ms = 250"))
        .expect("latency fault in the example")
        + 1;
    let broken = text.replacen("ms = 250", "mss = 250", 1);
    let err = Scenario::parse(&broken, false, "x.toml")
        .expect_err("typo refused")
        .to_string();
    assert!(err.contains("mss"), "{err}");
    // toml points at the fault's table; it must be the one with the typo.
    let reported: usize = err
        .split("line ")
        .nth(1)
        .and_then(|r| r.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no line in {err}"));
    assert!(
        reported <= line && reported + 4 >= line,
        "{err} (typo on line {line})"
    );
}

/// Times 100,000 users: `cargo test --lib generate::tests::time_100k -- --ignored --nocapture`.
#[test]
#[ignore]
fn time_100k() {
    // CPU time of this thread: the wall clock on a shared machine says little.
    let cpu = || {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec.
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    };
    let (started, cpu_started) = (std::time::Instant::now(), cpu());
    let s = generate(100_000, 1);
    println!(
        "generate(100_000): {:?} wall, {:?} cpu, {} members",
        started.elapsed(),
        cpu() - cpu_started,
        s.kafkaman.members.len()
    );
    let started = std::time::Instant::now();
    s.validate_refs().expect("valid");
    println!("validate_refs: {:?}", started.elapsed());
}
