//! The Okta client against the simulated Okta org, over real HTTP.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use scim_sync::okta::{AppUser, Bucket, OktaAuth, OktaClient, OktaClientOptions, OktaError};
use scim_sync::sim::scenario::{OktaGroupSpec, OktaRateLimits, OktaUserSpec, ServiceAppSpec};
use scim_sync::sim::{FaultKind, FaultSpec, Scenario, SimWorld};

/// A throwaway RSA key pair used only by these tests.
const TEST_PRIVATE_KEY: &str = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAqlExdo1tcmhQz5/It6cBVRf3DvkYWW/pOljhtXF21jp9uEIM\nfn0nG80xZmiazZlrqZ77s35Z8MHnW4YR70ttPOampRCjjUpThBBTUR1JjpX/o6O8\nfsqoUba/sfikKiJhmqO22B+moT3fuWiFehWESTo5p8W3e3epY6FSD4zMuU9NELqD\n1lWS6UgKJuRln2EvJbdZM7jEAIK8GHt42mqfXY8P9yP7vDS6bZ8X3KnfNkF8DuhS\nuNb3qd5glrHDfCgSjCjhJQFWikdRdBBLmIo93MGHnnxPVlUlbHX+JzlgGy9IPLBL\nNlna07EpvwUNbHDdK+83tWDrpWy8/t9hv0Dx8wIDAQABAoIBACd8xJ2KY64rTlUc\n5CHkR/RNJpwjl4gg4K+E7Ouu31EC5aQDODdZV+hjtgjaxs1VPTdp40x1xm+B3VyE\nZIMY9z4v8cICbhDzgxJy4IZFZoj28PqlGy5AWS780kv2bEVSjFOYkmtgRzdKC6VG\nfO/VrkJ2C+kAd65aC31MaSSuzcZGoaBu35A34JC+GzT2bWBGrRgJ/2iqZxsIkIuo\nrAxf7d77I7TQGuXSnCCaagYB2GaUV5tgoZ/B2BrlrIxiXucr345r1riw4GvOIzbc\neFX5oC7ChexAMOOzgcw5wWj0l+ve32gUGxk2YGqVAD4Mh27UlWv7oBLA5/L/jfYk\n9HLnHm0CgYEA6K/2+zpyuDS9sUSnqEUtRHqAheUE/nTCbFKqf8ZQrFB7bVjKI8Fj\nRknQeGm0hv1vzGZLyrfLVAnyR/WQ3aGiS6Sjt4tExCRiJvoms0HgPxNU7tsh+PaH\nxScYOAs2OX896jQxM7oD0rHEtrHYztDVbmhVoQXtQSBbxOvMKW4e3ScCgYEAu2GJ\n8CgMHoRpH5cb3xzbjM/xEyJTxkNVtAqAtGM6tOQiqSGVs6gALtkZ+5OLhcoHlr6v\n33tY21ZvIk7Gns/834GXHsq6wkCVdxXDf3rc8QplVQMJg6OEVKicF9P8dtL0qA58\nW/5YeyOXzphm3BlJOd41/VF25+y3Y0jhl4/s3FUCgYBJUTi3TGFdXXDv7DwPr0xm\nKVtZ1SHPs6aXTyzd+fTtdqaNe86lmYfYW+XOKzBw4GZbt1fmVidBIakvt1agHw/u\nWcAkU0OlsfkjYurSzM0F0ueOI4n+0l9RZdIhxpadY1R0+WEPdWtC9jSPhFZWREMb\n+NASXrW1Mab403uPCl27PQKBgQCWnXJIjYggR4JQGCAZGJMI/mPiY2c/KASNcRu+\n4zvfBrkthYdVHyb2gR83boNpiNjMvH2VfwoPU8yEoRlZsgiqhvm3kHDJjywUynOX\n1mQdg6Orz4MoQpkti1HcfVKjGDH7m5kuQKVSZWuybiHPrKuFTi3Lbl3LUiSeM4jR\nUKis+QKBgD6AHgISz7qSayYGL4JwCrZ1m3HbApwQcFBQHY+3kxThF4fH0t2o3r1O\nKLKqKpv/W7aFP2a5O5CYsbzgCMF2S/mOXF9Rvf4n9U6rVeZbsexrVHegZ3A/RUjk\nwUL9yg7XaauOOGxXWYbVrVByj1vrWqJ4541yKJ9e79lUtBc0tw/b\n-----END RSA PRIVATE KEY-----";
const TEST_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqlExdo1tcmhQz5/It6cB\nVRf3DvkYWW/pOljhtXF21jp9uEIMfn0nG80xZmiazZlrqZ77s35Z8MHnW4YR70tt\nPOampRCjjUpThBBTUR1JjpX/o6O8fsqoUba/sfikKiJhmqO22B+moT3fuWiFehWE\nSTo5p8W3e3epY6FSD4zMuU9NELqD1lWS6UgKJuRln2EvJbdZM7jEAIK8GHt42mqf\nXY8P9yP7vDS6bZ8X3KnfNkF8DuhSuNb3qd5glrHDfCgSjCjhJQFWikdRdBBLmIo9\n3MGHnnxPVlUlbHX+JzlgGy9IPLBLNlna07EpvwUNbHDdK+83tWDrpWy8/t9hv0Dx\n8wIDAQAB\n-----END PUBLIC KEY-----";

fn user(i: usize) -> OktaUserSpec {
    OktaUserSpec {
        id: None,
        login: format!("user{i:03}@example.com"),
        email: None,
        first_name: Some(format!("First{i}")),
        last_name: Some(format!("Last{i}")),
        status: "ACTIVE".to_string(),
        profile: Default::default(),
    }
}

/// `n` users; all but the last two assigned directly, users 0..3 also through a group,
/// plus one user assigned only through the group.
fn scenario(n: usize) -> Scenario {
    let mut s = Scenario::default();
    s.okta.users = (0..n).map(user).collect();
    s.okta.users.push(user(900));
    s.okta.assignments.users = (0..n - 2).map(|i| user(i).login).collect();
    s.okta.groups.push(OktaGroupSpec {
        id: None,
        name: "Engineering".to_string(),
        description: None,
        members: vec![user(0).login, user(1).login, user(2).login, user(900).login],
    });
    s.okta.assignments.groups.push("Engineering".to_string());
    s
}

fn options(world: &SimWorld) -> OktaClientOptions {
    let mut o = OktaClientOptions::new(
        world.okta.url().parse().unwrap(),
        OktaAuth::Ssws(world.okta.api_token().into()),
    );
    o.page_size = 5;
    o.max_retries = 2;
    o.timeout = Duration::from_secs(5);
    o.max_rate_limit_wait = Duration::from_secs(5);
    o
}

fn client(world: &SimWorld) -> OktaClient {
    OktaClient::new(options(world)).unwrap()
}

fn arm(world: &SimWorld, kind: FaultKind, after: u32, count: u32) {
    world.okta.faults().arm(FaultSpec {
        route: "/api/v1/apps/*/users".to_string(),
        method: Some("GET".to_string()),
        kind,
        count,
        after,
    });
}

fn no_progress() -> impl Fn(usize) + Send + Sync {
    |_| {}
}

fn ids(users: &[AppUser]) -> BTreeSet<String> {
    users.iter().map(|u| u.id.clone()).collect()
}

fn expected_ids(world: &SimWorld, n: usize) -> BTreeSet<String> {
    let mut logins: Vec<String> = (0..n - 2).map(|i| user(i).login).collect();
    logins.push(user(900).login);
    logins
        .iter()
        .map(|l| world.okta.user_id(l).expect("sim knows the user"))
        .collect()
}

fn app_user_requests(world: &SimWorld) -> Vec<scim_sync::sim::LoggedRequest> {
    let path = format!("/api/v1/apps/{}/users", world.okta.app_id());
    world
        .okta
        .requests()
        .into_iter()
        .filter(|r| r.path == path)
        .collect()
}

#[tokio::test]
async fn full_listing_across_pages_equals_the_assigned_set() {
    let world = SimWorld::start(&scenario(23)).await.unwrap();
    let okta = client(&world);
    let progress = Mutex::new(Vec::new());
    let on_page = |n: usize| progress.lock().unwrap().push(n);
    let users = okta
        .list_app_users(&world.okta.app_id(), &on_page)
        .await
        .unwrap();
    assert_eq!(ids(&users), expected_ids(&world, 23));
    assert_eq!(users.len(), 22, "no duplicates");
    let group_only = world.okta.user_id(&user(900).login).unwrap();
    let row = users.iter().find(|u| u.id == group_only).unwrap();
    assert_eq!(row.scope, "GROUP");
    assert_eq!(row.user.profile_str("login"), Some("user900@example.com"));
    assert_eq!(row.user.status, "ACTIVE");
    // Pages of 5: at least 5 requests, each page reported to the progress callback.
    let pages = app_user_requests(&world);
    assert!(pages.len() >= 5, "{pages:?}");
    assert!(pages.iter().all(|r| r.status == 200));
    assert!(pages[0].query.contains("limit=5") && pages[0].query.contains("expand=user"));
    let progress = progress.into_inner().unwrap();
    assert_eq!(progress.len(), pages.len());
    assert_eq!(progress.last(), Some(&22));
    assert!(okta.requests_made() >= pages.len() as u64);
    assert!(
        okta.rate_limit_status()
            .iter()
            .any(|b| b.bucket == Bucket::Apps && b.limit > 0)
    );
}

#[tokio::test]
async fn persistent_500_on_page_3_is_an_error_not_a_partial_list() {
    let world = SimWorld::start(&scenario(23)).await.unwrap();
    arm(&world, FaultKind::Status { status: 500 }, 2, 10);
    let err = client(&world)
        .list_app_users(&world.okta.app_id(), &no_progress())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500), "{err}");
    // First try plus max_retries (2) retries of page 3.
    let failed = app_user_requests(&world)
        .iter()
        .filter(|r| r.status == 500)
        .count();
    assert_eq!(failed, 3);
}

#[tokio::test]
async fn malformed_page_is_an_error() {
    let world = SimWorld::start(&scenario(23)).await.unwrap();
    arm(&world, FaultKind::Malformed, 1, 1);
    let err = client(&world)
        .list_app_users(&world.okta.app_id(), &no_progress())
        .await
        .unwrap_err();
    assert!(matches!(err, OktaError::Malformed { .. }), "{err}");
    assert!(err.request_id().is_some(), "{err}");
}

#[tokio::test]
async fn truncated_page_is_an_error() {
    let world = SimWorld::start(&scenario(23)).await.unwrap();
    arm(&world, FaultKind::Truncate, 3, 1);
    let err = client(&world)
        .list_app_users(&world.okta.app_id(), &no_progress())
        .await
        .unwrap_err();
    assert!(matches!(err, OktaError::Malformed { .. }), "{err}");
}

#[tokio::test]
async fn dropped_connections_are_retried_then_fail_the_listing() {
    let world = SimWorld::start(&scenario(23)).await.unwrap();
    // Once: retried, the listing completes.
    arm(&world, FaultKind::Drop, 2, 1);
    let users = client(&world)
        .list_app_users(&world.okta.app_id(), &no_progress())
        .await
        .unwrap();
    assert_eq!(ids(&users), expected_ids(&world, 23));
    // Past the retries: an error, not a partial list.
    arm(&world, FaultKind::Drop, 2, 10);
    let err = client(&world)
        .list_app_users(&world.okta.app_id(), &no_progress())
        .await
        .unwrap_err();
    assert!(matches!(err, OktaError::Transport { .. }), "{err}");
}

#[tokio::test]
async fn a_single_5xx_is_retried() {
    let world = SimWorld::start(&scenario(23)).await.unwrap();
    arm(&world, FaultKind::Status { status: 503 }, 1, 1);
    let users = client(&world)
        .list_app_users(&world.okta.app_id(), &no_progress())
        .await
        .unwrap();
    assert_eq!(ids(&users), expected_ids(&world, 23));
    let log = app_user_requests(&world);
    let failed = log.iter().position(|r| r.status == 503).unwrap();
    assert_eq!(
        log[failed + 1].query,
        log[failed].query,
        "same page retried"
    );
    assert_eq!(log[failed + 1].status, 200);
}

#[tokio::test]
async fn a_429_waits_for_the_reset_and_succeeds() {
    let mut s = scenario(12);
    s.okta.rate_limits = OktaRateLimits {
        apps: 100,
        window_secs: 1,
        ..OktaRateLimits::default()
    };
    let world = SimWorld::start(&s).await.unwrap();
    arm(&world, FaultKind::Status { status: 429 }, 1, 1);
    let started = Instant::now();
    let users = client(&world)
        .list_app_users(&world.okta.app_id(), &no_progress())
        .await
        .unwrap();
    assert_eq!(ids(&users), expected_ids(&world, 12));
    // Reset − Date + 1 s: at least a second.
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert!(started.elapsed() < Duration::from_secs(5));
    let log = app_user_requests(&world);
    assert_eq!(log.iter().filter(|r| r.status == 429).count(), 1);
}

#[tokio::test]
async fn a_429_needing_a_longer_wait_than_allowed_fails_fast() {
    let mut s = scenario(12);
    s.okta.rate_limits.window_secs = 60;
    let world = SimWorld::start(&s).await.unwrap();
    arm(&world, FaultKind::Status { status: 429 }, 0, 1);
    let mut o = options(&world);
    o.max_rate_limit_wait = Duration::from_millis(500);
    let started = Instant::now();
    let err = OktaClient::new(o)
        .unwrap()
        .list_app_users(&world.okta.app_id(), &no_progress())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(429), "{err}");
    assert_eq!(err.error_code(), Some("E0000047"));
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn pacing_keeps_within_the_rate_limit_share() {
    let mut s = scenario(14);
    s.okta.rate_limits = OktaRateLimits {
        apps: 10,
        window_secs: 1,
        ..OktaRateLimits::default()
    };
    let world = SimWorld::start(&s).await.unwrap();
    let mut o = options(&world);
    o.page_size = 1;
    o.rate_limit_share = 0.5;
    let okta = OktaClient::new(o).unwrap();
    // The server's own count of the window's requests, after every page.
    let min_remaining = Mutex::new(u32::MAX);
    let probe = okta.clone();
    let on_page = |_n: usize| {
        for b in probe.rate_limit_status() {
            if b.bucket == Bucket::Apps {
                let mut m = min_remaining.lock().unwrap();
                *m = (*m).min(b.remaining);
            }
        }
    };
    let started = Instant::now();
    let users = okta
        .list_app_users(&world.okta.app_id(), &on_page)
        .await
        .unwrap();
    assert_eq!(ids(&users), expected_ids(&world, 14));
    let log = app_user_requests(&world);
    assert!(log.len() >= 13, "one user per page");
    assert!(log.iter().all(|r| r.status == 200), "never rate limited");
    // Never more than half of the 10-request window used.
    assert!(*min_remaining.lock().unwrap() >= 5);
    // 13+ requests at 5 per 1 s window need at least two window turns.
    assert!(started.elapsed() >= Duration::from_secs(2));
}

#[tokio::test]
async fn oauth_token_is_obtained_once_and_reused() {
    let mut s = scenario(8);
    s.okta.service_apps.push(ServiceAppSpec {
        client_id: "0oaservice1".to_string(),
        public_key_pem: TEST_PUBLIC_KEY.to_string(),
        kid: Some("key-1".to_string()),
        scopes: scim_sync::sim::scenario::all_read_scopes(),
    });
    let world = SimWorld::start(&s).await.unwrap();
    let mut o = options(&world);
    o.auth = OktaAuth::Oauth {
        client_id: "0oaservice1".to_string(),
        private_key_pem: TEST_PRIVATE_KEY.into(),
        key_id: Some("key-1".to_string()),
        scopes: vec!["okta.apps.read".to_string(), "okta.users.read".to_string()],
    };
    let okta = OktaClient::new(o).unwrap();
    let app_id = world.okta.app_id();
    let users = okta.list_app_users(&app_id, &no_progress()).await.unwrap();
    assert_eq!(ids(&users), expected_ids(&world, 8));
    okta.get_app(&app_id).await.unwrap();
    let first = &users[0];
    assert!(okta.get_user(&first.id).await.unwrap().is_some());
    let token_requests: Vec<_> = world
        .okta
        .requests()
        .into_iter()
        .filter(|r| r.path == "/oauth2/v1/token")
        .collect();
    assert_eq!(token_requests.len(), 1, "{token_requests:?}");
    assert_eq!(token_requests[0].status, 200);
}

#[tokio::test]
async fn oauth_app_without_the_apps_scope_is_told_which_scope() {
    let mut s = scenario(4);
    s.okta.service_apps.push(ServiceAppSpec {
        client_id: "0oaservice2".to_string(),
        public_key_pem: TEST_PUBLIC_KEY.to_string(),
        kid: None,
        scopes: vec!["okta.users.read".to_string()],
    });
    let world = SimWorld::start(&s).await.unwrap();
    let mut o = options(&world);
    o.auth = OktaAuth::Oauth {
        client_id: "0oaservice2".to_string(),
        private_key_pem: TEST_PRIVATE_KEY.into(),
        key_id: None,
        scopes: vec!["okta.users.read".to_string()],
    };
    let err = OktaClient::new(o)
        .unwrap()
        .list_app_users(&world.okta.app_id(), &no_progress())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    assert!(err.to_string().contains("okta.apps.read"), "{err}");
}

#[tokio::test]
async fn oauth_with_an_unknown_client_says_what_to_check() {
    let world = SimWorld::start(&scenario(4)).await.unwrap();
    let mut o = options(&world);
    o.auth = OktaAuth::Oauth {
        client_id: "0oanobody".to_string(),
        private_key_pem: TEST_PRIVATE_KEY.into(),
        key_id: None,
        scopes: vec!["okta.apps.read".to_string()],
    };
    let err = OktaClient::new(o)
        .unwrap()
        .get_app(&world.okta.app_id())
        .await
        .unwrap_err();
    assert!(matches!(err, OktaError::Token { .. }), "{err}");
    assert!(err.to_string().contains("okta.client_id"), "{err}");
}

#[tokio::test]
async fn bad_api_token_error_says_what_to_check_and_carries_the_request_id() {
    let world = SimWorld::start(&scenario(4)).await.unwrap();
    let mut o = options(&world);
    o.auth = OktaAuth::Ssws("00not-the-right-token".into());
    let err = OktaClient::new(o)
        .unwrap()
        .list_app_users(&world.okta.app_id(), &no_progress())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert_eq!(err.error_code(), Some("E0000011"));
    let rid = err.request_id().expect("request id").to_string();
    let msg = err.to_string();
    assert!(
        msg.contains("okta.api_token") && msg.contains(&rid),
        "{msg}"
    );
    assert!(
        !msg.contains("00not-the-right-token"),
        "no secret in errors"
    );
    // Not retried.
    assert_eq!(world.okta.requests().len(), 1);
}

#[tokio::test]
async fn unknown_app_id_says_to_check_the_app_id() {
    let world = SimWorld::start(&scenario(4)).await.unwrap();
    let okta = client(&world);
    let err = okta
        .list_app_users("0oanosuchapp", &no_progress())
        .await
        .unwrap_err();
    assert!(matches!(err, OktaError::AppNotFound { .. }), "{err}");
    assert!(err.to_string().contains("okta.app_id"), "{err}");
    assert!(err.request_id().is_some());
    let err = okta.get_app("0oanosuchapp").await.unwrap_err();
    assert_eq!(err.status(), Some(404));
}

#[tokio::test]
async fn single_lookups() {
    let world = SimWorld::start(&scenario(6)).await.unwrap();
    let okta = client(&world);
    let app_id = world.okta.app_id();
    let id = world.okta.user_id(&user(1).login).unwrap();
    let app_user = okta.get_app_user(&app_id, &id).await.unwrap().unwrap();
    assert_eq!(
        app_user.user.profile_str("login"),
        Some("user001@example.com")
    );
    // Assigned nowhere: no app user, but the Okta user exists (by login too).
    let unassigned = world.okta.user_id(&user(5).login).unwrap();
    assert!(
        okta.get_app_user(&app_id, &unassigned)
            .await
            .unwrap()
            .is_none()
    );
    let by_login = okta.get_user(&user(5).login).await.unwrap().unwrap();
    assert_eq!(by_login.id, unassigned);
    assert!(okta.get_user("nobody@example.com").await.unwrap().is_none());
    let groups = okta.list_app_groups(&app_id).await.unwrap();
    assert_eq!(groups.len(), 1);
    okta.probe_scope("/api/v1/users").await.unwrap();
}

#[tokio::test]

async fn user_groups() {
    let world = SimWorld::start(&scenario(6)).await.unwrap();
    let id = world.okta.user_id(&user(1).login).unwrap();
    let user_groups = client(&world).list_user_groups(&id).await.unwrap();
    assert!(
        user_groups
            .iter()
            .any(|g| g["profile"]["name"] == "Engineering"),
        "{user_groups:?}"
    );
}

#[tokio::test]
async fn oauth_token_rejected_once_is_replaced_once() {
    let mut s = scenario(6);
    s.okta.service_apps.push(ServiceAppSpec {
        client_id: "0oaservice3".to_string(),
        public_key_pem: TEST_PUBLIC_KEY.to_string(),
        kid: None,
        scopes: scim_sync::sim::scenario::all_read_scopes(),
    });
    let world = SimWorld::start(&s).await.unwrap();
    let mut o = options(&world);
    o.auth = OktaAuth::Oauth {
        client_id: "0oaservice3".to_string(),
        private_key_pem: TEST_PRIVATE_KEY.into(),
        key_id: None,
        scopes: vec!["okta.apps.read".to_string()],
    };
    let okta = OktaClient::new(o).unwrap();
    let token_requests = |world: &SimWorld| {
        world
            .okta
            .requests()
            .iter()
            .filter(|r| r.path == "/oauth2/v1/token")
            .count()
    };
    // A revoked token (one 401): a new token, and the listing completes.
    arm(&world, FaultKind::Status { status: 401 }, 0, 1);
    let users = okta
        .list_app_users(&world.okta.app_id(), &no_progress())
        .await
        .unwrap();
    assert_eq!(ids(&users), expected_ids(&world, 6));
    assert_eq!(token_requests(&world), 2);
    // Rejected again with a fresh token: an error, after one more token only.
    arm(&world, FaultKind::Status { status: 401 }, 0, 5);
    let err = okta
        .list_app_users(&world.okta.app_id(), &no_progress())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
    assert_eq!(token_requests(&world), 3);
}

/// A drained bucket: `count` 429s in a row, each asking to wait for the 1 s window's
/// reset (1–2 s); `max_retries` is 1, so only the total wait may bound them.
async fn rate_limit_storm(
    count: u32,
    max_wait: Duration,
) -> (Result<Vec<AppUser>, OktaError>, Duration, SimWorld) {
    let mut s = scenario(12);
    s.okta.rate_limits = OktaRateLimits {
        apps: 100,
        window_secs: 1,
        ..OktaRateLimits::default()
    };
    let world = SimWorld::start(&s).await.unwrap();
    arm(&world, FaultKind::Status { status: 429 }, 0, count);
    let mut o = options(&world);
    o.max_retries = 1;
    o.max_rate_limit_wait = max_wait;
    let started = Instant::now();
    let result = OktaClient::new(o)
        .unwrap()
        .list_app_users(&world.okta.app_id(), &no_progress())
        .await;
    (result, started.elapsed(), world)
}

#[tokio::test]
async fn a_429_storm_longer_than_the_retries_but_within_the_wait_budget_succeeds() {
    let (result, _, world) = rate_limit_storm(4, Duration::from_secs(30)).await;
    let users = result.unwrap();
    assert_eq!(ids(&users), expected_ids(&world, 12));
    let log = app_user_requests(&world);
    assert_eq!(log.iter().filter(|r| r.status == 429).count(), 4);
}

#[tokio::test]
async fn a_429_storm_longer_than_the_wait_budget_fails_at_about_the_budget() {
    let budget = Duration::from_secs(5);
    let (result, elapsed, _) = rate_limit_storm(50, budget).await;
    let err = result.unwrap_err();
    assert_eq!(err.status(), Some(429), "{err}");
    assert!(elapsed >= Duration::from_secs(3), "{elapsed:?}");
    assert!(elapsed <= budget + Duration::from_secs(1), "{elapsed:?}");
}
