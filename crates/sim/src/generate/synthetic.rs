//! [`generate`]: a synthetic org of any size, deterministic per seed.

use super::names::{FIRST_NAMES, LAST_NAMES};
use super::{
    InviteSpec, KafkamanScenario, MemberSpec, OktaScenario, Scenario, assigned_group_names,
    linked_member, make_groups, pick_weighted, slug, user_spec,
};

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
