//! The due times of a ticket: the SLA policy for its severity, the playbook's overrides on
//! top, and the customer's tier above both; the "next update by" promise one cadence on.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::model::*;
use super::sla;
use crate::config::Config;
use crate::store::tickets::NewTicket;

/// The SLA targets of a ticket: the policy for its severity, the playbook's overrides on top
/// (at the playbook's severity), and the customer's tier overrides above both (a tier's contract is the strongest promise).
pub(super) fn sla_targets(
    config: &Config,
    problem: &str,
    severity: Severity,
    tier: &str,
) -> sla::SlaTargets {
    let base = config.sla.targets(severity, "");
    let tiered = config.sla.targets(severity, tier);
    // A playbook's overrides are for its own severity: a ticket staff moved to another one is
    // held to that severity's policy.
    let over = config
        .playbooks
        .get(problem)
        .filter(|p| p.severity == severity)
        .map(|p| p.sla)
        .unwrap_or_default();
    let pick = |tier_v: Duration, base_v: Duration, play: Option<Duration>| {
        if tier_v != base_v {
            tier_v
        } else {
            play.unwrap_or(base_v)
        }
    };
    sla::SlaTargets {
        acknowledge: pick(tiered.acknowledge, base.acknowledge, over.acknowledge),
        first_update: pick(tiered.first_update, base.first_update, over.first_update),
        update_every: pick(tiered.update_every, base.update_every, over.update_every),
        resolve: pick(tiered.resolve, base.resolve, over.resolve),
    }
}

/// Due times for a ticket opened (or reopened) at `at`, on the severity's clock.
pub(super) fn due_times(
    config: &Config,
    problem: &str,
    severity: Severity,
    tier: &str,
    at: DateTime<Utc>,
) -> sla::Due {
    let t = sla_targets(config, problem, severity, tier);
    let clock = config.sla.clock(severity);
    let first_update = clock.add(at, t.first_update);
    sla::Due {
        acknowledge: clock.add(at, t.acknowledge),
        first_update,
        next_update: first_update,
        resolve: clock.add(at, t.resolve),
    }
}

/// The next "next update by" promise from `now`: one update cadence on the clock.
pub(super) fn next_checkpoint(
    config: &Config,
    t: &Ticket,
    tier: &str,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let every = sla_targets(config, &t.problem, t.severity, tier).update_every;
    config.sla.clock(t.severity).add(now, every)
}

/// A new ticket for `key` opened at `at`: the playbook's severity and skill group, the due
/// times for the customer's tier. The caller names its title, origin, checks and incident.
pub(super) fn opening(
    config: &Config,
    customer: &crate::config::Customer,
    playbook: &crate::playbook::Playbook,
    key: &str,
    at: DateTime<Utc>,
) -> NewTicket {
    let due = due_times(config, key, playbook.severity, &customer.tier, at);
    NewTicket {
        customer: customer.id.clone(),
        title: String::new(),
        problem: key.to_owned(),
        severity: playbook.severity,
        origin: Origin::Monitoring,
        checks: Vec::new(),
        incident: None,
        assignee: None,
        skill_group: playbook.skill_group.clone(),
        created_at: at,
        ack_due: Some(due.acknowledge),
        first_update_due: Some(due.first_update),
        resolve_due: Some(due.resolve),
        next_update_due: Some(due.next_update),
    }
}
