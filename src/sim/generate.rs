//! Ready-made worlds for the simulators: [`builtin`] (a small org tests refer to by
//! fixed ids), [`demo`] (what `scim-sync demo` runs) and [`generate`] (a synthetic org of
//! any size with realistic churn, deterministic per seed).
//!
//! "Entitled" below means what the daemon is expected to provision: assigned to the app
//! (directly or through an assigned group) with Okta status `ACTIVE` or `PROVISIONED`
//! (see `okta-api.md`: anything else is "not entitled").

use std::collections::{HashMap, HashSet};

use super::scenario::{
    InviteSpec, KafkamanScenario, MemberSpec, OktaGroupSpec, OktaScenario, OktaUserSpec, Scenario,
};

/// Fixed ids and emails of [`builtin`], for tests to refer to.
pub mod builtin_ids {
    /// Team admin, linked member, in Engineering.
    pub const ADA: &str = "00ubuiltin0000000001";
    pub const ADA_EMAIL: &str = "ada.lovelace@example.com";
    /// Linked member, in Engineering.
    pub const ALAN: &str = "00ubuiltin0000000002";
    /// Assigned through Engineering, not yet in the team (a plain create).
    pub const GRACE: &str = "00ubuiltin0000000003";
    pub const GRACE_EMAIL: &str = "grace.hopper@example.com";
    /// Linked member whose kafkaman family name is out of date ("Huberman").
    pub const BARBARA: &str = "00ubuiltin0000000005";
    pub const BARBARA_EMAIL: &str = "barbara.liskov@example.com";
    /// Linked member, in Platform.
    pub const DENNIS: &str = "00ubuiltin0000000008";
    /// SUSPENDED in Okta, assigned through Engineering, still an active member.
    pub const SUSPENDED: &str = "00ubuiltin0000000012";
    pub const SUSPENDED_EMAIL: &str = "john.mccarthy@example.com";
    /// DEPROVISIONED in Okta, assigned directly, still an active member.
    pub const DEPROVISIONED: &str = "00ubuiltin0000000013";
    pub const DEPROVISIONED_EMAIL: &str = "frances.allen@example.com";
    /// Assigned directly; has a kafkaman account outside the team (a create invites them).
    pub const OUTSIDE: &str = "00ubuiltin0000000014";
    pub const OUTSIDE_EMAIL: &str = "tim.berners-lee@example.com";
    /// Assigned directly; has a pending invite with source `admin` (conflicts with a create).
    pub const ADMIN_INVITED: &str = "00ubuiltin0000000015";
    pub const ADMIN_INVITED_EMAIL: &str = "katherine.johnson@example.com";
    /// Assigned directly; linked member with membership `invited` and a `scim` invite.
    pub const SCIM_INVITED: &str = "00ubuiltin0000000016";
    pub const SCIM_INVITED_EMAIL: &str = "claude.shannon@example.com";
    /// In Sales (not assigned) and assigned directly.
    pub const SOPHIE: &str = "00ubuiltin0000000019";
    /// Not assigned, in no group.
    pub const UNASSIGNED: &str = "00ubuiltin0000000020";
    /// In Engineering and assigned directly (two assignment paths).
    pub const GUIDO: &str = "00ubuiltin0000000021";
    /// Team member with no externalId and no Okta user: not ours to manage.
    pub const UNMANAGED_EMAIL: &str = "ops-oncall@example.com";
    /// Assigned to the app.
    pub const GROUP_ENGINEERING: &str = "00gbuiltin0000000001";
    /// Assigned to the app.
    pub const GROUP_PLATFORM: &str = "00gbuiltin0000000002";
    /// Not assigned to the app.
    pub const GROUP_SALES: &str = "00gbuiltin0000000003";
    /// Seats of the builtin team.
    pub const SEATS: u32 = 25;
}

/// Fixed facts about [`demo`].
pub mod demo_ids {
    /// Users in the demo org.
    pub const USERS: usize = 300;
    /// Team admin linked to an Okta user who is not assigned to the app: a sync that
    /// honours the protected list must leave them alone.
    pub const PROTECTED_ADMIN_EMAIL: &str = "morgan.admin@example.com";
    /// Team member with no externalId and no Okta user.
    pub const UNMANAGED_EMAIL: &str = "build-bot@example.com";
    /// Seats beyond what the first sync needs.
    pub const SEAT_MARGIN: u32 = 2;
}

/// A small, fixed org: 25 users, 3 groups, every situation the sync handles once.
pub fn builtin() -> Scenario {
    use builtin_ids as b;
    // (first, last, status, groups by index into GROUPS, directly assigned)
    const PEOPLE: &[(&str, &str, &str, &[usize], bool)] = &[
        ("Ada", "Lovelace", "ACTIVE", &[0], false),
        ("Alan", "Turing", "ACTIVE", &[0], false),
        ("Grace", "Hopper", "ACTIVE", &[0], false),
        ("Edsger", "Dijkstra", "ACTIVE", &[0], false),
        ("Barbara", "Liskov", "ACTIVE", &[0], false),
        ("Donald", "Knuth", "ACTIVE", &[0], false),
        ("Ken", "Thompson", "ACTIVE", &[1], false),
        ("Dennis", "Ritchie", "ACTIVE", &[1], false),
        ("Margaret", "Hamilton", "ACTIVE", &[1], false),
        ("Linus", "Torvalds", "ACTIVE", &[1], false),
        ("Radia", "Perlman", "ACTIVE", &[1], false),
        ("John", "McCarthy", "SUSPENDED", &[0], false),
        ("Frances", "Allen", "DEPROVISIONED", &[], true),
        ("Tim", "Berners-Lee", "ACTIVE", &[], true),
        ("Katherine", "Johnson", "ACTIVE", &[], true),
        ("Claude", "Shannon", "ACTIVE", &[], true),
        ("Hedy", "Lamarr", "ACTIVE", &[2], false),
        ("John", "von Neumann", "ACTIVE", &[2], false),
        ("Sophie", "Wilson", "ACTIVE", &[2], true),
        ("Bjarne", "Stroustrup", "ACTIVE", &[], false),
        ("Guido", "van Rossum", "ACTIVE", &[0], true),
        ("Adele", "Goldberg", "ACTIVE", &[0, 2], false),
        ("Niklaus", "Wirth", "ACTIVE", &[], false),
        ("Leslie", "Lamport", "ACTIVE", &[1], false),
        ("Whitfield", "Diffie", "ACTIVE", &[], false),
    ];
    const GROUPS: &[(&str, &str, &str, bool)] = &[
        (
            b::GROUP_ENGINEERING,
            "Engineering",
            "Product engineering",
            true,
        ),
        (b::GROUP_PLATFORM, "Platform", "Platform and SRE", true),
        (
            b::GROUP_SALES,
            "Sales",
            "Sales and account management",
            false,
        ),
    ];

    let mut okta = OktaScenario::default();
    let mut groups: Vec<OktaGroupSpec> = GROUPS
        .iter()
        .map(|(id, name, description, _)| OktaGroupSpec {
            id: Some(id.to_string()),
            name: name.to_string(),
            description: Some(description.to_string()),
            members: Vec::new(),
        })
        .collect();
    for (i, (first, last, status, in_groups, direct)) in PEOPLE.iter().enumerate() {
        let id = format!("00ubuiltin{:010}", i + 1);
        let email = format!("{}.{}@example.com", slug(first), slug(last));
        let mut profile = serde_json::Map::new();
        let department = in_groups.first().map_or("Finance", |g| GROUPS[*g].1);
        profile.insert("department".into(), department.into());
        profile.insert("employeeNumber".into(), format!("E{:05}", i + 1).into());
        for g in *in_groups {
            groups[*g].members.push(id.clone());
        }
        if *direct {
            // Refer to direct assignments by login: the format accepts both.
            okta.assignments.users.push(email.clone());
        }
        okta.users.push(OktaUserSpec {
            id: Some(id),
            login: email.clone(),
            email: Some(email),
            first_name: Some(first.to_string()),
            last_name: Some(last.to_string()),
            status: status.to_string(),
            profile,
        });
    }
    okta.assignments.groups = GROUPS
        .iter()
        .filter(|g| g.3)
        .map(|g| g.1.to_string())
        .collect();
    okta.groups = groups;

    let linked = |id: &str, given: &str, family: &str| MemberSpec {
        email: okta
            .users
            .iter()
            .find(|u| u.id.as_deref() == Some(id))
            .map(|u| u.login.clone())
            .unwrap_or_default(),
        given_name: Some(given.to_string()),
        family_name: Some(family.to_string()),
        external_id: Some(id.to_string()),
        active: true,
        membership: None,
        role: "developer".to_string(),
    };
    let mut members = vec![
        MemberSpec {
            role: "admin".to_string(),
            ..linked(b::ADA, "Ada", "Lovelace")
        },
        linked(b::ALAN, "Alan", "Turing"),
        linked(b::BARBARA, "Barbara", "Huberman"),
        linked(b::DENNIS, "Dennis", "Ritchie"),
        linked(b::SUSPENDED, "John", "McCarthy"),
        linked(b::DEPROVISIONED, "Frances", "Allen"),
        MemberSpec {
            membership: Some("invited".to_string()),
            ..linked(b::SCIM_INVITED, "Claude", "Shannon")
        },
    ];
    members.push(MemberSpec {
        email: b::UNMANAGED_EMAIL.to_string(),
        given_name: Some("Ops".to_string()),
        family_name: Some("On-call".to_string()),
        external_id: None,
        active: true,
        membership: None,
        role: "developer".to_string(),
    });
    let kafkaman = KafkamanScenario {
        seats: b::SEATS,
        members,
        outside_accounts: vec![b::OUTSIDE_EMAIL.to_string()],
        invites: vec![
            InviteSpec {
                email: b::ADMIN_INVITED_EMAIL.to_string(),
                source: "admin".to_string(),
                invited_by: Some(b::ADA_EMAIL.to_string()),
                age_days: 3,
            },
            InviteSpec {
                email: b::SCIM_INVITED_EMAIL.to_string(),
                source: "scim".to_string(),
                invited_by: None,
                age_days: 1,
            },
        ],
        ..KafkamanScenario::default()
    };
    Scenario { okta, kafkaman }
}

/// The world `scim-sync demo` runs: 300 users, and seats for exactly what the first sync
/// needs plus [`demo_ids::SEAT_MARGIN`]. Only two linked members lose their entitlement,
/// so even a sync that creates before it deactivates fits in the margin.
pub fn demo() -> Scenario {
    const GROUPS: &[(&str, bool, u32)] = &[
        // (name, assigned to the app, weight in ‰ as primary group)
        ("Engineering", true, 330),
        ("Data", true, 120),
        ("Product", true, 100),
        ("Sales", false, 250),
        ("Support", false, 200),
    ];
    let mut rng = fastrand::Rng::with_seed(0x5c1_5e7c);
    let mut okta = OktaScenario::default();
    let mut groups = make_groups("00gdemo", GROUPS.iter().map(|g| g.0));
    okta.assignments.groups = assigned_group_names(GROUPS.iter().map(|g| (g.0, g.1)));

    let mut entitled: Vec<usize> = Vec::new();
    let mut assigned_not_entitled: Vec<usize> = Vec::new();
    let mut unassigned_active: Vec<usize> = Vec::new();
    for i in 0..demo_ids::USERS {
        // Distinct (first, last) pairs for the first FIRST_NAMES.len() * LAST_NAMES.len() users: demo
        // emails carry no number.
        let first = FIRST_NAMES[i % FIRST_NAMES.len()];
        let last = LAST_NAMES[(i / FIRST_NAMES.len() + i) % LAST_NAMES.len()];
        let id = format!("00udemo{:013}", i + 1);
        let email = format!("{}.{}@example.com", slug(first), slug(last));
        let status = match i % 50 {
            7 => "SUSPENDED",
            31 if i % 100 == 31 => "DEPROVISIONED",
            _ => "ACTIVE",
        };
        let primary = pick_weighted(&mut rng, GROUPS.iter().map(|g| g.2));
        groups[primary].members.push(id.clone());
        let mut via_group = GROUPS[primary].1;
        if rng.u32(0..100) < 10 {
            let second = (primary + 1 + rng.usize(0..GROUPS.len() - 1)) % GROUPS.len();
            groups[second].members.push(id.clone());
            via_group |= GROUPS[second].1;
        }
        let direct = if via_group {
            rng.u32(0..100) < 3
        } else {
            rng.u32(0..100) < 30
        };
        if direct {
            okta.assignments.users.push(id.clone());
        }
        match (via_group || direct, status) {
            (true, "ACTIVE") => entitled.push(i),
            (true, _) => assigned_not_entitled.push(i),
            (false, "ACTIVE") => unassigned_active.push(i),
            _ => {}
        }
        okta.users.push(user_spec(
            id,
            email,
            first,
            last,
            status,
            GROUPS[primary].0,
            i,
        ));
    }
    okta.groups = groups;

    let mut kafkaman = KafkamanScenario::default();
    // Entitled users are taken in a shuffled order for the special roles so they spread
    // over the org; the shuffle is seeded, so the choice is stable.
    let provisioned_before = entitled.len() / 3;
    let mut pool = entitled;
    rng.shuffle(&mut pool);
    let mut pool = pool.into_iter();
    let mut take = || pool.next();
    for (n, source) in ["admin", "link", "request"].iter().enumerate() {
        if let Some(i) = take() {
            kafkaman.invites.push(InviteSpec {
                email: okta.users[i].login.clone(),
                source: source.to_string(),
                invited_by: (*source == "admin").then(|| demo_ids::PROTECTED_ADMIN_EMAIL.into()),
                age_days: 2 + 9 * n as u32,
            });
        }
    }
    if let Some(i) = take() {
        kafkaman.outside_accounts.push(okta.users[i].login.clone());
    }
    // About a third of the entitled users were provisioned by an earlier run.
    let already: Vec<usize> = std::iter::from_fn(&mut take)
        .take(provisioned_before)
        .collect();
    for (n, i) in already.iter().enumerate() {
        let mut member = linked_member(&okta.users[*i]);
        if n % 40 == 5 {
            // Renamed in Okta since the last run: the sync updates the name.
            member.family_name = Some("Previous-Name".to_string());
        }
        kafkaman.members.push(member);
    }
    // Two members who lost their entitlement (one suspended, one deprovisioned).
    for status in ["SUSPENDED", "DEPROVISIONED"] {
        if let Some(i) = assigned_not_entitled
            .iter()
            .find(|i| okta.users[**i].status == status)
        {
            kafkaman.members.push(linked_member(&okta.users[*i]));
        }
    }
    // The protected admin: an Okta user not assigned to the app, linked, role admin.
    if let Some(i) = unassigned_active.first() {
        let user = &mut okta.users[*i];
        user.login = demo_ids::PROTECTED_ADMIN_EMAIL.to_string();
        user.email = Some(user.login.clone());
        user.first_name = Some("Morgan".to_string());
        user.last_name = Some("Admin".to_string());
        kafkaman.members.push(MemberSpec {
            role: "admin".to_string(),
            ..linked_member(user)
        });
    }
    kafkaman.members.push(MemberSpec {
        email: demo_ids::UNMANAGED_EMAIL.to_string(),
        given_name: Some("Build".to_string()),
        family_name: Some("Bot".to_string()),
        external_id: None,
        active: true,
        membership: None,
        role: "developer".to_string(),
    });
    // A stale invite for someone Okta doesn't know: no conflict, left alone.
    kafkaman.invites.push(InviteSpec {
        email: "visiting.speaker@partner.example".to_string(),
        source: "admin".to_string(),
        invited_by: Some(demo_ids::PROTECTED_ADMIN_EMAIL.to_string()),
        age_days: 45,
    });

    let mut scenario = Scenario { okta, kafkaman };
    scenario.kafkaman.seats = seats_after_first_sync(&scenario) + demo_ids::SEAT_MARGIN;
    scenario
}

/// A synthetic org of `users` users, the same for the same seed.
///
/// Proportions (of `users`): 5 groups with overlapping membership; ~70% assigned (through
/// groups and directly); ~3% SUSPENDED, ~2% DEPROVISIONED, ~1% STAGED / PASSWORD_EXPIRED /
/// LOCKED_OUT; ~40% already team members linked by externalId (some with outdated names,
/// some already deactivated, a few `invited` with a `scim` invite); ~1% members whose email
/// differs in case from Okta's (half of them linked); ~0.8% conflicting pending invites
/// (admin/link/request); ~0.5% kafkaman accounts outside the team; 1-5 unmanaged members
/// (one of them the team admin). Seats cover everyone assigned plus 2% spare.
///
/// Linear in `users`: group members and assignments are pushed as ids while users are made.
pub fn generate(users: usize, seed: u64) -> Scenario {
    const GROUPS: &[(&str, bool, u32)] = &[
        ("Engineering", true, 300),
        ("Data", true, 120),
        ("Product", true, 130),
        ("Sales", false, 250),
        ("Support", false, 200),
    ];
    let mut rng = fastrand::Rng::with_seed(seed);
    let tag = seed_tag(seed);
    let mut okta = OktaScenario {
        users: Vec::with_capacity(users),
        ..OktaScenario::default()
    };
    let mut groups = make_groups(&format!("00g{tag}"), GROUPS.iter().map(|g| g.0));
    okta.assignments.groups = assigned_group_names(GROUPS.iter().map(|g| (g.0, g.1)));
    let mut kafkaman = KafkamanScenario {
        members: Vec::with_capacity(users / 2),
        ..KafkamanScenario::default()
    };
    let mut seats_needed: u32 = 0;
    // Slugs once per name, not once per user.
    let first_slugs: Vec<String> = FIRST_NAMES.iter().map(|n| slug(n)).collect();
    let last_slugs: Vec<String> = LAST_NAMES.iter().map(|n| slug(n)).collect();

    for i in 0..users {
        let (f, l) = (
            rng.usize(0..FIRST_NAMES.len()),
            rng.usize(0..LAST_NAMES.len()),
        );
        let (first, last) = (FIRST_NAMES[f], LAST_NAMES[l]);
        let id = format!("00u{tag}{}", scrambled_base62(i as u64, seed));
        let email = format!("{}.{}{}@example.com", first_slugs[f], last_slugs[l], i + 1);
        let status = match rng.u32(0..1000) {
            0..30 => "SUSPENDED",
            30..50 => "DEPROVISIONED",
            50..53 => "STAGED",
            53..57 => "PASSWORD_EXPIRED",
            57..60 => "LOCKED_OUT",
            _ => "ACTIVE",
        };
        let primary = pick_weighted(&mut rng, GROUPS.iter().map(|g| g.2));
        groups[primary].members.push(id.clone());
        let mut via_group = GROUPS[primary].1;
        if rng.u32(0..100) < 10 {
            let second = (primary + 1 + rng.usize(0..GROUPS.len() - 1)) % GROUPS.len();
            groups[second].members.push(id.clone());
            via_group |= GROUPS[second].1;
        }
        // Tuned so that about 70% end up assigned: 56.8% come through groups.
        let direct = if via_group {
            rng.u32(0..1000) < 30
        } else {
            rng.u32(0..1000) < 305
        };
        if direct {
            okta.assignments.users.push(id.clone());
        }
        let assigned = via_group || direct;
        let user = user_spec(id, email, first, last, status, GROUPS[primary].0, i);

        // The team side. Thresholds are per mille of the assigned (or unassigned) users,
        // chosen to give the proportions of all users documented above.
        let roll = rng.u32(0..10_000);
        if assigned {
            seats_needed += 1;
            match roll {
                0..5_400 => {
                    let mut member = linked_member(&user);
                    match rng.u32(0..1000) {
                        0..20 => member.family_name = Some(format!("{last}-Old")),
                        20..26 => member.membership = Some("invited".to_string()),
                        _ => {}
                    }
                    if member.membership.as_deref() == Some("invited") {
                        kafkaman.invites.push(InviteSpec {
                            email: member.email.clone(),
                            source: "scim".to_string(),
                            invited_by: None,
                            age_days: rng.u32(0..30),
                        });
                    }
                    if status == "DEPROVISIONED" && rng.bool() {
                        member.active = false;
                        member.membership = Some("deactivated".to_string());
                    }
                    kafkaman.members.push(member);
                }
                5_400..5_543 => {
                    let mut member = linked_member(&user);
                    member.email = recase(&member.email, rng.bool());
                    if rng.bool() {
                        member.external_id = None;
                    }
                    kafkaman.members.push(member);
                }
                5_543..5_657 => {
                    let source = ["admin", "link", "request"][rng.usize(0..3)];
                    kafkaman.invites.push(InviteSpec {
                        email: user.login.clone(),
                        source: source.to_string(),
                        invited_by: (source == "admin").then(|| "it-admin@example.com".into()),
                        age_days: rng.u32(0..60),
                    });
                }
                5_657..5_728 => kafkaman.outside_accounts.push(user.login.clone()),
                _ => {}
            }
        } else if roll < 700 {
            // Unassigned since an earlier run: a stale member, some already deactivated.
            let mut member = linked_member(&user);
            if rng.u32(0..10) < 3 {
                member.active = false;
                member.membership = Some("deactivated".to_string());
            } else {
                seats_needed += 1;
            }
            kafkaman.members.push(member);
        }
        okta.users.push(user);
    }
    okta.groups = groups;

    let unmanaged = (users / 1000).clamp(1, 5);
    for n in 0..unmanaged {
        kafkaman.members.push(MemberSpec {
            email: format!("unmanaged{}@example.com", n + 1),
            given_name: Some("Service".to_string()),
            family_name: Some(format!("Account {}", n + 1)),
            external_id: None,
            active: true,
            membership: None,
            role: if n == 0 { "admin" } else { "developer" }.to_string(),
        });
    }
    seats_needed += unmanaged as u32;
    kafkaman.seats = seats_needed + seats_needed / 50 + 2;
    Scenario { okta, kafkaman }
}

/// Seats in use once a sync has run against `scenario`: one per entitled user (kept,
/// reactivated or created) plus the seat holders the sync keeps without an entitled
/// user: unlinked members (no externalId; not ours) and admins (protected). Members
/// linked to users who are not entitled are deactivated and free their seat.
pub fn seats_after_first_sync(scenario: &Scenario) -> u32 {
    let okta = &scenario.okta;
    let mut by_ref: HashMap<&str, usize> = HashMap::with_capacity(okta.users.len() * 2);
    let mut by_email: HashMap<String, usize> = HashMap::with_capacity(okta.users.len());
    for (i, u) in okta.users.iter().enumerate() {
        by_ref.insert(u.login.as_str(), i);
        if let Some(id) = &u.id {
            by_ref.insert(id.as_str(), i);
        }
        by_email.insert(u.login.to_lowercase(), i);
    }
    let find = |r: &str| {
        by_ref
            .get(r)
            .copied()
            .or_else(|| by_email.get(&r.to_lowercase()).copied())
    };
    let mut assigned = vec![false; okta.users.len()];
    for r in &okta.assignments.users {
        if let Some(i) = find(r) {
            assigned[i] = true;
        }
    }
    let assigned_groups: HashSet<&str> =
        okta.assignments.groups.iter().map(String::as_str).collect();
    for g in &okta.groups {
        let is_assigned = assigned_groups.contains(g.name.as_str())
            || g.id
                .as_deref()
                .is_some_and(|id| assigned_groups.contains(id));
        if is_assigned {
            for m in &g.members {
                if let Some(i) = find(m) {
                    assigned[i] = true;
                }
            }
        }
    }
    let entitled: Vec<bool> = okta
        .users
        .iter()
        .zip(&assigned)
        .map(|(u, a)| *a && matches!(u.status.as_str(), "ACTIVE" | "PROVISIONED"))
        .collect();
    let mut seats = entitled.iter().filter(|e| **e).count() as u32;
    for m in &scenario.kafkaman.members {
        let holds_seat = match m.membership.as_deref() {
            Some(ms) => ms != "deactivated",
            None => m.active,
        };
        let matched = m
            .external_id
            .as_deref()
            .and_then(find)
            .or_else(|| by_email.get(&m.email.to_lowercase()).copied());
        let entitled_match = matched.is_some_and(|i| entitled[i]);
        if holds_seat && !entitled_match && (m.external_id.is_none() || m.role == "admin") {
            seats += 1;
        }
    }
    seats
}

fn make_groups<'a>(id_prefix: &str, names: impl Iterator<Item = &'a str>) -> Vec<OktaGroupSpec> {
    names
        .enumerate()
        .map(|(n, name)| OktaGroupSpec {
            // Okta ids are 20 characters: pad the number to fill what the prefix leaves.
            id: Some(format!(
                "{id_prefix}{:0width$}",
                n + 1,
                width = 20usize.saturating_sub(id_prefix.len())
            )),
            name: name.to_string(),
            description: Some(format!("{name} department")),
            members: Vec::new(),
        })
        .collect()
}

fn assigned_group_names<'a>(groups: impl Iterator<Item = (&'a str, bool)>) -> Vec<String> {
    groups.filter(|g| g.1).map(|g| g.0.to_string()).collect()
}

fn user_spec(
    id: String,
    email: String,
    first: &str,
    last: &str,
    status: &str,
    department: &str,
    index: usize,
) -> OktaUserSpec {
    let mut profile = serde_json::Map::new();
    profile.insert("department".into(), department.into());
    profile.insert("employeeNumber".into(), format!("E{:06}", index + 1).into());
    OktaUserSpec {
        id: Some(id),
        login: email.clone(),
        email: Some(email),
        first_name: Some(first.to_string()),
        last_name: Some(last.to_string()),
        status: status.to_string(),
        profile,
    }
}

/// A member as an earlier run of the sync would have created it.
fn linked_member(user: &OktaUserSpec) -> MemberSpec {
    MemberSpec {
        email: user.login.clone(),
        given_name: user.first_name.clone(),
        family_name: user.last_name.clone(),
        external_id: user.id.clone(),
        active: true,
        membership: None,
        role: "developer".to_string(),
    }
}

/// Index into weights, drawn in proportion to them.
fn pick_weighted(rng: &mut fastrand::Rng, weights: impl Iterator<Item = u32> + Clone) -> usize {
    let total: u32 = weights.clone().sum();
    let mut roll = rng.u32(0..total.max(1));
    let mut last = 0;
    for (i, w) in weights.enumerate() {
        if roll < w {
            return i;
        }
        roll -= w;
        last = i;
    }
    last
}

/// The same email in another case: `Ada.Lovelace@Example.com` or all upper case.
fn recase(email: &str, upper: bool) -> String {
    if upper {
        return email.to_uppercase();
    }
    let mut out = String::with_capacity(email.len());
    let mut start = true;
    for c in email.chars() {
        out.push(if start { c.to_ascii_uppercase() } else { c });
        start = matches!(c, '.' | '@' | '-');
    }
    out
}

/// Lower-case ASCII for email local parts: accents dropped, spaces removed.
fn slug(name: &str) -> String {
    name.chars()
        .filter_map(|c| match c {
            'a'..='z' | '0'..='9' | '-' => Some(c),
            'A'..='Z' => Some(c.to_ascii_lowercase()),
            'á' | 'à' | 'ä' | 'å' | 'ã' => Some('a'),
            'é' | 'è' | 'ë' => Some('e'),
            'í' | 'ï' => Some('i'),
            'ó' | 'ö' | 'ø' => Some('o'),
            'ú' | 'ü' => Some('u'),
            'ñ' => Some('n'),
            'ç' => Some('c'),
            _ => None,
        })
        .collect()
}

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Six characters that make a seed's ids differ from another seed's.
fn seed_tag(seed: u64) -> String {
    let mut x = mix(seed ^ 0x9e37_79b9_7f4a_7c15);
    (0..6)
        .map(|_| {
            let c = BASE62[(x % 62) as usize] as char;
            x /= 62;
            c
        })
        .collect()
}

/// Eleven base-62 characters from a bijection of `n`: unique per index, random-looking
/// like Okta's ids.
fn scrambled_base62(n: u64, seed: u64) -> String {
    let mut x = mix(n ^ seed.rotate_left(17));
    let mut out = [b'0'; 11];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(x % 62) as usize];
        x /= 62;
    }
    out.iter().map(|b| *b as char).collect()
}

/// SplitMix64's finaliser: every step is invertible, so distinct inputs stay distinct.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

const FIRST_NAMES: &[&str] = &[
    "Aaliyah",
    "Adrian",
    "Aisha",
    "Alejandro",
    "Amara",
    "Andrei",
    "Anna",
    "Arjun",
    "Beatriz",
    "Benjamin",
    "Carlos",
    "Chen",
    "Chloé",
    "Daniel",
    "Dmitri",
    "Elena",
    "Emeka",
    "Emma",
    "Fatima",
    "Felix",
    "Gabriel",
    "Hana",
    "Hiroshi",
    "Ingrid",
    "Isabel",
    "Jamal",
    "Javier",
    "Jin",
    "José",
    "Julia",
    "Kai",
    "Kavya",
    "Kenji",
    "Lars",
    "Leila",
    "Liam",
    "Lucía",
    "Mai",
    "Marco",
    "Maria",
    "Mateo",
    "Mei",
    "Mohammed",
    "Nadia",
    "Noah",
    "Nour",
    "Olga",
    "Omar",
    "Priya",
    "Rafael",
    "Ravi",
    "Rosa",
    "Sakura",
    "Samuel",
    "Sara",
    "Sofia",
    "Stefan",
    "Tariq",
    "Thomas",
    "Valentina",
    "Wei",
    "Yara",
    "Yusuf",
    "Zoë",
];

const LAST_NAMES: &[&str] = &[
    "Abe",
    "Adeyemi",
    "Ahmed",
    "Andersson",
    "Bauer",
    "Becker",
    "Bianchi",
    "Brown",
    "Castro",
    "Chen",
    "Costa",
    "da Silva",
    "Dubois",
    "Eriksen",
    "Fernández",
    "Fischer",
    "García",
    "Gupta",
    "Hansen",
    "Hernández",
    "Ivanova",
    "Jansen",
    "Johnson",
    "Kim",
    "Kowalski",
    "Kumar",
    "Larsen",
    "Lee",
    "Lopez",
    "Martin",
    "Mensah",
    "Moreau",
    "Müller",
    "Nakamura",
    "Nguyen",
    "Novak",
    "Okafor",
    "Olsen",
    "O'Brien",
    "Patel",
    "Petrov",
    "Quispe",
    "Rahman",
    "Ramos",
    "Rossi",
    "Santos",
    "Schmidt",
    "Silva",
    "Singh",
    "Smith",
    "Sørensen",
    "Suzuki",
    "Tanaka",
    "Taylor",
    "Van Dijk",
    "Wagner",
    "Walker",
    "Wang",
    "Williams",
    "Wójcik",
    "Yamamoto",
    "Yilmaz",
    "Zhang",
    "Zimmermann",
];

#[cfg(test)]
mod tests {
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

    /// Ids of users assigned directly or through an assigned group.
    fn assigned_ids(s: &Scenario) -> HashSet<String> {
        let mut ids: HashMap<String, String> = HashMap::new();
        for u in &s.okta.users {
            if let Some(id) = &u.id {
                ids.insert(u.login.to_lowercase(), id.clone());
                ids.insert(id.clone(), id.clone());
            }
        }
        let id_of = |r: &String| {
            ids.get(r.as_str())
                .or_else(|| ids.get(&r.to_lowercase()))
                .cloned()
        };
        let mut out: HashSet<String> = s.okta.assignments.users.iter().filter_map(id_of).collect();
        for g in &s.okta.groups {
            if s.okta.assignments.groups.contains(&g.name) {
                out.extend(g.members.iter().filter_map(id_of));
            }
        }
        out
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
                assert!(assigned.contains(u.id.as_deref().unwrap_or("")) && u.status == "ACTIVE");
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

        let needed = seats_after_first_sync(&s);
        assert_eq!(s.kafkaman.seats, needed + demo_ids::SEAT_MARGIN);
        // Even creating everyone before deactivating anyone fits.
        let entitled_members = s
            .kafkaman
            .members
            .iter()
            .filter(|m| m.external_id.is_some() && m.role != "admin")
            .filter(|m| {
                s.okta.users.iter().any(|u| {
                    u.id == m.external_id
                        && u.status == "ACTIVE"
                        && assigned.contains(u.id.as_deref().unwrap_or(""))
                })
            })
            .count() as u32;
        let entitled = s
            .okta
            .users
            .iter()
            .filter(|u| u.status == "ACTIVE" && assigned.contains(u.id.as_deref().unwrap_or("")))
            .count() as u32;
        let stale: Vec<&str> = s
            .kafkaman
            .members
            .iter()
            .filter(|m| m.external_id.is_some() && m.role != "admin")
            .filter_map(|m| s.okta.users.iter().find(|u| u.id == m.external_id))
            .filter(|u| u.status != "ACTIVE" || !assigned.contains(u.id.as_deref().unwrap_or("")))
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
        assert!(
            local.contains('.') && local.ends_with('1') && first.login.ends_with("@example.com")
        );
    }

    #[test]
    fn example_scenario_loads() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/scenario.example.toml");
        let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.okta.service_apps.len(), 1);
        assert_eq!(s.okta.users[0].profile["department"], "Engineering");
        assert_eq!(s.okta.faults.len(), 3);
        assert_eq!(
            s.okta.faults[0].kind,
            crate::sim::FaultKind::Status { status: 503 }
        );
        assert_eq!(s.okta.faults[0].after, 1);
        assert_eq!(s.okta.rate_limits.window_secs, 60);
        assert!(s.kafkaman.keys.iter().any(|k| k.status == "REVOKED"));
        assert_eq!(s.kafkaman.faults[0].kind, crate::sim::FaultKind::Drop);
        assert_eq!(s.kafkaman.faults[2].count, 2);
        assert_eq!(s.kafkaman.invites.len(), 2);
    }

    #[test]
    fn fault_typo_in_a_file_names_the_field_and_line() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/scenario.example.toml");
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
}
