//! `GET /kpis?since=30d`: the `report::compute` output (the same numbers as `forewarn report`)
//! with SVG charts.

use std::collections::BTreeMap;
use std::fmt::Write;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;

use super::auth::Staff;
use super::charts::{self, BLUE, GREEN, GREY};
use super::pages::{esc, layout};
use super::{AppState, WebError, survey_records};
use crate::model::CustomerId;
use crate::report::{
    self, Kpis, Rate, Report, ReportInput, Survey, TimeStats, fmt_rate, fmt_secs, fmt_survey_rate,
};

const DEFAULT_SINCE: &str = "30d";
/// The longest window the page computes (rollups and tickets further back are pruned anyway).
const MAX_DAYS: u64 = 400;

#[derive(Debug, Default, Deserialize)]
pub struct KpiQuery {
    since: Option<String>,
}

/// `30d`, `2w`, `12h` → a window of at most 400 days.
fn parse_since(s: &str) -> Result<chrono::Duration, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| format!("since={s:?}: {e}. Write a duration such as 7d, 30d or 12w."))?;
    if d.as_secs() == 0 || d.as_secs() > MAX_DAYS * 86_400 {
        return Err(format!(
            "since={s:?}: choose between 1 minute and {MAX_DAYS} days."
        ));
    }
    chrono::Duration::from_std(d).map_err(|e| e.to_string())
}

fn mean(s: &TimeStats) -> String {
    s.mean_secs.map_or("—".to_owned(), fmt_secs)
}

fn p90(s: &TimeStats) -> String {
    s.p90_secs.map_or("—".to_owned(), |v| fmt_secs(v as f64))
}

fn pct(r: &Rate) -> String {
    r.percent().map_or("—".to_owned(), |p| format!("{p:.1}%"))
}

fn tile(value: &str, label: &str, sub: &str) -> String {
    format!(
        r#"<div class="tile"><div class="n">{}</div><div class="l">{}</div><div class="s">{}</div></div>"#,
        esc(value),
        esc(label),
        esc(sub)
    )
}

pub async fn kpis(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<KpiQuery>,
) -> Result<Response, WebError> {
    let asked = q.since.unwrap_or_else(|| DEFAULT_SINCE.to_owned());
    let (since_text, window, error) = match parse_since(&asked) {
        Ok(w) => (asked, w, None),
        Err(e) => (
            DEFAULT_SINCE.to_owned(),
            parse_since(DEFAULT_SINCE).expect("the default parses"),
            Some(e),
        ),
    };
    let config = state.config();
    let now = Utc::now();
    let since = now - window;
    let tickets = report::window(&*state.store, since).await?;
    let tiers: BTreeMap<CustomerId, String> = config
        .customers
        .iter()
        .map(|c| (c.id.clone(), c.tier.clone()))
        .collect();
    let surveys = survey_records(&state).await?;
    let r = report::compute(&ReportInput {
        tickets: &tickets,
        now,
        since: Some(since),
        tiers: &tiers,
        surveys: surveys.as_deref(),
    });
    let names: BTreeMap<String, String> = config
        .customers
        .iter()
        .map(|c| (c.id.to_string(), c.name.clone()))
        .collect();
    let body = render(&r, &since_text, error.as_deref(), &names);
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, Html(layout("KPIs", &body, Some(&staff), false))).into_response())
}

fn render(
    r: &Report,
    since: &str,
    error: Option<&str>,
    names: &BTreeMap<String, String>,
) -> String {
    let k = &r.overall;
    let mut b = format!(
        r#"<h1>KPIs <span class="muted">· tickets created in the last {}</span></h1>"#,
        esc(since)
    );
    if let Some(e) = error {
        let _ = write!(
            b,
            r#"<div class="errorbox">{} Showing the last {DEFAULT_SINCE}.</div>"#,
            esc(e)
        );
    }
    b.push_str(r#"<form class="filters" method="get" action="/kpis">"#);
    for w in ["7d", "30d", "90d", "365d"] {
        let _ = write!(
            b,
            r#"<a class="btn {}" href="/kpis?since={w}">{w}</a>"#,
            if w == since { "" } else { "secondary" }
        );
    }
    let _ = write!(
        b,
        r#"<label>Window<input type="text" name="since" value="{}" size="6"></label><button class="btn secondary" type="submit">Show</button></form>"#,
        esc(since)
    );
    b.push_str(r#"<div class="tiles k5">"#);
    b.push_str(&tile(
        &k.opened.to_string(),
        "opened",
        &format!("{} resolved", k.resolved),
    ));
    b.push_str(&tile(
        &pct(&k.sla.overall.compliance),
        "SLA compliance",
        &fmt_rate(&k.sla.overall.compliance),
    ));
    b.push_str(&tile(
        &pct(&k.reopen_rate),
        "reopen rate",
        &fmt_rate(&k.reopen_rate),
    ));
    b.push_str(&tile(
        &pct(&k.proactive_share),
        "proactive share",
        "opened by monitoring",
    ));
    let csat = match &k.csat {
        Survey::Available(rate) => pct(rate),
        Survey::NoSurveyData => "n/a".to_owned(),
    };
    b.push_str(&tile(
        &csat,
        "CSAT",
        &fmt_survey_rate(&k.survey_response_rate).replace("n/a (no survey data)", "no survey data"),
    ));
    b.push_str(&tile(
        &mean(&k.time_to_acknowledge),
        "mean time to ack",
        &format!("p90 {}", p90(&k.time_to_acknowledge)),
    ));
    b.push_str(&tile(
        &mean(&k.time_to_first_update),
        "mean to first update",
        &format!("p90 {}", p90(&k.time_to_first_update)),
    ));
    b.push_str(&tile(
        &mean(&k.time_to_resolve),
        "mean time to resolve",
        &format!("p90 {}", p90(&k.time_to_resolve)),
    ));
    let resp = match &k.survey_response_rate {
        Survey::Available(rate) => pct(rate),
        Survey::NoSurveyData => "n/a".to_owned(),
    };
    b.push_str(&tile(&resp, "survey response rate", "answered / sent"));
    b.push_str(&tile(
        &r.per_engineer
            .iter()
            .map(|e| e.resolved)
            .sum::<u64>()
            .to_string(),
        "resolved by staff",
        &match r.per_engineer.len() {
            1 => "1 engineer".to_owned(),
            n => format!("{n} engineers"),
        },
    ));
    b.push_str("</div>");

    // Volume: per day for short windows, per ISO week for long ones.
    let (title, periods) = if r.volume.per_day.len() <= 62 {
        ("per day", day_periods(r))
    } else {
        ("per ISO week", r.volume.per_week.clone())
    };
    let labels: Vec<String> = periods.iter().map(|p| p.period.clone()).collect();
    let _ = write!(
        b,
        r#"<h2>Opened and closed {title}</h2><div class="card">{}</div>"#,
        charts::grouped_bars(
            &labels,
            &[
                ("opened", BLUE, periods.iter().map(|p| p.opened).collect()),
                ("closed", GREEN, periods.iter().map(|p| p.closed).collect()),
            ],
            "tickets opened and closed"
        )
    );

    // Response times and SLA.
    let times = [
        ("acknowledge", &k.time_to_acknowledge),
        ("first update", &k.time_to_first_update),
        ("resolve", &k.time_to_resolve),
    ];
    let longest = times
        .iter()
        .filter_map(|(_, s)| s.p90_secs.map(|v| v as f64).or(s.mean_secs))
        .fold(1.0_f64, f64::max);
    let mut rows = Vec::new();
    for (name, s) in times {
        rows.push((
            format!("{name} · mean"),
            s.mean_secs,
            format!("{} · n={}", mean(s), s.measured),
        ));
        rows.push((
            format!("{name} · p90"),
            s.p90_secs.map(|v| v as f64),
            p90(s),
        ));
    }
    let sla = [
        ("acknowledge", &k.sla.acknowledge),
        ("first update", &k.sla.first_update),
        ("resolve", &k.sla.resolve),
        ("all targets", &k.sla.overall),
    ];
    let sla_rows: Vec<_> = sla
        .iter()
        .map(|(name, s)| {
            (
                name.to_string(),
                s.compliance.percent(),
                format!("{} · {} running", fmt_rate(&s.compliance), s.running),
            )
        })
        .collect();
    let _ = write!(
        b,
        r#"<div class="grid2"><div><h2>Response times</h2><div class="card">{}</div></div><div><h2>SLA compliance per target</h2><div class="card">{}</div></div></div>"#,
        charts::hbars(&rows, longest, BLUE, "response times"),
        charts::hbars(&sla_rows, 100.0, GREEN, "SLA compliance"),
    );
    let quality = [
        ("reopen rate", &k.reopen_rate),
        ("proactive share", &k.proactive_share),
    ];
    let q_rows: Vec<_> = quality
        .iter()
        .map(|(n, r)| (n.to_string(), r.percent(), fmt_rate(r)))
        .collect();
    let most = r
        .per_engineer
        .iter()
        .map(|e| e.resolved)
        .max()
        .unwrap_or(1)
        .max(1);
    let e_rows: Vec<_> = r
        .per_engineer
        .iter()
        .map(|e| {
            (
                e.engineer.clone(),
                Some(e.resolved as f64),
                format!("{} resolved · SLA {}", e.resolved, pct(&e.sla)),
            )
        })
        .collect();
    let _ = write!(
        b,
        r#"<div class="grid2"><div><h2>Quality</h2><div class="card">{}</div></div><div><h2>Resolved per engineer</h2><div class="card">{}</div></div></div>"#,
        charts::hbars(&q_rows, 100.0, GREY, "reopen rate and proactive share"),
        if e_rows.is_empty() {
            r#"<p class="empty">No ticket in this window was resolved by a person yet (tickets auto-resolved by monitoring belong to no engineer).</p>"#.to_owned()
        } else {
            charts::hbars(&e_rows, most as f64, BLUE, "resolved per engineer")
        }
    );

    // Per engineer.
    if !r.per_engineer.is_empty() {
        b.push_str("<h2>Per engineer</h2><table><thead><tr><th>Engineer</th><th>Resolved</th><th>SLA %</th><th>CSAT</th><th>Points</th></tr></thead><tbody>");
        for e in &r.per_engineer {
            let points = match &e.points {
                Survey::Available(p) => p.to_string(),
                Survey::NoSurveyData => "n/a".to_owned(),
            };
            let _ = write!(
                b,
                "<tr><td><b>{}</b></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&e.engineer),
                e.resolved,
                fmt_rate(&e.sla),
                esc(&fmt_survey_rate(&e.csat)),
                points
            );
        }
        b.push_str("</tbody></table>");
    }
    let named = |id: &str| {
        names
            .get(id)
            .map_or_else(|| id.to_owned(), |n| format!("{n} ({id})"))
    };
    group_table(&mut b, "Per customer", &r.per_customer, &named);
    group_table(&mut b, "Per tier", &r.per_tier, &|t: &str| t.to_owned());
    let _ = write!(
        b,
        r#"<h2>When tickets are created <span class="muted">· weekday × hour, UTC</span></h2><div class="card">{}</div>"#,
        charts::heatmap(&r.heatmap)
    );
    let _ = write!(
        b,
        r#"<p class="muted">Every figure is computed from ticket timelines; definitions in <span class="mono">docs/kpis.md</span>. The same numbers: <span class="mono">forewarn report --since {}</span>.</p>"#,
        esc(since)
    );
    b
}

/// Every day of the window, also those without tickets, so the bars keep their spacing.
fn day_periods(r: &Report) -> Vec<report::PeriodCount> {
    let Some(since) = r.since else {
        return r.volume.per_day.clone();
    };
    let mut out = Vec::new();
    let mut day = since.date_naive();
    while day <= r.until.date_naive() {
        let key = day.format("%Y-%m-%d").to_string();
        out.push(
            r.volume
                .per_day
                .iter()
                .find(|p| p.period == key)
                .cloned()
                .unwrap_or(report::PeriodCount {
                    period: key,
                    opened: 0,
                    closed: 0,
                }),
        );
        day += chrono::Duration::days(1);
    }
    out
}

fn group_table(
    b: &mut String,
    title: &str,
    groups: &BTreeMap<String, Kpis>,
    name: &dyn Fn(&str) -> String,
) {
    let _ = write!(b, "<h2>{}</h2>", esc(title));
    if groups.is_empty() {
        b.push_str(r#"<p class="empty">No tickets in this window.</p>"#);
        return;
    }
    b.push_str("<table><thead><tr><th></th><th>Opened</th><th>Resolved</th><th>Mean ack</th><th>Mean resolve</th><th>SLA</th><th>Reopen rate</th><th>Proactive</th><th>CSAT</th></tr></thead><tbody>");
    for (g, k) in groups {
        let _ = write!(
            b,
            "<tr><td><b>{}</b></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&name(g)),
            k.opened,
            k.resolved,
            mean(&k.time_to_acknowledge),
            mean(&k.time_to_resolve),
            fmt_rate(&k.sla.overall.compliance),
            fmt_rate(&k.reopen_rate),
            fmt_rate(&k.proactive_share),
            esc(&fmt_survey_rate(&k.csat)),
        );
    }
    b.push_str("</tbody></table>");
}
