//! Proactive lead (R10): did monitoring know before the customer wrote, and were customers
//! told before they had to write? Computed from the tickets of one customer and their
//! timelines (docs/kpis.md, "Proactive lead").

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Durations, Entry, Index, Rate, ReportInput, is_end};
use crate::ticket::model::{Actor, EventKind, Origin, Ticket, TimelineEvent};

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Lead {
    /// Tickets a customer opened (origin customer).
    pub customer_reports: u64,
    /// Reports written while a related monitoring ticket was open / all reports.
    pub monitoring_first: Rate,
    /// Reports after which monitoring opened a related ticket while the report was open.
    pub customer_first: u64,
    /// Reports with no related monitoring ticket open then or while the report was open.
    pub never_knew: u64,
    /// Over "monitoring first": how long monitoring had known when the customer wrote.
    pub lead_time: Durations,
    /// Over "customer first": how long after the customer monitoring knew.
    pub monitoring_lag: Durations,
    /// Tickets monitoring opened.
    pub monitoring_tickets: u64,
    /// Monitoring tickets whose customer had a mail delivered before writing anything
    /// (or never wrote) / all monitoring tickets.
    pub told_first: Rate,
    /// Monitoring tickets where the customer wrote (a reply, or a related report) before
    /// any mail of the ticket reached them.
    pub customer_wrote_first: u64,
    /// Monitoring tickets with no mail delivered and no word from the customer (no
    /// contacts, mail still failing, or a ticket too fresh).
    pub not_told: u64,
    /// Over told tickets: from opening to the first delivered mail.
    pub time_to_tell: Durations,
}

/// The cycles of a ticket: from its creation or a reopening to the first resolution or close
/// after it (`None`: still open).
pub fn cycles(t: &Ticket, events: &[TimelineEvent]) -> Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> {
    let mut sorted: Vec<&TimelineEvent> = events.iter().collect();
    sorted.sort_by_key(|e| e.at);
    let mut out = vec![(t.created_at, None)];
    for e in sorted {
        let open = out.last().is_some_and(|c| c.1.is_none());
        if open && is_end(e) {
            if let Some(last) = out.last_mut() {
                last.1 = Some(e.at);
            }
        } else if !open && matches!(e.kind, EventKind::Reopened { .. }) {
            out.push((e.at, None));
        }
    }
    out
}

/// Both about the same site, or at least one of them names no site.
fn same_site(a: &Ticket, b: &Ticket) -> bool {
    a.checks.is_empty() || b.checks.is_empty() || a.checks.iter().any(|c| b.checks.contains(c))
}

pub(super) fn lead(tickets: &[&Entry], input: &ReportInput<'_>, index: &Index<'_>) -> Lead {
    let by_customer = &index.by_customer;
    let related = |t: &Ticket, origin: Origin| -> Vec<&Entry> {
        by_customer
            .get(&t.customer)
            .map(|v| {
                v.iter()
                    .filter(|(o, _)| o.id != t.id && o.origin == origin && same_site(t, o))
                    .copied()
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut out = Lead::default();
    let (mut lead, mut lag, mut tell) = (Vec::new(), Vec::new(), Vec::new());
    for (t, events) in tickets {
        match t.origin {
            Origin::Customer => {
                out.customer_reports += 1;
                let wrote = t.created_at;
                let until = cycles(t, events)[0].1.unwrap_or(input.now);
                let monitoring: Vec<_> = related(t, Origin::Monitoring)
                    .into_iter()
                    .flat_map(|(m, ev)| cycles(m, ev))
                    .collect();
                let knew = monitoring
                    .iter()
                    .filter(|(start, end)| *start <= wrote && end.is_none_or(|e| wrote < e))
                    .map(|(start, _)| *start)
                    .min();
                let learned = monitoring
                    .iter()
                    .map(|(start, _)| *start)
                    .filter(|start| wrote < *start && *start <= until)
                    .min();
                match (knew, learned) {
                    (Some(k), _) => {
                        out.monitoring_first.numerator += 1;
                        lead.push((wrote - k).num_seconds());
                    }
                    (None, Some(l)) => {
                        out.customer_first += 1;
                        lag.push((l - wrote).num_seconds());
                    }
                    (None, None) => out.never_knew += 1,
                }
            }
            Origin::Monitoring => {
                out.monitoring_tickets += 1;
                let mine = cycles(t, events);
                let told = events
                    .iter()
                    .filter(|e| matches!(e.kind, EventKind::MailDelivered { .. }))
                    .map(|e| e.at)
                    .min();
                let replied = events
                    .iter()
                    .filter(|e| {
                        matches!(e.kind, EventKind::PublicUpdate { .. })
                            && matches!(e.actor, Actor::Customer(_))
                    })
                    .map(|e| e.at);
                // A report whose first cycle overlaps one of this ticket's cycles.
                let reported = related(t, Origin::Customer)
                    .into_iter()
                    .filter_map(|(c, ev)| {
                        let (start, end) = cycles(c, ev)[0];
                        let overlaps = mine.iter().any(|(from, to)| {
                            to.is_none_or(|to| start < to) && end.is_none_or(|end| end > *from)
                        });
                        overlaps.then_some(start)
                    });
                let wrote = replied.chain(reported).min();
                if let Some(at) = told {
                    tell.push((at - t.created_at).num_seconds());
                }
                if told.is_some_and(|told| wrote.is_none_or(|w| told <= w)) {
                    out.told_first.numerator += 1;
                } else if wrote.is_some() {
                    out.customer_wrote_first += 1;
                } else {
                    out.not_told += 1;
                }
            }
            Origin::Staff => {}
        }
    }
    out.monitoring_first.denominator = out.customer_reports;
    out.told_first.denominator = out.monitoring_tickets;
    out.lead_time = Durations::from_samples(&mut lead);
    out.monitoring_lag = Durations::from_samples(&mut lag);
    out.time_to_tell = Durations::from_samples(&mut tell);
    out
}
