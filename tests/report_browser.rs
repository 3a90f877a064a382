//! The HTML report in a real browser: headless Chromium renders a report of a history
//! with every kind of run, at desktop width (1280 px) and phone width (420 px). It checks
//! the DOM Chromium built (the charts, one bar or point per run; no empty header cell; no
//! backtick), the layout (nothing wider than a phone) and that the screenshots show a
//! page.
//!
//! Needs `chromium` (Debian package; `scripts/test` installs it). Without it the test
//! says so loudly and passes, unless `SCIM_SYNC_REQUIRE_BROWSER` is set (as
//! `scripts/test` does): then it fails. `CHROMIUM` names another binary;
//! `SCIM_SYNC_BROWSER_OUT=<dir>` keeps the report and the screenshots there to look at.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use common::Env;
use scim_sync::store::RunResult;
use scim_sync::sync::CycleOptions;
use scim_sync_sim::generate::{self, builtin_ids as b};
use scim_sync_sim::scenario::InviteSpec;
use scim_sync_sim::{FaultKind, FaultSpec};

/// A pending invite with an address too long for a phone's width.
const LONG_EMAIL: &str =
    "a.very.long.contractor.address.that.does.not.stop@subsidiary-engineering.example.com";

fn find_chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
}

/// The browser, or None (after a loud message) when it is missing and not required.
fn chromium_or_skip() -> Option<PathBuf> {
    match find_chromium() {
        Some(p) => Some(p),
        None if std::env::var_os("SCIM_SYNC_REQUIRE_BROWSER").is_some() => panic!(
            "SCIM_SYNC_REQUIRE_BROWSER is set but no chromium was found \
             (apt-get install chromium, or set CHROMIUM)"
        ),
        None => {
            // Straight to stderr: libtest captures `eprintln!` of passing tests.
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                b"\n########################################################################\n\
                  # SKIPPED: the HTML report browser test needs chromium (not found).   #\n\
                  # apt-get install chromium, or set CHROMIUM=/path/to/chrome.          #\n\
                  # Set SCIM_SYNC_REQUIRE_BROWSER=1 to make this a failure.             #\n\
                  ########################################################################\n",
            );
            None
        }
    }
}

/// Runs headless Chromium on `page` with `args`, a fresh profile, no network use.
async fn chromium(browser: &Path, page: &Path, width: u32, args: &[String]) -> Output {
    let profile = tempfile::tempdir().expect("profile dir");
    let mut cmd = tokio::process::Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .arg(format!("--window-size={width},2000"))
    .args(args)
    .arg(format!("file://{}", page.display()))
    .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(180), cmd.output())
        .await
        .expect("chromium finished within 3 minutes")
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

async fn dump_dom(browser: &Path, page: &Path, width: u32) -> String {
    let out = chromium(browser, page, width, &["--dump-dom".to_string()]).await;
    String::from_utf8(out.stdout).expect("DOM is UTF-8")
}

/// A history with every kind of run: held, partial (the release, with a create that
/// fails), success (the create again), planned (a dry run), failed, and held again.
async fn history() -> Env {
    let mut scenario = generate::builtin();
    scenario.kafkaman.invites.push(InviteSpec {
        email: LONG_EMAIL.into(),
        source: "link".into(),
        invited_by: Some(b::ADA_EMAIL.into()),
        age_days: 40,
    });
    // No floor under the cap: the first run holds the builtin org's 2 deactivations.
    let env = Env::start(&scenario, &[("safety", "min_deactivation_cap = 0")]).await;
    let mut results = vec![env.sync().await.result];

    // The holds released, and kafkaman refuses the create of a newly assigned person: a
    // partial run (held work would make it held: it outranks partial).
    env.world.okta.assign_user(b::UNASSIGNED).unwrap();
    env.world.kafkaman.faults().arm(FaultSpec {
        route: "/scim/v2/Users".into(),
        method: Some("POST".into()),
        kind: FaultKind::Status { status: 500 },
        count: 1,
        after: 0,
    });
    let released = env
        .cycle_with(CycleOptions {
            release: scim_sync::sync::Release::LastHeld,
            ..Default::default()
        })
        .await
        .expect("released");
    results.push(released.result);
    env.world.kafkaman.faults().clear();
    results.push(env.sync().await.result);
    results.push(env.dry_run().await.result);

    // Okta is down for a full cycle: the run fails as a whole.
    env.set("okta", "max_retries = 0");
    let okta = &env.world.okta;
    okta.faults().arm(FaultSpec {
        route: format!("/api/v1/apps/{}/users", okta.app_id()),
        method: None,
        kind: FaultKind::Status { status: 503 },
        count: 1,
        after: 0,
    });
    env.cycle_with(CycleOptions {
        full: true,
        ..Default::default()
    })
    .await
    .expect_err("Okta is down");
    okta.faults().clear();
    results.push(RunResult::Failed);

    // Two people lose access, one deactivation is allowed: held again.
    env.set("safety", "max_deactivations = 1");
    okta.remove_group_member(b::GROUP_PLATFORM, b::DENNIS)
        .unwrap();
    okta.unassign_user(b::SOPHIE).unwrap();
    results.push(env.sync().await.result);
    assert_eq!(
        results,
        [
            RunResult::Held,
            RunResult::Partial,
            RunResult::Success,
            RunResult::Planned,
            RunResult::Failed,
            RunResult::Held
        ]
    );
    env
}

/// `scim-sync report --format html --output <file>`, as a user runs it.
async fn write_report(env: &Env, file: &Path) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_scim-sync"))
        .args(["report", "--format", "html", "--since", "7d", "--output"])
        .arg(file)
        .arg("--config")
        .arg(&env.config_path)
        .env_remove("SCIM_SYNC_CONFIG")
        .output()
        .await
        .expect("binary runs");
    // 1: drift or failures need a human; the report is written either way.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The part of `dom` from the chart `id`'s `<svg>` to its end.
fn svg_of<'a>(dom: &'a str, id: &str) -> &'a str {
    let attr = dom
        .find(&format!("data-chart=\"{id}\""))
        .unwrap_or_else(|| panic!("no chart {id} in the DOM"));
    let start = dom[..attr].rfind("<svg").expect("the svg starts");
    let len = dom[start..].find("</svg>").expect("the svg ends");
    &dom[start..start + len]
}

/// Header cells with nothing in them (`<th ...></th>` or only whitespace).
fn empty_header_cells(dom: &str) -> usize {
    dom.match_indices("<th")
        .filter(|(at, _)| {
            let rest = &dom[at + 3..];
            // `<thead>` is not a cell.
            if !rest.starts_with([' ', '>']) {
                return false;
            }
            let open_end = rest.find('>').unwrap_or(0) + 1;
            let close = rest.find("</th>").unwrap_or(open_end);
            rest[open_end..close].trim().is_empty()
        })
        .count()
}

/// Escapes the report for an attribute value (`srcdoc`).
fn attr(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A test-only page that shows the report in a `width` px wide frame, measures its
/// layout with a script and writes the figures as JSON into the page, for `--dump-dom`.
/// The report itself has no script. A frame, because Chromium's window is never
/// narrower than 500 px: at 420 px the page would be laid out 500 px wide.
fn frame_page(report: &str, width: u32) -> String {
    format!(
        r#"<!DOCTYPE html>
<html><head><meta charset="utf-8" /><title>probe</title></head>
<body style="margin:0">
<iframe id="report" style="border:0;display:block;width:{width}px;height:2000px" srcdoc="{}"></iframe>
<script>
var frame = document.getElementById("report");
frame.addEventListener("load", function () {{
  var doc = frame.contentDocument, de = doc.documentElement;
  var all = function (sel) {{ return Array.prototype.slice.call(doc.querySelectorAll(sel)); }};
  var charts = all("svg[data-chart]").map(function (s) {{
    var r = s.getBoundingClientRect();
    return {{ id: s.getAttribute("data-chart"), width: r.width, height: r.height, right: r.right }};
  }});
  // Overflow inside a scrolling box is what the box is for.
  var boxes = all("div").filter(function (d) {{
    return frame.contentWindow.getComputedStyle(d).overflowX === "auto";
  }});
  var widest = 0;
  all("body *").forEach(function (e) {{
    var inBox = boxes.some(function (b) {{ return b !== e && b.contains(e); }});
    var r = e.getBoundingClientRect();
    if (!inBox && r.width > 0) {{ widest = Math.max(widest, r.right); }}
  }});
  var out = {{
    innerWidth: frame.contentWindow.innerWidth,
    clientWidth: de.clientWidth,
    scrollWidth: de.scrollWidth,
    widest: widest,
    boxes: boxes.length,
    scrolling: boxes.filter(function (b) {{ return b.scrollWidth > b.clientWidth + 1; }})
      .map(function (b) {{ return Array.prototype.map.call(b.querySelectorAll("thead th"),
        function (th) {{ return th.textContent; }}).join(","); }}),
    charts: charts,
    codes: all("code").map(function (c) {{ return c.textContent; }}),
    text: doc.body.innerText
  }};
  var pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
}});
</script>
</body></html>
"#,
        attr(report)
    )
}

/// Lays the report out `width` px wide; returns what the probe measured.
async fn probe(browser: &Path, page: &Path) -> serde_json::Value {
    let dom = dump_dom(browser, page, 1280).await;
    let start = dom
        .find("<pre id=\"probe\">")
        .unwrap_or_else(|| panic!("the probe did not run:\n{dom}"))
        + "<pre id=\"probe\">".len();
    let end = start + dom[start..].find("</pre>").expect("probe ends");
    let json = dom[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&");
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("probe JSON: {e}: {json}"))
}

/// Decodes a screenshot; checks its size and that it shows something.
fn check_screenshot(path: &Path, width: u32) {
    let file = std::fs::File::open(path).expect("screenshot written");
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("PNG decodes");
    assert_eq!(
        (info.width, info.height),
        (width, 2000),
        "{}",
        path.display()
    );
    let px = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(px).collect();
    let mut colours: Vec<&[u8]> = pixels.clone();
    colours.sort_unstable();
    colours.dedup();
    let white = |p: &&[u8]| p.iter().take(3).all(|c| *c > 245);
    let inked = pixels.iter().filter(|p| !white(p)).count();
    // Text, tables and three charts: many colours, and a good part of the page inked.
    assert!(
        colours.len() > 50,
        "{}: only {} colours: a blank page?",
        path.display(),
        colours.len()
    );
    assert!(
        inked * 50 > pixels.len(),
        "{}: only {inked} of {} pixels are not white",
        path.display(),
        pixels.len()
    );
}

#[tokio::test]
async fn html_report_renders_in_chromium_at_desktop_and_phone_width() {
    let Some(browser) = chromium_or_skip() else {
        return;
    };
    let env = history().await;
    let dir = match std::env::var_os("SCIM_SYNC_BROWSER_OUT") {
        Some(d) => {
            std::fs::create_dir_all(&d).expect("output dir");
            PathBuf::from(d)
        }
        None => env.dir.path().join("browser"),
    };
    std::fs::create_dir_all(&dir).expect("output dir");
    let dir = dir.canonicalize().expect("absolute dir");
    let file = dir.join("report.html");
    write_report(&env, &file).await;
    let report = std::fs::read_to_string(&file).expect("report written");
    let runs = 6;

    // The DOM Chromium built from the report as is (no script).
    let dom = dump_dom(&browser, &file, 1280).await;
    assert_eq!(dom.matches("data-chart=\"").count(), 3, "three charts");
    let ops = svg_of(&dom, "chart-operations");
    assert!(ops.contains(&format!("data-runs=\"{runs}\"")));
    assert_eq!(ops.matches("<g data-run=").count(), runs, "{ops}");
    assert_eq!(
        ops.matches("<rect data-series=\"applied\"").count(),
        runs,
        "one applied bar per run: {ops}"
    );
    assert_eq!(ops.matches("<rect data-series=\"failures\"").count(), runs);
    assert!(
        ops.contains("run 5 (failed)"),
        "tooltips name results: {ops}"
    );
    // The failed run read nothing: a gap in the line charts, not a zero.
    let drift = svg_of(&dom, "chart-drift");
    assert_eq!(
        drift.matches("<circle data-series=\"drift\"").count(),
        runs - 1
    );
    assert_eq!(
        drift.matches("<circle data-series=\"held\"").count(),
        runs - 1
    );
    assert!(drift.contains("run 6 (held)"), "{drift}");
    let people = svg_of(&dom, "chart-people");
    for series in ["assigned", "members", "in_sync"] {
        assert_eq!(
            people
                .matches(&format!("<circle data-series=\"{series}\""))
                .count(),
            runs - 1,
            "{series}"
        );
    }
    for chart in [ops, drift, people] {
        assert!(chart.contains("<title>"), "a chart without a title");
        assert!(chart.contains("aria-label=\""));
        assert!(chart.contains("run (oldest to newest)"), "x axis title");
    }
    assert_eq!(empty_header_cells(&dom), 0, "an empty header cell");
    assert!(!dom.contains('`'), "a backtick in the rendered report");
    assert!(dom.contains("<meta name=\"viewport\""));

    for width in [420, 1280] {
        let page = dir.join(format!("frame-{width}.html"));
        std::fs::write(&page, frame_page(&report, width)).expect("write the frame page");
        let p = probe(&browser, &page).await;
        let num = |k: &str| p[k].as_f64().unwrap_or_else(|| panic!("{k} in {p}"));
        assert_eq!(
            num("innerWidth"),
            f64::from(width),
            "the window is {width} px"
        );
        assert!(
            num("scrollWidth") <= num("clientWidth") && num("scrollWidth") <= f64::from(width),
            "the page scrolls sideways at {width} px: {p}"
        );
        assert!(
            num("widest") <= num("clientWidth") + 0.5,
            "something sticks out at {width} px: {p}"
        );
        eprintln!("at {width} px: scrolling tables {}", p["scrolling"]);
        let charts = p["charts"].as_array().expect("charts");
        assert_eq!(charts.len(), 3);
        for c in charts {
            let w = c["width"].as_f64().unwrap_or(0.0);
            // The charts' text is 13 viewBox units on a 480-unit width: readable (10 px
            // or more) when the chart is at least 370 px wide.
            assert!(
                w >= 370.0 && c["right"].as_f64().unwrap_or(f64::MAX) <= num("clientWidth"),
                "chart at {width} px: {c}"
            );
            assert!(c["height"].as_f64().unwrap_or(0.0) > 150.0, "{c}");
        }
        let text = p["text"].as_str().expect("text");
        assert!(!text.contains('`'), "backtick in the text at {width} px");
        let codes: Vec<&str> = p["codes"]
            .as_array()
            .expect("codes")
            .iter()
            .filter_map(|c| c.as_str())
            .collect();
        // The release instructions: commands as code, not as backticks.
        assert_eq!(
            codes,
            [
                "scim-sync --dry-run",
                "scim-sync release-held",
                "scim-sync release-held EMAIL…"
            ]
        );
        assert!(
            text.contains("To release: read them (scim-sync --dry-run)"),
            "{text}"
        );
    }

    // Screenshots of the frame pages: at 420 px the window (500 px at least) is cut to
    // the frame's 420 px.
    for width in [1280, 420] {
        let png = dir.join(format!("report-{width}.png"));
        chromium(
            &browser,
            &dir.join(format!("frame-{width}.html")),
            width,
            &[format!("--screenshot={}", png.display())],
        )
        .await;
        check_screenshot(&png, width);
    }
}

#[test]
fn empty_header_cells_are_counted() {
    let dom = "<table><thead><tr><th style=\"a\"></th><th>Run</th><th> </th></tr></thead>\
               <tbody><tr><th scope=\"row\">Drift</th><td></td></tr></tbody></table>";
    assert_eq!(empty_header_cells(dom), 2);
}
