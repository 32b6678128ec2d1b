//! What the SQLite and PostgreSQL backends do the same way, written once.
//!
//! The bodies below differ between the backends only in their connection and pool types and in
//! SQL that each backend words its own way, so they are one `macro_rules!` that each backend
//! expands in its own module ([`backend_common`]). A statement that is the same on both lives
//! here, with `$n` parameters: SQLite takes them as well as `?n` (sqlx numbers `$n` the same way).

use std::sync::{Arc, LazyLock};

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

use super::STATE_COLUMNS;
use super::tickets::TICKET_VALUE_COLUMNS;

/// A backend's migrations, from the files of its `migrations/<backend>/` directory.
/// The schema migrations of one backend, in order: the same versions and names for both,
/// each from `migrations/<backend>/`. Used as `migrator!("sqlite")`.
macro_rules! migrator {
    ($backend:literal) => {
        super::shared::build_migrator(&[
            (
                1,
                "init",
                include_str!(concat!("../../migrations/", $backend, "/0001_init.sql")),
            ),
            (
                2,
                "tickets",
                include_str!(concat!("../../migrations/", $backend, "/0002_tickets.sql")),
            ),
            (
                3,
                "users",
                include_str!(concat!("../../migrations/", $backend, "/0003_users.sql")),
            ),
            (
                4,
                "surveys",
                include_str!(concat!("../../migrations/", $backend, "/0004_surveys.sql")),
            ),
            (
                5,
                "cluster",
                include_str!(concat!("../../migrations/", $backend, "/0005_cluster.sql")),
            ),
            (
                6,
                "ticket version",
                include_str!(concat!(
                    "../../migrations/",
                    $backend,
                    "/0006_ticket_version.sql"
                )),
            ),
            (
                7,
                "login throttle and api tokens",
                include_str!(concat!("../../migrations/", $backend, "/0007_auth.sql")),
            ),
            (
                8,
                "customer links",
                include_str!(concat!(
                    "../../migrations/",
                    $backend,
                    "/0008_customer_links.sql"
                )),
            ),
            (
                9,
                "store probe",
                include_str!(concat!(
                    "../../migrations/",
                    $backend,
                    "/0009_store_probe.sql"
                )),
            ),
            (
                10,
                "outbox extras",
                include_str!(concat!(
                    "../../migrations/",
                    $backend,
                    "/0010_outbox_extras.sql"
                )),
            ),
            (
                11,
                "inbound mail",
                include_str!(concat!("../../migrations/", $backend, "/0011_inbound.sql")),
            ),
            (
                12,
                "inbound mail for staff",
                include_str!(concat!(
                    "../../migrations/",
                    $backend,
                    "/0012_inbound_staff.sql"
                )),
            ),
            (
                13,
                "rotations",
                include_str!(concat!(
                    "../../migrations/",
                    $backend,
                    "/0013_rotations.sql"
                )),
            ),
            (
                14,
                "tickets by status, outbox lanes",
                include_str!(concat!(
                    "../../migrations/",
                    $backend,
                    "/0014_status_and_lanes.sql"
                )),
            ),
        ])
    };
}
pub(super) use migrator;

pub(super) fn build_migrator(migrations: &[(i64, &'static str, &'static str)]) -> Migrator {
    Migrator::with_migrations(
        migrations
            .iter()
            .map(|(version, description, sql)| {
                Migration::new(
                    *version,
                    (*description).into(),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

/// The `ON CONFLICT` half of the check state upsert, which each backend puts after its own
/// `INSERT` (a macro, so that `concat!` takes it): `since` and `consecutive` depend on whether
/// the status changed; a result older than the state's last run leaves the state alone.
macro_rules! upsert_state_on_conflict {
    () => {
        "\
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
WHERE excluded.last_run_ms >= check_state.last_run_ms"
    };
}

pub(super) use upsert_state_on_conflict;

/// The statements that read and write a whole ticket row, built from how the backend selects
/// a ticket column (`t.<column>`, perhaps cast) and writes parameter `n` for a column.
pub(super) struct TicketSql {
    /// `SELECT t.id, <ticket columns> FROM tickets t`, for `ticket_from_row`.
    pub(super) select: String,
    /// Every column from `TicketValues`; returns the id.
    pub(super) insert: Arc<str>,
    /// Every column from `TicketValues`; then parameter 22 the id, 23 the expected status and
    /// 24 the version the ticket was read at (it is bumped).
    pub(super) update: Arc<str>,
    /// Parameter 1 the id.
    pub(super) by_id: Arc<str>,
    /// Parameter 1 the check id: the check's latest ticket.
    pub(super) latest_for_check: Arc<str>,
}

impl TicketSql {
    pub(super) fn new(column: fn(&str) -> String, param: fn(&str, usize) -> String) -> TicketSql {
        let columns: Vec<String> = TICKET_VALUE_COLUMNS.iter().map(|c| column(c)).collect();
        let select = format!(
            "SELECT t.id, {}, {} FROM tickets t",
            columns.join(", "),
            column("version")
        );
        let params: Vec<String> = TICKET_VALUE_COLUMNS
            .iter()
            .enumerate()
            .map(|(i, c)| param(c, i + 1))
            .collect();
        let sets: Vec<String> = TICKET_VALUE_COLUMNS
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = {}", param(c, i + 1)))
            .collect();
        TicketSql {
            insert: format!(
                "INSERT INTO tickets ({}) VALUES ({}) RETURNING id",
                TICKET_VALUE_COLUMNS.join(", "),
                params.join(", ")
            )
            .into(),
            update: format!(
                "UPDATE tickets SET {}, version = version + 1 \
                 WHERE id = {} AND status = {} AND version = {}",
                sets.join(", "),
                param("id", 22),
                param("status", 23),
                param("version", 24)
            )
            .into(),
            by_id: format!("{select} WHERE t.id = {}", param("id", 1)).into(),
            latest_for_check: format!(
                "{select} JOIN ticket_checks c ON c.ticket_id = t.id WHERE c.check_id = {} \
                 ORDER BY t.created_ms DESC, t.id DESC LIMIT 1",
                param("check_id", 1)
            )
            .into(),
            select,
        }
    }
}

pub(super) static SELECT_STATES: LazyLock<Arc<str>> =
    LazyLock::new(|| format!("SELECT {STATE_COLUMNS} FROM check_state ORDER BY check_id").into());

pub(super) static SELECT_STATE: LazyLock<Arc<str>> =
    LazyLock::new(|| format!("SELECT {STATE_COLUMNS} FROM check_state WHERE check_id = $1").into());

/// `$first, $first+1, …`: `count` bound parameters for an `IN (…)` list.
pub(super) fn placeholders(count: usize, first: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(",")
}

pub(super) const OUTBOX_EXISTS: &str = "SELECT 1 FROM outbox WHERE id = $1";
pub(super) const TICKET_EXISTS: &str = "SELECT 1 FROM tickets WHERE id = $1";
pub(super) const INCIDENT_EXISTS: &str = "SELECT 1 FROM incidents WHERE id = $1";

pub(super) const RELEASE_CLAIMS: &str = "\
UPDATE outbox SET claimed_until_ms = NULL, claimed_by = NULL \
WHERE status = 'pending' AND claimed_until_ms IS NOT NULL";

pub(super) const RELEASE_CLAIMS_BY: &str = "\
UPDATE outbox SET claimed_until_ms = NULL, claimed_by = NULL \
WHERE status = 'pending' AND claimed_by = $1";

pub(super) const RETRY_DEAD: &str = "\
UPDATE outbox SET status = 'pending', next_attempt_ms = $1, attempts = 0, \
                  claimed_until_ms = NULL WHERE status = 'dead'";

pub(super) const TICKET_OF_MESSAGE_ID: &str = "\
SELECT ticket_id FROM outbox WHERE message_id = $1 AND ticket_id IS NOT NULL LIMIT 1";

pub(super) const CLOSE_INCIDENT: &str =
    "UPDATE incidents SET closed_ms = $2 WHERE id = $1 AND closed_ms IS NULL";

/// Expands, in a backend's module, all of `Store` and `TicketStore` and the helpers they share,
/// for a store type, its connection type and the names of its pool fields for writes and for
/// reads (the same pool on PostgreSQL):
///
/// ```text
/// backend_common!(SqliteStore, SqliteConnection, writer: writer, reader: reader);
/// ```
///
/// What differs is the backend's, in its module, under these names:
/// - SQL: `SELECT_RESULTS`, `SELECT_ROLLUPS`, `PRUNE_RESULTS`, `PRUNE_ROLLUPS`, `TICKET_SQL`,
///   `SELECT_TICKET_LIST`, `SELECT_TIMELINE`, `INSERT_EVENT`, `INSERT_MESSAGE`, `CLAIM_DUE`,
///   `SELECT_OUTBOX`, `MARK_DELIVERED`, `MARK_FAILED`, `INSERT_INCIDENT`, `UPDATE_INCIDENT`,
///   `INCIDENT_COLUMNS`, `SELECT_DETECTOR_STATES`;
/// - `write_results(conn, rows, deltas, doing)`: a batch, inside `record`'s transaction;
/// - `index_checks(conn, ticket)`: a ticket's `ticket_checks` rows, inside the caller's
///   transaction;
/// - `limit_param(Option<u32>)`: the `LIMIT` parameter, how the backend says "no limit";
/// - `forget_chunk(&self, ids, doing)` and `save_detector_rows(&self, rows,
///   updated_ms, doing)` as inherent methods;
/// - and the imports the bodies name.
macro_rules! backend_common {
    ($store:ty, $conn:ty, writer: $writer:ident, reader: $reader:ident) => {
        /// The shared half of the backend, expanded from `store::shared::backend_common!`.
        mod common {
            use std::sync::{Arc, LazyLock};
            use std::time::Duration;

            use async_trait::async_trait;
            use chrono::{DateTime, Utc};
            use sqlx::AssertSqlSafe;

            use $crate::model::{CheckId, CheckResult, CheckState, CustomerId};
            use $crate::notify::{NewMessage, OutboxMessage};
            use $crate::store::shared;
            use $crate::store::tickets::{
                Attempt, EventValues, FirstWords, Incident, MessageValues, NewEvent,
                NewTicket,
                OutboxFilter, TicketFilter, TicketStore, TicketValues, attempt_event, bind_ticket,
                detector_from_row, detector_rows, event_from_row, incident_from_row, incident_json,
                lease_end_ms, message_status_str, outbox_from_row, ticket_from_row, ticket_of_new,
                unique_conflict,
            };
            use $crate::store::{
                FORGET_CHUNK, HourlyRollup, PRUNE_CHUNK, PRUNE_MAX_CHUNKS, PruneStats, ResultTuple,
                StateTuple, Store, StoreError, from_ms, hour_start_ms, ids_to_forget, query_err,
                result_from_tuple, rollup_deltas, rollup_from_row, rows_in_write_order,
                state_from_tuple, to_ms,
            };
            use $crate::ticket::model::{Ticket, TicketId, TicketStatus, TimelineEvent};

            // The backend's SQL, hooks and types.
            use super::*;

            #[async_trait]
            impl Store for $store {
                async fn record(&self, results: &[CheckResult]) -> Result<(), StoreError> {
                    if results.is_empty() {
                        return Ok(());
                    }
                    let rows = rows_in_write_order(results)?;
                    let deltas = rollup_deltas(&rows);
                    let doing = "recording results";
                    let mut tx = self.$writer.begin().await.map_err(query_err(doing))?;
                    write_results(&mut tx, &rows, &deltas, doing).await?;
                    tx.commit().await.map_err(query_err(doing))
                }

                async fn write_probe(&self, at: DateTime<Utc>) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO store_probe (id, written_at_ms) VALUES (1, $1) \
                         ON CONFLICT (id) DO UPDATE SET written_at_ms = excluded.written_at_ms",
                    )
                    .bind(to_ms(at))
                    .execute(&self.$writer)
                    .await
                    .map_err(query_err("writing the store's probe row"))?;
                    Ok(())
                }

                async fn states(&self) -> Result<Vec<CheckState>, StoreError> {
                    sqlx::query_as::<_, StateTuple>(AssertSqlSafe(Arc::clone(
                        &shared::SELECT_STATES,
                    )))
                    .fetch_all(&self.$reader)
                    .await
                    .map_err(query_err("reading check states"))?
                    .into_iter()
                    .map(state_from_tuple)
                    .collect()
                }

                async fn states_of(&self, ids: &[CheckId]) -> Result<Vec<CheckState>, StoreError> {
                    let mut out = Vec::with_capacity(ids.len());
                    // Bound parameters only, a chunk at a time.
                    for chunk in ids.chunks(500) {
                        let sql = format!(
                            "SELECT {} FROM check_state WHERE check_id IN ({})",
                            crate::store::STATE_COLUMNS,
                            shared::placeholders(chunk.len(), 1)
                        );
                        let mut q = sqlx::query_as::<_, StateTuple>(AssertSqlSafe(sql));
                        for id in chunk {
                            q = q.bind(id.as_str());
                        }
                        for t in q
                            .fetch_all(&self.$reader)
                            .await
                            .map_err(query_err("reading check states"))?
                        {
                            out.push(state_from_tuple(t)?);
                        }
                    }
                    Ok(out)
                }

                async fn statuses(
                    &self,
                ) -> Result<Vec<(CheckId, crate::probe::Status)>, StoreError> {
                    const T: &str = "check_state";
                    let rows: Vec<(String, String)> =
                        sqlx::query_as("SELECT check_id, status FROM check_state")
                            .fetch_all(&self.$reader)
                            .await
                            .map_err(query_err("reading check statuses"))?;
                    rows.into_iter()
                        .map(|(id, status)| {
                            Ok((
                                crate::store::parse_check_id(T, &id)?,
                                crate::store::parse_status(T, &status)?,
                            ))
                        })
                        .collect()
                }

                async fn state(&self, id: &CheckId) -> Result<Option<CheckState>, StoreError> {
                    sqlx::query_as::<_, StateTuple>(AssertSqlSafe(Arc::clone(
                        &shared::SELECT_STATE,
                    )))
                    .bind(id.as_str())
                    .fetch_optional(&self.$reader)
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
                        .fetch_all(&self.$reader)
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
                        .fetch_all(&self.$reader)
                        .await
                        .map_err(query_err("reading hourly rollups"))?
                        .iter()
                        .map(rollup_from_row)
                        .collect()
                }

                async fn rollup_totals(
                    &self,
                    since: DateTime<Utc>,
                    checks: &[CheckId],
                ) -> Result<Vec<crate::store::RollupTotal>, StoreError> {
                    let from = hour_start_ms(to_ms(since));
                    let mut rows: Vec<(String, i64, i64)> = Vec::new();
                    // Bound parameters only: $2, $3, … name the ids.
                    for chunk in checks.chunks(500) {
                        let marks = shared::placeholders(chunk.len(), 2);
                        let sql = format!(
                            "SELECT check_id, CAST(SUM(runs) AS BIGINT), \
                             CAST(SUM(failures) AS BIGINT) FROM check_rollup_hourly \
                             WHERE hour_ms >= $1 AND check_id IN ({marks}) GROUP BY check_id"
                        );
                        let mut q = sqlx::query_as(AssertSqlSafe(sql)).bind(from);
                        for id in chunk {
                            q = q.bind(id.as_str());
                        }
                        rows.extend(
                            q.fetch_all(&self.$reader)
                                .await
                                .map_err(query_err("reading the rollup totals of checks"))?,
                        );
                    }
                    rows.into_iter()
                        .map(|(id, runs, failures)| {
                            Ok(crate::store::RollupTotal {
                                check_id: CheckId::parse(&id).map_err(|reason| {
                                    StoreError::Corrupt {
                                        table: "check_rollup_hourly",
                                        reason,
                                    }
                                })?,
                                runs: u64::try_from(runs).unwrap_or(0),
                                failures: u64::try_from(failures).unwrap_or(0),
                            })
                        })
                        .collect()
                }

                async fn rollup_totals_by_customer(
                    &self,
                    since: DateTime<Utc>,
                ) -> Result<Vec<crate::store::CustomerRollupTotal>, StoreError> {
                    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
                        "SELECT s.customer_id, CAST(SUM(r.runs) AS BIGINT), \
                         CAST(SUM(r.failures) AS BIGINT) FROM check_rollup_hourly r \
                         JOIN check_state s ON s.check_id = r.check_id \
                         WHERE r.hour_ms >= $1 GROUP BY s.customer_id",
                    )
                    .bind(hour_start_ms(to_ms(since)))
                    .fetch_all(&self.$reader)
                    .await
                    .map_err(query_err("reading the rollup totals of every customer"))?;
                    rows.into_iter()
                        .map(|(id, runs, failures)| {
                            Ok(crate::store::CustomerRollupTotal {
                                customer_id: crate::store::parse_customer_id("check_state", &id)?,
                                runs: u64::try_from(runs).unwrap_or(0),
                                failures: u64::try_from(failures).unwrap_or(0),
                            })
                        })
                        .collect()
                }

                async fn prune(
                    &self,
                    raw_before: DateTime<Utc>,
                    rollups_before: DateTime<Utc>,
                ) -> Result<PruneStats, StoreError> {
                    let raw_ms = to_ms(raw_before);
                    let rollups_ms = to_ms(rollups_before);
                    Ok(PruneStats {
                        raw_results: self
                            .delete_in_chunks(PRUNE_RESULTS, raw_ms, "pruning raw results")
                            .await?,
                        rollups: self
                            .delete_in_chunks(PRUNE_ROLLUPS, rollups_ms, "pruning rollups")
                            .await?,
                    })
                }

                async fn forget_checks(&self, keep: &[CheckId]) -> Result<u64, StoreError> {
                    let doing = "forgetting removed checks";
                    let existing: Vec<String> =
                        sqlx::query_scalar("SELECT check_id FROM check_state")
                            .fetch_all(&self.$reader)
                            .await
                            .map_err(query_err(doing))?;
                    let mut forgotten = 0;
                    for chunk in ids_to_forget(existing, keep).chunks(FORGET_CHUNK) {
                        forgotten += self.forget_chunk(chunk, doing).await?;
                    }
                    Ok(forgotten)
                }
            }

            impl $store {
                /// Runs a `DELETE … LIMIT <2nd parameter>` statement until it deletes less than a
                /// chunk. Each chunk is its own short transaction, so batches of results get
                /// written in between.
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
                            .execute(&self.$writer)
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

                /// Records the end of a delivery attempt and, for a ticket's message, its timeline
                /// event, in one transaction.
                async fn finish_attempt(
                    &self,
                    id: i64,
                    at: DateTime<Utc>,
                    attempt: Attempt<'_>,
                ) -> Result<(), StoreError> {
                    let doing = "recording a delivery attempt";
                    let mut tx = self.$writer.begin().await.map_err(query_err(doing))?;
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
                        let sql = shared::OUTBOX_EXISTS;
                        return if exists(&mut tx, sql, id, doing).await? {
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

            impl $store {
                /// Timeline events matching `filter` (SQL over integer columns only) with
                /// their `seq`, in `seq` order.
                async fn sequenced_events(
                    &self,
                    filter: &str,
                ) -> Result<Vec<crate::store::timeline_cache::Sequenced>, StoreError> {
                    let head = SELECT_TIMELINE
                        .split(" FROM ")
                        .next()
                        .expect("SELECT_TIMELINE has a FROM");
                    let sql = format!("{head}, seq FROM ticket_events WHERE {filter} ORDER BY seq");
                    let rows = sqlx::query(AssertSqlSafe(sql))
                        .fetch_all(&self.$reader)
                        .await
                        .map_err(query_err("reading timelines"))?;
                    rows.iter()
                        .map(|row| {
                            let seq: i64 = sqlx::Row::try_get(row, 5).map_err(|e| {
                                StoreError::Corrupt {
                                    table: "ticket_events",
                                    reason: e.to_string(),
                                }
                            })?;
                            Ok((seq, event_from_row(row)?))
                        })
                        .collect()
                }
            }

            /// Appends events to a ticket's timeline, inside the caller's transaction.
            pub(super) async fn insert_events(
                conn: &mut $conn,
                ticket: TicketId,
                events: &[NewEvent],
            ) -> Result<(), StoreError> {
                for e in events {
                    insert_event(conn, ticket, &EventValues::of(e)?).await?;
                }
                Ok(())
            }

            async fn insert_event(
                conn: &mut $conn,
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
            pub(super) async fn insert_messages(
                conn: &mut $conn,
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
                        .bind(v.extras.as_str())
                        .bind(v.lane)
                        .execute(&mut *conn)
                        .await
                        .map_err(query_err("queuing a message"))?;
                }
                Ok(())
            }

            /// Records an inbound message inside the caller's transaction; one recorded already
            /// (or, [`InboundRecord::from_unmatched`], one no longer unmatched) is
            /// `StoreError::Conflict`.
            pub(super) async fn insert_inbound(
                conn: &mut $conn,
                r: &$crate::store::inbound::InboundRecord,
            ) -> Result<(), StoreError> {
                use $crate::store::inbound;
                let doing = "recording an inbound message";
                let written = if r.from_unmatched {
                    sqlx::query(inbound::CLAIM_UNMATCHED)
                        .bind(r.key.mailbox.as_str())
                        .bind(i64::from(r.key.uidvalidity))
                        .bind(i64::from(r.key.uid))
                        .bind(r.outcome.as_str())
                        .bind(r.ticket.map(|t| t.0))
                        .bind(r.handled_by.as_deref())
                        .execute(conn)
                        .await
                } else {
                    sqlx::query(inbound::INSERT)
                        .bind(r.key.mailbox.as_str())
                        .bind(i64::from(r.key.uidvalidity))
                        .bind(i64::from(r.key.uid))
                        .bind(r.message_id.as_deref())
                        .bind(to_ms(r.received_at))
                        .bind(r.sender.as_str())
                        .bind(r.subject.as_str())
                        .bind(r.outcome.as_str())
                        .bind(r.ticket.map(|t| t.0))
                        .bind(r.raw.as_slice())
                        .bind(i64::try_from(r.raw_size).unwrap_or(i64::MAX))
                        .bind(inbound::attachments_json(&r.attachments))
                        .bind(r.handled_by.as_deref())
                        .execute(conn)
                        .await
                };
                if written.map_err(query_err(doing))?.rows_affected() == 0 {
                    return Err(StoreError::Conflict { what: r.what() });
                }
                Ok(())
            }

            async fn exists(
                conn: &mut $conn,
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

            #[async_trait]
            impl TicketStore for $store {
                async fn create_ticket_taking(
                    &self,
                    new: NewTicket,
                    first_words: FirstWords,
                    inbound: Option<$crate::store::inbound::InboundRecord>,
                ) -> Result<Ticket, StoreError> {
                    let doing = "creating a ticket";
                    let mut ticket = ticket_of_new(new);
                    let values = TicketValues::of(&ticket)?;
                    let mut tx = self.$writer.begin().await.map_err(query_err(doing))?;
                    let id: i64 = bind_ticket!(
                        sqlx::query_scalar(AssertSqlSafe(Arc::clone(&TICKET_SQL.insert))),
                        values
                    )
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(unique_conflict(doing, || {
                        "an open ticket of this customer for this incident".to_owned()
                    }))?;
                    ticket.id = TicketId(id);
                    index_checks(&mut tx, &ticket).await?;
                    let (events, messages) = first_words(&ticket);
                    insert_events(&mut tx, ticket.id, &events).await?;
                    insert_messages(&mut tx, &messages, ticket.created_at).await?;
                    if let Some(mut inbound) = inbound {
                        inbound.ticket = Some(ticket.id);
                        insert_inbound(&mut tx, &inbound).await?;
                    }
                    tx.commit().await.map_err(query_err(doing))?;
                    Ok(ticket)
                }

                async fn save_ticket_taking(
                    &self,
                    ticket: &Ticket,
                    expected: TicketStatus,
                    events: Vec<NewEvent>,
                    messages: Vec<NewMessage>,
                    now: DateTime<Utc>,
                    inbound: Option<$crate::store::inbound::InboundRecord>,
                ) -> Result<(), StoreError> {
                    let doing = "saving a ticket";
                    let values = TicketValues::of(ticket)?;
                    let mut tx = self.$writer.begin().await.map_err(query_err(doing))?;
                    // On PostgreSQL the row lock this takes orders concurrent saves (SQLite has one
                    // writer); the status check makes the later one fail if the earlier one changed
                    // the status.
                    let updated = bind_ticket!(
                        sqlx::query(AssertSqlSafe(Arc::clone(&TICKET_SQL.update))),
                        values
                    )
                    .bind(ticket.id.0)
                    .bind(expected.as_str())
                    .bind(ticket.version)
                    .execute(&mut *tx)
                    .await
                    .map_err(query_err(doing))?
                    .rows_affected();
                    if updated == 0 {
                        let what = format!("ticket {}", ticket.id);
                        let sql = shared::TICKET_EXISTS;
                        return Err(if exists(&mut tx, sql, ticket.id.0, doing).await? {
                            StoreError::Conflict { what }
                        } else {
                            StoreError::NotFound { what }
                        });
                    }
                    index_checks(&mut tx, ticket).await?;
                    insert_events(&mut tx, ticket.id, &events).await?;
                    insert_messages(&mut tx, &messages, now).await?;
                    if let Some(mut inbound) = inbound {
                        inbound.ticket = Some(ticket.id);
                        insert_inbound(&mut tx, &inbound).await?;
                    }
                    tx.commit().await.map_err(query_err(doing))
                }

                async fn ticket_of_message_id(
                    &self,
                    message_id: &str,
                ) -> Result<Option<TicketId>, StoreError> {
                    let ticket: Option<Option<i64>> =
                        sqlx::query_scalar(shared::TICKET_OF_MESSAGE_ID)
                            .bind(message_id)
                            .fetch_optional(&self.$reader)
                            .await
                            .map_err(query_err("finding the ticket of a Message-ID"))?;
                    Ok(ticket.flatten().map(TicketId))
                }

                async fn ticket(&self, id: TicketId) -> Result<Option<Ticket>, StoreError> {
                    sqlx::query(AssertSqlSafe(Arc::clone(&TICKET_SQL.by_id)))
                        .bind(id.0)
                        .fetch_optional(&self.$reader)
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
                        .bind(limit_param(filter.limit))
                        .bind(filter.after.map(|c| c.created_ms))
                        .bind(filter.after.map(|c| c.id.0))
                        .bind(filter.search.as_ref().map(|s| s.pattern()))
                        .bind(filter.search.as_ref().and_then(|s| s.number()))
                        .bind(filter.search.as_ref().map_or_else(|| "[]".to_owned(), |s| s.checks_json()))
                        .fetch_all(&self.$reader)
                        .await
                        .map_err(query_err("listing tickets"))?
                        .iter()
                        .map(ticket_from_row)
                        .collect()
                }

                async fn timeline(&self, id: TicketId) -> Result<Vec<TimelineEvent>, StoreError> {
                    sqlx::query(SELECT_TIMELINE)
                        .bind(id.0)
                        .fetch_all(&self.$reader)
                        .await
                        .map_err(query_err("reading a timeline"))?
                        .iter()
                        .map(event_from_row)
                        .collect()
                }

                async fn timelines(
                    &self,
                    ids: &[TicketId],
                ) -> Result<std::collections::HashMap<TicketId, Vec<TimelineEvent>>, StoreError> {
                    // Held timelines plus the events appended since (`timeline_cache`); only
                    // tickets never read are read whole.
                    let now = std::time::Instant::now();
                    let mut cache = self.timeline_cache.lock().await;
                    match cache.read_from(now) {
                        Some(from) => cache.apply(self.sequenced_events(&format!("seq > {from}")).await?),
                        None => {
                            let max: Option<i64> =
                                sqlx::query_scalar("SELECT MAX(seq) FROM ticket_events")
                                    .fetch_one(&self.$reader)
                                    .await
                                    .map_err(query_err("reading the timeline's last seq"))?;
                            cache.start(max.unwrap_or(0), now);
                        }
                    }
                    let missing = cache.missing(ids);
                    let mut read: std::collections::HashMap<
                        TicketId,
                        Vec<crate::store::timeline_cache::Sequenced>,
                    > = std::collections::HashMap::with_capacity(missing.len());
                    for chunk in missing.chunks(500) {
                        // Integers only, so nothing from outside reaches the SQL text.
                        let list = chunk
                            .iter()
                            .map(|id| id.0.to_string())
                            .collect::<Vec<_>>()
                            .join(",");
                        for (seq, event) in
                            self.sequenced_events(&format!("ticket_id IN ({list})")).await?
                        {
                            read.entry(event.ticket).or_default().push((seq, event));
                        }
                    }
                    for timeline in read.values_mut() {
                        timeline.sort_by(|(a, x), (b, y)| (x.at, *a).cmp(&(y.at, *b)));
                    }
                    cache.insert(&missing, read);
                    Ok(cache.get(ids))
                }

                async fn latest_ticket_for_check(
                    &self,
                    check: &CheckId,
                ) -> Result<Option<Ticket>, StoreError> {
                    sqlx::query(AssertSqlSafe(Arc::clone(&TICKET_SQL.latest_for_check)))
                        .bind(check.as_str())
                        .fetch_optional(&self.$reader)
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
                    let mut tx = self.$writer.begin().await.map_err(query_err(doing))?;
                    insert_messages(&mut tx, &messages, now).await?;
                    tx.commit().await.map_err(query_err(doing))
                }

                async fn claim_due_as(
                    &self,
                    now: DateTime<Utc>,
                    limit: u32,
                    lease: Duration,
                    by: &str,
                ) -> Result<Vec<OutboxMessage>, StoreError> {
                    let mut claimed = sqlx::query(AssertSqlSafe(Arc::clone(&CLAIM_DUE)))
                        .bind(to_ms(now))
                        .bind(lease_end_ms(now, lease))
                        .bind(i64::from(limit))
                        .bind(by)
                        .fetch_all(&self.$writer)
                        .await
                        .map_err(query_err("claiming due messages"))?
                        .iter()
                        .map(outbox_from_row)
                        .collect::<Result<Vec<_>, _>>()?;
                    claimed.sort_by_key(|m| (m.next_attempt_at, m.id));
                    Ok(claimed)
                }

                async fn mark_delivered(
                    &self,
                    id: i64,
                    at: DateTime<Utc>,
                ) -> Result<(), StoreError> {
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

                async fn outbox(
                    &self,
                    filter: &OutboxFilter,
                ) -> Result<Vec<OutboxMessage>, StoreError> {
                    sqlx::query(AssertSqlSafe(Arc::clone(&SELECT_OUTBOX)))
                        .bind(filter.status.map(message_status_str))
                        .bind(filter.ticket.map(|t| t.0))
                        .bind(limit_param(filter.limit))
                        .fetch_all(&self.$reader)
                        .await
                        .map_err(query_err("listing the outbox"))?
                        .iter()
                        .map(outbox_from_row)
                        .collect()
                }

                async fn release_claims_except(&self, live: &[String]) -> Result<u64, StoreError> {
                    let live = serde_json::to_string(live).expect("strings serialise");
                    Ok(sqlx::query(RELEASE_CLAIMS_EXCEPT)
                        .bind(live)
                        .execute(&self.$writer)
                        .await
                        .map_err(query_err("releasing the claims of instances gone"))?
                        .rows_affected())
                }

                async fn release_claims_by(&self, instance: &str) -> Result<u64, StoreError> {
                    Ok(sqlx::query(shared::RELEASE_CLAIMS_BY)
                        .bind(instance)
                        .execute(&self.$writer)
                        .await
                        .map_err(query_err("releasing this instance's old claims"))?
                        .rows_affected())
                }

                async fn release_claims(&self) -> Result<u64, StoreError> {
                    Ok(sqlx::query(shared::RELEASE_CLAIMS)
                        .execute(&self.$writer)
                        .await
                        .map_err(query_err("releasing claimed messages"))?
                        .rows_affected())
                }

                async fn retry_dead(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
                    Ok(sqlx::query(shared::RETRY_DEAD)
                        .bind(to_ms(now))
                        .execute(&self.$writer)
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
                    let id: i64 = sqlx::query_scalar(INSERT_INCIDENT)
                        .bind(key)
                        .bind(to_ms(at))
                        .bind(checks_json)
                        .bind(customers_json)
                        .bind(summary)
                        .fetch_one(&self.$writer)
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
                    let (checks_json, customers_json) =
                        incident_json(&incident.checks, &incident.customers)?;
                    let updated = sqlx::query(UPDATE_INCIDENT)
                        .bind(incident.id)
                        .bind(checks_json)
                        .bind(customers_json)
                        .bind(incident.summary.as_str())
                        .execute(&self.$writer)
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

                async fn close_incident(
                    &self,
                    id: i64,
                    at: DateTime<Utc>,
                ) -> Result<(), StoreError> {
                    let doing = "closing an incident";
                    let mut conn = self.$writer.acquire().await.map_err(query_err(doing))?;
                    let closed = sqlx::query(shared::CLOSE_INCIDENT)
                        .bind(id)
                        .bind(to_ms(at))
                        .execute(&mut *conn)
                        .await
                        .map_err(query_err(doing))?
                        .rows_affected();
                    let sql = shared::INCIDENT_EXISTS;
                    if closed == 0 && !exists(&mut conn, sql, id, doing).await? {
                        return Err(StoreError::NotFound {
                            what: format!("incident {id}"),
                        });
                    }
                    Ok(())
                }

                async fn open_incidents(&self) -> Result<Vec<Incident>, StoreError> {
                    static SQL: LazyLock<Arc<str>> = LazyLock::new(|| {
                        format!(
                            "SELECT {} FROM incidents WHERE closed_ms IS NULL \
                             ORDER BY opened_ms, id",
                            INCIDENT_COLUMNS
                        )
                        .into()
                    });
                    sqlx::query(AssertSqlSafe(Arc::clone(&SQL)))
                        .fetch_all(&self.$reader)
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
                    self.save_detector_rows(rows, to_ms(Utc::now()), doing)
                        .await
                }

                async fn detector_states(
                    &self,
                ) -> Result<Vec<(CheckId, serde_json::Value)>, StoreError> {
                    sqlx::query(SELECT_DETECTOR_STATES)
                        .fetch_all(&self.$reader)
                        .await
                        .map_err(query_err("reading the incident detector's state"))?
                        .iter()
                        .map(detector_from_row)
                        .collect()
                }
            }
        }
    };
}

pub(super) use backend_common;
