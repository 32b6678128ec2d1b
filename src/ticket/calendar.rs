//! Clock arithmetic for SLA targets: a clock that always runs, or a business calendar (opening
//! hours in a time zone, working days, holidays) that only counts open time.
//!
//! Everything here is pure: instants in, instants out, no I/O and no "now".
//!
//! Architecture Invariant: `Clock::elapsed(start, Clock::add(start, work)) == work` for every
//! start and every work span; a due time never falls inside closed hours (it is at most the
//! closing instant of the day the work runs out).

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// Why a calendar (or one part of it) cannot be built. The messages are written for the person
/// editing `forewarn.toml`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("unknown time zone {name:?}{}", did_you_mean(suggestion))]
    UnknownZone {
        name: String,
        suggestion: Option<&'static str>,
    },
    #[error("bad hours {text:?}: {reason} (write e.g. 09:00-18:00)")]
    BadHours { text: String, reason: String },
    #[error(
        "unknown weekday {0:?}: write mon, tue, wed, thu, fri, sat or sun (or a range: mon-fri)"
    )]
    UnknownWeekday(String),
    #[error("bad date {0:?}: write YYYY-MM-DD, e.g. 2026-12-31")]
    BadDate(String),
    #[error("a business calendar needs at least one working day")]
    NoWorkingDays,
}

fn did_you_mean(s: &Option<&'static str>) -> String {
    s.map(|z| format!(": did you mean {z}?"))
        .unwrap_or_else(|| ": write an IANA name such as Europe/Moscow or UTC".to_owned())
}

/// Opening hours of a working day, in seconds after local midnight. `close` may be 24:00.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hours {
    open: u32,
    close: u32,
}

impl Hours {
    /// `09:00-18:00`; `00:00-24:00` is the whole day. Hours across midnight are not supported.
    pub fn parse(text: &str) -> Result<Hours, CalendarError> {
        let bad = |reason: String| CalendarError::BadHours {
            text: text.to_owned(),
            reason,
        };
        let (a, b) = text
            .split_once('-')
            .ok_or_else(|| bad("write opening and closing time with a dash".to_owned()))?;
        let open = time_of_day(a.trim())
            .ok_or_else(|| bad(format!("{} is not a time of day", a.trim())))?;
        let close = time_of_day(b.trim())
            .ok_or_else(|| bad(format!("{} is not a time of day", b.trim())))?;
        if open >= close {
            return Err(bad(
                "closing time must be after opening time (hours across midnight are not supported)"
                    .to_owned(),
            ));
        }
        Ok(Hours { open, close })
    }

    /// Open seconds in an ordinary (no DST change) working day.
    pub fn length(self) -> Duration {
        Duration::from_secs(u64::from(self.close - self.open))
    }
}

impl fmt::Display for Hours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hm = |s: u32| format!("{:02}:{:02}", s / 3600, s % 3600 / 60);
        write!(f, "{}-{}", hm(self.open), hm(self.close))
    }
}

/// `HH:MM` (or `H:MM`) from 00:00 to 24:00, as seconds after midnight.
fn time_of_day(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let h: u32 = h.parse().ok()?;
    let m: u32 = m.parse().ok()?;
    let ok = (h < 24 && m < 60) || (h == 24 && m == 0);
    ok.then_some(h * 3600 + m * 60)
}

/// An IANA time zone name, with a suggestion for near misses (`Europe/Moskva`).
pub fn parse_zone(name: &str) -> Result<Tz, CalendarError> {
    name.parse::<Tz>().map_err(|_| CalendarError::UnknownZone {
        name: name.to_owned(),
        suggestion: suggest_zone(name),
    })
}

fn suggest_zone(name: &str) -> Option<&'static str> {
    let wanted = name.to_ascii_lowercase();
    let (distance, best) = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|tz| {
            (
                crate::diag::edit_distance(&wanted, &tz.name().to_ascii_lowercase()),
                tz.name(),
            )
        })
        .min_by_key(|(d, _)| *d)?;
    (distance <= 3 && distance * 3 < wanted.len()).then_some(best)
}

/// `mon`, `Monday`, … (any case), or a range `mon-fri`.
pub fn parse_weekdays(text: &str) -> Result<Vec<Weekday>, CalendarError> {
    let one = |s: &str| {
        s.trim()
            .parse::<Weekday>()
            .map_err(|_| CalendarError::UnknownWeekday(text.to_owned()))
    };
    match text.split_once('-') {
        None => Ok(vec![one(text)?]),
        Some((a, b)) => {
            let (mut day, last) = (one(a)?, one(b)?);
            let mut days = vec![day];
            while day != last {
                day = day.succ();
                days.push(day);
            }
            Ok(days)
        }
    }
}

/// `2026-12-31`.
pub fn parse_date(text: &str) -> Result<NaiveDate, CalendarError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| CalendarError::BadDate(text.to_owned()))
}

/// Opening hours on working days in one time zone, minus holidays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    zone: Tz,
    hours: Hours,
    /// Indexed by `Weekday::num_days_from_monday`.
    working: [bool; 7],
    holidays: BTreeSet<NaiveDate>,
}

impl Calendar {
    pub fn new(
        zone: Tz,
        hours: Hours,
        days: impl IntoIterator<Item = Weekday>,
        holidays: impl IntoIterator<Item = NaiveDate>,
    ) -> Result<Calendar, CalendarError> {
        let mut working = [false; 7];
        for d in days {
            working[d.num_days_from_monday() as usize] = true;
        }
        if !working.contains(&true) {
            return Err(CalendarError::NoWorkingDays);
        }
        Ok(Calendar {
            zone,
            hours,
            working,
            holidays: holidays.into_iter().collect(),
        })
    }

    /// The whole calendar from text, as written in `forewarn.toml`.
    pub fn parse(
        zone: &str,
        hours: &str,
        days: &[&str],
        holidays: &[&str],
    ) -> Result<Calendar, CalendarError> {
        let mut weekdays = Vec::new();
        for d in days {
            weekdays.extend(parse_weekdays(d)?);
        }
        let holidays = holidays
            .iter()
            .map(|h| parse_date(h))
            .collect::<Result<Vec<_>, _>>()?;
        Calendar::new(parse_zone(zone)?, Hours::parse(hours)?, weekdays, holidays)
    }

    pub fn zone(&self) -> Tz {
        self.zone
    }

    pub fn hours(&self) -> Hours {
        self.hours
    }

    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        use chrono::Datelike;
        self.working[date.weekday().num_days_from_monday() as usize]
            && !self.holidays.contains(&date)
    }

    /// Whether the clock runs at this instant.
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        self.window(self.local_date(at))
            .is_some_and(|(o, c)| o <= at && at < c)
    }

    fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.zone).date_naive()
    }

    /// The open interval `[open, close)` of a local date, in UTC; `None` on days off.
    fn window(&self, date: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if !self.is_working_day(date) {
            return None;
        }
        let open = self.instant(date, self.hours.open);
        let close = self.instant(date, self.hours.close);
        // A DST gap can swallow a short window entirely.
        (open < close).then_some((open, close))
    }

    /// Local wall-clock time on `date` as an instant. Ambiguous times (the repeated hour in
    /// autumn) take the first occurrence; times that do not exist (the skipped hour in spring)
    /// take the instant the wall clock jumps past them, as a clock on the wall would.
    fn instant(&self, date: NaiveDate, secs: u32) -> DateTime<Utc> {
        let naive: NaiveDateTime =
            date.and_time(chrono::NaiveTime::MIN) + TimeDelta::seconds(i64::from(secs));
        match self.zone.from_local_datetime(&naive) {
            LocalResult::Single(t) => t.with_timezone(&Utc),
            LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
            LocalResult::None => {
                // The offset in force before the gap, applied to the wall time, lands after it.
                use chrono::Offset;
                let before = self
                    .zone
                    .offset_from_utc_datetime(&(naive - TimeDelta::days(1)))
                    .fix();
                (naive - TimeDelta::seconds(i64::from(before.local_minus_utc()))).and_utc()
            }
        }
    }

    fn add(&self, start: DateTime<Utc>, work: TimeDelta) -> DateTime<Utc> {
        let mut left = work;
        if left <= TimeDelta::zero() {
            return start;
        }
        // Each week has at least one working day with (at least half of, DST aside) a full
        // window, and each holiday costs at most a week: this many days always suffice. Capped
        // at two centuries so that an absurd target cannot spin; past that, wall time is used.
        let per_week = (i64::from(self.hours.close - self.hours.open) / 2).max(1);
        let weeks = left.num_seconds() / per_week + 2 + self.holidays.len() as i64;
        let max_days = weeks.saturating_mul(7).min(200 * 366);
        let mut date = self.local_date(start);
        let mut cursor = start;
        for _ in 0..max_days {
            if let Some((open, close)) = self.window(date) {
                let from = open.max(start);
                if from < close {
                    let available = close - from;
                    if left <= available {
                        return from + left;
                    }
                    left -= available;
                    cursor = close;
                }
            }
            match date.succ_opt() {
                Some(d) => date = d,
                None => break,
            }
        }
        cursor
            .checked_add_signed(left)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    fn elapsed(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
        let mut total = TimeDelta::zero();
        if to <= from {
            return total;
        }
        let last = self.local_date(to);
        let mut date = self.local_date(from);
        // Bounded like `add`: past two centuries of span the rest is not counted.
        let days = (last - date).num_days().clamp(0, 200 * 366);
        for _ in 0..=days {
            if let Some((open, close)) = self.window(date) {
                let (a, b) = (open.max(from), close.min(to));
                if a < b {
                    total += b - a;
                }
            }
            match date.succ_opt() {
                Some(d) => date = d,
                None => break,
            }
        }
        total
    }
}

impl fmt::Display for Calendar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days: Vec<&str> = [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ]
        .into_iter()
        .filter(|d| self.working[d.num_days_from_monday() as usize])
        .map(weekday_name)
        .collect();
        write!(f, "{} {} {}", days.join(","), self.hours, self.zone.name())?;
        if !self.holidays.is_empty() {
            write!(f, " ({} holidays)", self.holidays.len())?;
        }
        Ok(())
    }
}

fn weekday_name(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

/// The clock an SLA target runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clock {
    /// 24/7: clock time is wall time.
    AlwaysOn,
    /// Only open hours of the calendar count.
    Business(Calendar),
}

impl Clock {
    /// The instant when `work` of clock time has elapsed after `start` (skipping closed hours,
    /// days off and holidays). Zero work is `start` itself, even when closed.
    pub fn add(&self, start: DateTime<Utc>, work: Duration) -> DateTime<Utc> {
        let work = TimeDelta::from_std(work).unwrap_or(TimeDelta::MAX);
        match self {
            Clock::AlwaysOn => start
                .checked_add_signed(work)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
            Clock::Business(c) => c.add(start, work),
        }
    }

    /// Clock time between two instants (only open hours count); zero when `to <= from`.
    pub fn elapsed(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        let d = match self {
            Clock::AlwaysOn => to - from,
            Clock::Business(c) => c.elapsed(from, to),
        };
        d.to_std().unwrap_or_default()
    }

    /// Whether the clock runs at this instant.
    pub fn is_running(&self, at: DateTime<Utc>) -> bool {
        match self {
            Clock::AlwaysOn => true,
            Clock::Business(c) => c.is_open(at),
        }
    }
}

impl fmt::Display for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Clock::AlwaysOn => f.write_str("24/7"),
            Clock::Business(c) => c.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_of_day() {
        assert_eq!(time_of_day("09:00"), Some(9 * 3600));
        assert_eq!(time_of_day("9:30"), Some(9 * 3600 + 1800));
        assert_eq!(time_of_day("24:00"), Some(86400));
        assert_eq!(time_of_day("24:01"), None);
        assert_eq!(time_of_day("25:00"), None);
        assert_eq!(time_of_day("09:5"), None);
    }
}
