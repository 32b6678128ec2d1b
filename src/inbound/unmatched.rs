//! What staff decide about mail from unknown senders (the unmatched list): open a ticket for a
//! customer with it, add it to a ticket, or drop it. Each decision is written in the
//! transaction of the ticket change it causes, and only while the mail is still unmatched: two
//! staff deciding at once, one wins and the other is told ([`Decided::AlreadyHandled`]).
//!
//! Nothing is sent to the unknown sender. A ticket opened for a customer acknowledges to that
//! customer's contacts, as any new request does.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::parse::parse;
use crate::model::CustomerId;
use crate::store::{InboundKey, InboundOutcome, InboundRecord, Store, StoreError};
use crate::ticket::TicketId;
use crate::ticket::service::{ServiceError, TicketService};

/// What staff decided about an unmatched mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Open a `customer_request` ticket for this customer with the mail's text.
    Open(CustomerId),
    /// Add the mail to this ticket as the customer's reply.
    Add(TicketId),
    /// Nothing to do: it leaves the list.
    Drop,
}

/// What came of a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decided {
    Opened(TicketId),
    Added(TicketId),
    Dropped,
    /// Someone decided first (or there is no such unmatched mail): nothing was written.
    AlreadyHandled,
}

#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    #[error("no mail {0} on the unmatched list")]
    NotFound(InboundKey),
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Carries out staff's decision about the unmatched mail `key`, as `by` (a staff user name).
pub async fn decide(
    store: &Arc<dyn Store>,
    service: &TicketService,
    key: &InboundKey,
    decision: Decision,
    by: &str,
    at: DateTime<Utc>,
) -> Result<Decided, DecideError> {
    let Some(record) = store.inbound_message(key).await? else {
        return Err(DecideError::NotFound(key.clone()));
    };
    if record.outcome != InboundOutcome::Unmatched {
        return Ok(Decided::AlreadyHandled);
    }
    let mail = parse(&record.raw);
    let claim = |outcome| InboundRecord {
        outcome,
        handled_by: Some(by.to_owned()),
        from_unmatched: true,
        raw: Vec::new(),
        ..record.clone()
    };
    let written = match &decision {
        Decision::Drop => {
            return Ok(if store.drop_unmatched(key, by).await? {
                tracing::info!(mail = %key, by, "unmatched mail dropped");
                Decided::Dropped
            } else {
                Decided::AlreadyHandled
            });
        }
        Decision::Open(customer) => {
            let title = match record.subject.trim() {
                "" => "(no subject)",
                s => s,
            };
            let text = mail.as_ref().map(|m| m.text.as_str()).unwrap_or_default();
            let record = claim(InboundOutcome::Opened);
            service
                .customer_request_taking(customer, title, text, vec![], at, Some(record))
                .await
                .map(Decided::Opened)
        }
        Decision::Add(ticket) => {
            let who = match mail.as_ref().and_then(|m| m.from_name.as_deref()) {
                Some(name) => format!("{name} <{}>", record.sender),
                None => record.sender.clone(),
            };
            let text = mail.as_ref().map(|m| m.reply.as_str()).unwrap_or_default();
            let record = claim(InboundOutcome::Threaded);
            service
                .customer_replied_taking(*ticket, &who, text, at, Some(record))
                .await
                .map(|()| Decided::Added(*ticket))
        }
    };
    match written {
        Ok(decided) => {
            tracing::info!(mail = %key, by, ?decided, "unmatched mail handled");
            Ok(decided)
        }
        // The mail is no longer unmatched: someone else decided meanwhile.
        Err(ServiceError::Store(StoreError::Conflict { what }))
            if what == claim(InboundOutcome::Unmatched).what() =>
        {
            Ok(Decided::AlreadyHandled)
        }
        Err(e) => Err(e.into()),
    }
}
