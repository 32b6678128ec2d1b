//! Outbox records.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{CustomerId, Language};
use crate::ticket::model::TicketId;

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Channel {
    /// An e-mail to these addresses (customer contacts or the ops list).
    Email { to: Vec<String> },
    /// A JSON POST; `slack = true` sends a Slack-compatible `{"text": …}` payload.
    Webhook { url: String, slack: bool },
    /// A Telegram bot message to this chat (`[ops.telegram]`; the token stays in the config).
    Telegram { chat_id: i64 },
    /// A customer's own webhook (`webhook = { … }` in their `[customer]`): the body is the
    /// event's JSON, signed at delivery; URL and secret stay in the config.
    CustomerWebhook { customer: CustomerId },
}

impl Channel {
    /// The order a ticket's messages keep among themselves: the customer's webhook events in
    /// their own lane (`hook`), everything else in `mail`, so neither waits for the other.
    pub fn lane(&self) -> &'static str {
        match self {
            Channel::CustomerWebhook { .. } => "hook",
            Channel::Email { .. } | Channel::Webhook { .. } | Channel::Telegram { .. } => "mail",
        }
    }

    /// The low-cardinality name logs and metrics use.
    pub fn kind(&self) -> &'static str {
        match self {
            Channel::Email { .. } => "email",
            Channel::Webhook { .. } => "webhook",
            Channel::Telegram { .. } => "telegram",
            Channel::CustomerWebhook { .. } => "customer_webhook",
        }
    }
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
    /// What the HTML part and the headers need beyond the text.
    pub extras: MailExtras,
}

/// What a mail carries beyond subject and text, stored with its outbox row (JSON; a row
/// written before there were extras reads as the default: a text-only, automatic mail).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MailExtras {
    /// The customer's language. A customer mail has one and goes out as text + HTML with
    /// `Content-Language`, from the hoster's name; an ops alert has none and stays text only.
    pub language: Option<Language>,
    /// Links the HTML part shows as buttons (the survey's ratings, then "solved" and "not
    /// solved"), each also written out in the text.
    pub buttons: Vec<Button>,
    /// The survey's unsubscribe link, for `List-Unsubscribe`.
    pub unsubscribe: Option<String>,
    /// A person wrote it (a staff update, question or resolution): it goes out without
    /// `Auto-Submitted: auto-generated`, like a mail from a colleague.
    pub personal: bool,
}

/// A labelled link of a mail: a button in its HTML part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    pub label: String,
    pub url: String,
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
    pub extras: MailExtras,
    pub status: MessageStatus,
    pub created_at: DateTime<Utc>,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}
