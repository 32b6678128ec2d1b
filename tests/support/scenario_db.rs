//! The database an end-to-end scenario runs on, and the macro that runs each scenario on both
//! backends. The including file names this module `scenario_db` (`#[macro_use]`) and also
//! includes `support/pg.rs` as `pg`.

use std::path::Path;

/// Instantiates every scenario (`async fn name(db: Db)`) as a test on each backend:
/// `sqlite::<name>` and `postgres::<name>` (in a schema of its own named after `$prefix`).
#[allow(unused_macros)]
macro_rules! on_each_backend {
    ($prefix:literal; $($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(super::scenario_db::Db::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let schema = super::pg::PgSchema::create($prefix).await;
                    super::$scenario(super::scenario_db::Db::Postgres(schema)).await;
                }
            )*
        }
    };
}

/// The database a scenario runs on. A PostgreSQL schema is dropped with the value, also when
/// the scenario fails.
#[allow(dead_code)]
pub enum Db {
    /// `data/forewarn.db` next to the configuration.
    Sqlite,
    Postgres(super::pg::PgSchema),
    /// A database the scenario set up itself (on a small filesystem, on a private PostgreSQL
    /// server it restarts): the `database` setting, absolute.
    #[allow(dead_code)]
    Url(String),
}

impl Db {
    /// The `database` setting of the configuration.
    pub fn config_url(&self) -> String {
        match self {
            Db::Sqlite => "sqlite://data/forewarn.db".to_owned(),
            Db::Postgres(schema) => schema.url(),
            Db::Url(url) => url.clone(),
        }
    }

    /// The URL to open the store directly, for a configuration in `dir`.
    #[allow(dead_code)]
    pub fn url(&self, dir: &Path) -> String {
        match self {
            Db::Sqlite => format!("sqlite://{}/data/forewarn.db", dir.display()),
            Db::Postgres(schema) => schema.url(),
            Db::Url(url) => url.clone(),
        }
    }
}
