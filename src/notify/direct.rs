//! Ops alerts that cannot go through the outbox because the outbox is what fails: sent straight
//! to the configured ops channels (the e-mail list, the webhook), retried a few times in
//! memory. Only the store watch uses it ([`crate::store::watch`]); everything else queues.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use crate::config::Config;
use crate::notify::{MessageStatus, OutboxMessage, Senders};

/// Attempts per message, a pause between them growing from [`FIRST_PAUSE`].
const ATTEMPTS: u32 = 5;
const FIRST_PAUSE: Duration = Duration::from_secs(2);

/// Sends ops alerts without the store.
#[derive(Clone)]
pub struct DirectOps {
    senders: Arc<Senders>,
}

impl DirectOps {
    pub fn new(senders: Senders) -> Self {
        DirectOps {
            senders: Arc::new(senders),
        }
    }

    /// Sends one alert to every ops channel, `key` naming it (its Message-ID derives from it),
    /// retrying each channel up to [`ATTEMPTS`] times. Returns how many channels took it.
    pub async fn send(&self, config: &Config, key: &str, subject: &str, body: &str) -> usize {
        let now = Utc::now();
        let mut delivered = 0;
        for msg in crate::notify::ops::messages(config, key, subject, body) {
            let msg = OutboxMessage {
                id: 0,
                key: msg.key,
                ticket: None,
                channel: msg.channel,
                subject: msg.subject,
                body: msg.body,
                message_id: msg.message_id,
                extras: msg.extras,
                status: MessageStatus::Pending,
                created_at: now,
                attempts: 0,
                next_attempt_at: now,
                delivered_at: None,
                last_error: None,
            };
            let mut pause = FIRST_PAUSE;
            for attempt in 1..=ATTEMPTS {
                match self.senders.deliver(&msg).await {
                    Ok(()) => {
                        delivered += 1;
                        break;
                    }
                    Err(e) if e.is_permanent() || attempt == ATTEMPTS => {
                        tracing::error!(key = %msg.key, error = %e, "could not send an ops alert directly");
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(key = %msg.key, error = %e, attempt, "ops alert not sent yet; retrying");
                        tokio::time::sleep(pause).await;
                        pause *= 2;
                    }
                }
            }
        }
        delivered
    }
}
