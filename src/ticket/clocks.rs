//! The clocks of open tickets: SLA warnings at 75 % and breaches (ops, once each), escalation
//! to the next support line (`[[escalation]]`: on a warning, a breach, or unacknowledged), the
//! "next update by" promise kept by an automatic update (or, for a ticket nobody has taken, the
//! truth: queued, an engineer takes it by T, and ops escalated), and advance notices of
//! maintenance windows. The due times themselves come from `sla` (policy per severity and tier,
//! playbook overrides).

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::compose::*;
use super::due::sla_targets;
use super::model::*;
use super::service::{ServiceError, TicketService};
use super::sla;
use crate::config::escalation::EscalateOn;
use crate::notify::{Channel, MailExtras, NewMessage};
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
                ..Default::default()
            })
            .await?;
        for t in open {
            if t.status == TicketStatus::WaitingOnCustomer {
                continue; // paused
            }
            let timeline = self.store.timeline(t.id).await?;
            let recorded: Vec<(SlaTarget, bool)> = timeline
                .iter()
                .filter_map(|e| match &e.kind {
                    EventKind::SlaWarning { target, .. } => Some((*target, false)),
                    EventKind::SlaBreach { target, .. } => Some((*target, true)),
                    _ => None,
                })
                .collect();
            let clock = config.sla.clock(t.severity);
            let tier = config
                .customer(&t.customer)
                .map(|c| c.tier.clone())
                .unwrap_or_default();
            let spans = sla_targets(&config, &t.problem, t.severity, &tier);
            let owed = sla::owed(&t, &recorded, clock, &spans, now, SLA_TICK);
            let system = |public, kind| NewEvent {
                at: now,
                actor: Actor::System,
                public,
                kind,
            };
            let (warned, breached) = (!owed.warnings.is_empty(), !owed.breaches.is_empty());
            let mut events = Vec::new();
            let mut messages: Vec<NewMessage> = Vec::new();
            // Keyed by target and due time: two runs that both see the same warning (say, on
            // two instances) queue it once.
            for (target, due) in owed.warnings {
                events.push(system(false, EventKind::SlaWarning { target, due }));
                messages.extend(ops_messages_keyed(
                    &config,
                    &t,
                    &format!("SLA warning: {} due {}", target.as_str(), fmt_time(due)),
                    &format!("sla-warning-{}-{}", target.as_str(), due.timestamp_millis()),
                ));
            }
            for (target, due) in owed.breaches {
                events.push(system(false, EventKind::SlaBreach { target, due }));
                messages.extend(ops_messages_keyed(
                    &config,
                    &t,
                    &format!("SLA breach: {} was due {}", target.as_str(), fmt_time(due)),
                    &format!("sla-breach-{}-{}", target.as_str(), due.timestamp_millis()),
                ));
            }
            let mut t = t;
            let expected = t.status;
            // Support lines: the ticket moves to the next one (once: it leaves the rule's group).
            let unacknowledged_for = |d: Duration| {
                t.acknowledged_at.is_none()
                    && now - t.created_at >= chrono::Duration::from_std(d).unwrap_or_default()
            };
            let rule = config.escalation.iter().find(|r| {
                r.skill_group == t.skill_group
                    && match r.on {
                        EscalateOn::SlaWarning => warned,
                        EscalateOn::SlaBreach => breached,
                        EscalateOn::Unacknowledged(d) => unacknowledged_for(d),
                    }
            });
            if let Some(rule) = rule {
                let from = std::mem::replace(&mut t.skill_group, rule.to.clone());
                let why = format!("escalated from {from} to {}: {}", rule.to, rule.on);
                events.push(system(
                    false,
                    EventKind::SkillGroupChanged {
                        from: from.clone(),
                        to: rule.to.clone(),
                        reason: why.clone(),
                    },
                ));
                if let Some(event) = self.rotate_into(&config, &mut t, now).await? {
                    events.push(event);
                }
                messages.extend(ops_messages_keyed(
                    &config,
                    &t,
                    &why,
                    &format!("escalated-{from}-{}", rule.to),
                ));
                tracing::info!(ticket = %t.id, from = %from, to = %rule.to, on = %rule.on, "ticket escalated");
            }
            // Never silence: the promise is due and staff said nothing new.
            if let Some(promise) = owed.promise {
                let customer = self.customer(&config, &t.customer)?;
                t.next_update_due = Some(promise.next);
                let key = format!("auto-{}", promise.promised.timestamp());
                if promise.worked {
                    let kind = EventKind::AutomaticUpdate {
                        next_update: promise.next,
                    };
                    events.push(system(true, kind));
                    let auto = MessageKind::AutomaticUpdate;
                    messages
                        .extend(self.message_for(&config, &customer, &t, auto, None, &key, now)?);
                } else {
                    // Nobody has taken it: "still working on it" would be untrue. Ops hear
                    // it is untouched; the customer hears it is queued and by when it is taken.
                    let text = queued_text(&config, &customer, t.ack_due.filter(|d| *d > now));
                    let kind = EventKind::PublicUpdate {
                        text: text.clone(),
                        next_update: Some(promise.next),
                    };
                    events.push(system(true, kind));
                    let update = MessageKind::Update;
                    messages.extend(self.message_for(
                        &config,
                        &customer,
                        &t,
                        update,
                        Some(&text),
                        &key,
                        now,
                    )?);
                    messages.extend(ops_messages_keyed(
                        &config,
                        &t,
                        "untouched: nobody has taken this ticket and its update promise is due",
                        &format!("untouched-{}", promise.promised.timestamp()),
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
            let to = customer.emails();
            if to.is_empty() {
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
            let (subject, body) = maintenance_text(
                &config,
                customer,
                &affected,
                m.reason.as_deref(),
                start,
                end,
            );
            let key = format!("maintenance/{}/{i}/{}", customer.id, start.timestamp());
            messages.extend(crate::notify::customer_hook::message(
                &config,
                customer,
                crate::notify::customer_hook::Told {
                    kind: crate::notify::HookKind::Maintenance,
                    key: &key,
                    ticket: None,
                    subject: &subject,
                    text: &body,
                    link: None,
                    at: now,
                },
            ));
            messages.push(NewMessage {
                message_id: message_id(&config, &key),
                key,
                ticket: None,
                channel: Channel::Email { to },
                subject,
                body,
                extras: MailExtras {
                    language: Some(customer.language),
                    ..MailExtras::default()
                },
            });
        }
        // Notices told: the mails (a customer's webhook event goes with its mail).
        let n = messages
            .iter()
            .filter(|m| matches!(m.channel, Channel::Email { .. }))
            .count();
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
