//! What customers do to tickets: report a problem (a customer-originated ticket with the
//! automatic acknowledgement, R7), reply (ends "waiting on customer"; on a resolved or closed
//! ticket it reopens it), and ask to close.

use chrono::{DateTime, Utc};

use super::compose::*;
use super::due::opening;
use super::model::*;
use super::service::{Reopen, ServiceError, TicketService};
use crate::model::{CheckId, CustomerId};
use crate::playbook::MessageKind;
use crate::store::tickets::{NewEvent, NewTicket};

impl TicketService {
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
        let new = NewTicket {
            title: title.to_owned(),
            origin: Origin::Customer,
            checks,
            ..opening(&config, &customer, &playbook, KEY, at)
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
}
