//! The rendering an operator scrapes, through a recorder local to each test.

use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;

use super::*;

/// Renders what `record` recorded, as `/metrics` would serve it.
fn rendered(record: impl FnOnce()) -> String {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(CYCLE_DURATION.to_string()), &[1.0, 10.0])
        .expect("buckets")
        .build_recorder();
    let handle = recorder.handle();
    ::metrics::with_local_recorder(&recorder, || {
        describe::describe();
        record();
    });
    handle.render()
}

const RESULTS: &[&str] = &[
    "success",
    "partial",
    "held",
    "failed",
    "interrupted",
    "planned",
];

fn labels() -> KnownLabels<'static> {
    KnownLabels {
        results: RESULTS,
        op_kinds: &["deactivate", "create"],
        op_outcomes: &["done", "failed"],
        apis: &["okta", "kafkaman"],
        api_statuses: &["transport", "503"],
        cycle_kinds: &["full", "incremental"],
        modes: &["apply"],
    }
}

fn has_line(text: &str, line: &str) -> bool {
    text.lines().any(|l| l == line)
}

#[test]
fn every_counter_is_exported_at_zero_for_each_known_label_value() {
    let text = rendered(|| export_zeros(&labels()));
    for result in RESULTS {
        assert!(
            has_line(&text, &format!("{CYCLES}{{result=\"{result}\"}} 0")),
            "{text}"
        );
    }
    for kind in ["deactivate", "create"] {
        for outcome in ["done", "failed"] {
            let line = format!("{OPERATIONS}{{kind=\"{kind}\",outcome=\"{outcome}\"}} 0");
            assert!(has_line(&text, &line), "{line} in {text}");
        }
    }
    assert!(
        has_line(
            &text,
            &format!("{API_REQUESTS}{{api=\"kafkaman\",status=\"transport\"}} 0")
        ),
        "{text}"
    );
    assert!(
        has_line(
            &text,
            &format!("{CYCLES_BY_KIND}{{kind=\"incremental\",mode=\"apply\"}} 0")
        ),
        "{text}"
    );
    assert!(
        has_line(&text, &format!("{RELOADS}{{outcome=\"rejected\"}} 0")),
        "{text}"
    );
    assert!(has_line(&text, &format!("{TICKS_SKIPPED} 0")), "{text}");
    assert!(
        has_line(&text, &format!("{CYCLE_DURATION}_count 0")),
        "{text}"
    );
}

#[test]
fn the_last_run_result_is_one_hot_over_the_known_results() {
    let text = rendered(|| {
        export_zeros(&labels());
        cycle_finished("success", true, Duration::from_secs(1), None);
        cycle_finished("failed", false, Duration::from_secs(1), None);
    });
    for result in RESULTS {
        let value = if *result == "failed" { 1 } else { 0 };
        let line = format!("{LAST_RUN_RESULT}{{result=\"{result}\"}} {value}");
        assert!(has_line(&text, &line), "{line} in {text}");
    }
}

#[test]
fn okta_buckets_export_their_limit_remaining_and_use() {
    let text = rendered(|| rate_limit_remaining("okta", "apps", 30, 100));
    for line in [
        format!("{OKTA_RATE_LIMIT_LIMIT}{{bucket=\"apps\"}} 100"),
        format!("{OKTA_RATE_LIMIT_REMAINING}{{bucket=\"apps\"}} 30"),
        format!("{OKTA_RATE_LIMIT_USED}{{bucket=\"apps\"}} 70"),
    ] {
        assert!(has_line(&text, &line), "{line} in {text}");
    }
}

#[test]
fn a_planned_cycle_exports_held_attention_and_seats_once_each() {
    let text = rendered(|| {
        cycle_finished(
            "held",
            true,
            Duration::from_secs(2),
            Some(CycleCounts {
                held: 2,
                attention: 3,
                managed: 5,
                unmanaged: 1,
                seats_used: 6,
                outcomes: &[],
            }),
        )
    });
    for line in [
        format!("{HELD_DEACTIVATIONS} 2"),
        format!("{NEEDS_ATTENTION} 3"),
        format!("{KAFKAMAN_SEATS_USED} 6"),
    ] {
        assert!(has_line(&text, &line), "{line} in {text}");
    }
    assert!(!text.contains("scim_sync_held_actions"), "{text}");
}
