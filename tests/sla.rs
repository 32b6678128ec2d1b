//! SLA clocks: when a ticket's acknowledgement, first update, next update and resolution are
//! due, on a 24/7 clock or a business calendar (time zone, opening hours, days off, holidays,
//! DST), how pauses move them, when warnings and breaches fire, and how `[sla]` is configured.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use forewarn::config::{Diagnostics, Source};
use forewarn::ticket::Severity;
use forewarn::ticket::calendar::{Calendar, Clock};
use forewarn::ticket::sla::{self, Due, RawSla, SlaPolicies, SlaState, SlaTargets};

// ---------------------------------------------------------------------------------------------
// Helpers

fn dur(s: &str) -> Duration {
    humantime::parse_duration(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// `2026-12-03 17:50` as wall time in `zone`, as an instant.
fn at(zone: Tz, s: &str) -> DateTime<Utc> {
    let naive =
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap_or_else(|e| panic!("{s}: {e}"));
    zone.from_local_datetime(&naive)
        .single()
        .unwrap_or_else(|| panic!("{s} is not a single instant in {zone}"))
        .with_timezone(&Utc)
}

fn utc(s: &str) -> DateTime<Utc> {
    at(Tz::UTC, s)
}

/// An instant shown as wall time in `zone`, for readable failures.
fn show(zone: Tz, t: DateTime<Utc>) -> String {
    t.with_timezone(&zone)
        .format("%Y-%m-%d %H:%M %Z")
        .to_string()
}

fn business(zone: &str, hours: &str, days: &[&str], holidays: &[&str]) -> Clock {
    Clock::Business(Calendar::parse(zone, hours, days, holidays).expect("valid calendar"))
}

fn zone_of(clock: &Clock) -> Tz {
    match clock {
        Clock::AlwaysOn => Tz::UTC,
        Clock::Business(c) => c.zone(),
    }
}

/// The one arithmetic check: on `clock`, `work` after `start` is due at `due` (both wall time
/// in the clock's zone), and `elapsed` gives the work back.
fn check_add(clock: &Clock, cases: &[(&str, &str, &str)]) {
    let zone = zone_of(clock);
    for &(start, work, due) in cases {
        let (start_t, due_t) = (at(zone, start), at(zone, due));
        let got = clock.add(start_t, dur(work));
        assert_eq!(
            got,
            due_t,
            "{start} + {work} on {clock}: expected {due}, got {}",
            show(zone, got)
        );
        assert_eq!(
            clock.elapsed(start_t, got),
            dur(work),
            "elapsed({start}, {due}) on {clock}"
        );
    }
}

/// `forewarn.toml` text → policies or the diagnostics, as the config loader does it: serde
/// errors located by `from_toml`, the rest by `sla::build`.
fn load(text: &str) -> Result<SlaPolicies, String> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        sla: Option<RawSla>,
    }
    let src = Source::new(Path::new("forewarn.toml"), text);
    let mut diags = Diagnostics::default();
    match toml::from_str::<File>(text) {
        Ok(f) => {
            let p = sla::build(&src, f.sla, &mut diags);
            if diags.is_empty() {
                Ok(p)
            } else {
                Err(diags.to_string())
            }
        }
        Err(e) => {
            diags.push(src.from_toml("", &e));
            Err(diags.to_string())
        }
    }
}

fn load_ok(text: &str) -> SlaPolicies {
    load(text).unwrap_or_else(|e| panic!("expected valid [sla], got:\n{e}"))
}

/// Each bad config gives exactly the expected diagnostics (one per line, in order). An
/// expected line ending in `…` is a prefix (the rest is the duration parser's own words).
fn check_errors(cases: &[(&str, &[&str])]) {
    for (text, expected) in cases {
        let err = load(text)
            .err()
            .unwrap_or_else(|| panic!("expected errors:\n{text}"));
        let lines: Vec<&str> = err.lines().collect();
        let matches = lines.len() == expected.len()
            && lines
                .iter()
                .zip(expected.iter())
                .all(|(l, e)| match e.strip_suffix('…') {
                    Some(prefix) => l.starts_with(prefix),
                    None => l == e,
                });
        assert!(
            matches,
            "for:\n{text}\nexpected: {expected:#?}\ngot: {lines:#?}"
        );
    }
}

fn targets(s: [&str; 4]) -> SlaTargets {
    SlaTargets {
        acknowledge: dur(s[0]),
        first_update: dur(s[1]),
        update_every: dur(s[2]),
        resolve: dur(s[3]),
    }
}

const MOSCOW: &str = "Europe/Moscow";
const WEEK: &[&str] = &["mon", "tue", "wed", "thu", "fri"];
const NEW_YEAR: &[&str] = &["2026-12-31", "2027-01-01"];

fn moscow_office() -> Clock {
    business(MOSCOW, "09:00-18:00", WEEK, NEW_YEAR)
}

// ---------------------------------------------------------------------------------------------
// Clock arithmetic

#[test]
fn always_on_clock_is_wall_time() {
    check_add(
        &Clock::AlwaysOn,
        &[
            ("2026-12-03 17:50", "30m", "2026-12-03 18:20"),
            ("2026-12-04 23:30", "1h", "2026-12-05 00:30"),
            ("2026-12-31 20:00", "1d", "2027-01-01 20:00"),
            ("2026-03-28 12:00", "10d", "2026-04-07 12:00"),
            ("2026-12-03 10:00", "0s", "2026-12-03 10:00"),
        ],
    );
    assert_eq!(
        Clock::AlwaysOn.elapsed(utc("2026-12-03 12:00"), utc("2026-12-03 10:00")),
        Duration::ZERO,
        "time running backwards counts nothing"
    );
}

#[test]
fn business_clock_skips_nights_weekends_and_holidays() {
    // 2026-12-03 is a Thursday; 31 Dec and 1 Jan are holidays, 2–3 Jan a weekend.
    check_add(
        &moscow_office(),
        &[
            ("2026-12-03 10:00", "30m", "2026-12-03 10:30"),
            ("2026-12-03 17:30", "30m", "2026-12-03 18:00"),
            ("2026-12-03 17:50", "30m", "2026-12-04 09:20"),
            ("2026-12-04 17:50", "30m", "2026-12-07 09:20"),
            ("2026-12-05 11:00", "1h", "2026-12-07 10:00"),
            ("2026-12-07 07:00", "1h", "2026-12-07 10:00"),
            ("2026-12-07 20:00", "1h", "2026-12-08 10:00"),
            ("2026-12-07 09:00", "27h", "2026-12-09 18:00"),
            ("2026-12-07 09:00", "27h 1m", "2026-12-10 09:01"),
            ("2026-12-30 17:50", "30m", "2027-01-04 09:20"),
            ("2026-12-31 12:00", "4h", "2027-01-04 13:00"),
            ("2026-12-05 11:00", "0s", "2026-12-05 11:00"),
        ],
    );
}

#[test]
fn ticket_at_1750_with_a_30_minute_target_is_due_at_0920_next_working_day() {
    let clock = moscow_office();
    let due = clock.add(at(Tz::Europe__Moscow, "2026-12-03 17:50"), dur("30m"));
    assert_eq!(due, utc("2026-12-04 06:20"), "in UTC (Moscow is UTC+3)");
    assert_eq!(show(Tz::Europe__Moscow, due), "2026-12-04 09:20 MSK");
}

#[test]
fn dst_changes_in_berlin_are_followed() {
    // Office hours across the spring change (Sunday 29 March 2026, 02:00 CET → 03:00 CEST):
    // Friday 17:00 CET is 16:00 UTC, Monday 10:00 CEST is 08:00 UTC.
    let office = business("Europe/Berlin", "09:00-18:00", &["mon-fri"], &[]);
    check_add(
        &office,
        &[
            ("2026-03-27 17:00", "2h", "2026-03-30 10:00"),
            ("2026-10-23 17:00", "2h", "2026-10-26 10:00"),
        ],
    );
    assert_eq!(
        office.add(utc("2026-03-27 16:00"), dur("2h")),
        utc("2026-03-30 08:00")
    );
    assert_eq!(
        office.add(utc("2026-10-23 15:00"), dur("2h")),
        utc("2026-10-26 09:00"),
        "back on CET after Sunday 25 October"
    );

    // A calendar open all day every day has 23-hour and 25-hour days: it is wall time.
    let all_day = business("Europe/Berlin", "00:00-24:00", &["mon-sun"], &[]);
    check_add(
        &all_day,
        &[
            ("2026-03-28 12:00", "24h", "2026-03-29 13:00"),
            ("2026-10-24 12:00", "24h", "2026-10-25 11:00"),
        ],
    );
    for start in ["2026-03-28 12:00", "2026-10-24 12:00"] {
        let s = utc(start);
        assert_eq!(all_day.add(s, dur("3d")), Clock::AlwaysOn.add(s, dur("3d")));
    }

    // Opening hours that contain the change itself: 01:00–05:00 is 3 hours on the spring
    // Sunday and 5 hours on the autumn one.
    let night = business("Europe/Berlin", "01:00-05:00", &["mon-sun"], &[]);
    let spring = night.elapsed(utc("2026-03-28 23:00"), utc("2026-03-29 23:00"));
    let autumn = night.elapsed(utc("2026-10-24 22:00"), utc("2026-10-25 22:00"));
    assert_eq!((spring, autumn), (dur("3h"), dur("5h")));
    check_add(
        &night,
        &[
            ("2026-03-29 01:00", "3h", "2026-03-29 05:00"),
            ("2026-03-29 01:00", "3h 30m", "2026-03-30 01:30"),
            ("2026-03-29 01:30", "30m", "2026-03-29 03:00"),
        ],
    );
    assert_eq!(
        night.add(utc("2026-10-24 23:00"), dur("5h")),
        utc("2026-10-25 04:00"),
        "01:00 CEST + 5 open hours = 05:00 CET"
    );
}

#[test]
fn elapsed_is_the_inverse_of_add() {
    let clocks = [
        Clock::AlwaysOn,
        moscow_office(),
        business(
            "Europe/Berlin",
            "08:30-17:15",
            &["mon-fri", "sat"],
            &["2026-03-30"],
        ),
        business("America/New_York", "22:00-24:00", &["sun", "wed"], &[]),
        business("Australia/Lord_Howe", "01:00-03:00", &["mon-sun"], &[]),
    ];
    // A fixed pseudo-random walk over 2026: starts anywhere (open or closed), work up to a week.
    let mut seed: u64 = 0x5eed;
    let mut next = |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let year_start = utc("2026-01-01 00:00");
    for clock in &clocks {
        for _ in 0..300 {
            let start = year_start + chrono::TimeDelta::minutes(next(365 * 24 * 60) as i64);
            let work = Duration::from_secs(next(7 * 86400));
            let due = clock.add(start, work);
            assert_eq!(
                clock.elapsed(start, due),
                work,
                "{clock}: {start} + {work:?}"
            );
            assert!(due >= start);
            if !work.is_zero() {
                assert!(
                    clock.is_running(due - chrono::TimeDelta::seconds(1)),
                    "{clock}: due {due} does not come at the end of open time"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Pauses, warnings, breaches

#[test]
fn a_pause_moves_a_due_time_by_the_paused_clock_time() {
    let office = moscow_office();
    // (clock, due, paused, resumed, new due), wall time in Moscow.
    let cases = [
        // 24/7: 45 minutes of pause, 45 minutes later.
        (
            &Clock::AlwaysOn,
            "2026-12-03 12:00",
            "2026-12-03 10:00",
            "2026-12-03 10:45",
            "2026-12-03 12:45",
        ),
        // Over a night: only Thu 17–18 and Fri 09–10 count, 2 open hours.
        (
            &office,
            "2026-12-04 11:00",
            "2026-12-03 17:00",
            "2026-12-04 10:00",
            "2026-12-04 13:00",
        ),
        // Paused and resumed while closed: nothing moves.
        (
            &office,
            "2026-12-04 11:00",
            "2026-12-03 18:30",
            "2026-12-04 08:30",
            "2026-12-04 11:00",
        ),
        // Paused past the due time: the hour that was left is left again after the resume.
        (
            &office,
            "2026-12-04 11:00",
            "2026-12-04 10:00",
            "2026-12-04 12:00",
            "2026-12-04 13:00",
        ),
        // Already due before the pause: a pause does not undo a breach.
        (
            &office,
            "2026-12-04 11:00",
            "2026-12-04 12:00",
            "2026-12-04 15:00",
            "2026-12-04 11:00",
        ),
    ];
    let msk = |s| at(Tz::Europe__Moscow, s);
    for (i, (clock, due, paused, resumed, expected)) in cases.into_iter().enumerate() {
        let (due, paused, resumed) = (msk(due), msk(paused), msk(resumed));
        let got = sla::shift_for_pause(clock, due, paused, resumed);
        assert_eq!(
            got,
            msk(expected),
            "case {i}: got {}",
            show(Tz::Europe__Moscow, got)
        );
        if due > resumed {
            assert_eq!(
                clock.elapsed(due, got),
                clock.elapsed(paused, resumed),
                "case {i}: shifted by exactly the paused clock time"
            );
        }
    }
}

#[test]
fn warning_at_75_percent_and_breach_at_the_due_time() {
    let office = moscow_office();
    let msk = |s| at(Tz::Europe__Moscow, s);
    // (clock, span, due, now, state)
    let cases = [
        (
            &Clock::AlwaysOn,
            "1h",
            utc("2026-12-03 12:00"),
            utc("2026-12-03 11:00"),
            SlaState::Ok,
        ),
        (
            &Clock::AlwaysOn,
            "1h",
            utc("2026-12-03 12:00"),
            utc("2026-12-03 11:44"),
            SlaState::Ok,
        ),
        (
            &Clock::AlwaysOn,
            "1h",
            utc("2026-12-03 12:00"),
            utc("2026-12-03 11:45"),
            SlaState::Warning,
        ),
        (
            &Clock::AlwaysOn,
            "1h",
            utc("2026-12-03 12:00"),
            utc("2026-12-03 11:59"),
            SlaState::Warning,
        ),
        (
            &Clock::AlwaysOn,
            "1h",
            utc("2026-12-03 12:00"),
            utc("2026-12-03 12:00"),
            SlaState::Breached,
        ),
        (
            &Clock::AlwaysOn,
            "1h",
            utc("2026-12-03 12:00"),
            utc("2026-12-04 09:00"),
            SlaState::Breached,
        ),
        // 4 open hours from Thu 16:00, due Fri 11:00: the night is half-time, not a warning.
        (
            &office,
            "4h",
            msk("2026-12-04 11:00"),
            msk("2026-12-03 23:00"),
            SlaState::Ok,
        ),
        (
            &office,
            "4h",
            msk("2026-12-04 11:00"),
            msk("2026-12-04 09:59"),
            SlaState::Ok,
        ),
        (
            &office,
            "4h",
            msk("2026-12-04 11:00"),
            msk("2026-12-04 10:00"),
            SlaState::Warning,
        ),
        (
            &office,
            "4h",
            msk("2026-12-04 11:00"),
            msk("2026-12-04 11:00"),
            SlaState::Breached,
        ),
    ];
    for (i, (clock, span, due, now, expected)) in cases.into_iter().enumerate() {
        assert_eq!(sla::check(clock, dur(span), due, now), expected, "case {i}");
    }
}

// ---------------------------------------------------------------------------------------------
// Policies and configuration

#[test]
fn defaults_apply_without_an_sla_section() {
    let p = load_ok("");
    assert_eq!(p, SlaPolicies::default());
    let expected = [
        (Severity::P1, ["10m", "20m", "1h", "4h"]),
        (Severity::P2, ["30m", "1h", "2h", "1d"]),
        (Severity::P3, ["4h", "8h", "1d", "3d"]),
        (Severity::P4, ["1d", "2d", "3d", "10d"]),
    ];
    for (severity, t) in expected {
        assert_eq!(p.targets(severity, ""), targets(t), "{severity}");
        assert_eq!(
            p.targets(severity, "gold"),
            targets(t),
            "{severity} of an unknown tier"
        );
        assert_eq!(p.clock(severity), &Clock::AlwaysOn, "{severity} runs 24/7");
    }
}

#[test]
fn a_tier_override_beats_the_severity_default() {
    let p = load_ok(
        r#"
[sla.P1]
acknowledge = "15m"
resolve = "6h"
[sla.tier.gold.P1]
acknowledge = "5m"
[sla.tier.gold.P3]
resolve = "1d"
"#,
    );
    let cases = [
        (Severity::P1, "", ["15m", "20m", "1h", "6h"]),
        (Severity::P1, "silver", ["15m", "20m", "1h", "6h"]),
        (Severity::P1, "gold", ["5m", "20m", "1h", "6h"]),
        (Severity::P2, "gold", ["30m", "1h", "2h", "1d"]),
        (Severity::P3, "gold", ["4h", "8h", "1d", "1d"]),
    ];
    for (severity, tier, t) in cases {
        assert_eq!(p.targets(severity, tier), targets(t), "{severity} {tier:?}");
    }
    assert_eq!(p.tiers().collect::<Vec<_>>(), ["gold"]);
}

#[test]
fn due_times_and_checkpoints_follow_the_severitys_clock() {
    let p = load_ok(
        r#"
[sla.P3]
acknowledge = "30m"
first_update = "1h"
update_every = "4h"
resolve = "18h"
[sla.calendar]
timezone = "Europe/Moscow"
hours = "09:00-18:00"
days = ["mon", "tue", "wed", "thu", "fri"]
holidays = ["2026-12-31", "2027-01-01"]
calendar_for = ["P3", "P4"]
"#,
    );
    assert_eq!(p.clock(Severity::P1), &Clock::AlwaysOn);
    assert_eq!(p.clock(Severity::P3), &moscow_office());
    assert_eq!(p.clock(Severity::P4), &moscow_office());

    let msk = |s| at(Tz::Europe__Moscow, s);
    let created = msk("2026-12-04 17:50"); // a Friday evening
    assert_eq!(
        sla::due_times(&p, Severity::P1, "", created),
        Due {
            acknowledge: msk("2026-12-04 18:00"),
            first_update: msk("2026-12-04 18:10"),
            next_update: msk("2026-12-04 18:10"),
            resolve: msk("2026-12-04 21:50"),
        },
        "P1 runs through the night"
    );
    assert_eq!(
        sla::due_times(&p, Severity::P3, "", created),
        Due {
            acknowledge: msk("2026-12-07 09:20"),
            first_update: msk("2026-12-07 09:50"),
            next_update: msk("2026-12-07 09:50"),
            resolve: msk("2026-12-08 17:50"),
        },
        "P3 waits for Monday"
    );
    assert_eq!(
        sla::next_checkpoint(&p, Severity::P3, "", msk("2026-12-07 16:00")),
        msk("2026-12-08 11:00")
    );
    assert_eq!(
        sla::next_checkpoint(&p, Severity::P1, "", msk("2026-12-07 16:00")),
        msk("2026-12-07 17:00")
    );
}

#[test]
fn calendar_defaults_are_office_hours_on_weekdays_for_every_severity() {
    let p = load_ok("[sla.calendar]\ntimezone = \"Europe/Moscow\"\n");
    let plain = business(MOSCOW, "09:00-18:00", &["mon-fri"], &[]);
    for severity in Severity::ALL {
        assert_eq!(p.clock(severity), &plain, "{severity}");
    }
}

#[test]
fn config_errors_point_at_file_line_and_column() {
    check_errors(&[
        (
            "[sla.P1]\nacknowledge = \"ten minutes\"\n",
            &["forewarn.toml:2:15: sla.P1.acknowledge: bad duration \"ten minutes\": …"],
        ),
        (
            "[sla.tier.gold.P2]\nresolve = \"0s\"\n",
            &["forewarn.toml:2:11: sla.tier.gold.P2.resolve: a target must be longer than zero"],
        ),
        (
            "[sla.calendar]\ntimezone = \"Europe/Moskva\"\n",
            &[
                "forewarn.toml:2:12: sla.calendar.timezone: unknown time zone \"Europe/Moskva\": did you mean Europe/Moscow?",
            ],
        ),
        (
            "[sla.calendar]\ntimezone = \"Mars/Olympus\"\n",
            &[
                "forewarn.toml:2:12: sla.calendar.timezone: unknown time zone \"Mars/Olympus\": write an IANA name such as Europe/Moscow or UTC",
            ],
        ),
        (
            "[sla.calendar]\ntimezone = \"UTC\"\nhours = \"09:00-25:00\"\n",
            &[
                "forewarn.toml:3:9: sla.calendar.hours: bad hours \"09:00-25:00\": 25:00 is not a time of day (write e.g. 09:00-18:00)",
            ],
        ),
        (
            "[sla.calendar]\ntimezone = \"UTC\"\nhours = \"18:00-09:00\"\n",
            &[
                "forewarn.toml:3:9: sla.calendar.hours: bad hours \"18:00-09:00\": closing time must be after opening time (hours across midnight are not supported) (write e.g. 09:00-18:00)",
            ],
        ),
        (
            "[sla.calendar]\ntimezone = \"UTC\"\ndays = [\"mon\", \"fry\"]\n",
            &[
                "forewarn.toml:3:16: sla.calendar.days[1]: unknown weekday \"fry\": write mon, tue, wed, thu, fri, sat or sun (or a range: mon-fri)",
            ],
        ),
        (
            "[sla.calendar]\ntimezone = \"UTC\"\nholidays = [\"2026-12-31\", \"2027-02-30\"]\n",
            &[
                "forewarn.toml:3:27: sla.calendar.holidays[1]: bad date \"2027-02-30\": write YYYY-MM-DD, e.g. 2026-12-31",
            ],
        ),
        (
            "[sla.calendar]\ntimezone = \"UTC\"\ncalendar_for = [\"P3\", \"P5\"]\n",
            &[
                "forewarn.toml:3:23: sla.calendar.calendar_for[1]: unknown severity \"P5\": write P1, P2, P3 or P4",
            ],
        ),
        (
            "[sla.calendar]\nhours = \"09:00-17:00\"\n",
            &[
                "forewarn.toml:1:1: sla.calendar.timezone: a business calendar needs a time zone: write timezone = \"Europe/Moscow\" (or \"UTC\")",
            ],
        ),
        (
            "[sla.calendar]\ntimezone = \"UTC\"\ndays = []\n",
            &[
                "forewarn.toml:1:1: sla.calendar.days: a business calendar needs at least one working day",
            ],
        ),
        // Every mistake in one pass, not only the first.
        (
            "[sla.P1]\nacknowledge = \"soon\"\n[sla.calendar]\ntimezone = \"Europe/Moskva\"\nhours = \"9-18\"\n",
            &[
                "forewarn.toml:2:15: sla.P1.acknowledge: bad duration \"soon\": …",
                "forewarn.toml:4:12: sla.calendar.timezone: unknown time zone \"Europe/Moskva\": did you mean Europe/Moscow?",
                "forewarn.toml:5:9: sla.calendar.hours: bad hours \"9-18\": 9 is not a time of day (write e.g. 09:00-18:00)",
            ],
        ),
    ]);
}

#[test]
fn unknown_keys_are_located_too() {
    // Unknown severities, tier levels and fields are serde errors; the loader locates them.
    for (text, line_col, fragment) in [
        (
            "[sla.P5]\nresolve = \"1h\"\n",
            "forewarn.toml:1:6",
            "unknown field `P5`",
        ),
        (
            "[sla.tier.gold.P9]\nresolve = \"1h\"\n",
            "forewarn.toml:1:16",
            "unknown field `P9`",
        ),
        (
            "[sla.tier.gold]\nacknowledge = \"5m\"\n",
            "forewarn.toml:2:1",
            "unknown field `acknowledge`",
        ),
        (
            "[sla.P1]\nack = \"5m\"\n",
            "forewarn.toml:2:1",
            "unknown field `ack`",
        ),
        (
            "[sla.calendar]\ntimezone = \"UTC\"\nweekends = []\n",
            "forewarn.toml:3:1",
            "unknown field `weekends`",
        ),
    ] {
        let err = load(text)
            .err()
            .unwrap_or_else(|| panic!("expected an error:\n{text}"));
        assert!(
            err.starts_with(&format!("{line_col}: ")) && err.contains(fragment),
            "expected {line_col} … {fragment} for:\n{text}\ngot: {err}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// What the clocks owe a ticket (`sla::owed`): the pure decision behind the SLA job.

mod owed {
    use super::*;
    use forewarn::model::CustomerId;
    use forewarn::ticket::{Origin, SlaTarget, Ticket, TicketId, TicketStatus};
    use std::time::Duration;

    /// A P2 ticket opened at 10:00 UTC on a 24/7 clock: acknowledge by 10:30, first update by
    /// 11:00, resolve by 10:00 next day, next update promised by 11:00.
    fn ticket(status: TicketStatus, assignee: Option<&str>) -> Ticket {
        let opened = utc("2026-12-03 10:00");
        Ticket {
            id: TicketId(1),
            customer: CustomerId::parse("acme").unwrap(),
            title: "Shop: Site is down".into(),
            problem: "site_down".into(),
            severity: Severity::P2,
            status,
            origin: Origin::Monitoring,
            checks: vec![],
            incident: None,
            assignee: assignee.map(str::to_owned),
            skill_group: "web".into(),
            created_at: opened,
            acknowledged_at: (status != TicketStatus::New).then_some(opened),
            first_update_at: None,
            resolved_at: None,
            closed_at: None,
            ack_due: Some(utc("2026-12-03 10:30")),
            first_update_due: Some(utc("2026-12-03 11:00")),
            resolve_due: Some(utc("2026-12-04 10:00")),
            next_update_due: Some(utc("2026-12-03 11:00")),
            paused_since: None,
            reopen_count: 0,
            version: 0,
        }
    }

    struct Case {
        what: &'static str,
        status: TicketStatus,
        assignee: Option<&'static str>,
        recorded: &'static [(SlaTarget, bool)],
        now: &'static str,
        warnings: &'static [SlaTarget],
        breaches: &'static [SlaTarget],
        /// (promised, next, worked)
        promise: Option<(&'static str, &'static str, bool)>,
    }

    fn check(c: &Case) {
        let clock = Clock::AlwaysOn;
        let spans = SlaTargets::default_for(Severity::P2);
        let t = ticket(c.status, c.assignee);
        let got = sla::owed(
            &t,
            c.recorded,
            &clock,
            &spans,
            utc(c.now),
            Duration::from_secs(15),
        );
        let targets =
            |v: &[(SlaTarget, DateTime<Utc>)]| v.iter().map(|(t, _)| *t).collect::<Vec<_>>();
        assert_eq!(targets(&got.warnings), c.warnings, "{}: warnings", c.what);
        assert_eq!(targets(&got.breaches), c.breaches, "{}: breaches", c.what);
        let promise = got.promise.map(|p| (p.promised, p.next, p.worked));
        let expected = c.promise.map(|(p, n, w)| (utc(p), utc(n), w));
        assert_eq!(promise, expected, "{}: promise", c.what);
    }

    #[test]
    fn the_clocks_owe_each_warning_breach_and_promise_once() {
        use SlaTarget::*;
        use TicketStatus::*;
        let cases = [
            Case {
                what: "half the acknowledgement time used: nothing yet",
                status: New,
                assignee: None,
                recorded: &[],
                now: "2026-12-03 10:15",
                warnings: &[],
                breaches: &[],
                promise: None,
            },
            Case {
                what: "80 % of the acknowledgement time: a warning",
                status: New,
                assignee: None,
                recorded: &[],
                now: "2026-12-03 10:24",
                warnings: &[Acknowledge],
                breaches: &[],
                promise: None,
            },
            Case {
                what: "the warning already recorded: owed once",
                status: New,
                assignee: None,
                recorded: &[(Acknowledge, false)],
                now: "2026-12-03 10:24",
                warnings: &[],
                breaches: &[],
                promise: None,
            },
            Case {
                what: "past the acknowledgement: a breach; the first update is at 75 %",
                status: New,
                assignee: None,
                recorded: &[(Acknowledge, false)],
                now: "2026-12-03 10:50",
                warnings: &[FirstUpdate],
                breaches: &[Acknowledge],
                promise: None,
            },
            Case {
                what: "acknowledged: that clock stopped",
                status: Acknowledged,
                assignee: None,
                recorded: &[],
                now: "2026-12-03 10:50",
                warnings: &[FirstUpdate],
                breaches: &[],
                promise: None,
            },
            Case {
                what: "waiting on the customer: every clock paused",
                status: WaitingOnCustomer,
                assignee: None,
                recorded: &[],
                now: "2026-12-03 12:00",
                warnings: &[],
                breaches: &[],
                promise: None,
            },
            Case {
                what: "the promise due on an untouched ticket: queued, not \"working on it\"",
                status: New,
                assignee: None,
                recorded: &[(Acknowledge, true), (FirstUpdate, false)],
                now: "2026-12-03 11:00",
                warnings: &[],
                breaches: &[FirstUpdate],
                promise: Some(("2026-12-03 11:00", "2026-12-03 13:00", false)),
            },
            Case {
                what: "the promise due on an assigned ticket: still working on it",
                status: New,
                assignee: Some("anna"),
                recorded: &[(Acknowledge, true), (FirstUpdate, true)],
                now: "2026-12-03 11:00",
                warnings: &[],
                breaches: &[],
                promise: Some(("2026-12-03 11:00", "2026-12-03 13:00", true)),
            },
            Case {
                what: "a minute before the promise: not yet (kept at most one run of the job early)",
                status: InProgress,
                assignee: None,
                recorded: &[(FirstUpdate, false)],
                now: "2026-12-03 10:59",
                warnings: &[],
                breaches: &[],
                promise: None,
            },
            Case {
                what: "far behind (the server was down): the next promise counts from now",
                status: InProgress,
                assignee: None,
                recorded: &[(FirstUpdate, true)],
                now: "2026-12-03 14:00",
                warnings: &[],
                breaches: &[],
                promise: Some(("2026-12-03 11:00", "2026-12-03 16:00", true)),
            },
        ];
        for c in &cases {
            check(c);
        }
    }
}
