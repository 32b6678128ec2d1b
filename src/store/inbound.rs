//! What the store keeps of mail taken from support mailboxes ([`InboundStore`]): one row per
//! message (mailbox, UIDVALIDITY, UID) with its original for staff, and each mailbox's last
//! fetch and error (`forewarn inbound status`).
//!
//! A message that changes a ticket is recorded in that change's transaction
//! (`TicketStore::create_ticket_taking`, `save_ticket_taking`), so it is taken once; one that
//! changes none (unmatched, ignored) is recorded here on its own. An unmatched message staff
//! later open a ticket with, or add to one, is written with
//! [`InboundRecord::from_unmatched`] set: the row is updated instead of inserted, and only
//! while it is still unmatched (two staff acting at once: one wins, the other gets a conflict).
//! The same SQL serves both backends; [`inbound_store_impl!`] implements it in each.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::cells::{Cells, corrupt, opt_from_ms};
use super::{StoreError, from_ms};
use crate::ticket::model::{MailAttachment, TicketId};

pub(super) const TABLE: &str = "inbound_messages";

/// What became of an inbound message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InboundOutcome {
    /// Added to a ticket's timeline.
    Threaded,
    /// Opened a ticket.
    Opened,
    /// A delivery failure of one of our mails, noted on its ticket.
    Bounce,
    /// From nobody forewarn knows: on the staff's list, never answered.
    Unmatched,
    /// Automatic mail, or over a sender's limit: nothing done.
    Ignored,
    /// Unmatched, then dropped by staff.
    Dropped,
}

impl InboundOutcome {
    pub const ALL: [InboundOutcome; 6] = [
        InboundOutcome::Threaded,
        InboundOutcome::Opened,
        InboundOutcome::Bounce,
        InboundOutcome::Unmatched,
        InboundOutcome::Ignored,
        InboundOutcome::Dropped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InboundOutcome::Threaded => "threaded",
            InboundOutcome::Opened => "opened",
            InboundOutcome::Bounce => "bounce",
            InboundOutcome::Unmatched => "unmatched",
            InboundOutcome::Ignored => "ignored",
            InboundOutcome::Dropped => "dropped",
        }
    }

    pub fn parse(s: &str) -> Option<InboundOutcome> {
        InboundOutcome::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

impl std::fmt::Display for InboundOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which message of which mailbox: what makes it one message, taken once.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct InboundKey {
    pub mailbox: String,
    pub uidvalidity: u32,
    pub uid: u32,
}

impl InboundKey {
    /// Reads `mailbox/uidvalidity/uid`, as [`InboundKey`] displays (mailbox names have no `/`).
    pub fn parse(s: &str) -> Option<InboundKey> {
        let mut parts = s.rsplitn(3, '/');
        let uid = parts.next()?.parse().ok()?;
        let uidvalidity = parts.next()?.parse().ok()?;
        let mailbox = parts.next().filter(|m| !m.is_empty() && !m.contains('/'))?;
        Some(InboundKey {
            mailbox: mailbox.to_owned(),
            uidvalidity,
            uid,
        })
    }
}

impl std::fmt::Display for InboundKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.mailbox, self.uidvalidity, self.uid)
    }
}

/// A message taken from a support mailbox, recorded once per [`InboundKey`]: in the
/// transaction of the ticket change it causes, or on its own when it changes no ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundRecord {
    pub key: InboundKey,
    /// Without angle brackets.
    pub message_id: Option<String>,
    pub received_at: DateTime<Utc>,
    /// The sender's address, lowercased.
    pub sender: String,
    pub subject: String,
    pub outcome: InboundOutcome,
    /// The ticket it went to; a ticket being created or saved with it fills this in.
    pub ticket: Option<TicketId>,
    /// Listed on the timeline; their bytes are in `raw` (when it was kept whole).
    pub attachments: Vec<MailAttachment>,
    /// The original message, cut at the mailbox's `keep_original` size.
    pub raw: Vec<u8>,
    /// The original message's size before any cut.
    pub raw_size: usize,
    /// The staff member who decided what became of an unmatched message.
    pub handled_by: Option<String>,
    /// This message is on the unmatched list already: the write updates its row (only while it
    /// is still unmatched) instead of inserting one.
    pub from_unmatched: bool,
}

impl InboundRecord {
    /// What a second record of the same message is refused as (`StoreError::Conflict`).
    pub fn what(&self) -> String {
        format!("inbound message {}", self.key)
    }

    /// Whether `raw` is the whole message (so its attachments can be served).
    pub fn kept_whole(&self) -> bool {
        self.raw.len() >= self.raw_size
    }
}

/// Per mailbox and outcome: how many mails were taken, and when the newest came.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InboundSummary {
    pub mailbox: String,
    pub outcome: InboundOutcome,
    pub count: u64,
    pub last_received: DateTime<Utc>,
}

/// How fetching a mailbox goes, as the instance that fetches it last wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailboxState {
    pub name: String,
    pub instance: String,
    /// The end of the last complete round (search, fetch, take, move).
    pub last_fetch: Option<DateTime<Utc>>,
    /// The last error and when it happened (kept after the mailbox recovers: compare with
    /// `last_fetch`).
    pub last_error: Option<(DateTime<Utc>, String)>,
    /// Errors since that instance started.
    pub errors: u64,
}

#[async_trait]
pub trait InboundStore: Send + Sync {
    /// Records an inbound message that changes no ticket (unmatched, ignored). Returns false
    /// when it was recorded already.
    async fn record_inbound(&self, inbound: &InboundRecord) -> Result<bool, StoreError>;

    /// Whether this message was taken already.
    async fn inbound_taken(&self, key: &InboundKey) -> Result<bool, StoreError>;

    /// How many inbound messages from `sender` (lowercased) with `outcome` were received since
    /// `since`: the per-sender limit.
    async fn inbound_count_since(
        &self,
        sender: &str,
        outcome: InboundOutcome,
        since: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    /// Per mailbox and outcome: how many mails were taken, and when the newest came.
    async fn inbound_summary(&self) -> Result<Vec<InboundSummary>, StoreError>;

    /// The inbound messages with `outcome` (e.g. unmatched), newest first, without `raw`.
    async fn inbound_messages(
        &self,
        outcome: InboundOutcome,
        limit: u32,
    ) -> Result<Vec<InboundRecord>, StoreError>;

    /// The inbound messages recorded on a ticket, oldest first, without `raw`.
    async fn inbound_of_ticket(&self, ticket: TicketId) -> Result<Vec<InboundRecord>, StoreError>;

    /// One message with its original (`raw`).
    async fn inbound_message(&self, key: &InboundKey) -> Result<Option<InboundRecord>, StoreError>;

    /// Staff dropped an unmatched message. False when it is not (or no longer) unmatched.
    async fn drop_unmatched(&self, key: &InboundKey, by: &str) -> Result<bool, StoreError>;

    /// Writes how fetching a mailbox goes (one row per mailbox, replaced).
    async fn save_mailbox_state(&self, state: &MailboxState) -> Result<(), StoreError>;

    /// Every mailbox's state, by name.
    async fn mailbox_states(&self) -> Result<Vec<MailboxState>, StoreError>;
}

pub(super) const INSERT: &str = "\
INSERT INTO inbound_messages (mailbox, uidvalidity, uid, message_id, received_ms, sender, \
                              subject, outcome, ticket_id, raw, raw_size, attachments, \
                              handled_by) \
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
ON CONFLICT (mailbox, uidvalidity, uid) DO NOTHING";

/// Staff decided what an unmatched message is: only while it is still unmatched.
pub(super) const CLAIM_UNMATCHED: &str = "\
UPDATE inbound_messages SET outcome = $4, ticket_id = $5, handled_by = $6 \
WHERE mailbox = $1 AND uidvalidity = $2 AND uid = $3 AND outcome = 'unmatched'";

const COLUMNS: &str = "mailbox, uidvalidity, uid, message_id, received_ms, sender, subject, \
                       outcome, ticket_id, raw_size, attachments, handled_by";

/// The JSON the `attachments` column holds.
pub(super) fn attachments_json(a: &[MailAttachment]) -> String {
    serde_json::to_string(a).unwrap_or_else(|_| "[]".to_owned())
}

pub(super) fn summary_from_row(row: &impl Cells) -> Result<InboundSummary, StoreError> {
    let bad = corrupt(TABLE);
    Ok(InboundSummary {
        mailbox: row.text(0).map_err(&bad)?,
        outcome: outcome(&row.text(1).map_err(&bad)?)?,
        count: u64::try_from(row.int(2).map_err(&bad)?).unwrap_or(0),
        last_received: from_ms(TABLE, row.int(3).map_err(&bad)?)?,
    })
}

fn outcome(s: &str) -> Result<InboundOutcome, StoreError> {
    InboundOutcome::parse(s).ok_or_else(|| StoreError::Corrupt {
        table: TABLE,
        reason: format!("unknown outcome {s:?}"),
    })
}

/// A row of [`COLUMNS`] (without `raw`).
pub(super) fn record_from_row(row: &impl Cells) -> Result<InboundRecord, StoreError> {
    let bad = corrupt(TABLE);
    let number = |i: usize| -> Result<u32, StoreError> {
        let n = row.int(i).map_err(&bad)?;
        u32::try_from(n).map_err(|e| StoreError::Corrupt {
            table: TABLE,
            reason: e.to_string(),
        })
    };
    let attachments =
        serde_json::from_str(&row.text(10).map_err(&bad)?).map_err(|e| StoreError::Corrupt {
            table: TABLE,
            reason: format!("attachments: {e}"),
        })?;
    Ok(InboundRecord {
        key: InboundKey {
            mailbox: row.text(0).map_err(&bad)?,
            uidvalidity: number(1)?,
            uid: number(2)?,
        },
        message_id: row.opt_text(3).map_err(&bad)?,
        received_at: from_ms(TABLE, row.int(4).map_err(&bad)?)?,
        sender: row.text(5).map_err(&bad)?,
        subject: row.text(6).map_err(&bad)?,
        outcome: outcome(&row.text(7).map_err(&bad)?)?,
        ticket: row.opt_int(8).map_err(&bad)?.map(TicketId),
        raw_size: usize::try_from(row.int(9).map_err(&bad)?).unwrap_or(0),
        attachments,
        handled_by: row.opt_text(11).map_err(&bad)?,
        raw: Vec::new(),
        from_unmatched: false,
    })
}

pub(super) fn state_from_row(row: &impl Cells) -> Result<MailboxState, StoreError> {
    const T: &str = "inbound_mailboxes";
    let bad = corrupt(T);
    let error_at = opt_from_ms(T, row.opt_int(3).map_err(&bad)?)?;
    let error = row.opt_text(4).map_err(&bad)?;
    Ok(MailboxState {
        name: row.text(0).map_err(&bad)?,
        instance: row.text(1).map_err(&bad)?,
        last_fetch: opt_from_ms(T, row.opt_int(2).map_err(&bad)?)?,
        last_error: error_at.zip(error),
        errors: u64::try_from(row.int(5).map_err(&bad)?).unwrap_or(0),
    })
}

pub(super) static SELECT_BY_OUTCOME: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT {COLUMNS} FROM inbound_messages WHERE outcome = $1 \
         ORDER BY received_ms DESC, uid DESC LIMIT $2"
    )
});
pub(super) static SELECT_OF_TICKET: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!("SELECT {COLUMNS} FROM inbound_messages WHERE ticket_id = $1 ORDER BY received_ms, uid")
});
pub(super) static SELECT_ONE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT {COLUMNS}, raw FROM inbound_messages \
         WHERE mailbox = $1 AND uidvalidity = $2 AND uid = $3"
    )
});

/// Implements [`InboundStore`] for a backend struct whose write pool is `$writer` and read
/// pool `$reader`.
macro_rules! inbound_store_impl {
    ($ty:ty, $writer:ident, $reader:ident) => {
        #[async_trait::async_trait]
        impl $crate::store::inbound::InboundStore for $ty {
            async fn record_inbound(
                &self,
                inbound: &$crate::store::inbound::InboundRecord,
            ) -> Result<bool, $crate::store::StoreError> {
                let doing = "recording an inbound message";
                let mut conn = self
                    .$writer
                    .acquire()
                    .await
                    .map_err($crate::store::query_err(doing))?;
                match common::insert_inbound(&mut conn, inbound).await {
                    Ok(()) => Ok(true),
                    Err($crate::store::StoreError::Conflict { .. }) => Ok(false),
                    Err(e) => Err(e),
                }
            }

            async fn inbound_taken(
                &self,
                key: &$crate::store::inbound::InboundKey,
            ) -> Result<bool, $crate::store::StoreError> {
                Ok(sqlx::query(
                    "SELECT 1 FROM inbound_messages \
                     WHERE mailbox = $1 AND uidvalidity = $2 AND uid = $3",
                )
                .bind(key.mailbox.as_str())
                .bind(i64::from(key.uidvalidity))
                .bind(i64::from(key.uid))
                .fetch_optional(&self.$writer)
                .await
                .map_err($crate::store::query_err("looking up an inbound message"))?
                .is_some())
            }

            async fn inbound_count_since(
                &self,
                sender: &str,
                outcome: $crate::store::inbound::InboundOutcome,
                since: chrono::DateTime<chrono::Utc>,
            ) -> Result<u64, $crate::store::StoreError> {
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM inbound_messages \
                     WHERE sender = $1 AND outcome = $2 AND received_ms >= $3",
                )
                .bind(sender)
                .bind(outcome.as_str())
                .bind(since.timestamp_millis())
                .fetch_one(&self.$writer)
                .await
                .map_err($crate::store::query_err(
                    "counting a sender's inbound messages",
                ))?;
                Ok(u64::try_from(n).unwrap_or(0))
            }

            async fn inbound_summary(
                &self,
            ) -> Result<Vec<$crate::store::inbound::InboundSummary>, $crate::store::StoreError>
            {
                sqlx::query(
                    "SELECT mailbox, outcome, COUNT(*), MAX(received_ms) FROM inbound_messages \
                     GROUP BY mailbox, outcome ORDER BY mailbox, outcome",
                )
                .fetch_all(&self.$reader)
                .await
                .map_err($crate::store::query_err("summing up inbound messages"))?
                .iter()
                .map($crate::store::inbound::summary_from_row)
                .collect()
            }

            async fn inbound_messages(
                &self,
                outcome: $crate::store::inbound::InboundOutcome,
                limit: u32,
            ) -> Result<Vec<$crate::store::inbound::InboundRecord>, $crate::store::StoreError>
            {
                let sql = $crate::store::inbound::SELECT_BY_OUTCOME.as_str();
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(outcome.as_str())
                    .bind(i64::from(limit))
                    .fetch_all(&self.$reader)
                    .await
                    .map_err($crate::store::query_err("listing inbound messages"))?
                    .iter()
                    .map($crate::store::inbound::record_from_row)
                    .collect()
            }

            async fn inbound_of_ticket(
                &self,
                ticket: $crate::ticket::model::TicketId,
            ) -> Result<Vec<$crate::store::inbound::InboundRecord>, $crate::store::StoreError>
            {
                let sql = $crate::store::inbound::SELECT_OF_TICKET.as_str();
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(ticket.0)
                    .fetch_all(&self.$reader)
                    .await
                    .map_err($crate::store::query_err(
                        "reading a ticket's inbound messages",
                    ))?
                    .iter()
                    .map($crate::store::inbound::record_from_row)
                    .collect()
            }

            async fn inbound_message(
                &self,
                key: &$crate::store::inbound::InboundKey,
            ) -> Result<Option<$crate::store::inbound::InboundRecord>, $crate::store::StoreError>
            {
                let sql = $crate::store::inbound::SELECT_ONE.as_str();
                let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(key.mailbox.as_str())
                    .bind(i64::from(key.uidvalidity))
                    .bind(i64::from(key.uid))
                    .fetch_optional(&self.$reader)
                    .await
                    .map_err($crate::store::query_err("reading an inbound message"))?
                else {
                    return Ok(None);
                };
                let mut r = $crate::store::inbound::record_from_row(&row)?;
                r.raw = sqlx::Row::try_get(&row, 12).map_err(|e: sqlx::Error| {
                    $crate::store::StoreError::Corrupt {
                        table: $crate::store::inbound::TABLE,
                        reason: e.to_string(),
                    }
                })?;
                Ok(Some(r))
            }

            async fn drop_unmatched(
                &self,
                key: &$crate::store::inbound::InboundKey,
                by: &str,
            ) -> Result<bool, $crate::store::StoreError> {
                let done = sqlx::query($crate::store::inbound::CLAIM_UNMATCHED)
                    .bind(key.mailbox.as_str())
                    .bind(i64::from(key.uidvalidity))
                    .bind(i64::from(key.uid))
                    .bind($crate::store::inbound::InboundOutcome::Dropped.as_str())
                    .bind(None::<i64>)
                    .bind(by)
                    .execute(&self.$writer)
                    .await
                    .map_err($crate::store::query_err("dropping an unmatched message"))?
                    .rows_affected();
                Ok(done > 0)
            }

            async fn save_mailbox_state(
                &self,
                s: &$crate::store::inbound::MailboxState,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query(
                    "INSERT INTO inbound_mailboxes \
                         (name, instance, last_fetch_ms, last_error_ms, last_error, errors) \
                     VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (name) DO UPDATE SET instance = excluded.instance, \
                         last_fetch_ms = excluded.last_fetch_ms, \
                         last_error_ms = excluded.last_error_ms, \
                         last_error = excluded.last_error, errors = excluded.errors",
                )
                .bind(s.name.as_str())
                .bind(s.instance.as_str())
                .bind(s.last_fetch.map(|t| t.timestamp_millis()))
                .bind(s.last_error.as_ref().map(|(t, _)| t.timestamp_millis()))
                .bind(s.last_error.as_ref().map(|(_, e)| e.as_str()))
                .bind(i64::try_from(s.errors).unwrap_or(i64::MAX))
                .execute(&self.$writer)
                .await
                .map_err($crate::store::query_err("saving a mailbox's state"))?;
                Ok(())
            }

            async fn mailbox_states(
                &self,
            ) -> Result<Vec<$crate::store::inbound::MailboxState>, $crate::store::StoreError> {
                sqlx::query(
                    "SELECT name, instance, last_fetch_ms, last_error_ms, last_error, errors \
                     FROM inbound_mailboxes ORDER BY name",
                )
                .fetch_all(&self.$reader)
                .await
                .map_err($crate::store::query_err("reading the mailboxes' state"))?
                .iter()
                .map($crate::store::inbound::state_from_row)
                .collect()
            }
        }
    };
}
pub(super) use inbound_store_impl;
