//! `forewarn report [--since 30d] [--by engineer|customer|tier] [--format table|csv|json]`:
//! KPIs over the tickets of a window, computed by `report` from the timelines in the store.
//! Definitions: docs/kpis.md.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};

use super::table;
use crate::config::Config;
use crate::model::CustomerId;
use crate::report::{
    self, EngineerKpis, Kpis, NO_SURVEY_DATA, Report, ReportInput, Survey, TimeStats, fmt_rate,
    fmt_secs, fmt_survey_rate,
};
use crate::store::SurveyStore;
use crate::store::tickets::TicketStore;

#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    /// The window: tickets created in the last <duration> (e.g. 7d, 30d, 12h).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30d")]
    pub since: Duration,
    /// Add a breakdown by engineer, customer or tier.
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

pub async fn report(config: Config, args: ReportArgs) -> anyhow::Result<ExitCode> {
    let store = crate::store::open(&config.database).await?;
    let tiers: BTreeMap<CustomerId, String> = config
        .customers
        .iter()
        .map(|c| (c.id.clone(), c.tier.clone()))
        .collect();
    let out = render_report(&*store, &tiers, &args, Utc::now()).await?;
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

/// Loads the window's tickets, timelines and surveys, computes and renders the report. With no
/// survey sent yet, survey KPIs read "n/a (no survey data)".
pub async fn render_report<S: TicketStore + SurveyStore + ?Sized>(
    store: &S,
    tiers: &BTreeMap<CustomerId, String>,
    args: &ReportArgs,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    let since = now - chrono::Duration::from_std(args.since)?;
    let report = load_and_compute(store, tiers, since, now).await?;
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
    tiers: &BTreeMap<CustomerId, String>,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> anyhow::Result<Report> {
    let tickets = report::window(store, since).await?;
    let surveys = store.survey_records().await?;
    Ok(report::compute(&ReportInput {
        tickets: &tickets,
        now,
        since: Some(since),
        tiers,
        surveys: (!surveys.is_empty()).then_some(surveys.as_slice()),
    }))
}

fn mean(s: &TimeStats) -> String {
    s.mean_secs.map_or_else(|| "—".to_owned(), fmt_secs)
}

fn p90(s: &TimeStats) -> String {
    s.p90_secs
        .map_or_else(|| "—".to_owned(), |v| fmt_secs(v as f64))
}

/// (name, value) lines of one set of KPIs, shared by the table and the CSV.
fn summary_lines(k: &Kpis) -> Vec<(String, String)> {
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
    v
}

const GROUP_HEADER: [&str; 9] = [
    "OPENED",
    "RESOLVED",
    "ACK MEAN",
    "ACK P90",
    "RESOLVE MEAN",
    "RESOLVE P90",
    "SLA",
    "REOPEN",
    "CSAT",
];

fn group_row(name: &str, k: &Kpis) -> Vec<String> {
    vec![
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
    ]
}

const ENGINEER_HEADER: [&str; 5] = ["ENGINEER", "RESOLVED", "SLA", "CSAT", "POINTS"];

fn engineer_row(e: &EngineerKpis) -> Vec<String> {
    vec![
        e.engineer.clone(),
        e.resolved.to_string(),
        fmt_rate(&e.sla),
        fmt_survey_rate(&e.csat),
        match &e.points {
            Survey::Available(p) => p.to_string(),
            Survey::NoSurveyData => NO_SURVEY_DATA.to_owned(),
        },
    ]
}

fn breakdown(r: &Report, by: By) -> (Vec<String>, Vec<Vec<String>>) {
    match by {
        By::Engineer => (
            ENGINEER_HEADER.iter().map(|s| (*s).to_owned()).collect(),
            r.per_engineer.iter().map(engineer_row).collect(),
        ),
        By::Customer | By::Tier => {
            let (first, map) = if by == By::Customer {
                ("CUSTOMER", &r.per_customer)
            } else {
                ("TIER", &r.per_tier)
            };
            let header = std::iter::once(first)
                .chain(GROUP_HEADER)
                .map(str::to_owned)
                .collect();
            (header, map.iter().map(|(n, k)| group_row(n, k)).collect())
        }
    }
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
    let rows: Vec<Vec<String>> = summary_lines(&r.overall)
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
            for (k, v) in summary_lines(&r.overall) {
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
