//! A customer's own webhook (`webhook = { url, secret }` in their `[customer]`), for hosters
//! who feed their own portals: whatever the customer is told by mail is also POSTed there as
//! JSON ([`HookEvent`]), signed with HMAC-SHA256.
//!
//! **Queued with the mail.** [`message`] makes the event's outbox message beside the mail it
//! mirrors, so both commit in the ticket change's transaction. The message names only the
//! customer ([`Channel::CustomerWebhook`]): URL and secret are looked up in the running
//! configuration at delivery ([`CustomerHooks`]), so the secret never reaches the store, and a
//! changed URL or secret applies to what is still waiting.
//!
//! **Signed at delivery.** The body is sent byte for byte as queued; the header
//! `X-Forewarn-Signature: t=<unix seconds>,v1=<hex>` carries the HMAC-SHA256 of
//! `<t>.<body>` under the secret (Stripe's scheme: the timestamp inside the signature stops a
//! replay later). Every attempt signs anew with its own time; the event id stays.
//!
//! **Once, in order, never in the way.** The event id (`id`, also `X-Forewarn-Event-Id` and
//! `Idempotency-Key`) is the same on every attempt: a receiver that saw it already answers 2xx
//! and does nothing. A ticket's events keep their order in their own outbox lane, apart from
//! its mails: a portal that is down delays only its own events.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ring::hmac;
use serde::{Deserialize, Serialize};

use super::{Channel, MailExtras, NewMessage};
use crate::config::{Config, Customer, CustomerWebhook};
use crate::model::CustomerId;
use crate::playbook::MessageKind;
use crate::ticket::model::Ticket;

/// The header with the signature: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
pub const SIGNATURE_HEADER: &str = "X-Forewarn-Signature";
/// The header with the event's id (also sent as `Idempotency-Key`).
pub const EVENT_ID_HEADER: &str = "X-Forewarn-Event-Id";

/// What the customer was told, as a closed list (the JSON's `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookKind {
    /// A ticket opened (by monitoring, or the customer's own request acknowledged).
    Opened,
    /// A staff update.
    Update,
    /// "Still working on it", when no update came before the promised time.
    AutomaticUpdate,
    Resolved,
    Reopened,
    /// A heads-up before anything breaks (a certificate or a disk).
    Warning,
    /// The follow-up survey after a resolution…
    Survey,
    /// …and its one reminder.
    SurveyReminder,
    /// Advance notice of a maintenance window (no ticket).
    Maintenance,
}

impl From<MessageKind> for HookKind {
    fn from(kind: MessageKind) -> HookKind {
        match kind {
            MessageKind::Opened => HookKind::Opened,
            MessageKind::Update => HookKind::Update,
            MessageKind::AutomaticUpdate => HookKind::AutomaticUpdate,
            MessageKind::Resolved => HookKind::Resolved,
            MessageKind::Reopened => HookKind::Reopened,
            MessageKind::Warning => HookKind::Warning,
        }
    }
}

impl HookKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HookKind::Opened => "opened",
            HookKind::Update => "update",
            HookKind::AutomaticUpdate => "automatic_update",
            HookKind::Resolved => "resolved",
            HookKind::Reopened => "reopened",
            HookKind::Warning => "warning",
            HookKind::Survey => "survey",
            HookKind::SurveyReminder => "survey_reminder",
            HookKind::Maintenance => "maintenance",
        }
    }
}

/// The JSON a customer's webhook receives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookEvent {
    /// Stable for this event across every attempt: `evt_` and 24 hex digits.
    pub id: String,
    pub kind: HookKind,
    pub customer: CustomerId,
    /// The ticket number (none for a maintenance notice).
    pub ticket: Option<i64>,
    /// `P1` … `P4`.
    pub severity: Option<String>,
    /// The ticket's status after the change: `new`, `in_progress`, `resolved`, …
    pub status: Option<String>,
    /// The language of `subject` and `text` (the customer's).
    pub language: String,
    /// The mail's subject and text, as the customer reads them.
    pub subject: String,
    pub text: String,
    /// When the customer hears next at the latest (RFC 3339, UTC).
    pub next_update_by: Option<DateTime<Utc>>,
    /// The customer's page of the ticket (a signed link), when there is one.
    pub link: Option<String>,
    /// When the event was written (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
}

/// One mail to mirror: what it says, about which ticket.
#[derive(Debug, Clone, Copy)]
pub struct Told<'a> {
    pub kind: HookKind,
    /// The mail's idempotency key; the event's is `<key>/hook`.
    pub key: &'a str,
    pub ticket: Option<&'a Ticket>,
    pub subject: &'a str,
    pub text: &'a str,
    pub link: Option<&'a str>,
    pub at: DateTime<Utc>,
}

/// The webhook event mirroring a customer mail, or `None` when the customer has no webhook.
pub fn message(config: &Config, customer: &Customer, told: Told<'_>) -> Option<NewMessage> {
    customer.webhook.as_ref()?;
    let key = format!("{}/hook", told.key);
    let event = HookEvent {
        id: event_id(&config.installation, &key),
        kind: told.kind,
        customer: customer.id.clone(),
        ticket: told.ticket.map(|t| t.id.0),
        severity: told.ticket.map(|t| t.severity.as_str().to_owned()),
        status: told.ticket.map(|t| t.status.as_str().to_owned()),
        language: customer.language.as_str().to_owned(),
        subject: told.subject.to_owned(),
        text: told.text.to_owned(),
        next_update_by: told.ticket.and_then(|t| t.next_update_due),
        link: told.link.map(str::to_owned),
        created_at: told.at,
    };
    let body = serde_json::to_string(&event).expect("an event is always JSON");
    Some(NewMessage {
        message_id: super::ops::message_id(config, &key),
        key,
        ticket: told.ticket.map(|t| t.id),
        channel: Channel::CustomerWebhook {
            customer: customer.id.clone(),
        },
        subject: format!("{} event", told.kind.as_str()),
        body,
        extras: MailExtras::default(),
    })
}

/// `evt_` and 24 hex digits of SHA-256(installation, key): the same for every attempt, never
/// the same for two installations.
fn event_id(installation: &str, key: &str) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(installation.as_bytes());
    ctx.update(b"\n");
    ctx.update(key.as_bytes());
    format!("evt_{}", hex(&ctx.finish().as_ref()[..12]))
}

/// The event id inside a queued body (for the headers); `None` for a body that is not an event.
pub fn event_id_of(body: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Id {
        id: String,
    }
    serde_json::from_str::<Id>(body).ok().map(|i| i.id)
}

/// The `X-Forewarn-Signature` value for `body` sent at `timestamp` (unix seconds).
pub fn signature_header(secret: &crate::secret::Secret, timestamp: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.expose().as_bytes());
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    format!("t={timestamp},v1={}", hex(ctx.sign().as_ref()))
}

/// Why a signature was refused (for receivers written in Rust, and the tests).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the signature header is not `t=<unix seconds>,v1=<hex>`")]
    Malformed,
    #[error("the signature was made {0} s away from now, more than the tolerance")]
    Stale(i64),
    #[error("the signature does not match the body and secret")]
    Mismatch,
}

/// Checks a `X-Forewarn-Signature` value against `body` and `secret`, in constant time;
/// `tolerance_secs` bounds the distance between its timestamp and `now` (replays).
pub fn verify(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), VerifyError> {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1.push(unhex(v).ok_or(VerifyError::Malformed)?),
            _ => {}
        }
    }
    let t = t.ok_or(VerifyError::Malformed)?;
    if v1.is_empty() {
        return Err(VerifyError::Malformed);
    }
    if (now - t).abs() > tolerance_secs {
        return Err(VerifyError::Stale(now - t));
    }
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body);
    v1.iter()
        .any(|sig| hmac::verify(&key, &signed, sig).is_ok())
        .then_some(())
        .ok_or(VerifyError::Mismatch)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Where the delivery worker finds a customer's webhook at delivery: the running
/// configuration's (`forewarn serve` gives it the reloadable config). Without one, every
/// customer webhook message fails permanently, saying so.
#[derive(Clone, Default)]
pub struct CustomerHooks(Option<Arc<Lookup>>);

/// A customer's webhook as configured now.
type Lookup = dyn Fn(&CustomerId) -> Option<Arc<CustomerWebhook>> + Send + Sync;

impl CustomerHooks {
    pub fn new(
        lookup: impl Fn(&CustomerId) -> Option<Arc<CustomerWebhook>> + Send + Sync + 'static,
    ) -> CustomerHooks {
        CustomerHooks(Some(Arc::new(lookup)))
    }

    /// The customer's webhook as configured now.
    pub fn get(&self, customer: &CustomerId) -> Option<Arc<CustomerWebhook>> {
        self.0.as_ref().and_then(|f| f(customer))
    }
}

impl fmt::Debug for CustomerHooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Some(_) => "CustomerHooks(config)",
            None => "CustomerHooks(none)",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[test]
    fn a_signature_verifies_with_its_secret_only() {
        let secret = Secret::new("0123456789abcdef0123");
        let body = br#"{"id":"evt_1","kind":"opened"}"#;
        let header = signature_header(&secret, 1_700_000_000, body);
        assert!(header.starts_with("t=1700000000,v1="), "{header}");
        assert_eq!(
            verify(
                secret.expose().as_bytes(),
                &header,
                body,
                1_700_000_010,
                300
            ),
            Ok(())
        );
        assert_eq!(
            verify(b"another secret of 16+", &header, body, 1_700_000_010, 300),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(
                secret.expose().as_bytes(),
                &header,
                b"{}",
                1_700_000_010,
                300
            ),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(
                secret.expose().as_bytes(),
                &header,
                body,
                1_700_001_000,
                300
            ),
            Err(VerifyError::Stale(1000))
        );
        assert_eq!(
            verify(secret.expose().as_bytes(), "v1=00", body, 0, 300),
            Err(VerifyError::Malformed)
        );
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // RFC 4231's key "Jefe" over "0.what do ya want for nothing?", as Python's
        // hmac.new(b"Jefe", b"0.what …", hashlib.sha256).hexdigest() writes it.
        let secret = Secret::new("Jefe");
        let header = signature_header(&secret, 0, b"what do ya want for nothing?");
        assert_eq!(
            header,
            "t=0,v1=37f471929915ccd2cbbe79feb84ffcff4f2bb25e15fc41c2506687331ae179cc"
        );
    }

    #[test]
    fn event_ids_are_stable_and_per_installation() {
        let a = event_id("inst-a", "ticket-1/opened/hook");
        assert_eq!(a, event_id("inst-a", "ticket-1/opened/hook"));
        assert_ne!(a, event_id("inst-b", "ticket-1/opened/hook"));
        assert_eq!(a.len(), 4 + 24);
        let body = format!(r#"{{"id":"{a}","kind":"opened"}}"#);
        assert_eq!(event_id_of(&body), Some(a));
    }
}
