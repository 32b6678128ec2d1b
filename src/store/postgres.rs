//! The PostgreSQL backend: the sibling of `sqlite.rs`, same tables and semantics.
//!
//! A batch is a handful of statements whatever its size: each column goes as one array and
//! `UNNEST` turns the arrays back into rows, so a round trip is paid per statement, not per
//! result. Rows are written in (check id, time) order so that concurrent batches lock state rows
//! in the same order.

use std::str::FromStr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use sqlx::AssertSqlSafe;
use sqlx::Connection;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};

use super::shared::TicketSql;
use super::tickets::OUTBOX_COLUMNS;
use super::{Dialect, ResultRow, RollupDelta, Store, StoreError, query_err, redact_url};
use crate::model::CheckId;
use crate::ticket::model::Ticket;

#[path = "postgres_users.rs"]
mod users;

#[path = "postgres_surveys.rs"]
mod surveys;

fn migrator() -> Migrator {
    super::shared::migrator!("postgres")
}

/// Upserts the states of one round of results (at most one result per check, see
/// [`state_rounds`]). Same rules as SQLite's. Parameters (arrays): check_id, customer_id,
/// status, started_at_ms, message, latency_ms.
const UPSERT_STATES: &str = concat!(
    "\
INSERT INTO check_state (check_id, customer_id, status, since_ms, consecutive, last_run_ms, \
                         last_message, last_latency_ms) \
SELECT c, cu, st, s, 1, s, m, l \
FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::float8[]) \
     AS t(c, cu, st, s, m, l) ",
    super::shared::upsert_state_on_conflict!()
);

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
    timeline_cache: super::timeline_cache::TimelineCache,
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
            .acquire_timeout(Duration::from_secs(5))
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
        Ok(Arc::new(PgStore {
            pool,
            timeline_cache: Default::default(),
        }))
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

/// One column of a set of rows, as an array parameter.
fn column<'r, 'a, T>(rows: &[&'r ResultRow<'a>], f: impl Fn(&'r ResultRow<'a>) -> T) -> Vec<T> {
    rows.iter().map(|&r| f(r)).collect()
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

static TICKET_SQL: LazyLock<TicketSql> =
    LazyLock::new(|| TicketSql::new(ticket_column_select, ticket_column_param));

static SELECT_TICKET_LIST: LazyLock<Arc<str>> = LazyLock::new(|| {
    format!(
        "{} WHERE (NOT $1 OR t.status NOT IN ('resolved', 'closed')) \
         AND ($2::text IS NULL OR t.customer_id = $2) \
         AND ($4::bigint IS NULL OR t.created_ms < $4 OR (t.created_ms = $4 AND t.id < $5)) \
         AND ($6::text IS NULL OR lower(t.title) LIKE $6 ESCAPE '\\' OR lower(t.customer_id) LIKE $6 ESCAPE '\\' \
              OR lower(t.problem) LIKE $6 ESCAPE '\\' OR t.id = $7 \
              OR t.id IN (SELECT c.ticket_id FROM ticket_checks c WHERE lower(c.check_id) LIKE $6 ESCAPE '\\' \
                          OR c.check_id IN (SELECT jsonb_array_elements_text($8::jsonb)))) \
         ORDER BY t.created_ms DESC, t.id DESC LIMIT $3",
        TICKET_SQL.select
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
                    attempts, next_attempt_ms, extras, lane) \
VALUES ($1, $2, $3::jsonb, $4, $5, $6, 'pending', $7, 0, $7, $8::jsonb, $9) \
ON CONFLICT (key) DO NOTHING";

/// The outbox columns of [`outbox_from_row`], qualified, channel as text.
fn outbox_select_columns() -> String {
    OUTBOX_COLUMNS
        .iter()
        .map(|c| {
            if *c == "channel" || *c == "extras" {
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
             AND (ticket_id IS NULL OR NOT EXISTS (SELECT 1 FROM outbox e \
                  WHERE e.ticket_id = outbox.ticket_id AND e.lane = outbox.lane \
                   AND e.status = 'pending' \
                  AND e.id < outbox.id)) \
             ORDER BY next_attempt_ms, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
         UPDATE outbox o SET claimed_until_ms = $2, claimed_by = $4 FROM due WHERE o.id = due.id \
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

/// $1 a JSON array of the live instances: claims of any other instance end.
const RELEASE_CLAIMS_EXCEPT: &str = "\
UPDATE outbox SET claimed_until_ms = NULL, claimed_by = NULL \
WHERE status = 'pending' AND claimed_by IS NOT NULL AND claimed_by <> '' \
AND claimed_by NOT IN (SELECT jsonb_array_elements_text($1::jsonb))";

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

const INSERT_INCIDENT: &str = "\
INSERT INTO incidents (key, opened_ms, checks, customers, summary) \
VALUES ($1, $2, $3::jsonb, $4::jsonb, $5) RETURNING id";

const UPDATE_INCIDENT: &str = "\
UPDATE incidents SET checks = $2::jsonb, customers = $3::jsonb, summary = $4 WHERE id = $1";

const SELECT_DETECTOR_STATES: &str =
    "SELECT check_id, state::text FROM detector_state ORDER BY check_id";

/// `LIMIT NULL` is no limit in PostgreSQL.
fn limit_param(limit: Option<u32>) -> Option<i64> {
    limit.map(i64::from)
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

/// Writes a batch (in write order) inside `record`'s transaction: the states round by round,
/// then every result and every rollup delta in one statement each.
async fn write_results(
    tx: &mut PgConnection,
    rows: &[ResultRow<'_>],
    deltas: &[RollupDelta<'_>],
    doing: &'static str,
) -> Result<(), StoreError> {
    for round in state_rounds(rows) {
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
    Ok(())
}

impl PgStore {
    /// Deletes the states of one chunk of removed checks, in one statement.
    async fn forget_chunk(&self, ids: &[String], doing: &'static str) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("DELETE FROM check_state WHERE check_id = ANY($1::text[])")
                .bind(ids)
                .execute(&self.pool)
                .await
                .map_err(query_err(doing))?
                .rows_affected(),
        )
    }

    /// Upserts the detector's (check id, JSON state) rows, in one statement.
    async fn save_detector_rows(
        &self,
        rows: Vec<(String, String)>,
        updated_ms: i64,
        doing: &'static str,
    ) -> Result<(), StoreError> {
        let (checks, jsons): (Vec<String>, Vec<String>) = rows.into_iter().unzip();
        sqlx::query(
            "INSERT INTO detector_state (check_id, state, updated_ms) \
             SELECT c, s::jsonb, $3 FROM UNNEST($1::text[], $2::text[]) AS t(c, s) \
             ON CONFLICT (check_id) DO UPDATE SET state = excluded.state, \
             updated_ms = excluded.updated_ms",
        )
        .bind(checks)
        .bind(jsons)
        .bind(updated_ms)
        .execute(&self.pool)
        .await
        .map_err(query_err(doing))?;
        Ok(())
    }
}

super::shared::backend_common!(PgStore, PgConnection, writer: pool, reader: pool);

super::cluster::cluster_store_impl!(
    PgStore,
    pool,
    pool,
    Some("SELECT pg_advisory_xact_lock(hashtext($1))")
);

super::links::link_store_impl!(
    PgStore,
    pool,
    pool,
    Some("SELECT pg_advisory_xact_lock(hashtext($1))")
);

super::inbound::inbound_store_impl!(PgStore, pool, pool);

super::rotation::rotation_store_impl!(
    PgStore,
    pool,
    Some("SELECT pg_advisory_xact_lock(hashtext($1))")
);

// `/metrics` counts; the outbox's channel is JSONB.
super::stats::stats_store_impl!(PgStore, pool, "channel->>'type'");
