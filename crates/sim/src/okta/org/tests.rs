use super::*;
use crate::scenario::{AssignmentSpec, OktaGroupSpec};

fn spec(login: &str) -> OktaUserSpec {
    OktaUserSpec {
        id: None,
        login: login.into(),
        email: None,
        first_name: Some("F".into()),
        last_name: Some("L".into()),
        status: "ACTIVE".into(),
        profile: Map::new(),
        app_username: None,
        app_profile: Default::default(),
    }
}

fn org() -> Org {
    let sc = OktaScenario {
        users: vec![spec("a@x.com"), spec("b@x.com")],
        groups: vec![OktaGroupSpec {
            id: None,
            name: "Eng".into(),
            description: None,
            members: vec!["b@x.com".into()],
        }],
        assignments: AssignmentSpec {
            users: vec!["a@x.com".into()],
            groups: vec!["Eng".into()],
        },
        ..Default::default()
    };
    Org::from_scenario(&sc).unwrap()
}

#[test]
fn deactivate_removes_direct_and_group_rows_and_activate_restores_group_row() {
    let mut o = org();
    assert_eq!(o.app_users.len(), 2);
    o.deactivate_user("a@x.com").unwrap();
    o.deactivate_user("b@x.com").unwrap();
    assert!(o.app_users.is_empty());
    o.activate_user("b@x.com").unwrap();
    o.activate_user("a@x.com").unwrap();
    let b = o.resolve_user("b@x.com").unwrap();
    assert_eq!(o.app_users.keys().collect::<Vec<_>>(), vec![&b]);
    let types: Vec<&str> = o
        .log
        .iter()
        .map(|e| e.event["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "user.lifecycle.deactivate",
            "application.user_membership.remove",
            "user.lifecycle.deactivate",
            "application.user_membership.remove",
            "user.lifecycle.activate",
            // The group-derived assignment the deactivation took comes back.
            "application.user_membership.restore",
            "user.lifecycle.activate",
        ]
    );
}

#[test]
fn lifecycle_rules() {
    let mut o = org();
    assert!(o.unsuspend_user("a@x.com").is_err());
    assert!(o.reactivate_user("a@x.com").is_err());
    o.suspend_user("a@x.com").unwrap();
    assert!(
        o.app_users
            .contains_key(&o.resolve_user("a@x.com").unwrap())
    );
    assert!(o.assign_user("nobody").is_err());
    assert!(
        o.update_profile(
            "b@x.com",
            &serde_json::from_str::<Map<String, Value>>(r#"{"login":"A@x.com"}"#).unwrap()
        )
        .is_err()
    );
}
