//! `GET /customers`: customer health, worst first, and `GET /customers/{id}`: one customer's
//! score with what it is made of, open tickets, checks and recent tickets. The score is
//! `report::health` (defined in docs/kpis.md, "Customer health"); these pages only gather its
//! inputs and show them.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::Html;
use chrono::{DateTime, Utc};
use minijinja::{Value, context};

use super::auth::Staff;
use super::pages::ago;
use super::paging;
use super::queue::{ticket_rows, urgency};
use super::view;
use super::{AppState, WebError, survey_records};
use crate::model::{CheckId, CustomerId};
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
    /// Each check's runs: read only for one customer's page.
    per_check: BTreeMap<CheckId, Runs>,
}

/// Of every customer, or of `only` (one customer's page: a score depends on that customer's
/// tickets and checks alone, so the rest is not read).
async fn gather(
    state: &AppState,
    now: DateTime<Utc>,
    only: Option<&CustomerId>,
) -> Result<Gathered, WebError> {
    let config = state.config();
    let since = now - chrono::Duration::days(WINDOW_DAYS);
    let tickets = report::window(&*state.store, since, only).await?;
    let mut per_check: BTreeMap<CheckId, Runs> = BTreeMap::new();
    let mut runs: BTreeMap<CustomerId, Runs> = BTreeMap::new();
    match only {
        // One customer: each of its checks' runs (its page lists them), summed.
        Some(id) => {
            let checks: Vec<&crate::config::Check> =
                config.checks.iter().filter(|c| c.customer == *id).collect();
            let ids: Vec<CheckId> = checks.iter().map(|c| c.id.clone()).collect();
            let totals: std::collections::HashMap<CheckId, (u64, u64)> = state
                .store
                .rollup_totals(since, &ids)
                .await?
                .into_iter()
                .map(|t| (t.check_id, (t.runs, t.failures)))
                .collect();
            for check in checks {
                let (runs_, failures) = totals.get(&check.id).copied().unwrap_or_default();
                let r = Runs {
                    runs: runs_,
                    failures,
                };
                let c = runs.entry(check.customer.clone()).or_default();
                c.runs += r.runs;
                c.failures += r.failures;
                per_check.insert(check.id.clone(), r);
            }
        }
        // Every customer: summed per customer by the database.
        None => {
            for t in state.store.rollup_totals_by_customer(since).await? {
                runs.insert(
                    t.customer_id,
                    Runs {
                        runs: t.runs,
                        failures: t.failures,
                    },
                );
            }
        }
    }
    let surveys = survey_records(state).await?;
    let customers: Vec<_> = config
        .customers
        .iter()
        .filter(|c| only.is_none_or(|id| c.id == *id))
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

/// What a fact cost, rounded; 0: nothing (shown as nothing).
fn penalty(p: f64) -> u64 {
    if p > 0.0 { p.round() as u64 } else { 0 }
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

/// An uptime for the `uptime` template macro: the percentage (none: no runs) and the runs.
fn uptime(r: &Rate) -> Value {
    context! {
        pct => r.percent().map(|pct| format!("{pct:.2}%")),
        runs => r.denominator,
    }
}

/// The facts of a score in the table's column order, for the `fact` template macro: name,
/// what it is (`open`: tickets per severity; `uptime`; else `text`), what it cost.
fn facts(h: &CustomerHealth) -> Vec<Value> {
    let (f, p) = (&h.facts, &h.penalties);
    let open: Vec<Value> = f
        .open
        .iter()
        .zip(["P1", "P2", "P3", "P4"])
        .filter(|(n, _)| **n > 0)
        .map(|(n, sev)| context! { n, sev })
        .collect();
    let text = |name: &str, text: String, cost: f64| {
        context! { name, kind => "text", text, cost => penalty(cost) }
    };
    vec![
        context! {
            name => "Open tickets",
            kind => "open",
            open,
            total => f.open.iter().sum::<u64>(),
            customer => h.customer.as_str(),
            cost => penalty(p.open),
        },
        text("SLA breaches (30 d)", f.sla_breaches.to_string(), p.sla),
        text("CSAT", csat_text(&f.csat), p.csat),
        text(
            "Reopen rate",
            rate_or(&f.reopen_rate, "— (nothing resolved)"),
            p.reopen,
        ),
        context! {
            name => "Uptime (30 d)",
            kind => "uptime",
            uptime => uptime(&f.uptime),
            cost => penalty(p.uptime),
        },
        text(
            "Broken promises (30 d)",
            f.broken_promises.to_string(),
            p.promises,
        ),
    ]
}

/// Customers on a page of `/customers`.
const PAGE: usize = 100;

#[derive(Debug, serde::Deserialize)]
pub struct CustomersQuery {
    /// Words of a customer's name or id, or their tier.
    q: Option<String>,
    /// 1-based.
    page: Option<usize>,
}

pub async fn customers(
    State(state): State<AppState>,
    staff: Staff,
    axum::extract::Query(q): axum::extract::Query<CustomersQuery>,
) -> Result<Html<String>, WebError> {
    let config = state.config();
    let all = gather(&state, Utc::now(), None).await?.rows;
    let count = |b: Band| all.iter().filter(|r| r.band == b).count();
    let tiles = context! {
        critical => count(Band::Critical),
        at_risk => count(Band::AtRisk),
        healthy => count(Band::Healthy),
        open => all
            .iter()
            .map(|r| r.facts.open.iter().sum::<u64>())
            .sum::<u64>(),
    };
    let needle = q.q.as_deref().unwrap_or("").trim().to_lowercase();
    let shown: Vec<_> = all
        .iter()
        .filter(|r| {
            let tier = config.customer(&r.customer).map_or("", |c| c.tier.as_str());
            paging::matches(&needle, &[&r.name, r.customer.as_str(), tier])
        })
        .collect();
    let page = paging::page(shown.len(), PAGE, q.page, |n| {
        paging::link("/customers", &[("q", q.q.as_deref())], n)
    });
    let rows: Vec<Value> = shown[page.from..page.to]
        .iter()
        .map(|r| {
            context! {
                score => r.score,
                band => r.band.as_str(),
                band_class => band_class(r.band),
                name => r.name,
                customer => r.customer.as_str(),
                facts => facts(r),
            }
        })
        .collect();
    view::staff_page(
        "staff_customers.html",
        &config.words,
        Some(&staff),
        context! {
            refresh => false,
            section => "customers",
            tiles,
            rows,
            paging => page.context,
            search => q.q.as_deref().unwrap_or(""),
            customers => all.len(),
        },
    )
}

pub async fn customer(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Html<String>, WebError> {
    let now = Utc::now();
    let config = state.config();
    let id = CustomerId::parse(&id).map_err(|_| WebError::NotFound)?;
    let g = gather(&state, now, Some(&id)).await?;
    let h = g
        .rows
        .iter()
        .find(|r| r.customer == id)
        .ok_or(WebError::NotFound)?;
    let customer = config.customer(&h.customer);
    let users = state.store.users().await?;
    let mut open: Vec<&Ticket> = g
        .tickets
        .iter()
        .map(|(t, _)| t)
        .filter(|t| t.customer == h.customer && t.status.is_open())
        .collect();
    open.sort_by_key(|t| urgency(t, now));
    let name = |_: &str| h.name.clone();
    // This customer's checks' states, not every check's.
    let ids: Vec<CheckId> = config
        .checks
        .iter()
        .filter(|c| c.customer == h.customer)
        .map(|c| c.id.clone())
        .collect();
    let states: std::collections::HashMap<CheckId, _> = state
        .store
        .states_of(&ids)
        .await?
        .into_iter()
        .map(|s| (s.check_id.clone(), s))
        .collect();
    let checks: Vec<Value> = config
        .checks
        .iter()
        .filter(|c| c.customer == h.customer)
        .map(|c| {
            let st = states.get(&c.id);
            let runs = g.per_check.get(&c.id).copied().unwrap_or_default();
            context! {
                id => c.id.as_str(),
                name => c.name,
                status => st.map(|s| s.status.as_str()),
                uptime => uptime(&Rate {
                    numerator: runs.runs.saturating_sub(runs.failures),
                    denominator: runs.runs,
                }),
                message => st.map(|s| s.last_message.as_str()),
                last_run => st.map(|s| ago(s.last_run, now)),
            }
        })
        .collect();
    let mut closed: Vec<&Ticket> = g
        .tickets
        .iter()
        .map(|(t, _)| t)
        .filter(|t| t.customer == h.customer && !t.status.is_open())
        .collect();
    closed.sort_by_key(|t| std::cmp::Reverse(t.resolved_at.or(t.closed_at)));
    let closed: Vec<Value> = closed
        .iter()
        .map(|t| {
            context! {
                id => t.id.0,
                title => t.title,
                status => t.status.as_str(),
                opened => ago(t.created_at, now),
                resolved => t.resolved_at.or(t.closed_at).map(|at| ago(at, now)),
            }
        })
        .collect();
    view::staff_page(
        "staff_customer.html",
        &config.words,
        Some(&staff),
        context! {
            refresh => false,
            section => "customers",
            score => h.score,
            band => h.band.as_str(),
            band_class => band_class(h.band),
            name => h.name,
            tier => customer.map_or("unknown", |c| c.tier.as_str()),
            facts => facts(h),
            open => ticket_rows(&open, now, &users, &name),
            checks,
            closed,
        },
    )
}
