//! `GET /`: the queue — open tickets, most urgent first, with the time left on each SLA clock
//! and filters by severity, skill group, assignee and customer (query string, so a filtered
//! queue is a link).

use std::collections::BTreeSet;

use axum::extract::{Query, State};
use axum::response::Html;
use chrono::{DateTime, Utc};
use minijinja::{Value, context};
use serde::Deserialize;

use super::auth::Staff;
use super::pages::ago;
use super::view;
use super::{AppState, WebError};
use crate::store::User;
use crate::store::tickets::TicketFilter;
use crate::ticket::{Severity, Ticket, TicketStatus};

/// One SLA clock of a ticket: what is owed, by when, and when it was done (if it was).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clock {
    pub name: &'static str,
    pub due: DateTime<Utc>,
    pub done: Option<DateTime<Utc>>,
}

/// Every clock a ticket has a due time for. Acknowledge and first update are done at the
/// ticket's `acknowledged_at` / `first_update_at`; next update and resolve run while it is open.
pub fn clocks(t: &Ticket) -> Vec<Clock> {
    let open = t.status.is_open();
    let mut out = Vec::new();
    let mut add = |name, due: Option<DateTime<Utc>>, done: Option<DateTime<Utc>>| {
        if let Some(due) = due {
            out.push(Clock { name, due, done });
        }
    };
    // A resolution or a close ends every clock (as in the KPIs, docs/kpis.md).
    let ended = if open {
        None
    } else {
        t.resolved_at.or(t.closed_at)
    };
    add("ack", t.ack_due, t.acknowledged_at.or(ended));
    add(
        "first update",
        t.first_update_due,
        t.first_update_at.or(ended),
    );
    // Until the first update the promised next update is usually that same checkpoint.
    let same_as_first = t.first_update_at.is_none()
        && matches!((t.next_update_due, t.first_update_due), (Some(n), Some(f)) if (n - f).num_seconds().abs() < 60);
    if open && !same_as_first {
        add("next update", t.next_update_due, None);
    }
    add("resolve", t.resolve_due, ended);
    out
}

/// The time clocks are read at: now, or when the ticket started waiting on the customer
/// (its clocks are paused then).
fn reference(t: &Ticket, now: DateTime<Utc>) -> (DateTime<Utc>, bool) {
    match (t.status, t.paused_since) {
        (TicketStatus::WaitingOnCustomer, Some(p)) => (p.min(now), true),
        _ => (now, false),
    }
}

/// Urgency sort key: running tickets before paused ones, then the nearest running due time
/// (breached first, the longest breached first), then severity, then age.
pub fn urgency(t: &Ticket, now: DateTime<Utc>) -> (bool, i64, Severity, DateTime<Utc>) {
    let (at, paused) = reference(t, now);
    let nearest = clocks(t)
        .iter()
        .filter(|c| c.done.is_none())
        .map(|c| (c.due - at).num_seconds())
        .min()
        .unwrap_or(i64::MAX);
    (paused, nearest, t.severity, t.created_at)
}

/// `45s`, `12m`, `3h 05m`, `2d 4h`.
pub fn short(secs: i64) -> String {
    let s = secs.abs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// A clock as a chip for the `chip` template macro (`class`, `tip`, `text`): "ack 4m left",
/// "resolve breached 12m ago", "first update met".
pub fn clock_chip(c: &Clock, t: &Ticket, now: DateTime<Utc>) -> Value {
    let (at, paused) = reference(t, now);
    let tip = format!("due {}", c.due.format("%Y-%m-%d %H:%M UTC"));
    let (class, text) = match c.done {
        Some(done) if done <= c.due => ("met", format!("{} met", c.name)),
        Some(done) => (
            "breached",
            format!("{} late by {}", c.name, short((done - c.due).num_seconds())),
        ),
        None => {
            let left = (c.due - at).num_seconds();
            if left < 0 {
                (
                    "breached",
                    format!("{} breached {} ago", c.name, short(left)),
                )
            } else if paused {
                (
                    "paused",
                    format!("{} {} left · paused", c.name, short(left)),
                )
            } else if left < 15 * 60 {
                ("soon", format!("{} {} left", c.name, short(left)))
            } else {
                ("", format!("{} {} left", c.name, short(left)))
            }
        }
    };
    context! { class, tip, text }
}

#[derive(Debug, Default, Deserialize)]
pub struct QueueQuery {
    severity: Option<String>,
    skill: Option<String>,
    /// A user name, or `unassigned`.
    assignee: Option<String>,
    customer: Option<String>,
    /// A ticket number, words of a title, a customer, a problem kind or a site.
    q: Option<String>,
    /// 1-based, [`PAGE`] tickets a page.
    page: Option<usize>,
}

/// Tickets on a page of the queue.
pub const PAGE: usize = 50;

/// A filter value: missing or empty means "all".
fn wanted(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl QueueQuery {
    fn keeps(&self, t: &Ticket) -> bool {
        wanted(&self.severity).is_none_or(|s| t.severity.as_str().eq_ignore_ascii_case(s))
            && wanted(&self.skill).is_none_or(|s| t.skill_group == s)
            && wanted(&self.customer).is_none_or(|c| t.customer.as_str() == c)
            && wanted(&self.assignee).is_none_or(|a| match a {
                "unassigned" => t.assignee.is_none(),
                name => t.assignee.as_deref() == Some(name),
            })
    }

    fn any(&self) -> bool {
        [
            &self.severity,
            &self.skill,
            &self.assignee,
            &self.customer,
            &self.q,
        ]
        .iter()
        .any(|v| wanted(v).is_some())
    }

    /// The query string of these filters on another page.
    fn link(&self, page: usize) -> String {
        let mut pairs: Vec<(&str, &str)> = [
            ("severity", &self.severity),
            ("skill", &self.skill),
            ("assignee", &self.assignee),
            ("customer", &self.customer),
            ("q", &self.q),
        ]
        .into_iter()
        .filter_map(|(k, v)| wanted(v).map(|v| (k, v)))
        .collect();
        let page = page.to_string();
        pairs.push(("page", &page));
        let qs = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        format!("/?{qs}")
    }
}

/// A filter's options for the template: value, text, selected.
fn options(current: Option<&str>, options: &[(String, String)]) -> Vec<Value> {
    options
        .iter()
        .map(|(value, text)| context! { value, text, selected => current == Some(value.as_str()) })
        .collect()
}

pub async fn queue(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<QueueQuery>,
) -> Result<Html<String>, WebError> {
    let config = state.config();
    let now = Utc::now();
    let open = state
        .tickets
        .list(&TicketFilter {
            open_only: true,
            customer: None,
            limit: None,
            ..Default::default()
        })
        .await?;
    let users = state.store.users().await?;
    let customer_name = |id: &str| {
        config
            .customers
            .iter()
            .find(|c| c.id.as_str() == id)
            .map_or_else(|| id.to_owned(), |c| c.name.clone())
    };

    let skills: BTreeSet<&str> = open.iter().map(|t| t.skill_group.as_str()).collect();
    let mut customers: BTreeSet<String> =
        config.customers.iter().map(|c| c.id.to_string()).collect();
    customers.extend(open.iter().map(|t| t.customer.to_string()));
    let mut assignees: Vec<(String, String)> =
        vec![("unassigned".to_owned(), "Unassigned".to_owned())];
    assignees.extend(
        users
            .iter()
            .filter(|u| !u.disabled)
            .map(|u| (u.name.clone(), u.display_name.clone())),
    );
    let own = |v: &BTreeSet<&str>| {
        v.iter()
            .map(|s| (s.to_string(), s.to_string()))
            .collect::<Vec<_>>()
    };

    let search = wanted(&q.q).map(|text| state.tickets.search_for(text));
    let mut shown: Vec<&Ticket> = open
        .iter()
        .filter(|t| q.keeps(t) && search.as_ref().is_none_or(|s| s.matches(t)))
        .collect();
    shown.sort_by_key(|t| urgency(t, now));

    let breached = shown
        .iter()
        .filter(|t| {
            let (at, _) = reference(t, now);
            clocks(t).iter().any(|c| c.done.is_none() && c.due < at)
        })
        .count();
    let severities: Vec<(String, String)> = Severity::ALL
        .iter()
        .map(|s| (s.as_str().to_owned(), s.as_str().to_owned()))
        .collect();
    let customer_options: Vec<(String, String)> = customers
        .iter()
        .map(|c| (c.clone(), customer_name(c)))
        .collect();
    let filters = [
        ("severity", "Severity", wanted(&q.severity), severities),
        ("skill", "Skill group", wanted(&q.skill), own(&skills)),
        ("assignee", "Assignee", wanted(&q.assignee), assignees),
        (
            "customer",
            "Customer",
            wanted(&q.customer),
            customer_options,
        ),
    ]
    .iter()
    .map(|(name, label, current, list)| {
        context! { name, label, options => options(*current, list) }
    })
    .collect::<Vec<_>>();
    // A page of the sorted queue; the counts above are of every matching ticket.
    let pages = shown.len().div_ceil(PAGE).max(1);
    let page = q.page.unwrap_or(1).clamp(1, pages);
    let from = (page - 1) * PAGE;
    let on_page: Vec<&Ticket> = shown.iter().skip(from).take(PAGE).copied().collect();
    let paging = context! {
        page,
        pages,
        first => from + 1,
        last => from + on_page.len(),
        prev => (page > 1).then(|| q.link(page - 1)),
        next => (page < pages).then(|| q.link(page + 1)),
    };
    view::staff_page(
        "staff_queue.html",
        &config.words,
        Some(&staff),
        context! {
            refresh => true,
            section => "queue",
            shown => shown.len(),
            breached,
            filters,
            filtered => q.any(),
            any_open => !open.is_empty(),
            tickets => ticket_rows(&on_page, now, &users, &customer_name),
            paging,
            search => wanted(&q.q).unwrap_or(""),
            now => now.format("%H:%M:%S UTC").to_string(),
        },
    )
}

/// Open tickets as the queue shows them (in the order given), for the `ticket_table` template
/// macro: clocks, ticket, severity, status, customer, assignee (display name), skill group, age.
pub fn ticket_rows(
    tickets: &[&Ticket],
    now: DateTime<Utc>,
    users: &[User],
    customer_name: &dyn Fn(&str) -> String,
) -> Vec<Value> {
    tickets
        .iter()
        .map(|t| {
            let (at, paused) = reference(t, now);
            let cl = clocks(t);
            let running: Vec<&Clock> = cl.iter().filter(|c| c.done.is_none()).collect();
            context! {
                breached => running.iter().any(|c| c.due < at),
                paused,
                chips => running.iter().map(|c| clock_chip(c, t, now)).collect::<Vec<_>>(),
                id => t.id.0,
                title => t.title,
                problem => t.problem,
                severity => t.severity.as_str(),
                status => t.status.as_str(),
                customer => t.customer.as_str(),
                customer_name => customer_name(t.customer.as_str()),
                assignee => t.assignee.as_deref().map(|a| users
                    .iter()
                    .find(|u| u.name == a)
                    .map_or(a, |u| u.display_name.as_str())),
                skill => t.skill_group,
                age => ago(t.created_at, now),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_durations() {
        for (secs, s) in [
            (0, "0s"),
            (59, "59s"),
            (-720, "12m"),
            (3600 + 300, "1h 05m"),
            (2 * 86_400 + 4 * 3600 + 59, "2d 4h"),
        ] {
            assert_eq!(short(secs), s, "{secs}");
        }
    }
}
