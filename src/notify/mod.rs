//! Notifications: a transactional outbox and the worker that delivers it.
//!
//! A ticket change and the messages it causes are committed together (`store`); a delivery
//! worker ([`worker::run_worker`]) claims due messages, sends them (SMTP through lettre, a mail
//! folder when no SMTP server is configured, or a JSON webhook), and records the outcome. Each
//! message has an idempotency key (never queued twice) and a stable Message-ID.
//!
//! **Goes out once.** A message is marked delivered right after the SMTP server accepts it
//! (or the webhook answers 2xx, or the file is written). A crash, or a store failure, between
//! that acceptance and `mark_delivered` leaves the message claimed; when its lease ends it is
//! claimed and sent again. That resend carries the **same Message-ID** (and the webhook the same
//! `Idempotency-Key` header), so mail clients and receivers can recognise the duplicate. This is
//! the only way a message goes out twice; SMTP offers no atomic "accept and acknowledge".
//!
//! A customer with `webhook = { url, secret }` also gets every mail they are told as a signed
//! JSON event ([`customer_hook`]): its own outbox message, queued with the mail, retried like
//! it, in its own lane so that neither waits for the other.
//!
//! Failures are data: [`DeliveryError::Transient`] (connection refused, timeouts, SMTP 4xx,
//! HTTP 5xx/408/429) is retried with exponential backoff and jitter up to
//! [`worker::WorkerOptions::max_attempts`]; [`DeliveryError::Permanent`] (SMTP 5xx such as an
//! unknown recipient, HTTP 4xx, an invalid address) is given up at once. Either way the error
//! is kept on the message (`forewarn outbox list`) and on the ticket's timeline.
//!
//! Architecture invariant: the SMTP password appears only in the lettre transport; it is never
//! logged, never in a `Debug` output, never in an outbox error.

pub mod config;
pub mod customer_hook;
pub mod direct;
pub mod html;
pub mod mailer;
pub mod model;
pub mod ops;
pub mod telegram;
pub mod webhook;
pub mod worker;

pub use config::{MailConfig, MailTransport, OpsConfig, Security};
pub use customer_hook::{CustomerHooks, HookEvent, HookKind};
pub use mailer::{Letterhead, Mailer, MailerError};
pub use model::{Button, Channel, MailExtras, MessageStatus, NewMessage, OutboxMessage};
pub use telegram::Telegram;
pub use webhook::Webhook;
pub use worker::{Backoff, Senders, WorkerHandle, WorkerOptions, run_worker};

/// Why a message was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth another attempt later.
    #[error("{0}")]
    Transient(String),
    /// Another attempt would fail the same way.
    #[error("{0}")]
    Permanent(String),
}

impl DeliveryError {
    pub fn is_permanent(&self) -> bool {
        matches!(self, DeliveryError::Permanent(_))
    }

    pub fn message(&self) -> &str {
        match self {
            DeliveryError::Transient(m) | DeliveryError::Permanent(m) => m,
        }
    }
}
