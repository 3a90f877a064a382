//! [`builtin`]: the small, fixed org tests refer to by id.

use super::{
    InviteSpec, KafkamanScenario, MemberSpec, OktaGroupSpec, OktaScenario, OktaUserSpec, Scenario,
    slug,
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
            app_username: None,
            app_profile: Default::default(),
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
