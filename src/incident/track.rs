//! Per-check state machine: N failures in a row open, M successes in a row close, and a check
//! that keeps changing state is *flapping* — a state of its own that is announced once and
//! left only after a quiet window. Pure: no I/O, no clock but the results' own times.

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
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            open_after: 3,
            close_after: 2,
            flap_changes: 6,
            flap_window: Duration::from_secs(30 * 60),
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
    /// Changing state too often to call; announced once.
    Flapping,
}

/// What an observation changed, for the detector to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// `open_after` failures in a row: a problem opens (the detector confirms it first).
    Opened,
    /// `close_after` passes in a row after a problem: it is over.
    Recovered,
    /// Started flapping (from healthy or from a problem).
    FlappingStarted,
    /// Quiet for a whole window: back to normal, in the state the last results show.
    FlappingEnded { failing: bool },
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
        match self.phase {
            Phase::Flapping => {
                // Leave only after a whole window with no change.
                if self.changes.is_empty() {
                    self.set(Phase::Healthy, at);
                    if failing && self.fails_in_row >= rules.open_after {
                        self.phase = Phase::Problem;
                    }
                    return Some(Transition::FlappingEnded {
                        failing: self.phase == Phase::Problem,
                    });
                }
                None
            }
            _ if flapping_now => {
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
    fn flapping_is_announced_once_and_ends_after_a_quiet_window() {
        use Transition::*;
        let rules = Rules {
            flap_window: Duration::from_secs(10 * 60),
            ..Rules::default()
        };
        // Six changes within ten minutes, then steady failure for ten more minutes.
        let got = run(rules, "ocococococcccccccccccccc");
        assert_eq!(got[0], (6, FlappingStarted), "{got:?}");
        assert_eq!(got.len(), 2, "flapping notifies once: {got:?}");
        assert!(
            matches!(got[1].1, FlappingEnded { failing: true }),
            "{got:?}"
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
