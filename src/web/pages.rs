//! The checks pages (`/checks`, `/checks/{id}`) and the login page, from templates
//! (`templates/staff_check*.html`, `staff_login.html`); what the staff pages share (`ago`,
//! the flapping checks, the hourly and daily history slots).

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::response::Html;
use chrono::{DateTime, DurationRound, Utc};
use minijinja::{Value, context};

use super::auth::Staff;
use super::charts::{self, Slot};
use super::view;
use super::{AppState, WebError};
use crate::model::{CheckId, CheckState};
use crate::probe::Status;
use crate::store::HourlyRollup;

/// Escapes text for HTML element content and attribute values. Used by customer.rs until it
/// moves to templates; staff pages are templates with auto-escaping.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = r#"
:root{--bg:#f6f7f9;--card:#fff;--ink:#1d2330;--muted:#667085;--line:#e4e7ec;
--ok:#12b76a;--warning:#f79009;--critical:#f04438;--unknown:#7a5af8;--accent:#2e5bff}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--ink)}
header{background:#101828;color:#fff;padding:12px 24px;display:flex;align-items:center;gap:16px}
header .brand{font-weight:700;font-size:17px;letter-spacing:.2px}header .brand span{color:#7aa2ff}
header nav{margin-left:auto;display:flex;gap:12px;align-items:center}header .who{color:#98a2b3}header a{color:#d0d5dd;text-decoration:none}
header button{background:none;border:1px solid #475467;color:#d0d5dd;border-radius:6px;padding:4px 10px;cursor:pointer}
main{max-width:1200px;margin:0 auto;padding:20px 24px}
h1{font-size:20px;margin:4px 0 16px}h2{font-size:16px;margin:24px 0 10px}
.tiles{display:grid;grid-template-columns:repeat(4,1fr);gap:12px;margin-bottom:18px}
.tile{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 16px}
.tile .n{font-size:26px;font-weight:700}.tile .l{color:var(--muted);text-transform:uppercase;font-size:11px;letter-spacing:.6px}
.tile.ok .n{color:var(--ok)}.tile.warning .n{color:var(--warning)}.tile.critical .n{color:var(--critical)}.tile.unknown .n{color:var(--unknown)}
table{width:100%;border-collapse:collapse;background:var(--card);border:1px solid var(--line);border-radius:10px;overflow:hidden}
th{text-align:left;font-size:11px;text-transform:uppercase;letter-spacing:.6px;color:var(--muted);background:#fafbfc;padding:8px 10px;border-bottom:1px solid var(--line)}
td{padding:8px 10px;border-bottom:1px solid var(--line);vertical-align:top}tr:last-child td{border-bottom:0}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}td a{font-weight:600}
.badge{display:inline-block;min-width:70px;text-align:center;border-radius:999px;padding:2px 8px;font-size:12px;font-weight:600;color:#fff}
.badge.ok{background:var(--ok)}.badge.warning{background:var(--warning)}.badge.critical{background:var(--critical)}.badge.unknown{background:var(--unknown)}.badge.pending{background:#98a2b3}
.muted{color:var(--muted)}.msg{max-width:420px}.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12.5px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px;margin-bottom:14px}
.kv{display:grid;grid-template-columns:160px 1fr;gap:4px 12px}.kv div:nth-child(odd){color:var(--muted)}
.pass{color:var(--ok);font-weight:600}.fail{color:var(--critical);font-weight:600}
.login{max-width:380px;margin:80px auto}.login label{display:block;margin-top:10px;color:var(--muted)}.login input{display:block;margin-top:4px;width:100%;padding:9px;border:1px solid var(--line);border-radius:8px;font-size:14px}
.login button{margin-top:12px;width:100%;padding:9px;border:0;border-radius:8px;background:var(--accent);color:#fff;font-weight:600;font-size:14px;cursor:pointer}
.error{color:var(--critical);margin:8px 0}
.sev{display:inline-block;min-width:30px;text-align:center;border-radius:6px;padding:1px 7px;font-size:12px;font-weight:700;color:#fff}
.sev.P1{background:#d92d20}.sev.P2{background:#f79009}.sev.P3{background:#eaaa08;color:#1d2330}.sev.P4{background:#98a2b3}
.st{display:inline-block;border-radius:999px;padding:1px 8px;font-size:12px;background:#eef0f3;color:#344054;white-space:nowrap}
.st.new,.st.reopened{background:#fee4e2;color:#b42318}.st.acknowledged,.st.in_progress{background:#e0eaff;color:#2945c7}.st.waiting_on_customer{background:#fef0c7;color:#93370d}.st.resolved,.st.closed{background:#d1fadf;color:#05603a}
.clock{display:inline-block;border-radius:6px;padding:1px 6px;margin:1px 4px 1px 0;font-size:12px;background:#eef0f3;color:#344054;white-space:nowrap}
.clock.breached{background:#f04438;color:#fff;font-weight:600}.clock.soon{background:#fef0c7;color:#93370d;font-weight:600}.clock.paused{color:#667085;font-style:italic}.clock.met{background:#ecfdf3;color:#05603a}
.filters{display:flex;gap:10px;flex-wrap:wrap;align-items:end;margin-bottom:14px}
.filters label{font-size:11px;text-transform:uppercase;color:var(--muted);letter-spacing:.5px;display:flex;flex-direction:column;gap:3px}
select,input[type=text],textarea{font:inherit;padding:6px 8px;border:1px solid #d0d5dd;border-radius:8px;background:#fff;color:var(--ink)}
textarea{width:100%;min-height:70px;resize:vertical}input.wide{width:100%}
.btn{display:inline-block;line-height:18px;padding:7px 14px;border:0;border-radius:8px;background:var(--accent);color:#fff;font-weight:600;cursor:pointer;text-decoration:none;font-size:13px}
.btn.secondary{background:#fff;color:#344054;border:1px solid #d0d5dd}.btn.danger{background:#d92d20}.btn.good{background:#039855}
.notice{background:#ecfdf3;border:1px solid #abefc6;color:#05603a;border-radius:8px;padding:10px 14px;margin-bottom:14px}
.errorbox{background:#fef3f2;border:1px solid #fecdca;color:#b42318;border-radius:8px;padding:8px 12px;margin:6px 0 10px}
.empty{color:var(--muted);background:#fff;border:1px dashed #d0d5dd;border-radius:10px;padding:18px;text-align:center;margin:0}
.cols{display:grid;grid-template-columns:minmax(0,1.45fr) minmax(0,1fr);gap:18px}
.timeline{list-style:none;margin:0;padding:0}.timeline li{border-left:3px solid #d0d5dd;padding:6px 12px;margin:0 0 8px;background:#fff;border-radius:0 8px 8px 0}
.timeline li.public{border-left-color:var(--accent)}.timeline li.internal{border-left-color:#eaaa08;background:#fffaeb}
.timeline .meta{font-size:12px;color:var(--muted)}.timeline .text{white-space:pre-wrap;margin-top:2px}
.tag{font-size:10.5px;font-weight:700;border-radius:4px;padding:0 5px;margin-left:6px;text-transform:uppercase;letter-spacing:.4px}
.tag.public{background:#e0eaff;color:#2945c7}.tag.internal{background:#fef0c7;color:#93370d}
form.stack label{display:block;margin:8px 0 3px;font-weight:600;font-size:13px}form.stack .hint{font-weight:400;color:var(--muted);font-size:12px}
form.stack .choice{display:inline-flex;gap:4px;align-items:center;font-weight:400;margin-right:12px}
form.stack h3,.card h3{margin:0 0 6px;font-size:14px}
fieldset{border:1px solid var(--line);border-radius:8px;padding:6px 10px 10px;margin:8px 0}legend{font-size:12px;color:var(--muted)}
.score{font-size:22px;font-weight:800}.score.healthy{color:#039855}.score.at_risk{color:#dc6803}.score.critical{color:#d92d20}
.band{font-size:11px;text-transform:uppercase;letter-spacing:.5px;font-weight:700;color:var(--muted)}
.tiles.k5{grid-template-columns:repeat(5,1fr)}.tile .s{color:var(--muted);font-size:12px}
.right{text-align:right}.nowrap{white-space:nowrap}
tr.breached td:first-child{box-shadow:inset 3px 0 0 #f04438}
.card>p:first-child{margin-top:0}.card>p:last-child{margin-bottom:0}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:14px}.grid2 input{min-width:0}
details{margin:8px 0}summary{cursor:pointer;font-weight:600;font-size:13px}summary .hint{font-weight:400;color:var(--muted)}
"#;

/// The page frame (used by customer.rs until it moves to templates); `staff` is who is signed in (the navigation and its logout form, which
/// carries the session's CSRF token), `None` on the login page.
pub fn layout(title: &str, body: &str, staff: Option<&Staff>, refresh: bool) -> String {
    let nav = match staff {
        Some(s) => format!(
            r#"<nav><a href="/">Queue</a><a href="/checks">Checks</a><a href="/customers">Customers</a><a href="/surveys">Surveys</a><a href="/kpis">KPIs</a><span class="who" title="{}">{}</span><form method="post" action="/logout"><input type="hidden" name="csrf" value="{}"><button>Log out</button></form></nav>"#,
            s.role,
            esc(&s.display_name),
            esc(&s.csrf)
        ),
        None => String::new(),
    };
    let refresh = if refresh {
        r#"<meta http-equiv="refresh" content="15">"#
    } else {
        ""
    };
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">{refresh}<title>{} · forewarn</title><style>{CSS}</style></head><body><header><div class="brand">fore<span>warn</span></div>{nav}</header><main>{body}</main></body></html>"#,
        esc(title)
    )
}

/// The sign-in form: name and password. `error` says why the last attempt failed.
pub fn login_page(
    words: &crate::words::Words,
    error: Option<&str>,
) -> Result<Html<String>, WebError> {
    view::staff_page(
        "staff_login.html",
        words,
        None,
        context! { refresh => false, error },
    )
}

/// The checks the incident detector sees flapping now (its saved per-check state).
pub async fn flapping_checks(
    store: &dyn crate::store::Store,
) -> Result<std::collections::HashSet<CheckId>, WebError> {
    Ok(store
        .detector_states()
        .await?
        .into_iter()
        .filter(|(_, v)| {
            serde_json::from_value::<crate::incident::Track>(v.clone())
                .is_ok_and(|t| t.phase == crate::incident::Phase::Flapping)
        })
        .map(|(id, _)| id)
        .collect())
}

pub fn ago(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - t).num_seconds().max(0) as u64;
    let d = std::time::Duration::from_secs(secs);
    if secs < 60 {
        format!("{secs}s ago")
    } else {
        let rounded = std::time::Duration::from_secs(if secs < 3600 {
            secs / 60 * 60
        } else {
            secs / 3600 * 3600
        });
        let _ = d;
        format!("{} ago", humantime::format_duration(rounded))
    }
}

/// Sort key: worst first (critical, unknown, warning, pending, ok).
fn urgency(s: Option<Status>) -> u8 {
    match s {
        Some(Status::Critical) => 0,
        Some(Status::Unknown) => 1,
        Some(Status::Warning) => 2,
        None => 3,
        Some(Status::Ok) => 4,
    }
}

pub async fn overview(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Html<String>, WebError> {
    let config = state.config();
    let states: HashMap<CheckId, CheckState> = state
        .store
        .states()
        .await?
        .into_iter()
        .map(|s| (s.check_id.clone(), s))
        .collect();
    let flapping = flapping_checks(state.store.as_ref()).await?;
    let now = Utc::now();
    let mut counts = [0usize; 4];
    let customer_names: HashMap<_, _> = config
        .customers
        .iter()
        .map(|c| (c.id.clone(), c.name.as_str()))
        .collect();
    let mut rows: Vec<(u8, &str, Value)> = Vec::new();
    for check in &config.checks {
        let st = states.get(&check.id);
        let status = st.map(|s| s.status);
        if let Some(s) = status {
            counts[Status::ALL
                .iter()
                .position(|x| *x == s)
                .expect("known status")] += 1;
        }
        let row = context! {
            status => status.map(Status::as_str),
            flapping => flapping.contains(&check.id),
            id => check.id.as_str(),
            name => check.name,
            customer => customer_names
                .get(&check.customer)
                .copied()
                .unwrap_or(check.customer.as_str()),
            kind => check.spec.kind(),
            target => check.spec.target(),
            since => st.map(|s| ago(s.since, now)),
            consecutive => st.map(|s| s.consecutive),
            last_run => st.map(|s| ago(s.last_run, now)),
            message => st.map(|s| s.last_message.as_str()),
        };
        rows.push((urgency(status), check.id.as_str(), row));
    }
    rows.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let tiles: Vec<Value> = Status::ALL
        .iter()
        .zip(counts)
        .map(|(s, count)| context! { status => s.as_str(), count })
        .collect();
    view::staff_page(
        "staff_checks.html",
        &config.words,
        Some(&staff),
        context! {
            refresh => true,
            section => "checks",
            tiles,
            rows => rows.into_iter().map(|(_, _, r)| r).collect::<Vec<_>>(),
            checks => config.checks.len(),
            customers => config.customers.len(),
            now => now.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        },
    )
}

pub async fn check_page(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Html<String>, WebError> {
    let config = state.config();
    let check = config.check(&id).ok_or(WebError::NotFound)?;
    let id = check.id.clone();
    let now = Utc::now();
    let current = state.store.state(&id).await?;
    let recent = state.store.recent_results(&id, 30).await?;
    let rollups = state
        .store
        .rollups(&id, now - chrono::Duration::days(30))
        .await?;
    let last = recent.first().map(|last| {
        context! {
            status => last.outcome.status.as_str(),
            message => last.outcome.message,
            ago => ago(last.started_at, now),
            latency => crate::probe::fmt_latency(last.outcome.latency),
            conditions => conditions(&last.outcome.conditions),
        }
    });
    let recent: Vec<Value> = recent
        .iter()
        .map(|r| {
            context! {
                status => r.outcome.status.as_str(),
                started => r.started_at.format("%H:%M:%S").to_string(),
                latency => crate::probe::fmt_latency(r.outcome.latency),
                lag_ms => r.lag().as_millis() as u64,
                message => r.outcome.message,
            }
        })
        .collect();
    view::staff_page(
        "staff_check.html",
        &config.words,
        Some(&staff),
        context! {
            refresh => true,
            section => "checks",
            check => context! {
                name => check.name,
                id => check.id.as_str(),
                customer => config
                    .customer(&check.customer)
                    .map_or(check.customer.as_str(), |c| c.name.as_str()),
                kind => check.spec.kind(),
                target => check.spec.target(),
                schedule => check.schedule.describe(),
                defined_at => check.defined_at,
            },
            state => current.as_ref().map(|s| context! {
                status => s.status.as_str(),
                since => s.since.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                consecutive => s.consecutive,
            }),
            last,
            history => history_charts(&rollups, now),
            recent,
        },
    )
}

/// Every condition of a run, for the `conditions` template macro: passed, or the status its
/// failure gives.
pub fn conditions(conditions: &[crate::probe::ConditionResult]) -> Vec<Value> {
    conditions
        .iter()
        .map(|c| {
            context! {
                passed => c.passed,
                severity => c.severity.as_str(),
                condition => c.condition,
                actual => c.actual,
            }
        })
        .collect()
}

/// One slot per hour for the last `hours` hours (the current hour last).
pub fn hourly_slots(rollups: &[HourlyRollup], now: DateTime<Utc>, hours: i64) -> Vec<Slot> {
    let this_hour = now
        .duration_trunc(chrono::Duration::hours(1))
        .unwrap_or(now);
    (0..hours)
        .map(|i| {
            let hour = this_hour - chrono::Duration::hours(hours - 1 - i);
            let r = rollups.iter().find(|r| r.hour == hour);
            Slot {
                label: hour.format("%d %b %H:00").to_string(),
                runs: r.map_or(0, |r| r.runs),
                failures: r.map_or(0, |r| r.failures),
                p50_ms: r.and_then(|r| r.latency_p50_ms),
                p95_ms: r.and_then(|r| r.latency_p95_ms),
            }
        })
        .collect()
}

/// One slot per UTC day for the last `days` days (today last). A day's p50 / p95 is the mean
/// of its hourly p50 / p95 weighted by the runs measured in each hour.
pub fn daily_slots(rollups: &[HourlyRollup], now: DateTime<Utc>, days: i64) -> Vec<Slot> {
    let today = now.date_naive();
    (0..days)
        .map(|i| {
            let day = today - chrono::Duration::days(days - 1 - i);
            let hours: Vec<&HourlyRollup> = rollups
                .iter()
                .filter(|r| r.hour.date_naive() == day)
                .collect();
            let weighted = |pick: fn(&HourlyRollup) -> Option<f64>| {
                let (sum, n) = hours
                    .iter()
                    .filter_map(|r| pick(r).map(|v| (v * r.measured as f64, r.measured)))
                    .fold((0.0, 0u64), |(s, n), (v, m)| (s + v, n + m));
                (n > 0).then(|| sum / n as f64)
            };
            Slot {
                label: day.format("%d %b").to_string(),
                runs: hours.iter().map(|r| r.runs).sum(),
                failures: hours.iter().map(|r| r.failures).sum(),
                p50_ms: weighted(|r| r.latency_p50_ms),
                p95_ms: weighted(|r| r.latency_p95_ms),
            }
        })
        .collect()
}

/// Uptime and latency charts over 48 hours (hourly) and 30 days (daily).
fn history_charts(rollups: &[HourlyRollup], now: DateTime<Utc>) -> Value {
    let recent: Vec<HourlyRollup> = rollups
        .iter()
        .filter(|r| now - r.hour < chrono::Duration::hours(48))
        .cloned()
        .collect();
    let h48 = hourly_slots(&recent, now, 48);
    let d30 = daily_slots(rollups, now, 30);
    let up = |slots: &[Slot]| {
        let runs: u64 = slots.iter().map(|s| s.runs).sum();
        let failures: u64 = slots.iter().map(|s| s.failures).sum();
        if runs == 0 {
            "no runs".to_owned()
        } else {
            format!(
                "{:.2}% up · {runs} runs, {failures} failed",
                100.0 * (runs - failures) as f64 / runs as f64
            )
        }
    };
    context! {
        h48_up => up(&h48),
        h48_uptime => Value::from_serialize(charts::uptime(&h48, "uptime per hour, last 48 hours")),
        h48_latency => Value::from_serialize(charts::latency(&h48, "latency per hour, last 48 hours")),
        d30_up => up(&d30),
        d30_uptime => Value::from_serialize(charts::uptime(&d30, "uptime per day, last 30 days")),
        d30_latency => Value::from_serialize(charts::latency(&d30, "latency per day, last 30 days")),
    }
}
