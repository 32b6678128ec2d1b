//! The SQLite backend: the embedded default.
//!
//! One writer connection (SQLite has one writer at a time anyway; a pool of one serialises our
//! writes without a mutex) and a few read-only connections that WAL lets read while the writer
//! writes. `synchronous = NORMAL` in WAL mode: a power cut can lose the last transactions but
//! never corrupts the file. Statements are prepared once per connection and reused.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, SqlSafeStr, SqliteConnection};

use super::tickets::{
    Attempt, EventValues, FirstWords, Incident, MessageValues, NewEvent, NewTicket, OUTBOX_COLUMNS,
    OutboxFilter, TICKET_VALUE_COLUMNS, TicketFilter, TicketStore, TicketValues, attempt_event,
    bind_ticket, detector_from_row, detector_rows, event_from_row, incident_from_row,
    incident_json, lease_end_ms, message_status_str, outbox_from_row, ticket_from_row,
    ticket_of_new, unique_conflict,
};
use super::{
    Dialect, FORGET_CHUNK, HourlyRollup, PRUNE_CHUNK, PRUNE_MAX_CHUNKS, PruneStats, ResultTuple,
    STATE_COLUMNS, StateTuple, Store, StoreError, from_ms, hour_start_ms, ids_to_forget, query_err,
    result_from_tuple, rollup_deltas, rollup_from_row, rows_in_write_order, state_from_tuple,
    to_ms,
};
use crate::model::{CheckId, CheckResult, CheckState, CustomerId};
use crate::notify::{NewMessage, OutboxMessage};
use crate::ticket::model::{Ticket, TicketId, TicketStatus, TimelineEvent};

#[path = "sqlite_users.rs"]
mod users;

fn migrator() -> Migrator {
    Migrator::with_migrations(vec![
        Migration::new(
            1,
            "init".into(),
            MigrationType::Simple,
            include_str!("../../migrations/sqlite/0001_init.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            2,
            "tickets".into(),
            MigrationType::Simple,
            include_str!("../../migrations/sqlite/0002_tickets.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            3,
            "users".into(),
            MigrationType::Simple,
            include_str!("../../migrations/sqlite/0003_users.sql").into_sql_str(),
            false,
        ),
    ])
}

/// Upserts a check's state from one result. `since` and `consecutive` depend on whether the
/// status changed; a result older than the state's last run leaves the state alone.
/// Parameters: check_id, customer_id, status, started_at_ms, message, latency_ms.
const UPSERT_STATE: &str = "\
INSERT INTO check_state (check_id, customer_id, status, since_ms, consecutive, last_run_ms, \
                         last_message, last_latency_ms) \
VALUES (?1, ?2, ?3, ?4, 1, ?4, ?5, ?6) \
ON CONFLICT (check_id) DO UPDATE SET \
    customer_id = excluded.customer_id, \
    status = excluded.status, \
    since_ms = CASE WHEN check_state.status = excluded.status \
                    THEN check_state.since_ms ELSE excluded.since_ms END, \
    consecutive = CASE WHEN check_state.status = excluded.status \
                       THEN check_state.consecutive + 1 ELSE 1 END, \
    last_run_ms = excluded.last_run_ms, \
    last_message = excluded.last_message, \
    last_latency_ms = excluded.last_latency_ms \
WHERE excluded.last_run_ms >= check_state.last_run_ms";

const INSERT_RESULT: &str = "\
INSERT INTO check_result (check_id, customer_id, kind, planned_at_ms, started_at_ms, status, \
                          latency_ms, message, outcome) \
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

static UPSERT_ROLLUP: LazyLock<Arc<str>> =
    LazyLock::new(|| super::rollup_upsert_sql(Dialect::Sqlite).into());
static SELECT_ROLLUPS: LazyLock<Arc<str>> =
    LazyLock::new(|| super::rollups_select_sql(Dialect::Sqlite).into());

const SELECT_RESULTS: &str = "\
SELECT check_id, customer_id, kind, planned_at_ms, started_at_ms, status, latency_ms, message, \
       outcome \
FROM check_result WHERE check_id = ?1 ORDER BY started_at_ms DESC, id DESC LIMIT ?2";

const PRUNE_RESULTS: &str = "\
DELETE FROM check_result WHERE id IN \
    (SELECT id FROM check_result WHERE started_at_ms < ?1 LIMIT ?2)";

const PRUNE_ROLLUPS: &str = "\
DELETE FROM check_rollup_hourly WHERE (check_id, hour_ms) IN \
    (SELECT check_id, hour_ms FROM check_rollup_hourly WHERE hour_ms < ?1 LIMIT ?2)";

pub(super) struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens `sqlite://path`, `sqlite:path` or `sqlite::memory:`.
    pub(super) async fn open(url: &str) -> Result<SqliteStore, StoreError> {
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        if rest == ":memory:" {
            return Self::open_memory().await;
        }
        if rest.is_empty() || rest.contains('?') {
            return Err(StoreError::InvalidUrl {
                url: url.to_owned(),
                reason: "write sqlite://path/to/forewarn.db (relative) or \
                         sqlite:///var/lib/forewarn/forewarn.db (absolute), without options"
                    .to_owned(),
            });
        }
        Self::open_file(Path::new(rest)).await
    }

    async fn open_file(path: &Path) -> Result<SqliteStore, StoreError> {
        let target = path.display().to_string();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|error| StoreError::CreateDir {
                path: dir.display().to_string(),
                error,
            })?;
        }
        let base = SqliteConnectOptions::new()
            .filename(PathBuf::from(path))
            .busy_timeout(Duration::from_secs(5));
        let writer_opts = base
            .clone()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(writer_opts)
            .await
            .map_err(|e| open_error(&target, e))?;
        run_migrations(&writer, &target).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .idle_timeout(Duration::from_secs(600))
            .connect_with(base.read_only(true))
            .await
            .map_err(|e| open_error(&target, e))?;
        Ok(SqliteStore { writer, reader })
    }

    /// A private in-memory database on one connection that lives as long as the store.
    async fn open_memory() -> Result<SqliteStore, StoreError> {
        let target = "sqlite::memory:".to_owned();
        let opts = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(|e| open_error(&target, e))?;
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(opts)
            .await
            .map_err(|e| open_error(&target, e))?;
        run_migrations(&pool, &target).await?;
        Ok(SqliteStore {
            writer: pool.clone(),
            reader: pool,
        })
    }
}

fn open_error(target: &str, e: sqlx::Error) -> StoreError {
    StoreError::Open {
        target: target.to_owned(),
        reason: format!(
            "{e}; check that the file and its directory exist and are readable and writable by \
             this user"
        ),
    }
}

async fn run_migrations(pool: &SqlitePool, target: &str) -> Result<(), StoreError> {
    migrator().run(pool).await.map_err(|e| StoreError::Migrate {
        target: target.to_owned(),
        reason: e.to_string(),
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn record(&self, results: &[CheckResult]) -> Result<(), StoreError> {
        if results.is_empty() {
            return Ok(());
        }
        let rows = rows_in_write_order(results)?;
        let deltas = rollup_deltas(&rows);
        let doing = "recording results";
        let mut tx = self.writer.begin().await.map_err(query_err(doing))?;
        for row in &rows {
            let r = row.result;
            sqlx::query(UPSERT_STATE)
                .bind(r.check_id.as_str())
                .bind(r.customer_id.as_str())
                .bind(r.outcome.status.as_str())
                .bind(row.started_ms)
                .bind(r.outcome.message.as_str())
                .bind(row.latency_ms)
                .execute(&mut *tx)
                .await
                .map_err(query_err(doing))?;
            sqlx::query(INSERT_RESULT)
                .bind(r.check_id.as_str())
                .bind(r.customer_id.as_str())
                .bind(r.kind.as_str())
                .bind(row.planned_ms)
                .bind(row.started_ms)
                .bind(r.outcome.status.as_str())
                .bind(row.latency_ms)
                .bind(r.outcome.message.as_str())
                .bind(row.outcome_json.as_str())
                .execute(&mut *tx)
                .await
                .map_err(query_err(doing))?;
        }
        for d in &deltas {
            let mut q = sqlx::query(AssertSqlSafe(Arc::clone(&UPSERT_ROLLUP)))
                .bind(d.check_id)
                .bind(d.hour_ms)
                .bind(d.runs)
                .bind(d.failures)
                .bind(d.measured)
                .bind(d.latency_sum_ms)
                .bind(d.latency_min_ms)
                .bind(d.latency_max_ms);
            for &count in &d.histogram.0 {
                q = q.bind(count);
            }
            q.execute(&mut *tx).await.map_err(query_err(doing))?;
        }
        tx.commit().await.map_err(query_err(doing))
    }

    async fn states(&self) -> Result<Vec<CheckState>, StoreError> {
        static SQL: LazyLock<Arc<str>> = LazyLock::new(|| {
            format!("SELECT {STATE_COLUMNS} FROM check_state ORDER BY check_id").into()
        });
        sqlx::query_as::<_, StateTuple>(AssertSqlSafe(Arc::clone(&SQL)))
            .fetch_all(&self.reader)
            .await
            .map_err(query_err("reading check states"))?
            .into_iter()
            .map(state_from_tuple)
            .collect()
    }

    async fn state(&self, id: &CheckId) -> Result<Option<CheckState>, StoreError> {
        static SQL: LazyLock<Arc<str>> = LazyLock::new(|| {
            format!("SELECT {STATE_COLUMNS} FROM check_state WHERE check_id = ?1").into()
        });
        sqlx::query_as::<_, StateTuple>(AssertSqlSafe(Arc::clone(&SQL)))
            .bind(id.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(query_err("reading a check state"))?
            .map(state_from_tuple)
            .transpose()
    }

    async fn recent_results(
        &self,
        id: &CheckId,
        limit: u32,
    ) -> Result<Vec<CheckResult>, StoreError> {
        sqlx::query_as::<_, ResultTuple>(SELECT_RESULTS)
            .bind(id.as_str())
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(query_err("reading recent results"))?
            .into_iter()
            .map(result_from_tuple)
            .collect()
    }

    async fn rollups(
        &self,
        id: &CheckId,
        since: DateTime<Utc>,
    ) -> Result<Vec<HourlyRollup>, StoreError> {
        sqlx::query(AssertSqlSafe(Arc::clone(&SELECT_ROLLUPS)))
            .bind(id.as_str())
            .bind(hour_start_ms(to_ms(since)))
            .fetch_all(&self.reader)
            .await
            .map_err(query_err("reading hourly rollups"))?
            .iter()
            .map(rollup_from_row)
            .collect()
    }

    async fn prune(
        &self,
        raw_before: DateTime<Utc>,
        rollups_before: DateTime<Utc>,
    ) -> Result<PruneStats, StoreError> {
        Ok(PruneStats {
            raw_results: self
                .delete_in_chunks(PRUNE_RESULTS, to_ms(raw_before), "pruning raw results")
                .await?,
            rollups: self
                .delete_in_chunks(PRUNE_ROLLUPS, to_ms(rollups_before), "pruning rollups")
                .await?,
        })
    }

    async fn forget_checks(&self, keep: &[CheckId]) -> Result<u64, StoreError> {
        let doing = "forgetting removed checks";
        let existing: Vec<String> = sqlx::query_scalar("SELECT check_id FROM check_state")
            .fetch_all(&self.reader)
            .await
            .map_err(query_err(doing))?;
        let mut forgotten = 0;
        for chunk in ids_to_forget(existing, keep).chunks(FORGET_CHUNK) {
            let mut tx = self.writer.begin().await.map_err(query_err(doing))?;
            for id in chunk {
                forgotten += sqlx::query("DELETE FROM check_state WHERE check_id = ?1")
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(query_err(doing))?
                    .rows_affected();
            }
            tx.commit().await.map_err(query_err(doing))?;
        }
        Ok(forgotten)
    }
}

impl SqliteStore {
    /// Runs a `DELETE … LIMIT ?2` statement until it deletes less than a chunk. Each chunk is its
    /// own short transaction, so batches of results get written in between.
    async fn delete_in_chunks(
        &self,
        sql: &'static str,
        before_ms: i64,
        doing: &'static str,
    ) -> Result<u64, StoreError> {
        let mut total = 0;
        for _ in 0..PRUNE_MAX_CHUNKS {
            let n = sqlx::query(sql)
                .bind(before_ms)
                .bind(PRUNE_CHUNK)
                .execute(&self.writer)
                .await
                .map_err(query_err(doing))?
                .rows_affected();
            total += n;
            if n < PRUNE_CHUNK as u64 {
                break;
            }
            tokio::task::yield_now().await;
        }
        Ok(total)
    }
}

// ---------------------------------------------------------------------------------------------
// Tickets, outbox, incidents, detector state.

/// `SELECT id, <ticket columns> FROM tickets t`, for [`ticket_from_row`].
static SELECT_TICKETS: LazyLock<String> = LazyLock::new(|| {
    let columns: Vec<String> = TICKET_VALUE_COLUMNS
        .iter()
        .map(|c| format!("t.{c}"))
        .collect();
    format!("SELECT t.id, {} FROM tickets t", columns.join(", "))
});

static INSERT_TICKET: LazyLock<Arc<str>> = LazyLock::new(|| {
    let params: Vec<String> = (1..=TICKET_VALUE_COLUMNS.len())
        .map(|n| format!("?{n}"))
        .collect();
    format!(
        "INSERT INTO tickets ({}) VALUES ({}) RETURNING id",
        TICKET_VALUE_COLUMNS.join(", "),
        params.join(", ")
    )
    .into()
});

/// Every column from [`TicketValues`]; then ?22 the id and ?23 the expected status.
static UPDATE_TICKET: LazyLock<Arc<str>> = LazyLock::new(|| {
    let sets: Vec<String> = TICKET_VALUE_COLUMNS
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = ?{}", i + 1))
        .collect();
    format!(
        "UPDATE tickets SET {} WHERE id = ?22 AND status = ?23",
        sets.join(", ")
    )
    .into()
});

static SELECT_TICKET: LazyLock<Arc<str>> =
    LazyLock::new(|| format!("{} WHERE t.id = ?1", *SELECT_TICKETS).into());

static SELECT_TICKET_LIST: LazyLock<Arc<str>> = LazyLock::new(|| {
    format!(
        "{} WHERE (?1 = 0 OR t.status NOT IN ('resolved', 'closed')) \
         AND (?2 IS NULL OR t.customer_id = ?2) \
         ORDER BY t.created_ms DESC, t.id DESC LIMIT ?3",
        *SELECT_TICKETS
    )
    .into()
});

static SELECT_LATEST_FOR_CHECK: LazyLock<Arc<str>> = LazyLock::new(|| {
    format!(
        "{} JOIN ticket_checks c ON c.ticket_id = t.id WHERE c.check_id = ?1 \
         ORDER BY t.created_ms DESC, t.id DESC LIMIT 1",
        *SELECT_TICKETS
    )
    .into()
});

const INSERT_EVENT: &str = "\
INSERT INTO ticket_events (ticket_id, at_ms, actor, public, kind, payload) \
VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

const SELECT_TIMELINE: &str = "\
SELECT ticket_id, at_ms, actor, public, payload FROM ticket_events \
WHERE ticket_id = ?1 ORDER BY at_ms, seq";

const INSERT_MESSAGE: &str = "\
INSERT INTO outbox (key, ticket_id, channel, subject, body, message_id, status, created_ms, \
                    attempts, next_attempt_ms) \
VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, 0, ?7) \
ON CONFLICT (key) DO NOTHING";

/// Claims due messages in one statement on the one writer connection: no two claimers can
/// get the same message. ?1 now, ?2 the lease's end, ?3 the limit.
static CLAIM_DUE: LazyLock<Arc<str>> = LazyLock::new(|| {
    format!(
        "UPDATE outbox SET claimed_until_ms = ?2 WHERE id IN \
             (SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_ms <= ?1 \
              AND (claimed_until_ms IS NULL OR claimed_until_ms <= ?1) \
              ORDER BY next_attempt_ms, id LIMIT ?3) \
         RETURNING {}",
        OUTBOX_COLUMNS.join(", ")
    )
    .into()
});

static SELECT_OUTBOX: LazyLock<Arc<str>> = LazyLock::new(|| {
    format!(
        "SELECT {} FROM outbox WHERE (?1 IS NULL OR status = ?1) \
         AND (?2 IS NULL OR ticket_id = ?2) ORDER BY id DESC LIMIT ?3",
        OUTBOX_COLUMNS.join(", ")
    )
    .into()
});

const MARK_DELIVERED: &str = "\
UPDATE outbox SET status = 'delivered', delivered_ms = ?2, attempts = attempts + 1, \
                  claimed_until_ms = NULL \
WHERE id = ?1 AND status = 'pending' RETURNING ticket_id, message_id, channel";

/// ?3 the new status, ?4 the next attempt (NULL: unchanged).
const MARK_FAILED: &str = "\
UPDATE outbox SET status = ?3, attempts = attempts + 1, last_error = ?2, \
                  next_attempt_ms = coalesce(?4, next_attempt_ms), claimed_until_ms = NULL \
WHERE id = ?1 AND status = 'pending' RETURNING ticket_id, message_id, channel";

const INCIDENT_COLUMNS: &str = "id, key, opened_ms, closed_ms, checks, customers, summary";

/// Appends events to a ticket's timeline, inside the caller's transaction.
async fn insert_events(
    conn: &mut SqliteConnection,
    ticket: TicketId,
    events: &[NewEvent],
) -> Result<(), StoreError> {
    for e in events {
        insert_event(conn, ticket, &EventValues::of(e)?).await?;
    }
    Ok(())
}

async fn insert_event(
    conn: &mut SqliteConnection,
    ticket: TicketId,
    e: &EventValues,
) -> Result<(), StoreError> {
    sqlx::query(INSERT_EVENT)
        .bind(ticket.0)
        .bind(e.at_ms)
        .bind(e.actor.as_str())
        .bind(e.public)
        .bind(e.kind.as_str())
        .bind(e.payload.as_str())
        .execute(conn)
        .await
        .map_err(query_err("appending a timeline event"))?;
    Ok(())
}

/// Queues messages (a key already queued is skipped), inside the caller's transaction.
async fn insert_messages(
    conn: &mut SqliteConnection,
    messages: &[NewMessage],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for m in messages {
        let v = MessageValues::of(m)?;
        sqlx::query(INSERT_MESSAGE)
            .bind(v.key)
            .bind(v.ticket)
            .bind(v.channel.as_str())
            .bind(v.subject)
            .bind(v.body)
            .bind(v.message_id)
            .bind(to_ms(now))
            .execute(&mut *conn)
            .await
            .map_err(query_err("queuing a message"))?;
    }
    Ok(())
}

/// Replaces the ticket's rows in `ticket_checks`, inside the caller's transaction.
async fn index_checks(conn: &mut SqliteConnection, ticket: &Ticket) -> Result<(), StoreError> {
    let doing = "indexing a ticket's checks";
    sqlx::query("DELETE FROM ticket_checks WHERE ticket_id = ?1")
        .bind(ticket.id.0)
        .execute(&mut *conn)
        .await
        .map_err(query_err(doing))?;
    for check in &ticket.checks {
        sqlx::query(
            "INSERT INTO ticket_checks (check_id, ticket_id) VALUES (?1, ?2) \
             ON CONFLICT DO NOTHING",
        )
        .bind(check.as_str())
        .bind(ticket.id.0)
        .execute(&mut *conn)
        .await
        .map_err(query_err(doing))?;
    }
    Ok(())
}

async fn exists(
    conn: &mut SqliteConnection,
    sql: &'static str,
    id: i64,
    doing: &'static str,
) -> Result<bool, StoreError> {
    Ok(sqlx::query(sql)
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(query_err(doing))?
        .is_some())
}

impl SqliteStore {
    /// Records the end of a delivery attempt and, for a ticket's message, its timeline event,
    /// in one transaction.
    async fn finish_attempt(
        &self,
        id: i64,
        at: DateTime<Utc>,
        attempt: Attempt<'_>,
    ) -> Result<(), StoreError> {
        let doing = "recording a delivery attempt";
        let mut tx = self.writer.begin().await.map_err(query_err(doing))?;
        let row = match attempt {
            Attempt::Delivered => sqlx::query(MARK_DELIVERED).bind(id).bind(to_ms(at)),
            Attempt::Failed { error, retry_at } => sqlx::query(MARK_FAILED)
                .bind(id)
                .bind(error)
                .bind(if retry_at.is_some() {
                    "pending"
                } else {
                    "dead"
                })
                .bind(retry_at.map(to_ms)),
        }
        .fetch_optional(&mut *tx)
        .await
        .map_err(query_err(doing))?;
        let Some(row) = row else {
            // Delivered or given up meanwhile (a lease ran out): nothing to record.
            return if exists(&mut tx, "SELECT 1 FROM outbox WHERE id = ?1", id, doing).await? {
                Ok(())
            } else {
                Err(StoreError::NotFound {
                    what: format!("outbox message {id}"),
                })
            };
        };
        let bad = |e: sqlx::Error| StoreError::Corrupt {
            table: "outbox",
            reason: e.to_string(),
        };
        let ticket: Option<i64> = sqlx::Row::try_get(&row, 0).map_err(bad)?;
        if let Some(ticket) = ticket {
            let message_id: String = sqlx::Row::try_get(&row, 1).map_err(bad)?;
            let channel: String = sqlx::Row::try_get(&row, 2).map_err(bad)?;
            let event = attempt_event(message_id, &channel, at, attempt)?;
            insert_event(&mut tx, TicketId(ticket), &event).await?;
        }
        tx.commit().await.map_err(query_err(doing))
    }
}

#[async_trait]
impl TicketStore for SqliteStore {
    async fn create_ticket(
        &self,
        new: NewTicket,
        first_words: FirstWords,
    ) -> Result<Ticket, StoreError> {
        let doing = "creating a ticket";
        let mut ticket = ticket_of_new(new);
        let values = TicketValues::of(&ticket)?;
        let mut tx = self.writer.begin().await.map_err(query_err(doing))?;
        let id: i64 = bind_ticket!(
            sqlx::query_scalar(AssertSqlSafe(Arc::clone(&INSERT_TICKET))),
            values
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(query_err(doing))?;
        ticket.id = TicketId(id);
        index_checks(&mut tx, &ticket).await?;
        let (events, messages) = first_words(&ticket);
        insert_events(&mut tx, ticket.id, &events).await?;
        insert_messages(&mut tx, &messages, ticket.created_at).await?;
        tx.commit().await.map_err(query_err(doing))?;
        Ok(ticket)
    }

    async fn save_ticket(
        &self,
        ticket: &Ticket,
        expected: TicketStatus,
        events: Vec<NewEvent>,
        messages: Vec<NewMessage>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let doing = "saving a ticket";
        let values = TicketValues::of(ticket)?;
        let mut tx = self.writer.begin().await.map_err(query_err(doing))?;
        let updated = bind_ticket!(
            sqlx::query(AssertSqlSafe(Arc::clone(&UPDATE_TICKET))),
            values
        )
        .bind(ticket.id.0)
        .bind(expected.as_str())
        .execute(&mut *tx)
        .await
        .map_err(query_err(doing))?
        .rows_affected();
        if updated == 0 {
            let what = format!("ticket {}", ticket.id);
            let sql = "SELECT 1 FROM tickets WHERE id = ?1";
            return Err(if exists(&mut tx, sql, ticket.id.0, doing).await? {
                StoreError::Conflict { what }
            } else {
                StoreError::NotFound { what }
            });
        }
        index_checks(&mut tx, ticket).await?;
        insert_events(&mut tx, ticket.id, &events).await?;
        insert_messages(&mut tx, &messages, now).await?;
        tx.commit().await.map_err(query_err(doing))
    }

    async fn ticket(&self, id: TicketId) -> Result<Option<Ticket>, StoreError> {
        sqlx::query(AssertSqlSafe(Arc::clone(&SELECT_TICKET)))
            .bind(id.0)
            .fetch_optional(&self.reader)
            .await
            .map_err(query_err("reading a ticket"))?
            .as_ref()
            .map(ticket_from_row)
            .transpose()
    }

    async fn tickets(&self, filter: &TicketFilter) -> Result<Vec<Ticket>, StoreError> {
        sqlx::query(AssertSqlSafe(Arc::clone(&SELECT_TICKET_LIST)))
            .bind(filter.open_only)
            .bind(filter.customer.as_ref().map(CustomerId::as_str))
            .bind(filter.limit.map_or(-1, i64::from))
            .fetch_all(&self.reader)
            .await
            .map_err(query_err("listing tickets"))?
            .iter()
            .map(ticket_from_row)
            .collect()
    }

    async fn timeline(&self, id: TicketId) -> Result<Vec<TimelineEvent>, StoreError> {
        sqlx::query(SELECT_TIMELINE)
            .bind(id.0)
            .fetch_all(&self.reader)
            .await
            .map_err(query_err("reading a timeline"))?
            .iter()
            .map(event_from_row)
            .collect()
    }

    async fn latest_ticket_for_check(&self, check: &CheckId) -> Result<Option<Ticket>, StoreError> {
        sqlx::query(AssertSqlSafe(Arc::clone(&SELECT_LATEST_FOR_CHECK)))
            .bind(check.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(query_err("finding the latest ticket of a check"))?
            .as_ref()
            .map(ticket_from_row)
            .transpose()
    }

    async fn enqueue(
        &self,
        messages: Vec<NewMessage>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if messages.is_empty() {
            return Ok(());
        }
        let doing = "queuing messages";
        let mut tx = self.writer.begin().await.map_err(query_err(doing))?;
        insert_messages(&mut tx, &messages, now).await?;
        tx.commit().await.map_err(query_err(doing))
    }

    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let mut claimed = sqlx::query(AssertSqlSafe(Arc::clone(&CLAIM_DUE)))
            .bind(to_ms(now))
            .bind(lease_end_ms(now, lease))
            .bind(i64::from(limit))
            .fetch_all(&self.writer)
            .await
            .map_err(query_err("claiming due messages"))?
            .iter()
            .map(outbox_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        claimed.sort_by_key(|m| (m.next_attempt_at, m.id));
        Ok(claimed)
    }

    async fn mark_delivered(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.finish_attempt(id, at, Attempt::Delivered).await
    }

    async fn mark_failed(
        &self,
        id: i64,
        at: DateTime<Utc>,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        self.finish_attempt(id, at, Attempt::Failed { error, retry_at })
            .await
    }

    async fn outbox(&self, filter: &OutboxFilter) -> Result<Vec<OutboxMessage>, StoreError> {
        sqlx::query(AssertSqlSafe(Arc::clone(&SELECT_OUTBOX)))
            .bind(filter.status.map(message_status_str))
            .bind(filter.ticket.map(|t| t.0))
            .bind(filter.limit.map_or(-1, i64::from))
            .fetch_all(&self.reader)
            .await
            .map_err(query_err("listing the outbox"))?
            .iter()
            .map(outbox_from_row)
            .collect()
    }

    async fn retry_dead(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "UPDATE outbox SET status = 'pending', next_attempt_ms = ?1, attempts = 0, \
             claimed_until_ms = NULL WHERE status = 'dead'",
        )
        .bind(to_ms(now))
        .execute(&self.writer)
        .await
        .map_err(query_err("requeuing dead messages"))?
        .rows_affected())
    }

    async fn open_incident(
        &self,
        key: &str,
        at: DateTime<Utc>,
        checks: &[CheckId],
        customers: &[CustomerId],
        summary: &str,
    ) -> Result<Incident, StoreError> {
        let (checks_json, customers_json) = incident_json(checks, customers)?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO incidents (key, opened_ms, checks, customers, summary) \
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
        )
        .bind(key)
        .bind(to_ms(at))
        .bind(checks_json)
        .bind(customers_json)
        .bind(summary)
        .fetch_one(&self.writer)
        .await
        .map_err(unique_conflict("opening an incident", || {
            format!("incident {key} (one is open already)")
        }))?;
        Ok(Incident {
            id,
            key: key.to_owned(),
            // As it reads back: to the millisecond.
            opened_at: from_ms("incidents", to_ms(at))?,
            closed_at: None,
            checks: checks.to_vec(),
            customers: customers.to_vec(),
            summary: summary.to_owned(),
        })
    }

    async fn update_incident(&self, incident: &Incident) -> Result<(), StoreError> {
        let (checks_json, customers_json) = incident_json(&incident.checks, &incident.customers)?;
        let updated = sqlx::query(
            "UPDATE incidents SET checks = ?2, customers = ?3, summary = ?4 WHERE id = ?1",
        )
        .bind(incident.id)
        .bind(checks_json)
        .bind(customers_json)
        .bind(incident.summary.as_str())
        .execute(&self.writer)
        .await
        .map_err(query_err("updating an incident"))?
        .rows_affected();
        if updated == 0 {
            return Err(StoreError::NotFound {
                what: format!("incident {}", incident.id),
            });
        }
        Ok(())
    }

    async fn close_incident(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        let doing = "closing an incident";
        let mut conn = self.writer.acquire().await.map_err(query_err(doing))?;
        let closed =
            sqlx::query("UPDATE incidents SET closed_ms = ?2 WHERE id = ?1 AND closed_ms IS NULL")
                .bind(id)
                .bind(to_ms(at))
                .execute(&mut *conn)
                .await
                .map_err(query_err(doing))?
                .rows_affected();
        if closed == 0
            && !exists(
                &mut conn,
                "SELECT 1 FROM incidents WHERE id = ?1",
                id,
                doing,
            )
            .await?
        {
            return Err(StoreError::NotFound {
                what: format!("incident {id}"),
            });
        }
        Ok(())
    }

    async fn open_incidents(&self) -> Result<Vec<Incident>, StoreError> {
        static SQL: LazyLock<Arc<str>> = LazyLock::new(|| {
            format!(
                "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE closed_ms IS NULL \
                 ORDER BY opened_ms, id"
            )
            .into()
        });
        sqlx::query(AssertSqlSafe(Arc::clone(&SQL)))
            .fetch_all(&self.reader)
            .await
            .map_err(query_err("listing open incidents"))?
            .iter()
            .map(incident_from_row)
            .collect()
    }

    async fn save_detector_state(
        &self,
        states: &[(CheckId, serde_json::Value)],
    ) -> Result<(), StoreError> {
        let rows = detector_rows(states)?;
        if rows.is_empty() {
            return Ok(());
        }
        let doing = "saving the incident detector's state";
        let updated_ms = to_ms(Utc::now());
        let mut tx = self.writer.begin().await.map_err(query_err(doing))?;
        for (check, state) in &rows {
            sqlx::query(
                "INSERT INTO detector_state (check_id, state, updated_ms) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (check_id) DO UPDATE SET state = excluded.state, \
                 updated_ms = excluded.updated_ms",
            )
            .bind(check.as_str())
            .bind(state.as_str())
            .bind(updated_ms)
            .execute(&mut *tx)
            .await
            .map_err(query_err(doing))?;
        }
        tx.commit().await.map_err(query_err(doing))
    }

    async fn detector_states(&self) -> Result<Vec<(CheckId, serde_json::Value)>, StoreError> {
        sqlx::query("SELECT check_id, state FROM detector_state ORDER BY check_id")
            .fetch_all(&self.reader)
            .await
            .map_err(query_err("reading the incident detector's state"))?
            .iter()
            .map(detector_from_row)
            .collect()
    }
}
