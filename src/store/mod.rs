//! The store: check state and history. A trait with SQLite (embedded default) behind it and
//! PostgreSQL as its sibling.
//!
//! This module is the only place in forewarn that knows SQL. Each backend is one file
//! (`sqlite.rs`, `postgres.rs`) with its own migrations (`migrations/<backend>/`); what does not
//! depend on the database (row conversion, batch aggregation, the latency histogram) lives here
//! and in `histogram.rs`, written once.
//!
//! What is kept:
//! - `check_state`: one row per check, its current status, since when, how many runs in a row;
//! - `check_result`: every run, for a bounded window ([`Store::prune`]);
//! - `check_rollup_hourly`: per check and hour, runs, failures and a latency histogram, kept
//!   longer;
//! - tickets, their timelines, the outbox, incidents and the detector's state
//!   ([`TicketStore`], `tickets.rs`): a ticket change, its events and its messages commit in
//!   one transaction;
//! - cluster membership, check and job leases, what each region sees ([`ClusterStore`],
//!   `cluster.rs`);
//! - staff users and their sessions ([`UserStore`], `users.rs`; sessions only by the SHA-256 of
//!   their id), failed sign-ins per login name with their lockouts, and per-user API tokens
//!   (only by the SHA-256 of their secret);
//! - follow-up surveys, their used single-use links, call-back tasks, opt-outs and the
//!   server's generated secrets ([`SurveyStore`], `surveys.rs`);
//! - per customer, the time from which their links are valid, and what customers posted
//!   through their links for the limits on reports and replies ([`LinkStore`], `links.rs`);
//! - per skill group with a `[[rotation]]`, who had the last turn ([`RotationStore`],
//!   `rotation.rs`);
//! - and, read from all of the above, the counts `/metrics` shows ([`StatsStore`], `stats.rs`).
//!
//! Times are stored as integer unix milliseconds, so they come back truncated to the millisecond.

mod cells;
pub mod cluster;
pub mod health;
mod histogram;
pub mod inbound;
pub mod links;
mod postgres;
pub mod rotation;
mod shared;
mod sqlite;
pub mod stats;
pub mod surveys;
pub mod tickets;
mod timeline_cache;
pub mod users;
pub mod watch;

pub use cluster::{ClusterStore, Lease, LeaseRequest, Member, RegionStatus};
pub use health::{Failing, health};
pub use inbound::{
    InboundKey, InboundOutcome, InboundRecord, InboundStore, InboundSummary, MailboxState,
};
pub use links::{LimitScope, Limited, LinkRevocation, LinkStore, PostKind, PostRequest, PostSlot};
pub use rotation::{RotationMember, RotationStore};
pub use stats::{OpenTickets, OutboxCounts, StatsStore, SurveyCounts};
pub use surveys::{AnswerWrite, Callback, NewSurvey, Survey, SurveyStore, SurveyWords};
pub use tickets::{
    FirstWords, Incident, NewEvent, NewTicket, OutboxFilter, TicketCursor, TicketFilter,
    TicketSearch, TicketStore,
};
pub use users::{
    ApiToken, LockoutPolicy, LoginLock, NewApiToken, NewUser, Role, Scope, Session, TokenUse, User,
    UserStore,
};

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{CheckId, CheckResult, CheckState, CustomerId};
use crate::probe::{ConditionResult, Kind, Outcome, Status};

use histogram::{BUCKETS, Histogram};

/// Where check state and history live, and (through [`TicketStore`]) tickets, the outbox and
/// incidents: one handle, `Arc<dyn Store>`, for everything kept.
///
/// Every method is one short database round (or a bounded series of them); none holds a lock
/// across calls.
#[async_trait]
pub trait Store:
    TicketStore
    + UserStore
    + SurveyStore
    + ClusterStore
    + LinkStore
    + RotationStore
    + InboundStore
    + StatsStore
    + Send
    + Sync
{
    /// Records a batch of results in one transaction: updates each check's state, appends the
    /// raw results and merges them into the hourly rollups.
    ///
    /// A check's state moves only forward in time: a result older than the state's last run is
    /// kept in the history but does not change the state. Several results of one check in a
    /// batch are applied in `started_at` order.
    async fn record(&self, results: &[CheckResult]) -> Result<(), StoreError>;

    /// The state of every check that has run, ordered by check id.
    async fn states(&self) -> Result<Vec<CheckState>, StoreError>;

    /// The states of the checks in `ids` that have run, in no order: a page of checks reads
    /// its own, not all 100,000.
    async fn states_of(&self, ids: &[CheckId]) -> Result<Vec<CheckState>, StoreError>;

    /// Only the status of every check that has run: what a list of 100,000 checks sorts and
    /// counts by before it reads the whole state of the page it shows ([`Store::state`]).
    async fn statuses(&self) -> Result<Vec<(CheckId, Status)>, StoreError>;

    /// The state of one check; `None` when it has never run (or was forgotten).
    async fn state(&self, id: &CheckId) -> Result<Option<CheckState>, StoreError>;

    /// The last `limit` raw results of a check, newest first.
    async fn recent_results(
        &self,
        id: &CheckId,
        limit: u32,
    ) -> Result<Vec<CheckResult>, StoreError>;

    /// The hourly rollups of a check from the hour that contains `since` on, oldest first.
    async fn rollups(
        &self,
        id: &CheckId,
        since: DateTime<Utc>,
    ) -> Result<Vec<HourlyRollup>, StoreError>;

    /// The runs and failures of the checks in `checks` from the hour that contains `since` on
    /// (one customer's page; `/customers` sums per customer in the database:
    /// [`Store::rollup_totals_by_customer`]). Checks without runs are absent.
    async fn rollup_totals(
        &self,
        since: DateTime<Utc>,
        checks: &[CheckId],
    ) -> Result<Vec<RollupTotal>, StoreError>;

    /// Every customer's runs and failures from the hour that contains `since` on, summed in
    /// the database over the checks that have a state (the configured ones: a check removed
    /// from the configuration loses its state): a thousand rows for `/customers` instead of
    /// one per check.
    async fn rollup_totals_by_customer(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<CustomerRollupTotal>, StoreError>;

    /// Deletes raw results started before `raw_before` and rollups of hours that start before
    /// `rollups_before`, in bounded chunks so that writers are never held up for long.
    async fn prune(
        &self,
        raw_before: DateTime<Utc>,
        rollups_before: DateTime<Utc>,
    ) -> Result<PruneStats, StoreError>;

    /// Drops the state of every check not in `keep` (checks removed from the configuration).
    /// Their raw results and rollups stay until [`Store::prune`] ages them out. Returns how many
    /// states were dropped.
    async fn forget_checks(&self, keep: &[CheckId]) -> Result<u64, StoreError>;

    /// Writes and commits one small row: whether the store accepts writes now. The store watch
    /// probes with it, and only a committed write ends a failure recorded in [`health()`].
    async fn write_probe(&self, at: DateTime<Utc>) -> Result<(), StoreError>;
}

/// One check's runs and failures over a window ([`Store::rollup_totals`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupTotal {
    pub check_id: CheckId,
    pub runs: u64,
    pub failures: u64,
}

/// One customer's runs and failures over a window ([`Store::rollup_totals_by_customer`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerRollupTotal {
    pub customer_id: CustomerId,
    pub runs: u64,
    pub failures: u64,
}

/// One check's runs during one hour.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HourlyRollup {
    /// Start of the hour (UTC).
    pub hour: DateTime<Utc>,
    pub runs: u64,
    /// Runs whose status was not ok (warning, critical or unknown).
    pub failures: u64,
    /// Runs with a measured latency; the latency figures below are over these and are `None`
    /// when there were none.
    pub measured: u64,
    pub latency_avg_ms: Option<f64>,
    pub latency_min_ms: Option<f64>,
    /// Percentiles estimated from a log-bucket histogram: within about ±10 %, and always
    /// between min and max.
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    pub latency_max_ms: Option<f64>,
}

impl HourlyRollup {
    /// Share of runs that were ok, in percent (100 when there were no runs).
    pub fn uptime_percent(&self) -> f64 {
        if self.runs == 0 {
            100.0
        } else {
            100.0 * (self.runs - self.failures.min(self.runs)) as f64 / self.runs as f64
        }
    }
}

/// What [`Store::prune`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PruneStats {
    pub raw_results: u64,
    pub rollups: u64,
}

/// Our own failure to keep state: the database, never a customer's check.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store URL {url:?} is not supported: {reason}")]
    Unsupported { url: String, reason: String },
    #[error("invalid store URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error(
        "cannot create directory {path} for the database: {error}; create it (writable by this \
         user) or point the store URL elsewhere"
    )]
    CreateDir { path: String, error: std::io::Error },
    #[error("cannot open database {target}: {reason}")]
    Open { target: String, reason: String },
    #[error(
        "cannot bring database {target} up to date: {reason}; was it written by a newer \
         forewarn, or edited by hand?"
    )]
    Migrate { target: String, reason: String },
    #[error("database error while {doing}: {error}")]
    Query {
        doing: &'static str,
        error: sqlx::Error,
    },
    #[error("unreadable row in {table}: {reason}; the database was edited by hand or is damaged")]
    Corrupt { table: &'static str, reason: String },
    #[error("{what} was changed by someone else meanwhile; load it again and retry")]
    Conflict { what: String },
    #[error("{what} does not exist")]
    NotFound { what: String },
}

impl StoreError {
    /// Whether the store itself failed (a full disk, a lost connection): temporary, and worth
    /// a retry; not a rejected statement or a conflict.
    pub fn is_fault(&self) -> bool {
        matches!(self, StoreError::Query { error, .. } if health::is_fault(error))
    }
}

/// `|e| StoreError::Query { doing, e }`, for `map_err`. A storage fault (a full disk, a lost
/// connection) is recorded in [`health()`] on the way.
fn query_err(doing: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |error| {
        if health::is_fault(&error) {
            health::health().failed(doing, &error.to_string());
        }
        StoreError::Query { doing, error }
    }
}

/// Opens the store a URL names, creating and migrating the database as needed:
/// - `sqlite://path/to/forewarn.db` (relative) or `sqlite:///var/lib/forewarn/forewarn.db`;
///   the file and its parent directory are created when missing;
/// - `sqlite::memory:` for tests: a private in-memory database;
/// - `postgres://user@host:port/db` (or `postgresql://`).
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::open(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        postgres::PgStore::open(url).await
    } else {
        Err(StoreError::Unsupported {
            url: redact_url(url),
            reason: "use sqlite://path/to/forewarn.db or postgres://user@host/database".to_owned(),
        })
    }
}

/// A URL with its password (if any) replaced, for messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("redacted"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => url.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// Shared between backends: conversions and batch preparation. No SQL dialect specifics here
// except the generated rollup statements, which take the dialect as a parameter.

fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_ms(table: &'static str, ms: i64) -> Result<DateTime<Utc>, StoreError> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .ok_or_else(|| StoreError::Corrupt {
            table,
            reason: format!("timestamp {ms} ms is out of range"),
        })
}

fn latency_ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The inverse of [`latency_ms`], exact to the nanosecond.
fn duration_from_ms(ms: f64) -> Duration {
    if ms.is_finite() && ms > 0.0 {
        Duration::from_nanos((ms * 1e6).round() as u64)
    } else {
        Duration::ZERO
    }
}

fn parse_status(table: &'static str, s: &str) -> Result<Status, StoreError> {
    Status::parse(s).ok_or_else(|| StoreError::Corrupt {
        table,
        reason: format!("unknown status {s:?}"),
    })
}

fn parse_kind(table: &'static str, s: &str) -> Result<Kind, StoreError> {
    Kind::ALL
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| StoreError::Corrupt {
            table,
            reason: format!("unknown kind {s:?}"),
        })
}

fn parse_check_id(table: &'static str, s: &str) -> Result<CheckId, StoreError> {
    CheckId::parse(s).map_err(|reason| StoreError::Corrupt { table, reason })
}

fn parse_customer_id(table: &'static str, s: &str) -> Result<CustomerId, StoreError> {
    CustomerId::parse(s).map_err(|reason| StoreError::Corrupt { table, reason })
}

/// The part of an outcome kept as JSON in `check_result.outcome`.
#[derive(Serialize)]
struct OutcomeJsonRef<'a> {
    conditions: &'a [ConditionResult],
    details: &'a BTreeMap<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure: Option<crate::probe::Failure>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutcomeJson {
    conditions: Vec<ConditionResult>,
    details: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    failure: Option<crate::probe::Failure>,
}

/// One result, with every column value computed before the transaction starts.
struct ResultRow<'a> {
    result: &'a CheckResult,
    planned_ms: i64,
    started_ms: i64,
    latency_ms: f64,
    outcome_json: String,
}

/// The batch's results as rows, in the order they are written: by check id, then by start
/// time. A fixed order keeps each check's runs in time order and makes concurrent batches take
/// row locks in the same order (no deadlocks on PostgreSQL).
fn rows_in_write_order(results: &[CheckResult]) -> Result<Vec<ResultRow<'_>>, StoreError> {
    let mut rows = results
        .iter()
        .map(|r| {
            let outcome_json = serde_json::to_string(&OutcomeJsonRef {
                conditions: &r.outcome.conditions,
                details: &r.outcome.details,
                failure: r.outcome.failure,
            })
            .map_err(|e| StoreError::Corrupt {
                table: "check_result",
                reason: format!("cannot encode the outcome of {}: {e}", r.check_id),
            })?;
            Ok(ResultRow {
                result: r,
                planned_ms: to_ms(r.planned_at),
                started_ms: to_ms(r.started_at),
                latency_ms: latency_ms(r.outcome.latency),
                outcome_json,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    rows.sort_by(|a, b| {
        (a.result.check_id.as_str(), a.started_ms).cmp(&(b.result.check_id.as_str(), b.started_ms))
    });
    Ok(rows)
}

const HOUR_MS: i64 = 3_600_000;

fn hour_start_ms(ms: i64) -> i64 {
    ms.div_euclid(HOUR_MS) * HOUR_MS
}

/// What one batch adds to one (check, hour) rollup row.
struct RollupDelta<'a> {
    check_id: &'a str,
    hour_ms: i64,
    runs: i64,
    failures: i64,
    measured: i64,
    latency_sum_ms: f64,
    latency_min_ms: Option<f64>,
    latency_max_ms: Option<f64>,
    histogram: Histogram,
}

/// Aggregates a batch per (check, hour), sorted by that key, so each rollup row is written once
/// per batch. Only measured latencies (> 0) count for the latency figures.
fn rollup_deltas<'a>(rows: &[ResultRow<'a>]) -> Vec<RollupDelta<'a>> {
    let mut by_key: HashMap<(&'a str, i64), RollupDelta<'a>> = HashMap::new();
    for row in rows {
        let check_id = row.result.check_id.as_str();
        let hour_ms = hour_start_ms(row.started_ms);
        let d = by_key
            .entry((check_id, hour_ms))
            .or_insert_with(|| RollupDelta {
                check_id,
                hour_ms,
                runs: 0,
                failures: 0,
                measured: 0,
                latency_sum_ms: 0.0,
                latency_min_ms: None,
                latency_max_ms: None,
                histogram: Histogram::default(),
            });
        d.runs += 1;
        if !row.result.outcome.status.is_ok() {
            d.failures += 1;
        }
        let ms = row.latency_ms;
        if ms > 0.0 && ms.is_finite() {
            d.measured += 1;
            d.latency_sum_ms += ms;
            d.latency_min_ms = Some(d.latency_min_ms.map_or(ms, |m| m.min(ms)));
            d.latency_max_ms = Some(d.latency_max_ms.map_or(ms, |m| m.max(ms)));
            d.histogram.add(ms);
        }
    }
    let mut deltas: Vec<_> = by_key.into_values().collect();
    deltas.sort_by(|a, b| (a.check_id, a.hour_ms).cmp(&(b.check_id, b.hour_ms)));
    deltas
}

/// The SQL differences between backends that the generated rollup statements need.
#[derive(Clone, Copy)]
enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    fn param(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!("${n}"),
        }
    }

    /// min / max of two nullable values, ignoring NULLs.
    fn min_max(self, f: &str, a: &str, b: &str) -> String {
        match self {
            // SQLite's scalar min()/max() return NULL if any argument is NULL.
            Dialect::Sqlite => format!("coalesce({f}({a}, {b}), {a}, {b})"),
            Dialect::Postgres => {
                let f = if f == "min" { "LEAST" } else { "GREATEST" };
                format!("{f}({a}, {b})")
            }
        }
    }
}

fn bucket_columns() -> Vec<String> {
    (0..BUCKETS).map(|i| format!("h{i:02}")).collect()
}

/// `INSERT … ON CONFLICT (check_id, hour_ms) DO UPDATE` adding [`RollupDelta`]s. Parameters:
/// check_id, hour_ms, runs, failures, measured, sum, min, max, then the buckets (on PostgreSQL
/// each an array, one element per delta).
fn rollup_upsert_sql(dialect: Dialect) -> String {
    let buckets = bucket_columns();
    let columns = [
        "check_id",
        "hour_ms",
        "runs",
        "failures",
        "measured",
        "latency_sum_ms",
        "latency_min_ms",
        "latency_max_ms",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain(buckets.iter().cloned())
    .collect::<Vec<_>>();
    // SQLite: one row of parameters. PostgreSQL: one array per column, so that a whole batch is
    // one statement.
    let source = match dialect {
        Dialect::Sqlite => format!(
            "VALUES ({})",
            (1..=columns.len())
                .map(|n| dialect.param(n))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Dialect::Postgres => {
            let types = ["text", "bigint", "bigint", "bigint", "bigint"]
                .into_iter()
                .chain(["float8"; 3])
                .chain(["bigint"; BUCKETS]);
            let arrays = types
                .enumerate()
                .map(|(i, ty)| format!("{}::{ty}[]", dialect.param(i + 1)))
                .collect::<Vec<_>>();
            format!("SELECT * FROM UNNEST({})", arrays.join(", "))
        }
    };
    let t = "check_rollup_hourly";
    let mut sets = ["runs", "failures", "measured", "latency_sum_ms"]
        .into_iter()
        .map(str::to_owned)
        .chain(buckets.iter().cloned())
        .map(|c| format!("{c} = {t}.{c} + excluded.{c}"))
        .collect::<Vec<_>>();
    for (col, f) in [("latency_min_ms", "min"), ("latency_max_ms", "max")] {
        let expr = dialect.min_max(f, &format!("{t}.{col}"), &format!("excluded.{col}"));
        sets.push(format!("{col} = {expr}"));
    }
    format!(
        "INSERT INTO {t} ({}) {source} ON CONFLICT (check_id, hour_ms) DO UPDATE SET {}",
        columns.join(", "),
        sets.join(", ")
    )
}

/// `SELECT` of one check's rollups from an hour on; parameters: check_id, hour_ms. Columns in
/// the order [`rollup_from_row`] reads them.
fn rollups_select_sql(dialect: Dialect) -> String {
    format!(
        "SELECT hour_ms, runs, failures, measured, latency_sum_ms, latency_min_ms, \
         latency_max_ms, {} FROM check_rollup_hourly WHERE check_id = {} AND hour_ms >= {} \
         ORDER BY hour_ms",
        bucket_columns().join(", "),
        dialect.param(1),
        dialect.param(2)
    )
}

/// Column values of `check_state` as both backends return them.
type StateTuple = (String, String, String, i64, i64, i64, String, f64);

const STATE_COLUMNS: &str = "check_id, customer_id, status, since_ms, consecutive, last_run_ms, \
                             last_message, last_latency_ms";

fn state_from_tuple(t: StateTuple) -> Result<CheckState, StoreError> {
    const T: &str = "check_state";
    let (check_id, customer_id, status, since_ms, consecutive, last_run_ms, msg, latency) = t;
    Ok(CheckState {
        check_id: parse_check_id(T, &check_id)?,
        customer_id: parse_customer_id(T, &customer_id)?,
        status: parse_status(T, &status)?,
        since: from_ms(T, since_ms)?,
        consecutive: u32::try_from(consecutive.max(1)).unwrap_or(u32::MAX),
        last_run: from_ms(T, last_run_ms)?,
        last_message: msg,
        last_latency_ms: latency,
    })
}

/// Column values of `check_result` as both backends return them (outcome as JSON text).
type ResultTuple = (
    String,
    String,
    String,
    i64,
    i64,
    String,
    f64,
    String,
    String,
);

fn result_from_tuple(t: ResultTuple) -> Result<CheckResult, StoreError> {
    const T: &str = "check_result";
    let (check_id, customer_id, kind, planned_ms, started_ms, status, latency, message, json) = t;
    let extra: OutcomeJson = serde_json::from_str(&json).map_err(|e| StoreError::Corrupt {
        table: T,
        reason: format!("outcome of {check_id} is not valid JSON: {e}"),
    })?;
    Ok(CheckResult {
        check_id: parse_check_id(T, &check_id)?,
        customer_id: parse_customer_id(T, &customer_id)?,
        kind: parse_kind(T, &kind)?,
        planned_at: from_ms(T, planned_ms)?,
        started_at: from_ms(T, started_ms)?,
        outcome: Outcome {
            status: parse_status(T, &status)?,
            message,
            latency: duration_from_ms(latency),
            conditions: extra.conditions,
            details: extra.details,
            failure: extra.failure,
        },
    })
}

/// Reads a row of [`rollups_select_sql`] on any backend.
fn rollup_from_row<R>(row: &R) -> Result<HourlyRollup, StoreError>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> f64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    const T: &str = "check_rollup_hourly";
    let bad = |e: sqlx::Error| StoreError::Corrupt {
        table: T,
        reason: e.to_string(),
    };
    let hour_ms: i64 = row.try_get(0).map_err(bad)?;
    let runs: i64 = row.try_get(1).map_err(bad)?;
    let failures: i64 = row.try_get(2).map_err(bad)?;
    let measured: i64 = row.try_get(3).map_err(bad)?;
    let sum: f64 = row.try_get(4).map_err(bad)?;
    let min: Option<f64> = row.try_get(5).map_err(bad)?;
    let max: Option<f64> = row.try_get(6).map_err(bad)?;
    let mut histogram = Histogram::default();
    for (i, count) in histogram.0.iter_mut().enumerate() {
        *count = row.try_get(7 + i).map_err(bad)?;
    }
    let measured_some = (measured > 0).then_some(());
    let quantile = |q: f64| {
        measured_some.and_then(|()| histogram.quantile(q, min.unwrap_or(0.0), max.unwrap_or(0.0)))
    };
    let nonneg = |v: i64| u64::try_from(v).unwrap_or(0);
    Ok(HourlyRollup {
        hour: from_ms(T, hour_ms)?,
        runs: nonneg(runs),
        failures: nonneg(failures),
        measured: nonneg(measured),
        latency_avg_ms: measured_some.map(|()| sum / measured as f64),
        latency_min_ms: measured_some.and(min),
        latency_p50_ms: quantile(0.50),
        latency_p95_ms: quantile(0.95),
        latency_p99_ms: quantile(0.99),
        latency_max_ms: measured_some.and(max),
    })
}

/// Rows deleted per statement by `prune`, and the most statements one call runs (the next call
/// goes on where this one stopped).
const PRUNE_CHUNK: i64 = 5_000;
const PRUNE_MAX_CHUNKS: usize = 10_000;
/// States deleted per transaction by `forget_checks`.
const FORGET_CHUNK: usize = 500;

/// The ids among `existing` that are not in `keep`.
fn ids_to_forget(existing: Vec<String>, keep: &[CheckId]) -> Vec<String> {
    let keep: std::collections::HashSet<&str> = keep.iter().map(CheckId::as_str).collect();
    existing
        .into_iter()
        .filter(|id| !keep.contains(id.as_str()))
        .collect()
}
