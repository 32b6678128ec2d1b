//! Server-rendered SVG charts: plain markup with `<title>` tooltips, no script. Every label
//! that comes from data is escaped.

use std::fmt::Write;

use super::pages::esc;

const W: f64 = 960.0;
const MUTED: &str = "#667085";
const GRID: &str = "#e4e7ec";
pub const GREEN: &str = "#12b76a";
pub const RED: &str = "#f04438";
pub const BLUE: &str = "#2e5bff";
pub const LIGHT_BLUE: &str = "#93adff";
pub const GREY: &str = "#98a2b3";

/// One slot of a time chart (an hour or a day); `runs == 0` is a gap.
#[derive(Debug, Clone, Default)]
pub struct Slot {
    pub label: String,
    pub runs: u64,
    pub failures: u64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
}

fn open(w: f64, h: f64, label: &str) -> String {
    format!(
        r##"<svg class="chart" viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="{}"><rect x="0" y="0" width="{w}" height="{h}" fill="#fafbfc"/>"##,
        esc(label)
    )
}

fn text(x: f64, y: f64, anchor: &str, s: &str) -> String {
    format!(
        r#"<text x="{x:.1}" y="{y:.1}" font-size="11" fill="{MUTED}" text-anchor="{anchor}">{}</text>"#,
        esc(s)
    )
}

fn hline(y: f64, x0: f64) -> String {
    format!(r#"<line x1="{x0}" y1="{y:.1}" x2="{W}" y2="{y:.1}" stroke="{GRID}"/>"#)
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

/// Uptime per slot as bars (green: passed share, red: failed share, grey outline: no runs).
pub fn uptime(slots: &[Slot], label: &str) -> String {
    if slots.iter().all(|s| s.runs == 0) {
        return r#"<p class="empty">No runs recorded in this period yet.</p>"#.to_owned();
    }
    let (x0, top, h) = (40.0, 8.0, 110.0);
    let bar = (W - x0) / slots.len() as f64;
    let mut svg = open(W, top + h + 24.0, label);
    for (pct, y) in [(100, top), (50, top + h / 2.0), (0, top + h)] {
        svg.push_str(&hline(y, x0));
        svg.push_str(&text(x0 - 6.0, y + 4.0, "end", &format!("{pct}%")));
    }
    for (i, s) in slots.iter().enumerate() {
        let x = x0 + i as f64 * bar;
        if s.runs == 0 {
            continue;
        }
        let up = 1.0 - s.failures as f64 / s.runs as f64;
        let ok_h = h * up;
        let _ = write!(
            svg,
            r#"<g><title>{}: {:.2}% up ({} runs, {} failed)</title><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{GREEN}" opacity=".8"/>"#,
            esc(&s.label),
            100.0 * up,
            s.runs,
            s.failures,
            x + 0.5,
            top + h - ok_h,
            (bar - 1.0).max(0.5),
            ok_h
        );
        if s.failures > 0 {
            let _ = write!(
                svg,
                r#"<rect x="{:.1}" y="{top}" width="{:.1}" height="{:.1}" fill="{RED}" opacity=".85"/>"#,
                x + 0.5,
                (bar - 1.0).max(0.5),
                h - ok_h
            );
        }
        svg.push_str("</g>");
    }
    axis_labels(&mut svg, slots, x0, bar, top + h + 16.0);
    svg.push_str("</svg>");
    svg
}

/// Latency p50 and p95 per slot as two lines with dots; slots without a measurement are gaps.
pub fn latency(slots: &[Slot], label: &str) -> String {
    let max = slots
        .iter()
        .filter_map(|s| s.p95_ms.or(s.p50_ms))
        .fold(0.0_f64, f64::max);
    if max <= 0.0 {
        return r#"<p class="empty">No latency measured in this period yet.</p>"#.to_owned();
    }
    let (x0, top, h) = (56.0, 10.0, 130.0);
    let ymax = nice_max(max);
    let bar = (W - x0) / slots.len() as f64;
    let mut svg = open(W, top + h + 42.0, label);
    for i in 0..=4 {
        let v = ymax * f64::from(i) / 4.0;
        let y = top + h - h * v / ymax;
        svg.push_str(&hline(y, x0));
        svg.push_str(&text(
            x0 - 6.0,
            y + 4.0,
            "end",
            &format!("{} ms", fmt_num(v)),
        ));
    }
    for (pick, color, name) in [(0usize, LIGHT_BLUE, "p50"), (1, BLUE, "p95")] {
        let mut segments: Vec<Vec<(f64, f64, String)>> = vec![Vec::new()];
        for (i, s) in slots.iter().enumerate() {
            let v = if pick == 0 { s.p50_ms } else { s.p95_ms };
            match v {
                Some(v) => segments.last_mut().expect("one").push((
                    x0 + (i as f64 + 0.5) * bar,
                    top + h - h * v / ymax,
                    format!("{}: {name} {} ms", s.label, fmt_num(v)),
                )),
                None => segments.push(Vec::new()),
            }
        }
        for seg in segments.iter().filter(|s| !s.is_empty()) {
            if seg.len() > 1 {
                let pts: Vec<String> = seg
                    .iter()
                    .map(|(x, y, _)| format!("{x:.1},{y:.1}"))
                    .collect();
                let _ = write!(
                    svg,
                    r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"/>"#,
                    pts.join(" ")
                );
            }
            for (x, y, tip) in seg {
                let _ = write!(
                    svg,
                    r#"<circle cx="{x:.1}" cy="{y:.1}" r="2.5" fill="{color}"><title>{}</title></circle>"#,
                    esc(tip)
                );
            }
        }
    }
    axis_labels(&mut svg, slots, x0, bar, top + h + 16.0);
    let _ = write!(
        svg,
        r#"<rect x="{x0}" y="{ly}" width="10" height="10" fill="{LIGHT_BLUE}"/>{}<rect x="{x1}" y="{ly}" width="10" height="10" fill="{BLUE}"/>{}</svg>"#,
        text(x0 + 14.0, top + h + 35.0, "start", "p50"),
        text(x0 + 64.0, top + h + 35.0, "start", "p95"),
        ly = top + h + 26.0,
        x1 = x0 + 50.0
    );
    svg
}

/// About eight evenly spread slot labels under a time chart, the last slot's always (and the
/// one before it dropped when they would overlap).
fn axis_labels(svg: &mut String, slots: &[Slot], x0: f64, bar: f64, y: f64) {
    let every = slots.len().div_ceil(8).max(1);
    let last = slots.len().saturating_sub(1);
    for (i, s) in slots.iter().enumerate() {
        let spaced = i % every == 0 && (i == last || last - i >= every);
        if i == last {
            svg.push_str(&text(x0 + (i as f64 + 1.0) * bar, y, "end", &s.label));
        } else if spaced {
            svg.push_str(&text(x0 + (i as f64 + 0.5) * bar, y, "middle", &s.label));
        }
    }
}

/// Grouped vertical bars: one group per label, one bar per series (name, color, values).
pub fn grouped_bars(labels: &[String], series: &[(&str, &str, Vec<u64>)], label: &str) -> String {
    let max = series
        .iter()
        .flat_map(|(_, _, v)| v.iter().copied())
        .max()
        .unwrap_or(0);
    if labels.is_empty() || max == 0 {
        return r#"<p class="empty">No tickets in this period.</p>"#.to_owned();
    }
    let (x0, top, h) = (40.0, 10.0, 140.0);
    let ymax = count_max(max);
    let group = (W - x0) / labels.len() as f64;
    let bar = (group * 0.8 / series.len() as f64).max(1.0);
    let mut svg = open(W, h + 52.0, label);
    for i in 0..=4 {
        let v = ymax * f64::from(i) / 4.0;
        let y = top + h - h * v / ymax;
        svg.push_str(&hline(y, x0));
        svg.push_str(&text(x0 - 6.0, y + 4.0, "end", &fmt_num(v)));
    }
    for (g, l) in labels.iter().enumerate() {
        for (k, (name, color, values)) in series.iter().enumerate() {
            let v = values.get(g).copied().unwrap_or(0);
            if v == 0 {
                continue;
            }
            let bh = h * v as f64 / ymax;
            let _ = write!(
                svg,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{color}" rx="1"><title>{}: {v} {}</title></rect>"#,
                x0 + g as f64 * group + group * 0.1 + k as f64 * bar,
                top + h - bh,
                bar,
                bh,
                esc(l),
                esc(name)
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
    axis_labels(&mut svg, &slots, x0, group, top + h + 16.0);
    let mut lx = x0;
    for (name, color, _) in series {
        let _ = write!(
            svg,
            r#"<rect x="{lx}" y="{}" width="10" height="10" fill="{color}"/>{}"#,
            top + h + 28.0,
            text(lx + 14.0, top + h + 37.0, "start", name)
        );
        lx += 24.0 + 7.0 * name.len() as f64;
    }
    svg.push_str("</svg>");
    svg
}

/// One horizontal bar per row: (label, value, text shown after the bar); `max` is the full
/// width; rows without a value show only their text.
/// Drawn 560 wide: meant for half the page.
pub fn hbars(rows: &[(String, Option<f64>, String)], max: f64, color: &str, label: &str) -> String {
    const HW: f64 = 560.0;
    let (x0, row_h) = (130.0, 26.0);
    let width = HW - x0 - 170.0;
    let mut svg = open(HW, rows.len() as f64 * row_h + 8.0, label);
    for (i, (name, value, shown)) in rows.iter().enumerate() {
        let y = 6.0 + i as f64 * row_h;
        svg.push_str(&text(x0 - 8.0, y + 15.0, "end", name));
        let _ = write!(
            svg,
            r##"<rect x="{x0}" y="{y:.1}" width="{width:.1}" height="18" fill="#eef0f3" rx="3"/>"##
        );
        let w = value.map_or(0.0, |v| width * (v / max).clamp(0.0, 1.0));
        if w > 0.0 {
            let _ = write!(
                svg,
                r#"<rect x="{x0}" y="{y:.1}" width="{w:.1}" height="18" fill="{color}" rx="3"><title>{}: {}</title></rect>"#,
                esc(name),
                esc(shown)
            );
        }
        svg.push_str(&text(x0 + width + 8.0, y + 14.0, "start", shown));
    }
    svg.push_str("</svg>");
    svg
}

/// Tickets created by weekday (rows, Monday first) × hour (columns, UTC).
pub fn heatmap(cells: &[[u64; 24]; 7]) -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let max = cells.iter().flatten().copied().max().unwrap_or(0);
    if max == 0 {
        return r#"<p class="empty">No tickets created in this period.</p>"#.to_owned();
    }
    let (x0, top, cell_w, cell_h) = (44.0, 6.0, (W - 44.0) / 24.0, 22.0);
    let mut svg = open(
        W,
        top + 7.0 * cell_h + 22.0,
        "tickets created by weekday and hour",
    );
    for (d, row) in cells.iter().enumerate() {
        let y = top + d as f64 * cell_h;
        svg.push_str(&text(x0 - 8.0, y + 15.0, "end", DAYS[d]));
        for (h, n) in row.iter().enumerate() {
            let x = x0 + h as f64 * cell_w;
            let (fill, opacity) = if *n == 0 {
                ("#eef0f3", 1.0)
            } else {
                (BLUE, 0.15 + 0.85 * *n as f64 / max as f64)
            };
            let _ = write!(
                svg,
                r#"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{fill}" opacity="{opacity:.2}" rx="2"><title>{} {h:02}:00–{h:02}:59 UTC: {n} ticket{}</title></rect>"#,
                x + 1.0,
                cell_w - 2.0,
                cell_h - 2.0,
                DAYS[d],
                if *n == 1 { "" } else { "s" }
            );
        }
    }
    for h in (0..24).step_by(3) {
        svg.push_str(&text(
            x0 + (h as f64 + 0.5) * cell_w,
            top + 7.0 * cell_h + 14.0,
            "middle",
            &format!("{h:02}h"),
        ));
    }
    svg.push_str("</svg>");
    svg
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
        let svg = hbars(
            &[("<script>".into(), Some(1.0), "1 & 2".into())],
            1.0,
            GREEN,
            "x",
        );
        assert!(
            !svg.contains("<script>")
                && svg.contains("&lt;script&gt;")
                && svg.contains("1 &amp; 2")
        );
    }
}
