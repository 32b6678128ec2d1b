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
use super::paging;
use super::view;
use super::{AppState, WebError};
use crate::model::{CheckId, CheckState};
use crate::probe::Status;
use crate::store::HourlyRollup;

/// The checks the incident detector sees flapping now ([`crate::incident::now::flapping`]).
pub async fn flapping_checks(
    store: &dyn crate::store::Store,
) -> Result<std::collections::HashSet<CheckId>, WebError> {
    Ok(crate::incident::now::flapping(store).await?)
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

/// Checks on a page of `/checks`.
pub const CHECKS_PAGE: usize = 100;

#[derive(Debug, serde::Deserialize, Default)]
pub struct ChecksQuery {
    /// Words of a check's name or id, its customer or its target.
    q: Option<String>,
    /// `ok`, `warning`, `critical`, `unknown`, `pending` or `failing` (warning, critical or
    /// unknown).
    status: Option<String>,
    /// 1-based.
    page: Option<usize>,
}

/// `/checks`: every check, worst first, a page at a time, with search and a status filter; the
/// tiles count all checks.
pub async fn overview(
    State(state): State<AppState>,
    staff: Staff,
    axum::extract::Query(q): axum::extract::Query<ChecksQuery>,
) -> Result<Html<String>, WebError> {
    let config = state.config();
    // Every check's status to count and sort by; the whole state only of the page's checks.
    let statuses: HashMap<CheckId, Status> = state.store.statuses().await?.into_iter().collect();
    let flapping = flapping_checks(state.store.as_ref()).await?;
    let now = Utc::now();
    let mut counts = [0usize; 4];
    let customer_names: HashMap<_, _> = config
        .customers
        .iter()
        .map(|c| (c.id.clone(), c.name.as_str()))
        .collect();
    let needle = q.q.as_deref().unwrap_or("").trim().to_lowercase();
    let wanted_status = q.status.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let mut shown: Vec<(u8, &crate::config::Check)> = Vec::new();
    for check in &config.checks {
        let status = statuses.get(&check.id).copied();
        if let Some(s) = status {
            counts[Status::ALL
                .iter()
                .position(|x| *x == s)
                .expect("known status")] += 1;
        }
        let status_ok = match wanted_status {
            None => true,
            Some("failing") => matches!(status, Some(s) if s != Status::Ok),
            Some("pending") => status.is_none(),
            Some(w) => status.is_some_and(|s| s.as_str() == w),
        };
        let customer = customer_names
            .get(&check.customer)
            .copied()
            .unwrap_or(check.customer.as_str());
        // Without words to look for every check matches: no target string is built.
        if status_ok
            && (needle.is_empty()
                || paging::matches(
                    &needle,
                    &[
                        check.id.as_str(),
                        &check.name,
                        customer,
                        check.customer.as_str(),
                        &check.spec.target(),
                    ],
                ))
        {
            shown.push((urgency(status), check));
        }
    }
    shown.sort_by(|a, b| (a.0, a.1.id.as_str()).cmp(&(b.0, b.1.id.as_str())));
    let link = |n| {
        paging::link(
            "/checks",
            &[("q", q.q.as_deref()), ("status", wanted_status)],
            n,
        )
    };
    let page = paging::page(shown.len(), CHECKS_PAGE, q.page, link);
    let ids: Vec<CheckId> = shown[page.from..page.to]
        .iter()
        .map(|(_, c)| c.id.clone())
        .collect();
    let states: HashMap<CheckId, CheckState> = state
        .store
        .states_of(&ids)
        .await?
        .into_iter()
        .map(|s| (s.check_id.clone(), s))
        .collect();
    let rows: Vec<Value> = shown[page.from..page.to]
        .iter()
        .map(|(_, check)| {
            let st = states.get(&check.id);
            context! {
                status => st.map(|s| s.status.as_str()),
                flapping => flapping.contains(&check.id),
                maintenance => config.in_maintenance(check, now),
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
            }
        })
        .collect();
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
            refresh => q.q.is_none() && q.page.unwrap_or(1) == 1,
            section => "checks",
            tiles,
            rows,
            paging => page.context,
            shown => shown.len(),
            search => q.q.as_deref().unwrap_or(""),
            status => wanted_status.unwrap_or(""),
            filtered => !needle.is_empty() || wanted_status.is_some(),
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
