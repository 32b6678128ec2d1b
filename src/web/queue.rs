//! `GET /`: the queue — open tickets, most urgent first, with the time left on each SLA clock
//! and filters by severity, skill group, assignee and customer (query string, so a filtered
//! queue is a link).

use std::collections::BTreeSet;
use std::fmt::Write;

use axum::extract::{Query, State};
use axum::response::Html;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::auth::Staff;
use super::pages::{ago, esc, layout};
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

/// A clock as a chip: "ack 4m left", "resolve breached 12m ago", "first update met".
pub fn clock_chip(c: &Clock, t: &Ticket, now: DateTime<Utc>) -> String {
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
    format!(
        r#"<span class="clock {class}" title="{}">{}</span>"#,
        esc(&tip),
        esc(&text)
    )
}

pub fn severity_badge(s: Severity) -> String {
    format!(r#"<span class="sev {0}">{0}</span>"#, s.as_str())
}

pub fn status_pill(s: TicketStatus) -> String {
    format!(
        r#"<span class="st {}">{}</span>"#,
        s.as_str(),
        s.as_str().replace('_', " ")
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct QueueQuery {
    severity: Option<String>,
    skill: Option<String>,
    /// A user name, or `unassigned`.
    assignee: Option<String>,
    customer: Option<String>,
}

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
        [&self.severity, &self.skill, &self.assignee, &self.customer]
            .iter()
            .any(|v| wanted(v).is_some())
    }
}

fn select(name: &str, label: &str, current: Option<&str>, options: &[(String, String)]) -> String {
    let mut s = format!(
        r#"<label>{label}<select name="{name}" onchange="this.form.submit()"><option value="">All</option>"#
    );
    for (value, text) in options {
        let _ = write!(
            s,
            r#"<option value="{}"{}>{}</option>"#,
            esc(value),
            if current == Some(value.as_str()) {
                " selected"
            } else {
                ""
            },
            esc(text)
        );
    }
    s.push_str("</select></label>");
    s
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

    let mut shown: Vec<&Ticket> = open.iter().filter(|t| q.keeps(t)).collect();
    shown.sort_by_key(|t| urgency(t, now));

    let breached = shown
        .iter()
        .filter(|t| {
            let (at, _) = reference(t, now);
            clocks(t).iter().any(|c| c.done.is_none() && c.due < at)
        })
        .count();
    let mut body = format!(
        r#"<h1>Queue <span class="muted">· {} open ticket{}{}</span></h1>"#,
        shown.len(),
        if shown.len() == 1 { "" } else { "s" },
        if breached > 0 {
            format!(r#" · <span class="fail">{breached} breached</span>"#)
        } else {
            String::new()
        }
    );
    let severities: Vec<(String, String)> = Severity::ALL
        .iter()
        .map(|s| (s.as_str().to_owned(), s.as_str().to_owned()))
        .collect();
    let customer_options: Vec<(String, String)> = customers
        .iter()
        .map(|c| (c.clone(), customer_name(c)))
        .collect();
    let _ = write!(
        body,
        r#"<form class="filters" method="get" action="/">{}{}{}{}<button class="btn secondary" type="submit">Filter</button>{}</form>"#,
        select("severity", "Severity", wanted(&q.severity), &severities),
        select("skill", "Skill group", wanted(&q.skill), &own(&skills)),
        select("assignee", "Assignee", wanted(&q.assignee), &assignees),
        select(
            "customer",
            "Customer",
            wanted(&q.customer),
            &customer_options
        ),
        if q.any() {
            r#"<a class="btn secondary" href="/">Clear filters</a>"#
        } else {
            ""
        }
    );
    if shown.is_empty() {
        body.push_str(if open.is_empty() {
            r#"<p class="empty">No open tickets — nothing is owed to any customer right now. forewarn opens a ticket when a check keeps failing; see <a href="/checks">Checks</a> for what is being watched.</p>"#
        } else {
            r#"<p class="empty">No open ticket matches these filters. <a href="/">Clear filters</a> to see all of them.</p>"#
        });
    } else {
        body.push_str(&ticket_table(&shown, now, &users, &customer_name));
    }
    let _ = write!(
        body,
        r#"<p class="muted">Most urgent first: the nearest running SLA due time (breached first), then severity. Paused tickets (waiting on the customer) come last. Refreshed {}.</p>"#,
        now.format("%H:%M:%S UTC")
    );
    Ok(Html(layout("Queue", &body, Some(&staff), true)))
}

/// Open tickets as the queue shows them (in the order given): clocks, ticket, severity, status,
/// customer, assignee (display name), skill group, age.
pub fn ticket_table(
    tickets: &[&Ticket],
    now: DateTime<Utc>,
    users: &[User],
    customer_name: &dyn Fn(&str) -> String,
) -> String {
    let mut body = String::from(
        r#"<table><thead><tr><th>SLA clocks</th><th>Ticket</th><th>Sev</th><th>Status</th><th>Customer</th><th>Assignee</th><th>Skill group</th><th>Opened</th></tr></thead><tbody>"#,
    );
    for t in tickets {
        let (at, paused) = reference(t, now);
        let cl = clocks(t);
        let running: Vec<&Clock> = cl.iter().filter(|c| c.done.is_none()).collect();
        let mut chips = String::new();
        if paused {
            chips.push_str(r#"<span class="clock paused">waiting on the customer</span>"#);
        }
        if running.is_empty() && !paused {
            chips.push_str(r#"<span class="muted">no clock running</span>"#);
        }
        chips.extend(running.iter().map(|c| clock_chip(c, t, now)));
        let is_breached = running.iter().any(|c| c.due < at);
        let _ = write!(
            body,
            r#"<tr class="{}"><td>{chips}</td><td><a href="/tickets/{id}">#{id} {title}</a><div class="muted mono">{problem}</div></td><td>{sev}</td><td>{st}</td><td><a href="/?customer={cid}">{cname}</a></td><td>{assignee}</td><td>{skill}</td><td class="nowrap">{age}</td></tr>"#,
            if is_breached { "breached" } else { "" },
            id = t.id.0,
            title = esc(&t.title),
            problem = esc(&t.problem),
            sev = severity_badge(t.severity),
            st = status_pill(t.status),
            cid = esc(t.customer.as_str()),
            cname = esc(&customer_name(t.customer.as_str())),
            assignee = t.assignee.as_deref().map_or_else(
                || r#"<span class="muted">unassigned</span>"#.to_owned(),
                |a| esc(users
                    .iter()
                    .find(|u| u.name == a)
                    .map_or(a, |u| u.display_name.as_str()))
            ),
            skill = esc(&t.skill_group),
            age = ago(t.created_at, now),
        );
    }
    body.push_str("</tbody></table>");
    body
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
