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
use sqlx::{AssertSqlSafe, SqlSafeStr};

use super::{
    Dialect, FORGET_CHUNK, HourlyRollup, PRUNE_CHUNK, PRUNE_MAX_CHUNKS, PruneStats, ResultTuple,
    STATE_COLUMNS, StateTuple, Store, StoreError, hour_start_ms, ids_to_forget, query_err,
    result_from_tuple, rollup_deltas, rollup_from_row, rows_in_write_order, state_from_tuple,
    to_ms,
};
use crate::model::{CheckId, CheckResult, CheckState};

fn migrator() -> Migrator {
    Migrator::with_migrations(vec![Migration::new(
        1,
        "init".into(),
        MigrationType::Simple,
        include_str!("../../migrations/sqlite/0001_init.sql").into_sql_str(),
        false,
    )])
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
