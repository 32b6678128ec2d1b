//! The PostgreSQL backend: the sibling of `sqlite.rs`, same tables and semantics.
//!
//! A batch is a handful of statements whatever its size: each column goes as one array and
//! `UNNEST` turns the arrays back into rows, so a round trip is paid per statement, not per
//! result. Rows are written in (check id, time) order so that concurrent batches lock state rows
//! in the same order.

use std::str::FromStr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Connection;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, SqlSafeStr};

use super::tickets::{
    Attempt, EventValues, FirstWords, Incident, MessageValues, NewEvent, NewTicket, OUTBOX_COLUMNS,
    OutboxFilter, TICKET_VALUE_COLUMNS, TicketFilter, TicketStore, TicketValues, attempt_event,
    bind_ticket, detector_from_row, detector_rows, event_from_row, incident_from_row,
    incident_json, lease_end_ms, message_status_str, outbox_from_row, ticket_from_row,
    ticket_of_new, unique_conflict,
};
use super::{
    Dialect, FORGET_CHUNK, HourlyRollup, PRUNE_CHUNK, PRUNE_MAX_CHUNKS, PruneStats, ResultRow,
    ResultTuple, STATE_COLUMNS, StateTuple, Store, StoreError, from_ms, hour_start_ms,
    ids_to_forget, query_err, redact_url, result_from_tuple, rollup_deltas, rollup_from_row,
    rows_in_write_order, state_from_tuple, to_ms,
};
use crate::model::{CheckId, CheckResult, CheckState, CustomerId};
use crate::notify::{NewMessage, OutboxMessage};
use crate::ticket::model::{Ticket, TicketId, TicketStatus, TimelineEvent};

#[path = "postgres_users.rs"]
mod users;

fn migrator() -> Migrator {
    Migrator::with_migrations(vec![
        Migration::new(
            1,
            "init".into(),
            MigrationType::Simple,
            include_str!("../../migrations/postgres/0001_init.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            2,
            "tickets".into(),
            MigrationType::Simple,
            include_str!("../../migrations/postgres/0002_tickets.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            3,
            "users".into(),
            MigrationType::Simple,
            include_str!("../../migrations/postgres/0003_users.sql").into_sql_str(),
            false,
        ),
    ])
}

/// Upserts the states of one round of results (at most one result per check, see
/// [`state_rounds`]). Same rules as SQLite's. Parameters (arrays): check_id, customer_id,
/// status, started_at_ms, message, latency_ms.
const UPSERT_STATES: &str = "\
INSERT INTO check_state (check_id, customer_id, status, since_ms, consecutive, last_run_ms, \
                         last_message, last_latency_ms) \
SELECT c, cu, st, s, 1, s, m, l \
FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::float8[]) \
     AS t(c, cu, st, s, m, l) \
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

const INSERT_RESULTS: &str = "\
INSERT INTO check_result (check_id, customer_id, kind, planned_at_ms, started_at_ms, status, \
                          latency_ms, message, outcome) \
SELECT c, cu, k, p, s, st, l, m, o::jsonb \
FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[], \
            $7::float8[], $8::text[], $9::text[]) AS t(c, cu, k, p, s, st, l, m, o)";

static UPSERT_ROLLUPS: LazyLock<Arc<str>> =
    LazyLock::new(|| super::rollup_upsert_sql(Dialect::Postgres).into());
static SELECT_ROLLUPS: LazyLock<Arc<str>> =
    LazyLock::new(|| super::rollups_select_sql(Dialect::Postgres).into());

const SELECT_RESULTS: &str = "\
SELECT check_id, customer_id, kind, planned_at_ms, started_at_ms, status, latency_ms, message, \
       outcome::text \
FROM check_result WHERE check_id = $1 ORDER BY started_at_ms DESC, id DESC LIMIT $2";

const PRUNE_RESULTS: &str = "\
DELETE FROM check_result WHERE id IN \
    (SELECT id FROM check_result WHERE started_at_ms < $1 LIMIT $2)";

const PRUNE_ROLLUPS: &str = "\
DELETE FROM check_rollup_hourly WHERE (check_id, hour_ms) IN \
    (SELECT check_id, hour_ms FROM check_rollup_hourly WHERE hour_ms < $1 LIMIT $2)";

pub(super) struct PgStore {
    pool: PgPool,
}

impl PgStore {
    pub(super) async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
        let target = redact_url(url);
        let opts = PgConnectOptions::from_str(url).map_err(|e| StoreError::InvalidUrl {
            url: target.clone(),
            reason: e.to_string(),
        })?;
        let open_error = |e: sqlx::Error| StoreError::Open {
            target: target.clone(),
            reason: format!(
                "{e}; check that the server runs, the database exists and the user may connect \
                 and create tables"
            ),
        };
        // One direct connection first: the pool would retry a refused connection until its
        // acquire timeout, and a server that is down at start should be said at once.
        PgConnection::connect_with(&opts)
            .await
            .map_err(open_error)?
            .close()
            .await
            .map_err(open_error)?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await
            .map_err(open_error)?;
        migrator()
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migrate {
                target,
                reason: e.to_string(),
            })?;
        Ok(Arc::new(PgStore { pool }))
    }
}

/// Splits a batch (in write order) into rounds: round k holds the k-th run of each check, so a
/// round never touches a state row twice (PostgreSQL refuses that in one `ON CONFLICT`
/// statement) and rounds apply each check's runs in time order. Usually there is one round.
fn state_rounds<'r, 'a>(rows: &'r [ResultRow<'a>]) -> Vec<Vec<&'r ResultRow<'a>>> {
    let mut rounds: Vec<Vec<&ResultRow<'a>>> = Vec::new();
    let mut k = 0;
    for (i, row) in rows.iter().enumerate() {
        let same_check = i > 0 && rows[i - 1].result.check_id == row.result.check_id;
        k = if same_check { k + 1 } else { 0 };
        if rounds.len() <= k {
            rounds.push(Vec::new());
        }
        rounds[k].push(row);
    }
    rounds
}

#[async_trait]
impl Store for PgStore {
    async fn record(&self, results: &[CheckResult]) -> Result<(), StoreError> {
        if results.is_empty() {
            return Ok(());
        }
        let rows = rows_in_write_order(results)?;
        let deltas = rollup_deltas(&rows);
        let doing = "recording results";
        let mut tx = self.pool.begin().await.map_err(query_err(doing))?;

        for round in state_rounds(&rows) {
            sqlx::query(UPSERT_STATES)
                .bind(column(&round, |r| r.result.check_id.as_str()))
                .bind(column(&round, |r| r.result.customer_id.as_str()))
                .bind(column(&round, |r| r.result.outcome.status.as_str()))
                .bind(column(&round, |r| r.started_ms))
                .bind(column(&round, |r| r.result.outcome.message.as_str()))
                .bind(column(&round, |r| r.latency_ms))
                .execute(&mut *tx)
                .await
                .map_err(query_err(doing))?;
        }

        let all: Vec<&ResultRow> = rows.iter().collect();
        sqlx::query(INSERT_RESULTS)
            .bind(column(&all, |r| r.result.check_id.as_str()))
            .bind(column(&all, |r| r.result.customer_id.as_str()))
            .bind(column(&all, |r| r.result.kind.as_str()))
            .bind(column(&all, |r| r.planned_ms))
            .bind(column(&all, |r| r.started_ms))
            .bind(column(&all, |r| r.result.outcome.status.as_str()))
            .bind(column(&all, |r| r.latency_ms))
            .bind(column(&all, |r| r.result.outcome.message.as_str()))
            .bind(column(&all, |r| r.outcome_json.as_str()))
            .execute(&mut *tx)
            .await
            .map_err(query_err(doing))?;

        let mut q = sqlx::query(AssertSqlSafe(Arc::clone(&UPSERT_ROLLUPS)))
            .bind(deltas.iter().map(|d| d.check_id).collect::<Vec<_>>())
            .bind(deltas.iter().map(|d| d.hour_ms).collect::<Vec<_>>())
            .bind(deltas.iter().map(|d| d.runs).collect::<Vec<_>>())
            .bind(deltas.iter().map(|d| d.failures).collect::<Vec<_>>())
            .bind(deltas.iter().map(|d| d.measured).collect::<Vec<_>>())
            .bind(deltas.iter().map(|d| d.latency_sum_ms).collect::<Vec<_>>())
            .bind(deltas.iter().map(|d| d.latency_min_ms).collect::<Vec<_>>())
            .bind(deltas.iter().map(|d| d.latency_max_ms).collect::<Vec<_>>());
        for bucket in 0..super::histogram::BUCKETS {
            q = q.bind(
                deltas
                    .iter()
                    .map(|d| d.histogram.0[bucket])
                    .collect::<Vec<_>>(),
            );
        }
        q.execute(&mut *tx).await.map_err(query_err(doing))?;

        tx.commit().await.map_err(query_err(doing))
    }

    async fn states(&self) -> Result<Vec<CheckState>, StoreError> {
        static SQL: LazyLock<Arc<str>> = LazyLock::new(|| {
            format!("SELECT {STATE_COLUMNS} FROM check_state ORDER BY check_id").into()
        });
        sqlx::query_as::<_, StateTuple>(AssertSqlSafe(Arc::clone(&SQL)))
            .fetch_all(&self.pool)
            .await
            .map_err(query_err("reading check states"))?
            .into_iter()
            .map(state_from_tuple)
            .collect()
    }

    async fn state(&self, id: &CheckId) -> Result<Option<CheckState>, StoreError> {
        static SQL: LazyLock<Arc<str>> = LazyLock::new(|| {
            format!("SELECT {STATE_COLUMNS} FROM check_state WHERE check_id = $1").into()
        });
        sqlx::query_as::<_, StateTuple>(AssertSqlSafe(Arc::clone(&SQL)))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
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
            .fetch_all(&self.pool)
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
            .fetch_all(&self.pool)
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
            .fetch_all(&self.pool)
            .await
            .map_err(query_err(doing))?;
        let mut forgotten = 0;
        for chunk in ids_to_forget(existing, keep).chunks(FORGET_CHUNK) {
            forgotten += sqlx::query("DELETE FROM check_state WHERE check_id = ANY($1::text[])")
                .bind(chunk)
                .execute(&self.pool)
                .await
                .map_err(query_err(doing))?
                .rows_affected();
        }
        Ok(forgotten)
    }
}

/// One column of a set of rows, as an array parameter.
fn column<'r, 'a, T>(rows: &[&'r ResultRow<'a>], f: impl Fn(&'r ResultRow<'a>) -> T) -> Vec<T> {
    rows.iter().map(|&r| f(r)).collect()
}

impl PgStore {
    /// Runs a `DELETE … LIMIT $2` statement until it deletes less than a chunk; each chunk is its
    /// own short transaction.
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
                .execute(&self.pool)
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
// Tickets, outbox, incidents, detector state. JSON columns are JSONB: bound as text and cast,
// selected as text.

/// A ticket column as selected (JSON as text) and as a parameter `$n` (JSON cast to JSONB).
fn ticket_column_select(c: &str) -> String {
    if c == "checks" {
        format!("t.{c}::text")
    } else {
        format!("t.{c}")
    }
}

fn ticket_column_param(c: &str, n: usize) -> String {
    if c == "checks" {
        format!("${n}::jsonb")
    } else {
        format!("${n}")
    }
}

/// `SELECT id, <ticket columns> FROM tickets t`, for [`ticket_from_row`].
static SELECT_TICKETS: LazyLock<String> = LazyLock::new(|| {
    let columns: Vec<String> = TICKET_VALUE_COLUMNS
        .iter()
        .map(|c| ticket_column_select(c))
        .collect();
    format!("SELECT t.id, {} FROM tickets t", columns.join(", "))
});

static INSERT_TICKET: LazyLock<Arc<str>> = LazyLock::new(|| {
    let params: Vec<String> = TICKET_VALUE_COLUMNS
        .iter()
        .enumerate()
        .map(|(i, c)| ticket_column_param(c, i + 1))
        .collect();
    format!(
        "INSERT INTO tickets ({}) VALUES ({}) RETURNING id",
        TICKET_VALUE_COLUMNS.join(", "),
        params.join(", ")
    )
    .into()
});

/// Every column from [`TicketValues`]; then $22 the id and $23 the expected status.
static UPDATE_TICKET: LazyLock<Arc<str>> = LazyLock::new(|| {
    let sets: Vec<String> = TICKET_VALUE_COLUMNS
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = {}", ticket_column_param(c, i + 1)))
        .collect();
    format!(
        "UPDATE tickets SET {} WHERE id = $22 AND status = $23",
        sets.join(", ")
    )
    .into()
});

static SELECT_TICKET: LazyLock<Arc<str>> =
    LazyLock::new(|| format!("{} WHERE t.id = $1", *SELECT_TICKETS).into());

static SELECT_TICKET_LIST: LazyLock<Arc<str>> = LazyLock::new(|| {
    format!(
        "{} WHERE (NOT $1 OR t.status NOT IN ('resolved', 'closed')) \
         AND ($2::text IS NULL OR t.customer_id = $2) \
         ORDER BY t.created_ms DESC, t.id DESC LIMIT $3",
        *SELECT_TICKETS
    )
    .into()
});

static SELECT_LATEST_FOR_CHECK: LazyLock<Arc<str>> = LazyLock::new(|| {
    format!(
        "{} JOIN ticket_checks c ON c.ticket_id = t.id WHERE c.check_id = $1 \
         ORDER BY t.created_ms DESC, t.id DESC LIMIT 1",
        *SELECT_TICKETS
    )
    .into()
});

const INSERT_EVENT: &str = "\
INSERT INTO ticket_events (ticket_id, at_ms, actor, public, kind, payload) \
VALUES ($1, $2, $3::jsonb, $4, $5, $6::jsonb)";

const SELECT_TIMELINE: &str = "\
SELECT ticket_id, at_ms, actor::text, public, payload::text FROM ticket_events \
WHERE ticket_id = $1 ORDER BY at_ms, seq";

const INSERT_MESSAGE: &str = "\
INSERT INTO outbox (key, ticket_id, channel, subject, body, message_id, status, created_ms, \
                    attempts, next_attempt_ms) \
VALUES ($1, $2, $3::jsonb, $4, $5, $6, 'pending', $7, 0, $7) \
ON CONFLICT (key) DO NOTHING";

/// The outbox columns of [`outbox_from_row`], qualified, channel as text.
fn outbox_select_columns() -> String {
    OUTBOX_COLUMNS
        .iter()
        .map(|c| {
            if *c == "channel" {
                format!("o.{c}::text")
            } else {
                format!("o.{c}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Locks due messages, skipping those another claimer holds locked, and sets their lease in
/// the same statement (one transaction): no two claimers get the same message. $1 now, $2
/// the lease's end, $3 the limit.
static CLAIM_DUE: LazyLock<Arc<str>> = LazyLock::new(|| {
    format!(
        "WITH due AS (\
             SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_ms <= $1 \
             AND (claimed_until_ms IS NULL OR claimed_until_ms <= $1) \
             ORDER BY next_attempt_ms, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
         UPDATE outbox o SET claimed_until_ms = $2 FROM due WHERE o.id = due.id \
         RETURNING {}",
        outbox_select_columns()
    )
    .into()
});

static SELECT_OUTBOX: LazyLock<Arc<str>> = LazyLock::new(|| {
    format!(
        "SELECT {} FROM outbox o WHERE ($1::text IS NULL OR o.status = $1) \
         AND ($2::bigint IS NULL OR o.ticket_id = $2) ORDER BY o.id DESC LIMIT $3",
        outbox_select_columns()
    )
    .into()
});

const MARK_DELIVERED: &str = "\
UPDATE outbox SET status = 'delivered', delivered_ms = $2, attempts = attempts + 1, \
                  claimed_until_ms = NULL \
WHERE id = $1 AND status = 'pending' RETURNING ticket_id, message_id, channel::text";

/// $3 the new status, $4 the next attempt (NULL: unchanged).
const MARK_FAILED: &str = "\
UPDATE outbox SET status = $3, attempts = attempts + 1, last_error = $2, \
                  next_attempt_ms = coalesce($4::bigint, next_attempt_ms), \
                  claimed_until_ms = NULL \
WHERE id = $1 AND status = 'pending' RETURNING ticket_id, message_id, channel::text";

const INCIDENT_COLUMNS: &str =
    "id, key, opened_ms, closed_ms, checks::text, customers::text, summary";

/// Appends events to a ticket's timeline, inside the caller's transaction.
async fn insert_events(
    conn: &mut PgConnection,
    ticket: TicketId,
    events: &[NewEvent],
) -> Result<(), StoreError> {
    for e in events {
        insert_event(conn, ticket, &EventValues::of(e)?).await?;
    }
    Ok(())
}

async fn insert_event(
    conn: &mut PgConnection,
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
    conn: &mut PgConnection,
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
async fn index_checks(conn: &mut PgConnection, ticket: &Ticket) -> Result<(), StoreError> {
    let doing = "indexing a ticket's checks";
    sqlx::query("DELETE FROM ticket_checks WHERE ticket_id = $1")
        .bind(ticket.id.0)
        .execute(&mut *conn)
        .await
        .map_err(query_err(doing))?;
    let checks: Vec<&str> = ticket.checks.iter().map(CheckId::as_str).collect();
    sqlx::query(
        "INSERT INTO ticket_checks (check_id, ticket_id) \
         SELECT c, $2 FROM UNNEST($1::text[]) AS c ON CONFLICT DO NOTHING",
    )
    .bind(checks)
    .bind(ticket.id.0)
    .execute(&mut *conn)
    .await
    .map_err(query_err(doing))?;
    Ok(())
}

async fn exists(
    conn: &mut PgConnection,
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

impl PgStore {
    /// Records the end of a delivery attempt and, for a ticket's message, its timeline event,
    /// in one transaction.
    async fn finish_attempt(
        &self,
        id: i64,
        at: DateTime<Utc>,
        attempt: Attempt<'_>,
    ) -> Result<(), StoreError> {
        let doing = "recording a delivery attempt";
        let mut tx = self.pool.begin().await.map_err(query_err(doing))?;
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
            return if exists(&mut tx, "SELECT 1 FROM outbox WHERE id = $1", id, doing).await? {
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
impl TicketStore for PgStore {
    async fn create_ticket(
        &self,
        new: NewTicket,
        first_words: FirstWords,
    ) -> Result<Ticket, StoreError> {
        let doing = "creating a ticket";
        let mut ticket = ticket_of_new(new);
        let values = TicketValues::of(&ticket)?;
        let mut tx = self.pool.begin().await.map_err(query_err(doing))?;
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
        let mut tx = self.pool.begin().await.map_err(query_err(doing))?;
        // The row lock this takes orders concurrent saves; the status check makes the later
        // one fail if the earlier one changed the status.
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
            let sql = "SELECT 1 FROM tickets WHERE id = $1";
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
            .fetch_optional(&self.pool)
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
            .bind(filter.limit.map(i64::from))
            .fetch_all(&self.pool)
            .await
            .map_err(query_err("listing tickets"))?
            .iter()
            .map(ticket_from_row)
            .collect()
    }

    async fn timeline(&self, id: TicketId) -> Result<Vec<TimelineEvent>, StoreError> {
        sqlx::query(SELECT_TIMELINE)
            .bind(id.0)
            .fetch_all(&self.pool)
            .await
            .map_err(query_err("reading a timeline"))?
            .iter()
            .map(event_from_row)
            .collect()
    }

    async fn latest_ticket_for_check(&self, check: &CheckId) -> Result<Option<Ticket>, StoreError> {
        sqlx::query(AssertSqlSafe(Arc::clone(&SELECT_LATEST_FOR_CHECK)))
            .bind(check.as_str())
            .fetch_optional(&self.pool)
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
        let mut tx = self.pool.begin().await.map_err(query_err(doing))?;
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
            .fetch_all(&self.pool)
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
            .bind(filter.limit.map(i64::from))
            .fetch_all(&self.pool)
            .await
            .map_err(query_err("listing the outbox"))?
            .iter()
            .map(outbox_from_row)
            .collect()
    }

    async fn retry_dead(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "UPDATE outbox SET status = 'pending', next_attempt_ms = $1, attempts = 0, \
             claimed_until_ms = NULL WHERE status = 'dead'",
        )
        .bind(to_ms(now))
        .execute(&self.pool)
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
             VALUES ($1, $2, $3::jsonb, $4::jsonb, $5) RETURNING id",
        )
        .bind(key)
        .bind(to_ms(at))
        .bind(checks_json)
        .bind(customers_json)
        .bind(summary)
        .fetch_one(&self.pool)
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
            "UPDATE incidents SET checks = $2::jsonb, customers = $3::jsonb, summary = $4 \
             WHERE id = $1",
        )
        .bind(incident.id)
        .bind(checks_json)
        .bind(customers_json)
        .bind(incident.summary.as_str())
        .execute(&self.pool)
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
        let mut conn = self.pool.acquire().await.map_err(query_err(doing))?;
        let closed =
            sqlx::query("UPDATE incidents SET closed_ms = $2 WHERE id = $1 AND closed_ms IS NULL")
                .bind(id)
                .bind(to_ms(at))
                .execute(&mut *conn)
                .await
                .map_err(query_err(doing))?
                .rows_affected();
        if closed == 0
            && !exists(
                &mut conn,
                "SELECT 1 FROM incidents WHERE id = $1",
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
            .fetch_all(&self.pool)
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
        let (checks, jsons): (Vec<String>, Vec<String>) = rows.into_iter().unzip();
        sqlx::query(
            "INSERT INTO detector_state (check_id, state, updated_ms) \
             SELECT c, s::jsonb, $3 FROM UNNEST($1::text[], $2::text[]) AS t(c, s) \
             ON CONFLICT (check_id) DO UPDATE SET state = excluded.state, \
             updated_ms = excluded.updated_ms",
        )
        .bind(checks)
        .bind(jsons)
        .bind(to_ms(Utc::now()))
        .execute(&self.pool)
        .await
        .map_err(query_err("saving the incident detector's state"))?;
        Ok(())
    }

    async fn detector_states(&self) -> Result<Vec<(CheckId, serde_json::Value)>, StoreError> {
        sqlx::query("SELECT check_id, state::text FROM detector_state ORDER BY check_id")
            .fetch_all(&self.pool)
            .await
            .map_err(query_err("reading the incident detector's state"))?
            .iter()
            .map(detector_from_row)
            .collect()
    }
}
