//! Helpers for tests/store.rs: result builders and one store per backend.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use forewarn::model::{CheckId, CheckResult, CustomerId};
use forewarn::probe::{Kind, Outcome, Status};
use forewarn::store::{self, Store};
use tempfile::TempDir;

/// Instantiates every suite function (`async fn suite(store: Arc<dyn Store>)`) as one test per
/// backend: `sqlite::suite` on a temp file and `postgres::suite` in a schema of its own,
/// dropped after. The including file names this module `support_store` (`#[macro_use]`).
#[allow(unused_macros)]
macro_rules! for_each_backend {
    ($($suite:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $suite() {
                    forewarn::probe::install_crypto_provider();
                    let (store, _dir) = super::support_store::sqlite_store().await;
                    super::$suite(store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $suite() {
                    forewarn::probe::install_crypto_provider();
                    let (store, schema) = super::support_store::postgres_store().await;
                    super::$suite(store).await;
                    schema.drop().await;
                }
            )*
        }
    };
}

/// A fixed instant on an hour boundary: 2025-03-01 10:00:00 UTC.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 10, 0, 0).unwrap()
}

/// `t0 + minutes`.
pub fn at(minutes: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::minutes(minutes)
}

pub fn check_id(s: &str) -> CheckId {
    CheckId::parse(s).unwrap()
}

/// One HTTP result of `check` (customer `acme`) started at `started`, planned 10 ms earlier.
pub fn result(check: &str, status: Status, started: DateTime<Utc>, latency_ms: u64) -> CheckResult {
    CheckResult {
        check_id: check_id(check),
        customer_id: CustomerId::parse("acme").unwrap(),
        kind: Kind::Http,
        planned_at: started - chrono::Duration::milliseconds(10),
        started_at: started,
        outcome: Outcome::failed(
            forewarn::probe::Failure::Connect,
            status,
            format!("{status} in {latency_ms} ms"),
            Duration::from_millis(latency_ms),
            BTreeMap::new(),
        ),
    }
}

/// A store on a fresh SQLite file in a temp dir; keep the dir alive as long as the store.
pub async fn sqlite_store() -> (Arc<dyn Store>, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = store::open(&sqlite_url(&dir)).await.unwrap();
    (store, dir)
}

/// `sqlite:///<dir>/data/forewarn.db` (the `data` directory does not exist yet).
pub fn sqlite_url(dir: &TempDir) -> String {
    format!("sqlite://{}/data/forewarn.db", dir.path().display())
}

/// The PostgreSQL server tests use: `FOREWARN_TEST_POSTGRES` or the local one (trust auth).
pub fn postgres_base_url() -> String {
    std::env::var("FOREWARN_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A store in a fresh schema of the test database, so parallel tests and runs never meet.
/// Drop it with [`PgSchema::drop`] at the end of the test.
pub async fn postgres_store() -> (Arc<dyn Store>, PgSchema) {
    use std::sync::atomic::{AtomicU32, Ordering};
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let schema = format!(
        "fw_store_{}_{}_{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed),
        nanos
    );
    let admin = sqlx::PgPool::connect(&postgres_base_url()).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .unwrap();
    let url = format!("{}?options=-csearch_path%3D{schema}", postgres_base_url());
    let store = store::open(&url).await.unwrap();
    (store, PgSchema { admin, schema })
}

pub struct PgSchema {
    admin: sqlx::PgPool,
    schema: String,
}

impl PgSchema {
    /// Another handle on the same schema (a second instance of a cluster).
    #[allow(dead_code)] // not every test binary that includes this file uses it
    pub async fn open_again(&self) -> Arc<dyn Store> {
        let url = format!(
            "{}?options=-csearch_path%3D{}",
            postgres_base_url(),
            self.schema
        );
        store::open(&url).await.unwrap()
    }

    pub async fn drop(self) {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA {} CASCADE",
            self.schema
        )))
        .execute(&self.admin)
        .await
        .unwrap();
        self.admin.close().await;
    }
}
