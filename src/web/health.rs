//! `GET /customers`: customer health, worst first, and `GET /customers/{id}`: one customer's
//! score with what it is made of, open tickets, checks and recent tickets. The score is
//! `report::health` (defined in docs/kpis.md, "Customer health"); these pages only gather its
//! inputs and show them.

use std::collections::BTreeMap;
use std::fmt::Write;

use axum::extract::{Path, State};
use axum::response::Html;
use chrono::{DateTime, Utc};

use super::auth::Staff;
use super::pages::{ago, badge, esc, layout};
use super::queue::{status_pill, ticket_table, urgency};
use super::{AppState, WebError, survey_records};
use crate::model::CheckId;
use crate::report::health::{self, Band, CustomerHealth, HealthInput, Runs};
use crate::report::{self, Rate, Survey, fmt_rate};
use crate::ticket::{Ticket, TimelineEvent};

/// The window of every "30 d" figure on the pages.
const WINDOW_DAYS: i64 = 30;

/// Everything both pages show: the health rows (worst first), the window's tickets and the
/// runs of each check in the window.
struct Gathered {
    rows: Vec<CustomerHealth>,
    tickets: Vec<(Ticket, Vec<TimelineEvent>)>,
    per_check: BTreeMap<CheckId, Runs>,
}

async fn gather(state: &AppState, now: DateTime<Utc>) -> Result<Gathered, WebError> {
    let config = state.config();
    let since = now - chrono::Duration::days(WINDOW_DAYS);
    let tickets = report::window(&*state.store, since).await?;
    let mut per_check: BTreeMap<CheckId, Runs> = BTreeMap::new();
    let mut runs: BTreeMap<_, Runs> = BTreeMap::new();
    for check in &config.checks {
        let mut r = Runs::default();
        for h in state.store.rollups(&check.id, since).await? {
            r.runs += h.runs;
            r.failures += h.failures;
        }
        let c = runs.entry(check.customer.clone()).or_default();
        c.runs += r.runs;
        c.failures += r.failures;
        per_check.insert(check.id.clone(), r);
    }
    let surveys = survey_records(state).await?;
    let customers: Vec<_> = config
        .customers
        .iter()
        .map(|c| (c.id.clone(), c.name.clone()))
        .collect();
    let rows = health::customer_health(&HealthInput {
        customers: &customers,
        tickets: &tickets,
        runs: &runs,
        surveys: surveys.as_deref(),
        since,
        now,
    });
    Ok(Gathered {
        rows,
        tickets,
        per_check,
    })
}

fn penalty(p: f64) -> String {
    if p > 0.0 {
        format!(r#"<div class="fail">−{p:.0}</div>"#)
    } else {
        String::new()
    }
}

fn rate_or(r: &Rate, none: &str) -> String {
    match r.percent() {
        Some(_) => fmt_rate(r),
        None => none.to_owned(),
    }
}

fn band_class(b: Band) -> &'static str {
    match b {
        Band::Healthy => "healthy",
        Band::AtRisk => "at_risk",
        Band::Critical => "critical",
    }
}

fn csat_text(c: &Survey<Rate>) -> String {
    match c {
        Survey::Available(rate) => rate_or(rate, "no answers"),
        Survey::NoSurveyData => "n/a".to_owned(),
    }
}

fn uptime_text(r: &Rate) -> String {
    match r.percent() {
        Some(pct) => format!(
            r#"{pct:.2}% <div class="muted">{} runs</div>"#,
            r.denominator
        ),
        None => r#"<span class="muted">no runs</span>"#.to_owned(),
    }
}

/// "2× P1 1× P3", or "none".
fn open_text(open: &[u64; 4]) -> String {
    if open.iter().sum::<u64>() == 0 {
        return r#"<span class="muted">none</span>"#.to_owned();
    }
    let parts: Vec<String> = open
        .iter()
        .zip(["P1", "P2", "P3", "P4"])
        .filter(|(n, _)| **n > 0)
        .map(|(n, s)| format!(r#"{n}× <span class="sev {s}">{s}</span>"#))
        .collect();
    format!(r#"<span class="nowrap">{}</span>"#, parts.join(" "))
}

/// The facts of a score in the table's column order: name, value, what it cost.
fn facts(h: &CustomerHealth) -> [(&'static str, String, String); 6] {
    let (f, p) = (&h.facts, &h.penalties);
    [
        ("Open tickets", open_text(&f.open), penalty(p.open)),
        (
            "SLA breaches (30 d)",
            f.sla_breaches.to_string(),
            penalty(p.sla),
        ),
        ("CSAT", csat_text(&f.csat), penalty(p.csat)),
        (
            "Reopen rate",
            rate_or(&f.reopen_rate, "— (nothing resolved)"),
            penalty(p.reopen),
        ),
        ("Uptime (30 d)", uptime_text(&f.uptime), penalty(p.uptime)),
        (
            "Broken promises (30 d)",
            f.broken_promises.to_string(),
            penalty(p.promises),
        ),
    ]
}

const HOW: &str = r#"<div class="card"><p>100 minus penalties, each capped, never below 0: open tickets 15 per P1, 10 per P2, 5 per P3, 2 per P4 (max 30) · SLA targets breached by tickets of the last 30 days, 5 each (max 25) · uptime of the customer's checks over 30 days, 5 per point below 100 % (max 25) · CSAT, 0.2 per point below 100 % (max 20; nothing while there is no survey data) · reopen rate, 0.2 per point (max 10) · broken next-update promises (forewarn had to send "still working on it" because no staff update came in time), 5 each (max 15). 80–100 healthy, 50–79 at risk, below 50 critical. The red numbers are what each fact cost. Exact definitions: <span class="mono">docs/kpis.md</span>, "Customer health".</p></div>"#;

pub async fn customers(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Html<String>, WebError> {
    let rows = gather(&state, Utc::now()).await?.rows;
    let mut body =
        String::from("<h1>Customers <span class=\"muted\">· health, worst first</span></h1>");
    if rows.is_empty() {
        body.push_str(r#"<p class="empty">No customers yet. Describe each customer and its checks in a file under <span class="mono">checks/</span> (see the README) and reload forewarn.</p>"#);
        return Ok(Html(layout("Customers", &body, Some(&staff), false)));
    }
    let count = |b: Band| rows.iter().filter(|r| r.band == b).count();
    let _ = write!(
        body,
        r#"<div class="tiles"><div class="tile critical"><div class="n">{}</div><div class="l">critical (score &lt; 50)</div></div><div class="tile warning"><div class="n">{}</div><div class="l">at risk (50–79)</div></div><div class="tile ok"><div class="n">{}</div><div class="l">healthy (80–100)</div></div><div class="tile"><div class="n">{}</div><div class="l">open tickets</div></div></div>"#,
        count(Band::Critical),
        count(Band::AtRisk),
        count(Band::Healthy),
        rows.iter()
            .map(|r| r.facts.open.iter().sum::<u64>())
            .sum::<u64>()
    );
    body.push_str(r#"<table><thead><tr><th>Health</th><th>Customer</th><th>Open tickets</th><th>SLA breaches (30 d)</th><th>CSAT</th><th>Reopen rate</th><th>Uptime (30 d)</th><th>Broken promises (30 d)</th></tr></thead><tbody>"#);
    for r in &rows {
        let f = &r.facts;
        let open_total: u64 = f.open.iter().sum();
        let open = if open_total == 0 {
            open_text(&f.open)
        } else {
            format!(
                r#"<a href="/?customer={}">{open_total}</a> {}"#,
                esc(r.customer.as_str()),
                open_text(&f.open)
            )
        };
        let mut cells = facts(r);
        cells[0].1 = open;
        let _ = write!(
            body,
            r#"<tr><td><span class="score {}">{}</span><div class="band">{}</div></td><td><a href="/customers/{cid}"><b>{}</b></a><div class="muted mono">{cid}</div></td>"#,
            band_class(r.band),
            r.score,
            r.band.as_str(),
            esc(&r.name),
            cid = esc(r.customer.as_str()),
        );
        for (_, value, cost) in cells {
            let _ = write!(body, "<td>{value}{cost}</td>");
        }
        body.push_str("</tr>");
    }
    body.push_str("</tbody></table><h2>How the score is made</h2>");
    body.push_str(HOW);
    Ok(Html(layout("Customers", &body, Some(&staff), false)))
}

pub async fn customer(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Html<String>, WebError> {
    let now = Utc::now();
    let config = state.config();
    let g = gather(&state, now).await?;
    let h = g
        .rows
        .iter()
        .find(|r| r.customer.as_str() == id)
        .ok_or(WebError::NotFound)?;
    let customer = config.customer(&h.customer);
    let users = state.store.users().await?;
    let mut body = format!(
        r#"<p><a href="/customers">← Customers</a></p><h1><span class="score {}">{}</span> {} <span class="muted">· {} · tier {}</span></h1>"#,
        band_class(h.band),
        h.score,
        esc(&h.name),
        h.band.as_str(),
        esc(customer.map_or("unknown", |c| c.tier.as_str())),
    );
    body.push_str(r#"<div class="grid2"><div><h2>What the score is made of</h2><table><thead><tr><th>Fact</th><th>Value</th><th class="right">Cost</th></tr></thead><tbody>"#);
    for (name, value, cost) in facts(h) {
        let _ = write!(
            body,
            r#"<tr><td>{name}</td><td>{value}</td><td class="right">{cost}</td></tr>"#
        );
    }
    let _ = write!(
        body,
        r#"<tr><td><b>Score</b></td><td></td><td class="right"><b>{}</b></td></tr></tbody></table></div><div><h2>How the score is made</h2>{HOW}</div></div>"#,
        h.score
    );
    body.push_str("<h2>Open tickets</h2>");
    let mut open: Vec<&Ticket> = g
        .tickets
        .iter()
        .map(|(t, _)| t)
        .filter(|t| t.customer == h.customer && t.status.is_open())
        .collect();
    open.sort_by_key(|t| urgency(t, now));
    if open.is_empty() {
        body.push_str(
            r#"<p class="empty">No open tickets: nothing is owed to this customer right now.</p>"#,
        );
    } else {
        let name = |_: &str| h.name.clone();
        body.push_str(&ticket_table(&open, now, &users, &name));
    }
    body.push_str("<h2>Checks <span class=\"muted\">· uptime over 30 days</span></h2>");
    let checks: Vec<_> = config
        .checks
        .iter()
        .filter(|c| c.customer == h.customer)
        .collect();
    if checks.is_empty() {
        body.push_str(r#"<p class="empty">No checks for this customer. Add <span class="mono">[[check]]</span> entries to its file under <span class="mono">checks/</span>.</p>"#);
    } else {
        let states = state.store.states().await?;
        body.push_str("<table><thead><tr><th>Status</th><th>Check</th><th>Uptime (30 d)</th><th>Last result</th></tr></thead><tbody>");
        for c in checks {
            let st = states.iter().find(|s| s.check_id == c.id);
            let runs = g.per_check.get(&c.id).copied().unwrap_or_default();
            let _ = write!(
                body,
                r#"<tr><td>{}</td><td><a href="/checks/{id}">{}</a><div class="muted mono">{id}</div></td><td>{}</td><td class="msg">{}</td></tr>"#,
                badge(st.map(|s| s.status)),
                esc(&c.name),
                uptime_text(&Rate {
                    numerator: runs.runs.saturating_sub(runs.failures),
                    denominator: runs.runs,
                }),
                st.map_or_else(
                    || r#"<span class="muted">not run yet</span>"#.to_owned(),
                    |s| format!(
                        "{} <div class=\"muted\">{}</div>",
                        esc(&s.last_message),
                        ago(s.last_run, now)
                    )
                ),
                id = esc(c.id.as_str()),
            );
        }
        body.push_str("</tbody></table>");
    }
    body.push_str("<h2>Closed in the last 30 days</h2>");
    let mut closed: Vec<&Ticket> = g
        .tickets
        .iter()
        .map(|(t, _)| t)
        .filter(|t| t.customer == h.customer && !t.status.is_open())
        .collect();
    closed.sort_by_key(|t| std::cmp::Reverse(t.resolved_at.or(t.closed_at)));
    if closed.is_empty() {
        body.push_str(r#"<p class="empty">None.</p>"#);
    } else {
        body.push_str("<table><thead><tr><th>Ticket</th><th>Status</th><th>Opened</th><th>Resolved</th></tr></thead><tbody>");
        for t in closed {
            let _ = write!(
                body,
                r#"<tr><td><a href="/tickets/{id}">#{id} {}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
                esc(&t.title),
                status_pill(t.status),
                ago(t.created_at, now),
                t.resolved_at
                    .or(t.closed_at)
                    .map_or_else(String::new, |at| ago(at, now)),
                id = t.id.0,
            );
        }
        body.push_str("</tbody></table>");
    }
    Ok(Html(layout(&h.name, &body, Some(&staff), false)))
}
