//! The simulated Okta must answer with the objects Okta documents: every user, app user,
//! group, group assignment, System Log event and error it serves over HTTP is validated
//! against the JSON Schemas extracted from Okta's OpenAPI spec (`tests/schemas/okta/`,
//! see the README there), with `date-time` and `email` formats checked.
//!
//! Each test collects every violation, prints them all, then fails if there is any, so
//! one run lists everything the simulator gets wrong. Lists are read with a small `limit`
//! through the `Link: rel="next"` headers, so every page is covered.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use scim_sync_sim::scenario::{AssignmentSpec, OktaGroupSpec, OktaUserSpec};
use scim_sync_sim::{OktaSim, Scenario};
use serde_json::{Value, json};

const SCHEMA_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schemas/okta");

/// A validator for one of Okta's schemas, with format assertions on.
fn okta_schema(name: &str) -> jsonschema::Validator {
    let path = format!("{SCHEMA_DIR}/{name}.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let schema: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("{path} is not a valid schema: {e}"))
}

/// Every schema violation found so far, as printable lines.
#[derive(Default)]
struct Findings(Vec<String>);

impl Findings {
    /// Validates `instance` (served by `source`) against the `schema` named `name`.
    fn check(
        &mut self,
        schema: &jsonschema::Validator,
        name: &str,
        source: &str,
        instance: &Value,
    ) {
        for err in schema.iter_errors(instance) {
            let at = err.instance_path.to_string();
            let at = if at.is_empty() { "/".to_string() } else { at };
            self.0.push(format!("{source} [{name}] at {at}: {err}"));
        }
    }

    fn note(&mut self, line: String) {
        self.0.push(line);
    }

    /// Prints every finding, then fails if there is any.
    fn assert_none(self, what: &str) {
        for line in &self.0 {
            eprintln!("VIOLATION {line}");
        }
        assert!(
            self.0.is_empty(),
            "{what}: {} violation(s) of Okta's documented format (listed above)",
            self.0.len()
        );
    }
}

/// A small org covering the user statuses, both assignment paths and extra profile fields.
fn scenario() -> Scenario {
    let user = |login: &str, first: Option<&str>, last: Option<&str>, status: &str| OktaUserSpec {
        id: None,
        login: login.to_string(),
        email: None,
        first_name: first.map(str::to_string),
        last_name: last.map(str::to_string),
        status: status.to_string(),
        profile: serde_json::Map::new(),
        app_username: None,
        app_profile: Default::default(),
    };
    let mut ada = user("ada@example.com", Some("Ada"), Some("Lovelace"), "ACTIVE");
    ada.profile
        .insert("department".into(), json!("Engineering"));
    ada.profile.insert("employeeNumber".into(), json!("1815"));
    let mut s = Scenario::default();
    s.okta.users = vec![
        ada,
        user("bob@example.com", Some("Bob"), Some("Kahn"), "ACTIVE"),
        user(
            "carol@example.com",
            Some("Carol"),
            Some("Shaw"),
            "SUSPENDED",
        ),
        user("dan@example.com", Some("Dan"), Some("Bricklin"), "STAGED"),
        user(
            "erin@example.com",
            Some("Erin"),
            Some("Catto"),
            "PROVISIONED",
        ),
        user(
            "frank@example.com",
            Some("Frank"),
            Some("Allen"),
            "DEPROVISIONED",
        ),
        user("gina@example.com", None, None, "ACTIVE"),
    ];
    s.okta.groups = vec![
        OktaGroupSpec {
            id: None,
            name: "Engineering".to_string(),
            description: Some("Builds things".to_string()),
            members: vec![
                "ada@example.com".into(),
                "carol@example.com".into(),
                "erin@example.com".into(),
            ],
        },
        OktaGroupSpec {
            id: None,
            name: "Sales".to_string(),
            description: None,
            members: vec!["gina@example.com".into()],
        },
    ];
    s.okta.assignments = AssignmentSpec {
        users: vec!["bob@example.com".into(), "dan@example.com".into()],
        groups: vec!["Engineering".into()],
    };
    s
}

/// Logins the app-user list must contain: direct assignments plus Engineering's members.
const ASSIGNED: &[&str] = &[
    "ada@example.com",
    "bob@example.com",
    "carol@example.com",
    "dan@example.com",
    "erin@example.com",
];

/// Starts the simulated Okta alone (these tests don't need kafkaman) on a loopback port.
async fn start_okta(scenario: &Scenario) -> OktaSim {
    OktaSim::start(&scenario.okta, ([127, 0, 0, 1], 0).into())
        .await
        .expect("start the Okta simulator")
}

struct Okta {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Okta {
    fn new(sim: &OktaSim) -> Okta {
        Okta {
            http: reqwest::Client::new(),
            url: sim.url(),
            token: sim.api_token(),
        }
    }

    /// GET with the org's SSWS token (or `token` when given); returns status, headers, JSON.
    async fn get(&self, path_or_url: &str, token: Option<&str>) -> (StatusCode, HeaderMap, Value) {
        let url = if path_or_url.starts_with("http") {
            path_or_url.to_string()
        } else {
            format!("{}{path_or_url}", self.url)
        };
        let resp = self
            .http
            .get(&url)
            .header(
                "Authorization",
                format!("SSWS {}", token.unwrap_or(&self.token)),
            )
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp
            .text()
            .await
            .unwrap_or_else(|e| panic!("GET {url} body: {e}"));
        let json = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("GET {url} ({status}) is not JSON ({e}): {body:.300}"));
        (status, headers, json)
    }

    /// Reads a whole list, page by page, through `Link: rel="next"`. Returns each item with
    /// the URL of the page it came from. Link-header problems go into `findings`.
    async fn list(&self, first: &str, findings: &mut Findings) -> Vec<(String, Value)> {
        let mut items = Vec::new();
        let mut next = Some(format!("{}{first}", self.url));
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            assert!(
                pages <= 100,
                "{first}: more than 100 pages, the next links loop"
            );
            let (status, headers, body) = self.get(&url, None).await;
            assert_eq!(status, StatusCode::OK, "GET {url}: {body}");
            let page = body
                .as_array()
                .unwrap_or_else(|| panic!("GET {url}: not a JSON array: {body:.300}"));
            items.extend(page.iter().map(|v| (url.clone(), v.clone())));
            next = next_link(&url, &headers, findings);
            // The System Log in polling mode (no `until`) always links a next page; an
            // empty page is the end.
            if page.is_empty() {
                break;
            }
        }
        items
    }
}

/// The `rel="next"` target of a response, from one or several `Link` header lines.
///
/// Okta sends one header line per relation, `self` first and `next` last. Okta's Python
/// SDK 3.x keeps only the last `Link` line (it turns the headers into a dict), so a `next`
/// that is not last is a finding even though RFC 8288 allows any order.
fn next_link(url: &str, headers: &HeaderMap, findings: &mut Findings) -> Option<String> {
    let lines: Vec<&str> = headers
        .get_all("link")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let mut next = None;
    for (i, line) in lines.iter().enumerate() {
        for link in line.split(',') {
            let mut parts = link.split(';');
            let target = parts.next().unwrap_or("").trim();
            let is_next = parts.any(|p| p.trim() == "rel=\"next\"");
            if !is_next {
                continue;
            }
            let Some(target) = target.strip_prefix('<').and_then(|t| t.strip_suffix('>')) else {
                findings.note(format!("GET {url}: malformed Link value {link:?}"));
                continue;
            };
            if i + 1 != lines.len() {
                findings.note(format!(
                    "GET {url}: rel=\"next\" is not the last Link header line ({lines:?}); \
                     okta-sdk-python 3.x would stop paginating"
                ));
            }
            if !target.contains("after=") {
                findings.note(format!(
                    "GET {url}: next link {target} has no `after` cursor; okta-sdk-python 3.x \
                     re-requests with only the `after` value of the next link"
                ));
            }
            next = Some(target.to_string());
        }
    }
    next
}

fn login_of(user: &Value) -> String {
    user["profile"]["login"]
        .as_str()
        .unwrap_or("")
        .to_lowercase()
}

#[tokio::test]
async fn users_match_the_user_schema() {
    let sim = start_okta(&scenario()).await;
    let okta = Okta::new(&sim);
    let user_schema = okta_schema("User");
    let mut findings = Findings::default();

    let users = okta.list("/api/v1/users?limit=2", &mut findings).await;
    let logins: BTreeSet<String> = users.iter().map(|(_, u)| login_of(u)).collect();
    // The default list omits DEPROVISIONED users (spec `listUsers`).
    let expected: BTreeSet<String> = scenario()
        .okta
        .users
        .iter()
        .filter(|u| u.status != "DEPROVISIONED")
        .map(|u| u.login.clone())
        .collect();
    assert_eq!(logins, expected, "GET /api/v1/users (all pages)");
    for (page, user) in &users {
        findings.check(&user_schema, "User", &format!("GET {page}"), user);
    }

    // Every user by id, DEPROVISIONED included.
    for spec in &scenario().okta.users {
        let id = sim.user_id(&spec.login).expect("user id");
        let path = format!("/api/v1/users/{id}");
        let (status, _, user) = okta.get(&path, None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {user}");
        assert_eq!(user["status"], json!(spec.status), "GET {path}");
        findings.check(&user_schema, "User", &format!("GET {path}"), &user);
    }
    sim.shutdown();
    findings.assert_none("users");
}

#[tokio::test]
async fn app_users_and_their_embedded_users_match_the_schemas() {
    let sim = start_okta(&scenario()).await;
    let okta = Okta::new(&sim);
    let (app_user_schema, user_schema) = (okta_schema("AppUser"), okta_schema("User"));
    let mut findings = Findings::default();

    let app = sim.app_id();
    let app_users = okta
        .list(
            &format!("/api/v1/apps/{app}/users?expand=user&limit=2"),
            &mut findings,
        )
        .await;
    let mut logins = BTreeSet::new();
    for (page, app_user) in &app_users {
        let source = format!("GET {page}");
        findings.check(&app_user_schema, "AppUser", &source, app_user);
        let embedded = &app_user["_embedded"]["user"];
        if embedded.is_object() {
            findings.check(
                &user_schema,
                "User",
                &format!("{source} _embedded.user"),
                embedded,
            );
            logins.insert(login_of(embedded));
        } else {
            findings.note(format!(
                "{source}: app user {} has no _embedded.user",
                app_user["id"]
            ));
        }
    }
    let expected: BTreeSet<String> = ASSIGNED.iter().map(|s| s.to_string()).collect();
    assert_eq!(logins, expected, "GET /api/v1/apps/{app}/users (all pages)");
    sim.shutdown();
    findings.assert_none("app users");
}

#[tokio::test]
async fn groups_and_group_assignments_match_the_schemas() {
    let sim = start_okta(&scenario()).await;
    let okta = Okta::new(&sim);
    let (group_schema, assignment_schema) = (
        okta_schema("Group"),
        okta_schema("ApplicationGroupAssignment"),
    );
    let mut findings = Findings::default();

    let app = sim.app_id();
    let assignments = okta
        .list(&format!("/api/v1/apps/{app}/groups?limit=1"), &mut findings)
        .await;
    let engineering = sim.group_id("Engineering").expect("group id");
    let ids: Vec<&Value> = assignments.iter().map(|(_, a)| &a["id"]).collect();
    assert_eq!(
        ids,
        vec![&json!(engineering)],
        "GET /api/v1/apps/{app}/groups"
    );
    for (page, assignment) in &assignments {
        findings.check(
            &assignment_schema,
            "ApplicationGroupAssignment",
            &format!("GET {page}"),
            assignment,
        );
    }

    let groups = okta.list("/api/v1/groups?limit=1", &mut findings).await;
    let names: BTreeSet<&str> = groups
        .iter()
        .filter_map(|(_, g)| g["profile"]["name"].as_str())
        .collect();
    assert!(
        names.contains("Engineering") && names.contains("Sales"),
        "GET /api/v1/groups: {names:?}"
    );
    for (page, group) in &groups {
        findings.check(&group_schema, "Group", &format!("GET {page}"), group);
    }
    sim.shutdown();
    findings.assert_none("groups");
}

#[tokio::test]
async fn system_log_events_match_the_schema() {
    let sim = start_okta(&scenario()).await;
    let okta = Okta::new(&sim);
    let log_schema = okta_schema("LogEvent");
    let mut findings = Findings::default();

    sim.suspend_user("bob@example.com").expect("suspend bob");
    sim.update_profile(
        "ada@example.com",
        serde_json::Map::from_iter([("lastName".to_string(), json!("King"))]),
    )
    .expect("update ada");
    let events = okta.list("/api/v1/logs?limit=1", &mut findings).await;
    let bob = sim.user_id("bob@example.com").expect("bob id");
    let suspend_logged = events.iter().any(|(_, e)| {
        e["eventType"] == "user.lifecycle.suspend"
            && e["target"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t["id"] == json!(bob)))
    });
    assert!(
        suspend_logged,
        "no user.lifecycle.suspend event targeting {bob} in {} event(s)",
        events.len()
    );
    for (page, event) in &events {
        findings.check(&log_schema, "LogEvent", &format!("GET {page}"), event);
    }
    sim.shutdown();
    findings.assert_none("System Log");
}

/// What Okta (and its SDKs' retry logic) needs on every error, 429s above all.
fn check_error_headers(source: &str, headers: &HeaderMap, findings: &mut Findings) {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match header("content-type") {
        Some(ct) if ct.starts_with("application/json") => {}
        other => findings.note(format!("{source}: Content-Type is {other:?}")),
    }
    if header("x-okta-request-id").is_none_or(str::is_empty) {
        findings.note(format!("{source}: no X-Okta-Request-Id"));
    }
    if header("date")
        .and_then(|d| httpdate::parse_http_date(d).ok())
        .is_none()
    {
        findings.note(format!(
            "{source}: Date missing or not an HTTP date: {:?}",
            header("date")
        ));
    }
}

fn check_rate_limit_headers(source: &str, headers: &HeaderMap, findings: &mut Findings) {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
    };
    for name in [
        "x-rate-limit-limit",
        "x-rate-limit-remaining",
        "x-rate-limit-reset",
    ] {
        if number(name).is_none() {
            findings.note(format!("{source}: {name} missing or not an integer"));
        }
    }
    let date = headers
        .get("date")
        .and_then(|v| v.to_str().ok())
        .and_then(|d| httpdate::parse_http_date(d).ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs());
    if let (Some(reset), Some(date)) = (number("x-rate-limit-reset"), date) {
        // The SDKs sleep `reset - Date + 1` seconds: the reset must be in epoch seconds
        // and not far in the past or beyond one window.
        if reset + 1 < date || reset > date + 61 {
            findings.note(format!(
                "{source}: X-Rate-Limit-Reset {reset} is not within a minute of Date ({date})"
            ));
        }
    }
}

/// Checks an error response: status, Okta error code, Error schema, headers.
async fn check_error(
    okta: &Okta,
    path: &str,
    token: Option<&str>,
    want: (StatusCode, &str),
    findings: &mut Findings,
) -> HeaderMap {
    let (status, headers, body) = okta.get(path, token).await;
    let source = format!("GET {path} ({status})");
    assert_eq!(status, want.0, "{source}: {body}");
    assert_eq!(body["errorCode"], json!(want.1), "{source}: {body}");
    findings.check(&okta_schema("Error"), "Error", &source, &body);
    for key in ["errorSummary", "errorLink", "errorId", "errorCauses"] {
        if body.get(key).is_none() {
            findings.note(format!(
                "{source}: error body has no {key} (Okta always sends it)"
            ));
        }
    }
    check_error_headers(&source, &headers, findings);
    headers
}

#[tokio::test]
async fn errors_match_the_error_schema() {
    let mut s = scenario();
    s.okta.rate_limits.apps = 2;
    let sim = start_okta(&s).await;
    let okta = Okta::new(&sim);
    let mut findings = Findings::default();

    let bad_token = "00this-token-does-not-exist-in-the-org-000000";
    check_error(
        &okta,
        "/api/v1/users",
        Some(bad_token),
        (StatusCode::UNAUTHORIZED, "E0000011"),
        &mut findings,
    )
    .await;
    check_error(
        &okta,
        "/api/v1/users/00unosuchuser0000000",
        None,
        (StatusCode::NOT_FOUND, "E0000007"),
        &mut findings,
    )
    .await;

    // A real rate-limit 429: the apps bucket allows 2 requests a window.
    let app_users = format!("/api/v1/apps/{}/users", sim.app_id());
    for _ in 0..2 {
        let (status, headers, body) = okta.get(&app_users, None).await;
        assert_eq!(status, StatusCode::OK, "GET {app_users}: {body}");
        check_rate_limit_headers(&format!("GET {app_users} (200)"), &headers, &mut findings);
    }
    let headers = check_error(
        &okta,
        &app_users,
        None,
        (StatusCode::TOO_MANY_REQUESTS, "E0000047"),
        &mut findings,
    )
    .await;
    check_rate_limit_headers(&format!("GET {app_users} (429)"), &headers, &mut findings);
    let remaining = headers
        .get("x-rate-limit-remaining")
        .and_then(|v| v.to_str().ok());
    assert_eq!(remaining, Some("0"), "429 must report an empty bucket");

    // An injected 429, armed through the control API as chaos tests and the SDK checks
    // do, must look the same.
    let arm = okta
        .http
        .post(format!("{}/__sim/faults", okta.url))
        .json(&json!({"route": "/api/v1/users", "kind": "status", "status": 429, "count": 1}))
        .send()
        .await
        .expect("POST /__sim/faults");
    let arm_status = arm.status();
    let arm_body = arm.text().await.unwrap_or_default();
    assert!(
        arm_status.is_success(),
        "POST /__sim/faults refused a documented fault spec: {arm_status} {arm_body}"
    );
    let headers = check_error(
        &okta,
        "/api/v1/users",
        None,
        (StatusCode::TOO_MANY_REQUESTS, "E0000047"),
        &mut findings,
    )
    .await;
    check_rate_limit_headers("GET /api/v1/users (injected 429)", &headers, &mut findings);
    sim.shutdown();
    findings.assert_none("errors");
}

/// Not a test: runs the simulator for the SDK checks in `tests/sdk/` and prints how to
/// reach it. `cargo test --test okta_schemas serve_for_sdk_checks -- --ignored --nocapture`
/// (stops after `SIM_SECONDS`, default 300).
#[tokio::test]
#[ignore = "manual: serves the simulator for tests/sdk/*"]
async fn serve_for_sdk_checks() {
    let mut s = scenario();
    // A short rate-limit window: the SDKs sleep until X-Rate-Limit-Reset after a 429.
    s.okta.rate_limits.window_secs = 2;
    // Enough users for several pages at limit=2, with both assignment paths.
    for i in 0..7 {
        let login = format!("extra{i}@example.com");
        s.okta.users.push(OktaUserSpec {
            id: None,
            login: login.clone(),
            email: None,
            first_name: Some(format!("Extra{i}")),
            last_name: Some("User".to_string()),
            status: "ACTIVE".to_string(),
            profile: serde_json::Map::new(),
            app_username: None,
            app_profile: Default::default(),
        });
        if i % 2 == 0 {
            s.okta.assignments.users.push(login);
        } else {
            s.okta.groups[0].members.push(login);
        }
    }
    let sim = start_okta(&s).await;
    println!(
        "{}",
        json!({
            "okta_url": sim.url(),
            "okta_token": sim.api_token(),
            "app_id": sim.app_id(),
        })
    );
    let seconds = std::env::var("SIM_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    tokio::time::sleep(std::time::Duration::from_secs(seconds)).await;
    sim.shutdown();
}
