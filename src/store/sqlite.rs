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

use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, SqliteConnection};

use super::shared::TicketSql;
use super::tickets::OUTBOX_COLUMNS;
use super::{Dialect, ResultRow, RollupDelta, StoreError, query_err};
use crate::ticket::model::Ticket;

#[path = "sqlite_users.rs"]
mod users;

#[path = "sqlite_surveys.rs"]
mod surveys;

/// Whether the writer connection may go back to the pool: only outside any transaction, as
/// both SQLite and sqlx see it; otherwise it is closed (which rolls back what it held) and the
/// pool opens a fresh one.
///
/// A full disk can make SQLite roll a transaction back by itself while sqlx still counts it
/// open; sqlx's own ROLLBACK then fails, its next `begin` opens a savepoint instead, and when
/// that is rolled back the savepoint stays open: every later write then lives in a transaction
/// that never commits, seen only by this connection (tickets "opened" and mailed that no one
/// else ever sees, lost at shutdown). The check costs two statements per release.
async fn outside_transaction(conn: &mut SqliteConnection) -> bool {
    use sqlx::{Connection, Executor};
    // A raw BEGIN (sqlx does not count it) fails inside a transaction; it also runs after any
    // rollback sqlx queued when a transaction was dropped.
    let clean = match conn.execute("BEGIN").await {
        Ok(_) => conn.execute("ROLLBACK").await.is_ok() && !conn.is_in_transaction(),
        Err(_) => false,
    };
    if !clean {
        tracing::warn!("store: a write transaction was left open; reconnecting the writer");
    }
    clean
}

fn migrator() -> Migrator {
    super::shared::migrator!("sqlite")
}

/// Upserts a check's state from one result. `since` and `consecutive` depend on whether the
/// status changed; a result older than the state's last run leaves the state alone.
/// Parameters: check_id, customer_id, status, started_at_ms, message, latency_ms.
const UPSERT_STATE: &str = concat!(
    "\
INSERT INTO check_state (check_id, customer_id, status, since_ms, consecutive, last_run_ms, \
                         last_message, last_latency_ms) \
VALUES (?1, ?2, ?3, ?4, 1, ?4, ?5, ?6) ",
    super::shared::upsert_state_on_conflict!()
);

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
    timeline_cache: super::timeline_cache::TimelineCache,
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
            use std::os::unix::fs::DirBuilderExt;
            // Only forewarn's user reads its database: a new directory is 0700, a new file
            // 0600 (SQLite gives its -wal and -shm files the same mode as the file).
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|error| StoreError::CreateDir {
                    path: dir.display().to_string(),
                    error,
                })?;
        }
        {
            use std::os::unix::fs::OpenOptionsExt;
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
            {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(open_error(&target, sqlx::Error::Io(e))),
            }
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
            .after_release(|conn, _| Box::pin(async move { Ok(outside_transaction(conn).await) }))
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
        Ok(SqliteStore {
            writer,
            reader,
            timeline_cache: Default::default(),
        })
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
            timeline_cache: Default::default(),
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

// ---------------------------------------------------------------------------------------------
// Tickets, outbox, incidents, detector state.

static TICKET_SQL: LazyLock<TicketSql> =
    LazyLock::new(|| TicketSql::new(|c| format!("t.{c}"), |_, n| format!("?{n}")));

static SELECT_TICKET_LIST: LazyLock<Arc<str>> = LazyLock::new(|| {
    format!(
        "{} WHERE (?1 = 0 OR t.status NOT IN ('resolved', 'closed')) \
         AND (?2 IS NULL OR t.customer_id = ?2) \
         AND (?4 IS NULL OR t.created_ms < ?4 OR (t.created_ms = ?4 AND t.id < ?5)) \
         AND (?6 IS NULL OR lower(t.title) LIKE ?6 ESCAPE '\\' OR lower(t.customer_id) LIKE ?6 ESCAPE '\\' \
              OR lower(t.problem) LIKE ?6 ESCAPE '\\' OR t.id = ?7 \
              OR t.id IN (SELECT c.ticket_id FROM ticket_checks c WHERE lower(c.check_id) LIKE ?6 ESCAPE '\\' \
                          OR c.check_id IN (SELECT value FROM json_each(?8)))) \
         ORDER BY t.created_ms DESC, t.id DESC LIMIT ?3",
        TICKET_SQL.select
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
                    attempts, next_attempt_ms, extras, lane) \
VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, 0, ?7, ?8, ?9) \
ON CONFLICT (key) DO NOTHING";

/// Claims due messages in one statement on the one writer connection: no two claimers can
/// get the same message. ?1 now, ?2 the lease's end, ?3 the limit.
static CLAIM_DUE: LazyLock<Arc<str>> = LazyLock::new(|| {
    format!(
        "UPDATE outbox SET claimed_until_ms = ?2, claimed_by = ?4 WHERE id IN \
             (SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_ms <= ?1 \
              AND (claimed_until_ms IS NULL OR claimed_until_ms <= ?1) \
              AND (ticket_id IS NULL OR NOT EXISTS (SELECT 1 FROM outbox e \
                   WHERE e.ticket_id = outbox.ticket_id AND e.lane = outbox.lane \
                   AND e.status = 'pending' \
                   AND e.id < outbox.id)) \
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

/// ?1 a JSON array of the live instances: claims of any other instance end.
const RELEASE_CLAIMS_EXCEPT: &str = "\
UPDATE outbox SET claimed_until_ms = NULL, claimed_by = NULL \
WHERE status = 'pending' AND claimed_by IS NOT NULL AND claimed_by <> '' \
AND claimed_by NOT IN (SELECT value FROM json_each(?1))";

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

const INSERT_INCIDENT: &str = "\
INSERT INTO incidents (key, opened_ms, checks, customers, summary) \
VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id";

const UPDATE_INCIDENT: &str =
    "UPDATE incidents SET checks = ?2, customers = ?3, summary = ?4 WHERE id = ?1";

const SELECT_DETECTOR_STATES: &str = "SELECT check_id, state FROM detector_state ORDER BY check_id";

/// `LIMIT -1` is no limit in SQLite.
fn limit_param(limit: Option<u32>) -> i64 {
    limit.map_or(-1, i64::from)
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

/// Writes a batch (in write order) inside `record`'s transaction: each result's state and row,
/// then the rollup deltas.
async fn write_results(
    tx: &mut SqliteConnection,
    rows: &[ResultRow<'_>],
    deltas: &[RollupDelta<'_>],
    doing: &'static str,
) -> Result<(), StoreError> {
    for row in rows {
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
    for d in deltas {
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
    Ok(())
}

impl SqliteStore {
    /// Deletes the states of one chunk of removed checks, in one transaction.
    async fn forget_chunk(&self, ids: &[String], doing: &'static str) -> Result<u64, StoreError> {
        let mut forgotten = 0;
        let mut tx = self.writer.begin().await.map_err(query_err(doing))?;
        for id in ids {
            forgotten += sqlx::query("DELETE FROM check_state WHERE check_id = ?1")
                .bind(id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(query_err(doing))?
                .rows_affected();
        }
        tx.commit().await.map_err(query_err(doing))?;
        Ok(forgotten)
    }

    /// Upserts the detector's (check id, JSON state) rows, in one transaction.
    async fn save_detector_rows(
        &self,
        rows: Vec<(String, String)>,
        updated_ms: i64,
        doing: &'static str,
    ) -> Result<(), StoreError> {
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
}

super::shared::backend_common!(SqliteStore, SqliteConnection, writer: writer, reader: reader);

// One writer connection: lease changes are serialised without a lock statement.
super::cluster::cluster_store_impl!(SqliteStore, writer, reader, None);

// One writer connection: a customer's posts are counted and taken without a lock statement.
super::links::link_store_impl!(SqliteStore, writer, reader, None);

super::inbound::inbound_store_impl!(SqliteStore, writer, reader);

super::rotation::rotation_store_impl!(SqliteStore, writer, None);

// `/metrics` counts; the outbox's channel is JSON text.
super::stats::stats_store_impl!(SqliteStore, reader, "json_extract(channel, '$.type')");
