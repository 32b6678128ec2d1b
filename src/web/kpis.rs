//! `GET /kpis?since=30d`: the `report::compute` output (the same numbers as `forewarn report`)
//! with SVG charts.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use minijinja::{Value, context};
use serde::Deserialize;

use super::auth::Staff;
use super::charts::{self, BLUE, GREEN, GREY};
use super::view;
use super::{AppState, WebError, survey_records};
use crate::report::{
    self, Durations, Kpis, Rate, Report, ReportInput, Survey, TimeStats, fmt_rate, fmt_secs,
    fmt_survey_rate,
};
use crate::ticket::spent::fmt_minutes;

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

/// `median 12m 00s · p90 40m 00s · n=3`, or `—`.
fn durations(d: &Durations) -> String {
    if d.count == 0 {
        return "—".to_owned();
    }
    let f = |v: Option<i64>| v.map_or("—".to_owned(), |v| fmt_secs(v as f64));
    format!(
        "median {} · p90 {} · n={}",
        f(d.median_secs),
        f(d.p90_secs),
        d.count
    )
}

fn median(d: &Durations) -> String {
    d.median_secs.map_or("—".to_owned(), |v| {
        format!("median {}", fmt_secs(v as f64))
    })
}

/// How many tickets the page lists under "time spent per ticket".
const TOP_TICKETS: usize = 10;

fn tile(value: &str, label: &str, sub: &str) -> Value {
    context! { value, label, sub }
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
    let tickets = report::window(&*state.store, since, None).await?;
    let attributes = state.attributes();
    let surveys = survey_records(&state).await?;
    let r = report::compute(&ReportInput {
        tickets: &tickets,
        now,
        since: Some(since),
        attributes: &attributes,
        surveys: surveys.as_deref(),
    });
    let names: BTreeMap<String, String> = config
        .customers
        .iter()
        .map(|c| (c.id.to_string(), c.name.clone()))
        .collect();
    let page = view::staff_page(
        "staff_kpis.html",
        &config.words,
        Some(&staff),
        render(&r, &since_text, error.as_deref(), &names),
    )?;
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, page).into_response())
}

fn render(r: &Report, since: &str, error: Option<&str>, names: &BTreeMap<String, String>) -> Value {
    let k = &r.overall;
    let csat = match &k.csat {
        Survey::Available(rate) => pct(rate),
        Survey::NoSurveyData => "n/a".to_owned(),
    };
    let resp = match &k.survey_response_rate {
        Survey::Available(rate) => pct(rate),
        Survey::NoSurveyData => "n/a".to_owned(),
    };
    let tiles = vec![
        tile(
            &k.opened.to_string(),
            "opened",
            &format!("{} resolved", k.resolved),
        ),
        tile(
            &pct(&k.sla.overall.compliance),
            "SLA compliance",
            &fmt_rate(&k.sla.overall.compliance),
        ),
        tile(
            &pct(&k.reopen_rate),
            "reopen rate",
            &fmt_rate(&k.reopen_rate),
        ),
        tile(
            &pct(&k.proactive_share),
            "proactive share",
            "opened by monitoring",
        ),
        tile(
            &csat,
            "CSAT",
            &fmt_survey_rate(&k.survey_response_rate)
                .replace("n/a (no survey data)", "no survey data"),
        ),
        tile(
            &mean(&k.time_to_acknowledge),
            "mean time to ack",
            &format!("p90 {}", p90(&k.time_to_acknowledge)),
        ),
        tile(
            &mean(&k.time_to_first_update),
            "mean to first update",
            &format!("p90 {}", p90(&k.time_to_first_update)),
        ),
        tile(
            &mean(&k.time_to_resolve),
            "mean time to resolve",
            &format!("p90 {}", p90(&k.time_to_resolve)),
        ),
        tile(&resp, "survey response rate", "answered / sent"),
        tile(
            &fmt_minutes(k.time_spent.minutes),
            "time spent",
            &format!("logged on {} tickets", k.time_spent.tickets_with_time),
        ),
        tile(
            &k.time_spent
                .mean_minutes_per_resolved
                .map_or("—".to_owned(), |m| fmt_minutes(m.round() as u64)),
            "time per resolved ticket",
            &format!(
                "mean · {} of {} without time",
                k.time_spent.resolved_without_time, k.resolved
            ),
        ),
        match (&r.hourly_rate, k.time_spent.cost) {
            (Some(rate), Some(c)) => tile(
                &rate.fmt(c),
                "cost of time spent",
                &format!("at {} an hour", rate.fmt(rate.amount)),
            ),
            _ => tile(
                &format!("{:.1} h", k.time_spent.minutes as f64 / 60.0),
                "hours spent",
                "no [report] hourly_rate: hours only",
            ),
        },
        tile(
            &pct(&k.lead.monitoring_first),
            "monitoring knew first",
            &format!(
                "of {} customer reports · lead {}",
                k.lead.customer_reports,
                median(&k.lead.lead_time)
            ),
        ),
        tile(
            &pct(&k.lead.told_first),
            "told before they wrote",
            &format!("of {} monitoring tickets", k.lead.monitoring_tickets),
        ),
        tile(
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
        ),
    ];

    // Volume: per day for short windows, per ISO week for long ones.
    let (volume_title, periods) = if r.volume.per_day.len() <= 62 {
        ("per day", day_periods(r))
    } else {
        ("per ISO week", r.volume.per_week.clone())
    };
    let labels: Vec<String> = periods.iter().map(|p| p.period.clone()).collect();
    let volume = charts::grouped_bars(
        &labels,
        &[
            ("opened", BLUE, periods.iter().map(|p| p.opened).collect()),
            ("closed", GREEN, periods.iter().map(|p| p.closed).collect()),
        ],
        "tickets opened and closed",
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
    let named = |id: &str| {
        names
            .get(id)
            .map_or_else(|| id.to_owned(), |n| format!("{n} ({id})"))
    };
    let engineers: Vec<Value> = r
        .per_engineer
        .iter()
        .map(|e| {
            context! {
                name => e.engineer,
                resolved => e.resolved,
                sla => fmt_rate(&e.sla),
                csat => fmt_survey_rate(&e.csat),
                points => match &e.points {
                    Survey::Available(p) => p.to_string(),
                    Survey::NoSurveyData => "n/a".to_owned(),
                },
                mtta => durations(&e.time_to_acknowledge),
                mttr => durations(&e.time_to_resolve),
                spent => format!("{} · {} tickets", fmt_minutes(e.minutes_logged), e.tickets_logged),
                cost => r.hourly_rate.as_ref().zip(e.cost).map(|(h, c)| h.fmt(c)),
            }
        })
        .collect();
    let l = &k.lead;
    let lead = [
        ("Customer reports", l.customer_reports.to_string()),
        ("Monitoring knew first", fmt_rate(&l.monitoring_first)),
        ("Lead time when it did", durations(&l.lead_time)),
        (
            "Customer wrote before monitoring knew",
            l.customer_first.to_string(),
        ),
        (
            "Monitoring knew that much later",
            durations(&l.monitoring_lag),
        ),
        ("Monitoring never knew", l.never_knew.to_string()),
        ("Monitoring tickets", l.monitoring_tickets.to_string()),
        ("Told before the customer wrote", fmt_rate(&l.told_first)),
        ("Customer wrote first", l.customer_wrote_first.to_string()),
        ("Not told (no mail delivered)", l.not_told.to_string()),
        ("Time to tell the customer", durations(&l.time_to_tell)),
    ]
    .map(|(name, value)| context! { name, value });
    let ticket_times: Vec<Value> = r
        .time_per_ticket
        .iter()
        .take(TOP_TICKETS)
        .map(|t| {
            context! {
                id => t.ticket.0,
                title => t.title,
                customer => named(&t.customer),
                spent => fmt_minutes(t.minutes),
                by => t.by.iter().map(|(who, m)| format!("{who} {}", fmt_minutes(*m))).collect::<Vec<_>>().join(", "),
                resolved => t.resolved,
                cost => r.hourly_rate.as_ref().zip(t.cost).map(|(h, c)| h.fmt(c)),
            }
        })
        .collect();
    context! {
        refresh => false,
        section => "kpis",
        since,
        error,
        default_since => DEFAULT_SINCE,
        windows => ["7d", "30d", "90d", "365d"],
        tiles,
        volume_title,
        volume => Value::from_serialize(volume),
        times => Value::from_serialize(charts::hbars(&rows, longest, BLUE, "response times")),
        sla => Value::from_serialize(charts::hbars(&sla_rows, 100.0, GREEN, "SLA compliance")),
        quality => Value::from_serialize(charts::hbars(&q_rows, 100.0, GREY, "reopen rate and proactive share")),
        per_engineer => (!e_rows.is_empty()).then(|| Value::from_serialize(
            charts::hbars(&e_rows, most as f64, BLUE, "resolved per engineer"),
        )),
        engineers,
        costed => r.hourly_rate.is_some(),
        lead,
        ticket_times,
        tickets_with_time => r.time_per_ticket.len(),
        groups => [
            group_table(r, ("Per customer", "customer"), &r.per_customer, &named),
            group_table(r, ("Per tier", "tier"), &r.per_tier, &|t: &str| t.to_owned()),
            group_table(r, ("Per plan", "plan"), &r.per_plan, &|t: &str| t.to_owned()),
            group_table(r, ("Per server", "server"), &r.per_server, &|t: &str| t.to_owned()),
        ],
        heatmap => Value::from_serialize(charts::heatmap(&r.heatmap)),
    }
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

/// How many groups a table shows: those needing attention first (most SLA breaches, then most
/// tickets). A thousand customers make a table nobody reads and a page of a megabyte; the
/// whole table is `forewarn report --by …`.
const GROUP_ROWS: usize = 25;

/// One table of KPIs per group (customer, tier, plan or server), for the template: its title
/// and the `--by` value of the same table in `forewarn report`.
fn group_table(
    r: &Report,
    (title, by): (&str, &str),
    groups: &BTreeMap<String, Kpis>,
    name: &dyn Fn(&str) -> String,
) -> Value {
    let mut worst: Vec<(&String, &Kpis)> = groups.iter().collect();
    worst.sort_by(|(a, ka), (b, kb)| {
        (kb.sla.overall.breached, kb.opened, a).cmp(&(ka.sla.overall.breached, ka.opened, b))
    });
    worst.truncate(GROUP_ROWS);
    let rows: Vec<Value> = worst
        .into_iter()
        .map(|(g, k)| {
            context! {
                name => name(g),
                opened => k.opened,
                resolved => k.resolved,
                ack => mean(&k.time_to_acknowledge),
                resolve => mean(&k.time_to_resolve),
                sla => fmt_rate(&k.sla.overall.compliance),
                reopen => fmt_rate(&k.reopen_rate),
                proactive => fmt_rate(&k.proactive_share),
                csat => fmt_survey_rate(&k.csat),
                spent => fmt_minutes(k.time_spent.minutes),
                per_resolved => k.time_spent.mean_minutes_per_resolved.map_or("—".to_owned(), |m| fmt_minutes(m.round() as u64)),
                cost => r.hourly_rate.as_ref().zip(k.time_spent.cost).map(|(h, c)| h.fmt(c)),
                knew_first => fmt_rate(&k.lead.monitoring_first),
                told_first => fmt_rate(&k.lead.told_first),
            }
        })
        .collect();
    context! { title, rows, by, total => groups.len() }
}
