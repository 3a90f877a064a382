//! The simulated kafkaman team, through real HTTP: every outcome of the contract
//! (`/work/shared/reference/kafkaman-api.md`) a client can run into.

use std::net::SocketAddr;

use reqwest::{Method, StatusCode};
use scim_sync_sim::KafkamanSim;
use scim_sync_sim::kafkaman::{Compat, MemberUpdate};
use scim_sync_sim::scenario::{InviteSpec, KafkamanScenario, KeySpec, MemberSpec};
use serde_json::{Value, json};

const EXT: &str = "urn:ietf:params:scim:schemas:extension:kafkaman:2.0:User";
const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn loopback() -> SocketAddr {
    ([127, 0, 0, 1], 0).into()
}

fn member(email: &str) -> MemberSpec {
    MemberSpec {
        email: email.to_string(),
        given_name: Some("Given".into()),
        family_name: Some("Family".into()),
        external_id: None,
        active: true,
        membership: None,
        role: "developer".into(),
    }
}

struct Client {
    http: reqwest::Client,
    sim: KafkamanSim,
    key: String,
}

struct Reply {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Client {
    async fn start(scenario: KafkamanScenario) -> Client {
        let sim = KafkamanSim::start(&scenario, loopback()).await.unwrap();
        let key = sim.api_key();
        Client {
            http: reqwest::Client::new(),
            sim,
            key,
        }
    }

    async fn send_with(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        key: Option<&str>,
    ) -> Reply {
        let mut req = self
            .http
            .request(method, format!("{}{}", self.sim.url(), path));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.send_with(method, path, body, Some(&self.key.clone()))
            .await
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    async fn create(&self, user_name: &str, external_id: &str) -> Reply {
        self.send(
            Method::POST,
            "/scim/v2/Users",
            Some(json!({
                "schemas": [CORE],
                "userName": user_name,
                "externalId": external_id,
                "name": {"givenName": "Ada", "familyName": "Lovelace"},
                "emails": [{"value": user_name, "primary": true, "type": "work"}],
                "active": true
            })),
        )
        .await
    }

    async fn patch(&self, id: &str, ops: Value) -> Reply {
        self.send(
            Method::PATCH,
            &format!("/scim/v2/Users/{id}"),
            Some(json!({"schemas": [PATCH_OP], "Operations": ops})),
        )
        .await
    }
}

fn assert_scim_error(r: &Reply, status: u16, scim_type: Option<&str>, detail: Option<&str>) {
    assert_eq!(r.status.as_u16(), status, "{:?}", r.body);
    assert_eq!(
        r.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"]),
        "{:?}",
        r.body
    );
    assert_eq!(
        r.body["status"],
        json!(status.to_string()),
        "status is a string"
    );
    assert_eq!(
        r.body.get("scimType").and_then(Value::as_str),
        scim_type,
        "{:?}",
        r.body
    );
    if let Some(d) = detail {
        assert_eq!(r.body["detail"], json!(d));
    }
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/scim+json"),
        "errors are SCIM media type"
    );
}

#[tokio::test]
async fn create_outcomes_follow_the_contract() {
    let mut sc = KafkamanScenario::default();
    sc.members.push(member("active@x.com"));
    sc.members.push(MemberSpec {
        active: false,
        ..member("gone@x.com")
    });
    sc.outside_accounts.push("Outside@x.com".into());
    sc.invites.push(InviteSpec {
        email: "invited@x.com".into(),
        source: "admin".into(),
        invited_by: Some("boss@x.com".into()),
        age_days: 0,
    });
    let c = Client::start(sc).await;

    // A member (active or deactivated), whatever the case of the email.
    for existing in ["ACTIVE@x.com", "gone@X.com"] {
        let r = c.create(existing, "00u1").await;
        assert_scim_error(
            &r,
            409,
            Some("uniqueness"),
            Some("User already exists in this team"),
        );
    }
    // A pending invite that SCIM didn't create.
    let r = c.create("Invited@x.com", "00u2").await;
    assert_scim_error(
        &r,
        409,
        Some("uniqueness"),
        Some("A pending invite exists for this email"),
    );

    // An account outside the team: invited, with a pending SCIM invite, using a seat.
    let before = c.sim.seats().0;
    let r = c.create("outside@x.com", "00u3").await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body[EXT]["membership"], "invited");
    assert_eq!(r.body["active"], true);
    assert_eq!(c.sim.seats().0, before + 1);
    let inv = c
        .sim
        .invites()
        .into_iter()
        .find(|i| i.email == "outside@x.com")
        .unwrap();
    assert_eq!(
        (inv.source.as_str(), inv.status.as_str()),
        ("scim", "pending")
    );

    // Otherwise: an active developer, with Location and meta.
    let r = c.create("New@x.com", "00u4").await;
    assert_eq!(r.status, StatusCode::CREATED);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        r.body[EXT],
        json!({"membership": "active", "role": "developer"})
    );
    assert_eq!(r.body["userName"], "New@x.com");
    assert_eq!(r.body["externalId"], "00u4");
    assert_eq!(
        r.body["emails"],
        json!([{"value": "New@x.com", "type": "work", "primary": true}])
    );
    let location = r.header("location").unwrap().to_string();
    assert_eq!(location, format!("{}/scim/v2/Users/{id}", c.sim.url()));
    assert_eq!(r.body["meta"]["location"], json!(location));
    assert_eq!(r.body["meta"]["resourceType"], "User");
    assert!(r.body["meta"]["created"].as_str().unwrap().ends_with('Z'));
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/scim+json")
    );
    let got = c.get(&format!("/scim/v2/Users/{id}")).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(
        got.body["name"],
        json!({"givenName": "Ada", "familyName": "Lovelace"})
    );

    // The invited person accepts: the member turns active.
    c.sim.accept_invite("outside@x.com").unwrap();
    assert_eq!(c.sim.member("OUTSIDE@x.com").unwrap().membership, "active");

    // No seat left.
    let (used, _) = c.sim.seats();
    c.sim.set_seats(used);
    let r = c.create("late@x.com", "00u5").await;
    assert_scim_error(&r, 403, None, Some("No seats available on this team"));
    assert!(c.sim.member("late@x.com").is_none());
}

#[tokio::test]
async fn create_validates_the_request() {
    let c = Client::start(KafkamanScenario::default()).await;
    let r = c
        .send(
            Method::POST,
            "/scim/v2/Users",
            Some(json!({"schemas": [CORE]})),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"), None);
    let r = c
        .send(
            Method::POST,
            "/scim/v2/Users",
            Some(json!({"userName": "a@x.com"})),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidSyntax"), None);
    let r = c
        .send_with(Method::POST, "/scim/v2/Users", None, Some(&c.key))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // application/json is accepted as well.
    let resp = c
        .http
        .post(format!("{}/scim/v2/Users", c.sim.url()))
        .bearer_auth(&c.key)
        .json(&json!({"schemas": [CORE], "userName": "json@x.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn deactivate_frees_a_seat_and_reactivate_needs_one() {
    let mut sc = KafkamanScenario {
        seats: 2,
        ..Default::default()
    };
    sc.members.push(member("a@x.com"));
    sc.members.push(member("b@x.com"));
    let c = Client::start(sc).await;
    assert_eq!(c.sim.seats(), (2, 2));
    let a = c.sim.member("a@x.com").unwrap().id;

    let r = c
        .patch(&a, json!([{"op": "replace", "value": {"active": false}}]))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["active"], false);
    assert_eq!(r.body[EXT]["membership"], "deactivated");
    assert_eq!(c.sim.seats(), (1, 2));

    // The freed seat is taken by a new member; reactivation then has no seat.
    assert_eq!(
        c.create("c@x.com", "00uc").await.status,
        StatusCode::CREATED
    );
    let r = c
        .patch(
            &a,
            json!([{"op": "replace", "path": "active", "value": true}]),
        )
        .await;
    assert_scim_error(&r, 403, None, Some("No seats available on this team"));
    assert_eq!(c.sim.member("a@x.com").unwrap().membership, "deactivated");

    // A create for the deactivated member is a 409, never a second account.
    let r = c.create("a@x.com", "00ua").await;
    assert_eq!(r.status, StatusCode::CONFLICT);

    c.sim.set_seats(3);
    let r = c
        .patch(
            &a,
            json!([{"op": "replace", "path": "active", "value": true}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body[EXT]["membership"], "active");
    assert_eq!(c.sim.seats(), (3, 3));
    // Repeating it is harmless.
    let r = c
        .patch(
            &a,
            json!([{"op": "replace", "path": "active", "value": true}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(c.sim.seats(), (3, 3));
}

#[tokio::test]
async fn names_change_and_user_name_does_not() {
    let c = Client::start(KafkamanScenario::default()).await;
    let r = c.create("ada@x.com", "00u1").await;
    let id = r.body["id"].as_str().unwrap().to_string();
    let path = format!("/scim/v2/Users/{id}");

    let r = c
        .patch(
            &id,
            json!([
                {"op": "replace", "path": "name.givenName", "value": "Augusta"},
                {"op": "Replace", "path": "NAME.familyName", "value": "King"}
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        r.body["name"],
        json!({"givenName": "Augusta", "familyName": "King"})
    );

    let r = c
        .patch(
            &id,
            json!([{"op": "replace", "path": "name", "value": {"givenName": "Ada"}}]),
        )
        .await;
    assert_eq!(r.body["name"], json!({"givenName": "Ada"}));

    for ops in [
        json!([{"op": "replace", "path": "userName", "value": "other@x.com"}]),
        json!([{"op": "replace", "value": {"userName": "other@x.com"}}]),
    ] {
        let r = c.patch(&id, ops).await;
        assert_scim_error(&r, 400, Some("mutability"), None);
    }
    // Atomic: a rejected op leaves the earlier ones unapplied.
    let r = c
        .patch(
            &id,
            json!([
                {"op": "replace", "path": "name.givenName", "value": "Nope"},
                {"op": "replace", "path": "userName", "value": "other@x.com"}
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        c.sim.member("ada@x.com").unwrap().given_name.as_deref(),
        Some("Ada")
    );

    let r = c
        .patch(
            &id,
            json!([{"op": "add", "path": "name.givenName", "value": "X"}]),
        )
        .await;
    assert_scim_error(&r, 400, None, None);
    let r = c
        .patch(
            &id,
            json!([{"op": "replace", "path": "nickName", "value": "X"}]),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidPath"), None);
    let r = c
        .patch(
            &id,
            json!([{"op": "replace", "path": "active", "value": "false"}]),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"), None);

    // PUT replaces name and active; the same userName (any case) is fine.
    let put = |user_name: &str| {
        json!({
            "schemas": [CORE], "userName": user_name, "externalId": "00u1",
            "name": {"givenName": "Lady", "familyName": "Lovelace"}, "active": false
        })
    };
    let r = c.send(Method::PUT, &path, Some(put("ADA@x.com"))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["name"]["givenName"], "Lady");
    assert_eq!(r.body["active"], false);
    assert_eq!(r.body["userName"], "ada@x.com");
    let r = c.send(Method::PUT, &path, Some(put("bob@x.com"))).await;
    assert_scim_error(&r, 400, Some("mutability"), None);

    let r = c.send(Method::DELETE, &path, None).await;
    assert_scim_error(
        &r,
        405,
        None,
        Some("Users can't be deleted; deactivate them with PATCH active=false"),
    );
    assert!(c.sim.member("ada@x.com").is_some());

    let r = c.get("/scim/v2/Users/nope").await;
    assert_scim_error(&r, 404, None, None);
    let r = c
        .patch(
            "nope",
            json!([{"op": "replace", "path": "active", "value": false}]),
        )
        .await;
    assert_scim_error(&r, 404, None, None);
}

#[tokio::test]
async fn filters_and_pagination() {
    let mut sc = KafkamanScenario::default();
    for i in 0..25 {
        sc.members.push(MemberSpec {
            external_id: Some(format!("00u{i}")),
            ..member(&format!("user{i:02}@x.com"))
        });
    }
    let c = Client::start(sc).await;

    let r = c
        .get("/scim/v2/Users?filter=userName%20eq%20%22USER07@X.com%22")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["totalResults"], 1);
    assert_eq!(r.body["Resources"][0]["userName"], "user07@x.com");
    let r = c
        .get("/scim/v2/Users?filter=externalid%20EQ%20%2200u3%22")
        .await;
    assert_eq!(r.body["Resources"][0]["userName"], "user03@x.com");
    // externalId is case-exact.
    let r = c
        .get("/scim/v2/Users?filter=externalId%20eq%20%2200U3%22")
        .await;
    assert_eq!(r.body["totalResults"], 0);
    assert_eq!(r.body["Resources"], json!([]));

    for bad in [
        "userName%20co%20%22user%22",
        "emails.value%20eq%20%22a@x.com%22",
        "userName%20eq%20%22a%22%20or%20userName%20eq%20%22b%22",
        "active%20eq%20true",
    ] {
        let r = c.get(&format!("/scim/v2/Users?filter={bad}")).await;
        assert_scim_error(&r, 400, Some("invalidFilter"), None);
    }

    // Pages in creation order; count is clamped to 100.
    let mut seen = Vec::new();
    let mut start = 1;
    loop {
        let r = c
            .get(&format!("/scim/v2/Users?startIndex={start}&count=10"))
            .await;
        assert_eq!(r.body["totalResults"], 25);
        assert_eq!(r.body["startIndex"], start);
        let page = r.body["Resources"].as_array().unwrap().clone();
        if page.is_empty() {
            break;
        }
        assert_eq!(r.body["itemsPerPage"], page.len());
        seen.extend(
            page.iter()
                .map(|u| u["userName"].as_str().unwrap().to_string()),
        );
        start += page.len();
    }
    let expected: Vec<String> = (0..25).map(|i| format!("user{i:02}@x.com")).collect();
    assert_eq!(seen, expected);
    let r = c.get("/scim/v2/Users?count=1000").await;
    assert_eq!(r.body["itemsPerPage"], 25);
    let r = c.get("/scim/v2/Users?count=0").await;
    assert_eq!(
        (
            r.body["totalResults"].clone(),
            r.body["itemsPerPage"].clone()
        ),
        (json!(25), json!(0))
    );

    let r = c.get("/scim/v2/Users?count=2&attributes=userName").await;
    let u = &r.body["Resources"][0];
    assert!(u.get("userName").is_some() && u.get("id").is_some() && u.get("name").is_none());
}

#[tokio::test]
async fn invites_api_pages_and_deletes() {
    let mut sc = KafkamanScenario::default();
    for i in 0..7 {
        sc.invites.push(InviteSpec {
            email: format!("inv{i}@x.com"),
            source: ["admin", "link", "request"][i % 3].into(),
            invited_by: (i % 3 == 0).then(|| "boss@x.com".to_string()),
            age_days: 10,
        });
    }
    let c = Client::start(sc).await;
    let gone = c.sim.invites()[2].id.clone();
    c.sim.accept_invite("inv4@x.com").unwrap();

    let mut emails = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = "/api/v1/team/invites?status=pending&limit=2".to_string();
        if let Some(cur) = &cursor {
            path.push_str(&format!("&cursor={cur}"));
        }
        let r = c.get(&path).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        pages += 1;
        for inv in r.body["data"].as_array().unwrap() {
            assert_eq!(inv["status"], "pending");
            assert_eq!(inv["roles"], json!(["developer"]));
            let created =
                chrono::DateTime::parse_from_rfc3339(inv["createdAt"].as_str().unwrap()).unwrap();
            let age = chrono::Utc::now().signed_duration_since(created).num_days();
            assert_eq!(age, 10, "age_days back-dates createdAt");
            assert!(
                chrono::DateTime::parse_from_rfc3339(inv["expiresAt"].as_str().unwrap()).is_ok()
            );
            emails.push(inv["email"].as_str().unwrap().to_string());
        }
        match r.body["meta"]["nextCursor"].as_str() {
            Some(n) => cursor = Some(n.to_string()),
            None => {
                assert_eq!(r.body["meta"]["nextCursor"], Value::Null);
                break;
            }
        }
    }
    assert_eq!(
        emails,
        [
            "inv0@x.com",
            "inv1@x.com",
            "inv2@x.com",
            "inv3@x.com",
            "inv5@x.com",
            "inv6@x.com"
        ]
    );
    assert_eq!(pages, 3);

    let r = c
        .send(
            Method::DELETE,
            &format!("/api/v1/team/invites/{gone}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    // Gone (no longer pending) and unknown ids are 404 notFound.
    for id in [gone.as_str(), "unknown"] {
        let r = c
            .send(Method::DELETE, &format!("/api/v1/team/invites/{id}"), None)
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(r.body["error"]["name"], "notFound");
        assert_eq!(r.body["error"]["details"], json!({}));
    }
    // Once its invite is gone, the person can be provisioned.
    assert_eq!(
        c.create("inv2@x.com", "00u2").await.status,
        StatusCode::CREATED
    );

    let r = c.get("/api/v1/team/invites?cursor=bogus").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body["error"]["name"].is_string());
    let r = c.get("/api/v1/team/invites?limit=500").await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 7);
}

#[tokio::test]
async fn auth_missing_unknown_revoked_and_rotated_keys() {
    let mut sc = KafkamanScenario::default();
    sc.keys.push(KeySpec {
        name: "old".into(),
        token: "kmsim_old".into(),
        status: "REVOKED".into(),
    });
    let c = Client::start(sc).await;
    for path in ["/scim/v2/Users", "/scim/v2/Schemas", "/api/v1/team/invites"] {
        let r = c.send_with(Method::GET, path, None, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
        for key in ["wrong", "kmsim_old"] {
            let r = c.send_with(Method::GET, path, None, Some(key)).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path} {key}");
        }
    }
    let r = c.send_with(Method::GET, "/scim/v2/Users", None, None).await;
    assert_scim_error(&r, 401, None, None);
    let r = c
        .send_with(Method::GET, "/api/v1/team/invites", None, None)
        .await;
    assert!(r.body["error"]["message"].is_string());

    // Rotation: both keys work until the old one is revoked.
    let new_key = c.sim.add_key("rotated");
    for key in [c.key.as_str(), new_key.as_str()] {
        let r = c
            .send_with(Method::GET, "/scim/v2/Users", None, Some(key))
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    c.sim.revoke_key("okta").unwrap();
    let r = c
        .send_with(Method::GET, "/scim/v2/Users", None, Some(&c.key))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = c
        .send_with(Method::GET, "/scim/v2/Users", None, Some(&new_key))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(c.sim.api_key(), new_key);
    assert!(c.sim.revoke_key("no-such-key").is_err());

    // Discovery of the service provider config needs no key.
    let r = c
        .send_with(Method::GET, "/scim/v2/ServiceProviderConfig", None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["patch"]["supported"], true);
    assert_eq!(r.body["bulk"]["supported"], false);
    assert_eq!(
        r.body["filter"],
        json!({"supported": true, "maxResults": 100})
    );
    assert_eq!(
        r.body["authenticationSchemes"][0]["type"],
        "oauthbearertoken"
    );
}

#[tokio::test]
async fn scim_disabled_is_403_on_both_apis() {
    let c = Client::start(KafkamanScenario {
        scim_enabled: false,
        ..Default::default()
    })
    .await;
    let r = c.get("/scim/v2/Users").await;
    assert_scim_error(
        &r,
        403,
        None,
        Some("SCIM provisioning is not enabled for this team"),
    );
    let r = c.get("/api/v1/team/invites").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.body["error"]["message"],
        "SCIM provisioning is not enabled for this team"
    );
    // A bad key is still a 401 first.
    let r = c
        .send_with(Method::GET, "/scim/v2/Users", None, Some("wrong"))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    c.sim.set_scim_enabled(true);
    assert_eq!(c.get("/scim/v2/Users").await.status, StatusCode::OK);
}

#[tokio::test]
async fn rate_limit_per_key_with_headers() {
    let mut sc = KafkamanScenario::default();
    sc.rate_limit.requests = 3;
    sc.rate_limit.window_secs = 30;
    let c = Client::start(sc).await;
    for remaining in [2, 1, 0] {
        let r = c.get("/scim/v2/Users").await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header("x-ratelimit-limit"), Some("3"));
        assert_eq!(
            r.header("x-ratelimit-remaining"),
            Some(remaining.to_string().as_str())
        );
        let reset: u64 = r.header("x-ratelimit-reset").unwrap().parse().unwrap();
        assert!(
            (1..=30).contains(&reset),
            "reset is seconds until the window ends: {reset}"
        );
    }
    let r = c.get("/api/v1/team/invites").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry));
    assert_eq!(r.header("x-ratelimit-remaining"), Some("0"));
    let r = c.get("/scim/v2/Users").await;
    assert_scim_error(&r, 429, None, None);
    // Another key has its own window.
    let other = c.sim.add_key("second");
    let r = c
        .send_with(Method::GET, "/scim/v2/Users", None, Some(&other))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("x-ratelimit-remaining"), Some("2"));
}

#[tokio::test]
async fn request_ids_are_unique_on_every_response() {
    let c = Client::start(KafkamanScenario::default()).await;
    let a = c.get("/scim/v2/Users").await;
    let b = c.send_with(Method::GET, "/scim/v2/Users", None, None).await;
    let (ia, ib) = (
        a.header("x-request-id").unwrap(),
        b.header("x-request-id").unwrap(),
    );
    assert!(!ia.is_empty());
    assert_ne!(ia, ib);
    assert!(
        b.header("x-ratelimit-limit").is_some(),
        "401s carry rate headers too"
    );
}

#[tokio::test]
async fn injected_faults() {
    let mut sc = KafkamanScenario::default();
    sc.faults.push(
        serde_json::from_value(json!({"route": "/scim/v2/Users", "kind": "status", "status": 503}))
            .unwrap(),
    );
    let c = Client::start(sc).await;
    let r = c.get("/scim/v2/Users").await;
    assert_scim_error(&r, 503, None, None);
    assert!(r.header("x-request-id").is_some());
    assert_eq!(c.get("/scim/v2/Users").await.status, StatusCode::OK);

    c.sim.faults().arm(
        serde_json::from_value(json!({"route": "/scim/v2/Users", "kind": "status", "status": 429}))
            .unwrap(),
    );
    let r = c.get("/scim/v2/Users").await;
    assert_scim_error(&r, 429, None, None);
    assert!(r.header("retry-after").is_some());

    c.sim.faults().arm(
        serde_json::from_value(
            json!({"route": "/scim/v2/Users", "method": "POST", "kind": "malformed"}),
        )
        .unwrap(),
    );
    let r = c.create("m@x.com", "00um").await;
    assert!(r.body.is_string(), "body is not JSON: {:?}", r.body);
    // The write happened even though the reply was garbage.
    assert!(c.sim.member("m@x.com").is_some());

    // Armed through the control API: a dropped connection.
    let resp = c
        .http
        .post(format!("{}/__sim/faults", c.sim.url()))
        .json(&json!({"route": "/scim/v2/Users", "kind": "drop"}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let sent = c
        .http
        .get(format!("{}/scim/v2/Users", c.sim.url()))
        .bearer_auth(&c.key)
        .send()
        .await;
    let failed = match sent {
        Err(_) => true,
        Ok(resp) => resp.bytes().await.is_err(),
    };
    assert!(failed, "a dropped connection fails the read");
    let logged = c.sim.requests();
    assert!(logged.iter().any(|r| r.method == "POST" && r.status == 201));
}

#[tokio::test]
async fn discovery_documents() {
    let c = Client::start(KafkamanScenario::default()).await;
    let r = c.get("/scim/v2/ResourceTypes").await;
    assert_eq!(r.body["totalResults"], 1);
    assert_eq!(r.body["Resources"][0]["schema"], CORE);
    assert_eq!(r.body["Resources"][0]["schemaExtensions"][0]["schema"], EXT);
    assert_eq!(
        c.get("/scim/v2/ResourceTypes/User").await.body["endpoint"],
        "/Users"
    );
    assert_eq!(
        c.get("/scim/v2/ResourceTypes/Group").await.status,
        StatusCode::NOT_FOUND
    );
    let r = c.get("/scim/v2/Schemas").await;
    let ids: Vec<&str> = r.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [CORE, EXT]);
    let r = c.get(&format!("/scim/v2/Schemas/{EXT}")).await;
    let attrs = r.body["attributes"].as_array().unwrap();
    assert!(attrs.iter().all(|a| a["mutability"] == "readOnly"));
    let r = c.get(&format!("/scim/v2/Schemas/{CORE}")).await;
    let user_name = r.body["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "userName")
        .unwrap()
        .clone();
    assert_eq!(
        (
            user_name["caseExact"].clone(),
            user_name["mutability"].clone()
        ),
        (json!(false), json!("immutable"))
    );
    assert_eq!(c.get("/scim/v2/Groups").await.status, StatusCode::NOT_FOUND);
    let r = c
        .send(Method::POST, "/scim/v2/Schemas", Some(json!({})))
        .await;
    assert_scim_error(&r, 405, None, None);
}

#[tokio::test]
async fn control_api_over_http() {
    let c = Client::start(KafkamanScenario::default()).await;
    let url = c.sim.url();
    let post = |path: &str, body: Value| {
        c.http
            .post(format!("{url}/__sim/{path}"))
            .json(&body)
            .send()
    };
    assert_eq!(
        post("members", json!({"email": "m@x.com"}))
            .await
            .unwrap()
            .status(),
        StatusCode::CREATED
    );
    assert_eq!(
        post("members", json!({"email": "M@x.com"}))
            .await
            .unwrap()
            .status(),
        StatusCode::CONFLICT
    );
    assert!(
        post("outside_accounts", json!({"email": "o@x.com"}))
            .await
            .unwrap()
            .status()
            .is_success()
    );
    assert_eq!(
        post("invites", json!({"email": "i@x.com", "source": "link"}))
            .await
            .unwrap()
            .status(),
        StatusCode::CREATED
    );
    assert!(
        post("invites/accept", json!({"email": "i@x.com"}))
            .await
            .unwrap()
            .status()
            .is_success()
    );
    assert!(
        post("seats", json!({"seats": 7}))
            .await
            .unwrap()
            .status()
            .is_success()
    );
    let key: Value = post("keys", json!({"name": "k2"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        post("keys/revoke", json!({"key": "k2"}))
            .await
            .unwrap()
            .status()
            .is_success()
    );
    assert!(
        post("scim", json!({"enabled": false}))
            .await
            .unwrap()
            .status()
            .is_success()
    );

    let state: Value = c
        .http
        .get(format!("{url}/__sim/state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["seats"], json!({"used": 2, "total": 7}));
    assert_eq!(state["scim_enabled"], false);
    assert_eq!(state["members"].as_array().unwrap().len(), 2);
    assert_eq!(state["invites"][0]["status"], "accepted");
    assert_eq!(state["keys"][1], json!({"name": "k2", "status": "REVOKED"}));
    assert!(
        !state.to_string().contains(key["token"].as_str().unwrap()),
        "no tokens in state"
    );
    assert_eq!(c.sim.state_json(), state);
}

#[tokio::test]
async fn large_team_stays_fast() {
    let mut sc = KafkamanScenario {
        seats: 200_000,
        ..Default::default()
    };
    for i in 0..100_000 {
        sc.members.push(MemberSpec {
            external_id: Some(format!("00u{i}")),
            ..member(&format!("user{i}@x.com"))
        });
    }
    let started = std::time::Instant::now();
    let c = Client::start(sc).await;
    let boot = started.elapsed();
    let t = std::time::Instant::now();
    for i in (0..100_000).step_by(10_000) {
        let r = c
            .get(&format!(
                "/scim/v2/Users?filter=userName%20eq%20%22USER{i}@x.com%22"
            ))
            .await;
        assert_eq!(r.body["totalResults"], 1);
        let r = c
            .get(&format!(
                "/scim/v2/Users?filter=externalId%20eq%20%2200u{i}%22"
            ))
            .await;
        assert_eq!(r.body["totalResults"], 1);
    }
    let r = c.get("/scim/v2/Users?startIndex=99950&count=100").await;
    assert_eq!(r.body["itemsPerPage"], 51);
    let r = c.create("new@x.com", "00unew").await;
    assert_eq!(r.status, StatusCode::CREATED);
    let created = r.body["meta"]["lastModified"].as_str().unwrap().to_string();
    let r = c
        .get(&users_path(&modified_filter("ge", &created), ""))
        .await;
    assert_eq!(r.body["Resources"][0]["userName"], "new@x.com");
    let r = c
        .get(&users_path(
            &modified_filter("gt", "2000-01-01T00:00:00Z"),
            "&startIndex=99950&count=100",
        ))
        .await;
    assert_eq!(r.body["totalResults"], 100_001);
    assert_eq!(r.body["itemsPerPage"], 52);
    let lookups = t.elapsed();
    eprintln!(
        "100k members: start {boot:?}, 20 filtered lookups + page + create + 2 lastModified reads {lookups:?}"
    );
    assert!(lookups < std::time::Duration::from_secs(2), "{lookups:?}");
}

/// Serves a simulator until killed, for `scripts/scim-conformance.sh` (prints one JSON
/// line with the URL and key). Run: `cargo test --test sim_kafkaman -- --ignored
/// --nocapture serve_for_conformance`.
#[tokio::test]
#[ignore]
async fn serve_for_conformance() {
    let seats = std::env::var("KAFKAMAN_SIM_SEATS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let sim = KafkamanSim::start(
        &KafkamanScenario {
            seats,
            ..Default::default()
        },
        loopback(),
    )
    .await
    .unwrap();
    println!(
        "{}",
        json!({"kafkaman_url": sim.url(), "kafkaman_api_key": sim.api_key()})
    );
    let secs = std::env::var("KAFKAMAN_SIM_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    tokio::time::sleep(std::time::Duration::from_secs(secs)).await;
}

#[tokio::test]
async fn scenario_latency_applies() {
    let c = Client::start(KafkamanScenario {
        latency_ms: 150,
        ..Default::default()
    })
    .await;
    let t = std::time::Instant::now();
    assert_eq!(c.get("/scim/v2/Users").await.status, StatusCode::OK);
    assert!(t.elapsed() >= std::time::Duration::from_millis(150));
}

#[tokio::test]
async fn unsupported_methods_are_405_in_each_format() {
    let c = Client::start(KafkamanScenario::default()).await;
    let r = c.send(Method::PUT, "/scim/v2/Users", Some(json!({}))).await;
    assert_scim_error(&r, 405, None, None);
    assert_eq!(r.header("allow"), Some("GET, POST"));
    let r = c
        .send(Method::POST, "/api/v1/team/invites", Some(json!({})))
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.body["error"]["name"], "methodNotAllowed");
}

// ---- meta.lastModified filter ---------------------------------------------------------

/// `GET /scim/v2/Users?filter=<filter>` (encoded) with extra query pairs.
fn users_path(filter: &str, extra: &str) -> String {
    let f: String = url::form_urlencoded::byte_serialize(filter.as_bytes()).collect();
    format!("/scim/v2/Users?filter={f}{extra}")
}

fn modified_filter(op: &str, since: &str) -> String {
    format!("meta.lastModified {op} \"{since}\"")
}

/// Every page of a filtered listing (`count` per page): `(userName, lastModified)`.
async fn read_filtered(c: &Client, filter: &str, count: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut start = 1;
    loop {
        let r = c
            .get(&users_path(
                filter,
                &format!("&startIndex={start}&count={count}"),
            ))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let page = r.body["Resources"].as_array().unwrap().clone();
        out.extend(page.iter().map(|u| {
            (
                u["userName"].as_str().unwrap().to_string(),
                u["meta"]["lastModified"].as_str().unwrap().to_string(),
            )
        }));
        start += page.len();
        if page.is_empty() || start > r.body["totalResults"].as_u64().unwrap() as usize {
            return out;
        }
    }
}

fn parse_time(s: &str) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(s).unwrap()
}

fn roomy(members: usize) -> KafkamanScenario {
    let mut sc = KafkamanScenario {
        seats: 1000,
        ..Default::default()
    };
    sc.rate_limit.requests = 100_000;
    sc.members = (0..members)
        .map(|i| member(&format!("user{i:03}@x.com")))
        .collect();
    sc
}

/// Waits until kafkaman's clock is past `t` (changes after this are strictly later).
async fn after(sim: &KafkamanSim, t: &str) {
    while sim.now() <= parse_time(t) {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}

#[tokio::test]
async fn last_modified_filter_lists_changes_oldest_first_across_pages() {
    let c = Client::start(roomy(150)).await;
    let seeded = c.sim.members().last().unwrap().last_modified.clone();
    after(&c.sim, &seeded).await;
    // 120 members changed newest-created first, each in its own millisecond: the
    // change order is the reverse of the creation order.
    let mut changed = Vec::new();
    for i in (30..150).rev() {
        let email = format!("user{i:03}@x.com");
        if i % 2 == 0 {
            let id = c.sim.member(&email).unwrap().id;
            let r = c
                .patch(
                    &id,
                    json!([{"op": "replace", "path": "name.givenName", "value": "New"}]),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK);
        } else {
            c.sim
                .update_member(
                    &email,
                    MemberUpdate {
                        family_name: Some("Renamed".into()),
                        ..Default::default()
                    },
                )
                .unwrap();
        }
        let lm = c.sim.member(&email).unwrap().last_modified;
        after(&c.sim, &lm).await;
        changed.push((email, lm));
    }

    let listed = read_filtered(&c, &modified_filter("gt", &seeded), 100).await;
    assert_eq!(
        listed, changed,
        "exactly the changed members, oldest change first"
    );
    // The attribute name in any case, `count` clamped, the same order.
    let listed = read_filtered(
        &c,
        &modified_filter("GT", &seeded).replace("meta.lastModified", "META.lastmodified"),
        1000,
    )
    .await;
    assert_eq!(listed, changed);
    let r = c
        .get(&users_path(&modified_filter("gt", &seeded), "&count=0"))
        .await;
    assert_eq!(r.body["totalResults"], 120);
    assert_eq!(r.body["Resources"], json!([]));

    // `gt` a member's own lastModified leaves it out; `ge` keeps it.
    let (pivot, at) = changed[49].clone();
    let gt = read_filtered(&c, &modified_filter("gt", &at), 100).await;
    assert_eq!(gt, changed[50..]);
    assert!(gt.iter().all(|(u, lm)| *u != pivot && *lm != at));
    let ge = read_filtered(&c, &modified_filter("ge", &at), 100).await;
    assert_eq!(ge, changed[49..]);
    // Nothing changed after the last change.
    let last = &changed.last().unwrap().1;
    assert!(
        read_filtered(&c, &modified_filter("gt", last), 100)
            .await
            .is_empty()
    );
    // Other offsets mean the same instant.
    let shifted = parse_time(&at)
        .with_timezone(&chrono::FixedOffset::east_opt(2 * 3600).unwrap())
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, false);
    assert!(shifted.ends_with("+02:00"), "{shifted}");
    assert_eq!(
        read_filtered(&c, &modified_filter("gt", &shifted), 100).await,
        gt
    );
}

#[tokio::test]
async fn changes_in_one_millisecond_all_show_for_ge_and_none_for_gt() {
    let c = Client::start(roomy(4)).await;
    let seeded = c.sim.members()[3].last_modified.clone();
    after(&c.sim, &seeded).await;
    let rename = |email: &str, name: &str| {
        c.sim
            .update_member(
                email,
                MemberUpdate {
                    given_name: Some(name.into()),
                    ..Default::default()
                },
            )
            .unwrap();
        c.sim.member(email).unwrap().last_modified
    };
    // Two changes back to back nearly always share a millisecond; try until they do.
    let mut shared = None;
    for attempt in 0..200 {
        let a = rename("user002@x.com", &format!("a{attempt}"));
        let b = rename("user001@x.com", &format!("b{attempt}"));
        if a == b {
            shared = Some(a);
            break;
        }
    }
    let t = shared.expect("two changes in one millisecond");
    let ge = read_filtered(&c, &modified_filter("ge", &t), 1).await;
    assert_eq!(
        ge,
        [
            ("user001@x.com".to_string(), t.clone()),
            ("user002@x.com".to_string(), t.clone())
        ],
        "both, one page each, members changed in one millisecond in creation order"
    );
    assert!(
        read_filtered(&c, &modified_filter("gt", &t), 100)
            .await
            .is_empty()
    );
    // A time inside that millisecond: the changes are stamped before it.
    let inside = t.replace('Z', "500Z");
    assert!(
        inside.contains(".") && inside.len() == t.len() + 3,
        "{inside}"
    );
    assert!(
        read_filtered(&c, &modified_filter("ge", &inside), 100)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn admin_and_invite_changes_move_last_modified() {
    let mut sc = roomy(3);
    sc.outside_accounts.push("guest@x.com".into());
    let c = Client::start(sc).await;
    let invited = c.create("guest@x.com", "00ug").await;
    assert_eq!(invited.body[EXT]["membership"], "invited");
    let seeded = invited.body["meta"]["lastModified"]
        .as_str()
        .unwrap()
        .to_string();
    after(&c.sim, &seeded).await;
    let since = modified_filter("gt", &seeded);
    assert!(read_filtered(&c, &since, 100).await.is_empty());

    let url = c.sim.url();
    let control = |path: &str, body: Value| {
        c.http
            .post(format!("{url}/__sim/{path}"))
            .json(&body)
            .send()
    };
    // An admin deactivates a member by hand, changes another's role; the invited
    // person accepts.
    let r = control(
        "members/update",
        json!({"email": "USER001@x.com", "active": false}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = control(
        "members/update",
        json!({"email": "user002@x.com", "role": "admin"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    // Setting what is already there is no change.
    let r = control(
        "members/update",
        json!({"email": "user000@x.com", "given_name": "Given", "active": true, "role": "developer"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    c.sim.accept_invite("guest@x.com").unwrap();

    let r = c.get(&users_path(&since, "")).await;
    let got: Vec<(String, Value, Value, Value)> = r.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["userName"].as_str().unwrap().to_string(),
                u["active"].clone(),
                u[EXT]["membership"].clone(),
                u[EXT]["role"].clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "user001@x.com".into(),
                json!(false),
                json!("deactivated"),
                json!("developer")
            ),
            (
                "user002@x.com".into(),
                json!(true),
                json!("active"),
                json!("admin")
            ),
            (
                "guest@x.com".into(),
                json!(true),
                json!("active"),
                json!("developer")
            ),
        ]
    );
    assert_eq!(c.sim.seats().0, 3, "the deactivated member's seat is free");

    // Bad admin updates are refused and change nothing.
    for body in [
        json!({"email": "nobody@x.com", "role": "admin"}),
        json!({"email": "user000@x.com", "role": ""}),
    ] {
        let r = control("members/update", body).await.unwrap();
        assert_eq!(r.status(), StatusCode::CONFLICT);
    }
    let r = control(
        "members/update",
        json!({"email": "user000@x.com", "colour": "red"}),
    )
    .await
    .unwrap();
    assert!(r.status().is_client_error());
    assert_eq!(read_filtered(&c, &since, 100).await.len(), 3);
}

#[tokio::test]
async fn last_modified_filter_refuses_what_it_does_not_support() {
    let c = Client::start(roomy(2)).await;
    let now = c
        .sim
        .now()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    for bad in [
        modified_filter("gt", "yesterday"),
        modified_filter("gt", "2024-05-01"),
        modified_filter("gt", "2024-05-01 10:00"),
        format!("meta.lastModified gt {now}"),
        modified_filter("lt", &now),
        modified_filter("eq", &now),
        format!("meta.created gt \"{now}\""),
        format!(
            "{} and userName eq \"user000@x.com\"",
            modified_filter("gt", &now)
        ),
        format!(
            "userName eq \"user000@x.com\" or {}",
            modified_filter("gt", &now)
        ),
    ] {
        let r = c.get(&users_path(&bad, "")).await;
        assert_scim_error(&r, 400, Some("invalidFilter"), None);
    }
    let r = c
        .get(&users_path(&modified_filter("gt", "not a time"), ""))
        .await;
    assert!(
        r.body["detail"].as_str().unwrap().contains("RFC 3339"),
        "{:?}",
        r.body
    );

    // A target without the filter: 400 invalidFilter; the eq filters still work.
    c.sim.set_compat(Compat {
        last_modified_filter: false,
        ..Default::default()
    });
    let r = c.get(&users_path(&modified_filter("gt", &now), "")).await;
    assert_scim_error(&r, 400, Some("invalidFilter"), None);
    // It names the filters such a target has.
    assert!(
        !r.body["detail"].as_str().unwrap().contains("gt|ge"),
        "{:?}",
        r.body
    );
    let r = c
        .get(&users_path("userName eq \"USER001@x.com\"", ""))
        .await;
    assert_eq!(r.body["totalResults"], 1);
    // Over HTTP too, and back.
    let compat = |body: Value| {
        c.http
            .post(format!("{}/__sim/compat", c.sim.url()))
            .json(&body)
            .send()
    };
    assert!(compat(json!({})).await.unwrap().status().is_success());
    let r = c.get(&users_path(&modified_filter("ge", &now), "")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        compat(json!({"last_modified_filter": false}))
            .await
            .unwrap()
            .status()
            .is_success()
    );
    let r = c.get(&users_path(&modified_filter("ge", &now), "")).await;
    assert_scim_error(&r, 400, Some("invalidFilter"), None);
}

#[tokio::test]
async fn new_queries_count_against_the_rate_limit() {
    let mut sc = roomy(1);
    sc.rate_limit.requests = 2;
    sc.rate_limit.window_secs = 30;
    let c = Client::start(sc).await;
    let now = c
        .sim
        .now()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let r = c.get(&users_path(&modified_filter("gt", &now), "")).await;
    assert_eq!(r.header("x-ratelimit-remaining"), Some("1"));
    let r = c
        .get("/api/v1/team/invites?status=pending&email=a%40x.com")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = c.get(&users_path(&modified_filter("gt", &now), "")).await;
    assert_scim_error(&r, 429, None, None);
    let r = c
        .get("/api/v1/team/invites?status=pending&email=a%40x.com")
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.header("retry-after").is_some());
}

#[tokio::test]
async fn kafkamans_clock_dates_changes_and_responses() {
    let c = Client::start(roomy(1)).await;
    let r = c
        .http
        .post(format!("{}/__sim/clock", c.sim.url()))
        .json(&json!({"offset_ms": -3_600_000}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = c.create("late@x.com", "00ul").await;
    let local = chrono::Utc::now();
    let lm = parse_time(r.body["meta"]["lastModified"].as_str().unwrap());
    let behind = local.signed_duration_since(lm);
    assert!(
        (59..=61).contains(&behind.num_minutes()),
        "lastModified is on kafkaman's clock, an hour behind: {behind}"
    );
    let date = httpdate::parse_http_date(r.header("date").unwrap()).unwrap();
    let date: chrono::DateTime<chrono::Utc> = date.into();
    assert!((59..=61).contains(&local.signed_duration_since(date).num_minutes()));
    // The earlier member, changed before the clock moved, is now "in the future".
    let r = c
        .get(&users_path(&modified_filter("gt", &lm.to_rfc3339()), ""))
        .await;
    assert_eq!(r.body["Resources"][0]["userName"], "user000@x.com");
    let r = c
        .http
        .post(format!("{}/__sim/clock", c.sim.url()))
        .json(&json!({"offset_ms": i64::MAX}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

// ---- invites by address ---------------------------------------------------------------

#[tokio::test]
async fn invites_narrow_to_one_address_case_insensitively() {
    let mut sc = KafkamanScenario::default();
    for email in [
        "dev+ops@x.com",
        "dev ops@x.com",
        "devops@x.com",
        "a&b@x.com",
        "Jörg@x.com",
    ] {
        sc.invites.push(InviteSpec {
            email: email.into(),
            source: "admin".into(),
            invited_by: None,
            age_days: 1,
        });
    }
    let c = Client::start(sc).await;
    // Three more invites for one address: accepted, revoked, then pending again.
    c.sim.accept_invite("devops@x.com").unwrap();
    c.sim
        .update_member(
            "devops@x.com",
            MemberUpdate {
                active: Some(false),
                ..Default::default()
            },
        )
        .unwrap();
    let again = c.sim.add_invite("DEVOPS@x.com", "link").unwrap();
    let r = c
        .send(
            Method::DELETE,
            &format!("/api/v1/team/invites/{again}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    c.sim.add_invite("DevOps@X.com", "request").unwrap();

    let emails = |r: &Reply| -> Vec<String> {
        r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["email"].as_str().unwrap().to_string())
            .collect()
    };
    let q = |email: &str| -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("status", "pending")
            .append_pair("email", email)
            .finish()
    };
    for (asked, expected) in [
        ("DEV+OPS@x.com", "dev+ops@x.com"),
        ("dev ops@X.COM", "dev ops@x.com"),
        ("A&B@x.com", "a&b@x.com"),
        ("jÖrg@x.com", "Jörg@x.com"),
        ("devops@x.com", "DevOps@X.com"),
    ] {
        let r = c.get(&format!("/api/v1/team/invites?{}", q(asked))).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(emails(&r), [expected], "{asked}");
        assert_eq!(r.body["meta"]["nextCursor"], Value::Null);
    }
    assert!(
        emails(
            &c.get(&format!("/api/v1/team/invites?{}", q("nobody@x.com")))
                .await
        )
        .is_empty()
    );
    // A `+` sent unescaped is a space in a query string.
    let r = c
        .get("/api/v1/team/invites?status=pending&email=dev+ops@x.com")
        .await;
    assert_eq!(emails(&r), ["dev ops@x.com"]);

    // Every invite for the address, one a page, in the order they were sent.
    let mut statuses = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = "/api/v1/team/invites?email=DEVOPS%40x.com&limit=1".to_string();
        if let Some(cur) = &cursor {
            path.push_str(&format!("&cursor={cur}"));
        }
        let r = c.get(&path).await;
        assert_eq!(r.status, StatusCode::OK);
        statuses.extend(
            r.body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["status"].as_str().unwrap().to_string()),
        );
        match r.body["meta"]["nextCursor"].as_str() {
            Some(n) => cursor = Some(n.to_string()),
            None => break,
        }
    }
    assert_eq!(statuses, ["accepted", "revoked", "pending"]);
}
