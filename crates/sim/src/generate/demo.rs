//! [`demo`]: the world `scim-sync demo` runs.

use super::names::{FIRST_NAMES, LAST_NAMES};
use super::{
    InviteSpec, KafkamanScenario, MemberSpec, OktaScenario, Scenario, assigned_group_names,
    is_entitled_status, linked_member, make_groups, pick_weighted, seats_after_first_sync, slug,
    user_spec,
};

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
            (true, s) if is_entitled_status(s) => entitled.push(i),
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
