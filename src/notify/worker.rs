//! The delivery worker: claims due outbox messages, sends them, records the outcome.
//!
//! One round: `claim_due(now, concurrency, lease)` → send every claimed message at once (at
//! most `concurrency`, each bounded by a timeout shorter than the lease) → `mark_delivered`, or
//! `mark_failed` with the next attempt time (exponential backoff with jitter, capped) or `None`
//! (give up: permanent failure or too many attempts). A full round is followed by another at
//! once; otherwise the worker sleeps until the poll interval ends or [`WorkerHandle::wake`] is
//! called, so a freshly queued message leaves within milliseconds.
//!
//! Claiming only as many messages as are sent at once keeps every claimed message inside its
//! lease: none waits for a free slot while its lease runs out (which would let another worker
//! claim and send it too).

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::FutureExt;
use tokio::sync::Notify;

use super::mailer::Mailer;
use super::webhook::Webhook;
use super::{Channel, DeliveryError, OutboxMessage};
use crate::store::tickets::TicketStore;

/// Exponential backoff: `base · 2^(failed − 1)`, capped at `max`, then up to `jitter` of it
/// taken off at random so that messages failed together do not retry together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
    /// 0.0 (none) … 1.0.
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(10),
            max: Duration::from_secs(3600),
            jitter: 0.2,
        }
    }
}

impl Backoff {
    /// How many attempts fit in `span` with this backoff (no jitter): the attempt limit that
    /// gives a message up about `span` after its first failure.
    pub fn attempts_within(&self, span: Duration) -> u32 {
        let mut waited = Duration::ZERO;
        let mut attempts = 1u32;
        while waited < span && attempts < 1_000_000 {
            waited += self.delay(attempts, 0.0).max(Duration::from_millis(1));
            attempts += 1;
        }
        attempts
    }

    /// The wait after `failed` failed attempts (1 for the first failure). `sample` in
    /// `[0, 1]` picks the jitter: 0 waits the full delay, 1 takes `jitter` of it off.
    pub fn delay(&self, failed: u32, sample: f64) -> Duration {
        let exponent = failed.saturating_sub(1).min(30);
        let full = self.base.saturating_mul(1u32 << exponent).min(self.max);
        let off = self.jitter.clamp(0.0, 1.0) * sample.clamp(0.0, 1.0);
        full.mul_f64(1.0 - off)
    }
}

/// Wakes the worker, e.g. right after a ticket change queued messages.
#[derive(Debug, Clone, Default)]
pub struct WorkerHandle(Arc<Notify>);

impl WorkerHandle {
    /// A wake while the worker is busy is kept: it runs another round right after.
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// How often the outbox is looked at when nobody wakes the worker.
    pub poll_interval: Duration,
    /// Messages claimed and sent at once.
    pub concurrency: u32,
    /// How long a claimed message stays reserved; a delivery never takes longer than half.
    pub lease: Duration,
    /// Attempts before a message is given up (status dead, `forewarn outbox retry` requeues).
    pub max_attempts: u32,
    pub backoff: Backoff,
    pub webhook_timeout: Duration,
    pub wake: WorkerHandle,
    /// This worker is the only one (one instance on SQLite): at start it ends every claim, so
    /// messages a killed process had claimed go out at once rather than after their lease.
    pub sole_sender: bool,
    /// The instance that claims (its claims end when it leaves the cluster's live members).
    pub instance: String,
    /// Where customers' own webhooks are found at delivery (the running configuration).
    pub customer_hooks: super::customer_hook::CustomerHooks,
}

impl WorkerOptions {
    /// The options `[mail]` asks for: its retry waits and give-up time, and a lease longer
    /// than twice the longest delivery.
    pub fn from_mail(mail: &super::config::MailConfig) -> WorkerOptions {
        let defaults = WorkerOptions::default();
        let backoff = Backoff {
            base: mail.retry.after,
            max: mail.retry.max.max(mail.retry.after),
            jitter: defaults.backoff.jitter,
        };
        let longest = match &mail.transport {
            super::config::MailTransport::Smtp { timeout, .. } => timeout.saturating_mul(4),
            super::config::MailTransport::Folder(_) => Duration::from_secs(10),
        };
        WorkerOptions {
            lease: (longest.saturating_mul(2) + Duration::from_secs(5))
                .max(defaults.webhook_timeout.saturating_mul(2)),
            max_attempts: backoff.attempts_within(mail.retry.give_up_after),
            backoff,
            ..defaults
        }
    }
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            poll_interval: Duration::from_millis(500),
            concurrency: 4,
            lease: Duration::from_secs(600),
            max_attempts: 12,
            backoff: Backoff::default(),
            webhook_timeout: Duration::from_secs(10),
            wake: WorkerHandle::default(),
            sole_sender: false,
            instance: String::new(),
            customer_hooks: Default::default(),
        }
    }
}

/// What to record after an attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Delivered,
    Retry {
        at: DateTime<Utc>,
        error: String,
    },
    /// Permanent failure, or the last allowed attempt failed.
    GiveUp {
        error: String,
    },
}

/// What to record for `msg` after this attempt. `msg.attempts` counts the failed attempts
/// before this one (the store increments it in `mark_failed`); `sample` in `[0, 1]` is the
/// jitter draw.
pub fn decide(
    msg: &OutboxMessage,
    result: &Result<(), DeliveryError>,
    now: DateTime<Utc>,
    opts: &WorkerOptions,
    sample: f64,
) -> Decision {
    match result {
        Ok(()) => Decision::Delivered,
        Err(DeliveryError::Permanent(e)) => Decision::GiveUp { error: e.clone() },
        Err(DeliveryError::Transient(e)) => {
            let failed = msg.attempts.saturating_add(1);
            if failed >= opts.max_attempts {
                Decision::GiveUp {
                    error: format!("{e} (gave up after {failed} attempts)"),
                }
            } else {
                let wait = opts.backoff.delay(failed, sample);
                let wait = chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
                Decision::Retry {
                    at: now.checked_add_signed(wait).unwrap_or(now),
                    error: e.clone(),
                }
            }
        }
    }
}

/// Both senders; picks one by the message's channel.
#[derive(Debug)]
pub struct Senders {
    pub mailer: Mailer,
    pub webhook: Webhook,
    pub telegram: super::Telegram,
}

impl Senders {
    pub async fn deliver(&self, msg: &OutboxMessage) -> Result<(), DeliveryError> {
        match &msg.channel {
            Channel::Email { .. } => self.mailer.send(msg).await,
            Channel::Webhook { .. } => self.webhook.send(msg).await,
            Channel::Telegram { .. } => self.telegram.send(msg).await,
            Channel::CustomerWebhook { customer } => self.webhook.send_signed(msg, customer).await,
        }
    }
}

/// Longest kept error text in the outbox.
const ERROR_LIMIT: usize = 500;

/// Delivers the outbox until `shutdown` completes. A round in progress is finished first
/// (every send is bounded by a timeout). `store` is the outbox: `Arc<dyn TicketStore>` or
/// `Arc<dyn Store>`.
pub async fn run_worker<S>(
    store: Arc<S>,
    mailer: Mailer,
    http: reqwest::Client,
    telegram: Option<super::telegram::TelegramConfig>,
    opts: WorkerOptions,
    shutdown: impl Future<Output = ()>,
) where
    S: TicketStore + ?Sized,
{
    let senders = Senders {
        mailer,
        webhook: Webhook::new(http.clone(), opts.webhook_timeout)
            .with_customer_hooks(opts.customer_hooks.clone()),
        telegram: super::Telegram::new(http, telegram, opts.webhook_timeout),
    };
    let wake = opts.wake.0.clone();
    tracing::info!(
        mail = %senders.mailer.describe(),
        poll_interval_ms = opts.poll_interval.as_millis() as u64,
        "delivery worker started"
    );
    // What a killed predecessor had claimed goes out now, not after its lease: every claim
    // when this worker is the only sender, else the claims made under this instance's name.
    let released = if opts.sole_sender {
        store.release_claims().await
    } else {
        store.release_claims_by(&opts.instance).await
    };
    match released {
        Ok(0) => {}
        Ok(n) => tracing::info!(messages = n, "outbox: claims of a previous run released"),
        Err(e) => tracing::warn!(error = %e, "outbox: cannot release old claims"),
    }
    tokio::pin!(shutdown);
    let unrecorded = Unrecorded::default();
    loop {
        let full = round(&*store, &senders, &opts, &unrecorded).await;
        if full {
            // More may be due: go on at once unless asked to stop.
            if shutdown.as_mut().now_or_never().is_some() {
                break;
            }
            continue;
        }
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            () = wake.notified() => {}
            () = tokio::time::sleep(opts.poll_interval) => {}
        }
    }
    tracing::info!("delivery worker stopped");
}

/// One claim-and-send round. True when the claim was full (more may be waiting).
async fn round<S>(
    store: &S,
    senders: &Senders,
    opts: &WorkerOptions,
    unrecorded: &Unrecorded,
) -> bool
where
    S: TicketStore + ?Sized,
{
    // Outcomes the store refused first: until they are written, the ticket's next messages
    // wait behind them (per-ticket order) and a delivered message must not go out again.
    if !unrecorded.write(store).await {
        return false;
    }
    let limit = opts.concurrency.max(1);
    let claimed = match store
        .claim_due_as(Utc::now(), limit, opts.lease, &opts.instance)
        .await
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "outbox: cannot claim due messages");
            return false;
        }
    };
    let full = claimed.len() >= limit as usize;
    let bound = opts.lease / 2;
    let sends = claimed.iter().map(|msg| async move {
        let result = match tokio::time::timeout(bound, senders.deliver(msg)).await {
            Ok(r) => r,
            Err(_) => Err(DeliveryError::Transient(format!(
                "delivery took longer than {}",
                humantime::format_duration(bound)
            ))),
        };
        if let Some(outcome) = record(store, msg, result, opts).await {
            unrecorded.hold(msg.id, outcome);
        }
    });
    futures::future::join_all(sends).await;
    full
}

/// Records the outcome of a delivery; returns it when the store refused it.
async fn record<S>(
    store: &S,
    msg: &OutboxMessage,
    result: Result<(), DeliveryError>,
    opts: &WorkerOptions,
) -> Option<Outcome>
where
    S: TicketStore + ?Sized,
{
    let now = Utc::now();
    let attempt = msg.attempts.saturating_add(1);
    let ticket = msg.ticket.map(|t| t.0);
    let channel = msg.channel.kind();
    let outcome = match decide(msg, &result, now, opts, jitter_sample()) {
        Decision::Delivered => {
            tracing::info!(
                message_id = %msg.message_id, key = %msg.key, ticket, channel, attempt,
                "message delivered"
            );
            Outcome::Delivered { at: now }
        }
        Decision::Retry { at, error } => {
            tracing::warn!(
                message_id = %msg.message_id, key = %msg.key, ticket, channel, attempt,
                error = %error, retry_at = %at,
                "message not delivered, will retry"
            );
            Outcome::Failed {
                at: now,
                error: truncate(&error),
                retry_at: Some(at),
            }
        }
        Decision::GiveUp { error } => {
            tracing::error!(
                message_id = %msg.message_id, key = %msg.key, ticket, channel, attempt,
                error = %error,
                "message not delivered, given up"
            );
            Outcome::Failed {
                at: now,
                error: truncate(&error),
                retry_at: None,
            }
        }
    };
    match outcome.write(store, msg.id).await {
        Ok(()) => None,
        Err(e) => {
            tracing::error!(
                message_id = %msg.message_id, key = %msg.key, error = %e,
                "outbox: cannot record the delivery outcome; holding it until the store takes it"
            );
            Some(outcome)
        }
    }
}

/// What became of one delivery attempt, as the outbox records it.
#[derive(Debug, Clone)]
enum Outcome {
    Delivered {
        at: DateTime<Utc>,
    },
    Failed {
        at: DateTime<Utc>,
        error: String,
        retry_at: Option<DateTime<Utc>>,
    },
}

impl Outcome {
    async fn write<S>(&self, store: &S, id: i64) -> Result<(), crate::store::StoreError>
    where
        S: TicketStore + ?Sized,
    {
        match self {
            Outcome::Delivered { at } => store.mark_delivered(id, *at).await,
            Outcome::Failed {
                at,
                error,
                retry_at,
            } => store.mark_failed(id, *at, error, *retry_at).await,
        }
    }
}

/// Outcomes the store refused (a full disk, a lost database), by message id. Kept in memory and
/// written before anything else is claimed: a delivered message stays claimed meanwhile, so
/// this worker never sends it again (an instance that outlives this one's lease might: then
/// with the same Message-ID).
#[derive(Debug, Default)]
struct Unrecorded(std::sync::Mutex<Vec<(i64, Outcome)>>);

impl Unrecorded {
    fn hold(&self, id: i64, outcome: Outcome) {
        self.0.lock().expect("not poisoned").push((id, outcome));
    }

    /// Writes what was held; true when nothing is left.
    async fn write<S>(&self, store: &S) -> bool
    where
        S: TicketStore + ?Sized,
    {
        let held: Vec<(i64, Outcome)> = std::mem::take(&mut *self.0.lock().expect("not poisoned"));
        if held.is_empty() {
            return true;
        }
        let mut left = Vec::new();
        for (id, outcome) in held {
            if outcome.write(store, id).await.is_err() {
                left.push((id, outcome));
            }
        }
        let done = left.is_empty();
        if !done {
            self.0.lock().expect("not poisoned").extend(left);
        } else {
            tracing::info!("outbox: held delivery outcomes recorded");
        }
        done
    }
}

fn truncate(s: &str) -> String {
    if s.len() <= ERROR_LIMIT {
        return s.to_owned();
    }
    let mut end = ERROR_LIMIT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// A draw in `[0, 1]` from the process's random hasher keys (no RNG crate needed).
fn jitter_sample() -> f64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos().into()),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}
