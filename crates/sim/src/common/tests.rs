use super::*;

#[test]
fn route_patterns() {
    assert!(route_matches(
        "/api/v1/apps/*/users",
        "/api/v1/apps/0oa1/users"
    ));
    assert!(!route_matches(
        "/api/v1/apps/*/users",
        "/api/v1/apps/0oa1/users/00u1"
    ));
    assert!(route_matches(
        "/api/v1/apps/**",
        "/api/v1/apps/0oa1/users/00u1"
    ));
    assert!(!route_matches("/scim/v2/Users", "/scim/v2/Users/abc"));
}

#[test]
fn fault_after_and_count() {
    let f = Faults::default();
    f.arm(FaultSpec {
        route: "/x".into(),
        method: None,
        kind: FaultKind::Status { status: 500 },
        count: 1,
        after: 2,
    });
    assert!(f.take("GET", "/x").1.is_empty());
    assert!(f.take("GET", "/x").1.is_empty());
    assert_eq!(
        f.take("GET", "/x").1,
        vec![FaultKind::Status { status: 500 }]
    );
    assert!(f.take("GET", "/x").1.is_empty());
}

#[test]
fn fault_spec_json_parses_and_refuses_typos() {
    let spec: FaultSpec = serde_json::from_str(
        r#"{"route":"/x","method":"GET","kind":"status","status":503,"count":2}"#,
    )
    .expect("parses");
    assert_eq!(spec.kind, FaultKind::Status { status: 503 });
    assert_eq!((spec.count, spec.after), (2, 0));
    let typo = serde_json::from_str::<FaultSpec>(r#"{"route":"/x","kind":"drop","cuont":2}"#);
    assert!(typo.unwrap_err().to_string().contains("cuont"));
    let wrong = serde_json::from_str::<FaultSpec>(r#"{"route":"/x","kind":"drop","ms":2}"#);
    assert!(wrong.unwrap_err().to_string().contains("drop"));
    let missing = serde_json::from_str::<FaultSpec>(r#"{"route":"/x","kind":"status"}"#);
    assert!(missing.unwrap_err().to_string().contains("needs `status`"));
    // What is served back (`/__sim/faults`) reads back the same.
    let text = serde_json::to_string(&spec).expect("serializes");
    assert_eq!(
        serde_json::from_str::<FaultSpec>(&text).expect("parses"),
        spec
    );
}

#[test]
fn window_resets() {
    let mut w = FixedWindow::new(2, 60);
    assert!(w.acquire(100).allowed);
    let v = w.acquire(110);
    assert!(v.allowed && v.remaining == 0 && v.reset_epoch == 160);
    assert!(!w.acquire(159).allowed);
    assert!(w.acquire(160).allowed);
}
