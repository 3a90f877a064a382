//! The kafkaman client against the simulated kafkaman team, over real HTTP.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use scim_sync::kafkaman::{
    ConflictReason, InviteDeletion, KafkamanClient, KafkamanClientOptions, KafkamanError, NewUser,
};
use scim_sync::sim::scenario::{InviteSpec, KafkamanRateLimit, MemberSpec};
use scim_sync::sim::{FaultKind, FaultSpec, LoggedRequest, Scenario, SimWorld};

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
    let found = km
        .find_by_user_name("ADA@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, created.id);
    assert!(
        km.find_by_user_name("bob@example.com")
            .await
            .unwrap()
            .is_none()
    );
    // Quotes are escaped, not a filter error.
    assert!(
        km.find_by_user_name("a\"b\\c@example.com")
            .await
            .unwrap()
            .is_none()
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
            .all(|i| i.status == "pending" && i.source == "admin")
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
