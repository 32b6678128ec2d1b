//! Outbox records.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ticket::model::TicketId;

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Channel {
    /// An e-mail to these addresses (customer contacts or the ops list).
    Email { to: Vec<String> },
    /// A JSON POST; `slack = true` sends a Slack-compatible `{"text": …}` payload.
    Webhook { url: String, slack: bool },
}

/// A message to queue. `key` makes queuing idempotent: a second message with the same key is
/// ignored (e.g. `ticket-12/opened`, `ticket-12/update-3`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMessage {
    pub key: String,
    pub ticket: Option<TicketId>,
    pub channel: Channel,
    pub subject: String,
    /// Plain text.
    pub body: String,
    /// Stable across retries: `<key-hash@forewarn.host>`.
    pub message_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// Waiting for its next attempt.
    Pending,
    Delivered,
    /// Gave up after the maximum attempts (still listed; `forewarn outbox retry` requeues).
    Dead,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxMessage {
    pub id: i64,
    pub key: String,
    pub ticket: Option<TicketId>,
    pub channel: Channel,
    pub subject: String,
    pub body: String,
    pub message_id: String,
    pub status: MessageStatus,
    pub created_at: DateTime<Utc>,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}
