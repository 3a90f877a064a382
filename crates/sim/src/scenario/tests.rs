use super::*;

#[test]
fn unknown_field_names_field_and_line() {
    let text =
        "[okta]\napp_id = \"x\"\n\n[[okta.users]]\nlogin = \"a@x.com\"\nfrist_name = \"A\"\n";
    let err = Scenario::parse(text, false, "s.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 6"), "{err}");
    assert!(err.contains("frist_name"), "{err}");
}

#[test]
fn bad_status_names_field_and_line() {
    let text = "[[okta.users]]\nlogin = \"a@x.com\"\nstatus = \"ACTIV\"\n";
    let err = Scenario::parse(text, false, "s.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("okta.users.status"), "{err}");
}

#[test]
fn json_errors_have_lines() {
    let text = "{\n \"kafkaman\": {\n  \"seats\": \"ten\"\n }\n}";
    let err = Scenario::parse(text, true, "s.json")
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 3"), "{err}");
}

#[test]
fn dangling_group_member_is_refused() {
    let text = "[[okta.groups]]\nname = \"Eng\"\nmembers = [\"ghost@x.com\"]\n";
    let err = Scenario::parse(text, false, "s.toml")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("ghost@x.com") && err.contains("line 3"),
        "{err}"
    );
}
