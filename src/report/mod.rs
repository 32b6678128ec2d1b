//! KPIs computed from tickets and their timelines (R5, R9, R11, R14). Pure computation: no
//! store, no clock, no I/O. Every figure is defined in docs/kpis.md and can be traced back to
//! timeline events.
//!
//! Survey-based KPIs (CSAT, response rate, engineer points) take survey records as an optional
//! input; without them they are [`Survey::NoSurveyData`], shown as "n/a (no survey data)" and
//! never as 0.

mod effort;
mod engineer;
pub mod groups;
pub mod health;
mod index;
mod lead;
mod load;

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use serde::{Serialize, Serializer};

pub use effort::{Effort, TicketTime};
pub use engineer::EngineerKpis;
pub use groups::{Attributes, CustomerAttributes, HourlyRate, UNKNOWN};
pub use index::Index;
pub use lead::{Lead, cycles};
pub use load::window;

use crate::ticket::model::{Actor, EventKind, Origin, SlaTarget, Ticket, TicketId, TimelineEvent};

/// How long a resolution must hold before a reopen no longer counts against it, and before an
/// engineer earns points for it (seed 003).
pub const STAY_CLOSED: Duration = Duration::days(7);

/// The tier of a customer missing from the configuration.
pub const UNKNOWN_TIER: &str = UNKNOWN;

/// One survey sent after a resolution, with its answer if the customer gave one (from
/// `store::SurveyStore::survey_records`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SurveyRecord {
    pub ticket: TicketId,
    pub sent_at: DateTime<Utc>,
    pub answer: Option<SurveyAnswer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SurveyAnswer {
    /// 1 (very unhappy) … 5 (very happy).
    pub rating: u8,
    pub answered_at: DateTime<Utc>,
}

impl SurveyAnswer {
    /// 4 or 5.
    pub fn is_positive(&self) -> bool {
        self.rating >= 4
    }
}

/// What to compute over.
#[derive(Debug, Clone, Copy)]
pub struct ReportInput<'a> {
    /// Tickets with their timelines (oldest event first, as the store returns them).
    pub tickets: &'a [(Ticket, Vec<TimelineEvent>)],
    /// The end of the window and the reference for "still running" and "stayed closed".
    pub now: DateTime<Utc>,
    /// The start of the window (`None`: since the beginning).
    pub since: Option<DateTime<Utc>>,
    /// Customers' tiers, plans and servers, checks' servers, the hourly rate (customers
    /// missing from it are in tier and plan [`UNKNOWN`]).
    pub attributes: &'a Attributes,
    /// `None` when no survey was ever sent: survey KPIs are then "n/a (no survey data)".
    pub surveys: Option<&'a [SurveyRecord]>,
}

/// A survey-based value, or the honest statement that there is nothing to compute it from.
#[derive(Debug, Clone, PartialEq)]
pub enum Survey<T> {
    Available(T),
    NoSurveyData,
}

pub const NO_SURVEY_DATA: &str = "n/a (no survey data)";

impl<T: Serialize> Serialize for Survey<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Survey::Available(v) => v.serialize(s),
            Survey::NoSurveyData => s.serialize_str(NO_SURVEY_DATA),
        }
    }
}

/// numerator / denominator; no percentage when the denominator is 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rate {
    pub numerator: u64,
    pub denominator: u64,
}

impl Rate {
    pub fn percent(&self) -> Option<f64> {
        (self.denominator > 0).then(|| 100.0 * self.numerator as f64 / self.denominator as f64)
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Rate", 3)?;
        st.serialize_field("numerator", &self.numerator)?;
        st.serialize_field("denominator", &self.denominator)?;
        st.serialize_field("percent", &self.percent())?;
        st.end()
    }
}

/// A duration KPI over the tickets that reached the milestone; `not_yet` counts those that
/// did not (still open, or closed without it).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct TimeStats {
    pub measured: u64,
    pub not_yet: u64,
    pub mean_secs: Option<f64>,
    /// Nearest-rank 90th percentile.
    pub p90_secs: Option<i64>,
}

impl TimeStats {
    fn from_samples(samples: &mut [i64], not_yet: u64) -> TimeStats {
        samples.sort_unstable();
        let n = samples.len();
        TimeStats {
            measured: n as u64,
            not_yet,
            mean_secs: (n > 0).then(|| samples.iter().sum::<i64>() as f64 / n as f64),
            p90_secs: nearest_rank(samples, 90),
        }
    }
}

/// Durations of something done (an engineer's acknowledgements, lead times): how many, the
/// mean, the median and the 90th percentile (nearest rank), in seconds.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Durations {
    pub count: u64,
    pub mean_secs: Option<f64>,
    pub median_secs: Option<i64>,
    pub p90_secs: Option<i64>,
}

impl Durations {
    fn from_samples(samples: &mut [i64]) -> Durations {
        samples.sort_unstable();
        let n = samples.len();
        Durations {
            count: n as u64,
            mean_secs: (n > 0).then(|| samples.iter().sum::<i64>() as f64 / n as f64),
            median_secs: nearest_rank(samples, 50),
            p90_secs: nearest_rank(samples, 90),
        }
    }
}

/// Nearest-rank percentile of sorted values: the value at rank ⌈p/100 × n⌉ (1-based).
pub fn nearest_rank(sorted: &[i64], p: u32) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (u64::from(p) * sorted.len() as u64).div_ceil(100).max(1) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

/// Compliance with one SLA target: `met / (met + breached)`; `running` (not done, due not yet
/// passed) and `no_target` (no due time stored) are excluded.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct SlaStats {
    pub met: u64,
    pub breached: u64,
    pub running: u64,
    pub no_target: u64,
    pub compliance: Rate,
}

impl SlaStats {
    fn add(&mut self, v: SlaVerdict) {
        match v {
            SlaVerdict::Met => self.met += 1,
            SlaVerdict::Breached => self.breached += 1,
            SlaVerdict::Running => self.running += 1,
            SlaVerdict::NoTarget => self.no_target += 1,
        }
        self.compliance = Rate {
            numerator: self.met,
            denominator: self.met + self.breached,
        };
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaVerdict {
    Met,
    Breached,
    Running,
    NoTarget,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct SlaReport {
    pub acknowledge: SlaStats,
    pub first_update: SlaStats,
    pub resolve: SlaStats,
    /// The three targets together.
    pub overall: SlaStats,
}

/// The KPIs of a set of tickets (all of them, one customer, one tier).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Kpis {
    pub opened: u64,
    /// Tickets with at least one Resolved/AutoResolved event.
    pub resolved: u64,
    pub time_to_acknowledge: TimeStats,
    pub time_to_first_update: TimeStats,
    pub time_to_resolve: TimeStats,
    pub sla: SlaReport,
    pub reopen_rate: Rate,
    /// Opened by monitoring / all opened.
    pub proactive_share: Rate,
    pub csat: Survey<Rate>,
    pub survey_response_rate: Survey<Rate>,
    /// Time staff logged on these tickets, and its cost.
    pub time_spent: Effort,
    /// Did monitoring know first; were customers told first (R10).
    pub lead: Lead,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct PeriodCount {
    /// `2025-03-04` (day), `2025-W10` (ISO week), `2025-03` (month).
    pub period: String,
    pub opened: u64,
    pub closed: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Volume {
    pub per_day: Vec<PeriodCount>,
    pub per_week: Vec<PeriodCount>,
    pub per_month: Vec<PeriodCount>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub since: Option<DateTime<Utc>>,
    pub until: DateTime<Utc>,
    pub overall: Kpis,
    pub volume: Volume,
    pub per_engineer: Vec<EngineerKpis>,
    pub per_customer: BTreeMap<String, Kpis>,
    pub per_tier: BTreeMap<String, Kpis>,
    /// By the customer's plan ([`UNKNOWN`] without one).
    pub per_plan: BTreeMap<String, Kpis>,
    /// By the ticket's server (see [`Attributes::server`]).
    pub per_server: BTreeMap<String, Kpis>,
    /// Cohort tickets with time logged, most first.
    pub time_per_ticket: Vec<TicketTime>,
    /// `[report] hourly_rate`: costs are this rate × logged hours (`null`: hours only).
    pub hourly_rate: Option<HourlyRate>,
    /// `heatmap[weekday][hour]`: tickets created, weekday 0 = Monday … 6 = Sunday, hour UTC.
    pub heatmap: [[u64; 24]; 7],
}

type Entry = (Ticket, Vec<TimelineEvent>);

/// Computes every KPI. The cohort is the tickets created in `[since, now]`; closings are
/// counted by the time of their event, for every ticket passed in.
pub fn compute(input: &ReportInput<'_>) -> Report {
    let in_window = |at: DateTime<Utc>| input.since.is_none_or(|s| at >= s) && at <= input.now;
    let cohort: Vec<&Entry> = input
        .tickets
        .iter()
        .filter(|(t, _)| in_window(t.created_at))
        .collect();

    // Keyed by borrowed names: a String per ticket and group cost more than the grouping.
    type Groups<'e> = BTreeMap<&'e str, Vec<&'e Entry>>;
    let (mut per_customer, mut per_tier) = (Groups::new(), Groups::new());
    let (mut per_plan, mut per_server) = (Groups::new(), Groups::new());
    let mut heatmap = [[0u64; 24]; 7];
    let attrs = input.attributes;
    for e in &cohort {
        let t = &e.0;
        for (groups, key) in [
            (&mut per_customer, t.customer.as_str()),
            (&mut per_tier, attrs.tier(&t.customer)),
            (&mut per_plan, attrs.plan(&t.customer)),
            (&mut per_server, attrs.server(t)),
        ] {
            groups.entry(key).or_default().push(e);
        }
        heatmap[t.created_at.weekday().num_days_from_monday() as usize]
            [t.created_at.hour() as usize] += 1;
    }

    let index = Index::new(input);
    let each = |groups: Groups<'_>| -> BTreeMap<String, Kpis> {
        groups
            .into_iter()
            .map(|(k, v)| (k.to_owned(), kpis(&v, input, &index)))
            .collect()
    };
    Report {
        since: input.since,
        until: input.now,
        overall: kpis(&cohort, input, &index),
        volume: volume(input, &cohort, &in_window),
        per_engineer: engineer::engineers(&cohort, input, &index),
        per_customer: each(per_customer),
        per_tier: each(per_tier),
        per_plan: each(per_plan),
        per_server: each(per_server),
        time_per_ticket: effort::per_ticket(&cohort, attrs.hourly_rate.as_ref()),
        hourly_rate: attrs.hourly_rate.clone(),
        heatmap,
    }
}

/// The KPIs of one set of tickets.
pub fn kpis(tickets: &[&Entry], input: &ReportInput<'_>, index: &Index<'_>) -> Kpis {
    let now = input.now;
    let (mut ack, mut upd, mut res) = (Vec::new(), Vec::new(), Vec::new());
    let (mut ack_no, mut upd_no, mut res_no) = (0, 0, 0);
    let mut sla = SlaReport::default();
    let mut reopen = Rate::default();
    let mut proactive = Rate::default();
    let mut resolved = 0;
    for (t, events) in tickets {
        let m = Milestones::of(events);
        for (at, samples, missing) in [
            (m.acknowledged, &mut ack, &mut ack_no),
            (m.first_update, &mut upd, &mut upd_no),
            (m.first_resolution, &mut res, &mut res_no),
        ] {
            match at {
                Some(at) => samples.push((at - t.created_at).num_seconds()),
                None => *missing += 1,
            }
        }
        for (target, v) in sla_verdicts(t, events, now) {
            match target {
                SlaTarget::Acknowledge => sla.acknowledge.add(v),
                SlaTarget::FirstUpdate => sla.first_update.add(v),
                _ => sla.resolve.add(v),
            }
            sla.overall.add(v);
        }
        if m.first_resolution.is_some() {
            resolved += 1;
            reopen.denominator += 1;
            if reopened_within(events, STAY_CLOSED) {
                reopen.numerator += 1;
            }
        }
        proactive.denominator += 1;
        if t.origin == Origin::Monitoring {
            proactive.numerator += 1;
        }
    }
    let ids: Vec<TicketId> = tickets.iter().map(|(t, _)| t.id).collect();
    Kpis {
        opened: tickets.len() as u64,
        resolved,
        time_to_acknowledge: TimeStats::from_samples(&mut ack, ack_no),
        time_to_first_update: TimeStats::from_samples(&mut upd, upd_no),
        time_to_resolve: TimeStats::from_samples(&mut res, res_no),
        sla,
        reopen_rate: reopen,
        proactive_share: proactive,
        csat: csat(index, &ids),
        survey_response_rate: match index.surveys_of(&ids) {
            None => Survey::NoSurveyData,
            Some(mine) => Survey::Available(Rate {
                numerator: mine.iter().filter(|r| r.answer.is_some()).count() as u64,
                denominator: mine.len() as u64,
            }),
        },
        time_spent: effort::effort(tickets, input.attributes.hourly_rate.as_ref()),
        lead: lead::lead(tickets, input, index),
    }
}

fn csat(index: &Index<'_>, ids: &[TicketId]) -> Survey<Rate> {
    let Some(mine) = index.surveys_of(ids) else {
        return Survey::NoSurveyData;
    };
    let answers: Vec<&SurveyAnswer> = mine.iter().filter_map(|r| r.answer.as_ref()).collect();
    Survey::Available(Rate {
        numerator: answers.iter().filter(|a| a.is_positive()).count() as u64,
        denominator: answers.len() as u64,
    })
}

/// The milestones of one ticket, from its timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Milestones {
    /// First Acknowledged event or first public update by staff, whichever comes first.
    pub acknowledged: Option<DateTime<Utc>>,
    /// First PublicUpdate by staff.
    pub first_update: Option<DateTime<Utc>>,
    /// First Resolved or AutoResolved event.
    pub first_resolution: Option<DateTime<Utc>>,
}

impl Milestones {
    pub fn of(events: &[TimelineEvent]) -> Milestones {
        let first = |pred: &dyn Fn(&TimelineEvent) -> bool| {
            events.iter().filter(|e| pred(e)).map(|e| e.at).min()
        };
        Milestones {
            acknowledged: first(&|e| is_ack(e) || is_staff_update(e)),
            first_update: first(&is_staff_update),
            first_resolution: first(&is_resolution),
        }
    }
}

fn is_ack(e: &TimelineEvent) -> bool {
    matches!(e.kind, EventKind::Acknowledged)
}

fn is_staff_update(e: &TimelineEvent) -> bool {
    matches!(e.kind, EventKind::PublicUpdate { .. }) && matches!(e.actor, Actor::Staff(_))
}

fn is_resolution(e: &TimelineEvent) -> bool {
    matches!(
        e.kind,
        EventKind::Resolved { .. } | EventKind::AutoResolved { .. }
    )
}

fn is_end(e: &TimelineEvent) -> bool {
    is_resolution(e) || matches!(e.kind, EventKind::Closed)
}

/// True if some resolution is followed by a Reopened event at most `within` later.
pub fn reopened_within(events: &[TimelineEvent], within: Duration) -> bool {
    events.iter().filter(|e| is_resolution(e)).any(|r| {
        events.iter().any(|e| {
            matches!(e.kind, EventKind::Reopened { .. }) && e.at >= r.at && e.at - r.at <= within
        })
    })
}

/// The verdicts of a ticket's acknowledge, first-update and resolve targets against its stored
/// due times. The current cycle starts at the last Reopened event (reopening recomputes the
/// acknowledge and resolve due times) or at creation; first update is judged over the whole
/// timeline (its due time is not recomputed). A resolution (or a close) also ends the
/// acknowledge and first-update clocks.
pub fn sla_verdicts(
    t: &Ticket,
    events: &[TimelineEvent],
    now: DateTime<Utc>,
) -> [(SlaTarget, SlaVerdict); 3] {
    let cycle = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Reopened { .. }))
        .map(|e| e.at)
        .max()
        .unwrap_or(t.created_at);
    let first = |from: DateTime<Utc>, pred: &dyn Fn(&TimelineEvent) -> bool| {
        events
            .iter()
            .filter(|e| e.at >= from && pred(e))
            .map(|e| e.at)
            .min()
    };
    let ack = first(cycle, &|e| is_ack(e) || is_staff_update(e) || is_end(e));
    let upd = first(t.created_at, &|e| is_staff_update(e) || is_end(e));
    let res = first(cycle, &is_resolution);
    let verdict = |due: Option<DateTime<Utc>>, done: Option<DateTime<Utc>>| match (due, done) {
        (None, _) => SlaVerdict::NoTarget,
        (Some(due), Some(done)) if done <= due => SlaVerdict::Met,
        (Some(_), Some(_)) => SlaVerdict::Breached,
        (Some(due), None) if now > due => SlaVerdict::Breached,
        (Some(_), None) => SlaVerdict::Running,
    };
    [
        (SlaTarget::Acknowledge, verdict(t.ack_due, ack)),
        (SlaTarget::FirstUpdate, verdict(t.first_update_due, upd)),
        (SlaTarget::Resolve, verdict(t.resolve_due, res)),
    ]
}

fn volume(
    input: &ReportInput<'_>,
    cohort: &[&Entry],
    in_window: &dyn Fn(DateTime<Utc>) -> bool,
) -> Volume {
    type Buckets = BTreeMap<String, PeriodCount>;
    let (mut day, mut week, mut month) = (Buckets::new(), Buckets::new(), Buckets::new());
    let mut add = |at: DateTime<Utc>, opened: u64, closed: u64| {
        let w = at.iso_week();
        for (map, key) in [
            (&mut day, at.format("%Y-%m-%d").to_string()),
            (&mut week, format!("{}-W{:02}", w.year(), w.week())),
            (&mut month, at.format("%Y-%m").to_string()),
        ] {
            let c = map.entry(key.clone()).or_insert_with(|| PeriodCount {
                period: key,
                ..PeriodCount::default()
            });
            c.opened += opened;
            c.closed += closed;
        }
    };
    for (t, _) in cohort {
        add(t.created_at, 1, 0);
    }
    for (_, events) in input.tickets {
        for at in closings(events) {
            if in_window(at) {
                add(at, 0, 1);
            }
        }
    }
    let list = |m: Buckets| m.into_values().collect();
    Volume {
        per_day: list(day),
        per_week: list(week),
        per_month: list(month),
    }
}

/// When a ticket was closed: every Resolved/AutoResolved event, and every Closed event that
/// was not preceded by a resolution in the same cycle (closed without resolution).
pub fn closings(events: &[TimelineEvent]) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut resolved_in_cycle = false;
    let mut sorted: Vec<&TimelineEvent> = events.iter().collect();
    sorted.sort_by_key(|e| e.at);
    for e in sorted {
        match e.kind {
            EventKind::Created | EventKind::Reopened { .. } => resolved_in_cycle = false,
            EventKind::Resolved { .. } | EventKind::AutoResolved { .. } => {
                resolved_in_cycle = true;
                out.push(e.at);
            }
            EventKind::Closed if !resolved_in_cycle => {
                resolved_in_cycle = true;
                out.push(e.at);
            }
            _ => {}
        }
    }
    out
}

/// `12m 30s`, `2h 05m`, `3d 04h` for tables.
pub fn fmt_secs(secs: f64) -> String {
    let s = secs.round() as i64;
    if s < 3600 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else if s < 86_400 {
        format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}d {:02}h", s / 86_400, (s % 86_400) / 3600)
    }
}

/// `66.7% (2/3)`, or `— (0/0)` when there is nothing to divide by.
pub fn fmt_rate(r: &Rate) -> String {
    match r.percent() {
        Some(p) => format!("{p:.1}% ({}/{})", r.numerator, r.denominator),
        None => format!("— (0/{})", r.denominator),
    }
}

pub fn fmt_survey_rate(r: &Survey<Rate>) -> String {
    match r {
        Survey::Available(r) => fmt_rate(r),
        Survey::NoSurveyData => NO_SURVEY_DATA.to_owned(),
    }
}
