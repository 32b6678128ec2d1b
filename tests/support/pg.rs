//! A fresh PostgreSQL schema per test on the test server, dropped when the value is dropped
//! (also when the test fails), so parallel tests and runs never meet and nothing is left behind.

use std::sync::atomic::{AtomicU32, Ordering};

/// The PostgreSQL server tests use: `FOREWARN_TEST_POSTGRES` or the local one (trust auth).
pub fn postgres_base_url() -> String {
    std::env::var("FOREWARN_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// One schema of the test database; [`PgSchema::url`] connects with it as the search path.
pub struct PgSchema {
    name: String,
}

impl PgSchema {
    /// Creates `<prefix>_<pid>_<seq>_<nanos>`.
    pub async fn create(prefix: &str) -> PgSchema {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!(
            "{prefix}_{}_{}_{nanos}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed),
        );
        let mut admin = connect_admin().await;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        close(admin).await;
        PgSchema { name }
    }

    /// The database URL whose connections use only this schema.
    pub fn url(&self) -> String {
        let base = postgres_base_url();
        let sep = if base.contains('?') { '&' } else { '?' };
        format!("{base}{sep}options=-csearch_path%3D{}", self.name)
    }
}

impl Drop for PgSchema {
    /// Drops the schema on a thread of its own (Drop cannot await, and may run inside a
    /// runtime). Waits at most 10 s for locks held by a server a failed test left running.
    fn drop(&mut self) {
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let mut admin = connect_admin().await;
                sqlx::query("SET lock_timeout = '10s'")
                    .execute(&mut admin)
                    .await
                    .unwrap();
                let r = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS {name} CASCADE"
                )))
                .execute(&mut admin)
                .await;
                close(admin).await;
                r.map(|_| ())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop test schema {}: {e}", self.name),
            Err(_) => eprintln!("could not drop test schema {}", self.name),
        }
    }
}

async fn connect_admin() -> sqlx::PgConnection {
    use sqlx::Connection;
    sqlx::PgConnection::connect(&postgres_base_url())
        .await
        .unwrap_or_else(|e| panic!("the test PostgreSQL at {}: {e}", postgres_base_url()))
}

async fn close(conn: sqlx::PgConnection) {
    use sqlx::Connection;
    let _ = conn.close().await;
}
