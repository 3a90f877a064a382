//! Saved plans: `plan --out FILE` then `apply FILE` executes exactly the reviewed
//! operations, and refuses (exit 7, nothing written) when someone in it changed in Okta
//! or kafkaman since; an altered or foreign file is refused before anything is read.

use crate::common;

use std::os::unix::fs::PermissionsExt;

use common::{Env, scim_sync, shown as text};
use scim_sync_sim::generate;
use serde_json::Value;

/// Writes the plan of `env` to `plan.json` in its dir; returns the path and the JSON.
fn plan(env: &Env) -> (std::path::PathBuf, Value) {
    let path = env.dir.path().join("plan.json");
    let out = scim_sync(&env.config_path, &["plan", "--out", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("scim-sync apply "),
        "{}",
        text(&out)
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    (path, doc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_applies_exactly_its_operations() {
    let env = Env::start(&generate::builtin(), &[("safety", "max_deactivations = 1")]).await;
    let before = env.world.kafkaman.log().writes().len();
    let (path, doc) = plan(&env);
    assert_eq!(
        env.world.kafkaman.log().writes().len(),
        before,
        "planning writes nothing"
    );
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the plan names employees");
    assert_eq!(doc["format"], "scim-sync-plan");
    assert_eq!(doc["version"], 1);
    assert!(doc["digest"].as_str().unwrap().starts_with("sha256:"));
    assert!(
        doc["computed_from"]["snapshot_digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert!(
        doc["computed_from"]["okta_log_since"].is_string(),
        "{doc:#}"
    );
    let operations = doc["operations"].as_array().unwrap().len();
    let held = doc["held"].as_array().unwrap().len();
    assert!(operations > 3 && held >= 1, "{doc:#}");

    let out = scim_sync(&env.config_path, &["apply", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let writes = env.world.kafkaman.log().writes().len() - before;
    assert_eq!(writes, operations + held, "exactly the plan's writes");
    // The held deactivations the plan listed were released by applying it.
    assert!(env.store.held_deactivations().unwrap().is_empty());
    let run = env.store.runs(1).unwrap().remove(0);
    assert_eq!(run.trigger.as_str(), "saved_plan");

    // Nothing left to do: the next plan is empty.
    let (_, again) = plan(&env);
    assert_eq!(
        again["operations"].as_array().unwrap().len(),
        0,
        "{again:#}"
    );
}

/// The first create of the plan: its Okta id and email.
fn first_create(doc: &Value) -> (String, String) {
    let op = doc["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "create")
        .expect("a create");
    (
        op["okta_id"].as_str().unwrap().to_string(),
        op["user_name"].as_str().unwrap().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_in_okta_since_refuses_the_plan() {
    let env = Env::start(
        &generate::builtin(),
        &[("safety", "max_deactivations = 50")],
    )
    .await;
    let (path, doc) = plan(&env);
    let (okta_id, email) = first_create(&doc);
    let mut changes = serde_json::Map::new();
    changes.insert("firstName".into(), serde_json::json!("Renamed"));
    env.world.okta.update_profile(&okta_id, changes).unwrap();

    let before = env.world.kafkaman.log().writes().len();
    let out = scim_sync(&env.config_path, &["apply", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("1 of the plan's people changed"), "{err}");
    assert!(
        err.contains(&email) && err.contains("Okta: given_name"),
        "{err}"
    );
    assert!(err.contains("\"Renamed\""), "{err}");
    assert_eq!(
        env.world.kafkaman.log().writes().len(),
        before,
        "nothing written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_in_kafkaman_since_refuses_the_plan() {
    let env = Env::start(
        &generate::builtin(),
        &[("safety", "max_deactivations = 50")],
    )
    .await;
    let (path, doc) = plan(&env);
    let op = doc["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "deactivate")
        .expect("a deactivation")
        .clone();
    let email = op["user_name"].as_str().unwrap();
    env.world
        .kafkaman
        .update_member(
            email,
            scim_sync_sim::kafkaman::MemberUpdate {
                family_name: Some("Changed".into()),
                ..Default::default()
            },
        )
        .unwrap();

    let before = env.world.kafkaman.log().writes().len();
    let out = scim_sync(&env.config_path, &["apply", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(email) && err.contains("kafkaman: family_name"),
        "{err}"
    );
    assert_eq!(
        env.world.kafkaman.log().writes().len(),
        before,
        "nothing written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_altered_or_foreign_plan_is_refused_before_any_read() {
    let env = Env::start(&generate::builtin(), &[]).await;
    let (path, mut doc) = plan(&env);
    let requests = env.world.okta.requests().len();

    doc["operations"][0]["user_name"] = Value::from("someone-else@example.com");
    std::fs::write(&path, doc.to_string()).unwrap();
    let out = scim_sync(&env.config_path, &["apply", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(65), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("was changed after"),
        "{}",
        text(&out)
    );

    std::fs::write(&path, "{\"format\": \"scim-sync-plan\", \"version\": 99}").unwrap();
    let out = scim_sync(&env.config_path, &["apply", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(65), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("format version 99"),
        "{}",
        text(&out)
    );

    std::fs::write(&path, "not json").unwrap();
    let out = scim_sync(&env.config_path, &["apply", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(65), "{}", text(&out));
    assert_eq!(env.world.okta.requests().len(), requests, "nothing read");
}

/// A plan never writes past what the configuration allows now: a deactivation of a user
/// protected since is refused (exit 7, nothing written).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_protected_since_the_plan_refuses_it() {
    let env = Env::start(
        &generate::builtin(),
        &[("safety", "max_deactivations = 50")],
    )
    .await;
    let (path, doc) = plan(&env);
    let leaver = doc["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "deactivate")
        .expect("a deactivation")["user_name"]
        .as_str()
        .unwrap()
        .to_uppercase();
    env.set("safety", &format!("protected_users = [\"{leaver}\"]"));
    let before = env.world.kafkaman.log().writes().len();
    let out = scim_sync(&env.config_path, &["apply", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("protected now"),
        "{}",
        text(&out)
    );
    assert_eq!(
        env.world.kafkaman.log().writes().len(),
        before,
        "nothing written"
    );
}
