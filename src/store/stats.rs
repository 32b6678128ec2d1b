//! Counts for `/metrics` ([`StatsStore`]): open tickets and SLA breaches, the outbox, surveys.
//! Each is one aggregate statement read at a scrape; none loads rows. The same SQL serves both
//! backends except how a JSON field is read; [`stats_store_impl!`] implements it in each.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{StoreError, from_ms};
use crate::ticket::model::Severity;

/// The open tickets of one severity (every status but resolved and closed), and how many of
/// them have a running SLA target past its due time: not acknowledged by `ack_due`, no first
/// update by `first_update_due`, not resolved by `resolve_due`. A ticket waiting on the customer
/// is read at the time its clocks stopped, as the queue shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenTickets {
    pub severity: Severity,
    pub open: u64,
    pub ack_breached: u64,
    pub first_update_breached: u64,
    pub resolve_breached: u64,
}

/// The outbox: messages waiting to go (pending, claimed or not), given up (dead), when the
/// oldest pending one was queued, and the messages delivered, by channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxCounts {
    pub pending: u64,
    pub dead: u64,
    pub oldest_pending: Option<DateTime<Utc>>,
    pub delivered_email: u64,
    /// Ops' webhook and customers' own webhooks.
    pub delivered_webhook: u64,
    /// Ops' Telegram chats.
    pub delivered_telegram: u64,
}

/// Follow-up surveys sent and answered (ever; rows are never deleted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SurveyCounts {
    pub sent: u64,
    pub answered: u64,
}

#[async_trait]
pub trait StatsStore {
    /// One entry per severity that has open tickets, at `now`.
    async fn open_tickets(&self, now: DateTime<Utc>) -> Result<Vec<OpenTickets>, StoreError>;

    async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError>;

    async fn survey_counts(&self) -> Result<SurveyCounts, StoreError>;
}

/// `$1` now (ms). A paused ticket's clocks are read at `paused_since_ms`.
pub(super) const OPEN_TICKETS: &str = "\
SELECT severity, COUNT(*), \
       SUM(CASE WHEN acknowledged_ms IS NULL AND ack_due_ms < ref_ms THEN 1 ELSE 0 END), \
       SUM(CASE WHEN first_update_ms IS NULL AND first_update_due_ms < ref_ms THEN 1 ELSE 0 END), \
       SUM(CASE WHEN resolve_due_ms < ref_ms THEN 1 ELSE 0 END) \
FROM (SELECT severity, acknowledged_ms, ack_due_ms, first_update_ms, first_update_due_ms, \
             resolve_due_ms, \
             COALESCE(CASE WHEN status = 'waiting_on_customer' THEN paused_since_ms END, $1) \
                 AS ref_ms \
      FROM tickets WHERE status NOT IN ('resolved', 'closed')) o \
GROUP BY severity";

/// Through the `outbox_due` index (status first).
pub(super) const OUTBOX_WAITING: &str = "\
SELECT status, COUNT(*), MIN(created_ms) FROM outbox \
WHERE status IN ('pending', 'dead') GROUP BY status";

pub(super) const SURVEYS: &str = "SELECT COUNT(*), COUNT(answered_ms) FROM surveys";

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

pub(super) fn open_tickets_from_rows(
    rows: Vec<(String, i64, i64, i64, i64)>,
) -> Result<Vec<OpenTickets>, StoreError> {
    rows.into_iter()
        .map(|(severity, open, ack, first, resolve)| {
            Ok(OpenTickets {
                severity: Severity::parse(&severity).ok_or_else(|| StoreError::Corrupt {
                    table: "tickets",
                    reason: format!("unknown severity {severity:?}"),
                })?,
                open: count(open),
                ack_breached: count(ack),
                first_update_breached: count(first),
                resolve_breached: count(resolve),
            })
        })
        .collect()
}

pub(super) fn outbox_from_rows(
    waiting: Vec<(String, i64, Option<i64>)>,
    delivered: Vec<(Option<String>, i64)>,
) -> Result<OutboxCounts, StoreError> {
    let mut counts = OutboxCounts::default();
    for (status, n, oldest) in waiting {
        match status.as_str() {
            "pending" => {
                counts.pending = count(n);
                counts.oldest_pending = oldest.map(|ms| from_ms("outbox", ms)).transpose()?;
            }
            _ => counts.dead = count(n),
        }
    }
    for (channel, n) in delivered {
        match channel.as_deref() {
            Some("email") => counts.delivered_email = count(n),
            // Ops' webhook and customers' own: one low-cardinality `webhook` label.
            Some("webhook" | "customer_webhook") => counts.delivered_webhook += count(n),
            Some("telegram") => counts.delivered_telegram = count(n),
            other => {
                return Err(StoreError::Corrupt {
                    table: "outbox",
                    reason: format!("unknown channel type {other:?}"),
                });
            }
        }
    }
    Ok(counts)
}

/// Implements [`StatsStore`] for a backend struct whose read pool is `$reader`;
/// `$channel_type` is the backend's expression for the `type` field of `outbox.channel`.
macro_rules! stats_store_impl {
    ($ty:ty, $reader:ident, $channel_type:literal) => {
        #[async_trait::async_trait]
        impl $crate::store::stats::StatsStore for $ty {
            async fn open_tickets(
                &self,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<$crate::store::stats::OpenTickets>, $crate::store::StoreError> {
                let rows = sqlx::query_as($crate::store::stats::OPEN_TICKETS)
                    .bind($crate::store::to_ms(now))
                    .fetch_all(&self.$reader)
                    .await
                    .map_err($crate::store::query_err("counting open tickets"))?;
                $crate::store::stats::open_tickets_from_rows(rows)
            }

            async fn outbox_counts(
                &self,
            ) -> Result<$crate::store::stats::OutboxCounts, $crate::store::StoreError> {
                let doing = "counting the outbox";
                let waiting = sqlx::query_as($crate::store::stats::OUTBOX_WAITING)
                    .fetch_all(&self.$reader)
                    .await
                    .map_err($crate::store::query_err(doing))?;
                let delivered = sqlx::query_as(concat!(
                    "SELECT ",
                    $channel_type,
                    ", COUNT(*) FROM outbox WHERE status = 'delivered' GROUP BY 1"
                ))
                .fetch_all(&self.$reader)
                .await
                .map_err($crate::store::query_err(doing))?;
                $crate::store::stats::outbox_from_rows(waiting, delivered)
            }

            async fn survey_counts(
                &self,
            ) -> Result<$crate::store::stats::SurveyCounts, $crate::store::StoreError> {
                let (sent, answered): (i64, i64) = sqlx::query_as($crate::store::stats::SURVEYS)
                    .fetch_one(&self.$reader)
                    .await
                    .map_err($crate::store::query_err("counting surveys"))?;
                Ok($crate::store::stats::SurveyCounts {
                    sent: u64::try_from(sent).unwrap_or(0),
                    answered: u64::try_from(answered).unwrap_or(0),
                })
            }
        }
    };
}

pub(super) use stats_store_impl;
