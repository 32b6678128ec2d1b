//! `GET /customers`: customer health, worst first. The score is `report::health` (defined in
//! docs/kpis.md, "Customer health"); this page only gathers its inputs and shows them.

use std::collections::BTreeMap;
use std::fmt::Write;

use axum::extract::State;
use axum::response::Html;
use chrono::Utc;

use super::auth::Staff;
use super::pages::{esc, layout};
use super::{AppState, WebError, survey_records};
use crate::report::health::{self, Band, HealthInput, Runs};
use crate::report::{self, Rate, Survey, fmt_rate};

/// The window of every "30 d" figure on the page.
const WINDOW_DAYS: i64 = 30;

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

pub async fn customers(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Html<String>, WebError> {
    let config = state.config();
    let now = Utc::now();
    let since = now - chrono::Duration::days(WINDOW_DAYS);
    let tickets = report::window(&*state.store, since).await?;
    let mut runs: BTreeMap<_, Runs> = BTreeMap::new();
    for check in &config.checks {
        let r = runs.entry(check.customer.clone()).or_default();
        for h in state.store.rollups(&check.id, since).await? {
            r.runs += h.runs;
            r.failures += h.failures;
        }
    }
    let surveys = survey_records(&state).await?;
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
        let p = &r.penalties;
        let open_total: u64 = f.open.iter().sum();
        let open = if open_total == 0 {
            r#"<span class="muted">none</span>"#.to_owned()
        } else {
            let parts: Vec<String> = f
                .open
                .iter()
                .zip(["P1", "P2", "P3", "P4"])
                .filter(|(n, _)| **n > 0)
                .map(|(n, s)| format!(r#"{n}× <span class="sev {s}">{s}</span>"#))
                .collect();
            format!(
                r#"<a href="/?customer={}">{open_total}</a> <span class="nowrap">{}</span>"#,
                esc(r.customer.as_str()),
                parts.join(" ")
            )
        };
        let csat = match &f.csat {
            Survey::Available(rate) => rate_or(rate, "no answers"),
            Survey::NoSurveyData => "n/a".to_owned(),
        };
        let uptime = match f.uptime.percent() {
            Some(pct) => format!(
                "{pct:.2}% <div class=\"muted\">{} runs</div>",
                f.uptime.denominator
            ),
            None => r#"<span class="muted">no runs</span>"#.to_owned(),
        };
        let band = match r.band {
            Band::Healthy => "healthy",
            Band::AtRisk => "at_risk",
            Band::Critical => "critical",
        };
        let _ = write!(
            body,
            r#"<tr><td><span class="score {band}">{}</span><div class="band">{}</div></td><td><b>{}</b><div class="muted mono">{}</div></td><td>{open}{}</td><td>{}{}</td><td>{csat}{}</td><td>{}{}</td><td>{uptime}{}</td><td>{}{}</td></tr>"#,
            r.score,
            r.band.as_str(),
            esc(&r.name),
            esc(r.customer.as_str()),
            penalty(p.open),
            f.sla_breaches,
            penalty(p.sla),
            penalty(p.csat),
            rate_or(&f.reopen_rate, "— (nothing resolved)"),
            penalty(p.reopen),
            penalty(p.uptime),
            f.broken_promises,
            penalty(p.promises),
        );
    }
    body.push_str("</tbody></table>");
    body.push_str(r#"<div class="card" style="margin-top:14px"><h3>How the score is made</h3><p>100 minus penalties, each capped, never below 0: open tickets 15 per P1, 10 per P2, 5 per P3, 2 per P4 (max 30) · SLA targets breached by tickets of the last 30 days, 5 each (max 25) · uptime of the customer's checks over 30 days, 5 per point below 100 % (max 25) · CSAT, 0.2 per point below 100 % (max 20; nothing while there is no survey data) · reopen rate, 0.2 per point (max 10) · broken next-update promises (forewarn had to send "still working on it" because no staff update came in time), 5 each (max 15). 80–100 healthy, 50–79 at risk, below 50 critical. The red numbers are what each fact cost. Exact definitions: <span class="mono">docs/kpis.md</span>, "Customer health".</p></div>"#);
    Ok(Html(layout("Customers", &body, Some(&staff), false)))
}
