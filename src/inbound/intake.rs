//! Taking a fetched mail into tickets, exactly once.
//!
//! What a mail is, in this order: a bounce of one of our mails (an internal note on its
//! ticket), automatic mail (ignored: never a ticket, never an answer), a reply to a ticket
//! (by `In-Reply-To`/`References` naming one of the ticket's Message-IDs in the outbox, else by
//! a `[#N]` subject tag when the sender is a contact of that ticket's customer), a new request
//! from a known contact (a `customer_request` ticket with its acknowledgement, within a
//! per-sender limit), or unmatched (kept for staff, never answered).
//!
//! The message's (mailbox, UIDVALIDITY, UID) row is written in the transaction of the ticket
//! change it causes, so a message is taken once even if the process dies half-way: a message
//! recorded already is [`Taken::AlreadyTaken`] and changes nothing.

use std::sync::{Arc, LazyLock, RwLock};

use chrono::{DateTime, Utc};
use regex::Regex;

use super::parse::{Bounce, Mail, parse};
use super::{Fetched, Intake, Taken};
use crate::config::{Config, Customer};
use crate::store::tickets::NewEvent;
use crate::store::{InboundOutcome, InboundRecord};
use crate::store::{Store, StoreError};
use crate::ticket::compose::mail_received;
use crate::ticket::model::MailAttachment;
use crate::ticket::service::{ServiceError, TicketService};
use crate::ticket::{Actor, EventKind, TicketId};

/// How many times a change is tried again when the ticket changed under it.
const CONFLICT_RETRIES: usize = 3;

/// What the intake keeps and allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntakeLimits {
    /// The original message is kept for staff up to this many bytes.
    pub max_raw: usize,
    /// At most this many new requests from one sender within `window`; more are ignored.
    pub requests_per_sender: u64,
    pub window: chrono::Duration,
}

impl Default for IntakeLimits {
    fn default() -> Self {
        IntakeLimits {
            max_raw: 2 * 1024 * 1024,
            requests_per_sender: 20,
            window: chrono::Duration::hours(1),
        }
    }
}

/// [`Intake`] into forewarn's tickets, through the ticket service.
pub struct TicketIntake {
    service: Arc<TicketService>,
    store: Arc<dyn Store>,
    config: Arc<RwLock<Arc<Config>>>,
    limits: IntakeLimits,
}

/// What a parsed mail is.
enum Route {
    Bounce(TicketId),
    Automatic(String),
    Reply(TicketId),
    Request(Customer),
    Unmatched,
}

static TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\[#(\d{1,18})\]").expect("regex"));

impl TicketIntake {
    pub fn new(
        service: Arc<TicketService>,
        store: Arc<dyn Store>,
        config: Arc<RwLock<Arc<Config>>>,
        limits: IntakeLimits,
    ) -> Self {
        TicketIntake {
            service,
            store,
            config,
            limits,
        }
    }

    fn config(&self) -> Arc<Config> {
        self.config.read().expect("not poisoned").clone()
    }

    /// The limits of the mailbox as configured; this intake's own for a mailbox the
    /// configuration does not name.
    fn limits(&self, config: &Config, mailbox: &str) -> IntakeLimits {
        match config.inbound.iter().find(|m| m.name == mailbox) {
            Some(m) => IntakeLimits {
                max_raw: m.keep_original,
                requests_per_sender: m.requests_per_hour,
                window: chrono::Duration::hours(1),
            },
            None => self.limits,
        }
    }

    /// Decides what the mail is; reads the store, changes nothing.
    async fn route(&self, config: &Config, mail: &Mail) -> Result<Route, StoreError> {
        if let Some(b) = &mail.bounce {
            for id in &b.message_ids {
                if let Some(t) = self.ticket_of(id).await? {
                    return Ok(Route::Bounce(t));
                }
            }
        }
        if let Some(why) = &mail.automatic {
            return Ok(Route::Automatic(why.clone()));
        }
        for id in mail.answers() {
            if let Some(t) = self.ticket_of(id).await? {
                return Ok(Route::Reply(t));
            }
        }
        if let Some(t) = self.tagged(config, mail).await? {
            return Ok(Route::Reply(t));
        }
        Ok(match contact_of(config, &mail.from) {
            Some(c) => Route::Request(c.clone()),
            None => Route::Unmatched,
        })
    }

    /// The ticket of one of our Message-IDs (kept without brackets in [`Mail`]).
    async fn ticket_of(&self, id: &str) -> Result<Option<TicketId>, StoreError> {
        self.store.ticket_of_message_id(&format!("<{id}>")).await
    }

    /// The ticket a `[#N]` subject tag names, only when the sender is a contact of its customer.
    async fn tagged(&self, config: &Config, mail: &Mail) -> Result<Option<TicketId>, StoreError> {
        let Some(n) = TAG
            .captures(&mail.subject)
            .and_then(|c| c[1].parse::<i64>().ok())
        else {
            return Ok(None);
        };
        let Some(t) = self.store.ticket(TicketId(n)).await? else {
            return Ok(None);
        };
        let contact = config
            .customers
            .iter()
            .find(|c| c.id == t.customer)
            .is_some_and(|c| is_contact(c, &mail.from));
        Ok(contact.then_some(t.id))
    }

    fn record(
        &self,
        f: &Fetched,
        mail: Option<&Mail>,
        outcome: InboundOutcome,
        at: DateTime<Utc>,
    ) -> InboundRecord {
        let kept = f
            .raw
            .len()
            .min(self.limits(&self.config(), &f.mailbox).max_raw);
        let attachments = mail.map_or_else(Vec::new, |m| {
            m.attachments
                .iter()
                .map(|(name, size)| MailAttachment {
                    name: name.clone(),
                    size: *size as u64,
                })
                .collect()
        });
        InboundRecord {
            key: f.key(),
            message_id: mail.and_then(|m| m.message_id.clone()),
            received_at: at,
            sender: mail.map(|m| m.from.clone()).unwrap_or_default(),
            subject: mail.map(|m| m.subject.clone()).unwrap_or_default(),
            outcome,
            ticket: None,
            attachments,
            raw: f.raw[..kept].to_vec(),
            raw_size: f.raw.len(),
            handled_by: None,
            from_unmatched: false,
        }
    }

    /// Records a message that changes no ticket.
    async fn keep(&self, record: InboundRecord, taken: Taken) -> anyhow::Result<Taken> {
        Ok(if self.store.record_inbound(&record).await? {
            taken
        } else {
            Taken::AlreadyTaken
        })
    }

    /// The outcome of a change written with its inbound record: a conflict on the record
    /// itself means another taker was first.
    async fn settle(
        &self,
        f: &Fetched,
        written: Result<(), ServiceError>,
    ) -> anyhow::Result<Option<Taken>> {
        match written {
            Ok(()) => Ok(None),
            Err(ServiceError::Store(StoreError::Conflict { .. }))
                if self.store.inbound_taken(&f.key()).await? =>
            {
                Ok(Some(Taken::AlreadyTaken))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A delivery failure of one of the ticket's mails, as an internal note.
    async fn note_bounce(
        &self,
        ticket: TicketId,
        bounce: &Bounce,
        record: InboundRecord,
        at: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let to = bounce.recipient.as_deref().unwrap_or("the customer");
        let why = bounce
            .reason
            .as_deref()
            .unwrap_or("the delivery report gives no reason");
        let note = NewEvent {
            at,
            actor: Actor::System,
            public: false,
            kind: EventKind::InternalNote {
                text: format!("delivery to {to} failed: {why}"),
            },
        };
        let mail = mail_received(&record, at);
        let mut written = Ok(());
        for _ in 0..CONFLICT_RETRIES {
            let Some(t) = self.store.ticket(ticket).await? else {
                return Err(StoreError::NotFound {
                    what: format!("ticket {ticket}"),
                }
                .into());
            };
            let status = t.status;
            written = self
                .store
                .save_ticket_taking(
                    &t,
                    status,
                    vec![note.clone(), mail.clone()],
                    vec![],
                    at,
                    Some(record.clone()),
                )
                .await;
            if !is_ticket_conflict(&written, &record) {
                break;
            }
        }
        Ok(written?)
    }
}

#[async_trait::async_trait]
impl Intake for TicketIntake {
    async fn take(&self, f: &Fetched) -> anyhow::Result<Taken> {
        if self.store.inbound_taken(&f.key()).await? {
            return Ok(Taken::AlreadyTaken);
        }
        let now = Utc::now();
        let Some(mail) = parse(&f.raw) else {
            let why = "not a mail".to_owned();
            let record = self.record(f, None, InboundOutcome::Ignored, now);
            return self.keep(record, Taken::Ignored { why }).await;
        };
        let config = self.config();
        match self.route(&config, &mail).await? {
            Route::Bounce(ticket) => {
                let bounce = mail.bounce.clone().unwrap_or_default();
                let record = self.record(f, Some(&mail), InboundOutcome::Bounce, now);
                let written = self.note_bounce(ticket, &bounce, record, now).await;
                if let Some(taken) = self.settle(f, written).await? {
                    return Ok(taken);
                }
                tracing::info!(ticket = %ticket, mailbox = %f.mailbox, uid = f.uid, "bounce of a ticket's mail noted");
                let why = format!("bounce of a mail of ticket {ticket}");
                Ok(Taken::Ignored { why })
            }
            Route::Automatic(why) => {
                tracing::info!(mailbox = %f.mailbox, uid = f.uid, why = %why, "automatic mail ignored");
                let record = self.record(f, Some(&mail), InboundOutcome::Ignored, now);
                self.keep(record, Taken::Ignored { why }).await
            }
            Route::Reply(ticket) => {
                let who = sender_name(&mail);
                let mut written = Ok(());
                for _ in 0..CONFLICT_RETRIES {
                    let record = self.record(f, Some(&mail), InboundOutcome::Threaded, now);
                    written = self
                        .service
                        .customer_replied_taking(
                            ticket,
                            &who,
                            &mail.reply,
                            now,
                            Some(record.clone()),
                        )
                        .await;
                    if !is_ticket_conflict(&written, &record) {
                        break;
                    }
                }
                if let Some(taken) = self.settle(f, written).await? {
                    return Ok(taken);
                }
                tracing::info!(ticket = %ticket, mailbox = %f.mailbox, uid = f.uid, "customer mail threaded");
                Ok(Taken::Threaded { ticket: ticket.0 })
            }
            Route::Request(customer) => {
                let limits = self.limits(&config, &f.mailbox);
                let since = now - limits.window;
                let opened = self
                    .store
                    .inbound_count_since(&mail.from, InboundOutcome::Opened, since)
                    .await?;
                if opened >= limits.requests_per_sender {
                    tracing::warn!(mailbox = %f.mailbox, uid = f.uid, "new request over the sender's limit ignored");
                    let record = self.record(f, Some(&mail), InboundOutcome::Ignored, now);
                    let why = "rate limited".to_owned();
                    return self.keep(record, Taken::Ignored { why }).await;
                }
                let title = if mail.subject.is_empty() {
                    "(no subject)"
                } else {
                    mail.subject.as_str()
                };
                let record = self.record(f, Some(&mail), InboundOutcome::Opened, now);
                let opened = self
                    .service
                    .customer_request_taking(
                        &customer.id,
                        title,
                        &mail.text,
                        vec![],
                        now,
                        Some(record),
                    )
                    .await;
                let ticket = match opened {
                    Ok(t) => t,
                    Err(e) => {
                        return Ok(self.settle(f, Err(e)).await?.unwrap_or(Taken::AlreadyTaken));
                    }
                };
                tracing::info!(ticket = %ticket, customer = %customer.id, "customer request opened by mail");
                Ok(Taken::Opened { ticket: ticket.0 })
            }
            Route::Unmatched => {
                tracing::info!(mailbox = %f.mailbox, uid = f.uid, "mail from an unknown sender kept as unmatched");
                let record = self.record(f, Some(&mail), InboundOutcome::Unmatched, now);
                self.keep(record, Taken::Unmatched).await
            }
        }
    }
}

/// A conflict on the ticket (someone saved it meanwhile), not on the inbound record.
fn is_ticket_conflict<E>(r: &Result<(), E>, record: &InboundRecord) -> bool
where
    E: AsStoreError,
{
    match r {
        Err(e) => {
            matches!(e.store_error(), Some(StoreError::Conflict { what }) if *what != record.what())
        }
        Ok(()) => false,
    }
}

trait AsStoreError {
    fn store_error(&self) -> Option<&StoreError>;
}

impl AsStoreError for StoreError {
    fn store_error(&self) -> Option<&StoreError> {
        Some(self)
    }
}

impl AsStoreError for ServiceError {
    fn store_error(&self) -> Option<&StoreError> {
        match self {
            ServiceError::Store(e) => Some(e),
            _ => None,
        }
    }
}

/// How the timeline names the writer: their name and address, or the address.
fn sender_name(mail: &Mail) -> String {
    match &mail.from_name {
        Some(name) => format!("{name} <{}>", mail.from),
        None => mail.from.clone(),
    }
}

fn is_contact(customer: &Customer, address: &str) -> bool {
    !address.is_empty() && customer.has_email(address)
}

/// The customer this address is a contact of.
fn contact_of<'c>(config: &'c Config, address: &str) -> Option<&'c Customer> {
    config.customers.iter().find(|c| is_contact(c, address))
}
