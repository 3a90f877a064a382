//! Inline SVG charts of the report period's runs, for the HTML report: no script, no
//! font, no external resource; every number is computed here and written as text.
//!
//! Each chart is a `<figure>` holding an `<svg role="img">` with a `<title>`, a `<desc>`
//! and an `aria-label`, axis titles, a legend and a caption. The SVG scales with
//! `viewBox` and `width:100%`, so it fits a phone; its text is sized for one.
//!
//! The charts (what the state database records per run; it records no seat counts):
//! - operations applied and failures per run (bars),
//! - drift (operations the run planned) and held deactivations per run (lines),
//! - people: assigned in Okta, team members and in sync per run (lines).

use std::collections::HashMap;
use std::fmt::Write;

use super::{Report, RunRow, short_time};
use crate::escape::html as esc;
use crate::store::RunResult;

/// The drawing, in viewBox units.
const W: f64 = 480.0;
const H: f64 = 250.0;
const LEFT: f64 = 46.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 48.0;
const FONT: &str = "font-family=\"sans-serif\" font-size=\"13\" fill=\"#1f2328\"";
const AXIS: &str = "#656d76";
const GRID: &str = "#d8dee4";
const SVG_STYLE: &str = "width:100%;height:auto;display:block";
/// Two charts side by side on a wide screen, one under the other on a phone.
const FIGURE: &str = "display:inline-block;vertical-align:top;width:100%;max-width:450px;\
margin:8px 12px 16px 0";
const CAPTION: &str = "color:#656d76;font-size:13px;margin-top:4px";
/// Most labelled runs on the x axis; the others are ticks only.
const X_LABELS: usize = 6;

/// One line or one kind of bar.
struct Series {
    /// `data-series` in the SVG, for tests and styling.
    key: &'static str,
    label: &'static str,
    color: &'static str,
    /// Dashes tell lines apart without colour.
    dash: Option<&'static str>,
    /// One value per run; None where the run recorded none (a gap).
    values: Vec<Option<u64>>,
}

struct Chart<'a> {
    id: &'static str,
    title: &'static str,
    y_title: &'static str,
    caption: String,
    runs: &'a [RunRow],
    series: Vec<Series>,
}

/// The charts section's content: three figures, or a sentence when there is no run.
pub(super) fn charts(r: &Report) -> String {
    let runs = &r.runs;
    if runs.is_empty() {
        return format!("<p style=\"{CAPTION}\">No runs in this period: nothing to chart.</p>\n");
    }
    let since = short_time(&r.period.since);
    let period = if runs.len() == 1 {
        format!("the one run since {since}")
    } else {
        format!("the {} runs since {since}, oldest first", runs.len())
    };
    let mut failures: HashMap<i64, u64> = HashMap::new();
    for f in &r.failures {
        *failures.entry(f.run_id).or_default() += 1;
    }
    let read_something = |run: &RunRow| run.error.is_none() && run.result.is_some();
    let per_run = |f: &dyn Fn(&RunRow) -> Option<u64>| runs.iter().map(f).collect::<Vec<_>>();
    let mut out = String::new();
    out.push_str(&render(&Chart {
        id: "chart-operations",
        title: "Operations and failures per run",
        y_title: "operations",
        caption: format!(
            "Operations applied and failures in each of {period}. A run that failed \
             as a whole counts as one failure."
        ),
        runs,
        series: vec![
            Series {
                key: "applied",
                label: "applied",
                color: "#2da44e",
                dash: None,
                values: per_run(&|run| Some(run.applied)),
            },
            Series {
                key: "failures",
                label: "failures",
                color: "#cf222e",
                dash: None,
                values: per_run(&|run| Some(failures.get(&run.id).copied().unwrap_or(0))),
            },
        ],
    }));
    out.push_str(&render(&Chart {
        id: "chart-drift",
        title: "Drift and held deactivations per run",
        y_title: "people",
        caption: format!(
            "Drift (the operations each run planned) and deactivations held by the safety \
             cap, in each of {period}. A run that could not read is a gap."
        ),
        runs,
        series: vec![
            Series {
                key: "drift",
                label: "drift",
                color: "#0969da",
                dash: None,
                values: per_run(&|run| read_something(run).then_some(run.planned)),
            },
            Series {
                key: "held",
                label: "held",
                color: "#bf8700",
                dash: Some("6 3"),
                values: per_run(&|run| read_something(run).then_some(run.held)),
            },
        ],
    }));
    out.push_str(&render(&Chart {
        id: "chart-people",
        title: "Assigned, team members and in sync per run",
        y_title: "people",
        caption: format!(
            "People assigned in Okta, kafkaman team members (any state) and people in \
             sync, as each of {period} read them. The state database records no seat \
             counts, so seats are not charted. A run that could not read is a gap."
        ),
        runs,
        series: vec![
            Series {
                key: "assigned",
                label: "assigned in Okta",
                color: "#8250df",
                dash: None,
                values: per_run(&|run| run.assigned.filter(|_| read_something(run))),
            },
            Series {
                key: "members",
                label: "team members",
                color: "#0969da",
                dash: Some("6 3"),
                values: per_run(&|run| run.members.filter(|_| read_something(run))),
            },
            Series {
                key: "in_sync",
                label: "in sync",
                color: "#2da44e",
                dash: Some("2 3"),
                values: per_run(&|run| run.in_sync.filter(|_| read_something(run))),
            },
        ],
    }));
    out
}

/// A round top for the y axis and its step: 1, 2 or 5 × 10ⁿ, four steps or fewer.
fn y_scale(max: u64) -> (u64, u64) {
    let mut step = 1u64;
    'outer: for magnitude in 0..19u32 {
        for m in [1u64, 2, 5] {
            step = m.saturating_mul(10u64.saturating_pow(magnitude));
            if step.saturating_mul(4) >= max {
                break 'outer;
            }
        }
    }
    let top = max.div_ceil(step).max(1).saturating_mul(step);
    (top, step)
}

/// The runs labelled on the x axis: all of them when few, else evenly spread ones
/// (always the first and the last).
fn labelled(n: usize) -> Vec<usize> {
    if n <= X_LABELS {
        return (0..n).collect();
    }
    let mut out: Vec<usize> = (0..X_LABELS)
        .map(|k| (k * (n - 1) + (X_LABELS - 1) / 2) / (X_LABELS - 1))
        .collect();
    out.dedup();
    out
}

fn result_word(run: &RunRow) -> &'static str {
    run.result.map_or("running", RunResult::as_str)
}

fn render(c: &Chart<'_>) -> String {
    let bars = c.id == "chart-operations";
    let n = c.runs.len();
    let max = c
        .series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .copied()
        .max()
        .unwrap_or(0);
    let (top, step) = y_scale(max);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let bottom = TOP + plot_h;
    let slot = plot_w / n as f64;
    let x_mid = |i: usize| LEFT + slot * (i as f64 + 0.5);
    let y_of = |v: u64| bottom - plot_h * (v as f64 / top as f64);

    let mut s = String::new();
    let _ = write!(
        s,
        "<figure style=\"{FIGURE}\">\n<svg xmlns=\"http://www.w3.org/2000/svg\" \
         viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{title}\" \
         aria-describedby=\"{id}-desc\" data-chart=\"{id}\" data-runs=\"{n}\" \
         style=\"{SVG_STYLE}\">\n<title>{title}</title>\n<desc id=\"{id}-desc\">{desc}</desc>\n",
        title = esc(c.title),
        id = c.id,
        desc = esc(&c.caption),
    );

    // Legend, along the top.
    let mut lx = LEFT;
    for series in &c.series {
        let _ = writeln!(
            s,
            "<rect x=\"{lx:.1}\" y=\"8\" width=\"12\" height=\"12\" fill=\"{}\" />\
             <text x=\"{:.1}\" y=\"18.5\" {FONT}>{}</text>",
            series.color,
            lx + 16.0,
            esc(series.label)
        );
        lx += 16.0 + 7.2 * series.label.chars().count() as f64 + 18.0;
    }

    // Y axis: grid lines and their values, and the axis title.
    let mut v = 0;
    while v <= top {
        let y = y_of(v);
        let _ = writeln!(
            s,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"{GRID}\" \
             stroke-width=\"1\" />\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" {FONT}>{v}</text>",
            W - RIGHT,
            LEFT - 5.0,
            y + 4.5
        );
        v += step;
    }
    let _ = writeln!(
        s,
        "<text transform=\"translate(13 {:.1}) rotate(-90)\" text-anchor=\"middle\" {FONT}>{}</text>",
        TOP + plot_h / 2.0,
        esc(c.y_title)
    );
    let _ = writeln!(
        s,
        "<line x1=\"{LEFT}\" y1=\"{bottom:.1}\" x2=\"{:.1}\" y2=\"{bottom:.1}\" stroke=\"{AXIS}\" \
         stroke-width=\"1\" />",
        W - RIGHT
    );

    // X axis: the run ids of a few runs, and the axis title.
    for i in labelled(n) {
        let x = x_mid(i);
        let _ = writeln!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{bottom:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"{AXIS}\" />\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" {FONT}>{}</text>",
            bottom + 4.0,
            bottom + 17.0,
            c.runs[i].id
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" {FONT}>run (oldest to newest)</text>",
        LEFT + plot_w / 2.0,
        H - 8.0
    );

    if bars {
        draw_bars(&mut s, c, slot, &y_of, bottom);
    } else {
        draw_lines(&mut s, c, &x_mid, &y_of);
    }
    let _ = write!(
        s,
        "</svg>\n<figcaption style=\"{CAPTION}\"><strong>{}.</strong> {}</figcaption>\n</figure>\n",
        esc(c.title),
        esc(&c.caption)
    );
    s
}

/// One group per run, one bar per series side by side; a run's tooltip names its result.
fn draw_bars(s: &mut String, c: &Chart<'_>, slot: f64, y_of: &dyn Fn(u64) -> f64, bottom: f64) {
    let k = c.series.len() as f64;
    let group = slot * 0.8;
    let width = group / k;
    for (i, run) in c.runs.iter().enumerate() {
        let figures: Vec<String> = c
            .series
            .iter()
            .map(|series| {
                let v = series.values.get(i).copied().flatten().unwrap_or(0);
                format!("{v} {}", series.label)
            })
            .collect();
        let _ = write!(
            s,
            "<g data-run=\"{}\"><title>run {} ({}): {}</title>",
            run.id,
            run.id,
            result_word(run),
            esc(&figures.join(", "))
        );
        for (j, series) in c.series.iter().enumerate() {
            let v = series.values.get(i).copied().flatten().unwrap_or(0);
            let y = y_of(v);
            let x = LEFT + slot * i as f64 + (slot - group) / 2.0 + width * j as f64;
            let _ = write!(
                s,
                "<rect data-series=\"{}\" x=\"{x:.2}\" y=\"{y:.2}\" width=\"{width:.2}\" \
                 height=\"{:.2}\" fill=\"{}\" />",
                series.key,
                bottom - y,
                series.color
            );
        }
        s.push_str("</g>\n");
    }
}

/// A polyline per series (broken where a run recorded nothing) and a point per run.
fn draw_lines(
    s: &mut String,
    c: &Chart<'_>,
    x_mid: &dyn Fn(usize) -> f64,
    y_of: &dyn Fn(u64) -> f64,
) {
    let radius = if c.runs.len() > 60 { 1.5 } else { 3.5 };
    for series in &c.series {
        let dash = series
            .dash
            .map(|d| format!(" stroke-dasharray=\"{d}\""))
            .unwrap_or_default();
        // Consecutive known values make one line; a gap starts the next.
        let mut segments: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for (i, v) in series.values.iter().enumerate() {
            match v {
                Some(v) => {
                    if let Some(seg) = segments.last_mut() {
                        seg.push((x_mid(i), y_of(*v)));
                    }
                }
                None => segments.push(Vec::new()),
            }
        }
        for seg in segments.iter().filter(|seg| seg.len() > 1) {
            let points: Vec<String> = seg.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
            let _ = writeln!(
                s,
                "<polyline data-series=\"{}\" points=\"{}\" fill=\"none\" stroke=\"{}\" \
                 stroke-width=\"2\"{dash} />",
                series.key,
                points.join(" "),
                series.color
            );
        }
        for (i, v) in series.values.iter().enumerate() {
            if let Some(v) = v {
                let run = &c.runs[i];
                let _ = writeln!(
                    s,
                    "<circle data-series=\"{}\" data-run=\"{}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"{radius}\" \
                     fill=\"{}\"><title>run {} ({}): {v} {}</title></circle>",
                    series.key,
                    run.id,
                    x_mid(i),
                    y_of(*v),
                    series.color,
                    run.id,
                    result_word(run),
                    esc(series.label)
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn y_axis_tops_are_round_and_cover_the_data() {
        assert_eq!(y_scale(0), (1, 1));
        assert_eq!(y_scale(1), (1, 1));
        assert_eq!(y_scale(3), (3, 1));
        assert_eq!(y_scale(17), (20, 5));
        assert_eq!(y_scale(40), (40, 10));
        assert_eq!(y_scale(41), (60, 20));
        assert_eq!(y_scale(999), (1000, 500));
        for max in 0..2000 {
            let (top, step) = y_scale(max);
            assert!(top >= max && top / step <= 4 && top % step == 0, "{max}");
        }
    }

    #[test]
    fn x_labels_are_spread_and_keep_both_ends() {
        assert_eq!(labelled(0), Vec::<usize>::new());
        assert_eq!(labelled(1), [0]);
        assert_eq!(labelled(6), [0, 1, 2, 3, 4, 5]);
        let l = labelled(288);
        assert_eq!(l.len(), X_LABELS);
        assert_eq!((l[0], l[X_LABELS - 1]), (0, 287));
        assert!(l.windows(2).all(|w| w[0] < w[1]));
    }
}
