use std::collections::HashMap;
use std::ffi::OsString;
use std::time::Duration;

use secrecy::ExposeSecret;

use super::*;

const MINIMAL: &str = r#"
[okta]
org_url = "https://acme.okta.com"
app_id = "0oaAPP"
api_token = { env = "OKTA_TOKEN" }

[kafkaman]
api_key = { file = "kafkaman.key" }
"#;

fn parse_err(text: &str) -> InvalidConfig {
    match parse(text, "config.toml") {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(ConfigError::Invalid(invalid)) => *invalid,
        Err(other) => panic!("unexpected error {other}"),
    }
}

/// Asserts the error names `key` and `line`, and that its Display shows both.
fn assert_points_at(err: &InvalidConfig, key: &str, line: usize) {
    let shown = err.to_string();
    assert_eq!(err.key.as_deref(), Some(key), "key of: {shown}");
    assert_eq!(err.line, Some(line), "line of: {shown}");
    assert!(
        shown.starts_with(&format!("config.toml line {line}")),
        "{shown}"
    );
    assert!(shown.contains(key), "{shown}");
}

/// `MINIMAL` plus `extra` appended; returns the 1-based line where `extra` starts.
fn with_extra(extra: &str) -> (String, usize) {
    let text = format!("{MINIMAL}{extra}");
    (text, MINIMAL.lines().count() + 1)
}

#[test]
fn minimal_config_gets_all_defaults() {
    let config = parse(MINIMAL, "/etc/scim-sync/config.toml").expect("minimal config parses");
    let okta = &config.okta;
    assert_eq!(okta.org_url.as_str(), "https://acme.okta.com/");
    assert_eq!(okta.app_id, "0oaAPP");
    assert_eq!(
        okta.auth,
        OktaAuth::ApiToken(SecretRef {
            key: "okta.api_token".into(),
            source: SecretSource::Env("OKTA_TOKEN".into()),
        })
    );
    assert_eq!(okta.rate_limit_share, 0.5);
    assert_eq!(okta.page_size, 500);
    assert_eq!(okta.timeout(), Duration::from_secs(30));
    assert_eq!(okta.max_retries, 4);
    assert_eq!(okta.max_rate_limit_wait_secs, 120);

    let kafkaman = &config.kafkaman;
    assert_eq!(kafkaman.base_url.as_str(), "https://api.kafkaman.co/");
    assert_eq!(
        kafkaman.api_key.file_path(),
        Some(PathBuf::from("/etc/scim-sync/kafkaman.key"))
    );
    assert_eq!(kafkaman.concurrency, 4);
    assert_eq!(kafkaman.timeout_secs, 30);
    assert_eq!(kafkaman.max_retries, 4);

    let sync = &config.sync;
    assert_eq!(sync.state_db, PathBuf::from("/var/lib/scim-sync/state.db"));
    assert!(sync.create_users && sync.update_attributes && sync.deactivate_users);
    assert!(sync.reactivate_users && sync.clear_pending_invites);
    assert_eq!(sync.suspended_users, SuspendedUsers::Deactivate);
    assert_eq!(sync.user_name_attribute, "email");
    assert_eq!(sync.given_name_attribute, "firstName");
    assert_eq!(sync.family_name_attribute, "lastName");
    assert_eq!(sync.error_budget_percent, 10.0);

    assert_eq!(config.safety.max_deactivations, 10);
    assert_eq!(config.safety.max_deactivations_percent, 10.0);
    assert_eq!(config.safety.min_deactivation_cap, 3);
    assert!(config.safety.protected_users.is_empty());

    let daemon = &config.daemon;
    assert_eq!(daemon.schedule, "0 3 * * *");
    assert_eq!(daemon.incremental_interval_secs, 10);
    assert_eq!(daemon.time_zone, None);
    assert_eq!(daemon.random_delay_secs, 0);
    assert!(daemon.run_at_start);
    assert_eq!(daemon.listen, None);
    assert_eq!(daemon.shutdown_timeout_secs, 30);
    assert_eq!(daemon.healthy_within_intervals, 3);
    assert!(!daemon.allow_root);

    assert_eq!(config.report.stale_invite_days, 14);
    assert_eq!(
        config.report.exit_1_on,
        vec![ExitTrigger::Drift, ExitTrigger::Held, ExitTrigger::Failures]
    );
    assert_eq!(config.logging.format, LogFormat::Auto);
    assert_eq!(config.logging.level, "info");
}

#[test]
fn example_config_parses_and_matches_the_defaults() {
    let text = include_str!("../../config.example.toml");
    let config = parse(text, "/etc/scim-sync/config.toml").expect("config.example.toml parses");
    // The example writes every default out; it must not drift from the code.
    let minimal = parse(MINIMAL, "/etc/scim-sync/config.toml").expect("minimal parses");
    assert_eq!(config.sync, minimal.sync);
    assert_eq!(config.safety, minimal.safety);
    assert_eq!(config.daemon, minimal.daemon);
    assert_eq!(config.report, minimal.report);
    assert_eq!(config.logging, minimal.logging);
    assert_eq!(config.kafkaman.base_url, minimal.kafkaman.base_url);
    assert_eq!(config.kafkaman.concurrency, minimal.kafkaman.concurrency);
    assert_eq!(config.okta.rate_limit_share, minimal.okta.rate_limit_share);
    assert_eq!(config.okta.page_size, minimal.okta.page_size);
    assert_eq!(
        config.okta.max_rate_limit_wait_secs,
        minimal.okta.max_rate_limit_wait_secs
    );
}

#[test]
fn example_config_commented_keys_parse_when_uncommented() {
    // The optional keys shown commented out in the example must be valid as written.
    let text = include_str!("../../config.example.toml")
        .replace("api_token = { credential = \"okta-api-token\" }\n", "")
        .replace("# [okta.oauth]", "[okta.oauth]")
        .replace("# client_id =", "client_id =")
        .replace("# private_key =", "private_key =")
        .replace("# key_id =", "key_id =")
        .replace("# scopes =", "scopes =")
        .replace("# time_zone =", "time_zone =")
        .replace("# listen =", "listen =")
        .replace("# protected_users = [", "protected_users_x = [")
        .replace("protected_users = []\n", "")
        .replace("protected_users_x = [", "protected_users = [");
    // Keys after [okta.oauth] now belong to it; move the oauth table to the end of [okta].
    let (head, tail) = text
        .split_once("[okta.oauth]")
        .expect("oauth table present");
    let (oauth, rest) = tail
        .split_once("# Default 0.5.")
        .expect("rate_limit_share doc present");
    let text = format!(
        "{head}# Default 0.5.{}",
        rest.replacen("[kafkaman]", &format!("[okta.oauth]{oauth}\n[kafkaman]"), 1)
    );
    let config =
        parse(&text, "/etc/scim-sync/config.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
    match &config.okta.auth {
        OktaAuth::OAuth(oauth) => {
            assert_eq!(oauth.key_id.as_deref(), Some("my-key-id"));
            assert_eq!(oauth.scopes, DEFAULT_OKTA_SCOPES);
        }
        other => panic!("expected OAuth, got {other:?}"),
    }
    assert_eq!(config.daemon.time_zone.as_deref(), Some("UTC"));
    assert_eq!(
        config.daemon.listen,
        Some("127.0.0.1:9464".parse().expect("address"))
    );
    // Protected users are listed as written; the planner compares them (plan::safety).
    assert!(
        config
            .safety
            .protected_users
            .iter()
            .any(|p| p == "00u1a2b3c4d5e6f7g8h9"),
        "{:?}",
        config.safety.protected_users
    );
}

#[test]
fn unknown_key_in_every_section_names_key_and_line() {
    for (section, extra) in [
        ("okta", "[okta]\norgurl = 1\n"),
        ("kafkaman", "[kafkaman]\nbaseurl = 1\n"),
        ("sync", "[sync]\nstatedb = 1\n"),
        ("safety", "[safety]\nmax_deactivation = 1\n"),
        ("daemon", "[daemon]\nscheduel = 1\n"),
        ("report", "[report]\nexit_on = 1\n"),
        ("logging", "[logging]\nlvl = 1\n"),
    ] {
        // Re-opening [okta]/[kafkaman] is a TOML error, so put those keys in MINIMAL's tables.
        let (text, line) = match section {
            "okta" => (MINIMAL.replace("[okta]\n", "[okta]\norgurl = 1\n"), 3),
            "kafkaman" => (
                MINIMAL.replace("[kafkaman]\n", "[kafkaman]\nbaseurl = 1\n"),
                8,
            ),
            _ => {
                let (text, start) = with_extra(extra);
                (text, start + 1)
            }
        };
        let err = parse_err(&text);
        let bad = extra
            .lines()
            .nth(1)
            .and_then(|l| l.split(' ').next())
            .expect("key");
        let key = format!("{section}.{bad}");
        assert_points_at(&err, &key, line);
        let shown = err.to_string();
        assert!(shown.contains(&format!("unknown key `{key}`")), "{shown}");
        assert!(shown.contains("did you mean"), "{shown}");
    }
}

#[test]
fn a_misspelt_key_gets_the_nearest_key_of_its_table() {
    for (from, to, key, near, line) in [
        ("app_id = ", "app_ld = ", "okta.app_ld", "okta.app_id", 4),
        ("app_id = ", "appid = ", "okta.appid", "okta.app_id", 4),
        ("app_id = ", "ap_id = ", "okta.ap_id", "okta.app_id", 4),
        ("app_id = ", "App_Id = ", "okta.App_Id", "okta.app_id", 4),
        ("app_id = ", "app-id = ", "okta.app-id", "okta.app_id", 4),
        (
            "{ env = ",
            "{ evn = ",
            "okta.api_token.evn",
            "okta.api_token.env",
            5,
        ),
        (
            "{ file = ",
            "{ flie = ",
            "kafkaman.api_key.flie",
            "kafkaman.api_key.file",
            8,
        ),
    ] {
        let err = parse_err(&MINIMAL.replace(from, to));
        assert_points_at(&err, key, line);
        assert!(
            err.message
                .contains(&format!("unknown key `{key}`: did you mean `{near}`?")),
            "{err}"
        );
    }
    let (text, line) = with_extra("[safety]\nmax_deactivations_pct = 10\n");
    let err = parse_err(&text);
    assert_points_at(&err, "safety.max_deactivations_pct", line + 1);
    assert!(
        err.message
            .contains("did you mean `safety.max_deactivations_percent`?"),
        "{err}"
    );
}

#[test]
fn a_misspelt_table_gets_the_nearest_table() {
    let (text, line) = with_extra("[sycn]\nfull_cycle_max_age_hours = 1\n");
    let err = parse_err(&text);
    assert_points_at(&err, "sycn", line);
    assert!(
        err.to_string().ends_with(&format!(
            "config.toml line {line}, column 2: unknown table `[sycn]`: did you mean `[sync]`? \
             (rename the table; see config.example.toml)"
        )),
        "{err}"
    );
    let (text, line) = with_extra("[okta.oath]\nclient_id = \"x\"\n");
    let err = parse_err(&text.replace("api_token = { env = \"OKTA_TOKEN\" }\n", ""));
    assert_eq!(err.line, Some(line - 1), "{err}");
    assert!(
        err.message
            .contains("unknown table `[okta.oath]`: did you mean `[okta.oauth]`?"),
        "{err}"
    );
}

#[test]
fn a_key_like_no_known_one_lists_the_known_ones() {
    let err = parse_err(&MINIMAL.replace("app_id = ", "colour = "));
    assert_points_at(&err, "okta.colour", 4);
    assert!(!err.message.contains("did you mean"), "{err}");
    assert!(
        err.message
            .contains("unknown key `okta.colour`, expected one of `org_url`, `app_id`"),
        "{err}"
    );
}

#[test]
fn restoring_hand_deactivated_members_is_off_by_default_and_needs_reactivations() {
    let cfg = parse(MINIMAL, "/etc/scim-sync/config.toml").expect("minimal config parses");
    assert!(!cfg.sync.restore_hand_deactivated);
    let (text, _) = with_extra("[sync]\nrestore_hand_deactivated = true\n");
    let cfg = parse(&text, "/etc/scim-sync/config.toml").expect("parses");
    assert!(cfg.sync.restore_hand_deactivated);
    let (text, line) =
        with_extra("[sync]\nreactivate_users = false\nrestore_hand_deactivated = true\n");
    let err = parse_err(&text);
    assert_points_at(&err, "sync.restore_hand_deactivated", line + 2);
    assert!(
        err.message.contains("sync.reactivate_users = false"),
        "{err}"
    );
    let (text, line) = with_extra("[sync]\nrestore_hand_deactivated = \"yes\"\n");
    assert_points_at(&parse_err(&text), "sync.restore_hand_deactivated", line + 1);
}

#[test]
fn a_misspelt_value_gets_the_nearest_value() {
    let (text, line) = with_extra("[sync]\nsuspended_users = \"deactivte\"\n");
    let err = parse_err(&text);
    assert_points_at(&err, "sync.suspended_users", line + 1);
    assert!(
        err.message.contains("did you mean \"deactivate\"?"),
        "{err}"
    );
}

#[test]
fn nearest_suggests_only_a_likely_typo() {
    use super::error::nearest;
    let known = ["file", "env", "credential"];
    assert_eq!(nearest("flie", &known), Some("file"));
    assert_eq!(nearest("ENV", &known), Some("env"));
    assert_eq!(nearest("credentials", &known), Some("credential"));
    assert_eq!(nearest("path", &known), None);
    assert_eq!(nearest("e", &known), None);
    assert_eq!(nearest("", &known), None);
    // Equally near two names: no guess.
    assert_eq!(nearest("ab", &["abc", "abd"]), None);
    assert_eq!(nearest("anything", &[]), None);
}

#[test]
fn unknown_top_level_section_and_secret_table_key() {
    let (text, line) = with_extra("[okta_extra]\nx = 1\n");
    let err = parse_err(&text);
    assert_points_at(&err, "okta_extra", line);

    let text = MINIMAL.replace("{ env = \"OKTA_TOKEN\" }", "{ path = \"/x\" }");
    let err = parse_err(&text);
    assert_points_at(&err, "okta.api_token.path", 5);
    assert!(
        err.to_string().contains("`file`, `env`, `credential`"),
        "{err}"
    );
}

#[test]
fn wrong_type_names_key_and_line() {
    let text = MINIMAL.replace(
        "app_id = \"0oaAPP\"\n",
        "app_id = \"0oaAPP\"\npage_size = \"500\"\n",
    );
    let err = parse_err(&text);
    assert_points_at(&err, "okta.page_size", 5);
    assert!(err.message.contains("whole number"), "{err}");

    let (text, line) = with_extra("[sync]\ncreate_users = \"yes\"\n");
    assert_points_at(&parse_err(&text), "sync.create_users", line + 1);

    let (text, line) = with_extra("[safety]\nprotected_users = [\"a@b.c\", 7]\n");
    assert_points_at(&parse_err(&text), "safety.protected_users[1]", line + 1);

    let (text, line) = with_extra("[safety]\nmax_deactivations = -1\n");
    assert_points_at(&parse_err(&text), "safety.max_deactivations", line + 1);

    let (text, line) = with_extra("[safety]\nmax_deactivations = 2\nmin_deactivation_cap = 5\n");
    let err = parse_err(&text);
    assert_points_at(&err, "safety.min_deactivation_cap", line + 2);
    assert!(err.message.contains("max_deactivations (2)"), "{err}");
}

#[test]
fn missing_required_keys_are_named() {
    let text = MINIMAL.replace("app_id = \"0oaAPP\"\n", "");
    let err = parse_err(&text);
    assert_eq!(err.key.as_deref(), Some("okta.app_id"), "{err}");
    assert!(
        err.to_string()
            .contains("missing required key `okta.app_id`"),
        "{err}"
    );

    let text = MINIMAL.replace("api_key = { file = \"kafkaman.key\" }\n", "");
    let err = parse_err(&text);
    assert_eq!(err.key.as_deref(), Some("kafkaman.api_key"), "{err}");

    let text = "[kafkaman]\napi_key = { env = \"K\" }\n";
    let err = parse_err(text);
    assert_eq!(err.key.as_deref(), Some("okta"), "{err}");
    assert!(err.to_string().contains("[okta]"), "{err}");
}

#[test]
fn http_url_is_refused_with_line() {
    let text = MINIMAL.replace("https://acme.okta.com", "http://okta.example.com");
    let err = parse_err(&text);
    assert_points_at(&err, "okta.org_url", 3);
    assert_eq!(
        err.to_string(),
        "config.toml line 3, column 11: okta.org_url: \"http://okta.example.com\" must use https \
         (plain http is allowed only for loopback addresses)"
    );

    let text = MINIMAL.replace(
        "[kafkaman]\n",
        "[kafkaman]\nbase_url = \"http://kafkaman.internal\"\n",
    );
    assert_points_at(&parse_err(&text), "kafkaman.base_url", 8);
}

#[test]
fn loopback_http_is_accepted() {
    for url in [
        "http://127.0.0.1:8080",
        "http://localhost:9000",
        "http://[::1]:7000",
        "http://127.3.4.5",
    ] {
        let text = MINIMAL.replace("https://acme.okta.com", url).replace(
            "[kafkaman]\n",
            &format!("[kafkaman]\nbase_url = \"{url}/scim/v2\"\n"),
        );
        let config = parse(&text, "config.toml").unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(config.okta.org_url.scheme(), "http");
        assert!(config.kafkaman.base_url.path().ends_with("/scim/v2"));
    }
}

#[test]
fn org_url_must_be_the_org_base_url() {
    let text = MINIMAL.replace("https://acme.okta.com", "https://acme-admin.okta.com");
    let err = parse_err(&text);
    assert_points_at(&err, "okta.org_url", 3);
    assert!(err.message.contains("https://acme.okta.com"), "{err}");

    let text = MINIMAL.replace("https://acme.okta.com", "https://acme.okta.com/api/v1");
    assert_points_at(&parse_err(&text), "okta.org_url", 3);

    let text = MINIMAL.replace("https://acme.okta.com", "acme.okta.com");
    assert_points_at(&parse_err(&text), "okta.org_url", 3);
}

#[test]
fn url_with_credentials_is_refused_without_echoing_them() {
    let text = MINIMAL.replace(
        "https://acme.okta.com",
        "https://user:hunter2@acme.okta.com",
    );
    let err = parse_err(&text);
    assert_points_at(&err, "okta.org_url", 3);
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[test]
fn okta_auth_needs_exactly_one_method() {
    let both = format!(
        "{MINIMAL}\n[okta.oauth]\nclient_id = \"c\"\nprivate_key = {{ file = \"k.pem\" }}\n"
    );
    let err = parse_err(&both);
    let line = MINIMAL.lines().count() + 2;
    assert_points_at(&err, "okta.oauth", line);
    assert!(err.message.contains("exactly one"), "{err}");

    let neither = MINIMAL.replace("api_token = { env = \"OKTA_TOKEN\" }\n", "");
    let err = parse_err(&neither);
    assert_eq!(err.key.as_deref(), Some("okta"), "{err}");
    assert!(err.line.is_some(), "{err}");
    assert!(
        err.message.contains("api_token") && err.message.contains("[okta.oauth]"),
        "{err}"
    );
}

#[test]
fn oauth_table_is_parsed_with_default_scopes() {
    let text = MINIMAL.replace(
        "api_token = { env = \"OKTA_TOKEN\" }\n",
        "oauth = { client_id = \"0oaCLIENT\", private_key = { credential = \"okta-key\" } }\n",
    );
    let config = parse(&text, "config.toml").expect("parses");
    let OktaAuth::OAuth(oauth) = &config.okta.auth else {
        panic!("expected oauth");
    };
    assert_eq!(oauth.client_id, "0oaCLIENT");
    assert_eq!(oauth.private_key.key, "okta.oauth.private_key");
    assert_eq!(
        oauth.private_key.source,
        SecretSource::Credential("okta-key".into())
    );
    assert_eq!(oauth.key_id, None);
    assert_eq!(oauth.scopes, DEFAULT_OKTA_SCOPES);

    let missing = MINIMAL.replace(
        "api_token = { env = \"OKTA_TOKEN\" }\n",
        "oauth = { client_id = \"c\" }\n",
    );
    let err = parse_err(&missing);
    assert_eq!(err.key.as_deref(), Some("okta.oauth.private_key"), "{err}");
}

#[test]
fn inline_secret_is_refused_with_advice() {
    let text = MINIMAL.replace("{ env = \"OKTA_TOKEN\" }", "\"00abcSECRETTOKEN\"");
    let err = parse_err(&text);
    assert_points_at(&err, "okta.api_token", 5);
    let shown = err.to_string();
    assert!(
        !shown.contains("SECRETTOKEN"),
        "the secret must not be echoed: {shown}"
    );
    assert!(
        shown.contains("file =") && shown.contains("env =") && shown.contains("credential ="),
        "{shown}"
    );

    let text = MINIMAL.replace("{ file = \"kafkaman.key\" }", "'kmk_live_xyz'");
    let err = parse_err(&text);
    assert_points_at(&err, "kafkaman.api_key", 8);
    assert!(!err.to_string().contains("kmk_live_xyz"), "{err}");
}

#[test]
fn secret_ref_needs_exactly_one_source() {
    let text = MINIMAL.replace("{ env = \"OKTA_TOKEN\" }", "{ env = \"A\", file = \"/b\" }");
    assert_points_at(&parse_err(&text), "okta.api_token", 5);
    let text = MINIMAL.replace("{ env = \"OKTA_TOKEN\" }", "{ }");
    assert_points_at(&parse_err(&text), "okta.api_token", 5);
    let text = MINIMAL.replace(
        "{ env = \"OKTA_TOKEN\" }",
        "{ credential = \"../etc/shadow\" }",
    );
    assert_points_at(&parse_err(&text), "okta.api_token", 5);
}

#[test]
fn rate_limit_share_out_of_range() {
    for bad in ["0", "0.0", "1.5", "-0.2", "nan"] {
        let text = MINIMAL.replace(
            "app_id = \"0oaAPP\"\n",
            &format!("app_id = \"0oaAPP\"\nrate_limit_share = {bad}\n"),
        );
        let err = parse_err(&text);
        assert_points_at(&err, "okta.rate_limit_share", 5);
        assert!(err.message.contains("at most 1"), "{err}");
    }
    for good in ["1", "1.0", "0.05"] {
        let text = MINIMAL.replace(
            "app_id = \"0oaAPP\"\n",
            &format!("app_id = \"0oaAPP\"\nrate_limit_share = {good}\n"),
        );
        parse(&text, "config.toml").unwrap_or_else(|e| panic!("{good}: {e}"));
    }
}

#[test]
fn numeric_ranges_name_key_and_line() {
    for (extra, key) in [
        (
            "[sync]\nerror_budget_percent = 101\n",
            "sync.error_budget_percent",
        ),
        (
            "[safety]\nmax_deactivations_percent = -1\n",
            "safety.max_deactivations_percent",
        ),
        (
            "[daemon]\nhealthy_within_intervals = 0\n",
            "daemon.healthy_within_intervals",
        ),
        (
            "[report]\nstale_invite_days = 0\n",
            "report.stale_invite_days",
        ),
        // Found while writing tests/parsers_prop.rs: accepted, then the daemon's next
        // tick overflowed the date arithmetic.
        (
            "[daemon]\nrandom_delay_secs = 18446744073709551615\n",
            "daemon.random_delay_secs",
        ),
        (
            "[daemon]\nrandom_delay_secs = 86401\n",
            "daemon.random_delay_secs",
        ),
    ] {
        let (text, line) = with_extra(extra);
        assert_points_at(&parse_err(&text), key, line + 1);
    }
    let text = MINIMAL.replace(
        "app_id = \"0oaAPP\"\n",
        "app_id = \"0oaAPP\"\npage_size = 501\n",
    );
    assert_points_at(&parse_err(&text), "okta.page_size", 5);
    let text = MINIMAL.replace("[kafkaman]\n", "[kafkaman]\nconcurrency = 17\n");
    let err = parse_err(&text);
    assert_points_at(&err, "kafkaman.concurrency", 8);
    assert!(err.message.contains("between 1 and 16"), "{err}");
}

#[test]
fn the_log_overlap_is_bounded_and_defaults_to_two_minutes() {
    let cfg = parse(MINIMAL, "/etc/scim-sync/config.toml").expect("minimal config parses");
    assert_eq!(cfg.sync.log_overlap_secs, 120);
    assert_eq!(cfg.sync.user_name_source, UserNameSource::AppUsername);
    let (text, line) = with_extra("[sync]\nlog_overlap_secs = 7200\n");
    assert_points_at(&parse_err(&text), "sync.log_overlap_secs", line + 1);
}

#[test]
fn bad_enum_values_name_key_and_line() {
    for (extra, key, expected) in [
        (
            "[sync]\nsuspended_users = \"delete\"\n",
            "sync.suspended_users",
            "`deactivate`, `keep`",
        ),
        (
            "[sync]\nuser_name_source = \"email\"\n",
            "sync.user_name_source",
            "`app_username`, `profile`",
        ),
        (
            "[logging]\nformat = \"xml\"\n",
            "logging.format",
            "`auto`, `text`, `json`, `journald`",
        ),
        (
            "[report]\nexit_1_on = [\"drift\", \"errors\"]\n",
            "report.exit_1_on[1]",
            "`drift`, `held`, `failures`",
        ),
    ] {
        let (text, line) = with_extra(extra);
        let err = parse_err(&text);
        assert_points_at(&err, key, line + 1);
        assert!(err.message.contains(expected), "{err}");
    }
}

#[test]
fn other_value_checks_name_key_and_line() {
    for (extra, key) in [
        ("[daemon]\nlisten = \"localhost\"\n", "daemon.listen"),
        ("[daemon]\nschedule = \"  \"\n", "daemon.schedule"),
        (
            "[daemon]\ntime_zone = \"Central European\"\n",
            "daemon.time_zone",
        ),
        ("[logging]\nlevel = \"scim_sync=loud\"\n", "logging.level"),
        (
            "[sync]\nuser_name_attribute = \"e mail\"\n",
            "sync.user_name_attribute",
        ),
    ] {
        let (text, line) = with_extra(extra);
        assert_points_at(&parse_err(&text), key, line + 1);
    }
}

#[test]
fn toml_syntax_error_has_line() {
    let (text, line) = with_extra("[sync]\nstate_db = \"unterminated\n");
    let err = parse_err(&text);
    assert_eq!(err.line, Some(line + 1), "{err}");
    assert!(err.to_string().starts_with("config.toml line"), "{err}");
}

#[test]
fn exit_1_on_subset_and_dedup() {
    let (text, _) = with_extra("[report]\nexit_1_on = [\"failures\", \"failures\"]\n");
    let config = parse(&text, "config.toml").expect("parses");
    assert_eq!(config.report.exit_1_on, vec![ExitTrigger::Failures]);
    assert!(config.report.exits_1_on(ExitTrigger::Failures));
    assert!(!config.report.exits_1_on(ExitTrigger::Drift));
    let (text, _) = with_extra("[report]\nexit_1_on = []\n");
    assert!(
        parse(&text, "config.toml")
            .expect("parses")
            .report
            .exit_1_on
            .is_empty()
    );
}

#[test]
fn relative_paths_resolve_against_the_config_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (text, _) = with_extra("[sync]\nstate_db = \"data/state.db\"\n");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, &text).expect("write config");
    let config = load(&path).expect("loads");
    assert_eq!(config.sync.state_db, dir.path().join("data/state.db"));
    assert_eq!(
        config.kafkaman.api_key.file_path(),
        Some(dir.path().join("kafkaman.key"))
    );

    // Absolute paths are kept as written.
    let text = text
        .replace("data/state.db", "/srv/state.db")
        .replace("kafkaman.key", "/run/k.key");
    std::fs::write(&path, &text).expect("write config");
    let config = load(&path).expect("loads");
    assert_eq!(config.sync.state_db, PathBuf::from("/srv/state.db"));
    assert_eq!(
        config.kafkaman.api_key.file_path(),
        Some(PathBuf::from("/run/k.key"))
    );
}

#[test]
fn a_missing_file_says_how_its_path_was_chosen() {
    let default = Path::new(DEFAULT_CONFIG_PATH);
    assert!(chosen_by(default, None).starts_with("the default path"));
    assert_eq!(
        chosen_by(Path::new("/x.toml"), Some(OsString::from("/x.toml"))),
        "set by $SCIM_SYNC_CONFIG"
    );
    assert_eq!(
        chosen_by(Path::new("/y.toml"), Some(OsString::from("/x.toml"))),
        "given with --config"
    );
    assert_eq!(chosen_by(Path::new("/y.toml"), None), "given with --config");
}

#[test]
fn load_errors_name_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("missing.toml");
    let err = load(&path).expect_err("missing file");
    assert!(matches!(err, ConfigError::NotFound { .. }));
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );

    let path = dir.path().join("bad.toml");
    std::fs::write(&path, MINIMAL.replace("https://", "http://")).expect("write");
    let err = load(&path).expect_err("http refused");
    assert!(
        err.to_string()
            .starts_with(&format!("{} line 3", path.display())),
        "{err}"
    );
    assert_eq!(err.key(), Some("okta.org_url"));
    assert_eq!(err.line(), Some(3));
}

#[test]
fn default_path_prefers_the_environment() {
    assert_eq!(
        default_path_from(None),
        PathBuf::from("/etc/scim-sync/config.toml")
    );
    assert_eq!(
        default_path_from(Some(OsString::new())),
        PathBuf::from("/etc/scim-sync/config.toml")
    );
    assert_eq!(
        default_path_from(Some("/tmp/x.toml".into())),
        PathBuf::from("/tmp/x.toml")
    );
}

#[test]
fn redacted_summary_and_debug_show_sources_not_secrets() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("kafkaman.key"), "kmk_SECRET_VALUE\n").expect("write");
    let config = load(&write_config(dir.path(), MINIMAL)).expect("loads");
    let secret = config.kafkaman.api_key.resolve().expect("resolves");
    assert_eq!(secret.expose_secret(), "kmk_SECRET_VALUE");
    let summary = config.redacted_summary();
    assert!(
        summary.contains("okta.org_url=https://acme.okta.com/")
            || summary.contains("org_url=https://acme.okta.com/"),
        "{summary}"
    );
    assert!(
        summary.contains("environment variable OKTA_TOKEN"),
        "{summary}"
    );
    assert!(!summary.contains("SECRET_VALUE"), "{summary}");
    assert!(!format!("{config:?}").contains("SECRET_VALUE"));
    assert!(!format!("{secret:?}").contains("SECRET_VALUE"));
}

// ---- secret resolution -------------------------------------------------------------

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("config.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

fn fake_env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> + use<> {
    let vars: HashMap<String, OsString> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), OsString::from(v)))
        .collect();
    move |name| vars.get(name).cloned()
}

fn file_ref(path: PathBuf) -> SecretRef {
    SecretRef {
        key: "kafkaman.api_key".into(),
        source: SecretSource::File(path),
    }
}

#[test]
fn secret_from_file_is_reread_after_rotation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("token");
    std::fs::write(&path, "first\n").expect("write");
    let secret = file_ref(path.clone());
    assert_eq!(secret.resolve().expect("first").expose_secret(), "first");
    std::fs::write(&path, "second").expect("rotate");
    assert_eq!(secret.resolve().expect("second").expose_secret(), "second");
    // Surrounding whitespace is removed; inner content is kept exactly.
    std::fs::write(&path, "line1\nline2\n\n").expect("write");
    assert_eq!(
        secret.resolve().expect("pem-like").expose_secret(),
        "line1\nline2"
    );
    for content in ["crlf\r\n", "crlf\r", " crlf \r\n\r\n", "crlf\n\r\n"] {
        std::fs::write(&path, content).expect("write");
        assert_eq!(secret.resolve().expect("crlf").expose_secret(), "crlf");
    }
}

#[test]
fn secret_files_must_be_small_regular_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A device: refused before any read (it once grew the process to 8.6 GiB).
    let err = file_ref("/dev/zero".into()).resolve().expect_err("device");
    let shown = err.to_string();
    assert!(matches!(err, SecretError::NotRegularFile { .. }), "{shown}");
    assert!(
        shown.contains("kafkaman.api_key") && shown.contains("/dev/zero"),
        "{shown}"
    );
    // A directory.
    let err = file_ref(dir.path().into()).resolve().expect_err("dir");
    assert!(matches!(err, SecretError::NotRegularFile { .. }), "{err}");
    // A FIFO with no writer: an error at once, never a hang.
    let fifo = dir.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().expect("utf-8")).expect("c string");
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let (tx, rx) = std::sync::mpsc::channel();
    let r = file_ref(fifo.clone());
    std::thread::spawn(move || {
        let _ = tx.send(r.resolve().map(|_| ()).map_err(|e| e.to_string()));
    });
    let shown = rx
        .recv_timeout(std::time::Duration::from_secs(5))
        .expect("a FIFO must not block")
        .expect_err("fifo refused");
    assert!(
        shown.contains("FIFO") && shown.contains(&fifo.display().to_string()),
        "{shown}"
    );
    // Too large: refused with the limit, no part of the content shown.
    let big = dir.path().join("big");
    std::fs::write(&big, "A".repeat(100_000)).expect("write");
    let err = file_ref(big).resolve().expect_err("too large");
    let shown = err.to_string();
    assert!(matches!(err, SecretError::TooLarge { .. }), "{shown}");
    assert!(
        shown.contains("65536") && !shown.contains("AAAA"),
        "{shown}"
    );
}

const PASTED: &str = "kmsim_3f9c2a7b1d4e8f6a0b5c9d2e7f1a4b8c";
const PASTED_OKTA: &str = "00Xy7Kq2LmN9pR4sT6vW8zA1bC3dE5fG7hJ9kL2mN4";

#[test]
fn pasted_secrets_in_references_are_never_shown() {
    assert!(crate::config::secret::looks_like_token(PASTED));
    assert!(crate::config::secret::looks_like_token(PASTED_OKTA));
    assert!(crate::config::secret::looks_like_token(
        "00sim-okta-ssws-token-0000000000000000000000"
    ));
    assert!(crate::config::secret::looks_like_token(
        "kmsim_0000000000000000000000000000"
    ));
    for name in [
        "OKTA_API_TOKEN",
        "SCIM_SYNC_OKTA_API_TOKEN_2024",
        "okta_api_token_2024_production",
        "kafkaman-api-key",
        "okta-api-token",
        "okta.pem",
    ] {
        assert!(!crate::config::secret::looks_like_token(name), "{name}");
    }
    // Resolved at run time (a valid variable / credential / file name that is a token).
    for source in [
        SecretSource::Env(PASTED.into()),
        SecretSource::Credential(PASTED.into()),
        SecretSource::File(std::env::temp_dir().join(PASTED)),
    ] {
        let r = SecretRef {
            key: "kafkaman.api_key".into(),
            source,
        };
        let err = r.resolve_with_env(&fake_env(&[])).expect_err("missing");
        let shown = err.to_string();
        assert!(shown.starts_with("kafkaman.api_key: "), "{shown}");
        assert!(shown.contains("looks like a secret value"), "{shown}");
        assert!(!shown.contains(&PASTED[..12]), "{shown}");
    }
    // Refused when the config is loaded.
    for (reference, prefix) in [
        (
            format!("{{ env = \"{PASTED_OKTA}-x\" }}"),
            &PASTED_OKTA[..12],
        ),
        (format!("{{ env = \"{}\" }}", "s3cr3t=hunter2"), "hunter2"),
        (
            format!("{{ credential = \"{PASTED_OKTA}\" }}"),
            &PASTED_OKTA[..12],
        ),
        (
            format!("{{ credential = \"{PASTED_OKTA}==\" }}"),
            &PASTED_OKTA[..12],
        ),
        (
            format!("{{ file = \"{PASTED_OKTA}\" }}"),
            &PASTED_OKTA[..12],
        ),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            format!(
                "[okta]\norg_url = \"https://acme.okta.com\"\napp_id = \"0oa1\"\n\
                 api_token = {reference}\n[kafkaman]\nbase_url = \"https://km.example.com\"\n\
                 api_key = {{ file = \"km\" }}\n"
            ),
        )
        .expect("write");
        let shown = crate::config::load(&path)
            .expect_err("pasted secret refused")
            .to_string();
        assert!(shown.contains("okta.api_token"), "{shown}");
        assert!(shown.contains("looks like a secret value"), "{shown}");
        assert!(!shown.contains(prefix), "{reference}: {shown}");
    }
}

#[test]
fn config_errors_quote_at_most_a_short_prefix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.toml");
    let long = "x".repeat(100_000);
    std::fs::write(
        &path,
        format!(
            "[okta]\norg_url = \"https://acme.okta.com/{long}?q\"\napp_id = \"0oa1\"\n\
             api_token = {{ file = \"t\" }}\n[kafkaman]\nbase_url = \"https://km.example.com\"\n\
             api_key = {{ file = \"km\" }}\n"
        ),
    )
    .expect("write");
    let shown = crate::config::load(&path).expect_err("query").to_string();
    assert!(shown.len() < 400, "{shown}");
    assert!(shown.contains("…"), "{shown}");
}

#[test]
fn missing_secret_file_names_key_and_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nope");
    let err = file_ref(path.clone()).resolve().expect_err("missing");
    let shown = err.to_string();
    assert!(shown.starts_with("kafkaman.api_key: "), "{shown}");
    assert!(shown.contains(&path.display().to_string()), "{shown}");
}

#[test]
fn empty_secret_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("empty");
    for content in ["", "\n", "  \n"] {
        std::fs::write(&path, content).expect("write");
        let err = file_ref(path.clone()).resolve().expect_err("empty");
        assert!(matches!(err, SecretError::Empty { .. }), "{err}");
        assert!(
            err.to_string().contains("kafkaman.api_key") && err.to_string().contains("is empty"),
            "{err}"
        );
    }
    let env_ref = SecretRef {
        key: "okta.api_token".into(),
        source: SecretSource::Env("TOKEN".into()),
    };
    let err = env_ref
        .resolve_with_env(&fake_env(&[("TOKEN", "")]))
        .expect_err("empty env");
    assert!(
        err.to_string().contains("environment variable TOKEN"),
        "{err}"
    );
}

#[test]
fn secret_from_env() {
    let secret = SecretRef {
        key: "okta.api_token".into(),
        source: SecretSource::Env("SCIM_SYNC_TEST_TOKEN".into()),
    };
    let value = secret
        .resolve_with_env(&fake_env(&[("SCIM_SYNC_TEST_TOKEN", "ssws-token\n")]))
        .expect("resolves");
    assert_eq!(value.expose_secret(), "ssws-token");
    let err = secret.resolve_with_env(&fake_env(&[])).expect_err("unset");
    let shown = err.to_string();
    assert!(
        shown.contains("okta.api_token") && shown.contains("SCIM_SYNC_TEST_TOKEN"),
        "{shown}"
    );
    assert_eq!(secret.file_path(), None);
}

#[test]
fn secret_from_systemd_credential() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("okta-api-token"), "cred-value\n").expect("write");
    let secret = SecretRef {
        key: "okta.api_token".into(),
        source: SecretSource::Credential("okta-api-token".into()),
    };
    let creds_dir = dir.path().to_str().expect("utf-8 tempdir");
    let env = fake_env(&[(CREDENTIALS_DIRECTORY_ENV, creds_dir)]);
    assert_eq!(
        secret
            .resolve_with_env(&env)
            .expect("resolves")
            .expose_secret(),
        "cred-value"
    );

    let err = secret
        .resolve_with_env(&fake_env(&[]))
        .expect_err("no credentials dir");
    assert!(err.to_string().contains("CREDENTIALS_DIRECTORY"), "{err}");
    assert!(err.to_string().contains("LoadCredential="), "{err}");

    let other = SecretRef {
        key: "kafkaman.api_key".into(),
        source: SecretSource::Credential("absent".into()),
    };
    let err = other
        .resolve_with_env(&env)
        .expect_err("missing credential");
    let shown = err.to_string();
    assert!(
        shown.contains("kafkaman.api_key") && shown.contains("`absent`"),
        "{shown}"
    );
    assert!(
        shown.contains(&dir.path().join("absent").display().to_string()),
        "{shown}"
    );
}

#[test]
fn secret_refs_may_be_header_tables_and_bom_is_ignored() {
    let text = "\u{feff}[okta]\norg_url = \"https://acme.okta.com\"\napp_id = \"0oaAPP\"\n\n\
                [okta.api_token]\nfile = \"/etc/scim-sync/okta-token\"\n\n\
                [kafkaman.api_key]\ncredential = \"kafkaman-api-key\"\n";
    let config = parse(text, "config.toml").unwrap_or_else(|e| panic!("{e}"));
    let OktaAuth::ApiToken(token) = &config.okta.auth else {
        panic!("expected api token");
    };
    assert_eq!(
        token.file_path(),
        Some(PathBuf::from("/etc/scim-sync/okta-token"))
    );
    assert_eq!(
        config.kafkaman.api_key.source,
        SecretSource::Credential("kafkaman-api-key".into())
    );

    let text = text.replace("file = \"/etc/scim-sync/okta-token\"", "path = \"x\"");
    let err = parse_err(&text);
    assert_points_at(&err, "okta.api_token.path", 6);

    let pem = MINIMAL.replace(
        "api_token = { env = \"OKTA_TOKEN\" }\n",
        "oauth = { client_id = \"c\", private_key = \"\"\"\n-----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END PRIVATE KEY-----\"\"\" }\n",
    );
    let err = parse_err(&pem);
    assert_eq!(err.key.as_deref(), Some("okta.oauth.private_key"), "{err}");
    assert!(!err.to_string().contains("MIIEvQ"), "{err}");
}
