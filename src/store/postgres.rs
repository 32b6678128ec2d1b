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

use super::{
    Dialect, FORGET_CHUNK, HourlyRollup, PRUNE_CHUNK, PRUNE_MAX_CHUNKS, PruneStats, ResultRow,
    ResultTuple, STATE_COLUMNS, StateTuple, Store, StoreError, hour_start_ms, ids_to_forget,
    query_err, redact_url, result_from_tuple, rollup_deltas, rollup_from_row, rows_in_write_order,
    state_from_tuple, to_ms,
};
use crate::model::{CheckId, CheckResult, CheckState};

fn migrator() -> Migrator {
    Migrator::with_migrations(vec![Migration::new(
        1,
        "init".into(),
        MigrationType::Simple,
        include_str!("../../migrations/postgres/0001_init.sql").into_sql_str(),
        false,
    )])
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
