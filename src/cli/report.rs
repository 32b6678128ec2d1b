//! `forewarn report [--since 30d] [--by engineer|customer|tier|plan|server] [--format table|csv|json]`:
//! KPIs over the tickets of a window, computed by `report` from the timelines in the store.
//! Definitions: docs/kpis.md.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};

use super::table;
use crate::config::Config;
use crate::report::{
    self, Attributes, Durations, EngineerKpis, Kpis, NO_SURVEY_DATA, Report, ReportInput, Survey,
    TimeStats, fmt_rate, fmt_secs, fmt_survey_rate,
};
use crate::store::SurveyStore;
use crate::store::tickets::TicketStore;
use crate::ticket::spent::fmt_minutes;

#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    /// The window: tickets created in the last <duration> (e.g. 7d, 30d, 12h).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30d")]
    pub since: Duration,
    /// Add a breakdown by engineer, customer, tier, plan or server.
    #[arg(long, value_enum)]
    pub by: Option<By>,
    /// A table for people, CSV or JSON for programs.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum By {
    Engineer,
    Customer,
    Tier,
    Plan,
    Server,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

pub async fn report(config: Config, args: ReportArgs) -> anyhow::Result<ExitCode> {
    let store = crate::store::open(&config.database).await?;
    let attributes = Attributes::from_config(&config);
    let out = render_report(&*store, &attributes, &args, Utc::now()).await?;
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

/// Loads the window's tickets, timelines and surveys, computes and renders the report. With no
/// survey sent yet, survey KPIs read "n/a (no survey data)".
pub async fn render_report<S: TicketStore + SurveyStore + ?Sized>(
    store: &S,
    attributes: &Attributes,
    args: &ReportArgs,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    let since = now - chrono::Duration::from_std(args.since)?;
    let report = load_and_compute(store, attributes, since, now).await?;
    Ok(match args.format {
        Format::Json => serde_json::to_string_pretty(&report)? + "\n",
        Format::Csv => csv(&report, args.by),
        Format::Table => text(&report, args.by),
    })
}

/// Tickets created in the window, plus older ones that may have closed in it (still open, or
/// resolved / closed since `since`), each with its timeline; and every survey (the KPIs keep
/// those of these tickets).
pub async fn load_and_compute<S: TicketStore + SurveyStore + ?Sized>(
    store: &S,
    attributes: &Attributes,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> anyhow::Result<Report> {
    let tickets = report::window(store, since, None).await?;
    let surveys = store.survey_records().await?;
    Ok(report::compute(&ReportInput {
        tickets: &tickets,
        now,
        since: Some(since),
        attributes,
        surveys: (!surveys.is_empty()).then_some(surveys.as_slice()),
    }))
}

/// `—` for a duration nobody reached.
fn secs(v: Option<i64>) -> String {
    v.map_or_else(|| "—".to_owned(), |v| fmt_secs(v as f64))
}

/// `12m 00s (median) · 40m 00s (p90) · n=3`, or `—`.
fn durations(d: &Durations) -> String {
    if d.count == 0 {
        return "— (n=0)".to_owned();
    }
    format!(
        "median {} · p90 {} (n={})",
        secs(d.median_secs),
        secs(d.p90_secs),
        d.count
    )
}

/// The cost of `minutes` at the report's rate; `None` without a rate (hours only).
fn cost(r: &Report, amount: Option<f64>) -> Option<String> {
    r.hourly_rate
        .as_ref()
        .zip(amount)
        .map(|(rate, a)| rate.fmt(a))
}

fn mean(s: &TimeStats) -> String {
    s.mean_secs.map_or_else(|| "—".to_owned(), fmt_secs)
}

fn p90(s: &TimeStats) -> String {
    s.p90_secs
        .map_or_else(|| "—".to_owned(), |v| fmt_secs(v as f64))
}

/// (name, value) lines of one set of KPIs, shared by the table and the CSV.
fn summary_lines(r: &Report) -> Vec<(String, String)> {
    let k = &r.overall;
    let mut v = vec![
        ("tickets opened".to_owned(), k.opened.to_string()),
        ("tickets resolved".to_owned(), k.resolved.to_string()),
    ];
    for (name, s) in [
        ("time to acknowledge", &k.time_to_acknowledge),
        ("time to first update", &k.time_to_first_update),
        ("time to resolve", &k.time_to_resolve),
    ] {
        v.push((format!("{name} mean"), mean(s)));
        v.push((format!("{name} p90"), p90(s)));
        v.push((format!("{name} not yet"), s.not_yet.to_string()));
    }
    for (name, s) in [
        ("acknowledge", &k.sla.acknowledge),
        ("first update", &k.sla.first_update),
        ("resolve", &k.sla.resolve),
        ("all targets", &k.sla.overall),
    ] {
        v.push((
            format!("SLA {name}"),
            format!("{} ({} running)", fmt_rate(&s.compliance), s.running),
        ));
    }
    v.push(("reopen rate (7 days)".to_owned(), fmt_rate(&k.reopen_rate)));
    v.push((
        "proactive share (monitoring)".to_owned(),
        fmt_rate(&k.proactive_share),
    ));
    v.push(("CSAT".to_owned(), fmt_survey_rate(&k.csat)));
    v.push((
        "survey response rate".to_owned(),
        fmt_survey_rate(&k.survey_response_rate),
    ));
    let e = &k.time_spent;
    v.push((
        "time spent".to_owned(),
        format!(
            "{} on {} tickets",
            fmt_minutes(e.minutes),
            e.tickets_with_time
        ),
    ));
    v.push((
        "time spent per resolved ticket".to_owned(),
        match e.mean_minutes_per_resolved {
            Some(m) => format!(
                "{} mean ({} of {} resolved without time logged)",
                fmt_minutes(m.round() as u64),
                e.resolved_without_time,
                k.resolved
            ),
            None => "— (none resolved)".to_owned(),
        },
    ));
    if let Some(c) = cost(r, e.cost) {
        let rate = r.hourly_rate.as_ref().map(|h| h.fmt(h.amount));
        v.push((
            "cost of time spent".to_owned(),
            format!("{c} (at {} an hour)", rate.unwrap_or_default()),
        ));
    }
    let l = &k.lead;
    v.push((
        "customer reports monitoring knew first".to_owned(),
        fmt_rate(&l.monitoring_first),
    ));
    v.push((
        "lead time when monitoring knew first".to_owned(),
        durations(&l.lead_time),
    ));
    v.push((
        "customer reports before monitoring knew".to_owned(),
        format!("{} ({})", l.customer_first, durations(&l.monitoring_lag)),
    ));
    v.push((
        "customer reports monitoring never knew".to_owned(),
        l.never_knew.to_string(),
    ));
    v.push((
        "monitoring tickets told before the customer wrote".to_owned(),
        fmt_rate(&l.told_first),
    ));
    v.push((
        "monitoring tickets the customer wrote first".to_owned(),
        l.customer_wrote_first.to_string(),
    ));
    v.push((
        "monitoring tickets not told yet".to_owned(),
        l.not_told.to_string(),
    ));
    v.push((
        "time to tell the customer".to_owned(),
        durations(&l.time_to_tell),
    ));
    v
}

const GROUP_HEADER: [&str; 13] = [
    "OPENED",
    "RESOLVED",
    "ACK MEAN",
    "ACK P90",
    "RESOLVE MEAN",
    "RESOLVE P90",
    "SLA",
    "REOPEN",
    "CSAT",
    "TIME SPENT",
    "PER RESOLVED",
    "KNEW FIRST",
    "TOLD FIRST",
];

fn group_row(r: &Report, name: &str, k: &Kpis) -> Vec<String> {
    let e = &k.time_spent;
    let mut row = vec![
        name.to_owned(),
        k.opened.to_string(),
        k.resolved.to_string(),
        mean(&k.time_to_acknowledge),
        p90(&k.time_to_acknowledge),
        mean(&k.time_to_resolve),
        p90(&k.time_to_resolve),
        fmt_rate(&k.sla.overall.compliance),
        fmt_rate(&k.reopen_rate),
        fmt_survey_rate(&k.csat),
        fmt_minutes(e.minutes),
        e.mean_minutes_per_resolved
            .map_or_else(|| "—".to_owned(), |m| fmt_minutes(m.round() as u64)),
        fmt_rate(&k.lead.monitoring_first),
        fmt_rate(&k.lead.told_first),
    ];
    row.extend(cost(r, e.cost));
    row
}

const ENGINEER_HEADER: [&str; 10] = [
    "ENGINEER",
    "RESOLVED",
    "SLA",
    "CSAT",
    "POINTS",
    "ACKS",
    "MTTA",
    "RESOLUTIONS",
    "MTTR",
    "TIME SPENT",
];

fn engineer_row(r: &Report, e: &EngineerKpis) -> Vec<String> {
    let mean = |d: &Durations| d.mean_secs.map_or_else(|| "—".to_owned(), fmt_secs);
    let mut row = vec![
        e.engineer.clone(),
        e.resolved.to_string(),
        fmt_rate(&e.sla),
        fmt_survey_rate(&e.csat),
        match &e.points {
            Survey::Available(p) => p.to_string(),
            Survey::NoSurveyData => NO_SURVEY_DATA.to_owned(),
        },
        e.time_to_acknowledge.count.to_string(),
        mean(&e.time_to_acknowledge),
        e.time_to_resolve.count.to_string(),
        mean(&e.time_to_resolve),
        format!(
            "{} on {} tickets",
            fmt_minutes(e.minutes_logged),
            e.tickets_logged
        ),
    ];
    row.extend(cost(r, e.cost));
    row
}

fn breakdown(r: &Report, by: By) -> (Vec<String>, Vec<Vec<String>>) {
    let costed = |mut header: Vec<String>| {
        if r.hourly_rate.is_some() {
            header.push("COST".to_owned());
        }
        header
    };
    match by {
        By::Engineer => (
            costed(ENGINEER_HEADER.iter().map(|s| (*s).to_owned()).collect()),
            r.per_engineer.iter().map(|e| engineer_row(r, e)).collect(),
        ),
        By::Customer | By::Tier | By::Plan | By::Server => {
            let (first, map) = match by {
                By::Customer => ("CUSTOMER", &r.per_customer),
                By::Tier => ("TIER", &r.per_tier),
                By::Plan => ("PLAN", &r.per_plan),
                _ => ("SERVER", &r.per_server),
            };
            let header = std::iter::once(first)
                .chain(GROUP_HEADER)
                .map(str::to_owned)
                .collect();
            (
                costed(header),
                map.iter().map(|(n, k)| group_row(r, n, k)).collect(),
            )
        }
    }
}

/// How many tickets the table lists under "time spent per ticket".
const TOP_TICKETS: usize = 10;

fn ticket_times(r: &Report) -> (Vec<String>, Vec<Vec<String>>) {
    let mut header: Vec<String> = ["TICKET", "CUSTOMER", "TIME SPENT", "BY", "RESOLVED"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    if r.hourly_rate.is_some() {
        header.push("COST".to_owned());
    }
    let rows = r
        .time_per_ticket
        .iter()
        .take(TOP_TICKETS)
        .map(|t| {
            let by: Vec<String> =
                t.by.iter()
                    .map(|(who, m)| format!("{who} {}", fmt_minutes(*m)))
                    .collect();
            let mut row = vec![
                t.ticket.to_string(),
                t.customer.clone(),
                fmt_minutes(t.minutes),
                by.join(", "),
                if t.resolved { "yes" } else { "no" }.to_owned(),
            ];
            row.extend(cost(r, t.cost));
            row
        })
        .collect();
    (header, rows)
}

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

fn text(r: &Report, by: Option<By>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "KPIs for tickets created {} – {} (UTC); definitions: docs/kpis.md\n",
        r.since.map_or_else(
            || "ever".to_owned(),
            |s| s.format("%Y-%m-%d %H:%M").to_string()
        ),
        r.until.format("%Y-%m-%d %H:%M")
    );
    let rows: Vec<Vec<String>> = summary_lines(r)
        .into_iter()
        .map(|(k, v)| vec![k, v])
        .collect();
    out += &table::render(&["KPI", "VALUE"], &rows);

    out += "\n";
    let rows: Vec<Vec<String>> = r
        .volume
        .per_week
        .iter()
        .map(|p| vec![p.period.clone(), p.opened.to_string(), p.closed.to_string()])
        .collect();
    out += &table::render(&["WEEK", "OPENED", "CLOSED"], &rows);
    let rows: Vec<Vec<String>> = r
        .volume
        .per_month
        .iter()
        .map(|p| vec![p.period.clone(), p.opened.to_string(), p.closed.to_string()])
        .collect();
    out += "\n";
    out += &table::render(&["MONTH", "OPENED", "CLOSED"], &rows);

    if !r.time_per_ticket.is_empty() {
        let (header, rows) = ticket_times(r);
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        let _ = writeln!(
            out,
            "\nTime spent per ticket (the {} that took most of {})",
            rows.len(),
            r.time_per_ticket.len()
        );
        out += &table::render(&header, &rows);
    }

    if let Some(by) = by {
        let (header, rows) = breakdown(r, by);
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        out += "\n";
        out += &table::render(&header, &rows);
    }

    out += "\nTickets created by weekday × hour (UTC)\n";
    let header: Vec<String> = std::iter::once("DAY".to_owned())
        .chain((0..24).map(|h| format!("{h:02}")))
        .collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let rows: Vec<Vec<String>> = r
        .heatmap
        .iter()
        .zip(WEEKDAYS)
        .map(|(hours, day)| {
            std::iter::once(day.to_owned())
                .chain(hours.iter().map(|&n| {
                    if n == 0 {
                        ".".to_owned()
                    } else {
                        n.to_string()
                    }
                }))
                .collect()
        })
        .collect();
    out += &table::render(&header, &rows);
    out
}

/// RFC 4180 quoting when needed.
fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn csv_line(out: &mut String, cells: &[String]) {
    let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
    out.push_str(&line.join(","));
    out.push('\n');
}

/// Without `--by`: `kpi,value` lines of the whole window; with it: one line per group. Rates
/// are human strings ("66.7% (2/3)"); programs that need the parts read the JSON, where every
/// rate has its numerator, denominator and percent.
fn csv(r: &Report, by: Option<By>) -> String {
    let mut out = String::new();
    match by {
        None => {
            csv_line(&mut out, &["kpi".to_owned(), "value".to_owned()]);
            for (k, v) in summary_lines(r) {
                csv_line(&mut out, &[k, v]);
            }
        }
        Some(by) => {
            let (header, rows) = breakdown(r, by);
            let header: Vec<String> = header.iter().map(|h| h.to_lowercase()).collect();
            csv_line(&mut out, &header);
            for row in rows {
                csv_line(&mut out, &row);
            }
        }
    }
    out
}
