//! Numbers, durations, dates and lists as people say them, in their language and time zone.
//! The words come from the catalog (`common.unit.*`, `common.month.*`, `common.date.*`,
//! `common.list.*`); this file only decides which entry and which number.

use std::time::Duration;

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;
use minijinja::context;

use super::Words;
use crate::model::Language;

/// Russian plural form of `n`: 0 one (1, 21, 101), 1 few (2–4, 22–24), 2 many (0, 5–20, 25…).
pub fn russian_form(n: i64) -> usize {
    let n = n.unsigned_abs();
    match (n % 10, n % 100) {
        (_, 11..=14) => 2,
        (1, _) => 0,
        (2..=4, _) => 1,
        _ => 2,
    }
}

/// A reader's language and time zone: how forewarn writes numbers, dates and durations for them.
#[derive(Debug, Clone, Copy)]
pub struct Reader {
    pub lang: Language,
    pub tz: Tz,
}

impl Reader {
    pub fn new(lang: Language, tz: Tz) -> Reader {
        Reader { lang, tz }
    }
}

impl Words {
    /// `n` of a unit with its plural: "1 day", "5 дней" (`unit` is `day`, `hour`, `minute`,
    /// `second`, `site`, …: the `common.unit.<unit>` entry).
    pub fn count(&self, lang: Language, unit: &str, n: u64) -> String {
        self.text(lang, &format!("common.unit.{unit}"), context! { n => n })
    }

    /// A duration as people say it: "about 10 seconds" under a minute (to 5 s), else the two
    /// largest units that are not zero: "14 minutes", "2 hours 5 minutes", "1 day 3 hours".
    pub fn duration(&self, lang: Language, d: Duration) -> String {
        let secs = d.as_secs();
        if secs < 60 {
            let rounded = ((secs + 2) / 5 * 5).clamp(5, 55);
            let n = self.count(lang, "second", rounded);
            return self.text(lang, "common.duration.about", context! { d => n });
        }
        let (days, hours, minutes) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
        let parts: Vec<(u64, &str)> = [(days, "day"), (hours, "hour"), (minutes, "minute")]
            .into_iter()
            .skip_while(|(n, _)| *n == 0)
            .take(2)
            .filter(|(n, _)| *n > 0)
            .collect();
        parts
            .into_iter()
            .map(|(n, unit)| self.count(lang, unit, n))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A day in the reader's zone: "11 December", «11 декабря» (with the year when it is not
    /// this year's).
    pub fn date(&self, reader: Reader, at: DateTime<Utc>) -> String {
        let local = at.with_timezone(&reader.tz);
        let now = Utc::now().with_timezone(&reader.tz);
        let month = self.word(reader.lang, &format!("common.month.m{}", local.month()));
        let year = if local.year() == now.year() {
            String::new()
        } else {
            local.year().to_string()
        };
        self.text(
            reader.lang,
            "common.date.day",
            context! { day => local.day(), month => month, year => year },
        )
    }

    /// A moment in the reader's zone: "11 December at 14:05 MSK", «11 декабря в 14:05 MSK».
    pub fn datetime(&self, reader: Reader, at: DateTime<Utc>) -> String {
        let local = at.with_timezone(&reader.tz);
        let time = format!("{:02}:{:02}", local.hour(), local.minute());
        let zone = local.format("%Z").to_string();
        let zone = if zone.starts_with(['+', '-']) {
            format!("UTC{zone}")
        } else {
            zone
        };
        self.text(
            reader.lang,
            "common.date.at",
            context! { date => self.date(reader, at), time => time, zone => zone },
        )
    }

    /// Days from `now` to `at`, counted in whole calendar days of the reader's zone, so that
    /// "in 5 days" and "on 11 December" always agree.
    pub fn days_until(&self, reader: Reader, now: DateTime<Utc>, at: DateTime<Utc>) -> i64 {
        let today = now.with_timezone(&reader.tz).date_naive();
        let then = at.with_timezone(&reader.tz).date_naive();
        (then - today).num_days()
    }

    /// Names as one list: "A, B and C", «A, B и C».
    pub fn list(&self, lang: Language, items: &[String]) -> String {
        match items {
            [] => String::new(),
            [one] => one.clone(),
            [init @ .., last] => {
                let and = self.word(lang, "common.list.and");
                format!("{} {and} {last}", init.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn russian_forms() {
        let forms: Vec<usize> = [1, 2, 5, 11, 12, 14, 21, 22, 25, 101, 111, 0]
            .into_iter()
            .map(russian_form)
            .collect();
        assert_eq!(forms, [0, 1, 2, 2, 2, 2, 0, 1, 2, 0, 2, 2]);
    }

    #[track_caller]
    fn check(secs: u64, lang: Language, expected: &str) {
        let words = Words::builtin();
        assert_eq!(words.duration(lang, Duration::from_secs(secs)), expected);
    }

    #[test]
    fn durations_as_people_say_them() {
        check(10, Language::En, "about 10 seconds");
        check(1, Language::En, "about 5 seconds");
        check(59, Language::En, "about 55 seconds");
        check(60, Language::En, "1 minute");
        check(14 * 60, Language::En, "14 minutes");
        check(2 * 3600 + 5 * 60, Language::En, "2 hours 5 minutes");
        check(2 * 86_400 + 3 * 3600 + 59, Language::En, "2 days 3 hours");
        check(86_400 + 7 * 60, Language::En, "1 day");
        check(10, Language::Ru, "около 10 секунд");
        check(60, Language::Ru, "1 минуту");
        check(21 * 60, Language::Ru, "21 минуту");
        check(3 * 3600 + 22 * 60, Language::Ru, "3 часа 22 минуты");
        check(11 * 3600, Language::Ru, "11 часов");
        check(5 * 86_400, Language::Ru, "5 дней");
    }

    #[test]
    fn dates_in_the_readers_zone() {
        let words = Words::builtin();
        let year = Utc::now().year();
        let at = Utc.with_ymd_and_hms(year, 12, 11, 22, 5, 0).unwrap();
        let moscow = Reader::new(Language::Ru, chrono_tz::Europe::Moscow);
        assert_eq!(words.date(moscow, at), "12 декабря");
        assert_eq!(words.datetime(moscow, at), "12 декабря в 01:05 MSK");
        let utc = Reader::new(Language::En, chrono_tz::UTC);
        assert_eq!(words.datetime(utc, at), "11 December at 22:05 UTC");
        let before = Utc.with_ymd_and_hms(year, 12, 6, 23, 0, 0).unwrap();
        assert_eq!(words.days_until(moscow, before, at), 5);
        assert_eq!(words.days_until(utc, before, at), 5);
    }
}
