//! Per-check state machine: N failures in a row open, M successes in a row close, and a check
//! that keeps changing state is *flapping* — a state of its own with a clear end. Pure: no
//! I/O, no clock but the results' own times.
//!
//! Flapping rules (each tested below):
//! - it starts only on a failing result (a result that shows a recovery is a recovery), and
//!   only from healthy: an open problem closes after M passes whatever came before;
//! - it ends as an outage when the check then fails 2 × N times in a row (a flapping check never
//!   hides a later outage), or as stable again after `flap_quiet` without a change.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::probe::Status;

/// How much evidence opens and closes a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// Failing results in a row that open a problem (default 3).
    pub open_after: u32,
    /// Passing results in a row that close it (default 2).
    pub close_after: u32,
    /// This many changes between passing and failing within `flap_window` is flapping.
    pub flap_changes: u32,
    pub flap_window: Duration,
    /// A flapping check without a change for this long is stable again.
    pub flap_quiet: Duration,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            open_after: 3,
            close_after: 2,
            flap_changes: 6,
            flap_window: Duration::from_secs(30 * 60),
            flap_quiet: Duration::from_secs(10 * 60),
        }
    }
}

/// Where a check stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Passing, or failing fewer than `open_after` times in a row.
    Healthy,
    /// A problem is open.
    Problem,
    /// Changing state too often to call; announced once, ended once.
    Flapping,
}

/// What an observation changed, for the detector to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// `open_after` failures in a row: a problem opens (the detector confirms it first).
    Opened,
    /// `close_after` passes in a row after a problem: it is over.
    Recovered,
    /// Started flapping (from healthy, on a failing result).
    FlappingStarted,
    /// Failed 2 × `open_after` times in a row while flapping: an outage now (phase `Problem`).
    FlappingBecameOutage,
    /// Passing without a change for `flap_quiet`: stable again (phase `Healthy`).
    FlappingEnded,
}

/// The remembered state of one check; serialisable so the detector survives a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Track {
    pub phase: Phase,
    pub fails_in_row: u32,
    pub passes_in_row: u32,
    /// Since when the current phase holds.
    pub since: DateTime<Utc>,
    /// Times the check changed between passing and failing, within the flap window.
    pub changes: VecDeque<DateTime<Utc>>,
    /// Whether the last result was failing.
    pub last_failing: bool,
    /// The time of the last result seen (older results are ignored).
    pub last_seen: DateTime<Utc>,
    /// The time of the last change between passing and failing.
    #[serde(default)]
    pub last_change: Option<DateTime<Utc>>,
    /// The playbook of the last failing result (its thresholds apply).
    #[serde(default)]
    pub problem: Option<String>,
}

impl Track {
    pub fn new(at: DateTime<Utc>) -> Self {
        Track {
            phase: Phase::Healthy,
            fails_in_row: 0,
            passes_in_row: 0,
            since: at,
            changes: VecDeque::new(),
            last_failing: false,
            last_seen: at,
            last_change: None,
            problem: None,
        }
    }

    /// Feeds one result. `failing` is the result's verdict (not ok). Returns what changed.
    pub fn observe(
        &mut self,
        rules: &Rules,
        status: Status,
        at: DateTime<Utc>,
    ) -> Option<Transition> {
        if at < self.last_seen {
            return None; // a late result never rewinds the state
        }
        self.last_seen = at;
        let failing = !status.is_ok();
        if failing != self.last_failing {
            self.changes.push_back(at);
            self.last_change = Some(at);
        }
        self.last_failing = failing;
        let window = chrono::Duration::from_std(rules.flap_window).unwrap_or_default();
        while self.changes.front().is_some_and(|t| *t + window < at) {
            self.changes.pop_front();
        }
        if failing {
            self.fails_in_row += 1;
            self.passes_in_row = 0;
        } else {
            self.passes_in_row += 1;
            self.fails_in_row = 0;
        }

        let flapping_now =
            rules.flap_changes > 0 && self.changes.len() as u32 >= rules.flap_changes;
        let quiet = chrono::Duration::from_std(rules.flap_quiet).unwrap_or_default();
        match self.phase {
            Phase::Flapping if failing && self.fails_in_row >= 2 * rules.open_after => {
                self.set(Phase::Problem, at);
                Some(Transition::FlappingBecameOutage)
            }
            Phase::Flapping
                if !failing
                    && self.passes_in_row >= rules.close_after
                    && self.last_change.is_none_or(|changed| at - changed >= quiet) =>
            {
                self.set(Phase::Healthy, at);
                Some(Transition::FlappingEnded)
            }
            Phase::Flapping => None,
            Phase::Healthy if failing && flapping_now => {
                self.set(Phase::Flapping, at);
                Some(Transition::FlappingStarted)
            }
            Phase::Healthy if failing && self.fails_in_row >= rules.open_after => {
                self.set(Phase::Problem, at);
                Some(Transition::Opened)
            }
            Phase::Problem if !failing && self.passes_in_row >= rules.close_after => {
                self.set(Phase::Healthy, at);
                Some(Transition::Recovered)
            }
            _ => None,
        }
    }

    /// Whether the check counts as failing for its ticket and incident: an open problem, or a
    /// flapping check whose last result failed (a flapping check that passes holds nothing).
    pub fn failing(&self) -> bool {
        self.phase == Phase::Problem || (self.phase == Phase::Flapping && self.last_failing)
    }

    /// The check fails for a new cause: count it from zero, as a healthy check (the old
    /// cause's ticket is the detector's business).
    pub fn restart(&mut self, at: DateTime<Utc>) {
        self.set(Phase::Healthy, at);
        self.fails_in_row = 0;
        self.passes_in_row = 0;
    }

    /// The confirmation re-run passed: the problem did not hold. Back to healthy, quietly.
    pub fn not_confirmed(&mut self, at: DateTime<Utc>) {
        self.set(Phase::Healthy, at);
        self.fails_in_row = 0;
        self.passes_in_row = 1;
        self.last_failing = false;
    }

    fn set(&mut self, phase: Phase, at: DateTime<Utc>) {
        self.phase = phase;
        self.since = at;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds a string of results, one a minute: `o` ok, `w` warning, `c` critical; returns the
    /// transitions with the index of the result that caused them.
    fn run(rules: Rules, results: &str) -> Vec<(usize, Transition)> {
        let t0 = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .to_utc();
        let mut track = Track::new(t0);
        let mut out = Vec::new();
        for (i, c) in results.chars().enumerate() {
            let status = match c {
                'o' => Status::Ok,
                'w' => Status::Warning,
                'c' => Status::Critical,
                _ => panic!("unknown result {c}"),
            };
            let at = t0 + chrono::Duration::minutes(i as i64 + 1);
            if let Some(t) = track.observe(&rules, status, at) {
                out.push((i, t));
            }
        }
        out
    }

    fn check(results: &str, expected: &[(usize, Transition)]) {
        assert_eq!(
            run(Rules::default(), results),
            expected,
            "results {results}"
        );
    }

    #[test]
    fn thresholds_open_and_close() {
        use Transition::*;
        check("ooccooo", &[]); // a blip shorter than the threshold opens nothing
        check("occc", &[(3, Opened)]);
        check("occcco", &[(3, Opened)]); // one pass is not a recovery
        check("occccoo", &[(3, Opened), (6, Recovered)]);
        check("ocwc", &[(3, Opened)]); // warnings count as failing
        check("occcooccc", &[(3, Opened), (5, Recovered), (8, Opened)]);
    }

    #[test]
    fn flapping_is_announced_once_and_ends_as_an_outage() {
        use Transition::*;
        let rules = Rules {
            flap_window: Duration::from_secs(10 * 60),
            ..Rules::default()
        };
        // Six changes within ten minutes, then steady failure: an outage after 2 × 3 failures.
        let got = run(rules, "ocococococcccccccccccccc");
        assert_eq!(got, [(7, FlappingStarted), (14, FlappingBecameOutage)]);
        // ... which closes like any problem.
        let got = run(rules, "ocococococccccccoo");
        assert_eq!(
            got,
            [
                (7, FlappingStarted),
                (14, FlappingBecameOutage),
                (17, Recovered)
            ]
        );
    }

    #[test]
    fn flapping_ends_once_stable_for_the_quiet_time() {
        use Transition::*;
        let rules = Rules {
            flap_changes: 4,
            flap_quiet: Duration::from_secs(5 * 60),
            ..Rules::default()
        };
        // One result a minute: stable again five minutes after the last change.
        let got = run(rules, "ocococooooooo");
        assert_eq!(got, [(5, FlappingStarted), (11, FlappingEnded)]);
    }

    #[test]
    fn a_recovery_is_a_recovery_however_many_blips_came_before() {
        use Transition::*;
        // Two blips below the threshold, an outage, then recovery: the sixth change is the
        // recovery itself, which must close the problem, not start flapping.
        let got = run(Rules::default(), "occoccoccccoo");
        assert_eq!(got, [(9, Opened), (12, Recovered)]);
        // A later outage right after is unstable first, then an outage: never hidden.
        let got = run(Rules::default(), "occoccoccccooocccccc");
        assert_eq!(
            got,
            [
                (9, Opened),
                (12, Recovered),
                (14, FlappingStarted),
                (19, FlappingBecameOutage)
            ]
        );
    }

    #[test]
    fn late_results_are_ignored() {
        let rules = Rules::default();
        let t0 = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .to_utc();
        let mut track = Track::new(t0);
        track.observe(&rules, Status::Critical, t0 + chrono::Duration::seconds(30));
        assert_eq!(track.observe(&rules, Status::Critical, t0), None);
        assert_eq!(track.fails_in_row, 1);
    }
}
