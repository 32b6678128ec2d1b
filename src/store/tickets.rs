//! What the store keeps for tickets, the outbox and the incident detector. Every method that
//! changes a ticket also appends its timeline events and queues its messages **in the same
//! transaction**: a ticket change and the mails it causes commit together or not at all.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::inbound::InboundRecord;
use super::{StoreError, from_ms, parse_check_id, parse_customer_id, to_ms};
use crate::model::{CheckId, CustomerId};
use crate::notify::{Channel, MailExtras, MessageStatus, NewMessage, OutboxMessage};
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
    /// Only tickets after this one in the list's order (newest first): the next page.
    pub after: Option<TicketCursor>,
    /// Only tickets matching this text (see [`TicketSearch`]).
    pub search: Option<TicketSearch>,
}

/// Where a page of tickets ends, newest first: the last ticket's creation time and number.
/// Written `<created ms>.<id>` in links and `--after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketCursor {
    pub created_ms: i64,
    pub id: TicketId,
}

impl TicketCursor {
    pub fn of(t: &Ticket) -> TicketCursor {
        TicketCursor {
            created_ms: t.created_at.timestamp_millis(),
            id: t.id,
        }
    }

    pub fn parse(s: &str) -> Option<TicketCursor> {
        let (ms, id) = s.split_once('.')?;
        Some(TicketCursor {
            created_ms: ms.parse().ok()?,
            id: TicketId(id.parse().ok()?),
        })
    }
}

impl std::fmt::Display for TicketCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.created_ms, self.id.0)
    }
}

/// A search over tickets: the text in the title, the customer id, the problem kind or one of
/// its checks' ids (case-insensitive), or the ticket's number (`42`, `#42`); `checks` adds the
/// checks whose site matches (the caller reads targets from the configuration).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketSearch {
    pub text: String,
    pub checks: Vec<String>,
}

impl TicketSearch {
    /// The `LIKE` pattern of the text, lowercased, with `%`, `_` and `\\` taken literally.
    pub fn pattern(&self) -> String {
        let mut p = String::from("%");
        for c in self.text.trim().to_lowercase().chars() {
            if matches!(c, '%' | '_' | '\\') {
                p.push('\\');
            }
            p.push(c);
        }
        p.push('%');
        p
    }

    /// The ticket number the text names, if it is one.
    pub fn number(&self) -> Option<i64> {
        self.text.trim().trim_start_matches('#').parse().ok()
    }

    /// Whether a ticket matches, as the store's query decides (for lists filtered in memory,
    /// such as the queue).
    pub fn matches(&self, t: &Ticket) -> bool {
        let text = self.text.trim().to_lowercase();
        self.number() == Some(t.id.0)
            || t.title.to_lowercase().contains(&text)
            || t.customer.as_str().to_lowercase().contains(&text)
            || t.problem.to_lowercase().contains(&text)
            || t.checks.iter().any(|c| {
                c.as_str().to_lowercase().contains(&text)
                    || self.checks.iter().any(|s| s == c.as_str())
            })
    }

    /// The check ids, as a JSON array (bound as one parameter).
    pub fn checks_json(&self) -> String {
        serde_json::to_string(&self.checks).unwrap_or_else(|_| "[]".to_owned())
    }
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
    /// Inserts the ticket (status `new`), then its first events and messages from
    /// `first_words`, in one transaction; the messages are created and due at `created_at`.
    /// Returns the ticket with its id. If anything fails, nothing is written.
    async fn create_ticket(
        &self,
        new: NewTicket,
        first_words: FirstWords,
    ) -> Result<Ticket, StoreError> {
        self.create_ticket_taking(new, first_words, None).await
    }

    /// [`Self::create_ticket`], recording the inbound message that opened it in the same
    /// transaction: a message already recorded is `StoreError::Conflict` and nothing is written.
    async fn create_ticket_taking(
        &self,
        new: NewTicket,
        first_words: FirstWords,
        inbound: Option<InboundRecord>,
    ) -> Result<Ticket, StoreError>;

    /// Saves a changed ticket, appends events and queues messages (created and due at `now`)
    /// in one transaction. `expected` is the status the caller read: if the stored status
    /// differs (someone else changed it), nothing is written and `StoreError::Conflict` is
    /// returned; `StoreError::NotFound` if there is no such ticket.
    async fn save_ticket(
        &self,
        ticket: &Ticket,
        expected: TicketStatus,
        events: Vec<NewEvent>,
        messages: Vec<NewMessage>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.save_ticket_taking(ticket, expected, events, messages, now, None)
            .await
    }

    /// [`Self::save_ticket`], recording the inbound message that caused the change in the
    /// same transaction: a message already recorded is `StoreError::Conflict` and nothing is
    /// written.
    async fn save_ticket_taking(
        &self,
        ticket: &Ticket,
        expected: TicketStatus,
        events: Vec<NewEvent>,
        messages: Vec<NewMessage>,
        now: DateTime<Utc>,
        inbound: Option<InboundRecord>,
    ) -> Result<(), StoreError>;

    /// The ticket of the outbox message with this Message-ID (as queued, with its angle
    /// brackets), if it was a ticket's.
    async fn ticket_of_message_id(&self, message_id: &str) -> Result<Option<TicketId>, StoreError>;

    async fn ticket(&self, id: TicketId) -> Result<Option<Ticket>, StoreError>;

    /// Newest first.
    async fn tickets(&self, filter: &TicketFilter) -> Result<Vec<Ticket>, StoreError>;

    /// Oldest first.
    async fn timeline(&self, id: TicketId) -> Result<Vec<TimelineEvent>, StoreError>;

    /// The timelines of many tickets, each oldest first, in a few queries (the KPIs and the
    /// customer health read thousands; one query each took seconds). Tickets without events
    /// are absent.
    async fn timelines(
        &self,
        ids: &[TicketId],
    ) -> Result<std::collections::HashMap<TicketId, Vec<TimelineEvent>>, StoreError>;

    /// The newest ticket whose checks include `check` (open or not), for reopening.
    async fn latest_ticket_for_check(&self, check: &CheckId) -> Result<Option<Ticket>, StoreError>;

    /// Queues messages outside a ticket change (ops alerts), created and due at `now`. Keys
    /// already queued are ignored.
    async fn enqueue(
        &self,
        messages: Vec<NewMessage>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Claims up to `limit` pending messages whose next attempt is due, for `lease`: a claimed
    /// message is not claimed again until the lease ends (a worker that dies releases it that
    /// way). PostgreSQL: `FOR UPDATE SKIP LOCKED`. A message of a ticket is claimed only when
    /// no earlier message of that ticket in its lane ([`Channel::lane`]: mail, or the
    /// customer's webhook) is pending: a ticket's mails reach the customer in the order they
    /// were written, a later one never overtakes an earlier undelivered one, and a webhook
    /// that keeps failing never holds back a mail (nor a mail server the webhook).
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        self.claim_due_as(now, limit, lease, "").await
    }

    /// [`Self::claim_due`] by the named instance, whose claims end as soon as it is no longer
    /// a live member ([`Self::release_claims_except`]).
    async fn claim_due_as(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: Duration,
        by: &str,
    ) -> Result<Vec<OutboxMessage>, StoreError>;

    /// Ends the claims of every instance not in `live` (one that was killed): its messages go
    /// out now instead of after their lease. Returns how many.
    async fn release_claims_except(&self, live: &[String]) -> Result<u64, StoreError>;

    /// Ends the claims of `instance`: called by an instance as it starts, for the claims of its
    /// killed predecessor of the same name (none of them can be in progress). Returns how many.
    async fn release_claims_by(&self, instance: &str) -> Result<u64, StoreError>;

    /// Delivered: never sent again. Counts the attempt, ends the claim and appends
    /// `MailDelivered` to the ticket's timeline (messages of a ticket only), in one
    /// transaction. A message no longer pending (delivered or dead meanwhile) is left alone;
    /// an unknown id is `StoreError::NotFound`.
    async fn mark_delivered(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// Failed: retry at `retry_at`, or give up (`None`: status dead). Counts the attempt,
    /// keeps the error, ends the claim and appends `MailFailed` like [`Self::mark_delivered`].
    async fn mark_failed(
        &self,
        id: i64,
        at: DateTime<Utc>,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError>;

    /// Newest first.
    async fn outbox(&self, filter: &OutboxFilter) -> Result<Vec<OutboxMessage>, StoreError>;

    /// Ends every claim at once: for a process that starts as the only sender (no cluster), so
    /// messages a dead process had claimed go out now instead of after their lease. Returns
    /// how many.
    async fn release_claims(&self) -> Result<u64, StoreError>;

    /// Dead messages back to pending, due `now`, with their attempts counted from 0 again (the
    /// last error stays visible). Returns how many.
    async fn retry_dead(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Opens an incident. At most one incident per key is open: opening a second is
    /// `StoreError::Conflict`.
    async fn open_incident(
        &self,
        key: &str,
        at: DateTime<Utc>,
        checks: &[CheckId],
        customers: &[CustomerId],
        summary: &str,
    ) -> Result<Incident, StoreError>;

    /// Replaces the incident's checks, customers and summary (`StoreError::NotFound` if there
    /// is no such incident).
    async fn update_incident(&self, incident: &Incident) -> Result<(), StoreError>;

    /// Closes an open incident; closing a closed one changes nothing.
    async fn close_incident(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// Oldest first.
    async fn open_incidents(&self) -> Result<Vec<Incident>, StoreError>;

    /// The incident detector's per-check state, as JSON, so it survives a restart. Upserts
    /// the given checks' states (others stay), in one transaction.
    async fn save_detector_state(
        &self,
        states: &[(CheckId, serde_json::Value)],
    ) -> Result<(), StoreError>;

    /// Every saved state, by check id.
    async fn detector_states(&self) -> Result<Vec<(CheckId, serde_json::Value)>, StoreError>;
}

// ---------------------------------------------------------------------------------------------
// Shared between backends: column values and row conversions. Both backends select columns in
// the orders below (JSON columns as text), so one reader serves both.

pub(super) const TICKETS: &str = "tickets";
pub(super) const TICKET_EVENTS: &str = "ticket_events";
pub(super) const OUTBOX: &str = "outbox";
pub(super) const INCIDENTS: &str = "incidents";
pub(super) const DETECTOR_STATE: &str = "detector_state";

pub(super) use super::cells::{Cells, corrupt, opt_from_ms};

fn to_json<T: Serialize>(table: &'static str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt {
        table,
        reason: format!("cannot encode a value as JSON: {e}"),
    })
}

fn from_json<T: DeserializeOwned>(table: &'static str, json: &str) -> Result<T, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
        table,
        reason: format!("unreadable JSON {json:?}: {e}"),
    })
}

fn opt_ms(t: Option<DateTime<Utc>>) -> Option<i64> {
    t.map(to_ms)
}

fn origin_str(origin: Origin) -> &'static str {
    match origin {
        Origin::Monitoring => "monitoring",
        Origin::Customer => "customer",
        Origin::Staff => "staff",
    }
}

fn parse_origin(s: &str) -> Result<Origin, StoreError> {
    [Origin::Monitoring, Origin::Customer, Origin::Staff]
        .into_iter()
        .find(|o| origin_str(*o) == s)
        .ok_or_else(|| StoreError::Corrupt {
            table: TICKETS,
            reason: format!("unknown origin {s:?}"),
        })
}

pub(super) fn message_status_str(status: MessageStatus) -> &'static str {
    match status {
        MessageStatus::Pending => "pending",
        MessageStatus::Delivered => "delivered",
        MessageStatus::Dead => "dead",
    }
}

fn parse_message_status(s: &str) -> Result<MessageStatus, StoreError> {
    [
        MessageStatus::Pending,
        MessageStatus::Delivered,
        MessageStatus::Dead,
    ]
    .into_iter()
    .find(|m| message_status_str(*m) == s)
    .ok_or_else(|| StoreError::Corrupt {
        table: OUTBOX,
        reason: format!("unknown message status {s:?}"),
    })
}

/// A new ticket as it is first stored: status `new`, nothing done yet, id 0 until inserted.
pub(super) fn ticket_of_new(new: NewTicket) -> Ticket {
    Ticket {
        id: TicketId(0),
        customer: new.customer,
        title: new.title,
        problem: new.problem,
        severity: new.severity,
        status: TicketStatus::New,
        origin: new.origin,
        checks: new.checks,
        incident: new.incident,
        assignee: new.assignee,
        skill_group: new.skill_group,
        created_at: new.created_at,
        acknowledged_at: None,
        first_update_at: None,
        resolved_at: None,
        closed_at: None,
        ack_due: new.ack_due,
        first_update_due: new.first_update_due,
        resolve_due: new.resolve_due,
        next_update_due: new.next_update_due,
        paused_since: None,
        reopen_count: 0,
        version: 0,
    }
}

/// Every column of `tickets` but the id, in parameter order 1..=21 (see [`bind_ticket`]).
pub(super) struct TicketValues<'a> {
    pub customer: &'a str,
    pub title: &'a str,
    pub problem: &'a str,
    pub severity: &'static str,
    pub status: &'static str,
    pub origin: &'static str,
    pub checks: String,
    pub incident: Option<i64>,
    pub assignee: Option<&'a str>,
    pub skill_group: &'a str,
    pub created_ms: i64,
    pub acknowledged_ms: Option<i64>,
    pub first_update_ms: Option<i64>,
    pub resolved_ms: Option<i64>,
    pub closed_ms: Option<i64>,
    pub ack_due_ms: Option<i64>,
    pub first_update_due_ms: Option<i64>,
    pub resolve_due_ms: Option<i64>,
    pub next_update_due_ms: Option<i64>,
    pub paused_since_ms: Option<i64>,
    pub reopen_count: i64,
}

impl<'a> TicketValues<'a> {
    pub(super) fn of(t: &'a Ticket) -> Result<Self, StoreError> {
        Ok(TicketValues {
            customer: t.customer.as_str(),
            title: &t.title,
            problem: &t.problem,
            severity: t.severity.as_str(),
            status: t.status.as_str(),
            origin: origin_str(t.origin),
            checks: to_json(TICKETS, &t.checks)?,
            incident: t.incident,
            assignee: t.assignee.as_deref(),
            skill_group: &t.skill_group,
            created_ms: to_ms(t.created_at),
            acknowledged_ms: opt_ms(t.acknowledged_at),
            first_update_ms: opt_ms(t.first_update_at),
            resolved_ms: opt_ms(t.resolved_at),
            closed_ms: opt_ms(t.closed_at),
            ack_due_ms: opt_ms(t.ack_due),
            first_update_due_ms: opt_ms(t.first_update_due),
            resolve_due_ms: opt_ms(t.resolve_due),
            next_update_due_ms: opt_ms(t.next_update_due),
            paused_since_ms: opt_ms(t.paused_since),
            reopen_count: i64::from(t.reopen_count),
        })
    }
}

/// Binds [`TicketValues`] as parameters 1..=21 of a query of either backend.
macro_rules! bind_ticket {
    ($query:expr, $v:expr) => {{
        let v = &$v;
        $query
            .bind(v.customer)
            .bind(v.title)
            .bind(v.problem)
            .bind(v.severity)
            .bind(v.status)
            .bind(v.origin)
            .bind(v.checks.as_str())
            .bind(v.incident)
            .bind(v.assignee)
            .bind(v.skill_group)
            .bind(v.created_ms)
            .bind(v.acknowledged_ms)
            .bind(v.first_update_ms)
            .bind(v.resolved_ms)
            .bind(v.closed_ms)
            .bind(v.ack_due_ms)
            .bind(v.first_update_due_ms)
            .bind(v.resolve_due_ms)
            .bind(v.next_update_due_ms)
            .bind(v.paused_since_ms)
            .bind(v.reopen_count)
    }};
}
pub(super) use bind_ticket;

/// The columns of `tickets` after the id, as named in the tables; `checks` is JSON.
pub(super) const TICKET_VALUE_COLUMNS: [&str; 21] = [
    "customer_id",
    "title",
    "problem",
    "severity",
    "status",
    "origin",
    "checks",
    "incident_id",
    "assignee",
    "skill_group",
    "created_ms",
    "acknowledged_ms",
    "first_update_ms",
    "resolved_ms",
    "closed_ms",
    "ack_due_ms",
    "first_update_due_ms",
    "resolve_due_ms",
    "next_update_due_ms",
    "paused_since_ms",
    "reopen_count",
];

/// Reads a ticket selected as `id` then [`TICKET_VALUE_COLUMNS`] (checks as text).
pub(super) fn ticket_from_row(row: &impl Cells) -> Result<Ticket, StoreError> {
    const T: &str = TICKETS;
    let bad = corrupt(T);
    let ms = |i| row.int(i).map_err(&bad).and_then(|ms| from_ms(T, ms));
    let opt = |i| {
        row.opt_int(i)
            .map_err(&bad)
            .and_then(|ms| opt_from_ms(T, ms))
    };
    let severity = row.text(4).map_err(&bad)?;
    let status = row.text(5).map_err(&bad)?;
    let checks: Vec<String> = from_json(T, &row.text(7).map_err(&bad)?)?;
    Ok(Ticket {
        id: TicketId(row.int(0).map_err(&bad)?),
        customer: parse_customer_id(T, &row.text(1).map_err(&bad)?)?,
        title: row.text(2).map_err(&bad)?,
        problem: row.text(3).map_err(&bad)?,
        severity: Severity::parse(&severity).ok_or_else(|| StoreError::Corrupt {
            table: T,
            reason: format!("unknown severity {severity:?}"),
        })?,
        status: TicketStatus::parse(&status).ok_or_else(|| StoreError::Corrupt {
            table: T,
            reason: format!("unknown status {status:?}"),
        })?,
        origin: parse_origin(&row.text(6).map_err(&bad)?)?,
        checks: checks
            .iter()
            .map(|c| parse_check_id(T, c))
            .collect::<Result<_, _>>()?,
        incident: row.opt_int(8).map_err(&bad)?,
        assignee: row.opt_text(9).map_err(&bad)?,
        skill_group: row.text(10).map_err(&bad)?,
        created_at: ms(11)?,
        acknowledged_at: opt(12)?,
        first_update_at: opt(13)?,
        resolved_at: opt(14)?,
        closed_at: opt(15)?,
        ack_due: opt(16)?,
        first_update_due: opt(17)?,
        resolve_due: opt(18)?,
        next_update_due: opt(19)?,
        paused_since: opt(20)?,
        reopen_count: u32::try_from(row.int(21).map_err(&bad)?).unwrap_or(u32::MAX),
        version: row.int(22).map_err(&bad)?,
    })
}

/// One timeline event's column values. The kind is kept twice: as text for people querying by
/// hand, and inside the JSON payload, which is what is read back.
pub(super) struct EventValues {
    pub at_ms: i64,
    pub actor: String,
    pub public: bool,
    pub kind: String,
    pub payload: String,
}

impl EventValues {
    pub(super) fn of(e: &NewEvent) -> Result<Self, StoreError> {
        let payload = serde_json::to_value(&e.kind).map_err(|err| StoreError::Corrupt {
            table: TICKET_EVENTS,
            reason: format!("cannot encode an event as JSON: {err}"),
        })?;
        let kind = payload
            .get("kind")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned();
        Ok(EventValues {
            at_ms: to_ms(e.at),
            actor: to_json(TICKET_EVENTS, &e.actor)?,
            public: e.public,
            kind,
            payload: payload.to_string(),
        })
    }
}

/// Reads an event selected as `ticket_id, at_ms, actor, public, payload` (JSON as text).
pub(super) fn event_from_row(row: &impl Cells) -> Result<TimelineEvent, StoreError> {
    const T: &str = TICKET_EVENTS;
    let bad = corrupt(T);
    Ok(TimelineEvent {
        ticket: TicketId(row.int(0).map_err(&bad)?),
        at: from_ms(T, row.int(1).map_err(&bad)?)?,
        actor: from_json::<Actor>(T, &row.text(2).map_err(&bad)?)?,
        public: row.flag(3).map_err(&bad)?,
        kind: from_json::<EventKind>(T, &row.text(4).map_err(&bad)?)?,
    })
}

/// One message's column values, for `INSERT … ON CONFLICT (key) DO NOTHING`.
pub(super) struct MessageValues<'a> {
    pub key: &'a str,
    pub ticket: Option<i64>,
    pub channel: String,
    pub subject: &'a str,
    pub body: &'a str,
    pub message_id: &'a str,
    /// JSON.
    pub extras: String,
    /// The order it keeps within its ticket's messages: `mail` or `hook`.
    pub lane: &'static str,
}

impl<'a> MessageValues<'a> {
    pub(super) fn of(m: &'a NewMessage) -> Result<Self, StoreError> {
        Ok(MessageValues {
            key: &m.key,
            ticket: m.ticket.map(|t| t.0),
            channel: to_json(OUTBOX, &m.channel)?,
            subject: &m.subject,
            body: &m.body,
            message_id: &m.message_id,
            extras: to_json(OUTBOX, &m.extras)?,
            lane: m.channel.lane(),
        })
    }
}

/// The columns [`outbox_from_row`] reads, in order (`channel` and `extras` as text on
/// PostgreSQL).
pub(super) const OUTBOX_COLUMNS: [&str; 14] = [
    "id",
    "key",
    "ticket_id",
    "channel",
    "subject",
    "body",
    "message_id",
    "status",
    "created_ms",
    "attempts",
    "next_attempt_ms",
    "delivered_ms",
    "last_error",
    "extras",
];

pub(super) fn outbox_from_row(row: &impl Cells) -> Result<OutboxMessage, StoreError> {
    const T: &str = OUTBOX;
    let bad = corrupt(T);
    Ok(OutboxMessage {
        id: row.int(0).map_err(&bad)?,
        key: row.text(1).map_err(&bad)?,
        ticket: row.opt_int(2).map_err(&bad)?.map(TicketId),
        channel: from_json::<Channel>(T, &row.text(3).map_err(&bad)?)?,
        subject: row.text(4).map_err(&bad)?,
        body: row.text(5).map_err(&bad)?,
        message_id: row.text(6).map_err(&bad)?,
        status: parse_message_status(&row.text(7).map_err(&bad)?)?,
        created_at: from_ms(T, row.int(8).map_err(&bad)?)?,
        attempts: u32::try_from(row.int(9).map_err(&bad)?).unwrap_or(u32::MAX),
        next_attempt_at: from_ms(T, row.int(10).map_err(&bad)?)?,
        delivered_at: opt_from_ms(T, row.opt_int(11).map_err(&bad)?)?,
        last_error: row.opt_text(12).map_err(&bad)?,
        extras: from_json::<MailExtras>(T, &row.text(13).map_err(&bad)?)?,
    })
}

/// The outcome of a delivery attempt, as the timeline records it.
pub(super) enum Attempt<'a> {
    Delivered,
    /// Retry at `retry_at`, or give up (`None`).
    Failed {
        error: &'a str,
        retry_at: Option<DateTime<Utc>>,
    },
}

/// The timeline event for an attempt at a ticket's message, from the message's `message_id`
/// and `channel` (JSON). A webhook's URL may hold a token: only its host is recorded.
pub(super) fn attempt_event(
    message_id: String,
    channel: &str,
    at: DateTime<Utc>,
    attempt: Attempt<'_>,
) -> Result<EventValues, StoreError> {
    let kind = match attempt {
        Attempt::Delivered => {
            let to = match from_json::<Channel>(OUTBOX, channel)? {
                Channel::Email { to } => to,
                Channel::Webhook { url, .. } => {
                    let host = url::Url::parse(&url)
                        .ok()
                        .and_then(|u| u.host_str().map(str::to_owned))
                        .unwrap_or_default();
                    vec![format!("webhook {host}")]
                }
                Channel::Telegram { chat_id } => vec![format!("telegram chat {chat_id}")],
                Channel::CustomerWebhook { customer } => vec![format!("webhook of {customer}")],
            };
            EventKind::MailDelivered { message_id, to }
        }
        Attempt::Failed { error, .. } => EventKind::MailFailed {
            message_id,
            error: error.to_owned(),
        },
    };
    EventValues::of(&NewEvent {
        at,
        actor: Actor::System,
        public: false,
        kind,
    })
}

/// The lease's end in ms, saturating.
pub(super) fn lease_end_ms(now: DateTime<Utc>, lease: Duration) -> i64 {
    to_ms(now).saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX))
}

/// Reads an incident selected as `id, key, opened_ms, closed_ms, checks, customers, summary`.
pub(super) fn incident_from_row(row: &impl Cells) -> Result<Incident, StoreError> {
    const T: &str = INCIDENTS;
    let bad = corrupt(T);
    let checks: Vec<String> = from_json(T, &row.text(4).map_err(&bad)?)?;
    let customers: Vec<String> = from_json(T, &row.text(5).map_err(&bad)?)?;
    Ok(Incident {
        id: row.int(0).map_err(&bad)?,
        key: row.text(1).map_err(&bad)?,
        opened_at: from_ms(T, row.int(2).map_err(&bad)?)?,
        closed_at: opt_from_ms(T, row.opt_int(3).map_err(&bad)?)?,
        checks: checks
            .iter()
            .map(|c| parse_check_id(T, c))
            .collect::<Result<_, _>>()?,
        customers: customers
            .iter()
            .map(|c| parse_customer_id(T, c))
            .collect::<Result<_, _>>()?,
        summary: row.text(6).map_err(&bad)?,
    })
}

/// An incident's checks and customers as JSON.
pub(super) fn incident_json(
    checks: &[CheckId],
    customers: &[CustomerId],
) -> Result<(String, String), StoreError> {
    Ok((
        to_json(INCIDENTS, &checks)?,
        to_json(INCIDENTS, &customers)?,
    ))
}

/// Detector states as (check id, JSON) pairs, the last one winning for a check given twice.
pub(super) fn detector_rows(
    states: &[(CheckId, serde_json::Value)],
) -> Result<Vec<(String, String)>, StoreError> {
    let mut by_check = BTreeMap::new();
    for (id, state) in states {
        by_check.insert(id.as_str(), to_json(DETECTOR_STATE, state)?);
    }
    Ok(by_check
        .into_iter()
        .map(|(id, json)| (id.to_owned(), json))
        .collect())
}

pub(super) fn detector_from_row(
    row: &impl Cells,
) -> Result<(CheckId, serde_json::Value), StoreError> {
    const T: &str = DETECTOR_STATE;
    let bad = corrupt(T);
    Ok((
        parse_check_id(T, &row.text(0).map_err(&bad)?)?,
        from_json(T, &row.text(1).map_err(&bad)?)?,
    ))
}

/// `StoreError::Conflict` for a unique violation (`what` names the thing), else a query error.
pub(super) fn unique_conflict(
    doing: &'static str,
    what: impl FnOnce() -> String,
) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |error| match error.as_database_error() {
        Some(db) if db.is_unique_violation() => StoreError::Conflict { what: what() },
        _ => super::query_err(doing)(error),
    }
}
