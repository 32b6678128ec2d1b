//! Notifications: a transactional outbox and the worker that delivers it.
//!
//! A ticket change and the messages it causes are committed together (`store`); a delivery
//! worker claims due messages, sends them (SMTP through lettre, a mail folder when no SMTP
//! server is configured, or a JSON webhook), and records the outcome. Each message has an
//! idempotency key (never queued twice) and a stable Message-ID (a resend after a crash in the
//! middle of an SMTP delivery is recognisable).

pub mod model;

pub use model::{Channel, MessageStatus, NewMessage, OutboxMessage};
