//! Customer health: one score per customer from open tickets, SLA breaches, CSAT, reopen rate,
//! uptime and broken next-update promises. Pure, like the rest of `report`; docs/kpis.md
//! ("Customer health") defines the formula and the tests below check it on hand-built data.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Rate, ReportInput, Survey, SurveyRecord, kpis};
use crate::model::CustomerId;
use crate::ticket::model::{EventKind, Severity, Ticket, TimelineEvent};

/// What goes into the health table.
#[derive(Debug, Clone, Copy)]
pub struct HealthInput<'a> {
    /// Configured customers: id and display name. Customers with tickets but no longer
    /// configured are added with their id as the name.
    pub customers: &'a [(CustomerId, String)],
    /// Tickets with their timelines: every open ticket, and those created in the window.
    pub tickets: &'a [(Ticket, Vec<TimelineEvent>)],
    /// Check runs in the window per customer, from the hourly rollups.
    pub runs: &'a BTreeMap<CustomerId, Runs>,
    /// `None` until survey records are wired in: CSAT is then "n/a" and costs nothing.
    pub surveys: Option<&'a [SurveyRecord]>,
    pub since: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

/// Runs of a customer's checks and how many of them failed (warning, critical or unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Runs {
    pub runs: u64,
    pub failures: u64,
}

/// The facts the score is made of.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Facts {
    /// Open tickets now, by severity P1 … P4.
    pub open: [u64; 4],
    /// Breached SLA targets (acknowledge, first update, resolve) of tickets created in the window.
    pub sla_breaches: u64,
    pub csat: Survey<Rate>,
    pub reopen_rate: Rate,
    /// Passed runs / all runs of the customer's checks in the window; 0/0 without runs.
    pub uptime: Rate,
    /// `AutomaticUpdate` events in the window: a promised next update came due without a staff
    /// update, and forewarn had to send "still working on it" in its place.
    pub broken_promises: u64,
}

/// What each fact costs, in points off 100.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Penalties {
    pub open: f64,
    pub sla: f64,
    pub uptime: f64,
    pub csat: f64,
    pub reopen: f64,
    pub promises: f64,
}

impl Penalties {
    pub fn total(&self) -> f64 {
        self.open + self.sla + self.uptime + self.csat + self.reopen + self.promises
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    Healthy,
    AtRisk,
    Critical,
}

impl Band {
    pub fn of(score: u32) -> Band {
        match score {
            80.. => Band::Healthy,
            50..=79 => Band::AtRisk,
            _ => Band::Critical,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Band::Healthy => "healthy",
            Band::AtRisk => "at risk",
            Band::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerHealth {
    pub customer: CustomerId,
    pub name: String,
    pub facts: Facts,
    pub penalties: Penalties,
    /// 0 (worst) … 100 (nothing wrong).
    pub score: u32,
    pub band: Band,
}

/// Points an open ticket costs, by severity.
pub const OPEN_WEIGHT: [f64; 4] = [15.0, 10.0, 5.0, 2.0];

/// The documented formula: 100 minus capped penalties, rounded, never below 0.
pub fn penalties(f: &Facts) -> Penalties {
    let open: f64 = f
        .open
        .iter()
        .zip(OPEN_WEIGHT)
        .map(|(n, w)| *n as f64 * w)
        .sum();
    Penalties {
        open: open.min(30.0),
        sla: (5.0 * f.sla_breaches as f64).min(25.0),
        uptime: f
            .uptime
            .percent()
            .map_or(0.0, |p| (5.0 * (100.0 - p)).min(25.0)),
        csat: match &f.csat {
            Survey::Available(r) => r.percent().map_or(0.0, |p| 0.2 * (100.0 - p)),
            Survey::NoSurveyData => 0.0,
        },
        reopen: f.reopen_rate.percent().map_or(0.0, |p| (0.2 * p).min(10.0)),
        promises: (5.0 * f.broken_promises as f64).min(15.0),
    }
}

pub fn score(p: &Penalties) -> u32 {
    (100.0 - p.total()).round().clamp(0.0, 100.0) as u32
}

/// The health of every customer, worst first (lowest score; then most open tickets; then id).
pub fn customer_health(input: &HealthInput<'_>) -> Vec<CustomerHealth> {
    let mut names: BTreeMap<&CustomerId, &str> = input
        .customers
        .iter()
        .map(|(id, name)| (id, name.as_str()))
        .collect();
    for (t, _) in input.tickets {
        names.entry(&t.customer).or_insert(t.customer.as_str());
    }
    let attributes = super::Attributes::default();
    let report_input = ReportInput {
        tickets: input.tickets,
        now: input.now,
        since: Some(input.since),
        attributes: &attributes,
        surveys: input.surveys,
    };
    let in_window = |at: DateTime<Utc>| at >= input.since && at <= input.now;
    // Each customer's tickets, grouped once (not a scan of every ticket per customer).
    let index = super::Index::new(&report_input);
    let mut by_customer: std::collections::HashMap<
        &CustomerId,
        Vec<&(Ticket, Vec<TimelineEvent>)>,
    > = std::collections::HashMap::new();
    for e in input.tickets {
        by_customer.entry(&e.0.customer).or_default().push(e);
    }
    let mut out: Vec<CustomerHealth> = names
        .into_iter()
        .map(|(id, name)| {
            let mine: Vec<&(Ticket, Vec<TimelineEvent>)> =
                by_customer.get(id).cloned().unwrap_or_default();
            let mut open = [0u64; 4];
            for (t, _) in &mine {
                if t.status.is_open() {
                    open[severity_index(t.severity)] += 1;
                }
            }
            let cohort: Vec<&(Ticket, Vec<TimelineEvent>)> = mine
                .iter()
                .copied()
                .filter(|(t, _)| in_window(t.created_at))
                .collect();
            let k = kpis(&cohort, &report_input, &index);
            let broken_promises = mine
                .iter()
                .flat_map(|(_, events)| events)
                .filter(|e| matches!(e.kind, EventKind::AutomaticUpdate { .. }) && in_window(e.at))
                .count() as u64;
            let runs = input.runs.get(id).copied().unwrap_or_default();
            let facts = Facts {
                open,
                sla_breaches: k.sla.overall.breached,
                csat: k.csat,
                reopen_rate: k.reopen_rate,
                uptime: Rate {
                    numerator: runs.runs.saturating_sub(runs.failures),
                    denominator: runs.runs,
                },
                broken_promises,
            };
            let penalties = penalties(&facts);
            let score = score(&penalties);
            CustomerHealth {
                customer: id.clone(),
                name: name.to_owned(),
                facts,
                penalties,
                score,
                band: Band::of(score),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        a.score
            .cmp(&b.score)
            .then(
                b.facts
                    .open
                    .iter()
                    .sum::<u64>()
                    .cmp(&a.facts.open.iter().sum()),
            )
            .then(a.customer.cmp(&b.customer))
    });
    out
}

fn severity_index(s: Severity) -> usize {
    match s {
        Severity::P1 => 0,
        Severity::P2 => 1,
        Severity::P3 => 2,
        Severity::P4 => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts {
            open: [0; 4],
            sla_breaches: 0,
            csat: Survey::NoSurveyData,
            reopen_rate: Rate::default(),
            uptime: Rate::default(),
            broken_promises: 0,
        }
    }

    fn check(f: Facts, expected: u32) {
        let got = score(&penalties(&f));
        assert_eq!(got, expected, "{f:?} → {:?}", penalties(&f));
    }

    #[test]
    fn the_formula_on_single_facts() {
        check(facts(), 100);
        // One P1 open: 15; two P1 and a P2: 40 capped at 30.
        check(
            Facts {
                open: [1, 0, 0, 0],
                ..facts()
            },
            85,
        );
        check(
            Facts {
                open: [2, 1, 0, 0],
                ..facts()
            },
            70,
        );
        check(
            Facts {
                open: [0, 0, 1, 2],
                ..facts()
            },
            91,
        );
        // 3 breaches: 15; 9: capped at 25.
        check(
            Facts {
                sla_breaches: 3,
                ..facts()
            },
            85,
        );
        check(
            Facts {
                sla_breaches: 9,
                ..facts()
            },
            75,
        );
        // 99 % uptime costs 5; 90 % is capped at 25; no runs cost nothing.
        let up = |n, d| Rate {
            numerator: n,
            denominator: d,
        };
        check(
            Facts {
                uptime: up(990, 1000),
                ..facts()
            },
            95,
        );
        check(
            Facts {
                uptime: up(900, 1000),
                ..facts()
            },
            75,
        );
        // CSAT 75 % (3 of 4 positive) costs 5; n/a costs nothing.
        check(
            Facts {
                csat: Survey::Available(up(3, 4)),
                ..facts()
            },
            95,
        );
        check(
            Facts {
                csat: Survey::Available(up(0, 0)),
                ..facts()
            },
            100,
        );
        // Reopen rate 25 % costs 5; 100 % is capped at 10.
        check(
            Facts {
                reopen_rate: up(1, 4),
                ..facts()
            },
            95,
        );
        check(
            Facts {
                reopen_rate: up(2, 2),
                ..facts()
            },
            90,
        );
        // Two broken promises: 10; five: capped at 15.
        check(
            Facts {
                broken_promises: 2,
                ..facts()
            },
            90,
        );
        check(
            Facts {
                broken_promises: 5,
                ..facts()
            },
            85,
        );
    }

    #[test]
    fn everything_wrong_at_once_is_zero_not_negative() {
        let f = Facts {
            open: [3, 0, 0, 0],
            sla_breaches: 10,
            csat: Survey::Available(Rate {
                numerator: 0,
                denominator: 3,
            }),
            reopen_rate: Rate {
                numerator: 1,
                denominator: 1,
            },
            uptime: Rate {
                numerator: 0,
                denominator: 10,
            },
            broken_promises: 4,
        };
        let p = penalties(&f);
        assert_eq!(p.total(), 30.0 + 25.0 + 25.0 + 20.0 + 10.0 + 15.0);
        assert_eq!(score(&p), 0);
        assert_eq!(Band::of(0), Band::Critical);
        assert_eq!(Band::of(50), Band::AtRisk);
        assert_eq!(Band::of(80), Band::Healthy);
    }
}
