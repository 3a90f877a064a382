//! The kafkaman client against the simulated kafkaman team, over real HTTP.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use scim_sync::kafkaman::{
    ConflictReason, InviteDeletion, KafkamanClient, KafkamanClientOptions, KafkamanError, NewUser,
};
use scim_sync_sim::scenario::{InviteSpec, KafkamanRateLimit, MemberSpec};
use scim_sync_sim::{FaultKind, FaultSpec, LoggedRequest, Scenario, SimWorld};

fn member(i: usize) -> MemberSpec {
    MemberSpec {
        email: format!("member{i:03}@example.com"),
        given_name: Some(format!("Given{i}")),
        family_name: Some(format!("Family{i}")),
        external_id: Some(format!("00u{i:05}")),
        active: true,
        membership: None,
        role: "developer".to_string(),
    }
}

fn scenario(members: usize) -> Scenario {
    let mut s = Scenario::default();
    s.kafkaman.seats = 1000;
    s.kafkaman.members = (0..members).map(member).collect();
    s
}

fn options(world: &SimWorld) -> KafkamanClientOptions {
    let mut o = KafkamanClientOptions::new(
        world.kafkaman.url().parse().unwrap(),
        world.kafkaman.api_key().into(),
    );
    o.timeout = Duration::from_secs(5);
    o.max_retries = 2;
    o
}

fn client(world: &SimWorld) -> KafkamanClient {
    KafkamanClient::new(options(world)).unwrap()
}

fn new_user(email: &str) -> NewUser {
    NewUser {
        user_name: email.to_string(),
        given_name: "Ada".to_string(),
        family_name: "Lovelace".to_string(),
        external_id: format!("00u-{email}"),
        display_name: None,
    }
}

fn arm(world: &SimWorld, route: &str, method: &str, kind: FaultKind, count: u32) {
    world.kafkaman.faults().arm(FaultSpec {
        route: route.to_string(),
        method: Some(method.to_string()),
        kind,
        count,
        after: 0,
    });
}

fn requests(world: &SimWorld, method: &str, path: &str) -> Vec<LoggedRequest> {
    world
        .kafkaman
        .requests()
        .into_iter()
        .filter(|r| r.method == method && r.path == path)
        .collect()
}

#[tokio::test]
async fn user_lifecycle() {
    let world = SimWorld::start(&scenario(0)).await.unwrap();
    let km = client(&world);
    let created = km.create_user(&new_user("ada@example.com")).await.unwrap();
    assert!(created.active);
    assert_eq!(created.user_name, "ada@example.com");
    assert_eq!(created.external_id.as_deref(), Some("00u-ada@example.com"));
    assert_eq!(created.membership.as_deref(), Some("active"));
    assert_eq!(created.role.as_deref(), Some("developer"));

    // userName is case-insensitive.
    let found = km.users_named("ADA@example.com").await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].id, created.id);
    assert!(km.users_named("bob@example.com").await.unwrap().is_empty());
    // Quotes are escaped, not a filter error.
    assert!(
        km.users_named("a\"b\\c@example.com")
            .await
            .unwrap()
            .is_empty()
    );
    let by_ext = km.find_by_external_id("00u-ada@example.com").await.unwrap();
    assert_eq!(by_ext.map(|u| u.id), Some(created.id.clone()));

    let renamed = km.set_name(&created.id, "Augusta", "King").await.unwrap();
    assert_eq!(renamed.given_name.as_deref(), Some("Augusta"));
    assert_eq!(renamed.family_name.as_deref(), Some("King"));

    let off = km.set_active(&created.id, false).await.unwrap();
    assert!(!off.active);
    assert_eq!(
        world.kafkaman.member("ada@example.com").unwrap().membership,
        "deactivated"
    );
    let on = km.set_active(&created.id, true).await.unwrap();
    assert!(on.active);

    let fetched = km.get_user(&created.id).await.unwrap().unwrap();
    assert_eq!(fetched.given_name.as_deref(), Some("Augusta"));
    assert!(km.get_user("no-such-id").await.unwrap().is_none());

    // A second create of the same person is a conflict that says so.
    let err = km
        .create_user(&new_user("Ada@Example.com"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(409));
    assert_eq!(err.conflict_reason(), Some(ConflictReason::AlreadyMember));
    assert!(!err.write_may_have_happened());
    assert!(km.service_provider_config().await.unwrap().is_object());
}

#[tokio::test]
async fn listing_follows_pages_to_the_end() {
    let world = SimWorld::start(&scenario(230)).await.unwrap();
    let km = client(&world);
    let pages = std::sync::Mutex::new(Vec::new());
    let on_page = |n: usize| pages.lock().unwrap().push(n);
    let users = km.list_users(&on_page).await.unwrap();
    let emails: BTreeSet<String> = users.iter().map(|u| u.user_name.to_lowercase()).collect();
    let expected: BTreeSet<String> = (0..230).map(|i| member(i).email).collect();
    assert_eq!(emails, expected);
    assert_eq!(users.len(), 230);
    assert_eq!(*pages.lock().unwrap(), vec![100, 200, 230]);
    assert_eq!(requests(&world, "GET", "/scim/v2/Users").len(), 3);
}

#[tokio::test]
async fn a_failed_page_fails_the_listing() {
    let world = SimWorld::start(&scenario(230)).await.unwrap();
    world.kafkaman.faults().arm(FaultSpec {
        route: "/scim/v2/Users".to_string(),
        method: Some("GET".to_string()),
        kind: FaultKind::Status { status: 503 },
        count: 10,
        after: 1,
    });
    let err = client(&world).list_users(&|_| {}).await.unwrap_err();
    assert_eq!(err.status(), Some(503), "{err}");
}

#[tokio::test]
async fn invites_pagination_and_delete() {
    let mut s = scenario(0);
    s.kafkaman.invites = (0..130)
        .map(|i| InviteSpec {
            email: format!("invitee{i:03}@example.com"),
            source: "admin".to_string(),
            invited_by: Some("owner@example.com".to_string()),
            age_days: 0,
        })
        .collect();
    let world = SimWorld::start(&s).await.unwrap();
    let km = client(&world);
    let invites = km.list_pending_invites().await.unwrap();
    assert_eq!(invites.len(), 130);
    let distinct: BTreeSet<_> = invites.iter().map(|i| i.id.clone()).collect();
    assert_eq!(distinct.len(), 130);
    assert!(
        invites
            .iter()
            .all(|i| i.status == scim_sync::kafkaman::InviteStatus::Pending && i.source == "admin")
    );
    assert_eq!(requests(&world, "GET", "/api/v1/team/invites").len(), 2);

    let id = invites[0].id.clone();
    assert_eq!(
        km.delete_invite(&id).await.unwrap(),
        InviteDeletion::Deleted
    );
    assert_eq!(
        km.delete_invite(&id).await.unwrap(),
        InviteDeletion::AlreadyGone
    );
    assert_eq!(km.list_pending_invites().await.unwrap().len(), 129);
}

#[tokio::test]
async fn pending_invite_conflict_then_create_after_deleting_it() {
    let world = SimWorld::start(&scenario(0)).await.unwrap();
    let invite_id = world
        .kafkaman
        .add_invite("eve@example.com", "link")
        .unwrap();
    let km = client(&world);
    let err = km
        .create_user(&new_user("eve@example.com"))
        .await
        .unwrap_err();
    assert_eq!(
        err.conflict_reason(),
        Some(ConflictReason::PendingInvite),
        "{err}"
    );
    assert!(err.request_id().is_some());
    assert_eq!(
        km.delete_invite(&invite_id).await.unwrap(),
        InviteDeletion::Deleted
    );
    assert!(
        km.create_user(&new_user("eve@example.com"))
            .await
            .unwrap()
            .active
    );
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let world = SimWorld::start(&scenario(3)).await.unwrap();
    arm(
        &world,
        "/scim/v2/Users",
        "POST",
        FaultKind::Status { status: 429 },
        1,
    );
    let started = Instant::now();
    let user = client(&world)
        .create_user(&new_user("ada@example.com"))
        .await
        .unwrap();
    assert!(user.active);
    let posts = requests(&world, "POST", "/scim/v2/Users");
    assert_eq!(
        posts.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![429, 201],
        "a 429 was not processed: the create is repeated"
    );
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(world.kafkaman.members().len(), 4);
}

#[tokio::test]
async fn writes_are_not_retried_after_a_5xx_but_reads_are() {
    let world = SimWorld::start(&scenario(1)).await.unwrap();
    let km = client(&world);
    arm(
        &world,
        "/scim/v2/Users",
        "POST",
        FaultKind::Status { status: 500 },
        1,
    );
    let err = km
        .create_user(&new_user("ada@example.com"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert!(err.write_may_have_happened());
    assert_eq!(
        requests(&world, "POST", "/scim/v2/Users").len(),
        1,
        "exactly one POST"
    );

    let id = world.kafkaman.members()[0].id.clone();
    arm(
        &world,
        "/scim/v2/Users/*",
        "GET",
        FaultKind::Status { status: 503 },
        1,
    );
    let got = km.get_user(&id).await.unwrap();
    assert!(got.is_some());
    let path = format!("/scim/v2/Users/{id}");
    let statuses: Vec<u16> = requests(&world, "GET", &path)
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![503, 200]);

    // A write whose response is cut off may have happened: reported, not repeated.
    arm(&world, "/scim/v2/Users/*", "PATCH", FaultKind::Drop, 1);
    let err = km.set_active(&id, false).await.unwrap_err();
    assert!(err.write_may_have_happened(), "{err}");
    assert_eq!(requests(&world, "PATCH", &path).len(), 1);
}

#[tokio::test]
async fn malformed_body_fails_that_call_with_the_request_id() {
    let world = SimWorld::start(&scenario(2)).await.unwrap();
    let km = client(&world);
    arm(&world, "/scim/v2/Users", "GET", FaultKind::Malformed, 1);
    let err = km.list_users(&|_| {}).await.unwrap_err();
    assert!(matches!(err, KafkamanError::Malformed { .. }), "{err}");
    let rid = err.request_id().expect("request id").to_string();
    assert!(err.to_string().contains(&rid));
    // The client is still usable.
    assert_eq!(km.list_users(&|_| {}).await.unwrap().len(), 2);
}

#[tokio::test]
async fn auth_and_team_state_errors_say_what_to_check() {
    let mut s = scenario(1);
    s.kafkaman.seats = 1;
    let world = SimWorld::start(&s).await.unwrap();
    let km = client(&world);

    let err = km
        .create_user(&new_user("bob@example.com"))
        .await
        .unwrap_err();
    assert!(matches!(err, KafkamanError::NoSeat { .. }), "{err}");

    world.kafkaman.set_scim_enabled(false);
    let err = km.list_users(&|_| {}).await.unwrap_err();
    assert!(matches!(err, KafkamanError::ScimDisabled { .. }), "{err}");
    assert!(err.to_string().contains("enable"), "{err}");
    world.kafkaman.set_scim_enabled(true);

    world
        .kafkaman
        .revoke_key(&world.kafkaman.api_key())
        .unwrap();
    let err = km.list_users(&|_| {}).await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(err.to_string().contains("ACTIVE"), "{err}");
    assert!(err.request_id().is_some());
}

#[tokio::test]
async fn concurrent_callers_stay_inside_the_rate_limit() {
    let mut s = scenario(0);
    s.kafkaman.rate_limit = KafkamanRateLimit {
        requests: 8,
        window_secs: 1,
    };
    let world = SimWorld::start(&s).await.unwrap();
    let km = client(&world);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..4 {
        let km = km.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..5 {
                km.create_user(&new_user(&format!("t{t}u{i}@example.com")))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(world.kafkaman.members().len(), 20);
    let limited = world
        .kafkaman
        .requests()
        .iter()
        .filter(|r| r.status == 429)
        .count();
    assert_eq!(limited, 0, "paced, never rate limited");
    // 20 requests at 8 per 1 s window: at least two window turns.
    assert!(started.elapsed() >= Duration::from_secs(2));
    let (limit, _) = km.rate_limit_status().unwrap();
    assert_eq!(limit, 8);
    assert_eq!(km.requests_made(), 20);
}

#[tokio::test]
async fn refused_connection_is_retried_and_reported_as_not_written() {
    // A port nobody listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mut o = KafkamanClientOptions::new(
        format!("http://{addr}").parse().unwrap(),
        "kmsim_key".into(),
    );
    o.max_retries = 2;
    let km = KafkamanClient::new(o).unwrap();
    let err = km
        .create_user(&new_user("ada@example.com"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, KafkamanError::Transport(t) if t.attempts == 3),
        "{err}"
    );
    assert!(!err.write_may_have_happened());
    assert_eq!(km.requests_made(), 3);
    assert!(err.to_string().contains("kafkaman.base_url"), "{err}");
}

// ---- incremental reads ----------------------------------------------------------------

fn lm(u: &scim_sync::kafkaman::ScimUser) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(u.last_modified.as_deref().expect("lastModified"))
        .expect("RFC 3339")
}

/// The latest `last_modified` of `users`, as kafkaman sent it.
fn high_water(users: &[scim_sync::kafkaman::ScimUser]) -> String {
    users
        .iter()
        .max_by_key(|u| lm(u))
        .and_then(|u| u.last_modified.clone())
        .expect("a member")
}

/// Waits until kafkaman's clock is past `t`, so later changes are strictly after it.
async fn past(world: &SimWorld, t: &str) {
    let t = chrono::DateTime::parse_from_rfc3339(t).unwrap();
    while world.kafkaman.now() <= t {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn filtered_reads(world: &SimWorld) -> Vec<LoggedRequest> {
    requests(world, "GET", "/scim/v2/Users")
        .into_iter()
        .filter(|r| r.query.contains("lastModified"))
        .collect()
}

#[tokio::test]
async fn users_modified_since_returns_exactly_the_later_changes() {
    let world = SimWorld::start(&scenario(250)).await.unwrap();
    let km = client(&world);
    let all = km.list_users(&|_| {}).await.unwrap();
    assert_eq!(all.len(), 250);
    assert!(
        all.iter().all(|u| u.last_modified.is_some()),
        "list_users fills last_modified"
    );
    let since = high_water(&all);
    past(&world, &since).await;

    // 130 members change: renamed over SCIM, or deactivated by an admin by hand.
    let mut changed = BTreeSet::new();
    for u in all.iter().step_by(2).take(100) {
        km.set_name(&u.id, "Renamed", "Member").await.unwrap();
        changed.insert(u.id.clone());
    }
    for u in all.iter().skip(1).step_by(2).take(30) {
        world
            .kafkaman
            .update_member(
                &u.user_name,
                scim_sync_sim::kafkaman::MemberUpdate {
                    active: Some(false),
                    ..Default::default()
                },
            )
            .unwrap();
        changed.insert(u.id.clone());
    }

    let got = km.users_modified_since(&since).await.unwrap();
    let ids: BTreeSet<String> = got.iter().map(|u| u.id.clone()).collect();
    assert_eq!(got.len(), 130, "each member once");
    assert_eq!(ids, changed);
    assert!(
        got.windows(2).all(|w| lm(&w[0]) <= lm(&w[1])),
        "oldest change first"
    );
    assert!(
        got.iter()
            .all(|u| lm(u) > chrono::DateTime::parse_from_rfc3339(&since).unwrap())
    );
    // The versions after the change.
    assert_eq!(
        got.iter()
            .filter(|u| u.given_name.as_deref() == Some("Renamed"))
            .count(),
        100
    );
    assert_eq!(got.iter().filter(|u| !u.active).count(), 30);
    let reads = filtered_reads(&world);
    assert_eq!(reads.len(), 2, "two pages of 100: {reads:?}");
    assert!(reads[1].query.contains("startIndex=101"), "{:?}", reads[1]);

    // From the latest of those: nothing since.
    let latest = high_water(&got);
    assert!(km.users_modified_since(&latest).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_member_changed_between_pages_is_not_missed() {
    let world = SimWorld::start(&scenario(150)).await.unwrap();
    let km = client(&world);
    let all = km.list_users(&|_| {}).await.unwrap();
    let since = high_water(&all);
    past(&world, &since).await;
    // 150 changes, each in its own millisecond, in creation order.
    for u in &all {
        world
            .kafkaman
            .update_member(
                &u.user_name,
                scim_sync_sim::kafkaman::MemberUpdate {
                    role: Some("admin".into()),
                    ..Default::default()
                },
            )
            .unwrap();
        let at = world.kafkaman.member(&u.user_name).unwrap().last_modified;
        past(&world, &at).await;
    }
    // The second page waits; meanwhile a member of the first page changes again. It
    // moves to the end and the member that was 101st becomes 100th: on no page.
    world.kafkaman.faults().arm(FaultSpec {
        route: "/scim/v2/Users".to_string(),
        method: Some("GET".to_string()),
        kind: FaultKind::Latency { ms: 400 },
        count: 1,
        after: 1,
    });
    let reading = tokio::spawn({
        let km = km.clone();
        let since = since.clone();
        async move { km.users_modified_since(&since).await }
    });
    while filtered_reads(&world).is_empty() {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    world
        .kafkaman
        .update_member(
            &all[10].user_name,
            scim_sync_sim::kafkaman::MemberUpdate {
                given_name: Some("Again".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let got = reading.await.unwrap().unwrap();
    let ids: BTreeSet<String> = got.iter().map(|u| u.id.clone()).collect();
    assert_eq!(ids.len(), 150, "every changed member");
    assert_eq!(got.len(), 150, "each once");
    assert_eq!(got.last().unwrap().id, all[10].id, "the latest change last");
    assert_eq!(got.last().unwrap().given_name.as_deref(), Some("Again"));
    assert!(got.windows(2).all(|w| lm(&w[0]) <= lm(&w[1])));
    // Read again from where the moved member first was.
    let reads = filtered_reads(&world);
    assert!(reads.len() > 2, "{reads:?}");
    assert!(reads[2].query.contains("+ge+"), "{:?}", reads[2]);
}

#[tokio::test]
async fn a_target_without_the_filter_is_told_apart() {
    let world = SimWorld::start(&scenario(3)).await.unwrap();
    let km = client(&world);
    let since = high_water(&km.list_users(&|_| {}).await.unwrap());
    world.kafkaman.set_compat(scim_sync_sim::kafkaman::Compat {
        last_modified_filter: false,
        ..Default::default()
    });
    let err = km.users_modified_since(&since).await.unwrap_err();
    assert!(err.is_unsupported_filter(), "{err}");
    assert_eq!(err.status(), Some(400));
    let rid = err.request_id().expect("request id").to_string();
    assert!(err.to_string().contains(&rid), "{err}");
    assert_eq!(filtered_reads(&world).len(), 1, "a 400 is not retried");

    // A `since` that isn't a time is never sent, so it can't pass for that.
    let before = km.requests_made();
    for bad in ["", "yesterday", "2024-05-01", "2024-05-01T10:00:00"] {
        let err = km.users_modified_since(bad).await.unwrap_err();
        assert!(
            matches!(err, KafkamanError::InvalidRequest(_)),
            "{bad}: {err}"
        );
        assert!(!err.is_unsupported_filter());
    }
    assert_eq!(km.requests_made(), before);

    // Other failures are not "unsupported".
    world.kafkaman.set_compat(Default::default());
    world.kafkaman.set_scim_enabled(false);
    let err = km.users_modified_since(&since).await.unwrap_err();
    assert!(!err.is_unsupported_filter(), "{err}");
}

#[tokio::test]
async fn a_bad_page_fails_users_modified_since() {
    let world = SimWorld::start(&scenario(230)).await.unwrap();
    let km = client(&world);
    let all = km.list_users(&|_| {}).await.unwrap();
    let since = high_water(&all);
    past(&world, &since).await;
    for u in &all {
        world
            .kafkaman
            .update_member(
                &u.user_name,
                scim_sync_sim::kafkaman::MemberUpdate {
                    active: Some(false),
                    ..Default::default()
                },
            )
            .unwrap();
    }
    world.kafkaman.faults().arm(FaultSpec {
        route: "/scim/v2/Users".to_string(),
        method: Some("GET".to_string()),
        kind: FaultKind::Malformed,
        count: 1,
        after: 1,
    });
    let err = km.users_modified_since(&since).await.unwrap_err();
    assert!(matches!(err, KafkamanError::Malformed { .. }), "{err}");
    assert!(err.request_id().is_some(), "{err}");
    assert!(!err.is_unsupported_filter());
    // A page that fails for good fails the call too (reads are retried first).
    world.kafkaman.faults().arm(FaultSpec {
        route: "/scim/v2/Users".to_string(),
        method: Some("GET".to_string()),
        kind: FaultKind::Status { status: 503 },
        count: 10,
        after: 2,
    });
    let err = km.users_modified_since(&since).await.unwrap_err();
    assert_eq!(err.status(), Some(503), "{err}");
    world.kafkaman.faults().clear();
    assert_eq!(km.users_modified_since(&since).await.unwrap().len(), 230);
}

#[tokio::test]
async fn pending_invites_for_one_address() {
    let mut s = scenario(0);
    for email in [
        "dev+ops@example.com",
        "dev ops@example.com",
        "devops@example.com",
        "r&d@example.com",
        "jörg@example.com",
    ] {
        s.kafkaman.invites.push(InviteSpec {
            email: email.to_string(),
            source: "admin".to_string(),
            invited_by: Some("owner@example.com".to_string()),
            age_days: 0,
        });
    }
    let world = SimWorld::start(&s).await.unwrap();
    let km = client(&world);
    for (asked, expected) in [
        ("Dev+Ops@Example.com", "dev+ops@example.com"),
        ("dev ops@example.com", "dev ops@example.com"),
        ("R&D@example.com", "r&d@example.com"),
        ("JÖRG@example.com", "jörg@example.com"),
    ] {
        let got = km.pending_invites_for(asked).await.unwrap();
        let emails: Vec<&str> = got.iter().map(|i| i.email.as_str()).collect();
        assert_eq!(emails, [expected], "{asked}");
        assert_eq!(got[0].source, "admin");
    }
    let sent: Vec<String> = requests(&world, "GET", "/api/v1/team/invites")
        .into_iter()
        .map(|r| r.query)
        .collect();
    assert!(
        sent[0].contains("email=Dev%2BOps%40Example.com"),
        "{sent:?}"
    );
    assert!(sent[2].contains("email=R%26D%40example.com"), "{sent:?}");
    assert!(
        km.pending_invites_for("nobody@example.com")
            .await
            .unwrap()
            .is_empty()
    );
    // Accepted invites are not pending.
    world.kafkaman.accept_invite("devops@example.com").unwrap();
    assert!(
        km.pending_invites_for("devops@example.com")
            .await
            .unwrap()
            .is_empty()
    );
}

/// A server that answers every request with a 429 asking to wait `Retry-After` seconds,
/// one value per request in turn (the last repeated).
async fn always_429(retry_after: Vec<String>) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        for i in 0.. {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let wait = &retry_after[i.min(retry_after.len() - 1)];
            let response = format!(
                "HTTP/1.1 429 Too Many Requests\r\nRetry-After: {wait}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = conn.write_all(response.as_bytes()).await;
        }
    });
    addr
}

/// Found by tests/parsers_prop.rs: a `Retry-After` beyond u64 was read as "1 s" (so the
/// client retried at once), and u64::MAX seconds after an earlier wait overflowed the
/// total-wait sum (a panic). Both are now a rate-limit error without waiting.
#[tokio::test]
async fn a_retry_after_longer_than_any_limit_fails_without_waiting() {
    for second in [u64::MAX.to_string(), format!("1{}", "0".repeat(30))] {
        let addr = always_429(vec!["1".to_string(), second.clone()]).await;
        let km = KafkamanClient::new(KafkamanClientOptions::new(
            format!("http://{addr}").parse().unwrap(),
            "kmsim_key".into(),
        ))
        .unwrap();
        let started = Instant::now();
        let err = km.list_pending_invites().await.unwrap_err();
        assert!(
            matches!(&err, KafkamanError::RateLimited { attempts: 2, retry_after: Some(w), .. } if *w == Duration::from_secs(u64::MAX)),
            "Retry-After {second}: {err:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }
}
