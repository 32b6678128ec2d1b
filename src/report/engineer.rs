//! Per engineer (R14): the tickets whose latest resolution is theirs (resolved, SLA, CSAT,
//! points), the acknowledgements and resolutions they did with the time each took (MTTA and
//! MTTR per engineer, counted per cycle), and the time they logged (docs/kpis.md, "Per
//! engineer").

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{
    Durations, Entry, Index, Rate, ReportInput, STAY_CLOSED, SlaStats, Survey, csat, effort,
    is_ack, is_resolution, is_staff_update, sla_verdicts,
};
use crate::config::report::HourlyRate;
use crate::ticket::model::{Actor, EventKind, Ticket, TicketId, TimelineEvent};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EngineerKpis {
    pub engineer: String,
    /// Tickets whose latest resolution is a Resolved event by this engineer.
    pub resolved: u64,
    /// SLA compliance (all three targets) over those tickets.
    pub sla: Rate,
    pub csat: Survey<Rate>,
    /// One point per resolved ticket with a positive rating that stayed closed ≥ 7 days.
    pub points: Survey<u64>,
    /// MTTA: the cycles this engineer acknowledged first, from the cycle's start.
    pub time_to_acknowledge: Durations,
    /// MTTR: the cycles this engineer resolved, from the cycle's start.
    pub time_to_resolve: Durations,
    /// Minutes this engineer logged on cohort tickets.
    pub minutes_logged: u64,
    /// Cohort tickets they logged time on.
    pub tickets_logged: u64,
    /// `minutes_logged` at the hourly rate.
    pub cost: Option<f64>,
}

/// The engineer a ticket's latest resolution belongs to (a Resolved event by staff).
fn resolver(events: &[TimelineEvent]) -> Option<(&str, DateTime<Utc>)> {
    events
        .iter()
        .filter(|e| is_resolution(e))
        .max_by_key(|e| e.at)
        .and_then(|e| match (&e.kind, &e.actor) {
            (EventKind::Resolved { .. }, Actor::Staff(name)) => Some((name.as_str(), e.at)),
            _ => None,
        })
}

/// Who did something, and the seconds it took.
type Credit<'a> = (&'a str, i64);

/// The staff member who did each cycle's first acknowledgement and first resolution, with
/// the seconds from the cycle's start (creation, or the reopening).
fn cycle_work<'a>(t: &Ticket, events: &'a [TimelineEvent]) -> (Vec<Credit<'a>>, Vec<Credit<'a>>) {
    let mut starts: Vec<DateTime<Utc>> = std::iter::once(t.created_at)
        .chain(
            events
                .iter()
                .filter(|e| matches!(e.kind, EventKind::Reopened { .. }))
                .map(|e| e.at),
        )
        .collect();
    starts.sort();
    let (mut acks, mut resolutions) = (Vec::new(), Vec::new());
    for (i, start) in starts.iter().enumerate() {
        let next = starts.get(i + 1).copied();
        let in_cycle = |e: &&TimelineEvent| e.at >= *start && next.is_none_or(|n| e.at < n);
        let first_by_staff = |pred: &dyn Fn(&TimelineEvent) -> bool| {
            events
                .iter()
                .filter(in_cycle)
                .filter(|e| pred(e))
                .min_by_key(|e| e.at)
                .and_then(|e| match &e.actor {
                    Actor::Staff(name) => Some((name.as_str(), (e.at - *start).num_seconds())),
                    _ => None,
                })
        };
        acks.extend(first_by_staff(&|e| is_ack(e) || is_staff_update(e)));
        resolutions.extend(first_by_staff(&|e| {
            matches!(e.kind, EventKind::Resolved { .. })
        }));
    }
    (acks, resolutions)
}

#[derive(Default)]
struct Work<'a> {
    resolved: Vec<(&'a Entry, DateTime<Utc>)>,
    acks: Vec<i64>,
    resolutions: Vec<i64>,
    minutes: u64,
    tickets_logged: u64,
}

pub(super) fn engineers(
    cohort: &[&Entry],
    input: &ReportInput<'_>,
    index: &Index<'_>,
) -> Vec<EngineerKpis> {
    let mut by: BTreeMap<&str, Work> = BTreeMap::new();
    for e in cohort {
        let (t, events) = (&e.0, &e.1);
        if let Some((name, at)) = resolver(events) {
            by.entry(name).or_default().resolved.push((e, at));
        }
        let (acks, resolutions) = cycle_work(t, events);
        for (name, secs) in acks {
            by.entry(name).or_default().acks.push(secs);
        }
        for (name, secs) in resolutions {
            by.entry(name).or_default().resolutions.push(secs);
        }
        let mut logged: BTreeMap<&str, u64> = BTreeMap::new();
        for (who, m) in effort::entries(events) {
            if let Some(name) = who {
                *logged.entry(name).or_default() += m;
            }
        }
        for (name, m) in logged {
            let w = by.entry(name).or_default();
            w.minutes += m;
            w.tickets_logged += 1;
        }
    }
    let rate: Option<&HourlyRate> = input.attributes.hourly_rate.as_ref();
    by.into_iter()
        .map(|(name, mut w)| {
            let tickets = &w.resolved;
            let mut sla = SlaStats::default();
            for ((t, events), _) in tickets {
                for (_, v) in sla_verdicts(t, events, input.now) {
                    sla.add(v);
                }
            }
            let ids: Vec<TicketId> = tickets.iter().map(|((t, _), _)| t.id).collect();
            let points = input.surveys.map(|_| {
                tickets
                    .iter()
                    .filter(|((t, events), resolved_at)| {
                        let stayed = input.now - *resolved_at >= STAY_CLOSED
                            && !events.iter().any(|e| {
                                matches!(e.kind, EventKind::Reopened { .. }) && e.at >= *resolved_at
                            });
                        let positive = index.surveys_of(&[t.id]).is_some_and(|mine| {
                            mine.iter()
                                .any(|r| r.answer.as_ref().is_some_and(|a| a.is_positive()))
                        });
                        stayed && positive
                    })
                    .count() as u64
            });
            EngineerKpis {
                engineer: name.to_owned(),
                resolved: tickets.len() as u64,
                sla: sla.compliance,
                csat: csat(index, &ids),
                points: points.map_or(Survey::NoSurveyData, Survey::Available),
                time_to_acknowledge: Durations::from_samples(&mut w.acks),
                time_to_resolve: Durations::from_samples(&mut w.resolutions),
                minutes_logged: w.minutes,
                tickets_logged: w.tickets_logged,
                cost: rate.map(|r| r.cost(w.minutes)),
            }
        })
        .collect()
}
