//! Time staff spent on a ticket, logged with a public update, an internal note, a question to
//! the customer or a resolution: `15m`, `1h30m`, `1h 30m`, `2h`, or a bare number of minutes.
//! It is recorded as a staff-only `TimeSpent` entry on the timeline, by the staff member who
//! acted, in the transaction of the action it goes with (docs/kpis.md, "Time spent").

use std::fmt;

/// The most one entry may log: a longer stretch is logged in parts, with the updates of the
/// work it was.
pub const MAX_MINUTES: u32 = 24 * 60;

/// Minutes of work, 1 ..= [`MAX_MINUTES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Spent(u32);

impl Spent {
    /// `15m`, `1h30m`, `1h 30m`, `2h`, `45` (minutes). Refuses zero, more than 24 hours, and
    /// anything else, with a message that says what to write.
    pub fn parse(s: &str) -> Result<Spent, String> {
        let text = s.trim().to_ascii_lowercase();
        let bad = || {
            format!(
                "time spent {s:?}: write it as minutes or hours and minutes, e.g. 15m, 1h30m or 2h"
            )
        };
        if text.is_empty() {
            return Err(bad());
        }
        let minutes = if text.bytes().all(|b| b.is_ascii_digit()) {
            text.parse::<u64>().map_err(|_| bad())?
        } else {
            let (mut hours, mut mins) = (None::<u64>, None::<u64>);
            let mut rest = text.as_str();
            while !rest.is_empty() {
                let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                if digits == 0 {
                    return Err(bad());
                }
                let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
                rest = rest[digits..].trim_start();
                let unit = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
                let slot = match &rest[..unit] {
                    "h" | "hr" | "hrs" | "hour" | "hours" if mins.is_none() => &mut hours,
                    "m" | "min" | "mins" | "minute" | "minutes" => &mut mins,
                    _ => return Err(bad()),
                };
                if slot.replace(n).is_some() {
                    return Err(bad());
                }
                rest = rest[unit..].trim_start();
            }
            hours
                .unwrap_or(0)
                .saturating_mul(60)
                .saturating_add(mins.unwrap_or(0))
        };
        if minutes == 0 {
            return Err(format!(
                "time spent {s:?} is zero: leave the field empty when you log no time"
            ));
        }
        if minutes > u64::from(MAX_MINUTES) {
            return Err(format!(
                "time spent {s:?} is more than 24 hours in one entry: log the work in parts, with the updates it went with"
            ));
        }
        Ok(Spent(minutes as u32))
    }

    /// An optional field: empty (or only spaces) is no time logged.
    pub fn parse_optional(s: Option<&str>) -> Result<Option<Spent>, String> {
        match s.map(str::trim) {
            None | Some("") => Ok(None),
            Some(s) => Spent::parse(s).map(Some),
        }
    }

    pub fn minutes(self) -> u32 {
        self.0
    }
}

/// `15m`, `1h 30m`, `2h`; the same for any number of minutes (totals, too).
pub fn fmt_minutes(minutes: u64) -> String {
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m}m"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h {m:02}m"),
    }
}

impl fmt::Display for Spent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&fmt_minutes(u64::from(self.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Result<u32, &str>) {
        let got = Spent::parse(input).map(Spent::minutes);
        match expected {
            Ok(m) => assert_eq!(got, Ok(m), "{input:?}"),
            Err(part) => {
                let e = got.expect_err(input);
                assert!(e.contains(part), "{input:?}: {e}");
            }
        }
    }

    #[test]
    fn what_people_write() {
        check("15m", Ok(15));
        check("1h30m", Ok(90));
        check("1h 30m", Ok(90));
        check(" 2H ", Ok(120));
        check("45", Ok(45));
        check("90 min", Ok(90));
        check("1 hour 5 minutes", Ok(65));
        check("24h", Ok(1440));
    }

    #[test]
    fn what_is_refused() {
        check("", Err("e.g. 15m"));
        check("0", Err("is zero"));
        check("0h0m", Err("is zero"));
        check("25h", Err("more than 24 hours"));
        check("99999999999999999999", Err("e.g. 15m"));
        check("-15m", Err("e.g. 15m"));
        check("1.5h", Err("e.g. 15m"));
        check("15s", Err("e.g. 15m"));
        check("30m1h", Err("e.g. 15m"));
        check("1h1h", Err("e.g. 15m"));
        check("abc", Err("e.g. 15m"));
        assert_eq!(Spent::parse_optional(Some("  ")), Ok(None));
        assert_eq!(Spent::parse_optional(None), Ok(None));
    }

    #[test]
    fn shown_as_hours_and_minutes() {
        assert_eq!(fmt_minutes(15), "15m");
        assert_eq!(fmt_minutes(90), "1h 30m");
        assert_eq!(fmt_minutes(120), "2h");
        assert_eq!(fmt_minutes(605), "10h 05m");
    }
}
