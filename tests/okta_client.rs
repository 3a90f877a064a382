//! The Okta client against the simulated Okta org, over real HTTP.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use scim_sync::okta::{
    AppUser, Bucket, ENTITLEMENT_EVENT_TYPES, LogEvent, LogRead, LogStart, OktaAuth, OktaClient,
    OktaClientOptions, OktaError,
};
use scim_sync_sim::scenario::{OktaGroupSpec, OktaRateLimits, OktaUserSpec, ServiceAppSpec};
use scim_sync_sim::{FaultKind, FaultSpec, Scenario, SimWorld};

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
        app_username: None,
        app_profile: Default::default(),
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

fn app_user_requests(world: &SimWorld) -> Vec<scim_sync_sim::LoggedRequest> {
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
async fn app_user_reads_keep_only_the_profile_attributes_asked_for() {
    let world = SimWorld::start(&scenario(23)).await.unwrap();
    let mut opts = options(&world);
    opts.profile_attributes = vec!["login".to_string(), "lastName".to_string()];
    let okta = OktaClient::new(opts).unwrap();
    let app_id = world.okta.app_id();
    // Converted as the pages arrive: what the caller keeps is all that is held.
    let kept = okta
        .list_app_users_as(&app_id, &no_progress(), |u| {
            let mut names: Vec<String> = u.user.profile.keys().cloned().collect();
            names.sort();
            (u.id, names)
        })
        .await
        .unwrap();
    assert_eq!(kept.len(), 22);
    for (id, names) in &kept {
        assert_eq!(names, &["lastName", "login"], "{id}");
    }
    let one = okta
        .get_app_user(&app_id, &kept[0].0)
        .await
        .unwrap()
        .unwrap();
    assert!(one.user.profile_str("login").is_some());
    assert!(one.user.profile_str("firstName").is_none());
    // Without the option every attribute stays (what `explain` shows).
    let all = client(&world)
        .list_app_users(&app_id, &no_progress())
        .await
        .unwrap();
    assert!(
        all.iter()
            .all(|u| u.user.profile_str("firstName").is_some())
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
        scopes: scim_sync_sim::scenario::all_read_scopes(),
        require_dpop: true,
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
    // DPoP-first: the first proof carries no nonce, Okta answers 400 use_dpop_nonce with
    // one, and the second request gets the token, used for everything after.
    let statuses: Vec<u16> = token_requests.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [400, 200], "{token_requests:?}");
}

#[tokio::test]
async fn oauth_app_without_the_apps_scope_is_told_which_scope() {
    let mut s = scenario(4);
    s.okta.service_apps.push(ServiceAppSpec {
        client_id: "0oaservice2".to_string(),
        public_key_pem: TEST_PUBLIC_KEY.to_string(),
        kid: None,
        scopes: vec!["okta.users.read".to_string()],
        require_dpop: true,
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
    assert!(err.to_string().contains("okta.oauth.client_id"), "{err}");
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
        scopes: scim_sync_sim::scenario::all_read_scopes(),
        require_dpop: true,
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
    // The first token takes two requests (Okta's DPoP nonce); the new one, with the
    // nonce known, one.
    assert_eq!(token_requests(&world), 3);
    // Rejected again with a fresh token: an error, after one more token only.
    arm(&world, FaultKind::Status { status: 401 }, 0, 5);
    let err = okta
        .list_app_users(&world.okta.app_id(), &no_progress())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
    assert_eq!(token_requests(&world), 4);
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

// ---- System Log polling ----

/// A `Since` start `ago` before now.
fn since(ago: chrono::Duration) -> LogStart {
    LogStart::Since(
        (chrono::Utc::now() - ago)
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string(),
    )
}

fn types(events: &[LogEvent]) -> Vec<&str> {
    events.iter().map(|e| e.event_type.as_str()).collect()
}

fn log_requests(world: &SimWorld) -> Vec<scim_sync_sim::LoggedRequest> {
    world
        .okta
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/v1/logs")
        .collect()
}

fn arm_logs(world: &SimWorld, kind: FaultKind, after: u32, count: u32) {
    world.okta.faults().arm(FaultSpec {
        route: "/api/v1/logs".to_string(),
        method: Some("GET".to_string()),
        kind,
        count,
        after,
    });
}

/// Reads the log from `start` to the end (every page, then the read that comes back
/// short), `limit` events a page.
async fn read_all(okta: &OktaClient, start: LogStart, limit: u32) -> LogRead {
    okta.poll_log_with_limit(&start, 1000, limit).await.unwrap()
}

#[tokio::test]
async fn poll_log_reads_admin_changes_in_order_with_their_targets() {
    let world = SimWorld::start(&scenario(6)).await.unwrap();
    let okta = client(&world);
    assert_eq!(okta.server_time(), None, "no response yet");
    let first = okta
        .poll_log(&since(chrono::Duration::seconds(2)), 5)
        .await
        .unwrap();
    assert!(first.events.is_empty(), "{first:?}");
    assert_eq!((first.pages, first.truncated), (1, false));
    let server = okta.server_time().expect("a Date header was seen");
    assert!(
        (chrono::Utc::now() - server).num_seconds().abs() <= 2,
        "{server}"
    );

    let sim = &world.okta;
    let (u5, u2, u1, u4) = (
        sim.user_id(&user(5).login).unwrap(),
        sim.user_id(&user(2).login).unwrap(),
        sim.user_id(&user(1).login).unwrap(),
        sim.user_id(&user(4).login).unwrap(),
    );
    let group = sim.group_id("Engineering").unwrap();
    sim.assign_user(&u5).unwrap();
    let mut change = serde_json::Map::new();
    change.insert("lastName".into(), serde_json::json!("Renamed"));
    sim.update_profile(&u2, change).unwrap();
    sim.deactivate_user(&u1).unwrap();
    sim.add_group_member("Engineering", &u4).unwrap();
    sim.create_user(user(50)).unwrap();
    let mut outside = Vec::new();
    // Not an entitlement change: filtered out by the server.
    sim.deactivate_user(&sim.user_id(&user(50).login).unwrap())
        .unwrap();
    sim.delete_user(&user(50).login).unwrap();
    outside.push("user.lifecycle.delete.initiated");

    let read = okta
        .poll_log(&LogStart::Next(first.next.clone()), 5)
        .await
        .unwrap();
    assert_eq!(
        types(&read.events),
        [
            "application.user_membership.add",
            "user.account.update_profile",
            "user.lifecycle.deactivate",
            "application.user_membership.remove",
            "group.user_membership.add",
            "application.user_membership.add",
            "user.lifecycle.create",
            "user.lifecycle.activate",
            "user.lifecycle.deactivate",
            "user.lifecycle.delete.completed",
        ]
    );
    assert!(
        read.events
            .iter()
            .all(|e| !outside.contains(&e.event_type.as_str()))
    );
    assert!(
        read.events
            .iter()
            .all(|e| ENTITLEMENT_EVENT_TYPES.contains(&e.event_type.as_str()))
    );
    let users: Vec<Vec<&str>> = read.events[..6]
        .iter()
        .map(|e| e.user_ids().collect())
        .collect();
    assert_eq!(
        users,
        [
            vec![&*u5],
            vec![&*u2],
            vec![&*u1],
            vec![&*u1],
            vec![&*u4],
            vec![&*u4]
        ]
    );
    assert_eq!(
        read.events[4].group_ids().collect::<Vec<_>>(),
        [group.as_str()]
    );
    let add = &read.events[0];
    assert_eq!(
        add.target_ids("AppInstance").collect::<Vec<_>>(),
        [sim.app_id().as_str()]
    );
    let user_target = add.targets.iter().find(|t| t.kind == "User").unwrap();
    assert_eq!(
        user_target.alternate_id.as_deref(),
        Some("user005@example.com")
    );
    assert!(chrono::DateTime::parse_from_rfc3339(&add.published).is_ok());
    assert_eq!((read.pages, read.truncated), (1, false));

    // Nothing new: an empty read, and a next to keep polling from.
    let again = okta
        .poll_log(&LogStart::Next(read.next.clone()), 5)
        .await
        .unwrap();
    assert!(again.events.is_empty());
    assert!(again.next.starts_with(&world.okta.url()));

    // The requests: a polling query (ASCENDING, no until, 1000 a page, every
    // entitlement type), `since` only on the first.
    let log = log_requests(&world);
    assert_eq!(log.len(), 3);
    let q: Vec<(String, String)> = url::form_urlencoded::parse(log[0].query.as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("sortOrder"), Some("ASCENDING"));
    assert_eq!(get("limit"), Some("1000"));
    assert_eq!(get("until"), None);
    assert!(get("since").is_some());
    let filter = get("filter").unwrap();
    for t in ENTITLEMENT_EVENT_TYPES {
        assert!(
            filter.contains(&format!("eventType eq \"{t}\"")),
            "{filter}"
        );
    }
    assert!(!log[1].query.contains("since="), "{}", log[1].query);
}

#[tokio::test]
async fn resuming_from_next_loses_and_repeats_nothing_across_a_log_delay() {
    let world = SimWorld::start(&scenario(6)).await.unwrap();
    let okta = client(&world);
    let sim = &world.okta;
    let start = okta
        .poll_log(&since(chrono::Duration::seconds(2)), 5)
        .await
        .unwrap();
    sim.suspend_user(&user(0).login).unwrap();
    sim.set_log_delay(Duration::from_millis(1500));
    let changed = Instant::now();
    sim.assign_user(&user(5).login).unwrap(); // not visible for 1.5 s
    sim.set_log_delay(Duration::ZERO);
    sim.suspend_user(&user(1).login).unwrap(); // visible, but persisted after

    let first = okta.poll_log(&LogStart::Next(start.next), 5).await.unwrap();
    assert!(
        changed.elapsed() < Duration::from_millis(1500),
        "too slow to test"
    );
    assert_eq!(types(&first.events), ["user.lifecycle.suspend"]);
    assert_eq!(
        first.events[0].user_ids().collect::<Vec<_>>(),
        [sim.user_id(&user(0).login).unwrap().as_str()]
    );
    tokio::time::sleep(Duration::from_millis(1600).saturating_sub(changed.elapsed())).await;
    let second = okta
        .poll_log(&LogStart::Next(first.next.clone()), 5)
        .await
        .unwrap();
    assert_eq!(
        types(&second.events),
        ["application.user_membership.add", "user.lifecycle.suspend"]
    );
    let third = okta
        .poll_log(&LogStart::Next(second.next), 5)
        .await
        .unwrap();
    assert!(third.events.is_empty());
    // Every event exactly once over the three reads.
    let mut seen: Vec<String> = [first.events, second.events]
        .concat()
        .into_iter()
        .map(|e| e.uuid)
        .collect();
    assert_eq!(seen.len(), 3);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 3, "no event twice");
}

#[tokio::test]
async fn poll_log_follows_full_pages_and_stops_at_max_pages() {
    let world = SimWorld::start(&scenario(6)).await.unwrap();
    let okta = client(&world);
    // Pages of 2 from the start: the next links keep the limit.
    let start = okta
        .poll_log_with_limit(&since(chrono::Duration::seconds(2)), 5, 2)
        .await
        .unwrap();
    assert!(start.next.contains("limit=2"), "{}", start.next);
    for i in 0..5 {
        world.okta.suspend_user(&user(i).login).unwrap();
    }
    // Pages of 2: two full pages, then max_pages stops the read with more to come.
    let cut = okta
        .poll_log_with_limit(&LogStart::Next(start.next.clone()), 2, 2)
        .await
        .unwrap();
    assert_eq!((cut.events.len(), cut.pages, cut.truncated), (4, 2, true));
    let rest = okta
        .poll_log_with_limit(&LogStart::Next(cut.next), 2, 2)
        .await
        .unwrap();
    assert_eq!(
        (rest.events.len(), rest.pages, rest.truncated),
        (1, 1, false)
    );
    // Without the cap: every page until the short one (here an empty third page).
    world.okta.unsuspend_user(&user(0).login).unwrap();
    let all = read_all(&okta, LogStart::Next(start.next), 2).await;
    assert_eq!((all.events.len(), all.pages, all.truncated), (6, 4, false));
    for bad in [0, 1001] {
        let err = okta
            .poll_log_with_limit(&since(chrono::Duration::seconds(2)), 1, bad)
            .await
            .unwrap_err();
        assert!(matches!(err, OktaError::Config(_)), "{err}");
    }
    let err = okta
        .poll_log(&since(chrono::Duration::seconds(2)), 0)
        .await
        .unwrap_err();
    assert!(matches!(err, OktaError::Config(_)), "{err}");
}

#[tokio::test]
async fn a_failed_or_malformed_page_fails_the_whole_poll() {
    let world = SimWorld::start(&scenario(6)).await.unwrap();
    let okta = client(&world);
    // Pages of 2 from the start: the next links keep the limit.
    let start = okta
        .poll_log_with_limit(&since(chrono::Duration::seconds(2)), 5, 2)
        .await
        .unwrap();
    assert!(start.next.contains("limit=2"), "{}", start.next);
    for i in 0..5 {
        world.okta.suspend_user(&user(i).login).unwrap();
    }
    let from = LogStart::Next(start.next);
    // Page 2 answers 500 past the retries.
    arm_logs(&world, FaultKind::Status { status: 500 }, 1, 10);
    let err = okta.poll_log_with_limit(&from, 10, 2).await.unwrap_err();
    assert_eq!(err.status(), Some(500), "{err}");
    assert!(err.request_id().is_some(), "{err}");
    world.okta.faults().clear();
    // Page 2 is not JSON.
    arm_logs(&world, FaultKind::Malformed, 1, 1);
    let err = okta.poll_log_with_limit(&from, 10, 2).await.unwrap_err();
    assert!(matches!(err, OktaError::Malformed { .. }), "{err}");
    assert!(err.request_id().is_some(), "{err}");
    // Page 3 is cut short.
    arm_logs(&world, FaultKind::Truncate, 2, 1);
    let err = okta.poll_log_with_limit(&from, 10, 2).await.unwrap_err();
    assert!(matches!(err, OktaError::Malformed { .. }), "{err}");
    // The same start then reads everything: a failed read consumed nothing.
    let all = read_all(&okta, from, 2).await;
    assert_eq!(all.events.len(), 5);
}

#[tokio::test]
async fn a_next_url_off_the_org_is_refused_before_any_request() {
    let world = SimWorld::start(&scenario(4)).await.unwrap();
    let okta = client(&world);
    let org = world.okta.url();
    let port: u16 = org.rsplit(':').next().unwrap().parse().unwrap();
    for bad in [
        "https://evil.example/api/v1/logs?after=x".to_string(),
        format!(
            "http://127.0.0.1:{}/api/v1/logs?after=x",
            port.wrapping_add(1)
        ),
        format!("https://127.0.0.1:{port}/api/v1/logs?after=x"),
        format!("http://localhost:{port}/api/v1/logs?after=x"),
        format!("{org}/api/v1/users?after=x"),
        format!("{org}/api/v1/logs?limit=5000&after=x"),
        "not a url".to_string(),
    ] {
        let err = okta
            .poll_log(&LogStart::Next(bad.clone()), 5)
            .await
            .unwrap_err();
        assert!(matches!(err, OktaError::Config(_)), "{bad}: {err}");
        assert!(err.to_string().contains("System Log"), "{err}");
    }
    let err = okta
        .poll_log(&LogStart::Since("yesterday".into()), 5)
        .await
        .unwrap_err();
    assert!(matches!(err, OktaError::Config(_)), "{err}");
    assert!(world.okta.requests().is_empty(), "the token went nowhere");
}

#[tokio::test]
async fn poll_log_paces_within_the_logs_bucket() {
    let mut s = scenario(6);
    s.okta.rate_limits = OktaRateLimits {
        logs: 4,
        window_secs: 1,
        ..OktaRateLimits::default()
    };
    let world = SimWorld::start(&s).await.unwrap();
    for i in 0..4 {
        world.okta.suspend_user(&user(i).login).unwrap();
    }
    let okta = client(&world);
    let started = Instant::now();
    // One event a page: five requests, at most two (half of 4) a 1 s window.
    let all = read_all(&okta, since(chrono::Duration::minutes(1)), 1).await;
    assert_eq!((all.events.len(), all.pages), (4, 5));
    assert!(
        log_requests(&world).iter().all(|r| r.status == 200),
        "never rate limited"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(
        okta.rate_limit_status()
            .iter()
            .any(|b| b.bucket == Bucket::Logs && b.limit == 4)
    );
}

#[tokio::test]
async fn get_app_user_asks_for_the_user_and_404_is_none() {
    let world = SimWorld::start(&scenario(6)).await.unwrap();
    let okta = client(&world);
    let app_id = world.okta.app_id();
    let id = world.okta.user_id(&user(3).login).unwrap();
    let row = okta.get_app_user(&app_id, &id).await.unwrap().unwrap();
    assert_eq!(row.user.status, "ACTIVE");
    let req = world.okta.requests().pop().unwrap();
    assert!(req.query.contains("expand=user"), "{req:?}");
    // Unassigned, then deactivated and deleted: not an app user.
    world.okta.unassign_user(&id).unwrap();
    assert!(okta.get_app_user(&app_id, &id).await.unwrap().is_none());
    world.okta.deactivate_user(&id).unwrap();
    world.okta.delete_user(&id).unwrap();
    assert!(okta.get_app_user(&app_id, &id).await.unwrap().is_none());
    // A body that isn't an AppUser fails the call.
    let other = world.okta.user_id(&user(2).login).unwrap();
    world.okta.faults().arm(FaultSpec {
        route: "/api/v1/apps/*/users/*".to_string(),
        method: None,
        kind: FaultKind::Malformed,
        count: 1,
        after: 0,
    });
    let err = okta.get_app_user(&app_id, &other).await.unwrap_err();
    assert!(matches!(err, OktaError::Malformed { .. }), "{err}");
}

#[tokio::test]
async fn group_member_ids_across_pages() {
    let mut s = Scenario::default();
    s.okta.users = (0..450).map(user).collect();
    s.okta.users[7].status = "DEPROVISIONED".to_string();
    s.okta.groups.push(OktaGroupSpec {
        id: Some("00gbig00000000000001".to_string()),
        name: "Big".to_string(),
        description: None,
        members: (0..430).map(|i| user(i).login).collect(),
    });
    let world = SimWorld::start(&s).await.unwrap();
    let okta = client(&world);
    let ids = okta
        .list_group_member_ids("00gbig00000000000001")
        .await
        .unwrap();
    let want: BTreeSet<String> = (0..430)
        .map(|i| world.okta.user_id(&user(i).login).unwrap())
        .collect();
    assert_eq!(ids.len(), 430, "each member once");
    assert_eq!(ids.iter().cloned().collect::<BTreeSet<_>>(), want);
    let pages: Vec<_> = world
        .okta
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/v1/groups/00gbig00000000000001/users")
        .collect();
    assert_eq!(pages.len(), 3, "pages of 200");
    assert!(pages[0].query.contains("limit=200"));
    let err = okta
        .list_group_member_ids("00gnosuchgroup000001")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404), "{err}");
}

/// Okta's rate-limit headers count the whole org. Another integration has spent 60 of
/// the app users' bucket of 100 (a window of an hour here): scim-sync's own half of the
/// bucket is still its to use, so a listing of 12 pages goes through at once instead of
/// waiting for the window to reset before each request.
#[tokio::test]
async fn a_busy_neighbour_in_the_org_does_not_stall_the_listing() {
    let mut s = scenario(24);
    s.okta.rate_limits = OktaRateLimits {
        apps: 100,
        window_secs: 3600,
        ..OktaRateLimits::default()
    };
    let world = SimWorld::start(&s).await.unwrap();
    world.okta.spend_apps_bucket(60);
    let mut o = options(&world);
    o.page_size = 2;
    let okta = OktaClient::new(o).unwrap();
    let users = tokio::time::timeout(
        Duration::from_secs(30),
        okta.list_app_users(&world.okta.app_id(), &no_progress()),
    )
    .await
    .expect("the listing waited for the window to reset")
    .unwrap();
    assert_eq!(ids(&users), expected_ids(&world, 24));
    // Yet it never takes the last slice the others need.
    world.okta.spend_apps_bucket(27);
    let stalled = tokio::time::timeout(
        Duration::from_secs(2),
        okta.list_app_users(&world.okta.app_id(), &no_progress()),
    )
    .await;
    assert!(stalled.is_err(), "it went on with 1 of 100 left to the org");
}
