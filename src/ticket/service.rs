//! The ticket service: every change to a ticket goes through here, and each change commits with
//! its timeline events and the messages it causes (the transactional outbox).
//!
//! Rules it keeps:
//! - a customer has at most one open ticket per incident: more failing checks of the same
//!   cause join it instead of opening another;
//! - the same check failing again within `reopen_within` (7 days) of a resolution reopens that
//!   ticket rather than opening a new one (counted for the reopen rate, R11);
//! - every customer-visible change tells the customer the state, what is being done and the
//!   next checkpoint (R12); internal notes send nothing;
//! - a staff resolution carries cause, action, fully solved and prevention (R13).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::model::*;
use super::sla;
use crate::config::{Config, Customer};
use crate::incident::Problem;
use crate::model::{CheckId, CustomerId};
use crate::notify::{Channel, NewMessage};
use crate::playbook::{MessageContext, MessageKind, Playbook, ResolutionContext};
use crate::store::tickets::{NewEvent, NewTicket, TicketFilter};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("ticket {0} does not exist")]
    NotFound(TicketId),
    #[error("ticket {id} is {status}: {what}")]
    BadState {
        id: TicketId,
        status: TicketStatus,
        what: &'static str,
    },
    #[error("{0}")]
    Invalid(String),
    #[error(
        "ticket {id}: {} still failing; the customer would be told it works again. Wait until monitoring sees it pass (the ticket then resolves itself), or resolve anyway with a reason",
        .failing.join(", ")
    )]
    ChecksStillFail { id: TicketId, failing: Vec<String> },
    #[error("no playbook {0:?} in the playbooks directory")]
    NoPlaybook(String),
    #[error("message template failed: {0}")]
    Template(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Wakes the delivery worker after messages are queued, so the first mail leaves at once.
pub trait Wake: Send + Sync {
    fn wake(&self);
}

impl Wake for crate::notify::worker::WorkerHandle {
    fn wake(&self) {
        crate::notify::worker::WorkerHandle::wake(self);
    }
}

pub struct TicketService {
    pub(super) store: Arc<dyn Store>,
    config: Arc<RwLock<Arc<Config>>>,
    wake: Option<Arc<dyn Wake>>,
}

/// What a staff resolution must say.
#[derive(Debug, Clone)]
pub struct StaffResolution {
    pub resolution: Resolution,
}

/// Why a ticket reopens, which decides what the customer and ops are told.
pub enum Reopen<'a> {
    /// Monitoring saw the same problem again: the reopened mail with its evidence; ops know
    /// through the incident.
    ProblemBack(&'a Problem),
    /// A staff resolution the checks never confirmed: the reopened mail says so; ops alerted.
    StillFailing,
    /// The customer wrote on a resolved or closed ticket: their message on the timeline, an
    /// acknowledgement to them, an ops alert.
    CustomerReplied { event: NewEvent },
    /// Staff reopened it.
    Staff,
}

impl TicketService {
    pub fn new(
        store: Arc<dyn Store>,
        config: Arc<RwLock<Arc<Config>>>,
        wake: Option<Arc<dyn Wake>>,
    ) -> Self {
        TicketService {
            store,
            config,
            wake,
        }
    }

    pub(super) fn config(&self) -> Arc<Config> {
        self.config.read().expect("not poisoned").clone()
    }

    pub(super) fn poke(&self) {
        if let Some(w) = &self.wake {
            w.wake();
        }
    }

    pub async fn get(&self, id: TicketId) -> Result<(Ticket, Vec<TimelineEvent>), ServiceError> {
        let t = self
            .store
            .ticket(id)
            .await?
            .ok_or(ServiceError::NotFound(id))?;
        let events = self.store.timeline(id).await?;
        Ok((t, events))
    }

    pub async fn list(&self, filter: &TicketFilter) -> Result<Vec<Ticket>, ServiceError> {
        Ok(self.store.tickets(filter).await?)
    }

    pub async fn acknowledge(
        &self,
        id: TicketId,
        actor: Actor,
        at: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let t = self.load(id).await?;
        if !matches!(t.status, TicketStatus::New | TicketStatus::Reopened) {
            return Err(ServiceError::BadState {
                id,
                status: t.status,
                what: "only a new or reopened ticket can be acknowledged",
            });
        }
        self.transition(
            t,
            actor,
            TicketStatus::Acknowledged,
            at,
            vec![EventKind::Acknowledged],
            None,
        )
        .await
    }

    /// A public update (the customer is told, with the next checkpoint) or an internal note.
    pub async fn update(
        &self,
        id: TicketId,
        actor: Actor,
        text: &str,
        next_update: Option<Duration>,
        internal: bool,
        at: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        if text.trim().is_empty() {
            return Err(ServiceError::Invalid("an update needs a message".into()));
        }
        let mut t = self.load(id).await?;
        must_be_open(&t)?;
        let expected = t.status;
        if internal {
            let ev = NewEvent {
                at,
                actor,
                public: false,
                kind: EventKind::InternalNote {
                    text: text.to_owned(),
                },
            };
            self.store
                .save_ticket(&t, expected, vec![ev], vec![], at)
                .await?;
            return Ok(());
        }
        let config = self.config();
        let customer = self.customer(&config, &t.customer)?;
        let next = match next_update {
            Some(d) => at + chrono::Duration::from_std(d).unwrap_or_default(),
            None => next_checkpoint(&config, &t, &customer.tier, at),
        };
        let mut events = Vec::new();
        if t.status == TicketStatus::WaitingOnCustomer {
            // A public update means staff are at it again: the clocks run again.
            events.push(self.resume(&config, &mut t, actor.clone(), at)?);
        }
        if t.first_update_at.is_none() {
            t.first_update_at = Some(at);
        }
        if matches!(
            t.status,
            TicketStatus::New | TicketStatus::Reopened | TicketStatus::Acknowledged
        ) {
            if t.acknowledged_at.is_none() {
                t.acknowledged_at = Some(at);
            }
            events.push(NewEvent {
                at,
                actor: actor.clone(),
                public: false,
                kind: EventKind::WorkStarted,
            });
            events.push(NewEvent {
                at,
                actor: actor.clone(),
                public: true,
                kind: EventKind::StatusChanged {
                    from: t.status,
                    to: TicketStatus::InProgress,
                },
            });
            t.status = TicketStatus::InProgress;
        }
        t.next_update_due = Some(next);
        events.push(NewEvent {
            at,
            actor,
            public: true,
            kind: EventKind::PublicUpdate {
                text: text.to_owned(),
                next_update: Some(next),
            },
        });
        let n = format!("v{}", t.version);
        let messages = self.message_for(
            &config,
            &customer,
            &t,
            MessageKind::Update,
            Some(text),
            &format!("update-{n}"),
            at,
        )?;
        self.store
            .save_ticket(&t, expected, events, messages, at)
            .await?;
        self.poke();
        Ok(())
    }

    /// A staff resolution: cause, action, fully solved and prevention are required.
    pub async fn resolve(
        &self,
        id: TicketId,
        actor: Actor,
        resolution: Resolution,
        at: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        for (field, value) in [
            ("cause", &resolution.cause),
            ("action", &resolution.action),
            ("prevention", &resolution.prevention),
        ] {
            if value.trim().is_empty() {
                return Err(ServiceError::Invalid(format!(
                    "a resolution needs its {field}: what caused it, what was done, and how to avoid it"
                )));
            }
        }
        let t = self.load(id).await?;
        if !t.status.is_open() {
            return Err(ServiceError::BadState {
                id,
                status: t.status,
                what: "already resolved or closed",
            });
        }
        let anyway = resolution
            .resolved_while_failing
            .as_deref()
            .is_some_and(|r| !r.trim().is_empty());
        if !anyway {
            let failing = self.failing_checks(&t).await?;
            if !failing.is_empty() {
                return Err(ServiceError::ChecksStillFail { id, failing });
            }
        }
        let r = resolution.clone();
        self.transition(
            t,
            actor,
            TicketStatus::Resolved,
            at,
            vec![EventKind::Resolved { resolution }],
            Some((MessageKind::Resolved, Some(r))),
        )
        .await
    }

    /// The ticket's checks whose latest result fails, by name.
    async fn failing_checks(&self, t: &Ticket) -> Result<Vec<String>, ServiceError> {
        let config = self.config();
        let mut failing = Vec::new();
        for id in &t.checks {
            if let Some(state) = self.store.state(id).await?
                && !state.status.is_ok()
            {
                let name = config
                    .check(id.as_str())
                    .map_or(id.to_string(), |c| c.name.clone());
                failing.push(name);
            }
        }
        Ok(failing)
    }

    pub async fn reopen(
        &self,
        id: TicketId,
        actor: Actor,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let t = self.load(id).await?;
        if t.status.is_open() {
            return Err(ServiceError::BadState {
                id,
                status: t.status,
                what: "it is still open",
            });
        }
        self.reopen_with(t, actor, reason, Reopen::Staff, at).await
    }

    pub async fn close(
        &self,
        id: TicketId,
        actor: Actor,
        at: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let t = self.load(id).await?;
        if t.status == TicketStatus::Closed {
            return Err(ServiceError::BadState {
                id,
                status: t.status,
                what: "already closed",
            });
        }
        self.transition(
            t,
            actor,
            TicketStatus::Closed,
            at,
            vec![EventKind::Closed],
            None,
        )
        .await
    }

    /// Gives an open ticket to a staff user (`None`: unassigned). The new assignee must be an
    /// enabled user; the change is an internal `Assigned` event and tells the customer nothing.
    pub async fn assign(
        &self,
        id: TicketId,
        actor: Actor,
        assignee: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        if let Some(name) = assignee {
            match self.store.user(name).await? {
                Some(u) if !u.disabled => {}
                Some(_) => {
                    return Err(ServiceError::Invalid(format!(
                        "user {name:?} is disabled; pick another assignee"
                    )));
                }
                None => {
                    return Err(ServiceError::Invalid(format!(
                        "no user {name:?}; pick one from `forewarn user list`"
                    )));
                }
            }
        }
        let mut t = self.load(id).await?;
        must_be_open(&t)?;
        if t.assignee.as_deref() == assignee {
            return Err(ServiceError::Invalid(match assignee {
                Some(name) => format!("ticket {id} is already assigned to {name}"),
                None => format!("ticket {id} is not assigned to anyone"),
            }));
        }
        let event = NewEvent {
            at,
            actor,
            public: false,
            kind: EventKind::Assigned {
                from: t.assignee.take(),
                to: assignee.map(str::to_owned),
            },
        };
        t.assignee = assignee.map(str::to_owned);
        let expected = t.status;
        self.store
            .save_ticket(&t, expected, vec![event], vec![], at)
            .await?;
        Ok(())
    }

    /// Waiting on the customer: the SLA clocks pause until the customer answers.
    pub async fn wait_on_customer(
        &self,
        id: TicketId,
        actor: Actor,
        question: &str,
        at: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let mut t = self.load(id).await?;
        if !t.status.is_open() || t.status == TicketStatus::WaitingOnCustomer {
            return Err(ServiceError::BadState {
                id,
                status: t.status,
                what: "cannot wait on the customer now",
            });
        }
        t.paused_since = Some(at);
        // Asking the customer is staff at work: it acknowledges and counts as an update.
        t.acknowledged_at.get_or_insert(at);
        t.first_update_at.get_or_insert(at);
        let config = self.config();
        let customer = self.customer(&config, &t.customer)?;
        let expected = t.status;
        let events = vec![
            NewEvent {
                at,
                actor: actor.clone(),
                public: true,
                kind: EventKind::StatusChanged {
                    from: t.status,
                    to: TicketStatus::WaitingOnCustomer,
                },
            },
            NewEvent {
                at,
                actor,
                public: true,
                kind: EventKind::PublicUpdate {
                    text: question.to_owned(),
                    next_update: None,
                },
            },
        ];
        t.status = TicketStatus::WaitingOnCustomer;
        t.next_update_due = None;
        let n = format!("v{}", t.version);
        let messages = self.message_for(
            &config,
            &customer,
            &t,
            MessageKind::Update,
            Some(question),
            &format!("update-{n}"),
            at,
        )?;
        self.store
            .save_ticket(&t, expected, events, messages, at)
            .await?;
        self.poke();
        Ok(())
    }

    /// The customer answered: clocks resume, shifted by the paused time.
    pub async fn customer_replied(
        &self,
        id: TicketId,
        who: &str,
        text: &str,
        at: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let mut t = self.load(id).await?;
        let expected = t.status;
        let reply = NewEvent {
            at,
            actor: Actor::Customer(who.to_owned()),
            public: true,
            kind: EventKind::PublicUpdate {
                text: text.to_owned(),
                next_update: None,
            },
        };
        if !t.status.is_open() {
            // A reply on a resolved or closed ticket puts it back in the queue.
            let reason = "the customer replied after the resolution";
            let actor = Actor::Customer(who.to_owned());
            let why = Reopen::CustomerReplied { event: reply };
            return self.reopen_with(t, actor, reason, why, at).await;
        }
        let mut events = vec![reply];
        if t.status == TicketStatus::WaitingOnCustomer {
            let config = self.config();
            events.push(self.resume(&config, &mut t, Actor::System, at)?);
        }
        self.store
            .save_ticket(&t, expected, events, vec![], at)
            .await?;
        Ok(())
    }

    /// Ends "waiting on the customer": the paused clocks resume, shifted by the paused time,
    /// a new checkpoint is set and the ticket is in progress again. Returns the status event.
    fn resume(
        &self,
        config: &Config,
        t: &mut Ticket,
        actor: Actor,
        at: DateTime<Utc>,
    ) -> Result<NewEvent, ServiceError> {
        let clock = config.sla.clock(t.severity);
        if let Some(paused) = t.paused_since.take() {
            // Only clocks still running move; a target already met stays where it was.
            let running = [
                (&mut t.ack_due, t.acknowledged_at.is_none()),
                (&mut t.first_update_due, t.first_update_at.is_none()),
                (&mut t.resolve_due, true),
            ];
            for (due, running) in running {
                if let (Some(d), true) = (due.as_mut(), running) {
                    *d = sla::shift_for_pause(clock, *d, paused, at);
                }
            }
        }
        let customer = self.customer(config, &t.customer)?;
        t.next_update_due = Some(next_checkpoint(config, t, &customer.tier, at));
        let event = NewEvent {
            at,
            actor,
            public: true,
            kind: EventKind::StatusChanged {
                from: t.status,
                to: TicketStatus::InProgress,
            },
        };
        t.status = TicketStatus::InProgress;
        Ok(event)
    }

    /// The customer asked (from their ticket page) to close the ticket: logged (R2); a
    /// resolved ticket is closed with it, an open one stays for staff to decide.
    pub async fn customer_asked_to_close(
        &self,
        id: TicketId,
        who: &str,
        at: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let mut t = self.load(id).await?;
        let expected = t.status;
        let mut events = vec![NewEvent {
            at,
            actor: Actor::Customer(who.to_owned()),
            public: true,
            kind: EventKind::CustomerAskedToClose,
        }];
        if t.status == TicketStatus::Resolved {
            events.push(NewEvent {
                at,
                actor: Actor::Customer(who.to_owned()),
                public: true,
                kind: EventKind::Closed,
            });
            t.status = TicketStatus::Closed;
            t.closed_at = Some(at);
        }
        self.store
            .save_ticket(&t, expected, events, vec![], at)
            .await?;
        Ok(())
    }

    /// A problem the customer reported from their checks page: a customer-originated ticket
    /// (`customer_request` playbook) with the automatic acknowledgement (R7) and an ops alert.
    pub async fn customer_request(
        &self,
        customer: &CustomerId,
        title: &str,
        text: &str,
        checks: Vec<CheckId>,
        at: DateTime<Utc>,
    ) -> Result<TicketId, ServiceError> {
        const KEY: &str = "customer_request";
        let config = self.config();
        let customer = self.customer(&config, customer)?;
        let playbook = self.playbook(&config, KEY)?;
        let due = due_times(&config, KEY, playbook.severity, &customer.tier, at);
        let new = NewTicket {
            customer: customer.id.clone(),
            title: title.to_owned(),
            problem: KEY.to_owned(),
            severity: playbook.severity,
            origin: Origin::Customer,
            checks,
            incident: None,
            assignee: None,
            skill_group: playbook.skill_group.clone(),
            created_at: at,
            ack_due: Some(due.acknowledge),
            first_update_due: Some(due.first_update),
            resolve_due: Some(due.resolve),
            next_update_due: Some(due.next_update),
        };
        let text = text.to_owned();
        let ticket = self
            .store
            .create_ticket(
                new,
                Box::new(move |t: &Ticket| {
                    let by = Actor::Customer(customer.name.clone());
                    let mut events = vec![
                        NewEvent {
                            at,
                            actor: by.clone(),
                            public: true,
                            kind: EventKind::Created,
                        },
                        NewEvent {
                            at,
                            actor: by,
                            public: true,
                            kind: EventKind::PublicUpdate {
                                text,
                                next_update: None,
                            },
                        },
                    ];
                    let site = site_names(&config, t);
                    let target = targets(&config, t);
                    let ctx = context(&config, &customer, t, &site, &target, &[], at);
                    let mut messages = Vec::new();
                    let opened = MessageKind::Opened;
                    let first =
                        customer_message(&config, &playbook, opened, &customer, t, &ctx, "opened");
                    acknowledge_first(first, at, &mut events, &mut messages);
                    messages.extend(ops_messages(&config, t, "opened by the customer"));
                    (events, messages)
                }),
            )
            .await?;
        tracing::info!(ticket = %ticket.id, customer = %ticket.customer, "customer request opened");
        self.poke();
        Ok(ticket.id)
    }

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

    pub(super) async fn load(&self, id: TicketId) -> Result<Ticket, ServiceError> {
        self.store
            .ticket(id)
            .await?
            .ok_or(ServiceError::NotFound(id))
    }

    pub(super) fn customer(
        &self,
        config: &Config,
        id: &CustomerId,
    ) -> Result<Customer, ServiceError> {
        config
            .customer(id)
            .cloned()
            .ok_or_else(|| ServiceError::Invalid(format!("customer {id} is no longer configured")))
    }

    pub(super) async fn reopen_with(
        &self,
        mut t: Ticket,
        actor: Actor,
        reason: &str,
        why: Reopen<'_>,
        at: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let config = self.config();
        let customer = self.customer(&config, &t.customer)?;
        let expected = t.status;
        let due = due_times(&config, &t.problem, t.severity, &customer.tier, at);
        let mut events = match &why {
            Reopen::CustomerReplied { event } => vec![event.clone()],
            _ => Vec::new(),
        };
        events.extend([
            NewEvent {
                at,
                actor: actor.clone(),
                public: true,
                kind: EventKind::Reopened {
                    reason: reason.to_owned(),
                },
            },
            NewEvent {
                at,
                actor,
                public: true,
                kind: EventKind::StatusChanged {
                    from: t.status,
                    to: TicketStatus::Reopened,
                },
            },
        ]);
        t.status = TicketStatus::Reopened;
        t.reopen_count += 1;
        t.resolved_at = None;
        t.closed_at = None;
        t.acknowledged_at = None;
        t.ack_due = Some(due.acknowledge);
        t.resolve_due = Some(due.resolve);
        t.next_update_due = Some(due.next_update);
        let key = format!("reopened-{}", t.reopen_count);
        let mut messages = match &why {
            Reopen::CustomerReplied { .. } => {
                let text = match customer.language {
                    crate::config::Language::En => {
                        "We have received your message and reopened the ticket: an engineer \
                         will look at it."
                    }
                    crate::config::Language::Ru => {
                        "Мы получили ваше сообщение и снова открыли заявку: инженер \
                         займётся ею."
                    }
                };
                self.message_for(
                    &config,
                    &customer,
                    &t,
                    MessageKind::Update,
                    Some(text),
                    &key,
                    at,
                )?
            }
            _ => {
                let evidence = match &why {
                    Reopen::ProblemBack(p) => p.evidence.clone(),
                    Reopen::StillFailing => vec![match customer.language {
                        crate::config::Language::En => {
                            "our monitoring still sees the problem after we marked it solved"
                                .to_owned()
                        }
                        crate::config::Language::Ru => {
                            "мониторинг всё ещё видит проблему после того, как мы отметили её \
                             решённой"
                                .to_owned()
                        }
                    }],
                    _ => Vec::new(),
                };
                let playbook = self.playbook(&config, &t.problem)?;
                let site = site_names(&config, &t);
                let target = targets(&config, &t);
                let mut ctx = context(&config, &customer, &t, &site, &target, &evidence, at);
                ctx.detected_at = fmt_time(at);
                customer_message(
                    &config,
                    &playbook,
                    MessageKind::Reopened,
                    &customer,
                    &t,
                    &ctx,
                    &key,
                )
                .map_err(ServiceError::Template)?
                .into_iter()
                .collect()
            }
        };
        // A problem back on its own is ops' news through its incident's alert.
        if !matches!(why, Reopen::ProblemBack(_)) || t.incident.is_none() {
            messages.extend(ops_messages(&config, &t, &format!("reopened: {reason}")));
        }
        self.store
            .save_ticket(&t, expected, events, messages, at)
            .await?;
        self.poke();
        Ok(())
    }

    /// A status change with its events and, when `tell` says so, the customer message.
    pub(super) async fn transition(
        &self,
        mut t: Ticket,
        actor: Actor,
        to: TicketStatus,
        at: DateTime<Utc>,
        kinds: Vec<EventKind>,
        tell: Option<(MessageKind, Option<Resolution>)>,
    ) -> Result<(), ServiceError> {
        let config = self.config();
        let customer = self.customer(&config, &t.customer)?;
        let expected = t.status;
        let mut events: Vec<NewEvent> = kinds
            .into_iter()
            .map(|kind| NewEvent {
                at,
                actor: actor.clone(),
                public: !matches!(kind, EventKind::Acknowledged),
                kind,
            })
            .collect();
        // Acknowledging and closing are staff bookkeeping: the customer already had the
        // automatic acknowledgement and the resolution, so these send nothing and stay
        // internal. Every status change the customer sees comes with a message.
        events.push(NewEvent {
            at,
            actor,
            public: tell.is_some(),
            kind: EventKind::StatusChanged { from: t.status, to },
        });
        match to {
            TicketStatus::Acknowledged => t.acknowledged_at = Some(at),
            TicketStatus::Resolved => {
                t.resolved_at = Some(at);
                t.next_update_due = None;
            }
            TicketStatus::Closed => {
                t.closed_at = Some(at);
                t.next_update_due = None;
            }
            _ => {}
        }
        if t.acknowledged_at.is_none() && to != TicketStatus::New {
            t.acknowledged_at = Some(at);
        }
        t.status = to;
        let messages = match tell {
            Some((kind, resolution)) => {
                let playbook = self.playbook(&config, &t.problem)?;
                let mut ctx = context(
                    &config,
                    &customer,
                    &t,
                    &site_names(&config, &t),
                    &targets(&config, &t),
                    &[],
                    at,
                );
                ctx.duration = crate::playbook::human_duration(
                    round_minutes(at - t.created_at),
                    customer.language,
                );
                ctx.resolution = resolution.map(|r| ResolutionContext::from(&r));
                customer_message(
                    &config,
                    &playbook,
                    kind,
                    &customer,
                    &t,
                    &ctx,
                    &format!("{}-{}", to.as_str(), t.reopen_count),
                )
                .map_err(ServiceError::Template)?
                .into_iter()
                .collect()
            }
            None => Vec::new(),
        };
        self.store
            .save_ticket(&t, expected, events, messages, at)
            .await?;
        self.poke();
        Ok(())
    }

    pub(super) fn playbook(&self, config: &Config, key: &str) -> Result<Playbook, ServiceError> {
        config
            .playbooks
            .get(key)
            .cloned()
            .ok_or_else(|| ServiceError::NoPlaybook(key.to_owned()))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn message_for(
        &self,
        config: &Config,
        customer: &Customer,
        t: &Ticket,
        kind: MessageKind,
        text: Option<&str>,
        key: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<NewMessage>, ServiceError> {
        let playbook = self.playbook(config, &t.problem)?;
        let mut ctx = context(
            config,
            customer,
            t,
            &site_names(config, t),
            &targets(config, t),
            &[],
            at,
        );
        ctx.update = text.unwrap_or_default().to_owned();
        Ok(
            customer_message(config, &playbook, kind, customer, t, &ctx, key)
                .map_err(ServiceError::Template)?
                .into_iter()
                .collect(),
        )
    }
}

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

/// How often `sla_tick` runs (`server`): an automatic update goes out at most this early.
pub const SLA_TICK: Duration = Duration::from_secs(15);

/// The truth about a ticket nobody has taken yet, in the customer's language.
fn queued_text(language: crate::config::Language, taken_by: Option<DateTime<Utc>>) -> String {
    use crate::config::Language;
    match (language, taken_by) {
        (Language::En, Some(t)) => format!(
            "Your ticket is in our queue and an engineer will take it by {} at the latest.",
            fmt_time(t)
        ),
        (Language::En, None) => "Your ticket is in our queue; we have asked the team to take it \
                                 as a priority."
            .to_owned(),
        (Language::Ru, Some(t)) => format!(
            "Ваша заявка в очереди; инженер возьмёт её в работу не позже {}.",
            fmt_time(t)
        ),
        (Language::Ru, None) => {
            "Ваша заявка в очереди; мы попросили команду взять её в работу в первую очередь."
                .to_owned()
        }
    }
}

/// The advance notice of a maintenance window, in the customer's language.
fn maintenance_text(
    customer: &Customer,
    affected: &[String],
    reason: Option<&str>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> (String, String) {
    let list = affected
        .iter()
        .map(|a| format!("  - {a}"))
        .collect::<Vec<_>>()
        .join("\n");
    match customer.language {
        crate::config::Language::En => (
            format!(
                "Planned maintenance on {} — no action needed",
                fmt_time(start)
            ),
            format!(
                "Hello {},\n\nWe will carry out planned maintenance from {} to {}{}.\n\n\
                 During this time these services may be briefly unavailable:\n{}\n\n\
                 You do not need to do anything. We watch the services throughout the work and \
                 will tell you if it takes longer than planned.\n\n— Support team\n",
                customer.name,
                fmt_time(start),
                fmt_time(end),
                reason.map(|r| format!(" ({r})")).unwrap_or_default(),
                list
            ),
        ),
        crate::config::Language::Ru => (
            format!(
                "Плановые работы {} — от вас ничего не требуется",
                fmt_time(start)
            ),
            format!(
                "Здравствуйте, {}!\n\nМы проведём плановые работы с {} до {}{}.\n\n\
                 В это время могут быть кратковременно недоступны:\n{}\n\n\
                 От вас ничего не требуется. Мы следим за работой сервисов всё это время и \
                 сообщим, если работы займут больше времени, чем планировалось.\n\n— Служба поддержки\n",
                customer.name,
                fmt_time(start),
                fmt_time(end),
                reason.map(|r| format!(" ({r})")).unwrap_or_default(),
                list
            ),
        ),
    }
}

pub(super) fn round_minutes(d: chrono::Duration) -> Duration {
    Duration::from_secs((d.num_seconds().max(60) as u64).div_ceil(60) * 60)
}

pub(super) fn fmt_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

pub(super) fn site_names(config: &Config, t: &Ticket) -> String {
    t.checks
        .iter()
        .map(|id| {
            config
                .check(id.as_str())
                .map_or(id.to_string(), |c| c.name.clone())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn targets(config: &Config, t: &Ticket) -> String {
    t.checks
        .iter()
        .filter_map(|id| {
            config
                .check(id.as_str())
                .map(|c| customer_target(c, &t.problem))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the customer calls the thing in trouble: the account for a quota, the disk and server
/// for a filling disk, otherwise the URL, host:port or DNS name.
pub(super) fn customer_target(c: &crate::config::Check, problem: &str) -> String {
    use crate::probe::ProbeSpec;
    match (&c.spec, problem) {
        (ProbeSpec::Agent(a), "quota_near") if !a.accounts.is_empty() => a.accounts.join(", "),
        (ProbeSpec::Agent(a), "disk_filling") if !a.mounts.is_empty() => format!(
            "{} on {}",
            a.mounts.join(", "),
            c.server
                .as_deref()
                .or(a.url.host_str())
                .unwrap_or("the server")
        ),
        _ => c.spec.target(),
    }
}

/// The template context for one customer message. Only this customer's checks appear.
pub(super) fn context(
    config: &Config,
    customer: &Customer,
    t: &Ticket,
    site: &str,
    target: &str,
    evidence: &[String],
    at: DateTime<Utc>,
) -> MessageContext {
    MessageContext {
        customer: customer.name.clone(),
        ticket: t.id.to_string(),
        ticket_url: customer_ticket_url(config, t, at),
        site: site.to_owned(),
        target: target.to_owned(),
        detected_at: fmt_time(t.created_at.min(at)),
        evidence: evidence.to_vec(),
        next_update: t.next_update_due.map(fmt_time).unwrap_or_default(),
        status: t.status.as_str().to_owned(),
        title: t.title.clone(),
        deadline: String::new(),
        duration: String::new(),
        update: String::new(),
        resolution: None,
    }
}

/// Updates and assignments need an open ticket.
pub(super) fn must_be_open(t: &Ticket) -> Result<(), ServiceError> {
    if t.status.is_open() {
        Ok(())
    } else {
        Err(ServiceError::BadState {
            id: t.id,
            status: t.status,
            what: "reopen it first",
        })
    }
}

/// The automatic acknowledgement of a new ticket (R7): the message and its `AutoAckQueued`
/// event, or an internal note saying why it could not be written.
pub(super) fn acknowledge_first(
    first: Result<Option<NewMessage>, String>,
    at: DateTime<Utc>,
    events: &mut Vec<NewEvent>,
    messages: &mut Vec<NewMessage>,
) {
    let kind = match first {
        Ok(Some(m)) => {
            messages.push(m);
            EventKind::AutoAckQueued
        }
        Ok(None) => return,
        Err(e) => EventKind::InternalNote {
            text: format!("the customer message could not be written: {e}"),
        },
    };
    events.push(NewEvent {
        at,
        actor: Actor::System,
        public: false,
        kind,
    });
}

/// The staff page of a ticket, for staff and ops messages.
pub fn ticket_url(config: &Config, id: TicketId) -> String {
    format!("{}tickets/{}", config.public_url, id.0)
}

/// The customer's page of a ticket: a signed link (`/c/t/{token}`, valid for
/// `survey.ticket_link_ttl`) when a link-signing key is set, else the staff page.
pub fn customer_ticket_url(config: &Config, t: &Ticket, at: DateTime<Utc>) -> String {
    match crate::token::Signer::from_config(config) {
        Some(signer) => {
            let ttl = chrono::Duration::from_std(config.survey.ticket_link_ttl)
                .unwrap_or_else(|_| chrono::Duration::days(90));
            let token = signer.sign(
                crate::token::Purpose::TicketView,
                &t.customer,
                t.id.0,
                "",
                at + ttl,
            );
            format!("{}c/t/{token}", config.public_url)
        }
        None => ticket_url(config, t.id),
    }
}

/// A customer e-mail from the playbook, in the customer's language. `None` when the customer
/// has no contacts.
pub(super) fn customer_message(
    config: &Config,
    playbook: &Playbook,
    kind: MessageKind,
    customer: &Customer,
    t: &Ticket,
    ctx: &MessageContext,
    key: &str,
) -> Result<Option<NewMessage>, String> {
    if customer.contacts.is_empty() {
        return Ok(None);
    }
    let rendered = playbook
        .render(kind, customer.language, ctx)
        .map_err(|e| e.to_string())?;
    let key = format!("ticket-{}/{key}", t.id.0);
    Ok(Some(NewMessage {
        message_id: message_id(config, &key),
        key,
        ticket: Some(t.id),
        channel: Channel::Email {
            to: customer.contacts.clone(),
        },
        subject: rendered.subject,
        body: rendered.body,
    }))
}

/// Ops alerts: e-mail and webhook, if configured. Never sent to customers. Each call is a new
/// alert (its key carries the time).
pub(super) fn ops_messages(config: &Config, t: &Ticket, what: &str) -> Vec<NewMessage> {
    let stem = format!("{}-{}", slug(what), Utc::now().timestamp_millis());
    ops_messages_keyed(config, t, what, &stem)
}

/// Ops alerts whose idempotency key ends in `stem`: the same stem is queued once.
pub(super) fn ops_messages_keyed(
    config: &Config,
    t: &Ticket,
    what: &str,
    stem: &str,
) -> Vec<NewMessage> {
    let subject = format!("[{}] {} {} — {}", t.severity, t.id, t.title, what);
    let body = format!(
        "{what}\n\nTicket {} ({}), customer {}, problem {}, skill group {}.\n{}\n",
        t.id,
        t.status,
        t.customer,
        t.problem,
        t.skill_group,
        ticket_url(config, t.id)
    );
    let mut out = Vec::new();
    if !config.ops.email.is_empty() {
        let key = format!("ops/ticket-{}/{stem}/email", t.id.0);
        out.push(NewMessage {
            message_id: message_id(config, &key),
            key,
            ticket: None,
            channel: Channel::Email {
                to: config.ops.email.clone(),
            },
            subject: subject.clone(),
            body: body.clone(),
        });
    }
    if let Some(hook) = &config.ops.webhook {
        let key = format!("ops/ticket-{}/{stem}/webhook", t.id.0);
        out.push(NewMessage {
            message_id: message_id(config, &key),
            key,
            ticket: None,
            channel: Channel::Webhook {
                url: hook.url.to_string(),
                slack: hook.slack,
            },
            subject,
            body,
        });
    }
    out
}

fn slug(s: &str) -> String {
    s.chars()
        .take(24)
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// A stable Message-ID from the idempotency key: a resend of the same message is recognisable,
/// and the installation id keeps two installations (or a reinstall) from ever sharing one.
pub fn message_id(config: &Config, key: &str) -> String {
    let host = config.public_url.host_str().unwrap_or("forewarn.invalid");
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(config.installation.as_bytes());
    ctx.update(b"\n");
    ctx.update(key.as_bytes());
    let digest = ctx.finish();
    let hex: String = digest.as_ref()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let installation = if config.installation.is_empty() {
        "forewarn"
    } else {
        config.installation.as_str()
    };
    format!("<{hex}.{installation}@{host}>")
}

/// The Message-ID of a ticket's first customer mail: every later mail of the ticket answers it
/// (`In-Reply-To`, `References`), so mail clients show one conversation.
pub fn thread_root(config: &Config, ticket: TicketId) -> String {
    message_id(config, &format!("ticket-{}/opened", ticket.0))
}
