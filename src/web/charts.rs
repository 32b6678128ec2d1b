//! Server-rendered SVG charts: plain markup with `<title>` tooltips, no script. This file
//! computes the geometry (a [`Chart`] of shapes); the `chart` macro of
//! `templates/staff_macros.html` draws it, escaping every label that comes from data.

use serde::Serialize;

const W: f64 = 960.0;
pub const GREEN: &str = "#12b76a";
pub const RED: &str = "#f04438";
pub const BLUE: &str = "#2e5bff";
pub const LIGHT_BLUE: &str = "#93adff";
pub const GREY: &str = "#98a2b3";
const TRACK: &str = "#eef0f3";

/// One slot of a time chart (an hour or a day); `runs == 0` is a gap.
#[derive(Debug, Clone, Default)]
pub struct Slot {
    pub label: String,
    pub runs: u64,
    pub failures: u64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
}

/// A chart for the `chart` template macro: shapes in a `w` × `h` view box, or a sentence
/// (`empty`) when there is nothing to draw.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Chart {
    pub empty: Option<&'static str>,
    pub w: f64,
    pub h: f64,
    /// What the chart shows, for screen readers.
    pub label: String,
    /// Drawn for half a page (its labels stay readable at a smaller scale).
    pub narrow: bool,
    pub shapes: Vec<Shape>,
}

/// One SVG element; numbers are rounded to a tenth.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Shape {
    Rect {
        x: f64,
        y: f64,
        w: f64,
        h: f64,
        fill: &'static str,
        opacity: Option<f64>,
        rx: Option<f64>,
        title: Option<String>,
    },
    /// A muted label.
    Text {
        x: f64,
        y: f64,
        anchor: &'static str,
        text: String,
    },
    /// A horizontal grid line from `x1` to `x2`.
    Line { x1: f64, x2: f64, y: f64 },
    Polyline {
        points: String,
        stroke: &'static str,
    },
    /// A dot with a tooltip.
    Circle {
        x: f64,
        y: f64,
        fill: &'static str,
        title: String,
    },
}

fn r1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

impl Chart {
    fn empty(why: &'static str) -> Chart {
        Chart {
            empty: Some(why),
            ..Chart::default()
        }
    }

    fn new(w: f64, h: f64, label: &str) -> Chart {
        Chart {
            w,
            h: r1(h),
            label: label.to_owned(),
            ..Chart::default()
        }
    }

    fn text(&mut self, x: f64, y: f64, anchor: &'static str, text: impl Into<String>) {
        self.shapes.push(Shape::Text {
            x: r1(x),
            y: r1(y),
            anchor,
            text: text.into(),
        });
    }

    fn hline(&mut self, y: f64, x0: f64) {
        self.shapes.push(Shape::Line {
            x1: x0,
            x2: W,
            y: r1(y),
        });
    }

    fn rect(
        &mut self,
        (x, y, w, h): (f64, f64, f64, f64),
        fill: &'static str,
        opacity: Option<f64>,
        rx: Option<f64>,
        title: Option<String>,
    ) {
        self.shapes.push(Shape::Rect {
            x: r1(x),
            y: r1(y),
            w: r1(w),
            h: r1(h),
            fill,
            opacity: opacity.map(|o| (o * 100.0).round() / 100.0),
            rx,
            title,
        });
    }
}

/// Four axis steps of whole numbers (for counts): the top is a multiple of 4.
fn count_max(v: u64) -> f64 {
    (v.max(1).div_ceil(4) * 4) as f64
}

/// A round number at or above `v` for an axis top.
fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    for step in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if v <= step * mag {
            return step * mag;
        }
    }
    10.0 * mag
}

fn fmt_num(v: f64) -> String {
    if v >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Uptime per slot as bars (green: passed share, red: failed share, nothing: no runs).
pub fn uptime(slots: &[Slot], label: &str) -> Chart {
    if slots.iter().all(|s| s.runs == 0) {
        return Chart::empty("No runs recorded in this period yet.");
    }
    let (x0, top, h) = (40.0, 8.0, 110.0);
    let bar = (W - x0) / slots.len() as f64;
    let mut c = Chart::new(W, top + h + 24.0, label);
    for (pct, y) in [(100, top), (50, top + h / 2.0), (0, top + h)] {
        c.hline(y, x0);
        c.text(x0 - 6.0, y + 4.0, "end", format!("{pct}%"));
    }
    for (i, s) in slots.iter().enumerate() {
        let x = x0 + i as f64 * bar;
        if s.runs == 0 {
            continue;
        }
        let up = 1.0 - s.failures as f64 / s.runs as f64;
        let ok_h = h * up;
        let tip = format!(
            "{}: {:.2}% up ({} runs, {} failed)",
            s.label,
            100.0 * up,
            s.runs,
            s.failures
        );
        let w = (bar - 1.0).max(0.5);
        c.rect(
            (x + 0.5, top + h - ok_h, w, ok_h),
            GREEN,
            Some(0.8),
            None,
            Some(tip.clone()),
        );
        if s.failures > 0 {
            c.rect(
                (x + 0.5, top, w, h - ok_h),
                RED,
                Some(0.85),
                None,
                Some(tip),
            );
        }
    }
    axis_labels(&mut c, slots, x0, bar, top + h + 16.0);
    c
}

/// Latency p50 and p95 per slot as two lines with dots; slots without a measurement are gaps.
pub fn latency(slots: &[Slot], label: &str) -> Chart {
    let max = slots
        .iter()
        .filter_map(|s| s.p95_ms.or(s.p50_ms))
        .fold(0.0_f64, f64::max);
    if max <= 0.0 {
        return Chart::empty("No latency measured in this period yet.");
    }
    let (x0, top, h) = (56.0, 10.0, 130.0);
    let ymax = nice_max(max);
    let bar = (W - x0) / slots.len() as f64;
    let mut c = Chart::new(W, top + h + 42.0, label);
    for i in 0..=4 {
        let v = ymax * f64::from(i) / 4.0;
        let y = top + h - h * v / ymax;
        c.hline(y, x0);
        c.text(x0 - 6.0, y + 4.0, "end", format!("{} ms", fmt_num(v)));
    }
    for (pick, color, name) in [(0usize, LIGHT_BLUE, "p50"), (1, BLUE, "p95")] {
        let mut segments: Vec<Vec<(f64, f64, String)>> = vec![Vec::new()];
        for (i, s) in slots.iter().enumerate() {
            let v = if pick == 0 { s.p50_ms } else { s.p95_ms };
            match v {
                Some(v) => segments.last_mut().expect("one").push((
                    r1(x0 + (i as f64 + 0.5) * bar),
                    r1(top + h - h * v / ymax),
                    format!("{}: {name} {} ms", s.label, fmt_num(v)),
                )),
                None => segments.push(Vec::new()),
            }
        }
        for seg in segments.iter().filter(|s| !s.is_empty()) {
            if seg.len() > 1 {
                let points: Vec<String> = seg.iter().map(|(x, y, _)| format!("{x},{y}")).collect();
                c.shapes.push(Shape::Polyline {
                    points: points.join(" "),
                    stroke: color,
                });
            }
            for (x, y, tip) in seg {
                c.shapes.push(Shape::Circle {
                    x: *x,
                    y: *y,
                    fill: color,
                    title: tip.clone(),
                });
            }
        }
    }
    axis_labels(&mut c, slots, x0, bar, top + h + 16.0);
    let ly = top + h + 26.0;
    c.rect((x0, ly, 10.0, 10.0), LIGHT_BLUE, None, None, None);
    c.text(x0 + 14.0, top + h + 35.0, "start", "p50");
    c.rect((x0 + 50.0, ly, 10.0, 10.0), BLUE, None, None, None);
    c.text(x0 + 64.0, top + h + 35.0, "start", "p95");
    c
}

/// About eight evenly spread slot labels under a time chart, the last slot's always (and the
/// one before it dropped when they would overlap).
fn axis_labels(c: &mut Chart, slots: &[Slot], x0: f64, bar: f64, y: f64) {
    let every = slots.len().div_ceil(8).max(1);
    let last = slots.len().saturating_sub(1);
    for (i, s) in slots.iter().enumerate() {
        let spaced = i % every == 0 && (i == last || last - i >= every);
        if i == last {
            c.text(x0 + (i as f64 + 1.0) * bar, y, "end", s.label.clone());
        } else if spaced {
            c.text(x0 + (i as f64 + 0.5) * bar, y, "middle", s.label.clone());
        }
    }
}

/// Grouped vertical bars: one group per label, one bar per series (name, color, values).
pub fn grouped_bars(
    labels: &[String],
    series: &[(&str, &'static str, Vec<u64>)],
    label: &str,
) -> Chart {
    let max = series
        .iter()
        .flat_map(|(_, _, v)| v.iter().copied())
        .max()
        .unwrap_or(0);
    if labels.is_empty() || max == 0 {
        return Chart::empty("No tickets in this period.");
    }
    let (x0, top, h) = (40.0, 10.0, 140.0);
    let ymax = count_max(max);
    let group = (W - x0) / labels.len() as f64;
    let bar = (group * 0.8 / series.len() as f64).max(1.0);
    let mut c = Chart::new(W, h + 52.0, label);
    for i in 0..=4 {
        let v = ymax * f64::from(i) / 4.0;
        let y = top + h - h * v / ymax;
        c.hline(y, x0);
        c.text(x0 - 6.0, y + 4.0, "end", fmt_num(v));
    }
    for (g, l) in labels.iter().enumerate() {
        for (k, (name, color, values)) in series.iter().enumerate() {
            let v = values.get(g).copied().unwrap_or(0);
            if v == 0 {
                continue;
            }
            let bh = h * v as f64 / ymax;
            c.rect(
                (
                    x0 + g as f64 * group + group * 0.1 + k as f64 * bar,
                    top + h - bh,
                    bar,
                    bh,
                ),
                color,
                None,
                Some(1.0),
                Some(format!("{l}: {v} {name}")),
            );
        }
    }
    let slots: Vec<Slot> = labels
        .iter()
        .map(|l| Slot {
            label: l.clone(),
            ..Slot::default()
        })
        .collect();
    axis_labels(&mut c, &slots, x0, group, top + h + 16.0);
    let mut lx = x0;
    for (name, color, _) in series {
        c.rect((lx, top + h + 28.0, 10.0, 10.0), color, None, None, None);
        c.text(lx + 14.0, top + h + 37.0, "start", *name);
        lx += 24.0 + 7.0 * name.len() as f64;
    }
    c
}

/// One horizontal bar per row: (label, value, text shown after the bar); `max` is the full
/// width; rows without a value show only their text.
/// Drawn 560 wide: meant for half the page.
pub fn hbars(
    rows: &[(String, Option<f64>, String)],
    max: f64,
    color: &'static str,
    label: &str,
) -> Chart {
    const HW: f64 = 560.0;
    let (x0, row_h) = (130.0, 26.0);
    let width = HW - x0 - 170.0;
    let mut c = Chart::new(HW, rows.len() as f64 * row_h + 8.0, label);
    c.narrow = true;
    for (i, (name, value, shown)) in rows.iter().enumerate() {
        let y = 6.0 + i as f64 * row_h;
        c.text(x0 - 8.0, y + 15.0, "end", name.clone());
        c.rect((x0, y, width, 18.0), TRACK, None, Some(3.0), None);
        let w = value.map_or(0.0, |v| width * (v / max).clamp(0.0, 1.0));
        if w > 0.0 {
            c.rect(
                (x0, y, w, 18.0),
                color,
                None,
                Some(3.0),
                Some(format!("{name}: {shown}")),
            );
        }
        c.text(x0 + width + 8.0, y + 14.0, "start", shown.clone());
    }
    c
}

/// Tickets created by weekday (rows, Monday first) × hour (columns, UTC).
pub fn heatmap(cells: &[[u64; 24]; 7]) -> Chart {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let max = cells.iter().flatten().copied().max().unwrap_or(0);
    if max == 0 {
        return Chart::empty("No tickets created in this period.");
    }
    let (x0, top, cell_w, cell_h) = (44.0, 6.0, (W - 44.0) / 24.0, 22.0);
    let mut c = Chart::new(
        W,
        top + 7.0 * cell_h + 22.0,
        "tickets created by weekday and hour",
    );
    for (d, row) in cells.iter().enumerate() {
        let y = top + d as f64 * cell_h;
        c.text(x0 - 8.0, y + 15.0, "end", DAYS[d]);
        for (h, n) in row.iter().enumerate() {
            let x = x0 + h as f64 * cell_w;
            let (fill, opacity) = if *n == 0 {
                (TRACK, 1.0)
            } else {
                (BLUE, 0.15 + 0.85 * *n as f64 / max as f64)
            };
            c.rect(
                (x + 1.0, y, cell_w - 2.0, cell_h - 2.0),
                fill,
                Some(opacity),
                Some(2.0),
                Some(format!(
                    "{} {h:02}:00–{h:02}:59 UTC: {n} ticket{}",
                    DAYS[d],
                    if *n == 1 { "" } else { "s" }
                )),
            );
        }
    }
    for h in (0..24).step_by(3) {
        c.text(
            x0 + (h as f64 + 0.5) * cell_w,
            top + 7.0 * cell_h + 14.0,
            "middle",
            format!("{h:02}h"),
        );
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_tops_are_round() {
        for (v, top) in [
            (0.0, 1.0),
            (3.0, 5.0),
            (7.0, 10.0),
            (120.0, 200.0),
            (250.0, 250.0),
        ] {
            assert_eq!(nice_max(v), top, "{v}");
        }
    }

    #[test]
    fn labels_from_data_are_escaped() {
        let chart = hbars(
            &[("<script>".into(), Some(1.0), "1 & 2".into())],
            1.0,
            GREEN,
            "x",
        );
        let svg = crate::web::view::render_chart(&chart).unwrap();
        assert!(
            !svg.contains("<script>")
                && svg.contains("&lt;script&gt;")
                && svg.contains("1 &amp; 2")
                && svg.contains("<svg class=\"chart narrow\""),
            "{svg}"
        );
    }
}
