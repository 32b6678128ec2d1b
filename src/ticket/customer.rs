//! What customers do to tickets: report a problem (a customer-originated ticket with the
//! automatic acknowledgement, R7), reply (ends "waiting on customer"; on a resolved or closed
//! ticket it reopens it), and ask to close.
//!
//! What comes through a customer link is limited (`[web.customer_limits]`): so many reports,
//! and so many replies, per link and per customer within a window, counted in the store so the
//! limits hold across instances. A post over a limit is not written and says so
//! ([`Posted::Limited`]); a report about the same service as an open report ticket of the
//! customer goes onto that ticket instead of opening another.

use chrono::{DateTime, Utc};

use super::compose::*;
use super::due::opening;
use super::model::*;
use super::service::{Reopen, ServiceError, TicketService};
use crate::model::{CheckId, CustomerId};
use crate::playbook::MessageKind;
use crate::store::InboundRecord;
use crate::store::tickets::{NewEvent, NewTicket, TicketFilter};
use crate::store::{Limited, PostKind, PostRequest, PostSlot, StoreError};

/// The playbook, and `problem`, of a ticket a customer reported.
const REPORT: &str = "customer_request";

/// How many times a customer's post is tried again when the ticket changed under it (staff or
/// monitoring saved it at the same moment).
const CONFLICT_RETRIES: usize = 3;

/// What came of a customer's post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Posted {
    /// Written on this ticket: a new one, or (`joined`) an open ticket of the same report.
    Taken { ticket: TicketId, joined: bool },
    /// Not written: the link or the customer reached a limit.
    Limited(Limited),
}

/// The signed link a customer posts through: whose it is, and its nonce (what the limits
/// count per link).
#[derive(Debug, Clone, Copy)]
pub struct Via<'a> {
    pub customer: &'a CustomerId,
    pub link: &'a str,
}

impl TicketService {
    /// The customer answered: clocks resume, shifted by the paused time.
    pub async fn customer_replied(
        &self,
        id: TicketId,
        who: &str,
        text: &str,
        at: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        self.customer_replied_taking(id, who, text, at, None).await
    }

    /// [`Self::customer_replied`] by mail: the inbound message is recorded in the transaction
    /// of the change (a message recorded already is `StoreError::Conflict`, nothing written).
    pub async fn customer_replied_taking(
        &self,
        id: TicketId,
        who: &str,
        text: &str,
        at: DateTime<Utc>,
        inbound: Option<InboundRecord>,
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
            let why = Reopen::CustomerReplied {
                event: reply,
                inbound: inbound.map(Box::new),
            };
            return self.reopen_with(t, actor, reason, why, at).await;
        }
        let mut events = vec![reply];
        events.extend(inbound.as_ref().map(|r| mail_received(r, at)));
        if t.status == TicketStatus::WaitingOnCustomer {
            let config = self.config();
            events.push(self.resume(&config, &mut t, Actor::System, at)?);
        }
        self.store
            .save_ticket_taking(&t, expected, events, vec![], at, inbound)
            .await?;
        Ok(())
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
        self.customer_request_taking(customer, title, text, checks, at, None)
            .await
    }

    /// [`Self::customer_request`] by mail: the inbound message is recorded in the transaction
    /// that creates the ticket (a message recorded already is `StoreError::Conflict`).
    pub async fn customer_request_taking(
        &self,
        customer: &CustomerId,
        title: &str,
        text: &str,
        checks: Vec<CheckId>,
        at: DateTime<Utc>,
        inbound: Option<InboundRecord>,
    ) -> Result<TicketId, ServiceError> {
        const KEY: &str = REPORT;
        let config = self.config();
        let customer = self.customer(&config, customer)?;
        let playbook = self.playbook(&config, KEY)?;
        let mut new = NewTicket {
            title: title.to_owned(),
            origin: Origin::Customer,
            checks,
            ..opening(&config, &customer, &playbook, KEY, at)
        };
        new.assignee = self.take_turn(&config, &new.skill_group, at).await?;
        let text = text.to_owned();
        let mail = inbound.as_ref().map(|r| mail_received(r, at));
        let ticket = self
            .store
            .create_ticket_taking(
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
                    events.extend(mail);
                    events.extend(super::routing::assigned_at_opening(t, at));
                    let site = site_names(&config, t);
                    let target = targets(&config, t);
                    let ctx = context(&config, &customer, t, &site, &target, &[], None, at);
                    let mut messages = Vec::new();
                    let opened = MessageKind::Opened;
                    let first =
                        customer_message(&config, &playbook, opened, &customer, t, &ctx, "opened");
                    acknowledge_first(first, at, &mut events, &mut messages);
                    messages.extend(ops_messages(&config, t, "opened by the customer"));
                    (events, messages)
                }),
                inbound,
            )
            .await?;
        tracing::info!(ticket = %ticket.id, customer = %ticket.customer, "customer request opened");
        self.poke();
        Ok(ticket.id)
    }

    /// "Report a problem" through a customer link, within the limits: onto the customer's open
    /// report ticket about the same service (the same check, or for none the same subject) as a
    /// reply, else a new ticket with its acknowledgement ([`Self::customer_request`]).
    /// One customer's reports are handled one at a time in this process, so a second report
    /// finds the first one's ticket.
    pub async fn customer_report(
        &self,
        via: Via<'_>,
        title: &str,
        text: &str,
        check: Option<CheckId>,
        at: DateTime<Utc>,
    ) -> Result<Posted, ServiceError> {
        let lock = self.reports.of(via.customer);
        let _one_at_a_time = lock.lock().await;
        let slot = match self.take_post(via, PostKind::Report, None, at).await? {
            PostSlot::Taken(slot) => slot,
            PostSlot::Limited(limited) => return Ok(Posted::Limited(limited)),
        };
        let written = async {
            let config = self.config();
            let who = self.customer(&config, via.customer)?.name;
            if let Some(open) = self.open_report(via.customer, check.as_ref(), title).await? {
                let text = if same_subject(&open.title, title) {
                    text.to_owned()
                } else {
                    format!("{title}\n\n{text}")
                };
                self.reply_retrying(open.id, &who, &text, at).await?;
                tracing::info!(ticket = %open.id, customer = %via.customer, "customer report added to its open ticket");
                return Ok((open.id, true));
            }
            let checks = check.into_iter().collect();
            let id = self
                .customer_request(via.customer, title, text, checks, at)
                .await?;
            Ok::<_, ServiceError>((id, false))
        }
        .await;
        self.settle(slot, written.as_ref().ok().map(|(id, _)| *id))
            .await;
        let (ticket, joined) = written?;
        Ok(Posted::Taken { ticket, joined })
    }

    /// A reply on the customer's ticket page, within the limits ([`Self::customer_replied`]).
    pub async fn customer_reply(
        &self,
        via: Via<'_>,
        id: TicketId,
        who: &str,
        text: &str,
        at: DateTime<Utc>,
    ) -> Result<Posted, ServiceError> {
        let slot = match self.take_post(via, PostKind::Reply, Some(id), at).await? {
            PostSlot::Taken(slot) => slot,
            PostSlot::Limited(limited) => return Ok(Posted::Limited(limited)),
        };
        let written = self.reply_retrying(id, who, text, at).await;
        if written.is_err() {
            self.settle(slot, None).await;
        }
        written?;
        Ok(Posted::Taken {
            ticket: id,
            joined: false,
        })
    }

    /// "Please close" on the customer's ticket page, within the limits of replies
    /// ([`Self::customer_asked_to_close`]).
    pub async fn customer_close(
        &self,
        via: Via<'_>,
        id: TicketId,
        who: &str,
        at: DateTime<Utc>,
    ) -> Result<Posted, ServiceError> {
        let slot = match self.take_post(via, PostKind::Reply, Some(id), at).await? {
            PostSlot::Taken(slot) => slot,
            PostSlot::Limited(limited) => return Ok(Posted::Limited(limited)),
        };
        let mut written = Ok(());
        for _ in 0..CONFLICT_RETRIES {
            written = self.customer_asked_to_close(id, who, at).await;
            if !is_conflict(&written) {
                break;
            }
        }
        if written.is_err() {
            self.settle(slot, None).await;
        }
        written?;
        Ok(Posted::Taken {
            ticket: id,
            joined: false,
        })
    }

    async fn take_post(
        &self,
        via: Via<'_>,
        kind: PostKind,
        ticket: Option<TicketId>,
        at: DateTime<Utc>,
    ) -> Result<PostSlot, ServiceError> {
        let limits = self.config().web.customer_limits.clone();
        let (per_link, per_customer) = limits.of(kind);
        let slot = self
            .store
            .take_post(&PostRequest {
                customer: via.customer,
                link: via.link,
                kind,
                at,
                ticket,
                window: limits.window,
                per_link,
                per_customer,
            })
            .await?;
        Ok(slot)
    }

    /// Records where a taken post went (`None`: it was not written, so it does not count).
    /// A failure here costs only the ticket link on a later refusal page: logged.
    async fn settle(&self, slot: i64, ticket: Option<TicketId>) {
        if let Err(e) = self.store.settle_post(slot, ticket).await {
            tracing::warn!(error = %e, slot, "could not settle a customer's post");
        }
    }

    /// The customer's open report ticket about the same service: the same check, or when the
    /// report names none, the same subject. The newest if several.
    async fn open_report(
        &self,
        customer: &CustomerId,
        check: Option<&CheckId>,
        title: &str,
    ) -> Result<Option<Ticket>, ServiceError> {
        let open = self
            .store
            .tickets(&TicketFilter {
                open_only: true,
                customer: Some(customer.clone()),
                limit: None,
                ..Default::default()
            })
            .await?;
        Ok(open.into_iter().find(|t| {
            t.origin == Origin::Customer
                && t.problem == REPORT
                && match check {
                    Some(c) => t.checks.len() == 1 && &t.checks[0] == c,
                    None => t.checks.is_empty() && same_subject(&t.title, title),
                }
        }))
    }

    /// [`Self::customer_replied`], again on a fresh copy when the ticket changed meanwhile: a
    /// customer's words are not dropped because staff saved the ticket at the same moment.
    async fn reply_retrying(
        &self,
        id: TicketId,
        who: &str,
        text: &str,
        at: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let mut written = Ok(());
        for _ in 0..CONFLICT_RETRIES {
            written = self.customer_replied(id, who, text, at).await;
            if !is_conflict(&written) {
                break;
            }
        }
        written
    }
}

/// Two subjects that say the same, whatever the case and the spaces around.
fn same_subject(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

fn is_conflict(r: &Result<(), ServiceError>) -> bool {
    matches!(r, Err(ServiceError::Store(StoreError::Conflict { .. })))
}
