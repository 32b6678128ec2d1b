//! Server-rendered pages. Every value that comes from config, a target or the store is escaped.

use std::collections::HashMap;
use std::fmt::Write;

use axum::extract::{Path, State};
use axum::response::Html;
use chrono::{DateTime, Utc};

use super::auth::Staff;
use super::{AppState, WebError};
use crate::model::{CheckId, CheckState};
use crate::probe::Status;
use crate::store::HourlyRollup;

/// Escapes text for HTML element content and attribute values.
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
td a{color:var(--accent);text-decoration:none;font-weight:600}
.badge{display:inline-block;min-width:70px;text-align:center;border-radius:999px;padding:2px 8px;font-size:12px;font-weight:600;color:#fff}
.badge.ok{background:var(--ok)}.badge.warning{background:var(--warning)}.badge.critical{background:var(--critical)}.badge.unknown{background:var(--unknown)}.badge.pending{background:#98a2b3}
.muted{color:var(--muted)}.msg{max-width:420px}.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12.5px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px;margin-bottom:14px}
.kv{display:grid;grid-template-columns:160px 1fr;gap:4px 12px}.kv div:nth-child(odd){color:var(--muted)}
.pass{color:var(--ok);font-weight:600}.fail{color:var(--critical);font-weight:600}
.login{max-width:380px;margin:80px auto}.login label{display:block;margin-top:10px;color:var(--muted)}.login input{display:block;margin-top:4px;width:100%;padding:9px;border:1px solid var(--line);border-radius:8px;font-size:14px}
.login button{margin-top:12px;width:100%;padding:9px;border:0;border-radius:8px;background:var(--accent);color:#fff;font-weight:600;font-size:14px;cursor:pointer}
.error{color:var(--critical);margin:8px 0}
"#;

/// The page frame; `staff` is who is signed in (the navigation and its logout form, which
/// carries the session's CSRF token), `None` on the login page.
pub(super) fn layout(title: &str, body: &str, staff: Option<&Staff>, refresh: bool) -> String {
    let nav = match staff {
        Some(s) => format!(
            r#"<nav><a href="/">Checks</a><a href="/metrics">Metrics</a><span class="who" title="{}">{}</span><form method="post" action="/logout"><input type="hidden" name="csrf" value="{}"><button>Log out</button></form></nav>"#,
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
pub fn login_page(error: Option<&str>) -> String {
    let body = format!(
        r#"<div class="login card"><h1>Staff sign-in</h1>{}<form method="post" action="/login"><label>Name<input type="text" name="name" autocomplete="username" autocapitalize="none" spellcheck="false" autofocus required></label><label>Password<input type="password" name="password" autocomplete="current-password" required></label><button type="submit">Sign in</button></form><p class="muted">No account? An admin makes one with <span class="mono">forewarn user add NAME</span>.</p></div>"#,
        error.map_or(String::new(), |e| format!(
            r#"<p class="error">{}</p>"#,
            esc(e)
        ))
    );
    layout("Sign in", &body, None, false)
}

fn badge(status: Option<Status>) -> String {
    match status {
        Some(s) => format!(r#"<span class="badge {0}">{0}</span>"#, s.as_str()),
        None => r#"<span class="badge pending">pending</span>"#.to_owned(),
    }
}

fn ago(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
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
    let now = Utc::now();
    let mut counts = [0usize; 4];
    let mut rows: Vec<(u8, String, String)> = Vec::new();
    let customer_names: HashMap<_, _> = config
        .customers
        .iter()
        .map(|c| (c.id.clone(), c.name.as_str()))
        .collect();
    for check in &config.checks {
        let st = states.get(&check.id);
        let status = st.map(|s| s.status);
        if let Some(s) = status {
            counts[Status::ALL
                .iter()
                .position(|x| *x == s)
                .expect("known status")] += 1;
        }
        let mut row = String::new();
        let _ = write!(
            row,
            r#"<tr><td>{}</td><td><a href="/checks/{id}">{name}</a><div class="muted mono">{id}</div></td><td>{cust}</td><td>{kind}</td><td class="mono">{target}</td>"#,
            badge(status),
            id = esc(check.id.as_str()),
            name = esc(&check.name),
            cust = esc(customer_names
                .get(&check.customer)
                .copied()
                .unwrap_or(check.customer.as_str())),
            kind = check.spec.kind(),
            target = esc(&check.spec.target()),
        );
        match st {
            Some(s) => {
                let _ = write!(
                    row,
                    r#"<td>{} <div class="muted">×{} · last {}</div></td><td class="msg">{}</td></tr>"#,
                    ago(s.since, now),
                    s.consecutive,
                    ago(s.last_run, now),
                    esc(&s.last_message)
                );
            }
            None => {
                row.push_str(r#"<td class="muted">—</td><td class="muted">not run yet</td></tr>"#)
            }
        }
        rows.push((urgency(status), check.id.to_string(), row));
    }
    rows.sort();
    let mut body = String::from("<h1>Checks</h1><div class=\"tiles\">");
    for (i, s) in Status::ALL.iter().enumerate() {
        let _ = write!(
            body,
            r#"<div class="tile {0}"><div class="n">{1}</div><div class="l">{0}</div></div>"#,
            s.as_str(),
            counts[i]
        );
    }
    body.push_str("</div><table><thead><tr><th>Status</th><th>Check</th><th>Customer</th><th>Kind</th><th>Target</th><th>Since</th><th>Last result</th></tr></thead><tbody>");
    for (_, _, r) in rows {
        body.push_str(&r);
    }
    body.push_str("</tbody></table>");
    let _ = write!(
        body,
        r#"<p class="muted">{} checks of {} customers · refreshed {}</p>"#,
        config.checks.len(),
        config.customers.len(),
        now.format("%Y-%m-%d %H:%M:%S UTC")
    );
    Ok(Html(layout("Checks", &body, Some(&staff), true)))
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
        .rollups(&id, now - chrono::Duration::hours(48))
        .await?;
    let mut body = format!(
        r#"<h1>{} {}</h1><div class="card kv"><div>Check</div><div class="mono">{}</div><div>Customer</div><div>{}</div><div>Kind</div><div>{}</div><div>Target</div><div class="mono">{}</div><div>Schedule</div><div>{}</div><div>Defined at</div><div class="mono">{}</div>"#,
        badge(current.as_ref().map(|s| s.status)),
        esc(&check.name),
        esc(check.id.as_str()),
        esc(config
            .customer(&check.customer)
            .map_or(check.customer.as_str(), |c| c.name.as_str())),
        check.spec.kind(),
        esc(&check.spec.target()),
        esc(&check.schedule.describe()),
        esc(&check.defined_at),
    );
    if let Some(s) = &current {
        let _ = write!(
            body,
            "<div>State</div><div>{} since {} ({} run{} in a row)</div>",
            s.status,
            s.since.format("%Y-%m-%d %H:%M:%S UTC"),
            s.consecutive,
            if s.consecutive == 1 { "" } else { "s" }
        );
    }
    body.push_str("</div>");
    if let Some(last) = recent.first() {
        body.push_str("<h2>Last run</h2><div class=\"card\">");
        let _ = write!(
            body,
            "<p>{} <b>{}</b> <span class=\"muted\">{} · {}</span></p>",
            badge(Some(last.outcome.status)),
            esc(&last.outcome.message),
            ago(last.started_at, now),
            crate::probe::fmt_latency(last.outcome.latency)
        );
        if !last.outcome.conditions.is_empty() {
            body.push_str("<table><thead><tr><th>Result</th><th>Condition</th><th>Actual</th></tr></thead><tbody>");
            for c in &last.outcome.conditions {
                let _ = write!(
                    body,
                    r#"<tr><td class="{}">{}</td><td class="mono">{}</td><td class="mono">{}</td></tr>"#,
                    if c.passed { "pass" } else { "fail" },
                    if c.passed {
                        "pass".to_owned()
                    } else {
                        c.severity.as_str().to_uppercase()
                    },
                    esc(&c.condition),
                    esc(&c.actual)
                );
            }
            body.push_str("</tbody></table>");
        }
        body.push_str("</div>");
    }
    body.push_str("<h2>Last 48 hours</h2><div class=\"card\">");
    body.push_str(&history_svg(&rollups, now));
    body.push_str("</div><h2>Recent runs</h2><table><thead><tr><th>Status</th><th>Started</th><th>Latency</th><th>Lag</th><th>Message</th></tr></thead><tbody>");
    for r in &recent {
        let _ = write!(
            body,
            r#"<tr><td>{}</td><td>{}</td><td>{}</td><td>{} ms</td><td class="msg">{}</td></tr>"#,
            badge(Some(r.outcome.status)),
            r.started_at.format("%H:%M:%S"),
            crate::probe::fmt_latency(r.outcome.latency),
            r.lag().as_millis(),
            esc(&r.outcome.message)
        );
    }
    body.push_str("</tbody></table>");
    Ok(Html(layout(&check.name, &body, Some(&staff), true)))
}

/// One bar per hour: height = runs, red part = failures; a line for p95 latency.
fn history_svg(rollups: &[HourlyRollup], now: DateTime<Utc>) -> String {
    if rollups.is_empty() {
        return r#"<p class="muted">No history yet.</p>"#.to_owned();
    }
    let (w, h, hours) = (960.0, 120.0, 48.0);
    let bar = w / hours;
    let max_lat = rollups
        .iter()
        .filter_map(|r| r.latency_p95_ms)
        .fold(1.0_f64, f64::max);
    let mut svg = format!(
        r##"<svg viewBox="0 0 {w} {}" width="100%" role="img" aria-label="hourly uptime and latency"><rect x="0" y="0" width="{w}" height="{h}" fill="#fafbfc"/>"##,
        h + 18.0
    );
    let mut points = Vec::new();
    for r in rollups {
        let age_h = (now - r.hour).num_minutes() as f64 / 60.0;
        if !(0.0..hours).contains(&age_h) {
            continue;
        }
        let x = w - (age_h.floor() + 1.0) * bar;
        let up = if r.runs > 0 {
            1.0 - r.failures as f64 / r.runs as f64
        } else {
            1.0
        };
        let ok_h = (h - 10.0) * up;
        let _ = write!(
            svg,
            r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#12b76a" opacity=".75"><title>{}: {} runs, {} failed, p95 {:.0} ms</title></rect>"##,
            x + 1.0,
            h - ok_h,
            bar - 2.0,
            ok_h,
            r.hour.format("%d %b %H:00"),
            r.runs,
            r.failures,
            r.latency_p95_ms.unwrap_or(0.0)
        );
        if r.failures > 0 {
            let _ = write!(
                svg,
                r##"<rect x="{:.1}" y="10" width="{:.1}" height="{:.1}" fill="#f04438" opacity=".85"/>"##,
                x + 1.0,
                bar - 2.0,
                (h - 10.0) - ok_h
            );
        }
        if let Some(p95) = r.latency_p95_ms {
            points.push(format!(
                "{:.1},{:.1}",
                x + bar / 2.0,
                h - (h - 10.0) * (p95 / max_lat)
            ));
        }
    }
    if points.len() > 1 {
        let _ = write!(
            svg,
            r##"<polyline points="{}" fill="none" stroke="#2e5bff" stroke-width="2"/>"##,
            points.join(" ")
        );
    }
    let _ = write!(
        svg,
        r##"<text x="0" y="{0}" font-size="11" fill="#667085">48 h ago</text><text x="{1}" y="{0}" font-size="11" fill="#667085" text-anchor="end">now · green: uptime per hour, red: failures, blue: p95 latency (max {2:.0} ms)</text></svg>"##,
        h + 14.0,
        w,
        max_lat
    );
    svg
}
