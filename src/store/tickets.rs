//! What the store keeps for tickets, the outbox and the incident detector. Every method that
//! changes a ticket also appends its timeline events and queues its messages **in the same
//! transaction**: a ticket change and the mails it causes commit together or not at all.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::model::{CheckId, CustomerId};
use crate::notify::{MessageStatus, NewMessage, OutboxMessage};
use crate::ticket::model::{
    Actor, EventKind, Origin, Severity, Ticket, TicketId, TicketStatus, TimelineEvent,
};

/// A ticket to create; the store assigns its id.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTicket {
    pub customer: CustomerId,
    pub title: String,
    pub problem: String,
    pub severity: Severity,
    pub origin: Origin,
    pub checks: Vec<CheckId>,
    pub incident: Option<i64>,
    pub assignee: Option<String>,
    pub skill_group: String,
    pub created_at: DateTime<Utc>,
    pub ack_due: Option<DateTime<Utc>>,
    pub first_update_due: Option<DateTime<Utc>>,
    pub resolve_due: Option<DateTime<Utc>>,
    pub next_update_due: Option<DateTime<Utc>>,
}

/// An event to append; the store fills in the ticket id.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub public: bool,
    pub kind: EventKind,
}

impl NewEvent {
    pub fn into_event(self, ticket: TicketId) -> TimelineEvent {
        TimelineEvent {
            ticket,
            at: self.at,
            actor: self.actor,
            public: self.public,
            kind: self.kind,
        }
    }
}

/// Builds the first events and messages of a new ticket once its id is known (messages
/// carry the ticket number and link).
pub type FirstWords = Box<dyn FnOnce(&Ticket) -> (Vec<NewEvent>, Vec<NewMessage>) + Send>;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketFilter {
    pub open_only: bool,
    pub customer: Option<CustomerId>,
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxFilter {
    pub status: Option<MessageStatus>,
    pub ticket: Option<TicketId>,
    pub limit: Option<u32>,
}

/// An ops-level incident: one or more failing checks that share a cause (one server, or one
/// check).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    pub id: i64,
    /// What groups it: `server:web-01` or `check:acme-www`.
    pub key: String,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub checks: Vec<CheckId>,
    pub customers: Vec<CustomerId>,
    pub summary: String,
}

#[async_trait]
pub trait TicketStore: Send + Sync {
    /// Inserts the ticket, then its first events and messages from `first_words`, in one
    /// transaction. Returns the ticket with its id.
    async fn create_ticket(
        &self,
        new: NewTicket,
        first_words: FirstWords,
    ) -> Result<Ticket, StoreError>;

    /// Saves a changed ticket, appends events and queues messages in one transaction.
    /// `expected` is the status the caller read: if the stored status differs (someone else
    /// changed it), nothing is written and `StoreError::Conflict` is returned.
    async fn save_ticket(
        &self,
        ticket: &Ticket,
        expected: TicketStatus,
        events: Vec<NewEvent>,
        messages: Vec<NewMessage>,
    ) -> Result<(), StoreError>;

    async fn ticket(&self, id: TicketId) -> Result<Option<Ticket>, StoreError>;

    /// Newest first.
    async fn tickets(&self, filter: &TicketFilter) -> Result<Vec<Ticket>, StoreError>;

    /// Oldest first.
    async fn timeline(&self, id: TicketId) -> Result<Vec<TimelineEvent>, StoreError>;

    /// The newest ticket whose checks include `check` (open or not), for reopening.
    async fn latest_ticket_for_check(&self, check: &CheckId) -> Result<Option<Ticket>, StoreError>;

    /// Queues messages outside a ticket change (ops alerts). Keys already queued are ignored.
    async fn enqueue(&self, messages: Vec<NewMessage>) -> Result<(), StoreError>;

    /// Claims up to `limit` pending messages whose next attempt is due, for `lease`: a claimed
    /// message is not claimed again until the lease ends (a worker that dies releases it that
    /// way). PostgreSQL: `FOR UPDATE SKIP LOCKED`.
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<OutboxMessage>, StoreError>;

    /// Delivered: never sent again. Appends `MailDelivered` to the ticket's timeline.
    async fn mark_delivered(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// Failed: retry at `retry_at`, or give up (`None`: status dead). Appends `MailFailed`.
    async fn mark_failed(
        &self,
        id: i64,
        at: DateTime<Utc>,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError>;

    /// Newest first.
    async fn outbox(&self, filter: &OutboxFilter) -> Result<Vec<OutboxMessage>, StoreError>;

    /// Dead messages back to pending, due now. Returns how many.
    async fn retry_dead(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;

    async fn open_incident(
        &self,
        key: &str,
        at: DateTime<Utc>,
        checks: &[CheckId],
        customers: &[CustomerId],
        summary: &str,
    ) -> Result<Incident, StoreError>;

    /// Replaces the incident's checks, customers and summary.
    async fn update_incident(&self, incident: &Incident) -> Result<(), StoreError>;

    async fn close_incident(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError>;

    async fn open_incidents(&self) -> Result<Vec<Incident>, StoreError>;

    /// The incident detector's per-check state, as JSON, so it survives a restart.
    async fn save_detector_state(
        &self,
        states: &[(CheckId, serde_json::Value)],
    ) -> Result<(), StoreError>;

    async fn detector_states(&self) -> Result<Vec<(CheckId, serde_json::Value)>, StoreError>;
}
