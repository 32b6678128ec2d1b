//! The ticket service: every change to a ticket goes through it, and each change commits with
//! its timeline events and the messages it causes (the transactional outbox). This file holds
//! the service itself and what staff do (acknowledge, update, wait on the customer, assign,
//! resolve, reopen, close); `monitoring` is what monitoring does, `customer` what customers
//! do, `clocks` the SLA and update-promise clocks, `compose` the messages.
//!
//! Rules it keeps:
//! - every customer-visible change tells the customer the state, what is being done and the
//!   next checkpoint (R12); internal notes send nothing;
//! - a staff resolution carries cause, action, fully solved and prevention (R13), and is
//!   refused while the ticket's checks fail unless staff resolve anyway with a reason;
//! - every save names the ticket version it read: a stale copy is refused, never written;
//! - closing and reassigning ask [`crate::access`] on the ticket as loaded for the save, so a
//!   form, the API and the CLI get the same answer.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::compose::*;
use super::due::{due_times, next_checkpoint};
use super::model::*;
use super::sla;
use super::spent::Spent;

pub use super::clocks::SLA_TICK;
pub use super::compose::{customer_ticket_url, message_id, thread_root, ticket_url};
use crate::access::{Denied, Permission, Principal};
use crate::config::{Config, Customer};
use crate::incident::Problem;
use crate::model::CustomerId;
use crate::notify::NewMessage;
use crate::playbook::{MessageKind, Playbook, ResolutionContext};
use crate::store::InboundRecord;
use crate::store::tickets::{NewEvent, TicketFilter};
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
    /// The caller may not do this ([`crate::access`]).
    #[error(transparent)]
    Denied(#[from] Denied),
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
    /// One customer's reports are handled one at a time in this process (see
    /// `customer::customer_report`), so a second report finds the ticket of the first.
    pub(super) reports: super::report_locks::ReportLocks,
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
    /// acknowledgement to them, an ops alert; a mail they wrote is recorded with the change.
    CustomerReplied {
        event: NewEvent,
        inbound: Option<Box<InboundRecord>>,
    },
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
            reports: Default::default(),
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

    /// A staff-only note on a ticket in any status, a resolved or closed one too: what staff did
    /// about it that the customer is not told (its resolution saved as an article). Changes
    /// nothing else and sends nothing.
    pub async fn note(
        &self,
        id: TicketId,
        actor: Actor,
        text: &str,
        at: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        if text.trim().is_empty() {
            return Err(ServiceError::Invalid("a note needs a text".into()));
        }
        let t = self.load(id).await?;
        let ev = NewEvent {
            at,
            actor,
            public: false,
            kind: EventKind::InternalNote {
                text: text.to_owned(),
            },
        };
        self.store
            .save_ticket(&t, t.status, vec![ev], vec![], at)
            .await?;
        Ok(())
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
        self.update_logged(id, actor, text, next_update, internal, None, at)
            .await
    }

    /// [`Self::update`] with the time the staff member spent, recorded with it.
    #[allow(clippy::too_many_arguments)]
    pub async fn update_logged(
        &self,
        id: TicketId,
        actor: Actor,
        text: &str,
        next_update: Option<Duration>,
        internal: bool,
        spent: Option<Spent>,
        at: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        if text.trim().is_empty() {
            return Err(ServiceError::Invalid("an update needs a message".into()));
        }
        let mut t = self.load(id).await?;
        must_be_open(&t)?;
        let expected = t.status;
        if internal {
            let logged = time_spent(&actor, spent, LoggedWith::InternalNote, at);
            let ev = NewEvent {
                at,
                actor,
                public: false,
                kind: EventKind::InternalNote {
                    text: text.to_owned(),
                },
            };
            let events = std::iter::once(ev).chain(logged).collect();
            self.store
                .save_ticket(&t, expected, events, vec![], at)
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
        let n = format!("v{}", t.version);
        let mut messages = self.message_for(
            &config,
            &customer,
            &t,
            MessageKind::Update,
            Some(text),
            &format!("update-{n}"),
            at,
        )?;
        written_by(&actor, &mut messages);
        let logged = time_spent(&actor, spent, LoggedWith::PublicUpdate, at);
        events.push(NewEvent {
            at,
            actor,
            public: true,
            kind: EventKind::PublicUpdate {
                text: text.to_owned(),
                next_update: Some(next),
            },
        });
        events.extend(logged);
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
        self.resolve_logged(id, actor, resolution, None, at).await
    }

    /// [`Self::resolve`] with the time the staff member spent, recorded with it.
    pub async fn resolve_logged(
        &self,
        id: TicketId,
        actor: Actor,
        resolution: Resolution,
        spent: Option<Spent>,
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
        let kinds = std::iter::once(EventKind::Resolved { resolution })
            .chain(time_spent(&actor, spent, LoggedWith::Resolution, at).map(|e| e.kind))
            .collect();
        self.transition(
            t,
            actor,
            TicketStatus::Resolved,
            at,
            kinds,
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

    /// Closes a ticket for `by`: a resolved one needs staff, an open one (closing without a
    /// resolution) an admin ([`Permission::to_close`]), decided on the status it is saved from.
    pub async fn close(
        &self,
        id: TicketId,
        by: &Principal,
        at: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let t = self.load(id).await?;
        by.require(Permission::to_close(t.status))?;
        let actor = Actor::Staff(by.name.clone());
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
    /// Someone else's ticket is reassigned only by an admin ([`Permission::to_assign`]).
    pub async fn assign(
        &self,
        id: TicketId,
        by: &Principal,
        assignee: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let actor = Actor::Staff(by.name.clone());
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
        by.require(Permission::to_assign(t.assignee.as_deref(), &by.name))?;
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
        self.wait_on_customer_logged(id, actor, question, None, at)
            .await
    }

    /// [`Self::wait_on_customer`] with the time the staff member spent, recorded with it.
    pub async fn wait_on_customer_logged(
        &self,
        id: TicketId,
        actor: Actor,
        question: &str,
        spent: Option<Spent>,
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
        let by = actor.clone();
        let logged = time_spent(&actor, spent, LoggedWith::Question, at);
        let mut events = vec![
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
        events.extend(logged);
        t.status = TicketStatus::WaitingOnCustomer;
        t.next_update_due = None;
        let n = format!("v{}", t.version);
        let mut messages = self.message_for(
            &config,
            &customer,
            &t,
            MessageKind::Update,
            Some(question),
            &format!("update-{n}"),
            at,
        )?;
        written_by(&by, &mut messages);
        self.store
            .save_ticket(&t, expected, events, messages, at)
            .await?;
        self.poke();
        Ok(())
    }

    /// Ends "waiting on the customer": the paused clocks resume, shifted by the paused time,
    /// a new checkpoint is set and the ticket is in progress again. Returns the status event.
    pub(super) fn resume(
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
            Reopen::CustomerReplied { event, inbound } => {
                let mail = inbound.as_deref().map(|r| mail_received(r, at));
                std::iter::once(event.clone()).chain(mail).collect()
            }
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
                let text = config
                    .words
                    .word(customer.language, "mail.reopened_by_reply");
                let text = text.as_str();
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
                let (facts, deadline) = match &why {
                    Reopen::ProblemBack(p) => (p.facts.clone(), p.deadline),
                    _ => (Vec::new(), None),
                };
                let playbook = self.playbook(&config, &t.problem)?;
                let site = site_names(&config, &t);
                let target = targets(&config, &t);
                let mut ctx = context(&config, &customer, &t, &site, &target, &facts, deadline, at);
                if matches!(why, Reopen::StillFailing) {
                    ctx.evidence = vec![config.words.word(customer.language, "mail.still_failing")];
                }
                ctx.detected_at = config.words.datetime(reader(&customer), at);
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
        let inbound = match why {
            Reopen::CustomerReplied { inbound, .. } => inbound.map(|r| *r),
            _ => None,
        };
        self.store
            .save_ticket_taking(&t, expected, events, messages, at, inbound)
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
        let cycle_start = self.cycle_start(&t).await?;
        let by = actor.clone();
        let mut events: Vec<NewEvent> = kinds
            .into_iter()
            .map(|kind| NewEvent {
                at,
                actor: actor.clone(),
                public: !matches!(kind, EventKind::Acknowledged | EventKind::TimeSpent { .. }),
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
        let mut messages = match tell {
            Some((kind, resolution)) => {
                let playbook = self.playbook(&config, &t.problem)?;
                let mut ctx = context(
                    &config,
                    &customer,
                    &t,
                    &site_names(&config, &t),
                    &targets(&config, &t),
                    &[],
                    None,
                    at,
                );
                // This cycle's length: a reopened ticket counts from its reopening.
                ctx.duration = config.words.duration(
                    customer.language,
                    (at - cycle_start).to_std().unwrap_or_default(),
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
        written_by(&by, &mut messages);
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
            None,
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

/// The staff-only entry of the time `actor` spent, logged with what they did at `at`.
fn time_spent(
    actor: &Actor,
    spent: Option<Spent>,
    with: LoggedWith,
    at: DateTime<Utc>,
) -> Option<NewEvent> {
    spent.map(|s| NewEvent {
        at,
        actor: actor.clone(),
        public: false,
        kind: EventKind::TimeSpent {
            minutes: s.minutes(),
            with,
        },
    })
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
