//! The simulated Okta org, exercised over real HTTP the way Okta's clients see it.

use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

use reqwest::{Client, Response, StatusCode};
use scim_sync_sim::OktaSim;
use scim_sync_sim::common::{FaultKind, FaultSpec};
use scim_sync_sim::scenario::{
    AssignmentSpec, OktaGroupSpec, OktaRateLimits, OktaScenario, OktaUserSpec, ServiceAppSpec,
};
use serde_json::{Value, json};

const TEST_KEY: &str = include_str!("fixtures/oauth-test-key.pem");
const TEST_PUB: &str = include_str!("fixtures/oauth-test-key.pub.pem");

fn user(login: &str) -> OktaUserSpec {
    let local = login.split('@').next().unwrap_or(login);
    OktaUserSpec {
        id: None,
        login: login.to_string(),
        email: None,
        first_name: Some(format!("First{local}")),
        last_name: Some(format!("Last{local}")),
        status: "ACTIVE".to_string(),
        profile: Default::default(),
        app_username: None,
        app_profile: Default::default(),
    }
}

fn with_status(login: &str, status: &str) -> OktaUserSpec {
    OktaUserSpec {
        status: status.to_string(),
        ..user(login)
    }
}

fn logins(n: usize, prefix: &str) -> Vec<String> {
    (0..n)
        .map(|i| format!("{prefix}{i:05}@example.com"))
        .collect()
}

/// `n` active users, all assigned to the app directly.
fn assigned_org(n: usize) -> OktaScenario {
    let ls = logins(n, "u");
    OktaScenario {
        users: ls.iter().map(|l| user(l)).collect(),
        assignments: AssignmentSpec {
            users: ls,
            groups: vec![],
        },
        ..Default::default()
    }
}

async fn start(sc: &OktaScenario) -> OktaSim {
    OktaSim::start(sc, ([127, 0, 0, 1], 0).into())
        .await
        .expect("okta sim starts")
}

struct Api {
    sim: OktaSim,
    http: Client,
}

impl Api {
    async fn new(sc: &OktaScenario) -> Api {
        Api {
            sim: start(sc).await,
            http: Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.sim.url())
        }
    }

    async fn get(&self, path: &str) -> Response {
        self.http
            .get(self.url(path))
            .header("Authorization", format!("SSWS {}", self.sim.api_token()))
            .send()
            .await
            .expect("request")
    }

    async fn json(&self, path: &str) -> (Value, Vec<(String, String)>) {
        let r = self.get(path).await;
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        let l = links(&r);
        (r.json().await.expect("json body"), l)
    }

    fn app_users_path(&self) -> String {
        format!("/api/v1/apps/{}/users", self.sim.app_id())
    }

    /// Follows `next` links to the end; returns every page's items.
    async fn walk_values(&self, first: &str) -> Vec<Vec<Value>> {
        let mut pages = Vec::new();
        let mut url = first.to_string();
        loop {
            let (body, l) = self.json(&url).await;
            pages.push(body.as_array().expect("array").clone());
            match rel(&l, "next") {
                Some(n) => url = n,
                None => return pages,
            }
        }
    }

    /// Follows `next` links to the end; returns the ids of every page.
    async fn walk(&self, first: &str) -> Vec<Vec<String>> {
        let mut pages = Vec::new();
        let mut url = first.to_string();
        loop {
            let (body, l) = self.json(&url).await;
            pages.push(ids(&body));
            match rel(&l, "next") {
                Some(n) => url = n,
                None => return pages,
            }
        }
    }
}

/// Every Link header line as (url, rel).
fn links(r: &Response) -> Vec<(String, String)> {
    r.headers()
        .get_all("link")
        .iter()
        .map(|v| {
            let s = v.to_str().expect("ascii link");
            let (url, rest) = s.split_once(';').expect("link has params");
            let url = url.trim().trim_start_matches('<').trim_end_matches('>');
            let rel = rest
                .trim()
                .trim_start_matches("rel=\"")
                .trim_end_matches('"');
            (url.to_string(), rel.to_string())
        })
        .collect()
}

fn rel(l: &[(String, String)], which: &str) -> Option<String> {
    l.iter().find(|(_, r)| r == which).map(|(u, _)| u.clone())
}

fn ids(body: &Value) -> Vec<String> {
    body.as_array()
        .expect("array")
        .iter()
        .map(|x| x["id"].as_str().expect("id").to_string())
        .collect()
}

async fn error_code(r: Response) -> (StatusCode, String, Value) {
    let status = r.status();
    let body: Value = r.json().await.expect("error body is JSON");
    for k in ["errorCode", "errorSummary", "errorLink", "errorId"] {
        assert!(body[k].is_string(), "{k} missing in {body}");
    }
    assert!(body["errorCauses"].is_array(), "{body}");
    (
        status,
        body["errorCode"].as_str().unwrap_or("").to_string(),
        body,
    )
}

fn is_okta_ts(v: &Value) -> bool {
    let s = v.as_str().unwrap_or("");
    s.len() == 24
        && s.ends_with('Z')
        && s.as_bytes()[19] == b'.'
        && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

#[tokio::test]
async fn app_users_pages_with_link_headers_and_limits() {
    let api = Api::new(&assigned_org(520)).await;
    let path = api.app_users_path();

    let r = api.get(&path).await;
    assert_eq!(r.status(), StatusCode::OK);
    let l = links(&r);
    assert_eq!(
        r.headers().get_all("link").iter().count(),
        2,
        "one header line per relation"
    );
    assert_eq!(rel(&l, "self"), Some(format!("{}{path}", api.sim.url())));
    let next = rel(&l, "next").expect("next when more");
    assert!(
        next.starts_with(&api.sim.url()) && next.contains("after="),
        "{next}"
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body.as_array().unwrap().len(), 50, "default limit 50");

    // The cursor is opaque and not an index.
    let after = next.split("after=").nth(1).unwrap();
    assert_ne!(after, "50");
    assert!(after.parse::<u64>().is_err());

    let (body, l) = api.json(&format!("{path}?limit=1000")).await;
    assert_eq!(body.as_array().unwrap().len(), 500, "max 500");
    let next = rel(&l, "next").expect("20 more");
    assert!(next.contains("limit=1000"), "next keeps the params: {next}");
    let (body, l) = api.json(&next).await;
    assert_eq!(body.as_array().unwrap().len(), 20);
    assert!(rel(&l, "next").is_none(), "no next on the last page");
    assert!(rel(&l, "self").is_some());

    let pages = api.walk(&format!("{path}?limit=200")).await;
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![200, 200, 120]
    );
    let all: Vec<String> = pages.concat();
    let mut sorted = all.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, all, "ordered by id, no repeats");
}

#[tokio::test]
async fn cursor_survives_adds_and_removes_between_pages() {
    let api = Api::new(&assigned_org(40)).await;
    let path = format!("{}?limit=10", api.app_users_path());
    let before: BTreeSet<String> = api.walk(&path).await.concat().into_iter().collect();

    let (body, l) = api.json(&path).await;
    let page1 = ids(&body);
    // Between pages: a seen user and an unseen user leave, new users arrive.
    api.sim.unassign_user(&page1[0]).unwrap();
    let unseen = before.iter().last().unwrap().clone();
    api.sim.unassign_user(&unseen).unwrap();
    for i in 0..5 {
        let login = format!("late{i}@example.com");
        api.sim.create_user(user(&login)).unwrap();
        api.sim.assign_user(&login).unwrap();
    }
    let mut seen: Vec<String> = page1.clone();
    let mut next = rel(&l, "next");
    while let Some(url) = next {
        let (body, l) = api.json(&url).await;
        seen.extend(ids(&body));
        next = rel(&l, "next");
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no user repeated");
    for id in &before {
        if *id != unseen {
            assert!(
                unique.contains(id),
                "user {id} assigned throughout was skipped"
            );
        }
    }
    assert!(
        !unique.contains(&unseen),
        "removed before its page was read"
    );
}

#[tokio::test]
async fn users_list_hides_deprovisioned_and_filters() {
    let mut sc = assigned_org(0);
    sc.users = logins(230, "a").iter().map(|l| user(l)).collect();
    sc.users
        .push(with_status("gone@example.com", "DEPROVISIONED"));
    sc.users
        .push(with_status("paused@example.com", "SUSPENDED"));
    let api = Api::new(&sc).await;
    let gone = api.sim.user_id("gone@example.com").unwrap();

    let pages = api.walk("/api/v1/users").await;
    assert_eq!(pages[0].len(), 200, "default limit 200");
    let all: Vec<String> = pages.concat();
    assert_eq!(all.len(), 231);
    assert!(!all.contains(&gone), "DEPROVISIONED omitted by default");
    let (body, _) = api.json("/api/v1/users?limit=1000").await;
    assert_eq!(body.as_array().unwrap().len(), 200, "max 200");

    let all: Vec<String> = api.walk("/api/v1/users?search=status%20pr").await.concat();
    assert_eq!(all.len(), 232);
    assert!(all.contains(&gone));

    let (body, _) = api
        .json("/api/v1/users?filter=status%20eq%20%22DEPROVISIONED%22")
        .await;
    assert_eq!(ids(&body), vec![gone.clone()]);
    let (body, _) = api
        .json("/api/v1/users?filter=profile.login%20eq%20%22PAUSED%40example.com%22%20or%20id%20eq%20%22nope%22")
        .await;
    assert_eq!(body[0]["status"], "SUSPENDED");
    let (body, _) = api
        .json("/api/v1/users?search=profile.lastName%20sw%20%22lasta0000%22")
        .await;
    assert_eq!(body.as_array().unwrap().len(), 10);

    // lastUpdated moves with a profile change and can be filtered on.
    let t0 = chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let mut change = serde_json::Map::new();
    change.insert("lastName".into(), json!("Renamed"));
    api.sim
        .update_profile("a00007@example.com", change)
        .unwrap();
    let (body, _) = api
        .json(&format!(
            "/api/v1/users?filter=lastUpdated%20gt%20%22{t0}%22"
        ))
        .await;
    assert_eq!(body.as_array().unwrap().len(), 1);
    assert_eq!(body[0]["profile"]["lastName"], "Renamed");
    assert!(is_okta_ts(&body[0]["lastUpdated"]));

    let r = api
        .get("/api/v1/users?filter=status%20eq%20%22ACTIVE%22&search=status%20pr")
        .await;
    let (st, code, _) = error_code(r).await;
    assert_eq!((st, code.as_str()), (StatusCode::BAD_REQUEST, "E0000033"));
    for bad in [
        "filter=profile.department%20eq%20%22x%22",
        "filter=status%20sw%20%22A%22",
        "filter=status%20eq",
        "search=status%20ne%20%22ACTIVE%22",
    ] {
        let (st, code, _) = error_code(api.get(&format!("/api/v1/users?{bad}")).await).await;
        assert_eq!(
            (st, code.as_str()),
            (StatusCode::BAD_REQUEST, "E0000031"),
            "{bad}"
        );
    }
    let (st, code, _) = error_code(
        api.get("/api/v1/users?filter=lastUpdated%20gt%20%22yesterday%22")
            .await,
    )
    .await;
    assert_eq!((st, code.as_str()), (StatusCode::BAD_REQUEST, "E0000030"));
}

#[tokio::test]
async fn single_resources_and_error_bodies() {
    let api = Api::new(&assigned_org(3)).await;
    let id = api.sim.user_id("u00001@example.com").unwrap();
    let (by_id, _) = api.json(&format!("/api/v1/users/{id}")).await;
    let (by_login, _) = api.json("/api/v1/users/U00001@example.com").await;
    assert_eq!(by_id["id"], by_login["id"]);
    assert_eq!(by_id["profile"]["login"], "u00001@example.com");
    assert!(
        by_id["_links"]["deactivate"]["href"].is_string(),
        "single user has lifecycle links"
    );
    for k in ["created", "lastUpdated", "activated", "statusChanged"] {
        assert!(is_okta_ts(&by_id[k]), "{k}: {}", by_id[k]);
    }

    let (app, _) = api
        .json(&format!("/api/v1/apps/{}", api.sim.app_id()))
        .await;
    assert_eq!(app["label"], "kafkaman");
    assert_eq!(app["id"].as_str(), Some(api.sim.app_id().as_str()));
    assert!(app["signOnMode"].is_string());

    let (st, code, body) = error_code(api.get("/api/v1/users/00unobody").await).await;
    assert_eq!((st, code.as_str()), (StatusCode::NOT_FOUND, "E0000007"));
    assert_eq!(body["errorLink"], "E0000007");
    let (st, code, _) = error_code(api.get("/api/v1/apps/0oaother/users").await).await;
    assert_eq!((st, code.as_str()), (StatusCode::NOT_FOUND, "E0000007"));
    let (st, code, _) = error_code(api.get("/api/v1/nothing/here").await).await;
    assert_eq!((st, code.as_str()), (StatusCode::NOT_FOUND, "E0000008"));
    let r = api
        .http
        .delete(api.url("/api/v1/logs"))
        .header("Authorization", format!("SSWS {}", api.sim.api_token()))
        .send()
        .await
        .unwrap();
    let (st, code, _) = error_code(r).await;
    assert_eq!(
        (st, code.as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, "E0000022")
    );
}

fn group_org() -> OktaScenario {
    OktaScenario {
        users: ["both@x.com", "grp@x.com", "direct@x.com", "outside@x.com"]
            .iter()
            .map(|l| user(l))
            .collect(),
        groups: vec![OktaGroupSpec {
            id: Some("00gengineering000001".into()),
            name: "Engineering".into(),
            description: Some("Eng".into()),
            members: vec!["both@x.com".into(), "grp@x.com".into()],
        }],
        assignments: AssignmentSpec {
            users: vec!["both@x.com".into(), "direct@x.com".into()],
            groups: vec!["Engineering".into()],
        },
        ..Default::default()
    }
}

#[tokio::test]
async fn group_and_direct_scopes_and_expand_user() {
    let api = Api::new(&group_org()).await;
    let (body, _) = api
        .json(&format!("{}?expand=user", api.app_users_path()))
        .await;
    let rows = body.as_array().unwrap();
    assert_eq!(rows.len(), 3, "outside@ isn't assigned");
    let row = |login: &str| {
        rows.iter()
            .find(|r| r["credentials"]["userName"] == login)
            .unwrap_or_else(|| panic!("{login} row"))
            .clone()
    };
    let both = row("both@x.com");
    assert_eq!(both["scope"], "USER", "a direct assignment wins");
    assert!(both["_links"].get("group").is_none());
    let grp = row("grp@x.com");
    assert_eq!(grp["scope"], "GROUP");
    assert!(
        grp["_links"]["group"]["href"]
            .as_str()
            .unwrap()
            .ends_with("/api/v1/groups/00gengineering000001")
    );
    assert_eq!(grp["status"], "ACTIVE");
    assert!(grp.get("externalId").is_none());
    assert_eq!(grp["_embedded"]["user"]["profile"]["login"], "grp@x.com");
    assert_eq!(grp["_embedded"]["user"]["status"], "ACTIVE");
    assert_eq!(grp["id"], grp["_embedded"]["user"]["id"]);
    assert!(grp["_links"]["app"]["href"].is_string() && grp["_links"]["user"]["href"].is_string());
    for k in ["created", "lastUpdated", "statusChanged"] {
        assert!(is_okta_ts(&grp[k]), "{k}");
    }

    let (plain, _) = api.json(&api.app_users_path()).await;
    assert!(
        plain[0].get("_embedded").is_none(),
        "no embedding without expand"
    );

    api.sim.set_external_id("grp@x.com", Some("km-42")).unwrap();
    let gid = api.sim.user_id("grp@x.com").unwrap();
    let (one, _) = api.json(&format!("{}/{gid}", api.app_users_path())).await;
    assert_eq!(
        (one["status"].as_str(), one["externalId"].as_str()),
        (Some("PROVISIONED"), Some("km-42"))
    );

    // q matches the start of userName, names and email.
    let (q, _) = api.json(&format!("{}?q=dir", api.app_users_path())).await;
    assert_eq!(q.as_array().unwrap().len(), 1);

    // Removing the group keeps the direct user, drops the group-only one.
    api.sim.unassign_group("Engineering").unwrap();
    let (body, _) = api.json(&api.app_users_path()).await;
    let names: BTreeSet<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["credentials"]["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names, BTreeSet::from(["both@x.com", "direct@x.com"]));
}

#[tokio::test]
async fn deactivation_removes_assignments_suspension_keeps_them() {
    let api = Api::new(&group_org()).await;
    let apps = api.app_users_path();
    let direct = api.sim.user_id("direct@x.com").unwrap();
    let grp = api.sim.user_id("grp@x.com").unwrap();

    api.sim.suspend_user("direct@x.com").unwrap();
    let (row, _) = api.json(&format!("{apps}/{direct}?expand=user")).await;
    assert_eq!(row["_embedded"]["user"]["status"], "SUSPENDED");

    api.sim.deactivate_user("direct@x.com").unwrap();
    let (st, code, _) = error_code(api.get(&format!("{apps}/{direct}")).await).await;
    assert_eq!((st, code.as_str()), (StatusCode::NOT_FOUND, "E0000007"));

    api.sim.deactivate_user("grp@x.com").unwrap();
    let (body, _) = api.json(&apps).await;
    assert_eq!(body.as_array().unwrap().len(), 1, "only both@ is left");
    let (members, _) = api.json("/api/v1/groups/00gengineering000001/users").await;
    let m = members
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == grp.as_str())
        .expect("membership kept");
    assert_eq!(m["status"], "DEPROVISIONED");

    // Activation brings back group-derived access, not the removed direct assignment.
    api.sim.activate_user("direct@x.com").unwrap();
    api.sim.activate_user("grp@x.com").unwrap();
    let (body, _) = api.json(&apps).await;
    let ids = ids(&body);
    assert!(ids.contains(&grp) && !ids.contains(&direct));
    assert!(
        api.sim.reactivate_user("grp@x.com").is_err(),
        "reactivate is for PROVISIONED users"
    );
}

#[tokio::test]
async fn app_groups_and_groups() {
    let mut sc = group_org();
    for i in 0..25 {
        sc.groups.push(OktaGroupSpec {
            id: None,
            name: format!("team-{i:02}"),
            description: None,
            members: vec!["outside@x.com".into()],
        });
        sc.assignments.groups.push(format!("team-{i:02}"));
    }
    let api = Api::new(&sc).await;
    let path = format!("/api/v1/apps/{}/groups", api.sim.app_id());
    let (body, l) = api.json(&format!("{path}?limit=5")).await;
    assert_eq!(body.as_array().unwrap().len(), 20, "minimum limit 20");
    assert!(rel(&l, "next").is_some());
    let (body, l) = api.json(&format!("{path}?expand=group")).await;
    assert_eq!(body.as_array().unwrap().len(), 20, "default 20");
    let first = &body[0];
    assert!(first["priority"].is_number() && is_okta_ts(&first["lastUpdated"]));
    assert!(
        first["_links"]["group"]["href"].is_string() && first["_links"]["app"]["href"].is_string()
    );
    assert!(first["_embedded"]["group"]["profile"]["name"].is_string());
    let (rest, l2) = api.json(&rel(&l, "next").unwrap()).await;
    assert_eq!(rest.as_array().unwrap().len(), 6);
    assert!(rel(&l2, "next").is_none());

    let (groups, _) = api.json("/api/v1/groups?q=Eng&expand=stats").await;
    assert_eq!(groups.as_array().unwrap().len(), 1);
    assert_eq!(groups[0]["type"], "OKTA_GROUP");
    assert_eq!(groups[0]["_embedded"]["stats"]["usersCount"], 2);
    // The group-assigned outsider is now an app user through 25 groups, listed once.
    let (app_users, _) = api.json(&api.app_users_path()).await;
    assert_eq!(app_users.as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn system_log_records_admin_changes_and_polls() {
    let api = Api::new(&group_org()).await;
    let since = chrono::Utc::now() - chrono::Duration::seconds(1);
    let first = format!(
        "/api/v1/logs?since={}",
        since.format("%Y-%m-%dT%H:%M:%S%.3fZ")
    );
    let (body, l) = api.json(&first).await;
    assert_eq!(body.as_array().unwrap().len(), 0, "a quiet org");
    let next = rel(&l, "next").expect("polling always has next");
    assert!(!next.contains("since="), "the cursor replaces since");

    api.sim.create_user(user("new@x.com")).unwrap();
    api.sim.assign_user("new@x.com").unwrap();
    api.sim
        .add_group_member("Engineering", "outside@x.com")
        .unwrap();
    let mut change = serde_json::Map::new();
    change.insert("firstName".into(), json!("Newer"));
    api.sim.update_profile("new@x.com", change).unwrap();
    api.sim.suspend_user("new@x.com").unwrap();
    api.sim.unsuspend_user("new@x.com").unwrap();
    api.sim.deactivate_user("new@x.com").unwrap();
    api.sim
        .remove_group_member("Engineering", "outside@x.com")
        .unwrap();

    let (body, l) = api.json(&next).await;
    let types: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "user.lifecycle.create",
            "user.lifecycle.activate",
            "application.user_membership.add",
            "group.user_membership.add",
            "application.user_membership.add",
            "user.account.update_profile",
            "user.lifecycle.suspend",
            "user.lifecycle.unsuspend",
            "user.lifecycle.deactivate",
            "application.user_membership.remove",
            "group.user_membership.remove",
            "application.user_membership.remove",
        ]
    );
    let add = &body[2];
    for k in ["uuid", "displayMessage", "severity"] {
        assert!(add[k].is_string(), "{k}");
    }
    assert!(is_okta_ts(&add["published"]));
    assert_eq!(add["outcome"]["result"], "SUCCESS");
    assert!(add["actor"]["id"].is_string());
    let targets = add["target"].as_array().unwrap();
    assert!(
        targets
            .iter()
            .any(|t| t["type"] == "AppInstance" && t["id"] == api.sim.app_id().as_str())
    );
    assert!(
        targets
            .iter()
            .any(|t| t["type"] == "User" && t["alternateId"] == "new@x.com")
    );

    let next = rel(&l, "next").expect("next after a full read");
    let (empty, l) = api.json(&next).await;
    assert_eq!(empty.as_array().unwrap().len(), 0);
    assert!(rel(&l, "next").is_some(), "empty pages still have next");

    let filter = "eventType%20eq%20%22application.user_membership.remove%22%20or%20eventType%20eq%20%22user.lifecycle.suspend%22";
    let (body, l) = api.json(&format!("{first}&filter={filter}&limit=2")).await;
    let types: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "user.lifecycle.suspend",
            "application.user_membership.remove"
        ]
    );
    let next = rel(&l, "next").unwrap();
    assert!(next.contains("filter=") && next.contains("limit=2"));
    let (body, _) = api.json(&next).await;
    assert_eq!(body.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn rate_limit_headers_and_429() {
    let mut sc = assigned_org(2);
    sc.rate_limits = OktaRateLimits {
        apps: 3,
        ..Default::default()
    };
    let api = Api::new(&sc).await;
    let path = api.app_users_path();
    let mut request_ids = HashSet::new();
    for i in 0..3 {
        let r = api.get(&path).await;
        assert_eq!(r.status(), StatusCode::OK);
        let h = r.headers();
        assert_eq!(h["x-rate-limit-limit"], "3");
        assert_eq!(h["x-rate-limit-remaining"], (2 - i).to_string().as_str());
        let reset: u64 = h["x-rate-limit-reset"].to_str().unwrap().parse().unwrap();
        let now = chrono::Utc::now().timestamp() as u64;
        assert!(reset > now && reset <= now + 61, "reset is epoch seconds");
        assert!(httpdate::parse_http_date(h["date"].to_str().unwrap()).is_ok());
        assert!(request_ids.insert(h["x-okta-request-id"].to_str().unwrap().to_string()));
    }
    let r = api.get(&path).await;
    assert_eq!(r.headers()["x-rate-limit-remaining"], "0");
    assert!(r.headers().contains_key("x-okta-request-id"));
    let (st, code, body) = error_code(r).await;
    assert_eq!(
        (st, code.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "E0000047")
    );
    assert_eq!(
        body["errorSummary"],
        "API call exceeded rate limit due to too many requests."
    );
    // Other buckets are separate.
    let r = api.get("/api/v1/users").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-rate-limit-limit"], "600");
    // Errors carry the headers too.
    let r = api.http.get(api.url("/api/v1/users")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().contains_key("x-rate-limit-remaining") && r.headers().contains_key("date"));
    let logged = api.sim.requests();
    assert!(
        logged.iter().any(|q| q.status == 429),
        "429s are in the request log"
    );
}

#[tokio::test]
async fn concurrency_limit_gives_429_with_zero_limit() {
    let mut sc = assigned_org(2);
    sc.rate_limits = OktaRateLimits {
        concurrency: 2,
        ..Default::default()
    };
    sc.latency_ms = 300;
    let api = Api::new(&sc).await;
    let reqs = (0..6).map(|_| api.get("/api/v1/users"));
    let resps = futures_util::future::join_all(reqs).await;
    let ok = resps
        .iter()
        .filter(|r| r.status() == StatusCode::OK)
        .count();
    let limited: Vec<&Response> = resps
        .iter()
        .filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert!((1..=2).contains(&ok), "{ok} succeeded");
    assert_eq!(ok + limited.len(), 6);
    for r in limited {
        assert_eq!(r.headers()["x-rate-limit-limit"], "0");
        assert_eq!(r.headers()["x-rate-limit-remaining"], "0");
    }
}

#[tokio::test]
async fn ssws_auth_is_required() {
    let api = Api::new(&assigned_org(1)).await;
    for auth in [
        None,
        Some("SSWS wrong"),
        Some("Bearer not-issued"),
        Some("Basic abc"),
    ] {
        let mut req = api.http.get(api.url("/api/v1/users"));
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let (st, code, _) = error_code(req.send().await.unwrap()).await;
        assert_eq!(
            (st, code.as_str()),
            (StatusCode::UNAUTHORIZED, "E0000011"),
            "{auth:?}"
        );
    }
}

fn assertion(aud: &str, client_id: &str, exp_in: i64, jti: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = json!({
        "aud": aud, "iss": client_id, "sub": client_id,
        "iat": now, "exp": now + exp_in, "jti": jti,
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("test-kid".into());
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(TEST_KEY.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

#[tokio::test]
async fn oauth_service_app_tokens_and_scopes() {
    let mut sc = assigned_org(2);
    sc.service_apps = vec![ServiceAppSpec {
        client_id: "0oaservice000000001".into(),
        public_key_pem: TEST_PUB.into(),
        kid: Some("test-kid".into()),
        scopes: vec!["okta.users.read".into(), "okta.apps.read".into()],
        // An app made through Okta's API: DPoP off (`dpop_bound_access_tokens: false`).
        require_dpop: false,
    }];
    let api = Api::new(&sc).await;
    let aud = api.sim.token_url();
    let token = |assertion: String, scope: &str| {
        let form = [
            ("grant_type", "client_credentials".to_string()),
            ("scope", scope.to_string()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string(),
            ),
            ("client_assertion", assertion),
        ];
        api.http
            .post(api.url("/oauth2/v1/token"))
            .form(&form)
            .send()
    };
    let oauth_err = |r: Response| async move {
        let st = r.status();
        let b: Value = r.json().await.unwrap();
        (st, b["error"].as_str().unwrap_or("").to_string())
    };
    let cid = "0oaservice000000001";

    let good = assertion(&aud, cid, 300, "jti-1");
    let r = token(good.clone(), "okta.users.read okta.apps.read")
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 3600);
    assert_eq!(t["scope"], "okta.users.read okta.apps.read");
    let access = t["access_token"].as_str().unwrap().to_string();

    let bearer = |path: String| api.http.get(api.url(&path)).bearer_auth(&access).send();
    assert_eq!(
        bearer(api.app_users_path()).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        bearer("/api/v1/users".into()).await.unwrap().status(),
        StatusCode::OK
    );
    let r = bearer("/api/v1/logs".into()).await.unwrap();
    assert!(r.headers().contains_key("www-authenticate"));
    let (st, code, _) = error_code(r).await;
    assert_eq!((st, code.as_str()), (StatusCode::FORBIDDEN, "E0000006"));

    assert_eq!(
        oauth_err(token(good, "okta.users.read").await.unwrap()).await,
        (StatusCode::BAD_REQUEST, "invalid_client".into()),
        "replayed jti"
    );
    // None of the requested scopes granted: Okta's consent_required. Some of them: a
    // token with those only.
    assert_eq!(
        oauth_err(
            token(assertion(&aud, cid, 300, "jti-2"), "okta.logs.read")
                .await
                .unwrap()
        )
        .await,
        (StatusCode::BAD_REQUEST, "consent_required".into())
    );
    let r = token(
        assertion(&aud, cid, 300, "jti-2b"),
        "okta.users.read okta.logs.read",
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["scope"], "okta.users.read");
    for (why, a) in [
        (
            "wrong aud",
            assertion("https://other.okta.com/oauth2/v1/token", cid, 300, "jti-3"),
        ),
        ("expired", assertion(&aud, cid, -300, "jti-4")),
        ("exp too far", assertion(&aud, cid, 7200, "jti-5")),
    ] {
        assert_eq!(
            oauth_err(token(a, "okta.users.read").await.unwrap()).await,
            (StatusCode::BAD_REQUEST, "invalid_client".into()),
            "{why}"
        );
    }
    // Okta's Python SDK sends the parameters in the query string with an empty body.
    let a = assertion(&aud, cid, 3600, "jti-7");
    let r = api
        .http
        .post(api.url("/oauth2/v1/token"))
        .query(&[
            ("grant_type", "client_credentials"),
            ("scope", "okta.apps.read"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", a.as_str()),
        ])
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "parameters in the query string");

    let (st, err) = oauth_err(
        token(
            assertion(&aud, "0oaunknown", 300, "jti-6"),
            "okta.users.read",
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        (st, err.as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );
}

#[tokio::test]
async fn injected_faults_look_like_okta() {
    let api = Api::new(&assigned_org(4)).await;
    let arm = |kind: Value| {
        let mut spec = json!({"route": "/api/v1/apps/*/users"});
        spec.as_object_mut()
            .unwrap()
            .extend(kind.as_object().unwrap().clone());
        api.http.post(api.url("/__sim/faults")).json(&spec).send()
    };
    let path = api.app_users_path();
    for (status, code) in [(500, "E0000009"), (503, "E0000010"), (429, "E0000047")] {
        assert!(
            arm(json!({"kind": "status", "status": status}))
                .await
                .unwrap()
                .status()
                .is_success()
        );
        let r = api.get(&path).await;
        assert!(r.headers().contains_key("x-okta-request-id"));
        if status == 429 {
            assert_eq!(r.headers()["x-rate-limit-remaining"], "0");
        }
        let (st, c, _) = error_code(r).await;
        assert_eq!((st.as_u16(), c.as_str()), (status, code));
    }
    arm(json!({"kind": "malformed"})).await.unwrap();
    let body = api.get(&path).await.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&body).is_err());
    arm(json!({"kind": "truncate"})).await.unwrap();
    let body = api.get(&path).await.text().await.unwrap();
    assert!(!body.is_empty() && serde_json::from_str::<Value>(&body).is_err());
    arm(json!({"kind": "drop"})).await.unwrap();
    let dropped = api
        .http
        .get(api.url(&path))
        .header("Authorization", format!("SSWS {}", api.sim.api_token()))
        .send()
        .await;
    let body_ok = match dropped {
        Ok(r) => r.bytes().await.is_ok(),
        Err(_) => false,
    };
    assert!(!body_ok, "connection dropped mid-response");
    assert_eq!(
        api.get(&path).await.status(),
        StatusCode::OK,
        "faults are spent"
    );

    // Faults from the scenario are armed at start.
    let mut sc = assigned_org(1);
    sc.faults = vec![FaultSpec {
        route: "/api/v1/users".into(),
        method: None,
        kind: FaultKind::Status { status: 500 },
        count: 1,
        after: 0,
    }];
    let api2 = Api::new(&sc).await;
    assert_eq!(
        api2.get("/api/v1/users").await.status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(api2.get("/api/v1/users").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn control_api_over_http() {
    let api = Api::new(&group_org()).await;
    let ctl = |method: reqwest::Method, path: &str| api.http.request(method, api.url(path));
    let r = ctl(reqwest::Method::POST, "/__sim/users")
        .json(&json!({"login": "hired@x.com", "first_name": "Hi", "last_name": "Red"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(id.starts_with("00u") && id.len() == 20);
    for (m, p) in [
        (reqwest::Method::POST, "/__sim/app/users/hired@x.com"),
        (
            reqwest::Method::POST,
            "/__sim/users/hired@x.com/lifecycle/suspend",
        ),
        (
            reqwest::Method::POST,
            "/__sim/groups/Engineering/members/hired@x.com",
        ),
        (reqwest::Method::DELETE, "/__sim/app/users/direct@x.com"),
    ] {
        assert_eq!(
            ctl(m, p).send().await.unwrap().status(),
            StatusCode::NO_CONTENT,
            "{p}"
        );
    }
    let r = ctl(reqwest::Method::POST, "/__sim/users/hired@x.com/profile")
        .json(&json!({"email": "hired2@x.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = ctl(
        reqwest::Method::POST,
        "/__sim/users/nobody/lifecycle/suspend",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = ctl(
        reqwest::Method::POST,
        "/__sim/users/hired@x.com/lifecycle/suspend",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT, "already suspended");

    let state: Value = ctl(reqwest::Method::GET, "/__sim/state")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state, api.sim.state_json());
    let hired = state["app_users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id.as_str())
        .unwrap();
    assert_eq!(hired["scope"], "USER");
    assert_eq!(hired["profile"]["email"], "hired2@x.com");
    assert!(state["system_log"].as_array().unwrap().len() >= 5);
    assert!(
        !state["assignments"]["users"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u == api.sim.user_id("direct@x.com").unwrap().as_str())
    );
    assert!(
        api.sim
            .requests()
            .iter()
            .all(|r| !r.path.starts_with("/__sim")),
        "control calls aren't logged"
    );
}

/// Full `expand=user` listing of 100k app users (as `scim-sync sim --generate 100000`
/// serves). Run with `cargo test --test sim_okta -- --ignored --nocapture`.
#[tokio::test]
#[ignore]
async fn full_listing_of_100k_app_users() {
    let n = 100_000;
    let mut sc = assigned_org(n);
    sc.rate_limits.apps = 1_000_000;
    let t = Instant::now();
    let api = Api::new(&sc).await;
    eprintln!("start with {n} users: {:?}", t.elapsed());
    let t = Instant::now();
    let mut url = format!("{}?limit=500&expand=user", api.app_users_path());
    let mut total = 0;
    let mut pages = 0;
    loop {
        let (body, l) = api.json(&url).await;
        total += body.as_array().unwrap().len();
        pages += 1;
        match rel(&l, "next") {
            Some(n) => url = n,
            None => break,
        }
    }
    assert_eq!(total, n);
    eprintln!(
        "listed {total} app users in {pages} pages: {:?}",
        t.elapsed()
    );
    // The server's share: the same walk without parsing bodies as JSON on our side.
    let t = Instant::now();
    let mut url = format!("{}?limit=500&expand=user", api.app_users_path());
    let mut bytes = 0;
    loop {
        let r = api.get(&url).await;
        let next = rel(&links(&r), "next");
        bytes += r.bytes().await.unwrap().len();
        match next {
            Some(n) => url = n,
            None => break,
        }
    }
    eprintln!(
        "same walk, bodies unparsed ({bytes} bytes): {:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn users_filter_by_ids_includes_deprovisioned_and_pages() {
    let mut sc = assigned_org(0);
    sc.users = logins(30, "b").iter().map(|l| user(l)).collect();
    sc.users
        .push(with_status("gone@example.com", "DEPROVISIONED"));
    let api = Api::new(&sc).await;
    let gone = api.sim.user_id("gone@example.com").unwrap();
    let mut wanted: Vec<String> = logins(30, "b")
        .iter()
        .step_by(3)
        .map(|l| api.sim.user_id(l).unwrap())
        .collect();
    wanted.push(gone.clone());
    let mut filter = wanted
        .iter()
        .map(|id| format!("id eq \"{id}\""))
        .collect::<Vec<_>>();
    filter.push("id eq \"00unosuchuser0000000\"".into());
    let q = format!(
        "/api/v1/users?limit=4&filter={}",
        percent_encoding::utf8_percent_encode(
            &filter.join(" or "),
            percent_encoding::NON_ALPHANUMERIC
        )
    );
    let pages = api.walk(&q).await;
    assert!(pages.iter().all(|p| p.len() <= 4));
    let mut got: Vec<String> = pages.concat();
    got.sort();
    wanted.sort();
    assert_eq!(
        got, wanted,
        "every existing id once, DEPROVISIONED included"
    );
}

// ---- System Log fidelity: event types and targets, eventual consistency, order ----

/// `since` for a first poll: `ago` before now, in Okta's format.
fn since_param(ago: chrono::Duration) -> String {
    (chrono::Utc::now() - ago)
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A polling request's first page from `ago` before now (optionally filtered): the
/// events and the next link.
async fn poll_from(api: &Api, ago: chrono::Duration, extra: &str) -> (Vec<Value>, String) {
    let (body, l) = api
        .json(&format!(
            "/api/v1/logs?since={}{extra}",
            enc(&since_param(ago))
        ))
        .await;
    let next = rel(&l, "next").expect("polling always has next");
    (body.as_array().unwrap().clone(), next)
}

async fn poll_next(api: &Api, next: &str) -> (Vec<Value>, String) {
    let (body, l) = api.json(next).await;
    let next = rel(&l, "next").expect("polling always has next");
    (body.as_array().unwrap().clone(), next)
}

fn event_types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["eventType"].as_str().unwrap().to_string())
        .collect()
}

fn uuids(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["uuid"].as_str().unwrap().to_string())
        .collect()
}

fn target<'a>(e: &'a Value, kind: &str) -> &'a Value {
    e["target"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} target in {e}"))
}

#[tokio::test]
async fn every_admin_change_logs_okta_event_types_and_targets() {
    let api = Api::new(&group_org()).await;
    let (_, next) = poll_from(&api, chrono::Duration::seconds(1), "").await;
    let sim = &api.sim;
    let new_id = sim.create_user(user("new@x.com")).unwrap();
    sim.assign_user("new@x.com").unwrap();
    let mut rename = serde_json::Map::new();
    rename.insert("login".into(), json!("renamed@x.com"));
    rename.insert("email".into(), json!("renamed@x.com"));
    sim.update_profile("new@x.com", rename).unwrap();
    sim.suspend_user("renamed@x.com").unwrap();
    sim.unsuspend_user("renamed@x.com").unwrap();
    sim.add_group_member("Engineering", "outside@x.com")
        .unwrap();
    sim.remove_group_member("Engineering", "outside@x.com")
        .unwrap();
    sim.unassign_group("Engineering").unwrap();
    sim.assign_group("Engineering").unwrap();
    sim.unassign_user("renamed@x.com").unwrap();
    sim.deactivate_user("renamed@x.com").unwrap();
    sim.activate_user("renamed@x.com").unwrap();
    sim.deactivate_user("renamed@x.com").unwrap();
    sim.delete_user("renamed@x.com").unwrap();
    sim.create_user(with_status("prov@x.com", "PROVISIONED"))
        .unwrap();
    sim.reactivate_user("prov@x.com").unwrap();
    // A group member deactivated loses the app; activated, the assignment is restored.
    sim.deactivate_user("grp@x.com").unwrap();
    sim.activate_user("grp@x.com").unwrap();

    let (events, _) = poll_next(&api, &next).await;
    let got: Vec<(String, Vec<String>)> = events
        .iter()
        .map(|e| {
            let kinds = e["target"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["type"].as_str().unwrap().to_string())
                .collect();
            (e["eventType"].as_str().unwrap().to_string(), kinds)
        })
        .collect();
    let membership = ["AppUser", "AppInstance", "User"];
    let expected: Vec<(&str, &[&str])> = vec![
        ("user.lifecycle.create", &["User"]),
        ("user.lifecycle.activate", &["User"]),
        ("application.user_membership.add", &membership),
        ("user.account.update_profile", &["User"]),
        ("application.user_membership.change_username", &membership),
        ("user.lifecycle.suspend", &["User"]),
        ("user.lifecycle.unsuspend", &["User"]),
        ("group.user_membership.add", &["User", "UserGroup"]),
        ("application.user_membership.add", &membership),
        ("group.user_membership.remove", &["User", "UserGroup"]),
        ("application.user_membership.remove", &membership),
        // grp@x.com has the app only through the group; both@x.com also directly.
        (
            "group.application_assignment.remove",
            &["AppInstance", "UserGroup"],
        ),
        ("application.user_membership.remove", &membership),
        (
            "group.application_assignment.add",
            &["AppInstance", "UserGroup"],
        ),
        ("application.user_membership.add", &membership),
        ("application.user_membership.remove", &membership),
        ("user.lifecycle.deactivate", &["User"]),
        ("user.lifecycle.activate", &["User"]),
        ("user.lifecycle.deactivate", &["User"]),
        ("user.lifecycle.delete.initiated", &["User"]),
        ("user.lifecycle.delete.completed", &["User"]),
        ("user.lifecycle.create", &["User"]),
        ("user.lifecycle.reactivate", &["User"]),
        ("user.lifecycle.deactivate", &["User"]),
        ("application.user_membership.remove", &membership),
        ("user.lifecycle.activate", &["User"]),
        ("application.user_membership.restore", &membership),
    ];
    let expected: Vec<(String, Vec<String>)> = expected
        .into_iter()
        .map(|(t, k)| (t.to_string(), k.iter().map(|s| s.to_string()).collect()))
        .collect();
    assert_eq!(got, expected);

    // Targets name the objects: the user (id, login at the time), the assignment (its
    // own 0ua id, not the user's), the app, the group.
    let user_t = target(&events[0], "User");
    assert_eq!(user_t["id"], new_id.as_str());
    assert_eq!(user_t["alternateId"], "new@x.com");
    let add = &events[2];
    let app_user = target(add, "AppUser");
    let app_user_id = app_user["id"].as_str().unwrap();
    assert!(app_user_id.starts_with("0ua") && app_user_id != new_id);
    assert_eq!(target(add, "AppInstance")["id"], sim.app_id().as_str());
    assert_eq!(target(add, "User")["id"], new_id.as_str());
    let profile = &events[3];
    assert_eq!(target(profile, "User")["alternateId"], "renamed@x.com");
    assert_eq!(
        target(profile, "User")["changeDetails"]["from"]["login"],
        "new@x.com"
    );
    assert_eq!(
        target(&events[7], "UserGroup")["id"],
        "00gengineering000001"
    );
    assert_eq!(
        target(&events[7], "User")["id"],
        sim.user_id("outside@x.com").unwrap().as_str()
    );
    assert_eq!(
        target(&events[12], "User")["alternateId"],
        "grp@x.com",
        "group unassignment removes the group-only user"
    );
    let deleted = &events[20];
    assert_eq!(target(deleted, "User")["id"], new_id.as_str());
    // The deleted user is gone from every API.
    assert_eq!(
        api.get(&format!("/api/v1/users/{new_id}")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.get(&format!("{}/{new_id}", api.app_users_path()))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert!(sim.user_id("renamed@x.com").is_none());

    // The client's filter (every entitlement type, or-ed) selects exactly those types,
    // and the simulator emits each of them.
    let types = scim_sync::okta::ENTITLEMENT_EVENT_TYPES;
    let filter = types
        .iter()
        .map(|t| format!("eventType eq \"{t}\""))
        .collect::<Vec<_>>()
        .join(" or ");
    let (filtered, _) = poll_from(
        &api,
        chrono::Duration::minutes(1),
        &format!("&filter={}", enc(&filter)),
    )
    .await;
    let all: Vec<String> = expected.iter().map(|(t, _)| t.clone()).collect();
    let wanted: Vec<String> = all
        .iter()
        .filter(|t| types.contains(&t.as_str()))
        .cloned()
        .collect();
    assert_eq!(event_types(&filtered), wanted);
    assert_eq!(
        wanted.len(),
        all.len() - 1,
        "only delete.initiated is left out"
    );
    for t in types {
        assert!(all.iter().any(|a| a == t), "the sim never emits {t}");
    }
}

#[tokio::test]
async fn a_log_delay_hides_events_and_polling_waits_behind_them() {
    let api = Api::new(&group_org()).await;
    let (_, next0) = poll_from(&api, chrono::Duration::seconds(1), "").await;
    let r = api
        .http
        .post(api.url("/__sim/log_delay"))
        .json(&json!({"ms": 2000}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let changed = Instant::now();
    api.sim.assign_user("outside@x.com").unwrap(); // A: visible in 2 s
    api.sim.set_log_delay(Duration::ZERO);
    api.sim.suspend_user("direct@x.com").unwrap(); // B: visible now, persisted after A

    let (events, next1) = poll_next(&api, &next0).await;
    assert!(
        changed.elapsed() < Duration::from_secs(2),
        "too slow to test"
    );
    assert!(events.is_empty(), "B waits behind A: {events:?}");
    // A bounded query just leaves A out.
    let until = (chrono::Utc::now() + chrono::Duration::seconds(5))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    let (bounded, _) = api
        .json(&format!(
            "/api/v1/logs?since={}&until={}",
            enc(&since_param(chrono::Duration::minutes(1))),
            enc(&until)
        ))
        .await;
    assert_eq!(
        event_types(bounded.as_array().unwrap()),
        ["user.lifecycle.suspend"]
    );
    // Both are in the state (persisted), in persistence order.
    let state = api.sim.state_json();
    let log = state["system_log"].as_array().unwrap();
    assert_eq!(
        event_types(&log[log.len() - 2..]),
        ["application.user_membership.add", "user.lifecycle.suspend"]
    );

    tokio::time::sleep(Duration::from_millis(2100).saturating_sub(changed.elapsed())).await;
    let (events, next2) = poll_next(&api, &next1).await;
    assert_eq!(
        event_types(&events),
        ["application.user_membership.add", "user.lifecycle.suspend"]
    );
    let (events, _) = poll_next(&api, &next2).await;
    assert!(events.is_empty(), "nothing twice");
    // An old cursor still reads from where it was.
    let (again, _) = poll_next(&api, &next1).await;
    assert_eq!(again.len(), 2);
}

#[tokio::test]
async fn published_can_run_backwards_but_polling_loses_nothing() {
    let mut sc = group_org();
    sc.log_jitter_ms = 30_000;
    let api = Api::new(&sc).await;
    for i in 0..20 {
        api.sim.create_user(user(&format!("j{i}@x.com"))).unwrap();
    }
    let persisted: Vec<Value> = api.sim.log_events();
    assert_eq!(persisted.len(), 40);
    let published = |events: &[Value]| -> Vec<String> {
        events
            .iter()
            .map(|e| e["published"].as_str().unwrap().to_string())
            .collect()
    };
    let p = published(&persisted);
    assert!(
        p.windows(2).any(|w| w[1] < w[0]),
        "some event was published before one persisted earlier: {p:?}"
    );
    assert!(persisted.iter().all(|e| is_okta_ts(&e["published"])));

    // Polling, 7 at a time: persistence order, every event once.
    let (mut events, mut next) = poll_from(&api, chrono::Duration::minutes(2), "&limit=7").await;
    loop {
        let (page, n) = poll_next(&api, &next).await;
        next = n;
        if page.is_empty() {
            break;
        }
        events.extend(page);
    }
    assert_eq!(uuids(&events), uuids(&persisted));

    // A bounded query orders by published (and pages keep its since).
    let until = (chrono::Utc::now() + chrono::Duration::seconds(5))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    for (order, sorted) in [("ASCENDING", true), ("DESCENDING", false)] {
        let first = format!(
            "/api/v1/logs?since={}&until={}&limit=7&sortOrder={order}",
            enc(&since_param(chrono::Duration::minutes(2))),
            enc(&until)
        );
        let mut bounded = Vec::new();
        for page in api.walk_values(&first).await {
            bounded.extend(page);
        }
        let mut p = published(&bounded);
        if !sorted {
            p.reverse();
        }
        assert!(p.windows(2).all(|w| w[0] <= w[1]), "{order}: {p:?}");
        let mut got = uuids(&bounded);
        let mut want = uuids(&persisted);
        got.sort();
        want.sort();
        assert_eq!(got, want, "{order}");
    }

    // Jitter is a runtime setting too.
    let r = api
        .http
        .post(api.url("/__sim/log_jitter"))
        .json(&json!({"ms": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(api.sim.state_json()["log_jitter_ms"], 0);
    let before = chrono::Utc::now() - chrono::Duration::milliseconds(1);
    api.sim.suspend_user("j0@x.com").unwrap();
    let last = api.sim.log_events().pop().unwrap();
    let at = chrono::DateTime::parse_from_rfc3339(last["published"].as_str().unwrap()).unwrap();
    assert!(at >= before, "no jitter: published is the change's time");
}

#[tokio::test]
async fn the_system_log_has_its_own_rate_limit_bucket() {
    let mut sc = group_org();
    sc.rate_limits = OktaRateLimits {
        logs: 2,
        ..Default::default()
    };
    let api = Api::new(&sc).await;
    for _ in 0..2 {
        let r = api.get("/api/v1/logs").await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["x-rate-limit-limit"], "2");
    }
    let (st, code, _) = error_code(api.get("/api/v1/logs").await).await;
    assert_eq!(
        (st, code.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "E0000047")
    );
    assert_eq!(api.get("/api/v1/users").await.status(), StatusCode::OK);
}

/// A DPoP proof (RFC 9449) made by hand, as Okta's SDKs make them: ES256 with the
/// public key in the header.
struct ProofKey {
    signing: jsonwebtoken::EncodingKey,
    jwk: jsonwebtoken::jwk::Jwk,
}

impl ProofKey {
    fn new() -> ProofKey {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &aws_lc_rs::rand::SystemRandom::new(),
        )
        .unwrap();
        let signing = jsonwebtoken::EncodingKey::from_ec_der(pkcs8.as_ref());
        let jwk =
            jsonwebtoken::jwk::Jwk::from_encoding_key(&signing, jsonwebtoken::Algorithm::ES256)
                .unwrap();
        ProofKey { signing, jwk }
    }

    fn proof(&self, htm: &str, htu: &str, nonce: Option<&str>, token: Option<&str>) -> String {
        use base64::Engine as _;
        let ath = token.map(|t| {
            let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, t.as_bytes());
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d.as_ref())
        });
        let claims = json!({
            "jti": uuid::Uuid::new_v4().to_string(),
            "htm": htm, "htu": htu, "iat": chrono::Utc::now().timestamp(),
            "nonce": nonce, "ath": ath,
        });
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.typ = Some("dpop+jwt".into());
        header.jwk = Some(self.jwk.clone());
        jsonwebtoken::encode(&header, &claims, &self.signing).unwrap()
    }
}

/// The simulated Okta checks DPoP as Okta does: a service app that requires it refuses
/// a token request without a proof, asks for its nonce, binds the token to the proof's
/// key, and takes that token only as `DPoP` with a fresh proof of the same key for the
/// same request (ath, jti once).
#[tokio::test]
async fn dpop_is_required_verified_and_bound_as_okta_does() {
    let mut sc = assigned_org(2);
    let cid = "0oaservicedpop000001";
    sc.service_apps = vec![ServiceAppSpec {
        client_id: cid.into(),
        public_key_pem: TEST_PUB.into(),
        kid: Some("test-kid".into()),
        scopes: vec!["okta.apps.read".into()],
        require_dpop: true,
    }];
    let api = Api::new(&sc).await;
    let token_url = api.sim.token_url();
    let token_request = |n: u32, proof: Option<String>| {
        let form = [
            ("grant_type", "client_credentials".to_string()),
            ("scope", "okta.apps.read".to_string()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string(),
            ),
            (
                "client_assertion",
                assertion(&token_url, cid, 300, &format!("dpop-jti-{n}")),
            ),
        ];
        let mut req = api.http.post(api.url("/oauth2/v1/token")).form(&form);
        if let Some(p) = proof {
            req = req.header("DPoP", p);
        }
        req.send()
    };
    let key = ProofKey::new();

    let r = token_request(1, None).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_dpop_proof");
    assert_eq!(
        body["error_description"],
        "The DPoP proof JWT header is missing."
    );

    let r = token_request(2, Some(key.proof("POST", &token_url, None, None)))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let nonce = r.headers()["dpop-nonce"].to_str().unwrap().to_string();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "use_dpop_nonce");

    let r = token_request(3, Some(key.proof("POST", &token_url, Some(&nonce), None)))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP");
    let token = body["access_token"].as_str().unwrap().to_string();

    let path = format!("/api/v1/apps/{}/users", api.sim.app_id());
    let htu = api.url(&path);
    let call = |scheme: &str, proof: Option<String>| {
        let mut req = api
            .http
            .get(api.url(&path))
            .header("Authorization", format!("{scheme} {token}"));
        if let Some(p) = proof {
            req = req.header("DPoP", p);
        }
        req.send()
    };
    let refused = |r: Response| {
        let status = r.status();
        let www = r
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, www)
    };
    // As a Bearer token, or without a proof: refused.
    for (scheme, proof) in [("Bearer", None), ("DPoP", None)] {
        let (status, www) = refused(call(scheme, proof).await.unwrap());
        assert_eq!(status, StatusCode::BAD_REQUEST, "{scheme}");
        assert!(
            www.starts_with("DPoP algs=") && www.contains("invalid_dpop_proof"),
            "{www}"
        );
    }
    // A good proof: served. The same proof again (its jti), a proof for another token
    // (ath) or of another key: refused.
    let good = key.proof("GET", &htu, None, Some(&token));
    assert_eq!(
        call("DPoP", Some(good.clone())).await.unwrap().status(),
        StatusCode::OK
    );
    for (what, proof) in [
        ("replayed jti", good),
        (
            "wrong ath",
            key.proof("GET", &htu, None, Some("another-token")),
        ),
        (
            "another key",
            ProofKey::new().proof("GET", &htu, None, Some(&token)),
        ),
        (
            "another method",
            key.proof("POST", &htu, None, Some(&token)),
        ),
        (
            "a query in htu",
            key.proof("GET", &format!("{htu}?limit=2"), None, Some(&token)),
        ),
    ] {
        let (status, www) = refused(call("DPoP", Some(proof)).await.unwrap());
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}");
        assert!(www.contains("invalid_dpop_proof"), "{what}: {www}");
    }
    assert_eq!(api.sim.proofless_token_requests(), 1);
}
