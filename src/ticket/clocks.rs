//! The clocks of open tickets: SLA warnings at 75 % and breaches (ops, once each), the
//! "next update by" promise kept by an automatic update (or, for a ticket nobody has taken, the
//! truth: queued, an engineer takes it by T, and ops escalated), and advance notices of
//! maintenance windows. The due times themselves come from `sla` (policy per severity and tier,
//! playbook overrides).

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::compose::*;
use super::model::*;
use super::service::{ServiceError, TicketService};
use super::sla;
use crate::config::Config;
use crate::notify::{Channel, NewMessage};
use crate::playbook::MessageKind;
use crate::store::StoreError;
use crate::store::tickets::{NewEvent, TicketFilter};

impl TicketService {
    /// SLA clocks: warnings at 75 %, breaches at 100 % (each once), and an automatic "still
    /// working on it" when the next-update promise is about to lapse with no staff update.
    pub async fn sla_tick(&self, now: DateTime<Utc>) -> Result<(), ServiceError> {
        let config = self.config();
        let open = self
            .store
            .tickets(&TicketFilter {
                open_only: true,
                customer: None,
                limit: None,
            })
            .await?;
        for t in open {
            if t.status == TicketStatus::WaitingOnCustomer {
                continue; // paused
            }
            let timeline = self.store.timeline(t.id).await?;
            let clock = config.sla.clock(t.severity);
            let tier = config
                .customer(&t.customer)
                .map(|c| c.tier.clone())
                .unwrap_or_default();
            let spans = sla_targets(&config, &t.problem, t.severity, &tier);
            let mut events = Vec::new();
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
                let span = spans.get(target);
                let (Some(due), true) = (due, running) else {
                    continue;
                };
                let already = |warn: bool| {
                    timeline.iter().any(|e| match &e.kind {
                        EventKind::SlaWarning { target: x, .. } if warn => *x == target,
                        EventKind::SlaBreach { target: x, .. } if !warn => *x == target,
                        _ => false,
                    })
                };
                match sla::check(clock, span, due, now) {
                    sla::SlaState::Breached if !already(false) => events.push(NewEvent {
                        at: now,
                        actor: Actor::System,
                        public: false,
                        kind: EventKind::SlaBreach { target, due },
                    }),
                    sla::SlaState::Warning if !already(true) => events.push(NewEvent {
                        at: now,
                        actor: Actor::System,
                        public: false,
                        kind: EventKind::SlaWarning { target, due },
                    }),
                    _ => {}
                }
            }
            let mut t = t;
            let expected = t.status;
            let mut messages: Vec<NewMessage> = events
                .iter()
                .flat_map(|e| match &e.kind {
                    // Keyed by target and due time: two runs that both see the same
                    // warning (say, on two instances) queue it once.
                    EventKind::SlaWarning { target, due } => ops_messages_keyed(
                        &config,
                        &t,
                        &format!("SLA warning: {} due {}", target.as_str(), fmt_time(*due)),
                        &format!("sla-warning-{}-{}", target.as_str(), due.timestamp_millis()),
                    ),
                    EventKind::SlaBreach { target, due } => ops_messages_keyed(
                        &config,
                        &t,
                        &format!("SLA breach: {} was due {}", target.as_str(), fmt_time(*due)),
                        &format!("sla-breach-{}-{}", target.as_str(), due.timestamp_millis()),
                    ),
                    _ => Vec::new(),
                })
                .collect();
            // Never silence: the promise is due (within one tick) and staff said nothing new.
            // The next promise is one cadence after this one, not after the tick that saw it.
            let lead = (spans.update_every / 4).min(SLA_TICK);
            let lead = chrono::Duration::from_std(lead).unwrap_or_default();
            if let Some(next) = t.next_update_due
                && now + lead >= next
            {
                let customer = self.customer(&config, &t.customer)?;
                let new_next = clock.add(next.max(now), spans.update_every);
                t.next_update_due = Some(new_next);
                let key = format!("auto-{}", next.timestamp());
                let worked = t.assignee.is_some()
                    || matches!(
                        t.status,
                        TicketStatus::Acknowledged | TicketStatus::InProgress
                    );
                if worked {
                    events.push(NewEvent {
                        at: now,
                        actor: Actor::System,
                        public: true,
                        kind: EventKind::AutomaticUpdate {
                            next_update: new_next,
                        },
                    });
                    messages.extend(self.message_for(
                        &config,
                        &customer,
                        &t,
                        MessageKind::AutomaticUpdate,
                        None,
                        &key,
                        now,
                    )?);
                } else {
                    // Nobody has taken it: "still working on it" would be untrue. Ops hear
                    // it is untouched; the customer hears it is queued and by when it is taken.
                    let text = queued_text(customer.language, t.ack_due.filter(|d| *d > now));
                    events.push(NewEvent {
                        at: now,
                        actor: Actor::System,
                        public: true,
                        kind: EventKind::PublicUpdate {
                            text: text.clone(),
                            next_update: Some(new_next),
                        },
                    });
                    messages.extend(self.message_for(
                        &config,
                        &customer,
                        &t,
                        MessageKind::Update,
                        Some(&text),
                        &key,
                        now,
                    )?);
                    messages.extend(ops_messages_keyed(
                        &config,
                        &t,
                        "untouched: nobody has taken this ticket and its update promise is due",
                        &format!("untouched-{}", next.timestamp()),
                    ));
                }
            }
            if !events.is_empty() {
                match self
                    .store
                    .save_ticket(&t, expected, events, messages, now)
                    .await
                {
                    Ok(()) => self.poke(),
                    Err(StoreError::Conflict { .. }) => {} // changed meanwhile; the next tick sees it
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }

    /// Advance notice of maintenance windows: once per occurrence (the idempotency key holds
    /// the start), to the customer's contacts, `notify_before` ahead of the start.
    pub async fn maintenance_notices(&self, now: DateTime<Utc>) -> Result<usize, ServiceError> {
        let config = self.config();
        let mut messages = Vec::new();
        for (i, m) in config.maintenance.iter().enumerate() {
            let Some(ahead) = m.notify_before else {
                continue;
            };
            let Some((start, end)) = m.next_occurrence(now) else {
                continue;
            };
            if start - chrono::Duration::from_std(ahead).unwrap_or_default() > now {
                continue;
            }
            let Some(customer) = config.customer(&m.customer) else {
                continue;
            };
            if customer.contacts.is_empty() {
                continue;
            }
            // Only this customer's checks are named.
            let affected: Vec<String> = config
                .checks
                .iter()
                .filter(|c| {
                    c.customer == m.customer
                        && ((m.checks.is_empty() && m.servers.is_empty())
                            || m.checks.contains(&c.id)
                            || c.server.as_ref().is_some_and(|s| m.servers.contains(s)))
                })
                .map(|c| c.name.clone())
                .collect();
            let (subject, body) =
                maintenance_text(customer, &affected, m.reason.as_deref(), start, end);
            let key = format!("maintenance/{}/{i}/{}", customer.id, start.timestamp());
            messages.push(NewMessage {
                message_id: message_id(&config, &key),
                key,
                ticket: None,
                channel: Channel::Email {
                    to: customer.contacts.clone(),
                },
                subject,
                body,
            });
        }
        let n = messages.len();
        if n > 0 {
            // Keys already queued are ignored by the store: each notice goes out once.
            self.store.enqueue(messages, now).await?;
            self.poke();
        }
        Ok(n)
    }
}

/// How often `sla_tick` runs (`server`): an automatic update goes out at most this early.
pub const SLA_TICK: Duration = Duration::from_secs(15);

/// The SLA targets of a ticket: the policy for its severity, the playbook's overrides on top,
/// and the customer's tier overrides above both (a tier's contract is the strongest promise).
pub(super) fn sla_targets(
    config: &Config,
    problem: &str,
    severity: Severity,
    tier: &str,
) -> sla::SlaTargets {
    let base = config.sla.targets(severity, "");
    let tiered = config.sla.targets(severity, tier);
    let over = config
        .playbooks
        .get(problem)
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
