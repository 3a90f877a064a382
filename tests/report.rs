//! `report`, `explain` and `history` against state built by real cycles against the
//! simulators: golden output for every format, the shapes scripts rely on, exit statuses
//! for cron, and that none of them writes anything.

use crate::common;

use std::path::Path;

use chrono::Utc;
use common::Env;
use scim_sync::explain::{self, DecisionCategory};
use scim_sync::history;
use scim_sync::report::{self, Format, Report, ReportOptions, SourceMode};
use scim_sync::store::{OpState, RunResult};
use scim_sync::sync::CycleOptions;
use scim_sync_plan::{AssignmentScope, InviteSource, Membership, OktaUserStatus, OpKind};
use scim_sync_sim::generate::{self, builtin_ids as b};
use scim_sync_sim::scenario::{InviteSpec, OktaUserSpec, Scenario};
use scim_sync_sim::{FaultKind, FaultSpec};

/// A cap that lets the builtin org's expected deactivations through.
const ROOMY: &[(&str, &str)] = &[
    ("safety", "max_deactivations = 50"),
    ("safety", "max_deactivations_percent = 100"),
];

const NEW_HIRE: &str = "00unewhire0000000001";
const NEW_HIRE_EMAIL: &str = "new.hire@example.com";
const CONFLICTED: &str = "00uconflict000000001";
const CONFLICTED_EMAIL: &str = "invited.elsewhere@example.com";
const STALE_EMAIL: &str = "contractor@example.com";

fn okta_user(id: &str, login: &str, first: &str, last: &str) -> OktaUserSpec {
    OktaUserSpec {
        id: Some(id.into()),
        login: login.into(),
        email: Some(login.into()),
        first_name: Some(first.into()),
        last_name: Some(last.into()),
        status: "ACTIVE".into(),
        profile: Default::default(),
        app_username: None,
        app_profile: Default::default(),
    }
}

/// The builtin org plus two people created later and an old link invite.
fn scenario() -> Scenario {
    let mut s = generate::builtin();
    s.okta
        .users
        .push(okta_user(NEW_HIRE, NEW_HIRE_EMAIL, "New", "Hire"));
    s.okta
        .users
        .push(okta_user(CONFLICTED, CONFLICTED_EMAIL, "Ines", "Elsewhere"));
    s.kafkaman.invites.push(InviteSpec {
        email: STALE_EMAIL.into(),
        source: "link".into(),
        invited_by: Some(b::ADA_EMAIL.into()),
        age_days: 30,
    });
    s
}

fn profile(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn fault(route: &str, method: &str, status: u16, count: u32) -> FaultSpec {
    FaultSpec {
        route: route.into(),
        method: Some(method.into()),
        kind: FaultKind::Status { status },
        count,
        after: 0,
    }
}

/// A team provisioned by a first cycle, then changes in Okta that a second cycle only
/// partly applies (kafkaman refuses a create, a deactivation and a name update), a
/// conflicting invite it may not clear, a rename, and a third cycle that cannot read Okta.
async fn eventful_history() -> Env {
    let env = Env::start(&scenario(), ROOMY).await;
    env.sync().await;

    let okta = &env.world.okta;
    okta.assign_user(NEW_HIRE).unwrap();
    okta.assign_user(CONFLICTED).unwrap();
    env.world
        .kafkaman
        .add_invite(CONFLICTED_EMAIL, "admin")
        .unwrap();
    okta.remove_group_member(b::GROUP_PLATFORM, b::DENNIS)
        .unwrap();
    okta.update_profile(
        b::ALAN,
        profile(serde_json::json!({"lastName": "Turing-Smith"})),
    )
    .unwrap();
    okta.update_profile(
        b::ADA,
        profile(
            serde_json::json!({"email": "ada.king@example.com", "login": "ada.king@example.com"}),
        ),
    )
    .unwrap();
    env.set("sync", "clear_pending_invites = false");
    let km = env.world.kafkaman.faults();
    // The create fails (never repeated blind); each PATCH (deactivation, name update)
    // fails all of its 3 attempts.
    km.arm(fault("/scim/v2/Users", "POST", 500, 1));
    km.arm(fault("/scim/v2/Users/*", "PATCH", 500, 6));
    env.sync().await;
    km.clear();

    env.set("okta", "max_retries = 0");
    okta.faults().arm(FaultSpec {
        route: format!("/api/v1/apps/{}/users", okta.app_id()),
        method: None,
        kind: FaultKind::Status { status: 503 },
        count: 1,
        after: 0,
    });
    // A full cycle: the one that lists every assignment (an incremental one wouldn't).
    env.cycle_with(CycleOptions {
        full: true,
        ..Default::default()
    })
    .await
    .expect_err("Okta is down");
    okta.faults().clear();
    env
}

async fn snapshot_report(env: &Env) -> Report {
    let now = Utc::now();
    report::build(
        &env.config(),
        &env.store,
        &ReportOptions {
            since: report::parse_since("24h", now).unwrap(),
            refresh: false,
        },
        now,
    )
    .await
    .expect("report builds")
}

/// Timestamps, durations, random ids, ports and temp paths vary between runs.
fn redacted() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(
        r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})",
        "[TIME]",
    );
    s.add_filter(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", "[TIME]");
    s.add_filter(r"req(_|\\_)[0-9a-f]{32}", "[REQ]");
    s.add_filter(r"\b[0-9a-f]{32}\b", "[ID]");
    s.add_filter(r"request id [0-9A-Za-z_-]{20,}", "request id [REQ]");
    s.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]");
    s.add_filter(r"/tmp/\.tmp\w+", "[TMP]");
    s.add_filter(r"database, \d+ (s|min|h|d) old", "database, [AGE] old");
    s.add_filter(r#""age_seconds": \d+"#, r#""age_seconds": [AGE]"#);
    s.add_filter(r#""duration_ms": \d+"#, r#""duration_ms": [DUR]"#);
    s.add_filter(r" *\b\d+(\.\d)? (ms|s)\b", " [DUR]");
    s.add_filter(r">\d+(\.\d)? (ms|s)<", ">[DUR]<");
    s.add_filter(r"\| \d+(\.\d)? (ms|s) \|", "| [DUR] |");
    s
}

#[tokio::test]
async fn golden_reports_in_every_format() {
    let env = eventful_history().await;
    let r = snapshot_report(&env).await;

    // What the state holds, before looking at any rendering.
    let who = |items: &[report::PersonItem]| -> Vec<String> {
        items.iter().map(|p| p.user_name.clone()).collect()
    };
    assert_eq!(who(&r.drift.missing_in_team), [NEW_HIRE_EMAIL]);
    assert_eq!(who(&r.drift.not_entitled), ["dennis.ritchie@example.com"]);
    assert_eq!(who(&r.drift.name_mismatch), ["alan.turing@example.com"]);
    assert_eq!(who(&r.drift.renames), [b::ADA_EMAIL]);
    assert_eq!(r.failures.len(), 4, "{:#?}", r.failures);
    assert!(r.failures.iter().any(|f| f.kind == "run"));
    assert!(
        r.failures
            .iter()
            .filter(|f| f.kind != "run")
            .all(|f| f.http_status == Some(500) && f.request_id.is_some()),
        "{:#?}",
        r.failures
    );
    let conflicting: Vec<&str> = r
        .invites
        .pending
        .iter()
        .filter(|i| i.conflicting)
        .map(|i| i.email.as_str())
        .collect();
    assert_eq!(conflicting, [CONFLICTED_EMAIL]);
    assert!(
        r.invites
            .pending
            .iter()
            .any(|i| i.email == STALE_EMAIL && i.stale)
    );
    assert_eq!(r.runs.len(), 3);
    assert_eq!(r.status.exit_status, 1);

    let settings = redacted();
    settings.bind(|| {
        insta::assert_snapshot!("report_text", report::render(&r, Format::Text, false));
        insta::assert_snapshot!(
            "report_markdown",
            report::render(&r, Format::Markdown, false)
        );
        insta::assert_snapshot!("report_json", report::render(&r, Format::Json, false));
        insta::assert_snapshot!("report_csv", report::render(&r, Format::Csv, false));
        insta::assert_snapshot!("report_html", report::render(&r, Format::Html, false));
    });
}

#[tokio::test]
async fn text_fits_a_mail_body_and_colours_only_on_request() {
    let env = eventful_history().await;
    let r = snapshot_report(&env).await;
    let plain = report::render(&r, Format::Text, false);
    assert!(!plain.contains('\x1b'));
    for line in plain.lines() {
        // Words longer than a line (URLs, ids) may overflow; prose wraps.
        let long = line.chars().count() > 78;
        assert!(
            !long || !line.trim().contains(' ') || line.split_whitespace().any(|w| w.len() > 40),
            "line too long for a mail body: {line:?}"
        );
    }
    assert!(report::render(&r, Format::Text, true).contains("\x1b[1m"));
}

#[tokio::test]
async fn json_is_versioned_and_parses_back() {
    let env = eventful_history().await;
    let r = snapshot_report(&env).await;
    let text = report::render(&r, Format::Json, false);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["schema"], "scim-sync/report");
    assert_eq!(value["version"], 1);
    // The fields docs/report-json.md promises scripts.
    for pointer in [
        "/generated_at",
        "/source/mode",
        "/source/age_seconds",
        "/period/since",
        "/summary/assigned_in_okta",
        "/summary/drift",
        "/summary/last_success/id",
        "/drift/missing_in_team/0/user_name",
        "/invites/pending/0/conflicting",
        "/held/items",
        "/failures/0/request_id",
        "/runs/0/result",
        "/people/0/status",
        "/status/exit_status",
    ] {
        assert!(value.pointer(pointer).is_some(), "missing {pointer}");
    }
    let back: Report = serde_json::from_str(&text).unwrap();
    assert_eq!(back, r);
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/report-json.md"))
            .expect("docs/report-json.md exists");
    for key in [
        "needs_attention",
        "missing_in_team",
        "awaiting_acceptance",
        "request_id",
    ] {
        assert!(
            doc.contains(key),
            "docs/report-json.md does not document {key}"
        );
    }
}

#[tokio::test]
async fn csv_has_one_row_per_person_and_a_stable_header() {
    let env = eventful_history().await;
    let r = snapshot_report(&env).await;
    let text = report::render(&r, Format::Csv, false);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(
        header,
        [
            "email",
            "okta_id",
            "okta_status",
            "app_status",
            "assignment",
            "scim_id",
            "membership",
            "role",
            "status",
            "action",
            "reason",
            "pending_invite"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), r.people.len());
    let emails: Vec<&str> = rows.iter().map(|r| &r[0]).collect();
    let mut unique = emails.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), emails.len(), "one row per person: {emails:?}");
    let row = |email: &str| rows.iter().find(|r| &r[0] == email).unwrap().clone();
    assert_eq!(&row(NEW_HIRE_EMAIL)[8], "missing_in_team");
    assert_eq!(&row(b::UNMANAGED_EMAIL)[8], "unmanaged");
    assert_eq!(&row(CONFLICTED_EMAIL)[11], "admin");
    assert_eq!(&row(b::GRACE_EMAIL)[4], "GROUP");
    assert_eq!(&row(b::GRACE_EMAIL)[8], "in_sync");
    // A reason with commas and quotes survives the round trip.
    assert!(row("alan.turing@example.com")[10].contains("\"Alan Turing-Smith\""));
}

#[tokio::test]
async fn html_is_well_formed_and_self_contained() {
    let env = eventful_history().await;
    let r = snapshot_report(&env).await;
    let html = report::render(&r, Format::Html, false);
    let doc = roxmltree::Document::parse_with_options(
        &html,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .expect("well-formed");
    assert_eq!(doc.root_element().tag_name().name(), "html");
    for node in doc.descendants().filter(|n| n.is_element()) {
        let tag = node.tag_name().name();
        assert!(
            !matches!(
                tag,
                "script" | "link" | "img" | "iframe" | "object" | "style"
            ),
            "<{tag}> in a self-contained report"
        );
        for attr in node.attributes() {
            assert!(
                !matches!(attr.name(), "src" | "href") && !attr.value().contains("url("),
                "external reference {}={:?}",
                attr.name(),
                attr.value()
            );
        }
    }
    assert!(html.contains("style=\""));
    // Text from the data is escaped, not interpreted.
    assert!(html.contains("&quot;Alan Turing-Smith"));
}

/// Runs the binary the way cron does.
async fn cli(env: &Env, args: &[&str]) -> (i32, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_scim-sync"))
        .args(args)
        .arg("--config")
        .arg(&env.config_path)
        .env_remove("SCIM_SYNC_CONFIG")
        .output()
        .await
        .expect("binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn exit_status_in_sync_is_0_and_report_works_with_both_services_down() {
    let env = Env::start(&generate::builtin(), ROOMY).await;
    env.sync().await;
    env.world.shutdown();
    let (code, out, err) = cli(&env, &["report"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains(" OK (exit 0)"), "{out}");
    assert!(
        out.contains("Source: last snapshot in the state database"),
        "{out}"
    );
    // Refreshing needs the services: the report says so rather than guessing.
    let (code, _, err) = cli(&env, &["report", "--refresh"]).await;
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("without --refresh"), "{err}");
}

#[tokio::test]
async fn exit_status_drift_is_1_and_refresh_writes_nothing() {
    let env = Env::start(&generate::builtin(), ROOMY).await;
    env.sync().await;
    env.world
        .okta
        .remove_group_member(b::GROUP_PLATFORM, b::DENNIS)
        .unwrap();
    let runs_before = env.store.count_runs().unwrap();
    let writes_before = env.kafkaman_writes().len();

    // The snapshot doesn't know yet.
    let (code, _, err) = cli(&env, &["report"]).await;
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = cli(&env, &["report", "--refresh", "--format", "json"]).await;
    assert_eq!(code, 1, "{err}");
    let r: Report = serde_json::from_str(&out).unwrap();
    assert_eq!(r.source.mode, SourceMode::Live);
    assert_eq!(r.drift.not_entitled.len(), 1);
    assert_eq!(
        r.drift.not_entitled[0].user_name,
        "dennis.ritchie@example.com"
    );
    assert_eq!(r.status.needs_attention, ["drift"]);

    assert_eq!(
        env.kafkaman_writes().len(),
        writes_before,
        "kafkaman was written"
    );
    assert_eq!(
        env.store.count_runs().unwrap(),
        runs_before,
        "a run was recorded"
    );
    assert!(
        env.world
            .kafkaman
            .member("dennis.ritchie@example.com")
            .unwrap()
            .active
    );
}

#[tokio::test]
async fn exit_status_held_is_1_unless_configured_otherwise() {
    let env = Env::start(&generate::builtin(), &[("safety", "max_deactivations = 1")]).await;
    env.sync().await;
    let (code, out, err) = cli(&env, &["report"]).await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("Held deactivations (2)"), "{out}");
    assert!(out.contains("scim-sync release-held"), "{out}");
    assert!(
        out.contains("does not release it"),
        "true to sticky holds: {out}"
    );
    env.set("report", "exit_1_on = [\"failures\"]");
    let (code, out, _) = cli(&env, &["report"]).await;
    assert_eq!(code, 0, "{out}");
}

#[tokio::test]
async fn exit_status_failures_is_1_and_output_goes_to_the_file() {
    let env = Env::start(&generate::builtin(), ROOMY).await;
    // One create at a time, so that the first one meets both refusals.
    env.set("kafkaman", "concurrency = 1");
    env.world
        .kafkaman
        .faults()
        .arm(fault("/scim/v2/Users", "POST", 500, 2));
    env.sync().await;
    let file = env.dir.path().join("report.md");
    let (code, out, err) = cli(
        &env,
        &[
            "report",
            "--format",
            "markdown",
            "--since",
            "7d",
            "--output",
            file.to_str().unwrap(),
        ],
    )
    .await;
    let md = std::fs::read_to_string(&file).unwrap();
    assert_eq!(code, 1, "{err}{md}");
    assert!(out.is_empty());
    assert!(md.contains("## Failures since"), "{md}");
    assert!(md.contains("  - request id: `req_"), "{md}");
    env.set("report", "exit_1_on = [\"held\"]");
    let (code, _, _) = cli(&env, &["report"]).await;
    assert_eq!(code, 0);
}

#[tokio::test]
async fn exit_status_missing_database_is_3_and_names_the_path() {
    let env = Env::start(&generate::builtin(), ROOMY).await;
    let missing = env.dir.path().join("never-ran.db");
    let text = std::fs::read_to_string(&env.config_path).unwrap().replace(
        &env.db.display().to_string(),
        &missing.display().to_string(),
    );
    std::fs::write(&env.config_path, text).unwrap();
    for args in [&["report"][..], &["history"][..]] {
        let (code, out, err) = cli(&env, args).await;
        assert_eq!(code, 3, "{args:?}: {out}{err}");
        assert!(err.contains(&missing.display().to_string()), "{err}");
        assert!(err.contains("no cycle has run"), "{err}");
    }
    assert!(!missing.exists(), "the report created the database");
    // A broken config is 78, as for every command.
    std::fs::write(&env.config_path, "[okta]\n").unwrap();
    let (code, _, _) = cli(&env, &["report"]).await;
    assert_eq!(code, 78);
}

#[tokio::test]
async fn history_lists_runs_and_the_operations_of_one() {
    let env = eventful_history().await;
    let list = history::run_list(&env.store, 10).unwrap();
    assert_eq!(list.runs.len(), 3);
    assert_eq!(list.runs[0].result, Some(RunResult::Failed));
    let (code, out, _) = cli(&env, &["history", "--limit", "2"]).await;
    assert_eq!(code, 0);
    assert_eq!(
        out.lines().filter(|l| l.contains("manual")).count(),
        2,
        "{out}"
    );

    let second = list.runs[1].id;
    let (code, out, _) = cli(&env, &["history", &second.to_string(), "--output", "json"]).await;
    assert_eq!(code, 0);
    let detail: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(detail["schema"], "scim-sync/run");
    let ops = detail["operations"].as_array().unwrap();
    let failed: Vec<&serde_json::Value> = ops.iter().filter(|o| o["state"] == "failed").collect();
    assert_eq!(failed.len(), 3, "{out}");
    assert!(failed.iter().all(|o| {
        o["request_id"]
            .as_str()
            .is_some_and(|r| r.starts_with("req_"))
    }));
    assert!(
        failed
            .iter()
            .all(|o| o["reason"].as_str().is_some_and(|r| !r.is_empty()))
    );
    let (_, text, _) = cli(&env, &["history", &second.to_string()]).await;
    assert!(
        text.contains("create new.hire@example.com: failed (HTTP 500, request id req_"),
        "{text}"
    );
    let (code, _, err) = cli(&env, &["history", "999"]).await;
    assert_eq!(code, 3, "{err}");
}

async fn explain(env: &Env, who: &str) -> explain::Explanation {
    explain::explain(&env.config(), Some(&env.store), who)
        .await
        .expect("the state database reads")
}

#[tokio::test]
async fn explain_a_directly_assigned_and_a_group_assigned_user() {
    let env = Env::start(&generate::builtin(), ROOMY).await;
    env.sync().await;
    let writes = env.kafkaman_writes().len();

    let e = explain(&env, "sophie.wilson@example.com").await;
    let direct = explain(&env, b::SOPHIE).await;
    assert_eq!(e.okta.id.as_deref(), Some(b::SOPHIE));
    assert_eq!(direct.okta.id.as_deref(), Some(b::SOPHIE));
    let a = e.okta.assignment.as_ref().expect("assigned");
    assert_eq!(a.scope, AssignmentScope::User);
    let m = e.member.as_ref().expect("member");
    assert!(m.active);
    assert_eq!(m.external_id.as_deref(), Some(b::SOPHIE));
    assert_eq!(e.link.as_ref().unwrap().scim_id, m.scim_id);
    assert!(
        e.operations
            .iter()
            .any(|o| o.kind == OpKind::Create && o.state == OpState::Done)
    );
    assert_eq!(e.decision.len(), 1);
    assert_eq!(e.decision[0].category, DecisionCategory::None);
    let text = explain::text(&e);
    assert!(text.contains("ACTIVE (directly)"), "{text}");
    assert!(text.contains("nothing: the member matches Okta"), "{text}");

    let g = explain(&env, b::GRACE_EMAIL).await;
    let a = g.okta.assignment.as_ref().expect("assigned");
    assert_eq!(a.scope, AssignmentScope::Group);
    assert!(a.groups_error.is_none(), "{a:?}");
    assert!(
        a.groups.iter().any(|gr| gr.id == b::GROUP_ENGINEERING),
        "{a:?}"
    );
    let text = explain::text(&g);
    assert!(text.contains("(through a group)"), "{text}");
    assert!(text.contains("Engineering"), "{text}");
    assert_eq!(
        env.kafkaman_writes().len(),
        writes,
        "explain wrote to kafkaman"
    );
}

#[tokio::test]
async fn explain_a_deactivated_member_and_an_unmanaged_one() {
    let env = Env::start(&generate::builtin(), ROOMY).await;
    env.sync().await;

    let e = explain(&env, b::SUSPENDED_EMAIL).await;
    assert_eq!(e.okta.status, Some(OktaUserStatus::Suspended));
    let m = e.member.as_ref().unwrap();
    assert!(!m.active);
    assert_eq!(m.membership, Membership::Deactivated);
    assert!(
        e.operations
            .iter()
            .any(|o| o.kind == OpKind::Deactivate && o.state == OpState::Done)
    );
    assert_eq!(e.decision[0].category, DecisionCategory::None);
    assert!(e.decision[0].reason.contains("already deactivated"));

    let u = explain(&env, b::UNMANAGED_EMAIL).await;
    assert!(!u.okta.found);
    assert!(u.okta.error.is_none());
    assert!(u.member.as_ref().unwrap().active);
    assert!(u.link.is_none());
    assert_eq!(u.decision[0].category, DecisionCategory::Unmanaged);
    assert!(u.decision[0].rule.contains("never touched"));
    let (code, out, _) = cli(&env, &["explain", b::UNMANAGED_EMAIL, "--output", "json"]).await;
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["decision"][0]["category"], "unmanaged");
    let (code, _, err) = cli(&env, &["explain", "nobody@example.com"]).await;
    assert_eq!(code, 3, "{err}");
}

#[tokio::test]
async fn explain_a_person_with_a_conflicting_invite() {
    let env = Env::start(&generate::builtin(), ROOMY).await;
    // Before any cycle: live data only.
    let e = explain(&env, b::ADMIN_INVITED_EMAIL).await;
    assert!(e.member.is_none());
    assert_eq!(e.invites.len(), 1);
    assert_eq!(e.invites[0].source, InviteSource::Admin);
    let steps: Vec<OpKind> = e.decision.iter().filter_map(|d| d.action).collect();
    assert_eq!(steps, [OpKind::ClearInvite, OpKind::Create]);
    assert!(
        e.decision[0]
            .rule
            .contains("sync.clear_pending_invites = true")
    );
    let text = explain::text(&e);
    assert!(
        text.contains("admin invite from ada.lovelace@example.com"),
        "{text}"
    );
    assert!(
        text.contains("clear_invite: pending admin invite"),
        "{text}"
    );
    assert!(
        env.kafkaman_writes().is_empty(),
        "explain wrote to kafkaman"
    );
    assert_eq!(env.store.count_runs().unwrap(), 0);
}

/// A run that held deactivations is `held` in every format: neither a success nor
/// "never"; and the HTML charts cope with one run and with none.
#[tokio::test]
async fn a_held_run_is_called_held_in_every_format() {
    // No floor under the cap: the builtin org's first run holds its 2 deactivations.
    let env = Env::start(
        &generate::builtin(),
        &[("safety", "min_deactivation_cap = 0")],
    )
    .await;
    assert_eq!(env.sync().await.result, RunResult::Held);
    let held_words = "none recorded (the last cycle, run 1, was held)";

    let (code, text, err) = cli(&env, &["report"]).await;
    assert_eq!(code, 1, "{err}");
    let line = |label: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no {label} line in\n{text}"))
            .to_string()
    };
    assert!(line("Last cycle").ends_with(": held"), "{text}");
    assert!(line("Last success").ends_with(held_words), "{text}");
    let summary = &text[..text.find("\nDrift").expect("a drift section")];
    assert!(!summary.contains("never"), "{summary}");

    let (_, md, _) = cli(&env, &["report", "--format", "markdown"]).await;
    assert!(
        md.contains(&format!("- **Last success:** {held_words}")),
        "{md}"
    );
    assert!(md.contains("**Last cycle:** run 1 at "), "{md}");
    // The release instructions' commands are code spans, not escaped backticks.
    assert!(md.contains("`scim-sync release-held`"), "{md}");
    assert!(!md.contains("\\`"), "{md}");

    let (_, json, _) = cli(&env, &["report", "--format", "json"]).await;
    let r: Report = serde_json::from_str(&json).unwrap();
    assert_eq!(r.summary.last_success, None);
    let last = r.summary.last_run.expect("a last run");
    assert_eq!((last.id, last.result), (1, Some(RunResult::Held)));

    let (_, html, _) = cli(&env, &["report", "--format", "html"]).await;
    assert!(html.contains(held_words), "{html}");
    assert!(
        html.contains("<code style=\"") && html.contains(">scim-sync release-held</code>"),
        "{html}"
    );
    assert!(!html.contains('`'), "a backtick in the HTML");
    assert_eq!(html.matches("<svg ").count(), 3);
    assert_eq!(html.matches("data-runs=\"1\"").count(), 3);
    assert_eq!(
        html.matches("<g data-run=\"1\">").count(),
        1,
        "one bar group"
    );
    assert!(html.contains("<title>run 1 (held): "), "{html}");
    assert!(!html.contains("No runs in this period"));

    // A period without runs: a sentence, not three empty charts.
    let (_, html, _) = cli(
        &env,
        &["report", "--format", "html", "--since", "2999-01-01"],
    )
    .await;
    assert!(html.contains("No runs in this period"), "{html}");
    assert!(!html.contains("<svg"), "{html}");
    assert!(html.contains("Last cycle"), "{html}");
}

/// No snapshot yet is "no data yet" (exit 3), never "in sync"; a bad `--since` is a
/// usage error (64).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_snapshot_is_no_data_yet_and_a_bad_since_is_a_usage_error() {
    let env = Env::start(&generate::builtin(), &[]).await;
    // A dry run reads both sides but keeps no snapshot.
    env.dry_run().await;
    let (code, out, err) = cli(&env, &["report"]).await;
    assert_eq!(code, 3, "{out}{err}");
    assert!(err.contains("no data yet"), "{err}");
    assert!(
        !out.contains("matches Okta") && !out.contains("in sync"),
        "{out}"
    );
    let (code, _, err) = cli(&env, &["report", "--since", "yesterday"]).await;
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("--since \"yesterday\""), "{err}");

    env.sync().await;
    let (code, out, err) = cli(&env, &["report", "--format", "json"]).await;
    assert!(code == 0 || code == 1, "{out}{err}");
}
