//! SLA policies: how soon a ticket must be acknowledged, first updated, updated again and
//! resolved, per severity and optionally per customer tier, on a 24/7 clock or a business
//! calendar. Raw config (`RawSla`, the `[sla]` section of `forewarn.toml`) is `build`t into
//! [`SlaPolicies`]; the functions below turn policies and instants into due times and states.
//!
//! Everything here is pure: no I/O, no "now" — the caller passes the instants.
//!
//! ```toml
//! [sla.P1]                     # per severity; any field left out keeps its default
//! acknowledge = "10m"
//! first_update = "20m"
//! update_every = "1h"          # the "next update by" cadence
//! resolve = "4h"
//! [sla.tier.gold.P1]           # per customer tier, any subset of fields
//! acknowledge = "5m"
//! [sla.calendar]               # without it every clock runs 24/7
//! timezone = "Europe/Moscow"
//! hours = "09:00-18:00"
//! days = ["mon-fri"]
//! holidays = ["2026-12-31", "2027-01-01"]
//! calendar_for = ["P3", "P4"]  # default: all severities
//! ```
//!
//! On a business calendar targets count **open time**: `resolve = "1d"` is 24 open hours, that
//! is, two days and six hours of a 09:00–18:00 calendar. Write business targets in hours.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_spanned::Spanned;

use super::calendar::{self, Calendar, CalendarError, Clock, Hours};
use super::model::{Severity, SlaTarget};
use crate::diag::{Diagnostics, Source};

type S<T> = Spanned<T>;

/// The four targets of one severity (and tier), as spans of clock time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaTargets {
    pub acknowledge: Duration,
    pub first_update: Duration,
    /// The cadence of the "next update by" promise once the first update has been made.
    pub update_every: Duration,
    pub resolve: Duration,
}

impl SlaTargets {
    /// Defaults when `forewarn.toml` says nothing. P1 follows R1 (seed 000: "processed within
    /// 10 minutes … within 20 minutes a brief report"); the others step down from it.
    pub fn default_for(severity: Severity) -> SlaTargets {
        let (m, h, d) = (60, 3600, 86400);
        let [acknowledge, first_update, update_every, resolve] = match severity {
            Severity::P1 => [10 * m, 20 * m, h, 4 * h],
            Severity::P2 => [30 * m, h, 2 * h, d],
            Severity::P3 => [4 * h, 8 * h, d, 3 * d],
            Severity::P4 => [d, 2 * d, 3 * d, 10 * d],
        }
        .map(Duration::from_secs);
        SlaTargets {
            acknowledge,
            first_update,
            update_every,
            resolve,
        }
    }

    /// The span of one target. `NextUpdate` is the cadence.
    pub fn get(&self, target: SlaTarget) -> Duration {
        match target {
            SlaTarget::Acknowledge => self.acknowledge,
            SlaTarget::FirstUpdate => self.first_update,
            SlaTarget::NextUpdate => self.update_every,
            SlaTarget::Resolve => self.resolve,
        }
    }
}

/// A tier's overrides of one severity: only the fields it sets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Overrides {
    acknowledge: Option<Duration>,
    first_update: Option<Duration>,
    update_every: Option<Duration>,
    resolve: Option<Duration>,
}

impl Overrides {
    fn apply(&self, base: SlaTargets) -> SlaTargets {
        SlaTargets {
            acknowledge: self.acknowledge.unwrap_or(base.acknowledge),
            first_update: self.first_update.unwrap_or(base.first_update),
            update_every: self.update_every.unwrap_or(base.update_every),
            resolve: self.resolve.unwrap_or(base.resolve),
        }
    }
}

/// The validated `[sla]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaPolicies {
    defaults: [SlaTargets; 4],
    tiers: BTreeMap<String, [Overrides; 4]>,
    always_on: Clock,
    /// The business calendar and, per severity, whether it follows it.
    business: Option<(Clock, [bool; 4])>,
}

impl Default for SlaPolicies {
    /// Built-in targets for every severity, 24/7, no tiers.
    fn default() -> Self {
        SlaPolicies {
            defaults: Severity::ALL.map(SlaTargets::default_for),
            tiers: BTreeMap::new(),
            always_on: Clock::AlwaysOn,
            business: None,
        }
    }
}

fn idx(severity: Severity) -> usize {
    severity as usize
}

impl SlaPolicies {
    /// The targets for a ticket: the tier's override, else the severity's. An unknown tier
    /// (or the empty string) gets the severity's targets.
    pub fn targets(&self, severity: Severity, tier: &str) -> SlaTargets {
        let base = self.defaults[idx(severity)];
        match self.tiers.get(tier) {
            Some(o) => o[idx(severity)].apply(base),
            None => base,
        }
    }

    /// The clock a severity's targets run on: the business calendar or 24/7.
    pub fn clock(&self, severity: Severity) -> &Clock {
        match &self.business {
            Some((clock, follows)) if follows[idx(severity)] => clock,
            _ => &self.always_on,
        }
    }

    /// Tier names with overrides, so the loader can point out a tier no customer uses.
    pub fn tiers(&self) -> impl Iterator<Item = &str> {
        self.tiers.keys().map(String::as_str)
    }
}

/// When each target of a ticket falls due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub acknowledge: DateTime<Utc>,
    pub first_update: DateTime<Utc>,
    /// The promise shown to the customer; at creation it is the first update's due time.
    pub next_update: DateTime<Utc>,
    pub resolve: DateTime<Utc>,
}

impl Due {
    pub fn get(&self, target: SlaTarget) -> DateTime<Utc> {
        match target {
            SlaTarget::Acknowledge => self.acknowledge,
            SlaTarget::FirstUpdate => self.first_update,
            SlaTarget::NextUpdate => self.next_update,
            SlaTarget::Resolve => self.resolve,
        }
    }
}

/// Due times for a new ticket created at `at`.
pub fn due_times(policies: &SlaPolicies, severity: Severity, tier: &str, at: DateTime<Utc>) -> Due {
    let t = policies.targets(severity, tier);
    let clock = policies.clock(severity);
    let first_update = clock.add(at, t.first_update);
    Due {
        acknowledge: clock.add(at, t.acknowledge),
        first_update,
        next_update: first_update,
        resolve: clock.add(at, t.resolve),
    }
}

/// The next "next update by" promise when an update is made at `now`: one cadence of clock
/// time later.
pub fn next_checkpoint(
    policies: &SlaPolicies,
    severity: Severity,
    tier: &str,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let every = policies.targets(severity, tier).update_every;
    policies.clock(severity).add(now, every)
}

/// A still-running due time after a pause (waiting on the customer from `paused_at` to
/// `resumed_at`): the clock time that was left at the pause is left again at the resume, so the
/// due time moves later by exactly the clock time inside the pause (a night off a business
/// calendar moves nothing). A target already due before the pause stays where it was: a pause
/// does not undo a breach.
pub fn shift_for_pause(
    clock: &Clock,
    due: DateTime<Utc>,
    paused_at: DateTime<Utc>,
    resumed_at: DateTime<Utc>,
) -> DateTime<Utc> {
    if due <= paused_at || resumed_at <= paused_at {
        return due;
    }
    let left = clock.elapsed(paused_at, due);
    clock.add(resumed_at, left)
}

/// Where a target stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SlaState {
    Ok,
    /// 75 % or more of the target's clock time is used up.
    Warning,
    /// The due time has passed (or is now).
    Breached,
}

/// What the clocks owe one open ticket at one moment: the pure decision `clocks::sla_tick`
/// acts on (tested by tables in `tests/sla.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Owed {
    /// SLA warnings not yet recorded, as (target, due).
    pub warnings: Vec<(SlaTarget, DateTime<Utc>)>,
    /// SLA breaches not yet recorded, as (target, due).
    pub breaches: Vec<(SlaTarget, DateTime<Utc>)>,
    /// The "next update by" promise is due.
    pub promise: Option<Promise>,
}

/// A due update promise and what keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Promise {
    /// The promise that is due.
    pub promised: DateTime<Utc>,
    /// The next one: one cadence after this one (or after now, when far behind).
    pub next: DateTime<Utc>,
    /// Someone works the ticket (acknowledged, in progress or assigned): "still working on it"
    /// is true. Otherwise the customer hears it is queued, and ops that it is untouched.
    pub worked: bool,
}

/// What a ticket's running clocks say. `recorded` are the SLA events already on its timeline
/// (each warning and breach is owed once); `lead` is how early a promise is kept (one run of
/// the clock job, at most a quarter of the cadence). Waiting on the customer owes nothing.
#[allow(clippy::too_many_arguments)]
pub fn owed(
    t: &super::model::Ticket,
    recorded: &[(SlaTarget, bool)],
    clock: &Clock,
    spans: &SlaTargets,
    now: DateTime<Utc>,
    lead: Duration,
) -> Owed {
    use super::model::TicketStatus;
    let mut out = Owed::default();
    if t.status == TicketStatus::WaitingOnCustomer || !t.status.is_open() {
        return out;
    }
    let targets = [
        (
            SlaTarget::Acknowledge,
            t.ack_due,
            t.acknowledged_at.is_none(),
        ),
        (
            SlaTarget::FirstUpdate,
            t.first_update_due,
            t.first_update_at.is_none(),
        ),
        (SlaTarget::Resolve, t.resolve_due, true),
    ];
    for (target, due, running) in targets {
        let (Some(due), true) = (due, running) else {
            continue;
        };
        let seen = |breach: bool| recorded.contains(&(target, breach));
        match check(clock, spans.get(target), due, now) {
            SlaState::Breached if !seen(true) => out.breaches.push((target, due)),
            SlaState::Warning if !seen(false) => out.warnings.push((target, due)),
            _ => {}
        }
    }
    let lead = chrono::Duration::from_std(lead.min(spans.update_every / 4)).unwrap_or_default();
    if let Some(promised) = t.next_update_due
        && now + lead >= promised
    {
        out.promise = Some(Promise {
            promised,
            next: clock.add(promised.max(now), spans.update_every),
            worked: t.assignee.is_some()
                || matches!(
                    t.status,
                    TicketStatus::Acknowledged | TicketStatus::InProgress
                ),
        });
    }
    out
}

/// The share of a target after which staff are warned.
pub const WARNING_AT_PERCENT: u32 = 75;

/// Where a target of `span` clock time due at `due` stands at `now`: breached at or after the
/// due time, a warning once at most a quarter of the span is left (on the clock), else ok.
/// Measuring what is left rather than what is used keeps this right after pauses have moved the
/// due time. Do not check while the ticket is paused: its clocks are stopped.
pub fn check(clock: &Clock, span: Duration, due: DateTime<Utc>, now: DateTime<Utc>) -> SlaState {
    if now >= due {
        return SlaState::Breached;
    }
    let left = clock.elapsed(now, due);
    let warn_within = span * (100 - WARNING_AT_PERCENT) / 100;
    if left <= warn_within {
        SlaState::Warning
    } else {
        SlaState::Ok
    }
}

// ---------------------------------------------------------------------------------------------
// Configuration

/// `[sla]` in `forewarn.toml`, exactly as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawSla {
    #[serde(rename = "P1", alias = "p1")]
    pub p1: Option<RawTargets>,
    #[serde(rename = "P2", alias = "p2")]
    pub p2: Option<RawTargets>,
    #[serde(rename = "P3", alias = "p3")]
    pub p3: Option<RawTargets>,
    #[serde(rename = "P4", alias = "p4")]
    pub p4: Option<RawTargets>,
    /// `[sla.tier.<name>.P1]`: per customer tier overrides.
    #[serde(default)]
    pub tier: BTreeMap<String, RawTier>,
    pub calendar: Option<S<RawCalendar>>,
}

/// One severity's targets; every field optional (humantime durations: `10m`, `1h`, `3d`).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawTargets {
    pub acknowledge: Option<S<String>>,
    pub first_update: Option<S<String>>,
    pub update_every: Option<S<String>>,
    pub resolve: Option<S<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawTier {
    #[serde(rename = "P1", alias = "p1")]
    pub p1: Option<RawTargets>,
    #[serde(rename = "P2", alias = "p2")]
    pub p2: Option<RawTargets>,
    #[serde(rename = "P3", alias = "p3")]
    pub p3: Option<RawTargets>,
    #[serde(rename = "P4", alias = "p4")]
    pub p4: Option<RawTargets>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawCalendar {
    /// IANA name, e.g. `Europe/Moscow`. Required.
    pub timezone: Option<S<String>>,
    /// Default `09:00-18:00`.
    pub hours: Option<S<String>>,
    /// Default Monday to Friday.
    pub days: Option<Vec<S<String>>>,
    #[serde(default)]
    pub holidays: Vec<S<String>>,
    /// Severities that follow the calendar; default all.
    pub calendar_for: Option<Vec<S<String>>>,
}

/// Validates `[sla]`, reporting every problem with file:line:col into `diags`; whatever is
/// wrong falls back to its default so that all problems are found in one pass.
pub fn build(src: &Source, raw: Option<RawSla>, diags: &mut Diagnostics) -> SlaPolicies {
    let mut policies = SlaPolicies::default();
    let Some(raw) = raw else {
        return policies;
    };
    let mut b = Builder { src, diags };
    for (severity, targets) in Severity::ALL
        .into_iter()
        .zip([raw.p1, raw.p2, raw.p3, raw.p4])
    {
        if let Some(t) = targets {
            let key = format!("sla.{severity}");
            let o = b.overrides(&t, &key);
            policies.defaults[idx(severity)] = o.apply(policies.defaults[idx(severity)]);
        }
    }
    for (name, tier) in raw.tier {
        let mut overrides = [Overrides::default(); 4];
        for (severity, targets) in Severity::ALL
            .into_iter()
            .zip([tier.p1, tier.p2, tier.p3, tier.p4])
        {
            if let Some(t) = targets {
                overrides[idx(severity)] = b.overrides(&t, &format!("sla.tier.{name}.{severity}"));
            }
        }
        policies.tiers.insert(name, overrides);
    }
    if let Some(cal) = raw.calendar {
        policies.business = b.calendar(cal);
    }
    policies
}

struct Builder<'a, 'b> {
    src: &'a Source<'a>,
    diags: &'b mut Diagnostics,
}

impl Builder<'_, '_> {
    fn err<T>(&mut self, at: &S<T>, key: &str, message: impl Into<String>) {
        self.diags
            .push(self.src.diag(Some(at.span()), key, message));
    }

    fn overrides(&mut self, t: &RawTargets, key: &str) -> Overrides {
        Overrides {
            acknowledge: self.duration(t.acknowledge.as_ref(), &format!("{key}.acknowledge")),
            first_update: self.duration(t.first_update.as_ref(), &format!("{key}.first_update")),
            update_every: self.duration(t.update_every.as_ref(), &format!("{key}.update_every")),
            resolve: self.duration(t.resolve.as_ref(), &format!("{key}.resolve")),
        }
    }

    fn duration(&mut self, s: Option<&S<String>>, key: &str) -> Option<Duration> {
        let s = s?;
        match humantime::parse_duration(s.get_ref()) {
            Ok(d) if d.is_zero() => {
                self.err(s, key, "a target must be longer than zero");
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.err(
                    s,
                    key,
                    format!(
                        "bad duration {:?}: {e} (write e.g. 10m, 1h, 3d)",
                        s.get_ref()
                    ),
                );
                None
            }
        }
    }

    fn located<T>(&mut self, s: &S<String>, key: &str, r: Result<T, CalendarError>) -> Option<T> {
        r.map_err(|e| self.err(s, key, e.to_string())).ok()
    }

    fn calendar(&mut self, raw: S<RawCalendar>) -> Option<(Clock, [bool; 4])> {
        let whole = raw.span();
        let raw = raw.into_inner();
        let zone = match &raw.timezone {
            Some(z) => {
                let r = calendar::parse_zone(z.get_ref().trim());
                self.located(z, "sla.calendar.timezone", r)
            }
            None => {
                self.diags.push(self.src.diag(
                    Some(whole.clone()),
                    "sla.calendar.timezone",
                    "a business calendar needs a time zone: write timezone = \"Europe/Moscow\" (or \"UTC\")",
                ));
                None
            }
        };
        let hours = match &raw.hours {
            Some(h) => {
                let r = Hours::parse(h.get_ref());
                self.located(h, "sla.calendar.hours", r)
            }
            None => Some(Hours::parse("09:00-18:00").expect("default hours parse")),
        };
        let mut days = Vec::new();
        let mut day_errors = false;
        match &raw.days {
            Some(list) => {
                for (i, d) in list.iter().enumerate() {
                    let r = calendar::parse_weekdays(d.get_ref());
                    match self.located(d, &format!("sla.calendar.days[{i}]"), r) {
                        Some(ds) => days.extend(ds),
                        None => day_errors = true,
                    }
                }
            }
            None => days.extend(calendar::parse_weekdays("mon-fri").expect("default days parse")),
        }
        let mut holidays = Vec::new();
        for (i, h) in raw.holidays.iter().enumerate() {
            let r = calendar::parse_date(h.get_ref());
            holidays.extend(self.located(h, &format!("sla.calendar.holidays[{i}]"), r));
        }
        let mut follows = [raw.calendar_for.is_none(); 4];
        for (i, s) in raw.calendar_for.iter().flatten().enumerate() {
            match Severity::parse(s.get_ref().trim()) {
                Some(sev) => follows[idx(sev)] = true,
                None => self.err(
                    s,
                    &format!("sla.calendar.calendar_for[{i}]"),
                    format!("unknown severity {:?}: write P1, P2, P3 or P4", s.get_ref()),
                ),
            }
        }
        let (zone, hours) = (zone?, hours?);
        match Calendar::new(zone, hours, days, holidays) {
            Ok(c) => Some((Clock::Business(c), follows)),
            Err(e) => {
                // `days = []`, or only unknown names (each reported already).
                if !day_errors {
                    self.diags.push(
                        self.src
                            .diag(Some(whole), "sla.calendar.days", e.to_string()),
                    );
                }
                None
            }
        }
    }
}
