//! Time spent (R5): the `TimeSpent` entries staff log with their public updates, internal
//! notes, questions and resolutions, per set of tickets and per ticket, with its cost at the
//! configured hourly rate (docs/kpis.md, "Time spent and cost").

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Entry, is_resolution};
use crate::config::report::HourlyRate;
use crate::ticket::model::{Actor, EventKind, TicketId, TimelineEvent};

/// Time logged on a set of tickets (every entry on them, whenever it was logged).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Effort {
    /// Minutes logged on these tickets.
    pub minutes: u64,
    /// Tickets with at least one entry.
    pub tickets_with_time: u64,
    /// Minutes logged on the resolved ones among them (at least one resolution).
    pub resolved_minutes: u64,
    /// Resolved tickets with no time logged (they count as 0 in the mean).
    pub resolved_without_time: u64,
    /// `resolved_minutes` / resolved tickets; `None` when none was resolved.
    pub mean_minutes_per_resolved: Option<f64>,
    /// `minutes` at the hourly rate; `None` without `[report] hourly_rate`.
    pub cost: Option<f64>,
}

/// The entries of one timeline: (who, minutes); `who` is `None` for an entry not by staff.
pub(super) fn entries(events: &[TimelineEvent]) -> impl Iterator<Item = (Option<&str>, u64)> {
    events.iter().filter_map(|e| match (&e.kind, &e.actor) {
        (EventKind::TimeSpent { minutes, .. }, Actor::Staff(name)) => {
            Some((Some(name.as_str()), u64::from(*minutes)))
        }
        (EventKind::TimeSpent { minutes, .. }, _) => Some((None, u64::from(*minutes))),
        _ => None,
    })
}

pub(super) fn minutes(events: &[TimelineEvent]) -> u64 {
    entries(events).map(|(_, m)| m).sum()
}

pub(super) fn effort(tickets: &[&Entry], rate: Option<&HourlyRate>) -> Effort {
    let mut e = Effort::default();
    let mut resolved = 0u64;
    for (_, events) in tickets {
        let m = minutes(events);
        e.minutes += m;
        if m > 0 {
            e.tickets_with_time += 1;
        }
        if events.iter().any(is_resolution) {
            resolved += 1;
            e.resolved_minutes += m;
            if m == 0 {
                e.resolved_without_time += 1;
            }
        }
    }
    e.mean_minutes_per_resolved =
        (resolved > 0).then(|| e.resolved_minutes as f64 / resolved as f64);
    e.cost = rate.map(|r| r.cost(e.minutes));
    e
}

/// One ticket's logged time, for the list of the tickets that took the most.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TicketTime {
    pub ticket: TicketId,
    pub customer: String,
    pub title: String,
    pub minutes: u64,
    /// staff member → minutes they logged on it.
    pub by: BTreeMap<String, u64>,
    pub resolved: bool,
    pub cost: Option<f64>,
}

/// The cohort tickets with time logged, most time first (then by ticket number).
pub(super) fn per_ticket(cohort: &[&Entry], rate: Option<&HourlyRate>) -> Vec<TicketTime> {
    let mut out: Vec<TicketTime> = cohort
        .iter()
        .filter_map(|(t, events)| {
            let mut by: BTreeMap<String, u64> = BTreeMap::new();
            let mut total = 0;
            for (who, m) in entries(events) {
                total += m;
                *by.entry(who.unwrap_or("forewarn").to_owned()).or_default() += m;
            }
            (total > 0).then(|| TicketTime {
                ticket: t.id,
                customer: t.customer.as_str().to_owned(),
                title: t.title.clone(),
                minutes: total,
                by,
                resolved: events.iter().any(is_resolution),
                cost: rate.map(|r| r.cost(total)),
            })
        })
        .collect();
    out.sort_by(|a, b| b.minutes.cmp(&a.minutes).then(a.ticket.cmp(&b.ticket)));
    out
}
